"""``dirfast::soft_sort`` / ``dirfast::soft_rank`` (+ ``_bwd``): L2 soft sort and soft rank as
registered ops (semantics: :mod:`dirfast.reference.soft_sort`).

Op arguments are checked and laid out by :mod:`dirfast.soft_sort`: ``theta [rows, n]`` contiguous
floating, sorted along the last dim; ``eps > 0``; ``backend`` a resolved path. Every path computes in
fp32 (fp64 for fp64 inputs; fp16/bf16 are sorted and pooled in fp32, the output cast back) and
returns ``(out, perm, block_start, flag)``:

* ``out [rows, n]`` in ``theta``'s dtype: soft-sorted values in sorted order, or soft ranks (1..n)
  in the original order;
* ``perm [rows, n]`` int64 (``x_i = theta[perm_i]``), ``block_start [rows, n]`` int64 (first sorted
  index of the PAV block of ``i``; saved for the backward, never recomputed from equal values) and
  ``flag [1]`` int32 (nonzero when some block may pool; 0 means every block is a singleton and the
  backward is a plain permutation) — non-differentiable.

Every path sorts stably (``torch.sort(stable=True)``; ``dirfast._C.sort_pav`` breaks ties by index):
equal values keep their order, so ``perm`` — and the gradient at ties — is the same on every path and
device (the tie rule of :mod:`dirfast.reference.soft_sort`). Every ``dirfast._C_cuda`` and Triton
launch runs on the tensors' device and its current stream (``device_guard``).

Paths:

* ``cpu``: rows of ``n ≤ SORT_PAV_MAX_N``: the fused per-row sort + PAV ``dirfast._C.sort_pav``
  (OpenMP over rows); longer rows: ``torch.sort`` + the C++ PAV ``dirfast._C.pav`` (chunked seams
  so one long row uses every thread) + ``dirfast._C.pav_block_mean`` in the backward, skipped when no row pooled (decided on
  the host, free on CPU).
* ``cpu_torch`` (no extension): ``torch.sort``, a vectorised test of the gaps (rows where no adjacent
  pair meets the merge rule are the hard sort, done with no further work), and the stack PAV of
  :func:`dirfast.reference.soft_sort.pav_blocks` (a Python loop, ~0.3–0.5 µs per element) on the rows
  that pool only; the backward block mean by ``index_add``.
* ``cuda`` / ``triton`` on CUDA tensors with ``dirfast._C_cuda``: ``torch.sort`` + the CUDA PAV
  (``_C_cuda.pav``; rows of ``n ≤ 16384``: one kernel, one block per row, which tests its row's
  pairs and writes either the hard-sort output or the pooled one, ``block_start`` and the device
  flag; soft rank's scatter back to the original order is its epilogue), plus a memset of the flag
  when there are several rows. Backward: one ``_C_cuda.pav_vjp`` kernel (soft rank's gather of the
  incoming gradient, the block means, ``(g̃ − m)/eps`` and the scatter by ``perm`` in one pass; an
  early identity pass when the flag is 0). Forward + backward: 2–3 launches + ``torch.sort`` (fp32/
  fp64; fp16/bf16 add their casts). Longer rows: the chunked decomposition, one launch per step
  (6 + tree levels forward, 3 backward), every pooling step exiting on the flag (no host sync).
* ``triton`` without ``dirfast._C_cuda``: ``torch.sort`` +
  :func:`dirfast.kernels.soft_sort.soft_sort_prep` (the same hard-sort output and flag in Triton),
  then the flag is read on the host — **one sync per call on a GPU** — and rows that pool go through
  a host copy and the CPU PAV (build the CUDA module with nvcc on PATH: ``pip install
  --no-build-isolation -e .``). Under ``TRITON_INTERPRET=1`` on CPU tensors the kernel runs in the
  interpreter and the pooled path is the CPU PAV (no sync: CPU tensors).

Backward: soft sort ``grad_θ[perm_i] = mean_{j∈B(i)} g_j``; soft rank, with ``g̃_i = g[perm_i]``,
``grad_θ[perm_i] = (g̃_i − mean_{j∈B(i)} g̃_j)/eps`` (0 when nothing pooled: hard ranks are
piecewise constant); with ``dirfast._C_cuda`` all of it is one kernel (``pav_vjp``); on the
``triton`` route without it the subtraction, division and scatter of the soft rank run as one
Triton kernel (:func:`dirfast.kernels.soft_sort.soft_rank_bwd_epilogue`).

Double backward: a backward under ``create_graph=True`` (grad mode on) computes the same VJP with
differentiable torch ops from the saved ``perm``/``block_start`` (index_add block means, no
``dirfast._C``/``_C_cuda`` call), so the gradient has a graph back to ``grad_output``; its
derivative in ``θ`` is 0 (piecewise linear), which is exact between kinks. Eager
``SoftSortFunction`` and the registered ops' backward alike; under ``torch.compile`` the backward is
traced with grad mode off and torch refuses a double backward through the compiled graph.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import torch
from torch import Tensor

from .. import _ext
from .._backend import TRITON_INTERPRET, trace_constant, default_backend, resolve_backend
from ..kernels._launch import device_guard
from ..reference.soft_sort import MODE_RANK, MODE_SORT, pav_blocks
from ..reference.soft_sort import _block_mean as _block_mean_ref
from ._common import acc_dtype
from ._factory import register_op

_OP_NAMES = {MODE_SORT: "dirfast.soft_sort", MODE_RANK: "dirfast.soft_rank"}


@trace_constant
def resolve_path(fn: str, backend: Optional[str], device: torch.device) -> str:
    """The path ``backend`` (a user's request, None = ``DIRFAST_BACKEND`` or ``"auto"``) runs on
    ``device`` (``dirfast._backend`` rule; ``"cpu"`` falls back to ``"cpu_torch"`` under ``"auto"`` when
    ``dirfast._C`` predates the PAV kernels).

    A trace-time constant for ``torch.compile``: it asks ``dirfast._C_cuda`` for devices (a pybind
    call dynamo cannot trace), so dynamo runs it once while tracing and the graph holds only the
    registered ops, whose bodies it does not trace."""
    path = resolve_backend(backend, device, op=fn, has_cuda_kernel=True)
    if path == "cpu" and not hasattr(_ext.get(), "pav"):
        # an extension built before the PAV kernels existed: "auto" falls back, "cpu" says why
        if (backend or default_backend()) == "cpu":
            raise RuntimeError(f"{fn} with backend='cpu': the installed dirfast._C has no PAV kernel "
                               "(built from older sources); rebuild it with `pip install "
                               "--no-build-isolation -e .`")
        path = "cpu_torch"
    return path


def _dtname(dtype: torch.dtype) -> str:
    return "float64" if dtype == torch.float64 else "float32"


def _as(t: Tensor, dtype: torch.dtype) -> Tensor:
    """``t`` in ``dtype``: itself when it already is (``Tensor.to`` costs ~1 µs of host time even as a
    no-op), else a cast."""
    return t if t.dtype == dtype else t.to(dtype)


def _sorted(theta: Tensor) -> Tuple[Tensor, Tensor]:
    """``x, perm = sort(theta)`` in the compute dtype, stable (the tie rule; a new tensor: ``theta`` is
    never modified), both contiguous."""
    x, perm = torch.sort(_as(theta, acc_dtype(theta.dtype)), dim=-1, stable=True)
    return x.contiguous(), perm.contiguous()


def _finish(out_sorted: Tensor, perm: Tensor, mode: int, dtype: torch.dtype) -> Tensor:
    """Sorted-order result -> the op's output (rank: scattered back to the original positions)."""
    if mode == MODE_RANK:
        out_sorted = torch.empty_like(out_sorted).scatter_(-1, perm, out_sorted)
    return out_sorted.to(dtype)


# ------------------------------------------------------------------------------------------------
# host PAV (C++ if built, else the Python stack PAV) on sorted rows; used by cpu, cpu_torch, and the
# pooled rows of the triton path on CPU tensors / GPUs without dirfast._C_cuda


#: below this many elements the C++ PAV and block mean run on one thread: they cost ~1–5 ns per
#: element, less than an OpenMP fork/join, and a 2-thread barrier on a loaded 2-core machine was
#: measured at 8 ms against 0.13 ms single-threaded for 256 × 100.
PARALLEL_MIN = 1 << 17


def _threads(numel: int) -> int:
    return 1 if numel < PARALLEL_MIN else 0  # 0 = the OpenMP default


def _pav_cpp(x: Tensor, eps: float, mode: int, out: Tensor, bs: Optional[Tensor]) -> int:
    rows, n = x.shape
    return int(_ext.require(f"{_OP_NAMES[mode]} backend='cpu'").pav(
        _dtname(x.dtype), mode, x.data_ptr(), rows, n, float(eps), out.data_ptr(),
        0 if bs is None else bs.data_ptr(), 0, False, _threads(rows * n)))


def _pav_rows_py(x: Tensor, eps: float, mode: int, out: Tensor, bs: Tensor, rows: Tensor) -> None:
    """Python stack PAV (fp64, centred) on the rows ``rows`` of ``x``; writes ``out`` and ``bs``."""
    n = x.shape[1]
    idx = np.arange(n, dtype=np.float64)
    for r in rows.tolist():
        xr = x[r].to(torch.float64).numpy().copy()  # out may alias x (soft sort)
        b = pav_blocks(xr.tolist(), eps, mode)
        counts = np.bincount(b, minlength=n).astype(np.float64)
        m = (np.bincount(b, weights=xr, minlength=n) / np.maximum(counts, 1))[b]
        c = b + (counts[b] - 1) / 2
        v = m + (idx - c) / eps if mode == MODE_SORT else (c + 1) + (xr - m) / eps
        out[r] = torch.from_numpy(v)
        bs[r] = torch.from_numpy(b)


def _row_hits(x: Tensor, eps: float, mode: int) -> Tensor:
    """Rows where some adjacent pair meets the singleton merge rule (with the Triton flag's 1e-6
    margin towards "pool": a rounding can only send a row to the exact PAV, never skip one)."""
    if x.shape[1] < 2:
        return torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
    gap = x[:, 1:] - x[:, :-1]
    if mode == MODE_SORT:
        return (gap >= (1.0 / eps) * (1.0 - 1e-6)).any(-1)
    return (gap <= eps * (1.0 + 1e-6)).any(-1)


def _host_pav(x: Tensor, eps: float, mode: int, out: Tensor, bs: Tensor) -> int:
    """Exact PAV of every row of the CPU tensor ``x`` into ``out``/``bs`` (which hold the hard-sort
    values already); returns the number of rows that may pool."""
    if hasattr(_ext.get(), "pav"):
        return _pav_cpp(x, eps, mode, out, bs)
    rows = _row_hits(x, eps, mode).nonzero().reshape(-1)
    _pav_rows_py(x, eps, mode, out, bs, rows)
    return rows.numel()


def _hard(x: Tensor, mode: int) -> Tuple[Tensor, Tensor]:
    rows, n = x.shape
    col = torch.arange(n, device=x.device)
    # soft sort: the hard-sort output is x itself (fresh from torch.sort; PAV rows are read first)
    out = x if mode == MODE_SORT else (col + 1).to(x.dtype).expand(rows, n).contiguous()
    return out, col.expand(rows, n).contiguous()


def _block_mean_host(g: Tensor, bs: Tensor) -> Tensor:
    """``out_i = mean_{j∈B(i)} g_j`` on CPU tensors ``g [rows, n]`` (fp32/fp64), ``bs`` int64."""
    rows, n = g.shape
    g = g.contiguous()
    mod = _ext.get()
    if mod is not None and hasattr(mod, "pav_block_mean"):
        out = torch.empty_like(g)
        mod.pav_block_mean(_dtname(g.dtype), g.data_ptr(), bs.contiguous().data_ptr(), rows, n,
                           out.data_ptr(), _threads(rows * n))
        return out
    seg = (bs + torch.arange(rows, device=g.device)[:, None] * n).reshape(-1)
    acc = torch.float64
    sums = torch.zeros(rows * n, dtype=acc, device=g.device).index_add_(0, seg, g.reshape(-1).to(acc))
    counts = torch.bincount(seg, minlength=rows * n).to(acc)
    return (sums / counts.clamp_min(1))[seg].reshape(rows, n).to(g.dtype)


# ------------------------------------------------------------------------------------------------
# forward paths: (theta [rows, n], eps, mode) -> (out, perm, block_start, flag)


#: rows up to this length take the fused per-row sort + PAV of ``dirfast._C.sort_pav`` (sorted
#: while the row is in cache: 256 × 100 fp32 sorts in ~0.46 ms single-threaded against ~0.63 ms for
#: ``torch.sort``); longer rows ``torch.sort`` + ``dirfast._C.pav``
SORT_PAV_MAX_N = 32768


def _fwd_cpu(theta: Tensor, eps: float, mode: int):
    rows, n = theta.shape
    mod = _ext.require(f"{_OP_NAMES[mode]} backend='cpu'")
    if n <= SORT_PAV_MAX_N and hasattr(mod, "sort_pav"):
        th = theta.to(acc_dtype(theta.dtype)).contiguous()
        out = torch.empty_like(th)
        perm = torch.empty(th.shape, dtype=torch.int64, device=th.device)
        bs = torch.empty(th.shape, dtype=torch.int64, device=th.device)
        pooled = mod.sort_pav(_dtname(th.dtype), mode, th.data_ptr(), rows, n, float(eps),
                              out.data_ptr(), perm.data_ptr(), bs.data_ptr(), _threads(rows * n))
        flag = torch.full((1,), 1 if pooled else 0, dtype=torch.int32, device=th.device)
        return _as(out, theta.dtype), perm, bs, flag
    x, perm = _sorted(theta)
    out = torch.empty_like(x)
    bs = torch.empty(x.shape, dtype=torch.int64, device=x.device)
    pooled = _pav_cpp(x, eps, mode, out, bs)
    flag = torch.full((1,), 1 if pooled else 0, dtype=torch.int32, device=x.device)
    return _finish(out, perm, mode, theta.dtype), perm, bs, flag


def _fwd_cpu_torch(theta: Tensor, eps: float, mode: int):
    x, perm = _sorted(theta)
    out, bs = _hard(x, mode)
    rows = _row_hits(x, eps, mode).nonzero().reshape(-1)
    if rows.numel():
        _pav_rows_py(x, eps, mode, out, bs, rows)
    flag = torch.full((1,), 1 if rows.numel() else 0, dtype=torch.int32, device=x.device)
    return _finish(out, perm, mode, theta.dtype), perm, bs, flag


#: torch's raw-stream getter (what inductor's generated code calls): the ``cudaStream_t`` of a device's
#: current stream as an int, without building a ``torch.cuda.Stream`` object per call; absent from CPU
#: builds of torch
_RAW_STREAM = getattr(torch._C, "_cuda_getCurrentRawStream", None)
_CURRENT_STREAM = torch.cuda.current_stream


def _cuda_stream(device: torch.device) -> int:
    """The current stream of ``device`` (not the current device's), as the int ``_C_cuda`` takes.

    The raw getter when torch has it (and ``torch.cuda.current_stream`` is not replaced, as the CPU
    tests' launch stubs do), else ``torch.cuda.current_stream(device).cuda_stream`` — the same value."""
    if _RAW_STREAM is not None and torch.cuda.current_stream is _CURRENT_STREAM:
        index = device.index if device.index is not None else torch.cuda.current_device()
        return int(_RAW_STREAM(index))
    return torch.cuda.current_stream(device).cuda_stream


def _workspace(cu, rows: int, n: int, device) -> Tensor:
    # the CUDA caching allocator returns 512-byte aligned blocks (the module needs 256)
    return torch.empty(max(int(cu.pav_workspace_bytes(rows, n, 0)), 1), dtype=torch.uint8,
                       device=device)


def _c_cuda_route(t: Tensor) -> bool:
    """Whether the ``triton``/``cuda`` paths run ``dirfast._C_cuda`` on ``t`` (a CUDA tensor and the
    module built with a device visible); the CPU tests replace it to drive that route on CPU tensors
    with a host stand-in of the module."""
    return t.is_cuda and _ext.cuda_available()


def _fwd_gpu(theta: Tensor, eps: float, mode: int):
    """``triton``/``cuda`` paths. With ``dirfast._C_cuda`` on CUDA tensors its PAV writes the output
    (soft rank: scattered to the original order by ``perm``), ``block_start`` and the flag, pooling
    only where a pair merges (no host sync; the Triton prep kernel would only repeat its pair test).
    Otherwise the Triton prep kernel, then the host PAV if the flag is up (free for CPU tensors under
    the interpreter; one sync on a GPU)."""
    x, perm = _sorted(theta)
    rows, n = x.shape
    if _c_cuda_route(x):
        cu = _ext.require_cuda(_OP_NAMES[mode])
        out = torch.empty_like(x)
        bs = torch.empty(x.shape, dtype=torch.int64, device=x.device)
        flag = torch.empty(1, dtype=torch.int32, device=x.device)
        ws = _workspace(cu, rows, n, x.device)
        with device_guard(x):  # _C_cuda launches on the current device
            cu.pav(_dtname(x.dtype), mode, x.data_ptr(), rows, n, float(eps), out.data_ptr(),
                   bs.data_ptr(), 0, flag.data_ptr(), ws.data_ptr(), _cuda_stream(x.device),
                   perm.data_ptr() if mode == MODE_RANK else 0)
        return _as(out, theta.dtype), perm, bs, flag
    from ..kernels.soft_sort import soft_sort_prep

    out, bs, flag = soft_sort_prep(x, eps, mode)
    if bool(flag.item()):  # CPU tensors (interpreter): free; a GPU without _C_cuda: one sync
        xh, oh, bh = x.cpu(), out.cpu(), bs.cpu()
        _host_pav(xh, eps, mode, oh, bh)
        out.copy_(oh)
        bs.copy_(bh)
    return _finish(out, perm, mode, theta.dtype), perm, bs, flag


_FWD = {"cpu": _fwd_cpu, "cpu_torch": _fwd_cpu_torch, "triton": _fwd_gpu, "cuda": _fwd_gpu}


# ------------------------------------------------------------------------------------------------
# backward: (grad [rows, n], perm, block_start, flag) -> grad_theta


def _block_mean(g: Tensor, bs: Optional[Tensor], flag: Tensor, backend: str,
                differentiable: bool = False) -> Tensor:
    """Per-block mean of ``g`` (compute dtype). ``bs is None`` means every block is a singleton.
    ``differentiable``: torch ops only (:func:`dirfast.reference.soft_sort._block_mean`, any device),
    so the result has a graph back to ``g`` (double backward)."""
    if bs is None:
        return g
    if differentiable:
        return _block_mean_ref(g, bs)
    if g.is_cuda:  # without dirfast._C_cuda (with it, _bwd runs pav_vjp)
        if not bool(flag.item()):  # documented sync of the no-_C_cuda fallback
            return g
        return _block_mean_host(g.cpu(), bs.cpu()).to(g.device)
    if not bool(flag.item()):  # CPU: free
        return g
    return _block_mean_host(g, bs)


def _bwd(grad: Tensor, perm: Tensor, bs: Optional[Tensor], flag: Tensor, eps: float, mode: int,
         backend: str, dtype: torch.dtype, differentiable: bool = False) -> Tensor:
    """The VJP from the saved ``perm``/``block_start``. ``differentiable`` (a backward under
    ``create_graph=True``): every step a differentiable torch op, so the result has a graph back to
    ``grad`` — that is the whole double backward: the VJP is linear in ``grad`` and, given the
    blocks, independent of ``θ`` (soft sort/rank are piecewise linear: their second derivative in
    ``θ`` is 0 between kinks)."""
    g = _as(grad, acc_dtype(dtype)).contiguous()
    if not differentiable and bs is not None and backend in ("triton", "cuda") and _c_cuda_route(g):
        # one kernel: (rank: gather g̃ = g[perm]) block means, (rank: (g̃ − m)/eps) scatter by perm
        cu = _ext.require_cuda(f"{_OP_NAMES[mode]} backward")
        rows, n = g.shape
        out = torch.empty_like(g)
        ws = _workspace(cu, rows, n, g.device)
        with device_guard(g):
            cu.pav_vjp(_dtname(g.dtype), mode, g.data_ptr(), perm.data_ptr(), bs.data_ptr(), rows,
                       n, float(eps), out.data_ptr(), flag.data_ptr(), ws.data_ptr(),
                       _cuda_stream(g.device))
        return _as(out, dtype)
    if mode == MODE_SORT:
        gx = _block_mean(g, bs, flag, backend, differentiable)
    else:
        g = g.gather(-1, perm)
        bm = _block_mean(g, bs, flag, backend, differentiable)
        if not differentiable and backend in ("triton", "cuda") and (g.is_cuda or TRITON_INTERPRET):
            # subtraction, division and scatter in one Triton launch
            from ..kernels.soft_sort import soft_rank_bwd_epilogue

            return soft_rank_bwd_epilogue(g, bm.contiguous(), perm.contiguous(), eps).to(dtype)
        gx = (g - bm) / eps
    if differentiable:
        return torch.zeros_like(gx).scatter(-1, perm, gx).to(dtype)
    return torch.empty_like(gx).scatter_(-1, perm, gx).to(dtype)


# ------------------------------------------------------------------------------------------------
# registered ops (torch.compile traces these; eager calls use SoftSortFunction)


def _fake_fwd(theta, eps, backend):
    rows_n = theta.shape
    return (torch.empty_like(theta), theta.new_empty(rows_n, dtype=torch.int64),
            theta.new_empty(rows_n, dtype=torch.int64), theta.new_empty((1,), dtype=torch.int32))


def _soft_sort(theta: Tensor, eps: float, backend: str) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """``theta [rows, n]`` -> ``(soft-sorted values [rows, n] sorted order, perm, block_start, flag)``."""
    return _FWD[backend](theta, eps, MODE_SORT)


def _soft_rank(theta: Tensor, eps: float, backend: str) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """``theta [rows, n]`` -> ``(soft ranks [rows, n] original order, perm, block_start, flag)``."""
    return _FWD[backend](theta, eps, MODE_RANK)


def _soft_sort_bwd(grad: Tensor, perm: Tensor, block_start: Tensor, flag: Tensor, eps: float,
                   backend: str, dtype: torch.dtype) -> Tensor:
    """``grad_θ[perm_i] = mean_{j∈B(i)} grad_j`` in ``dtype`` (θ's)."""
    return _bwd(grad, perm, block_start, flag, eps, MODE_SORT, backend, dtype)


def _soft_rank_bwd(grad: Tensor, perm: Tensor, block_start: Tensor, flag: Tensor, eps: float,
                   backend: str, dtype: torch.dtype) -> Tensor:
    """``grad_θ[perm_i] = (g̃_i − mean_{j∈B(i)} g̃_j)/eps``, ``g̃_i = grad[perm_i]``, in ``dtype``."""
    return _bwd(grad, perm, block_start, flag, eps, MODE_RANK, backend, dtype)


def _fake_bwd(grad, perm, block_start, flag, eps, backend, dtype):
    return torch.empty_like(grad, dtype=dtype)


def _wiring(mode):
    def save(ctx, inputs, outputs, eager):
        theta, eps, backend = inputs
        _, perm, bs, flag = outputs
        if eager and not flag.is_cuda and not _c_cuda_route(flag) and not bool(flag.item()):
            # eager on CPU: a call where no row pooled keeps no block_start for the backward (a plain
            # permutation); the host read is free (the _C_cuda route never reads the flag)
            bs = None
        ctx.save_for_backward(perm, bs, flag)
        ctx.eps, ctx.backend, ctx.dtype = eps, backend, theta.dtype

    def grads(ctx, grad_outputs, bwd, eager):
        grad = grad_outputs[0]
        perm, bs, flag = ctx.saved_tensors
        if grad is None or not ctx.needs_input_grad[0]:
            return ()
        if torch.is_grad_enabled():  # create_graph=True: the differentiable VJP, not the op
            return (_bwd(grad, perm, bs, flag, ctx.eps, mode, ctx.backend, ctx.dtype, True),)
        return (bwd(grad, perm, bs, flag, ctx.eps, ctx.backend, ctx.dtype),)

    return dict(save=save, grads=grads)


soft_sort_op, soft_sort_bwd, SoftSortFunction = register_op(
    "soft_sort", _soft_sort, _fake_fwd, bwd=_soft_sort_bwd, bwd_fake=_fake_bwd, n_tensors=1,
    **_wiring(MODE_SORT))
soft_rank_op, soft_rank_bwd, SoftRankFunction = register_op(
    "soft_rank", _soft_rank, _fake_fwd, bwd=_soft_rank_bwd, bwd_fake=_fake_bwd, n_tensors=1,
    **_wiring(MODE_RANK))
#: the eager twins by mode: ``EAGER[mode].apply(theta, (eps, backend))`` returns only the output
EAGER = {MODE_SORT: SoftSortFunction, MODE_RANK: SoftRankFunction}
