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

from ._launch import device_guard
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
    n_chunks = triton.cdiv(n, CHUNK)
    n_dblk = triton.cdiv(d, ccfg.constexprs["BLOCK_D"])
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
