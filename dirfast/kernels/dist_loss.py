r"""Triton kernels of Dist Loss (spec distloss_softsort.md §4.3): one fused pass after ``torch.sort``,
plus a pooling stage that is always launched and exits on a device flag.

``_dist_loss_fwd_kernel`` — over sorted positions ``i`` (``BLOCK`` per program, int64 offsets), with
``k = perm_i`` and the soft sort assumed to be the hard sort (``ŝ = x``)::

    dist partial  = Σ_i w'_i ℓ(x_i − q_i)          samp partial = Σ_i w_k ℓ(x_i − y_k)
    grad[k]       = λs·w'_i ℓ'(x_i − q_i) + s·w_k ℓ'(x_i − y_k)          (x_i = p_k)
    flag          = max over i of [x_{i+1} − x_i ≥ (1/eps)(1 − 1e-6)]    (int32 atomic_max)

``w'`` by ``WEIGHTING``: 0 none (1), 1 by rank (``w_k``), 2 official (``w_i``, positional). The
gradient is *scattered* through ``perm`` (a permutation: every element written once, no atomics);
partials go to ``[programs, 2]`` and are summed by ``torch.sum`` in a fixed order (deterministic).
Reads per element: ``x``, ``perm`` (int64), ``q``, gathered ``y`` (and ``w`` once or twice); writes the
gradient: ``4·s + 8 (+ s or 2s)`` bytes in the compute dtype's size ``s``, against the op's minimum
of reading ``p, y, q (, w)`` and writing the gradient (``4s (+ s)``); ``torch.sort`` (not counted)
dominates anyway.

Pooling stage (only when the flag is set; otherwise every load and store is masked off, so the
launches cost their launch latency only): ``_dist_loss_pool_prep_kernel`` prefills ``ŝ = x`` and
``block_start = i`` for the CUDA PAV; ``_dist_loss_pooled_dist_kernel`` recomputes the distance
partials and ``g_ŝ_i = λs·w'_i ℓ'(ŝ_i − q_i)`` from the PAV output; the block mean of ``g_ŝ`` is
taken by the CUDA (or host) PAV block mean; ``_dist_loss_pooled_grad_kernel`` rewrites
``grad[k] = mean_B(g_ŝ)_i + s·w_k ℓ'(x_i − y_k)``.

Compiled for fp32 and fp64 only (fp16/bf16 inputs are upcast to fp32 by the launcher); arithmetic in
that dtype. ``params`` = ``[λs, s, thresh, β, k, γ, 1/β]`` (``s`` = 1/N or 1; ``k`` = focal slope β).
"""

from __future__ import annotations

import functools

import torch
import triton
import triton.language as tl

from ._registry import TRITON_DTYPE, KernelConfig, pick, register

DTYPES = ("float32", "float64")
BLOCK = {"float32": 1024, "float64": 512}
NUM_WARPS = 4
LOSSES = (0, 1, 2, 3)  # l2, l1, huber, focal_l1
MARGIN = 1e-6


@triton.jit
def _loss_grad(d, beta, inv_beta, k, gamma, LOSS: tl.constexpr):
    """``(ℓ(d), ℓ'(d))`` elementwise; LOSS 0 l2, 1 l1, 2 huber, 3 focal_l1 (sigmoid modulator)."""
    a = tl.abs(d)
    sg = tl.where(d > 0, 1.0, tl.where(d < 0, -1.0, 0.0)).to(d.dtype)
    if LOSS == 0:
        l = d * d
        dl = 2.0 * d
    elif LOSS == 1:
        l = a
        dl = sg
    elif LOSS == 2:
        small = a < beta
        l = tl.where(small, 0.5 * d * d * inv_beta, a - 0.5 * beta)
        dl = tl.where(small, d * inv_beta, sg)
    else:
        s = 1.0 / (1.0 + tl.exp(-k * a))
        m = 2.0 * s - 1.0
        dm = 2.0 * k * s * (1.0 - s)
        pos = m > 0
        m_safe = tl.where(pos, m, 1.0)
        mg = tl.where(pos, tl.exp2(gamma * tl.log2(m_safe)), tl.where(gamma == 0, 1.0, 0.0))
        dmg = tl.where(pos, gamma * (mg / m_safe) * dm * sg, 0.0)
        l = a * mg
        dl = sg * mg + a * dmg
    return l, dl


