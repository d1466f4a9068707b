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

_HERE = os.path.dirname(os.path.abspath(__file__))
_CSRC = "csrc"

# One .cpp per op (plus module.cpp with the bindings); one header per op.
_SOURCES = [
    f"{_CSRC}/module.cpp",
    f"{_CSRC}/fds_stats.cpp",
    f"{_CSRC}/weighted_loss.cpp",
    f"{_CSRC}/lds.cpp",
    f"{_CSRC}/fds_calibrate.cpp",
    f"{_CSRC}/pav.cpp",
]
_DEPENDS = [
    f"{_CSRC}/fds_stats.h",
    f"{_CSRC}/weighted_loss.h",
    f"{_CSRC}/lds.h",
    f"{_CSRC}/fds_calibrate.h",
    f"{_CSRC}/pav.h",
    f"{_CSRC}/pav/pav_core.h",
]


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


class OptionalBuildExt(build_ext):
    """build_ext that, with DIRFAST_BUILD_EXT=auto, turns a failed build into a warning."""

    def initialize_options(self) -> None:
        super().initialize_options()
        self._dirfast_failed = []

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - compiler errors come in many types
            self._failed("the compiled extensions", exc)
            self._dirfast_failed = list(self.extensions)
        # Forget failed extensions so later steps (editable installs, get_outputs) do not look
        # for their missing output files.
        self.extensions = [e for e in self.extensions if e not in self._dirfast_failed]

    def build_extension(self, ext) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            self._failed(ext.name, exc)
            self._dirfast_failed.append(ext)

    def _failed(self, what: str, exc: BaseException) -> None:
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
    # CUDA extension (issue 6) goes HERE.
    # Plan: call nvcc directly (no torch.utils.cpp_extension: the CPU build of torch ships no
    # CUDA headers, and torch must stay out of [build-system] requires) to build the .cu kernels
    # — which include the same torch-free headers (csrc/<op>.h, DIRFAST_HOST_DEVICE) — into a
    # static/shared library with `-cudart static` for sm_80 + sm_90 + PTX, then link it into a
    # second pybind11 module (e.g. dirfast._C_cuda) added to `exts`. Gate it on nvcc being found
    # (and a DIRFAST_BUILD_CUDA=auto|0|1 knob mirroring DIRFAST_BUILD_EXT); a missing GPU/driver
    # must surface as a clean Python error at call time, never at import.
    # ------------------------------------------------------------------------------------------
    return exts


setup(
    ext_modules=_extensions(),
    cmdclass={"build_ext": OptionalBuildExt},
)
