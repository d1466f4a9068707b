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

__all__ = ["available", "require", "import_error", "get", "cuda_available", "require_cuda", "_C"]

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


# --- CUDA C++ extension (issue 6; not built yet) ------------------------------------------------
# The CUDA kernels will live in a separate module (built by calling nvcc directly, see setup.py),
# provisionally ``dirfast._C_cuda``. Until it exists, cuda_available() is False and
# require_cuda() explains why.

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


def cuda_available() -> bool:
    """True if the CUDA C++ extension (``dirfast._C_cuda``) is importable (and not hidden)."""
    return _current_cuda() is not None


def require_cuda(what: str) -> ModuleType:
    """Return the CUDA C++ extension or raise ``RuntimeError`` saying why it is missing."""
    mod = _current_cuda()
    if mod is None:
        raise RuntimeError(
            f"{what} needs the CUDA C++ extension dirfast._C_cuda, which is not available "
            f"({_cuda_import_error or 'hidden'}). It is built only when nvcc is found at install "
            "time (`pip install --no-build-isolation -e .` on a machine with the CUDA toolkit); "
            "use backend='triton' or 'auto' meanwhile."
        )
    return mod
