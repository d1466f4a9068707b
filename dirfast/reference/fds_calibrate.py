"""Reference FDS calibration (docs/lds_fds.md §2.5, the official ``FDS.smooth`` / ``calibrate``).

Per-step FDS calibration whitens each feature row with the statistics of its bin and recolours it with
the smoothed statistics, per dimension (diagonal variances, official issue #14)::

    z~ = (z − μ_b) · sqrt(clamp(σ̃²_b / σ²_b, lo, hi)) + μ̃_b          (age datasets: lo, hi = 0.1, 10)

Official zero-variance handling (age code, ``variant="official"``):

* a bin with ``sum(σ²_b) < 1e-10`` is left untouched (identity);
* otherwise dimensions with ``σ²_b == 0`` are left untouched, the others are calibrated.

``variant="default"`` (dirfast's) differs only on inputs the official code mishandles:

* a dimension is calibrated only if ``σ²_b > eps`` (``eps = 0`` by default) and all four statistics of
  that dimension are finite; every other dimension is the identity (official: ``σ² < 0`` is
  calibrated with the ratio clamped to ``lo``; NaN/inf statistics propagate NaN into the features);
* the bin test ``sum < 1e-10`` sums ``σ²`` over those calibrated dimensions only (identical to the
  official test whenever every ``σ²`` is finite and ``> eps``).

With finite, non-negative statistics and ``eps = 0`` both variants give the same result.

Everything is an affine map per (bin, dimension), ``z~ = z·scale + shift`` with
``scale = sqrt(clamp(σ̃²/σ², lo, hi))`` and ``shift = μ̃ − μ·scale`` (identity: 1, 0), which is what
the fast paths apply (:func:`fds_calibrate_ref`).

Functions:

* :func:`fds_scale_shift_ref` — ``(scale, shift)`` ``[B, D]`` from the statistics;
* :func:`fds_calibrate_ref` — the op's semantics: ``features·scale[bin] + shift[bin]``, rows with
  ``bin < 0`` or ``bin >= B`` unchanged;
* :func:`fds_calibrate_stats_ref` — the official formula ``(z − μ)·sqrt(s) + μ̃`` vectorised over rows,
  straight from the statistics (the check that scale/shift + the op equal the official formula);
* :func:`fds_calibrate_loop_ref` — the official code literally: a Python loop over the bins present,
  boolean-mask gather, ``calibrate``, ``index_put`` (the naive baseline of the benchmark).
"""

from __future__ import annotations

from typing import Tuple

import torch
from torch import Tensor

VARIANTS = ("default", "official")
#: official bin test: ``sum(var_b) < BIN_VAR_EPS`` leaves the whole bin uncalibrated
BIN_VAR_EPS = 1e-10


def _calibrated_dims(mean, var, smoothed_mean, smoothed_var, variant: str, eps: float):
    """Boolean ``[..., D]``: which (bin, dim) entries are calibrated (bin test included)."""
    if variant == "official":
        bin_ok = var.sum(dim=-1, keepdim=True) >= BIN_VAR_EPS
        # `not (sum < 1e-10)`: a NaN sum passes the official test (and then propagates NaN)
        bin_ok = bin_ok | torch.isnan(var.sum(dim=-1, keepdim=True))
        return (var != 0) & bin_ok
    finite = (torch.isfinite(mean) & torch.isfinite(var) & torch.isfinite(smoothed_mean)
              & torch.isfinite(smoothed_var))
    dim_ok = finite & (var > eps)
    bin_ok = torch.where(dim_ok, var, torch.zeros_like(var)).sum(dim=-1, keepdim=True) >= BIN_VAR_EPS
    return dim_ok & bin_ok


def fds_scale_shift_ref(
    mean: Tensor,
    var: Tensor,
    smoothed_mean: Tensor,
    smoothed_var: Tensor,
    clip: Tuple[float, float] = (0.1, 10.0),
    *,
    variant: str = "default",
    eps: float = 0.0,
) -> Tuple[Tensor, Tensor]:
    """``(scale, shift)`` ``[B, D]`` such that ``z·scale[b] + shift[b]`` is the calibration of bin b.

    Computed in fp64 if any statistic is fp64, else fp32. Identity entries are exactly ``(1, 0)``.
    """
    if variant not in VARIANTS:
        raise ValueError(f"fds_scale_shift_ref: variant must be one of {VARIANTS}, got {variant!r}")
    lo, hi = clip
    dt = torch.float64 if torch.float64 in (mean.dtype, var.dtype, smoothed_mean.dtype,
                                            smoothed_var.dtype) else torch.float32
    m, v, sm, sv = (t.to(dt) for t in (mean, var, smoothed_mean, smoothed_var))
    ok = _calibrated_dims(m, v, sm, sv, variant, eps)
    one = torch.ones_like(v)
    ratio = torch.clamp(sv / torch.where(ok, v, one), lo, hi)
    scale = torch.where(ok, torch.sqrt(ratio), one)
    shift = torch.where(ok, sm - m * scale, torch.zeros_like(v))
    return scale, shift


