"""Reference ConR (docs/conr_ranksim_bmse.md §1): dense ``[M, M]`` PyTorch, autograd through torch ops.

With ``u = F.normalize(features)`` (eps 1e-12), ``s_ij = ⟨u_i, u_j⟩/τ``, ``Δy_ij = ‖y_i − y_j‖`` and
``Δŷ_ij = ‖ŷ_i − ŷ_j‖`` (``|·|`` for 1-D labels; ``norm="l1" | "l2"`` for ``[M, d]`` labels; ŷ only
enters masks, so it carries no gradient):

* positives ``P_ij = Δy_ij ≤ w`` and ``i ≠ j`` (``denominator_self=True``: the diagonal is a positive
  too, as the depth code, which never clears it: counted in the divisor ``|P_i|``, the log-ratio sum
  and the denominator);
* negatives ``N_ij = Δy_ij > w`` and ``Δŷ_ij ≤ w``;
* pushing weight ``S_ij = a_i·exp(e·Δy_ij)`` (``pushing="exp"``) or ``e·a_i·Δy_ij`` (``"linear"``);
* ``D_i = Σ_j P_ij e^{s_ij} + Σ_j N_ij S_ij e^{s_ij} (+ (M − |P_i|)·1 if phantom)``;
* ``ℓ_i = log D_i − (1/|P_i|) Σ_j P_ij s_ij``;
* row factor ``r_i = a_i`` if ``weight_final`` else 1.

``log D_i`` is a log-sum-exp over the row's logits ``A_ij = s_ij`` (positives), ``s_ij + log S_ij``
(negatives; ``log S = log a_i + e·Δy``, or ``log(e·a_i·Δy)``) and, with phantom terms, one more logit
``log(M − |P_i|)``: ``torch.logsumexp`` shifts by the row's largest logit, so no term overflows or
underflows at any temperature (``s`` reaches ±1/τ) nor for labels in the thousands. A row with no
logit at all (no positive, no negative, no phantom) has ``log D = −inf`` and is never used.

Labels, predictions and weights are constants: they enter masks and pushing weights only and are
detached (no gradient; a label gradient through the ``l2`` distance would be NaN at Δy = 0).

``variant="official"`` (age code, spec §1.3): phantom on, ``weight_final`` on, exp pushing, ``ℓ_i``
zeroed only for anchors without a negative (an anchor without a positive gives 0/0 = NaN, which
poisons the loss exactly as the official code does: spec §1.7 Q9). ``variant="paper"`` (§1.2): no
phantom terms, no final weight, and an anchor counts only if it has ≥ 1 positive and ≥ 1 negative;
the others contribute exactly 0 (never NaN).

Reductions: ``"mean"`` = ``Σ_i r_i ℓ_i / M`` (all M rows, the official normaliser), ``"sum"``,
``"none"`` (``[M]``), ``"valid_anchors"`` = ``Σ_i r_i ℓ_i / max(#valid, 1)`` where valid = ≥ 1 positive
and ≥ 1 negative. Computed in the features' dtype promoted to fp32 at least (fp64 gives the oracle).
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F

VARIANTS = ("paper", "official")
REDUCTIONS = ("mean", "sum", "none", "valid_anchors")
NORMS = ("l1", "l2")
PUSHINGS = ("exp", "linear")

#: per-variant defaults of the knobs (spec §1.10): (pushing, denominator_self, weight_final, phantom)
VARIANT_DEFAULTS = {"official": ("exp", False, True, True), "paper": ("exp", False, False, False)}


def label_distance(a: torch.Tensor, b: torch.Tensor, norm: str = "l1") -> torch.Tensor:
    """``[m, n]`` distances between rows of ``a [m]|[m,d]`` and ``b [n]|[n,d]``."""
    if a.dim() == 1:
        return (a[:, None] - b[None, :]).abs()
    if a.shape[1] == 1:
        return (a[:, :1] - b[:, 0][None, :]).abs()
    diff = a[:, None, :] - b[None, :, :]
    return diff.abs().sum(-1) if norm == "l1" else diff.pow(2).sum(-1).sqrt()


def conr_loss_ref(
    features: torch.Tensor,
    labels: torch.Tensor,
    preds: torch.Tensor,
    weights: Optional[torch.Tensor] = None,
    *,
    w: float = 1.0,
    temperature: float = 0.07,
    e: float = 0.01,
    variant: str = "paper",
    reduction: str = "mean",
    norm: str = "l1",
    pushing: Optional[str] = None,
    denominator_self: Optional[bool] = None,
    weight_final: Optional[bool] = None,
    phantom: Optional[bool] = None,
    return_valid: bool = False,
):
    """Dense ConR; see the module docstring. Returns the loss (and the number of valid anchors, an
    int64 0-d tensor, if ``return_valid``)."""
    dp, ds, dw, dph = VARIANT_DEFAULTS[variant]
    pushing = dp if pushing is None else pushing
    denominator_self = ds if denominator_self is None else denominator_self
    weight_final = dw if weight_final is None else weight_final
    phantom = dph if phantom is None else phantom
    dt = torch.promote_types(features.dtype, torch.float32)
    m = features.shape[0]
    z = features.to(dt)
    y, yh = labels.detach().to(dt), preds.detach().to(dt)
    a = (torch.ones(m, dtype=dt, device=z.device) if weights is None
         else weights.detach().reshape(m).to(dt))
    u = F.normalize(z, dim=1)
    s = u @ u.T / temperature
    dy = label_distance(y, y, norm)
    dyh = label_distance(yh, yh, norm)
    eye = torch.eye(m, dtype=torch.bool, device=z.device)
    pos = dy <= w
    if not denominator_self:
        pos = pos & ~eye
    neg = (dy > w) & (dyh <= w)
    loga = torch.log(a)[:, None]
    logpush = loga + e * dy if pushing == "exp" else loga + torch.log(e * dy)
    logits = torch.where(pos, s, torch.where(neg, s + logpush, -math.inf))
    npos = pos.sum(1).to(dt)
    nneg = neg.sum(1)
    if phantom:
        logits = torch.cat([logits, torch.log(m - npos)[:, None]], 1)
    # log D by log-sum-exp; rows without any logit are given zeros (log D = -inf is restored below)
    # so that their gradient is 0, not exp(-inf - (-inf)) = NaN
    has = (logits > -math.inf).any(1)
    logd = torch.logsumexp(torch.where(has[:, None], logits, 0.0), 1)
    logd = torch.where(has, logd, -math.inf)
    valid = (npos > 0) & (nneg > 0)
    if variant == "official":
        # (1/|P|) Σ P (log D − s): 0/0 = NaN for an anchor without a positive, as the official code
        ell = (pos * (logd[:, None] - s)).sum(1) / npos
        ell = ell * (nneg > 0)
    else:
        ell = logd - (pos * s).sum(1) / npos.clamp_min(1)
        ell = torch.where(valid, ell, torch.zeros_like(ell))
    if weight_final:
        ell = ell * a
    nvalid = valid.sum()
    if reduction == "none":
        out = ell
    elif reduction == "sum":
        out = ell.sum()
    elif reduction == "valid_anchors":
        out = ell.sum() / nvalid.clamp_min(1).to(dt)
    else:
        out = ell.sum() / max(m, 1)
    out = out.to(features.dtype)
    return (out, nvalid) if return_valid else out
