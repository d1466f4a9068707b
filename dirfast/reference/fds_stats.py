"""Reference per-bin feature statistics for FDS (spec lds_fds.md §2.4 step 3, §7 item 4).

For features ``x`` ``[N, D]`` and bin ids ``bin_idx`` ``[N]``, every bin ``b`` in ``[0, num_bins)``
gets ``count[b]`` (rows with ``bin_idx == b``), ``mean[b]`` (column means of those rows; 0 for an
empty bin) and ``m2[b]`` (sum of squared deviations from ``mean[b]``; 0 for an empty bin). Rows whose
bin id is negative, or ``>= num_bins``, belong to no bin and are ignored (the public functional raises
for ``>= num_bins`` when validating). The unbiased variance of the official code is
``m2 / (count - 1)`` with ``ddof = 0`` for a singleton (``BinStats.var``).

Two passes (mean, then squared deviations) with ``index_add_``, in the accumulation dtype (fp32 for
fp16/bf16/fp32 inputs, fp64 for fp64 inputs): this defines the semantics; fed fp64 it is the oracle
every fast path is tested against.
"""

from __future__ import annotations

from typing import Tuple

import torch


def fds_bin_stats_ref(features: torch.Tensor, bin_idx: torch.Tensor,
                      num_bins: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-bin ``(count [B] int64, mean [B, D], m2 [B, D])``, mean/m2 in fp32 (fp64 for fp64 input).

    Args:
        features: ``[N, D]`` floating tensor.
        bin_idx: ``[N]`` integer tensor; ids outside ``[0, num_bins)`` are ignored.
        num_bins: number of bins ``B >= 1``.
    """
    acc = torch.float64 if features.dtype == torch.float64 else torch.float32
    x = features.detach().to(acc)
    n, d = x.shape
    idx = bin_idx.to(torch.int64)
    valid = (idx >= 0) & (idx < num_bins)
    key = torch.where(valid, idx, torch.full_like(idx, num_bins))  # bin num_bins = "ignored"
    count = torch.zeros(num_bins + 1, dtype=torch.int64, device=x.device)
    count.index_add_(0, key, torch.ones_like(key))
    total = torch.zeros(num_bins + 1, d, dtype=acc, device=x.device).index_add_(0, key, x)
    mean = total / count.clamp(min=1).to(acc)[:, None]
    dev = x - mean[key]
    m2 = torch.zeros(num_bins + 1, d, dtype=acc, device=x.device).index_add_(0, key, dev * dev)
    return count[:num_bins], mean[:num_bins].contiguous(), m2[:num_bins].contiguous()
