"""``dirfast::fds_bin_stats``: FDS per-bin feature statistics as one registered op (no autograd).

Statistics are not differentiable: the functional detaches the features before calling, so the op
needs no ``register_autograd`` and features that require grad work. ``torch.compile`` traces the op
without a graph break (its fake implementation gives the shapes); eager calls run the path directly
(``fds_bin_stats_paths``), without the op's Python dispatch cost.

Op arguments are already checked by ``dirfast.fds_stats.fds_bin_stats``: ``features`` ``[N, D]``
floating (N >= 0, D >= 1), ``bin_idx`` ``[N]`` int32/int64 on the same device, ``num_bins >= 1``,
``backend`` a resolved path (``"reference" | "cpu" | "cpu_torch" | "triton"``).
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor

from .. import _ext
from ._common import EXT_DTYPE_NAME, acc_dtype, kernels
from ..reference.fds_stats import fds_bin_stats_ref


def _keys(bin_idx: Tensor, num_bins: int) -> Tensor:
    """int64 bin ids with every ignored row (id < 0 or >= num_bins) mapped to ``num_bins``."""
    idx = bin_idx.to(torch.int64)
    bad = (idx < 0) | (idx >= num_bins)
    return idx.masked_fill(bad, num_bins)


def _empty(features: Tensor, num_bins: int):
    acc = acc_dtype(features.dtype)
    d = features.shape[1]
    return (torch.zeros(num_bins, dtype=torch.int64, device=features.device),
            torch.zeros(num_bins, d, dtype=acc, device=features.device),
            torch.zeros(num_bins, d, dtype=acc, device=features.device))


def _stats_torch(features: Tensor, bin_idx: Tensor, num_bins: int):
    """Vectorised PyTorch (``cpu_torch``; also CUDA without triton): the reference's two passes on
    features shifted by each bin's first row (``scatter_reduce`` amin of row ids), which keeps fp32
    accurate for large means. Three passes over an ``[N, D]`` temporary."""
    if features.shape[0] == 0:
        return _empty(features, num_bins)
    acc = acc_dtype(features.dtype)
    x = features.to(acc)
    n, d = x.shape
    key = _keys(bin_idx, num_bins)
    rows = torch.arange(n, device=x.device)
    first = torch.full((num_bins + 1,), n - 1, dtype=torch.int64, device=x.device)
    first.scatter_reduce_(0, key, rows, reduce="amin", include_self=True)
    shift = x[first]  # [B + 1, D]; rows of empty bins are never used
    y = x - shift[key]
    count = torch.zeros(num_bins + 1, dtype=torch.int64, device=x.device).index_add_(
        0, key, torch.ones_like(key))
    mean_y = torch.zeros(num_bins + 1, d, dtype=acc, device=x.device).index_add_(0, key, y)
    mean_y /= count.clamp(min=1).to(acc)[:, None]
    y -= mean_y[key]
    # squared deviations summed in fp64: index_add_ adds one row after the other, and thousands of
    # fp32 terms in one bin lose ~1e-5 relative (the C++ path merges per-chunk partials instead)
    m2 = torch.zeros(num_bins + 1, d, dtype=torch.float64, device=x.device).index_add_(
        0, key, y.to(torch.float64).square_()).to(acc)
    mean = torch.where(count[:, None] > 0, mean_y + shift, torch.zeros((), dtype=acc, device=x.device))
    return count[:num_bins], mean[:num_bins].contiguous(), m2[:num_bins].contiguous()


def _unit_columns(x: Tensor) -> Tensor:
    """``x`` with unit column stride, the one layout constraint of the kernels: any row stride >= 0
    is read as-is (rows may overlap: expanded rows, ``unfold`` windows); a column stride != 1
    (transposed, column-sliced, expanded columns) costs one contiguous copy. D = 1 never copies."""
    return x if x.shape[1] <= 1 or x.stride(1) == 1 else x.contiguous()


def _to_dtype_keep_layout(x: Tensor, dtype: torch.dtype) -> Tensor:
    """``x.to(dtype)`` without expanding overlapping rows: when the view covers fewer storage
    elements than it has (expanded / unfolded rows), only that storage span is converted and the
    same strides are laid over the result (``ones(1, 64).expand(2e6, 64)`` converts 64 elements,
    not 128 M). Otherwise a plain ``to`` (which keeps dense strides)."""
    if x.dtype == dtype or x.numel() == 0:
        return x if x.dtype == dtype else x.to(dtype)
    span = 1 + sum((size - 1) * stride for size, stride in zip(x.shape, x.stride()))
    if span >= x.numel():
        return x.to(dtype)
    flat = torch.as_strided(x, (span,), (1,), x.storage_offset()).to(dtype)
    return torch.as_strided(flat, x.shape, x.stride(), 0)


def _stats_cpu(features: Tensor, bin_idx: Tensor, num_bins: int):
    """C++ kernel (counting sort + Welford per 256-row chunk of a bin + Chan merge, OpenMP, GIL
    released). Reads any row stride >= 0 in place (overlapping rows included); a column stride != 1
    costs a copy. fp16/bf16 features are converted to fp32 first (one extra pass over the stored
    elements)."""
    acc = acc_dtype(features.dtype)
    x = _unit_columns(_to_dtype_keep_layout(features, acc))
    n, d = x.shape
    bins = bin_idx.to(torch.int64).contiguous()
    count = torch.empty(num_bins, dtype=torch.int64)
    mean = torch.empty(num_bins, d, dtype=acc)
    m2 = torch.empty(num_bins, d, dtype=acc)
    _ext.require("dirfast::fds_bin_stats backend='cpu'").fds_bin_stats(
        str(acc).split(".")[-1], x.data_ptr(), x.stride(0), bins.data_ptr(), n, d, num_bins,
        count.data_ptr(), mean.data_ptr(), m2.data_ptr(),
    )
    return count, mean, m2


def _stats_triton(features: Tensor, bin_idx: Tensor, num_bins: int):
    """Triton kernels: any row stride >= 0 as-is (they only read the features), a column stride != 1
    costs a copy."""
    if features.shape[0] == 0:
        return _empty(features, num_bins)
    return kernels("fds_stats").fds_bin_stats_fwd(_unit_columns(features), _keys(bin_idx, num_bins), num_bins)


def _stats_reference(features: Tensor, bin_idx: Tensor, num_bins: int):
    return fds_bin_stats_ref(features, bin_idx, num_bins)


PATHS = {"reference": _stats_reference, "cpu": _stats_cpu, "cpu_torch": _stats_torch,
         "triton": _stats_triton}


def fds_bin_stats_paths(features: Tensor, bin_idx: Tensor, num_bins: int,
                        backend: str) -> Tuple[Tensor, Tensor, Tensor]:
    with torch.no_grad():
        return PATHS[backend](features, bin_idx, num_bins)


@torch.library.custom_op("dirfast::fds_bin_stats", mutates_args=())
def fds_bin_stats_op(features: Tensor, bin_idx: Tensor, num_bins: int,
                     backend: str) -> Tuple[Tensor, Tensor, Tensor]:
    """``(count [B] int64, mean [B, D], m2 [B, D])``, mean/m2 fp32 (fp64 for fp64 features)."""
    return PATHS[backend](features, bin_idx, num_bins)


@fds_bin_stats_op.register_fake
def _(features, bin_idx, num_bins, backend):
    acc = acc_dtype(features.dtype)
    d = features.shape[1]
    return (features.new_empty(num_bins, dtype=torch.int64),
            features.new_empty(num_bins, d, dtype=acc),
            features.new_empty(num_bins, d, dtype=acc))


# ------------------------------------------------------------------------------------------------
# the FDS module's accumulation: reference shift, optional calibration, statistics and Chan merge


def _ref_rows_torch(x: Tensor, keys: Tensor, run_ref: Tensor, tracked: Tensor, pcount: Tensor,
                    pmean: Tensor) -> Tensor:
    """``[K2, D]`` reference rows in ``x``'s working dtype: the partial mean of a bin seen this
    epoch, else the running mean of a tracked bin, else the bin's first row in this call."""
    K2, d = pmean.shape
    wdt = acc_dtype(x.dtype)
    f64 = torch.float64
    n = x.shape[0]
    kr = run_ref.shape[0]
    run = torch.cat([run_ref.to(f64), pmean.new_zeros(K2 - kr, d)]) if kr < K2 else run_ref.to(f64)
    known = tracked > 0
    if kr < K2:
        known = torch.cat([known, known.new_zeros(K2 - kr)])
    first = torch.full((K2,), max(n - 1, 0), dtype=torch.int64, device=x.device)
    valid = (keys >= 0) & (keys < K2)
    if n:
        first.scatter_reduce_(0, torch.where(valid, keys, torch.full_like(keys, K2 - 1)).clamp(0, K2 - 1),
                              torch.where(valid, torch.arange(n, device=x.device),
                                          torch.full_like(keys, n - 1)),
                              reduce="amin", include_self=True)
    own = torch.index_select(x, 0, first).to(f64) if n else pmean.new_zeros(K2, d)
    ref = torch.where((pcount > 0).unsqueeze(1), pmean, torch.where(known.unsqueeze(1), run, own))
    return ref.to(wdt)


