"""``dirfast::balanced_mse``: BMC / GAI / BNI as one registered op (docs/conr_ranksim_bmse.md §3).

Every kind is a per-row log-sum-exp over Gaussian components (see :mod:`dirfast.reference.balanced_mse`):
BMC's components are the batch targets (``B`` of them: a flash cross-entropy), GAI's the ``K`` GMM
components, BNI's the bucket centres. The forward computes per row, in one pass over the
components, the loss ``ℓ_i`` and — from the same softmax weights ``P_ij`` — its derivatives
``∂ℓ_i/∂p_i = (p_i − y_i)/v − Σ_j P_ij (p_i − c_j)/s_j`` and ``∂ℓ_i/∂v``, so the backward is
elementwise except for BMC's target gradient (a column pass ``Σ_i g_i P_ij (p_i − y_j)/v``, run only
when the target requires grad, recomputing ``P`` from the saved log-sum-exp).

Saved for the backward: ``stats [3 + d, B]`` = (``ℓ_i``, ``∂ℓ_i/∂v``, ``LSE_i``, ``∂ℓ_i/∂p_i`` (d
rows)) and ``dvtot`` (the reduced ``∂L/∂v``), O(B·d): nothing ``B × B`` is stored.

Paths:

* ``cpu`` (``dirfast._C`` built): one C++ pass forward (``bmse_fwd``: row statistics and the
  reduction, OpenMP over rows, a vectorised exp, O(K) scratch per thread) and one elementwise pass
  backward (``bmse_bwd``) for 1-D targets whose tensors arrive in the accumulation dtype; other
  inputs ([B, d] targets, fp16/bf16, BMC's target gradient) take ``cpu_torch``.
* ``cpu_torch``: vectorised PyTorch over row chunks of ``CHUNK_ELEMS // (K·d)`` rows (every component
  at once): temporaries O(``CHUNK_ELEMS``) = a few MB whatever ``B`` is; 1-D BMC/BNI take
  ``E_P[c]`` by one matrix–vector product and ``E_P[(p − c)²]`` by one batched dot per chunk.
* ``triton``: :mod:`dirfast.kernels.balanced_mse` (1-D targets; fp16/bf16/fp32/fp64): an online
  log-sum-exp forward kernel over column tiles, a one-program deterministic reduction kernel (loss,
  ``∂L/∂v``), one backward kernel: **3 launches forward + backward** when the inputs arrive in their
  working dtypes (``noise_var`` and the prior tensors in the accumulation dtype).

Eager calls use ``BalancedMSEFunction`` (same paths, no op dispatch cost); ``torch.compile`` traces
the registered ``dirfast::balanced_mse`` and ``dirfast::balanced_mse_bwd``.

Double backward: a backward run with grad mode on returns the gradients of the dense reference
recomputed from the saved inputs under autograd (``O(B²)`` for BMC, once per such call).
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import torch
from torch import Tensor

from ._common import EXT_DTYPE_NAME
from ._factory import register_op

#: elements of the per-chunk ``[rows, K·d]`` temporaries of the CPU path (4 MB in fp32; ~6 of them
#: are alive at once)
CHUNK_ELEMS = 1 << 20

_KIND_H = {"bmc": 0, "gai": 1, "bni": 0}


def acc_dtype(pred_dtype: torch.dtype, kind: str, variant: str) -> torch.dtype:
    """fp32 accumulation (fp64 for fp64 predictions, and for the official GAI/BNI: the official prior
    tensors are float64 NumPy arrays, which promote the balancing term and the loss to float64)."""
    if pred_dtype == torch.float64 or (variant == "official" and kind != "bmc"):
        return torch.float64
    return torch.float32


def out_dtype(pred_dtype: torch.dtype, kind: str, variant: str) -> torch.dtype:
    return torch.float64 if (variant == "official" and kind != "bmc") else pred_dtype


def _rows(b: int, k: int, d: int, chunk: Optional[int]) -> int:
    if chunk is not None:
        return max(1, chunk)
    return max(1, CHUNK_ELEMS // max(k * d, 1))


# ------------------------------------------------------------------------------------------------
# vectorised PyTorch (any device), chunked over rows


def _chunk_1d(pc, yc, c, cvar, w, v, inv_v, kind):
    """Row statistics of one chunk, 1-D targets. ``pc``, ``yc`` ``[R]``; ``c`` ``[K]``."""
    dy = pc - yc
    mse = (dy * dy) * (0.5 * inv_v)
    if kind != "gai":
        diff2 = (pc[:, None] - c[None, :]).square_()
        if w is None:
            # BMC: the largest logit is at the smallest squared distance (exact: v > 0)
            mx = diff2.amin(1) * (-0.5 * inv_v)
            e = diff2 * (-0.5 * inv_v)
            e.sub_(mx[:, None])
        else:
            e = diff2 * (-0.5 * inv_v)
            e.add_(torch.log(w)[None, :])
            mx = e.amax(1)
            mx = torch.where(torch.isfinite(mx), mx, 0.0)
            e.sub_(mx[:, None])
        e.exp_()
        z = e.sum(1)
        ec = torch.mv(e, c) / z
        eq = torch.bmm(e[:, None, :], diff2[:, :, None]).reshape(-1) / z
        lse = mx + torch.log(z)
        ell = mse + lse
        gp = (ec - yc) * inv_v
        gv = (-mse + (0.5 * inv_v) * eq) * inv_v
        return ell, gv, lse, gp[None, :]
    s = cvar + v  # [K]
    inv_s = 1.0 / s
    a = torch.log(w) - 0.5 * torch.log(s)
    diff = pc[:, None] - c[None, :]
    t = diff * inv_s
    logits = a - 0.5 * diff * t
    mx = logits.amax(1)
    mx = torch.where(torch.isfinite(mx), mx, 0.0)
    e = logits.sub_(mx[:, None]).exp_()
    z = e.sum(1)
    et = (e * t).sum(1) / z
    eq = (e * (0.5 * t * t - 0.5 * inv_s)).sum(1) / z
    lse = mx + torch.log(z)
    ell = mse + 0.5 * torch.log(v) + lse
    gp = dy * inv_v - et
    gv = -mse * inv_v + 0.5 * inv_v + eq
    return ell, gv, lse, gp[None, :]


def _chunk_md(pc, yc, c, cvar, w, v, inv_v, kind):
    """Row statistics of one chunk, ``[R, d]`` targets (BMC, GAI with diagonal covariances)."""
    d = pc.shape[1]
    h = _KIND_H[kind]
    s = v if cvar is None else cvar + v  # 0-d or [K, d]
    dy = pc - yc
    mse = 0.5 * (dy * (dy / v)).sum(-1)
    diff = pc[:, None, :] - c[None, :, :]
    t = diff / s
    quad = 0.5 * (diff * t).sum(-1)  # the same expression as mse on the diagonal (B = 1 gives 0)
    logits = -quad
    if w is not None:
        a = torch.log(w)
        if h:
            a = a - 0.5 * torch.log(s).sum(-1)
        logits = logits + a[None, :]
    mx = logits.amax(1)
    mx = torch.where(torch.isfinite(mx), mx, 0.0)
    e = logits.sub_(mx[:, None]).exp_()
    z = e.sum(1)
    et = torch.einsum("rk,rkd->rd", e, t) / z[:, None]
    lse = mx + torch.log(z)
    ell = mse + lse
    gp = dy / v - et
    if h:
        q = 0.5 * (t * t).sum(-1) - 0.5 * (1.0 / s).sum(-1)[None, :]
        gv = -mse * inv_v + (e * q).sum(1) / z + 0.5 * d * inv_v
        ell = ell + 0.5 * d * torch.log(v)
    else:
        # d/dv of ‖p − c‖²/(2v) is −quad/v: the diagonal cancels the mse term exactly
        gv = ((e * quad).sum(1) / z - mse) * inv_v
    return ell, gv, lse, gp.t()


def _noise_var(noise, is_sigma, dt):
    """The variance ``v`` (0-d, ``dt``) from the noise argument (``σ`` when ``is_sigma``)."""
    x = noise.detach().to(dt).reshape(())
    return x * x if is_sigma else x


def _prep(pred, target, noise_var, centers, cvar, weights, kind, variant, is_sigma=False):
    dt = acc_dtype(pred.dtype, kind, variant)
    p, y = pred.to(dt), target.to(dt)
    v = _noise_var(noise_var, is_sigma, dt)
    c = y if kind == "bmc" else centers.to(dt)
    cv = None if cvar is None else cvar.to(dt)
    w = None if weights is None else weights.to(dt)
    return dt, p, y, v, c, cv, w


def _scale_reduce(stats, v, reduction, b):
    """``(loss, dvtot)`` from the row statistics: ``(2v)·reduce(ℓ)`` and ``(2v)·reduce(∂ℓ/∂v)``."""
    scale = 2 * v
    if reduction == "none":
        return stats[0] * scale, torch.zeros_like(v)
    norm = scale / max(b, 1) if reduction == "mean" else scale
    return stats[0].sum() * norm, stats[1].sum() * norm


def _fwd_torch(pred, target, noise_var, centers, cvar, weights, kind, reduction, variant, is_sigma,
               chunk=None):
    dt, p, y, v, c, cv, w = _prep(pred, target, noise_var, centers, cvar, weights, kind, variant,
                                  is_sigma)
    b, d = p.shape
    inv_v = 1.0 / v
    stats = torch.empty((3 + d, b), dtype=dt, device=p.device)
    rows = _rows(b, c.shape[0], d, chunk)
    one = d == 1
    for r0 in range(0, b, rows):
        r1 = min(r0 + rows, b)
        if one:
            res = _chunk_1d(p[r0:r1, 0], y[r0:r1, 0], c[:, 0] if c.dim() == 2 else c,
                            None if cv is None else cv.reshape(-1), w, v, inv_v, kind)
        else:
            res = _chunk_md(p[r0:r1], y[r0:r1], c, cv, w, v, inv_v, kind)
        for i, r in enumerate(res[:3]):
            stats[i, r0:r1] = r
        stats[3:, r0:r1] = res[3]
    out, dvtot = _scale_reduce(stats, v, reduction, b)
    return out.to(out_dtype(pred.dtype, kind, variant)), stats, dvtot


def _row_weights(grad_out, v, reduction, b, dt):
    """``g_i = ∂L/∂ℓ_i``: grad_out · 2v (/B for the mean); 0-d or ``[B]``."""
    g = grad_out.to(dt) * (2 * v)
    if reduction == "mean":
        g = g / max(b, 1)
    return g


def _bmc_target_grad_torch(p, y, v, lse, g, chunk=None):
    """``Σ_i g_i P_ij (p_i − y_j)/v − g_j (p_j − y_j)/v`` (BMC), ``P`` recomputed chunk by chunk."""
    b, d = p.shape
    inv_v = 1.0 / v
    gt = torch.zeros_like(y)
    gb = g.expand(b)
    rows = _rows(b, b, d, chunk)
    for r0 in range(0, b, rows):
        r1 = min(r0 + rows, b)
        diff = p[r0:r1, None, :] - y[None, :, :]  # [R, B, d]
        logits = -0.5 * (diff * (diff / v)).sum(-1) if d > 1 else \
            diff[..., 0].square() * (-0.5 * inv_v)
        wgt = logits.sub_(lse[r0:r1, None]).exp_().mul_(gb[r0:r1, None])  # g_i P_ij
        if d == 1:
            gt[:, 0] += (wgt * diff[..., 0]).sum(0)
        else:
            gt += torch.einsum("rb,rbd->bd", wgt, diff)
    return (gt - gb[:, None] * (p - y)) * inv_v


def _bwd_torch(grad_out, pred, target, noise_var, centers, cvar, weights, stats, dvtot, kind,
               reduction, variant, is_sigma, need_pred, need_target, need_v, chunk=None):
    dt, p, y, v, c, cv, w = _prep(pred, target, noise_var, centers, cvar, weights, kind, variant,
                                  is_sigma)
    b, d = p.shape
    g = _row_weights(grad_out, v, reduction, b, dt)
    empty = pred.new_empty(0)
    gp = (stats[3:].t() * (g[:, None] if g.dim() else g)).to(pred.dtype) if need_pred else empty
    if need_target:
        if kind == "bmc":
            gt = _bmc_target_grad_torch(p, y, v, stats[2], g, chunk)
        else:
            gt = -(p - y) / v * (g[:, None] if g.dim() else g)
        gt = gt.to(target.dtype)
    else:
        gt = target.new_empty(0)
    if need_v:
        if reduction == "none":
            gv = (g * stats[1]).sum()
        else:
            gv = grad_out.to(dt) * dvtot
        if is_sigma:  # dL/dσ = 2σ·dL/dv
            gv = gv * (2 * noise_var.detach().to(dt).reshape(()))
        gv = gv.to(noise_var.dtype).reshape(noise_var.shape)
    else:
        gv = noise_var.new_empty(0)
    return gp, gt, gv


# ------------------------------------------------------------------------------------------------
# Triton (1-D targets)


def _fwd_triton(pred, target, noise_var, centers, cvar, weights, kind, reduction, variant, is_sigma,
                chunk=None):
    from ..kernels.balanced_mse import bmse_fwd

    dt = acc_dtype(pred.dtype, kind, variant)
    b = pred.shape[0]
    p, y = pred.reshape(b), target.reshape(b)
    p = p if p.stride(0) == 1 else p.contiguous()
    y = y if y.stride(0) == 1 else y.contiguous()
    v = noise_var.detach().reshape(()).to(dt)  # σ when is_sigma (squared in the kernel)
    c = None if centers is None else centers.reshape(-1).to(dt).contiguous()
    cv = None if cvar is None else cvar.reshape(-1).to(dt).contiguous()
    w = None if weights is None else weights.reshape(-1).to(dt).contiguous()
    return bmse_fwd(p, y, v, c, cv, w, kind=kind, reduction=reduction, is_sigma=is_sigma,
                    out_dtype=out_dtype(pred.dtype, kind, variant))


def _bwd_triton(grad_out, pred, target, noise_var, centers, cvar, weights, stats, dvtot, kind,
                reduction, variant, is_sigma, need_pred, need_target, need_v, chunk=None):
    from ..kernels.balanced_mse import bmse_bwd

    dt = acc_dtype(pred.dtype, kind, variant)
    b = pred.shape[0]
    p, y = pred.reshape(b), target.reshape(b)
    p = p if p.stride(0) == 1 else p.contiguous()
    y = y if y.stride(0) == 1 else y.contiguous()
    v = noise_var.detach().reshape(()).to(dt)
    gp, gt, gv = bmse_bwd(grad_out.contiguous(), p, y, v, stats, dvtot, kind=kind,
                          reduction=reduction, is_sigma=is_sigma, need_pred=need_pred, need_target=need_target,
                          need_v=need_v, pred_dtype=pred.dtype, target_dtype=target.dtype,
                          v_dtype=noise_var.dtype)
    return (gp.reshape(pred.shape) if need_pred else gp,
            gt.reshape(target.shape) if need_target else gt,
            gv.reshape(noise_var.shape) if need_v else gv)


# ------------------------------------------------------------------------------------------------
# C++ (dirfast._C, csrc/balanced_mse.cpp): 1-D targets, every tensor already in the accumulation dtype


_CPP_KIND = {"bmc": 0, "bni": 1, "gai": 2}
_CPP_RED = {"mean": 0, "sum": 1, "none": 2}


def _cpp_dtype(pred, target, noise, centers, cvar, weights, kind, variant):
    """The accumulation dtype when the C++ pass takes these inputs (1-D, CPU, every tensor in that
    dtype: no cast launched), else None (the PyTorch path runs)."""
    dt = acc_dtype(pred.dtype, kind, variant)
    if (pred.shape[1] != 1 or pred.shape[0] == 0 or pred.device.type != "cpu"
            or pred.dtype != dt or target.dtype != dt or noise.dtype != dt):
        return None
    for t in (centers, cvar, weights):
        if t is not None and t.dtype != dt:
            return None
    return dt


def _flat(t):
    t = t.reshape(-1)
    return t if t.is_contiguous() else t.contiguous()


def _ptr(t):
    return 0 if t is None else t.data_ptr()


def _fwd_cpu(pred, target, noise_var, centers, cvar, weights, kind, reduction, variant, is_sigma,
             chunk=None):
    """``backend="cpu"``: one C++ pass (row statistics, reduction) for 1-D targets whose tensors
    arrive in the accumulation dtype; anything else runs :func:`_fwd_torch`."""
    dt = _cpp_dtype(pred, target, noise_var, centers, cvar, weights, kind, variant)
    if dt is None or chunk is not None:
        return _fwd_torch(pred, target, noise_var, centers, cvar, weights, kind, reduction,
                          variant, is_sigma, chunk)
    from .. import _ext

    C = _ext.require(f"dirfast.{kind}_loss(backend='cpu')")
    b = pred.shape[0]
    p, y, n = _flat(pred), _flat(target), noise_var.detach()
    c = None if centers is None else _flat(centers)
    cv = None if cvar is None else _flat(cvar)
    w = None if weights is None else _flat(weights)
    stats = torch.empty((4, b), dtype=dt)
    out = torch.empty((b,) if reduction == "none" else (), dtype=dt)
    dvtot = torch.empty((), dtype=dt)
    C.bmse_fwd(EXT_DTYPE_NAME[dt], _CPP_KIND[kind], _CPP_RED[reduction], is_sigma, p.data_ptr(),
               y.data_ptr(), n.data_ptr(), _ptr(c), _ptr(cv), _ptr(w), b,
               b if c is None else c.shape[0], stats.data_ptr(), out.data_ptr(), dvtot.data_ptr())
    return out, stats, dvtot


def _bwd_cpu(grad_out, pred, target, noise_var, centers, cvar, weights, stats, dvtot, kind,
             reduction, variant, is_sigma, need_pred, need_target, need_v, chunk=None):
    """``backend="cpu"`` backward: one C++ elementwise pass from the forward's statistics (BMC's
    target gradient, a column pass, runs in :func:`_bwd_torch`)."""
    dt = _cpp_dtype(pred, target, noise_var, centers, cvar, weights, kind, variant)
    if (dt is None or chunk is not None or (need_target and kind == "bmc")
            or grad_out.dtype != dt or stats.shape[0] != 4):
        return _bwd_torch(grad_out, pred, target, noise_var, centers, cvar, weights, stats, dvtot,
                          kind, reduction, variant, is_sigma, need_pred, need_target, need_v,
                          chunk)
    from .. import _ext

    C = _ext.require(f"dirfast.{kind}_loss(backend='cpu')")
    b = pred.shape[0]
    go = grad_out if grad_out.is_contiguous() else grad_out.contiguous()
    gp = torch.empty(pred.shape, dtype=dt) if need_pred else pred.new_empty(0)
    gt = torch.empty(target.shape, dtype=dt) if need_target else target.new_empty(0)
    gv = torch.empty((), dtype=dt) if need_v else noise_var.new_empty(0)
    p, y = _flat(pred), _flat(target)  # held: a temporary's pointer would dangle
    C.bmse_bwd(EXT_DTYPE_NAME[dt], _CPP_KIND[kind], _CPP_RED[reduction], is_sigma, go.data_ptr(),
               p.data_ptr(), y.data_ptr(), noise_var.data_ptr(),
               stats.data_ptr(), dvtot.data_ptr(), b, gp.data_ptr() if need_pred else 0,
               gt.data_ptr() if need_target else 0, gv.data_ptr() if need_v else 0)
    return gp, gt, (gv.reshape(noise_var.shape) if need_v else gv)


_PATHS = {"cpu": (_fwd_cpu, _bwd_cpu), "cpu_torch": (_fwd_torch, _bwd_torch),
          "triton": (_fwd_triton, _bwd_triton)}


# ------------------------------------------------------------------------------------------------
# registered ops


def _balanced_mse(
    pred: Tensor,
    target: Tensor,
    noise: Tensor,
    centers: Optional[Tensor],
    cvar: Optional[Tensor],
    weights: Optional[Tensor],
    kind: str,
    reduction: str,
    variant: str,
    is_sigma: bool,
    backend: str,
) -> Tuple[Tensor, Tensor, Tensor]:
    """``(loss, stats, dvtot)``: ``pred``/``target`` ``[B, d]``; ``noise`` 0-d: the variance ``v``,
    or ``σ`` (``v = σ²``) when ``is_sigma``; ``centers`` ``[K, d]`` (GAI means, BNI centres; None
    for BMC), ``cvar`` ``[K, d]`` (GAI variances), ``weights`` ``[K]`` (GAI φ, BNI bucket weights)."""
    return _PATHS[backend][0](pred, target, noise, centers, cvar, weights, kind, reduction,
                              variant, is_sigma)


def _balanced_mse_fake(pred, target, noise, centers, cvar, weights, kind, reduction, variant,
                       is_sigma, backend):
    b, d = pred.shape
    dt = acc_dtype(pred.dtype, kind, variant)
    out = pred.new_empty((b,) if reduction == "none" else (),
                         dtype=out_dtype(pred.dtype, kind, variant))
    return out, pred.new_empty((3 + d, b), dtype=dt), pred.new_empty((), dtype=dt)


def _balanced_mse_bwd(
    grad_out: Tensor,
    pred: Tensor,
    target: Tensor,
    noise: Tensor,
    centers: Optional[Tensor],
    cvar: Optional[Tensor],
    weights: Optional[Tensor],
    stats: Tensor,
    dvtot: Tensor,
    kind: str,
    reduction: str,
    variant: str,
    is_sigma: bool,
    need_pred: bool,
    need_target: bool,
    need_v: bool,
    backend: str,
) -> Tuple[Tensor, Tensor, Tensor]:
    """``(dL/dpred, dL/dtarget, dL/dnoise)``; an un-needed gradient is an empty tensor."""
    return _PATHS[backend][1](grad_out, pred, target, noise, centers, cvar, weights, stats, dvtot,
                              kind, reduction, variant, is_sigma, need_pred, need_target, need_v)


def _balanced_mse_bwd_fake(grad_out, pred, target, noise, centers, cvar, weights, stats, dvtot, kind,
                           reduction, variant, is_sigma, need_pred, need_target, need_v, backend):
    return (torch.empty_like(pred) if need_pred else pred.new_empty(0),
            torch.empty_like(target) if need_target else target.new_empty(0),
            torch.empty_like(noise) if need_v else noise.new_empty(0))


def _grad_differentiable(grad_out, pred, target, noise, centers, cvar, weights, kind, reduction,
                         variant, is_sigma, needs):
    """Gradients with a graph (double backward): the dense reference under autograd."""
    from ..reference import balanced_mse as ref

    with torch.enable_grad():
        # the saved tensors themselves: the gradient keeps its graph to the inputs
        p, y, n = pred, target, noise
        v = n.reshape(()) ** 2 if is_sigma else n.reshape(())
        kw = dict(reduction=reduction, acc=acc_dtype(pred.dtype, kind, variant),
                  out_dtype=out_dtype(pred.dtype, kind, variant))
        if kind == "bmc":
            out = ref.bmc_loss_ref(p, y, v, **kw)
        elif kind == "gai":
            out = ref.gai_loss_ref(p, y, v, weights, centers, cvar, **kw)
        else:
            out = ref.bni_loss_ref(p, y, v, centers, weights, **kw)
        wrt = [t for t, k in zip((p, y, n), needs) if k]
        grads = iter(torch.autograd.grad(out, wrt, grad_out, create_graph=True))
    return tuple(next(grads) if k else None for k in needs)


def _save(ctx, pred, target, noise, centers, cvar, weights, stats, dvtot, kind, reduction, variant,
          is_sigma, backend):
    ctx.set_materialize_grads(False)
    ctx.save_for_backward(pred, target, noise, centers, cvar, weights, stats, dvtot)
    ctx.cfg = (kind, reduction, variant, is_sigma)
    ctx.backend = backend


def _grads(ctx, grad_out, bwd):
    pred, target, noise, centers, cvar, weights, stats, dvtot = ctx.saved_tensors
    needs = tuple(ctx.needs_input_grad[:3])
    if grad_out is None or not any(needs):
        return (None, None, None)
    if torch.is_grad_enabled():
        return _grad_differentiable(grad_out, pred, target, noise, centers, cvar, weights,
                                    *ctx.cfg, needs)
    gp, gt, gv = bwd(grad_out, pred, target, noise, centers, cvar, weights, stats, dvtot, *ctx.cfg,
                     needs[0], needs[1], needs[2], ctx.backend)
    return tuple(g if k else None for g, k in zip((gp, gt, gv), needs))


def _save_op(ctx, inputs, outputs, eager):
    (pred, target, noise, centers, cvar, weights, kind, reduction, variant, is_sigma,
     backend) = inputs
    # the prior tensors (centres, variances, weights) are constants (documented)
    _save(ctx, pred, target, noise, centers, cvar, weights, outputs[1], outputs[2], kind, reduction,
          variant, is_sigma, backend)


def _grads_op(ctx, grad_outputs, bwd, eager):
    return _grads(ctx, grad_outputs[0], bwd)


balanced_mse_op, balanced_mse_bwd, BalancedMSEFunction = register_op(
    "balanced_mse", _balanced_mse, _balanced_mse_fake, save=_save_op, grads=_grads_op,
    bwd=_balanced_mse_bwd, bwd_fake=_balanced_mse_bwd_fake, n_tensors=6,
    doc="""Eager twin of ``dirfast::balanced_mse`` (:func:`dirfast.ops._factory.register_op`):
    ``apply(pred, target, noise, centers, cvar, weights, (kind, reduction, variant, is_sigma,
    backend))``; returns the loss.""")
