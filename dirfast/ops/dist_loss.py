r"""``dirfast::dist_loss``: Dist Loss as one registered op whose forward also computes ``dL/dpreds``
(semantics: :mod:`dirfast.reference.dist_loss`; docs/distloss_softsort.md §1.7, §4.3).

The loss is a scalar, so the forward computes the closed-form gradient of spec §1.7 and saves it
(``N`` values); the backward op ``dirfast::dist_loss_bwd`` only scales it by ``grad_output`` — nothing
else (no permutation, no PAV blocks) is kept. Every path:

1. ``x, perm = torch.sort(preds, stable=True)`` in the compute dtype (fp32; fp64 for fp64 inputs;
   stable: tied predictions keep their batch order on every path — dirfast's tie rule);
2. the soft sort ``ŝ`` of ``x``: the hard sort itself unless some gap ``x_{i+1} − x_i ≥ 1/eps``
   (spec §2.3), else the PAV (``dirfast._C.pav`` / the CUDA PAV / the Python stack PAV);
3. one fused pass over the sorted positions ``i`` (``k = perm_i``)::

       g_ŝ_i = s·λ·w'_i·ℓ'(ŝ_i − q_i)        (block-averaged over the PAV blocks when something pooled)
       grad[k] = g_ŝ_i + s·w_k·ℓ'(x_i − y_k)   (x_i = p_k: the sample term needs no gather of p)
       loss   = s·(λ·Σ_i w'_i ℓ(ŝ_i − q_i) + Σ_i w_k ℓ(x_i − y_k))

   with ``s = 1/N`` (``mean``) or 1 (``sum``) and ``w'`` the ``dist_weighting`` (``by_rank``: ``w_k``;
   ``official``: ``w_i``; ``none``: 1).

Paths (``backend`` resolved by :func:`dirfast.dist_loss`):

* ``cpu``: torch.sort + one serial C++ pass ``dirfast._C.dist_loss_pass`` (csrc/dist_loss.h: both
  terms, the gradient scattered by ``perm``, the gap test); only when a gap reaches 1/eps:
  ``dirfast._C.pav`` (mode 0), a C++ distance pass on ``ŝ``, ``dirfast._C.pav_block_mean`` and a C++
  gradient pass — the same stages as the Triton kernels. No OpenMP region below 32k elements.
* ``cpu_torch``: torch.sort + vectorised torch (a dozen O(N) ops), a vectorised gap test and the
  Python stack PAV only when it fires.
* ``triton`` / ``cuda``: torch.sort + :func:`dirfast.kernels.dist_loss.dist_loss_fwd` (one kernel:
  both loss terms' per-program partials, the gradient scattered by ``perm`` — a permutation, no atomics — and
  the device flag "some gap ≥ 1/eps"), then the pooling stage, always launched and exiting on the flag
  (no host sync) when ``dirfast._C_cuda`` is built: CUDA PAV (``N ≤ 16384``: one kernel, one block,
  that writes ``ŝ``, ``block_start`` and the flag) → recompute the distance term and ``g_ŝ`` from
  ``ŝ`` → CUDA block mean (one kernel) → rewrite the gradient, whose launch also sums the pre-scaled
  partials into the loss (fixed order). Forward + backward: 6 launches + ``torch.sort`` (fp32/fp64;
  the backward is the one scaling by ``grad_output``). On a GPU without ``dirfast._C_cuda`` the
  flag is read on the host (one 4-byte sync per call) and pooled batches take the CPU PAV; under
  ``TRITON_INTERPRET=1`` on CPU tensors likewise (free). ``cuda`` is the same route with
  ``dirfast._C_cuda`` required (the README's CUDA C++ column: the PAV and block mean are CUDA C++).
  Partial sums are reduced in a fixed order (in the last kernel, or by ``torch.sum`` on the routes
  without ``dirfast._C_cuda``): deterministic. Every launch runs on the
  tensors' device and its current stream (``device_guard``); scalars go to the kernels by value.

Double backward: a backward under ``create_graph=True`` (grad mode on) does not use the saved
gradient (a constant) but recomputes ``dL/dpreds`` through the differentiable reference from the
saved inputs (eager ``DistLossFunction`` and the registered op's backward alike), so it has a graph
back to ``preds`` and ``grad_output``; a plain ``backward()`` pays one ``torch.is_grad_enabled()``.
Under ``torch.compile`` the backward is traced with grad mode off and torch refuses a double
backward through the compiled graph.

Op arguments are checked and flattened by :func:`dirfast.dist_loss`: ``preds``, ``targets`` ``[N]``
(N ≥ 1) of one floating dtype, ``pseudo_labels [N]`` in the compute dtype, ``weights`` ``None`` or
``[N]`` in ``preds``' dtype; ``reduction`` is ``"mean"`` or ``"sum"``.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor

from .. import _backend, _ext
from .._backend import trace_constant, default_backend, resolve_backend
from ..kernels._launch import device_guard
from ..reference.dist_loss import DEFAULT_BETA, dist_loss_ref, loss_and_grad
from ..reference.soft_sort import MODE_SORT
from ._common import acc_dtype
from ._factory import register_op
from .soft_sort import _block_mean_host, _cuda_stream, _host_pav

#: dist_weighting -> code used by the Triton kernels
WEIGHTING_CODES = {"none": 0, "by_rank": 1, "official": 2}
LOSS_CODES = {"l2": 0, "l1": 1, "huber": 2, "focal_l1": 3}


def _as(t: Tensor, dtype: torch.dtype) -> Tensor:
    """``t`` in ``dtype``: itself when it already is (``Tensor.to`` costs ~1 µs of host time even as a
    no-op), else a cast."""
    return t if t.dtype == dtype else t.to(dtype)


def _dtname(t: Tensor) -> str:
    return "float64" if t.dtype == torch.float64 else "float32"


@trace_constant
def resolve_path(backend: Optional[str], device: torch.device) -> str:
    """The path ``backend`` (a user's request; None = ``DIRFAST_BACKEND`` or ``"auto"``) runs on
    ``device``: ``dirfast._backend``'s rule, where ``"cuda"`` is the Triton route with the CUDA C++
    PAV of ``dirfast._C_cuda`` and so needs triton too (``"auto"`` then falls back to the reference).

    A trace-time constant for ``torch.compile`` (it asks ``dirfast._C_cuda`` for devices, a pybind
    call dynamo cannot trace): the compiled graph holds only the registered ops."""
    fn = "dirfast.dist_loss"
    path = resolve_backend(backend, device, op=fn, has_cuda_kernel=True)
    if path == "cuda" and not _backend.triton_available():
        if (backend or default_backend()) == "cuda":
            raise RuntimeError(
                f"{fn}: backend='cuda' runs the Triton kernels with the CUDA C++ PAV, but triton is "
                "unavailable; install it with `pip install triton==3.6.0` (or `pip install "
                "dirfast[triton]`)")
        path = "reference"
    return path


def _scale(n: int, reduction: str) -> float:
    return 1.0 / n if reduction == "mean" else 1.0


def flag_threshold(eps: float) -> float:
    """Gap that raises the "may pool" flag: ``(1/eps)(1 − 1e-6)``; the margin only sends a batch to
    the exact PAV when rounding could matter, never skips one (the PAV decides exactly)."""
    return (1.0 / eps) * (1.0 - 1e-6)


# ------------------------------------------------------------------------------------------------
# CPU paths (vectorised torch + host PAV)


def _soft_sort_host(x: Tensor, eps: float, use_ext: bool) -> Tuple[Tensor, Optional[Tensor]]:
    """``(ŝ, block_start or None)`` of the sorted CPU row ``x [N]`` (None: nothing pooled, ŝ is x)."""
    n = x.shape[0]
    if n < 2:
        return x, None
    mod = _ext.get() if use_ext else None
    if mod is not None and hasattr(mod, "pav"):
        # dirfast._C.pav returns whether anything pooled (its own one-pass check); block_start is
        # written only then. One thread below 32k elements (one PAV chunk: an OpenMP barrier would
        # only add a wake-up).
        name = "float64" if x.dtype == torch.float64 else "float32"
        threads = 1 if n <= 32768 else 0
        out = torch.empty_like(x)
        if not mod.pav(name, MODE_SORT, x.data_ptr(), 1, n, float(eps), out.data_ptr(), 0, 0, False,
                       threads):
            return x, None
        bs = torch.empty(n, dtype=torch.int64, device=x.device)
        mod.pav(name, MODE_SORT, x.data_ptr(), 1, n, float(eps), out.data_ptr(), bs.data_ptr(), 0,
                False, threads)
        return out, bs
    gap = x[1:] - x[:-1]
    if not bool((gap >= flag_threshold(eps)).any()):
        return x, None
    out = x.clone()
    bs = torch.arange(n, dtype=torch.int64, device=x.device)
    pooled = _host_pav(x[None], eps, MODE_SORT, out[None], bs[None])
    if not pooled:
        return x, None
    return out, bs


def _fused_torch(x, perm, s_hat, bs, y, q, w, loss, beta, gamma, lam, dist_weighting, scale,
                 need_grad):
    """Loss and gradient from the sorted values (vectorised torch; any device)."""
    ys = y.to(x.dtype).index_select(0, perm)
    ld, dld = loss_and_grad(s_hat - q, loss, beta, gamma)
    ls, dls = loss_and_grad(x - ys, loss, beta, gamma)
    if w is None:
        wk = wd = None
    else:
        w = w.to(x.dtype)
        wk = w.index_select(0, perm)
        wd = {"by_rank": wk, "official": w, "none": None}[dist_weighting]
    dist = ld.sum() if wd is None else torch.dot(wd, ld)
    samp = ls.sum() if wk is None else torch.dot(wk, ls)
    out = (dist * lam + samp) * scale
    if not need_grad:
        return out, x.new_empty(0)
    gs = dld.mul_(lam * scale)
    if wd is not None:
        gs.mul_(wd)
    if bs is not None:
        gs = _block_mean_host(gs[None].cpu(), bs[None].cpu())[0].to(gs.device)
    gsamp = dls.mul_(scale)
    if wk is not None:
        gsamp.mul_(wk)
    gx = gs.add_(gsamp)
    grad = torch.empty_like(gx).index_copy_(0, perm, gx)
    return out, grad


def _fwd_cpu_common(use_ext, preds, targets, pseudo_labels, weights, loss, beta, gamma, lam, eps,
                    dist_weighting, reduction, need_grad):
    dt = acc_dtype(preds.dtype)
    x, perm = torch.sort(preds.to(dt), stable=True)
    s_hat, bs = _soft_sort_host(x, eps, use_ext)
    out, grad = _fused_torch(x, perm, s_hat, bs, targets, pseudo_labels.to(dt), weights, loss, beta,
                             gamma, lam, dist_weighting, _scale(x.shape[0], reduction), need_grad)
    return out.to(preds.dtype), grad.to(preds.dtype)


def _fwd_cpu(preds, targets, pseudo_labels, weights, loss, beta, gamma, lam, eps, dist_weighting,
             reduction, need_grad):
    """torch.sort + ``dirfast._C.dist_loss_pass`` (one serial fused pass with the gap test) and, only
    when a gap reaches 1/eps, ``_C.pav`` + a distance pass on ŝ + ``_C.pav_block_mean`` + a gradient
    pass (csrc/dist_loss.h)."""
    mod = _ext.require("dirfast::dist_loss backend='cpu'")
    if not hasattr(mod, "dist_loss_pass"):  # an older build of the extension
        return _fwd_cpu_common(True, preds, targets, pseudo_labels, weights, loss, beta, gamma, lam,
                               eps, dist_weighting, reduction, need_grad)
    dt = acc_dtype(preds.dtype)
    name = "float64" if dt == torch.float64 else "float32"
    x, perm = torch.sort(preds.to(dt), stable=True)
    n = x.shape[0]
    y = targets.to(dt).contiguous()
    q = pseudo_labels.to(dt).contiguous()
    w = None if weights is None else weights.to(dt).contiguous()
    wp = 0 if w is None else w.data_ptr()
    scale = _scale(n, reduction)
    cfg = (n, LOSS_CODES[loss], WEIGHTING_CODES[dist_weighting], lam * scale, scale,
           flag_threshold(eps), beta, beta, gamma)
    grad = torch.empty(n, dtype=dt, device=x.device) if need_grad else None
    gp = 0 if grad is None else grad.data_ptr()
    dist, samp, hit = mod.dist_loss_pass(name, 0, x.data_ptr(), perm.data_ptr(), y.data_ptr(),
                                         q.data_ptr(), wp, 0, gp, *cfg)
    if hit:
        s_hat = torch.empty_like(x)
        bs = torch.empty(n, dtype=torch.int64, device=x.device)
        if mod.pav(name, MODE_SORT, x.data_ptr(), 1, n, float(eps), s_hat.data_ptr(), bs.data_ptr(),
                   0, False, 1 if n <= 32768 else 0):
            gs = torch.empty_like(x)
            dist, _, _ = mod.dist_loss_pass(name, 1, s_hat.data_ptr(), perm.data_ptr(), 0,
                                            q.data_ptr(), wp, gs.data_ptr(), 0, *cfg)
            if need_grad:
                gx = _block_mean_host(gs[None], bs[None])[0].contiguous()
                mod.dist_loss_pass(name, 2, x.data_ptr(), perm.data_ptr(), y.data_ptr(), 0, wp,
                                   gx.data_ptr(), gp, *cfg)
    out = torch.tensor((lam * dist + samp) * scale, dtype=preds.dtype, device=preds.device)
    return out, (grad.to(preds.dtype) if need_grad else preds.new_empty(0))


def _fwd_cpu_torch(*args):
    return _fwd_cpu_common(False, *args)


# ------------------------------------------------------------------------------------------------
# Triton path


def _cuda_pav(cu, x, eps, s_hat, bs, flag, ws):
    """``dirfast._C_cuda.pav`` (mode 0, one row) on ``x``'s device and its current stream."""
    with device_guard(x):
        cu.pav(_dtname(x), MODE_SORT, x.data_ptr(), 1, x.numel(), float(eps), s_hat.data_ptr(),
               bs.data_ptr(), 0, flag.data_ptr(), ws.data_ptr(), _cuda_stream(x.device))


def _cuda_block_mean(cu, gs, bs, flag, ws):
    """``dirfast._C_cuda.pav_block_mean`` of ``gs [N]`` (a copy of ``gs`` when the flag is 0), on
    ``gs``' device and its current stream."""
    gx = torch.empty_like(gs)
    with device_guard(gs):
        cu.pav_block_mean(_dtname(gs), gs.data_ptr(), bs.data_ptr(), 1, gs.numel(), gx.data_ptr(),
                          flag.data_ptr(), ws.data_ptr(), _cuda_stream(gs.device))
    return gx


def _fwd_triton(preds, targets, pseudo_labels, weights, loss, beta, gamma, lam, eps, dist_weighting,
                reduction, need_grad, cuda_pav: Optional[bool] = None):
    """The Triton route; ``cuda_pav``: pool with ``dirfast._C_cuda`` (True: required — the ``cuda``
    path; None: when built and the tensors are on a GPU — the ``triton`` path)."""
    from ..kernels import dist_loss as K

    dt = acc_dtype(preds.dtype)
    n = preds.shape[0]
    x, perm = torch.sort(_as(preds, dt), stable=True)
    # fp16/bf16 are upcast once (the kernels are compiled for fp32/fp64 only)
    y = _as(targets, dt).contiguous()
    q = _as(pseudo_labels, dt).contiguous()
    w = None if weights is None else _as(weights, dt).contiguous()
    lcode, wcode = LOSS_CODES[loss], WEIGHTING_CODES[dist_weighting]
    sc = K.scalars(dt, n, reduction, lam, eps, beta, gamma)
    if cuda_pav is None:
        cuda_pav = x.is_cuda and _ext.cuda_available()
    # the CUDA PAV sets the flag itself (N <= 16384: its one block stores it; longer: a memset and
    # its gap kernel) before any stage reads it: the forward kernel's flag needs no fill there
    flag = torch.empty(1, dtype=torch.int32, device=x.device) if cuda_pav else None
    partials, grad, flag = K.dist_loss_fwd(x, perm, y, q, w, sc, loss=lcode, weighting=wcode,
                                           flag=flag)
    if cuda_pav:  # always launched, every stage exits on the device flag: no host sync
        cu = _ext.require_cuda("dirfast::dist_loss (its CUDA PAV)")
        # the PAV writes ŝ (= x unless a pair merges), block_start and the flag
        s_hat = torch.empty_like(x)
        bs = torch.empty(n, dtype=torch.int64, device=x.device)
        ws = torch.empty(max(int(cu.pav_workspace_bytes(1, n, 0)), 1), dtype=torch.uint8,
                         device=x.device)
        _cuda_pav(cu, x, eps, s_hat, bs, flag, ws)
        gs = K.pooled_dist(s_hat, perm, q, w, sc, partials, flag, loss=lcode, weighting=wcode)
        gx = _cuda_block_mean(cu, gs, bs, flag, ws)
        # the gradient rewrite (on the flag) and the loss (the sum of the final partials, fixed
        # order) in one launch
        out = K.pooled_grad(x, perm, y, w, gx, sc, grad, flag, loss=lcode, partials=partials)
        return _as(out, preds.dtype), _as(grad, preds.dtype) if need_grad else preds.new_empty(0)
    if bool(flag.item()):  # CPU tensors (interpreter): free; a GPU without _C_cuda: one sync
        s_hat, bs = _soft_sort_host(x.cpu(), eps, False)
        if bs is not None:
            s_hat, bs = s_hat.to(x.device), bs.to(x.device)
            gs = K.pooled_dist(s_hat, perm, q, w, sc, partials, flag, loss=lcode, weighting=wcode)
            gx = _block_mean_host(gs[None].cpu(), bs[None].cpu())[0].to(x.device)
            K.pooled_grad(x, perm, y, w, gx, sc, grad, flag, loss=lcode)
    out = partials.sum()  # the kernels scaled the partials (λs, s): one launch
    return _as(out, preds.dtype), _as(grad, preds.dtype) if need_grad else preds.new_empty(0)


def _fwd_cuda(*args):
    return _fwd_triton(*args, cuda_pav=True)


_PATHS = {"cpu": _fwd_cpu, "cpu_torch": _fwd_cpu_torch, "triton": _fwd_triton, "cuda": _fwd_cuda}


# ------------------------------------------------------------------------------------------------
# registered ops


def _dist_loss(
    preds: Tensor,
    targets: Tensor,
    pseudo_labels: Tensor,
    weights: Optional[Tensor],
    loss: str,
    beta: float,
    gamma: float,
    lam: float,
    eps: float,
    dist_weighting: str,
    reduction: str,
    backend: str,
    need_grad: bool,
) -> Tuple[Tensor, Tensor]:
    """Returns ``(loss 0-d, dloss/dpreds [N])`` in ``preds``' dtype; the gradient is ``[0]`` when
    ``need_grad`` is False (not computed)."""
    return _PATHS[backend](preds, targets, pseudo_labels, weights, loss, beta, gamma, lam, eps,
                           dist_weighting, reduction, need_grad)


def _dist_loss_fake(preds, targets, pseudo_labels, weights, loss, beta, gamma, lam, eps,
                    dist_weighting, reduction, backend, need_grad):
    return preds.new_empty(()), torch.empty_like(preds) if need_grad else preds.new_empty(0)


def _dist_loss_bwd(grad_output: Tensor, grad: Tensor) -> Tensor:
    """``dL/dpreds = grad_output · grad`` (``grad_output`` 0-d); a new tensor."""
    return grad * grad_output


def _dist_loss_bwd_fake(grad_output, grad):
    return torch.empty_like(grad)


def _recompute(ctx, preds, targets, pseudo_labels, weights):
    with torch.no_grad():
        return dist_loss_op(preds, targets, pseudo_labels, weights, *ctx.cfg, True)[1]


def _grad_create_graph(ctx, grad_out, preds, targets, pseudo_labels, weights):
    """The backward under ``create_graph=True`` (grad mode on inside backward): ``dL/dpreds`` through
    the differentiable reference (:func:`dirfast.reference.dist_loss_ref`, compute dtype) from the
    saved inputs, so it has a graph back to ``preds`` and ``grad_out`` (double backward). The
    reference decides the PAV blocks on the host (one sync on a GPU). Only ``preds`` can need a
    gradient here: :func:`dirfast.dist_loss` sends every other case to the reference."""
    loss, beta, gamma, lam, eps, dist_weighting, reduction = ctx.cfg[:7]
    acc = acc_dtype(preds.dtype)
    out = dist_loss_ref(preds.to(acc), targets.to(acc), pseudo_labels,
                        None if weights is None else weights.to(acc), loss=loss, lam=lam, eps=eps,
                        dist_weighting=dist_weighting, reduction=reduction, beta=beta, gamma=gamma)
    (g,) = torch.autograd.grad(out.to(preds.dtype), preds, grad_out, create_graph=True)
    return g


def _save(ctx, inputs, outputs, eager):
    """Registered op: the gradient is saved. Eager twin: it is private to the node, so the backward
    scales it in place and hands it to autograd (one ``[N]`` allocation per step); a second backward
    through a retained graph finds it gone and recomputes it."""
    preds, targets, pseudo_labels, weights = inputs[:4]
    ctx.cfg = inputs[4:12]  # (loss, beta, gamma, lam, eps, dist_weighting, reduction, backend)
    if eager:
        ctx.grad = outputs[1]
        ctx.save_for_backward(preds, targets, pseudo_labels, weights)
    else:
        ctx.save_for_backward(outputs[1], preds, targets, pseudo_labels, weights)


def _grads(ctx, grad_outputs, bwd, eager):
    grad_out = grad_outputs[0]
    if grad_out is None or not ctx.needs_input_grad[0]:
        return ()
    if eager:
        preds, targets, pseudo_labels, weights = ctx.saved_tensors
        grad = ctx.__dict__.pop("grad", None)
    else:
        grad, preds, targets, pseudo_labels, weights = ctx.saved_tensors
    if torch.is_grad_enabled():  # create_graph=True (torch.compile traces this with grad mode off)
        return (_grad_create_graph(ctx, grad_out, preds, targets, pseudo_labels, weights),)
    if grad is None or grad.shape != preds.shape:  # need_grad=False, or a retained graph's 2nd pass
        grad = _recompute(ctx, preds, targets, pseudo_labels, weights)
    return (grad.mul_(grad_out) if eager else bwd(grad_out, grad),)


dist_loss_op, dist_loss_bwd, DistLossFunction = register_op(
    "dist_loss", _dist_loss, _dist_loss_fake, save=_save, grads=_grads, bwd=_dist_loss_bwd,
    bwd_fake=_dist_loss_bwd_fake, n_tensors=4,
    doc="""Eager twin of ``dirfast::dist_loss`` (:func:`dirfast.ops._factory.register_op`):
    ``apply(preds, targets, pseudo_labels, weights, (loss, beta, gamma, lam, eps, dist_weighting,
    reduction, backend, need_grad))``; returns the loss only. The saved gradient is consumed in
    place by the backward (``_save``).""")


__all__ = ["dist_loss_op", "dist_loss_bwd", "DistLossFunction", "DEFAULT_BETA", "LOSS_CODES",
           "WEIGHTING_CODES", "flag_threshold", "resolve_path"]
