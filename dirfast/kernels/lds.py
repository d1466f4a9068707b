"""Triton kernel of the LDS map on CUDA tensors: label → bin → weight in one launch.

``out[i] = table[bin(y_i)]`` with ``bin(y) = searchsorted(inner, y, right=True)`` over the ``K − 1``
interior edges of the :class:`dirfast.Bins` in the labels' comparison dtype (NaN → ``K − 1``): the
definition of :meth:`dirfast.Bins.index` (edges ``start + k·width`` computed in float64 and rounded
to the comparison dtype, last edge closed, out-of-range labels clamped into the edge bins), which
the vectorised PyTorch paths of ``Bins`` reproduce bit for bit and this kernel by construction.

Each program reads ``BLOCK`` labels once, runs a branch-free binary search of ``steps =
ceil(log2 K)`` rounds over the edges (``[K − 1]``, cached on the device by ``Bins``; they stay in L1/L2),
gathers the weight and writes it once: ``s_y + s_w`` bytes per label, the op's minimum. Float labels
(fp32 compared in fp32, fp64 in fp64) and fp32/fp64 tables (fp64 labels: fp64 tables) only; the
caller falls back to PyTorch otherwise. Offsets are int64; the grid is 1-D (``cdiv(N, BLOCK)`` programs on axis 0).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ._launch import cdiv, device_guard
from ._registry import TRITON_DTYPE, KernelConfig, pick, register

BLOCK = 1024
NUM_WARPS = 4
DTYPES = ("float32", "float64")


@triton.jit
def _lds_map_kernel(
    y_ptr,      # [n] labels, fp32/fp64 (the comparison dtype)
    inner_ptr,  # [nin] interior edges in the labels' dtype, ascending
    table_ptr,  # [nin + 1] per-bin weights
    out_ptr,    # [n] weights, the table's dtype
    n,
    nin,        # K − 1
    steps,      # ceil(log2(K)) rounds of the binary search
    BLOCK: tl.constexpr,
):
    pid = tl.program_id(0).to(tl.int64)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    y = tl.load(y_ptr + offs, mask=mask, other=0)
    # first interior edge > y (= the number of edges <= y): searchsorted(right=True)
    lo = tl.zeros([BLOCK], dtype=tl.int64)
    hi = tl.zeros([BLOCK], dtype=tl.int64) + nin
    r = 0
    while r < steps:  # a while loop: the interpreter runs no range() over a runtime bound
        r += 1
        active = lo < hi
        mid = (lo + hi) // 2
        e = tl.load(inner_ptr + mid, mask=mask & active, other=0)
        right = e <= y
        lo = tl.where(active & right, mid + 1, lo)
        hi = tl.where(active & (~right), mid, hi)
    idx = tl.where(y != y, nin, lo)  # NaN: the last bin, as searchsorted
    w = tl.load(table_ptr + idx, mask=mask, other=0)
    tl.store(out_ptr + offs, w, mask=mask)


def _config(ydt: str, tdt: str) -> KernelConfig:
    y, t = TRITON_DTYPE[ydt], TRITON_DTYPE[tdt]
    return KernelConfig(
        key=(ydt, tdt),
        signature={"y_ptr": f"*{y}", "inner_ptr": f"*{y}", "table_ptr": f"*{t}", "out_ptr": f"*{t}",
                   "n": "i64", "nin": "i64", "steps": "i64", "BLOCK": "constexpr"},
        constexprs={"BLOCK": BLOCK},
        num_warps=NUM_WARPS,
    )


# fp64 labels gather from an fp64 table (an fp64 kernel takes no fp32 argument: the AOT tier checks
# it); the caller rounds an fp32 result afterwards
register(_lds_map_kernel, [_config("float32", t) for t in DTYPES] + [_config("float64", "float64")])


def steps_for(k: int) -> int:
    """Rounds of the binary search over ``k − 1`` interior edges: ``ceil(log2 k)`` (0 for one bin)."""
    return max(int(k) - 1, 0).bit_length()


def lds_map(y: torch.Tensor, inner: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """``table[searchsorted(inner, y, right=True)]`` (NaN → last bin) in one launch on ``y``'s device.

    Args:
        y: labels, any shape, fp32/fp64 (compared in that dtype).
        inner: ``[K − 1]`` interior edges in ``y``'s dtype, contiguous, ascending.
        table: ``[K]`` fp32/fp64 weights (fp64 for fp64 labels), contiguous, on ``y``'s device.
    Returns:
        weights shaped like ``y``, ``table``'s dtype.
    """
    yc = y.contiguous()
    n = yc.numel()
    cfg = pick(_lds_map_kernel, (str(yc.dtype).split(".")[-1], str(table.dtype).split(".")[-1]))
    out = torch.empty(y.shape, dtype=table.dtype, device=y.device)
    nin = inner.numel()
    if n:
        with device_guard(yc):
            _lds_map_kernel[(cdiv(n, BLOCK),)](
                yc, inner, table, out, n, nin, steps_for(nin + 1), num_warps=cfg.num_warps,
                **cfg.constexprs)
    return out
