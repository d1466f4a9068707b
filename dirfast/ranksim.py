"""RankSim, the ranking-similarity regularizer for imbalanced regression (Gong et al., ICML 2022):
:func:`ranksim_loss` (functional), :class:`RankSimLoss` (module) and :func:`ranksim_subset` (the
unique-label subset, sync-free).

Typical training step (the official recipe for age data: γ = 100, λ = 2)::

    pred, z = model(x)                                     # z: the encoder features [B, ...]
    loss = l1(pred, y) + 100.0 * dirfast.ranksim_loss(z, y, variant="official", max_unique=128)
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from . import _ext
from ._backend import default_backend, resolve_backend, triton_available
from ._checks import (check_finite_values, check_float, check_same_device, check_scalar,
                      check_tensor, describe, validation_enabled)
from .ops.ranksim import RankSimFunction, _masks, _ranks, _unit, ranksim_op
from .reference.ranksim import (RANKS, REDUCTIONS, SUBSAMPLES, VARIANT_REDUCTION, VARIANTS,
                                ranksim_loss_ref)

__all__ = ["ranksim_loss", "ranksim_subset", "RankSimLoss"]

#: soft-rank regularisation strength (units of the cosine similarity) when ``rank="soft"``
DEFAULT_SOFT_STRENGTH = 0.01


def _check_labels(fn: str, labels, b: int) -> Tensor:
    check_tensor("labels", labels, fn=fn)
    check_float("labels", labels, fn=fn)
    if tuple(labels.shape) not in ((b,), (b, 1)):
        raise ValueError(f"{fn}: labels must have shape [B] or [B, 1] with B = {b} (the rows of "
                         f"features; multi-dimensional labels are not supported), got "
                         f"{describe(labels)}")
    return labels.detach().reshape(b)


def _check_max_unique(fn: str, max_unique, subsample: str):
    if max_unique is None:
        return None
    if isinstance(max_unique, bool) or not isinstance(max_unique, int) or max_unique < 1:
        raise ValueError(f"{fn}: max_unique must be None or an int >= 1, got {max_unique!r}")
    if subsample != "unique_labels":
        raise ValueError(f"{fn}: max_unique bounds the unique-label subset; it needs "
                         f"subsample='unique_labels', got subsample={subsample!r}")
    return max_unique


def _check_generator(fn: str, generator):
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"{fn}: generator must be None or a torch.Generator, got "
                        f"{type(generator).__name__}")


def ranksim_subset(labels: Tensor, *, subsample: str = "unique_labels",
                   max_unique: Optional[int] = None,
                   generator: Optional[torch.Generator] = None) -> Tuple[Tensor, Tensor]:
    """The rows RankSim uses, with a static shape and no host sync.

    Returns ``(rows, num_rows)``: ``rows`` int64 ``[K]`` (``K = B``, or ``min(max_unique, B)``)
    whose first ``num_rows`` entries (an int64 0-d tensor) are the subset, in the order the loss
    uses for ties; the remaining slots are padding (masked by the loss, never read on the host).

    * ``subsample="none"``: every row, in batch order.
    * ``subsample="unique_labels"`` (official): if every label is distinct, every row in batch
      order (as the official code). Otherwise **one representative row per distinct label**, in
      ascending label order (the official ``torch.unique`` order). The representative is the row
      with the smallest *priority*: its index when ``generator`` is None (deterministic; with
      shuffled batches this is a uniformly random choice, as the official ``random.choice``), or a
      random permutation drawn from ``generator`` (``torch.randperm``). If there are more than
      ``max_unique`` distinct labels, the ``max_unique`` representatives of smallest priority are
      kept (so ``K`` bounds the cost). Distinct means ``!=`` (``-0.0`` equals ``0.0``; each NaN is
      its own label).

    Cost: 2 sorts of ``B`` elements (3 with ``generator``, +1 ``kthvalue`` when ``K < B``); on CUDA
    without ``generator`` (triton installed), 1 sort and one single-program Triton launch
    (``dirfast.kernels.ranksim._rs_subset_kernel``).
    """
    fn = "dirfast.ranksim_subset"
    check_scalar("subsample", subsample, fn=fn, choices=SUBSAMPLES)
    max_unique = _check_max_unique(fn, max_unique, subsample)
    _check_generator(fn, generator)
    check_tensor("labels", labels, fn=fn)
    if labels.dim() not in (1, 2) or (labels.dim() == 2 and labels.shape[1] != 1):
        raise ValueError(f"{fn}: labels must have shape [B] or [B, 1], got {describe(labels)}")
    y = labels.detach().reshape(-1)
    return _subset(y, subsample, max_unique, generator,
                   triton=(y.device.type == "cuda" and triton_available()
                           and not torch.compiler.is_compiling()))


def _subset(y: Tensor, subsample: str, max_unique: Optional[int], generator,
            ext: bool = False, triton: bool = False) -> Tuple[Tensor, Tensor]:
    b, dev = y.shape[0], y.device
    if subsample == "none" or b == 0:
        return torch.arange(b, device=dev), torch.full((), b, dtype=torch.int64, device=dev)
    k = b if max_unique is None else min(max_unique, b)
    if ext and dev.type == "cpu" and y.dtype in (torch.float32, torch.float64):
        return _subset_ext(y, k, generator)
    if triton and generator is None:
        from .kernels.ranksim import ranksim_subset_triton

        return ranksim_subset_triton(y.contiguous(), k)
    ar = torch.arange(b, device=dev)
    if generator is None:
        order = torch.sort(y, stable=True).indices
        pri = order  # priority = row index, read in label order
    else:
        o1 = torch.randperm(b, generator=generator, device=generator.device).to(dev)
        order = o1[torch.sort(y[o1], stable=True).indices]  # by (label, priority)
        pri = torch.empty_like(o1).scatter_(0, o1, ar)[order]
    ys = y[order]
    first = torch.cat([torch.ones(1, dtype=torch.bool, device=dev), ys[1:] != ys[:-1]])
    n_unique = first.sum()
    kept = first
    if k < b:
        thr = torch.kthvalue(torch.where(first, pri, b), k).values
        kept = first & (pri <= thr)
    rows = order[torch.sort((~kept).to(torch.uint8), stable=True).indices[:k]]
    if k == b:
        rows = torch.where(n_unique == b, ar, rows)  # all distinct: batch order (official)
    return rows, torch.clamp(n_unique, max=k)


def _subset_ext(y: Tensor, k: int, generator) -> Tuple[Tensor, Tensor]:
    """The same subset as the PyTorch path in one C++ pass (``dirfast._C.ranksim_subset``: one
    sort of ``B`` labels); the random permutation, when a generator is given, is drawn with
    ``torch.randperm`` exactly as the PyTorch path draws it."""
    C = _ext.require("dirfast.ranksim_loss(backend='cpu')")
    b = y.shape[0]
    y = y.contiguous()
    perm = 0
    if generator is not None:
        o1 = torch.randperm(b, generator=generator, device=generator.device).to(y.device)
        perm = o1.data_ptr()
    rows = torch.empty(k, dtype=torch.int64)
    num_rows = torch.empty((), dtype=torch.int64)
    C.ranksim_subset("float32" if y.dtype == torch.float32 else "float64", y.data_ptr(), b, k,
                     perm, rows.data_ptr(), num_rows.data_ptr())
    return rows, num_rows


def ranksim_loss(
    features: Tensor,
    labels: Tensor,
    *,
    interpolation_lambda: float = 2.0,
    subsample: str = "unique_labels",
    reduction: Optional[str] = None,
    max_unique: Optional[int] = None,
    rank: str = "blackbox",
    regularization_strength: Optional[float] = None,
    generator: Optional[torch.Generator] = None,
    variant: str = "default",
    backend: Optional[str] = None,
    validate: Optional[bool] = None,
) -> Tensor:
    r"""RankSim loss of ``features [B, ...]`` (flattened to ``[B, D]``) against ``labels [B]``.

    On the subset of :func:`ranksim_subset` (``M = num_rows`` rows): ``S^z = cos(z_i, z_j)``,
    ``S^y = −|y_i − y_j|``, per row the normalised descending ranks ``rk`` (largest → 1/n,
    smallest → 1) over the row's columns, ``ℓ_i = mean_j (rk(S^z_i)_j − rk(S^y_i)_j)²``.

    * ``variant="default"``: the columns of row ``i`` exclude ``i`` itself (``n = M − 1``: the
      self-similarity ranks first in both vectors by construction and only dilutes the row), the
      reduction defaults to ``"mean"`` over the ``M`` rows (the loss scale does not grow with M).
    * ``variant="official"`` (the official ``batchwise_ranking_regularizer``): the diagonal is
      included (``n = M``) and the reduction defaults to ``"sum"`` over rows (the official scale,
      for which γ = 100 is tuned at ``M ≲ 100``). Differences from the official code: ties are
      broken by index (the later column ranks first: what ``argsort(argsort(v).flip(1))`` gives with
      a stable argsort), not by the unstable sort's arbitrary order; the subset is chosen by the
      seeded rule of :func:`ranksim_subset`, not by Python's ``random``; ranks are computed in the
      compute dtype (the official casts them to fp32).

    Gradients flow into ``features`` only (labels are detached). ``rank="blackbox"`` (default, the
    official): exact ranks forward; the backward re-ranks the perturbed similarities
    ``S + λ·∂L/∂rk`` and returns ``−(rk − rk')/(λ + 1e-8)`` (Vlastelica et al., the official
    ``TrueRanker``), for every row at once. ``∂L/∂rk`` includes the incoming gradient, so the
    loss weight γ and the reduction change the perturbation (as in the official code).
    ``rank="soft"``: ``rk = (n + 1 − soft_rank(S^z_i, ε))/n`` with :func:`dirfast.soft_rank`
    (``ε = regularization_strength``, default 0.01, in cosine units: gaps below ~ε pool), a true
    gradient; label ranks stay exact.

    Args:
        features: ``[B, ...]`` floating (flattened per row as the official ``x.view(B, -1)``),
            ``B ≥ 1``, ``D ≥ 1``.
        labels: ``[B]`` or ``[B, 1]`` floating (multi-dimensional labels raise: the official code
            silently broadcasts them into wrong ranks).
        interpolation_lambda: λ > 0 of the blackbox backward. 2.0 is the official README recipe
            (the official CLI default is 1.0).
        subsample: ``"unique_labels"`` (official) or ``"none"``.
        reduction: ``None`` (the variant's default), ``"mean"``, ``"sum"`` or ``"none"`` (``[B]``:
            ``ℓ_i`` at the subset's rows, 0 at the others).
        max_unique: ``None`` (static subset size ``K = B``) or an int bounding it: the cost is
            ``O(K²·D + K² log K)`` instead of ``O(B²·D + B² log B)``. The result is exact as long
            as a batch has at most ``max_unique`` distinct labels (e.g. 128 for integer ages
            0–120); beyond that a ``max_unique``-label subset is used (see
            :func:`ranksim_subset`).
        generator: ``None`` (representatives by row index) or a ``torch.Generator`` (random
            representatives, reproducible).
        backend: ``"auto"``/``"cpu"`` on CPU tensors: the batched path with its mask, key,
            rank/loss, blackbox and normalisation-backward passes (and the subset) in ``dirfast._C``
            (``csrc/ranksim.cpp``), the two GEMMs in torch, the row sorts in NumPy; ``"auto"``
            without the extension runs the same batched path in PyTorch (identical ranks; loss and
            gradient equal to rounding), an explicit ``"cpu"`` without it raises and says how to
            build it. ``"reference"``: :func:`dirfast.reference.ranksim.ranksim_loss_ref`, which
            compacts the subset with a host read. ``"auto"``/``"triton"`` on CUDA tensors: the
            Triton kernels of :mod:`dirfast.kernels.ranksim` (subset, unit rows, masked keys,
            rank/loss, reduction, blackbox backward; the GEMMs and row sorts in torch: 10 launches
            + 3 sorts forward + backward); ``"auto"`` on CUDA without triton: the batched PyTorch
            path. ``backend="triton"`` on CPU tensors needs ``TRITON_INTERPRET=1``.
        validate: NaN/inf check of features and labels (host sync), on with ``DIRFAST_VALIDATE=1``.
            Off: a NaN similarity sorts last (ranks first) and a NaN label is its own label.

    Returns:
        The loss in ``features``' dtype (computed in fp32, fp64 for fp64 features; not
        autocast-registered). No host sync on the default paths; memory ``O(K² + K·D)``.

    Double backward (``create_graph=True``): supported; the blackbox ``∂L/∂S`` is piecewise
    constant (its derivative is 0 almost everywhere), the rest is differentiated exactly.
    """
    fn = "dirfast.ranksim_loss"
    check_scalar("variant", variant, fn=fn, choices=VARIANTS)
    check_scalar("subsample", subsample, fn=fn, choices=SUBSAMPLES)
    check_scalar("rank", rank, fn=fn, choices=RANKS)
    reduction = VARIANT_REDUCTION[variant] if reduction is None else check_scalar(
        "reduction", reduction, fn=fn, choices=REDUCTIONS)
    lam = check_scalar("interpolation_lambda", interpolation_lambda, fn=fn, low=0, low_open=True)
    if regularization_strength is None:
        eps = DEFAULT_SOFT_STRENGTH
    else:
        eps = check_scalar("regularization_strength", regularization_strength, fn=fn, low=0,
                           low_open=True)
    max_unique = _check_max_unique(fn, max_unique, subsample)
    _check_generator(fn, generator)
    check_tensor("features", features, fn=fn)
    check_float("features", features, fn=fn)
    if features.dim() < 2 or features.shape[0] == 0 or features[0].numel() == 0:
        raise ValueError(f"{fn}: features must have shape [B, D, ...] with B >= 1 and D >= 1, got "
                         f"{describe(features)}")
    b = features.shape[0]
    y = _check_labels(fn, labels, b)
    device = check_same_device(fn, features=features, labels=labels)
    z = features.reshape(b, -1)
    path = _resolve(fn, backend, device)
    if validation_enabled(validate):
        check_finite_values(fn, features=features, labels=labels)
    compiling = torch.compiler.is_compiling()
    rows, num_rows = _subset(y, subsample, max_unique, generator,
                             ext=path == "cpu" and not compiling,
                             triton=path == "triton" and not compiling)
    include_self = variant == "official"
    if path == "reference":
        return ranksim_loss_ref(z, y, rows, num_rows, interpolation_lambda=lam, reduction=reduction,
                                rank=rank, regularization_strength=eps, variant=variant)
    if rank == "soft":
        return _soft_path(z, y, rows, num_rows, eps, reduction, include_self, path)
    if torch.compiler.is_compiling():
        return ranksim_op(z, y, rows, num_rows, lam, reduction, include_self, path)[0]
    return RankSimFunction.apply(z, y, rows, num_rows, (lam, reduction, include_self, path))


def _resolve(fn: str, backend: Optional[str], device: torch.device) -> str:
    requested = default_backend() if backend is None else backend
    if requested == "auto" and device.type != "cpu":
        # CUDA: the Triton kernels (dirfast/kernels/ranksim.py); other accelerators, or CUDA
        # without triton: the batched PyTorch path
        return "triton" if device.type == "cuda" and triton_available() else "torch"
    return resolve_backend(backend, device, op=fn, has_cpu_kernel=True, has_triton_kernel=True)


def _soft_path(z, y, rows, num_rows, eps, reduction, include_self, path):
    """``rank="soft"``: the same masked batched layout, feature ranks by :func:`dirfast.soft_rank`
    (masked entries get a key ``−(2 + ε·K)``, far enough below every cosine that they never pool
    with a valid entry and take the lowest ``K − n`` soft ranks), autograd through torch ops."""
    from .soft_sort import soft_rank

    dt = torch.float64 if z.dtype == torch.float64 else torch.float32
    k = rows.shape[0]
    u, _, _ = _unit(z, rows, dt)
    s = u @ u.t()
    col, ent, n_eff = _masks(num_rows, k, include_self, z.device)
    n_eff = n_eff.to(dt)
    yr = y.index_select(0, rows).to(dt)
    # label ranks: constants; torch.sort under torch.compile (the NumPy sort is not traceable)
    ry = _ranks(torch.where(col, (yr[:, None] - yr[None, :]).abs().neg(), -math.inf), n_eff,
                "torch" if torch.compiler.is_compiling() else path)
    key = torch.where(col, s, -(2.0 + eps * k))
    soft_backend = "cpu" if path == "cpu" else "auto"
    rz = (k + 1 - soft_rank(key, eps, backend=soft_backend, validate=False)) / n_eff
    d = torch.where(ent, rz - ry, 0.0)
    row = (d * d).sum(1) / n_eff
    if reduction == "sum":
        out = row.sum()
    elif reduction == "mean":
        out = row.sum() / num_rows.clamp_min(1).to(dt)
    else:
        out = row.new_zeros(z.shape[0]).index_copy(0, rows, row)
    return out.to(z.dtype)


class RankSimLoss(torch.nn.Module):
    """Module form of :func:`ranksim_loss`: ``RankSimLoss(interpolation_lambda=2.0, ...)(features,
    labels)``. Holds the configuration (and the optional ``generator``); stateless otherwise."""

    def __init__(self, *, interpolation_lambda: float = 2.0, subsample: str = "unique_labels",
                 reduction: Optional[str] = None, max_unique: Optional[int] = None,
                 rank: str = "blackbox", regularization_strength: Optional[float] = None,
                 generator: Optional[torch.Generator] = None, variant: str = "default",
                 backend: Optional[str] = None, validate: Optional[bool] = None):
        super().__init__()
        self.kw = dict(interpolation_lambda=interpolation_lambda, subsample=subsample,
                       reduction=reduction, max_unique=max_unique, rank=rank,
                       regularization_strength=regularization_strength, generator=generator,
                       variant=variant, backend=backend, validate=validate)
        # fail at construction on a bad name or value, not at the first step
        ranksim_loss(torch.ones(2, 1), torch.zeros(2), **dict(self.kw, backend="reference",
                                                                generator=None))

    def forward(self, features: Tensor, labels: Tensor) -> Tensor:
        return ranksim_loss(features, labels, **self.kw)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.kw.items()
                         if v is not None and k != "generator")
