"""Triton kernels of the FDS per-bin feature statistics (count, mean, M2), deterministic, no atomics.

Layout. The launcher sorts the row ids by bin (``torch.sort(stable=True)`` of the keys; ignored rows get
key ``B`` and sort last) and builds the segment offsets ``off[b] = first sorted row of bin b``
(``B + 2`` entries, from an integer ``index_add_`` + ``cumsum``: no host sync). Two kernels follow, with
grids that depend only on the shapes (``N``, ``D``, ``B``), never on the data:

1. ``_fds_stats_chunk_kernel``, grid ``(cdiv(N, CHUNK), cdiv(D, BLOCK_D))``: program ``(c, j)`` takes the
   sorted rows ``[c·CHUNK, (c+1)·CHUNK)`` — which may span several bins — and, for every bin ``b``
   meeting the chunk, the *piece* of the bin inside the chunk: it gathers the piece's rows (through the
   permutation, ``ROWS`` rows × ``BLOCK_D`` columns per step), computes each tile's mean and squared
   deviations (two passes over registers) and merges the tiles into the piece with Chan's formula. It
   writes the piece's ``(mean, M2)`` to partial row ``c + b``: piece ``(c, b)`` and ``(c', b')`` with
   ``(c, b) != (c', b')`` never share ``c + b`` because sorted bins do not decrease with ``c``, so the
   partial buffers have ``cdiv(N, CHUNK) + B`` rows (O((N/CHUNK + B)·D) memory) and no two programs
   write the same place. A bin holding every row is spread over all ``cdiv(N, CHUNK)`` programs.
2. ``_fds_stats_merge_kernel``, grid ``(B, cdiv(D, BLOCK_D))``: program ``(b, j)`` merges bin ``b``'s
   pieces (chunks ``off[b] // CHUNK`` .. ``cdiv(off[b+1], CHUNK) − 1``) in chunk order, ``PIECES`` at a
   time (the group formula ``n = Σnᵢ, μ = Σnᵢμᵢ/n, M2 = Σ(M2ᵢ + nᵢ(μᵢ − μ)²)`` over a tile, then Chan
   into the running result). Piece counts come from the offsets, not from memory. Empty bins get 0, 0.

Accuracy: all statistics are computed on features **shifted by the bin's first sorted row**
(``y = x − x[first row of b]``, per column; exact by Sterbenz's lemma when the values are within a
factor 2 of each other), which removes the cancellation of large means (mean/std = 1e4 keeps fp32
variance to ~1e-7 relative), and the shift is added back once at the end. Arithmetic in fp32 (fp64 for
fp64 inputs); offsets and row ids int64.

Bytes (fp32, per call): the features once (gathered row pieces of ``BLOCK_D`` contiguous elements) +
the sort of the ``N`` keys + partials ``2·(N/CHUNK + B)·D`` written and read once + ``2·B·D`` output:
with ``CHUNK = 256`` the partials add ≤ ``2·4/256`` of the feature bytes (+ the ``B`` rows).
"""

from __future__ import annotations

import os

import torch
import triton
import triton.language as tl

from ._launch import cdiv, device_guard
from ._registry import TRITON_DTYPE, KernelConfig, pick, register

CHUNK = 256  # sorted rows per chunk program
NUM_WARPS = 4
# (BLOCK_D, ROWS, PIECES) per dtype class: ROWS x BLOCK_D tiles of 4096 (fp64: 2048) elements
TILES = {
    "wide": {"BLOCK_D": 128, "ROWS": 32, "PIECES": 16},
    "narrow": {"BLOCK_D": 32, "ROWS": 128, "PIECES": 64},
}
TILES_FP64 = {
    "wide": {"BLOCK_D": 128, "ROWS": 16, "PIECES": 8},
    "narrow": {"BLOCK_D": 32, "ROWS": 64, "PIECES": 32},
}