def _accumulate_torch(x: Tensor, keys: Tensor, run_ref: Tensor, tracked: Tensor, pcount: Tensor,
                      pmean: Tensor, pm2: Tensor, stats_path: str) -> None:
    """PyTorch composition (``reference``/``cpu_torch``, CUDA without triton): shifted copy of the
    features, ``fds_bin_stats`` of it on ``stats_path``, fp64 Chan merge, ``copy_`` into the
    partials."""
    from ..fds_stats import BinStats

    f64 = torch.float64
    K2 = pcount.shape[0]
    ref_w = _ref_rows_torch(x, keys, run_ref, tracked, pcount, pmean)
    k = keys.clamp(0, K2 - 1)
    xs = x.to(ref_w.dtype) - torch.index_select(ref_w, 0, k)
    count, mean_s, m2 = PATHS[stats_path](xs, keys, K2)
    seen = (count > 0).unsqueeze(1)
    mean = torch.where(seen, mean_s.to(f64) + ref_w.to(f64), torch.zeros((), dtype=f64, device=x.device))
    new = BinStats(pcount, pmean, pm2).merge(BinStats(count.to(torch.int64), mean, m2.to(f64)))
    pcount.copy_(new.count)
    pmean.copy_(new.mean)
    pm2.copy_(new.m2)


