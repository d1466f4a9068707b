"""``dirfast::conr``: ConR as one registered op, streamed over row chunks (nothing ``M×M`` is stored).

Forward (``_conr_fwd_stream``): for each chunk of ``CHUNK_ROWS`` anchor rows ``I`` (every column at
once), the similarity block ``s_I = U_I·Uᵀ/τ`` (one ``torch.mm``), the masks from the labels and the
(detached) predictions, the logits ``A_ij = s_ij`` (positives), ``s_ij + log S_ij`` (negatives;
``log S_ij = log a_i + e·Δy_ij``, or ``log(e·a_i·Δy_ij)`` for linear pushing), ``−inf`` elsewhere, and
per row the log-sum-exp ``L_i = m_i + log Σ_j e^{A_ij − m_i}`` with ``m_i = max_j A_ij`` (the largest
*included* logit: the largest term is exp(0) = 1, so nothing overflows or underflows at any τ or
label scale; fp16/bf16 inputs are computed in fp32), ``Σ_j P_ij s_ij``, ``|P_i|``, ``|N_i|``. The
Triton kernel computes the same ``L_i`` online over column tiles (flash-attention style: a running
max and a sum rescaled when the max grows). The phantom ``exp(0)`` terms of the official variant are
added in the O(M) epilogue as ``log D_i = logaddexp(L_i, log(M − |P_i|))`` (finite for any ``L_i``).

Saved for the backward: ``stats [3, M]`` = (``log D_i``, ``1/|P_i|``, the row factor ``g_i``), O(M).
The Triton path (``_conr_fwd_triton``) computes the whole forward in its kernels — row norms and
``log a`` in a prologue stage, this epilogue per row in the main pass, the reduction in a finish
stage — and saves their flat ``[6·M + 1]`` statistics (norms, inverse norms and ``log a``
included), so its backward recomputes no prologue: four launches per forward + backward and no
other device work, six when the launch plan splits the column range to fill the GPU (a merge stage
and a reduce kernel; :func:`dirfast.kernels.conr.conr_split`).

Backward (``_conr_bwd_stream``): recomputes the blocks of the upper block-triangle only
(``s_{I, J≥I}``), builds ``H = G + Gᵀ`` on them from the saved row statistics of both the row and the
column side (``G_ij = g_i·[(P_ij + N_ij S_ij) e^{s_ij}/D_i − P_ij/|P_i|]``, spec §1.3) and accumulates
``dU_I += H·U_J`` and ``dU_{J>I} += H_{:, J>I}ᵀ·U_I`` (two ``torch.mm``), then backpropagates through
the L2 normalisation. GEMM work: forward ``2·M²·D``, backward ``3·M²·D`` (``M²D`` recompute of the
half triangle + ``2·M²·D``) FLOPs; the dense method needs ``4·M²·D``.

On CPU tensors with 1-D labels and the compiled extension the per-chunk element-wise work of both
directions is one C++ pass each (``dirfast._C.conr_rows_fwd`` / ``conr_rows_bwd``, csrc/conr.cpp: the
same formulas, sums in double, OpenMP over rows), around the same ``torch.mm`` calls; the O(M)
epilogue and the normalisation (and its backward) are C++ too. ``[M, d]`` labels and installs
without the extension run the PyTorch chunk code above, which is the C++ passes' reference
(``tests/test_ext_conr.py``).

Memory: ``O(M·D)`` (U, dU) plus ``O(CHUNK_ROWS·M)`` per chunk temporaries; no host sync.

Eager calls use ``ConRFunction`` (same paths, no op dispatch cost; built with the registered ops by
:func:`dirfast.ops._factory.register_op`); ``torch.compile`` traces the registered ``dirfast::conr``
and ``dirfast::conr_bwd``.

Double backward: a backward run with grad mode on (``create_graph=True``) returns instead the
gradient of the dense reference recomputed from the saved inputs under autograd
(``_grad_differentiable``: same semantics, differentiable in the features and the incoming
gradient, ``O(M²)`` memory), so it is never a constant without a graph. The plain backward (and the
backward AOT autograd traces, without grad mode) keeps the streaming / kernel path.
"""

from __future__ import annotations

import functools
import math
from typing import Optional, Tuple

import torch
from torch import Tensor

