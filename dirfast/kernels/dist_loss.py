r"""Triton kernels of Dist Loss (docs/distloss_softsort.md §4.3): one fused pass after ``torch.sort``,
plus a pooling stage that is always launched and exits on a device flag.

``_dist_loss_fwd_kernel`` — over sorted positions ``i`` (``BLOCK`` per program, int64 offsets), with
``k = perm_i`` and the soft sort assumed to be the hard sort (``ŝ = x``)::

    dist partial  = λs·Σ_i w'_i ℓ(x_i − q_i)       samp partial = s·Σ_i w_k ℓ(x_i − y_k)
    grad[k]       = λs·w'_i ℓ'(x_i − q_i) + s·w_k ℓ'(x_i − y_k)          (x_i = p_k)
    flag          = max over i of [x_{i+1} − x_i ≥ (1/eps)(1 − 1e-6)]    (int32 atomic_max)

``w'`` by ``WEIGHTING``: 0 none (1), 1 by rank (``w_k``), 2 official (``w_i``, positional). The
gradient is *scattered* through ``perm`` (a permutation: every element written once, no atomics);
partials (already scaled by ``λs`` and ``s``) go to ``[programs, 2]``, every entry written, and the
loss is one ``torch.sum`` of them in a fixed order (deterministic; one launch).
Reads per element: ``x``, ``perm`` (int64), ``q``, gathered ``y`` (and ``w`` once or twice); writes the
gradient: ``4·s + 8 (+ s or 2s)`` bytes in the compute dtype's size ``s``, against the op's minimum
of reading ``p, y, q (, w)`` and writing the gradient (``4s (+ s)``); ``torch.sort`` (not counted)
dominates anyway.

Pooling stage (only when the flag is set; otherwise every load and store is masked off, so the
launches cost their launch latency only): the CUDA PAV (its first kernel writes ``ŝ = x``,
``block_start = i`` and the flag); ``_dist_loss_pooled_dist_kernel`` recomputes the distance partials
(``λs·Σ``) and
``g_ŝ_i = λs·w'_i ℓ'(ŝ_i − q_i)`` from the PAV output; the block mean of ``g_ŝ`` is
taken by the CUDA (or host) PAV block mean; ``_dist_loss_pooled_grad_kernel`` rewrites
``grad[k] = mean_B(g_ŝ)_i + s·w_k ℓ'(x_i − y_k)`` and, on the ``dirfast._C_cuda`` route (where it is
always launched), its program 0 also sums the partials into the loss (``REDUCE``; fixed order):
forward = this kernel, the PAV, the two pooling kernels and the block mean — 5 launches + ``torch.sort``
for ``N ≤ 16384`` (one CUDA block per row in the PAV and block mean).

Compiled for fp32 and fp64 only (fp16/bf16 inputs are upcast to fp32 by the launcher); arithmetic in
that dtype. Scalars (:class:`Scalars`: ``λs, s, thresh, β, γ, 1/β``, ``s`` = 1/N or 1, β also the
focal slope) go by value, never through device memory: Python floats for fp32 kernels, int64 bit
patterns of the doubles (:func:`dirfast.kernels._launch.fp64_bits`) for fp64 kernels, rebuilt in the
kernel (Triton's JIT types every Python float as fp32). Every launch is 1-D (``cdiv(N, BLOCK)``
programs on grid axis 0, limit 2³¹ − 1) and runs on the tensors' device (``device_guard``).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import triton
import triton.language as tl

from ._launch import device_guard, fp64_bits
from ._registry import TRITON_DTYPE, KernelConfig, pick, register
from .weighted_loss import tanh_sech2

DTYPES = ("float32", "float64")
#: 4 elements per thread (fp32 at 1024 made ptxas spill a register in a few configs)
BLOCK = {"float32": 512, "float64": 512}

NUM_WARPS = 4
LOSSES = (0, 1, 2, 3)  # l2, l1, huber, focal_l1
MARGIN = 1e-6
#: scalar arguments (by value); the JIT must not specialise the fp64 bit patterns on their value
SCALARS = ("lam_s", "scale", "thresh", "beta", "gamma", "inv_beta")


@triton.jit
def _arg(v, like_ptr):
    """A by-value scalar in ``like_ptr``'s element type: fp32 as given, fp64 from its int64 bits."""
    if like_ptr.dtype.element_ty == tl.float64:
        v = tl.cast(tl.cast(v, tl.int64), tl.float64, bitcast=True)
    return v


