"""Reference soft sort and soft rank (L2 regularisation; Blondel et al., ICML 2020; spec
docs/distloss_softsort.md §2.2–2.4, §2.7, §2.8). These functions define dirfast's semantics.

Both sort ``θ`` ascending along the last dim, ``x = sort(θ)``, ``x_i = θ[perm_i]`` (0-based ``i``), and
split the positions ``0..n-1`` into contiguous blocks ``B`` by the pool-adjacent-violators algorithm
(PAV), written in the **centred** form (no quantity of size ``n/eps`` is ever formed, spec §2.8). With
``m_B`` the mean of ``x`` over ``B``, ``c_B`` the mean 0-based index of ``B`` and ``L_B = |B|``:

* soft sort: two adjacent blocks ``B1 < B2`` merge iff ``m₂ − m₁ ≥ (L₁ + L₂)/(2·eps)``;
  ``ŝ_i = m_B + (i − c_B)/eps``, returned **in sorted order** (as torchsort).
* soft rank: ``B1, B2`` merge iff ``m₂ − m₁ ≤ eps·(L₁ + L₂)/2``;
  ``r_i = (c_B + 1) + (x_i − m_B)/eps`` (ranks 1..n), scattered back: ``rank[perm_i] = r_i``.

**Tie rule** (every path of dirfast follows it): the sort is *stable* — equal values (``-0.0 == +0.0``)
keep their original order, ``perm`` ascending within a tie; NaN sorts last (``torch.sort(...,
stable=True)``, ``numpy.argsort(kind="stable")``). Forward values do not depend on it; the soft-sort
gradient at ties does (tied elements that are singleton blocks swap their ``g_i``), so it is fixed.

Equal values always pool in soft rank (tied values get the mean rank); in soft sort they pool only
when ``1/eps ≤ 0``, i.e. never. Gradients (what autograd through these functions gives): soft sort
``∂L/∂x_i = mean_{j∈B(i)} g_j``; soft rank ``∂L/∂x_i = (g̃_i − mean_{j∈B(i)} g̃_j)/eps`` with
``g̃_i = g[perm_i]``; both scattered to ``θ`` by ``perm``.

:func:`pav_blocks` is a plain stack PAV (a Python loop: the oracle, not a fast path) returning the
``block_start`` array (``block_start[i]`` = first index of the block of ``i``); the output is then
built from it with differentiable torch ops, so autograd of the reference gives the exact VJP.
:func:`soft_sort_scipy` / :func:`soft_rank_scipy` are an independent fp64 oracle built on
``scipy.optimize.isotonic_regression`` (scipy ≥ 1.12; the uncentred textbook form, whose error is
about ``(n/eps)·2⁻⁵³`` relative) for tests.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np
import torch
from torch import Tensor

__all__ = ["soft_sort_ref", "soft_rank_ref", "pav_blocks", "soft_sort_scipy", "soft_rank_scipy",
           "MODE_SORT", "MODE_RANK"]

MODE_SORT, MODE_RANK = 0, 1


def pav_blocks(x, eps: float, mode: int) -> np.ndarray:
    """Stack PAV over one sorted row ``x [n]`` (ascending; a numpy array or a list of floats, which
    is ~2× faster to walk; fp64 recommended).

    Returns ``block_start [n]`` int64. Merge rule for the top two blocks ``(a1, L1, S1)``,
    ``(a2, L2, S2)`` (start, length, sum): soft sort ``S2/L2 − S1/L1 ≥ (L1+L2)/(2·eps)``; soft rank
    ``S2/L2 − S1/L1 ≤ eps·(L1+L2)/2``. Each element is pushed once and popped at most once: O(n).
    """
    n = len(x)
    starts, lens, sums = [], [], []
    inv2 = 0.5 / eps
    half = 0.5 * eps
    for i in range(n):
        starts.append(i)
        lens.append(1)
        sums.append(float(x[i]))
        while len(starts) >= 2:
            l1, l2 = lens[-2], lens[-1]
            gap = sums[-1] / l2 - sums[-2] / l1
            merge = gap >= (l1 + l2) * inv2 if mode == MODE_SORT else gap <= (l1 + l2) * half
            if not merge:
                break
            s2 = sums.pop()
            lens.pop()
            starts.pop()
            sums[-1] += s2
            lens[-1] = l1 + l2
    out = np.empty(n, dtype=np.int64)
    for a, L in zip(starts, lens):
        out[a:a + L] = a
    return out


def _as_rows(theta: Tensor, fn: str) -> Tuple[Tensor, bool]:
    if theta.dim() == 1:
        return theta[None, :], True
    if theta.dim() != 2:
        raise ValueError(f"{fn}: expected a [n] or [batch, n] tensor, got shape {tuple(theta.shape)}")
    return theta, False


def _blocks(x: Tensor, eps: float, mode: int) -> Tensor:
    """``block_start [rows, n]`` int64 (CPU) from the sorted rows ``x`` (decided in fp64)."""
    xs = x.detach().to(torch.float64).cpu().numpy()
    return torch.from_numpy(np.stack([pav_blocks(r.tolist(), eps, mode) for r in xs]) if xs.shape[0]
                            else np.zeros(xs.shape, np.int64))


def _block_mean(v: Tensor, block_start: Tensor) -> Tensor:
    """Differentiable per-block mean of ``v [rows, n]``, broadcast back to every position."""
    rows, n = v.shape
    seg = (block_start + torch.arange(rows, device=v.device)[:, None] * n).reshape(-1)
    sums = torch.zeros(rows * n, dtype=v.dtype, device=v.device).index_add(0, seg, v.reshape(-1))
    counts = torch.bincount(seg, minlength=rows * n).to(v.dtype)
    return (sums[seg] / counts[seg]).reshape(rows, n)


def _centre(block_start: Tensor, dtype, device) -> Tensor:
    """``c_B`` (mean 0-based index of the block) at every position: ``start + (L − 1)/2``."""
    rows, n = block_start.shape
    seg = (block_start + torch.arange(rows, device=block_start.device)[:, None] * n).reshape(-1)
    counts = torch.bincount(seg, minlength=rows * n)[seg].reshape(rows, n)
    return (block_start.to(torch.float64) + (counts - 1).to(torch.float64) / 2).to(device=device,
                                                                                    dtype=dtype)


def soft_sort_ref(theta: Tensor, eps: float = 1.0) -> Tensor:
    """Soft sort of ``theta [n]`` or ``[batch, n]`` along the last dim (ascending), sorted order.

    ``ŝ_i = m_B + (i − c_B)/eps`` (module docstring). Computed in ``theta``'s dtype (block decisions in
    fp64); differentiable through torch ops. Σŝ = Σθ per row; ``ŝ = sort(θ)`` exactly when every
    consecutive gap of the sorted row is ``< 1/eps``.
    """
    t, squeeze = _as_rows(theta, "soft_sort_ref")
    x, _ = torch.sort(t, dim=-1, stable=True)
    bs = _blocks(x, eps, MODE_SORT).to(x.device)
    i = torch.arange(t.shape[-1], device=x.device, dtype=torch.float64)
    off = ((i - _centre(bs, torch.float64, x.device)) / eps).to(x.dtype)
    out = _block_mean(x, bs) + off
    return out[0] if squeeze else out


def soft_rank_ref(theta: Tensor, eps: float = 1.0) -> Tensor:
    """Soft rank (1..n, ascending) of ``theta [n]`` or ``[batch, n]`` along the last dim, in the
    original order: ``rank[perm_i] = (c_B + 1) + (x_i − m_B)/eps``. Exactly the hard ranks when every
    gap of the sorted row is ``> eps``; tied values share their mean rank."""
    t, squeeze = _as_rows(theta, "soft_rank_ref")
    x, perm = torch.sort(t, dim=-1, stable=True)
    bs = _blocks(x, eps, MODE_RANK).to(x.device)
    r = (_centre(bs, torch.float64, x.device) + 1).to(x.dtype) + (x - _block_mean(x, bs)) / eps
    out = torch.empty_like(r).scatter(-1, perm, r)
    return out[0] if squeeze else out


# -------------------------------------------------------------------------------------------------
# independent oracle (tests): scipy.optimize.isotonic_regression, uncentred fp64


def _iso(u: np.ndarray):
    from scipy.optimize import isotonic_regression

    res = isotonic_regression(u, increasing=True)
    starts = np.asarray(res.blocks[:-1], dtype=np.int64)
    lens = np.diff(np.asarray(res.blocks, dtype=np.int64))
    return np.asarray(res.x, dtype=np.float64), np.repeat(starts, lens)


def soft_sort_scipy(theta: np.ndarray, eps: float) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """fp64 oracle on ``theta [rows, n]``: ``u_i = (i+1)/eps − x_i``, ``v = iso↑(u)``,
    ``ŝ = (i+1)/eps − v``. Returns ``(ŝ [rows, n] sorted order, perm, block_start)``."""
    theta = np.asarray(theta, dtype=np.float64)
    perm = np.argsort(theta, axis=-1, kind="stable")
    x = np.take_along_axis(theta, perm, -1)
    w = np.arange(1, theta.shape[-1] + 1, dtype=np.float64) / eps
    out, bs = np.empty_like(x), np.empty(x.shape, np.int64)
    for k in range(x.shape[0]):
        v, bs[k] = _iso(w - x[k])
        out[k] = w - v
    return out, perm, bs


def soft_rank_scipy(theta: np.ndarray, eps: float) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """fp64 oracle on ``theta [rows, n]``: ``u_i = x_i/eps − (i+1)``, ``v = iso↑(u)``,
    ``r = x/eps − v`` scattered back. Returns ``(rank [rows, n] original order, perm, block_start)``."""
    theta = np.asarray(theta, dtype=np.float64)
    perm = np.argsort(theta, axis=-1, kind="stable")
    x = np.take_along_axis(theta, perm, -1)
    w = np.arange(1, theta.shape[-1] + 1, dtype=np.float64)
    out, bs = np.empty_like(x), np.empty(x.shape, np.int64)
    for k in range(x.shape[0]):
        v, bs[k] = _iso(x[k] / eps - w)
        np.put_along_axis(out[k:k + 1], perm[k:k + 1], (x[k] / eps - v)[None], -1)
    return out, perm, bs