from .. import _ext
from ._common import EXT_DTYPE_NAME, acc_dtype
from ._factory import register_op

#: rows per chunk of the streaming CPU path: temporaries are O(CHUNK_ROWS · M) (≈ 10 fp32/bool
#: blocks of CHUNK_ROWS × M live at once; 5 MB each at M = 4096).
CHUNK_ROWS = 256

def _dist(a: Tensor, b: Tensor, norm: str) -> Tensor:
    """``[m, n]`` label distances (``a``, ``b`` are ``[m]``/``[n]`` or ``[m, d]``/``[n, d]``)."""
    if a.dim() == 1:
        return (a[:, None] - b[None, :]).abs_()
    diff = a[:, None, :] - b[None, :, :]
    if norm == "l1":
        return diff.abs_().sum(-1)
    return diff.mul_(diff).sum(-1).sqrt_()


def _prepare(features, labels, preds, weights):
    dt = acc_dtype(features.dtype)
    z = features.to(dt)
    norms = z.norm(dim=1)
    inv = 1.0 / norms.clamp_min(1e-12)
    u = z * inv[:, None]
    y, yh = labels.to(dt), preds.detach().to(dt)
    loga = None if weights is None else torch.log(weights.to(dt))
    return dt, z, u, norms, inv, y, yh, loga


def _masks(y_r, y_c, yh_r, yh_c, w, norm, diag_offset, denominator_self):
    dy = _dist(y_r, y_c, norm)
    pos = dy <= w
    if not denominator_self:
        pos.diagonal(offset=diag_offset).fill_(False)
    neg = (dy > w) & (_dist(yh_r, yh_c, norm) <= w)
    return dy, pos, neg


def _exponent(s, dy, pos, neg, e, pushing):
    """``A = s`` on positives, ``s + log(S_ij / a_i)`` on negatives, ``−inf`` elsewhere."""
    if pushing == "exp":
        push = dy.mul_(e).add_(s)
    else:
        push = dy.mul_(e).log_().add_(s)
    a = torch.where(neg, push, -math.inf)
    return torch.where(pos, s, a)


def _row_lse(a: Tensor) -> Tensor:
    """``log Σ_j e^{A_ij}`` per row, shifted by the row's largest logit (``−inf`` for a row without
    any term, never NaN; ``+inf`` if a logit is, as ``torch.logsumexp``)."""
    mx = a.amax(1)
    mx = torch.where(torch.isfinite(mx), mx, 0.0)
    return a.sub_(mx[:, None]).exp_().sum(1).log_().add_(mx)


def _ext_rows(features, labels):
    """``dirfast._C`` when its ConR row passes apply (CPU tensors, 1-D labels), else None."""
    if features.device.type != "cpu" or labels.dim() != 1 or not _ext.available():
        return None
    return _ext.get()


#: reduction codes of dirfast._C.conr_epilogue (csrc/conr.h)
_EXT_RED = {"mean": 0, "sum": 1, "none": 2, "valid_anchors": 3}


def _ptr(t):
    return 0 if t is None else t.data_ptr()


def _prepare_ext(C, features, labels, preds, weights):
    """:func:`_prepare` with the row normalisation in one C++ pass (``conr_normalize``:
    ``‖z_i‖`` summed in double, ``inv_i = 1/max(‖z_i‖, 1e-12)``, ``u = z·inv``). Returns the same
    tuple: ``dt`` (fp32; fp64 for fp64 features), ``z [M, D]`` (the features in ``dt``, no copy when
    they already are, unit stride along D), ``u [M, D]`` contiguous, ``norms``/``inv [M]``,
    ``y``/``yh [M]`` contiguous and ``log a [M]`` (or None), all ``dt``."""
    dt = acc_dtype(features.dtype)
    z = features.to(dt)
    m, d = z.shape
    # element (i, k) at i*ld + k; a unit dimension may carry any stride (contiguous() keeps it)
    if d > 1 and z.stride(1) != 1:
        z = z.contiguous()
    ld = z.stride(0) if m > 1 else d
    if ld < d:  # overlapping rows (expanded): copy
        z = z.contiguous()
        ld = z.stride(0) if m > 1 else d
    u = torch.empty(m, d, dtype=dt)
    ni = torch.empty(2, m, dtype=dt)  # norms, 1 / max(norms, 1e-12)
    norms, inv = ni[0], ni[1]
    C.conr_normalize(EXT_DTYPE_NAME[dt], z.data_ptr(), ld, m, d, u.data_ptr(),
                     norms.data_ptr(), inv.data_ptr())
    y, yh = labels.to(dt).contiguous(), preds.detach().to(dt).contiguous()
    loga = None if weights is None else torch.log(weights.to(dt))
    return dt, z, u, norms, inv, y, yh, loga


