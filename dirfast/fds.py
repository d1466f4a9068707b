r"""FDS: feature distribution smoothing (Yang et al., ICML 2021; spec lds_fds.md §2, §7).

Per-bin running **diagonal** statistics of a feature layer (usually the penultimate one), smoothed
across neighbouring label bins, and used during training to re-standardise every feature vector with
its bin's statistics::

    z~ = (z − μ_b) · sqrt(clamp(σ̃²_b / σ²_b, lo, hi)) + μ̃_b          (age datasets: lo, hi = 0.1, 10)

Two pieces live here:

* :func:`smooth_stats` — the cross-bin smoothing ``S`` of ``[B, D]`` statistics: each feature column is
  padded with PyTorch ``reflect`` padding along the bin axis (mirror *without* repeating the edge:
  ``[1,2,3,4,5]`` → ``[3,2,1,2,3,4,5,4,3]``) and convolved with a sum-normalised window (official), one
  ``conv1d`` for all columns; optionally empty bins are first filled by linear interpolation between
  their nearest non-empty neighbours (:func:`fill_empty_stats`).
* :class:`FDS` — the ``nn.Module`` with the official epoch protocol (``forward`` / ``accumulate`` /
  ``end_epoch``), the statistics ops :func:`dirfast.fds_stats.fds_bin_stats` (per-bin count/mean/M2,
  Chan-merged across calls and across ranks) and the calibration ops
  :func:`dirfast.fds_calibrate.fds_scale_shift` (once per epoch) /
  :func:`dirfast.fds_calibrate.fds_calibrate` (per step, out of place, no host sync).

See :class:`FDS` for the timeline and for every difference between ``variant="default"`` and
``variant="official"``.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ._backend import resolve_backend
from ._checks import check_finite_values, check_float, check_scalar, check_tensor, describe, \
    validation_enabled
from .bins import Bins
from .fds_calibrate import _calibrate_checked
from .ops._common import kernels
from .reference.lds import check_ks_sigma, kernel_window

__all__ = ["FDS", "smooth_stats", "fill_empty_stats"]

VARIANTS = ("default", "official")
EMPTY_BINS = ("keep", "interpolate")
STATS_FROM = ("input", "calibrated")
_ID_DTYPES = (torch.float32, torch.float64)
#: the official recipe's choices of the ablated knobs (whiten_lag, recolour_lag, stats_from)
OFFICIAL_RECIPE = (1, 2, "calibrated")
#: variant="default"'s choices when not given: the FDS ablation's winner on Abalone-DIR (README,
#: ``python -m dirfast.demo fds-ablation``)
DEFAULT_RECIPE = (1, 2, "calibrated")
#: the default variant's choices before the knobs existed (checkpoints without them load with these)
LEGACY_RECIPE = (2, 2, "input")


# ------------------------------------------------------------------------------------------------
# cross-bin smoothing


def fill_empty_stats(mean: Tensor, var: Tensor, counts: Tensor) -> Tuple[Tensor, Tensor]:
    """Fill the rows of empty bins (``counts == 0``) from their nearest non-empty neighbours.

    An empty bin ``i`` between non-empty bins ``l < i < r`` (the nearest on each side) gets the linear
    interpolation ``(1 − t)·x[l] + t·x[r]``, ``t = (i − l)/(r − l)``; an empty bin with non-empty bins on
    one side only copies the nearest one; if every bin is empty nothing changes. Non-empty rows are
    returned unchanged. Vectorised (``cummax``/``cummin`` over the bin axis), no loop over bins, no
    host sync. (The official STS-B code instead averages the two immediate neighbours after the
    update, empty or not.)

    Args:
        mean, var: ``[B, D]`` floating tensors.
        counts: ``[B]`` (any real or integer dtype); a bin is empty where ``counts == 0``.

    Returns:
        ``(mean, var)`` filled, new tensors of the inputs' dtype.
    """
    fn = "dirfast.fill_empty_stats"
    _check_stats(fn, mean, var)
    check_tensor("counts", counts, fn=fn)
    if counts.shape != mean.shape[:1]:
        raise ValueError(f"{fn}: counts must have shape [B] = [{mean.shape[0]}] (one count per bin), "
                         f"got {describe(counts)}")
    if counts.device != mean.device:
        raise ValueError(f"{fn}: counts must be on mean's device {mean.device}, got {describe(counts)}")
    return _fill_empty(mean, var, counts != 0)


def _fill_empty(mean: Tensor, var: Tensor, nonempty: Tensor) -> Tuple[Tensor, Tensor]:
    B = mean.shape[0]
    dev = mean.device
    ar = torch.arange(B, device=dev)
    left = torch.where(nonempty, ar, torch.full_like(ar, -1)).cummax(0).values
    right = torch.where(nonempty, ar, torch.full_like(ar, B)).flip(0).cummin(0).values.flip(0)
    has_l, has_r = left >= 0, right < B
    lo, hi = left.clamp(0, B - 1), right.clamp(0, B - 1)
    out = []
    for x in (mean, var):
        t = (ar - lo).to(x.dtype) / (hi - lo).clamp(min=1).to(x.dtype)
        t = torch.where(has_l & has_r, t, torch.where(has_r, torch.ones_like(t), torch.zeros_like(t)))
        t = t.unsqueeze(1)
        filled = x[lo] * (1 - t) + x[hi] * t
        use = ((~nonempty) & (has_l | has_r)).unsqueeze(1)
        out.append(torch.where(use, filled, x))
    return out[0], out[1]


def _check_stats(fn: str, mean: Tensor, var: Tensor) -> None:
    for name, t in (("mean", mean), ("var", var)):
        check_tensor(name, t, fn=fn)
        check_float(name, t, fn=fn)
        if t.dim() != 2:
            raise ValueError(f"{fn}: {name} must have shape [B, D] (bins x feature dims), got {describe(t)}")
    if var.shape != mean.shape:
        raise ValueError(f"{fn}: var must have the shape of mean {tuple(mean.shape)}, got {describe(var)}")
    if var.device != mean.device:
        raise ValueError(f"{fn}: var must be on mean's device {mean.device}, got {describe(var)}")


def smooth_stats(mean: Tensor, var: Tensor, window: Tensor, *,
                 fill_empty: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
    """Cross-bin smoothing of per-bin statistics (the official ``update_last_epoch_stats`` smoothing).

    Every feature column of ``mean`` and of ``var`` is padded along the bin axis with PyTorch
    ``reflect`` padding of ``h = (ks − 1)//2`` rows on each side (mirror without repeating the edge)
    and cross-correlated with ``window`` (the FDS window is symmetric and sum-normalised:
    ``dirfast.kernel_window(kernel, ks, sigma, normalize="sum")``), giving ``[B, D]`` again. One
    ``conv1d`` over all ``2·D`` columns; no loop over bins; differentiable.

    Args:
        mean, var: ``[B, D]`` floating, same dtype/device.
        window: ``[ks]`` floating, ``ks`` odd (cast to ``mean``'s dtype and device). Not renormalised.
        fill_empty: ``None`` (official: empty bins keep whatever they hold, e.g. the initial mean 0 /
            var 1, and leak into their neighbours) or ``counts`` ``[B]``: bins with ``counts == 0``
            are first filled from their nearest non-empty neighbours (:func:`fill_empty_stats`).

    Returns:
        ``(smoothed_mean, smoothed_var)``, ``[B, D]``, contiguous, ``mean``'s dtype.

    Raises:
        ValueError: ``B <= h`` (reflect padding needs more bins than the window's half-width; use a
        smaller ``ks``), an even-length or non-1-D window, shape mismatches.
    """
    fn = "dirfast.smooth_stats"
    _check_stats(fn, mean, var)
    check_tensor("window", window, fn=fn)
    check_float("window", window, fn=fn)
    if window.dim() != 1 or window.numel() % 2 == 0:
        raise ValueError(f"{fn}: window must be 1-D with an odd length ks, got {describe(window)}")
    B, D = mean.shape
    ks = window.numel()
    h = (ks - 1) // 2
    if B <= h:
        raise ValueError(f"{fn}: smoothing needs more bins than the window's half-width (PyTorch reflect "
                         f"padding): B = {B} bins, ks = {ks} -> h = {h}; need B > h (use ks <= {2 * B - 1})")
    if fill_empty is not None:
        mean, var = fill_empty_stats(mean, var, fill_empty)
    if D == 0:
        return mean.clone(), var.clone()
    x = torch.cat([mean, var], dim=1).t().unsqueeze(1)          # [2D, 1, B]: one channel per column
    if h > 0:
        x = F.pad(x, (h, h), mode="reflect")
    w = window.to(dtype=mean.dtype, device=mean.device).reshape(1, 1, ks)
    y = F.conv1d(x, w).squeeze(1).t()                           # [B, 2D]
    return y[:, :D].contiguous(), y[:, D:].contiguous()


# ------------------------------------------------------------------------------------------------
# the module


_OPS: Optional[tuple] = None


_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
#: label dtypes of the fast path of ``FDS._flatten`` (the others take the full checks)
_LABEL_FAST_DTYPES = _FLOAT_DTYPES + (torch.int64, torch.int32)


def _stats_ops():
    # imported lazily (the statistics/calibration ops are separate modules of the package), once
    global _OPS
    if _OPS is None:
        from .fds_calibrate import fds_calibrate, fds_scale_shift
        from .fds_stats import BinStats, fds_bin_stats
        from .ops.fds_stats import FUSED_CALIBRATION, fds_accumulate_op, fds_accumulate_paths
        _OPS = (BinStats, fds_bin_stats, fds_scale_shift, fds_calibrate, FUSED_CALIBRATION,
                fds_accumulate_op, fds_accumulate_paths)
    return _OPS[:4]


def _accumulate_ops():
    _stats_ops()
    return _OPS[4:]


class FDS(torch.nn.Module):
    r"""Feature distribution smoothing as an ``nn.Module`` with an explicit epoch protocol.

    Usage (``encoding`` = the features right before the regression head)::

        fds = dirfast.nn.FDS(2048, dirfast.Bins(3, 1, 97))        # official AgeDB buckets 3..99
        for epoch in range(epochs):
            for x, y in loader:                                    # model.train()
                z = fds(encoder(x), y)                             # calibrated from epoch start_smooth on
                loss = crit(head(z), y); ...
            with torch.no_grad():                                  # statistics pass (official), or
                for x, y in loader:                                # accumulate_in_forward=True instead
                    fds.accumulate(encoder(x), y)
            fds.end_epoch(epoch)

    **Timeline** (defaults ``start_update=0``, ``start_smooth=1``; ``running@k`` = the running
    statistics after epoch ``k``): after epoch ``e ≥ start_update``, :meth:`end_epoch` updates the
    running statistics with epoch ``e``'s statistics (momentum) and sets the statistics that
    :meth:`forward` uses during epoch ``e + 1``: it whitens with ``running@(e + 1 − whiten_lag)`` and
    recolours with ``S(running@(e + 1 − recolour_lag))`` (``S``: :func:`smooth_stats`). The defaults
    ``whiten_lag=1, recolour_lag=2`` are the official timing (its alias, below): the first effective
    calibration happens in epoch 2, whitening with ``running@1`` and recolouring with ``S(running@0)``;
    while a lag-2 statistic does not exist yet (epoch 1) the calibration is the identity. With
    ``whiten_lag = recolour_lag = 1`` it starts in epoch 1.

    **Recipe** (``whiten_lag``, ``recolour_lag``, ``stats_from``, ``empty_bins``): the defaults are
    what the FDS ablation measured best (README "FDS recipes"; ``python -m dirfast.demo fds-ablation``).
    On Abalone-DIR, statistics of the *calibrated* features matter most (statistics of the raw
    encoder output cost +0.2 to +0.35 few-shot MAE against the official recipe, 5 seeds paired), then
    fresh whitening (lag 1) with the recolouring one epoch older. ``empty_bins="interpolate"`` lowers
    the variance error where the answer is known (synthetic drift) but was slightly worse on abalone
    (20 seeds paired: +0.015 ± 0.006 overall, +0.066 ± 0.025 few-shot MAE against ``"keep"``), so the
    default keeps empty bins as the official code does; choose ``"interpolate"`` when bins inside the
    label range are empty at the start of training and you care about their neighbours' statistics.

    **Momentum** weights the **old** value, as in the official code: ``running ← momentum·running +
    (1 − momentum)·new`` (``0.9·old + 0.1·new``), the *opposite* of ``nn.BatchNorm``'s ``momentum``.
    ``momentum=None``: cumulative average (``f = 1 − n/num_samples_tracked``). The first update of a
    bin copies its statistics.

    Args:
        feature_dim: ``D`` (≥ 1), the size of the feature (channel) dimension.
        bins: a :class:`dirfast.Bins`; or pass ``bucket_num``/``bucket_start`` (official names:
            ``Bins(bucket_start, 1, bucket_num − bucket_start)``, unit bins for labels
            ``bucket_start..bucket_num − 1``). ``B`` = ``bins.num_bins``; must be ``> (ks − 1)//2``.
        start_update: first epoch whose statistics are used (earlier epochs' statistics are discarded).
        start_smooth: first epoch in which :meth:`forward` calibrates (``≥ start_update``).
        kernel, ks, sigma: smoothing window, ``dirfast.kernel_window(kernel, ks, sigma,
            normalize="sum")`` (gaussian/triang/laplace, odd ``ks``).
        momentum: in ``[0, 1)`` or ``None`` (see above).
        clip: ``(lo, hi)`` bounds of the variance ratio ``σ̃²/σ²`` (age ``(0.1, 10)``, STS-B
            ``(0.5, 2)``, NYUD2 ``(0.2, 5)``), ``0 < lo ≤ hi``.
        accumulate_in_forward: also accumulate statistics in every training-mode :meth:`forward`
            (no gradient), which replaces the official extra pass over the training set (of the
            calibrated output or of the input, per ``stats_from``). Eval-mode forwards never
            accumulate.
        variant: ``"default"`` or ``"official"`` (below).
        empty_bins: ``"keep"`` (official: bins never seen keep mean 0 / var 1, which leak into their
            neighbours through the smoothing) or ``"interpolate"`` (default variant only: the
            whitening and recolouring statistics of never-seen bins are filled from the nearest seen
            bins before smoothing, see :func:`fill_empty_stats`; the running statistics stay raw).
            Default (``None``): ``"keep"`` (see **Recipe**).
        whiten_lag, recolour_lag: ``1`` or ``2`` (default ``1``, ``2``; official fixed at ``1``,
            ``2``): in epoch ``e`` whiten with ``running@(e − whiten_lag)`` and recolour with
            ``S(running@(e − recolour_lag))``.
        stats_from: ``"calibrated"`` (default; official fixed): :meth:`accumulate` and the
            ``accumulate_in_forward`` forward collect the statistics of the calibrated features
            (official §7.2; :meth:`accumulate` calibrates first from ``start_smooth`` on, in any
            mode); ``"input"``: of the features as given.
        dtype: dtype of the statistics buffers (float32, or float64); ``.double()`` also works.
        backend, validate: forwarded to the ops (``fds_bin_stats``, ``fds_calibrate``).
        process_group: the ``torch.distributed`` group :meth:`end_epoch` reduces over (default WORLD).

    **Features** are ``[N, D]`` with labels ``[N]`` or ``[N, 1]``; or rank ``r > 2``
    ``[N, C, *S]`` (e.g. per-pixel depth ``[N, C, H, W]``) with the channel dimension at **dim 1**
    (``C == feature_dim``) and per-position labels ``[N, *S]`` or ``[N, 1, *S]``: every position is a
    sample (NYUD2). The rank > 2 output has the input's shape with channels-last strides (a view of
    the ``[N·∏S, C]`` result). Labels: any real or integer dtype, mapped by ``bins``.

    **variant="official"** reproduces the official age code (spec §7):

    * §7.1 *alias*: after the first last-epoch update the official ``running_*_last_epoch`` **are**
      ``running_*``; so whitening uses the freshest running statistics (``running@(e−1)`` in epoch
      ``e``) while recolouring uses statistics smoothed one epoch earlier (``S(running@(e−2))``).
      Emulated with copies (the ``running_*_last_epoch`` buffers are re-copied after every running
      update), numerically identical.
    * §7.2 statistics are collected from **calibrated** features: :meth:`accumulate` (and the
      ``accumulate_in_forward`` forward) calibrate first (from ``start_smooth`` on, in any mode, as
      the official statistics pass runs in train mode) and accumulate the result — out of place.
    * §7.8 *edge folding*: labels below ``bins`` (``y < e_0``) join bin 0 only if a label exactly
      ``e_0`` is in the same call (``forward``) / the same epoch (statistics, since the official
      update sees the whole epoch at once); labels above the lower edge of the last bin
      (``y > e_{B−1}``, official ``> bucket_num − 1``) join the last bin only if a label exactly
      ``e_{B−1}`` is present; otherwise such rows get bin −1: uncalibrated and not accumulated.
    * §7.6/§7.8 empty bins keep mean 0 / var 1 and leak through the smoothing (``empty_bins="keep"``);
      a bin first seen after ``start_update`` is blended with those initial values (official: the
      first-update copy happens only at ``epoch == start_update``); the update/last-epoch steps are
      skipped exactly when the official ``epoch`` counter says so (``update_last_epoch_stats``
      acts only when ``epoch == self.epoch + 1``).
    * §7.4 diagonal variances, unbiased (ddof 0 for a singleton bin), ratio clipped; zero-variance
      bins/dims as in the official ``calibrate_mean_var`` (via ``fds_scale_shift(variant=...)``).
    * §7.3 (statistics pass in train mode: BatchNorm batch statistics and dropout) is the user's loop.
    * Labels are assumed integer-valued like the official code: with non-integer labels the
      official code applies one EMA step per distinct label value; dirfast applies one per bin.

    **variant="default"** differs: copies instead of the alias (the lags are arguments: the
    default ``whiten_lag=1, recolour_lag=2`` reproduces the alias's timing, ``2, 2`` is a clean port
    of the official call order, ``1, 1`` the freshest consistent pair); ``stats_from`` is an
    argument (default ``"calibrated"`` as official); out-of-range labels clamp into the
    edge bins (``bins``' rule) both for calibration and for statistics, whatever else is in the call;
    each bin's first update copies (whenever it is first seen); ``update_last`` is done at every
    update after the first (no epoch-counter condition); ``fds_scale_shift(variant="default")``
    guards NaN/inf/negative variances; ``empty_bins="interpolate"`` is available (default ``"keep"``).
    With the default recipe, ``empty_bins="keep"`` and labels inside the bins, the two variants give
    the same results (tested). Before the recipe knobs existed (checkpoints without them load that
    way) the default variant was ``whiten_lag=2, recolour_lag=2, stats_from="input"``, with
    ``empty_bins="keep"``.

    **Buffers / state_dict**: ``running_mean``/``running_var``, ``running_mean_last_epoch``/
    ``running_var_last_epoch`` (whitening), ``smoothed_mean_last_epoch``/``smoothed_var_last_epoch``
    (recolouring) ``[B, D]``; ``num_samples_tracked`` ``[B]`` int64 (official: float, never reset);
    this epoch's partial statistics ``partial_count`` ``[B+2]``, ``partial_mean``/``partial_m2``
    ``[B+2, D]`` float64 (rows ``B``/``B+1`` hold the official variant's below/above-range rows until
    the edge folding is decided at :meth:`end_epoch`), ``partial_edge_hits`` ``[2]``; ``epoch``
    (current epoch), ``stats_epoch`` (the official ``epoch`` counter), ``num_updates``; the
    configuration as extra state. Resuming from a ``state_dict`` saved mid-epoch or between epochs
    continues identically. ``(scale, shift)`` are non-persistent buffers recomputed on load.

    **Distributed**: when ``torch.distributed`` is initialised, :meth:`end_epoch` is a collective:
    it all-gathers every rank's partial (count, mean, M2) (one ``all_gather`` of
    ``O(world·B·D)`` float64) and merges them in rank order, so every rank ends with identical
    buffers. Every rank must call it.

    **Cost**: :meth:`forward` = bin ids + one fused gather/multiply-add (``fds_calibrate``), no host
    sync; :meth:`accumulate` = one pass of the statistics op ``dirfast::fds_accumulate`` (the
    calibration when collecting calibrated features, the per-bin reference shift, Welford/Chan
    statistics and the fp64 Chan merge into this epoch's partials, all in one C++ call on CPU —
    about the time of :func:`~dirfast.fds_stats.fds_bin_stats` on the same data —, or ``torch.sort`` +
    two Triton kernels on CUDA); :meth:`end_epoch` = ``O(B·D·ks)``. On CUDA (default variant,
    float labels, validation off) a training forward + backward with ``accumulate_in_forward=True``
    launches 6 kernels: bin ids, calibration, the sort of the bin ids, two statistics kernels, and the
    calibration's backward. Under ``torch.autocast`` the ops run in the features' dtype (fp16/bf16 features
    are calibrated in fp32 and returned in their dtype; statistics accumulate in fp32/fp64).
    """

    def __init__(self, feature_dim: int, bins: Optional[Bins] = None, start_update: int = 0,
                 start_smooth: int = 1, kernel: str = "gaussian", ks: int = 5, sigma: float = 2.0,
                 momentum: Optional[float] = 0.9, *, bucket_num: Optional[int] = None,
                 bucket_start: Optional[int] = None, clip: Tuple[float, float] = (0.1, 10.0),
                 accumulate_in_forward: bool = False, variant: str = "default",
                 empty_bins: Optional[str] = None, whiten_lag: Optional[int] = None,
                 recolour_lag: Optional[int] = None, stats_from: Optional[str] = None,
                 dtype: torch.dtype = torch.float32,
                 backend: Optional[str] = None, validate: Optional[bool] = None,
                 process_group: Any = None):
        super().__init__()
        fn = "FDS"
        if isinstance(feature_dim, bool) or not isinstance(feature_dim, int) or feature_dim < 1:
            raise ValueError(f"{fn}: feature_dim must be an int >= 1, got {feature_dim!r}")
        if bins is None:
            if bucket_num is None:
                raise ValueError(f"{fn}: pass bins=dirfast.Bins(...) or bucket_num= (and bucket_start=)")
            start = 0 if bucket_start is None else bucket_start
            for name, v in (("bucket_num", bucket_num), ("bucket_start", start)):
                if isinstance(v, bool) or not isinstance(v, int):
                    raise ValueError(f"{fn}: {name} must be an int, got {v!r}")
            if bucket_num - start < 1:
                raise ValueError(f"{fn}: need bucket_num > bucket_start, got bucket_num={bucket_num}, "
                                 f"bucket_start={start}")
            bins = Bins(float(start), 1.0, bucket_num - start)
        elif bucket_num is not None or bucket_start is not None:
            raise ValueError(f"{fn}: pass either bins or bucket_num/bucket_start, not both")
        if dtype not in (torch.float32, torch.float64):
            raise TypeError(f"{fn}: dtype must be torch.float32 or torch.float64, got {dtype!r}")
        self.feature_dim = feature_dim
        self._configure(dict(bins=bins, start_update=start_update, start_smooth=start_smooth,
                             kernel=kernel, ks=ks, sigma=sigma, momentum=momentum, clip=clip,
                             accumulate_in_forward=accumulate_in_forward, variant=variant,
                             empty_bins=empty_bins, whiten_lag=whiten_lag, recolour_lag=recolour_lag,
                             stats_from=stats_from))
        self.backend, self.validate, self.process_group = backend, validate, process_group
        K, D = self.bins.num_bins, feature_dim
        z = lambda *s: torch.zeros(*s, dtype=dtype)  # noqa: E731
        o = lambda *s: torch.ones(*s, dtype=dtype)  # noqa: E731
        i64 = torch.int64
        self.register_buffer("running_mean", z(K, D))
        self.register_buffer("running_var", o(K, D))
        self.register_buffer("running_mean_last_epoch", z(K, D))
        self.register_buffer("running_var_last_epoch", o(K, D))
        self.register_buffer("smoothed_mean_last_epoch", z(K, D))
        self.register_buffer("smoothed_var_last_epoch", o(K, D))
        self.register_buffer("num_samples_tracked", torch.zeros(K, dtype=i64))
        self.register_buffer("partial_count", torch.zeros(K + 2, dtype=i64))
        self.register_buffer("partial_mean", torch.zeros(K + 2, D, dtype=torch.float64))
        self.register_buffer("partial_m2", torch.zeros(K + 2, D, dtype=torch.float64))
        self.register_buffer("partial_edge_hits", torch.zeros(2, dtype=i64))
        self.register_buffer("epoch", torch.zeros((), dtype=i64))
        self.register_buffer("stats_epoch", torch.full((), self.start_update, dtype=i64))
        self.register_buffer("num_updates", torch.zeros((), dtype=i64))
        self.register_buffer("scale", o(K, D), persistent=False)
        self.register_buffer("shift", z(K, D), persistent=False)
        self._epoch = 0  # host mirror of `epoch`: forward decides without a sync
        self.register_load_state_dict_post_hook(FDS._after_load)

    # --------------------------------------------------------------------------------------------
    # configuration

    def _configure(self, cfg: Dict[str, Any]) -> None:
        fn = "FDS"
        bins = cfg["bins"]
        if not isinstance(bins, Bins):
            raise TypeError(f"{fn}: bins must be a dirfast.Bins, got {type(bins).__name__}")
        for name in ("start_update", "start_smooth"):
            v = cfg[name]
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{fn}: {name} must be an int >= 0, got {v!r}")
        if cfg["start_smooth"] < cfg["start_update"]:
            raise ValueError(f"{fn}: start_smooth must be >= start_update (calibration needs statistics), "
                             f"got start_smooth={cfg['start_smooth']}, start_update={cfg['start_update']}")
        ks, sigma = check_ks_sigma(cfg["ks"], cfg["sigma"], cfg["kernel"], fn=fn)
        h = (ks - 1) // 2
        if bins.num_bins <= h:
            raise ValueError(f"{fn}: the smoothing needs more bins than the window's half-width "
                             f"(PyTorch reflect padding): {bins.num_bins} bins, ks = {ks} -> h = {h}; "
                             f"use ks <= {2 * bins.num_bins - 1}")
        m = cfg["momentum"]
        if m is not None:
            if isinstance(m, bool) or not isinstance(m, (int, float)) or not (0.0 <= m < 1.0):
                raise ValueError(f"{fn}: momentum must be None (cumulative average) or in [0, 1) (the "
                                 f"weight of the OLD value, 0.9 officially), got {m!r}")
            m = float(m)
        clip = cfg["clip"]
        if not isinstance(clip, Sequence) or isinstance(clip, str) or len(clip) != 2:
            raise ValueError(f"{fn}: clip must be a pair (lo, hi), got {clip!r}")
        lo = check_scalar("clip[0] (lo)", clip[0], fn=fn, low=0, low_open=True)
        hi = check_scalar("clip[1] (hi)", clip[1], fn=fn)
        if lo > hi:
            raise ValueError(f"{fn}: clip must have lo <= hi, got {tuple(clip)!r}")
        if not isinstance(cfg["accumulate_in_forward"], bool):
            raise TypeError(f"{fn}: accumulate_in_forward must be a bool, got {cfg['accumulate_in_forward']!r}")
        check_scalar("variant", cfg["variant"], fn=fn, choices=VARIANTS)
        if cfg["empty_bins"] is None:
            cfg = dict(cfg, empty_bins="keep")
        check_scalar("empty_bins", cfg["empty_bins"], fn=fn, choices=EMPTY_BINS)
        if cfg["variant"] == "official" and cfg["empty_bins"] != "keep":
            raise ValueError(f"{fn}: variant='official' keeps empty bins at mean 0 / var 1 (official); "
                             f"empty_bins={cfg['empty_bins']!r} needs variant='default'")
        recipe = OFFICIAL_RECIPE if cfg["variant"] == "official" else DEFAULT_RECIPE
        names = ("whiten_lag", "recolour_lag", "stats_from")
        chosen = []
        for name, dflt in zip(names, recipe):
            v = cfg.get(name)
            if v is None:
                v = dflt
            elif name == "stats_from":
                check_scalar(name, v, fn=fn, choices=STATS_FROM)
            elif isinstance(v, bool) or v not in (1, 2):
                raise ValueError(f"{fn}: {name} must be 1 (statistics at the end of the previous epoch) "
                                 f"or 2 (the epoch before), got {v!r}")
            if cfg["variant"] == "official" and v != dflt:
                raise ValueError(f"{fn}: variant='official' fixes {name}={dflt!r} (the official code); "
                                 f"{name}={v!r} needs variant='default'")
            chosen.append(v)
        if hasattr(self, "bins") and bins.num_bins != self.bins.num_bins:
            raise ValueError(f"{fn}: cannot change the number of bins from {self.bins.num_bins} to "
                             f"{bins.num_bins}; create a new FDS")
        self.bins = bins
        self.start_update, self.start_smooth = cfg["start_update"], cfg["start_smooth"]
        self.kernel, self.ks, self.sigma, self.momentum = cfg["kernel"], ks, sigma, m
        self.clip = (lo, hi)
        self.accumulate_in_forward = cfg["accumulate_in_forward"]
        self.variant, self.empty_bins = cfg["variant"], cfg["empty_bins"]
        self.whiten_lag, self.recolour_lag, self.stats_from = chosen

    def config(self) -> Dict[str, Any]:
        return {"feature_dim": self.feature_dim, "bins": self.bins.to_dict(),
                "start_update": self.start_update, "start_smooth": self.start_smooth,
                "kernel": self.kernel, "ks": self.ks, "sigma": self.sigma, "momentum": self.momentum,
                "clip": list(self.clip), "accumulate_in_forward": self.accumulate_in_forward,
                "variant": self.variant, "empty_bins": self.empty_bins, "whiten_lag": self.whiten_lag,
                "recolour_lag": self.recolour_lag, "stats_from": self.stats_from}

    def get_extra_state(self) -> Dict[str, Any]:
        return {"config": self.config()}

    def set_extra_state(self, state: Dict[str, Any]) -> None:
        cfg = dict(state["config"])
        if cfg.pop("feature_dim") != self.feature_dim:
            return  # load_state_dict reports the buffers' size mismatch
        cfg["bins"] = Bins.from_dict(cfg["bins"])
        cfg["clip"] = tuple(cfg["clip"])
        if cfg["bins"].num_bins != self.bins.num_bins:
            return
        if cfg.get("variant") == "default":  # saved before the recipe knobs existed: their values then
            for name, v in zip(("whiten_lag", "recolour_lag", "stats_from"), LEGACY_RECIPE):
                cfg.setdefault(name, v)
        self._configure(cfg)

    @staticmethod
    def _after_load(module: "FDS", incompatible_keys) -> None:
        module._epoch = int(module.epoch)
        module._refresh_calibration()

    def window(self) -> Tensor:
        """The sum-normalised ``[ks]`` smoothing window in the buffers' dtype."""
        return kernel_window(self.kernel, self.ks, self.sigma, normalize="sum",
                             dtype=self.running_mean.dtype, device=self.running_mean.device)

    @property
    def num_bins(self) -> int:
        return self.bins.num_bins

    @property
    def calibrating(self) -> bool:
        """Whether a training-mode :meth:`forward` calibrates now (``epoch >= start_smooth``)."""
        return self._epoch >= self.start_smooth

    def set_epoch(self, epoch: int) -> None:
        """Set the current epoch (for loops that do not start at 0 without a saved state)."""
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"FDS.set_epoch: epoch must be an int >= 0, got {epoch!r}")
        self._epoch = epoch
        self.epoch.fill_(epoch)

    def extra_repr(self) -> str:
        return (f"feature_dim={self.feature_dim}, {self.bins!r}, start_update={self.start_update}, "
                f"start_smooth={self.start_smooth}, kernel={self.kernel!r}, ks={self.ks}, "
                f"sigma={self.sigma}, momentum={self.momentum}, clip={self.clip}, "
                f"accumulate_in_forward={self.accumulate_in_forward}, variant={self.variant!r}, "
                f"empty_bins={self.empty_bins!r}, whiten_lag={self.whiten_lag}, "
                f"recolour_lag={self.recolour_lag}, stats_from={self.stats_from!r}")

    # --------------------------------------------------------------------------------------------
    # inputs

    def _flatten(self, fn: str, features: Tensor, labels: Tensor):
        """``(x [M, D], labels [M], restore)`` for ``[N, D]`` or ``[N, C, *S]`` features."""
        if isinstance(features, Tensor) and isinstance(labels, Tensor):
            # fast path of the common valid call, [N, D] features with [N] / [N, 1] labels (the same
            # answer as the checks below, without building their messages)
            fs, ls, dev = features.shape, labels.shape, features.device
            if (len(fs) == 2 and fs[1] == self.feature_dim and features.dtype in _FLOAT_DTYPES
                    and ls[:1] == fs[:1] and (len(ls) == 1 or (len(ls) == 2 and ls[1] == 1))
                    and labels.dtype in _LABEL_FAST_DTYPES and labels.device == dev
                    and self._buffers["running_mean"].device == dev):
                return features, labels.reshape(-1) if len(ls) == 2 else labels, None
        check_tensor("features", features, fn=fn)
        check_float("features", features, fn=fn)
        if features.dim() < 2:
            raise ValueError(f"{fn}: features must have rank >= 2: [N, D], or [N, C, *spatial] with the "
                             f"feature (channel) dimension at dim 1; got {describe(features)}")
        if features.shape[1] != self.feature_dim:
            raise ValueError(f"{fn}: features has {features.shape[1]} feature dims at dim 1 but this FDS "
                             f"was built with feature_dim={self.feature_dim} ({describe(features)})")
        check_tensor("labels", labels, fn=fn)
        if labels.dtype == torch.bool or labels.is_complex():
            raise TypeError(f"{fn}: labels must be a real floating or integer tensor, got {describe(labels)}")
        n = features.shape[0]
        spatial = tuple(features.shape[2:])
        ok = (tuple(labels.shape) == (n,) + spatial) or (tuple(labels.shape) == (n, 1) + spatial)
        if not ok:
            want = (f"[{n}] or [{n}, 1]" if not spatial else
                    f"{[n, *spatial]} or {[n, 1, *spatial]} (one label per position)")
            raise ValueError(f"{fn}: labels must have shape {want} for features of shape "
                             f"{tuple(features.shape)}, got {describe(labels)}")
        if labels.device != features.device or self.running_mean.device != features.device:
            raise ValueError(f"{fn}: features, labels and the FDS buffers must be on one device, got "
                             f"features on {features.device}, labels on {labels.device}, buffers on "
                             f"{self.running_mean.device}")
        lab = labels.reshape(-1)
        if not spatial:
            return features, lab, None
        x = features.movedim(1, -1).reshape(-1, self.feature_dim)
        shape = (n,) + spatial + (self.feature_dim,)
        return x, lab, shape

    def _path(self, device: torch.device) -> str:
        """The statistics ops' resolved backend on ``device`` (cached per configuration)."""
        return resolve_backend(self.backend, device, op="dirfast.fds_bin_stats")

    def _bin_ids(self, fn: str, lab: Tensor, path: Optional[str] = None):
        """``(calibration ids [M] (−1 = untouched), statistics keys [M] in [0, B+2), edge hits [2]
        or None)``; no host sync (validation aside). On the Triton path (default variant, float32/
        float64 labels, no validation, eager) one kernel computes the ids (binary search over the
        bins' edges: the :class:`Bins` definition)."""
        if (path == "triton" and self.variant != "official" and lab.dtype in _ID_DTYPES
                and not validation_enabled(self.validate) and not torch.compiler.is_compiling()):
            fds_bin_ids_fwd = kernels("fds_stats").fds_bin_ids_fwd
            _, cdt = self.bins._compute_labels(lab, fn, "labels")  # metadata checks only
            ids = fds_bin_ids_fwd(lab.contiguous(), self.bins._edges_on(lab.device, cdt))
            return ids, ids, None
        bk = "reference" if self.backend == "reference" else None
        ids = self.bins._ids(lab, fn=fn, name="labels", validate=self.validate, backend=bk,
                             index_dtype=torch.int64)
        if self.variant != "official":
            return ids, ids, None
        K = self.num_bins
        yc, cdt = self.bins._compute_labels(lab, fn, "labels")
        y = yc if yc.dtype == cdt else yc.to(cdt)
        e = self.bins._edges_on(y.device, cdt)
        e0, e_last = e[0], e[-2]  # official bucket_start and bucket_num - 1
        below, above = y < e0, y > e_last
        at_lo, at_hi = y == e0, y == e_last
        if K == 1:  # official: the `label == bucket_start` branch wins, the top is never folded
            at_hi = torch.zeros_like(at_hi)
        hits = torch.stack([at_lo.sum(), at_hi.sum()])
        minus1 = torch.full_like(ids, -1)
        cal = torch.where(below, torch.where(at_lo.any(), torch.zeros_like(ids), minus1), ids)
        cal = torch.where(above, torch.where(at_hi.any(), torch.full_like(ids, K - 1), minus1), cal)
        keys = torch.where(below, torch.full_like(ids, K), torch.where(above, torch.full_like(ids, K + 1), ids))
        return cal, keys, hits

    # --------------------------------------------------------------------------------------------
    # per step

    def _calibrate(self, x: Tensor, cal: Tensor) -> Tensor:
        _, _, _, fds_calibrate = _stats_ops()
        if self.backend == "reference" or validation_enabled(self.validate):
            return fds_calibrate(x, cal, self.scale, self.shift, backend=self.backend,
                                 validate=self.validate)
        # x [M, D] floating, cal [M] int64 on x's device, the tables [B, D] on the buffers' device
        # (checked against x's in _flatten): the public function's checks would repeat them
        path = resolve_backend(self.backend, x.device, op="dirfast.fds_calibrate")
        return _calibrate_checked(x, cal, self.scale, self.shift, path)

    def _accumulate_flat(self, x: Tensor, keys: Tensor, hits: Optional[Tensor],
                         cal: Optional[Tensor] = None, *, path: Optional[str] = None) -> None:
        """Merge the statistics of ``x`` (calibrated first with ids ``cal`` when given) into this
        epoch's partial statistics: one ``dirfast::fds_accumulate`` call. Each bin's rows are shifted
        by a per-bin reference (this epoch's partial mean, else the running mean of a seen bin, else
        the bin's first row in this call) rounded to the working precision, subtracted in registers,
        and added back in fp64: ``fds_bin_stats`` returns fp32 means for fp32 features, and without
        the shift a mean of 1e4 would be rounded to ±5e-4 per call, which the Chan merges of many
        calls turn into relative variance errors of ~1e-4 when std ≈ 1 (measured); with it ~1e-7.
        The C++ and Triton paths calibrate in registers too (no calibrated ``[N, D]`` copy). No
        gradient: ``x`` is detached and the op runs under ``no_grad``."""
        FUSED_CALIBRATION, fds_accumulate_op, fds_accumulate_paths = _accumulate_ops()
        x = x.detach()
        if path is None:
            path = self._path(x.device)
        if validation_enabled(self.validate):
            check_finite_values("dirfast.fds_bin_stats", features=x)
        if cal is not None and not (path in FUSED_CALIBRATION and x.dtype == self.scale.dtype):
            x, cal = self._calibrate(x, cal), None
        tables = (self.scale, self.shift) if cal is not None else (None, None)
        args = (x, keys, cal, *tables, self.running_mean, self.num_samples_tracked, self.partial_count,
                self.partial_mean, self.partial_m2, path)
        if torch.compiler.is_compiling():
            fds_accumulate_op(*args)
        else:
            fds_accumulate_paths(*args)
        if hits is not None:
            self.partial_edge_hits.add_(hits)

    def forward(self, features: Tensor, labels: Tensor) -> Tensor:
        """Calibrate ``features`` with their labels' bin statistics (training mode, ``epoch >=
        start_smooth``); the identity otherwise (eval mode: returns ``features`` itself).

        Never modifies ``features``; differentiable w.r.t. ``features`` (``d/dz = scale[bin]``). With
        ``accumulate_in_forward=True`` (training mode) also accumulates statistics, without gradient.
        Shapes: see the class docstring. No host sync (unless validating).
        """
        fn = "FDS"
        x, lab, shape = self._flatten(fn, features, labels)
        if not self.training:
            return features
        calibrate = self._epoch >= self.start_smooth
        acc = self.accumulate_in_forward and self._epoch >= self.start_update
        if not calibrate and not acc:
            return features
        path = self._path(x.device)
        cal, keys, hits = self._bin_ids(fn, lab, path)
        out = self._calibrate(x, cal) if calibrate else x
        if acc:
            self._accumulate_flat(out if self.stats_from == "calibrated" else x, keys, hits, path=path)
        if not calibrate:
            return features
        return out if shape is None else out.reshape(shape).movedim(-1, 1)

    @torch.no_grad()
    def accumulate(self, features: Tensor, labels: Tensor) -> None:
        """Add the statistics of ``(features, labels)`` to this epoch's partial statistics (no grad,
        any number of calls per epoch; Chan merge). Official variant: the features are calibrated
        first (from ``start_smooth`` on, whatever the module's mode), as the official statistics pass
        collects the calibrated features (§7.2). Calls before ``start_update`` still accumulate;
        :meth:`end_epoch` discards them."""
        fn = "FDS.accumulate"
        x, lab, _ = self._flatten(fn, features, labels)
        path = self._path(x.device)
        cal, keys, hits = self._bin_ids(fn, lab, path)
        calibrate = self.stats_from == "calibrated" and self._epoch >= self.start_smooth
        self._accumulate_flat(x, keys, hits, cal if calibrate else None, path=path)

    # --------------------------------------------------------------------------------------------
    # end of epoch

    def _gather_partials(self):
        count, mean, m2, hits = (self.partial_count, self.partial_mean, self.partial_m2,
                                 self.partial_edge_hits)
        dist = torch.distributed
        if not (dist.is_available() and dist.is_initialized()):
            return count, mean, m2, hits
        world = dist.get_world_size(self.process_group)
        if world == 1:
            return count, mean, m2, hits
        BinStats = _stats_ops()[0]
        K2, D = mean.shape
        # one collective: [count | hits | mean | m2] as float64 (counts exact below 2**53)
        flat = torch.cat([count.to(torch.float64), hits.to(torch.float64), mean.reshape(-1),
                          m2.reshape(-1)])
        parts = [torch.empty_like(flat) for _ in range(world)]
        dist.all_gather(parts, flat, group=self.process_group)
        merged = None
        total_hits = torch.zeros_like(hits)
        for p in parts:  # rank order: every rank merges identically
            c = p[:K2].round().to(torch.int64)
            total_hits += p[K2:K2 + 2].round().to(torch.int64)
            o = K2 + 2
            st = BinStats(c, p[o:o + K2 * D].reshape(K2, D), p[o + K2 * D:].reshape(K2, D))
            merged = st if merged is None else merged.merge(st)
        return merged.count, merged.mean, merged.m2, total_hits

    @torch.no_grad()
    def end_epoch(self, epoch: Optional[int] = None) -> None:
        """Finish epoch ``epoch`` (default: the current :attr:`epoch`).

        For ``epoch >= start_update``, in the official order: (1) last-epoch statistics ←
        running statistics, smoothed statistics ← ``S(running)`` (from the second update on);
        (2) momentum update of the running statistics from this epoch's accumulated statistics
        (bins without samples this epoch keep theirs); then the per-bin ``(scale, shift)`` for the
        calibration in the next epoch (``fds_scale_shift``). Resets the partial statistics and sets
        the current epoch to ``epoch + 1``. A collective under ``torch.distributed`` (every rank
        must call it; all end with identical buffers). Syncs with the host (once per epoch).
        """
        fn = "FDS.end_epoch"
        if epoch is None:
            epoch = self._epoch
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"{fn}: epoch must be an int >= 0, got {epoch!r}")
        count, mean, m2, hits = self._gather_partials()
        if epoch >= self.start_update:
            self._update(epoch, count, mean, m2, hits)
        self.partial_count.zero_()
        self.partial_mean.zero_()
        self.partial_m2.zero_()
        self.partial_edge_hits.zero_()
        self.set_epoch(epoch + 1)
        self._refresh_calibration()

    def _update(self, e: int, count: Tensor, mean: Tensor, m2: Tensor, hits: Tensor) -> None:
        BinStats = _stats_ops()[0]
        K = self.num_bins
        official = self.variant == "official"
        if official:
            # §7.8: below/above-range rows join the edge bins only if the exact edge label occurred
            lo = BinStats(count[:1], mean[:1], m2[:1]).merge(BinStats(count[K:K + 1], mean[K:K + 1], m2[K:K + 1]))
            hi = BinStats(count[K - 1:K], mean[K - 1:K], m2[K - 1:K]).merge(
                BinStats(count[K + 1:], mean[K + 1:], m2[K + 1:]))
            count, mean, m2 = count[:K].clone(), mean[:K].clone(), m2[:K].clone()
            if int(hits[0]) > 0:
                count[:1], mean[:1], m2[:1] = lo.count, lo.mean, lo.m2
            if int(hits[1]) > 0 and K > 1:
                count[K - 1:], mean[K - 1:], m2[K - 1:] = hi.count, hi.mean, hi.m2
        else:
            count, mean, m2 = count[:K], mean[:K], m2[:K]
        stats = BinStats(count, mean, m2)
        dt = self.running_mean.dtype
        cur_mean, cur_var = stats.mean.to(dt), stats.var.to(dt)

        if official:
            self._update_official(e, count, cur_mean, cur_var)
        else:
            self._update_default(count, cur_mean, cur_var)

    def _momentum_update(self, count: Tensor, cur_mean: Tensor, cur_var: Tensor, f: Tensor) -> None:
        """``running ← (1 − f)·current + f·running`` for the bins present (``count > 0``)."""
        dt = self.running_mean.dtype
        a = (1.0 - f).to(dt).unsqueeze(1)
        b = f.to(dt).unsqueeze(1)
        p = (count > 0).unsqueeze(1)
        self.running_mean.copy_(torch.where(p, a * cur_mean + b * self.running_mean, self.running_mean))
        self.running_var.copy_(torch.where(p, a * cur_var + b * self.running_var, self.running_var))
        self.num_updates.add_(1)

    def _momentum_factor(self, count: Tensor) -> Tensor:
        """Old-value weight ``f`` ``[B]`` float64 (after ``num_samples_tracked`` was incremented)."""
        if self.momentum is None:
            f64 = torch.float64
            return 1.0 - count.to(f64) / self.num_samples_tracked.clamp(min=1).to(f64)
        return torch.full((self.num_bins,), self.momentum, dtype=torch.float64, device=count.device)

    def _set_last(self, whiten: Tuple[Tensor, Tensor, Tensor], recolour: Tuple[Tensor, Tensor, Tensor]) -> None:
        """Whitening ← ``whiten`` (mean, var, seen mask), recolouring ← ``S(recolour)``; never-seen
        bins filled first with ``empty_bins="interpolate"``."""
        out = []
        for m, v, seen in (whiten, recolour):
            if self.empty_bins == "interpolate":
                m, v = _fill_empty(m, v, seen)
            out.append((m, v))
        self.running_mean_last_epoch.copy_(out[0][0])
        self.running_var_last_epoch.copy_(out[0][1])
        sm, sv = smooth_stats(out[1][0], out[1][1], self.window())
        self.smoothed_mean_last_epoch.copy_(sm)
        self.smoothed_var_last_epoch.copy_(sv)

    def _update_default(self, count: Tensor, cur_mean: Tensor, cur_var: Tensor) -> None:
        # statistics at the end of the previous epoch (lag 2 for the next epoch) ...
        prev = (self.running_mean.clone(), self.running_var.clone(), self.num_samples_tracked > 0)
        first = int(self.num_updates) == 0
        before = self.num_samples_tracked.clone()
        self.num_samples_tracked.add_(count)
        f = self._momentum_factor(count)
        f = torch.where(before == 0, torch.zeros_like(f), f)  # a bin's first update copies
        self._momentum_update(count, cur_mean, cur_var, f)
        # ... and at the end of this one (lag 1)
        cur = (self.running_mean.clone(), self.running_var.clone(), self.num_samples_tracked > 0)
        if first and 2 in (self.whiten_lag, self.recolour_lag):
            return  # lag 2 has nothing yet: the calibration stays the identity for one more epoch
        self._set_last(cur if self.whiten_lag == 1 else prev, cur if self.recolour_lag == 1 else prev)
        self.stats_epoch.add_(1)

    def _update_official(self, e: int, count: Tensor, cur_mean: Tensor, cur_var: Tensor) -> None:
        stats_epoch = int(self.stats_epoch)
        do_last = e == stats_epoch + 1
        do_running = e >= (stats_epoch + 1 if do_last else stats_epoch)
        # (1) last-epoch statistics and their smoothing
        if do_last:
            self.stats_epoch.add_(1)
            lm, lv = self.running_mean.clone(), self.running_var.clone()
            self.running_mean_last_epoch.copy_(lm)
            self.running_var_last_epoch.copy_(lv)
            sm, sv = smooth_stats(lm, lv, self.window())
            self.smoothed_mean_last_epoch.copy_(sm)
            self.smoothed_var_last_epoch.copy_(sv)
        # (2) momentum update of the running statistics
        if do_running:
            self.num_samples_tracked.add_(count)
            f = self._momentum_factor(count)
            if e == self.start_update:
                f = torch.zeros_like(f)
            self._momentum_update(count, cur_mean, cur_var, f)
        if int(self.stats_epoch) > self.start_update:
            # §7.1 alias: running_*_last_epoch *are* running_* after the first last-epoch update
            self.running_mean_last_epoch.copy_(self.running_mean)
            self.running_var_last_epoch.copy_(self.running_var)

    def _refresh_calibration(self) -> None:
        """``(scale, shift)`` from the whitening (last-epoch) and recolouring (smoothed) statistics."""
        _, _, fds_scale_shift, _ = _stats_ops()
        scale, shift = fds_scale_shift(self.running_mean_last_epoch, self.running_var_last_epoch,
                                       self.smoothed_mean_last_epoch, self.smoothed_var_last_epoch,
                                       self.clip, variant=self.variant)
        self.scale.copy_(scale)
        self.shift.copy_(shift)
