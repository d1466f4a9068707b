"""``dirfast::ranksim``: RankSim with the blackbox rank gradient as one registered op, batched over
rows (no per-row Python loop) with static shapes (semantics: :mod:`dirfast.reference.ranksim`).

Inputs (checked and laid out by :mod:`dirfast.ranksim`): ``features [B, D]``, ``labels [B]``
(detached), the subset ``rows [K]`` int64 and its size ``num_rows`` (int64 0-d, ``≤ K``) from
:func:`dirfast.ranksim_subset`. Slots ``k ≥ num_rows`` of ``rows`` are padding: they are **masked**,
never gathered away, so every shape is static and nothing is read on the host.

Forward (``K`` = the static subset size):

1. ``u = normalize(features[rows])`` ``[K, D]``, ``S = u·uᵀ`` (one GEMM), ``S^y = −|y_i − y_j|``;
2. the column mask ``C_ij = j < num_rows`` (and ``j ≠ i`` unless ``include_self``): masked
   entries get the key ``−inf``;
3. **one** stable ascending sort along dim 1 of the stacked ``[2K, K]`` keys (features and labels),
   ``pos`` = the inverse permutation (one scatter), ranks ``r = (K − pos)/n`` with
   ``n = num_rows`` (``− 1`` without the diagonal): masked entries take the first ``K − n``
   positions, so the valid ones get exactly their normalised descending rank among the valid
   columns, ties broken by index (the later column ranks first);
4. ``d = (r^z − r^y)`` on valid entries, ``ℓ_i = Σ_j d_ij²/n``, the reduction.

Saved for the backward: ``[3, K, K]`` = (``S``, ``r^z``, ``d``) and ``[K, D + 1]`` = ``[u | 1/‖x‖]``
in the compute dtype (the backward recomputes nothing).

Backward (Vlastelica, as the official ``TrueRanker`` but for all rows at once): with the incoming
``ĝ_i`` (scalar, ``/num_rows`` for the mean, ``grad[rows]`` for ``"none"``),
``∂L/∂r_ij = 2ĝ_i·d_ij/n``; **one** stable sort of the perturbed keys ``S + λ·∂L/∂r`` (masked alike),
``∂L/∂S = −(r^z − r')/(λ + 1e-8)``; then ``∂L/∂u = (G + Gᵀ)·u`` (one GEMM), the normalisation's
backward and an ``index_copy`` into ``[B, D]`` (zero for rows outside the subset).

CPU engine (``backend="cpu"``, ``dirfast._C`` built; :func:`_fwd_ext` / :func:`_bwd_ext`): the
normalisation and the two GEMMs stay in torch (bit-identical ``S``); ``csrc/ranksim.cpp`` builds the
masked sort keys (fp32: each key's order-preserving int32 image packed above its column index into an
int64, sorted in place by NumPy's vectorised integer sort; fp64: the order-preserving int64 image,
argsorted stably by NumPy), turns the sorted rows into ranks, differences and the reduced loss, and
backward the perturbed keys, the symmetrised blackbox ``∂L/∂S`` and the normalisation backward
scattered into ``[B, D]``: forward = 7 small torch ops + 1 GEMM + 2 C++ calls + 1 sort, backward =
1 GEMM + 3 C++ calls + 1 sort (plus the C++ subset). ``cpu_torch`` (no extension) and CUDA without
triton (``"torch"``) run the PyTorch code below with ``torch.sort(stable=True)``; every engine gives
the same permutations (ties by index, NaN last, -0.0 = +0.0), the C++ sums run in fp64.

CUDA engine (``"triton"``, what ``"auto"`` runs on CUDA tensors with triton installed;
:mod:`dirfast.kernels.ranksim`): forward = 4 Triton launches + 1 GEMM + 1 sort, backward = 3 Triton
launches + 1 GEMM (``[G; Gᵀ]·u``) + 1 sort (+ a ``zeros`` when ``K < B``), plus the subset's sort and
single-program launch: 10 launches + 3 sorts per step (``tests/test_launch_budget.py``; was 87 + 4).
Same ranks as the PyTorch path given the same similarities (correctly rounded divisions).

Cost: forward ``2·K²·D`` + backward ``2·K²·D`` GEMM FLOPs (``4·K²·D`` on the Triton route),
``3·K`` row sorts of length ``K``; memory ``O(K² + K·D)``.

Double backward: a backward under ``create_graph=True`` returns ``∂L/∂S`` (piecewise constant,
derivative 0 almost everywhere) pushed through ``S(features)`` by autograd, so the gradient has a
graph in ``features``.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .. import _ext
from ._common import EXT_DTYPE_NAME, acc_dtype
from ._factory import register_op
from ..reference.ranksim import BLACKBOX_EPS


#: below this many elements the rows are ranked on the calling thread (a pool hand-off costs more)
PARALLEL_MIN = 1 << 16
_POOL = None


def _rank_rows_np(k, out, vals) -> None:
    """One block of rows (NumPy, in place; NumPy releases the GIL in each step)."""
    b = (k + np.float32(0.0)).view(np.int32)  # a new array; + 0.0 maps -0.0 to +0.0
    b ^= (b >> 31) & 0x7FFFFFFF  # IEEE order -> signed int32 order (NaNs at the ends)
    p = b.astype(np.int64)
    p <<= 32
    p |= np.arange(k.shape[1], dtype=np.int64)  # distinct keys: ties by index
    p.sort(axis=1)
    p &= 0xFFFFFFFF
    torch.from_numpy(out).scatter_(1, torch.from_numpy(p), torch.from_numpy(vals).expand(p.shape))


def _rank_packed_numpy(keys: Tensor, vals: Tensor) -> Tensor:
    """CPU fp32: each key's order-preserving int32 image packed above its column index into an int64
    (distinct keys: ascending order = ascending value, ties by index = the stable order; ``-0.0`` is
    folded onto ``+0.0``), sorted by NumPy's vectorised integer sort, the index read back from the
    low 32 bits and the per-position values scattered. ~3-20x faster than
    ``torch.sort(stable=True)`` on rows of 128-1024. Large inputs are split by rows over
    ``torch.get_num_threads()`` threads."""
    global _POOL
    k = keys.contiguous().numpy()
    out = np.empty_like(k)
    v = vals.contiguous().numpy()
    threads = min(torch.get_num_threads(), k.shape[0])
    if k.size < PARALLEL_MIN or threads <= 1:
        _rank_rows_np(k, out, v)
    else:
        if _POOL is None or _POOL._max_workers < threads:
            from concurrent.futures import ThreadPoolExecutor

            _POOL = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dirfast-ranksim")
        step = -(-k.shape[0] // threads)
        list(_POOL.map(lambda i: _rank_rows_np(k[i:i + step], out[i:i + step], v),
                       range(0, k.shape[0], step)))
    return torch.from_numpy(out)


def _ranks(keys: Tensor, n_eff: Tensor, path: str) -> Tensor:
    """Normalised descending ranks ``(K − pos)/n`` of each row of ``keys [R, K]``, ``pos`` the
    position in the ascending stable order (ties by index): one sort and one scatter of the
    per-position values ``(K − p)/n``."""
    k = keys.shape[1]
    vals = (k - torch.arange(k, device=keys.device, dtype=keys.dtype)) / n_eff
    if path == "cpu" and keys.dtype == torch.float32 and keys.device.type == "cpu" and k > 0:
        return _rank_packed_numpy(keys, vals)
    perm = torch.sort(keys, dim=1, stable=True).indices
    return torch.empty_like(keys).scatter_(1, perm, vals.expand_as(keys))


def _masks(num_rows: Tensor, k: int, include_self: bool, device) -> Tuple[Tensor, Tensor, Tensor]:
    """Column mask ``C [K, K]``, entry mask ``W = C & (row valid)`` and ``n`` (0-d, ≥ 1)."""
    ar = torch.arange(k, device=device)
    valid = ar < num_rows
    col = valid[None, :].expand(k, k)
    if not include_self:
        col = col & (ar[:, None] != ar[None, :])
    n_eff = (num_rows - (0 if include_self else 1)).clamp_min(1)
    return col, col & valid[:, None], n_eff


def _unit(features: Tensor, rows: Tensor, dt: torch.dtype):
    x = features.index_select(0, rows).to(dt)
    norms = x.norm(dim=1, keepdim=True)
    den = norms.clamp_min(1e-12)
    # x / max(‖x‖, eps) exactly as F.normalize (the official code): a last-bit change of S can swap
    # two nearly tied perturbed similarities in the blackbox backward
    return x / den, norms, 1.0 / den


_RED = {"mean": 0, "sum": 1, "none": 2}


#: rows longer than this are sorted by the C++ radix sort (NumPy's vectorised sort is fastest on
#: rows that fit its in-register networks, ~13 ns/element at 1,024 against ~3-5 for the radix)
RADIX_MIN = 256


def _sorted_cols(k: np.ndarray, fp32: bool) -> np.ndarray:
    global _POOL
    if fp32 and k.shape[1] > RADIX_MIN:
        _ext.require("dirfast.ranksim_loss(backend='cpu')").ranksim_sort_rows(
            k.ctypes.data, k.shape[0], k.shape[1])
        return k

    def run(a):
        if fp32:
            a.sort(axis=1)
            return a
        return np.argsort(a, axis=1, kind="stable")

    threads = min(torch.get_num_threads(), k.shape[0])
    if k.size < PARALLEL_MIN or threads <= 1:
        return run(k)
    if _POOL is None or _POOL._max_workers < threads:
        from concurrent.futures import ThreadPoolExecutor

        _POOL = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dirfast-ranksim")
    step = -(-k.shape[0] // threads)
    parts = list(_POOL.map(lambda i: run(k[i:i + step]), range(0, k.shape[0], step)))
    return k if fp32 else np.concatenate(parts)


def _fwd_ext(features: Tensor, labels: Tensor, rows: Tensor, num_rows: Tensor, lam: float,
             reduction: str, include_self: bool) -> Tuple[Tensor, Tensor, Tensor]:
    """``backend="cpu"``: the mask / key / rank / loss passes in ``dirfast._C`` (csrc/ranksim.cpp),
    the GEMM and the normalisation in torch (bit-identical to the PyTorch path), the row sorts in
    NumPy: forward = index_select, norm, clamp, div, reciprocal, cat, mm, 2 C++ calls, 1 sort."""
    C = _ext.require("dirfast.ranksim_loss(backend='cpu')")
    dt = acc_dtype(features.dtype)
    name = EXT_DTYPE_NAME[dt]
    k, b = rows.shape[0], features.shape[0]
    u, _, inv = _unit(features, rows, dt)
    saved = torch.empty((3, k, k), dtype=dt)
    torch.mm(u, u.t(), out=saved[0])
    y = labels if labels.dtype == dt else labels.to(dt)
    y = y.contiguous()
    keys = torch.empty((2 * k, k), dtype=torch.int64)
    rows, num_rows = rows.contiguous(), num_rows.contiguous()  # held (their pointers are passed)
    rp, np_ = rows.data_ptr(), num_rows.data_ptr()
    C.ranksim_keys(name, 0, saved.data_ptr(), y.data_ptr(), rp, np_, 0, 0, _RED[reduction], k,
                   include_self, float(lam), keys.data_ptr())
    srt = _sorted_cols(keys.numpy(), dt == torch.float32)
    out = torch.empty((b,) if reduction == "none" else (), dtype=dt)
    C.ranksim_ranks_fwd(name, srt.ctypes.data, k, np_, include_self, _RED[reduction], rp, b,
                        saved[1].data_ptr(), saved[2].data_ptr(), out.data_ptr())
    return out.to(features.dtype), saved, torch.cat([u, inv], 1)


def _bwd_ext(grad_out: Tensor, features: Tensor, rows: Tensor, num_rows: Tensor, saved: Tensor,
             unit: Tensor, lam: float, reduction: str, include_self: bool) -> Tensor:
    """``backend="cpu"`` backward: perturbed keys, the sort, the blackbox ``∂L/∂S`` symmetrised
    (C++), one GEMM, the normalisation backward scattered into ``[B, D]`` (C++)."""
    C = _ext.require("dirfast.ranksim_loss(backend='cpu')")
    dt = saved.dtype
    name = EXT_DTYPE_NAME[dt]
    k, b, d = rows.shape[0], features.shape[0], unit.shape[1] - 1
    g = grad_out.to(dt).contiguous()
    keys = torch.empty((k, k), dtype=torch.int64)
    rows, num_rows = rows.contiguous(), num_rows.contiguous()
    saved, unit = saved.contiguous(), unit.contiguous()
    rp, np_ = rows.data_ptr(), num_rows.data_ptr()
    C.ranksim_keys(name, 1, saved.data_ptr(), 0, rp, np_, saved[2].data_ptr(), g.data_ptr(),
                   _RED[reduction], k, include_self, float(lam), keys.data_ptr())
    srt = _sorted_cols(keys.numpy(), dt == torch.float32)
    gsym = torch.empty((k, k), dtype=dt)
    C.ranksim_ranks_bwd(name, srt.ctypes.data, saved[1].data_ptr(), k, np_, include_self,
                        float(lam), gsym.data_ptr())
    du = torch.mm(gsym, unit[:, :-1])
    out = torch.empty((b, d), dtype=dt)
    C.ranksim_unit_bwd(name, du.data_ptr(), unit.data_ptr(), rp, k, d, b, out.data_ptr())
    return out.to(features.dtype)


def _use_ext(path: str, features: Tensor) -> bool:
    return path == "cpu" and features.device.type == "cpu" and features.shape[0] > 0


def _fwd_triton(features, labels, rows, num_rows, reduction, include_self):
    from ..kernels.ranksim import ranksim_fwd_triton

    dt = acc_dtype(features.dtype)
    x = features if features.stride(1) == 1 else features.contiguous()
    y = labels if labels.dtype == dt else labels.to(dt)
    return ranksim_fwd_triton(x, y, rows.contiguous(), num_rows.contiguous(), reduction,
                              include_self)


def _bwd_triton(grad_out, features, rows, num_rows, saved, unit, lam, reduction, include_self):
    from ..kernels.ranksim import ranksim_bwd_triton

    return ranksim_bwd_triton(grad_out.contiguous(), features, rows.contiguous(),
                              num_rows.contiguous(), saved, unit, lam, reduction, include_self)


def ranksim_fwd(features: Tensor, labels: Tensor, rows: Tensor, num_rows: Tensor, lam: float,
                reduction: str, include_self: bool, path: str) -> Tuple[Tensor, Tensor, Tensor]:
    if _use_ext(path, features):
        return _fwd_ext(features, labels, rows, num_rows, lam, reduction, include_self)
    if path == "triton" and features.shape[0] > 0:
        return _fwd_triton(features, labels, rows, num_rows, reduction, include_self)
    dt = acc_dtype(features.dtype)
    k = rows.shape[0]
    u, _, inv = _unit(features, rows, dt)
    s = u @ u.t()
    y = labels.index_select(0, rows).to(dt)
    ly = (y[:, None] - y[None, :]).abs_().neg_()
    col, ent, n_eff = _masks(num_rows, k, include_self, features.device)
    n_eff = n_eff.to(dt)
    keys = torch.empty((2, k, k), dtype=dt, device=features.device)
    ninf = torch.full((), -torch.inf, dtype=dt, device=features.device)
    torch.where(col, s, ninf, out=keys[0])
    torch.where(col, ly, ninf, out=keys[1])
    r = _ranks(keys.reshape(2 * k, k), n_eff, path).reshape(2, k, k)
    d = torch.where(ent, r[0] - r[1], 0.0)
    row = (d * d).sum(1) / n_eff
    if reduction == "sum":
        out = row.sum()
    elif reduction == "mean":
        out = row.sum() / num_rows.clamp_min(1).to(dt)
    else:
        out = row.new_zeros(features.shape[0]).index_copy_(0, rows, row)
    # saved: (S, r^z, d) and [u | 1/max(‖x‖, eps)] (the backward recomputes nothing)
    return out.to(features.dtype), torch.stack([s, r[0], d]), torch.cat([u, inv], 1)


def blackbox_grad_s(grad_out: Tensor, rows: Tensor, num_rows: Tensor, saved: Tensor, lam: float,
                    reduction: str, include_self: bool, path: str) -> Tensor:
    """``∂L/∂S [K, K]`` of the blackbox ranker from the saved ``(S, r^z, d)``."""
    s, rz, d = saved[0], saved[1], saved[2]
    dt, k = s.dtype, s.shape[0]
    col, ent, n_eff = _masks(num_rows, k, include_self, s.device)
    n_eff = n_eff.to(dt)
    g = grad_out.to(dt)
    if reduction == "mean":
        g = g / num_rows.clamp_min(1).to(dt)
    elif reduction == "none":
        g = g.index_select(0, rows)[:, None]
    gr = d * (g * 2.0 / n_eff)
    keys = torch.where(col, s + lam * gr, -torch.inf)
    r2 = _ranks(keys, n_eff, path)
    return torch.where(ent, (r2 - rz) / (lam + BLACKBOX_EPS), 0.0)


def ranksim_bwd_impl(grad_out: Tensor, features: Tensor, rows: Tensor, num_rows: Tensor,
                     saved: Tensor, unit: Tensor, lam: float, reduction: str, include_self: bool,
                     path: str) -> Tensor:
    if _use_ext(path, features):
        return _bwd_ext(grad_out, features, rows, num_rows, saved, unit, lam, reduction,
                        include_self)
    if path == "triton" and features.shape[0] > 0:
        return _bwd_triton(grad_out, features, rows, num_rows, saved, unit, lam, reduction,
                           include_self)
    gs = blackbox_grad_s(grad_out, rows, num_rows, saved, lam, reduction, include_self, path)
    dt = gs.dtype
    u, inv = unit[:, :-1], unit[:, -1:]
    du = (gs + gs.t()) @ u
    proj = (u * du).sum(1, keepdim=True)
    dx = torch.where(inv < 1e12, du - u * proj, du) * inv  # inv = 1e12: an all-zero row (clamped)
    out = torch.zeros(features.shape, dtype=dt, device=features.device).index_copy_(0, rows, dx)
    return out.to(features.dtype)


def _grad_differentiable(grad_out, features, rows, num_rows, saved, unit, lam, reduction,
                         include_self, path):
    """Double backward: ``∂L/∂S`` (a constant almost everywhere) through ``S(features)`` by autograd."""
    gs = blackbox_grad_s(grad_out.detach(), rows, num_rows, saved, lam, reduction, include_self, path)
    with torch.enable_grad():
        u = F.normalize(features.index_select(0, rows).to(gs.dtype), dim=1)
        s = u @ u.t()
        grad, = torch.autograd.grad(s, features, gs, create_graph=True)
    return grad


def _ranksim(features: Tensor, labels: Tensor, rows: Tensor, num_rows: Tensor, lam: float,
             reduction: str, include_self: bool, backend: str) -> Tuple[Tensor, Tensor, Tensor]:
    """Returns ``(loss, saved, unit)``: loss 0-d (``[B]`` for ``"none"``) in the features' dtype,
    ``saved [3, K, K]`` and ``unit [K, D + 1]`` (compute dtype) for the backward."""
    return ranksim_fwd(features, labels, rows, num_rows, lam, reduction, include_self, backend)


def _ranksim_fake(features, labels, rows, num_rows, lam, reduction, include_self, backend):
    k = rows.shape[0]
    out = features.new_empty((features.shape[0],) if reduction == "none" else ())
    dt = acc_dtype(features.dtype)
    d = features.shape[1]
    return out, features.new_empty((3, k, k), dtype=dt), features.new_empty((k, d + 1), dtype=dt)


def _ranksim_bwd(grad_out: Tensor, features: Tensor, rows: Tensor, num_rows: Tensor, saved: Tensor,
                 unit: Tensor, lam: float, reduction: str, include_self: bool, backend: str) -> Tensor:
    """``dL/dfeatures`` (blackbox) from the saved ``(S, r^z, d)`` and ``[u | 1/‖x‖]``."""
    return ranksim_bwd_impl(grad_out, features, rows, num_rows, saved, unit, lam, reduction,
                            include_self, backend)


def _ranksim_bwd_fake(grad_out, features, rows, num_rows, saved, unit, lam, reduction,
                      include_self, backend):
    return torch.empty_like(features)


def _save(ctx, inputs, outputs, eager):
    features, labels, rows, num_rows, lam, reduction, include_self, backend = inputs
    ctx.save_for_backward(features, rows, num_rows, outputs[1], outputs[2])
    ctx.args = (lam, reduction, include_self, backend)


def _grads(ctx, grad_outputs, bwd, eager):
    grad_out = grad_outputs[0]
    features, rows, num_rows, saved, unit = ctx.saved_tensors
    if grad_out is None or not ctx.needs_input_grad[0]:
        return ()
    args = (rows, num_rows, saved, unit, *ctx.args)
    if torch.is_grad_enabled():
        return (_grad_differentiable(grad_out, features, *args),)
    return (bwd(grad_out, features, *args),)


ranksim_op, ranksim_bwd, RankSimFunction = register_op(
    "ranksim", _ranksim, _ranksim_fake, save=_save, grads=_grads, bwd=_ranksim_bwd,
    bwd_fake=_ranksim_bwd_fake, n_tensors=4,
    doc="""Eager twin of ``dirfast::ranksim`` (:func:`dirfast.ops._factory.register_op`):
    ``apply(features, labels, rows, num_rows, (lam, reduction, include_self, backend))``; returns
    the loss only.""")
