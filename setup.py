"""Build script for the optional compiled parts of dirfast.

Metadata lives in pyproject.toml; this file only declares the extension modules.

``dirfast._C`` is a torch-free pybind11 module (C++17, OpenMP) with the CPU kernels. It links
against neither torch nor numpy: ops receive raw data pointers. So the build needs only
setuptools + pybind11 (``[build-system] requires``) and a C++ compiler with OpenMP, and works both
with ``pip install --no-build-isolation -e .`` and with an isolated ``pip install .``.

Environment knobs
-----------------
``DIRFAST_BUILD_EXT``
    ``auto`` (default): build ``dirfast._C``; if that fails (no compiler, no OpenMP, no pybind11),
    print a warning and install dirfast without it (pure Python; ``dirfast._ext.available()`` is
    then False and the ``"cpu"`` backend falls back to vectorised PyTorch).
    ``1``: a failure to build the extension fails the installation.
    ``0``: do not build the extension at all (pure-Python install).

``DIRFAST_BUILD_CUDA``
    ``auto`` (default): also build ``dirfast._C_cuda`` (CUDA kernels, csrc/cuda/*.cu) when ``nvcc
    --version`` runs (nvcc on PATH or in $CUDA_HOME/bin); a failure warns and installs without it.
    ``1``: nvcc missing or a failed CUDA build fails the installation. ``0``: never build it.
    nvcc is called directly (``-O3 -std=c++17 --fmad=false -cudart static``, sm_80 + sm_90 + PTX
    compute_90); the module links the static CUDA runtime and imports without a GPU or driver.

Flags: ``-O3 -fopenmp`` on compile and link; no ``-march`` (the wheel must run on any x86_64);
``-fno-math-errno -fno-trapping-math`` help vectorisation without changing any result;
``-ffp-contract=off`` keeps results bit-reproducible across compilers/targets (no implicit FMA);
never ``-ffast-math`` (results are IEEE).
"""

from __future__ import annotations

import os
import sys
import warnings

from setuptools import setup
from setuptools.command.build_ext import build_ext

_MODE = os.environ.get("DIRFAST_BUILD_EXT", "auto").strip().lower() or "auto"
if _MODE not in ("auto", "0", "1"):
    raise SystemExit(f"DIRFAST_BUILD_EXT must be 'auto', '0' or '1', got {_MODE!r}")

_CUDA_MODE = os.environ.get("DIRFAST_BUILD_CUDA", "auto").strip().lower() or "auto"
if _CUDA_MODE not in ("auto", "0", "1"):
    raise SystemExit(f"DIRFAST_BUILD_CUDA must be 'auto', '0' or '1', got {_CUDA_MODE!r}")

_HERE = os.path.dirname(os.path.abspath(__file__))
_CSRC = "csrc"

# One .cpp per op (plus module.cpp with the bindings); one header per op.
_SOURCES = [
    f"{_CSRC}/module.cpp",
    f"{_CSRC}/fds_stats.cpp",
    f"{_CSRC}/weighted_loss.cpp",
    f"{_CSRC}/lds.cpp",
    f"{_CSRC}/fds_calibrate.cpp",
    f"{_CSRC}/dist_loss.cpp",
    f"{_CSRC}/pav.cpp",
    f"{_CSRC}/sort_pav.cpp",
    f"{_CSRC}/ranksim.cpp",
    f"{_CSRC}/balanced_mse.cpp",
    f"{_CSRC}/conr.cpp",
]
_DEPENDS = [
    f"{_CSRC}/fds_stats.h",
    f"{_CSRC}/weighted_loss.h",
    f"{_CSRC}/lds.h",
    f"{_CSRC}/fds_calibrate.h",
    f"{_CSRC}/dist_loss.h",
    f"{_CSRC}/pav.h",
    f"{_CSRC}/sort_pav.h",
    f"{_CSRC}/pav/pav_core.h",
    f"{_CSRC}/conr.h",
]


_CUDA_EXT = "dirfast._C_cuda"
_CUDA_SOURCES = [f"{_CSRC}/cuda/pav.cu"]
_CUDA_DEPENDS = [f"{_CSRC}/cuda/pav_cuda.h", f"{_CSRC}/pav/pav_core.h", f"{_CSRC}/pav.h"]
# sm_80 (A100) and sm_90 (H100) machine code + compute_90 PTX (JIT for newer GPUs).
_NVCC_ARCH = [
    "-gencode", "arch=compute_80,code=sm_80",
    "-gencode", "arch=compute_90,code=sm_90",
    "-gencode", "arch=compute_90,code=compute_90",
]
# --fmad=false and IEEE division/sqrt (nvcc's default): the device arithmetic of the shared
# headers rounds exactly as the host's (-ffp-contract=off), so the CPU grid driver is a bitwise
# model of the kernels.
_NVCC_FLAGS = ["-O3", "-std=c++17", "--fmad=false", "-Xcompiler", "-fPIC", "-cudart", "static"]