@triton.jit
def _loss_grad(d, beta, inv_beta, gamma, LOSS: tl.constexpr):
    """``(ℓ(d), ℓ'(d))`` elementwise; LOSS 0 l2, 1 l1, 2 huber, 3 focal_l1 (sigmoid modulator, slope β,
    evaluated as ``tanh(β|d|/2)``: :func:`dirfast.kernels.weighted_loss.tanh_sech2`)."""
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
        # m = 2σ(β·a) − 1 = tanh(c·a), c = β/2, without the cancellation; dm/da = c·sech²(c·a)
        c = 0.5 * beta
        m, s2 = tanh_sech2(c * a)
        dm = c * s2
        pos = m > 0
        m_safe = tl.where(pos, m, 1.0)
        # m^γ = 2^(γ·log2 m) is off by ~|γ·log2 m| ulp (1e-14 at m = 1e-27): γ = 1 (the default)
        # and γ = 2 are exact selects
        pw = tl.exp2(gamma * tl.log2(m_safe))
        pw = tl.where(gamma == 1.0, m_safe, tl.where(gamma == 2.0, m_safe * m_safe, pw))
        mg = tl.where(pos, pw, tl.where(gamma == 0, 1.0, 0.0))
        dmg = tl.where(pos, gamma * (mg / m_safe) * dm * sg, 0.0)
        l = a * mg
        dl = sg * mg + a * dmg
    return l, dl


@triton.jit(do_not_specialize=SCALARS)
def _dist_loss_fwd_kernel(
    x_ptr,        # [n] sorted predictions
    perm_ptr,     # [n] int64, x_i = p[perm_i]
    y_ptr,        # [n] targets (batch order)
    q_ptr,        # [n] pseudo-labels (sorted)
    w_ptr,        # [n] weights (batch order) or a dummy when not HAS_W
    partial_ptr,  # [programs, 2] (dist, samp) raw sums
    grad_ptr,     # [n] dL/dp (batch order)
    flag_ptr,     # [1] int32
    n,
    lam_s, scale, thresh, beta, gamma, inv_beta,  # by value (Scalars)
    LOSS: tl.constexpr,
    WEIGHTING: tl.constexpr,
    HAS_W: tl.constexpr,
    BLOCK: tl.constexpr,
):
    lam_s = _arg(lam_s, x_ptr)
    scale = _arg(scale, x_ptr)
    thresh = _arg(thresh, x_ptr)
    beta = _arg(beta, x_ptr)
    gamma = _arg(gamma, x_ptr)
    inv_beta = _arg(inv_beta, x_ptr)
    pid = tl.program_id(0).to(tl.int64)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n

    x = tl.load(x_ptr + offs, mask=mask, other=0)
    idx = tl.load(perm_ptr + offs, mask=mask, other=0)
    q = tl.load(q_ptr + offs, mask=mask, other=0)
    y = tl.load(y_ptr + idx, mask=mask, other=0)
    ld, dld = _loss_grad(x - q, beta, inv_beta, gamma, LOSS)
    ls, dls = _loss_grad(x - y, beta, inv_beta, gamma, LOSS)
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
    # partials pre-scaled (λs·Σ, s·Σ): the loss is one torch.sum of them
    tl.store(partial_ptr + 2 * pid, lam_s * tl.sum(tl.where(mask, ld, 0.0), axis=0))
    tl.store(partial_ptr + 2 * pid + 1, scale * tl.sum(tl.where(mask, ls, 0.0), axis=0))
    tl.store(grad_ptr + idx, lam_s * dld + scale * dls, mask=mask)
    has_next = offs < n - 1
    xn = tl.load(x_ptr + offs + 1, mask=has_next, other=0)
    hit = has_next & (xn - x >= thresh)
    tl.atomic_max(flag_ptr, tl.max(hit.to(tl.int32), axis=0))


