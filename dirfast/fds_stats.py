r"""FDS per-bin feature statistics (spec lds_fds.md §2.4 step 3): :func:`fds_bin_stats` and
:class:`BinStats`.

One pass groups the rows of a feature matrix ``[N, D]`` by bin id and returns, per bin, the row
count, the column means and ``M2`` (sum of squared deviations from the bin mean), from which
:attr:`BinStats.var` gives the official unbiased variance. Statistics of several batches combine
exactly with :meth:`BinStats.merge` (Chan et al.'s parallel formula), so an epoch's statistics can
be accumulated batch by batch without materialising the ``[N, D]`` features (the official code
collects them all on the host).

Numerics: accumulation in fp32 (fp64 for fp64 features) with Welford/Chan merging on features
shifted by each bin's first row — never sum/sum-of-squares — so the variance keeps ~1e-7 relative
accuracy in fp32 even at mean/std = 1e4. Deterministic (bitwise equal across runs; the C++ kernel
also across thread counts). No gradient: statistics are computed on ``features.detach()``.

Under ``torch.autocast`` the op is not autocast-registered: it reads the features in the dtype they
arrive in and accumulates in fp32.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor

from ._backend import resolve_backend
from ._checks import check_finite_values, check_float, check_same_device, check_tensor, describe, \
    validation_enabled
from .ops.fds_stats import fds_bin_stats_op, fds_bin_stats_paths

__all__ = ["BinStats", "fds_bin_stats"]

_INDEX_DTYPES = (torch.int64, torch.int32)


@dataclass
class BinStats:
    """Per-bin statistics of features ``[N, D]`` over ``B`` bins.

    Attributes:
        count: ``[B]`` int64, rows per bin.
        mean: ``[B, D]`` fp32 (fp64 for fp64 features), column means; 0 for an empty bin.
        m2: ``[B, D]``, same dtype as ``mean``: sum of squared deviations from the bin mean; 0 for an
            empty bin (and for a singleton).
    """

    count: Tensor
    mean: Tensor
    m2: Tensor

    @property
    def var(self) -> Tensor:
        """Unbiased per-bin variance ``m2 / (count − 1)`` ``[B, D]``, as the official code
        (``torch.var`` with ``ddof=1``; ``ddof=0`` for a singleton, so ``count == 1`` gives 0).
        An empty bin (``count == 0``) also gives 0 (documented choice: the official code never
        computes it; the FDS module decides what an empty bin's running statistics become)."""
        denom = (self.count - 1).clamp(min=1).to(self.m2.dtype)
        return self.m2 / denom[:, None]

    def merge(self, other: "BinStats") -> "BinStats":
        """Statistics of the union of the two row sets (Chan, Golub & LeVeque's parallel formula):
        ``n = na + nb``, ``δ = μb − μa``, ``μ = μa + δ·nb/n``, ``M2 = M2a + M2b + δ²·na·nb/n``.

        Computed in fp64 and rounded once to ``mean``'s dtype (the fp32 difference of two large means
        would otherwise lose digits). Exact for empty sides: a bin empty in ``other`` keeps
        ``self``'s values bit for bit, and vice versa. Not in place; no host sync.
        """
        if self.mean.shape != other.mean.shape:
            raise ValueError(f"BinStats.merge: shapes differ, mean {tuple(self.mean.shape)} vs "
                             f"{tuple(other.mean.shape)}")
        if self.mean.dtype != other.mean.dtype:
            raise TypeError(f"BinStats.merge: dtypes differ, {self.mean.dtype} vs {other.mean.dtype}")
        out_t = self.mean.dtype
        na = self.count.to(torch.float64)[:, None]
        nb = other.count.to(torch.float64)[:, None]
        n = na + nb
        ma, mb = self.mean.to(torch.float64), other.mean.to(torch.float64)
        qa, qb = self.m2.to(torch.float64), other.m2.to(torch.float64)
        safe_n = n.clamp(min=1)
        delta = mb - ma
        mean = (ma + delta * (nb / safe_n)).to(out_t)
        m2 = (qa + qb + delta * delta * (na * nb / safe_n)).to(out_t)
        a_empty, b_empty = (self.count == 0)[:, None], (other.count == 0)[:, None]
        mean = torch.where(b_empty, self.mean, torch.where(a_empty, other.mean, mean))
        m2 = torch.where(b_empty, self.m2, torch.where(a_empty, other.m2, m2))
        return BinStats(self.count + other.count, mean, m2)

    @staticmethod
    def empty(num_bins: int, dim: int, dtype: torch.dtype = torch.float32,
              device=None) -> "BinStats":
        """Statistics of no rows (count 0, mean 0, m2 0): the neutral element of :meth:`merge`."""
        return BinStats(torch.zeros(num_bins, dtype=torch.int64, device=device),
                        torch.zeros(num_bins, dim, dtype=dtype, device=device),
                        torch.zeros(num_bins, dim, dtype=dtype, device=device))


def _check_inputs(fn: str, features, bin_idx, num_bins):
    check_tensor("features", features, fn=fn)
    check_tensor("bin_idx", bin_idx, fn=fn)
    check_float("features", features, fn=fn)
    if features.dim() != 2:
        hint = (" (flatten the leading dimensions first, e.g. features.reshape(-1, D) with matching "
                "bin ids)" if features.dim() > 2 else "")
        raise ValueError(f"{fn}: features must have shape [N, D], got {describe(features)}{hint}")
    if features.shape[1] < 1:
        raise ValueError(f"{fn}: features must have D >= 1 columns, got {describe(features)}")
    if bin_idx.dtype not in _INDEX_DTYPES:
        raise TypeError(f"{fn}: bin_idx must be an int64 or int32 tensor, got {describe(bin_idx)}")
    if bin_idx.dim() != 1 or bin_idx.shape[0] != features.shape[0]:
        raise ValueError(f"{fn}: bin_idx must have shape [N] = [{features.shape[0]}], got "
                         f"{describe(bin_idx)}")
    if isinstance(num_bins, bool) or not isinstance(num_bins, int):
        raise TypeError(f"{fn}: num_bins must be an int, got {type(num_bins).__name__} {num_bins!r}")
    if num_bins < 1:
        raise ValueError(f"{fn}: num_bins must be >= 1, got {num_bins}")
    return check_same_device(fn, features=features, bin_idx=bin_idx)


def fds_bin_stats(features: Tensor, bin_idx: Tensor, num_bins: int, *,
                  backend: Optional[str] = None, validate: Optional[bool] = None) -> BinStats:
    """Per-bin count, mean and M2 of ``features`` grouped by ``bin_idx`` (FDS statistics).

    Args:
        features: ``[N, D]`` float16/bfloat16/float32/float64. Read in place (no copy) with unit
            column stride and **any row stride >= 0**, rows that overlap included (``expand``: row
            stride 0; ``unfold(0, D, step)``: row stride ``step < D``; row slices); any other layout
            (column stride != 1: transposed, column-sliced, expanded columns) is copied to contiguous
            once (D = 1 never is). On ``"cpu"`` fp16/bf16 are converted to fp32 first, touching only
            the stored elements of overlapping views. Higher ranks are not flattened here (the FDS
            module does that): rank != 2 raises. May require grad: the statistics are computed on
            ``features.detach()`` and carry no gradient.
        bin_idx: ``[N]`` int64 or int32, same device. Rows with ``bin_idx < 0`` are ignored (the FDS
            module marks rows to skip with -1). ``bin_idx >= num_bins`` raises ``ValueError`` under
            validation (``validate=True`` or ``DIRFAST_VALIDATE=1``), otherwise those rows are ignored
            as well.
        num_bins: ``B >= 1``.
        backend: ``"auto" | "reference" | "cpu" | "triton"`` (see ``dirfast._backend``): CPU tensors
            use the C++ kernel of ``dirfast._C`` (vectorised PyTorch without it), CUDA tensors the
            Triton kernels.
        validate: value checks (host sync): bin ids ``< num_bins`` and finite features. With
            validation off, a NaN (or ±inf) feature makes ``mean`` and ``m2`` NaN in its own (bin,
            column) only (``"reference"`` may give ±inf for the mean of an inf column); other bins
            and columns, and ``count``, are unaffected.

    Returns:
        :class:`BinStats` with ``count [B]`` int64, ``mean``/``m2`` ``[B, D]`` fp32 (fp64 for fp64
        features); empty bins have count 0, mean 0, m2 0.
    """
    fn = "dirfast.fds_bin_stats"
    device = _check_inputs(fn, features, bin_idx, num_bins)
    features = features.detach()
    path = resolve_backend(backend, device, op=fn)  # metadata checks first, then the host-sync ones
    if validation_enabled(validate):
        check_finite_values(fn, features=features)
        if bin_idx.numel() and bool((bin_idx >= num_bins).any()):
            raise ValueError(f"{fn}: bin_idx must be < num_bins = {num_bins} (negative ids are "
                             f"ignored; validation on), got max {int(bin_idx.max())}")
    if torch.compiler.is_compiling():
        count, mean, m2 = fds_bin_stats_op(features, bin_idx, num_bins, path)
    else:
        count, mean, m2 = fds_bin_stats_paths(features, bin_idx, num_bins, path)
    return BinStats(count, mean, m2)
