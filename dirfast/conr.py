"""ConR, the contrastive regularizer for imbalanced regression (Keramati et al., ICLR 2024; spec
docs/conr_ranksim_bmse.md §1): :func:`conr_loss` (functional) and :class:`ConRLoss` (module).

Typical two-view training step (age data, as the official scripts)::

    yhat_v, z_v = model(torch.cat([x1, x2]))                     # two augmented views, M = 2B rows
    loss = l1(yhat, y, a) + 4.0 * dirfast.conr_loss(
        z_v, torch.cat([y, y]), yhat_v.detach(), torch.cat([a, a]), variant="official")
"""

from __future__ import annotations

import contextlib
from typing import Any, Optional

import torch
from torch import Tensor

from ._backend import resolve_backend
from ._checks import (check_finite_values, check_float, check_same_device, check_scalar,
                      check_tensor, describe, validation_enabled)
from .ops.conr import CHUNK_ROWS, ConRFunction, conr_op
from .reference.conr import (NORMS, PUSHINGS, REDUCTIONS, VARIANT_DEFAULTS, VARIANTS,
                             conr_loss_ref)

__all__ = ["conr_loss", "ConRLoss", "CHUNK_ROWS"]

#: ``input_precision`` values of the fp32 similarity dots (Triton path; see :func:`conr_loss`)
PRECISIONS = ("ieee", "tf32", "tf32x3")


def _labels(fn, name, t, m):
    check_tensor(name, t, fn=fn)
    check_float(name, t, fn=fn)
    if t.dim() not in (1, 2) or t.shape[0] != m:
        raise ValueError(f"{fn}: {name} must have shape [M] or [M, d] with M = {m} (the rows of "
                         f"features), got {describe(t)}")
    if t.dim() == 2 and t.shape[1] == 0:
        raise ValueError(f"{fn}: {name} must have d >= 1 label dimensions, got {describe(t)}")
    # [M, 1] and [M] are the same labels; labels and predictions carry no gradient
    return (t.reshape(m) if (t.dim() == 1 or t.shape[1] == 1) else t).detach()