def _row_valid(bin_idx: Tensor, num_bins: int) -> Tuple[Tensor, Tensor]:
    """(valid rows ``[N, 1]``, bin index clamped into ``[0, B)`` for the gather)."""
    b = bin_idx.to(torch.int64)
    valid = (b >= 0) & (b < num_bins)
    return valid.unsqueeze(1), torch.where(valid, b, torch.zeros_like(b))


def fds_calibrate_ref(features: Tensor, bin_idx: Tensor, scale: Tensor, shift: Tensor) -> Tensor:
    """``features·scale[bin_idx] + shift[bin_idx]`` (``[N, D]``), out of place; rows with
    ``bin_idx < 0`` or ``>= B`` are returned unchanged. Computed in fp32 (fp64 for fp64 features),
    returned in the dtype of ``features``, contiguous ``[N, D]`` whatever the layout of ``features``
    (transposed, expanded, overlapping rows), like the fast paths; autograd flows to ``features``
    (and to scale/shift if they require grad — the fast paths treat them as constants)."""
    dt = torch.float64 if features.dtype == torch.float64 else torch.float32
    if scale.shape[0] == 0:
        return features.clone(memory_format=torch.contiguous_format)
    valid, b = _row_valid(bin_idx, scale.shape[0])
    z = features.to(dt)
    y = z * scale.to(dt)[b] + shift.to(dt)[b]
    return torch.where(valid, y, z).to(features.dtype).contiguous()


def fds_calibrate_stats_ref(
    features: Tensor,
    bin_idx: Tensor,
    mean: Tensor,
    var: Tensor,
    smoothed_mean: Tensor,
    smoothed_var: Tensor,
    clip: Tuple[float, float] = (0.1, 10.0),
    *,
    variant: str = "default",
    eps: float = 0.0,
) -> Tensor:
    """The official formula ``(z − μ_b)·sqrt(clamp(σ̃²_b/σ²_b, lo, hi)) + μ̃_b`` per row, identity for
    untouched dims/bins (see the module docstring) and rows with ``bin_idx < 0`` or ``>= B``.
    Computed in the dtype of ``features`` (statistics cast to it), like the official code."""
    if variant not in VARIANTS:
        raise ValueError(f"fds_calibrate_stats_ref: variant must be one of {VARIANTS}, got {variant!r}")
    lo, hi = clip
    dt = features.dtype
    m, v, sm, sv = (t.to(dt) for t in (mean, var, smoothed_mean, smoothed_var))
    if m.shape[0] == 0:
        return features.clone()
    ok = _calibrated_dims(m, v, sm, sv, variant, eps)
    valid, b = _row_valid(bin_idx, m.shape[0])
    ok = ok[b] & valid
    one = torch.ones_like(v)
    # s = 1 where not calibrated: no NaN from unused statistics leaks into the gradient via where()
    s = torch.where(ok, torch.clamp(sv[b] / torch.where(ok, v[b], one[b]), lo, hi), one[b])
    z = features
    out = (z - m[b]) * torch.sqrt(s) + sm[b]
    return torch.where(ok, out, z)


def fds_calibrate_loop_ref(
    features: Tensor,
    bin_idx: Tensor,
    mean: Tensor,
    var: Tensor,
    smoothed_mean: Tensor,
    smoothed_var: Tensor,
    clip: Tuple[float, float] = (0.1, 10.0),
) -> Tensor:
    """The official age code (``variant="official"``) literally, on a copy of ``features``: for each
    bin present (``torch.unique``), boolean-mask the rows, ``calibrate`` them, ``index_put`` them back.
    Rows with ``bin_idx < 0`` (or ``>= B``) are skipped. Slow by design (host syncs, one pass per bin)."""
    lo, hi = clip
    out = features.clone()
    for k in torch.unique(bin_idx).tolist():
        if k < 0 or k >= mean.shape[0]:
            continue
        m1, v1, m2, v2 = mean[k], var[k], smoothed_mean[k], smoothed_var[k]
        if v1.sum() < BIN_VAR_EPS:
            continue
        mask = bin_idx == k
        z = out[mask]
        if (v1 == 0).any():
            valid = v1 != 0
            s = torch.clamp(v2[valid] / v1[valid], lo, hi)
            z[:, valid] = (z[:, valid] - m1[valid]) * torch.sqrt(s) + m2[valid]
        else:
            s = torch.clamp(v2 / v1, lo, hi)
            z = (z - m1) * torch.sqrt(s) + m2
        out[mask] = z
    return out