@triton.jit(do_not_specialize=["lam_s", "beta", "gamma", "inv_beta"])
def _dist_loss_pooled_dist_kernel(
    shat_ptr, perm_ptr, q_ptr, w_ptr, partial_ptr, gs_ptr, flag_ptr, n,
    lam_s, beta, gamma, inv_beta,  # by value
    LOSS: tl.constexpr, WEIGHTING: tl.constexpr, HAS_W: tl.constexpr, BLOCK: tl.constexpr,
):
    """Flag set: distance partials and ``g_ŝ`` from the PAV output ``ŝ``; else nothing."""
    lam_s = _arg(lam_s, shat_ptr)
    beta = _arg(beta, shat_ptr)
    gamma = _arg(gamma, shat_ptr)
    inv_beta = _arg(inv_beta, shat_ptr)
    pid = tl.program_id(0).to(tl.int64)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    active = tl.load(flag_ptr) != 0
    mask = (offs < n) & active
    s = tl.load(shat_ptr + offs, mask=mask, other=0)
    q = tl.load(q_ptr + offs, mask=mask, other=0)
    ld, dld = _loss_grad(s - q, beta, inv_beta, gamma, LOSS)
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
    tl.store(gs_ptr + offs, lam_s * dld, mask=mask)
    tl.store(partial_ptr + 2 * pid, tl.sum(tl.where(mask, ld, 0.0), axis=0) * lam_s, mask=active)


@triton.jit(do_not_specialize=["scale", "beta", "gamma", "inv_beta"])
def _dist_loss_pooled_grad_kernel(
    x_ptr, perm_ptr, y_ptr, w_ptr, gx_ptr, grad_ptr, flag_ptr, partial_ptr, loss_ptr, n,
    num_partials,  # entries of partial_ptr ([programs, 2] flattened)
    scale, beta, gamma, inv_beta,  # by value
    LOSS: tl.constexpr, HAS_W: tl.constexpr, REDUCE: tl.constexpr, BLOCK: tl.constexpr,
):
    """Flag set: ``grad[perm_i] = gx_i + s·w_k ℓ'(x_i − y_k)``; else nothing. ``REDUCE``: program 0
    also writes ``loss = Σ partials`` (whatever the flag: the partials are final by now), summed in
    a fixed order — ``BLOCK``-wide lanes over the flattened partials in index order, then one
    ``tl.sum`` — so the loss needs no separate reduction launch; deterministic."""
    if REDUCE:
        if tl.program_id(0) == 0:
            lanes = tl.arange(0, BLOCK)
            acc = tl.zeros([BLOCK], dtype=partial_ptr.dtype.element_ty)
            start = 0
            # a while loop: the interpreter (numpy >= 2.4) cannot iterate range() over a runtime
            # scalar
            while start < num_partials:
                acc += tl.load(partial_ptr + start + lanes, mask=start + lanes < num_partials,
                               other=0)
                start += BLOCK
            tl.store(loss_ptr, tl.sum(acc, axis=0))
    scale = _arg(scale, x_ptr)
    beta = _arg(beta, x_ptr)
    gamma = _arg(gamma, x_ptr)
    inv_beta = _arg(inv_beta, x_ptr)
    pid = tl.program_id(0).to(tl.int64)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    mask = (offs < n) & (tl.load(flag_ptr) != 0)
    x = tl.load(x_ptr + offs, mask=mask, other=0)
    idx = tl.load(perm_ptr + offs, mask=mask, other=0)
    y = tl.load(y_ptr + idx, mask=mask, other=0)
    gx = tl.load(gx_ptr + offs, mask=mask, other=0)
    _, dls = _loss_grad(x - y, beta, inv_beta, gamma, LOSS)
    if HAS_W:
        dls = dls * tl.load(w_ptr + idx, mask=mask, other=0)
    tl.store(grad_ptr + idx, gx + scale * dls, mask=mask)


# ------------------------------------------------------------------------------------------------
# registry: pointers in the compute dtype unless named; scalars fp32, or i64 bit patterns for fp64


def _sig(dtype, args, i64_ptrs=("perm_ptr",), i32_ptrs=("flag_ptr",), consts=()):
    t = TRITON_DTYPE[dtype]
    sig = {}
    for a in args:
        if a in i64_ptrs:
            sig[a] = "*i64"
        elif a in i32_ptrs:
            sig[a] = "*i32"
        elif a.endswith("_ptr"):
            sig[a] = f"*{t}"
        elif a == "n":
            sig[a] = "i64"
        else:  # a by-value scalar
            sig[a] = "i64" if dtype == "float64" else "fp32"
    sig.update({c: "constexpr" for c in consts})
    return sig