def _window(m, anchors):
    """``(a0, a1)`` of an ``anchors`` argument (``None``: every row) and whether it is partial."""
    a0, a1 = (0, m) if anchors is None else anchors
    if not 0 <= a0 <= a1 <= m:
        raise ValueError(f"conr: anchors must satisfy 0 <= a0 <= a1 <= M = {m}, got {anchors}")
    return a0, a1, (a0, a1) != (0, m)


def _row_buffers(m, dt, dev):
    """``[4, M]`` row statistics (lse, Σ P s, |P|, |N|) of rows that are no anchor: ``−inf``, 0, 0,
    0 — no positive, no negative: inactive, not valid."""
    rows = torch.zeros(4, m, dtype=dt, device=dev)
    rows[0].fill_(-math.inf)
    return rows


def _conr_fwd_ext(C, features, labels, preds, weights, w, temperature, e, pushing,
                  denominator_self, weight_final, phantom, reduction, variant, chunk,
                  anchors=None):
    """The streaming forward with the C++ row passes (``[M]`` labels, CPU; ``dt`` = fp32, fp64 for
    fp64 features): per chunk ``s = U_I·Uᵀ/τ`` (``torch.mm`` into one reused ``[chunk, M]``
    buffer) then one ``conr_rows_fwd`` (masks, logits ``A``, ``L_i = log Σ_j e^{A_ij}`` shifted by
    the row's largest included logit, ``Σ_j P_ij s_ij``, ``|P_i|``, ``|N_i|``: three passes over
    the row in cache, no ``[chunk, M]`` temporary), then one ``conr_epilogue`` (the O(M) tail of
    :func:`_fwd_epilogue`: loss, valid count, ``stats [3, M]`` ``dt``). Same formulas as the torch
    chunk code (csrc/conr.h); returns ``(loss, nvalid, stats)`` as :func:`_conr_fwd_stream`."""
    dt, z, u, norms, inv, y, yh, loga = _prepare_ext(C, features, labels, preds, weights)
    m = z.shape[0]
    a0, a1, partial = _window(m, anchors)
    name = EXT_DTYPE_NAME[dt]
    # lse, Σ P s, |P|, |N|
    rows = _row_buffers(m, dt, z.device) if partial else torch.empty(4, m, dtype=dt)
    lse, sps, npos, nneg = (rows[k].data_ptr() for k in range(4))
    buf = torch.empty(min(chunk, max(a1 - a0, 1)) * m, dtype=dt)
    ut = u.t()
    push_exp = pushing == "exp"
    for s0 in range(a0, a1, chunk):
        s1 = min(s0 + chunk, a1)
        s = buf[: (s1 - s0) * m].view(s1 - s0, m)
        torch.mm(u[s0:s1], ut, out=s).mul_(1.0 / temperature)
        C.conr_rows_fwd(name, s.data_ptr(), m, y.data_ptr(), yh.data_ptr(), _ptr(loga), s0,
                        s1 - s0, m, w, e, push_exp, denominator_self, lse, sps, npos, nneg)
    out = torch.empty(m if reduction == "none" else (), dtype=dt)
    nvalid = torch.empty((), dtype=torch.int64)
    stats = torch.empty(3, m, dtype=dt)
    C.conr_epilogue(name, lse, sps, npos, nneg, _ptr(loga), m, phantom, variant == "official",
                    weight_final, _EXT_RED[reduction], out.data_ptr(), nvalid.data_ptr(),
                    stats.data_ptr())
    if partial:  # rows that are no anchor: a zero row loss (the official 0/0 left NaN there)
        out[:a0] = 0
        out[a1:] = 0
    return out.to(features.dtype), nvalid, stats


