"""``dirfast::weighted_loss``: the weighted regression losses as one registered op.

The forward computes the loss and ``dL/dpred`` in one pass (Triton kernel, C++ kernel in
``dirfast._C``, or vectorised PyTorch) and saves the gradient; the backward op
``dirfast::weighted_loss_bwd`` only scales it by ``grad_output`` (no recomputation, no host sync).

``torch.compile`` traces both ops without a graph break (their fake implementations give the shapes).
Eager calls use ``WeightedLossFunction``, the same paths without the op's Python dispatch cost.

Double backward: a backward run with grad mode on (``create_graph=True``) does not use the saved
gradient (a constant) but recomputes the first gradient through the differentiable reference
(:func:`dirfast.reference.weighted_loss_ref`, in the compute dtype) from the saved inputs, so the
gradient it returns has a graph back to ``pred``, ``target``, ``weight`` and ``grad_output``; this
holds for the eager ``WeightedLossFunction`` and for the registered op's ``register_autograd``
backward. A plain ``backward()`` runs with grad mode off and pays one ``torch.is_grad_enabled()``.
Under ``torch.compile`` the backward is traced with grad mode off (the fast path); a double
backward through a compiled graph is refused by torch itself ("torch.compile with aot_autograd does
not currently support double backward").

Op arguments are already checked and flattened by ``dirfast.functional.weighted_loss``: ``pred``,
``target`` are ``[N]``, one floating dtype, ``weight`` is ``None`` or ``[N]`` in that dtype, ``backend``
is a resolved path (``"cpu" | "cpu_torch" | "triton"``).
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor

from .. import _ext
from ._common import EXT_DTYPE_NAME, acc_dtype, kernels
from ._factory import register_op
from ..reference.weighted_loss import tanh_sech2, weighted_loss_ref

# loss name -> (base loss code, focal)
LOSS_CODES = {"mse": (0, False), "l1": (1, False), "huber": (2, False), "focal_mse": (0, True),
              "focal_l1": (1, True)}


def _scalars(n: int, loss: str, beta: float, activate: str, reduction: str) -> Tuple[float, float, float]:
    """(scale, huber beta, focal slope k): the modulator is ``2·sigmoid(k·a) − 1``, i.e. ``k = β``
    (``"sigmoid"``) or ``2β`` (``"tanh"``: ``tanh(βa) = 2·sigmoid(2βa) − 1``). Every path evaluates it
    as ``tanh(k·a/2)`` (the same function without the cancellation of ``2σ − 1`` for small ``k·a``);
    the kernels keep taking the sigmoid slope, so an extension built from older sources still
    computes the same function."""
    scale = 1.0 / max(n, 1) if reduction == "mean" else 1.0
    k = beta * (2.0 if activate == "tanh" else 1.0)
    return scale, beta, k


def _loss_grad_torch(pred, target, weight, loss, beta, gamma, activate, reduction, need_grad):
    """Closed-form loss and gradient in vectorised PyTorch (the ``cpu_torch`` path, and CUDA without
    triton). Plain MSE/L1 take a short path: ``w·l = ½·e·g`` (mse) or ``e·g`` (l1) with
    ``g = w·dl``, so the loss costs one extra product (a ``dot`` when reduced)."""
    dt = acc_dtype(pred.dtype)
    x, y = pred.to(dt), target.to(dt)
    scale, hb, k = _scalars(pred.numel(), loss, beta, activate, reduction)
    ws = scale if weight is None else weight.to(dt) * scale
    e = x - y
    base, focal = LOSS_CODES[loss]
    if base in (0, 1) and not focal:
        g = (e * ws).mul_(2.0) if base == 0 else torch.sign(e).mul_(ws)
        half = 0.5 if base == 0 else 1.0
        if reduction == "none":
            out = (e * g).mul_(half).to(pred.dtype)
        else:
            out = (torch.dot(e, g) * half).to(pred.dtype)
        return out, g.to(pred.dtype) if need_grad else pred.new_empty(0)
    a = e.abs()
    sg = torch.sign(e)
    if base == 0:
        l, dl = e * e, 2 * e
    elif base == 1:
        l, dl = a, sg
    else:
        small = a < hb
        l = torch.where(small, 0.5 * e * e / hb, a - 0.5 * hb)
        dl = torch.where(small, e / hb, sg)
    if focal:
        # m = 2σ(k·a) − 1 = tanh(c·a), c = k/2 (no cancellation for small k·a), dm/da = c·sech²(c·a)
        c = 0.5 * k
        m, s2 = tanh_sech2(c * a)
        dm = c * s2
        pos = m > 0
        m_safe = torch.where(pos, m, torch.ones_like(m))
        mg = torch.where(pos, m_safe.pow(gamma), torch.full_like(m, 1.0 if gamma == 0 else 0.0))
        dmg = torch.where(pos, gamma * (mg / m_safe) * dm * sg, torch.zeros_like(m))
        dl = dl * mg + l * dmg
        l = l * mg
    grad = (ws * dl).to(pred.dtype) if need_grad else pred.new_empty(0)
    wl = ws * l
    out = wl.to(pred.dtype) if reduction == "none" else wl.sum().to(pred.dtype)
    return out, grad


def _loss_grad_cpu(pred, target, weight, loss, beta, gamma, activate, reduction, need_grad):
    """One-pass C++ kernel (OpenMP, GIL released); fp16/bf16 are computed in fp32."""
    dt = acc_dtype(pred.dtype)
    x, y, w = _as_acc(pred, dt), _as_acc(target, dt), None if weight is None else _as_acc(weight, dt)
    n = x.numel()
    scale, hb, k = _scalars(n, loss, beta, activate, reduction)
    base, focal = LOSS_CODES[loss]
    reduce = reduction != "none"
    grad = torch.empty(n if need_grad else 0, dtype=dt)
    out = _EMPTY[dt] if reduce else torch.empty(n, dtype=dt)
    total = _ext.require("dirfast::weighted_loss backend='cpu'").weighted_loss_fwd(
        EXT_DTYPE_NAME[dt], x.data_ptr(), y.data_ptr(), 0 if w is None else w.data_ptr(),
        grad.data_ptr() if need_grad else 0, 0 if reduce or n == 0 else out.data_ptr(), n, base,
        focal, reduce,
        scale, hb, k, gamma,
    )
    if reduce:
        out = torch.scalar_tensor(total, dtype=dt)  # half the cost of torch.tensor
        if dt == pred.dtype:
            return out, grad
        return out.to(pred.dtype), grad.to(pred.dtype)
    if dt == pred.dtype:
        return out, grad
    return out.to(pred.dtype), grad.to(pred.dtype)


#: the (unused) per-element output of a reduced call: never written, shared
_EMPTY = {dt: torch.empty(0, dtype=dt) for dt in (torch.float32, torch.float64)}


def _as_acc(t: Tensor, dt: torch.dtype) -> Tensor:
    """``t`` in the accumulation dtype, contiguous; no call into torch when it already is."""
    if t.dtype != dt:
        t = t.to(dt)
    return t if t.is_contiguous() else t.contiguous()


def _loss_grad_triton(pred, target, weight, loss, beta, gamma, activate, reduction, need_grad):
    """The Triton kernel; its scalars go by value and ``weight=None`` reads no weights, so a call
    copies nothing from the host (no scalar tensor per batch size)."""
    scale, hb, k = _scalars(pred.numel(), loss, beta, activate, reduction)
    base, focal = LOSS_CODES[loss]
    reduce = reduction != "none"
    out, grad = kernels("weighted_loss").weighted_loss_fwd(
        _contig(pred), _contig(target), None if weight is None else _contig(weight),
        scale=scale, beta=hb, k=k, gamma=float(gamma), loss=base, focal=focal, reduce=reduce,
        need_grad=need_grad,
    )
    if reduce:
        # one program (N <= BLOCK: every batch of a usual size): its partial is the sum, no
        # reduction launch (the same value: a sum of one term)
        out = out.reshape(()) if out.numel() == 1 else out.sum()
        if out.dtype != pred.dtype:
            out = out.to(pred.dtype)
    return out, grad


def _contig(t: Tensor) -> Tensor:
    return t if t.is_contiguous() else t.contiguous()


_PATHS = {"cpu": _loss_grad_cpu, "cpu_torch": _loss_grad_torch, "triton": _loss_grad_triton}


def _weighted_loss(
    pred: Tensor,
    target: Tensor,
    weight: Optional[Tensor],
    loss: str,
    beta: float,
    gamma: float,
    activate: str,
    reduction: str,
    backend: str,
    need_grad: bool,
) -> Tuple[Tensor, Tensor]:
    """Returns ``(loss, dloss/dpred)``: loss is a 0-d tensor (``mean``/``sum``) or ``[N]``; the
    gradient is ``[N]``, or ``[0]`` when ``need_grad`` is False (no pass writes it)."""
    return _PATHS[backend](pred, target, weight, loss, beta, gamma, activate, reduction, need_grad)


def _weighted_loss_fake(pred, target, weight, loss, beta, gamma, activate, reduction, backend,
                        need_grad):
    out = pred.new_empty(pred.shape if reduction == "none" else ())
    return out, torch.empty_like(pred) if need_grad else pred.new_empty(0)


def _weighted_loss_bwd(grad_output: Tensor, grad: Tensor) -> Tensor:
    """``dL/dpred = grad_output · grad`` (``grad_output`` 0-d or ``[N]``); a new tensor, never in place."""
    return grad * grad_output


def _weighted_loss_bwd_fake(grad_output, grad):
    return torch.empty_like(grad)


def _save(ctx, inputs, outputs, eager):
    """Registered op: the gradient is saved (``save_for_backward``). Eager twin: it is private to the
    node (never returned to the user), so it is kept as an attribute and the backward scales it by
    ``grad_output`` **in place** and hands it to autograd, which adopts it as ``pred.grad``: one
    ``[N]`` allocation per step instead of two. The node drops its reference first; a second
    backward through a retained graph finds it gone and recomputes it."""
    pred, target, weight, loss, beta, gamma, activate, reduction, backend, _ = inputs
    if eager:
        ctx.save_for_backward(pred, target, weight)
        ctx.grad = outputs[1]
    else:
        ctx.save_for_backward(outputs[1], pred, target, weight)
    ctx.loss, ctx.beta, ctx.gamma, ctx.activate = loss, beta, gamma, activate
    ctx.reduction, ctx.backend = reduction, backend


def _grads(ctx, grad_out, grad, pred, target, weight, scale_fn):
    """Gradients for (pred, target, weight) from the saved ``grad = dL/dpred``; ``scale_fn``
    multiplies it by ``grad_out``."""
    need_pred, need_target, need_weight = ctx.needs_input_grad[:3]
    if grad_out is None:  # the loss itself was not used
        return None, None, None
    if (need_pred or need_target) and grad.shape != pred.shape:
        # no saved gradient: the op was called with need_grad=False on inputs that require grad, or
        # the eager path already consumed it (retain_graph): recompute it on the same path
        # (through the registered op, so that a traced backward stays traceable)
        with torch.no_grad():
            grad = weighted_loss_op(pred, target, weight, ctx.loss, ctx.beta, ctx.gamma,
                                    ctx.activate, ctx.reduction, ctx.backend, True)[1]
    g = scale_fn(grad_out, grad) if (need_pred or need_target) else None
    grad_weight = None
    if need_weight:
        # rare: learned weights. Recompute the per-element loss l (not saved by the fast forward).
        with torch.no_grad():
            l = weighted_loss_ref(pred, target, None, loss=ctx.loss, beta=ctx.beta, gamma=ctx.gamma,
                                  activate=ctx.activate, reduction="none")
        scale = 1.0 / max(pred.numel(), 1) if ctx.reduction == "mean" else 1.0
        grad_weight = (l * (grad_out * scale)).to(weight.dtype)
    return g if need_pred else None, -g if need_target else None, grad_weight


def _grads_create_graph(ctx, grad_out, pred, target, weight):
    """The backward under ``create_graph=True`` (grad mode on inside backward): the first gradient
    through the differentiable reference from the saved inputs, so that it has a graph back to
    ``pred``/``target``/``weight`` and ``grad_out`` (double backward, gradient penalties). The saved
    fast-path gradient has none. Costs one reference forward + autograd pass; never taken by a plain
    ``backward()``."""
    need = ctx.needs_input_grad[:3]
    if grad_out is None or not any(need):
        return None, None, None
    acc = acc_dtype(pred.dtype)
    cast = lambda t: None if t is None else t.to(acc)
    out = weighted_loss_ref(cast(pred), cast(target), cast(weight), loss=ctx.loss, beta=ctx.beta,
                            gamma=ctx.gamma, activate=ctx.activate, reduction=ctx.reduction)
    inputs = [t for t, nd in zip((pred, target, weight), need) if nd]
    grads = iter(torch.autograd.grad(out.to(pred.dtype), inputs, grad_out, create_graph=True,
                                     allow_unused=True))
    return tuple(next(grads) if nd else None for nd in need)


def _backward(ctx, grad_outputs, bwd, eager):
    grad_out = grad_outputs[0]
    if eager:
        pred, target, weight = ctx.saved_tensors
        grad = ctx.__dict__.pop("grad", None)
        if grad is None:
            grad = pred.new_empty(0)
        scale_fn = _scale_inplace
    else:
        grad, pred, target, weight = ctx.saved_tensors
        scale_fn = bwd
    if torch.is_grad_enabled():  # create_graph=True (torch.compile traces with grad mode off)
        return _grads_create_graph(ctx, grad_out, pred, target, weight)
    return _grads(ctx, grad_out, grad, pred, target, weight, scale_fn)


def _scale_inplace(grad_output: Tensor, grad: Tensor) -> Tensor:
    return grad.mul_(grad_output)


weighted_loss_op, weighted_loss_bwd, WeightedLossFunction = register_op(
    "weighted_loss", _weighted_loss, _weighted_loss_fake, save=_save, grads=_backward,
    bwd=_weighted_loss_bwd, bwd_fake=_weighted_loss_bwd_fake, n_tensors=3,
    doc="""Eager twin of ``dirfast::weighted_loss`` (:func:`dirfast.ops._factory.register_op`):
    ``apply(pred, target, weight, (loss, beta, gamma, activate, reduction, backend, need_grad))``,
    returns only the loss; the saved gradient is consumed in place by the backward (``_save``).""")
