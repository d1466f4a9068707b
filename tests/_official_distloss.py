"""Test oracle: the official Dist Loss (Ngk03/DIR-Dist-Loss @ d487e68) re-written literally from the
spec's description (docs/distloss_softsort.md §1.2–1.4), quirks included. Our own code, not a copy.

* :func:`official_label_distribution` + :func:`official_batch_labels`: scipy ``gaussian_kde`` with a
  scalar ``bw_method``, ``np.arange`` grid, half-to-even rounding of the expected counts, tails lumped
  into the first/last bins whose cumulative mass reaches 1, the residual added over a window starting
  at ``argmax − |r|//2`` with **Python slicing** (a negative start wraps: the official window-underflow
  bug) and floor division for ``|r| > R`` (the ``r < −R`` bug), labels written into a zero array of
  length N with the value accumulated ``a, a+h, …`` (numpy slice assignment truncates past N; unwritten
  entries stay 0).
* :func:`official_dist_loss`: the forward of the official ``DistLoss`` module in float64: the (N, 1)
  predictions soft-sorted as one row by an fp64 PAV with fast-soft-sort's VJP (block averaging; here
  through ``scipy.optimize.isotonic_regression``), the elementwise distance to the pseudo-labels times
  the weight of the i-th sample in **batch** order (positional weights), ``λ·d + plain``, mean.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import isotonic_regression
from scipy.stats import gaussian_kde


def official_label_distribution(labels, bw_method=0.5, min_label=0, max_label=120, step=1):
    """pmf over ``np.arange(min_label, max_label + step, step)`` from scipy's KDE."""
    labels = np.asarray(labels, dtype=np.float64).reshape(-1)
    labels = labels[(labels >= min_label) & (labels <= max_label)]
    kde = gaussian_kde(labels, bw_method=bw_method)
    grid = np.arange(min_label, max_label + step, step)
    density = kde(grid)
    return density / density.sum()


def official_batch_labels(density, batch_size, min_label=0, step=1):
    """The official count rounding and label construction (quirks included)."""
    K = len(density)
    expected = density * batch_size
    half = int(0.5 * K)
    front = np.cumsum(expected)
    back = np.cumsum(expected[::-1])[::-1]
    kf = int(np.where(front >= 1)[0][0])
    kb = int(np.where(back >= 1)[0][-1])
    counts = np.zeros(K, dtype=np.int64)
    counts[kf] = round(front[kf])
    for k in range(kf + 1, kb):
        counts[k] = round(expected[k])
    counts[kb] = round(back[kb])
    r = batch_size - int(counts.sum())
    m = int(np.argmax(counts))
    if r != 0:
        sgn = 1 if r > 0 else -1
        if abs(r) <= half:
            start = m - abs(r) // 2
            counts[start:start + abs(r)] += sgn          # Python slice: negative start wraps
        else:
            start = m - half // 2
            counts[start:start + half] += (r // half) * sgn  # floor division: wrong sign for r < 0
            counts[m] += r % half
    out = np.zeros(batch_size, dtype=np.float64)
    idx = 0
    label = float(min_label)
    for k in range(K):
        c = int(counts[k])
        out[idx:idx + c] = label
        idx += c
        label += step
    return out


class _OfficialSoftSort(torch.autograd.Function):
    """Ascending fp64 soft sort of one row with fast-soft-sort's numerics: ``w = ρ/ε`` with
    ``ρ = (n, …, 1)``, ``s`` = descending sort of ``−θ``, ``v = iso↓(w − s)``, output ``−(w − v)``;
    backward = block average of the incoming gradient over the PAV blocks, scattered by the sort."""

    @staticmethod
    def forward(ctx, theta, eps):
        th = theta.detach().cpu().numpy().astype(np.float64)
        n = th.size
        perm = np.argsort(-(-th), kind="stable")  # ascending order of θ = descending order of −θ
        s = -th[perm]                              # descending
        w = np.arange(n, 0, -1, dtype=np.float64) / eps
        res = isotonic_regression(w - s, increasing=False)
        v = np.asarray(res.x, dtype=np.float64)
        out = -(w - v)
        blocks = np.asarray(res.blocks, dtype=np.int64)
        ctx.save_for_backward(torch.from_numpy(perm), torch.from_numpy(blocks))
        return torch.from_numpy(out).to(theta.device)

    @staticmethod
    def backward(ctx, g):
        perm, blocks = ctx.saved_tensors
        g = g.detach().cpu().numpy().astype(np.float64)
        gx = np.empty_like(g)
        b = blocks.numpy()
        for a, z in zip(b[:-1], b[1:]):
            gx[a:z] = g[a:z].mean()
        grad = np.empty_like(gx)
        grad[perm.numpy()] = gx
        return torch.from_numpy(grad), None


def _elem(loss, a, b):
    d = a - b
    if loss == "l1":
        return d.abs()
    if loss == "l2":
        return d * d
    if loss == "huber":
        return torch.where(d.abs() < 1.0, 0.5 * d * d, d.abs() - 0.5)
    if loss == "focal_l1":
        return d.abs() * (2 * torch.sigmoid(0.2 * d.abs()) - 1)
    raise ValueError(loss)


def official_dist_loss(preds, targets, pseudo_labels, weights=None, *, loss="l1", lam=1.0, eps=0.1):
    """Official DistLoss.forward on (N, 1) float64 tensors (``weights`` (N, 1) or None)."""
    preds = preds.double()
    row = preds.reshape(1, -1)
    soft = _OfficialSoftSort.apply(row.reshape(-1), eps).reshape(-1, 1)
    q = torch.as_tensor(pseudo_labels, dtype=torch.float64).reshape(-1, 1)
    dist = _elem(loss, soft, q)
    plain = _elem(loss, preds, targets.double())
    if weights is not None:
        dist = dist * weights.double()
        plain = plain * weights.double()
    return (lam * dist + plain).mean()
