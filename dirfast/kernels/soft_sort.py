"""Triton kernel of soft sort / soft rank: the hard-sort fast path and the "does anything pool?" flag.

``soft_sort_prep`` runs after ``torch.sort`` on the sorted rows ``x [rows, n]``. Grid: one axis of
``rows · cdiv(n, BLOCK)`` programs, program ``p`` on row ``p // cdiv(n, BLOCK)`` (axis 0 allows 2³¹ − 1
programs; axes 1–2 only 65,535, too few for batches of rows), int64 offsets. Each element ``i``
(row-local index ``c``):

* writes the output the op has when no block pools: ``out[i] = x[i]`` (soft sort, sorted order) or
  ``out[i] = c + 1`` (soft rank, sorted order; the op scatters it back by ``perm``);
* writes ``block_start[i] = c`` (int64: every element its own block);
* checks the pair ``(c, c+1)`` against the singleton merge rule — soft sort ``x[c+1] − x[c] ≥ 1/eps``,
  soft rank ``x[c+1] − x[c] ≤ eps`` — with a relative margin of 1e-6 in the direction of "pool"
  (``thresh`` is ``(1/eps)(1 − 1e-6)`` or ``eps(1 + 1e-6)``), so rounding can only raise the flag
  falsely, never miss a pooling row; the PAV that follows decides exactly.

One ``atomic_max`` per program raises the int32 device ``flag`` when any pair hits. This kernel is
the ``triton`` path of a GPU *without* ``dirfast._C_cuda`` (the flag is then read on the host and
pooling rows go to the CPU PAV) and of the interpreter; with the CUDA module the CUDA PAV does its own
pair test (``dirfast.ops.soft_sort``). ``thresh`` goes by value: a float for fp32 rows, the int64 bit pattern of the double
(:func:`dirfast.kernels._launch.fp64_bits`) for fp64 rows — the JIT types a Python float as fp32.
Traffic: reads ``x`` once (the neighbour load hits the same lines), writes ``out`` and
``block_start``: ``(2·s + 8)`` bytes per element for element size ``s``, the minimum for an op that
must produce the output and the block ids the backward uses.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ._launch import device_guard, fp64_bits
from ._registry import TRITON_DTYPE, KernelConfig, pick, register

MODE_SORT, MODE_RANK = 0, 1
BLOCK = 1024
NUM_WARPS = 4
DTYPES = ("float32", "float64")
#: relative margin of the flag test (towards raising it)
MARGIN = 1e-6


@triton.jit(do_not_specialize=["thresh"])
def _soft_sort_prep_kernel(
    x_ptr,  # [rows*n] sorted rows, fp32/fp64
    out_ptr,  # [rows*n] hard-sort output (sorted order), x's dtype
    bs_ptr,  # [rows*n] int64 block_start (row-local)
    flag_ptr,  # [1] int32, raised to 1 when some adjacent pair meets the merge rule
    n,  # row length
    thresh,  # soft sort (1/eps)(1 − MARGIN), soft rank eps(1 + MARGIN): fp32, or fp64 as int64 bits
    MODE: tl.constexpr,  # 0 soft sort, 1 soft rank
    BLOCK: tl.constexpr,
):
    if x_ptr.dtype.element_ty == tl.float64:
        thresh = tl.cast(tl.cast(thresh, tl.int64), tl.float64, bitcast=True)
    # 1-D grid of rows x column blocks: one scalar division per program; int64 offsets
    nb = tl.cdiv(n, BLOCK)
    pid = tl.program_id(0)
    row = pid // nb
    col = (pid - row * nb).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    offs = row.to(tl.int64) * n + col
    mask = col < n
    x = tl.load(x_ptr + offs, mask=mask, other=0)
    has_next = mask & (col < n - 1)
    xn = tl.load(x_ptr + offs + 1, mask=has_next, other=0)
    gap = xn - x
    if MODE == 0:
        hit = has_next & (gap >= thresh)
        tl.store(out_ptr + offs, x, mask=mask)
    else:
        hit = has_next & (gap <= thresh)
        tl.store(out_ptr + offs, (col + 1).to(out_ptr.dtype.element_ty), mask=mask)
    tl.store(bs_ptr + offs, col, mask=mask)
    tl.atomic_max(flag_ptr, tl.max(hit.to(tl.int32), axis=0))


def _config(dtype: str, mode: int) -> KernelConfig:
    t = TRITON_DTYPE[dtype]
    return KernelConfig(
        key=(dtype, mode),
        signature={"x_ptr": f"*{t}", "out_ptr": f"*{t}", "bs_ptr": "*i64", "flag_ptr": "*i32",
                   "n": "i64", "thresh": "i64" if dtype == "float64" else "fp32",
                   "MODE": "constexpr", "BLOCK": "constexpr"},
        constexprs={"MODE": mode, "BLOCK": BLOCK},
        num_warps=NUM_WARPS,
    )


register(_soft_sort_prep_kernel, [_config(d, m) for d in DTYPES for m in (MODE_SORT, MODE_RANK)])


def flag_threshold(eps: float, mode: int) -> float:
    return (1.0 / eps) * (1.0 - MARGIN) if mode == MODE_SORT else eps * (1.0 + MARGIN)


def grid(rows: int, n: int) -> tuple:
    """The launch grid: ``(rows · cdiv(n, BLOCK),)`` on axis 0 (CUDA limit 2³¹ − 1 programs, i.e.
    ~2·10¹² elements)."""
    programs = rows * triton.cdiv(n, BLOCK)
    if programs > 2**31 - 1:
        raise ValueError(f"soft sort: {rows} rows of {n} need {programs} programs > 2^31 - 1")
    return (programs,)


def soft_sort_prep(x: torch.Tensor, eps: float, mode: int):
    """Launch the prep kernel on sorted rows ``x [rows, n]`` (contiguous, fp32/fp64) on ``x``'s device.

    Returns ``(out [rows, n] x.dtype, block_start [rows, n] int64, flag [1] int32)``.
    """
    rows, n = x.shape
    dtype = str(x.dtype).split(".")[-1]
    cfg = pick(_soft_sort_prep_kernel, (dtype, mode))
    out = torch.empty_like(x)
    bs = torch.empty((rows, n), dtype=torch.int64, device=x.device)
    flag = torch.zeros(1, dtype=torch.int32, device=x.device)
    thresh = flag_threshold(eps, mode)
    if rows * n:
        with device_guard(x):
            _soft_sort_prep_kernel[grid(rows, n)](
                x, out, bs, flag, n, fp64_bits(thresh) if dtype == "float64" else thresh,
                num_warps=cfg.num_warps, **cfg.constexprs)
    return out, bs, flag


# ------------------------------------------------------------------------------------------------
# soft rank backward epilogue


@triton.jit(do_not_specialize=["eps"])
def _soft_rank_bwd_kernel(
    gt_ptr,    # [rows*n] g̃ = grad gathered into sorted order (fp32/fp64)
    bm_ptr,    # [rows*n] block means of g̃ (sorted order)
    perm_ptr,  # [rows*n] int64 row-local permutation (x_i = theta[perm_i])
    out_ptr,   # [rows*n] grad_theta (original order), g̃'s dtype
    n,         # row length
    eps,       # fp32, or fp64 as int64 bits
    BLOCK: tl.constexpr,
):
    """``out[row, perm_i] = (g̃_i − m_i)/eps`` (IEEE division, as on the CPU paths): the subtraction,
    division and scatter of the soft-rank VJP in one pass (same 1-D grid as the prep kernel); the
    route without ``dirfast._C_cuda`` (with it, ``_C_cuda.pav_vjp`` does all of the VJP)."""
    if gt_ptr.dtype.element_ty == tl.float64:
        eps = tl.cast(tl.cast(eps, tl.int64), tl.float64, bitcast=True)
    nb = tl.cdiv(n, BLOCK)
    pid = tl.program_id(0)
    row = pid // nb
    col = (pid - row * nb).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    base = row.to(tl.int64) * n
    mask = col < n
    gt = tl.load(gt_ptr + base + col, mask=mask, other=0)
    bm = tl.load(bm_ptr + base + col, mask=mask, other=0)
    p = tl.load(perm_ptr + base + col, mask=mask, other=0)
    if gt_ptr.dtype.element_ty == tl.float64:
        v = (gt - bm) / eps  # fp64 division is IEEE-rounded
    else:
        v = tl.math.div_rn(gt - bm, eps)  # fp32 `/` would be the approximate div.full.f32
    tl.store(out_ptr + base + p, v, mask=mask)


def _bwd_config(dtype: str) -> KernelConfig:
    t = TRITON_DTYPE[dtype]
    return KernelConfig(
        key=(dtype,),
        signature={"gt_ptr": f"*{t}", "bm_ptr": f"*{t}", "perm_ptr": "*i64", "out_ptr": f"*{t}",
                   "n": "i64", "eps": "i64" if dtype == "float64" else "fp32",
                   "BLOCK": "constexpr"},
        constexprs={"BLOCK": BLOCK},
        num_warps=NUM_WARPS,
    )


register(_soft_rank_bwd_kernel, [_bwd_config(d) for d in DTYPES])


def soft_rank_bwd_epilogue(gt: torch.Tensor, bm: torch.Tensor, perm: torch.Tensor,
                           eps: float) -> torch.Tensor:
    """``grad_theta`` of soft rank from ``g̃ [rows, n]`` and its block means ``bm`` (sorted order,
    contiguous, fp32/fp64) and ``perm [rows, n]`` int64: ``out[r, perm[r, i]] = (g̃ − bm)[r, i]/eps``
    in one launch on ``gt``'s device."""
    rows, n = gt.shape
    dtype = str(gt.dtype).split(".")[-1]
    cfg = pick(_soft_rank_bwd_kernel, (dtype,))
    out = torch.empty_like(gt)
    if rows * n:
        with device_guard(gt):
            _soft_rank_bwd_kernel[grid(rows, n)](
                gt, bm, perm, out, n, fp64_bits(eps) if dtype == "float64" else float(eps),
                num_warps=cfg.num_warps, **cfg.constexprs)
    return out
