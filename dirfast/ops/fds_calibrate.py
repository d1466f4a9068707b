"""``dirfast::fds_calibrate``: FDS calibration ``features·scale[bin] + shift[bin]`` as one registered op.

The forward is one pass over the features (Triton kernel, C++ kernel in ``dirfast._C``, or vectorised
PyTorch); the backward op ``dirfast::fds_calibrate_bwd`` is one pass over ``grad_output``
(``dz = dy·scale[bin]``, identity rows pass ``dy`` through). ``scale``/``shift`` are constants (the FDS
module's buffers): no gradient flows to them. ``torch.compile`` traces both ops without a graph break
(their fake implementations give the shapes); eager calls use :class:`FdsCalibrateFunction`, the same
paths without the op's Python dispatch cost.

Op arguments are already checked by ``dirfast.fds_calibrate.fds_calibrate``: ``features`` is
``[N, D]`` floating (any strides), ``bin_idx`` ``[N]`` int64/int32, ``scale``/``shift`` are contiguous
``[B, D]`` with ``B >= 1`` in the compute dtype (fp32; fp64 for fp64 features), ``backend`` is a resolved
path (``"cpu" | "cpu_torch" | "triton"``). Rows whose bin id is ``< 0`` or ``>= B`` are returned unchanged.
The output is a new contiguous tensor in the dtype of ``features``; inputs are never written.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from .. import _ext
from ._common import EXT_DTYPE_NAME, acc_dtype, kernels
from ._factory import register_op


# ------------------------------------------------------------------------------------------------
# paths: fwd(z, idx, scale, shift) and bwd (shift=None): z·scale[idx] (+ shift[idx])


def _apply_torch(z: Tensor, idx: Tensor, scale: Tensor, shift: Optional[Tensor]) -> Tensor:
    """Vectorised PyTorch: the tables get one extra identity row (scale 1, shift −0.0) that every
    out-of-range bin id points to, so identity rows need no ``where`` pass and come out bit-exact
    (``x·1 + (−0.0) == x`` for every x, ``−0.0`` and NaN included)."""
    dt = acc_dtype(z.dtype)
    nb, d = scale.shape
    b = idx.to(torch.int64)
    b = torch.where((b >= 0) & (b < nb), b, torch.full_like(b, nb))
    s_tab = torch.cat([scale, scale.new_ones(1, d)])
    out = s_tab.index_select(0, b)
    out.mul_(z.to(dt))
    if shift is not None:
        t_tab = torch.cat([shift, shift.new_full((1, d), -0.0)])
        out.add_(t_tab.index_select(0, b))
    return out.to(z.dtype)


def _apply_cpu(z: Tensor, idx: Tensor, scale: Tensor, shift: Optional[Tensor]) -> Tensor:
    """One-pass C++ kernel (OpenMP over rows, GIL released); fp16/bf16 are converted to fp32 and back
    (two extra passes; the kernel itself runs in fp32)."""
    dt = acc_dtype(z.dtype)
    zc = z if z.dtype == dt else z.to(dt)
    if not zc.is_contiguous():
        zc = zc.contiguous()
    n, d = zc.shape
    out = torch.empty((n, d), dtype=dt)
    if not idx.is_contiguous():
        idx = idx.contiguous()
    _ext.require("dirfast::fds_calibrate backend='cpu'").fds_calibrate(
        EXT_DTYPE_NAME[dt], EXT_DTYPE_NAME[idx.dtype], zc.data_ptr(), idx.data_ptr(),
        scale.data_ptr(), 0 if shift is None else shift.data_ptr(), out.data_ptr(), n, d,
        scale.shape[0],
    )
    return out if dt == z.dtype else out.to(z.dtype)


def _apply_triton(z: Tensor, idx: Tensor, scale: Tensor, shift: Optional[Tensor]) -> Tensor:
    k = kernels("fds_calibrate")
    idx = idx.to(torch.int64).contiguous()  # [N] only: negligible next to the [N, D] pass
    if shift is None:
        return k.fds_calibrate_bwd(z, idx, scale)
    return k.fds_calibrate_fwd(z, idx, scale, shift)


_PATHS = {"cpu": _apply_cpu, "cpu_torch": _apply_torch, "triton": _apply_triton}


# ------------------------------------------------------------------------------------------------
# registered ops


def _fds_calibrate(features: Tensor, bin_idx: Tensor, scale: Tensor, shift: Tensor,
                   backend: str) -> Tensor:
    """``features·scale[bin_idx] + shift[bin_idx]``, ``[N, D]`` contiguous, dtype of ``features``."""
    return _PATHS[backend](features, bin_idx, scale, shift)


def _fds_calibrate_fake(features, bin_idx, scale, shift, backend):
    return features.new_empty(features.shape)


def _fds_calibrate_bwd(grad_output: Tensor, bin_idx: Tensor, scale: Tensor, backend: str) -> Tensor:
    """``d features = grad_output·scale[bin_idx]`` (identity rows: ``grad_output``); a new tensor."""
    return _PATHS[backend](grad_output, bin_idx, scale, None)


def _fds_calibrate_bwd_fake(grad_output, bin_idx, scale, backend):
    return grad_output.new_empty(grad_output.shape)


def _save(ctx, inputs, outputs, eager):
    _, bin_idx, scale, _, backend = inputs
    ctx.save_for_backward(bin_idx, scale)
    ctx.backend = backend


def _grads(ctx, grad_outputs, bwd, eager):
    grad_out = grad_outputs[0]
    bin_idx, scale = ctx.saved_tensors
    if grad_out is None or not ctx.needs_input_grad[0]:
        return ()
    if torch.is_grad_enabled():
        # create_graph=True: through the registered backward op, which is differentiable (below)
        return (fds_calibrate_bwd(grad_out, bin_idx, scale, ctx.backend),)
    return (bwd(grad_out, bin_idx, scale, ctx.backend),)


fds_calibrate_op, fds_calibrate_bwd, FdsCalibrateFunction = register_op(
    "fds_calibrate", _fds_calibrate, _fds_calibrate_fake, save=_save, grads=_grads,
    bwd=_fds_calibrate_bwd, bwd_fake=_fds_calibrate_bwd_fake, n_tensors=4,
    doc="""Eager twin of ``dirfast::fds_calibrate`` (:func:`dirfast.ops._factory.register_op`):
    ``apply(features, bin_idx, scale, shift, (backend,))``. A double backward
    (``create_graph=True``) goes through the registered backward op, which is differentiable.""")


def _bwd_setup_context(ctx, inputs, output):
    _, bin_idx, scale, backend = inputs
    ctx.save_for_backward(bin_idx, scale)
    ctx.backend = backend


def _bwd_backward(ctx, gg):
    # the backward is linear in grad_output with constant coefficients: its own derivative
    bin_idx, scale = ctx.saved_tensors
    if gg is None:
        return None, None, None, None
    return fds_calibrate_bwd(gg, bin_idx, scale, ctx.backend), None, None, None


fds_calibrate_bwd.register_autograd(_bwd_backward, setup_context=_bwd_setup_context)
