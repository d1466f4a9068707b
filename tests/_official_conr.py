"""Parity oracle: a literal re-implementation of the official ConR age loss (BorealisAI/ConR
``agedb-dir/loss.py``, as restated in spec conr_ranksim_bmse.md §1.3), written the way that code is:
q and k the same normalised tensor, dense ``[M, M]`` masks from flattened labels, the diagonal of the
positive mask cleared by a Python loop, ``exp(prod * pos_mask)`` summed over the whole row (the
phantom exp(0) terms), negatives masked after the exp, ``(1/|P|)·Σ P·(log D − s)`` (NaN without a
positive), zeroed for anchors without a negative, the weight applied again in the final mean.
Paraphrased from the spec; no repository code is copied. Runs in the inputs' dtype."""

import torch
import torch.nn.functional as F


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
