r"""Reference Dist Loss (Nie et al., ICLR 2025, official ``Ngk03/DIR-Dist-Loss``; spec
docs/distloss_softsort.md §1) and its pseudo-label generators. These functions define dirfast's semantics.

**Loss.** For predictions ``p [N]``, targets ``y [N]``, sorted pseudo-labels ``q [N]`` and optional
per-sample weights ``w [N]`` (1 if absent)::

    x, perm = sort(p)                      # ascending, x_i = p[perm_i]
    ŝ       = soft_sort(x, eps)            # L2 soft sort by PAV, centred form (reference.soft_sort)
    L_dist  = Σ_i w'_i · ℓ(ŝ_i − q_i)      # sorted positions i
    L_samp  = Σ_k w_k  · ℓ(p_k − y_k)      # batch positions k
    L       = (λ·L_dist + L_samp) / N      # reduction="mean" (official); "sum": without /N

``w'`` is ``dist_weighting``: ``"by_rank"`` (default) ``w'_i = w[perm_i]``, the weight of the sample
that lands at rank ``i``; ``"official"`` ``w'_i = w_i``, the weight of the ``i``-th sample in *batch*
order (the official quirk, spec §1.4: a random re-weighting of sorted positions); ``"none"`` ``w' = 1``.
``reduction="none"`` returns ``[N]`` in batch order, element ``k`` = ``λ·w'_{r(k)}·ℓ(ŝ_{r(k)} −
q_{r(k)}) + w_k·ℓ(p_k − y_k)`` with ``r`` the rank (inverse of ``perm``): the distance term of the rank
sample ``k`` occupies, so its sum is the ``"sum"`` value.

``ℓ`` (same for both terms): ``"l1"`` ``|d|``; ``"l2"`` ``d²``; ``"huber"`` ``½d²/β`` if ``|d| < β``
else ``|d| − ½β`` (β = 1); ``"focal_l1"`` ``|d|·(2σ(β|d|) − 1)^γ`` (β = 0.2, γ = 1), the modulator
computed as ``tanh(β|d|/2)`` (equal, without the cancellation of ``2σ − 1`` for small ``β|d|``; see
:func:`dirfast.reference.weighted_loss.focal_modulator`).

Closed-form gradient (spec §1.7; what the fused ops compute in their forward), ``s`` = 1/N or 1::

    g_ŝ_i = s·λ·w'_i·ℓ'(ŝ_i − q_i);   g_x_i = mean_{j ∈ B(i)} g_ŝ_j   (PAV block of i)
    ∂L/∂p_k = g_x_{r(k)} + s·w_k·ℓ'(p_k − y_k)

**Pseudo-labels** (spec §1.2): a Gaussian KDE of the training labels in ``[a, b]`` (kernel std
``bw·std(L, ddof=1)``, scipy's scalar ``bw_method``) evaluated on the grid ``t_k = a + k·h``,
``k < K = len(numpy.arange(a, b + h, h))``, normalised to a pmf ``π``. Then

* ``method="quantile"`` (dirfast default): mid-point quantiles ``q_j = Q((j + ½)/N)``; ``grid="bins"``:
  ``Q(u) = t_{k*}``, ``k* = min{k : Σ_{i≤k} π_i ≥ u}``; ``grid="continuous"``: the piecewise-linear
  inverse of the CDF of the density that spreads ``π_k`` uniformly over the cell
  ``[t_k − h/2, t_k + h/2]`` (no ties; its mean equals the pmf mean ``Σ π_k t_k`` exactly).
* ``method="official"``: the official rounding of the expected counts ``e = N·π`` with the tails lumped
  into the first/last bins whose cumulative mass reaches 1, and the residual ``N − Σc`` spread over a
  window around the first mode (spec §1.2 steps 5–9), labels accumulated as ``a, a+h, (a+h)+h, …``.
  Whenever the official window would leave ``[0, K)``, ``r < −R``, a count would go negative or
  ``Σc ≠ N`` (cases where the official code returns garbage), both fixes of the spec are applied
  (window clamped into ``[0, K)``, the ``r < −R`` branch subtracts) with a largest-remainder rounding
  of ``e`` as the final fallback, and a ``UserWarning`` says so.
"""

from __future__ import annotations

import warnings
from typing import Optional, Tuple

import numpy as np
import torch
from torch import Tensor

from .soft_sort import _block_mean, _centre, pav_blocks, MODE_SORT
from .weighted_loss import focal_modulator, tanh_sech2