def conr_loss(
    features: Tensor,
    labels: Tensor,
    preds: Tensor,
    weights: Optional[Tensor] = None,
    *,
    w: float = 1.0,
    temperature: float = 0.07,
    e: float = 0.01,
    variant: str = "paper",
    reduction: str = "mean",
    norm: str = "l1",
    pushing: Optional[str] = None,
    denominator_self: Optional[bool] = None,
    weight_final: Optional[bool] = None,
    phantom: Optional[bool] = None,
    return_valid: bool = False,
    input_precision: str = "ieee",
    gather: bool = False,
    group: Any = None,
    backend: Optional[str] = None,
    validate: Optional[bool] = None,
):
    r"""ConR loss on ``features [M, D]`` with labels and (detached) predictions ``[M]`` or ``[M, d]``.

    ``u = normalize(features)``, ``s_ij = u_i·u_j/τ``; positives ``P_ij = Δy_ij ≤ w, i ≠ j``;
    negatives ``N_ij = Δy_ij > w and Δŷ_ij ≤ w`` (``Δ`` = ``|·|``, or the ``norm`` of the difference
    for ``d > 1``); pushing weight ``S_ij = a_i·exp(e·Δy_ij)``;
    ``ℓ_i = log(Σ_j P_ij e^{s_ij} + Σ_j N_ij S_ij e^{s_ij}) − mean_{j∈P_i} s_ij``.

    * ``variant="paper"`` (default, §1.2): an anchor counts only with ≥ 1 positive and ≥ 1 negative
      (others give exactly 0, never NaN); ``a_i`` only inside ``S``.
    * ``variant="official"`` (the age code, §1.3): the denominator also gets ``M − |P_i|`` phantom
      ``exp(0)`` terms, the row loss is multiplied by ``a_i`` again (``weight_final``), anchors without
      a negative give 0 and an anchor without a positive gives **NaN** (0/0, as the official code:
      it never happens in the two-view setup, where each sample's twin is a positive).
    * Depth-variant knobs (override the variant's defaults): ``pushing="linear"`` (``S = e·a_i·Δy``),
      ``denominator_self=True`` (self counted as a positive: divisor ``|P_i| + 1``),
      ``weight_final=False``, ``phantom``.

    Args:
        features: ``[M, D]`` floating, ``D ≥ 1``; differentiable (the only input with a gradient).
        labels, preds: ``[M]`` / ``[M, 1]`` (1-D labels: the two shapes mean the same and may be
            mixed, e.g. labels ``[M]`` with preds ``[M, 1]``) or ``[M, d]`` with ``d > 1`` (then
            both exactly ``[M, d]``), floating. Both only enter masks and pushing weights: they are
            detached (no gradient, even if they require one).
        weights: ``None`` (all 1) or ``[M]`` / ``[M, 1]`` (any other shape, e.g. ``[1, M]``, is a
            ``ValueError``), ≥ 0: treated as constants (no gradient).
        w: window ≥ 0; temperature: τ > 0; e: pushing power ≥ 0.
        reduction: ``"mean"`` (Σ r_i ℓ_i / M, all rows), ``"sum"``, ``"none"`` (``[M]``),
            ``"valid_anchors"`` (divided by the number of anchors with ≥ 1 positive and ≥ 1
            negative, or 1 if none).
        norm: ``"l1" | "l2"`` for ``d > 1`` labels.
        return_valid: also return the number of valid anchors (int64 0-d tensor, no host sync).
        backend: ``"auto"`` on CPU / ``"cpu"`` → the streaming path (``CHUNK_ROWS`` rows at a time,
            custom backward recomputing chunks from O(M) row statistics, memory
            ``O(M·D + CHUNK_ROWS·M)``); ``"auto"`` on CUDA / ``"triton"`` (CPU tensors only under
            ``TRITON_INTERPRET=1``) → the flash-style kernels of :mod:`dirfast.kernels.conr`
            (fp16/bf16/fp32/fp64; ``[M, d]`` labels too: the per-tile distance is ``Σ_k |Δy_k|``
            or ``sqrt(Σ_k Δy_k²)``); ``"reference"`` → the dense
            :func:`dirfast.reference.conr_loss_ref`.
        input_precision: precision of the fp32 similarity dots in the Triton kernels: ``"ieee"``
            (default: exact fp32 FMA), or the opt-ins ``"tf32"`` (tensor cores, 10-bit mantissa
            inputs: expect ~1e-3 relative error in the similarities, so a loss/gradient error of
            ~1e-3·max|s|·τ⁻¹ — use for speed, not for parity) and ``"tf32x3"`` (3 TF32 passes,
            ~fp32 accuracy). fp16/bf16 features always use tensor cores, fp64 is always exact; the
            CPU paths ignore it.
        gather: ConR across ``torch.distributed`` ranks (the process group must be initialised: a
            ``RuntimeError`` otherwise). Every rank all-gathers the features (with autograd),
            labels, predictions and weights of all ranks of ``group`` (rank order; local batch sizes
            may differ), and returns the loss of its **local anchors** ``i`` (rows
            ``[o_r, o_r + m_r)`` of the gathered ``M_g = Σ_r m_r`` rows) against the gathered
            batch, with the global denominators: ``"mean"`` ``Σ_{i local} r_i ℓ_i / M_g``,
            ``"valid_anchors"`` ``Σ_{i local} r_i ℓ_i / max(#valid over the gathered batch, 1)``,
            ``"sum"`` ``Σ_{i local} r_i ℓ_i``, ``"none"`` the local rows ``[m_r]``. So the ranks'
            losses **sum** to the single-process loss of the concatenated batch, and the gathered
            features' backward sums the gradient over ranks (an all-reduce of ``[M_g, D]``, a
            collective: every rank must run the backward), so that each rank's feature gradient
            is its slice of the single-process gradient of that sum. **DDP** averages the
            parameter gradients over the ``R`` ranks, i.e. divides that gradient by ``R``: multiply
            the ConR term by ``R = torch.distributed.get_world_size(group)`` to train with the
            single-process gradient of the global batch (a per-rank ``mean`` loss next to it, e.g.
            the regression loss on equal local batches, needs no factor: DDP's average is already
            its global mean). ``return_valid`` then returns the number of valid anchors of the
            gathered batch. Cost: one size exchange (a host sync), two all-gathers and one
            all-reduce of the valid count per forward, one all-reduce of ``[M_g, D]`` per
            backward. Each rank computes **its anchors only**: the gather puts its rows first
            and the op takes them as its anchor window ``[0, m_r)`` — forward ``2·m_r·M_g·D``
            FLOPs (its row blocks against every column); the backward (the gradient of its
            loss with respect to every gathered row) ``4·(m_r·M_g + (M_g − m_r)·m_r)·D`` (row
            blocks without an anchor run the anchors' columns only: ``H_ij`` vanishes unless
            ``i`` or ``j`` is an anchor; on the Triton kernels rounded to tiles, and
            ``4·M_g²·D`` for the few configs without a spill-free ``COL_ONLY`` twin), i.e. about
            ``2/R`` of one process's ``6·M_g²·D`` for ``R`` equal ranks; memory ``O(M_g·D)``.
            (``backend="reference"`` computes every row densely and keeps its own; the row
            order of the gathered batch is then rank order.) With ``gather=True`` the call
            graph-breaks under
            ``torch.compile`` (host sync, eager collectives). ``gather=False`` (default): the
            local batch only, no communication, whether or not a process group exists.
        group: the ``torch.distributed`` process group of ``gather`` (default: WORLD).
        validate: NaN/inf and negative-weight checks (host sync), on with ``DIRFAST_VALIDATE=1``.
            Off: a NaN/inf feature makes NaN every row paired with it, a NaN label (prediction)
            compares false: never a positive or negative (never a negative), an inf label: inf/NaN.

    Numerics: ``log D_i`` is a log-sum-exp over the row's included terms, shifted by their largest
    logit on every path (streaming CPU, Triton kernels, online over column tiles, and the
    reference), so any temperature (``s`` spans ±1/τ) and label scale is finite; the official
    phantom ``exp(0)`` terms are added stably (``logaddexp``). fp32 results carry the conditioning of
    ``s``: an absolute error of ~``eps·max|s|`` ≈ 1e-7/τ in the logits.

    Double backward (``torch.autograd.grad(..., create_graph=True)`` then a backward of a function of
    that gradient) is supported on every backend: when grad mode is on inside the backward, the
    gradient is computed through the differentiable dense reference from the saved inputs (same
    semantics; ``O(M²)`` memory for that call) so it carries a graph; the plain backward keeps the
    streaming / kernel path.

    Returns:
        The loss in ``features``' dtype (arithmetic in fp32, fp64 for fp64 inputs: fp16/bf16 never
        overflow), and ``num_valid_anchors`` if ``return_valid``. Under ``torch.autocast`` see
        below: fp32 features compute in the autocast dtype and the loss is returned in fp32.

    **Autocast (AMP)**: when ``torch.autocast`` is enabled for the features' device type
    (``"cuda"`` with fp16/bf16, ``"cpu"`` with bf16/fp16), fp32 features are cast to
    ``torch.get_autocast_dtype(device_type)`` at this boundary (a differentiable cast: the gradient
    reaches the fp32 features in fp32), so the similarity dots run in fp16/bf16 (tensor cores on
    CUDA) while the row statistics (log-sum-exp, positive sums, counts) stay fp32 — the same
    computation as ``conr_loss(features.to(dtype), ...)``, which this equals exactly. fp16/bf16
    features are used as they are; fp64 features are not cast (as autocast leaves fp64 alone).
    Autocast is disabled inside the op, so its fp32 statistics are not re-cast. The loss (rows for
    ``"none"``) is returned in **fp32** for fp16/bf16 features under autocast (as autocast's
    fp32-output losses; it is the fp32 statistic rounded once to the compute dtype by the op), and
    in fp64 for fp64 features. Labels, predictions and weights are never cast down. The op's backward
    also runs with autocast off, so a ``backward()`` inside the autocast region gives the same
    gradient as one outside it (PyTorch's AMP recipe puts it outside). The same holds under
    ``torch.compile`` (the cast and the disabled region are traced).
    """
    fn = "dirfast.conr_loss"
    check_scalar("variant", variant, fn=fn, choices=VARIANTS)
    check_scalar("reduction", reduction, fn=fn, choices=REDUCTIONS)
    check_scalar("norm", norm, fn=fn, choices=NORMS)
    dp, ds, dw, dph = VARIANT_DEFAULTS[variant]
    pushing = dp if pushing is None else check_scalar("pushing", pushing, fn=fn, choices=PUSHINGS)
    denominator_self = ds if denominator_self is None else bool(denominator_self)
    weight_final = dw if weight_final is None else bool(weight_final)
    phantom = dph if phantom is None else bool(phantom)
    w = check_scalar("w", w, fn=fn, low=0)
    temperature = check_scalar("temperature", temperature, fn=fn, low=0, low_open=True)
    e = check_scalar("e", e, fn=fn, low=0)
    input_precision = check_scalar("input_precision", input_precision, fn=fn, choices=PRECISIONS)
    check_tensor("features", features, fn=fn)
    check_float("features", features, fn=fn)
    if features.dim() != 2 or features.shape[1] == 0:
        raise ValueError(f"{fn}: features must have shape [M, D] with D >= 1, got {describe(features)}")
    m = features.shape[0]
    labels = _labels(fn, "labels", labels, m)
    preds = _labels(fn, "preds", preds, m)
    if labels.shape != preds.shape:
        # [M] and [M, 1] are both 1-D labels (reshaped to [M] above) and may be mixed
        raise ValueError(f"{fn}: preds must have the labels' shape ([M] and [M, 1] may be mixed; "
                         f"[M, d > 1] must match), got labels {tuple(labels.shape)} and "
                         f"{describe(preds)}")
    if weights is not None:
        check_tensor("weights", weights, fn=fn)
        check_float("weights", weights, fn=fn)
        if tuple(weights.shape) not in ((m,), (m, 1)):
            raise ValueError(f"{fn}: weights must have shape [M] or [M, 1] with M = {m} (the rows of "
                             f"features), got {describe(weights)}")
        weights = weights.reshape(m).detach()
    device = check_same_device(fn, features=features, labels=labels, preds=preds, weights=weights)
    # every check on metadata first; the value checks below need a host sync
    path = resolve_backend(backend, device, op=fn, has_cpu_kernel=False, has_triton_kernel=True)
    if gather:  # initialised process group: metadata, no communication yet
        from ._distributed import require_distributed

        gather = require_distributed(fn, group)[0] > 1  # one rank: the local batch is the batch
    if validation_enabled(validate):
        check_finite_values(fn, features=features, labels=labels, preds=preds, weights=weights)
        if weights is not None and bool((weights < 0).any()):
            raise ValueError(f"{fn}: weights must be >= 0 (validation on), got min "
                             f"{weights.min().item()}")
    # autocast: fp32 features compute in the autocast dtype (docstring); the op itself runs with
    # autocast off, so its fp32 statistics (and its torch.mm on the streaming path) stay fp32
    dev_type = device.type
    amp = torch.amp.is_autocast_available(dev_type) and torch.is_autocast_enabled(dev_type)
    if amp and features.dtype == torch.float32:
        features = features.to(torch.get_autocast_dtype(dev_type))
    if path == "triton" and input_precision != "ieee" and features.dtype == torch.float32:
        path = f"triton_{input_precision}"
    if path.startswith("triton"):
        # the kernels take labels, predictions and weights in the accumulation dtype (fp32; fp64 for
        # fp64 features): cast once here (no-op when they already are), so that the saved copies the
        # backward reads need no cast either
        acc = torch.float64 if features.dtype == torch.float64 else torch.float32
        labels, preds = labels.to(acc), preds.to(acc)
        weights = None if weights is None else weights.to(acc)
    m_local = m
    if gather:
        from ._distributed import gather_rows

        # this rank's rows first (ConR is equivariant under a permutation of the rows): the op's
        # anchors are then the leading window (0, m_local), as the Triton kernels take it
        features, (labels, preds, weights), offset, _ = gather_rows(
            features, (labels, preds, weights), group, local_first=path != "reference")
        m = features.shape[0]
    # the op's anchor window: this rank's rows of the gathered batch (without gather: every row,
    # the op's defaults)
    window = (offset, offset + m_local) if gather else ()
    red = "none" if gather else reduction
    with torch.autocast(dev_type, enabled=False) if amp else contextlib.nullcontext():
        if path == "reference":
            out, nvalid = conr_loss_ref(features, labels, preds, weights, w=w,
                                        temperature=temperature, e=e, variant=variant,
                                        reduction=red, norm=norm, pushing=pushing,
                                        denominator_self=denominator_self,
                                        weight_final=weight_final, phantom=phantom,
                                        return_valid=True)
        else:
            tensors = (features, labels, preds.detach(), weights)
            cfg = (w, temperature, e, pushing, denominator_self, weight_final, phantom, red, norm,
                   variant, path, *window)
            if torch.compiler.is_compiling():
                out, nvalid, _ = conr_op(*tensors, *cfg)
            else:
                out, nvalid = ConRFunction.apply(*tensors, cfg)
        if gather:
            if path != "reference":  # the window's valid count → the gathered batch's
                from ._distributed import all_reduce_sum

                nvalid = all_reduce_sum(nvalid, group)
            out = _reduce_local(out, nvalid, offset, m_local, m, reduction)
    if amp and out.dtype in (torch.float16, torch.bfloat16):
        out = out.float()
    return (out, nvalid) if return_valid else out


