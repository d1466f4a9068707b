"""Triton kernels of ConR, flash-attention style (docs/conr_ranksim_bmse.md §1.10): nothing ``M×M`` is
stored, per-row statistics are O(M).

A forward + backward is **four to six launches** and no other device work: three or four of
``_conr_fwd_kernel`` (stages: row prologue, main pass, [merge,] finish), one of ``_conr_bwd_kernel``
and, when the backward is split, one of ``_conr_bwd_reduce_kernel`` (with leading anchors, below:
one more ``_conr_bwd_kernel`` launch, its ``COL_ONLY`` twin, and a split scratch zeroed first). Every O(M) row statistic is
computed in a kernel and saved in one flat buffer (``N_STATS·M + 1``, rows listed at ``S_LOGD``):
the backward recomputes no prologue.

**Column split** (flash-decoding; :func:`conr_split`, the one policy the launchers, the tests and
the report use). ``⌈M/BLOCK_M⌉`` row-block programs cannot fill a GPU at small M (8–32 programs at
M = 512 on 132 SMs), so the two O(M²) launches run one program per (row block, column chunk):
program ``rb·SPLIT + c`` takes the column tiles ``⌊c·nt/SPLIT⌋ … ⌊(c+1)·nt/SPLIT⌋ − 1`` of
``nt = ⌈M/BLOCK_N⌉`` (balanced runs, chunk boundaries on tile boundaries). SPLIT is the least
split giving ``⌈M/BLOCK_M⌉·SPLIT ≥ TARGET_PROGRAMS`` (264: two waves of 132 SMs), bounded so that
each chunk keeps ≥ ``MIN_CHUNK_TILES`` (2) column tiles and, for the backward, so that its scratch
stays within ``max(8·M·D, 128 MiB / element size)`` elements; where the default tiles still cannot
reach the target and D is streamed, 16 × 16 small-M tiles (``FWD_SMALL``/``BWD_SMALL``) are planned
the same way and the plan with more programs is taken. Below ``M·D = SPLIT_MIN_MD`` (32768) nothing
is split (latency-bound launches). SPLIT = 1 is the fused path (no extra launch, no scratch). SPLIT
is a run-time argument (``nsplit``, not specialised): one compiled variant serves both paths.

* forward, SPLIT > 1: the main pass writes each chunk's mergeable row statistics (running max,
  sum of exp(A − max), Σ P·s, |P|, |N|) into a scratch ``rs [5, SPLIT, M]`` (fp32; fp64 for fp64)
  instead of running the row epilogue; a **merge stage** (``STAGE = 3``, grid
  ``⌈M/MERGE_BLOCK⌉``) merges the chunks in the fixed order c = 0, 1, … (deterministic, no atomics)
  — ``(max, sum)`` pairs as flash-decoding's, sums and counts added — and runs the row epilogue and
  the per-program partials; the finish then reads the merge's partials.
* backward, SPLIT > 1: each (row block, chunk) program accumulates its partial ``dU_I`` over the
  chunk's columns into ``du[c]`` of a scratch ``[SPLIT, M, D]`` (fp32; fp64 for fp64); fp16 keeps
  ``H`` in units of a running per-row power of two per chunk (below) and stores the chunk's row
  scales in ``hs [SPLIT, M]`` (fp32), so partials of different scales are never added in fp16.
  ``_conr_bwd_reduce_kernel`` (grid ``⌈M/4⌉``) sums ``du[c]·hs[c]`` over c in a fixed order in
  fp32/fp64, scales by ``1/τ`` and runs the row-local epilogue (backward through the L2
  normalisation).

**Leading anchors** (``anchors=na``, ConR across ranks: ``conr_loss(gather=True)`` puts the rank's
rows first): only the rows ``[0, na)`` are anchors. The row prologue writes inactive statistics and
a zero row loss for the rows ``≥ na``; the main pass and the merge run the anchors' ``⌈na/BLOCK_M⌉``
row blocks (``2·na·M·D`` FLOPs). The backward (the gradient of the anchors' loss with respect to
every row: the inactive statistics make the other rows' ``G`` terms vanish) runs the anchors'
``⌈na/BLOCK_M⌉`` row blocks against every column, then the other row blocks against the anchors'
columns only (``H_ij = G_ij + G_ji`` vanishes unless ``i`` or ``j`` is an anchor) in a second launch
of the config's ``COL_ONLY`` twin (constexpr: row-block offset ``rb0``, column bound ``ncols = na``,
only the column side ``G_ji``): ``4·(⌈na⌉·M + (M − ⌈na⌉)·⌈na⌉)·D`` FLOPs (``⌈na⌉`` rounded up to
the tile), a split scratch zeroed first (a chunk of the second launch may get no column tile). The
twins are registered and AOT-compiled for every backward config but the 12 whose twin spills
(``COL_SPILLS``; those run every row block against every column, ``4·M²·D``). The offset and the
bound are constexpr-guarded because as plain run-time arguments of the one variant they spilled 14
register-limited configs; the window starts at row 0 because an unaligned start lost the compiler's
alignment facts and spilled 30 forward configs.

Memory: ``O(M·D)`` — features, ``dz``, the statistics ``(6M + 1)``; fp16/bf16 without a split an
fp32 ``dU [M, D]``; with a split the forward's ``5·SPLIT·M`` and the backward's ``SPLIT·M·D``
(+ ``SPLIT·M`` fp16 scales) scratch elements, the latter ≤ ``max(8·M·D, 128 MiB / element
size)``.

The similarity kernels read the *raw* features ``z [M, D]`` (input dtype) and the inverse row norms
and form ``s_ij = (z_i·z_j)·inv_i·inv_j/τ`` — the dot on tensor cores for fp16/bf16
(fp32 accumulate), exact FMA dots for fp32 (``input_precision="ieee"``, the default; ``"tf32"`` and
``"tf32x3"`` are opt-ins with their own configs) and fp64 (fp64 accumulate, fp64 row statistics), so
the forward never rounds the normalised features to a low precision. Labels/predictions are ``[M]``
or ``[M, dl]`` (contiguous, fp32; fp64 for fp64 features); masks are built per tile: ``P = Δy ≤ w``
(the diagonal excluded unless ``keep_self``), ``N = Δy > w and Δŷ ≤ w``, with ``Δy = |y_i − y_j|``
for 1-D labels (the ``MULTI = False`` fast path, unchanged) and, for ``[M, dl]`` labels
(``MULTI``, run-time ``dl`` and 0/1 flag ``l2``), ``Σ_k |Δy_k|`` (``"l1"``) or
``sqrt(Σ_k Δy_k²)`` (``"l2"``, correctly rounded) from a loop over the components per tile
(``_label_dist``: ``2·dl`` label loads per tile instead of 2). Columns ``j ≥ M`` are masked out of every term;
every offset is int64. The scalars ``w``, ``1/τ`` and ``e`` are passed by value: fp32 floats, or for
fp64 features the int64 IEEE-754 bit patterns of the doubles (``dirfast.kernels._launch.fp64_bits``,
rebuilt exactly in the kernel: Triton's JIT types a Python float as fp32, which made the fp64 path
round them to fp32); they, ``keep_self`` and the run-time ``flags`` (weights given, phantom terms,
official row loss, ``a_i`` on the row loss, reduction) are not specialised on their values: one
compiled variant serves every variant and reduction. Each launch runs on the features' CUDA device
(``device_guard``).

* ``_conr_fwd_kernel``, ``STAGE = 0`` (row prologue, grid: row blocks): ``‖z_i‖`` (correctly rounded
  sqrt), ``1/max(‖z_i‖, 1e-12)``, ``log a_i`` (0 without weights) into the statistics.
* ``STAGE = 1`` (main pass, grid: row blocks × SPLIT): one program owns an anchor tile of ``BLOCK_M``
  rows (and one column chunk),
  held across every column tile when D fits (``ONE_CHUNK``, ``FWD_HELD``: D ≤ 256 for fp16/bf16, 128
  for TF32, 64 for IEEE fp32/fp64); wider anchors are re-read in ``BLOCK_D`` chunks per column tile
  (from L1/L2: at D = 2048 a held tile would be 256–512 KB, beyond registers and the 99 KB of shared
  memory); column tiles of ``BLOCK_N`` rows are streamed. Per row it forms the log-sum-exp
  ``L_i = log Σ_j exp(A_ij)`` (``A = s`` on positives, ``s + log S_ij`` on negatives:
  ``log S = log a_i + e·Δy`` (``PUSH_EXP``) or ``log a_i + log(e·Δy)``; ``−inf`` elsewhere), computed
  online as flash-attention's softmax: a running max ``m_i`` of the row's *included* logits and a sum
  ``l_i`` of ``exp(A_ij − m_i)`` rescaled by ``exp(m_old − m_new)`` when the max grows, so the largest
  term is exp(0) and nothing over- or underflows at any τ (``s`` spans ±1/τ) or label scale;
  ``L_i = m_i + log l_i`` (``−inf`` for a row without any term); with ``Σ_j P_ij s_ij``, ``|P_i|``,
  ``|N_i|``. The row statistics are mergeable — ``(m_i, l_i)`` pairs from several column ranges
  combine as flash-decoding's, the sums and counts add — and ``_row_epilogue`` turns the merged ones
  into the row loss and the saved ``log D`` (phantom terms by a stable ``logaddexp``), ``1/|P|`` and
  ``g``; each program writes its partial ``(Σ ℓ, #valid)`` (row losses directly for
  ``reduction="none"``).
* ``STAGE = 2`` (finish, one program): the partials summed in a fixed order (deterministic, no
  atomics), the loss in the features' dtype, the number of valid anchors (int64) and the reduction's
  scale (``1/M``, 1, ``1/max(#valid, 1)``) for the backward.
* ``_conr_bwd_kernel`` (grid: row blocks × SPLIT): per column tile (of its chunk) it recomputes
  ``s`` over the whole D once, forms from the saved row statistics of **both** sides (``log D``,
  ``1/|P|``, ``g`` times the scale and the incoming gradient, read in the kernel: a 0-d or ``[M]``
  ``grad_out``) the symmetric ``H_ij = G_ij + G_ji`` with ``G_ij = g_i·[(P_ij + N_ij S_ij)
  e^{s_ij}/D_i − P_ij/|P_i|]`` in the ``[I, J]`` tile, then ``dU_I += H·u_J`` (``u_J = z_J·inv_J``
  in the input dtype; anchor tile held when ``D ≤`` 128 for fp16/bf16, 64 for TF32, 32 for IEEE
  fp32/fp64): in registers when ``D ≤ BLOCK_DO`` (``ONE_OUT``), else chunk by chunk of ``BLOCK_DO``
  columns into the program's own rows of the output (read-modify-write, the first column tile writes
  without reading, a ``debug_barrier`` between column tiles). Each program owns its output rows
  (with a split: its rows of its chunk's partial): deterministic, no atomics. fp16: ``H`` is kept in
  units of a running per-row power of two ≥ ``max_j |H_ij|`` (the accumulated ``dU`` rescaled
  exactly when it grows) before the cast, so no entry overflows or underflows to a subnormal
  whatever the gradient's scale (bf16 has fp32's exponent range). Epilogue, row-local: ``dU/τ`` and
  the backward through the L2 normalisation, ``dz = (dU − u·⟨u, dU⟩)·inv`` (``dU·inv`` where ``‖z‖ ≤
  1e-12``), written in the features' dtype (fp32/fp64 features: ``dU`` accumulates in the output
  itself; fp16/bf16: in an fp32 scratch).

FLOPs per call: forward ``2·M²·D``, backward ``4·M²·D`` (recomputed similarity + gradient), i.e.
``6·M²·D`` against the ``4·M²·D`` a dense method storing ``S`` needs; the split adds none (every
tile pair is still computed once) — :func:`conr_flops`. Bytes (b = bytes per feature element):
forward reads ``z`` once per (row tile, column tile) pair from L2 — ``M²·D·b·(1/BLOCK_M +
1/BLOCK_N)`` — and ``M·D·b`` from DRAM at least; the backward adds, for ``D > BLOCK_DO``, the
read-modify-write of ``dU_I`` (fp32) per column tile: ``8·M²·D/BLOCK_N`` bytes, mostly L2 hits while
``BLOCK_M·D·4`` bytes per resident program fit; its epilogue reads ``dU`` twice and ``z`` twice more
(``O(M·D)``, row-local). The split adds: forward ``5·SPLIT·M`` elements written and read once (the
merge); backward ``SPLIT·M·D`` elements written (the partials) and read once by the reduce, plus
``M·D`` written back and re-read by its two-pass epilogue.
"""

