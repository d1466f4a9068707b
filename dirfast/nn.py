"""``nn.Module`` front ends. They hold configuration (and, for later ops, state); the ops are stateless."""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from . import functional as F

__all__ = ["WeightedLoss", "MSELoss", "L1Loss", "FocalMSELoss", "FocalL1Loss", "HuberLoss"]


class WeightedLoss(torch.nn.Module):
    """Module form of :func:`dirfast.functional.weighted_loss`.

    ``forward(pred [B] or [B,1], target same shape, weight=None or same shape)`` returns the loss
    reduced by ``reduction``; see the functional for the equations, double backward (supported:
    ``create_graph=True`` gives a gradient with a graph) and NaN/inf with validation off (they
    propagate element-wise, nothing is checked).
    """

    def __init__(self, loss: str = "mse", *, beta: Optional[float] = None, gamma: float = 1.0,
                 activate: str = "sigmoid", reduction: str = "mean",
                 backend: Optional[str] = None, validate: Optional[bool] = None):
        super().__init__()
        self.loss, self.beta, self.gamma, self.activate = loss, beta, gamma, activate
        self.reduction, self.backend, self.validate = reduction, backend, validate
        # fail at construction on a bad name or value, not at the first step
        F.weighted_loss(torch.zeros(1), torch.zeros(1), loss=loss, beta=beta, gamma=gamma,
                        activate=activate, reduction=reduction, backend="reference")

    def forward(self, pred: Tensor, target: Tensor, weight: Optional[Tensor] = None) -> Tensor:
        return F.weighted_loss(pred, target, weight, loss=self.loss, beta=self.beta,
                               gamma=self.gamma, activate=self.activate, reduction=self.reduction,
                               backend=self.backend, validate=self.validate)

    def extra_repr(self) -> str:
        return f"loss={self.loss!r}, beta={self.beta}, gamma={self.gamma}, reduction={self.reduction!r}"


class MSELoss(WeightedLoss):
    """Weighted MSE, official ``weighted_mse_loss``."""

    def __init__(self, *, reduction="mean", backend=None, validate=None):
        super().__init__("mse", reduction=reduction, backend=backend, validate=validate)


class L1Loss(WeightedLoss):
    """Weighted L1, official ``weighted_l1_loss``."""

    def __init__(self, *, reduction="mean", backend=None, validate=None):
        super().__init__("l1", reduction=reduction, backend=backend, validate=validate)


class FocalMSELoss(WeightedLoss):
    """Focal-R MSE, official ``weighted_focal_mse_loss`` (sigmoid, β = 0.2, γ = 1)."""

    def __init__(self, *, activate="sigmoid", beta=0.2, gamma=1.0, reduction="mean", backend=None,
                 validate=None):
        super().__init__("focal_mse", beta=beta, gamma=gamma, activate=activate,
                         reduction=reduction, backend=backend, validate=validate)


class FocalL1Loss(WeightedLoss):
    """Focal-R L1, official ``weighted_focal_l1_loss`` (sigmoid, β = 0.2, γ = 1)."""

    def __init__(self, *, activate="sigmoid", beta=0.2, gamma=1.0, reduction="mean", backend=None,
                 validate=None):
        super().__init__("focal_l1", beta=beta, gamma=gamma, activate=activate,
                         reduction=reduction, backend=backend, validate=validate)


class HuberLoss(WeightedLoss):
    """Weighted Huber (smooth-L1 form), official ``weighted_huber_loss`` (β = 1.0)."""

    def __init__(self, *, beta=1.0, reduction="mean", backend=None, validate=None):
        super().__init__("huber", beta=beta, reduction=reduction, backend=backend, validate=validate)


# FDS module and cross-bin smoothing
# stateful front ends of the other ops live beside them
from .conr import ConRLoss  # noqa: E402
from .fds import FDS, smooth_stats  # noqa: E402

__all__ += ["FDS", "smooth_stats", "ConRLoss"]
from .soft_sort import SoftRank, SoftSort  # noqa: E402

__all__ += ["SoftSort", "SoftRank"]
from .distloss import DistLoss  # noqa: E402

__all__ += ["DistLoss"]
from .ranksim import RankSimLoss  # noqa: E402

__all__ += ["RankSimLoss"]
from .balanced_mse import BalancedMSELoss  # noqa: E402

__all__ += ["BalancedMSELoss"]
