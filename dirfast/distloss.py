r"""Dist Loss (Nie et al., "Dist Loss: enhancing regression in few-shot region through distribution
distance constraint", ICLR 2025; docs/distloss_softsort.md §1): :func:`pseudo_labels`,
:func:`dist_loss` (functional) and :class:`DistLoss` (module holding the training-label distribution
and a per-batch-size cache of pseudo-labels).

Typical use (ages; the module fits the label KDE once and builds pseudo-labels for each batch size it
meets, so ``drop_last`` is not needed)::

    crit = dirfast.nn.DistLoss(train_ages, reweight="inverse", lds=True)   # once
    loss = crit(model(x).squeeze(1), y)                                    # any batch size
    loss.backward()

Where the defaults differ from the official code (``variant="official"`` restores all three):

* pseudo-labels: mid-point quantiles of the KDE (``method="quantile"``) instead of the official
  rounding of expected counts, which is biased at small N (AgeDB, N = 64: mean 41.3 vs 45.0) and can
  return zero-padded labels (spec §1.2);
* ``dist_weighting="by_rank"``: the distance at sorted position ``i`` is weighted by the weight of the
  sample that lands there, not (official) by the weight of the ``i``-th sample in batch order;
* any batch size N (the official code needs ``batch_size`` fixed and ``drop_last=True``); the official
  variant raises on an N mismatch instead of broadcasting.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch
from torch import Tensor

from ._checks import (LabelsLike, as_label_tensor, check_finite_values, check_float,
                      check_same_device, check_scalar, check_tensor, describe, validation_enabled)
from .ops.dist_loss import DistLossFunction, dist_loss_op, resolve_path
from .reference.dist_loss import (DEFAULT_BETA, DIST_WEIGHTINGS, GRIDS, LOSSES, METHODS, REDUCTIONS,
                                  VARIANTS, dist_loss_ref, kde_pmf_ref, pmf_to_pseudo_labels)

__all__ = ["pseudo_labels", "dist_loss", "DistLoss", "all_gather_varlen"]

REWEIGHTS = ("none", "inverse", "sqrt_inv")
#: batch sizes whose pseudo-labels a DistLoss keeps (the least recently used is dropped first)
CACHE_SIZES = 8
_HOST = (torch.device("cpu"), torch.float64)


# -------------------------------------------------------------------------------------------------
# pseudo-labels


def _check_grid_args(fn, bw, min_label, max_label, step):
    if not isinstance(bw, str):
        check_scalar("bw", bw, fn=fn, low=0, low_open=True)
    elif bw not in ("scott", "silverman"):
        raise ValueError(f"{fn}: bw must be a positive number, 'scott' or 'silverman', got {bw!r}")
    a = check_scalar("min_label", min_label, fn=fn)
    b = check_scalar("max_label", max_label, fn=fn)
    h = check_scalar("step", step, fn=fn, low=0, low_open=True)
    if not a < b:
        raise ValueError(f"{fn}: min_label must be < max_label, got {min_label!r} and {max_label!r}")
    if (b - a) / h > 10_000_000:
        raise ValueError(f"{fn}: the grid (max_label - min_label)/step has more than 1e7 points")
    return a, b, h


def _check_train_labels(fn, train_labels) -> Tensor:
    """The training labels as a tensor (a NumPy array or a sequence is converted once, any shape),
    checked: real, non-empty, finite (fit time: always syncs)."""
    train_labels = as_label_tensor("train_labels", train_labels, fn=fn, ndim=None)
    check_tensor("train_labels", train_labels, fn=fn)
    if train_labels.dtype == torch.bool or train_labels.is_complex():
        raise TypeError(f"{fn}: train_labels must be a real tensor, got {describe(train_labels)}")
    if train_labels.numel() == 0:
        raise ValueError(f"{fn}: train_labels is empty ({describe(train_labels)})")
    if train_labels.is_floating_point():
        check_finite_values(fn, train_labels=train_labels)
    return train_labels


def _check_n(fn, n):
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{fn}: n (the batch size) must be an int >= 1, got {n!r}")


def _kde(fn, train_labels, bw, a, b, h):
    try:
        return kde_pmf_ref(train_labels, bw=bw, min_label=a, max_label=b, step=h)
    except ValueError as exc:
        raise ValueError(f"{fn}: {exc}") from None


def pseudo_labels(train_labels: LabelsLike, n: int, *, method: str = "quantile", grid: str = "bins",
                  bw=0.5, min_label: float = 0.0, max_label: float = 120.0, step: float = 1.0,
                  dtype: torch.dtype = torch.float64, device=None) -> Tensor:
    r"""Sorted pseudo-labels for a batch of ``n`` predictions (spec §1.2).

    A Gaussian KDE of the training labels in ``[min_label, max_label]`` (kernel std
    ``bw·std(labels, ddof=1)``, scipy's scalar ``bw_method``; ``bw`` may also be ``"scott"`` or
    ``"silverman"``), evaluated on the grid ``t_k = min_label + k·step`` (the official
    ``np.arange(min_label, max_label + step, step)``) and normalised to a pmf ``π``; then

    * ``method="quantile"`` (default): ``q_j = Q((j + ½)/n)``; ``grid="bins"``: ``Q(u)`` = the first
      grid point whose cumulative mass reaches ``u``; ``grid="continuous"``: the piecewise-linear
      inverse CDF of ``π_k`` spread uniformly over ``[t_k − step/2, t_k + step/2]`` (no ties);
    * ``method="official"``: the official generator (rounded expected counts, lumped tails, residual
      spread around the mode); where the official code is ill-defined (window outside the grid,
      ``r < −R``, negative counts) the spec's fixes are applied and a ``UserWarning`` is emitted.

    Args:
        train_labels: ``[M]`` (any shape) real labels, finite, with ≥ 2 distinct values in range: a
            tensor, a NumPy array (float16/32/64 or integer) or a sequence of numbers, converted once
            (bool, complex, object or string data raise ``TypeError``, a scalar ``ValueError``).
        n: batch size ≥ 1.

    Returns:
        ``[n]`` sorted, finite, in ``dtype`` (float64 default) on ``device`` (CPU default).
        Cost ``O(distinct labels · K + n)`` on the host, once per call: cache the result
        (:class:`DistLoss` does, per N).
    """
    fn = "dirfast.pseudo_labels"
    check_scalar("method", method, fn=fn, choices=METHODS)
    check_scalar("grid", grid, fn=fn, choices=GRIDS)
    a, b, h = _check_grid_args(fn, bw, min_label, max_label, step)
    _check_n(fn, n)
    train_labels = _check_train_labels(fn, train_labels)
    t, pmf = _kde(fn, train_labels, bw, a, b, h)
    q = pmf_to_pseudo_labels(t, pmf, n, method=method, grid=grid, step=h)
    return torch.from_numpy(q).to(dtype=dtype, device=device)


# -------------------------------------------------------------------------------------------------
# functional


def _column(fn, name, t, n=None):
    check_tensor(name, t, fn=fn)
    check_float(name, t, fn=fn)
    if t.dim() not in (1, 2) or (t.dim() == 2 and t.shape[1] != 1):
        raise ValueError(f"{fn}: {name} must have shape [N] or [N, 1], got {describe(t)}")
    if n is not None and t.shape[0] != n:
        raise ValueError(f"{fn}: {name} must have N = {n} entries, got {describe(t)}")
    return t


def dist_loss(
    preds: Tensor,
    targets: Tensor,
    pseudo_labels: Tensor,
    weights: Optional[Tensor] = None,
    *,
    loss: str = "l1",
    lam: float = 1.0,
    eps: float = 0.1,
    dist_weighting: Optional[str] = None,
    reduction: str = "mean",
    variant: str = "default",
    beta: Optional[float] = None,
    gamma: float = 1.0,
    backend: Optional[str] = None,
    validate: Optional[bool] = None,
) -> Tensor:
    r"""Dist Loss: ``L = λ·L_dist + L_samp`` (spec §1.1, §1.4).

    With ``x, perm = sort(preds)``, ``ŝ = soft_sort(x, eps)`` (L2, PAV; the hard sort whenever every
    gap of ``x`` is ``< 1/eps``) and ``s = 1/N`` (``"mean"``) or 1 (``"sum"``)::

        L = s·(λ·Σ_i w'_i ℓ(ŝ_i − q_i) + Σ_k w_k ℓ(preds_k − targets_k))

    ``w'`` is chosen by ``dist_weighting``: ``"by_rank"`` (default) the weight of the sample at sorted
    position ``i`` (``w[perm_i]``), ``"official"`` the weight of the ``i``-th sample in batch order
    (the official quirk), ``"none"`` 1. ``ℓ``: ``"l1"`` ``|d|``, ``"l2"`` ``d²``, ``"huber"``
    (``½d²/β`` if ``|d| < β`` else ``|d| − ½β``, β = 1), ``"focal_l1"`` (``|d|(2σ(β|d|) − 1)^γ``,
    β = 0.2, γ = 1). With ℓ = L1, hard sorting and no weights, ``L_dist`` is the 1-Wasserstein
    distance between the predictions and the pseudo-labels.

    Args:
        preds: ``[N]`` or ``[N, 1]`` float16/bfloat16/float32/float64, N ≥ 1 (the official code
            passes ``[N, 1]``).
        targets: exactly ``preds``' shape and dtype (no broadcasting).
        pseudo_labels: ``[N]`` or ``[N, 1]`` floating, sorted ascending (see :func:`pseudo_labels`;
            :class:`DistLoss` builds and caches them per N). Its length must equal N (raises
            otherwise, under every variant).
        weights: ``None`` or ``preds``' shape, ≥ 0 (e.g. LDS weights; cast to ``preds``' dtype).
        loss: ``"l1" | "l2" | "huber" | "focal_l1"``; ``beta``/``gamma`` override β and γ.
        lam: λ ≥ 0, weight of the distribution term. eps: soft-sort strength > 0, in target units
            (spec §2.3: pooling happens only across gaps ≥ 1/eps).
        reduction: ``"mean"`` (official), ``"sum"``, or ``"none"`` (``[N]`` per sample in batch order:
            ``λ·w'_{r(k)} ℓ(ŝ_{r(k)} − q_{r(k)}) + w_k ℓ(preds_k − targets_k)``, ``r`` = rank; served by
            the reference implementation).
        variant: ``"default"`` or ``"official"``: positional weights (``dist_weighting="official"``
            unless given) and fp64 arithmetic (inputs cast to float64, result cast back).
        backend: ``"auto" | "cpu" | "triton" | "cuda" | "reference"`` (``dirfast._backend``;
            ``"cuda"``: the Triton kernels with the CUDA C++ PAV of ``dirfast._C_cuda``, which
            ``"auto"`` picks on CUDA tensors when it is built). ``cpu``/``cpu_torch``/``triton``/
            ``cuda`` compute the gradient in the forward (saved, ``N`` values); gradients with respect
            to ``targets``, ``weights`` or ``pseudo_labels`` (when they require grad) and
            ``reduction="none"`` use the reference (autograd).
        validate: NaN/inf in any input, negative weights, unsorted pseudo-labels (host sync); on with
            ``DIRFAST_VALIDATE=1``.

    Returns:
        0-d tensor (``[N]`` for ``"none"``) in ``preds``' dtype. Arithmetic in fp32 (fp64 for fp64
        inputs or ``variant="official"``). Not autocast-registered. ``focal_l1``'s modulator is
        computed as ``tanh(β|d|/2)`` (equal to ``2σ(β|d|) − 1`` without its cancellation for small
        ``β|d|``): full relative precision for tiny distances.

    Double backward: supported on every backend. A backward with ``create_graph=True`` recomputes
    ``dL/dpreds`` through the differentiable reference (PAV blocks decided on the host: one sync on
    a GPU), so it has a graph back to ``preds``; a plain backward keeps the fused gradient. Under
    ``torch.compile`` torch has no double backward (``backward()`` raises its error;
    ``autograd.grad(..., allow_unused=True)`` may return None): take gradient penalties eagerly.

    NaN/inf with validation off: nothing is checked; a NaN in any input makes the loss NaN and that
    sample's gradient NaN (a NaN prediction sorts last); an infinite prediction pools the soft sort
    into an infinite block, so the loss and possibly every sample's gradient become ±inf/NaN.
    """
    fn = "dirfast.dist_loss"
    check_scalar("variant", variant, fn=fn, choices=VARIANTS)
    if loss not in LOSSES:
        raise ValueError(f"{fn}: loss must be one of {LOSSES}, got {loss!r} (focal_mse is not a Dist "
                         "Loss distance, as officially)")
    check_scalar("reduction", reduction, fn=fn, choices=REDUCTIONS)
    if dist_weighting is None:
        dist_weighting = "official" if variant == "official" else "by_rank"
    check_scalar("dist_weighting", dist_weighting, fn=fn, choices=DIST_WEIGHTINGS)
    lam = check_scalar("lam", lam, fn=fn, low=0)
    eps = check_scalar("eps", eps, fn=fn, low=0, low_open=True)
    beta = DEFAULT_BETA[loss] if beta is None else check_scalar("beta", beta, fn=fn, low=0,
                                                                 low_open=True)
    gamma = check_scalar("gamma", gamma, fn=fn, low=0)
    _column(fn, "preds", preds)
    n = preds.shape[0]
    if n == 0:
        raise ValueError(f"{fn}: empty batch (preds is {describe(preds)}); Dist Loss compares the "
                         "distribution of N >= 1 predictions with N pseudo-labels")
    check_tensor("targets", targets, fn=fn)
    if targets.shape != preds.shape:
        raise ValueError(f"{fn}: targets must have the shape of preds {tuple(preds.shape)} (no "
                         f"broadcasting: a [N] vs [N, 1] mix is an error), got {describe(targets)}")
    check_float("targets", targets, fn=fn)
    if targets.dtype != preds.dtype:
        raise TypeError(f"{fn}: targets must have preds' dtype {preds.dtype}, got {describe(targets)}")
    check_tensor("pseudo_labels", pseudo_labels, fn=fn)
    check_float("pseudo_labels", pseudo_labels, fn=fn)
    if pseudo_labels.dim() not in (1, 2) or (pseudo_labels.dim() == 2 and pseudo_labels.shape[1] != 1):
        raise ValueError(f"{fn}: pseudo_labels must have shape [N] or [N, 1], got "
                         f"{describe(pseudo_labels)}")
    if pseudo_labels.shape[0] != n:
        hint = (" (variant='official' uses pseudo-labels built for one fixed batch size, as the "
                "official code, which needs drop_last=True)" if variant == "official" else
                " (build them for this N with dirfast.pseudo_labels(train_labels, N), or use "
                "dirfast.nn.DistLoss, which caches them per N)")
        raise ValueError(f"{fn}: pseudo_labels has {pseudo_labels.shape[0]} entries but the batch has "
                         f"N = {n} predictions{hint}")
    if weights is not None:
        check_tensor("weights", weights, fn=fn)
        check_float("weights", weights, fn=fn)
        if weights.shape != preds.shape:
            raise ValueError(f"{fn}: weights must have the shape of preds {tuple(preds.shape)} (no "
                             f"broadcasting), got {describe(weights)}")
    device = check_same_device(fn, preds=preds, targets=targets, pseudo_labels=pseudo_labels,
                               weights=weights)
    if validation_enabled(validate):
        check_finite_values(fn, preds=preds, targets=targets, pseudo_labels=pseudo_labels,
                            weights=weights)
        if weights is not None and bool((weights < 0).any()):
            raise ValueError(f"{fn}: weights must be >= 0 (validation on), got min "
                             f"{weights.min().item()}")
        ql = pseudo_labels.reshape(-1)
        if n > 1 and bool((ql[1:] < ql[:-1]).any()):
            raise ValueError(f"{fn}: pseudo_labels must be sorted ascending (validation on)")
    shape_dtype = preds.dtype
    if variant == "official" and preds.dtype != torch.float64:
        preds, targets = preds.to(torch.float64), targets.to(torch.float64)
    if weights is not None and weights.dtype != preds.dtype:
        weights = weights.to(preds.dtype)
    path = resolve_path(backend, device)
    slow = (reduction == "none" or targets.requires_grad or pseudo_labels.requires_grad
            or (weights is not None and weights.requires_grad))
    if path == "reference" or (slow and torch.is_grad_enabled()) or reduction == "none":
        if path != "reference" and preds.dtype in (torch.float16, torch.bfloat16):
            # the fast paths compute in fp32 (docstring): so does their reference stand-in
            # (fp16 block sums overflow), cast back below
            preds, targets = preds.float(), targets.float()
            weights = None if weights is None else weights.float()
        out = dist_loss_ref(preds, targets, pseudo_labels, weights, loss=loss, lam=lam, eps=eps,
                            dist_weighting=dist_weighting, reduction=reduction, beta=beta,
                            gamma=gamma)
        return out.to(shape_dtype)
    need_grad = torch.is_grad_enabled() and preds.requires_grad
    q = pseudo_labels if pseudo_labels.dim() == 1 else pseudo_labels.reshape(-1)
    acc = torch.float64 if preds.dtype == torch.float64 else torch.float32
    if q.dtype != acc:  # (a no-op Tensor.to still costs host time)
        q = q.to(acc)
    flat = (lambda t: t) if preds.dim() == 1 else (lambda t: t.reshape(-1))
    tensors = (flat(preds), flat(targets), q, None if weights is None else flat(weights))
    cfg = (loss, beta, gamma, lam, eps, dist_weighting, reduction, path, need_grad)
    if torch.compiler.is_compiling():
        out, _ = dist_loss_op(*tensors, *cfg)
    else:
        out = DistLossFunction.apply(*tensors, cfg)
    return out if out.dtype == shape_dtype else out.to(shape_dtype)


# -------------------------------------------------------------------------------------------------
# torch.distributed: differentiable all-gather of a variable-size batch


class _AllGatherVarlen(torch.autograd.Function):
    """Concatenate every rank's ``[n_r]`` tensor in rank order; the backward returns this rank's slice
    of the incoming gradient (every rank computes the same global loss, so no communication)."""

    @staticmethod
    def forward(ctx, t, group):
        import torch.distributed as dist

        world = dist.get_world_size(group)
        rank = dist.get_rank(group)
        size = torch.tensor([t.shape[0]], dtype=torch.int64, device=t.device)
        sizes = [torch.empty_like(size) for _ in range(world)]
        dist.all_gather(sizes, size, group=group)
        sizes = [int(s.item()) for s in sizes]  # the only host sync: the padded gather needs them
        m = max(sizes)
        padded = t.new_zeros((m,) + tuple(t.shape[1:]))
        padded[: t.shape[0]] = t
        parts = [torch.empty_like(padded) for _ in range(world)]
        dist.all_gather(parts, padded.contiguous(), group=group)
        ctx.offset = sum(sizes[:rank])
        ctx.n = t.shape[0]
        return torch.cat([p[:s] for p, s in zip(parts, sizes)])

    @staticmethod
    def backward(ctx, g):
        return g[ctx.offset: ctx.offset + ctx.n], None


def all_gather_varlen(t: Tensor, group=None) -> Tensor:
    """All-gather ``t [n_r, ...]`` from every rank (sizes may differ) into ``[Σ n_r, ...]`` in rank
    order; differentiable: the gradient of the result flows back to this rank's entries only."""
    return _AllGatherVarlen.apply(t, group)


