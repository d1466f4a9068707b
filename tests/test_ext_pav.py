"""C++ PAV behind soft_sort / soft_rank (``dirfast._C.pav``, ``dirfast._C.pav_block_mean``).

* values vs an fp64 oracle: ``scipy.optimize.isotonic_regression`` on u = i/eps - x (sort) or
  u = x/eps - (i+1) (rank), within ``1e-9 + 16·(n/eps)·2^-53`` relative (the oracle's own
  cancellation), on random, tied, clustered and heavy-tailed (t3) rows, rows 1..256, n 1..1M;
* block_start vs the oracle's blocks; fp32 accuracy at n=262,144, eps=0.01 on age-scale data;
* the simulated CUDA grid equals the direct CPU driver bit for bit (chunks 1, 2, 7, 64; 1 and 2
  threads), so the functions the CUDA kernels run are the ones tested here;
* pav_block_mean (direct and grid) vs numpy; argument errors.

Without the compiled extension these tests skip, unless DIRFAST_REQUIRE_EXT=1 (make test).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import isotonic_regression

from dirfast import _ext

from _paths import require_ext


@pytest.fixture(autouse=True)
def _require_extension():
    require_ext()


def _C():
    return _ext.get()


def pav(x, eps, mode, *, chunk=0, grid=False, threads=0, with_bs=True):
    x = np.ascontiguousarray(x)
    if x.ndim == 1:
        x = x[None]
    rows, n = x.shape
    out = np.full_like(x, np.nan)
    bs = np.full((rows, n), -7, np.int64)
    k = _C().pav("float32" if x.dtype == np.float32 else "float64", mode, x.ctypes.data, rows, n,
                 float(eps), out.ctypes.data, bs.ctypes.data if with_bs else 0, chunk, grid,
                 threads)
    return out, bs, k


def oracle(x, eps, mode):
    """fp64 values and block starts of one sorted row via scipy's isotonic regression."""
    x = np.asarray(x, np.float64)
    n = x.size
    i = np.arange(n, dtype=np.float64)
    u = i / eps - x if mode == 0 else x / eps - (i + 1)
    res = isotonic_regression(u, increasing=True)
    v = res.x
    ref = i / eps - v if mode == 0 else x / eps - v
    starts = np.asarray(res.blocks[:-1])
    bs = np.repeat(starts, np.diff(np.asarray(res.blocks)))
    return ref, bs


def tol(n, eps):
    return 1e-9 + 16 * (n / eps) * 2.0**-53


def gen(kind, rows, n, rng):
    if kind == "random":
        x = rng.normal(0, 1, (rows, n))
    elif kind == "tied":
        x = np.round(rng.normal(0, 3, (rows, n)))
    elif kind == "clustered":
        centres = rng.normal(0, 20, (rows, 5))
        x = np.take_along_axis(centres, rng.integers(0, 5, (rows, n)), 1) + rng.normal(0, 0.01, (rows, n))
    elif kind == "t3":
        x = rng.standard_t(3, (rows, n)) * 5
    else:
        raise AssertionError(kind)
    return np.sort(x, axis=1)


# eps chosen so that both modes pool in some rows: sort pools gaps >= 1/eps, rank gaps <= eps
EPS = {0: [0.3, 30.0], 1: [0.01, 3.0]}
SHAPES = [(1, 1), (3, 2), (5, 7), (4, 100), (256, 100), (3, 1000), (1, 100_000)]