from __future__ import annotations

import dataclasses
from typing import List, NamedTuple, Optional, Tuple

import torch
import triton
import triton.language as tl

from ._launch import device_guard, fp64_bits
from ._device import div_rn as _div, f64 as _f64, sqrt_rn as _sqrt
from ._registry import TRITON_DTYPE, KernelConfig, pick, register
from .conr_table import ConrTiles, arch_family, conr_tiles, table_configs, table_key

NUM_WARPS = 8
NUM_STAGES = 1
#: Tiles per (input dtype, fp32 input precision), 8 warps, 1 stage: the widest found without spills on
#: sm_80 and sm_90 by sweeping ``BLOCK_* ∈ {16, …, 256}`` × 4/8 warps (the mask/exponent tile math is
#: register heavy; fp32 "ieee" dots run on FMA units and need the smallest tiles).
#: ``*_HELD``: the anchor tile is held across all column tiles — ``(BLOCK_M, BLOCK_N, BLOCK_D)`` forward,
#: ``(BLOCK_M, BLOCK_N, BLOCK_D, BLOCK_DO)`` backward with ``BLOCK_D = BLOCK_DO`` — used when
#: ``D ≤ BLOCK_D``; the others stream D in chunks. The fused prologue/epilogue work (row epilogue
#: of the forward, the backward through the L2 normalisation) tipped the register-limited held
#: tiles into spills: fp32 IEEE/TF32 forward ``BLOCK_N`` 32 → 16, TF32 backward 32×16 → 16×32,
#: fp16/bf16 backward 32×16 → 16×32 (same tile area; re-swept for zero spills on sm_80/sm_90). The
#: column split (its chunk bounds and partial stores) tipped two more: streamed TF32 backward
#: ``BLOCK_DO`` 64 → 32, held TF32x3 backward 32×16 → 16×32 (re-checked: no spills).
FWD_HELD = {
    ("float16", "ieee"): (64, 32, 256),
    ("bfloat16", "ieee"): (64, 32, 256),
    ("float32", "ieee"): (32, 16, 64),
    ("float32", "tf32"): (64, 16, 128),
    ("float32", "tf32x3"): (64, 16, 64),
    ("float64", "ieee"): (16, 32, 64),
}
FWD_TILES = {
    ("float16", "ieee"): (64, 32, 32),
    ("bfloat16", "ieee"): (64, 32, 32),
    ("float32", "ieee"): (64, 32, 32),
    ("float32", "tf32"): (64, 32, 32),
    ("float32", "tf32x3"): (64, 16, 32),
    ("float64", "ieee"): (32, 32, 16),
}
BWD_HELD = {
    ("float16", "ieee"): (16, 32, 128, 128),
    ("bfloat16", "ieee"): (16, 32, 128, 128),
    ("float32", "ieee"): (32, 16, 32, 32),
    ("float32", "tf32"): (16, 32, 64, 64),
    ("float32", "tf32x3"): (16, 32, 32, 32),
    ("float64", "ieee"): (16, 16, 32, 32),
}
BWD_TILES = {
    ("float16", "ieee"): (32, 32, 32, 32),
    ("bfloat16", "ieee"): (32, 32, 32, 32),
    ("float32", "ieee"): (32, 16, 16, 32),
    ("float32", "tf32"): (64, 16, 32, 32),
    ("float32", "tf32x3"): (64, 16, 32, 32),
    ("float64", "ieee"): (32, 16, 16, 32),
}


@triton.jit
def _dot(a, b, acc, PRECISION: tl.constexpr):
    """Device helper: ``acc + a·b`` with fp32 accumulation; ``PRECISION`` is ``"default"`` for
    fp16/bf16 operands (tensor cores) or the fp32/fp64 ``input_precision`` (``"ieee"`` by default,
    ``"tf32"``/``"tf32x3"`` on request)."""
    if PRECISION == "default":
        return tl.dot(a, b, acc)
    elif a.dtype == tl.float64:
        return tl.dot(a, b, acc, input_precision=PRECISION, out_dtype=tl.float64)
    else:
        return tl.dot(a, b, acc, input_precision=PRECISION)


@triton.jit
def _sim_tile(z_ptr, a_tile, rows, row_in, cols, col_in, d, stride_z, dk, ONE_CHUNK: tl.constexpr,
              PRECISION: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
              BLOCK_D: tl.constexpr):
    """Device helper: raw dot products ``z_rows · z_colsᵀ`` [BLOCK_M, BLOCK_N] (fp32; fp64 for fp64
    inputs). ``ONE_CHUNK`` (``D ≤ BLOCK_D``): the anchor tile ``a_tile`` is held by the caller across
    every column tile; else both sides are read in ``BLOCK_D`` chunks (masked)."""
    if z_ptr.dtype.element_ty == tl.float64:
        acc = tl.zeros([BLOCK_M, BLOCK_N], dtype=tl.float64)
    else:
        acc = tl.zeros([BLOCK_M, BLOCK_N], dtype=tl.float32)
    if ONE_CHUNK:
        b_c = tl.load(z_ptr + cols[:, None] * stride_z + dk[None, :],
                      mask=col_in[:, None] & (dk < d)[None, :], other=0.0)
        acc = _dot(a_tile, tl.trans(b_c), acc, PRECISION)
    else:
        d0 = d * 0
        while d0 < d:
            dd = d0 + dk
            d_in = dd < d
            a_c = tl.load(z_ptr + rows[:, None] * stride_z + dd[None, :],
                          mask=row_in[:, None] & d_in[None, :], other=0.0)
            b_c = tl.load(z_ptr + cols[:, None] * stride_z + dd[None, :],
                          mask=col_in[:, None] & d_in[None, :], other=0.0)
            acc = _dot(a_c, tl.trans(b_c), acc, PRECISION)
            d0 += BLOCK_D
    return acc


#: by-value scalars (fp32 floats, or fp64 bit patterns) and the 0/1 flag: never specialised on their
#: values (no new variant per value; ``keep_self = 1`` stays the registered i32, not a constexpr)
_SCALARS = ["w", "inv_tau", "e", "keep_self"]
#: ... and the run-time integers that select behaviour inside one compiled variant
_FWD_NOSPEC = _SCALARS + ["flags", "nparts", "nsplit", "dl", "l2", "na"]
_BWD_NOSPEC = _SCALARS + ["go_stride", "nsplit", "dl", "l2", "rb0", "ncols"]

#: ``flags`` of the forward kernel (run-time bits: one compiled variant serves every variant and
#: reduction): weights given, phantom terms, official row loss, ``a_i`` on the row loss; the
#: reduction code in bits 4-5
F_HAS_W, F_PHANTOM, F_OFFICIAL, F_WFINAL = 1, 2, 4, 8
RED_SHIFT = 4
RED_CODES = {"mean": 0, "sum": 1, "none": 2, "valid_anchors": 3}
#: saved statistics: one flat ``[N_STATS·M + 1]`` buffer (fp32; fp64 for fp64 features), row ``k`` at
#: ``k·M``: ``log D`` (``+inf`` on inactive rows), ``1/|P|`` (0 inactive), ``g`` (the row factor
#: ``active·r_i`` before the reduction's scale), ``1/max(‖z‖, 1e-12)``, ``‖z‖``, ``log a_i`` (0
#: without weights); then the reduction's scale (``1/M``, ``1``, or ``1/max(#valid, 1)``).
S_LOGD, S_Q, S_G, S_INV, S_NORM, S_LOGA = range(6)
N_STATS = 6
#: stages of ``_conr_fwd_kernel``
STAGE_ROWS, STAGE_MAIN, STAGE_FINISH, STAGE_MERGE = 0, 1, 2, 3


@triton.jit
def _tile_logits(acc, inv_i, inv_j, dy, dyh, li, lj, i0, j0, row_in, col_in,
                 w, inv_tau, e, keep_self, PUSH_EXP: tl.constexpr):
    """Device helper: similarities ``s``, the positive/negative masks and the unweighted logits
    ``a`` (``s`` on positives, the pushing term on negatives, −inf elsewhere) of one tile."""
    s = acc * inv_i[:, None] * inv_j[None, :] * inv_tau
    both = row_in[:, None] & col_in[None, :]
    # diagonal test on int32 tile-local offsets (row ids never reach 2**31)
    not_self = (li[:, None] - lj[None, :] != (j0 - i0).to(tl.int32)) | (keep_self != 0)
    pos = (dy <= w) & both & not_self
    neg = (dy > w) & (dyh <= w) & both
    if PUSH_EXP:
        push = dy * e + s
    else:
        push = tl.log(dy * e) + s
    a = tl.where(pos, s, tl.where(neg, push, float("-inf")))
    return s, a, pos, neg, both