def _weight_modes():
    # (HAS_W, WEIGHTING): without weights the weighting is irrelevant (code 0)
    return [(False, 0), (True, 0), (True, 1), (True, 2)]


def _fwd_config(dtype, loss, has_w, weighting):
    sig = _sig(dtype, ["x_ptr", "perm_ptr", "y_ptr", "q_ptr", "w_ptr", "partial_ptr", "grad_ptr",
                       "flag_ptr", "n", *SCALARS], consts=("LOSS", "WEIGHTING", "HAS_W", "BLOCK"))
    return KernelConfig(key=(dtype, loss, has_w, weighting), signature=sig,
                        constexprs={"LOSS": loss, "WEIGHTING": weighting, "HAS_W": has_w,
                                    "BLOCK": BLOCK[dtype]}, num_warps=NUM_WARPS)


def _pooled_dist_config(dtype, loss, has_w, weighting):
    sig = _sig(dtype, ["shat_ptr", "perm_ptr", "q_ptr", "w_ptr", "partial_ptr", "gs_ptr", "flag_ptr",
                       "n", "lam_s", "beta", "gamma", "inv_beta"],
               consts=("LOSS", "WEIGHTING", "HAS_W", "BLOCK"))
    return KernelConfig(key=(dtype, loss, has_w, weighting), signature=sig,
                        constexprs={"LOSS": loss, "WEIGHTING": weighting, "HAS_W": has_w,
                                    "BLOCK": BLOCK[dtype]}, num_warps=NUM_WARPS)


def _pooled_grad_config(dtype, loss, has_w, reduce):
    sig = _sig(dtype, ["x_ptr", "perm_ptr", "y_ptr", "w_ptr", "gx_ptr", "grad_ptr", "flag_ptr",
                       "partial_ptr", "loss_ptr", "n", "scale", "beta", "gamma", "inv_beta"],
               consts=("LOSS", "HAS_W", "REDUCE", "BLOCK"))
    sig["num_partials"] = "i64"
    return KernelConfig(key=(dtype, loss, has_w, reduce), signature=sig,
                        constexprs={"LOSS": loss, "HAS_W": has_w, "REDUCE": reduce,
                                    "BLOCK": BLOCK[dtype]},
                        num_warps=NUM_WARPS)


register(_dist_loss_fwd_kernel, [_fwd_config(d, l, hw, wc) for d in DTYPES for l in LOSSES
                                 for hw, wc in _weight_modes()])
register(_dist_loss_pooled_dist_kernel, [_pooled_dist_config(d, l, hw, wc) for d in DTYPES
                                         for l in LOSSES for hw, wc in _weight_modes()])
register(_dist_loss_pooled_grad_kernel, [_pooled_grad_config(d, l, hw, red) for d in DTYPES
                                         for l in LOSSES for hw in (False, True)
                                         for red in (False, True)])


# ------------------------------------------------------------------------------------------------
# launchers


def _dt(t: torch.Tensor) -> str:
    return str(t.dtype).split(".")[-1]


class Scalars(NamedTuple):
    """The kernels' scalars, already in their by-value form (see :func:`scalars`)."""

    lam_s: object
    scale: object
    thresh: object
    beta: object
    gamma: object
    inv_beta: object


def _by_value(v: float, dtype: torch.dtype):
    if dtype != torch.float64:
        return float(v)
    # 0.0's bit pattern is the int 0, which the JIT types i32 (a second compilation that the AOT tier
    # never sees); -0.0 (bits -2^63, typed i64) equals it in every comparison and product here
    return fp64_bits(v if v != 0.0 else -0.0)


def scalars(dtype: torch.dtype, n: int, reduction: str, lam: float, eps: float, beta: float,
            gamma: float) -> Scalars:
    """``λs, s, thresh = (1/eps)(1 − 1e-6), β, γ, 1/β`` (``s`` = 1/N or 1) by value for kernels of
    ``dtype`` (fp32: Python floats; fp64: int64 bit patterns). Host arithmetic only: no tensor, no
    host-to-device copy, nothing to cache."""
    s = 1.0 / n if reduction == "mean" else 1.0
    vals = (lam * s, s, (1.0 / eps) * (1.0 - MARGIN), beta, gamma, 1.0 / beta)
    return Scalars(*(_by_value(v, dtype) for v in vals))