def _conr_fwd_stream(features, labels, preds, weights, w, temperature, e, pushing, denominator_self,
                     weight_final, phantom, reduction, norm, variant, chunk=CHUNK_ROWS,
                     anchors=None):
    """The streaming forward (``torch.mm`` per chunk of anchor rows, or the C++ row passes). With
    ``anchors=(a0, a1)`` only the rows ``[a0, a1)`` are anchors (``2·(a1 − a0)·M·D`` FLOPs): the
    others get a zero row loss and inactive statistics (``reduction="none"`` only)."""
    if anchors is not None and reduction != "none" and anchors != (0, features.shape[0]):
        raise ValueError("conr: an anchor window needs reduction='none'")
    C = _ext_rows(features, labels)
    if C is not None:
        return _conr_fwd_ext(C, features, labels, preds, weights, w, temperature, e, pushing,
                             denominator_self, weight_final, phantom, reduction, variant, chunk,
                             anchors)
    dt, z, u, norms, inv, y, yh, loga = _prepare(features, labels, preds, weights)
    m = z.shape[0]
    a0, a1, partial = _window(m, anchors)
    dev = z.device
    lse, sps, npos, nneg = (_row_buffers(m, dt, dev) if partial
                            else torch.empty(4, m, dtype=dt, device=dev))
    ut = u.t()
    for s0 in range(a0, a1, chunk):
        s1 = min(s0 + chunk, a1)
        s = torch.mm(u[s0:s1], ut).mul_(1.0 / temperature)
        dy, pos, neg = _masks(y[s0:s1], y, yh[s0:s1], yh, w, norm, s0, denominator_self)
        npos[s0:s1] = pos.sum(1)
        nneg[s0:s1] = neg.sum(1)
        sps[s0:s1] = torch.where(pos, s, 0.0).sum(1)
        a = _exponent(s, dy, pos, neg, e, pushing)
        if loga is not None:
            a = torch.where(neg, a + loga[s0:s1, None], a)
        lse[s0:s1] = _row_lse(a)
    out, nvalid, stats = _fwd_epilogue(lse, sps, npos, nneg, loga, m, dt, features.dtype,
                                       weight_final, phantom, reduction, variant)
    if partial:  # rows that are no anchor: a zero row loss (the official 0/0 left NaN there)
        out[:a0] = 0
        out[a1:] = 0
    return out, nvalid, stats


def _fwd_epilogue(lse, sps, npos, nneg, loga, m, dt, out_dtype, weight_final, phantom,
                  reduction, variant):
    """O(M) tail of the forward shared by every path: row statistics (``lse`` = log-sum-exp of the
    row's logits) -> loss, valid count, saved stats."""
    # phantom exp(0) terms: log D = log(e^{lse} + (M − |P|)), stable for any lse (−inf included)
    logd = torch.logaddexp(lse, torch.log(m - npos)) if phantom else lse
    hasneg = nneg > 0
    valid = (npos > 0) & hasneg
    if variant == "official":
        ell = (logd - sps / npos) * hasneg  # 0/0 = NaN without a positive, as the official code
        active = hasneg
    else:
        ell = torch.where(valid, logd - sps / npos.clamp_min(1), 0.0)
        active = valid
    r = torch.exp(loga) if (weight_final and loga is not None) else None
    if r is not None:
        ell = ell * r
    nvalid = valid.sum()
    if reduction == "none":
        out, scale = ell, 1.0
    elif reduction == "sum":
        out, scale = ell.sum(), 1.0
    elif reduction == "valid_anchors":
        scale = 1.0 / nvalid.clamp_min(1).to(dt)
        out = ell.sum() * scale
    else:
        scale = 1.0 / max(m, 1)
        out = ell.sum() * scale
    g = active.to(dt) * scale
    if r is not None:
        g = g * r
    # inactive rows: log D = +inf, 1/|P| = 0 make their backward terms exactly 0
    logd_s = torch.where(active, logd, math.inf)
    q = torch.where(active, 1.0 / npos, 0.0)
    stats = torch.stack([logd_s, q, g])
    return out.to(out_dtype), nvalid, stats


