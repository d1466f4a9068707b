"""Reference weighted regression losses (docs/lds_fds.md §1.4, the official ``loss.py``).

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
(``activate="sigmoid"``) or ``tanh(β a)`` (``activate="tanh"``). Both are computed as ``tanh``:
``2·sigmoid(x) − 1 = tanh(x/2)`` exactly, and the left-hand side cancels for small ``x`` (it loses
all digits below ``2⁻⁵³``: ``x = 1e-26`` gave 0), the right-hand side does not. ``m^γ`` is
``m^γ`` for ``m > 0`` and ``0^γ`` (1 for ``γ = 0``, else 0) at ``a = 0``, written so that its
autograd derivative is finite there (``γ < 1`` would give ``0·inf``).

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


def tanh_sech2(x: torch.Tensor):
    """``(tanh x, sech² x)`` for ``x ≥ 0``, neither by a cancelling subtraction: ``sech² x =
    4t/(1 + t)²`` with ``t = e^{−2x}`` (``1 − tanh² x`` is 0 in fp32 once ``tanh x`` rounds to 1).
    ``d/da tanh(c·a) = c·sech²(c·a)``. The closed forms of the fast paths use it."""
    t = torch.exp(-2 * x)
    return torch.tanh(x), 4 * t / (1 + t) ** 2


def focal_modulator(a: torch.Tensor, beta: float, gamma: float, activate: str) -> torch.Tensor:
    """``m(a)^γ`` with ``m(a) = tanh(c·a)``, ``c = β`` (``"tanh"``) or ``β/2`` (``"sigmoid"``:
    ``2σ(βa) − 1 = tanh(βa/2)``, without the cancellation). Differentiable (twice) everywhere for
    ``a ≥ 0``: at ``m = 0`` the value is ``0^γ`` and the derivative 0 (as the fast paths)."""
    m = torch.tanh((beta if activate == "tanh" else 0.5 * beta) * a)
    pos = m > 0
    m_safe = torch.where(pos, m, torch.ones_like(m))
    return torch.where(pos, m_safe**gamma, torch.full_like(m, 1.0 if gamma == 0 else 0.0))


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
        l = base * focal_modulator(a, beta, gamma, activate)
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