def grid(n: int, dtype: str) -> tuple:
    """1-D grid of ``cdiv(n, BLOCK)`` programs (at least one) on axis 0 (limit 2³¹ − 1)."""
    return (max(-(-n // BLOCK[dtype]), 1),)  # integer ceil (triton.cdiv is a JIT function: µs)


def dist_loss_fwd(x, perm, y, q, w, sc: Scalars, *, loss: int, weighting: int, flag=None):
    """Launch the fused kernel on ``x``'s device.

    Args:
        x: ``[N]`` sorted predictions, fp32/fp64, contiguous; perm ``[N]`` int64.
        y, q: ``[N]`` in ``x``'s dtype (batch order / sorted); w: ``None`` or ``[N]`` in that dtype.
        sc: :func:`scalars` for ``x``'s dtype.
        flag: ``None`` (a zeroed ``[1]`` int32 flag is made), or a ``[1]`` int32 tensor to raise
            (uninitialised is fine when a later stage resets it before reading it, as the CUDA
            PAV does: the op then saves the fill).
    Returns:
        ``(partials [programs, 2], grad [N], flag [1] int32)`` (grad and partials in ``x``'s dtype;
        partials ``(λs·Σ dist, s·Σ samp)`` per program: the loss is ``partials.sum()``).
    """
    n = x.numel()
    d = _dt(x)
    has_w = w is not None
    cfg = pick(_dist_loss_fwd_kernel, (d, loss, has_w, weighting if has_w else 0))
    g = grid(n, d)
    # every entry is written when n > 0 (no fill); n = 0 launches nothing
    partials = (torch.empty if n else torch.zeros)((g[0], 2), dtype=x.dtype, device=x.device)
    grad = torch.empty_like(x)
    if flag is None:
        flag = torch.zeros(1, dtype=torch.int32, device=x.device)
    if n:
        with device_guard(x):
            _dist_loss_fwd_kernel[g](x, perm, y, q, w if has_w else x, partials, grad, flag, n, *sc,
                                     num_warps=cfg.num_warps, **cfg.constexprs)
    return partials, grad, flag


def pooled_dist(s_hat, perm, q, w, sc: Scalars, partials, flag, *, loss: int, weighting: int):
    """When ``*flag != 0``: overwrite ``partials[:, 0]`` (``λs·Σ``) and return ``g_ŝ [N]`` (else
    untouched/unset)."""
    n = s_hat.numel()
    d = _dt(s_hat)
    has_w = w is not None
    cfg = pick(_dist_loss_pooled_dist_kernel, (d, loss, has_w, weighting if has_w else 0))
    gs = torch.empty_like(s_hat)
    if n:
        with device_guard(s_hat):
            _dist_loss_pooled_dist_kernel[grid(n, d)](
                s_hat, perm, q, w if has_w else s_hat, partials, gs, flag, n, sc.lam_s, sc.beta,
                sc.gamma, sc.inv_beta, num_warps=cfg.num_warps, **cfg.constexprs)
    return gs


def pooled_grad(x, perm, y, w, gx, sc: Scalars, grad, flag, *, loss: int, partials=None):
    """When ``*flag != 0``: ``grad[perm_i] = gx_i + s·w_k ℓ'(x_i − y_k)`` in place. ``partials``
    (``[programs, 2]`` of :func:`dist_loss_fwd`, final): also reduce them into the loss in the same
    launch, whatever the flag, and return it (0-d, ``x``'s dtype); else return None."""
    n = x.numel()
    d = _dt(x)
    has_w = w is not None
    reduce = partials is not None
    cfg = pick(_dist_loss_pooled_grad_kernel, (d, loss, has_w, reduce))
    out = torch.empty((), dtype=x.dtype, device=x.device) if reduce else None
    if n:
        with device_guard(x):
            _dist_loss_pooled_grad_kernel[grid(n, d)](
                x, perm, y, w if has_w else x, gx, grad, flag, partials if reduce else x,
                out if reduce else x, n, partials.numel() if reduce else 0, sc.scale, sc.beta,
                sc.gamma, sc.inv_beta, num_warps=cfg.num_warps, **cfg.constexprs)
    return out