def _bwd_cols(s0, s1, m, a0, a1, partial):
    """Columns ``[jlo, jhi)`` of the backward's chunk of rows ``[s0, s1)`` (upper block-triangle:
    ``J ≥ s0``): all of them, or for a chunk holding no anchor (``H`` vanishes unless ``i`` or ``j``
    is one) the anchors after it — empty when there are none."""
    if not partial or (s0 < a1 and s1 > a0):
        return s0, m
    return (a0, a1) if s1 <= a0 else (s0, s0)


def _conr_bwd_ext(C, grad_out, features, labels, preds, weights, stats, w, temperature, e,
                  pushing, denominator_self, chunk, anchors=None):
    """The streaming backward with the C++ tile pass (``[M]`` labels, CPU): per chunk of the upper
    block-triangle ``s_{I, J≥I}`` (``torch.mm`` into one reused ``[chunk, M]`` buffer, ``dt``),
    one ``conr_rows_bwd`` overwriting it with ``H_ij = G_ij + G_ji``, ``G_ij = g_i·[(P_ij +
    N_ij S_ij)·e^{s_ij}/D_i − P_ij/|P_i|]`` from ``stats [3, M]`` (csrc/conr.h), the two ``dU``
    products accumulated in place (``addmm_``), and ``conr_norm_bwd`` in place. Returns ``dz
    [M, D]`` in the features' dtype."""
    dt, z, u, norms, inv, y, yh, loga = _prepare_ext(C, features, labels, preds, weights)
    m = z.shape[0]
    a0, a1, partial = _window(m, anchors)
    name = EXT_DTYPE_NAME[dt]
    logd, q = stats[0].to(dt).contiguous(), stats[1].to(dt).contiguous()
    # 0-d (mean/sum/valid_anchors) or [M] (none) incoming gradient -> [M] row factors
    g = (stats[2].to(dt) * grad_out.to(dt)).contiguous()
    du = torch.zeros_like(u)
    buf = torch.empty(min(chunk, m) * m, dtype=dt)
    push_exp = pushing == "exp"
    for s0 in range(0, m, chunk):
        s1 = min(s0 + chunk, m)
        jlo, jhi = _bwd_cols(s0, s1, m, a0, a1, partial)
        n = jhi - jlo
        if n == 0:
            continue
        uj = u[jlo:jhi]
        h = buf[: (s1 - s0) * n].view(s1 - s0, n)
        torch.mm(u[s0:s1], uj.t(), out=h).mul_(1.0 / temperature)
        C.conr_rows_bwd(name, h.data_ptr(), n, y.data_ptr(), yh.data_ptr(), _ptr(loga),
                        logd.data_ptr(), q.data_ptr(), g.data_ptr(), s0, s1 - s0, jlo, n, w, e,
                        push_exp, denominator_self)
        du[s0:s1].addmm_(h, uj)
        # H is symmetric: the block below the diagonal block (columns past the chunk)
        k = max(s1, jlo)
        if k < jhi:
            du[k:jhi].addmm_(h[:, k - jlo:].t(), u[s0:s1])
    du.mul_(1.0 / temperature)
    C.conr_norm_bwd(name, du.data_ptr(), u.data_ptr(), norms.data_ptr(), inv.data_ptr(), m,
                    u.shape[1], du.data_ptr())  # in place: du becomes dz
    return du.to(features.dtype)