def _find_nvcc():
    import shutil
    import subprocess

    cands = [shutil.which("nvcc")]
    for var in ("CUDA_HOME", "CUDA_PATH"):
        if os.environ.get(var):
            cands.append(os.path.join(os.environ[var], "bin", "nvcc"))
    for c in cands:
        if not c or not os.path.exists(c):
            continue
        try:
            subprocess.run([c, "--version"], check=True, capture_output=True, timeout=60)
        except Exception:  # noqa: BLE001 - a broken nvcc is "no nvcc"
            continue
        return c
    return None


def _cuda_lib_dirs(nvcc: str) -> list[str]:
    """Directories holding libcudart_static.a: from nvcc's own dry run (its LIBRARIES / TOP
    lines; works when nvcc on PATH is a wrapper script), then next to the real nvcc binary."""
    import re
    import subprocess
    import tempfile

    dirs: list[str] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "probe.cu")
            with open(src, "w") as f:
                f.write("int main() { return 0; }\n")
            res = subprocess.run([nvcc, "-dryrun", src, "-o", os.path.join(tmp, "probe")],
                                 capture_output=True, text=True, timeout=60)
        text = res.stdout + res.stderr
        for m in re.finditer(r'-L"?([^"\s]+)"?', text):
            dirs.append(m.group(1))
        for m in re.finditer(r"TOP=(\S+)", text):
            dirs += [os.path.join(m.group(1), d) for d in ("lib64", "lib")]
    except Exception:  # noqa: BLE001
        pass
    root = os.path.dirname(os.path.dirname(os.path.realpath(nvcc)))
    dirs += [os.path.join(root, d) for d in ("lib64", "lib", "targets/x86_64-linux/lib")]
    out = []
    for d in dirs:
        d = os.path.normpath(d)
        if d not in out and os.path.exists(os.path.join(d, "libcudart_static.a")):
            out.append(d)
    return out


def _warn(msg: str) -> None:
    # pip shows build output only with -v or on failure; print *and* warn so the message is
    # in the log either way.
    print(f"WARNING (dirfast): {msg}", file=sys.stderr)
    warnings.warn(msg, stacklevel=2)


def _cpu_flags() -> tuple[list[str], list[str]]:
    if sys.platform == "win32":
        return ["/O2", "/openmp", "/fp:precise"], []
    compile_args = [
        "-O3",
        "-fopenmp",
        "-fno-math-errno",
        "-fno-trapping-math",
        "-ffp-contract=off",
    ]
    link_args = ["-fopenmp"]
    return compile_args, link_args


class _FatalCudaBuild(RuntimeError):
    """A failed dirfast._C_cuda build under DIRFAST_BUILD_CUDA=1 (never turned into a warning)."""