@triton.jit
def _dist_loss_fwd_kernel(
    x_ptr,        # [n] sorted predictions
    perm_ptr,     # [n] int64, x_i = p[perm_i]
    y_ptr,        # [n] targets (batch order)
    q_ptr,        # [n] pseudo-labels (sorted)
    w_ptr,        # [n] weights (batch order) or a dummy when not HAS_W
    params_ptr,   # [7] [λs, s, thresh, β, k, γ, 1/β]
    partial_ptr,  # [programs, 2] (dist, samp) raw sums
    grad_ptr,     # [n] dL/dp (batch order)
    flag_ptr,     # [1] int32
    n,
    LOSS: tl.constexpr,
    WEIGHTING: tl.constexpr,
    HAS_W: tl.constexpr,
    BLOCK: tl.constexpr,
):
    pid = tl.program_id(0).to(tl.int64)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    lam_s = tl.load(params_ptr)
    scale = tl.load(params_ptr + 1)
    thresh = tl.load(params_ptr + 2)
    beta = tl.load(params_ptr + 3)
    k = tl.load(params_ptr + 4)
    gamma = tl.load(params_ptr + 5)
    inv_beta = tl.load(params_ptr + 6)

    x = tl.load(x_ptr + offs, mask=mask, other=0)
    has_next = offs < n - 1
    xn = tl.load(x_ptr + offs + 1, mask=has_next, other=0)
    hit = has_next & (xn - x >= thresh)
    tl.atomic_max(flag_ptr, tl.max(hit.to(tl.int32), axis=0))

    idx = tl.load(perm_ptr + offs, mask=mask, other=0)
    q = tl.load(q_ptr + offs, mask=mask, other=0)
    y = tl.load(y_ptr + idx, mask=mask, other=0)
    ld, dld = _loss_grad(x - q, beta, inv_beta, k, gamma, LOSS)
    ls, dls = _loss_grad(x - y, beta, inv_beta, k, gamma, LOSS)
    if HAS_W:
        wk = tl.load(w_ptr + idx, mask=mask, other=0)
        ls = ls * wk
        dls = dls * wk
        if WEIGHTING == 1:
            ld = ld * wk
            dld = dld * wk
        elif WEIGHTING == 2:
            wi = tl.load(w_ptr + offs, mask=mask, other=0)
            ld = ld * wi
            dld = dld * wi
    tl.store(partial_ptr + 2 * pid, tl.sum(tl.where(mask, ld, 0.0), axis=0))
    tl.store(partial_ptr + 2 * pid + 1, tl.sum(tl.where(mask, ls, 0.0), axis=0))
    tl.store(grad_ptr + idx, lam_s * dld + scale * dls, mask=mask)


@triton.jit
def _dist_loss_pool_prep_kernel(x_ptr, shat_ptr, bs_ptr, flag_ptr, n, BLOCK: tl.constexpr):
    """Flag set: ``ŝ = x`` and ``block_start = i`` (the CUDA PAV's starting point); else nothing."""
    pid = tl.program_id(0).to(tl.int64)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    mask = (offs < n) & (tl.load(flag_ptr) != 0)
    tl.store(shat_ptr + offs, tl.load(x_ptr + offs, mask=mask, other=0), mask=mask)
    tl.store(bs_ptr + offs, offs, mask=mask)


