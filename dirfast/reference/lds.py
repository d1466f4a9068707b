r"""Reference LDS (label distribution smoothing; Yang et al., ICML 2021; docs/lds_fds.md §1.2–1.3).

Pure PyTorch (no NumPy/SciPy at run time), float64, any device. Defines dirfast's LDS semantics;
:mod:`dirfast.lds` maps labels to these weights quickly.

Kernel window (§1.2), ``ks`` odd, ``h = (ks − 1)/2``, ``i = 0..ks−1``:

* ``gaussian``: the official construction, ``scipy.ndimage.gaussian_filter1d`` of the delta
  :math:`\delta_{ih}` (``mode='reflect'``, ``truncate=4``), in closed form: with
  :math:`r = \lfloor 4\sigma + 0.5\rfloor` and :math:`g_k = e^{-k^2/(2\sigma^2)} / \sum_{|j|\le r}
  e^{-j^2/(2\sigma^2)}`,
  :math:`w_i = \sum_{|k| \le r} g_k\,[\mathrm{refl}(i+k) = h]` where
  :math:`\mathrm{refl}(j) = m` if :math:`m < ks` else :math:`2ks-1-m`, :math:`m = j \bmod 2ks`.
  When :math:`r > h` the folded tails make it much flatter than a sampled Gaussian
  (ks=5, σ=2: ``[0.85829, 0.94583, 1, 0.94583, 0.85829]``).
* ``triang``: ``scipy.signal.windows.triang(ks)`` = :math:`2n/(ks+1)`, :math:`n = 1..h+1`, mirrored.
* ``laplace``: :math:`e^{-|i-h|/\sigma}/(2\sigma)`.

then divided by its maximum (``normalize="peak"``, LDS) or its sum (``normalize="sum"``, FDS).

Weights (§1.3). With training labels :math:`y_1..y_N`, bins :math:`b(\cdot)` and counts
:math:`c_k = \#\{i : b(y_i) = k\}`:

.. math::
    v_k = \begin{cases} \sqrt{c_k} & \text{sqrt\_inv} \\ \mathrm{clip}(c_k, lo, hi) & \text{inverse}\end{cases},
    \qquad \tilde v = v * w \ (\text{if lds; zero padding}), \qquad
    u_k = 1/\tilde v_k, \qquad
    W_k = \frac{N\,u_k}{\sum_j c_j u_j},

so the per-sample weights :math:`W_{b(y_i)}` have mean exactly 1 over the training set.
``variant="official"`` reproduces the official quirks: with ``inverse`` the clipped counts are integers,
so ``scipy.ndimage.convolve1d`` returns int64 and the smoothed counts are **truncated toward zero**
before ``1/v``; the per-sample weights are float32 (``float32(1/v)``, scale ``float32(N)/float32(Σ)`` in
float32); a bin with :math:`\tilde v_k = 0` gets weight ``inf``. The default variant stays in float64
(no truncation). The convolution sums the taps in SciPy's order (centre, then symmetric pairs from the
outside in), so the truncation matches SciPy bit for bit for a bit-identical window.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch

from .._checks import check_scalar

__all__ = ["kernel_window", "smooth_counts", "bin_weights_ref", "lds_weights_ref", "KERNELS",
           "REWEIGHTS"]

KERNELS = ("gaussian", "triang", "laplace")
REWEIGHTS = ("none", "inverse", "sqrt_inv")
NORMALIZE = ("peak", "sum")
VARIANTS = ("default", "official")


def check_ks_sigma(ks, sigma, kernel: str, *, fn: str) -> Tuple[int, float]:
    if kernel not in KERNELS:
        raise ValueError(f"{fn}: kernel must be one of {KERNELS}, got {kernel!r}")
    if isinstance(ks, bool) or not isinstance(ks, int) or ks < 1 or ks % 2 == 0:
        raise ValueError(f"{fn}: ks must be an odd int >= 1, got {ks!r}")
    sigma = check_scalar("sigma", sigma, fn=fn, low=0.0, low_open=True)
    return ks, sigma


def kernel_window(kernel: str = "gaussian", ks: int = 5, sigma: float = 2.0, *,
                  normalize: str = "peak", dtype: torch.dtype = torch.float64,
                  device: Optional[torch.device] = None) -> torch.Tensor:
    """The official LDS/FDS smoothing window (formulas in the module docstring).

    Args:
        kernel: ``"gaussian" | "triang" | "laplace"``.
        ks: odd window length ≥ 1.
        sigma: > 0 (unused by ``triang`` but still checked).
        normalize: ``"peak"`` (max = 1, the LDS window) or ``"sum"`` (sum = 1, the FDS window).

    Returns:
        ``[ks]`` tensor of ``dtype`` (computed in float64), exactly symmetric.
    """
    fn = "kernel_window"
    ks, sigma = check_ks_sigma(ks, sigma, kernel, fn=fn)
    if normalize not in NORMALIZE:
        raise ValueError(f"{fn}: normalize must be one of {NORMALIZE}, got {normalize!r}")
    h = (ks - 1) // 2
    f64 = torch.float64
    i = torch.arange(h + 1, dtype=torch.int64)  # left half incl. centre; mirrored below
    if kernel == "gaussian":
        r = int(4.0 * sigma + 0.5)  # scipy: radius = int(truncate * sd + 0.5)
        k = torch.arange(-r, r + 1, dtype=torch.int64)
        phi = torch.exp((-0.5 / (sigma * sigma)) * k.to(f64) ** 2)  # scipy's expression order
        g = phi / phi.sum()
        j = (i[:, None] + k[None, :]) % (2 * ks)  # scipy 'reflect' (half-sample symmetric)
        refl = torch.where(j < ks, j, 2 * ks - 1 - j)
        half = torch.where(refl == h, g[None, :], torch.zeros((), dtype=f64)).sum(1)
    elif kernel == "triang":
        half = 2.0 * (i + 1).to(f64) / (ks + 1.0)  # scipy.signal.windows.triang, odd length
    else:
        x = (i - h).abs().to(f64)
        half = torch.exp(-x / sigma) / (2.0 * sigma)
    w = torch.cat([half, half[:-1].flip(0)])
    w = w / (w.max() if normalize == "peak" else w.sum())
    return w.to(dtype=dtype, device=device)


def smooth_counts(v: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """``scipy.ndimage.convolve1d(v, window, mode='constant')`` for an odd symmetric window.

    Args:
        v: ``[K]`` float64; window: ``[ks]`` float64 (odd, symmetric).

    Returns ``[K]`` float64, :math:`\\tilde v_k = \\sum_{|j| \\le h} w_{h+j} v_{k+j}` with
    :math:`v = 0` outside ``[0, K−1]``, summed in SciPy's order (centre tap first, then the pairs
    :math:`(v_{k-j} + v_{k+j})\\,w_{h-j}` for ``j = h..1``) so integer truncation can match SciPy.
    Vectorised (``unfold`` + a sequential ``cumsum`` over the ``h + 1`` terms), on the CPU.
    """
    ks = window.numel()
    h = (ks - 1) // 2
    v = v.to(torch.float64).cpu()
    fw = window.to(torch.float64).cpu().flip(0)  # convolve1d = correlate1d with reversed weights
    if h == 0:
        return v * fw[0]
    win = torch.nn.functional.pad(v, (h, h)).unfold(0, ks, 1)  # [K, ks]: win[k, t] = v[k + t − h]
    centre = win[:, h:h + 1] * fw[h]
    pairs = (win[:, :h] + win[:, h + 1:].flip(1)) * fw[:h]  # column t ↔ offset h − t: outside in
    return torch.cat([centre, pairs], dim=1).cumsum(dim=1)[:, -1]  # CPU cumsum: sequential order


def bin_weights_ref(counts: torch.Tensor, *, reweight: str = "sqrt_inv", lds: bool = True,
                    kernel: str = "gaussian", ks: int = 5, sigma: float = 2.0,
                    clip: Optional[Tuple[float, float]] = (5, 1000), variant: str = "default",
                    empty_bins: Optional[str] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per-bin LDS weights from training counts (module docstring equations).

    Args:
        counts: ``[K]`` training counts per bin (any real dtype, integer-valued, ≥ 0, sum N ≥ 1).
        reweight: ``"none" | "inverse" | "sqrt_inv"``; ``lds=True`` needs ``reweight != "none"``.
        clip: ``(lo, hi)`` applied to the counts for ``"inverse"`` only (official AgeDB/IMDB
            ``(5, 1000)``; ``None`` = no clipping, as STS-B-DIR).
        variant: ``"default"`` (float64) or ``"official"`` (integer truncation with inverse,
            float32 weights).
        empty_bins: weight of a bin whose (smoothed) value is 0 (only bins without training
            labels): ``"nearest"`` (the weight of the nearest bin with a finite weight, ties to the
            lower bin; default variant default), ``"inf"`` (``1/0``, the official result) or
            ``"error"`` (``inf`` here; :class:`dirfast.LDS` raises under validation when a label
            falls there).

    Returns:
        ``(smoothed, weights)``: ``[K]`` float64 CPU tensors, :math:`\\tilde v` (after sqrt/clip,
        smoothing and, officially, truncation) and :math:`W` (float32-representable values in the
        official variant). ``Σ_k counts_k W_k = N`` (exactly up to rounding).
    """
    fn = "bin_weights_ref"
    c = counts.detach().to(torch.float64).cpu()
    n = float(c.sum())
    if reweight not in REWEIGHTS:
        raise ValueError(f"{fn}: reweight must be one of {REWEIGHTS}, got {reweight!r}")
    if variant not in VARIANTS:
        raise ValueError(f"{fn}: variant must be one of {VARIANTS}, got {variant!r}")
    if empty_bins is None:
        empty_bins = "inf" if variant == "official" else "nearest"
    if reweight == "none":
        if lds:
            raise ValueError(f"{fn}: lds=True needs reweight='inverse' or 'sqrt_inv', got reweight='none' "
                             "(the official code asserts the same)")
        return torch.ones_like(c), torch.ones_like(c)
    integer = False
    if reweight == "sqrt_inv":
        v = c.sqrt()
    else:
        v = c
        if clip is not None:
            v = c.clamp(float(clip[0]), float(clip[1]))
        # official: counts are Python ints; np.clip with integer bounds keeps them int64
        integer = clip is None or all(float(b).is_integer() for b in clip)
    if lds:
        v = smooth_counts(v, kernel_window(kernel, ks, sigma, normalize="peak"))
        if variant == "official" and integer:
            v = v.trunc()  # convolve1d on int64 input returns int64: C cast, toward zero
    u = 1.0 / v  # inf where v == 0 (no training labels there)
    has = c > 0
    if variant == "official":
        u32 = u.to(torch.float32)
        s32 = (torch.where(has, c * u32.to(torch.float64), torch.zeros_like(c))).sum().to(torch.float32)
        scale = torch.tensor(n, dtype=torch.float32) / s32
        w = (scale * u32).to(torch.float64)
    else:
        s = torch.where(has, c * u, torch.zeros_like(c)).sum()
        w = u * (n / s)
    bad = ~torch.isfinite(w)
    if empty_bins == "nearest" and bool(bad.any()) and not bool(bad.all()):
        K = w.numel()
        ar = torch.arange(K)
        good_idx = torch.where(~bad, ar, torch.full_like(ar, -1))
        left = torch.cummax(good_idx, 0).values                                  # nearest good ≤ k
        right_rev = torch.where(~bad, K - 1 - ar, torch.full_like(ar, -1)).flip(0)
        right = (K - 1 - torch.cummax(right_rev, 0).values).flip(0)              # nearest good ≥ k
        dl = torch.where(left >= 0, ar - left, torch.full_like(ar, K + 1))
        dr = torch.where(right <= K - 1, right - ar, torch.full_like(ar, K + 1))
        src = torch.where(dl <= dr, left, right).clamp(0, K - 1)
        w = torch.where(bad, w[src], w)
    elif empty_bins not in ("nearest", "inf", "error"):
        raise ValueError(f"{fn}: empty_bins must be 'nearest', 'inf' or 'error', got {empty_bins!r}")
    return v, w