__all__ = ["dist_loss_ref", "pseudo_labels_ref", "kde_pmf_ref", "label_grid", "pmf_to_pseudo_labels",
           "official_counts", "soft_sort_sorted_ref", "loss_and_grad", "LOSSES", "DIST_WEIGHTINGS",
           "REDUCTIONS", "METHODS", "GRIDS", "VARIANTS", "DEFAULT_BETA"]

LOSSES = ("l1", "l2", "huber", "focal_l1")
DIST_WEIGHTINGS = ("by_rank", "official", "none")
REDUCTIONS = ("mean", "sum", "none")
METHODS = ("quantile", "official")
GRIDS = ("bins", "continuous")
VARIANTS = ("default", "official")
#: official defaults: focal β = 0.2 (sigmoid modulator), γ = 1; Huber β = 1
DEFAULT_BETA = {"l1": 1.0, "l2": 1.0, "huber": 1.0, "focal_l1": 0.2}


# -------------------------------------------------------------------------------------------------
# pseudo-labels


def label_grid(min_label: float, max_label: float, step: float) -> np.ndarray:
    """The official grid ``numpy.arange(a, b + h, h)`` (``[K]`` float64; float ``arange`` can give one
    point more than ``(b − a)/h + 1`` for non-integer ``h``, as officially)."""
    return np.arange(min_label, max_label + step, step, dtype=np.float64)


def _bw_factor(bw, n: int) -> float:
    if isinstance(bw, str):
        if bw == "scott":
            return n ** (-1.0 / 5)
        if bw == "silverman":
            return (n * 3.0 / 4.0) ** (-1.0 / 5)
        raise ValueError(f"bw must be a positive number, 'scott' or 'silverman', got {bw!r}")
    return float(bw)


