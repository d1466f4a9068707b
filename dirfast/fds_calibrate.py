r"""FDS calibration (feature whitening + recolouring; Yang et al., ICML 2021; docs/lds_fds.md §2.5).

Two steps, used by the FDS module (:mod:`dirfast.fds`)::

    scale, shift = dirfast.fds_scale_shift(mean, var, smoothed_mean, smoothed_var)   # once per epoch, [B, D]
    z_cal = dirfast.fds_calibrate(features, bin_idx, scale, shift)                   # every step, [N, D]

:func:`fds_scale_shift` turns the per-bin statistics into a per-(bin, dimension) affine map,
``scale = sqrt(clamp(σ̃²/σ², lo, hi))``, ``shift = μ̃ − μ·scale``, so that
``z·scale[b] + shift[b] = (z − μ_b)·sqrt(clamp(σ̃²_b/σ²_b, lo, hi)) + μ̃_b``, the official formula
(diagonal variances, ratio clipped to ``[0.1, 10]`` for the age datasets). Zero-variance handling:

* ``variant="official"`` (the age code exactly): a bin with ``sum(σ²_b) < 1e-10`` is the identity
  (scale 1, shift 0); otherwise dimensions with ``σ² == 0`` are the identity. NaN statistics propagate.
* ``variant="default"``: the same, plus two guards that change nothing on finite, non-negative
  statistics with ``eps = 0``: a dimension is calibrated only if ``σ² > eps`` and its four statistics
  are finite (official: ``σ² < 0`` is calibrated with the ratio clamped to ``lo``, NaN/inf spreads
  into the features); the bin test sums ``σ²`` over the calibrated dimensions only.

:func:`fds_calibrate` applies the map out of place in one pass (fused gather + multiply-add): the
official code boolean-masks the rows of each bin present in the batch and writes them back in place
(``index_put_``), one pass per bin with host syncs; here one kernel handles every row, never writes
into ``features`` (safe on the output of ReLU/sigmoid under autograd), and needs no host sync.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor

from ._backend import resolve_backend
from ._checks import (FLOAT_DTYPES, check_finite_values, check_float, check_same_device,
                      check_scalar, check_tensor, describe, validation_enabled)
from .ops.fds_calibrate import FdsCalibrateFunction, fds_calibrate_op
from .reference.fds_calibrate import VARIANTS, fds_calibrate_ref, fds_scale_shift_ref

__all__ = ["fds_calibrate", "fds_scale_shift"]

INDEX_DTYPES = (torch.int64, torch.int32)


def _check_clip(fn: str, clip) -> Tuple[float, float]:
    if not isinstance(clip, Sequence) or isinstance(clip, str) or len(clip) != 2:
        raise TypeError(f"{fn}: clip must be a pair (lo, hi), got {clip!r}")
    lo = check_scalar("clip[0] (lo)", clip[0], fn=fn, low=0, low_open=True)
    hi = check_scalar("clip[1] (hi)", clip[1], fn=fn)
    if lo > hi:
        raise ValueError(f"{fn}: clip must have lo <= hi, got {tuple(clip)!r}")
    return lo, hi


def fds_scale_shift(
    mean: Tensor,
    var: Tensor,
    smoothed_mean: Tensor,
    smoothed_var: Tensor,
    clip: Tuple[float, float] = (0.1, 10.0),
    *,
    variant: str = "default",
    eps: float = 0.0,
) -> Tuple[Tensor, Tensor]:
    r"""Per-(bin, dimension) affine calibration map from the FDS statistics.

    Args:
        mean, var: ``[B, D]`` running (whitening) statistics :math:`\mu_b, \sigma^2_b`.
        smoothed_mean, smoothed_var: ``[B, D]`` smoothed (recolouring) statistics
            :math:`\tilde\mu_b, \tilde\sigma^2_b`.
        clip: ``(lo, hi)`` bounds of the variance ratio, ``0 < lo <= hi`` (official age code:
            ``(0.1, 10)``; STS-B ``(0.5, 2)``; NYUD2 ``(0.2, 5)``).
        variant: ``"default"`` or ``"official"`` (see the module docstring; identical on finite,
            non-negative statistics with ``eps = 0``).
        eps: ``"default"`` only: dimensions with ``σ² <= eps`` are left unchanged (``>= 0``; 0 = only
            zero or negative variances, like the official ``σ² == 0`` test).

    Returns:
        ``(scale, shift)``, both ``[B, D]``, fp32 (fp64 if any input is fp64), on the inputs' device, so
        that ``z·scale[b] + shift[b]`` equals :math:`(z - \mu_b)\sqrt{\mathrm{clamp}(\tilde\sigma^2_b /
        \sigma^2_b, lo, hi)} + \tilde\mu_b` (identity entries are exactly ``(1, 0)``). ``O(B·D)`` pure
        PyTorch, no host sync; computed once per epoch by the FDS module. Differentiable through
        ordinary torch ops (the module passes buffers).
    """
    fn = "dirfast.fds_scale_shift"
    check_scalar("variant", variant, fn=fn, choices=VARIANTS)
    eps = check_scalar("eps", eps, fn=fn, low=0)
    lo, hi = _check_clip(fn, clip)
    tensors = {"mean": mean, "var": var, "smoothed_mean": smoothed_mean, "smoothed_var": smoothed_var}
    for name, t in tensors.items():
        check_tensor(name, t, fn=fn)
        check_float(name, t, fn=fn)
        if t.dim() != 2:
            raise ValueError(f"{fn}: {name} must have shape [B, D] (bins x feature dims), got {describe(t)}")
        if t.shape != mean.shape:
            raise ValueError(f"{fn}: {name} must have the shape of mean {tuple(mean.shape)}, got {describe(t)}")
    check_same_device(fn, **tensors)
    return fds_scale_shift_ref(mean, var, smoothed_mean, smoothed_var, (lo, hi), variant=variant, eps=eps)


def _check_calibrate_inputs(fn, features, bin_idx, scale, shift):
    if (isinstance(features, Tensor) and isinstance(bin_idx, Tensor) and isinstance(scale, Tensor)
            and isinstance(shift, Tensor)):
        # fast path of the common valid call (the same answers as the checks below, without
        # building their messages)
        dev, fs, ss = features.device, features.shape, scale.shape
        if (len(fs) == 2 and features.dtype in FLOAT_DTYPES and bin_idx.dtype in INDEX_DTYPES
                and bin_idx.shape == fs[:1] and len(ss) == 2 and ss[1] == fs[1]
                and scale.dtype in FLOAT_DTYPES and shift.dtype in FLOAT_DTYPES
                and shift.shape == ss and bin_idx.device == dev and scale.device == dev
                and shift.device == dev):
            return dev
    check_tensor("features", features, fn=fn)
    check_float("features", features, fn=fn)
    if features.dim() != 2:
        hint = ("; flatten it to [N, D] first (e.g. NYUD2 [b, C, H, W] -> permute to [b·H·W, C])"
                if features.dim() > 2 else "")
        raise ValueError(f"{fn}: features must have shape [N, D] (rank 2), got {describe(features)}{hint}")
    check_tensor("bin_idx", bin_idx, fn=fn)
    if bin_idx.dtype not in INDEX_DTYPES:
        raise TypeError(f"{fn}: bin_idx must be an int64 or int32 tensor, got {describe(bin_idx)}")
    if bin_idx.shape != features.shape[:1]:
        raise ValueError(f"{fn}: bin_idx must have shape [N] = [{features.shape[0]}] (one bin id per "
                         f"row of features), got {describe(bin_idx)}")
    for name, t in (("scale", scale), ("shift", shift)):
        check_tensor(name, t, fn=fn)
        check_float(name, t, fn=fn)
        if t.dim() != 2:
            raise ValueError(f"{fn}: {name} must have shape [B, D] (from fds_scale_shift), got {describe(t)}")
        if t.shape[1] != features.shape[1]:
            raise ValueError(f"{fn}: {name} has D = {t.shape[1]} feature dims but features has "
                             f"D = {features.shape[1]} ({describe(t)} vs {describe(features)})")
    if shift.shape != scale.shape:
        raise ValueError(f"{fn}: shift must have the shape of scale {tuple(scale.shape)}, got {describe(shift)}")
    return check_same_device(fn, features=features, bin_idx=bin_idx, scale=scale, shift=shift)


def fds_calibrate(
    features: Tensor,
    bin_idx: Tensor,
    scale: Tensor,
    shift: Tensor,
    *,
    backend: Optional[str] = None,
    validate: Optional[bool] = None,
) -> Tensor:
    r"""FDS calibration: ``out[i] = features[i]·scale[bin_idx[i]] + shift[bin_idx[i]]``, out of place.

    With ``(scale, shift)`` from :func:`fds_scale_shift` this is the official
    :math:`(z - \mu_b)\sqrt{\mathrm{clamp}(\tilde\sigma^2_b/\sigma^2_b, lo, hi)} + \tilde\mu_b`.

    Args:
        features: ``[N, D]``, float16/bfloat16/float32/float64, any strides (rank > 2: flatten first):
            ``"triton"``/``"cuda"`` read it in place through both strides (stride 0 and overlapping
            rows from ``expand``/``unfold``, transposed and sliced views alike); ``"cpu"`` (C++)
            takes contiguous fp32/fp64 as-is and copies anything else once to a contiguous
            fp32/fp64 ``[N, D]`` (no larger than the output); ``"cpu_torch"``/``"reference"`` are
            PyTorch ops (any layout).
        bin_idx: ``[N]`` int64 or int32. Rows with ``bin_idx < 0`` are returned unchanged (bit for bit;
            the FDS module uses ``-1`` for rows the official code leaves uncalibrated). ``bin_idx >= B``
            raises under validation (``validate=True`` / ``DIRFAST_VALIDATE=1``); with validation off
            such rows are also returned unchanged (no host sync to detect them).
        scale, shift: ``[B, D]`` floating tables (cast to the compute dtype). They are treated as
            constants (the FDS module's buffers): **no gradient flows to them** on the fast paths, even
            if they require grad (``backend="reference"`` differentiates through them).
        backend: ``"auto" | "reference" | "cpu" | "triton" | "cuda"`` (see ``dirfast._backend``);
            ``"cpu"`` is the C++ kernel (OpenMP over rows), vectorised PyTorch without the extension.
        validate: value checks needing a host sync (``bin_idx < B``, finite features/scale/shift).
            With validation off, NaN/±inf propagate element-wise by IEEE arithmetic: a NaN feature
            gives NaN in the same output element, a NaN in ``scale``/``shift`` row ``b`` gives NaN in
            that column of bin ``b``'s rows; nothing else is touched (identity rows stay bit-exact).

    Returns:
        ``[N, D]`` contiguous on every backend (whatever the layout of ``features``), dtype of
        ``features``; arithmetic in fp32 (fp64 for fp64 features). Never
        aliases or modifies ``features``. Differentiable w.r.t. ``features``:
        ``d features = grad_output·scale[bin_idx]`` (identity rows: ``grad_output``). Under
        ``torch.autocast`` the op is not autocast-registered: it runs in the dtype of ``features``.
    """
    fn = "dirfast.fds_calibrate"
    device = _check_calibrate_inputs(fn, features, bin_idx, scale, shift)
    num_bins = scale.shape[0]
    path = resolve_backend(backend, device, op=fn)  # metadata checks first, then the host-sync ones
    if validation_enabled(validate):
        check_finite_values(fn, features=features, scale=scale, shift=shift)
        if bin_idx.numel() and bool((bin_idx >= num_bins).any()):
            bad = bin_idx[bin_idx >= num_bins][:5].tolist()
            raise ValueError(f"{fn}: bin_idx must be < B = {num_bins} (the rows of scale/shift), got "
                             f"e.g. {bad} (validation on; with validation off such rows are left "
                             "unchanged)")
    if path == "reference":
        return fds_calibrate_ref(features, bin_idx, scale, shift)
    return _calibrate_checked(features, bin_idx, scale, shift, path)


def _calibrate_checked(features: Tensor, bin_idx: Tensor, scale: Tensor, shift: Tensor,
                       path: str) -> Tensor:
    """:func:`fds_calibrate` after its checks, on a resolved fast ``path`` (not ``"reference"``):
    the entry of callers that have checked the inputs themselves (``dirfast.nn.FDS``)."""
    num_bins = scale.shape[0]
    if num_bins == 0 or features.numel() == 0:
        return features.clone(memory_format=torch.contiguous_format)  # every row is an identity row
    acc = torch.float64 if features.dtype == torch.float64 else torch.float32
    scale, shift = _as_table(scale, acc), _as_table(shift, acc)
    if torch.compiler.is_compiling():  # the registered op: traced without a graph break
        return fds_calibrate_op(features, bin_idx, scale, shift, path)
    # eager: same paths, without the op's dispatch cost
    return FdsCalibrateFunction.apply(features, bin_idx, scale, shift, (path,))


def _as_table(t: Tensor, acc: torch.dtype) -> Tensor:
    """A ``[B, D]`` table detached, in the compute dtype, contiguous (no copy when it already is)."""
    t = t.detach()
    if t.dtype != acc:
        t = t.to(acc)
    return t if t.is_contiguous() else t.contiguous()
