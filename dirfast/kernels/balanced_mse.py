"""Triton kernels of Balanced MSE (BMC / GAI / BNI; docs/conr_ranksim_bmse.md §3.5): a flash
cross-entropy over Gaussian components — nothing ``B × B`` (BMC) or ``B × K`` is stored.

Per row ``i`` (prediction ``p_i``, target ``y_i``, 1-D) the components ``j`` have centre ``c_j``
(BMC: the batch targets; GAI: GMM means; BNI: bucket centres), variance ``s_j`` (``v``, or
``Σ_j + v`` for GAI) and log-weight ``a_j`` (0; ``log φ_j − ½ log s_j``; ``log w_j``), logits
``A_ij = a_j − (p_i − c_j)²/(2 s_j)``.

* ``_bmse_fwd_kernel`` (grid: row blocks of ``BLOCK_M``): streams the components in tiles of
  ``BLOCK_N`` with an online log-sum-exp (running max ``m_i``, sums rescaled by ``exp(m_old −
  m_new)`` when it grows: the largest term is exp(0), nothing over/underflows at any σ or label
  scale) and, under the same rescaling, the softmax-weighted sums the gradients need (BMC/BNI:
  ``Σ e·c`` and ``Σ e·(p − c)²``; GAI: ``Σ e·t`` and ``Σ e·(t²/2 − 1/(2s))`` with ``t = (p − c)/s``).
  Writes ``stats [4, B]`` = (``ℓ_i``, ``∂ℓ_i/∂v``, ``LSE_i``, ``∂ℓ_i/∂p_i``) in the accumulation
  dtype (fp32; fp64 for fp64 predictions or the official GAI/BNI).
* ``_bmse_reduce_kernel`` (one program): the loss ``(2v)·reduce(ℓ)`` and ``dvtot = (2v)·reduce(∂ℓ/∂v)``
  in a fixed order (deterministic; per-row output for ``reduction="none"``).
* ``_bmse_bwd_kernel`` (grid: blocks of ``BLOCK_M`` indices): ``∂L/∂p_i = g_i·stats[3, i]``; the
  target gradient (BMC: a column pass over row tiles, ``Σ_i g_i P_ij (p_i − y_j)/v − g_j(p_j −
  y_j)/v`` with ``P`` recomputed from the saved ``LSE``; GAI/BNI: ``−g_i (p_i − y_i)/v``); program 0
  writes ``∂L/∂v`` (``∂L/∂σ = 2σ·∂L/∂v`` when the op was given ``σ``). Each program owns its outputs:
  no atomics.

Launches per forward + backward: 3 (2 + 1). ``v`` (or ``σ``) and ``grad_out`` are read from device
memory (no host sync, no scalar copies); the only scalars passed by value are integers (sizes and
the runtime 0/1 flags, never specialised). Work: forward ``~12·B·K`` flops (BMC: ``K = B``), the BMC
target gradient ``~8·B²`` more; bytes: ``O(B + K)`` from DRAM (the tiles are re-read from L1/L2).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ._launch import cdiv, device_guard
from ._registry import TRITON_DTYPE, KernelConfig, pick, register

#: component kinds (constexpr KIND)
KIND_CODES = {"bmc": 0, "gai": 1, "bni": 2}
#: (BLOCK_M, BLOCK_N, num_warps) of the forward: BMC streams B columns (wide tiles), GAI/BNI stream
#: K ≲ 200 components
FWD_TILES = {0: (32, 128, 4), 1: (64, 32, 4), 2: (64, 64, 4)}
BWD_TILES = (64, 64, 4)
#: fp64 accumulation: half the column tile (the fp32 tiles spill registers in fp64)
FWD_TILES_64 = {0: (32, 64, 4), 1: (64, 16, 4), 2: (64, 32, 4)}
BWD_TILES_64 = (64, 32, 4)
REDUCE_BLOCK = 1024

_RUNTIME_FLAGS = ["is_sigma", "per_row", "count", "need_pred", "need_target", "need_v", "bmc"]


@triton.jit(do_not_specialize=["is_sigma"])
def _bmse_fwd_kernel(
    p_ptr, y_ptr, c_ptr, cv_ptr, w_ptr, v_ptr, stats_ptr,
    n, k, is_sigma,
    KIND: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    pid = tl.program_id(0).to(tl.int64)
    rows = pid * BLOCK_M + tl.arange(0, BLOCK_M).to(tl.int64)
    row_in = rows < n
    acc_ty = stats_ptr.dtype.element_ty
    v = tl.load(v_ptr).to(acc_ty)
    if is_sigma != 0:
        v = v * v
    inv_v = 1.0 / v
    p = tl.load(p_ptr + rows, mask=row_in, other=0.0).to(acc_ty)
    y = tl.load(y_ptr + rows, mask=row_in, other=0.0).to(acc_ty)
    run_max = tl.full([BLOCK_M], float("-inf"), dtype=acc_ty)
    run_sum = tl.zeros([BLOCK_M], dtype=acc_ty)
    run_a = tl.zeros([BLOCK_M], dtype=acc_ty)
    run_b = tl.zeros([BLOCK_M], dtype=acc_ty)
    lj = tl.arange(0, BLOCK_N).to(tl.int64)
    # while loops: the interpreter (numpy >= 2.4) cannot iterate range() over a runtime scalar
    j0 = k * 0
    while j0 < k:
        cols = j0 + lj
        col_in = cols < k
        if KIND == 0:
            c = tl.load(y_ptr + cols, mask=col_in, other=0.0).to(acc_ty)
        else:
            c = tl.load(c_ptr + cols, mask=col_in, other=0.0).to(acc_ty)
        diff = p[:, None] - c[None, :]
        if KIND == 1:
            s = tl.load(cv_ptr + cols, mask=col_in, other=1.0).to(acc_ty) + v
            inv_s = 1.0 / s
            a = tl.log(tl.load(w_ptr + cols, mask=col_in, other=1.0).to(acc_ty)) - 0.5 * tl.log(s)
            t = diff * inv_s[None, :]
            logit = a[None, :] - 0.5 * diff * t
            qa = t
            qb = 0.5 * t * t - 0.5 * inv_s[None, :]
        else:
            d2 = diff * diff
            logit = d2 * (-0.5 * inv_v)
            if KIND == 2:
                lw = tl.log(tl.load(w_ptr + cols, mask=col_in, other=1.0).to(acc_ty))
                logit = logit + lw[None, :]
            qa = tl.zeros([BLOCK_M, BLOCK_N], dtype=acc_ty) + c[None, :]
            qb = d2
        logit = tl.where(col_in[None, :], logit, float("-inf"))
        new_max = tl.maximum(run_max, tl.max(logit, axis=1))
        # a row with no finite logit so far keeps -inf: shift by 0 there (never -inf - -inf)
        shift = tl.where(tl.abs(new_max) < float("inf"), new_max, 0.0)
        alpha = tl.exp(run_max - shift)
        e = tl.exp(logit - shift[:, None])
        run_sum = run_sum * alpha + tl.sum(e, axis=1)
        run_a = run_a * alpha + tl.sum(e * qa, axis=1)
        run_b = run_b * alpha + tl.sum(e * qb, axis=1)
        run_max = new_max
        j0 += BLOCK_N
    lse = tl.log(run_sum) + tl.where(tl.abs(run_max) < float("inf"), run_max, 0.0)
    ea = run_a / run_sum
    eb = run_b / run_sum
    dy = p - y
    mse = (dy * dy) * (0.5 * inv_v)
    if KIND == 1:
        ell = mse + 0.5 * tl.log(v) + lse
        gp = dy * inv_v - ea
        gv = -mse * inv_v + 0.5 * inv_v + eb
    else:
        ell = mse + lse
        gp = (ea - y) * inv_v
        gv = (-mse + (0.5 * inv_v) * eb) * inv_v
    tl.store(stats_ptr + rows, ell, mask=row_in)
    tl.store(stats_ptr + n + rows, gv, mask=row_in)
    tl.store(stats_ptr + 2 * n + rows, lse, mask=row_in)
    tl.store(stats_ptr + 3 * n + rows, gp, mask=row_in)


@triton.jit(do_not_specialize=["is_sigma", "per_row", "count"])
def _bmse_reduce_kernel(
    stats_ptr, v_ptr, out_ptr, dvtot_ptr,
    n, is_sigma, per_row, count,
    BLOCK: tl.constexpr,
):
    acc_ty = stats_ptr.dtype.element_ty
    v = tl.load(v_ptr).to(acc_ty)
    if is_sigma != 0:
        v = v * v
    scale = 2.0 * v
    offs = tl.arange(0, BLOCK).to(tl.int64)
    if per_row != 0:
        i0 = n * 0
        while i0 < n:
            idx = i0 + offs
            m = idx < n
            ell = tl.load(stats_ptr + idx, mask=m, other=0.0)
            tl.store(out_ptr + idx, (ell * scale).to(out_ptr.dtype.element_ty), mask=m)
            i0 += BLOCK
        tl.store(dvtot_ptr, scale * 0.0)
    else:
        acc_l = tl.zeros([BLOCK], dtype=acc_ty)
        acc_v = tl.zeros([BLOCK], dtype=acc_ty)
        i0 = n * 0
        while i0 < n:
            idx = i0 + offs
            m = idx < n
            acc_l += tl.load(stats_ptr + idx, mask=m, other=0.0)
            acc_v += tl.load(stats_ptr + n + idx, mask=m, other=0.0)
            i0 += BLOCK
        norm = scale / count
        tl.store(out_ptr, (tl.sum(acc_l, axis=0) * norm).to(out_ptr.dtype.element_ty))
        tl.store(dvtot_ptr, tl.sum(acc_v, axis=0) * norm)


@triton.jit(do_not_specialize=_RUNTIME_FLAGS)
def _bmse_bwd_kernel(
    p_ptr, y_ptr, v_ptr, stats_ptr, dvtot_ptr, gout_ptr, gp_ptr, gt_ptr, gv_ptr,
    n, is_sigma, per_row, count, need_pred, need_target, need_v, bmc,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    pid = tl.program_id(0).to(tl.int64)
    acc_ty = stats_ptr.dtype.element_ty
    v0 = tl.load(v_ptr).to(acc_ty)
    v = v0
    if is_sigma != 0:
        v = v0 * v0
    inv_v = 1.0 / v
    norm = 2.0 * v / count  # g_i = grad_out(_i)·2v (/B for the mean)
    idx = pid * BLOCK_M + tl.arange(0, BLOCK_M).to(tl.int64)
    m = idx < n
    if per_row != 0:
        g = tl.load(gout_ptr + idx, mask=m, other=0.0).to(acc_ty) * norm
    else:
        g = tl.zeros([BLOCK_M], dtype=acc_ty) + tl.load(gout_ptr).to(acc_ty) * norm
    if need_pred != 0:
        gp = tl.load(stats_ptr + 3 * n + idx, mask=m, other=0.0)
        tl.store(gp_ptr + idx, (g * gp).to(gp_ptr.dtype.element_ty), mask=m)
    if need_target != 0:
        pj = tl.load(p_ptr + idx, mask=m, other=0.0).to(acc_ty)
        yj = tl.load(y_ptr + idx, mask=m, other=0.0).to(acc_ty)
        own = g * (pj - yj)
        if bmc != 0:
            # column pass: Σ_i g_i P_ij (p_i − y_j), P_ij = exp(A_ij − LSE_i) recomputed
            col = tl.zeros([BLOCK_M], dtype=acc_ty)
            li = tl.arange(0, BLOCK_N).to(tl.int64)
            i0 = n * 0
            while i0 < n:
                ri = i0 + li
                ri_in = ri < n
                pi = tl.load(p_ptr + ri, mask=ri_in, other=0.0).to(acc_ty)
                lse = tl.load(stats_ptr + 2 * n + ri, mask=ri_in, other=float("inf"))
                if per_row != 0:
                    gi = tl.load(gout_ptr + ri, mask=ri_in, other=0.0).to(acc_ty) * norm
                else:
                    gi = tl.zeros([BLOCK_N], dtype=acc_ty) + tl.load(gout_ptr).to(acc_ty) * norm
                diff = pi[:, None] - yj[None, :]
                logit = (diff * diff) * (-0.5 * inv_v)
                w = tl.exp(logit - lse[:, None]) * gi[:, None]
                w = tl.where(ri_in[:, None], w, 0.0)
                col += tl.sum(w * diff, axis=0)
                i0 += BLOCK_N
            gt = (col - own) * inv_v
        else:
            gt = -own * inv_v
        tl.store(gt_ptr + idx, gt.to(gt_ptr.dtype.element_ty), mask=m)
    if need_v != 0:
        if pid == 0:
            if per_row != 0:
                acc = tl.zeros([BLOCK_M], dtype=acc_ty)
                i0 = n * 0
                while i0 < n:
                    ri = i0 + tl.arange(0, BLOCK_M).to(tl.int64)
                    ri_in = ri < n
                    acc += (tl.load(gout_ptr + ri, mask=ri_in, other=0.0).to(acc_ty)
                            * tl.load(stats_ptr + n + ri, mask=ri_in, other=0.0))
                    i0 += BLOCK_M
                tot = tl.sum(acc, axis=0) * (2.0 * v)
            else:
                tot = tl.load(gout_ptr).to(acc_ty) * tl.load(dvtot_ptr)
            if is_sigma != 0:
                tot = tot * (2.0 * v0)
            tl.store(gv_ptr, tot)


# ------------------------------------------------------------------------------------------------
# registry

#: (prediction dtype, accumulation dtype) pairs a launcher can use: fp32 accumulation for
#: fp16/bf16/fp32, fp64 for fp64, and fp64 for any prediction under the official GAI/BNI
PAIRS_NATURAL = (("float16", "float32"), ("bfloat16", "float32"), ("float32", "float32"),
                 ("float64", "float64"))
PAIRS_OFFICIAL = (("float16", "float64"), ("bfloat16", "float64"), ("float32", "float64"))


def _fwd_config(pdt: str, adt: str, kind: int) -> KernelConfig:
    bm, bn, nw = (FWD_TILES_64 if adt == "float64" else FWD_TILES)[kind]
    pt, at = TRITON_DTYPE[pdt], TRITON_DTYPE[adt]
    sig = {"p_ptr": f"*{pt}", "y_ptr": f"*{pt}", "c_ptr": f"*{at}", "cv_ptr": f"*{at}",
           "w_ptr": f"*{at}", "v_ptr": f"*{at}", "stats_ptr": f"*{at}", "n": "i64", "k": "i64",
           "is_sigma": "i32", "KIND": "constexpr", "BLOCK_M": "constexpr", "BLOCK_N": "constexpr"}
    return KernelConfig(key=(pdt, adt, kind), signature=sig,
                        constexprs={"KIND": kind, "BLOCK_M": bm, "BLOCK_N": bn},
                        num_warps=nw, num_stages=1)


def _reduce_config(adt: str, odt: str) -> KernelConfig:
    at, ot = TRITON_DTYPE[adt], TRITON_DTYPE[odt]
    sig = {"stats_ptr": f"*{at}", "v_ptr": f"*{at}", "out_ptr": f"*{ot}", "dvtot_ptr": f"*{at}",
           "n": "i64", "is_sigma": "i32", "per_row": "i32", "count": "i64", "BLOCK": "constexpr"}
    return KernelConfig(key=(adt, odt), signature=sig, constexprs={"BLOCK": REDUCE_BLOCK},
                        num_warps=4, num_stages=1)


def _bwd_config(pdt: str, adt: str) -> KernelConfig:
    bm, bn, nw = BWD_TILES_64 if adt == "float64" else BWD_TILES
    pt, at = TRITON_DTYPE[pdt], TRITON_DTYPE[adt]
    sig = {"p_ptr": f"*{pt}", "y_ptr": f"*{pt}", "v_ptr": f"*{at}", "stats_ptr": f"*{at}",
           "dvtot_ptr": f"*{at}", "gout_ptr": f"*{TRITON_DTYPE[_out(pdt, adt)]}",
           "gp_ptr": f"*{pt}", "gt_ptr": f"*{pt}", "gv_ptr": f"*{at}", "n": "i64"}
    for f in _RUNTIME_FLAGS:
        sig[f] = "i64" if f == "count" else "i32"
    sig.update({"BLOCK_M": "constexpr", "BLOCK_N": "constexpr"})
    return KernelConfig(key=(pdt, adt), signature=sig, constexprs={"BLOCK_M": bm, "BLOCK_N": bn},
                        num_warps=nw, num_stages=1)


def _out(pdt: str, adt: str) -> str:
    """The loss dtype (and so ``grad_out``'s): the prediction's, fp64 under the official GAI/BNI."""
    return "float64" if adt == "float64" else pdt


register(_bmse_fwd_kernel, [_fwd_config(p, a, 0) for p, a in PAIRS_NATURAL]
         + [_fwd_config(p, a, kd) for p, a in PAIRS_NATURAL + PAIRS_OFFICIAL for kd in (1, 2)])
register(_bmse_reduce_kernel, [_reduce_config(a, _out(p, a)) for p, a in PAIRS_NATURAL])
register(_bmse_bwd_kernel, [_bwd_config(p, a) for p, a in PAIRS_NATURAL + PAIRS_OFFICIAL])

#: prediction dtypes the kernels take
DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _name(dt: torch.dtype) -> str:
    return str(dt).split(".")[-1]


def bmse_fwd(p, y, v, c, cv, w, *, kind: str, reduction: str, is_sigma: bool,
             out_dtype: torch.dtype):
    """``(loss, stats [4, B], dvtot)``.

    Args:
        p, y: ``[B]`` predictions / targets (same dtype, unit stride).
        v: 0-d, the accumulation dtype: the variance, or ``σ`` when ``is_sigma``.
        c, cv, w: ``[K]`` contiguous in the accumulation dtype (centres, GAI variances, weights),
            ``None`` where the kind has none (BMC: all three).
        out_dtype: the loss dtype (``p``'s, or fp64 for the official GAI/BNI).
    """
    n = p.shape[0]
    acc = v.dtype
    dev = p.device
    stats = torch.empty((4, n), dtype=acc, device=dev)
    dvtot = torch.empty((), dtype=acc, device=dev)
    out = torch.empty((n,) if reduction == "none" else (), dtype=out_dtype, device=dev)
    if n == 0:
        return out.zero_(), stats, dvtot.zero_()
    code = KIND_CODES[kind]
    pdt, adt = _name(p.dtype), _name(acc)
    cfg = pick(_bmse_fwd_kernel, (pdt, adt, code))
    k = n if kind == "bmc" else c.shape[0]
    dummy = stats
    grid = (cdiv(n, cfg.constexprs["BLOCK_M"]),)
    with device_guard(p):
        _bmse_fwd_kernel[grid](p, y, dummy if c is None else c, dummy if cv is None else cv,
                               dummy if w is None else w, v, stats, n, k, int(is_sigma),
                               num_warps=cfg.num_warps, num_stages=cfg.num_stages, **cfg.constexprs)
        rcfg = pick(_bmse_reduce_kernel, (adt, _name(out_dtype)))
        _bmse_reduce_kernel[(1,)](stats, v, out, dvtot, n, int(is_sigma),
                                  int(reduction == "none"), n if reduction == "mean" else 1,
                                  num_warps=rcfg.num_warps, num_stages=rcfg.num_stages,
                                  **rcfg.constexprs)
    return out, stats, dvtot


def bmse_bwd(grad_out, p, y, v, stats, dvtot, *, kind: str, reduction: str, is_sigma: bool,
             need_pred: bool, need_target: bool, need_v: bool, pred_dtype, target_dtype, v_dtype):
    """``(dL/dp [B], dL/dy [B], dL/dnoise 0-d)``, one launch; an un-needed gradient is an empty
    tensor. ``grad_out``: 0-d, or ``[B]`` for ``reduction="none"`` (the loss dtype)."""
    n = p.shape[0]
    acc = v.dtype
    dev = p.device
    gp = torch.empty((n,) if need_pred else (0,), dtype=pred_dtype, device=dev)
    gt = torch.empty((n,) if need_target else (0,), dtype=target_dtype, device=dev)
    gv = torch.empty(() if need_v else (0,), dtype=acc, device=dev)
    if n == 0:
        return gp, gt, (gv.zero_().to(v_dtype) if need_v else gv.to(v_dtype))
    cfg = pick(_bmse_bwd_kernel, (_name(p.dtype), _name(acc)))
    grid = (cdiv(n, cfg.constexprs["BLOCK_M"]),)
    with device_guard(p):
        _bmse_bwd_kernel[grid](p, y, v, stats, dvtot, grad_out, gp if need_pred else p,
                               gt if need_target else p, gv if need_v else stats, n, int(is_sigma),
                               int(reduction == "none"), n if reduction == "mean" else 1,
                               int(need_pred), int(need_target), int(need_v), int(kind == "bmc"),
                               num_warps=cfg.num_warps, num_stages=cfg.num_stages, **cfg.constexprs)
    return gp, gt, (gv if gv.dtype == v_dtype else gv.to(v_dtype))
