"""``torch.distributed`` helpers for losses whose rows interact across ranks (ConR's ``gather=True``):
gather every rank's rows in rank order, with autograd through the gather.

:func:`gather_rows` exchanges the local row counts once (one ``all_gather`` of an int64 per rank and
one host sync: the padded gather needs them on the host), then all-gathers the (differentiable)
features and one packed float64 tensor holding the constants (labels, predictions, weights): three
collectives per call, rank sizes may differ.

Gradient of the feature gather (:class:`_GatherRowsSumGrad`): every rank computes its own loss
``L_r`` on the gathered rows, so the gradient of ``Σ_r L_r`` with respect to rank ``s``'s rows is
``Σ_r (∂L_r/∂Z)[rows of s]``. The backward therefore all-reduces (sum) the ``[M_global, D]`` gradient
and keeps this rank's slice: a collective in the backward (every rank must run it, as under DDP). The
all-reduce moves ``R×`` the bytes a reduce-scatter would; it is used because every backend (gloo
included) has it.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor

__all__ = ["require_distributed", "gather_rows", "all_reduce_sum"]


def require_distributed(fn: str, group=None) -> Tuple[int, int]:
    """``(world_size, rank)`` of ``group`` (default WORLD); a ``RuntimeError`` naming ``fn`` when
    ``torch.distributed`` is unavailable or not initialised."""
    import torch.distributed as dist

    if not dist.is_available():
        raise RuntimeError(f"{fn}: gather=True needs torch.distributed, which this PyTorch build "
                           f"does not have (torch.distributed.is_available() is False)")
    if not dist.is_initialized():
        raise RuntimeError(f"{fn}: gather=True needs an initialised process group: call "
                           f"torch.distributed.init_process_group(...) first (or pass gather=False "
                           f"for the local batch only)")
    return dist.get_world_size(group), dist.get_rank(group)


def _exchange_sizes(m: int, device: torch.device, group, world: int) -> List[int]:
    import torch.distributed as dist

    size = torch.tensor([m], dtype=torch.int64, device=device)
    sizes = [torch.empty_like(size) for _ in range(world)]
    dist.all_gather(sizes, size, group=group)
    return torch.cat(sizes).tolist()  # the one host sync: the padded gather allocates max(sizes)


def _order(world: int, first: Optional[int]) -> List[int]:
    """Rank order, or ``first`` then the others in rank order."""
    return list(range(world)) if first is None else [first] + [r for r in range(world) if r != first]


def _gather_padded(t: Tensor, sizes: Sequence[int], group, first: Optional[int] = None) -> Tensor:
    """``[Σ n_r, ...]``: every rank's ``t [n_r, ...]`` in rank order, or with rank ``first``'s rows
    first (padded to ``max n_r`` for the collective when the sizes differ)."""
    import torch.distributed as dist

    top = max(sizes)
    if t.shape[0] == top:
        padded = t.contiguous()
    else:
        padded = t.new_zeros((top,) + tuple(t.shape[1:]))
        padded[: t.shape[0]] = t
    parts = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(parts, padded, group=group)
    order = _order(len(sizes), first)
    return torch.cat([parts[r] if sizes[r] == top else parts[r][:sizes[r]] for r in order])


class _GatherRowsSumGrad(torch.autograd.Function):
    """Forward: every rank's ``[n_r, D]`` rows concatenated in rank order. Backward: the gradient of
    the concatenation summed over ranks (all-reduce), this rank's slice returned."""

    @staticmethod
    def forward(ctx, t: Tensor, sizes: Tuple[int, ...], offset: int, group, first):
        # offset: this rank's rows in *rank order* (the order the backward's all-reduce uses)
        ctx.offset, ctx.n, ctx.group, ctx.sizes, ctx.first = offset, t.shape[0], group, sizes, first
        return _gather_padded(t, sizes, group, first)

    @staticmethod
    def backward(ctx, g: Tensor):
        import torch.distributed as dist

        # a fresh contiguous buffer: the collective writes in place, the incoming gradient may be
        # shared by autograd
        if ctx.first is None:
            g = g.clone(memory_format=torch.contiguous_format)
        else:  # back to rank order: every rank's gradient in the same row order for the sum
            order = _order(len(ctx.sizes), ctx.first)
            pieces = dict(zip(order, torch.split(g, [ctx.sizes[r] for r in order])))
            g = torch.cat([pieces[r] for r in range(len(ctx.sizes))])
        dist.all_reduce(g, op=dist.ReduceOp.SUM, group=ctx.group)
        return g[ctx.offset: ctx.offset + ctx.n], None, None, None, None


def gather_rows(features: Tensor, constants: Sequence[Optional[Tensor]], group=None,
                local_first: bool = False):
    """All-gather rows from every rank of ``group`` in rank order (``local_first``: this rank's rows
    first, then the others in rank order — the same gathered batch up to a permutation of rows).

    Args:
        features: ``[n_r, D]`` (any float dtype): gathered with autograd (see the module docstring:
            the backward sums the gathered gradient over ranks and returns this rank's slice).
        constants: tensors ``[n_r]`` or ``[n_r, k]`` of floating dtypes, or ``None``: gathered without
            gradient, packed into one float64 ``[n_r, Σ k]`` collective (exact: every float dtype
            converts to float64 and back losslessly) and returned in their own dtypes.

    Returns:
        ``(features [M, D], constants (same order, [M] / [M, k] or None), offset, sizes)`` with
        ``M = Σ_r n_r``, ``offset = Σ_{r < rank} n_r`` (0 with ``local_first``: this rank's rows
        are ``[offset, offset + n_rank)``) and ``sizes`` the per-rank row counts (host ints).
    """
    import torch.distributed as dist

    world, rank = dist.get_world_size(group), dist.get_rank(group)
    m = features.shape[0]
    sizes = _exchange_sizes(m, features.device, group, world)
    first = rank if local_first else None
    gf = _GatherRowsSumGrad.apply(features, tuple(sizes), sum(sizes[:rank]), group, first)
    offset = 0 if local_first else sum(sizes[:rank])
    present = [c for c in constants if c is not None]
    out: List[Optional[Tensor]] = [None] * len(constants)
    if present:
        cols = [(c.reshape(m, 1) if c.dim() == 1 else c).detach().to(torch.float64)
                for c in present]
        packed = _gather_padded(torch.cat(cols, 1) if len(cols) > 1 else cols[0], sizes, group,
                                first)
        k, j = 0, 0
        for i, c in enumerate(constants):  # split back, in order, into each input's shape and dtype
            if c is None:
                continue
            width = cols[j].shape[1]
            piece = packed[:, k:k + width]
            out[i] = piece.reshape((piece.shape[0],) + tuple(c.shape[1:])).to(c.dtype)
            k, j = k + width, j + 1
    return gf, out, offset, sizes


def all_reduce_sum(t: Tensor, group=None) -> Tensor:
    """``Σ_r t_r`` over the ranks of ``group`` (a new tensor, no gradient; ``t`` is not modified):
    e.g. the valid-anchor counts of the ranks' anchor windows."""
    import torch.distributed as dist

    out = t.detach().clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM, group=group)
    return out