def _conr_bwd_stream(grad_out, features, labels, preds, weights, stats, w, temperature, e, pushing,
                     denominator_self, norm, chunk=CHUNK_ROWS, anchors=None):
    C = _ext_rows(features, labels)
    if C is not None:
        return _conr_bwd_ext(C, grad_out, features, labels, preds, weights, stats, w, temperature,
                             e, pushing, denominator_self, chunk, anchors)
    dt, z, u, norms, inv, y, yh, loga = _prepare(features, labels, preds, weights)
    m = z.shape[0]
    a0, a1, partial = _window(m, anchors)
    logd, q = stats[0].to(dt), stats[1].to(dt)
    g = stats[2].to(dt) * grad_out.to(dt)  # 0-d (mean/sum/valid_anchors) or [M] (none)
    du = torch.zeros_like(u)
    for s0 in range(0, m, chunk):
        s1 = min(s0 + chunk, m)
        jlo, jhi = _bwd_cols(s0, s1, m, a0, a1, partial)
        if jhi == jlo:
            continue
        J = slice(jlo, jhi)
        uj = u[J]
        s = torch.mm(u[s0:s1], uj.t()).mul_(1.0 / temperature)
        dy, pos, neg = _masks(y[s0:s1], y[J], yh[s0:s1], yh[J], w, norm, s0 - jlo,
                              denominator_self)
        a = _exponent(s, dy, pos, neg, e, pushing)
        # row side G_ij (anchor i in the chunk) and column side G_ji (anchor j ≥ s0)
        ar = a - logd[s0:s1, None]
        ac = a.sub_(logd[None, J])
        if loga is not None:
            ar = torch.where(neg, ar + loga[s0:s1, None], ar)
            ac = torch.where(neg, ac + loga[None, J], ac)
        posf = pos.to(dt)
        h = ar.exp_().sub_(posf * q[s0:s1, None]).mul_(g[s0:s1, None])
        h.add_(ac.exp_().sub_(posf.mul_(q[None, J])).mul_(g[None, J]))
        du[s0:s1].add_(torch.mm(h, uj))
        # H is symmetric: the block below the diagonal block (columns past the chunk)
        k = max(s1, jlo)
        if k < jhi:
            du[k:jhi].add_(torch.mm(h[:, k - jlo:].t(), u[s0:s1]))
    du.mul_(1.0 / temperature)
    return _norm_bwd(du, u, norms, inv, features.dtype)


def _norm_bwd(du, u, norms, inv, out_dtype):
    """Backward through ``u = z / max(‖z‖, 1e-12)``."""
    proj = (u * du).sum(1, keepdim=True)
    dz = torch.where((norms > 1e-12)[:, None], du - u * proj, du) * inv[:, None]
    return dz.to(out_dtype)


def _conr_fwd_dense(features, labels, preds, weights, w, temperature, e, pushing, denominator_self,
                    weight_final, phantom, reduction, norm, variant):
    """One chunk holding every row (tests and small-M comparisons)."""
    return _conr_fwd_stream(features, labels, preds, weights, w, temperature, e, pushing,
                            denominator_self, weight_final, phantom, reduction, norm, variant,
                            chunk=max(features.shape[0], 1))


def _triton_inputs(features, labels, preds):
    """The raw features with unit stride along D, and the labels and detached predictions as the
    kernels take them (``[M]`` or ``[M, d]`` contiguous, fp32; fp64 for fp64 features): no copy
    when they are already so."""
    z = features if features.stride(1) == 1 else features.contiguous()
    dt = acc_dtype(features.dtype)
    return dt, z, labels.to(dt).contiguous(), preds.detach().to(dt).contiguous()


def _conr_fwd_triton(features, labels, preds, weights, w, temperature, e, pushing,
                     denominator_self, weight_final, phantom, reduction, norm, variant,
                     precision="ieee", anchors=None):
    """Flash-style Triton forward (``[M]`` labels, or ``[M, d]`` with the ``norm`` distance computed
    per tile; fp16/bf16/fp32/fp64), the whole forward in the
    kernels (:func:`dirfast.kernels.conr.conr_fwd`: row prologue, main pass with the row epilogue,
    finish): the same arithmetic as :func:`_fwd_epilogue`. The saved ``stats`` are the kernels'
    flat ``[6·M + 1]`` buffer (row norms and ``log a`` included, so the backward recomputes no
    prologue)."""
    from ..kernels.conr import conr_fwd

    dt, z, y, yh = _triton_inputs(features, labels, preds)
    wt = None if weights is None else weights.to(dt).contiguous()
    return conr_fwd(z, y, yh, wt, w=w, temperature=temperature, e=e, push_exp=pushing == "exp",
                    keep_self=denominator_self, phantom=phantom, official=variant == "official",
                    weight_final=weight_final, reduction=reduction, precision=precision, norm=norm,
                    anchors=_leading(anchors, features.shape[0]))