def _accumulate_cpu(x: Tensor, keys: Tensor, cal: Optional[Tensor], scale: Optional[Tensor],
                    cshift: Optional[Tensor], run_ref: Tensor, tracked: Tensor, pcount: Tensor,
                    pmean: Tensor, pm2: Tensor) -> None:
    """One C++ call (``dirfast._C.fds_accumulate``): reference rows, calibration and shift in
    registers, Welford per 256-row chunk, fp64 Chan merge into the partials in place. (Per-step
    host cost matters here: conversions only where a dtype or layout differs.)"""
    wdt = torch.float64 if x.dtype == torch.float64 else torch.float32
    xw = x if x.dtype == wdt else _to_dtype_keep_layout(x, wdt)
    if xw.shape[1] > 1 and xw.stride(1) != 1:
        xw = xw.contiguous()
    n, d = xw.shape
    i64 = torch.int64
    if keys.dtype != i64 or not keys.is_contiguous():
        keys = keys.to(i64).contiguous()
    if run_ref.dtype != wdt or not run_ref.is_contiguous():
        run_ref = run_ref.to(wdt).contiguous()
    if tracked.dtype != i64 or not tracked.is_contiguous():
        tracked = tracked.to(i64).contiguous()
    cal_p = scale_p = shift_p = num_cal = 0
    if cal is not None:
        cal = cal if cal.dtype == i64 and cal.is_contiguous() else cal.to(i64).contiguous()
        scale = scale if scale.dtype == wdt and scale.is_contiguous() else scale.to(wdt).contiguous()
        cshift = cshift if cshift.dtype == wdt and cshift.is_contiguous() else cshift.to(wdt).contiguous()
        cal_p, scale_p, shift_p, num_cal = cal.data_ptr(), scale.data_ptr(), cshift.data_ptr(), scale.shape[0]
    C = _ext.get()
    if C is None:
        C = _ext.require("dirfast::fds_accumulate backend='cpu'")
    C.fds_accumulate(
        EXT_DTYPE_NAME[wdt], xw.data_ptr(), xw.stride(0), keys.data_ptr(), n,
        d, pcount.shape[0], pcount.data_ptr(), pmean.data_ptr(), pm2.data_ptr(), run_ref.data_ptr(),
        tracked.data_ptr(), run_ref.shape[0], cal_p, scale_p, shift_p, num_cal,
    )


