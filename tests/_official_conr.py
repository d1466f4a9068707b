"""Parity oracle: a literal re-implementation of the official ConR age loss (BorealisAI/ConR
``agedb-dir/loss.py``, as restated in docs/conr_ranksim_bmse.md §1.3), written the way that code is:
q and k the same normalised tensor, dense ``[M, M]`` masks from flattened labels, the diagonal of the
positive mask cleared by a Python loop, ``exp(prod * pos_mask)`` summed over the whole row (the
phantom exp(0) terms), negatives masked after the exp, ``(1/|P|)·Σ P·(log D − s)`` (NaN without a
positive), zeroed for anchors without a negative, the weight applied again in the final mean.
Paraphrased from the spec; no repository code is copied. Runs in the inputs' dtype.

Also :func:`lse_oracle`, an fp64 log-sum-exp oracle of both variants written row by row, and the
small-temperature cases shared by the CPU and interpreter tiers (:func:`toy_want`, :func:`low_tau_batch`)."""

import math

import torch
import torch.nn.functional as F

F64 = torch.float64


def official_conr(features, targets, preds, w=1.0, weights=1.0, t=0.07, e=0.01):
    q = F.normalize(features, dim=1)
    k = F.normalize(features, dim=1)
    l_k = targets.flatten()[None, :]
    l_q = targets
    p_k = preds.flatten()[None, :]
    p_q = preds
    l_dist = torch.abs(l_q - l_k)
    p_dist = torch.abs(p_q - p_k)
    pos_i = l_dist.le(w)
    neg_i = (~(l_dist.le(w))) * (p_dist.le(w))
    for i in range(pos_i.shape[0]):
        pos_i[i][i] = 0
    prod = torch.einsum("nc,kc->nk", [q, k]) / t
    pos = prod * pos_i
    neg = prod * neg_i
    pushing_w = weights * torch.exp(l_dist * e)
    neg_exp_dot = (pushing_w * (torch.exp(neg)) * neg_i).sum(1)
    # anchors with at least one negative
    neg_mask = (neg_i.sum(1) > 0).to(features.dtype)
    denom = neg_exp_dot + torch.sum(torch.exp(pos), dim=1)
    loss = (pos_i * (torch.log(denom)[:, None] - pos)).sum(1) / pos_i.sum(1) * neg_mask
    loss = (weights.flatten() if torch.is_tensor(weights) else weights) * loss
    return loss.mean()


# ------------------------------------------------------------------------------------------------
# fp64 log-sum-exp oracle (not the official code): ConR written row by row, for the small-temperature
# tests. Independent of dirfast.reference (no masks, no where): each row's terms are listed
# explicitly and log D is torch.logsumexp of their logits, so e^{s} never over- or underflows.


def lse_oracle(features, labels, preds, weights=None, *, w=1.0, t=0.07, e=0.01, variant="paper"):
    """Per-row losses ``[M]`` (fp64, differentiable in ``features``) of the paper variant (anchors
    need ≥ 1 positive and ≥ 1 negative, else 0) or the official age variant (phantom exp(0) terms,
    weight applied again, 0 without a negative, NaN without a positive). 1-D labels, exp pushing."""
    z = features.double()
    u = z / z.norm(dim=1, keepdim=True).clamp_min(1e-12)
    y, yh = labels.double().tolist(), preds.double().tolist()
    m = len(y)
    a = [1.0] * m if weights is None else weights.double().reshape(m).tolist()
    rows = []
    for i in range(m):
        logits, pos_s, nneg = [], [], 0
        for j in range(m):
            dy, dyh = abs(y[i] - y[j]), abs(yh[i] - yh[j])
            s = (u[i] * u[j]).sum() / t
            if j != i and dy <= w:
                logits.append(s)
                pos_s.append(s)
            elif dy > w and dyh <= w:
                logits.append(s + math.log(a[i]) + e * dy)
                nneg += 1
        if variant == "official":
            if m - len(pos_s) > 0:
                logits.append(z.new_tensor(math.log(m - len(pos_s))))
            if not pos_s:
                rows.append(z.new_tensor(math.nan))
            elif nneg == 0:
                rows.append(z.new_zeros(()))
            else:
                rows.append(a[i] * (torch.logsumexp(torch.stack(logits), 0) - torch.stack(pos_s).mean()))
        elif pos_s and nneg:
            rows.append(torch.logsumexp(torch.stack(logits), 0) - torch.stack(pos_s).mean())
        else:
            rows.append(z.new_zeros(()))
    return torch.stack(rows)


TOY_F = [[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]]
TOY_Y, TOY_P = [0.0, 0.5, 3.0], [0.0, 0.5, 0.5]


def toy_want(tau, variant="paper", e=0.01):
    """Closed form of the issue's 3-row case: row 0 has the positive 1 (s = −1/τ) and the negative 2
    (s = 0, Δy = 3), row 1 the positive 0 and the negative 2 (Δy = 2.5); row 2 has no positive."""
    phantom = 2 if variant == "official" else 0  # M − |P_i| exp(0) terms
    rows = []
    for dy in (3.0, 2.5):
        terms = [-1.0 / tau, e * dy] + ([0.0] * phantom)
        mx = max(terms)
        rows.append(mx + math.log(sum(math.exp(t - mx) for t in terms)) + 1.0 / tau)
    rows.append(math.nan if variant == "official" else 0.0)
    return torch.tensor(rows, dtype=F64)


def low_tau_batch(m, d, seed, dtype=F64):
    """Dyadic labels/predictions (every |Δy|, |Δŷ| exact in any dtype: the masks agree across
    precisions), random directions (similarities spread over ±1/τ), weights in [0.5, 1.25]."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(m, d, generator=g, dtype=F64)
    y = torch.randint(0, 6, (m,), generator=g).to(F64) + 0.25 * torch.randint(0, 2, (m,), generator=g)
    yh = y + 0.5 * torch.randint(-3, 4, (m,), generator=g).to(F64)
    a = 0.5 + torch.randint(0, 4, (m,), generator=g).to(F64) / 4
    return z.to(dtype), y, yh, a


def fp32_grad_rtol(tau):
    """fp32 gradient tolerance (relative to the largest gradient) at temperature ``tau``: the
    conventions' 1e-5, but at least half an fp32 ulp of 1/τ. Rounding a logit ``s = cos/τ`` to fp32
    alone moves it by up to eps₃₂/(2τ) in absolute terms, i.e. each e^{s} (each softmax probability in
    the gradient) by that much relative: 6e-5 at τ = 1e-3, so 1e-5 is not attainable there."""
    return max(1e-5, torch.finfo(torch.float32).eps / (2 * tau))


def fp32_loss_atol(tau):
    """fp32 absolute tolerance on a loss row at temperature ``tau``: 1e-5, or one fp32 ulp of 1/τ —
    ``ℓ_i = log D_i − mean s`` is a difference of two logits of magnitude up to 1/τ, each rounded to
    fp32 (at τ = 1e-3 an ℓ of 2 is the difference of two numbers ≈ 1000, each ± 6e-5)."""
    return max(1e-5, torch.finfo(torch.float32).eps / tau)