def _reduce_local(rows: Tensor, nvalid: Tensor, offset: int, m_local: int, m: int,
                  reduction: str) -> Tensor:
    """This rank's rows ``[offset, offset + m_local)`` of the gathered ``[m]`` row losses, reduced
    with the gathered batch's denominators (``mean``: ``m``; ``valid_anchors``: the gathered valid
    count), summed in the accumulation dtype (fp32; fp64 for fp64) and returned in the rows' dtype.
    The other rows get a zero gradient (their backward terms vanish)."""
    local = rows[offset: offset + m_local]
    if reduction == "none":
        return local
    acc = torch.float64 if rows.dtype == torch.float64 else torch.float32
    total = local.to(acc).sum()
    if reduction == "mean":
        total = total / max(m, 1)
    elif reduction == "valid_anchors":
        total = total / nvalid.clamp_min(1).to(acc)
    return total.to(rows.dtype)


class ConRLoss(torch.nn.Module):
    """Module form of :func:`conr_loss` (same keyword arguments, ``gather``/``group`` and the
    autocast behaviour included). ``forward(features, labels, preds, weights=None)`` returns the
    loss; the number of valid anchors of the last call is kept in ``self.num_valid_anchors`` (an
    int64 0-d tensor, no host sync; of the gathered batch with ``gather=True``)."""

    def __init__(self, *, w: float = 1.0, temperature: float = 0.07, e: float = 0.01,
                 variant: str = "paper", reduction: str = "mean", norm: str = "l1",
                 pushing: Optional[str] = None, denominator_self: Optional[bool] = None,
                 weight_final: Optional[bool] = None, phantom: Optional[bool] = None,
                 input_precision: str = "ieee", gather: bool = False, group: Any = None,
                 backend: Optional[str] = None, validate: Optional[bool] = None):
        super().__init__()
        self.kw = dict(w=w, temperature=temperature, e=e, variant=variant, reduction=reduction,
                       norm=norm, pushing=pushing, denominator_self=denominator_self,
                       weight_final=weight_final, phantom=phantom, input_precision=input_precision,
                       gather=bool(gather), group=group, backend=backend, validate=validate)
        self.num_valid_anchors: Optional[Tensor] = None
        # fail at construction on a bad name or value, not at the first step (the process group of
        # gather=True may be initialised later: checked at the first call)
        kw = dict(self.kw, backend="reference", gather=False, group=None)
        conr_loss(torch.ones(2, 1), torch.zeros(2), torch.zeros(2), **kw)

    def forward(self, features: Tensor, labels: Tensor, preds: Tensor,
                weights: Optional[Tensor] = None) -> Tensor:
        out, self.num_valid_anchors = conr_loss(features, labels, preds, weights, return_valid=True,
                                                **self.kw)
        return out

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.kw.items()
                         if v is not None and not (k == "gather" and not v))