@triton.jit
def _fds_stats_chunk_kernel(
    x_ptr,
    perm_ptr,
    keys_ptr,
    off_ptr,
    pmean_ptr,
    pm2_ptr,
    n_rows,
    dim,
    stride_x,
    num_bins,
    CHUNK: tl.constexpr,
    ROWS: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    c = tl.program_id(0).to(tl.int64)
    j = tl.program_id(1).to(tl.int64)
    acc_t = pmean_ptr.dtype.element_ty
    cols = j * BLOCK_D + tl.arange(0, BLOCK_D)
    cmask = cols < dim
    r0 = c * CHUNK
    r1 = tl.minimum(r0 + CHUNK, n_rows)
    b_first = tl.load(keys_ptr + r0)
    b_last = tl.minimum(tl.load(keys_ptr + r1 - 1), num_bins - 1)  # key num_bins = ignored rows
    b = b_first
    while b <= b_last:  # while, not range: dynamic bounds (the interpreter's range needs 0-d ints)
        seg0 = tl.load(off_ptr + b)
        s = tl.maximum(seg0, r0)
        e = tl.minimum(tl.load(off_ptr + b + 1), r1)
        # shift: the bin's first sorted row (same for every piece of the bin)
        first = tl.load(perm_ptr + seg0)
        shift = tl.load(x_ptr + first * stride_x + cols, mask=cmask, other=0).to(acc_t)
        n_run = s - s  # int64 zero
        mean = tl.zeros([BLOCK_D], dtype=acc_t)
        m2 = tl.zeros([BLOCK_D], dtype=acc_t)
        t = s
        while t < e:
            rows = t + tl.arange(0, ROWS)
            rmask = rows < e
            idx = tl.load(perm_ptr + rows, mask=rmask, other=0)
            m = rmask[:, None] & cmask[None, :]
            x = tl.load(x_ptr + idx[:, None] * stride_x + cols[None, :], mask=m, other=0).to(acc_t)
            y = tl.where(m, x - shift[None, :], 0.0)
            nt = tl.minimum(e - t, ROWS)
            nt_f = nt.to(acc_t)
            tmean = tl.sum(y, axis=0) / nt_f
            dev = tl.where(m, y - tmean[None, :], 0.0)
            tm2 = tl.sum(dev * dev, axis=0)
            n_new = n_run + nt
            n_new_f = n_new.to(acc_t)
            delta = tmean - mean
            mean = mean + delta * (nt_f / n_new_f)
            m2 = m2 + tm2 + delta * delta * (n_run.to(acc_t) * nt_f / n_new_f)
            n_run = n_new
            t += ROWS
        dst = (c + b) * dim + cols
        tl.store(pmean_ptr + dst, mean, mask=cmask)
        tl.store(pm2_ptr + dst, m2, mask=cmask)
        b += 1


@triton.jit
def _fds_stats_merge_kernel(
    x_ptr,
    perm_ptr,
    off_ptr,
    pmean_ptr,
    pm2_ptr,
    mean_ptr,
    m2_ptr,
    dim,
    stride_x,
    CHUNK: tl.constexpr,
    PIECES: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    b = tl.program_id(0).to(tl.int64)
    j = tl.program_id(1).to(tl.int64)
    acc_t = pmean_ptr.dtype.element_ty
    cols = j * BLOCK_D + tl.arange(0, BLOCK_D)
    cmask = cols < dim
    s = tl.load(off_ptr + b)
    e = tl.load(off_ptr + b + 1)
    c_first = s // CHUNK
    c_end = (e + CHUNK - 1) // CHUNK
    n_run = s - s
    mean = tl.zeros([BLOCK_D], dtype=acc_t)
    m2 = tl.zeros([BLOCK_D], dtype=acc_t)
    c0 = c_first
    while c0 < c_end:
        cs = c0 + tl.arange(0, PIECES)
        pvalid = cs < c_end
        npc = tl.minimum(e, (cs + 1) * CHUNK) - tl.maximum(s, cs * CHUNK)
        npc = tl.where(pvalid, tl.maximum(npc, 0), 0)
        npc_f = npc.to(acc_t)
        # only pieces with rows: an empty bin's one candidate piece was never written
        m = (npc > 0)[:, None] & cmask[None, :]
        src = (cs + b)[:, None] * dim + cols[None, :]
        pmean = tl.load(pmean_ptr + src, mask=m, other=0)
        pm2 = tl.load(pm2_ptr + src, mask=m, other=0)
        nt = tl.sum(npc, axis=0)
        nt_f = nt.to(acc_t)
        safe_nt = tl.maximum(nt_f, 1.0)
        tmean = tl.sum(npc_f[:, None] * pmean, axis=0) / safe_nt
        dev = tl.where(m, pmean - tmean[None, :], 0.0)
        tm2 = tl.sum(pm2 + npc_f[:, None] * dev * dev, axis=0)
        n_new = n_run + nt
        n_new_f = tl.maximum(n_new.to(acc_t), 1.0)
        delta = tmean - mean
        mean = mean + delta * (nt_f / n_new_f)
        m2 = m2 + tm2 + delta * delta * (n_run.to(acc_t) * nt_f / n_new_f)
        n_run = n_new
        c0 += PIECES
    # add the shift back (the bin's first sorted row); empty bins stay 0
    has = e > s
    first = tl.load(perm_ptr + s, mask=has, other=0)
    shift = tl.load(x_ptr + first * stride_x + cols, mask=cmask & has, other=0).to(acc_t)
    dst = b * dim + cols
    tl.store(mean_ptr + dst, mean + shift, mask=cmask)
    tl.store(m2_ptr + dst, m2, mask=cmask)


def _tiles(dtype: str, width: str):
    return (TILES_FP64 if dtype == "float64" else TILES)[width]


def _chunk_config(dtype: str, width: str) -> KernelConfig:
    t = TRITON_DTYPE[dtype]
    acc = "fp64" if dtype == "float64" else "fp32"
    tl_ = _tiles(dtype, width)
    return KernelConfig(
        key=(dtype, width),
        signature={"x_ptr": f"*{t}", "perm_ptr": "*i64", "keys_ptr": "*i64", "off_ptr": "*i64",
                   "pmean_ptr": f"*{acc}", "pm2_ptr": f"*{acc}", "n_rows": "i64", "dim": "i64",
                   "stride_x": "i64", "num_bins": "i64", "CHUNK": "constexpr", "ROWS": "constexpr",
                   "BLOCK_D": "constexpr"},
        constexprs={"CHUNK": CHUNK, "ROWS": tl_["ROWS"], "BLOCK_D": tl_["BLOCK_D"]},
        num_warps=NUM_WARPS,
    )


def _merge_config(dtype: str, width: str) -> KernelConfig:
    t = TRITON_DTYPE[dtype]
    acc = "fp64" if dtype == "float64" else "fp32"
    tl_ = _tiles(dtype, width)
    return KernelConfig(
        key=(dtype, width),
        signature={"x_ptr": f"*{t}", "perm_ptr": "*i64", "off_ptr": "*i64", "pmean_ptr": f"*{acc}",
                   "pm2_ptr": f"*{acc}", "mean_ptr": f"*{acc}", "m2_ptr": f"*{acc}", "dim": "i64",
                   "stride_x": "i64", "CHUNK": "constexpr", "PIECES": "constexpr",
                   "BLOCK_D": "constexpr"},
        constexprs={"CHUNK": CHUNK, "PIECES": tl_["PIECES"], "BLOCK_D": tl_["BLOCK_D"]},
        num_warps=NUM_WARPS,
    )


register(_fds_stats_chunk_kernel, [_chunk_config(d, w) for d in TRITON_DTYPE for w in TILES])
register(_fds_stats_merge_kernel, [_merge_config(d, w) for d in TRITON_DTYPE for w in TILES])


_INTERPRET = os.environ.get("TRITON_INTERPRET", "0") == "1"


def _scratch(shape, dtype, device):
    if _INTERPRET:
        return torch.full(shape, float("nan"), dtype=dtype, device=device)
    return torch.empty(shape, dtype=dtype, device=device)


def fds_bin_stats_fwd(features: torch.Tensor, keys: torch.Tensor, num_bins: int):
    """Sort the keys, build the segment offsets and launch the two kernels (on the features' CUDA
    device). Every argument is a tensor or an integer: nothing is copied from the host.

    Args:
        features: ``[N, D]`` with unit column stride, N >= 1, D >= 1 (any floating dtype).
        keys: ``[N]`` int64 bin ids with ignored rows already mapped to ``num_bins``.
    Returns:
        ``(count [B] int64, mean [B, D], m2 [B, D])``, mean/m2 fp32 (fp64 for fp64 features).
    """
    n, d = features.shape
    dev = features.device
    acc = torch.float64 if features.dtype == torch.float64 else torch.float32
    dtype = str(features.dtype).split(".")[-1]
    width = "narrow" if d <= 32 else "wide"
    ccfg = pick(_fds_stats_chunk_kernel, (dtype, width))
    mcfg = pick(_fds_stats_merge_kernel, (dtype, width))
    sorted_keys, perm = torch.sort(keys, stable=True)
    counts = torch.zeros(num_bins + 1, dtype=torch.int64, device=dev)
    counts.index_add_(0, keys, torch.ones_like(keys))  # integer: exact in any order
    off = torch.zeros(num_bins + 2, dtype=torch.int64, device=dev)
    torch.cumsum(counts, 0, out=off[1:])
    n_chunks = cdiv(n, CHUNK)
    n_dblk = cdiv(d, ccfg.constexprs["BLOCK_D"])
    # under the interpreter, NaN-filled scratch: a read of a partial no program wrote shows up in tests
    pmean = _scratch((n_chunks + num_bins, d), acc, dev)
    pm2 = _scratch((n_chunks + num_bins, d), acc, dev)
    stride = features.stride(0)
    mean = _scratch((num_bins, d), acc, dev)
    m2 = _scratch((num_bins, d), acc, dev)
    with device_guard(features):
        _fds_stats_chunk_kernel[(n_chunks, n_dblk)](
            features, perm, sorted_keys, off, pmean, pm2, n, d, stride, num_bins,
            num_warps=ccfg.num_warps, **ccfg.constexprs,
        )
        _fds_stats_merge_kernel[(num_bins, n_dblk)](
            features, perm, off, pmean, pm2, mean, m2, d, stride,
            num_warps=mcfg.num_warps, **mcfg.constexprs,
        )
    return counts[:num_bins], mean, m2


# ------------------------------------------------------------------------------------------------
# the FDS module's accumulation: reference shift, optional calibration, statistics and the fp64 Chan
# merge into the epoch partials, in three launches (torch.sort of the keys + two kernels)


@triton.jit
def _lower_bound(sk_ptr, n_rows, b):
    """First sorted row with key >= b (binary search over the sorted keys; scalar)."""
    lo = n_rows - n_rows
    hi = n_rows
    while lo < hi:
        mid = (lo + hi) // 2
        v = tl.load(sk_ptr + mid)
        go_right = v < b
        lo = tl.where(go_right, mid + 1, lo)
        hi = tl.where(go_right, hi, mid)
    return lo


@triton.jit
def _fds_acc_chunk_kernel(
    x_ptr,
    perm_ptr,
    sk_ptr,
    cal_ptr,
    scale_ptr,
    cshift_ptr,
    run_ptr,
    tracked_ptr,
    pcount_ptr,
    pmean_ptr,
    ref_ptr,
    qmean_ptr,
    qm2_ptr,
    n_rows,
    dim,
    stride_x,
    num_bins,
    num_cal,
    num_run,
    CHUNK: tl.constexpr,
    ROWS: tl.constexpr,
    BLOCK_D: tl.constexpr,
    CAL: tl.constexpr,
):
    c = tl.program_id(0).to(tl.int64)
    j = tl.program_id(1).to(tl.int64)
    acc_t = qmean_ptr.dtype.element_ty
    cols = j * BLOCK_D + tl.arange(0, BLOCK_D)
    cmask = cols < dim
    r0 = c * CHUNK
    r1 = tl.minimum(r0 + CHUNK, n_rows)
    # the chunk's sorted keys, held: a bin's rows in the chunk are counted, not searched for
    kr = r0 + tl.arange(0, CHUNK)
    kc = tl.load(sk_ptr + kr, mask=kr < r1, other=num_bins)
    b_first = tl.maximum(tl.load(sk_ptr + r0), 0)  # keys < 0 / >= num_bins: ignored rows
    b_last = tl.minimum(tl.load(sk_ptr + r1 - 1), num_bins - 1)
    # only the chunk's first bin may start in an earlier chunk: one binary search for its start
    seg_first = _lower_bound(sk_ptr, n_rows, b_first)
    b = b_first
    while b <= b_last:
        s = r0 + tl.sum((kc < b).to(tl.int64), axis=0)
        e = r0 + tl.sum((kc <= b).to(tl.int64), axis=0)
        seg0 = tl.where(b == b_first, seg_first, s)  # the bin's first sorted row
        if e > s:
            # the bin's reference row: its partial mean, else the running mean of a tracked bin, else
            # its first sorted row (calibrated) — rounded to the working precision
            pc = tl.load(pcount_ptr + b)
            in_run = b < num_run
            tr = tl.load(tracked_ptr + b, mask=in_run, other=0)
            use_p = pc > 0
            use_r = (pc <= 0) & (tr > 0)
            use_f = (pc <= 0) & (tr <= 0)
            ref_p = tl.load(pmean_ptr + b * dim + cols, mask=cmask & use_p, other=0).to(acc_t)
            ref_r = tl.load(run_ptr + b * dim + cols, mask=cmask & use_r, other=0).to(acc_t)
            first = tl.load(perm_ptr + seg0)
            ref_f = tl.load(x_ptr + first * stride_x + cols, mask=cmask & use_f, other=0).to(acc_t)
            if CAL:
                kf = tl.load(cal_ptr + first)
                kv = (kf >= 0) & (kf < num_cal) & use_f
                sf = tl.load(scale_ptr + kf * dim + cols, mask=cmask & kv, other=1).to(acc_t)
                tf = tl.load(cshift_ptr + kf * dim + cols, mask=cmask & kv, other=0).to(acc_t)
                ref_f = ref_f * sf + tf
            ref = tl.where(use_p, ref_p, tl.where(use_r, ref_r, ref_f))
            if s == seg0:  # the bin's first chunk publishes the reference for the merge kernel
                tl.store(ref_ptr + b * dim + cols, ref, mask=cmask)
            n_run = s - s
            mean = tl.zeros([BLOCK_D], dtype=acc_t)
            m2 = tl.zeros([BLOCK_D], dtype=acc_t)
            t = s
            while t < e:
                rows = t + tl.arange(0, ROWS)
                rmask = rows < e
                idx = tl.load(perm_ptr + rows, mask=rmask, other=0)
                m = rmask[:, None] & cmask[None, :]
                xv = tl.load(x_ptr + idx[:, None] * stride_x + cols[None, :], mask=m, other=0).to(acc_t)
                if CAL:
                    k = tl.load(cal_ptr + idx, mask=rmask, other=-1)
                    kv2 = ((k >= 0) & (k < num_cal))[:, None] & m
                    sv = tl.load(scale_ptr + k[:, None] * dim + cols[None, :], mask=kv2, other=1).to(acc_t)
                    tv = tl.load(cshift_ptr + k[:, None] * dim + cols[None, :], mask=kv2, other=0).to(acc_t)
                    xv = xv * sv + tv
                y = tl.where(m, xv - ref[None, :], 0.0)
                nt = tl.minimum(e - t, ROWS)
                nt_f = nt.to(acc_t)
                tmean = tl.sum(y, axis=0) / nt_f
                dev = tl.where(m, y - tmean[None, :], 0.0)
                tm2 = tl.sum(dev * dev, axis=0)
                n_new = n_run + nt
                n_new_f = n_new.to(acc_t)
                delta = tmean - mean
                mean = mean + delta * (nt_f / n_new_f)
                m2 = m2 + tm2 + delta * delta * (n_run.to(acc_t) * nt_f / n_new_f)
                n_run = n_new
                t += ROWS
            dst = (c + b) * dim + cols
            tl.store(qmean_ptr + dst, mean, mask=cmask)
            tl.store(qm2_ptr + dst, m2, mask=cmask)
        b += 1


@triton.jit
def _fds_acc_merge_kernel(
    sk_ptr,
    ref_ptr,
    qmean_ptr,
    qm2_ptr,
    pcount_ptr,
    pmean_ptr,
    pm2_ptr,
    n_rows,
    dim,
    CHUNK: tl.constexpr,
    PIECES: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    b = tl.program_id(0).to(tl.int64)
    acc_t = qmean_ptr.dtype.element_ty
    f64 = pmean_ptr.dtype.element_ty
    s = _lower_bound(sk_ptr, n_rows, b)
    e = _lower_bound(sk_ptr, n_rows, b + 1)
    if e > s:
        nb = e - s
        na = tl.load(pcount_ptr + b)
        na_f = na.to(f64)
        nb_f = nb.to(f64)
        n_f = na_f + nb_f
        wb = nb_f / n_f
        wab = na_f * nb_f / n_f
        c_first = s // CHUNK
        c_end = (e + CHUNK - 1) // CHUNK
        j = b - b
        while j * BLOCK_D < dim:  # while, not range: the interpreter's range needs 0-d ints
            cols = j * BLOCK_D + tl.arange(0, BLOCK_D)
            cmask = cols < dim
            n_run = s - s
            mean = tl.zeros([BLOCK_D], dtype=acc_t)
            m2 = tl.zeros([BLOCK_D], dtype=acc_t)
            c0 = c_first
            while c0 < c_end:
                cs = c0 + tl.arange(0, PIECES)
                pvalid = cs < c_end
                npc = tl.minimum(e, (cs + 1) * CHUNK) - tl.maximum(s, cs * CHUNK)
                npc = tl.where(pvalid, tl.maximum(npc, 0), 0)
                npc_f = npc.to(acc_t)
                m = (npc > 0)[:, None] & cmask[None, :]
                src = (cs + b)[:, None] * dim + cols[None, :]
                qmean = tl.load(qmean_ptr + src, mask=m, other=0)
                qm2 = tl.load(qm2_ptr + src, mask=m, other=0)
                nt = tl.sum(npc, axis=0)
                nt_f = nt.to(acc_t)
                safe_nt = tl.maximum(nt_f, 1.0)
                tmean = tl.sum(npc_f[:, None] * qmean, axis=0) / safe_nt
                dev = tl.where(m, qmean - tmean[None, :], 0.0)
                tm2 = tl.sum(qm2 + npc_f[:, None] * dev * dev, axis=0)
                n_new = n_run + nt
                n_new_f = tl.maximum(n_new.to(acc_t), 1.0)
                delta = tmean - mean
                mean = mean + delta * (nt_f / n_new_f)
                m2 = m2 + tm2 + delta * delta * (n_run.to(acc_t) * nt_f / n_new_f)
                n_run = n_new
                c0 += PIECES
            # fp64: add the reference back, then Chan-merge into the partials (BinStats.merge)
            ref = tl.load(ref_ptr + b * dim + cols, mask=cmask, other=0)
            mb = mean.to(f64) + ref.to(f64)
            qb = m2.to(f64)
            dst = b * dim + cols
            ma = tl.load(pmean_ptr + dst, mask=cmask, other=0)
            qa = tl.load(pm2_ptr + dst, mask=cmask, other=0)
            delta = mb - ma
            new_m = tl.where(na > 0, ma + delta * wb, mb)
            new_q = tl.where(na > 0, qa + qb + delta * delta * wab, qb)
            tl.store(pmean_ptr + dst, new_m, mask=cmask)
            tl.store(pm2_ptr + dst, new_q, mask=cmask)
            j += 1
        tl.store(pcount_ptr + b, na + nb)


# the accumulation kernels hold more live values (reference rows, the fp64 merge): smaller tiles
# than the statistics kernels' where those would spill (ahead-of-time tier: no stack)
ACC_TILES = {
    "wide": {"BLOCK_D": 128, "ROWS": 64, "PIECES": 16},
    "narrow": {"BLOCK_D": 32, "ROWS": 64, "PIECES": 64},
}
ACC_TILES_FP64 = {
    "wide": {"BLOCK_D": 128, "ROWS": 64, "PIECES": 4},
    "narrow": {"BLOCK_D": 32, "ROWS": 64, "PIECES": 32},
}
# warps of the chunk kernel: swept on sm_80/sm_90 for no stack (fewer warps spill 8-1,000 B here)
ACC_CHUNK_WARPS = {"wide": 8, "narrow": 2}


def _acc_tiles(dtype: str, width: str):
    return (ACC_TILES_FP64 if dtype == "float64" else ACC_TILES)[width]


def _acc_chunk_config(dtype: str, width: str, cal: bool) -> KernelConfig:
    t = TRITON_DTYPE[dtype]
    acc = "fp64" if dtype == "float64" else "fp32"
    tl_ = _acc_tiles(dtype, width)
    return KernelConfig(
        key=(dtype, width, cal),
        signature={"x_ptr": f"*{t}", "perm_ptr": "*i64", "sk_ptr": "*i64", "cal_ptr": "*i64",
                   "scale_ptr": f"*{acc}", "cshift_ptr": f"*{acc}", "run_ptr": f"*{acc}",
                   "tracked_ptr": "*i64", "pcount_ptr": "*i64", "pmean_ptr": "*fp64",
                   "ref_ptr": f"*{acc}", "qmean_ptr": f"*{acc}", "qm2_ptr": f"*{acc}", "n_rows": "i64",
                   "dim": "i64", "stride_x": "i64", "num_bins": "i64", "num_cal": "i64",
                   "num_run": "i64", "CHUNK": "constexpr", "ROWS": "constexpr",
                   "BLOCK_D": "constexpr", "CAL": "constexpr"},
        constexprs={"CHUNK": CHUNK, "ROWS": tl_["ROWS"], "BLOCK_D": tl_["BLOCK_D"], "CAL": cal},
        num_warps=ACC_CHUNK_WARPS[width],
    )


def _acc_merge_config(dtype: str, width: str) -> KernelConfig:
    acc = "fp64" if dtype == "float64" else "fp32"
    tl_ = _acc_tiles(dtype, width)
    return KernelConfig(
        key=(dtype, width),
        signature={"sk_ptr": "*i64", "ref_ptr": f"*{acc}", "qmean_ptr": f"*{acc}", "qm2_ptr": f"*{acc}",
                   "pcount_ptr": "*i64", "pmean_ptr": "*fp64", "pm2_ptr": "*fp64", "n_rows": "i64",
                   "dim": "i64", "CHUNK": "constexpr", "PIECES": "constexpr", "BLOCK_D": "constexpr"},
        constexprs={"CHUNK": CHUNK, "PIECES": tl_["PIECES"], "BLOCK_D": tl_["BLOCK_D"]},
        num_warps=NUM_WARPS,
    )


register(_fds_acc_chunk_kernel, [_acc_chunk_config(d, w, c) for d in TRITON_DTYPE for w in TILES
                                 for c in (False, True)])
register(_fds_acc_merge_kernel, [_acc_merge_config(d, w) for d in TRITON_DTYPE for w in TILES])


def fds_accumulate_fwd(features: torch.Tensor, keys: torch.Tensor, cal, scale, cshift,
                       run_ref: torch.Tensor, tracked: torch.Tensor, pcount: torch.Tensor,
                       pmean: torch.Tensor, pm2: torch.Tensor) -> None:
    """The FDS module's accumulation on the GPU (``dirfast.ops.fds_stats.fds_accumulate_paths``):
    ``torch.sort`` of the keys and two kernels; the segment offsets are binary searches of the
    sorted keys inside the kernels (no histogram, no cumsum), the reference rows are chosen in the
    chunk kernel (the bin's first chunk publishes them), and the merge kernel (one program per bin,
    looping over the columns) Chan-merges in fp64 into ``pcount``/``pmean``/``pm2`` in place.
    Nothing is copied from the host; grids depend on the shapes only.

    Args:
        features: ``[N, D]`` with unit column stride (any floating dtype); ``keys``: ``[N]`` int64
            (rows outside ``[0, K2)`` ignored); ``cal``/``scale``/``cshift``: calibration ids ``[N]``
            int64 and tables ``[K, D]`` of the working dtype, or ``None``; ``run_ref`` ``[Kr, D]``
            (converted to the working dtype), ``tracked`` ``[Kr]`` int64; partials ``pcount`` ``[K2]``
            int64, ``pmean``/``pm2`` ``[K2, D]`` float64 contiguous.
    """
    n, d = features.shape
    if n == 0:
        return
    dev = features.device
    acc = torch.float64 if features.dtype == torch.float64 else torch.float32
    dtype = str(features.dtype).split(".")[-1]
    width = "narrow" if d <= 32 else "wide"
    K2 = pcount.shape[0]
    use_cal = cal is not None
    ccfg = pick(_fds_acc_chunk_kernel, (dtype, width, use_cal))
    mcfg = pick(_fds_acc_merge_kernel, (dtype, width))
    keys = keys.to(torch.int64)
    sorted_keys, perm = torch.sort(keys, stable=True)
    run_ref = run_ref.to(acc).contiguous()
    tracked = tracked.to(torch.int64)
    if use_cal:
        cal = cal.to(torch.int64)
        scale, cshift = scale.to(acc).contiguous(), cshift.to(acc).contiguous()
    else:
        cal, scale, cshift = keys, run_ref, run_ref  # not read (CAL=False)
    n_chunks = cdiv(n, CHUNK)
    n_dblk = cdiv(d, ccfg.constexprs["BLOCK_D"])
    qmean = _scratch((n_chunks + K2, d), acc, dev)
    qm2 = _scratch((n_chunks + K2, d), acc, dev)
    ref = _scratch((K2, d), acc, dev)
    with device_guard(features):
        _fds_acc_chunk_kernel[(n_chunks, n_dblk)](
            features, perm, sorted_keys, cal, scale, cshift, run_ref, tracked, pcount, pmean, ref,
            qmean, qm2, n, d, features.stride(0), K2, scale.shape[0] if use_cal else 0,
            run_ref.shape[0], num_warps=ccfg.num_warps, **ccfg.constexprs,
        )
        _fds_acc_merge_kernel[(K2,)](
            sorted_keys, ref, qmean, qm2, pcount, pmean, pm2, n, d,
            num_warps=mcfg.num_warps, **mcfg.constexprs,
        )


# ------------------------------------------------------------------------------------------------
# bin ids of the labels (dirfast.Bins semantics) in one launch, for the FDS module


@triton.jit
def _fds_bin_ids_kernel(y_ptr, edges_ptr, out_ptr, n, num_inner, steps, BLOCK: tl.constexpr):
    """``out[i] = #{1 <= k <= num_inner : edges[k] <= y[i]}`` (= ``searchsorted(edges[1:-1], y,
    right=True)``, the :class:`dirfast.Bins` definition, labels below/above the range clamped into
    the edge bins); NaN → ``num_inner`` (the last bin). Comparisons in the edges' dtype (the labels'
    dtype: float32 or float64); ``steps`` binary-search steps (``num_inner.bit_length()``)."""
    pid = tl.program_id(0).to(tl.int64)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    y = tl.load(y_ptr + offs, mask=m, other=0)
    lo = tl.zeros([BLOCK], dtype=tl.int64)
    hi = tl.zeros([BLOCK], dtype=tl.int64) + num_inner
    step = n - n
    while step < steps:
        active = lo < hi
        mid = (lo + hi) // 2
        e = tl.load(edges_ptr + 1 + mid, mask=m & active, other=0)
        right = active & (e <= y)
        lo = tl.where(right, mid + 1, lo)
        hi = tl.where(active & (e > y), mid, hi)
        hi = tl.where(y != y, lo, hi)  # NaN: stop (set below)
        step += 1
    ids = tl.where(y != y, num_inner, lo)
    tl.store(out_ptr + offs, ids, mask=m)


BIN_IDS_BLOCK = 1024


def _bin_ids_config(dtype: str) -> KernelConfig:
    t = TRITON_DTYPE[dtype]
    return KernelConfig(
        key=(dtype,),
        signature={"y_ptr": f"*{t}", "edges_ptr": f"*{t}", "out_ptr": "*i64", "n": "i64",
                   "num_inner": "i64", "steps": "i64", "BLOCK": "constexpr"},
        constexprs={"BLOCK": BIN_IDS_BLOCK},
        num_warps=NUM_WARPS,
    )


register(_fds_bin_ids_kernel, [_bin_ids_config(d) for d in ("float32", "float64")])


def fds_bin_ids_fwd(labels: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """Bin ids ``[N]`` int64 of float32/float64 ``labels`` ``[N]`` against ``edges`` ``[K + 1]`` of
    the labels' dtype on their device (``Bins._edges_on``): one launch."""
    n = labels.shape[0]
    out = torch.empty(n, dtype=torch.int64, device=labels.device)
    if n == 0:
        return out
    cfg = pick(_fds_bin_ids_kernel, (str(labels.dtype).split(".")[-1],))
    num_inner = edges.shape[0] - 2
    with device_guard(labels):
        _fds_bin_ids_kernel[(cdiv(n, BIN_IDS_BLOCK),)](
            labels, edges, out, n, num_inner, max(num_inner, 0).bit_length(),
            num_warps=cfg.num_warps, **cfg.constexprs,
        )
    return out