def _distributed_world(group) -> int:
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return 1
    return dist.get_world_size(group)


# -------------------------------------------------------------------------------------------------
# module


class DistLoss(torch.nn.Module):
    r"""Dist Loss with its training-label distribution and a per-N pseudo-label cache.

    Args:
        train_labels: ``[M]`` training labels (float or int; any shape, flattened), fitted once (KDE,
            host, float64): a tensor, a NumPy array or a sequence of numbers (converted once, as
            :func:`pseudo_labels`). ``forward`` stays tensor-only.
        bw, min_label, max_label, step: the KDE and its grid (official defaults 0.5, 0, 120, 1; the
            README of the ECG data uses step 0.1); see :func:`pseudo_labels`.
        method, grid: pseudo-label generator (default ``"quantile"``, ``"official"`` under
            ``variant="official"``); ``grid="bins" | "continuous"`` for the quantile method.
        loss, lam, eps, dist_weighting, reduction, beta, gamma, backend, validate: as
            :func:`dist_loss`.
        variant: ``"default"`` or ``"official"`` (official pseudo-labels, positional weights, fp64,
            and a fixed batch size: an N other than ``batch_size`` — or than the first batch's N if
            ``batch_size`` is None — raises, as the official code needs ``drop_last=True``).
        batch_size: optional fixed N (see ``variant``; under the default variant only pre-builds it).
        reweight: per-sample weights when ``forward`` gets none: ``"none"`` (default: unweighted, or
            the ``weights`` passed to ``forward``), ``"inverse"`` or ``"sqrt_inv"`` — the DIR weights
            of the official training script (:class:`dirfast.LDS` fitted on ``train_labels``,
            optionally LDS-smoothed with ``lds=True``, ``lds_kernel``, ``lds_ks``, ``lds_sigma``, over
            ``bins``, default unit bins ``Bins(min_label, step, K)``; ``inverse`` clips counts to
            ``[5, 1000]`` as officially).
        global_sort: under ``torch.distributed`` (initialised, world > 1), all-gather predictions,
            targets and weights of every rank (sizes may differ) and compute the loss of the global
            batch on every rank: the value is the single-process loss of the concatenated batch, and
            the gradient flows back to this rank's predictions only (DDP then averages the parameter
            gradients over ranks, i.e. divides that gradient by the world size). Costs one size
            exchange (a host sync) and three all-gathers per step.

    Buffers: ``grid [K]`` and ``pmf [K]`` float64 (the fitted distribution; ``state_dict`` round trip).

    ``forward(preds [N] or [N, 1], targets (same), weights=None)`` returns the loss (double backward
    and NaN/inf with validation off as :func:`dist_loss`).
    """

    def __init__(self, train_labels: LabelsLike, *, bw=0.5, min_label: float = 0.0,
                 max_label: float = 120.0, step: float = 1.0, method: Optional[str] = None,
                 grid: str = "bins", loss: str = "l1", lam: float = 1.0, eps: float = 0.1,
                 dist_weighting: Optional[str] = None, reduction: str = "mean",
                 variant: str = "default", batch_size: Optional[int] = None,
                 reweight: str = "none", lds: bool = False, lds_kernel: str = "gaussian",
                 lds_ks: int = 5, lds_sigma: float = 2.0, bins=None, global_sort: bool = False,
                 beta: Optional[float] = None, gamma: float = 1.0, backend: Optional[str] = None,
                 validate: Optional[bool] = None, group=None):
        super().__init__()
        fn = "DistLoss"
        check_scalar("variant", variant, fn=fn, choices=VARIANTS)
        method = ("official" if variant == "official" else "quantile") if method is None else method
        check_scalar("method", method, fn=fn, choices=METHODS)
        check_scalar("grid", grid, fn=fn, choices=GRIDS)
        check_scalar("reweight", reweight, fn=fn, choices=REWEIGHTS)
        a, b, h = _check_grid_args(fn, bw, min_label, max_label, step)
        if batch_size is not None:
            _check_n(fn, batch_size)
        train_labels = _check_train_labels(fn, train_labels)
        self.bw, self.min_label, self.max_label, self.step = bw, a, b, h
        self.method, self.grid_mode, self.variant = method, grid, variant
        self.batch_size = batch_size
        self.global_sort, self.group = bool(global_sort), group
        self.kw = dict(loss=loss, lam=lam, eps=eps, dist_weighting=dist_weighting,
                       reduction=reduction, variant=variant, beta=beta, gamma=gamma,
                       backend=backend, validate=validate)
        # fail at construction on a bad name or value, not at the first step
        dist_loss(torch.zeros(1), torch.zeros(1), torch.zeros(1), **dict(self.kw, backend="reference"))
        t, pmf = _kde(fn, train_labels, bw, a, b, h)
        self.register_buffer("grid", torch.from_numpy(t))
        self.register_buffer("pmf", torch.from_numpy(pmf))
        # n -> {(device, dtype): pseudo-labels}; insertion order is the LRU order (last = most recent)
        self._cache: Dict[int, Dict[Tuple[torch.device, torch.dtype], Tensor]] = {}
        self.reweight = reweight
        self.lds = None
        if reweight != "none":
            from .bins import Bins
            from .lds import LDS

            if bins is None:
                bins = Bins(a, h, int(t.size))
            self.lds = LDS(bins, reweight=reweight, lds=bool(lds), kernel=lds_kernel, ks=lds_ks,
                           sigma=lds_sigma).fit(train_labels.reshape(-1))
        elif lds:
            raise ValueError(f"{fn}: lds=True needs reweight='inverse' or 'sqrt_inv'")
        if batch_size is not None:
            self.pseudo_labels(batch_size)

    def _load_from_state_dict(self, *args, **kwargs):
        super()._load_from_state_dict(*args, **kwargs)
        self._cache.clear()

    def extra_repr(self) -> str:
        kw = ", ".join(f"{k}={v!r}" for k, v in self.kw.items() if v is not None)
        return (f"method={self.method!r}, grid={self.grid_mode!r}, bw={self.bw}, "
                f"labels=[{self.min_label}, {self.max_label}] step {self.step}, K={self.grid.numel()}, "
                f"reweight={self.reweight!r}, global_sort={self.global_sort}, {kw}")

    def kde_mean(self) -> float:
        """Mean of the fitted pmf on the grid, ``Σ π_k t_k``."""
        return float((self.grid * self.pmf).sum())

    def pseudo_labels(self, n: int, device=None, dtype: torch.dtype = torch.float64) -> Tensor:
        """``[n]`` sorted pseudo-labels in ``dtype`` on ``device`` (CPU float64 by default).

        Cached for the ``CACHE_SIZES`` (8) most recently used batch sizes — a float64 CPU master copy
        and every device/dtype copy asked for, so a training step pays no host-to-device copy; the
        least recently used size is dropped first (memory stays bounded when N varies)."""
        _check_n("DistLoss.pseudo_labels", n)
        cache = self._cache
        copies = cache.get(n)
        if copies is None:
            q = torch.from_numpy(pmf_to_pseudo_labels(self.grid.cpu().numpy(), self.pmf.cpu().numpy(),
                                                      n, method=self.method, grid=self.grid_mode,
                                                      step=self.step))
            copies = cache[n] = {_HOST: q}
            if len(cache) > CACHE_SIZES:
                del cache[next(iter(cache))]
        elif not torch.compiler.is_compiling() and next(reversed(cache)) != n:
            # make n the most recent; not while torch.compile traces: dynamo guards on the dict's key
            # order, so a reorder per hit would recompile (to the recompile limit under fullgraph)
            cache[n] = cache.pop(n)
        key = (torch.device("cpu") if device is None else torch.device(device), dtype)
        out = copies.get(key)
        if out is None:
            out = copies[_HOST].to(device=key[0], dtype=dtype)
            copies[key] = out
        return out

    def forward(self, preds: Tensor, targets: Tensor, weights: Optional[Tensor] = None) -> Tensor:
        fn = "DistLoss"
        _column(fn, "preds", preds)
        if weights is None and self.lds is not None:
            check_tensor("targets", targets, fn=fn)
            weights = self.lds(targets).to(preds.dtype)
        if self.global_sort and _distributed_world(self.group) > 1:
            preds = all_gather_varlen(preds, self.group)
            targets = all_gather_varlen(targets.detach(), self.group)
            if weights is not None:
                weights = all_gather_varlen(weights.detach(), self.group)
        n = preds.shape[0]
        if self.variant == "official" and n >= 1:
            if self.batch_size is None:
                self.batch_size = n
            if n != self.batch_size:
                raise ValueError(f"{fn}: variant='official' uses pseudo-labels for the fixed batch size "
                                 f"{self.batch_size} (as the official code, which needs drop_last=True); "
                                 f"got a batch of N = {n}")
        dt = torch.float64 if (preds.dtype == torch.float64 or self.variant == "official") \
            else torch.float32
        q = self.pseudo_labels(max(n, 1), preds.device, dt)
        if n == 0:
            q = q[:0]
        return dist_loss(preds, targets, q, weights, **self.kw)