@triton.jit
def _dist_loss_pooled_dist_kernel(
    shat_ptr, perm_ptr, q_ptr, w_ptr, params_ptr, partial_ptr, gs_ptr, flag_ptr, n,
    LOSS: tl.constexpr, WEIGHTING: tl.constexpr, HAS_W: tl.constexpr, BLOCK: tl.constexpr,
):
    """Flag set: distance partials and ``g_ŝ`` from the PAV output ``ŝ``; else nothing."""
    pid = tl.program_id(0).to(tl.int64)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    active = tl.load(flag_ptr) != 0
    mask = (offs < n) & active
    lam_s = tl.load(params_ptr)
    beta = tl.load(params_ptr + 3)
    k = tl.load(params_ptr + 4)
    gamma = tl.load(params_ptr + 5)
    inv_beta = tl.load(params_ptr + 6)
    s = tl.load(shat_ptr + offs, mask=mask, other=0)
    q = tl.load(q_ptr + offs, mask=mask, other=0)
    ld, dld = _loss_grad(s - q, beta, inv_beta, k, gamma, LOSS)
    if HAS_W:
        if WEIGHTING == 1:
            idx = tl.load(perm_ptr + offs, mask=mask, other=0)
            wd = tl.load(w_ptr + idx, mask=mask, other=0)
            ld = ld * wd
            dld = dld * wd
        elif WEIGHTING == 2:
            wd = tl.load(w_ptr + offs, mask=mask, other=0)
            ld = ld * wd
            dld = dld * wd
    tl.store(partial_ptr + 2 * pid, tl.sum(tl.where(mask, ld, 0.0), axis=0), mask=active)
    tl.store(gs_ptr + offs, lam_s * dld, mask=mask)


@triton.jit
def _dist_loss_pooled_grad_kernel(
    x_ptr, perm_ptr, y_ptr, w_ptr, gx_ptr, params_ptr, grad_ptr, flag_ptr, n,
    LOSS: tl.constexpr, HAS_W: tl.constexpr, BLOCK: tl.constexpr,
):
    """Flag set: ``grad[perm_i] = gx_i + s·w_k ℓ'(x_i − y_k)``; else nothing."""
    pid = tl.program_id(0).to(tl.int64)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    mask = (offs < n) & (tl.load(flag_ptr) != 0)
    scale = tl.load(params_ptr + 1)
    beta = tl.load(params_ptr + 3)
    k = tl.load(params_ptr + 4)
    gamma = tl.load(params_ptr + 5)
    inv_beta = tl.load(params_ptr + 6)
    x = tl.load(x_ptr + offs, mask=mask, other=0)
    idx = tl.load(perm_ptr + offs, mask=mask, other=0)
    y = tl.load(y_ptr + idx, mask=mask, other=0)
    gx = tl.load(gx_ptr + offs, mask=mask, other=0)
    _, dls = _loss_grad(x - y, beta, inv_beta, k, gamma, LOSS)
    if HAS_W:
        dls = dls * tl.load(w_ptr + idx, mask=mask, other=0)
    tl.store(grad_ptr + idx, gx + scale * dls, mask=mask)


# ------------------------------------------------------------------------------------------------
# registry


def _sig(dtype, names_fp, names_i64=(), names_i32=(), ints=("n",)):
    t = TRITON_DTYPE[dtype]
    sig = {}
    for name in names_fp:
        sig[name] = f"*{t}"
    for name in names_i64:
        sig[name] = "*i64"
    for name in names_i32:
        sig[name] = "*i32"
    for name in ints:
        sig[name] = "i64"
    return sig


def _weight_modes():
    # (HAS_W, WEIGHTING): without weights the weighting is irrelevant (code 0)
    return [(False, 0), (True, 0), (True, 1), (True, 2)]


_FWD_ARGS = ["x_ptr", "perm_ptr", "y_ptr", "q_ptr", "w_ptr", "params_ptr", "partial_ptr", "grad_ptr",
             "flag_ptr", "n"]


