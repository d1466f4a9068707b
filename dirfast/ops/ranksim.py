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

Saved for the backward: ``[3, K, K]`` = (``S``, ``r^z``, ``d``) in the compute dtype.

Backward (Vlastelica, as the official ``TrueRanker`` but for all rows at once): with the incoming
``ĝ_i`` (scalar, ``/num_rows`` for the mean, ``grad[rows]`` for ``"none"``),
``∂L/∂r_ij = 2ĝ_i·d_ij/n``; **one** stable sort of the perturbed keys ``S + λ·∂L/∂r`` (masked alike),
``∂L/∂S = −(r^z − r')/(λ + 1e-8)``; then ``∂L/∂u = (G + Gᵀ)·u`` (one GEMM), the normalisation's
backward and an ``index_copy`` into ``[B, D]`` (zero for rows outside the subset).

Sort engine: ``backend="cpu"`` uses ``dirfast._C.sort_pav`` (per-row ``std::sort`` of
``key << 32 | index`` packed keys, OpenMP over rows, ties by index); ``cpu_torch`` and CUDA
(``"torch"``) use ``torch.sort(stable=True)``. Both give the same permutation.

Cost: forward ``2·K²·D`` + backward ``2·K²·D`` GEMM FLOPs (the backward recomputes nothing but
``u``), ``3·K`` row sorts of length ``K``; memory ``O(K² + K·D)``. No Triton kernel (see the
README's RankSim section: the batched path is a GEMM, two sorts and a handful of elementwise ops).

Double backward: a backward under ``create_graph=True`` returns ``∂L/∂S`` (piecewise constant,
derivative 0 almost everywhere) pushed through ``S(features)`` by autograd, so the gradient has a
graph in ``features``.
"""

from __future__ import annotations

from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .. import _ext
from ..reference.ranksim import BLACKBOX_EPS

#: the per-row sort of dirfast._C.sort_pav handles rows up to this length
SORT_PAV_MAX_N = 32768


def _acc_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def _sort_perm(keys: Tensor, path: str) -> Tensor:
    """Ascending stable argsort of each row of ``keys [R, K]`` (contiguous, fp32/fp64)."""
    rows, n = keys.shape
    mod = _ext.get() if path == "cpu" else None
    if mod is not None and hasattr(mod, "sort_pav") and n <= SORT_PAV_MAX_N and rows * n > 0:
        from .soft_sort import _threads

        keys = keys.contiguous()
        out = torch.empty_like(keys)
        perm = torch.empty(keys.shape, dtype=torch.int64)
        bs = torch.empty(keys.shape, dtype=torch.int64)
        # soft-rank mode with a vanishing eps: only exactly equal keys pool (output unused; only
        # perm is read, which is the stable order for any eps)
        mod.sort_pav("float64" if keys.dtype == torch.float64 else "float32", 1, keys.data_ptr(),
                     rows, n, 1e-30, out.data_ptr(), perm.data_ptr(), bs.data_ptr(),
                     _threads(rows * n))
        return perm
    return torch.sort(keys, dim=1, stable=True).indices


def _ranks(keys: Tensor, n_eff: Tensor, path: str) -> Tensor:
    """Normalised descending ranks ``(K − pos)/n`` of each row of ``keys [R, K]``."""
    k = keys.shape[1]
    perm = _sort_perm(keys, path)
    pos = torch.empty_like(perm).scatter_(1, perm, torch.arange(k, device=keys.device).expand_as(perm))
    return (k - pos).to(keys.dtype) / n_eff


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
    inv = 1.0 / norms.clamp_min(1e-12)
    return x * inv, norms, inv


def ranksim_fwd(features: Tensor, labels: Tensor, rows: Tensor, num_rows: Tensor, lam: float,
                reduction: str, include_self: bool, path: str) -> Tuple[Tensor, Tensor]:
    dt = _acc_dtype(features.dtype)
    k = rows.shape[0]
    u, _, _ = _unit(features, rows, dt)
    s = u @ u.t()
    y = labels.index_select(0, rows).to(dt)
    ly = (y[:, None] - y[None, :]).abs_().neg_()
    col, ent, n_eff = _masks(num_rows, k, include_self, features.device)
    n_eff = n_eff.to(dt)
    keys = torch.where(col, torch.stack([s, ly]), -torch.inf).reshape(2 * k, k)
    r = _ranks(keys, n_eff, path).reshape(2, k, k)
    d = torch.where(ent, r[0] - r[1], 0.0)
    row = (d * d).sum(1) / n_eff
    if reduction == "sum":
        out = row.sum()
    elif reduction == "mean":
        out = row.sum() / num_rows.clamp_min(1).to(dt)
    else:
        out = row.new_zeros(features.shape[0]).index_copy_(0, rows, row)
    return out.to(features.dtype), torch.stack([s, r[0], d])


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
                     saved: Tensor, lam: float, reduction: str, include_self: bool,
                     path: str) -> Tensor:
    gs = blackbox_grad_s(grad_out, rows, num_rows, saved, lam, reduction, include_self, path)
    dt = gs.dtype
    u, norms, inv = _unit(features, rows, dt)
    du = (gs + gs.t()) @ u
    proj = (u * du).sum(1, keepdim=True)
    dx = torch.where(norms > 1e-12, du - u * proj, du) * inv
    out = torch.zeros(features.shape, dtype=dt, device=features.device).index_copy_(0, rows, dx)
    return out.to(features.dtype)


def _grad_differentiable(grad_out, features, rows, num_rows, saved, lam, reduction, include_self,
                         path):
    """Double backward: ``∂L/∂S`` (a constant almost everywhere) through ``S(features)`` by autograd."""
    gs = blackbox_grad_s(grad_out.detach(), rows, num_rows, saved, lam, reduction, include_self, path)
    with torch.enable_grad():
        u = F.normalize(features.index_select(0, rows).to(gs.dtype), dim=1)
        s = u @ u.t()
        grad, = torch.autograd.grad(s, features, gs, create_graph=True)
    return grad


@torch.library.custom_op("dirfast::ranksim", mutates_args=())
def ranksim_op(features: Tensor, labels: Tensor, rows: Tensor, num_rows: Tensor, lam: float,
               reduction: str, include_self: bool, backend: str) -> Tuple[Tensor, Tensor]:
    """Returns ``(loss, saved)``: loss 0-d (``[B]`` for ``"none"``) in the features' dtype, ``saved
    [3, K, K]`` (compute dtype) for the backward."""
    return ranksim_fwd(features, labels, rows, num_rows, lam, reduction, include_self, backend)


@ranksim_op.register_fake
def _(features, labels, rows, num_rows, lam, reduction, include_self, backend):
    k = rows.shape[0]
    out = features.new_empty((features.shape[0],) if reduction == "none" else ())
    return out, features.new_empty((3, k, k), dtype=_acc_dtype(features.dtype))


@torch.library.custom_op("dirfast::ranksim_bwd", mutates_args=())
def ranksim_bwd(grad_out: Tensor, features: Tensor, rows: Tensor, num_rows: Tensor, saved: Tensor,
                lam: float, reduction: str, include_self: bool, backend: str) -> Tensor:
    """``dL/dfeatures`` (blackbox) from the saved ``(S, r^z, d)``."""
    return ranksim_bwd_impl(grad_out, features, rows, num_rows, saved, lam, reduction, include_self,
                            backend)


@ranksim_bwd.register_fake
def _(grad_out, features, rows, num_rows, saved, lam, reduction, include_self, backend):
    return torch.empty_like(features)


def _grad(ctx, grad_out, bwd):
    features, rows, num_rows, saved = ctx.saved_tensors
    if grad_out is None or not ctx.needs_input_grad[0]:
        return None
    args = (rows, num_rows, saved, *ctx.args)
    if torch.is_grad_enabled():
        return _grad_differentiable(grad_out, features, *args)
    return bwd(grad_out, features, *args)


def _setup_context(ctx, inputs, output):
    features, labels, rows, num_rows, lam, reduction, include_self, backend = inputs
    ctx.mark_non_differentiable(output[1])
    ctx.set_materialize_grads(False)
    ctx.save_for_backward(features, rows, num_rows, output[1])
    ctx.args = (lam, reduction, include_self, backend)


def _backward(ctx, grad_out, _g_saved):
    return (_grad(ctx, grad_out, ranksim_bwd),) + (None,) * 7


ranksim_op.register_autograd(_backward, setup_context=_setup_context)


class RankSimFunction(torch.autograd.Function):
    """Eager twin of ``dirfast::ranksim`` (same paths and backward, without the op's dispatch cost);
    returns the loss only."""

    @staticmethod
    def forward(ctx, features, labels, rows, num_rows, lam, reduction, include_self, backend):
        out, saved = ranksim_fwd(features, labels, rows, num_rows, lam, reduction, include_self,
                                 backend)
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(features, rows, num_rows, saved)
        ctx.args = (lam, reduction, include_self, backend)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        return (_grad(ctx, grad_out, ranksim_bwd_impl),) + (None,) * 7
