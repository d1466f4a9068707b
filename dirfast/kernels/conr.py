"""Triton kernels of ConR, flash-attention style (spec conr_ranksim_bmse.md §1.10): nothing ``M×M`` is
stored, per-row statistics are O(M).

Both kernels read the *raw* features ``z [M, D]`` (input dtype) and the inverse row norms
``inv [M]`` and form ``s_ij = (z_i·z_j)·inv_i·inv_j/τ`` — the dot on tensor cores for fp16/bf16
(fp32 accumulate), exact FMA dots for fp32 (``input_precision="ieee"``, the default; ``"tf32"`` and
``"tf32x3"`` are opt-ins with their own configs) and fp64 (fp64 accumulate, fp64 row statistics), so
the forward never rounds the normalised features to a low precision. Labels/predictions are 1-D
(fp32; fp64 for fp64 features); masks are built per tile: ``P = |Δy| ≤ w`` (the diagonal excluded
unless ``keep_self``), ``N = |Δy| > w and |Δŷ| ≤ w``. Columns ``j ≥ M`` are masked out of every term;
every offset is int64. The scalars ``w``, ``1/τ`` and ``e`` are passed by value: fp32 floats, or for
fp64 features the int64 IEEE-754 bit patterns of the doubles (``dirfast.kernels._launch.fp64_bits``,
rebuilt exactly in the kernel: Triton's JIT types a Python float as fp32, which made the fp64 path
round them to fp32); they and ``keep_self`` are not specialised on their values. Each launch runs
on the features' CUDA device (``device_guard``).

* ``_conr_fwd_kernel`` (grid: row blocks): one program owns an anchor tile of ``BLOCK_M`` rows, held
  across every column tile when D fits (``ONE_CHUNK``, ``FWD_HELD``: D ≤ 256 for fp16/bf16, 128 for
  TF32, 64 for IEEE fp32/fp64); wider anchors are re-read in ``BLOCK_D`` chunks per column tile (from
  L1/L2: at D = 2048 a held tile would be 256–512 KB, beyond registers and the 99 KB of shared
  memory); column tiles of ``BLOCK_N`` rows are streamed. Per row it writes the log-sum-exp
  ``L_i = log Σ_j exp(A_ij)`` (``A = s`` on positives, ``s + log S_ij`` on negatives:
  ``log S = log a_i + e·Δy`` (``PUSH_EXP``) or ``log a_i + log(e·Δy)``; ``−inf`` elsewhere), computed
  online as flash-attention's softmax: a running max ``m_i`` of the row's *included* logits and a sum
  ``l_i`` of ``exp(A_ij − m_i)`` rescaled by ``exp(m_old − m_new)`` when the max grows, so the largest
  term is exp(0) and nothing over- or underflows at any τ (``s`` spans ±1/τ) or label scale;
  ``L_i = m_i + log l_i`` (``−inf`` for a row without any term). Also ``Σ_j P_ij s_ij``, ``|P_i|``,
  ``|N_i|`` (``[4, M]``).
* ``_conr_bwd_kernel`` (grid: row blocks): per column tile it recomputes ``s`` over the whole D once,
  forms from the saved row statistics of **both** sides (``log D``, ``1/|P|``, the row factor ``g``)
  the symmetric ``H_ij = G_ij + G_ji`` with ``G_ij = g_i·[(P_ij + N_ij S_ij) e^{s_ij}/D_i −
  P_ij/|P_i|]`` in the ``[I, J]`` tile, then ``dU_I += H·u_J`` (``u_J = z_J·inv_J`` in the input
  dtype; anchor tile held when ``D ≤`` 128 for fp16/bf16, 64 for TF32, 32 for IEEE fp32/fp64): in
  registers when ``D ≤ BLOCK_DO`` (``ONE_OUT``), else chunk by chunk of ``BLOCK_DO``
  columns into the program's own rows of the zero-initialised output (read-modify-write, a
  ``debug_barrier`` between column tiles). Each program owns its output rows: deterministic, no
  atomics. ``g`` arrives divided by ``max|g|`` (``gscale``) so ``H`` is O(1) before the cast to
  fp16/bf16 (no subnormal underflow at large M); the result is rescaled by ``gscale/τ`` at the end.

FLOPs per call: forward ``2·M²·D``, backward ``4·M²·D`` (recomputed similarity + gradient), i.e.
``6·M²·D`` against the ``4·M²·D`` a dense method storing ``S`` needs. Bytes (b = bytes per feature
element): forward reads ``z`` once per (row tile, column tile) pair from L2 — ``M²·D·b·(1/BLOCK_M +
1/BLOCK_N)`` — and ``M·D·b`` from DRAM at least; the backward adds, for ``D > BLOCK_DO``, the
read-modify-write of ``dU_I`` (fp32) per column tile: ``8·M²·D/BLOCK_N`` bytes, mostly L2 hits
while ``BLOCK_M·D·4`` bytes per resident program fit.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ._launch import device_guard, fp64_bits
from ._registry import TRITON_DTYPE, KernelConfig, pick, register

NUM_WARPS = 8
NUM_STAGES = 1
#: Tiles per (input dtype, fp32 input precision), 8 warps, 1 stage: the widest found without spills on
#: sm_80 and sm_90 by sweeping ``BLOCK_* ∈ {16, …, 256}`` × 4/8 warps (the mask/exponent tile math is
#: register heavy; fp32 "ieee" dots run on FMA units and need the smallest tiles).
#: ``*_HELD``: the anchor tile is held across all column tiles — ``(BLOCK_M, BLOCK_N, BLOCK_D)`` forward,
#: ``(BLOCK_M, BLOCK_N, BLOCK_D, BLOCK_DO)`` backward with ``BLOCK_D = BLOCK_DO`` — used when
#: ``D ≤ BLOCK_D``; the others stream D in chunks.
FWD_HELD = {
    ("float16", "ieee"): (64, 32, 256),
    ("bfloat16", "ieee"): (64, 32, 256),
    ("float32", "ieee"): (32, 32, 64),
    ("float32", "tf32"): (64, 32, 128),
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
    ("float16", "ieee"): (32, 16, 128, 128),
    ("bfloat16", "ieee"): (32, 16, 128, 128),
    ("float32", "ieee"): (32, 16, 32, 32),
    ("float32", "tf32"): (32, 16, 64, 64),
    ("float32", "tf32x3"): (32, 16, 32, 32),
    ("float64", "ieee"): (16, 16, 32, 32),
}
BWD_TILES = {
    ("float16", "ieee"): (32, 32, 32, 32),
    ("bfloat16", "ieee"): (32, 32, 32, 32),
    ("float32", "ieee"): (32, 16, 16, 32),
    ("float32", "tf32"): (64, 16, 32, 64),
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


@triton.jit
def _f64(bits):
    """Device helper: the double whose IEEE-754 bit pattern is the integer ``bits`` (i32 or i64)."""
    return tl.cast(tl.cast(bits, tl.int64), tl.float64, bitcast=True)


#: by-value scalars (fp32 floats, or fp64 bit patterns) and the 0/1 flag: never specialised on their
#: values (no new variant per value; ``keep_self = 1`` stays the registered i32, not a constexpr)
_SCALARS = ["w", "inv_tau", "e", "keep_self"]


@triton.jit
def _tile_logits(acc, inv_i, inv_j, y_i, y_j, yh_i, yh_j, li, lj, i0, j0, row_in, col_in,
                 w, inv_tau, e, keep_self, PUSH_EXP: tl.constexpr):
    """Device helper: similarities ``s``, the positive/negative masks and the unweighted logits
    ``a`` (``s`` on positives, the pushing term on negatives, −inf elsewhere) of one tile."""
    s = acc * inv_i[:, None] * inv_j[None, :] * inv_tau
    dy = tl.abs(y_i[:, None] - y_j[None, :])
    dyh = tl.abs(yh_i[:, None] - yh_j[None, :])
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


@triton.jit(do_not_specialize=_SCALARS)
def _conr_fwd_kernel(
    z_ptr, inv_ptr, y_ptr, yh_ptr, loga_ptr, out_ptr,
    m, d, stride_z, w, inv_tau, e, keep_self,
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
    pid = tl.program_id(0).to(tl.int64)
    i0 = pid * BLOCK_M
    li = tl.arange(0, BLOCK_M)
    lj = tl.arange(0, BLOCK_N)
    rows = i0 + li.to(tl.int64)
    row_in = rows < m
    dk = tl.arange(0, BLOCK_D).to(tl.int64)
    inv_i = tl.load(inv_ptr + rows, mask=row_in, other=0.0)
    y_i = tl.load(y_ptr + rows, mask=row_in, other=0.0)
    yh_i = tl.load(yh_ptr + rows, mask=row_in, other=0.0)
    loga_i = tl.load(loga_ptr + rows, mask=row_in, other=0.0)
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
    # while loops: the interpreter (numpy >= 2.4) cannot iterate range() over a runtime scalar
    j0 = m * 0
    while j0 < m:
        cols = j0 + lj.to(tl.int64)
        col_in = cols < m
        acc = _sim_tile(z_ptr, a_tile, rows, row_in, cols, col_in, d, stride_z, dk, ONE_CHUNK,
                        PRECISION, BLOCK_M, BLOCK_N, BLOCK_D)
        inv_j = tl.load(inv_ptr + cols, mask=col_in, other=0.0)
        y_j = tl.load(y_ptr + cols, mask=col_in, other=0.0)
        yh_j = tl.load(yh_ptr + cols, mask=col_in, other=0.0)
        s, a, pos, neg, both = _tile_logits(acc, inv_i, inv_j, y_i, y_j, yh_i, yh_j, li, lj, i0, j0,
                                            row_in, col_in, w, inv_tau, e, keep_self, PUSH_EXP)
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
    lse = tl.log(run_sum) + tl.where(tl.abs(run_max) < float("inf"), run_max, 0.0)
    tl.store(out_ptr + rows, lse, mask=row_in)
    tl.store(out_ptr + m + rows, sps, mask=row_in)
    tl.store(out_ptr + 2 * m + rows, npos, mask=row_in)
    tl.store(out_ptr + 3 * m + rows, nneg, mask=row_in)


@triton.jit(do_not_specialize=_SCALARS)
def _conr_bwd_kernel(
    z_ptr, inv_ptr, y_ptr, yh_ptr, loga_ptr, logd_ptr, q_ptr, g_ptr, gscale_ptr, du_ptr,
    m, d, stride_z, w, inv_tau, e, keep_self,
    PUSH_EXP: tl.constexpr,
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
    pid = tl.program_id(0).to(tl.int64)
    i0 = pid * BLOCK_M
    li = tl.arange(0, BLOCK_M)
    lj = tl.arange(0, BLOCK_N)
    rows = i0 + li.to(tl.int64)
    row_in = rows < m
    dk = tl.arange(0, BLOCK_D).to(tl.int64)
    dko = tl.arange(0, BLOCK_DO).to(tl.int64)
    inv_i = tl.load(inv_ptr + rows, mask=row_in, other=0.0)
    y_i = tl.load(y_ptr + rows, mask=row_in, other=0.0)
    yh_i = tl.load(yh_ptr + rows, mask=row_in, other=0.0)
    loga_i = tl.load(loga_ptr + rows, mask=row_in, other=0.0)
    logd_i = tl.load(logd_ptr + rows, mask=row_in, other=float("inf"))
    q_i = tl.load(q_ptr + rows, mask=row_in, other=0.0)
    g_i = tl.load(g_ptr + rows, mask=row_in, other=0.0)
    if ONE_CHUNK:
        a_tile = tl.load(z_ptr + rows[:, None] * stride_z + dk[None, :],
                         mask=row_in[:, None] & (dk < d)[None, :], other=0.0)
    else:
        a_tile = 0.0  # unused: _sim_tile re-reads the anchor rows per D chunk
    # ONE_OUT (D ≤ BLOCK_DO): dU_I is accumulated in registers; else in the program's own rows of
    # du (zero-initialised, fp32/fp64), read-modify-written per D chunk: the similarity tile and H
    # are computed once per column tile whatever D is.
    du = tl.zeros([BLOCK_M, BLOCK_DO], dtype=inv_i.dtype)
    # while loops: the interpreter (numpy >= 2.4) cannot iterate range() over a runtime scalar
    j0 = m * 0
    while j0 < m:
        cols = j0 + lj.to(tl.int64)
        col_in = cols < m
        acc = _sim_tile(z_ptr, a_tile, rows, row_in, cols, col_in, d, stride_z, dk, ONE_CHUNK,
                        PRECISION, BLOCK_M, BLOCK_N, BLOCK_D)
        inv_j = tl.load(inv_ptr + cols, mask=col_in, other=0.0)
        loga_j = tl.load(loga_ptr + cols, mask=col_in, other=0.0)
        logd_j = tl.load(logd_ptr + cols, mask=col_in, other=float("inf"))
        q_j = tl.load(q_ptr + cols, mask=col_in, other=0.0)
        g_j = tl.load(g_ptr + cols, mask=col_in, other=0.0)
        y_j = tl.load(y_ptr + cols, mask=col_in, other=0.0)
        yh_j = tl.load(yh_ptr + cols, mask=col_in, other=0.0)
        s, a, pos, neg, both = _tile_logits(acc, inv_i, inv_j, y_i, y_j, yh_i, yh_j, li, lj, i0, j0,
                                            row_in, col_in, w, inv_tau, e, keep_self, PUSH_EXP)
        posf = pos.to(inv_i.dtype)
        # row side G_ij (anchor i) and column side G_ji (anchor j), as the CPU path
        ar = a - logd_i[:, None] + tl.where(neg, loga_i[:, None], 0.0)
        ac = a - logd_j[None, :] + tl.where(neg, loga_j[None, :], 0.0)
        h = (tl.exp(ar) - posf * q_i[:, None]) * g_i[:, None]
        h += (tl.exp(ac) - posf * q_j[None, :]) * g_j[None, :]
        h = tl.where(both, h, 0.0).to(z_ptr.dtype.element_ty)
        if ONE_OUT:
            zj = tl.load(z_ptr + cols[:, None] * stride_z + dko[None, :],
                         mask=col_in[:, None] & (dko < d)[None, :], other=0.0)
            uj = (zj.to(inv_j.dtype) * inv_j[:, None]).to(z_ptr.dtype.element_ty)
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
                cur = tl.load(du_ptr + rows[:, None] * d + do[None, :], mask=o_msk, other=0.0)
                cur = _dot(h, uj, cur, PRECISION)
                tl.store(du_ptr + rows[:, None] * d + do[None, :], cur, mask=o_msk)
                d0 += BLOCK_DO
            # the next column tile re-reads these rows, possibly from other threads of the program
            tl.debug_barrier()
        j0 += BLOCK_N
    scale = tl.load(gscale_ptr) * inv_tau
    if ONE_OUT:
        tl.store(du_ptr + rows[:, None] * d + dko[None, :], du * scale,
                 mask=row_in[:, None] & (dko < d)[None, :])
    else:
        d0 = d * 0
        while d0 < d:
            do = d0 + dko
            o_msk = row_in[:, None] & (do < d)[None, :]
            cur = tl.load(du_ptr + rows[:, None] * d + do[None, :], mask=o_msk, other=0.0)
            tl.store(du_ptr + rows[:, None] * d + do[None, :], cur * scale, mask=o_msk)
            d0 += BLOCK_DO


def scalar_type(dtype: str) -> str:
    """Triton type of ``w``, ``inv_tau``, ``e`` for features of ``dtype``: fp32 floats, or the int64
    bit patterns of the doubles for fp64 (Triton's JIT types a Python float as fp32)."""
    return "i64" if dtype == "float64" else "fp32"


def _scalars(dt: str, w: float, temperature: float, e: float):
    """``(w, 1/τ, e)`` as the kernels take them (see :func:`scalar_type`)."""
    values = (float(w), 1.0 / float(temperature), float(e))
    return tuple(fp64_bits(v) for v in values) if dt == "float64" else values


def _sig(dtype: str, names, vec_names):
    t = TRITON_DTYPE[dtype]
    vt = "fp64" if dtype == "float64" else "fp32"
    sig = {"z_ptr": f"*{t}"}
    for n in vec_names:
        sig[n] = f"*{vt}"
    for n in ("m", "d", "stride_z"):
        sig[n] = "i64"
    for n in ("w", "inv_tau", "e"):
        sig[n] = scalar_type(dtype)
    sig["keep_self"] = "i32"
    for n in names:
        sig[n] = "constexpr"
    return sig


def _precision(dtype: str, precision: str) -> str:
    return "default" if dtype in ("float16", "bfloat16") else precision


def _fwd_config(dtype: str, precision: str, push_exp: bool, one_chunk: bool) -> KernelConfig:
    bm, bn, bd = (FWD_HELD if one_chunk else FWD_TILES)[dtype, precision]
    return KernelConfig(
        key=(dtype, precision, push_exp, one_chunk),
        signature=_sig(dtype, ("PUSH_EXP", "ONE_CHUNK", "PRECISION", "BLOCK_M", "BLOCK_N", "BLOCK_D"),
                       ("inv_ptr", "y_ptr", "yh_ptr", "loga_ptr", "out_ptr")),
        constexprs={"PUSH_EXP": push_exp, "ONE_CHUNK": one_chunk,
                    "PRECISION": _precision(dtype, precision),
                    "BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_D": bd},
        num_warps=NUM_WARPS,
        num_stages=NUM_STAGES,
        ieee=precision == "ieee",
    )


def _bwd_config(dtype: str, precision: str, push_exp: bool, one_chunk: bool,
                one_out: bool) -> KernelConfig:
    bm, bn, bd, bdo = (BWD_HELD if one_chunk else BWD_TILES)[dtype, precision]
    return KernelConfig(
        key=(dtype, precision, push_exp, one_chunk, one_out),
        signature=_sig(dtype, ("PUSH_EXP", "ONE_CHUNK", "ONE_OUT", "PRECISION", "BLOCK_M",
                               "BLOCK_N", "BLOCK_D", "BLOCK_DO"),
                       ("inv_ptr", "y_ptr", "yh_ptr", "loga_ptr", "logd_ptr", "q_ptr", "g_ptr",
                        "gscale_ptr", "du_ptr")),
        constexprs={"PUSH_EXP": push_exp, "ONE_CHUNK": one_chunk, "ONE_OUT": one_out,
                    "PRECISION": _precision(dtype, precision),
                    "BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_D": bd, "BLOCK_DO": bdo},
        num_warps=NUM_WARPS,
        num_stages=NUM_STAGES,
        ieee=precision == "ieee",
    )


#: fp32 ``input_precision`` values a caller may ask for ("ieee" is the default; fp16/bf16 inputs run
#: on tensor cores whatever is asked, fp64 is always "ieee")
PRECISIONS = ("ieee", "tf32", "tf32x3")


_PUSH = (True, False)
register(_conr_fwd_kernel, [_fwd_config(dt, p, x, o) for dt, p in FWD_TILES
                            for x in _PUSH for o in (True, False)])
register(_conr_bwd_kernel, [_bwd_config(dt, p, x, oc, oo) for dt, p in BWD_TILES
                            for x in _PUSH for oc, oo in ((True, True), (False, False))])
# the held backward tile covers every D ≤ the streamed tile's BLOCK_DO (so a (False, True) config
# would never launch and is not registered)
assert all(BWD_HELD[k][2] >= BWD_TILES[k][3] for k in BWD_TILES)

#: input dtypes the kernels take
DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _names(z, precision: str):
    dt = str(z.dtype).split(".")[-1]
    return dt, (precision if dt == "float32" else "ieee")


def conr_fwd(z, inv, y, yh, loga, *, w: float, temperature: float, e: float, push_exp: bool,
             keep_self: bool, precision: str = "ieee"):
    """Per-row statistics ``[4, M]`` (fp32; fp64 for fp64 ``z``): ``(log Σ_j e^{A_ij}, Σ P·s, |P|,
    |N|)``.

    Args:
        z: ``[M, D]`` fp16/bf16/fp32/fp64, unit stride along D (the raw features, not normalised).
        inv, y, yh, loga: ``[M]`` contiguous (fp32; fp64 for fp64 ``z``):
            ``1/max(‖z_i‖, 1e-12)``, labels, detached predictions, ``log a_i`` (``−inf`` for a zero
            weight; zeros without weights).
        precision: fp32 ``input_precision`` of the similarity dots (``"ieee"``, ``"tf32"``,
            ``"tf32x3"``); ignored for other dtypes.
    """
    m, d = z.shape
    dt, prec = _names(z, precision)
    out = torch.empty((4, m), dtype=inv.dtype, device=z.device)
    if m == 0:
        return out
    cfg = pick(_conr_fwd_kernel, (dt, prec, push_exp, d <= FWD_HELD[dt, prec][2]))
    grid = (triton.cdiv(m, cfg.constexprs["BLOCK_M"]),)
    with device_guard(z):
        _conr_fwd_kernel[grid](z, inv, y, yh, loga, out, m, d, z.stride(0),
                               *_scalars(dt, w, temperature, e), int(keep_self),
                               num_warps=cfg.num_warps, num_stages=cfg.num_stages, **cfg.constexprs)
    return out


def conr_bwd(z, inv, y, yh, loga, logd, q, g, gscale, *, w: float, temperature: float, e: float,
             push_exp: bool, keep_self: bool, precision: str = "ieee"):
    """``dL/du [M, D]`` (fp32; fp64 for fp64 ``z``) before the backward through the L2 normalisation.

    ``logd``, ``q``, ``g``: ``[M]`` saved row statistics (``g`` already multiplied by the incoming
    gradient and divided by ``gscale``, a one-element tensor ``max|g|``); the rest as :func:`conr_fwd`.
    """
    m, d = z.shape
    dt, prec = _names(z, precision)
    held = one_out = d <= BWD_HELD[dt, prec][2]
    # the multi-chunk path accumulates into du across column tiles: it must start at zero
    du = (torch.empty if one_out else torch.zeros)((m, d), dtype=inv.dtype, device=z.device)
    if m == 0:
        return du
    cfg = pick(_conr_bwd_kernel, (dt, prec, push_exp, held, one_out))
    bm = cfg.constexprs["BLOCK_M"]
    grid = (triton.cdiv(m, bm),)
    with device_guard(z):
        _conr_bwd_kernel[grid](z, inv, y, yh, loga, logd, q, g, gscale, du, m, d, z.stride(0),
                               *_scalars(dt, w, temperature, e), int(keep_self),
                               num_warps=cfg.num_warps, num_stages=cfg.num_stages, **cfg.constexprs)
    return du