def _fwd_config(dtype, loss, has_w, weighting):
    sig = _sig(dtype, ["x_ptr", "y_ptr", "q_ptr", "w_ptr", "params_ptr", "partial_ptr", "grad_ptr"],
               ["perm_ptr"], ["flag_ptr"])
    sig = {a: sig[a] for a in _FWD_ARGS}
    sig.update(LOSS="constexpr", WEIGHTING="constexpr", HAS_W="constexpr", BLOCK="constexpr")
    return KernelConfig(key=(dtype, loss, has_w, weighting), signature=sig,
                        constexprs={"LOSS": loss, "WEIGHTING": weighting, "HAS_W": has_w,
                                    "BLOCK": BLOCK[dtype]}, num_warps=NUM_WARPS)


def _prep_config(dtype):
    t = TRITON_DTYPE[dtype]
    return KernelConfig(key=(dtype,),
                        signature={"x_ptr": f"*{t}", "shat_ptr": f"*{t}", "bs_ptr": "*i64",
                                   "flag_ptr": "*i32", "n": "i64", "BLOCK": "constexpr"},
                        constexprs={"BLOCK": BLOCK[dtype]}, num_warps=NUM_WARPS)


def _pooled_dist_config(dtype, loss, has_w, weighting):
    t = TRITON_DTYPE[dtype]
    sig = {"shat_ptr": f"*{t}", "perm_ptr": "*i64", "q_ptr": f"*{t}", "w_ptr": f"*{t}",
           "params_ptr": f"*{t}", "partial_ptr": f"*{t}", "gs_ptr": f"*{t}", "flag_ptr": "*i32",
           "n": "i64", "LOSS": "constexpr", "WEIGHTING": "constexpr", "HAS_W": "constexpr",
           "BLOCK": "constexpr"}
    return KernelConfig(key=(dtype, loss, has_w, weighting), signature=sig,
                        constexprs={"LOSS": loss, "WEIGHTING": weighting, "HAS_W": has_w,
                                    "BLOCK": BLOCK[dtype]}, num_warps=NUM_WARPS)


def _pooled_grad_config(dtype, loss, has_w):
    t = TRITON_DTYPE[dtype]
    sig = {"x_ptr": f"*{t}", "perm_ptr": "*i64", "y_ptr": f"*{t}", "w_ptr": f"*{t}",
           "gx_ptr": f"*{t}", "params_ptr": f"*{t}", "grad_ptr": f"*{t}", "flag_ptr": "*i32",
           "n": "i64", "LOSS": "constexpr", "HAS_W": "constexpr", "BLOCK": "constexpr"}
    return KernelConfig(key=(dtype, loss, has_w), signature=sig,
                        constexprs={"LOSS": loss, "HAS_W": has_w, "BLOCK": BLOCK[dtype]},
                        num_warps=NUM_WARPS)


register(_dist_loss_fwd_kernel, [_fwd_config(d, l, hw, wc) for d in DTYPES for l in LOSSES
                                 for hw, wc in _weight_modes()])
register(_dist_loss_pool_prep_kernel, [_prep_config(d) for d in DTYPES])
register(_dist_loss_pooled_dist_kernel, [_pooled_dist_config(d, l, hw, wc) for d in DTYPES
                                         for l in LOSSES for hw, wc in _weight_modes()])
register(_dist_loss_pooled_grad_kernel, [_pooled_grad_config(d, l, hw) for d in DTYPES
                                         for l in LOSSES for hw in (False, True)])


# ------------------------------------------------------------------------------------------------
# launchers


def _dt(t: torch.Tensor) -> str:
    return str(t.dtype).split(".")[-1]


@functools.lru_cache(maxsize=64)
def _params_cached(device, dtype, values):
    return torch.tensor(values, dtype=dtype, device=device)