@pytest.mark.parametrize("kind", ["random", "tied", "clustered", "t3"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("mode", [0, 1])
def test_values_vs_scipy_oracle(kind, shape, mode):
    rows, n = shape
    rng = np.random.default_rng(rows * 1000 + n + mode)
    x = gen(kind, rows, n, rng)
    for eps in EPS[mode]:
        out, bs, k = pav(x, eps, mode)
        pooled = 0
        for r in range(rows):
            ref, ref_bs = oracle(x[r], eps, mode)
            scale = np.abs(ref).max() + 1.0
            err = np.abs(out[r] - ref).max() / scale
            assert err <= tol(n, eps), (kind, eps, r, err)
            if kind != "tied":  # exact ties at a gap of 1/eps cannot happen here
                np.testing.assert_array_equal(bs[r], ref_bs)
            pooled += int((bs[r] != np.arange(n)).any())
        assert k == pooled


@pytest.mark.parametrize("mode", [0, 1])
def test_one_million(mode):
    rng = np.random.default_rng(7)
    n = 1_000_000
    x = np.sort(rng.standard_t(3, n) * 15 + 45)[None]
    eps = 0.01 if mode == 0 else 1e-4
    out, bs, k = pav(x, eps, mode)
    ref, ref_bs = oracle(x[0], eps, mode)
    assert k == 1
    assert np.abs(out[0] - ref).max() / (np.abs(ref).max() + 1) <= tol(n, eps)
    np.testing.assert_array_equal(bs[0], ref_bs)


def test_readme_example():
    x = np.sort(np.array([8, 0, 5, 3, 2, 1, 6, 7, 9], np.float64))
    out, bs, k = pav(x, 1.0, 0)
    np.testing.assert_allclose(out[0], np.arange(9) + 5 / 9, rtol=0, atol=1e-12)
    assert (bs == 0).all() and k == 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hard_sort_fast_path_is_exact(dtype):
    rng = np.random.default_rng(0)
    x = np.sort(rng.uniform(1, 2, (4, 5000)).astype(dtype), axis=1)
    gap = np.diff(x.astype(np.float64), axis=1).max()
    out, bs, k = pav(x, 0.5 / gap, 0)  # every gap < 1/eps
    assert k == 0
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(bs, np.broadcast_to(np.arange(5000), bs.shape))
    x = (np.arange(5000) * 0.01 + rng.uniform(0, 0.005, (4, 5000))).astype(dtype)
    mingap = np.diff(x.astype(np.float64), axis=1).min()
    out, bs, k = pav(x, mingap * 0.5, 1)  # rank: every gap > eps -> ranks 1..n exactly
    assert k == 0
    np.testing.assert_array_equal(out, np.broadcast_to(np.arange(1, 5001, dtype=dtype), out.shape))


def test_gap_equal_to_one_over_eps_pools_without_changing_values():
    x = np.array([0.0, 1.0, 1.5, 1.9])  # gap 1 == 1/eps
    out, bs, k = pav(x, 1.0, 0)
    np.testing.assert_array_equal(bs[0], [0, 0, 2, 3])
    np.testing.assert_allclose(out[0], x, rtol=0, atol=1e-15)
    assert k == 1


@pytest.mark.parametrize("mode", [0, 1])
def test_invariants(mode):
    rng = np.random.default_rng(3)
    x = gen("t3", 8, 3000, rng)
    eps = EPS[mode][1]
    out, bs, _ = pav(x, eps, mode)
    if mode == 0:  # sum-preserving and sorted
        np.testing.assert_allclose(out.sum(1), x.sum(1), rtol=1e-12, atol=1e-9)
        assert (np.diff(out, axis=1) >= -1e-9).all()
    else:  # ranks sum to n(n+1)/2
        np.testing.assert_allclose(out.sum(1), 3000 * 3001 / 2, rtol=1e-12)
    # blocks: contiguous, bs[bs[i]] == bs[i], spacing 1/eps (sort) inside a block
    for r in range(8):
        b = bs[r]
        assert (b[b] == b).all() and (b <= np.arange(3000)).all() and (np.diff(b) >= 0).all()
        same = b[1:] == b[:-1]
        d = np.diff(out[r])[same]
        expect = 1 / eps if mode == 0 else np.diff(x[r])[same] / eps
        np.testing.assert_allclose(d, expect, rtol=1e-9, atol=1e-9)


def test_fp32_age_scale_accuracy():
    """fp32 in, fp32 out at n=262,144, eps=0.01: the centred form stays at fp32 rounding of the
    values (the torchsort formula errs by ~1 year here, spec §2.8)."""
    rng = np.random.default_rng(11)
    n = 262_144
    ages = np.clip(rng.normal(45, 15, n), 0, 120)
    ages[:5] = [300, 450, 600, 750, 900]  # outliers: gaps >= 1/eps = 100 pool (into the ages)
    x32 = np.sort(ages.astype(np.float32))
    out32, bs32, k = pav(x32, 0.01, 0)
    out64, bs64, _ = pav(x32.astype(np.float64), 0.01, 0)
    ref, ref_bs = oracle(x32.astype(np.float64), 0.01, 0)
    assert k == 1 and (bs64[0] != np.arange(n)).any()
    np.testing.assert_array_equal(bs32, bs64)
    np.testing.assert_array_equal(bs64[0], ref_bs)
    assert np.abs(out64[0] - ref).max() < 1e-8
    err = np.abs(out32[0].astype(np.float64) - out64[0])
    assert err.max() < 1e-4, err.max()  # values up to ~1000 (fp32 ulp 6e-5)
    age = np.abs(out64[0]) <= 120
    assert err[age].max() < 1e-5, err[age].max()  # fp32 ulp at 120: 7.6e-6
    rank32, _, _ = pav(x32, 1e-3, 1)
    rank64, _, _ = pav(x32.astype(np.float64), 1e-3, 1)
    assert np.abs(rank32[0] - rank64[0]).max() <= 2.0**-24 * n * 2  # fp32 rounding of ranks ~n


# ---- simulated CUDA grid vs direct driver -----------------------------------------------------

GRID_SHAPES = [(1, 1), (2, 2), (3, 7), (2, 100), (5, 1000), (1, 20_000)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", [0, 1])
@pytest.mark.parametrize("chunk", [1, 2, 7, 64])
def test_grid_equals_direct_bitwise(dtype, mode, chunk):
    rng = np.random.default_rng(chunk + 10 * mode)
    for rows, n in GRID_SHAPES:
        for kind in ("t3", "tied", "clustered"):
            x = gen(kind, rows, n, rng).astype(dtype)
            for eps in EPS[mode] + ([1e6] if mode == 0 else [1e-9, 1e6]):  # one block / none
                ref_out, ref_bs, ref_k = pav(x, eps, mode, chunk=chunk, threads=1)
                # two threads where the direct driver splits the work (rows*n >= 16384); one
                # data kind is enough there (each parallel launch costs a fork/join)
                two = rows * n >= 16384 and kind == "t3"
                runs = [(True, 1)] + ([(False, 2), (True, 2)] if two else [])
                for grid, threads in runs:
                    out, bs, k = pav(x, eps, mode, chunk=chunk, grid=grid, threads=threads)
                    assert k == ref_k
                    np.testing.assert_array_equal(out.view(np.uint8), ref_out.view(np.uint8))
                    np.testing.assert_array_equal(bs, ref_bs)
                # chunked vs one chunk: same blocks (generic data), values to rounding
                one, one_bs, _ = pav(x, eps, mode, chunk=n)
                if kind != "tied":
                    np.testing.assert_array_equal(ref_bs, one_bs)
                scale = np.abs(one).max() + 1
                lim = 1e-5 if dtype == np.float32 else 1e-12
                assert np.abs(ref_out.astype(np.float64) - one).max() <= lim * scale * max(1, n / 100)


def test_grid_auto_chunk_multi_level():
    """grid with the GPU's automatic chunk (here < n: several tree levels) and one giant block
    spanning every chunk."""
    rng = np.random.default_rng(5)
    x = np.sort(rng.normal(0, 1, (2, 70_000)), axis=1)
    for eps in (1e6, 30.0):
        a, abs_, ak = pav(x, eps, 0, grid=True)
        b, bbs, bk = pav(x, eps, 0)
        np.testing.assert_array_equal(abs_, bbs)
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10 * (np.abs(b).max() + 1))
        assert ak == bk == 2


def test_block_start_optional():
    rng = np.random.default_rng(1)
    x = gen("t3", 3, 500, rng)
    a, _, _ = pav(x, 30.0, 0)
    for grid in (False, True):
        b, bs, _ = pav(x, 30.0, 0, with_bs=False, grid=grid, chunk=7)
        assert (bs == -7).all()
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


# ---- block mean ---------------------------------------------------------------------------------

def block_mean_np(g, bs):
    out = np.empty_like(g, dtype=np.float64)
    for r in range(g.shape[0]):
        starts = np.flatnonzero(np.r_[True, bs[r, 1:] != bs[r, :-1]])
        sums = np.add.reduceat(g[r].astype(np.float64), starts)
        lens = np.diff(np.r_[starts, g.shape[1]])
        out[r] = np.repeat(sums / lens, lens)
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (256, 100), (1, 200_000), (3, 40_000)],
                         ids=lambda s: f"{s[0]}x{s[1]}")
