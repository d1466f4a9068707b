"""The one backend rule of dirfast (docs/conventions.md, "Backends"), used by every op.

``backend`` is one of ``"auto" | "reference" | "cpu" | "triton" | "cuda"``; ``None`` means the value of
the environment variable ``DIRFAST_BACKEND``, else ``"auto"``.

* ``"auto"``: CUDA tensors -> ``"cuda"`` if the op has a CUDA C++ kernel and it is built, else
  ``"triton"`` (else ``"reference"`` when triton is not installed); CPU tensors -> ``"cpu"``.
  ``"auto"`` never selects the Triton interpreter, and never raises for a missing optional piece.
* ``"cpu"``: the fastest CPU implementation: the op's C++ kernel in ``dirfast._C`` when it has one
  (an explicit ``"cpu"`` without the built extension raises and says how to build it; ``"auto"``
  falls back to vectorised PyTorch).
* ``"triton"`` on CPU tensors runs the kernels in the Triton interpreter and is allowed only when
  ``TRITON_INTERPRET=1`` was set before ``import dirfast``.
* ``"reference"``: the pure-PyTorch ``x_ref`` (any device, autograd through torch ops).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Dict, Optional, Tuple

import torch

from . import _ext
from ._env import getenv

BACKENDS = ("auto", "reference", "cpu", "triton", "cuda")

#: Read once, at import: ``@triton.jit`` decides interpreted vs compiled when a kernel module is
#: imported, so a value set later would not take effect.
TRITON_INTERPRET: bool = os.environ.get("TRITON_INTERPRET", "0") == "1"


def _find_triton() -> Optional[str]:
    """None if triton is importable, else the reason. Honours ``sys.modules['triton'] = None``."""
    if "triton" in sys.modules:
        return None if sys.modules["triton"] is not None else "triton import blocked"
    try:
        spec = importlib.util.find_spec("triton")
    except (ImportError, ValueError) as exc:  # pragma: no cover - broken installs
        return str(exc)
    return None if spec is not None else "triton is not installed"


def triton_available() -> bool:
    return _find_triton() is None


def cuda_ext_available() -> bool:
    """Whether the CUDA C++ kernels (built by setup.py with nvcc) are importable."""
    return _ext.cuda_available()


def default_backend() -> str:
    value = os.environ.get("DIRFAST_BACKEND", "auto")
    if value not in BACKENDS:
        raise ValueError(f"DIRFAST_BACKEND must be one of {BACKENDS}, got {value!r}")
    return value


_MISSING = object()
#: resolved paths, keyed on the request and on everything the answer depends on (see
#: :func:`_dispatch_state`); only successful resolutions are stored, errors are re-raised each call
_DISPATCH_CACHE: Dict[Tuple, str] = {}


def _dispatch_state() -> Tuple:
    """What a resolution depends on besides the request: the current string of
    ``DIRFAST_BACKEND``, the extension and triton modules as ``sys.modules`` holds them now (tests
    hide them with ``sys.modules[name] = None``) and the availability probes themselves (tests
    monkeypatch them). Cheap: one environment read and a few dictionary lookups."""
    mods = sys.modules
    return (getenv("DIRFAST_BACKEND"), mods.get("dirfast._C", _MISSING),
            mods.get("dirfast._C_cuda", _MISSING), mods.get("triton", _MISSING), _ext.available,
            _ext._current, cuda_ext_available, _find_triton)


def clear_dispatch_cache() -> None:
    """Forget every cached resolution (they are re-derived on the next call)."""
    _DISPATCH_CACHE.clear()


def resolve_backend(
    backend: Optional[str],
    device: torch.device,
    *,
    op: str,
    has_cpu_kernel: bool = True,
    has_triton_kernel: bool = True,
    has_cuda_kernel: bool = False,
) -> str:
    """Map a requested backend and the inputs' device to the concrete path of ``op``.

    Returns one of ``"reference" | "cpu" | "cpu_torch" | "triton" | "cuda"``; ``"cpu_torch"`` is the
    vectorised-PyTorch CPU path used when the op has no C++ kernel or ``"auto"`` finds the extension
    missing. Raises ``ValueError`` for an unknown name or a device mismatch and ``RuntimeError`` for an
    explicitly requested backend that is not available here (with how to get it).

    Decided once per configuration: the answer is cached per (op, requested backend, device type,
    kernel flags) and the state of :func:`_dispatch_state` — so a changed ``DIRFAST_BACKEND``, a hidden
    or restored extension take effect on the next call, while the steady state costs one environment
    read and a dictionary lookup (no ``device_count()`` per call).
    """
    if torch.compiler.is_compiling():  # traced once per graph; dynamo cannot hash the state key
        return _resolve(backend, device, op=op, has_cpu_kernel=has_cpu_kernel,
                        has_triton_kernel=has_triton_kernel, has_cuda_kernel=has_cuda_kernel)
    key = (op, backend, device.type, has_cpu_kernel, has_triton_kernel, has_cuda_kernel,
           _dispatch_state())
    path = _DISPATCH_CACHE.get(key)
    if path is None:
        path = _resolve(backend, device, op=op, has_cpu_kernel=has_cpu_kernel,
                        has_triton_kernel=has_triton_kernel, has_cuda_kernel=has_cuda_kernel)
        if len(_DISPATCH_CACHE) > 4096:  # configurations are few; bound it anyway
            _DISPATCH_CACHE.clear()
        _DISPATCH_CACHE[key] = path
    return path


def _resolve(backend: Optional[str], device: torch.device, *, op: str, has_cpu_kernel: bool,
             has_triton_kernel: bool, has_cuda_kernel: bool) -> str:
    if backend is None:
        backend = default_backend()
    if backend not in BACKENDS:
        raise ValueError(f"{op}: backend must be one of {BACKENDS}, got {backend!r}")
    is_cuda = device.type == "cuda"
    if backend == "reference":
        return "reference"
    if backend == "auto":
        if is_cuda:
            if has_cuda_kernel and cuda_ext_available():
                return "cuda"
            if has_triton_kernel and triton_available():
                return "triton"
            return "reference"
        if device.type != "cpu":
            return "reference"
        return "cpu" if (has_cpu_kernel and _ext.available()) else "cpu_torch"
    if backend == "cpu":
        if device.type != "cpu":
            raise ValueError(f"{op}: backend='cpu' needs CPU tensors, got tensors on {device}")
        if not has_cpu_kernel:
            return "cpu_torch"
        _ext.require(f"{op} with backend='cpu'")
        return "cpu"
    if backend == "triton":
        if not has_triton_kernel:
            raise RuntimeError(f"{op} has no Triton kernel; use backend='auto'")
        reason = _find_triton()
        if reason is not None:
            raise RuntimeError(
                f"{op}: backend='triton' requested but triton is unavailable ({reason}); "
                "install it with `pip install triton==3.6.0` (or `pip install dirfast[triton]`)"
            )
        if not is_cuda:
            if device.type == "cpu" and TRITON_INTERPRET:
                return "triton"
            raise RuntimeError(
                f"{op}: backend='triton' on {device} tensors needs the Triton interpreter: set "
                "TRITON_INTERPRET=1 in the environment before `import dirfast` (or move the tensors "
                "to a CUDA device)"
            )
        return "triton"
    # backend == "cuda"
    if not has_cuda_kernel:
        raise RuntimeError(f"{op} has no CUDA C++ kernel; use backend='triton' or 'auto'")
    if not is_cuda:
        raise ValueError(f"{op}: backend='cuda' needs CUDA tensors, got tensors on {device}")
    if not cuda_ext_available():
        _ext.require_cuda(f"{op} with backend='cuda'")
    return "cuda"


def trace_constant(fn):
    """``torch.compiler.assume_constant_result`` without importing dynamo at ``import dirfast``.

    The public decorator imports ``torch._dynamo``, which imports triton (and costs ~1 s): ``import
    dirfast`` must not. Before dynamo is loaded, set the marker it reads (all the decorator does in
    torch 2.11-2.13: ``fn._dynamo_marked_constant = True``); dynamo then runs ``fn`` once while
    tracing and puts its result in the graph as a constant."""
    import sys

    if "torch._dynamo" in sys.modules:
        return torch.compiler.assume_constant_result(fn)
    fn._dynamo_marked_constant = True
    return fn