def _conr_bwd_triton(grad_out, features, labels, preds, weights, stats, w, temperature, e, pushing,
                     denominator_self, norm, precision="ieee", anchors=None):
    """Flash-style Triton backward in one launch, two with a column split
    (:func:`dirfast.kernels.conr.conr_bwd`): ``H`` from
    the saved statistics of both sides (recomputing each similarity tile once, no atomics), ``dU``
    and the backward through the L2 normalisation, written in the features' dtype."""
    from ..kernels.conr import conr_bwd as _kbwd

    dt, z, y, yh = _triton_inputs(features, labels, preds)
    return _kbwd(z, y, yh, stats, grad_out.to(features.dtype), w=w, temperature=temperature, e=e,
                 push_exp=pushing == "exp", keep_self=denominator_self, precision=precision,
                 norm=norm, anchors=_leading(anchors, features.shape[0]))


def _leading(anchors, m):
    """The Triton kernels' anchor count ``na`` (anchors = the first ``na`` rows) of a window
    ``(0, na)``; ``None`` for every row. ``conr_loss(gather=True)`` puts this rank's rows first."""
    if anchors is None:
        return None
    a0, a1, _ = _window(m, anchors)
    if a0 != 0:
        raise ValueError(f"conr: the Triton kernels take leading anchors (a window (0, na)), got "
                         f"{anchors}")
    return a1


def _with_precision(fn, precision):
    return functools.wraps(fn)(functools.partial(fn, precision=precision))


#: implementation paths: ``backend`` strings of the registered ops. ``triton`` uses IEEE fp32 dots;
#: ``triton_tf32`` / ``triton_tf32x3`` are the TF32 opt-ins (``input_precision=`` of conr_loss).
_PATHS = {"cpu_torch": (_conr_fwd_stream, _conr_bwd_stream),
          "triton": (_conr_fwd_triton, _conr_bwd_triton)}
for _p in ("tf32", "tf32x3"):
    _PATHS[f"triton_{_p}"] = (_with_precision(_conr_fwd_triton, _p),
                              _with_precision(_conr_bwd_triton, _p))


def _conr(
    features: Tensor,
    labels: Tensor,
    preds: Tensor,
    weights: Optional[Tensor],
    w: float,
    temperature: float,
    e: float,
    pushing: str,
    denominator_self: bool,
    weight_final: bool,
    phantom: bool,
    reduction: str,
    norm: str,
    variant: str,
    backend: str,
    anchor_lo: int = 0,
    anchor_hi: int = -1,
) -> Tuple[Tensor, Tensor, Tensor]:
    """Returns ``(loss, num_valid_anchors, stats)``: loss 0-d (``[M]`` for ``none``) in the features'
    dtype, ``num_valid_anchors`` int64 0-d, ``stats [3, M]`` (fp32/fp64) for the backward.
    ``anchor_lo``/``anchor_hi`` (``-1``: ``M``): only the rows ``[anchor_lo, anchor_hi)`` are
    anchors (``reduction="none"``; the others: a zero row loss, no anchor, not valid) — ConR across
    ranks computes its local rows of the gathered batch only."""
    return _PATHS[backend][0](features, labels, preds, weights, w, temperature, e, pushing,
                              denominator_self, weight_final, phantom, reduction, norm, variant,
                              anchors=_anchors(features, anchor_lo, anchor_hi))


def _anchors(features, lo, hi):
    """``None`` (every row) or the ``(a0, a1)`` window of the op's ``anchor_lo``/``anchor_hi``."""
    m = features.shape[0]
    hi = m if hi < 0 else hi
    return None if (lo, hi) == (0, m) else (lo, hi)


def _conr_fake(features, labels, preds, weights, w, temperature, e, pushing, denominator_self,
               weight_final, phantom, reduction, norm, variant, backend, anchor_lo=0, anchor_hi=-1):
    m = features.shape[0]
    out = features.new_empty((m,) if reduction == "none" else ())
    # the streaming path saves [3, M]; the Triton path the kernels' flat [6·M + 1] buffer
    shape = (6 * m + 1,) if backend.startswith("triton") else (3, m)
    stats = features.new_empty(shape, dtype=acc_dtype(features.dtype))
    return out, features.new_empty((), dtype=torch.int64), stats


