"""What every GPU launcher shares: the device guard and fp64 scalars passed by value.

Imports neither triton nor the CUDA extension, so the ``_C_cuda`` launchers use it too.

* :func:`device_guard` — Triton and the ``dirfast._C_cuda`` kernels launch on the *current* CUDA device
  (and its current stream), whatever device the tensors live on. Every launcher enters
  ``device_guard(t)`` for one of its tensors around its launches, so ``cuda:1`` tensors are computed on
  ``cuda:1`` while ``cuda:0`` is current. CPU tensors (the interpreter) get a no-op guard.
  The guard goes through the module attributes ``_exchange_device`` / ``_maybe_exchange_device``
  (``torch.cuda``'s own cheap primitives) so that a CPU test can stub them and record the device
  current at each stubbed launch.
* :func:`fp64_bits` — Triton's JIT types every Python ``float`` argument as fp32
  (``triton.runtime.jit.mangle_type(0.1) == "fp32"``), so an fp64 kernel must not take its scalars as
  floats. It takes the IEEE-754 bit pattern as a Python int (typed i64 by the JIT: every bit pattern
  of a normal double but 0.0 and ±tiny denormals is ≥ 2^31 in magnitude) and rebuilds the double in
  the kernel with ``tl.cast(tl.cast(bits, tl.int64), tl.float64, bitcast=True)``: exact, passed by
  value, no host-to-device copy.
"""

from __future__ import annotations

import contextlib
import struct

import torch

_exchange_device = torch.cuda._exchange_device
_maybe_exchange_device = torch.cuda._maybe_exchange_device


class _DeviceGuard:
    __slots__ = ("index", "prev")

    def __init__(self, index: int):
        self.index = index
        self.prev = -1

    def __enter__(self):
        self.prev = _exchange_device(self.index)
        return self

    def __exit__(self, *exc):
        _maybe_exchange_device(self.prev)
        return False


_NULL = contextlib.nullcontext()


def cdiv(a: int, b: int) -> int:
    """``ceil(a / b)`` for host ints. ``triton.cdiv`` costs ~2 µs per host call in triton 3.6 (it is
    a constexpr function: an import and two comprehensions per call); this is plain arithmetic."""
    return -(-a // b)


def device_guard(t: torch.Tensor):
    """A context manager making ``t``'s CUDA device current for the launches inside it (no-op on CPU)."""
    if t.device.type != "cuda":
        return _NULL
    index = t.device.index
    return _DeviceGuard(-1 if index is None else index)


def fp64_bits(x: float) -> int:
    """The bit pattern of ``float(x)`` as a signed 64-bit Python int (see the module docstring)."""
    return struct.unpack("<q", struct.pack("<d", float(x)))[0]