def _accumulate_triton(x: Tensor, keys: Tensor, cal: Optional[Tensor], scale: Optional[Tensor],
                       cshift: Optional[Tensor], run_ref: Tensor, tracked: Tensor, pcount: Tensor,
                       pmean: Tensor, pm2: Tensor) -> None:
    kernels("fds_stats").fds_accumulate_fwd(_unit_columns(x), keys, cal, scale, cshift, run_ref,
                                            tracked, pcount, pmean, pm2)


#: paths that calibrate in registers (``cal`` given); the others need calibrated features
FUSED_CALIBRATION = ("cpu", "triton")


def fds_accumulate_paths(x: Tensor, keys: Tensor, cal: Optional[Tensor], scale: Optional[Tensor],
                         cshift: Optional[Tensor], run_ref: Tensor, tracked: Tensor, pcount: Tensor,
                         pmean: Tensor, pm2: Tensor, backend: str) -> None:
    """Accumulate the statistics of ``x`` ``[N, D]`` (rows keyed by ``keys`` ``[N]`` int64; keys
    outside ``[0, K2)`` ignored) into the FDS partials ``pcount [K2]`` int64, ``pmean``/``pm2``
    ``[K2, D]`` float64, in place. Every bin's rows are shifted by a reference row (its partial mean,
    else ``run_ref[b]`` if ``tracked[b] > 0``, else its first row) rounded to the working precision
    (fp32; fp64 for fp64 features) and the shift is added back in fp64 — the statistics of a feature
    with mean 1e4 and std 1 keep ~1e-7 relative variance in fp32. ``cal`` (only on
    :data:`FUSED_CALIBRATION` paths, ``x`` fp32/fp64 with tables of its dtype): the rows are
    calibrated first, ``x·scale[cal] + cshift[cal]`` (ids outside ``[0, len(scale))``: identity)."""
    with torch.no_grad():
        if backend == "cpu":
            _accumulate_cpu(x, keys, cal, scale, cshift, run_ref, tracked, pcount, pmean, pm2)
        elif backend == "triton" and "triton" in FUSED_CALIBRATION:
            _accumulate_triton(x, keys, cal, scale, cshift, run_ref, tracked, pcount, pmean, pm2)
        else:
            if cal is not None:
                raise ValueError(f"fds_accumulate: backend {backend!r} does not calibrate")
            _accumulate_torch(x, keys, run_ref, tracked, pcount, pmean, pm2, backend)


@torch.library.custom_op("dirfast::fds_accumulate", mutates_args=("pcount", "pmean", "pm2"))
def fds_accumulate_op(x: Tensor, keys: Tensor, cal: Optional[Tensor], scale: Optional[Tensor],
                      cshift: Optional[Tensor], run_ref: Tensor, tracked: Tensor, pcount: Tensor,
                      pmean: Tensor, pm2: Tensor, backend: str) -> None:
    """:func:`fds_accumulate_paths` as a registered op (``torch.compile``), mutating the partials."""
    fds_accumulate_paths(x, keys, cal, scale, cshift, run_ref, tracked, pcount, pmean, pm2, backend)


@fds_accumulate_op.register_fake
def _(x, keys, cal, scale, cshift, run_ref, tracked, pcount, pmean, pm2, backend):
    return None