def _conr_bwd(
    grad_out: Tensor,
    features: Tensor,
    labels: Tensor,
    preds: Tensor,
    weights: Optional[Tensor],
    stats: Tensor,
    w: float,
    temperature: float,
    e: float,
    pushing: str,
    denominator_self: bool,
    norm: str,
    backend: str,
    anchor_lo: int = 0,
    anchor_hi: int = -1,
) -> Tensor:
    """``dL/dfeatures`` recomputed chunk by chunk from the O(M) ``stats``."""
    return _PATHS[backend][1](grad_out, features, labels, preds, weights, stats, w, temperature, e,
                              pushing, denominator_self, norm,
                              anchors=_anchors(features, anchor_lo, anchor_hi))


def _conr_bwd_fake(grad_out, features, labels, preds, weights, stats, w, temperature, e, pushing,
                   denominator_self, norm, backend, anchor_lo=0, anchor_hi=-1):
    return torch.empty_like(features)


def _save(ctx, inputs, outputs, eager):
    (features, labels, preds, weights, w, temperature, e, pushing, denominator_self, weight_final,
     phantom, reduction, norm, variant, backend) = inputs[:15]
    window = tuple(inputs[15:17]) or (0, -1)  # anchor_lo, anchor_hi (defaults when not passed)
    # the valid count (returned by both front doors) and the statistics carry no gradient
    ctx.mark_non_differentiable(*outputs[1:])
    ctx.save_for_backward(features, labels, preds, weights, outputs[2])
    ctx.args = (w, temperature, e, pushing, denominator_self, norm)
    ctx.window = window
    ctx.ref_kw = dict(w=w, temperature=temperature, e=e, pushing=pushing,
                      denominator_self=denominator_self, weight_final=weight_final, phantom=phantom,
                      reduction=reduction, norm=norm, variant=variant)
    ctx.backend = backend


def _grad_differentiable(grad_out, features, labels, preds, weights, ref_kw, window=(0, -1)):
    """``dL/dfeatures`` with a graph (double backward, ``create_graph=True``): the gradient of the
    dense reference (:func:`dirfast.reference.conr_loss_ref`, the same semantics, log-sum-exp
    stable) recomputed from the saved inputs under autograd, so it is differentiable in ``features``
    and ``grad_out``. Memory ``O(M²)`` (dense), once per double-backward call. An anchor
    ``window`` (``reduction="none"``): the row losses outside it are no terms (``torch.where``)."""
    from ..reference.conr import conr_loss_ref

    with torch.enable_grad():
        out = conr_loss_ref(features, labels, preds, weights, **ref_kw)
        win = _anchors(features, *window)
        if win is not None:
            idx = torch.arange(out.shape[0], device=out.device)
            out = torch.where((idx >= win[0]) & (idx < win[1]), out, 0.0)
        grad, = torch.autograd.grad(out, features, grad_out, create_graph=True)
    return grad


def _grads(ctx, grad_outputs, bwd, eager):
    # labels/preds enter only masks; weights are treated as constants (documented)
    grad_out = grad_outputs[0]
    features, labels, preds, weights, stats = ctx.saved_tensors
    if grad_out is None or not ctx.needs_input_grad[0]:
        return ()
    if torch.is_grad_enabled():
        # backward with create_graph=True: the streaming/kernel backward builds no graph, so the
        # returned gradient would silently be a constant; take the differentiable route instead
        return (_grad_differentiable(grad_out, features, labels, preds, weights, ctx.ref_kw,
                                      ctx.window),)
    args = (grad_out, features, labels, preds, weights, stats, *ctx.args, ctx.backend, *ctx.window)
    dev = features.device.type
    if torch.amp.is_autocast_available(dev) and torch.is_autocast_enabled(dev):
        # a backward run inside an autocast region: the recomputed similarities stay in the
        # features' dtype (the forward ran with autocast off too)
        with torch.autocast(dev, enabled=False):
            return (bwd(*args),)
    return (bwd(*args),)


conr_op, conr_bwd, ConRFunction = register_op(
    "conr", _conr, _conr_fake, save=_save, grads=_grads, bwd=_conr_bwd, bwd_fake=_conr_bwd_fake,
    n_tensors=4, eager_outputs=2,
    doc="""Eager twin of ``dirfast::conr`` (:func:`dirfast.ops._factory.register_op`):
    ``apply(features, labels, preds, weights, (w, temperature, e, pushing, denominator_self,
    weight_final, phantom, reduction, norm, variant, backend))``; returns ``(loss,
    num_valid_anchors)``.""")