@triton.jit
def _label_dist(y_ptr, y_i, rows, row_in, cols, col_in, dl, l2, MULTI: tl.constexpr,
                BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """Device helper: the label distances ``Δy`` of one tile ``[BLOCK_M, BLOCK_N]``. 1-D labels
    (``MULTI`` false, the fast path): ``|y_i − y_j|`` from the caller's ``y_i`` and the loaded
    ``y_j``. ``[M, dl]`` labels (``MULTI``; ``y`` contiguous, row ``i`` at ``i·dl``): a loop over the
    ``dl`` components, ``Σ_k |y_ik − y_jk|`` (``l2 == 0``: the "l1" norm) or
    ``sqrt(Σ_k (y_ik − y_jk)²)`` (``l2 != 0``, correctly rounded), the reference's ``_dist``."""
    if MULTI:
        acc = tl.zeros([BLOCK_M, BLOCK_N], dtype=y_ptr.dtype.element_ty)
        k = dl * 0
        while k < dl:
            a = tl.load(y_ptr + rows * dl + k, mask=row_in, other=0.0)
            b = tl.load(y_ptr + cols * dl + k, mask=col_in, other=0.0)
            diff = a[:, None] - b[None, :]
            acc += tl.where(l2 != 0, diff * diff, tl.abs(diff))
            k += 1
        return tl.where(l2 != 0, _sqrt(acc), acc)
    else:
        y_j = tl.load(y_ptr + cols, mask=col_in, other=0.0)
        return tl.abs(y_i[:, None] - y_j[None, :])


@triton.jit
def _row_epilogue(run_max, run_sum, sps, npos, nneg, loga_i, m, flags):
    """Device helper: the O(M) row epilogue of the forward from a row's merged statistics — the
    online log-sum-exp pair ``(run_max, run_sum)`` (the largest included logit and Σ exp(A − max);
    pairs from several column ranges merge as flash-decoding's), ``Σ P·s``, ``|P|``, ``|N|``.
    Returns the row loss ``ℓ_i·r_i``, ``valid_i`` (≥ 1 positive and ≥ 1 negative) and the saved
    statistics ``log D`` (``+inf`` inactive), ``1/|P|`` (0 inactive), ``g = active·r_i``; the same
    arithmetic as the streaming path's ``_fwd_epilogue``."""
    inf = float("inf")
    lse = tl.log(run_sum) + tl.where(tl.abs(run_max) < inf, run_max, 0.0)
    # phantom exp(0) terms: log D = logaddexp(lse, log(M − |P|)), stable for any lse (−inf included)
    lb = tl.log(m - npos)
    hi = tl.maximum(lse, lb, propagate_nan=tl.PropagateNan.ALL)
    lo = tl.minimum(lse, lb, propagate_nan=tl.PropagateNan.ALL)
    lae = tl.where(tl.abs(hi) < inf, hi + tl.log(1.0 + tl.exp(lo - hi)), hi)
    logd = tl.where((flags & 2) != 0, lae, lse)
    hasneg = nneg > 0
    valid = (npos > 0) & hasneg
    official = (flags & 4) != 0
    # official: 0/0 = NaN without a positive, as the official code; paper: exactly 0
    ell_off = (logd - _div(sps, npos)) * hasneg.to(sps.dtype)
    ell_pap = tl.where(valid, logd - _div(sps, tl.maximum(npos, 1.0)), 0.0)
    ell = tl.where(official, ell_off, ell_pap)
    active = tl.where(official, hasneg, valid)
    r = tl.where((flags & 8) != 0, tl.exp(loga_i), 1.0)
    ell = ell * r
    g = active.to(sps.dtype) * r
    logd_s = tl.where(active, logd, inf)
    q = tl.where(active, _div(npos * 0 + 1.0, npos), 0.0)
    return ell, valid, logd_s, q, g


@triton.jit
def _row_store(stats_ptr, out_ptr, part_ptr, pid, rows, row_in, ell, valid, logd_s, q, g, m, flags):
    """Device helper: the stores of a row block's :func:`_row_epilogue` results — the saved
    ``log D``, ``1/|P|``, ``g``; the row losses for ``reduction="none"``; the program's partials
    ``(Σ ℓ, #valid)`` at ``part[2·pid]``."""
    tl.store(stats_ptr + rows, logd_s, mask=row_in)
    tl.store(stats_ptr + m + rows, q, mask=row_in)
    tl.store(stats_ptr + 2 * m + rows, g, mask=row_in)
    # reduction "none": the row losses are the output
    tl.store(out_ptr + rows, ell.to(out_ptr.dtype.element_ty),
             mask=row_in & (((flags >> 4) & 3) == 2))
    tl.store(part_ptr + 2 * pid, tl.sum(tl.where(row_in, ell, 0.0), axis=0))
    tl.store(part_ptr + 2 * pid + 1, tl.sum((row_in & valid).to(ell.dtype), axis=0))


@triton.jit
def _chunk_cols(c, nsplit, m, BLOCK_N: tl.constexpr):
    """Device helper: the column range ``[jlo, jhi)`` of chunk ``c`` of ``nsplit`` over the first
    ``m`` columns: the ``nt = ⌈m/BLOCK_N⌉`` column tiles dealt out in balanced runs (chunk ``c`` gets
    tiles ``⌊c·nt/nsplit⌋ … ⌊(c+1)·nt/nsplit⌋ − 1``), so every chunk boundary is a tile boundary
    (a chunk is empty when ``nt < nsplit`` leaves it none)."""
    nt = (m + BLOCK_N - 1) // BLOCK_N
    jlo = (c * nt // nsplit) * BLOCK_N
    jhi = tl.minimum(((c + 1) * nt // nsplit) * BLOCK_N, m)
    return jlo, jhi


@triton.jit(do_not_specialize=_FWD_NOSPEC)
def _conr_fwd_kernel(
    z_ptr, y_ptr, yh_ptr, wt_ptr, stats_ptr, out_ptr, part_ptr, nv_ptr, rs_ptr,
    m, d, stride_z, nparts, nsplit, dl, l2, w, inv_tau, e, keep_self, flags, na,
    STAGE: tl.constexpr,
    MULTI: tl.constexpr,
    PUSH_EXP: tl.constexpr,
    ONE_CHUNK: tl.constexpr,
    PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    if z_ptr.dtype.element_ty == tl.float64:  # fp64: the scalars arrive as bit patterns
        w = _f64(w)
        inv_tau = _f64(inv_tau)
        e = _f64(e)
    if STAGE == 0:
        # row prologue (grid: row blocks): ‖z_i‖, 1/max(‖z_i‖, 1e-12), log a_i into the statistics
        pid = tl.program_id(0).to(tl.int64)
        rows = pid * BLOCK_M + tl.arange(0, BLOCK_M).to(tl.int64)
        row_in = rows < m
        dk = tl.arange(0, BLOCK_D).to(tl.int64)
        ss = tl.zeros([BLOCK_M, BLOCK_D], dtype=stats_ptr.dtype.element_ty)
        d0 = d * 0
        while d0 < d:
            dd = d0 + dk
            x = tl.load(z_ptr + rows[:, None] * stride_z + dd[None, :],
                        mask=row_in[:, None] & (dd < d)[None, :], other=0.0)
            x = x.to(stats_ptr.dtype.element_ty)
            ss += x * x
            d0 += BLOCK_D
        # correctly rounded sqrt and reciprocal (fp32 `/` and tl.sqrt are approximate on the GPU)
        if z_ptr.dtype.element_ty == tl.float64:
            nrm = tl.sqrt(tl.sum(ss, axis=1))
            # the clamp as an exact double: a float literal is an fp32 constant in Triton
            # (1e-12 → 9.99999996e-13, a 4e-9 error in 1/‖z‖ of near-zero rows)
            inv = 1.0 / tl.maximum(nrm, tl.full([BLOCK_M], 1e-12, tl.float64))
        else:
            nrm = tl.sqrt_rn(tl.sum(ss, axis=1))
            inv = tl.div_rn(tl.full([BLOCK_M], 1.0, nrm.dtype), tl.maximum(nrm, 1e-12))
        # log a_i (−inf for a zero weight); 0 without weights
        wt = tl.load(wt_ptr + rows, mask=row_in & ((flags & 1) != 0), other=1.0)
        tl.store(stats_ptr + 3 * m + rows, inv, mask=row_in)
        tl.store(stats_ptr + 4 * m + rows, nrm, mask=row_in)
        tl.store(stats_ptr + 5 * m + rows, tl.log(wt), mask=row_in)
        # rows past the anchors (rows ≥ na: ConR across ranks) are no anchors: inactive
        # statistics (log D = +inf, 1/|P| = 0, g = 0: their backward terms vanish) and a zero row
        # loss ("none"); the main pass writes the anchors' rows
        off = row_in & (rows >= na)
        zero = tl.zeros_like(inv)
        tl.store(stats_ptr + rows, zero + float("inf"), mask=off)
        tl.store(stats_ptr + m + rows, zero, mask=off)
        tl.store(stats_ptr + 2 * m + rows, zero, mask=off)
        tl.store(out_ptr + rows, zero.to(out_ptr.dtype.element_ty),
                 mask=off & (((flags >> 4) & 3) == 2))
    elif STAGE == 1:
        # main pass (grid: row blocks × nsplit column chunks, program = rb·nsplit + c): the online
        # log-sum-exp over the column tiles of chunk c; nsplit == 1: then the row epilogue and the
        # per-program partials (Σ ℓ, #valid) for the finish; else the chunk's row statistics into
        # the scratch ``rs`` for the merge stage
        pid = tl.program_id(0).to(tl.int64)
        rb = pid // nsplit
        c = pid % nsplit
        i0 = rb * BLOCK_M
        li = tl.arange(0, BLOCK_M)
        lj = tl.arange(0, BLOCK_N)
        rows = i0 + li.to(tl.int64)
        row_in = rows < na  # the anchors: rows [0, na) (na = M but across ranks)
        dk = tl.arange(0, BLOCK_D).to(tl.int64)
        inv_i = tl.load(stats_ptr + 3 * m + rows, mask=row_in, other=0.0)
        loga_i = tl.load(stats_ptr + 5 * m + rows, mask=row_in, other=0.0)
        if MULTI:
            y_i = 0.0  # unused: _label_dist loads the [M, dl] components per tile
            yh_i = 0.0
        else:
            y_i = tl.load(y_ptr + rows, mask=row_in, other=0.0)
            yh_i = tl.load(yh_ptr + rows, mask=row_in, other=0.0)
        # the anchor tile, held across every column tile when D fits one chunk
        if ONE_CHUNK:
            a_tile = tl.load(z_ptr + rows[:, None] * stride_z + dk[None, :],
                             mask=row_in[:, None] & (dk < d)[None, :], other=0.0)
        else:
            a_tile = 0.0  # unused: _sim_tile re-reads the anchor rows per D chunk
        # online log-sum-exp: running max of the included logits and the sum of exp(A - max)
        run_max = tl.full([BLOCK_M], float("-inf"), dtype=inv_i.dtype)
        run_sum = tl.zeros([BLOCK_M], dtype=inv_i.dtype)
        sps = tl.zeros([BLOCK_M], dtype=inv_i.dtype)
        npos = tl.zeros([BLOCK_M], dtype=inv_i.dtype)
        nneg = tl.zeros([BLOCK_M], dtype=inv_i.dtype)
        jlo, jhi = _chunk_cols(c, nsplit, m, BLOCK_N)
        # while loops: the interpreter (numpy >= 2.4) cannot iterate range() over a runtime scalar
        j0 = jlo
        while j0 < jhi:
            cols = j0 + lj.to(tl.int64)
            col_in = cols < m
            acc = _sim_tile(z_ptr, a_tile, rows, row_in, cols, col_in, d, stride_z, dk, ONE_CHUNK,
                            PRECISION, BLOCK_M, BLOCK_N, BLOCK_D)
            inv_j = tl.load(stats_ptr + 3 * m + cols, mask=col_in, other=0.0)
            dy = _label_dist(y_ptr, y_i, rows, row_in, cols, col_in, dl, l2, MULTI, BLOCK_M,
                             BLOCK_N)
            dyh = _label_dist(yh_ptr, yh_i, rows, row_in, cols, col_in, dl, l2, MULTI, BLOCK_M,
                              BLOCK_N)
            s, a, pos, neg, both = _tile_logits(acc, inv_i, inv_j, dy, dyh, li, lj, i0, j0, row_in,
                                                col_in, w, inv_tau, e, keep_self, PUSH_EXP)
            a = a + tl.where(neg, loga_i[:, None], 0.0)  # pushing weight a_i on negatives
            new_max = tl.maximum(run_max, tl.max(a, axis=1))
            # a row with no term so far keeps max -inf: shift by 0 there (never exp(-inf - -inf)); an
            # infinite logit (infinite label) gives +inf, as torch.logsumexp
            shift = tl.where(tl.abs(new_max) < float("inf"), new_max, 0.0)
            run_sum = run_sum * tl.exp(run_max - shift) + tl.sum(tl.exp(a - shift[:, None]), axis=1)
            run_max = new_max
            sps += tl.sum(tl.where(pos, s, 0.0), axis=1)
            npos += tl.sum(pos.to(inv_i.dtype), axis=1)
            nneg += tl.sum(neg.to(inv_i.dtype), axis=1)
            j0 += BLOCK_N
        if nsplit == 1:
            ell, valid, logd_s, q, g = _row_epilogue(run_max, run_sum, sps, npos, nneg, loga_i, m,
                                                     flags)
            _row_store(stats_ptr, out_ptr, part_ptr, pid, rows, row_in, ell, valid, logd_s, q, g, m,
                       flags)
        else:
            # the chunk's mergeable statistics: rs[k·nsplit + c, row], k = max, sum, Σ P s, |P|, |N|
            rs = rs_ptr + c * m + rows
            tl.store(rs, run_max, mask=row_in)
            tl.store(rs + nsplit * m, run_sum, mask=row_in)
            tl.store(rs + 2 * nsplit * m, sps, mask=row_in)
            tl.store(rs + 3 * nsplit * m, npos, mask=row_in)
            tl.store(rs + 4 * nsplit * m, nneg, mask=row_in)
    elif STAGE == 3:
        # merge (grid: row blocks of the merge tile; only when nsplit > 1): the chunks' statistics
        # merged in the fixed order c = 0, 1, … (deterministic, no atomics) as the main pass merges
        # tiles — (max, sum) pairs as flash-decoding's, the sums and counts added — then the row
        # epilogue and the per-program partials, as the fused main pass does
        pid = tl.program_id(0).to(tl.int64)
        rows = pid * BLOCK_M + tl.arange(0, BLOCK_M).to(tl.int64)
        row_in = rows < na
        loga_i = tl.load(stats_ptr + 5 * m + rows, mask=row_in, other=0.0)
        run_max = tl.full([BLOCK_M], float("-inf"), dtype=loga_i.dtype)
        run_sum = tl.zeros([BLOCK_M], dtype=loga_i.dtype)
        sps = tl.zeros([BLOCK_M], dtype=loga_i.dtype)
        npos = tl.zeros([BLOCK_M], dtype=loga_i.dtype)
        nneg = tl.zeros([BLOCK_M], dtype=loga_i.dtype)
        c = nsplit * 0
        while c < nsplit:
            rs = rs_ptr + c * m + rows
            mx = tl.load(rs, mask=row_in, other=float("-inf"))
            new_max = tl.maximum(run_max, mx)
            shift = tl.where(tl.abs(new_max) < float("inf"), new_max, 0.0)
            # a chunk's sum is relative to its own max (exp(−inf) = 0 for a chunk without terms)
            run_sum = run_sum * tl.exp(run_max - shift) + \
                tl.load(rs + nsplit * m, mask=row_in, other=0.0) * tl.exp(mx - shift)
            run_max = new_max
            sps += tl.load(rs + 2 * nsplit * m, mask=row_in, other=0.0)
            npos += tl.load(rs + 3 * nsplit * m, mask=row_in, other=0.0)
            nneg += tl.load(rs + 4 * nsplit * m, mask=row_in, other=0.0)
            c += 1
        ell, valid, logd_s, q, g = _row_epilogue(run_max, run_sum, sps, npos, nneg, loga_i, m, flags)
        _row_store(stats_ptr, out_ptr, part_ptr, pid, rows, row_in, ell, valid, logd_s, q, g, m,
                   flags)
    else:
        # finish (one program): the programs' partials summed in a fixed order (deterministic),
        # the loss, the number of valid anchors (int64) and the reduction's scale for the backward
        offs = tl.arange(0, BLOCK_M).to(tl.int64)
        s_acc = tl.zeros([BLOCK_M], dtype=stats_ptr.dtype.element_ty)
        n_acc = tl.zeros([BLOCK_M], dtype=stats_ptr.dtype.element_ty)
        p0 = nparts * 0
        while p0 < nparts:
            p = p0 + offs
            p_in = p < nparts
            s_acc += tl.load(part_ptr + 2 * p, mask=p_in, other=0.0)
            n_acc += tl.load(part_ptr + 2 * p + 1, mask=p_in, other=0.0)
            p0 += BLOCK_M
        total = tl.sum(s_acc, axis=0)
        nvalid = tl.sum(n_acc, axis=0)
        red = (flags >> 4) & 3
        mf = tl.maximum(m, 1).to(stats_ptr.dtype.element_ty)
        one = nvalid * 0 + 1.0
        scale = tl.where(red == 0, _div(one, mf), tl.where(red == 3, _div(one, tl.maximum(nvalid, one)), one))
        tl.store(out_ptr, (total * scale).to(out_ptr.dtype.element_ty), mask=red != 2)
        tl.store(nv_ptr, nvalid.to(tl.int64))
        tl.store(stats_ptr + 6 * m, scale)


@triton.jit(do_not_specialize=_BWD_NOSPEC)
def _conr_bwd_kernel(
    z_ptr, y_ptr, yh_ptr, stats_ptr, go_ptr, du_ptr, dz_ptr, hs_ptr,
    m, d, stride_z, go_stride, nsplit, dl, l2, w, inv_tau, e, keep_self, rb0, ncols,
    PUSH_EXP: tl.constexpr,
    MULTI: tl.constexpr,
    COL_ONLY: tl.constexpr,
    ONE_CHUNK: tl.constexpr,
    ONE_OUT: tl.constexpr,
    PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_D: tl.constexpr,
    BLOCK_DO: tl.constexpr,
):
    if z_ptr.dtype.element_ty == tl.float64:  # fp64: the scalars arrive as bit patterns
        w = _f64(w)
        inv_tau = _f64(inv_tau)
        e = _f64(e)
    F16: tl.constexpr = z_ptr.dtype.element_ty == tl.float16
    # program = rb·nsplit + c: row block rb against the column tiles of chunk c; nsplit > 1: the
    # chunk's partial dU_I into du[c] (and, fp16, its row scales into hs[c]) for the reduce kernel.
    # COL_ONLY (ConR across ranks, the row blocks without an anchor): row block rb0 + rb against
    # the first ncols columns (the anchors) — only the column side G_ji of H is nonzero there
    pid = tl.program_id(0).to(tl.int64)
    c = pid % nsplit
    if COL_ONLY:
        i0 = (pid // nsplit + rb0) * BLOCK_M
    else:
        i0 = (pid // nsplit) * BLOCK_M
    li = tl.arange(0, BLOCK_M)
    lj = tl.arange(0, BLOCK_N)
    rows = i0 + li.to(tl.int64)
    row_in = rows < m
    dk = tl.arange(0, BLOCK_D).to(tl.int64)
    dko = tl.arange(0, BLOCK_DO).to(tl.int64)
    # the saved row statistics; g_i times the reduction's scale and the incoming gradient
    gs = tl.load(stats_ptr + 6 * m)
    logd_i = tl.load(stats_ptr + rows, mask=row_in, other=float("inf"))
    q_i = tl.load(stats_ptr + m + rows, mask=row_in, other=0.0)
    g_i = tl.load(stats_ptr + 2 * m + rows, mask=row_in, other=0.0) * gs * \
        tl.load(go_ptr + rows * go_stride, mask=row_in, other=0.0).to(gs.dtype)
    inv_i = tl.load(stats_ptr + 3 * m + rows, mask=row_in, other=0.0)
    loga_i = tl.load(stats_ptr + 5 * m + rows, mask=row_in, other=0.0)
    if MULTI:
        y_i = 0.0  # unused: _label_dist loads the [M, dl] components per tile
        yh_i = 0.0
    else:
        y_i = tl.load(y_ptr + rows, mask=row_in, other=0.0)
        yh_i = tl.load(yh_ptr + rows, mask=row_in, other=0.0)
    if ONE_CHUNK:
        a_tile = tl.load(z_ptr + rows[:, None] * stride_z + dk[None, :],
                         mask=row_in[:, None] & (dk < d)[None, :], other=0.0)
    else:
        a_tile = 0.0  # unused: _sim_tile re-reads the anchor rows per D chunk
    # ONE_OUT (D ≤ BLOCK_DO): dU_I is accumulated in registers; else in the program's own rows of
    # du (fp32/fp64), read-modify-written per D chunk (the first column tile writes without
    # reading: no zero-initialisation): the similarity tile and H are computed once per column
    # tile whatever D is.
    du = tl.zeros([BLOCK_M, BLOCK_DO], dtype=inv_i.dtype)
    hsc = tl.zeros([BLOCK_M], dtype=inv_i.dtype)  # fp16 only: H's running row scale
    du_ptr = du_ptr + c * m * d  # this chunk's partial (c = 0 without a split)
    if COL_ONLY:
        jlo, jhi = _chunk_cols(c, nsplit, ncols, BLOCK_N)
    else:
        jlo, jhi = _chunk_cols(c, nsplit, m, BLOCK_N)
    # while loops: the interpreter (numpy >= 2.4) cannot iterate range() over a runtime scalar
    j0 = jlo
    while j0 < jhi:
        cols = j0 + lj.to(tl.int64)
        col_in = cols < m
        acc = _sim_tile(z_ptr, a_tile, rows, row_in, cols, col_in, d, stride_z, dk, ONE_CHUNK,
                        PRECISION, BLOCK_M, BLOCK_N, BLOCK_D)
        logd_j = tl.load(stats_ptr + cols, mask=col_in, other=float("inf"))
        q_j = tl.load(stats_ptr + m + cols, mask=col_in, other=0.0)
        g_j = tl.load(stats_ptr + 2 * m + cols, mask=col_in, other=0.0) * gs * \
            tl.load(go_ptr + cols * go_stride, mask=col_in, other=0.0).to(gs.dtype)
        inv_j = tl.load(stats_ptr + 3 * m + cols, mask=col_in, other=0.0)
        loga_j = tl.load(stats_ptr + 5 * m + cols, mask=col_in, other=0.0)
        dy = _label_dist(y_ptr, y_i, rows, row_in, cols, col_in, dl, l2, MULTI, BLOCK_M, BLOCK_N)
        dyh = _label_dist(yh_ptr, yh_i, rows, row_in, cols, col_in, dl, l2, MULTI, BLOCK_M,
                          BLOCK_N)
        s, a, pos, neg, both = _tile_logits(acc, inv_i, inv_j, dy, dyh, li, lj, i0, j0, row_in,
                                            col_in, w, inv_tau, e, keep_self, PUSH_EXP)
        posf = pos.to(inv_i.dtype)
        # row side G_ij (anchor i) and column side G_ji (anchor j), as the CPU path
        ar = a - logd_i[:, None] + tl.where(neg, loga_i[:, None], 0.0)
        ac = a - logd_j[None, :] + tl.where(neg, loga_j[None, :], 0.0)
        if COL_ONLY:  # g_i = 0: no row side (its loads and math are dead code)
            h = (tl.exp(ac) - posf * q_j[None, :]) * g_j[None, :]
        else:
            h = (tl.exp(ar) - posf * q_i[:, None]) * g_i[:, None]
            h += (tl.exp(ac) - posf * q_j[None, :]) * g_j[None, :]
        h = tl.where(both, h, 0.0)
        if F16:
            # fp16 dot: H in units of a running per-row power of two ``hsc`` ≥ max|H_i·| (the
            # accumulated dU rescaled exactly when it grows), so no entry overflows or underflows
            # to a subnormal whatever the gradient's scale; the product scaled back at the end
            hmax = tl.max(tl.abs(h), axis=1)
            # the smallest power of two ≥ hmax, from its bits (exact; hmax ≥ 0)
            p2 = tl.cast((tl.cast(hmax, tl.int32, bitcast=True) + 0x007FFFFF) & 0x7F800000,
                         tl.float32, bitcast=True)
            grow = tl.where((hmax > hsc) & (hmax < float("inf")), p2, hsc)
            ratio = tl.where(grow > 0, hsc / grow, 1.0)
            hsc = grow
            h = h * tl.where(hsc > 0, 1.0 / hsc, 0.0)[:, None]
        h = h.to(z_ptr.dtype.element_ty)
        if ONE_OUT:
            zj = tl.load(z_ptr + cols[:, None] * stride_z + dko[None, :],
                         mask=col_in[:, None] & (dko < d)[None, :], other=0.0)
            uj = (zj.to(inv_j.dtype) * inv_j[:, None]).to(z_ptr.dtype.element_ty)
            if F16:
                du = du * ratio[:, None]
            du = _dot(h, uj, du, PRECISION)
        else:
            d0 = d * 0
            while d0 < d:
                do = d0 + dko
                do_in = do < d
                zj = tl.load(z_ptr + cols[:, None] * stride_z + do[None, :],
                             mask=col_in[:, None] & do_in[None, :], other=0.0)
                uj = (zj.to(inv_j.dtype) * inv_j[:, None]).to(z_ptr.dtype.element_ty)
                o_msk = row_in[:, None] & do_in[None, :]
                cur = tl.load(du_ptr + rows[:, None] * d + do[None, :], mask=o_msk & (j0 > jlo),
                              other=0.0)
                if F16:
                    cur = cur * ratio[:, None]
                cur = _dot(h, uj, cur, PRECISION)
                tl.store(du_ptr + rows[:, None] * d + do[None, :], cur, mask=o_msk)
                d0 += BLOCK_DO
            # the next column tile re-reads these rows, possibly from other threads of the program
            tl.debug_barrier()
        j0 += BLOCK_N
    if ONE_OUT:
        # through memory (L2) like the streamed path: the accumulator stays in the dot's layout
        # (mixing it with a z tile in the epilogue spilled the fp16 configs)
        tl.store(du_ptr + rows[:, None] * d + dko[None, :], du,
                 mask=row_in[:, None] & (dko < d)[None, :])
        tl.debug_barrier()
    # nsplit == 1: the epilogue — dU/τ (fp16: times the row scale), then the backward through the
    # L2 normalisation, row-local; nsplit > 1: masked off (a branch around it spilled the
    # register-limited streamed bf16 configs on sm_90), the reduce kernel runs it
    if F16:
        osc = (hsc * inv_tau)[:, None]
        # the partial is in units of its own row scales: hs[c] makes the chunks commensurable
        tl.store(hs_ptr + c * m + rows, hsc, mask=row_in & (nsplit > 1))
    else:
        osc = inv_tau
    _norm_bwd_rows(z_ptr, stats_ptr, du_ptr, hs_ptr, dz_ptr, rows, row_in & (nsplit == 1), m, d,
                   stride_z, nsplit, osc, False, False, 32)


@triton.jit
def _norm_bwd_rows(z_ptr, stats_ptr, du_ptr, hs_ptr, dz_ptr, rows, row_in, m, d, stride_z, nsplit,
                   osc, REDUCE: tl.constexpr, SCALED: tl.constexpr, EPI_D: tl.constexpr):
    """Device helper: the row-local epilogue of the backward for the rows ``rows``. ``dU`` =
    ``du[0, rows]·osc`` (``REDUCE`` false), or ``(Σ_c du[c, rows]·hs[c, rows])·osc`` summed over the
    ``nsplit`` chunks in the fixed order c = 0, 1, … (``REDUCE``; the row scales ``hs`` only when
    ``SCALED``, fp16), written back into ``du[0]``; then the backward through
    ``u = z / max(‖z‖, 1e-12)``: ``dz = (dU − u·⟨u, dU⟩)·inv`` (``dU·inv`` where ``‖z‖ ≤ 1e-12``),
    stored in ``dz``'s dtype. ``du [nsplit, M, D]`` fp32 (fp64 for fp64 features), ``hs
    [nsplit, M]``; ``dz`` may be ``du`` itself (fp32/fp64 features, no split). Narrow ``EPI_D``
    chunks: few registers next to what the main loop leaves live."""
    dke = tl.arange(0, EPI_D).to(tl.int64)
    # inverse norms re-read for the epilogue's layout (reusing the main loop's copy spilled the TF32
    # configs on sm_80)
    inv_e = tl.load(stats_ptr + 3 * m + rows, mask=row_in, other=0.0)
    proj = tl.zeros_like(inv_e)
    d0 = d * 0
    while d0 < d:
        do = d0 + dke
        o_msk = row_in[:, None] & (do < d)[None, :]
        cur = tl.load(du_ptr + rows[:, None] * d + do[None, :], mask=o_msk, other=0.0)
        if REDUCE:
            if SCALED:
                cur = cur * tl.load(hs_ptr + rows, mask=row_in, other=0.0)[:, None]
            c = nsplit * 0 + 1
            while c < nsplit:
                part = tl.load(du_ptr + c * m * d + rows[:, None] * d + do[None, :], mask=o_msk,
                               other=0.0)
                if SCALED:
                    part = part * tl.load(hs_ptr + c * m + rows, mask=row_in, other=0.0)[:, None]
                cur += part
                c += 1
            cur = cur * osc
            tl.store(du_ptr + rows[:, None] * d + do[None, :], cur, mask=o_msk)
        else:
            cur = cur * osc
        zi = tl.load(z_ptr + rows[:, None] * stride_z + do[None, :], mask=o_msk, other=0.0)
        proj += tl.sum(zi.to(inv_e.dtype) * inv_e[:, None] * cur, axis=1)
        d0 += EPI_D
    # dz may be du itself (fp32/fp64 features): every thread has read its du before any writes
    # (REDUCE: the summed dU written back is re-read by the same threads)
    tl.debug_barrier()
    nz_i = tl.load(stats_ptr + 4 * m + rows, mask=row_in, other=0.0) > \
        tl.full(inv_e.shape, 1e-12, inv_e.dtype)  # exact in fp64 (a literal is fp32)
    d0 = d * 0
    while d0 < d:
        do = d0 + dke
        o_msk = row_in[:, None] & (do < d)[None, :]
        cur = tl.load(du_ptr + rows[:, None] * d + do[None, :], mask=o_msk, other=0.0)
        if not REDUCE:
            cur = cur * osc
        zi = tl.load(z_ptr + rows[:, None] * stride_z + do[None, :], mask=o_msk, other=0.0)
        u_i = zi.to(inv_e.dtype) * inv_e[:, None]
        dz = tl.where(nz_i[:, None], cur - u_i * proj[:, None], cur) * inv_e[:, None]
        tl.store(dz_ptr + rows[:, None] * d + do[None, :], dz.to(dz_ptr.dtype.element_ty),
                 mask=o_msk)
        d0 += EPI_D


@triton.jit(do_not_specialize=["nsplit", "inv_tau"])
def _conr_bwd_reduce_kernel(z_ptr, stats_ptr, du_ptr, hs_ptr, dz_ptr, m, d, stride_z, nsplit,
                            inv_tau, BLOCK_M: tl.constexpr, BLOCK_D: tl.constexpr):
    """The backward's reduce (grid: ``⌈M/BLOCK_M⌉`` row blocks; launched only when the main
    backward ran split): ``dU = (Σ_c du[c]·hs[c])/τ`` over the column chunks in a fixed order, then
    the backward through the L2 normalisation (:func:`_norm_bwd_rows`)."""
    if z_ptr.dtype.element_ty == tl.float64:  # fp64: the scalar arrives as a bit pattern
        inv_tau = _f64(inv_tau)
    pid = tl.program_id(0).to(tl.int64)
    rows = pid * BLOCK_M + tl.arange(0, BLOCK_M).to(tl.int64)
    _norm_bwd_rows(z_ptr, stats_ptr, du_ptr, hs_ptr, dz_ptr, rows, rows < m, m, d, stride_z, nsplit,
                   inv_tau, True, z_ptr.dtype.element_ty == tl.float16, BLOCK_D)


def scalar_type(dtype: str) -> str:
    """Triton type of ``w``, ``inv_tau``, ``e`` for features of ``dtype``: fp32 floats, or the int64
    bit patterns of the doubles for fp64 (Triton's JIT types a Python float as fp32)."""
    return "i64" if dtype == "float64" else "fp32"


def _scalars(dt: str, w: float, temperature: float, e: float):
    """``(w, 1/τ, e)`` as the kernels take them (see :func:`scalar_type`)."""
    values = (float(w), 1.0 / float(temperature), float(e))
    return tuple(fp64_bits(v) for v in values) if dt == "float64" else values


def _sig(dtype: str, ptrs, ints, consts):
    """``ptrs``: (name, "z" | "acc" | "i64") — the features' dtype, the accumulation dtype (fp32;
    fp64 for fp64 features) or int64."""
    t = TRITON_DTYPE[dtype]
    vt = "fp64" if dtype == "float64" else "fp32"
    sig = {}
    for n, kind in ptrs:
        sig[n] = "*" + {"z": t, "acc": vt, "i64": "i64"}[kind]
    for n in ints:
        sig[n] = "i64"
    for n in ("w", "inv_tau", "e"):
        sig[n] = scalar_type(dtype)
    sig["keep_self"] = "i32"
    sig["l2"] = "i32"
    for n in consts:
        sig[n] = "i32"
    for n in ("STAGE", "MULTI", "COL_ONLY", "PUSH_EXP", "ONE_CHUNK", "ONE_OUT", "PRECISION",
              "BLOCK_M", "BLOCK_N", "BLOCK_D", "BLOCK_DO"):
        sig[n] = "constexpr"
    return sig


def _precision(dtype: str, precision: str) -> str:
    return "default" if dtype in ("float16", "bfloat16") else precision


_FWD_PTRS = (("z_ptr", "z"), ("y_ptr", "acc"), ("yh_ptr", "acc"), ("wt_ptr", "acc"),
             ("stats_ptr", "acc"), ("out_ptr", "z"), ("part_ptr", "acc"), ("nv_ptr", "i64"),
             ("rs_ptr", "acc"))
#: row prologue / finish / merge tiles: (BLOCK_M rows, BLOCK_D feature chunk), (BLOCK_M partials),
#: (BLOCK_M rows)
ROWS_TILE = {"float16": (32, 128), "bfloat16": (32, 128), "float32": (32, 64), "float64": (16, 64)}
FINISH_BLOCK = 256
MERGE_BLOCK = 128
#: the backward's reduce kernel (only with a split): (BLOCK_M rows, BLOCK_D columns), 4 warps — few
#: rows per program so that even M = 512 gives 128 programs for this memory-bound pass
REDUCE_TILE = (4, 128)

# ------------------------------------------------------------------------------------------------
# column split (flash-decoding): the launch plan

#: the main forward and backward launches aim at this many programs: two waves of an H100/H200's
#: 132 SMs
TARGET_PROGRAMS = 264
#: no split below this ``M·D`` (one program's serial work in the fused path is ∝ ``M·D``): there the
#: launches are latency-bound and a split would add a launch (merge, reduce) for little; a judgement
#: from the work per program (e.g. M = 256, D = 64: ~1 MFLOP per program), not a GPU measurement
SPLIT_MIN_MD = 32768
#: a column chunk holds at least this many column tiles (the split never degenerates into one
#: program per tile pair)
MIN_CHUNK_TILES = 2
#: the backward's partial-dU scratch ``[SPLIT, M, D]`` (fp32; fp64 for fp64 features) is at most
#: ``max(BWD_SCRATCH_COPIES·M·D, BWD_SCRATCH_MIN_BYTES / element size)`` elements — O(M·D) — which
#: bounds SPLIT (fp16 adds its row scales ``[SPLIT, M]`` fp32)
BWD_SCRATCH_COPIES = 8
BWD_SCRATCH_MIN_BYTES = 128 * 2**20
#: small-M tiles (streamed D only): with the default tiles ``⌈M/BLOCK_M⌉·SPLIT`` stays under
#: :data:`TARGET_PROGRAMS` at M = 512 (e.g. fp32: 8 row blocks × ≤ 8 chunks of 2 tiles). 16 × 16
#: tiles (:data:`SMALL_WARPS`); ``(BLOCK_M, BLOCK_N, BLOCK_D)`` forward,
#: ``(BLOCK_M, BLOCK_N, BLOCK_D, BLOCK_DO)`` backward, no spills on sm_80/sm_90 (TF32 backward:
#: ``BLOCK_DO`` 32 spilled on sm_80, 64 does not)
FWD_SMALL = {
    ("float16", "ieee"): (16, 16, 32),
    ("bfloat16", "ieee"): (16, 16, 32),
    ("float32", "ieee"): (16, 16, 32),
    ("float32", "tf32"): (16, 16, 32),
    ("float32", "tf32x3"): (16, 16, 32),
    ("float64", "ieee"): (16, 16, 16),
}
BWD_SMALL = {
    ("float16", "ieee"): (16, 16, 32, 32),
    ("bfloat16", "ieee"): (16, 16, 32, 32),
    ("float32", "ieee"): (16, 16, 16, 32),
    ("float32", "tf32"): (16, 16, 32, 64),
    ("float32", "tf32x3"): (16, 16, 32, 32),
    ("float64", "ieee"): (16, 16, 16, 32),
}
#: ``[M, dl]`` labels (``MULTI``): the component loop tipped the streamed TF32/TF32x3 backward into
#: spills on sm_80; their ``(BLOCK_D, BLOCK_DO)`` here (``BLOCK_M``/``BLOCK_N`` — the launch plan —
#: unchanged). The small-M tiles are not used with ``[M, dl]`` labels (their backward spilled on
#: sm_90): :func:`conr_split` plans the default tiles only.
BWD_TILES_ML = {("float32", "tf32"): (64, 16, 16, 16), ("float32", "tf32x3"): (64, 16, 16, 16)}
#: warps of the small-M configs: 4, but 8 for the fp32 IEEE forward (4 spilled there; 8 spilled
#: the fp64 forward and the fp16/bf16 backward on sm_90)
SMALL_WARPS = 4


def _cdiv(a: int, b: int) -> int:
    """``⌈a/b⌉`` by integer arithmetic (``triton.cdiv`` is a JIT function: ~2 µs per host call)."""
    return -(-a // b)


def _dtname(dtype) -> str:
    return dtype if isinstance(dtype, str) else str(dtype).split(".")[-1]


def _prec(dt: str, precision: str) -> str:
    return precision if dt == "float32" else "ieee"


def acc_itemsize(dtype) -> int:
    """Bytes per element of the accumulation dtype (fp32; fp64 for fp64 features)."""
    return 8 if _dtname(dtype) == "float64" else 4


def bwd_split_cap(m: int, d: int, dtype) -> int:
    """The largest SPLIT whose backward scratch ``SPLIT·M·D`` elements stays within
    ``max(BWD_SCRATCH_COPIES·M·D, BWD_SCRATCH_MIN_BYTES / element size)``."""
    per = max(m * d * acc_itemsize(dtype), 1)
    return max(BWD_SCRATCH_COPIES, BWD_SCRATCH_MIN_BYTES // per)


class Split(NamedTuple):
    """One O(M²) launch's plan: ``small`` (the 16 × 16 small-M tiles instead of the default ones),
    the tile ``(block_m, block_n)``, ``split`` (column chunks per row block; 1 = the fused path),
    ``programs = ⌈M/block_m⌉·split``, ``scratch_bytes`` (forward: the chunks' row statistics
    ``5·SPLIT·M``; backward: the partial dU ``SPLIT·M·D`` and, fp16, the row scales ``SPLIT·M``;
    0 without a split)."""
    small: bool
    block_m: int
    block_n: int
    split: int
    programs: int
    scratch_bytes: int
    #: the launch table's entry (:mod:`dirfast.kernels.conr_table`) the tile comes from; None for
    #: the small-M tiles
    tiles: Optional[ConrTiles] = None


def _split_of(m, d, dt, kernel, small, bm, bn, split=None, tiles=None, rows=None) -> Split:
    rb, nt = _cdiv(m if rows is None else rows, bm), _cdiv(m, bn)
    if split is None:
        split = min(_cdiv(TARGET_PROGRAMS, max(rb, 1)), nt // MIN_CHUNK_TILES)
        if m * d < SPLIT_MIN_MD:
            split = 1
        if kernel == "bwd":
            split = min(split, bwd_split_cap(m, d, dt))
    split = max(1, min(split, nt))  # never an empty chunk
    es = acc_itemsize(dt)
    if split == 1:
        scratch = 0
    elif kernel == "fwd":
        scratch = 5 * split * m * es
    else:
        scratch = split * m * d * es + (split * m * 4 if dt == "float16" else 0)
    return Split(small, bm, bn, split, rb * split, scratch, tiles)


def conr_split(m: int, d: int, dtype, precision: str = "ieee", kernel: str = "fwd", *,
               split: Optional[int] = None, small: Optional[bool] = None,
               multi: bool = False, family: str = "sm80", rows: Optional[int] = None) -> Split:
    """The column-split policy of the O(M²) launches (the launchers call it; the tests and the
    report read it). For ``kernel`` ``"fwd"`` (main pass) or ``"bwd"``: with the launch table's tile
    ``(BLOCK_M, BLOCK_N)`` for the GPU ``family`` (:func:`dirfast.kernels.conr_table.conr_tiles`:
    per dtype, precision, M and D bucket; held or streamed D, and for the backward ``dU`` held or
    streamed, as the entry says), ``rb = ⌈M/BLOCK_M⌉`` row blocks and
    ``nt = ⌈M/BLOCK_N⌉`` column tiles,

        SPLIT = min(⌈TARGET_PROGRAMS / rb⌉, ⌊nt / MIN_CHUNK_TILES⌋[, backward scratch cap]) ≥ 1,

    (1 when ``M·D < SPLIT_MIN_MD``), i.e. the least split giving ``rb·SPLIT ≥ TARGET_PROGRAMS``
    while each chunk keeps ≥ ``MIN_CHUNK_TILES`` column tiles and the backward's ``[SPLIT, M, D]``
    scratch stays within :func:`bwd_split_cap`. When that plan stays under the target and D is
    streamed, the 16 × 16 small-M tiles are planned the same way and the plan with more programs is
    taken (ties: the default tile). ``multi`` (``[M, dl]`` labels): the default tiles only.
    ``split=`` / ``small=`` force the plan (tests; ``split`` clamped to ``[1, nt]``). ``rows``:
    the forward's anchor rows when they are the first ``rows`` of the ``M`` (ConR across ranks:
    ``rb = ⌈rows/BLOCK_M⌉``; the tile is still the one of ``(M, D)``).
    """
    dt = _dtname(dtype)
    prec = _prec(dt, precision)
    small_tiles = FWD_SMALL if kernel == "fwd" else BWD_SMALL
    t = conr_tiles(family, dt, prec, kernel + ("_ml" if multi else ""), m, d)
    held = t.one_chunk
    bm, bn = t.block_m, t.block_n
    sbm, sbn = small_tiles[dt, prec][:2]
    if small is not None:
        if small and multi:
            raise ValueError("the small-M tiles serve 1-D labels only")
        return (_split_of(m, d, dt, kernel, True, sbm, sbn, split, rows=rows) if small
                else _split_of(m, d, dt, kernel, False, bm, bn, split, t, rows=rows))
    plan = _split_of(m, d, dt, kernel, False, bm, bn, split, t, rows=rows)
    if plan.programs < TARGET_PROGRAMS and not held and not multi and split is None:
        alt = _split_of(m, d, dt, kernel, True, sbm, sbn, rows=rows)
        if alt.programs > plan.programs:
            plan = alt
    return plan


def conr_launch_plan(m: int, d: int, dtype, precision: str = "ieee",
                     multi: bool = False, family: str = "sm80") -> List[Tuple[str, int]]:
    """Every launch of a forward + backward in order, as ``(name, programs)``: ``fwd.rows``,
    ``fwd.main``, ``fwd.merge`` (split only), ``fwd.finish``, ``bwd.main``, ``bwd.reduce`` (split
    only) — from the same policy the launchers use (:func:`conr_split`)."""
    dt = _dtname(dtype)
    f = conr_split(m, d, dt, precision, "fwd", multi=multi, family=family)
    b = conr_split(m, d, dt, precision, "bwd", multi=multi, family=family)
    plan = [("fwd.rows", _cdiv(m, ROWS_TILE[dt][0])), ("fwd.main", f.programs)]
    if f.split > 1:
        plan.append(("fwd.merge", _cdiv(m, MERGE_BLOCK)))
    plan += [("fwd.finish", 1), ("bwd.main", b.programs)]
    if b.split > 1:
        plan.append(("bwd.reduce", _cdiv(m, REDUCE_TILE[0])))
    return plan


def conr_flops(m: int, d: int) -> Tuple[int, int]:
    """``(forward, backward)`` FLOPs of the dots per call: ``2·M²·D`` (similarities) and ``4·M²·D``
    (similarities recomputed + ``H·U``); the split adds none (each tile pair is computed once)."""
    return 2 * m * m * d, 4 * m * m * d


def _key(base, small: bool, multi: bool):
    """A similarity kernel's config key: ``base`` + ``"small"`` (small-M tiles) + ``"ml"``
    (``[M, dl]`` labels)."""
    return base + (("small",) if small else ()) + (("ml",) if multi else ())


def _fwd_sig(dtype):
    sig = _sig(dtype, _FWD_PTRS, ("m", "d", "stride_z", "nparts", "nsplit", "dl"), ("flags",))
    sig["na"] = "i64"
    del sig["ONE_OUT"], sig["BLOCK_DO"], sig["COL_ONLY"]
    return sig


def _fwd_config(dtype: str, precision: str, push_exp: bool, one_chunk: bool,
                small: bool = False, multi: bool = False) -> KernelConfig:
    if small:
        bm, bn, bd = FWD_SMALL[dtype, precision]
    else:
        bm, bn, bd = (FWD_HELD if one_chunk else FWD_TILES)[dtype, precision]
    return KernelConfig(
        key=_key((dtype, precision, push_exp, one_chunk), small, multi),
        signature=_fwd_sig(dtype),
        constexprs={"STAGE": STAGE_MAIN, "MULTI": multi, "PUSH_EXP": push_exp, "ONE_CHUNK": one_chunk,
                    "PRECISION": _precision(dtype, precision),
                    "BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_D": bd},
        num_warps=(8 if (dtype, precision) == ("float32", "ieee") else SMALL_WARPS) if small
        else NUM_WARPS,
        num_stages=NUM_STAGES,
        ieee=precision == "ieee",
    )


_AUX_NAMES = {STAGE_ROWS: "rows", STAGE_FINISH: "finish", STAGE_MERGE: "merge"}


def _aux_config(dtype: str, stage: int) -> KernelConfig:
    """The row prologue, the finish and the merge: no dot, no tile logits (``PUSH_EXP``,
    ``ONE_CHUNK``, ``PRECISION`` and ``BLOCK_N`` unused; ``BLOCK_D`` too but in the prologue)."""
    bm, bd = {STAGE_ROWS: ROWS_TILE[dtype], STAGE_FINISH: (FINISH_BLOCK, 16),
              STAGE_MERGE: (MERGE_BLOCK, 16)}[stage]
    return KernelConfig(
        key=(dtype, _AUX_NAMES[stage]),
        signature=_fwd_sig(dtype),
        constexprs={"STAGE": stage, "MULTI": False, "PUSH_EXP": True, "ONE_CHUNK": False,
                    "PRECISION": _precision(dtype, "ieee"),
                    "BLOCK_M": bm, "BLOCK_N": 16, "BLOCK_D": bd},
        num_warps=4,
        num_stages=1,
        ieee=True,
    )


def _bwd_config(dtype: str, precision: str, push_exp: bool, one_chunk: bool,
                one_out: bool, small: bool = False, multi: bool = False) -> KernelConfig:
    if small:
        bm, bn, bd, bdo = BWD_SMALL[dtype, precision]
    elif multi and not one_chunk and (dtype, precision) in BWD_TILES_ML:
        bm, bn, bd, bdo = BWD_TILES_ML[dtype, precision]
    else:
        bm, bn, bd, bdo = (BWD_HELD if one_chunk else BWD_TILES)[dtype, precision]
    sig = _sig(dtype, (("z_ptr", "z"), ("y_ptr", "acc"), ("yh_ptr", "acc"), ("stats_ptr", "acc"),
                       ("go_ptr", "z"), ("du_ptr", "acc"), ("dz_ptr", "z"), ("hs_ptr", "acc")),
               ("m", "d", "stride_z", "go_stride", "nsplit", "dl"), ())
    sig["rb0"] = sig["ncols"] = "i64"
    del sig["STAGE"]
    return KernelConfig(
        key=_key((dtype, precision, push_exp, one_chunk, one_out), small, multi),
        signature=sig,
        constexprs={"MULTI": multi, "COL_ONLY": False, "PUSH_EXP": push_exp,
                    "ONE_CHUNK": one_chunk, "ONE_OUT": one_out,
                    "PRECISION": _precision(dtype, precision),
                    "BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_D": bd, "BLOCK_DO": bdo},
        num_warps=SMALL_WARPS if small else NUM_WARPS,
        num_stages=NUM_STAGES,
        ieee=precision == "ieee",
    )


def _reduce_config(dtype: str) -> KernelConfig:
    t = TRITON_DTYPE[dtype]
    vt = "fp64" if dtype == "float64" else "fp32"
    sig = {"z_ptr": "*" + t, "stats_ptr": "*" + vt, "du_ptr": "*" + vt, "hs_ptr": "*" + vt,
           "dz_ptr": "*" + t, "m": "i64", "d": "i64", "stride_z": "i64", "nsplit": "i64",
           "inv_tau": scalar_type(dtype), "BLOCK_M": "constexpr", "BLOCK_D": "constexpr"}
    return KernelConfig(key=(dtype, "reduce"), signature=sig,
                        constexprs={"BLOCK_M": REDUCE_TILE[0], "BLOCK_D": REDUCE_TILE[1]},
                        num_warps=4, num_stages=1, ieee=True)


#: fp32 ``input_precision`` values a caller may ask for ("ieee" is the default; fp16/bf16 inputs run
#: on tensor cores whatever is asked, fp64 is always "ieee")
PRECISIONS = ("ieee", "tf32", "tf32x3")


_PUSH = (True, False)
# the similarity kernels' tiles come from the launch table (below) but for the small-M plan
register(_conr_fwd_kernel, [_fwd_config(dt, p, x, False, small=True) for dt, p in FWD_TILES
                            for x in _PUSH]
         + [_aux_config(dt, st) for dt in TRITON_DTYPE
            for st in (STAGE_ROWS, STAGE_FINISH, STAGE_MERGE)])
_SMALL_BWD = [_bwd_config(dt, p, x, False, False, small=True) for dt, p in BWD_TILES for x in _PUSH]
register(_conr_bwd_kernel, _SMALL_BWD)


def col_only(cfg: KernelConfig) -> KernelConfig:
    """The ``COL_ONLY`` twin of a backward config (ConR across ranks: the row blocks without an
    anchor against the anchors' columns): the same tiles, key + ``("col",)``."""
    return dataclasses.replace(cfg, key=tuple(cfg.key) + ("col",),
                               constexprs={**cfg.constexprs, "COL_ONLY": True})


#: backward configs whose ``COL_ONLY`` twin spills registers on one of its architectures (the AOT
#: tier's compile of every twin, triton 3.6.0): no twin is registered for them, and a launch across
#: ranks with such a config runs every row block against every column (``4·M²·D``: exact, slower)
COL_SPILLS = {
    ('bfloat16', 'ieee', False, True, True, 'ml', 'sm90', 32, 16, 128, 128, 4, 1),
    ('bfloat16', 'ieee', True, True, True, 'ml', 'sm90', 32, 16, 128, 128, 4, 1),
    ('float16', 'ieee', False, True, True, 'ml', 'sm80', 16, 16, 64, 64, 8, 1),
    ('float16', 'ieee', True, False, True, 'sm90', 32, 32, 16, 512, 8, 1),
    ('float32', 'tf32', True, True, True, 'ml', 'sm80', 16, 16, 64, 64, 8, 1),
    ('float32', 'tf32x3', False, False, False, 'ml', 'sm80', 16, 16, 16, 32, 8, 1),
    ('float32', 'tf32x3', False, False, False, 'sm80', 16, 16, 16, 32, 8, 1),
    ('float32', 'tf32x3', False, False, False, 'sm90', 16, 16, 16, 32, 8, 1),
    ('float32', 'tf32x3', True, False, False, 'ml', 'sm80', 16, 16, 16, 32, 8, 1),
    ('float32', 'tf32x3', True, False, False, 'sm80', 16, 16, 16, 32, 8, 1),
    ('float64', 'ieee', False, False, False, 'small'),
    ('float64', 'ieee', True, False, False, 'small'),
}


def _register_col(cfgs) -> None:
    """Register the ``COL_ONLY`` twin of every backward config in ``cfgs`` but those in
    :data:`COL_SPILLS` (every backward config goes through here: a key outside ``COL_SPILLS`` has
    a twin)."""
    register(_conr_bwd_kernel, [col_only(c) for c in cfgs if tuple(c.key) not in COL_SPILLS])


_register_col(_SMALL_BWD)
register(_conr_bwd_reduce_kernel, [_reduce_config(dt) for dt in TRITON_DTYPE])
# the launch table's configs (per GPU family, dtype, precision, M and D bucket): what the launchers
# pick outside the small-M plan; compiled by the AOT tier for their family's architectures
_TABLE_FWD, _TABLE_BWD = table_configs(_fwd_config, _bwd_config)
register(_conr_fwd_kernel, _TABLE_FWD)
register(_conr_bwd_kernel, _TABLE_BWD)
_register_col(_TABLE_BWD)
# the held backward tile covers every D ≤ the streamed tile's BLOCK_DO (so a (False, True) config
# would never launch and is not registered); the held epilogue reuses the anchor tile as u_i
assert all(BWD_HELD[k][2] >= BWD_TILES[k][3] for k in BWD_TILES)
assert all(v[2] == v[3] for v in BWD_HELD.values())

#: input dtypes the kernels take
DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _names(z, precision: str):
    dt = str(z.dtype).split(".")[-1]
    return dt, (precision if dt == "float32" else "ieee")


def _launch_fwd(cfg, grid, z, y, yh, wt, stats, out, part, nv, rs, m, d, nparts, nsplit, lab,
                scalars, keep_self, flags, na):
    _conr_fwd_kernel[grid](z, y, yh, wt, stats, out, part, nv, rs, m, d, z.stride(0), nparts,
                           nsplit, *lab, *scalars, keep_self, flags, na,
                           num_warps=cfg.num_warps, num_stages=cfg.num_stages, **cfg.constexprs)


def _labels(y, norm: str):
    """``(multi, (dl, l2))``: ``[M, dl]`` labels take the multi-dimensional configs (``dl`` run-time,
    ``l2`` the 0/1 norm flag); ``[M]`` the 1-D fast path (``dl = 1``)."""
    if norm not in ("l1", "l2"):
        raise ValueError(f"norm must be 'l1' or 'l2', got {norm!r}")
    multi = y.dim() == 2
    return multi, (int(y.shape[1]) if multi else 1, int(norm == "l2"))


def conr_fwd(z, y, yh, wt, *, w: float, temperature: float, e: float, push_exp: bool,
             keep_self: bool, phantom: bool, official: bool, weight_final: bool, reduction: str,
             precision: str = "ieee", norm: str = "l1", split: Optional[int] = None,
             small: Optional[bool] = None, anchors: Optional[int] = None):
    """The whole forward in three launches of ``_conr_fwd_kernel`` — the row prologue (norms,
    inverse norms, ``log a``), the main pass (online log-sum-exp over column tiles and the row
    epilogue: row losses, saved statistics, per-program partials) and the one-program finish
    (loss, number of valid anchors, the reduction's scale) — or four when the main pass is split
    over column chunks (:func:`conr_split`): its programs then write their chunk's row statistics
    (scratch ``[5·SPLIT·M]``) and a merge stage (grid ``⌈M/MERGE_BLOCK⌉``) merges them in a fixed
    order and runs the row epilogue. Returns ``(loss, num_valid, stats)``: the loss 0-d (``[M]``
    for ``"none"``) in ``z``'s dtype, int64 0-d, and the flat statistics ``[N_STATS·M + 1]``
    (fp32; fp64 for fp64 ``z``) the backward takes.

    Args:
        z: ``[M, D]`` fp16/bf16/fp32/fp64, unit stride along D (the raw features, not normalised).
        y, yh: ``[M]`` or ``[M, dl]`` contiguous (fp32; fp64 for fp64 ``z``): labels and detached
            predictions; ``[M, dl]`` (``dl ≥ 1``) run the configs with a per-tile loop over the
            components (:func:`_label_dist`), ``[M]`` the 1-D fast path.
        wt: ``[M]`` contiguous, same dtype: weights ≥ 0 (``None``: all 1).
        norm: ``"l1"`` (``Σ_k |Δy_k|``) or ``"l2"`` (``sqrt(Σ_k Δy_k²)``) for ``[M, dl]`` labels.
        precision: fp32 ``input_precision`` of the similarity dots (``"ieee"``, ``"tf32"``,
            ``"tf32x3"``); ignored for other dtypes.
        split, small: force the column split / the small-M tiles (tests); ``None``: the policy.
        anchors: ``na`` (``0 ≤ na ≤ M``): only the first ``na`` rows are anchors (ConR across
            ranks: this rank's rows, put first). The main pass runs ``⌈na/BLOCK_M⌉`` row blocks
            (``2·na·M·D`` FLOPs); the other rows get a zero row loss and inactive statistics (no
            anchor, not valid). ``None``: every row.
    """
    m, d = z.shape
    na = m if anchors is None else int(anchors)
    if not 0 <= na <= m:
        raise ValueError(f"conr_fwd: anchors must be in [0, M = {m}], got {anchors}")
    dt, prec = _names(z, precision)
    acc = torch.float64 if dt == "float64" else torch.float32
    dev = z.device
    stats = torch.empty(N_STATS * m + 1, dtype=acc, device=dev)
    out = torch.empty((m,) if reduction == "none" else (), dtype=z.dtype, device=dev)
    nv = torch.empty((), dtype=torch.int64, device=dev)
    flags = ((F_HAS_W if wt is not None else 0) | (F_PHANTOM if phantom else 0)
             | (F_OFFICIAL if official else 0)
             | (F_WFINAL if (weight_final and wt is not None) else 0)
             | (RED_CODES[reduction] << RED_SHIFT))
    wt = y if wt is None else wt
    sc, ks = _scalars(dt, w, temperature, e), int(keep_self)
    multi, lab = _labels(y, norm)
    fam = arch_family(dev)
    plan = conr_split(m, d, dt, prec, "fwd", split=split, small=small, multi=multi, family=fam,
                      rows=na)
    nsplit = plan.split
    # chunks' row statistics (split only; else a placeholder never accessed)
    rs = torch.empty(5 * nsplit * m, dtype=acc, device=dev) if nsplit > 1 else stats
    # each launch right after its own pick (a launcher picks the config it launches)
    with device_guard(z):
        if m:
            cfg = pick(_conr_fwd_kernel, (dt, "rows"))
            _launch_fwd(cfg, (_cdiv(m, cfg.constexprs["BLOCK_M"]),), z, y, yh, wt, stats, out,
                        stats, nv, rs, m, d, 0, nsplit, lab, sc, ks, flags, na)
        if plan.small:
            cfg = pick(_conr_fwd_kernel, _key((dt, prec, push_exp, False), True, multi))
        else:
            t = plan.tiles
            cfg = pick(_conr_fwd_kernel,
                       table_key(_key((dt, prec, push_exp, t.one_chunk), False, multi), fam, t))
        nparts = _cdiv(na, cfg.constexprs["BLOCK_M"])
        if nsplit > 1:
            nparts = _cdiv(na, MERGE_BLOCK)
        part = torch.empty(2 * nparts, dtype=acc, device=dev)
        if na:
            _launch_fwd(cfg, (plan.programs,), z, y, yh, wt, stats, out, part, nv, rs, m, d, nparts,
                        nsplit, lab, sc, ks, flags, na)
        if na and nsplit > 1:
            cfg = pick(_conr_fwd_kernel, (dt, "merge"))
            _launch_fwd(cfg, (nparts,), z, y, yh, wt, stats, out, part, nv, rs, m, d, nparts, nsplit,
                        lab, sc, ks, flags, na)
        cfg = pick(_conr_fwd_kernel, (dt, "finish"))
        _launch_fwd(cfg, (1,), z, y, yh, wt, stats, out, part, nv, rs, m, d, nparts, nsplit, lab, sc,
                    ks, flags, na)
    return out, nv, stats


def conr_bwd(z, y, yh, stats, grad_out, *, w: float, temperature: float, e: float,
             push_exp: bool, keep_self: bool, precision: str = "ieee", norm: str = "l1",
             split: Optional[int] = None, small: Optional[bool] = None,
             anchors: Optional[int] = None):
    """``dL/dz [M, D]`` in ``z``'s dtype: the symmetric ``H`` from the saved statistics
    (:func:`conr_fwd`), ``dU = H·U/τ`` and the backward through the L2 normalisation — one launch,
    or, when the policy splits the column range (:func:`conr_split`), one launch writing per-chunk
    partial ``dU`` into a scratch ``[SPLIT, M, D]`` (fp32; fp64 for fp64 ``z``; fp16: plus the
    chunks' row scales ``[SPLIT, M]``) and a reduce launch summing the chunks in a fixed order and
    running the epilogue. ``grad_out``: 0-d or ``[M]`` (reduction ``"none"``), ``z``'s dtype; the
    rest as :func:`conr_fwd`. ``anchors=na`` (the forward's): the gradient of the anchors' loss
    with respect to every row — the anchors' row blocks against every column, then (where the
    config has a ``COL_ONLY`` twin: not in :data:`COL_SPILLS`) the other row blocks against the anchors'
    columns only in a second launch, the split scratch zeroed first; ``na = 0`` returns zeros
    without a launch.
    """
    m, d = z.shape
    dt, prec = _names(z, precision)
    na = m if anchors is None else int(anchors)
    if not 0 <= na <= m:
        raise ValueError(f"conr_bwd: anchors must be in [0, M = {m}], got {anchors}")
    if na == 0:  # no anchor: no loss term, a zero gradient
        return torch.zeros((m, d), dtype=z.dtype, device=z.device)
    dz = torch.empty((m, d), dtype=z.dtype, device=z.device)
    if m == 0:
        return dz
    multi, lab = _labels(y, norm)
    fam = arch_family(z.device)
    plan = conr_split(m, d, dt, prec, "bwd", split=split, small=small, multi=multi, family=fam)
    nsplit = plan.split
    if plan.small:
        cfg = pick(_conr_bwd_kernel, _key((dt, prec, push_exp, False, False), True, multi))
    else:
        t = plan.tiles
        cfg = pick(_conr_bwd_kernel, table_key(
            _key((dt, prec, push_exp, t.one_chunk, t.one_out), False, multi), fam, t))
    # across ranks: the row blocks without an anchor in a COL_ONLY launch (where the config has a
    # spill-free twin; else every row block runs every column)
    cols = 0 < na < m and tuple(cfg.key) not in COL_SPILLS
    if nsplit > 1:
        # a chunk of the COL_ONLY launch may get no column tile (⌈na/BLOCK_N⌉ < SPLIT): zeroed
        du = (torch.zeros if cols else torch.empty)((nsplit, m, d), dtype=stats.dtype,
                                                     device=z.device)
    elif z.dtype == stats.dtype:
        du = dz  # dU accumulated in place; the epilogue overwrites it with dz row by row
    else:
        du = torch.empty((m, d), dtype=stats.dtype, device=z.device)
    # fp16 with a split: the chunks' row scales; else a placeholder never accessed
    hs = torch.empty((nsplit, m), dtype=stats.dtype, device=z.device) \
        if (nsplit > 1 and dt == "float16") else stats
    go_stride = grad_out.stride(0) if grad_out.dim() else 0
    sc = _scalars(dt, w, temperature, e)
    bm = cfg.constexprs["BLOCK_M"]
    rb_a = _cdiv(na, bm) if cols else _cdiv(m, bm)  # row blocks against every column
    with device_guard(z):
        _conr_bwd_kernel[(rb_a * nsplit,)](z, y, yh, stats, grad_out, du, dz, hs, m, d, z.stride(0),
                                           go_stride, nsplit, *lab, *sc, int(keep_self), 0, m,
                                           num_warps=cfg.num_warps, num_stages=cfg.num_stages,
                                           **cfg.constexprs)
        if cols:
            cc = pick(_conr_bwd_kernel, tuple(cfg.key) + ("col",))
            _conr_bwd_kernel[((_cdiv(m, bm) - rb_a) * nsplit,)](
                z, y, yh, stats, grad_out, du, dz, hs, m, d, z.stride(0), go_stride, nsplit, *lab,
                *sc, int(keep_self), rb_a, na, num_warps=cc.num_warps, num_stages=cc.num_stages,
                **cc.constexprs)
        if nsplit > 1:
            cfg = pick(_conr_bwd_reduce_kernel, (dt, "reduce"))
            _conr_bwd_reduce_kernel[(_cdiv(m, cfg.constexprs["BLOCK_M"]),)](
                z, stats, du, hs, dz, m, d, z.stride(0), nsplit, sc[1],
                num_warps=cfg.num_warps, num_stages=cfg.num_stages, **cfg.constexprs)
    return dz
