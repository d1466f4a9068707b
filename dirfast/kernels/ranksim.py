"""Triton kernels of RankSim's CUDA route (``dirfast::ranksim``, blackbox ranks; semantics:
:mod:`dirfast.reference.ranksim`, layout: :mod:`dirfast.ops.ranksim`).

``K`` = the static subset size, ``n`` = ``max(num_rows − (0 if include_self else 1), 1)``; every
kernel reads ``num_rows`` from device memory (no host sync) and masks the padding slots.

Forward (5 launches + 1 ``torch.sort``):

* ``_rs_unit_kernel`` (grid ``K``): gathers ``x = features[rows[i]]`` (the acc dtype), writes
  ``unit[i] = [x / max(‖x‖, 1e-12) | 1/max(‖x‖, 1e-12)]`` and ``yk[i] = labels[rows[i]]``;
* ``torch.mm(u, uᵀ)`` into ``saved[0] = S``;
* ``_rs_keys_kernel`` (grid ``K``): the masked sort keys ``[2, K, K]`` = (``S``, ``−|y_i − y_j|``),
  ``−inf`` outside the column mask ``j < num_rows`` (and ``j ≠ i`` unless ``include_self``);
* one stable ``torch.sort`` of the ``[2K, K]`` keys along dim 1;
* ``_rs_rank_kernel`` (grid ``K``): program ``i`` scatters the per-position ranks ``(K − p)/n`` of
  rows ``i`` and ``K + i`` of the permutation into ``saved[1]`` (``r^z``) and ``saved[2]`` (``r^y``,
  scratch), a CTA barrier, then ``d = r^z − r^y`` on the valid entries (into ``saved[2]``) and
  ``ℓ_i = Σ_j d_ij²/n``;
* ``_rs_reduce_kernel`` (one program, fixed order: deterministic): sum / mean over ``ℓ`` or the
  ``[B]`` output (zero, then ``ℓ_i`` at ``rows[i]``), in the features' dtype.

Backward (4 launches + 1 ``torch.sort``; + a ``zeros`` when ``K < B``):

* ``_rs_bwd_keys_kernel`` (grid ``K``): ``S + λ·d·(2ĝ_i/n)`` masked alike (``ĝ_i`` = the incoming
  gradient, ``/num_rows`` for the mean, ``grad[rows[i]]`` for ``"none"``);
* one stable ``torch.sort``;
* ``_rs_bwd_rank_kernel`` (grid ``K``): scatters ``r'``, a CTA barrier, ``G_ij = (r'_ij −
  r^z_ij)/(λ + 1e-8)`` on the valid entries, written as row ``i`` of ``G`` and column ``i`` of
  ``Gᵀ`` in the stacked buffer ``[2K, K]`` = ``[G; Gᵀ]`` (each program owns its row and its column:
  no atomics);
* ``torch.mm([G; Gᵀ], u)`` ``[2K, D]`` (one GEMM for ``G·u`` and ``Gᵀ·u``);
* ``_rs_unit_bwd_kernel`` (grid ``K``): ``du = (G·u)_i + (Gᵀ·u)_i``, the normalisation's backward
  ``(du − u·(u·du))/max(‖x‖, eps)`` (``du/eps`` for a clamped all-zero row), stored at
  ``out[rows[i]]`` in the features' dtype.

Divisions and square roots are correctly rounded (``div_rn`` / ``sqrt_rn``: fp32 ``/`` is
approximate on the GPU), so the ranks equal the PyTorch path's given the same similarities. fp64
scalars (λ, λ + 1e-8) travel as int64 bit patterns (:func:`dirfast.kernels._launch.fp64_bits`).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ..reference.ranksim import BLACKBOX_EPS
from ._launch import device_guard, fp64_bits
from ._device import div_rn as _div, f64 as _f64, sqrt_rn as _sqrt
from ._registry import TRITON_DTYPE, KernelConfig, pick, register

#: elements per loop step of every kernel (rows are streamed in chunks of BLOCK)
BLOCK = 1024
NUM_WARPS = 4
_RED = {"mean": 0, "sum": 1, "none": 2}


@triton.jit
def _n_eff(nrows_ptr, include_self, acc_ty: tl.constexpr):
    """Device helper: ``(num_rows, n)`` with ``n = max(num_rows − (1 − include_self), 1)``."""
    nr = tl.load(nrows_ptr)
    n = tl.maximum(nr - (1 - include_self), 1).to(acc_ty)
    return nr, n


@triton.jit
def _rs_unit_kernel(x_ptr, y_ptr, rows_ptr, unit_ptr, yk_ptr, d, stride_x, stride_y,
                    BLOCK: tl.constexpr):
    i = tl.program_id(0).to(tl.int64)
    acc_ty = unit_ptr.dtype.element_ty
    r = tl.load(rows_ptr + i)
    xrow = x_ptr + r * stride_x
    urow = unit_ptr + i * (d + 1)
    offs = tl.arange(0, BLOCK).to(tl.int64)
    ss = tl.zeros([BLOCK], dtype=acc_ty)
    j0 = d * 0
    while j0 < d:
        c = j0 + offs
        x = tl.load(xrow + c, mask=c < d, other=0.0).to(acc_ty)
        ss += x * x
        j0 += BLOCK
    # tl.full: the eps as a constant of the acc dtype (a bare 1e-12 literal is an fp32 constant,
    # 9.99999996e-13, which an fp64 row would inherit)
    den = tl.maximum(_sqrt(tl.sum(ss, axis=0)), tl.full([], 1e-12, acc_ty))
    j0 = d * 0
    while j0 < d:
        c = j0 + offs
        m = c < d
        x = tl.load(xrow + c, mask=m, other=0.0).to(acc_ty)
        tl.store(urow + c, _div(x, tl.zeros([BLOCK], dtype=acc_ty) + den), mask=m)
        j0 += BLOCK
    one = tl.full([BLOCK], 1.0, acc_ty)
    inv = _div(one, tl.zeros([BLOCK], dtype=acc_ty) + den)
    tl.store(urow + d + offs, inv, mask=offs < 1)
    tl.store(yk_ptr + i, tl.load(y_ptr + r * stride_y).to(acc_ty))


@triton.jit(do_not_specialize=["include_self"])
def _rs_keys_kernel(s_ptr, yk_ptr, nrows_ptr, keys_ptr, k, include_self, BLOCK: tl.constexpr):
    i = tl.program_id(0).to(tl.int64)
    acc_ty = keys_ptr.dtype.element_ty
    nr = tl.load(nrows_ptr)
    yi = tl.load(yk_ptr + i)
    offs = tl.arange(0, BLOCK).to(tl.int64)
    base = i * k
    kk = k * k
    j0 = k * 0
    while j0 < k:
        j = j0 + offs
        m = j < k
        col = (j < nr) & ((j != i) | (include_self != 0))
        s = tl.load(s_ptr + base + j, mask=m, other=0.0)
        yj = tl.load(yk_ptr + j, mask=m, other=0.0)
        ly = -tl.abs(yi - yj)
        tl.store(keys_ptr + base + j, tl.where(col, s, float("-inf")).to(acc_ty), mask=m)
        tl.store(keys_ptr + kk + base + j, tl.where(col, ly, float("-inf")).to(acc_ty), mask=m)
        j0 += BLOCK


@triton.jit(do_not_specialize=["include_self"])
def _rs_rank_kernel(perm_ptr, nrows_ptr, saved_ptr, rowloss_ptr, k, include_self,
                    BLOCK: tl.constexpr):
    i = tl.program_id(0).to(tl.int64)
    acc_ty = saved_ptr.dtype.element_ty
    nr, n = _n_eff(nrows_ptr, include_self, acc_ty)
    offs = tl.arange(0, BLOCK).to(tl.int64)
    kk = k * k
    rz_row = saved_ptr + kk + i * k
    ry_row = saved_ptr + 2 * kk + i * k
    p0 = k * 0
    while p0 < k:
        p = p0 + offs
        m = p < k
        val = _div((k - p).to(acc_ty), tl.zeros([BLOCK], dtype=acc_ty) + n)
        cz = tl.load(perm_ptr + i * k + p, mask=m, other=0)
        cy = tl.load(perm_ptr + (k + i) * k + p, mask=m, other=0)
        tl.store(rz_row + cz, val, mask=m)
        tl.store(ry_row + cy, val, mask=m)
        p0 += BLOCK
    tl.debug_barrier()  # the row's scattered ranks, written by other threads of this program
    acc = tl.zeros([BLOCK], dtype=acc_ty)
    j0 = k * 0
    while j0 < k:
        j = j0 + offs
        m = j < k
        ent = m & (j < nr) & ((j != i) | (include_self != 0)) & (i < nr)
        rz = tl.load(rz_row + j, mask=m, other=0.0)
        ry = tl.load(ry_row + j, mask=m, other=0.0)
        dd = tl.where(ent, rz - ry, 0.0)
        tl.store(ry_row + j, dd, mask=m)
        acc += dd * dd
        j0 += BLOCK
    tl.store(rowloss_ptr + i, _div(tl.sum(acc, axis=0), n))


@triton.jit(do_not_specialize=["red"])
def _rs_reduce_kernel(rowloss_ptr, nrows_ptr, rows_ptr, out_ptr, k, b, red, BLOCK: tl.constexpr):
    acc_ty = rowloss_ptr.dtype.element_ty
    out_ty = out_ptr.dtype.element_ty
    offs = tl.arange(0, BLOCK).to(tl.int64)
    if red == 2:
        i0 = b * 0
        while i0 < b:
            idx = i0 + offs
            tl.store(out_ptr + idx, tl.zeros([BLOCK], dtype=out_ty), mask=idx < b)
            i0 += BLOCK
        tl.debug_barrier()
        i0 = k * 0
        while i0 < k:
            idx = i0 + offs
            m = idx < k
            r = tl.load(rows_ptr + idx, mask=m, other=0)
            tl.store(out_ptr + r, tl.load(rowloss_ptr + idx, mask=m, other=0.0).to(out_ty), mask=m)
            i0 += BLOCK
    else:
        acc = tl.zeros([BLOCK], dtype=acc_ty)
        i0 = k * 0
        while i0 < k:
            idx = i0 + offs
            acc += tl.load(rowloss_ptr + idx, mask=idx < k, other=0.0)
            i0 += BLOCK
        tot = tl.sum(acc, axis=0)
        if red == 0:
            cnt = tl.maximum(tl.load(nrows_ptr), 1).to(acc_ty)
            tot = _div(tot, cnt)
        tl.store(out_ptr, tot.to(out_ty))


@triton.jit(do_not_specialize=["include_self", "red"])
def _rs_bwd_keys_kernel(saved_ptr, gout_ptr, rows_ptr, nrows_ptr, keys_ptr, k, lam,
                        include_self, red, F64: tl.constexpr, BLOCK: tl.constexpr):
    i = tl.program_id(0).to(tl.int64)
    acc_ty = keys_ptr.dtype.element_ty
    if F64:
        lam_v = _f64(lam)
    else:
        lam_v = lam
    nr, n = _n_eff(nrows_ptr, include_self, acc_ty)
    if red == 2:
        g = tl.load(gout_ptr + tl.load(rows_ptr + i)).to(acc_ty)
    else:
        g = tl.load(gout_ptr).to(acc_ty)
        if red == 0:
            g = _div(g, tl.maximum(nr, 1).to(acc_ty))
    t = _div(g * 2.0, n)
    offs = tl.arange(0, BLOCK).to(tl.int64)
    kk = k * k
    base = i * k
    j0 = k * 0
    while j0 < k:
        j = j0 + offs
        m = j < k
        col = (j < nr) & ((j != i) | (include_self != 0))
        s = tl.load(saved_ptr + base + j, mask=m, other=0.0)
        dd = tl.load(saved_ptr + 2 * kk + base + j, mask=m, other=0.0)
        key = s + lam_v * (dd * t)
        tl.store(keys_ptr + base + j, tl.where(col, key, float("-inf")).to(acc_ty), mask=m)
        j0 += BLOCK


@triton.jit(do_not_specialize=["include_self"])
def _rs_bwd_rank_kernel(perm_ptr, saved_ptr, nrows_ptr, g_ptr, k, lam_den, include_self,
                        F64: tl.constexpr, BLOCK: tl.constexpr):
    i = tl.program_id(0).to(tl.int64)
    acc_ty = saved_ptr.dtype.element_ty
    if F64:
        den = _f64(lam_den)
    else:
        den = lam_den
    nr, n = _n_eff(nrows_ptr, include_self, acc_ty)
    offs = tl.arange(0, BLOCK).to(tl.int64)
    kk = k * k
    g_row = g_ptr + i * k  # rows 0..K-1 of [2K, K]: G (r' first, as scratch); rows K..2K-1: Gᵀ
    p0 = k * 0
    while p0 < k:
        p = p0 + offs
        m = p < k
        val = _div((k - p).to(acc_ty), tl.zeros([BLOCK], dtype=acc_ty) + n)
        c = tl.load(perm_ptr + i * k + p, mask=m, other=0)
        tl.store(g_row + c, val, mask=m)
        p0 += BLOCK
    tl.debug_barrier()  # r' scattered by other threads of this program
    j0 = k * 0
    while j0 < k:
        j = j0 + offs
        m = j < k
        ent = m & (j < nr) & ((j != i) | (include_self != 0)) & (i < nr)
        r2 = tl.load(g_row + j, mask=m, other=0.0)
        rz = tl.load(saved_ptr + kk + i * k + j, mask=m, other=0.0)
        gs = tl.where(ent, _div(r2 - rz, tl.zeros([BLOCK], dtype=acc_ty) + den), 0.0)
        tl.store(g_row + j, gs, mask=m)
        tl.store(g_ptr + kk + j * k + i, gs, mask=m)  # column i of Gᵀ: no atomics
        j0 += BLOCK


@triton.jit
def _rs_unit_bwd_kernel(du_ptr, unit_ptr, rows_ptr, out_ptr, k, d, BLOCK: tl.constexpr):
    i = tl.program_id(0).to(tl.int64)
    acc_ty = unit_ptr.dtype.element_ty
    out_ty = out_ptr.dtype.element_ty
    urow = unit_ptr + i * (d + 1)
    da = du_ptr + i * d  # (G·u)_i
    db = du_ptr + (k + i) * d  # (Gᵀ·u)_i
    offs = tl.arange(0, BLOCK).to(tl.int64)
    acc = tl.zeros([BLOCK], dtype=acc_ty)
    j0 = d * 0
    while j0 < d:
        c = j0 + offs
        m = c < d
        u = tl.load(urow + c, mask=m, other=0.0)
        du = tl.load(da + c, mask=m, other=0.0) + tl.load(db + c, mask=m, other=0.0)
        acc += u * du
        j0 += BLOCK
    proj = tl.sum(acc, axis=0)
    inv = tl.load(urow + d)
    clamped = inv >= tl.full([], 1e12, acc_ty)  # an all-zero row (‖x‖ clamped to eps): no projection
    orow = out_ptr + tl.load(rows_ptr + i) * d
    j0 = d * 0
    while j0 < d:
        c = j0 + offs
        m = c < d
        u = tl.load(urow + c, mask=m, other=0.0)
        du = tl.load(da + c, mask=m, other=0.0) + tl.load(db + c, mask=m, other=0.0)
        dx = tl.where(clamped, du, du - u * proj) * inv
        tl.store(orow + c, dx.to(out_ty), mask=m)
        j0 += BLOCK


@triton.jit
def _rs_subset_kernel(ys_ptr, order_ptr, mark_ptr, rows_ptr, nrows_ptr, b, k,
                      BLOCK: tl.constexpr):
    """One program: the unique-label subset of :func:`dirfast.ranksim_subset` (no generator) from
    the stable sort ``(ys, order)`` of the labels, in four passes over ``B`` (the row order is the
    priority: the ``k`` first-of-label rows of smallest index are kept)."""
    offs = tl.arange(0, BLOCK).to(tl.int64)
    zero = b * 0
    i0 = zero
    while i0 < b:
        i = i0 + offs
        tl.store(mark_ptr + i, tl.zeros([BLOCK], dtype=tl.int32), mask=i < b)
        i0 += BLOCK
    tl.debug_barrier()
    # first of its label (in label order): mark[order[i]] = 1; NaN != NaN (each NaN its own label)
    cnt = zero.to(tl.int64)
    i0 = zero
    while i0 < b:
        i = i0 + offs
        m = i < b
        cur = tl.load(ys_ptr + i, mask=m, other=0.0)
        prev = tl.load(ys_ptr + i - 1, mask=m & (i > 0), other=0.0)
        first = m & ((i == 0) | (cur != prev))
        o = tl.load(order_ptr + i, mask=m, other=0)
        tl.store(mark_ptr + o, first.to(tl.int32), mask=m)
        cnt += tl.sum(first.to(tl.int64), axis=0)
        i0 += BLOCK
    tl.debug_barrier()
    # keep the k firsts of smallest row index (rank by a running count in row order)
    carry = zero.to(tl.int64)
    i0 = zero
    while i0 < b:
        i = i0 + offs
        m = i < b
        f = tl.load(mark_ptr + i, mask=m, other=0).to(tl.int64)
        c = tl.cumsum(f, axis=0) + carry
        tl.store(mark_ptr + i, ((f != 0) & (c <= k)).to(tl.int32), mask=m)
        carry += tl.sum(f, axis=0)
        i0 += BLOCK
    tl.debug_barrier()
    # compaction in label order: the kept rows first, then the others (padding), truncated to k;
    # every label distinct and k = b: batch order (the official code)
    n_kept = tl.minimum(cnt, k)
    batch_order = (cnt == b) & (k == b)
    ck = zero.to(tl.int64)
    cn = zero.to(tl.int64)
    i0 = zero
    while i0 < b:
        i = i0 + offs
        m = i < b
        o = tl.load(order_ptr + i, mask=m, other=0)
        kp = (tl.load(mark_ptr + o, mask=m, other=0) != 0) & m
        nk = (~kp) & m
        csk = tl.cumsum(kp.to(tl.int64), axis=0) + ck
        csn = tl.cumsum(nk.to(tl.int64), axis=0) + cn
        pos = tl.where(kp, csk - 1, n_kept + csn - 1)
        pos = tl.where(batch_order, i, pos)
        val = tl.where(batch_order, i, o)
        tl.store(rows_ptr + pos, val, mask=m & (pos < k))
        ck += tl.sum(kp.to(tl.int64), axis=0)
        cn += tl.sum(nk.to(tl.int64), axis=0)
        i0 += BLOCK
    tl.store(nrows_ptr, n_kept)


# ------------------------------------------------------------------------------------------------
# registry: feature dtype (fp16/bf16/fp32 -> fp32 accumulation, fp64 -> fp64)

DTYPE_NAMES = ("float16", "bfloat16", "float32", "float64")


def _acc(fdt: str) -> str:
    return "float64" if fdt == "float64" else "float32"


def _cfg(key, sig, **constexprs) -> KernelConfig:
    return KernelConfig(key=key, signature=sig, constexprs=dict(constexprs, BLOCK=BLOCK),
                        num_warps=NUM_WARPS, num_stages=1)


def _unit_cfg(fdt):
    ft, at = TRITON_DTYPE[fdt], TRITON_DTYPE[_acc(fdt)]
    return _cfg((fdt,), {"x_ptr": f"*{ft}", "y_ptr": f"*{at}", "rows_ptr": "*i64",
                         "unit_ptr": f"*{at}", "yk_ptr": f"*{at}", "d": "i64", "stride_x": "i64",
                         "stride_y": "i64", "BLOCK": "constexpr"})


def _keys_cfg(adt):
    at = TRITON_DTYPE[adt]
    return _cfg((adt,), {"s_ptr": f"*{at}", "yk_ptr": f"*{at}", "nrows_ptr": "*i64",
                         "keys_ptr": f"*{at}", "k": "i64", "include_self": "i32",
                         "BLOCK": "constexpr"})


def _rank_cfg(adt):
    at = TRITON_DTYPE[adt]
    return _cfg((adt,), {"perm_ptr": "*i64", "nrows_ptr": "*i64", "saved_ptr": f"*{at}",
                         "rowloss_ptr": f"*{at}", "k": "i64", "include_self": "i32",
                         "BLOCK": "constexpr"})


def _reduce_cfg(fdt):
    ft, at = TRITON_DTYPE[fdt], TRITON_DTYPE[_acc(fdt)]
    return _cfg((fdt,), {"rowloss_ptr": f"*{at}", "nrows_ptr": "*i64", "rows_ptr": "*i64",
                         "out_ptr": f"*{ft}", "k": "i64", "b": "i64", "red": "i32",
                         "BLOCK": "constexpr"})


def _bwd_keys_cfg(fdt):
    ft, adt = TRITON_DTYPE[fdt], _acc(fdt)
    at = TRITON_DTYPE[adt]
    f64 = adt == "float64"
    return _cfg((fdt,), {"saved_ptr": f"*{at}", "gout_ptr": f"*{ft}", "rows_ptr": "*i64",
                         "nrows_ptr": "*i64", "keys_ptr": f"*{at}", "k": "i64",
                         "lam": "i64" if f64 else "fp32", "include_self": "i32", "red": "i32",
                         "F64": "constexpr", "BLOCK": "constexpr"}, F64=f64)


def _bwd_rank_cfg(adt):
    at = TRITON_DTYPE[adt]
    f64 = adt == "float64"
    return _cfg((adt,), {"perm_ptr": "*i64", "saved_ptr": f"*{at}", "nrows_ptr": "*i64",
                         "g_ptr": f"*{at}", "k": "i64", "lam_den": "i64" if f64 else "fp32",
                         "include_self": "i32", "F64": "constexpr", "BLOCK": "constexpr"}, F64=f64)


def _unit_bwd_cfg(fdt):
    ft, at = TRITON_DTYPE[fdt], TRITON_DTYPE[_acc(fdt)]
    return _cfg((fdt,), {"du_ptr": f"*{at}", "unit_ptr": f"*{at}", "rows_ptr": "*i64",
                         "out_ptr": f"*{ft}", "k": "i64", "d": "i64", "BLOCK": "constexpr"})


def _subset_cfg(ldt):
    return _cfg((ldt,), {"ys_ptr": f"*{TRITON_DTYPE[ldt]}", "order_ptr": "*i64", "mark_ptr": "*i32",
                         "rows_ptr": "*i64", "nrows_ptr": "*i64", "b": "i64", "k": "i64",
                         "BLOCK": "constexpr"})


# the fp64 configs first in each list: the AOT fp64 check reads key[0] == "float64"
register(_rs_subset_kernel, [_subset_cfg(f) for f in DTYPE_NAMES])
register(_rs_unit_kernel, [_unit_cfg(f) for f in DTYPE_NAMES])
register(_rs_keys_kernel, [_keys_cfg(a) for a in ("float32", "float64")])
register(_rs_rank_kernel, [_rank_cfg(a) for a in ("float32", "float64")])
register(_rs_reduce_kernel, [_reduce_cfg(f) for f in DTYPE_NAMES])
register(_rs_bwd_keys_kernel, [_bwd_keys_cfg(f) for f in DTYPE_NAMES])
register(_rs_bwd_rank_kernel, [_bwd_rank_cfg(a) for a in ("float32", "float64")])
register(_rs_unit_bwd_kernel, [_unit_bwd_cfg(f) for f in DTYPE_NAMES])


def _name(dt: torch.dtype) -> str:
    return str(dt).split(".")[-1]


def _launch(fn, key, grid, *args):
    cfg = pick(fn, key)
    fn[grid](*args, num_warps=cfg.num_warps, num_stages=cfg.num_stages, **cfg.constexprs)


def ranksim_subset_triton(y, k: int):
    """``(rows [k], num_rows)`` of the unique-label subset without a generator: one stable
    ``torch.sort`` of the labels ``y [B]`` and one single-program launch."""
    b = y.shape[0]
    ys, order = torch.sort(y, stable=True)
    mark = torch.empty((b,), dtype=torch.int32, device=y.device)
    rows = torch.empty((k,), dtype=torch.int64, device=y.device)
    num_rows = torch.empty((), dtype=torch.int64, device=y.device)
    with device_guard(y):
        _launch(_rs_subset_kernel, (_name(y.dtype),), (1,), ys, order, mark, rows, num_rows, b, k)
    return rows, num_rows


def ranksim_fwd_triton(features, labels, rows, num_rows, reduction: str, include_self: bool):
    """``(loss, saved [3, K, K], unit [K, D + 1])`` as :func:`dirfast.ops.ranksim.ranksim_fwd`.

    ``features [B, D]`` (unit column stride), ``labels [B]`` in the accumulation dtype, ``rows [K]``
    int64, ``num_rows`` int64 0-d (all on one device)."""
    fdt = _name(features.dtype)
    acc = torch.float64 if features.dtype == torch.float64 else torch.float32
    adt = _name(acc)
    b, d = features.shape
    k = rows.shape[0]
    dev = features.device
    unit = torch.empty((k, d + 1), dtype=acc, device=dev)
    yk = torch.empty((k,), dtype=acc, device=dev)
    saved = torch.empty((3, k, k), dtype=acc, device=dev)
    keys = torch.empty((2 * k, k), dtype=acc, device=dev)
    rowloss = torch.empty((k,), dtype=acc, device=dev)
    out = torch.empty((b,) if reduction == "none" else (), dtype=features.dtype, device=dev)
    inc = int(include_self)
    with device_guard(features):
        _launch(_rs_unit_kernel, (fdt,), (k,), features, labels, rows, unit, yk, d,
                features.stride(0), labels.stride(0))
        u = unit[:, :d]
        torch.mm(u, u.t(), out=saved[0])
        _launch(_rs_keys_kernel, (adt,), (k,), saved, yk, num_rows, keys, k, inc)
        perm = torch.sort(keys, dim=1, stable=True).indices
        _launch(_rs_rank_kernel, (adt,), (k,), perm, num_rows, saved, rowloss, k, inc)
        _launch(_rs_reduce_kernel, (fdt,), (1,), rowloss, num_rows, rows, out, k, b,
                _RED[reduction])
    return out, saved, unit


def ranksim_bwd_triton(grad_out, features, rows, num_rows, saved, unit, lam: float, reduction: str,
                       include_self: bool):
    """``dL/dfeatures [B, D]`` (blackbox) as :func:`dirfast.ops.ranksim.ranksim_bwd_impl`."""
    fdt = _name(features.dtype)
    acc = saved.dtype
    adt = _name(acc)
    f64 = acc == torch.float64
    b, d = features.shape
    k = rows.shape[0]
    dev = features.device
    keys = torch.empty((k, k), dtype=acc, device=dev)
    gbuf = torch.empty((2 * k, k), dtype=acc, device=dev)  # [G; Gᵀ]
    # every row of out is written when the subset slots cover the batch (K = B: a permutation)
    out = (torch.empty if k == b else torch.zeros)((b, d), dtype=features.dtype, device=dev)
    inc = int(include_self)
    lam_arg = fp64_bits(lam) if f64 else float(lam)
    den = lam + BLACKBOX_EPS
    den_arg = fp64_bits(den) if f64 else float(den)
    grad_out = grad_out if grad_out.dtype == features.dtype else grad_out.to(features.dtype)
    with device_guard(features):
        _launch(_rs_bwd_keys_kernel, (fdt,), (k,), saved, grad_out, rows, num_rows, keys, k,
                lam_arg, inc, _RED[reduction])
        perm = torch.sort(keys, dim=1, stable=True).indices
        _launch(_rs_bwd_rank_kernel, (adt,), (k,), perm, saved, num_rows, gbuf, k, den_arg, inc)
        du = torch.mm(gbuf, unit[:, :d])  # [G·u; Gᵀ·u]: one GEMM, the halves added per row next
        _launch(_rs_unit_bwd_kernel, (fdt,), (k,), du, unit, rows, out, k, d)
    return out
