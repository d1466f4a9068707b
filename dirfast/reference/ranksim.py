"""Reference RankSim (Gong et al., ICML 2022; docs/conr_ranksim_bmse.md §2): dense PyTorch on the
compacted subset, autograd through torch ops plus the blackbox ranker.

Given the subset ``rows[:U]`` chosen by :func:`dirfast.ranksim_subset` (the subset rule is part of the
semantics; the reference compacts it with a host read, which the fast paths never do):

* ``u = normalize(features[rows].flatten(1))`` (eps 1e-12), ``S^z_ij = u_i·u_j``,
  ``S^y_ij = −|y_i − y_j|``;
* per row ``i`` the columns ``C_i`` = every subset row (``variant="official"``: the diagonal
  included, ``n = U``) or every subset row but ``i`` (``variant="default"``: ``n = U − 1``);
* ``rk(v)_j = (1 + #{k ∈ C_i ranked before j})/n``: normalised **descending** ranks (largest → 1/n,
  smallest → 1). Ties: the column **later in the subset** ranks first — the order
  ``argsort(argsort(v).flip(1))`` gives with a stable ``argsort`` (the official code's expression;
  its unstable CUDA/CPU argsort orders ties arbitrarily);
* ``ℓ_i = (1/n) Σ_{j∈C_i} (rk(S^z_i)_j − rk(S^y_i)_j)²``; ``"sum"`` = ``Σ_i ℓ_i`` (official),
  ``"mean"`` = ``Σ_i ℓ_i / U``, ``"none"`` = ``[B]`` with ``ℓ_i`` at the subset's rows, 0 elsewhere.

Gradient (``rank="blackbox"``, Vlastelica et al.): ``rk`` of the feature rows is piecewise constant;
the backward, given ``g = ∂L/∂rk``, re-ranks ``S' = S + λ·g`` and returns
``∂L/∂S ≈ −(rk(S) − rk(S'))/(λ + 1e-8)`` (the official ``TrueRanker``), exactly, row by row.
``rank="soft"``: ``rk = (n + 1 − soft_rank(S_i, ε))/n`` (L2 soft ranks of :mod:`dirfast.soft_sort`,
exact ranks when every gap exceeds ε), differentiated by autograd. Labels never get a gradient.

Computed in fp32 (fp64 for fp64 features; fp16/bf16 in fp32).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .soft_sort import soft_rank_ref

VARIANTS = ("default", "official")
REDUCTIONS = ("mean", "sum", "none")
RANKS = ("blackbox", "soft")
SUBSAMPLES = ("unique_labels", "none")
#: reduction when ``reduction=None``: the official code sums the rows
VARIANT_REDUCTION = {"default": "mean", "official": "sum"}
#: the official ``TrueRanker``'s denominator guard
BLACKBOX_EPS = 1e-8


def rank_desc_ref(v: Tensor) -> Tensor:
    """Normalised descending ranks of each row of ``v [m, n]`` (ties: later column first)."""
    n = v.shape[1]
    perm = torch.sort(v, dim=1, stable=True).indices  # ascending, ties by index
    pos = torch.empty_like(perm).scatter_(1, perm, torch.arange(n, device=v.device).expand_as(perm))
    return (n - pos).to(v.dtype) / n


class BlackboxRankRef(torch.autograd.Function):
    """Row-wise :func:`rank_desc_ref` with the Vlastelica backward (the official ``TrueRanker`` on a
    whole matrix at once: each row is ranked independently, so it equals the per-row calls)."""

    @staticmethod
    def forward(ctx, v, lam):
        r = rank_desc_ref(v)
        ctx.lam = lam
        ctx.save_for_backward(v, r)
        return r

    @staticmethod
    def backward(ctx, g):
        v, r = ctx.saved_tensors
        r2 = rank_desc_ref(v + ctx.lam * g)
        return -(r - r2) / (ctx.lam + BLACKBOX_EPS), None


def _off_diagonal(a: Tensor) -> Tensor:
    m = a.shape[0]
    keep = ~torch.eye(m, dtype=torch.bool, device=a.device)
    return a[keep].reshape(m, m - 1)


def ranksim_loss_ref(features: Tensor, labels: Tensor, rows: Tensor, num_rows: Tensor, *,
                     interpolation_lambda: float = 2.0, reduction: str = "mean",
                     rank: str = "blackbox", regularization_strength: float = 0.01,
                     variant: str = "default") -> Tensor:
    """RankSim on ``features [B, ...]``, ``labels [B]`` over the subset ``rows[:num_rows]`` (``rows``
    int64 ``[K]``, ``num_rows`` int64 0-d, from :func:`dirfast.ranksim_subset`)."""
    b = features.shape[0]
    dt = torch.float64 if features.dtype == torch.float64 else torch.float32
    u_all = int(num_rows)  # host read: the reference compacts the subset
    idx = rows[:u_all]
    x = features[idx].reshape(u_all, -1).to(dt)
    y = labels.detach().reshape(b)[idx].to(dt)
    u = F.normalize(x, dim=1)
    s = u @ u.t()
    ly = -(y[:, None] - y[None, :]).abs()
    if variant == "default":
        if u_all < 2:
            row = s.sum(1) * 0.0  # no column to rank: 0 (keeps the graph)
            return _reduce(row, idx, b, u_all, reduction, features.dtype)
        s, ly = _off_diagonal(s), _off_diagonal(ly)
    if rank == "blackbox":
        rz = BlackboxRankRef.apply(s, interpolation_lambda)
    else:
        n = s.shape[1]
        rz = (n + 1 - soft_rank_ref(s, regularization_strength)) / n
    ry = rank_desc_ref(ly)
    row = ((rz - ry) ** 2).mean(1)
    return _reduce(row, idx, b, u_all, reduction, features.dtype)


def _reduce(row, idx, b, u_all, reduction, out_dtype):
    if reduction == "sum":
        out = row.sum()
    elif reduction == "mean":
        out = row.sum() / max(u_all, 1)
    else:
        out = row.new_zeros(b).index_put((idx,), row)
    return out.to(out_dtype)
