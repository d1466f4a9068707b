"""Triton kernels of ConR, flash-attention style (spec conr_ranksim_bmse.md §1.10): nothing ``M×M`` is
stored, per-row statistics are O(M).

Both kernels read the *raw* features ``z [M, D]`` (input dtype) and the inverse row norms
``inv [M]`` (fp32) and form ``s_ij = (z_i·z_j)·inv_i·inv_j/τ`` — the dot on tensor cores (fp16/bf16
in, fp32 accumulate; fp32 in with ``input_precision="ieee"``, never TF32), so the forward never rounds
the normalised features to a low precision. Labels/predictions are 1-D fp32 ``y``, ``ŷ``; masks are
built per tile: ``P = |Δy| ≤ w`` (the diagonal excluded unless ``keep_self``), ``N = |Δy| > w and
|Δŷ| ≤ w``. Columns ``j ≥ M`` are masked out of every term; every offset is int64.

* ``_conr_fwd_kernel`` (grid: row blocks): one program owns an anchor tile of ``BLOCK_M`` rows (held
  in registers over the whole D when ``D ≤ BLOCK_D`` — ``ONE_CHUNK`` — else re-read in ``BLOCK_D``
  chunks per column tile, from L1/L2: holding ``64 × D`` in registers spilled),
  streams column tiles of ``BLOCK_N`` rows, and writes per row ``E_i = Σ_j exp(A_ij − c_i)`` (``A = s``
  on positives, ``s + log S_ij`` on negatives: ``log S = log a_i + e·Δy`` (``PUSH_EXP``) or
  ``log a_i + log(e·Δy)``; ``c_i`` is the per-row shift of the spec's correction, computed by the
  launcher exactly as the CPU path does), ``Σ_j P_ij s_ij``, ``|P_i|``, ``|N_i|`` (fp32, ``[4, M]``).
* ``_conr_bwd_kernel`` (grid: row blocks × output column chunks of ``BLOCK_DO``): recomputes ``s`` per
  tile and, from the saved row statistics of **both** sides (``log D``, ``1/|P|``, the row factor
  ``g``), the symmetric ``H_ij = G_ij + G_ji`` with ``G_ij = g_i·[(P_ij + N_ij S_ij) e^{s_ij}/D_i −
  P_ij/|P_i|]`` elementwise in the ``[I, J]`` tile, then ``dU_I += H·u_J`` (``u_J = z_J·inv_J`` in the
  input dtype). Each program owns its output rows: deterministic, no atomics. ``g`` arrives divided by
  ``max|g|`` (``gscale``) so ``H`` is O(1) before the cast to fp16/bf16 (no subnormal underflow at
  large M) and the result is rescaled by ``gscale/τ`` at the store.

FLOPs per call: forward ``2·M²·D``; backward ``2·M²·D·(1 + ⌈D/BLOCK_DO⌉)`` (the similarity is
recomputed once per output column chunk). Bytes: forward reads ``z`` ``⌈M/BLOCK_M⌉`` times (from L2
after the first) plus O(M); backward reads it ``⌈M/BLOCK_M⌉·(1 + ⌈D/BLOCK_DO⌉)`` times and writes
``dU`` once (fp32).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ._registry import TRITON_DTYPE, KernelConfig, pick, register

NUM_WARPS = 8
NUM_STAGES = 1
#: (BLOCK_M, BLOCK_N, BLOCK_D, BLOCK_DO) per input dtype, 8 warps, 1 stage: the widest tiles found
#: without spills on sm_80 and sm_90 (2 stages, 4 warps, BLOCK_D = 64, or an anchor tile held in
#: registers in the backward all spilled: the mask/exponent tile math is register heavy). The
#: forward's column tile is ``FWD_BLOCK_N`` × ``FWD_BLOCK_D`` (64 × 32 and 64 × 16 spilled 8-24 B in
#: some forward configs, the linear pushing's log mostly).
TILES = {
    "float16": (64, 64, 32, 64),
    "bfloat16": (64, 64, 32, 64),
    "float32": (64, 64, 32, 64),
}
FWD_BLOCK_N, FWD_BLOCK_D = 32, 32


@triton.jit
def _sim_tile(z_ptr, rows, row_in, cols, col_in, d, stride_z, dk,
              IEEE: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr):
    """Device helper: raw dot products ``z_rows · z_colsᵀ`` [BLOCK_M, BLOCK_N] in fp32, over D in
    ``BLOCK_D`` chunks (masked)."""
    acc = tl.zeros([BLOCK_M, BLOCK_N], dtype=tl.float32)
    d0 = d * 0
    while d0 < d:
        dd = d0 + dk
        d_in = dd < d
        a_c = tl.load(z_ptr + rows[:, None] * stride_z + dd[None, :],
                      mask=row_in[:, None] & d_in[None, :], other=0.0)
        b_c = tl.load(z_ptr + cols[:, None] * stride_z + dd[None, :],
                      mask=col_in[:, None] & d_in[None, :], other=0.0)
        if IEEE:
            acc = tl.dot(a_c, tl.trans(b_c), acc, input_precision="ieee")
        else:
            acc = tl.dot(a_c, tl.trans(b_c), acc)
        d0 += BLOCK_D
    return acc


@triton.jit
def _tile_logits(acc, inv_i, inv_j, y_i, y_j, yh_i, yh_j, li, lj, i0, j0, row_in, col_in,
                 w, inv_tau, e, keep_self, PUSH_EXP: tl.constexpr):
    """Device helper: similarities ``s``, the positive/negative masks and the unweighted logits
    ``a`` (``s`` on positives, the pushing term on negatives, −inf elsewhere) of one tile."""
    s = acc * inv_i[:, None] * inv_j[None, :] * inv_tau
    dy = tl.abs(y_i[:, None] - y_j[None, :])
    both = row_in[:, None] & col_in[None, :]
    # diagonal test on int32 tile-local offsets (row ids never reach 2**31)
    not_self = (li[:, None] - lj[None, :] != (j0 - i0).to(tl.int32)) | (keep_self != 0)
    pos = (dy <= w) & both & not_self
    neg = (dy > w) & (tl.abs(yh_i[:, None] - yh_j[None, :]) <= w) & both
    if PUSH_EXP:
        push = dy * e + s
    else:
        push = tl.log(dy * e) + s
    a = tl.where(pos, s, tl.where(neg, push, float("-inf")))
    return s, a, pos, neg, both


@triton.jit
def _conr_fwd_kernel(
    z_ptr, inv_ptr, y_ptr, yh_ptr, loga_ptr, c_ptr, out_ptr,
    m, d, stride_z, w, inv_tau, e, keep_self,
    PUSH_EXP: tl.constexpr,
    ONE_CHUNK: tl.constexpr,
    IEEE: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
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
    c_i = tl.load(c_ptr + rows, mask=row_in, other=0.0)
    if ONE_CHUNK:
        a_tile = tl.load(z_ptr + rows[:, None] * stride_z + dk[None, :],
                         mask=row_in[:, None] & (dk < d)[None, :], other=0.0)
    big_e = tl.zeros([BLOCK_M], dtype=tl.float32)
    sps = tl.zeros([BLOCK_M], dtype=tl.float32)
    npos = tl.zeros([BLOCK_M], dtype=tl.float32)
    nneg = tl.zeros([BLOCK_M], dtype=tl.float32)
    # while loops: the interpreter (numpy >= 2.4) cannot iterate range() over a runtime scalar
    j0 = m * 0
    while j0 < m:
        cols = j0 + lj.to(tl.int64)
        col_in = cols < m
        acc = tl.zeros([BLOCK_M, BLOCK_N], dtype=tl.float32)
        if ONE_CHUNK:
            b_tile = tl.load(z_ptr + cols[:, None] * stride_z + dk[None, :],
                             mask=col_in[:, None] & (dk < d)[None, :], other=0.0)
            if IEEE:
                acc = tl.dot(a_tile, tl.trans(b_tile), acc, input_precision="ieee")
            else:
                acc = tl.dot(a_tile, tl.trans(b_tile), acc)
        else:
            acc = _sim_tile(z_ptr, rows, row_in, cols, col_in, d, stride_z, dk,
                            IEEE, BLOCK_M, BLOCK_N, BLOCK_D)
        inv_j = tl.load(inv_ptr + cols, mask=col_in, other=0.0)
        y_j = tl.load(y_ptr + cols, mask=col_in, other=0.0)
        yh_j = tl.load(yh_ptr + cols, mask=col_in, other=0.0)
        s, a, pos, neg, both = _tile_logits(acc, inv_i, inv_j, y_i, y_j, yh_i, yh_j, li, lj, i0, j0,
                                            row_in, col_in, w, inv_tau, e, keep_self, PUSH_EXP)
        a = a + tl.where(neg, loga_i[:, None], 0.0)  # pushing weight a_i on negatives
        big_e += tl.sum(tl.exp(a - c_i[:, None]), axis=1)
        sps += tl.sum(tl.where(pos, s, 0.0), axis=1)
        npos += tl.sum(pos.to(tl.float32), axis=1)
        nneg += tl.sum(neg.to(tl.float32), axis=1)
        j0 += BLOCK_N
    tl.store(out_ptr + rows, big_e, mask=row_in)
    tl.store(out_ptr + m + rows, sps, mask=row_in)
    tl.store(out_ptr + 2 * m + rows, npos, mask=row_in)
    tl.store(out_ptr + 3 * m + rows, nneg, mask=row_in)


@triton.jit
def _conr_bwd_kernel(
    z_ptr, inv_ptr, y_ptr, yh_ptr, loga_ptr, logd_ptr, q_ptr, g_ptr, gscale_ptr, du_ptr,
    m, d, stride_z, w, inv_tau, e, keep_self,
    PUSH_EXP: tl.constexpr,
    IEEE: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_D: tl.constexpr,
    BLOCK_DO: tl.constexpr,
):
    pid = tl.program_id(0).to(tl.int64)
    pid_o = tl.program_id(1).to(tl.int64)
    i0 = pid * BLOCK_M
    li = tl.arange(0, BLOCK_M)
    lj = tl.arange(0, BLOCK_N)
    rows = i0 + li.to(tl.int64)
    row_in = rows < m
    dk = tl.arange(0, BLOCK_D).to(tl.int64)
    do = pid_o * BLOCK_DO + tl.arange(0, BLOCK_DO).to(tl.int64)
    do_in = do < d
    inv_i = tl.load(inv_ptr + rows, mask=row_in, other=0.0)
    y_i = tl.load(y_ptr + rows, mask=row_in, other=0.0)
    yh_i = tl.load(yh_ptr + rows, mask=row_in, other=0.0)
    loga_i = tl.load(loga_ptr + rows, mask=row_in, other=0.0)
    logd_i = tl.load(logd_ptr + rows, mask=row_in, other=float("inf"))
    q_i = tl.load(q_ptr + rows, mask=row_in, other=0.0)
    g_i = tl.load(g_ptr + rows, mask=row_in, other=0.0)
    du = tl.zeros([BLOCK_M, BLOCK_DO], dtype=tl.float32)
    # while loops: the interpreter (numpy >= 2.4) cannot iterate range() over a runtime scalar
    j0 = m * 0
    while j0 < m:
        cols = j0 + lj.to(tl.int64)
        col_in = cols < m
        acc = _sim_tile(z_ptr, rows, row_in, cols, col_in, d, stride_z, dk,
                        IEEE, BLOCK_M, BLOCK_N, BLOCK_D)
        inv_j = tl.load(inv_ptr + cols, mask=col_in, other=0.0)
        y_j = tl.load(y_ptr + cols, mask=col_in, other=0.0)
        yh_j = tl.load(yh_ptr + cols, mask=col_in, other=0.0)
        loga_j = tl.load(loga_ptr + cols, mask=col_in, other=0.0)
        logd_j = tl.load(logd_ptr + cols, mask=col_in, other=float("inf"))
        q_j = tl.load(q_ptr + cols, mask=col_in, other=0.0)
        g_j = tl.load(g_ptr + cols, mask=col_in, other=0.0)
        s, a, pos, neg, both = _tile_logits(acc, inv_i, inv_j, y_i, y_j, yh_i, yh_j, li, lj, i0, j0,
                                            row_in, col_in, w, inv_tau, e, keep_self, PUSH_EXP)
        posf = pos.to(tl.float32)
        negf = neg.to(tl.float32)
        # row side G_ij (anchor i) and column side G_ji (anchor j), as the CPU path
        ar = a - logd_i[:, None] + negf * loga_i[:, None]
        ac = a - logd_j[None, :] + negf * loga_j[None, :]
        h = (tl.exp(ar) - posf * q_i[:, None]) * g_i[:, None]
        h += (tl.exp(ac) - posf * q_j[None, :]) * g_j[None, :]
        h = tl.where(both, h, 0.0)
        zj = tl.load(z_ptr + cols[:, None] * stride_z + do[None, :],
                     mask=col_in[:, None] & do_in[None, :], other=0.0)
        uj = (zj.to(tl.float32) * inv_j[:, None]).to(z_ptr.dtype.element_ty)
        if IEEE:
            du = tl.dot(h.to(z_ptr.dtype.element_ty), uj, du, input_precision="ieee")
        else:
            du = tl.dot(h.to(z_ptr.dtype.element_ty), uj, du)
        j0 += BLOCK_N
    gs = tl.load(gscale_ptr)
    du = du * (gs * inv_tau)
    tl.store(du_ptr + rows[:, None] * d + do[None, :], du, mask=row_in[:, None] & do_in[None, :])


def _sig(dtype: str, names, acc_names):
    t = TRITON_DTYPE[dtype]
    sig = {"z_ptr": f"*{t}"}
    for n in acc_names:
        sig[n] = "*fp32"
    for n in ("m", "d", "stride_z"):
        sig[n] = "i64"
    for n in ("w", "inv_tau", "e"):
        sig[n] = "fp32"
    sig["keep_self"] = "i32"
    for n in names:
        sig[n] = "constexpr"
    return sig


def _fwd_config(dtype: str, push_exp: bool, one_chunk: bool) -> KernelConfig:
    bm, _, _, _ = TILES[dtype]
    bn, bd = FWD_BLOCK_N, FWD_BLOCK_D
    return KernelConfig(
        key=(dtype, push_exp, one_chunk),
        signature=_sig(dtype, ("PUSH_EXP", "ONE_CHUNK", "IEEE", "BLOCK_M", "BLOCK_N", "BLOCK_D"),
                       ("inv_ptr", "y_ptr", "yh_ptr", "loga_ptr", "c_ptr", "out_ptr")),
        constexprs={"PUSH_EXP": push_exp, "ONE_CHUNK": one_chunk, "IEEE": dtype == "float32",
                    "BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_D": bd},
        num_warps=NUM_WARPS,
        num_stages=NUM_STAGES,
    )


def _bwd_config(dtype: str, push_exp: bool) -> KernelConfig:
    bm, bn, bd, bdo = TILES[dtype]
    return KernelConfig(
        key=(dtype, push_exp),
        signature=_sig(dtype, ("PUSH_EXP", "IEEE", "BLOCK_M", "BLOCK_N", "BLOCK_D",
                               "BLOCK_DO"),
                       ("inv_ptr", "y_ptr", "yh_ptr", "loga_ptr", "logd_ptr", "q_ptr", "g_ptr",
                        "gscale_ptr", "du_ptr")),
        constexprs={"PUSH_EXP": push_exp, "IEEE": dtype == "float32",
                    "BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_D": bd, "BLOCK_DO": bdo},
        num_warps=NUM_WARPS,
        num_stages=NUM_STAGES,
    )


_FLAGS = [(p, o) for p in (True, False) for o in (True, False)]
register(_conr_fwd_kernel, [_fwd_config(dt, p, o) for dt in TILES for p, o in _FLAGS])
register(_conr_bwd_kernel, [_bwd_config(dt, p) for dt in TILES for p in (True, False)])

#: input dtypes the kernels take (fp64 runs the streaming PyTorch path, see dirfast.ops.conr)
DTYPES = tuple(getattr(torch, k) for k in TILES)


def _key(z, push_exp: bool):
    dt = str(z.dtype).split(".")[-1]
    return (dt, push_exp, z.shape[1] <= FWD_BLOCK_D)


def conr_fwd(z, inv, y, yh, loga, c, *, w: float, temperature: float, e: float, push_exp: bool,
             keep_self: bool):
    """Per-row sums ``[4, M]`` fp32: ``(E, Σ P·s, |P|, |N|)``.

    Args:
        z: ``[M, D]`` fp16/bf16/fp32, unit stride along D (the raw features, not normalised).
        inv, y, yh, loga, c: ``[M]`` fp32 contiguous: ``1/max(‖z_i‖, 1e-12)``, labels, detached
            predictions, ``log a_i`` (clamped; zeros without weights), the per-row shift ``c_i``.
    """
    m, d = z.shape
    out = torch.empty((4, m), dtype=torch.float32, device=z.device)
    if m == 0:
        return out
    cfg = pick(_conr_fwd_kernel, _key(z, push_exp))
    grid = (triton.cdiv(m, cfg.constexprs["BLOCK_M"]),)
    _conr_fwd_kernel[grid](z, inv, y, yh, loga, c, out, m, d, z.stride(0), float(w),
                           1.0 / float(temperature), float(e), int(keep_self),
                           num_warps=cfg.num_warps, num_stages=cfg.num_stages, **cfg.constexprs)
    return out


def conr_bwd(z, inv, y, yh, loga, logd, q, g, gscale, *, w: float, temperature: float, e: float,
             push_exp: bool, keep_self: bool):
    """``dL/du [M, D]`` fp32 (before the backward through the L2 normalisation).

    ``logd``, ``q``, ``g``: ``[M]`` fp32 saved row statistics (``g`` already multiplied by the
    incoming gradient and divided by ``gscale``, a one-element fp32 tensor ``max|g|``).
    """
    m, d = z.shape
    du = torch.empty((m, d), dtype=torch.float32, device=z.device)
    if m == 0:
        return du
    cfg = pick(_conr_bwd_kernel, _key(z, push_exp)[:2])
    c = cfg.constexprs
    grid = (triton.cdiv(m, c["BLOCK_M"]), triton.cdiv(d, c["BLOCK_DO"]))
    _conr_bwd_kernel[grid](z, inv, y, yh, loga, logd, q, g, gscale, du, m, d, z.stride(0), float(w),
                           1.0 / float(temperature), float(e), int(keep_self),
                           num_warps=cfg.num_warps, num_stages=cfg.num_stages, **c)
    return du
