"""Reference weighted regression losses (spec lds_fds.md §1.4, the official ``loss.py``).

With ``e = pred - target`` and an optional per-sample weight ``w`` (else 1):

====================  =====================================================================
``loss``              per-element loss ``l(e)``
====================  =====================================================================
``"mse"``             ``e²``
``"l1"``              ``|e|``
``"focal_mse"``       ``e² · m(|e|)^γ``
``"focal_l1"``        ``|e| · m(|e|)^γ``
``"huber"``           ``0.5 e²/β`` if ``|e| < β`` else ``|e| − 0.5 β`` (smooth-L1 form)
====================  =====================================================================

Focal-R modulator (not detached, as the official code): ``m(a) = 2·sigmoid(β a) − 1``
(``activate="sigmoid"``) or ``tanh(β a)`` (``activate="tanh"``).

Reduction: ``"mean"`` is the official plain mean of ``w·l`` over all elements (not divided by the sum
of weights; an empty batch gives 0), ``"sum"`` the sum, ``"none"`` the per-element ``w·l`` in the shape
of ``pred``. Computed in the dtype of ``pred`` (fp64 gives the fp64 oracle).
"""

from __future__ import annotations

from typing import Optional

import torch

LOSSES = ("mse", "l1", "focal_mse", "focal_l1", "huber")
ACTIVATIONS = ("sigmoid", "tanh")
REDUCTIONS = ("mean", "sum", "none")


def weighted_loss_ref(
    pred: torch.Tensor,
    target: torch.Tensor,
    weight: Optional[torch.Tensor] = None,
    *,
    loss: str = "mse",
    beta: float = 0.2,
    gamma: float = 1.0,
    activate: str = "sigmoid",
    reduction: str = "mean",
) -> torch.Tensor:
    """Weighted regression loss, written like the official code.

    Args:
        pred: ``[B]`` or ``[B, 1]`` floating tensor.
        target: same shape and dtype as ``pred``.
        weight: ``None`` or same shape as ``pred``.
        loss: one of ``LOSSES``. ``beta`` is the focal β for the focal losses and the Huber β for
            ``"huber"``; ``gamma`` and ``activate`` apply to the focal losses only.
        reduction: ``"mean" | "sum" | "none"``.

    Returns:
        A scalar (``mean``/``sum``) or a tensor shaped like ``pred`` (``none``), dtype of ``pred``.
    """
    e = pred - target
    a = e.abs()
    if loss == "mse":
        l = e * e
    elif loss == "l1":
        l = a
    elif loss in ("focal_mse", "focal_l1"):
        base = e * e if loss == "focal_mse" else a
        if activate == "sigmoid":
            m = 2 * torch.sigmoid(beta * a) - 1
        else:
            m = torch.tanh(beta * a)
        l = base * m**gamma
    elif loss == "huber":
        l = torch.where(a < beta, 0.5 * e * e / beta, a - 0.5 * beta)
    else:
        raise ValueError(f"weighted_loss_ref: loss must be one of {LOSSES}, got {loss!r}")
    if weight is not None:
        l = l * weight
    if reduction == "none":
        return l
    if reduction == "sum":
        return l.sum()
    return l.sum() / max(l.numel(), 1)