def params(device, dtype, n: int, reduction: str, lam: float, eps: float, loss: str, beta: float,
           gamma: float) -> torch.Tensor:
    """``[7]`` compute-dtype tensor ``[λs, s, thresh, β, k, γ, 1/β]`` on ``device`` (cached: no
    host-to-device copy per step for a repeated configuration)."""
    s = 1.0 / n if reduction == "mean" else 1.0
    thresh = (1.0 / eps) * (1.0 - MARGIN)
    return _params_cached(device, dtype, (lam * s, s, thresh, beta, beta, gamma, 1.0 / beta))


def _grid(n, dtype):
    return (max(triton.cdiv(n, BLOCK[dtype]), 1),)


def dist_loss_fwd(x, perm, y, q, w, params, *, loss: int, weighting: int):
    """Launch the fused kernel.

    Args:
        x: ``[N]`` sorted predictions, fp32/fp64, contiguous; perm ``[N]`` int64.
        y, q: ``[N]`` in ``x``'s dtype (batch order / sorted); w: ``None`` or ``[N]`` in that dtype.
        params: from :func:`params`.
    Returns:
        ``(partials [programs, 2], grad [N], flag [1] int32)`` (grad and partials in ``x``'s dtype).
    """
    n = x.numel()
    d = _dt(x)
    has_w = w is not None
    cfg = pick(_dist_loss_fwd_kernel, (d, loss, has_w, weighting if has_w else 0))
    grid = _grid(n, d)
    partials = torch.zeros((grid[0], 2), dtype=x.dtype, device=x.device)
    grad = torch.empty_like(x)
    flag = torch.zeros(1, dtype=torch.int32, device=x.device)
    if n:
        _dist_loss_fwd_kernel[grid](x, perm, y, q, w if has_w else x, params, partials, grad, flag, n,
                                    num_warps=cfg.num_warps, **cfg.constexprs)
    return partials, grad, flag


def pool_prep(x, flag):
    """``(ŝ [N], block_start [N] int64)``: prefilled with ``x`` and ``i`` when ``*flag != 0``
    (uninitialised otherwise: nothing reads them then)."""
    n = x.numel()
    d = _dt(x)
    cfg = pick(_dist_loss_pool_prep_kernel, (d,))
    s_hat = torch.empty_like(x)
    bs = torch.empty(n, dtype=torch.int64, device=x.device)
    if n:
        _dist_loss_pool_prep_kernel[_grid(n, d)](x, s_hat, bs, flag, n, num_warps=cfg.num_warps,
                                                 **cfg.constexprs)
    return s_hat, bs


def pooled_dist(s_hat, perm, q, w, params, partials, flag, *, loss: int, weighting: int):
    """When ``*flag != 0``: overwrite ``partials[:, 0]`` and return ``g_ŝ [N]`` (else untouched/unset)."""
    n = s_hat.numel()
    d = _dt(s_hat)
    has_w = w is not None
    cfg = pick(_dist_loss_pooled_dist_kernel, (d, loss, has_w, weighting if has_w else 0))
    gs = torch.empty_like(s_hat)
    if n:
        _dist_loss_pooled_dist_kernel[_grid(n, d)](s_hat, perm, q, w if has_w else s_hat, params,
                                                   partials, gs, flag, n, num_warps=cfg.num_warps,
                                                   **cfg.constexprs)
    return gs


def pooled_grad(x, perm, y, w, gx, params, grad, flag, *, loss: int):
    """When ``*flag != 0``: ``grad[perm_i] = gx_i + s·w_k ℓ'(x_i − y_k)`` in place."""
    n = x.numel()
    d = _dt(x)
    has_w = w is not None
    cfg = pick(_dist_loss_pooled_grad_kernel, (d, loss, has_w))
    if n:
        _dist_loss_pooled_grad_kernel[_grid(n, d)](x, perm, y, w if has_w else x, gx, params, grad,
                                                   flag, n, num_warps=cfg.num_warps,
                                                   **cfg.constexprs)