class OptionalBuildExt(build_ext):
    """build_ext that, with DIRFAST_BUILD_EXT=auto, turns a failed build into a warning."""

    def initialize_options(self) -> None:
        super().initialize_options()
        self._dirfast_failed = []

    def run(self) -> None:
        try:
            super().run()
        except _FatalCudaBuild:
            raise
        except Exception as exc:  # noqa: BLE001 - compiler errors come in many types
            self._failed("the compiled extensions", exc)
            self._dirfast_failed = list(self.extensions)
        # Forget failed extensions so later steps (editable installs, get_outputs) do not look
        # for their missing output files.
        self.extensions = [e for e in self.extensions if e not in self._dirfast_failed]

    def build_extension(self, ext) -> None:
        try:
            if ext.name == _CUDA_EXT:
                self._build_cuda_objects(ext)
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            self._failed(ext.name, exc)
            self._dirfast_failed.append(ext)

    def _build_cuda_objects(self, ext) -> None:
        """nvcc -c each .cu into build_temp; add the objects and the static CUDA runtime."""
        import subprocess
        import time

        nvcc = ext._dirfast_nvcc
        libdirs = _cuda_lib_dirs(nvcc)
        if not libdirs:
            raise RuntimeError(f"libcudart_static.a not found for {nvcc}")
        out_dir = os.path.join(self.build_temp, "cuda")
        os.makedirs(out_dir, exist_ok=True)
        objs = []
        t0 = time.perf_counter()
        for src in _CUDA_SOURCES:
            obj = os.path.join(out_dir, os.path.basename(src) + ".o")
            deps = [src] + _CUDA_DEPENDS
            if self.force or not os.path.exists(obj) or any(
                os.path.getmtime(d) > os.path.getmtime(obj) for d in deps
            ):
                cmd = [nvcc, *_NVCC_FLAGS, *_NVCC_ARCH, f"-I{_CSRC}", "-c", src, "-o", obj]
                print("dirfast: " + " ".join(cmd), file=sys.stderr)
                res = subprocess.run(cmd, capture_output=True, text=True)
                if res.returncode != 0:
                    raise RuntimeError(f"nvcc failed on {src}:\n{res.stdout}{res.stderr}")
            objs.append(obj)
        print(f"dirfast: nvcc took {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        ext.extra_objects = list(ext.extra_objects or []) + objs
        ext.library_dirs = list(ext.library_dirs or []) + libdirs
        ext.libraries = list(ext.libraries or []) + ["cudart_static", "dl", "rt", "pthread"]

    def _failed(self, what: str, exc: BaseException) -> None:
        if what == _CUDA_EXT:
            if _CUDA_MODE == "1":
                raise _FatalCudaBuild(f"DIRFAST_BUILD_CUDA=1: building {what} failed: {exc}") from exc
            _warn(
                f"building {what} failed ({type(exc).__name__}: {exc}); installing dirfast "
                "without its CUDA kernels (dirfast._ext.cuda_available() is False). Set "
                "DIRFAST_BUILD_CUDA=1 to make this failure fatal."
            )
            return
        if _MODE == "1":
            raise exc
        _warn(
            f"building {what} failed ({type(exc).__name__}: {exc}); installing dirfast without "
            "its compiled extension dirfast._C (on CPU, backend='auto' then uses PyTorch). "
            "Install a C++17 compiler with OpenMP and reinstall, or set DIRFAST_BUILD_EXT=1 "
            "to make this failure fatal."
        )


def _extensions():
    if _MODE == "0":
        return []
    try:
        from pybind11.setup_helpers import ParallelCompile, Pybind11Extension
    except ImportError as exc:
        if _MODE == "1":
            raise SystemExit(
                "DIRFAST_BUILD_EXT=1 but pybind11 is not importable "
                f"({exc}); install pybind11>=2.12 or use build isolation"
            ) from exc
        _warn(f"pybind11 is not importable ({exc}); installing dirfast without dirfast._C")
        return []

    # Compile the sources in parallel (NPY_NUM_BUILD_JOBS caps the jobs; default: all CPUs).
    ParallelCompile("NPY_NUM_BUILD_JOBS").install()

    compile_args, link_args = _cpu_flags()
    exts = [
        Pybind11Extension(
            "dirfast._C",
            sources=_SOURCES,
            depends=_DEPENDS,
            include_dirs=[_CSRC],
            cxx_std=17,
            extra_compile_args=compile_args,
            extra_link_args=link_args,
        )
    ]

    # ------------------------------------------------------------------------------------------
    # CUDA extension: dirfast._C_cuda. nvcc is called directly (never torch's
    # CUDAExtension: the CPU torch ships no CUDA headers, and torch stays out of the build
    # requirements) on csrc/cuda/*.cu, which include only the CUDA runtime and the torch-free
    # headers (csrc/pav/pav_core.h); the objects (sm_80 + sm_90 SASS + compute_90 PTX) are linked
    # with the static CUDA runtime into a second, torch-free pybind11 module. Importing it needs
    # no GPU or driver; a missing GPU is a RuntimeError at call time.
    # ------------------------------------------------------------------------------------------
    if _CUDA_MODE != "0":
        nvcc = _find_nvcc()
        if nvcc is None:
            msg = "nvcc was not found on PATH (nor in $CUDA_HOME/bin); not building dirfast._C_cuda"
            if _CUDA_MODE == "1":
                raise SystemExit(f"DIRFAST_BUILD_CUDA=1 but {msg}")
            print(f"dirfast: {msg}", file=sys.stderr)
        else:
            exts.append(
                Pybind11Extension(
                    _CUDA_EXT,
                    sources=[f"{_CSRC}/cuda/module_cuda.cpp"],
                    depends=_CUDA_SOURCES + _CUDA_DEPENDS,
                    include_dirs=[_CSRC],
                    cxx_std=17,
                    extra_compile_args=["-O3"] if sys.platform != "win32" else ["/O2"],
                )
            )
            exts[-1]._dirfast_nvcc = nvcc
    return exts


setup(
    ext_modules=_extensions(),
    cmdclass={"build_ext": OptionalBuildExt},
)