def lds_weights_ref(train_labels: torch.Tensor, bins, labels: Optional[torch.Tensor] = None, *,
                    reweight: str = "sqrt_inv", lds: bool = True, kernel: str = "gaussian",
                    ks: int = 5, sigma: float = 2.0, clip: Optional[Tuple[float, float]] = (5, 1000),
                    variant: str = "default", empty_bins: Optional[str] = None,
                    dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Per-sample LDS weights, written plainly (``torch.searchsorted`` binning, a gather).

    Args:
        train_labels: ``[N]`` or ``[N, 1]`` labels (float or int) the weights are fitted on.
        bins: a :class:`dirfast.Bins`.
        labels: labels to weight (any shape, default ``train_labels``).
        dtype: output dtype (float64 default: the oracle).

    Returns:
        weights of ``labels``' shape, ``dtype``, on ``labels``' device; mean over ``train_labels``
        is 1 (up to rounding to ``dtype``).
    """
    if labels is None:
        labels = train_labels
    ids = bins._ids(train_labels, fn="lds_weights_ref", name="train_labels", backend="reference",
                    validate=False).reshape(-1)
    counts = torch.bincount(ids, minlength=bins.num_bins)
    _, w = bin_weights_ref(counts, reweight=reweight, lds=lds, kernel=kernel, ks=ks, sigma=sigma,
                           clip=clip, variant=variant, empty_bins=empty_bins)
    lid = bins._ids(labels, fn="lds_weights_ref", name="labels", backend="reference", validate=False)
    return w.to(labels.device)[lid].to(dtype)