def test_block_mean(dtype, shape):
    rows, n = shape
    rng = np.random.default_rng(n)
    x = gen("t3", rows, n, rng)
    _, bs, _ = pav(x, 30.0, 0)
    if n > 1000:
        bs[0, n // 3: n // 3 + 5000] = n // 3  # one long block crossing thread slices / chunks
    g = rng.normal(0, 1, (rows, n)).astype(dtype)
    ref = block_mean_np(g, bs)
    lim = 1e-6 if dtype == np.float32 else 1e-13
    for kw in ({}, {"threads": 1}, {"threads": 2}, {"grid": True}, {"grid": True, "chunk": 7}):
        out = np.full_like(g, np.nan)
        _C().pav_block_mean("float32" if dtype == np.float32 else "float64", g.ctypes.data,
                            bs.ctypes.data, rows, n, out.ctypes.data, **kw)
        np.testing.assert_allclose(out, ref, rtol=lim, atol=lim)


# ---- argument errors ----------------------------------------------------------------------------

def test_argument_errors():
    x = np.zeros((2, 4))
    o = np.zeros((2, 4))
    bs = np.zeros((2, 4), np.int64)
    C = _C()

    def call(**kw):
        a = dict(dtype="float64", mode=0, x=x.ctypes.data, rows=2, n=4, eps=1.0,
                 out=o.ctypes.data, block_start=bs.ctypes.data, chunk=0, grid=False, threads=0)
        a.update(kw)
        return C.pav(**a)

    for kw, word in [({"n": 0}, "n must"), ({"rows": -1}, "rows must"), ({"eps": 0.0}, "eps"),
                     ({"eps": -1.0}, "eps"), ({"eps": float("inf")}, "eps"),
                     ({"eps": float("nan")}, "eps"), ({"mode": 2}, "mode"),
                     ({"chunk": -1}, "chunk"), ({"dtype": "float16"}, "dtype"),
                     ({"threads": -1}, "threads"), ({"x": 0}, "x must"),
                     ({"out": x.ctypes.data}, "overlap")]:
        with pytest.raises(ValueError, match=word):
            call(**kw)
    assert call(rows=0) == 0
    with pytest.raises(ValueError, match="dtype"):
        C.pav_block_mean("int64", x.ctypes.data, bs.ctypes.data, 2, 4, o.ctypes.data)
    with pytest.raises(ValueError, match="n must"):
        C.pav_block_mean("float64", x.ctypes.data, bs.ctypes.data, 2, 0, o.ctypes.data)
    with pytest.raises(ValueError, match="overlap"):
        C.pav_block_mean("float64", x.ctypes.data, bs.ctypes.data, 2, 4, x.ctypes.data)
    with pytest.raises(ValueError, match="block_start"):
        C.pav_block_mean("float64", x.ctypes.data, 0, 2, 4, o.ctypes.data)
