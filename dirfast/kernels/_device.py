"""Triton device helpers shared by the kernel modules (``@triton.jit`` functions called from kernels).

A private module: the ahead-of-time tier walks only the public kernel modules, and a helper is
compiled as part of every registered kernel that calls it.

* :func:`f64` — the double whose IEEE-754 bit pattern is the integer ``bits`` (fp64 scalars travel
  as bit patterns, :func:`dirfast.kernels._launch.fp64_bits`).
* :func:`div_rn`, :func:`sqrt_rn` — correctly rounded ``a / b`` and ``√a`` (on the GPU fp32 ``/``
  and ``tl.sqrt`` are approximate; fp64 ones are exact).
"""

import triton
import triton.language as tl


@triton.jit
def f64(bits):
    """The double whose IEEE-754 bit pattern is the integer ``bits`` (i32 or i64)."""
    return tl.cast(tl.cast(bits, tl.int64), tl.float64, bitcast=True)


@triton.jit
def div_rn(a, b):
    """``a / b`` correctly rounded."""
    if b.dtype == tl.float64:
        return a / b
    else:
        return tl.div_rn(a, b)


@triton.jit
def sqrt_rn(a):
    """Correctly rounded square root."""
    if a.dtype == tl.float64:
        return tl.sqrt(a)
    else:
        return tl.sqrt_rn(a)
