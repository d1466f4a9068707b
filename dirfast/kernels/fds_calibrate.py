"""Triton kernel of FDS calibration: ``out = z·scale[bin] + shift[bin]`` (forward) and
``dz = dy·scale[bin]`` (backward, same kernel with ``HAS_SHIFT=False``).

Tiling: a 2-D grid over (row blocks of ``BLOCK_N``, column blocks of ``BLOCK_D``). A program loads the
``BLOCK_N`` bin ids of its rows once, gathers the matching ``[BLOCK_N, BLOCK_D]`` tiles of ``scale`` and
``shift`` (rows of a ``[B, D]`` table, L2-resident on a GPU: B·D is ~100 bins × D), reads the ``z`` tile
once and writes the output tile once. Rows whose bin id is ``< 0`` or ``>= B`` are written back unchanged
(``tl.where`` on the loaded value, so even ``-0.0`` and NaN payloads survive). Non-power-of-two D and
ragged N are masked; every offset is int64; ``z`` is addressed through its two strides (no
``.contiguous()`` copy for sliced or transposed features); the output is contiguous.

Traffic per call (fp32): forward reads z and writes out (8 B/element) plus the bin id (8 B/row) and the
gathered scale/shift rows (from cache); the backward reads dy and writes dz (8 B/element). That is the
minimum for an out-of-place map; no dot, so TF32 is irrelevant. Arithmetic in fp32 (fp64 for fp64 inputs):
the compute dtype is the dtype of ``scale``. No float scalar argument (the integer ones go by value); the
launch runs on the features' CUDA device (``device_guard``).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ._launch import cdiv, device_guard
from ._registry import TRITON_DTYPE, KernelConfig, pick, register

NUM_WARPS = 8
#: column block sizes the launcher can pick (smallest power of two >= D, capped at 256)
BLOCK_DS = (16, 64, 256)
#: elements per program: 8 per thread with 8 warps (4 in fp64); 4 warps at 16/thread spilled on sm_80
TILE = {"float16": 2048, "bfloat16": 2048, "float32": 2048, "float64": 1024}


@triton.jit
def _fds_calibrate_kernel(
    z_ptr,
    idx_ptr,
    scale_ptr,
    shift_ptr,
    out_ptr,
    n,
    d,
    num_bins,
    stride_zn,
    stride_zd,
    HAS_SHIFT: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    pid_n = tl.program_id(0).to(tl.int64)
    pid_d = tl.program_id(1).to(tl.int64)
    rows = pid_n * BLOCK_N + tl.arange(0, BLOCK_N).to(tl.int64)
    cols = pid_d * BLOCK_D + tl.arange(0, BLOCK_D).to(tl.int64)
    row_in = rows < n
    col_in = cols < d
    b = tl.load(idx_ptr + rows, mask=row_in, other=-1).to(tl.int64)
    valid = (b >= 0) & (b < num_bins)
    b = tl.where(valid, b, 0)
    in_tile = row_in[:, None] & col_in[None, :]
    gmask = valid[:, None] & in_tile
    acc_t = scale_ptr.dtype.element_ty
    z = tl.load(z_ptr + rows[:, None] * stride_zn + cols[None, :] * stride_zd, mask=in_tile, other=0)
    tab = b[:, None] * d + cols[None, :]
    s = tl.load(scale_ptr + tab, mask=gmask, other=1)
    y = z.to(acc_t) * s
    if HAS_SHIFT:
        t = tl.load(shift_ptr + tab, mask=gmask, other=0)
        y = y + t
    y = tl.where(valid[:, None], y.to(out_ptr.dtype.element_ty), z)
    tl.store(out_ptr + rows[:, None] * d + cols[None, :], y, mask=in_tile)


def _block_d(d: int) -> int:
    for bd in BLOCK_DS:
        if d <= bd:
            return bd
    return BLOCK_DS[-1]


def _config(dtype: str, has_shift: bool, block_d: int) -> KernelConfig:
    t = TRITON_DTYPE[dtype]
    acc = "fp64" if dtype == "float64" else "fp32"
    return KernelConfig(
        key=(dtype, has_shift, block_d),
        signature={
            "z_ptr": f"*{t}",
            "idx_ptr": "*i64",
            "scale_ptr": f"*{acc}",
            "shift_ptr": f"*{acc}",
            "out_ptr": f"*{t}",
            "n": "i64",
            "d": "i64",
            "num_bins": "i64",
            "stride_zn": "i64",
            "stride_zd": "i64",
            "HAS_SHIFT": "constexpr",
            "BLOCK_N": "constexpr",
            "BLOCK_D": "constexpr",
        },
        constexprs={"HAS_SHIFT": has_shift, "BLOCK_N": TILE[dtype] // block_d, "BLOCK_D": block_d},
        num_warps=NUM_WARPS,
    )


register(
    _fds_calibrate_kernel,
    [_config(dtype, has_shift, bd) for dtype in TRITON_DTYPE for has_shift in (True, False)
     for bd in BLOCK_DS],
)


def _launch(z, idx, scale, shift, has_shift: bool):
    n, d = z.shape
    out = torch.empty((n, d), dtype=z.dtype, device=z.device)
    if n == 0 or d == 0:
        return out
    cfg = pick(_fds_calibrate_kernel, (str(z.dtype).split(".")[-1], has_shift, _block_d(d)))
    c = cfg.constexprs
    grid = (cdiv(n, c["BLOCK_N"]), cdiv(d, c["BLOCK_D"]))
    with device_guard(z):
        _fds_calibrate_kernel[grid](
            z, idx, scale, shift if has_shift else scale, out, n, d, scale.shape[0],
            z.stride(0), z.stride(1), num_warps=cfg.num_warps, **c,
        )
    return out


def fds_calibrate_fwd(z, idx, scale, shift):
    """``z·scale[idx] + shift[idx]`` (rows with ``idx`` outside ``[0, B)`` unchanged).

    Args:
        z: ``[N, D]`` floating tensor, any strides.
        idx: ``[N]`` int64, contiguous.
        scale, shift: ``[B, D]`` contiguous, fp32 (fp64 for fp64 ``z``), ``B >= 1``.
    Returns:
        ``[N, D]`` contiguous, dtype of ``z``.
    """
    return _launch(z, idx, scale, shift, True)


def fds_calibrate_bwd(dy, idx, scale):
    """``dy·scale[idx]`` (rows with ``idx`` outside ``[0, B)`` pass ``dy`` through); shapes as above."""
    return _launch(dy, idx, scale, None, False)
