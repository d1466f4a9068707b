"""Public functional API: validate at the boundary, resolve the backend, call the registered op.

Every function takes ``backend=None`` (see ``dirfast._backend``) and ``validate=None`` (value checks
that need a host sync; on with ``DIRFAST_VALIDATE=1``).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from ._backend import resolve_backend
from ._checks import (FLOAT_DTYPES, check_finite_values, check_float, check_same_device,
                      check_scalar, check_tensor, describe, validation_enabled)
from .ops.weighted_loss import WeightedLossFunction, weighted_loss_op
from .reference.weighted_loss import ACTIVATIONS, LOSSES, REDUCTIONS, weighted_loss_ref

__all__ = ["weighted_loss", "mse", "l1", "focal_mse", "focal_l1", "huber"]

#: official defaults: focal β = 0.2 (sigmoid), γ = 1; Huber β = 1.0 (age datasets)
DEFAULT_BETA = {"focal_mse": 0.2, "focal_l1": 0.2, "huber": 1.0, "mse": 1.0, "l1": 1.0}


def _check_loss_inputs(fn, pred, target, weight):
    if isinstance(pred, Tensor) and isinstance(target, Tensor):
        # fast path of the common valid call (same answers as the checks below, without building
        # their messages): [B] or [B, 1] floating pred, target alike, weight None or alike
        dev, shape = pred.device, pred.shape
        if (pred.dtype in FLOAT_DTYPES and target.dtype == pred.dtype and target.shape == shape
                and (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1))
                and target.device == dev
                and (weight is None or (isinstance(weight, Tensor) and weight.dtype in FLOAT_DTYPES
                                        and weight.shape == shape and weight.device == dev))):
            return dev
    check_tensor("pred", pred, fn=fn)
    check_tensor("target", target, fn=fn)
    check_float("pred", pred, fn=fn)
    if pred.dim() not in (1, 2) or (pred.dim() == 2 and pred.shape[1] != 1):
        raise ValueError(f"{fn}: pred must have shape [B] or [B, 1], got {describe(pred)}")
    check_float("target", target, fn=fn)
    if target.shape != pred.shape:
        raise ValueError(
            f"{fn}: target must have the shape of pred {tuple(pred.shape)} (no broadcasting: a [B] "
            f"vs [B, 1] mix is an error), got {describe(target)}"
        )
    if target.dtype != pred.dtype:
        raise TypeError(f"{fn}: target must have pred's dtype {pred.dtype}, got {describe(target)}")
    if weight is not None:
        check_tensor("weight", weight, fn=fn)
        check_float("weight", weight, fn=fn)
        if weight.shape != pred.shape:
            raise ValueError(
                f"{fn}: weight must have the shape of pred {tuple(pred.shape)} (no broadcasting), "
                f"got {describe(weight)}"
            )
    return check_same_device(fn, pred=pred, target=target, weight=weight)


def _check_config(loss, reduction, activate, beta, gamma):
    """The checked ``(fn name, beta, gamma)`` of a configuration (raises on a bad one)."""
    fn = f"dirfast.{loss}" if loss in LOSSES else "dirfast.weighted_loss"
    check_scalar("loss", loss, fn=fn, choices=LOSSES)
    check_scalar("reduction", reduction, fn=fn, choices=REDUCTIONS)
    check_scalar("activate", activate, fn=fn, choices=ACTIVATIONS)
    beta = DEFAULT_BETA[loss] if beta is None else check_scalar("beta", beta, fn=fn, low=0, low_open=True)
    gamma = check_scalar("gamma", gamma, fn=fn, low=0)
    return fn, beta, gamma


#: checked configurations (valid ones only: a bad one raises before it is stored); a hit costs one
#: dictionary lookup instead of five argument checks. ``True == 1`` hashes alike, so bool
#: ``beta``/``gamma`` (rejected by the checks) bypass it.
_CHECKED: dict = {}


def weighted_loss(
    pred: Tensor,
    target: Tensor,
    weight: Optional[Tensor] = None,
    *,
    loss: str = "mse",
    beta: Optional[float] = None,
    gamma: float = 1.0,
    activate: str = "sigmoid",
    reduction: str = "mean",
    backend: Optional[str] = None,
    validate: Optional[bool] = None,
) -> Tensor:
    r"""Weighted regression loss (LDS paper, official ``loss.py``), fused loss + gradient in one pass.

    With :math:`e = \hat y - y` and per-sample weights :math:`w` (1 if ``weight`` is None):
    ``mean`` returns :math:`\frac1B\sum_i w_i\,\ell(e_i)` (the official plain mean, not divided by
    :math:`\sum w`; 0 for an empty batch), ``sum`` the sum, ``none`` the :math:`w_i\ell(e_i)` shaped
    like ``pred``. :math:`\ell` is ``e²`` (mse), ``|e|`` (l1), ``e²·m(|e|)^γ`` (focal_mse),
    ``|e|·m(|e|)^γ`` (focal_l1) with :math:`m(a) = 2\sigma(\beta a) - 1` (``activate="sigmoid"``) or
    :math:`\tanh(\beta a)`, or Huber ``0.5e²/β if |e| < β else |e| − 0.5β`` (huber). Every path
    evaluates the modulator as ``tanh(βa/2)`` resp. ``tanh(βa)`` (``2σ(x) − 1 = tanh(x/2)``; the left
    side cancels for small ``βa``): full relative precision for tiny errors (fp32 1e-5, fp64 1e-10).

    Double backward: supported on every backend. A backward run with ``create_graph=True``
    recomputes the first gradient through the differentiable reference (in the compute dtype), so
    it has a graph back to ``pred``, ``target``, ``weight`` (gradient penalties); a plain backward
    keeps the fused one-pass gradient. Under ``torch.compile`` torch (AOTAutograd) has no double
    backward: a penalty's ``backward()`` raises its error, ``torch.autograd.grad(...,
    allow_unused=True)`` may return None; take gradient penalties eagerly.

    NaN/inf with validation off: nothing is checked; a NaN in ``pred``/``target``/``weight`` makes that
    element's loss and gradient NaN (a reduced loss NaN), ``±inf`` gives an infinite loss with gradient
    ±inf (mse), ±1 (l1, huber) or NaN (focal: ``inf·0``); other elements are unaffected.

    Args:
        pred: ``[B]`` or ``[B, 1]``, float16/bfloat16/float32/float64.
        target: exactly ``pred``'s shape and dtype (a ``[B]``/``[B, 1]`` mix raises).
        weight: ``None`` or ``pred``'s shape, any floating dtype (cast to ``pred``'s dtype), ≥ 0.
            Differentiable, but its gradient is recomputed (slow path); usually LDS weights (constant).
        loss: ``"mse" | "l1" | "focal_mse" | "focal_l1" | "huber"``.
        beta: focal β (default 0.2) or Huber β (default 1.0); must be > 0.
        gamma: focal exponent γ ≥ 0 (default 1).
        activate: focal modulator ``"sigmoid" | "tanh"``.
        reduction: ``"mean" | "sum" | "none"``.
        backend, validate: see the module docstring.

    Returns:
        0-d tensor (``mean``/``sum``) or ``pred``'s shape (``none``), in ``pred``'s dtype; arithmetic
        in fp32 (fp64 for fp64). Under ``torch.autocast`` the op is not autocast-registered: it runs in
        the dtype its inputs arrive in, accumulating in fp32 for fp16/bf16.
    """
    key = (loss, reduction, activate, beta, gamma)
    try:
        checked = _CHECKED.get(key) if type(beta) is not bool and type(gamma) is not bool else None
    except TypeError:  # an unhashable argument: the checks below name it
        checked = key = None
    if checked is None:
        checked = _check_config(loss, reduction, activate, beta, gamma)
        if key is not None and len(_CHECKED) < 256:
            _CHECKED[key] = checked
    fn, beta, gamma = checked
    device = _check_loss_inputs(fn, pred, target, weight)
    if weight is not None and weight.dtype != pred.dtype:
        weight = weight.to(pred.dtype)
    if validation_enabled(validate):
        check_finite_values(fn, pred=pred, target=target, weight=weight)
        if weight is not None and bool((weight < 0).any()):
            raise ValueError(f"{fn}: weight must be >= 0 (validation on), got min {weight.min().item()}")
    path = resolve_backend(backend, device, op=fn)
    if path == "reference":
        return weighted_loss_ref(pred, target, weight, loss=loss, beta=beta, gamma=gamma,
                                 activate=activate, reduction=reduction)
    shape = pred.shape
    # the gradient pass is skipped when nothing will ask for it (eval, no_grad)
    need_grad = torch.is_grad_enabled() and (pred.requires_grad or target.requires_grad)
    if pred.dim() != 1:  # [B, 1] -> [B]; a [B] input is passed as is (a view adds an autograd node)
        pred, target = pred.reshape(-1), target.reshape(-1)
        weight = None if weight is None else weight.reshape(-1)
    cfg = (loss, beta, gamma, activate, reduction, path, need_grad)
    if torch.compiler.is_compiling():
        out, _ = weighted_loss_op(pred, target, weight, *cfg)  # traced without a graph break
    else:
        # eager: same paths, without the op's dispatch cost
        out = WeightedLossFunction.apply(pred, target, weight, cfg)
    return out.reshape(shape) if reduction == "none" else out


def mse(pred, target, weight=None, *, reduction="mean", backend=None, validate=None) -> Tensor:
    """Weighted MSE ``mean(w·e²)`` (official ``weighted_mse_loss``); double backward, NaN/inf and
    the rest: :func:`weighted_loss`."""
    return weighted_loss(pred, target, weight, loss="mse", reduction=reduction, backend=backend,
                         validate=validate)


def l1(pred, target, weight=None, *, reduction="mean", backend=None, validate=None) -> Tensor:
    """Weighted L1 ``mean(w·|e|)`` (official ``weighted_l1_loss``); double backward, NaN/inf and
    the rest: :func:`weighted_loss`."""
    return weighted_loss(pred, target, weight, loss="l1", reduction=reduction, backend=backend,
                         validate=validate)


def focal_mse(pred, target, weight=None, *, activate="sigmoid", beta=0.2, gamma=1.0,
              reduction="mean", backend=None, validate=None) -> Tensor:
    """Focal-R MSE ``mean(w·e²·m(|e|)^γ)`` (official ``weighted_focal_mse_loss``), ``m`` computed as
    ``tanh`` (no cancellation for small ``β|e|``); double backward, NaN/inf: :func:`weighted_loss`."""
    return weighted_loss(pred, target, weight, loss="focal_mse", beta=beta, gamma=gamma,
                         activate=activate, reduction=reduction, backend=backend, validate=validate)


def focal_l1(pred, target, weight=None, *, activate="sigmoid", beta=0.2, gamma=1.0,
             reduction="mean", backend=None, validate=None) -> Tensor:
    """Focal-R L1 ``mean(w·|e|·m(|e|)^γ)`` (official ``weighted_focal_l1_loss``), ``m`` computed as
    ``tanh`` (no cancellation for small ``β|e|``); double backward, NaN/inf: :func:`weighted_loss`."""
    return weighted_loss(pred, target, weight, loss="focal_l1", beta=beta, gamma=gamma,
                         activate=activate, reduction=reduction, backend=backend, validate=validate)


def huber(pred, target, weight=None, *, beta=1.0, reduction="mean", backend=None,
          validate=None) -> Tensor:
    """Weighted Huber (smooth-L1 form) loss (official ``weighted_huber_loss``, β = 1.0); double
    backward, NaN/inf and the rest: :func:`weighted_loss`."""
    return weighted_loss(pred, target, weight, loss="huber", beta=beta, reduction=reduction,
                         backend=backend, validate=validate)


# soft sort / soft rank (defined in dirfast.soft_sort)
from .soft_sort import soft_rank, soft_sort  # noqa: E402

__all__ += ["soft_sort", "soft_rank"]

# Dist Loss (defined in dirfast.distloss)
from .distloss import dist_loss, pseudo_labels  # noqa: E402

__all__ += ["dist_loss", "pseudo_labels"]

# RankSim (defined in dirfast.ranksim)
from .ranksim import ranksim_loss  # noqa: E402

__all__ += ["ranksim_loss"]

# Balanced MSE (defined in dirfast.balanced_mse)
from .balanced_mse import bmc_loss, bni_loss, gai_loss  # noqa: E402

__all__ += ["bmc_loss", "gai_loss", "bni_loss"]