def kde_pmf_ref(train_labels: Tensor, *, bw=0.5, min_label: float = 0.0, max_label: float = 120.0,
                step: float = 1.0) -> Tuple[np.ndarray, np.ndarray]:
    """Gaussian-KDE pmf of the training labels on the official grid.

    Args:
        train_labels: ``[M]`` (or any shape) real tensor; labels outside ``[a, b]`` are dropped.
        bw: scipy ``bw_method``: a positive scalar factor (official), ``"scott"`` or ``"silverman"``.

    Returns:
        ``(t, pmf)``: ``[K]`` float64 numpy arrays, ``pmf_k = f(t_k)/Σ_j f(t_j)`` with
        ``f(t) ∝ Σ_i exp(−½((t − L_i)/σ)²)``, ``σ = factor·std(L, ddof=1)``. Labels are grouped by
        value first (exact), so the cost is ``O(distinct labels · K)``.
    """
    lab = train_labels.detach().reshape(-1).to(torch.float64).cpu().numpy()
    lab = lab[(lab >= min_label) & (lab <= max_label)]
    if lab.size < 2:
        raise ValueError(f"the KDE needs at least 2 training labels in [{min_label}, {max_label}], "
                         f"got {lab.size}")
    sd = float(np.std(lab, ddof=1))
    if not sd > 0:
        raise ValueError("the KDE needs training labels that are not all equal (their std is 0)")
    sigma = _bw_factor(bw, lab.size) * sd
    t = label_grid(min_label, max_label, step)
    vals, counts = np.unique(lab, return_counts=True)
    dens = np.zeros(t.size, dtype=np.float64)
    chunk = max(1, 4_000_000 // max(t.size, 1))
    for s in range(0, vals.size, chunk):
        z = (t[:, None] - vals[None, s:s + chunk]) / sigma
        dens += np.exp(-0.5 * z * z) @ counts[s:s + chunk].astype(np.float64)
    total = dens.sum()
    if not total > 0:
        raise ValueError("the KDE has no mass on the label grid (bandwidth too small for the grid?)")
    return t, dens / total


def _largest_remainder(e: np.ndarray, n: int) -> np.ndarray:
    c = np.floor(e).astype(np.int64)
    short = n - int(c.sum())
    if short > 0:
        order = np.argsort(-(e - c), kind="stable")
        c[order[:short]] += 1
    elif short < 0:  # cannot happen for e ≥ 0 with Σe = n up to rounding; keep Σc = n anyway
        order = np.argsort(e - c, kind="stable")
        for k in order:
            if short == 0:
                break
            take = min(int(c[k]), -short)
            c[k] -= take
            short += take
    return c


def official_counts(pmf: np.ndarray, n: int) -> Tuple[np.ndarray, bool]:
    """Integer counts per grid point of the official generator (spec §1.2 steps 5–8).

    Returns ``(counts [K] int64, official_ok)``. ``official_ok`` is True when the official procedure
    itself is well defined (a first/last bin with tail mass ≥ 1 exists, the residual window lies inside
    ``[0, K)``, ``r ≥ −R``, no count goes negative and ``Σc = N``); the counts are then exactly the
    official ones. Otherwise the counts come from the fixed procedure (window clamped into ``[0, K)``,
    ``r < −R`` subtracts), or from a largest-remainder rounding of ``N·π`` if that still fails.
    """
    K = pmf.size
    e = n * pmf
    F = np.cumsum(e)
    G = np.cumsum(e[::-1])[::-1]
    R = int(0.5 * K)
    kf_all = np.nonzero(F >= 1)[0]
    kb_all = np.nonzero(G >= 1)[0]
    if kf_all.size == 0 or kb_all.size == 0 or R == 0:
        return _largest_remainder(e, n), False
    kf, kb = int(kf_all[0]), int(kb_all[-1])
    base = np.zeros(K, dtype=np.int64)
    base[kf] = int(np.rint(F[kf]))
    if kb - kf > 1:
        base[kf + 1:kb] = np.rint(e[kf + 1:kb]).astype(np.int64)
    base[kb] = int(np.rint(G[kb]))
    r = n - int(base.sum())
    m = int(np.argmax(base))
    ok = True
    c = base.copy()
    if r != 0:
        sg = 1 if r > 0 else -1
        if abs(r) <= R:
            s = m - abs(r) // 2
            ok = s >= 0 and s + abs(r) <= K
            s = min(max(s, 0), K - abs(r))
            c[s:s + abs(r)] += sg
        else:
            s = m - R // 2
            ok = r > 0 and s >= 0 and s + R <= K
            s = min(max(s, 0), K - R)
            quo, rem = divmod(abs(r), R)
            c[s:s + R] += sg * quo
            c[m] += sg * rem
    if (c < 0).any() or int(c.sum()) != n:
        return _largest_remainder(e, n), False
    return c, ok


def pmf_to_pseudo_labels(t: np.ndarray, pmf: np.ndarray, n: int, *, method: str = "quantile",
                         grid: str = "bins", step: Optional[float] = None,
                         warn: bool = True) -> np.ndarray:
    """``[n]`` float64 sorted pseudo-labels from a pmf ``pmf [K]`` on the grid ``t [K]`` (module
    docstring). ``step`` is ``h`` (default ``t[1] − t[0]``, or 1 for ``K = 1``)."""
    if step is None:
        step = float(t[1] - t[0]) if t.size > 1 else 1.0
    if method == "quantile":
        u = (np.arange(n, dtype=np.float64) + 0.5) / n
        P = np.cumsum(pmf)
        if grid == "bins":
            k = np.minimum(np.searchsorted(P, u, side="left"), t.size - 1)
            return t[k].copy()
        # continuous: cell k = [t_k − h/2, t_k + h/2] carries mass π_k uniformly
        P0 = np.concatenate([[0.0], P])
        k = np.minimum(np.searchsorted(P, u, side="left"), t.size - 1)
        mass = pmf[k]
        frac = np.where(mass > 0, (u - P0[k]) / np.where(mass > 0, mass, 1.0), 0.5)
        out = t[k] - 0.5 * step + np.clip(frac, 0.0, 1.0) * step
        return np.maximum.accumulate(out)  # monotone against last-ulp rounding between cells
    counts, ok = official_counts(pmf, n)
    if not ok and warn:
        warnings.warn(
            f"Dist Loss official pseudo-labels for N={n}: the official generator is ill-defined here "
            "(residual window outside the grid, r < −R, negative counts or Σc ≠ N: the official code "
            "would return zero-padded or unsorted labels); applied the fixes (clamped window, "
            "subtracting branch, largest-remainder fallback)", UserWarning, stacklevel=3)
    # label of grid point k accumulated as a, a+h, (a+h)+h, ... (official float accumulation)
    vals = np.empty(t.size, dtype=np.float64)
    v = float(t[0])
    for k in range(t.size):
        vals[k] = v
        v += step
    return np.repeat(vals, counts)


def pseudo_labels_ref(train_labels: Tensor, n: int, *, method: str = "quantile", grid: str = "bins",
                      bw=0.5, min_label: float = 0.0, max_label: float = 120.0,
                      step: float = 1.0) -> Tensor:
    """``[n]`` float64 CPU tensor of sorted pseudo-labels (module docstring; no input checks)."""
    t, pmf = kde_pmf_ref(train_labels, bw=bw, min_label=min_label, max_label=max_label, step=step)
    return torch.from_numpy(pmf_to_pseudo_labels(t, pmf, n, method=method, grid=grid, step=step))


# -------------------------------------------------------------------------------------------------
# loss


def loss_and_grad(d: Tensor, loss: str, beta: float, gamma: float) -> Tuple[Tensor, Tensor]:
    """``(ℓ(d), ℓ'(d))`` elementwise (module docstring), ``sign(0) = 0`` as torch."""
    a = d.abs()
    sg = torch.sign(d)
    if loss == "l1":
        return a, sg
    if loss == "l2":
        return d * d, 2 * d
    if loss == "huber":
        small = a < beta
        return torch.where(small, 0.5 * d * d / beta, a - 0.5 * beta), torch.where(small, d / beta, sg)
    if loss == "focal_l1":
        c = 0.5 * beta  # 2σ(βa) − 1 = tanh(βa/2), without the cancellation for small βa
        m, s2 = tanh_sech2(c * a)
        dm = c * s2
        pos = m > 0
        m_safe = torch.where(pos, m, torch.ones_like(m))
        mg = torch.where(pos, m_safe.pow(gamma), torch.full_like(m, 1.0 if gamma == 0 else 0.0))
        dmg = torch.where(pos, gamma * (mg / m_safe) * dm * sg, torch.zeros_like(m))
        return a * mg, sg * mg + a * dmg
    raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")


def _loss(d: Tensor, loss: str, beta: float, gamma: float) -> Tensor:
    a = d.abs()
    if loss == "l1":
        return a
    if loss == "l2":
        return d * d
    if loss == "huber":
        return torch.where(a < beta, 0.5 * d * d / beta, a - 0.5 * beta)
    if loss == "focal_l1":
        return a * focal_modulator(a, beta, gamma, "sigmoid")
    raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")


def soft_sort_sorted_ref(x: Tensor, eps: float) -> Tensor:
    """Soft sort of an already ascending ``x [N]`` (differentiable: ``ŝ_i = m_B + (i − c_B)/eps``,
    PAV blocks decided in fp64 on the host)."""
    bs = torch.from_numpy(pav_blocks(x.detach().to(torch.float64).cpu().tolist(), eps, MODE_SORT))
    bs = bs[None].to(x.device)
    i = torch.arange(x.shape[0], device=x.device, dtype=torch.float64)
    off = ((i - _centre(bs, torch.float64, x.device)[0]) / eps).to(x.dtype)
    return _block_mean(x[None], bs)[0] + off


def dist_loss_ref(preds: Tensor, targets: Tensor, pseudo_labels: Tensor,
                  weights: Optional[Tensor] = None, *, loss: str = "l1", lam: float = 1.0,
                  eps: float = 0.1, dist_weighting: str = "by_rank", reduction: str = "mean",
                  beta: Optional[float] = None, gamma: float = 1.0) -> Tensor:
    """Dist Loss, written out with torch ops (autograd gives the gradient).

    Args:
        preds, targets: ``[N]`` or ``[N, 1]`` floating, same shape and dtype.
        pseudo_labels: ``[N]`` (or ``[N, 1]``) sorted ascending, any floating dtype (cast to preds').
        weights: ``None`` or ``[N]``/``[N, 1]`` per-sample weights.
        loss, lam (λ), eps (soft-sort strength), dist_weighting, reduction, beta, gamma: module
            docstring (``beta=None``: 1 for huber, 0.2 for focal_l1).

    Returns:
        0-d (``mean``/``sum``) or ``[N]`` (``none``, batch order), in ``preds``' dtype.
    """
    beta = DEFAULT_BETA[loss] if beta is None else beta
    p = preds.reshape(-1)
    y = targets.reshape(-1)
    q = pseudo_labels.reshape(-1).to(p.dtype)
    n = p.shape[0]
    x, perm = torch.sort(p, stable=True)
    s_hat = soft_sort_sorted_ref(x, eps)
    w = None if weights is None else weights.reshape(-1).to(p.dtype)
    if w is None or dist_weighting == "none":
        wd = None
    elif dist_weighting == "by_rank":
        wd = w[perm]
    else:
        wd = w
    ld = _loss(s_hat - q, loss, beta, gamma)
    if wd is not None:
        ld = ld * wd
    ls = _loss(p - y, loss, beta, gamma)
    if w is not None:
        ls = ls * w
    if reduction == "none":
        return torch.zeros_like(ls).index_add(0, perm, lam * ld) + ls
    total = lam * ld.sum() + ls.sum()
    return total / n if reduction == "mean" else total
