"""Optional loader for the compiled extension ``dirfast._C``.

``dirfast._C`` is a torch-free pybind11 module with the CPU (C++/OpenMP) kernels. It is optional:
``import dirfast`` and this module always work without it, and code that needs it calls
:func:`require`, which raises a ``RuntimeError`` explaining why it is missing and how to build it.

Tests hide the extension with ``sys.modules["dirfast._C"] = None`` (then ``import`` raises
ImportError); :func:`available`/:func:`require` re-check ``sys.modules`` on every call, so hiding
(or restoring) it after this module was imported is honoured.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Optional

__all__ = [
    "available", "require", "import_error", "get",
    "cuda_available", "require_cuda", "cuda_module", "cuda_import_error", "_C",
]

_BUILD_HINT = (
    "Build it with `pip install --no-build-isolation -e .` from the dirfast source tree "
    "(needs a C++17 compiler with OpenMP; set DIRFAST_BUILD_EXT=1 to make a build failure fatal "
    "instead of silently installing without the extension)."
)

_C: Optional[ModuleType]
_import_error: Optional[str]

try:
    # import_module, not `from dirfast import _C`: dirfast may be partially initialised here,
    # and the latter then reports a missing module as a confusing "circular import".
    _C = importlib.import_module("dirfast._C")

    _import_error = None
except Exception as exc:  # ImportError, or anything a broken build may raise: never fail here
    _C = None
    _import_error = f"{type(exc).__name__}: {exc}"


_MISSING = object()


def _current() -> Optional[ModuleType]:
    """The extension module, honouring ``sys.modules['dirfast._C'] = None`` set at any time
    (and a real module put back into ``sys.modules`` after it was hidden)."""
    mod = sys.modules.get("dirfast._C", _MISSING)
    if mod is None:
        return None
    if mod is not _MISSING and isinstance(mod, ModuleType):
        return mod
    return _C


def available() -> bool:
    """True if the compiled extension ``dirfast._C`` is importable (and not hidden)."""
    return _current() is not None


def import_error() -> Optional[str]:
    """Why ``dirfast._C`` is unavailable (None if it is available)."""
    if _current() is not None:
        return None
    if _C is not None:  # loaded, but hidden afterwards through sys.modules
        return "dirfast._C is hidden (sys.modules['dirfast._C'] is None)"
    return _import_error


def require(what: str) -> ModuleType:
    """Return ``dirfast._C`` or raise ``RuntimeError`` saying ``what`` needs it, why it is
    missing and how to build it."""
    mod = _current()
    if mod is None:
        raise RuntimeError(
            f"{what} needs the compiled extension dirfast._C, which is not available "
            f"({import_error()}). {_BUILD_HINT}"
        )
    return mod


def get() -> Optional[ModuleType]:
    """``dirfast._C`` if available, else None."""
    return _current()


# --- CUDA C++ extension ----------------------------------------------------------------
# ``dirfast._C_cuda``: the CUDA kernels (csrc/cuda/*.cu), built by setup.py calling nvcc directly
# when nvcc is found at install time (DIRFAST_BUILD_CUDA=auto|0|1), linked with the static CUDA
# runtime. It imports without a GPU or driver; cuda_available() also asks for a device.
# Hidden like dirfast._C: ``sys.modules["dirfast._C_cuda"] = None``.

_CUDA_BUILD_HINT = (
    "It is built only when nvcc is on PATH (or in $CUDA_HOME/bin) at install time: "
    "`DIRFAST_BUILD_CUDA=1 pip install --no-build-isolation -e .` from the dirfast source tree "
    "(DIRFAST_BUILD_CUDA=1 makes a failed CUDA build fatal instead of silently skipping it)."
)

_C_cuda: Optional[ModuleType]
try:
    _C_cuda = importlib.import_module("dirfast._C_cuda")

    _cuda_import_error: Optional[str] = None
except Exception as exc:  # never fail at import
    _C_cuda = None
    _cuda_import_error = f"{type(exc).__name__}: {exc}"


def _current_cuda() -> Optional[ModuleType]:
    mod = sys.modules.get("dirfast._C_cuda", _MISSING)
    if mod is None:
        return None
    if mod is not _MISSING and isinstance(mod, ModuleType):
        return mod
    return _C_cuda


def cuda_module() -> Optional[ModuleType]:
    """``dirfast._C_cuda`` if it was built and is importable (and not hidden), else None.
    Says nothing about a GPU being present (see :func:`cuda_available`)."""
    return _current_cuda()


def cuda_import_error() -> Optional[str]:
    """Why ``dirfast._C_cuda`` is not importable (None if it is)."""
    if _current_cuda() is not None:
        return None
    if _C_cuda is not None:
        return "dirfast._C_cuda is hidden (sys.modules['dirfast._C_cuda'] is None)"
    return _cuda_import_error


def _device_count(mod: ModuleType) -> int:
    try:
        return int(mod.device_count())
    except Exception:  # noqa: BLE001 - any failure means "no usable GPU"
        return 0


def cuda_available() -> bool:
    """True if ``dirfast._C_cuda`` is importable (and not hidden) and sees at least one device
    (its ``device_count()`` is 0 without a GPU or driver)."""
    mod = _current_cuda()
    return mod is not None and _device_count(mod) > 0


def require_cuda(what: str) -> ModuleType:
    """Return ``dirfast._C_cuda`` or raise ``RuntimeError`` saying why ``what`` cannot use it:
    the module is missing (and how to build it) or no CUDA device is visible."""
    mod = _current_cuda()
    if mod is None:
        raise RuntimeError(
            f"{what} needs the CUDA C++ extension dirfast._C_cuda, which is not available "
            f"({cuda_import_error()}). {_CUDA_BUILD_HINT} Use backend='triton' or 'auto' meanwhile."
        )
    if _device_count(mod) <= 0:
        raise RuntimeError(
            f"{what} needs a CUDA device: the CUDA kernels dirfast._C_cuda (built by nvcc) are "
            "installed, but they see no device (no GPU, or no CUDA driver: cudaGetDeviceCount "
            "failed or returned 0)."
        )
    return mod
