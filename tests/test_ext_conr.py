"""C++ ConR row passes (``dirfast._C.conr_rows_fwd`` / ``conr_rows_bwd`` / ``conr_epilogue``,
csrc/conr.h) against the PyTorch chunk code of ``dirfast/ops/conr.py`` (``_masks``, ``_exponent``,
``_row_lse``, ``_fwd_epilogue`` and the tile formula of ``_conr_bwd_stream``), called on tensors'
data pointers: fp32 (1e-5) and fp64 (1e-12), exp and linear pushing, keep_self, with and without
weights, rows with no positives / no negatives / no terms, tied and NaN labels, tiles with a row
stride, M not a multiple of the chunk, τ = 1e-3 (no overflow), both SIMD levels (bit-identical).
Then the whole CPU path (``conr_loss`` on CPU with the extension vs with it hidden).

Without the compiled extension these tests skip (with the reason), unless ``DIRFAST_REQUIRE_EXT=1``
is set, in which case every test fails.
"""

from __future__ import annotations

import math

import pytest
import torch

import dirfast
from dirfast import _ext
from dirfast.ops import conr as ops_conr
from dirfast.ops.conr import _exponent, _fwd_epilogue, _masks, _row_lse

from _paths import require_ext

DT = {torch.float32: "float32", torch.float64: "float64"}
TOL = {torch.float32: 1e-5, torch.float64: 1e-12}


@pytest.fixture(autouse=True)
def _require_extension():
    require_ext()


def _C():
    return _ext.get()


def _p(t):
    return 0 if t is None else t.data_ptr()


def _data(m, d, dtype, seed, *, nan=False, spread=False, tau=0.07):
    """Two-view-like batch: tied integer labels, predictions near them, unit rows, ``s = UUᵀ/τ``.
    ``spread``: labels 0, 10, 20, ... (no positive but self) with far predictions (no negative)
    on the first quarter of the rows."""
    g = torch.Generator().manual_seed(seed)
    u = torch.nn.functional.normalize(torch.randn(m, d, generator=g, dtype=torch.float64), dim=1)
    y = torch.randint(0, 12, (m,), generator=g).to(torch.float64)
    yh = y + 2.0 * torch.randn(m, generator=g, dtype=torch.float64)
    if spread:
        k = max(m // 4, 1)
        y[:k] = 100.0 + 10.0 * torch.arange(k, dtype=torch.float64)
        yh[:k] = -1000.0 - 100.0 * torch.arange(k, dtype=torch.float64)
    if nan:
        y[1] = math.nan
        yh[2] = math.nan
    a = torch.rand(m, generator=g, dtype=torch.float64) + 0.5
    s = (u @ u.t()) / tau
    return s.to(dtype), y.to(dtype), yh.to(dtype), a.log().to(dtype)


def _torch_fwd(s, y, yh, loga, row0, w, e, pushing, keep_self):
    """The forward chunk body of the torch path for rows ``row0 .. row0 + len(s)``."""
    r1 = row0 + s.shape[0]
    dy, pos, neg = _masks(y[row0:r1], y, yh[row0:r1], yh, w, "l1", row0, keep_self)
    npos, nneg = pos.sum(1).to(s.dtype), neg.sum(1).to(s.dtype)
    sps = torch.where(pos, s, 0.0).sum(1)
    a = _exponent(s.clone(), dy, pos, neg, e, pushing)
    if loga is not None:
        a = torch.where(neg, a + loga[row0:r1, None], a)
    return _row_lse(a), sps, npos, nneg


def _torch_bwd(s, y, yh, loga, logd, q, g, row0, col0, w, e, pushing, keep_self):
    """``H = G + Gᵀ`` on the tile (rows ``row0 + r``, columns ``col0 + c``), as _conr_bwd_stream."""
    r1, c1 = row0 + s.shape[0], col0 + s.shape[1]
    dy, pos, neg = _masks(y[row0:r1], y[col0:c1], yh[row0:r1], yh[col0:c1], w, "l1", row0 - col0,
                          keep_self)
    a = _exponent(s.clone(), dy, pos, neg, e, pushing)
    ar = a - logd[row0:r1, None]
    ac = a.sub_(logd[None, col0:c1])
    if loga is not None:
        ar = torch.where(neg, ar + loga[row0:r1, None], ar)
        ac = torch.where(neg, ac + loga[None, col0:c1], ac)
    posf = pos.to(s.dtype)
    h = ar.exp_().sub_(posf * q[row0:r1, None]).mul_(g[row0:r1, None])
    return h.add_(ac.exp_().sub_(posf.mul_(q[None, col0:c1])).mul_(g[None, col0:c1]))


def _ext_fwd(s, y, yh, loga, row0, w, e, pushing, keep_self, ld_pad=0):
    m = y.shape[0]
    rows = s.shape[0]
    buf = torch.full((rows, m + ld_pad), 7.0, dtype=s.dtype)
    buf[:, :m] = s
    out = [torch.full((m,), -3.0, dtype=s.dtype) for _ in range(4)]
    _C().conr_rows_fwd(DT[s.dtype], buf.data_ptr(), m + ld_pad, y.data_ptr(), yh.data_ptr(),
                       _p(loga), row0, rows, m, w, e, pushing == "exp", keep_self,
                       *[o.data_ptr() for o in out])
    assert torch.equal(buf[:, :m], s)  # the forward does not write its input
    return [o[row0:row0 + rows] for o in out], out


def _ext_bwd(s, y, yh, loga, logd, q, g, row0, col0, w, e, pushing, keep_self, ld_pad=0):
    rows, ncols = s.shape
    buf = torch.full((rows, ncols + ld_pad), 7.0, dtype=s.dtype)
    buf[:, :ncols] = s
    _C().conr_rows_bwd(DT[s.dtype], buf.data_ptr(), ncols + ld_pad, y.data_ptr(), yh.data_ptr(),
                       _p(loga), logd.data_ptr(), q.data_ptr(), g.data_ptr(), row0, rows, col0,
                       ncols, w, e, pushing == "exp", keep_self)
    assert (buf[:, ncols:] == 7.0).all()  # nothing written past the tile's columns
    return buf[:, :ncols]


def _close(got, want, dtype, *, scale=None):
    tol = TOL[dtype]
    if scale is None:
        torch.testing.assert_close(got, want, rtol=tol, atol=tol, equal_nan=True)
    else:
        fin = torch.isfinite(want)
        assert torch.equal(torch.isfinite(got), fin)
        assert torch.equal(got.isnan(), want.isnan())
        torch.testing.assert_close(got[fin], want[fin], rtol=tol, atol=tol * scale)


CASES = [  # (pushing, keep_self, weights)
    ("exp", False, False), ("exp", False, True), ("exp", True, True), ("linear", False, True),
    ("linear", True, False),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("pushing,keep_self,weighted", CASES)
@pytest.mark.parametrize("nan,spread", [(False, False), (True, True)])
def test_rows_fwd_matches_torch(dtype, pushing, keep_self, weighted, nan, spread):
    m, chunk = 45, 16  # chunks 16, 16, 13: M not a multiple of the chunk
    s, y, yh, loga = _data(m, 8, dtype, 1, nan=nan, spread=spread)
    loga = loga if weighted else None
    w, e = 1.0, 0.3
    full = [torch.empty(m, dtype=dtype) for _ in range(4)]
    for row0 in range(0, m, chunk):
        tile = s[row0:row0 + chunk]
        want = _torch_fwd(tile, y, yh, loga, row0, w, e, pushing, keep_self)
        got, whole = _ext_fwd(tile, y, yh, loga, row0, w, e, pushing, keep_self, ld_pad=3)
        outside = torch.ones(m, dtype=torch.bool)
        outside[row0:row0 + tile.shape[0]] = False
        for o in whole:
            assert (o[outside] == -3.0).all()  # only the tile's rows are written
        for gt, wt in zip(got, want):
            _close(gt, wt, dtype)
        for f, gt in zip(full, got):
            f[row0:row0 + tile.shape[0]] = gt
    lse, sps, npos, nneg = full
    if spread:
        # rows 0..m/4: no positive (self excluded) and no negative: lse = -inf, never NaN
        k = m // 4
        assert (npos[3:k] == (1 if keep_self else 0)).all() and (nneg[3:k] == 0).all()
        if not keep_self:
            assert (lse[3:k] == -math.inf).all()
    if nan:
        assert npos[1] == 0 and nneg[1] == 0 and nneg[2] == 0  # NaN label: no term
        assert lse[1] == -math.inf
    assert torch.isfinite(lse[npos + nneg > 0]).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("pushing,keep_self,weighted", CASES)
@pytest.mark.parametrize("nan,spread", [(False, False), (True, True)])
def test_rows_bwd_matches_torch(dtype, pushing, keep_self, weighted, nan, spread):
    m, chunk = 45, 16
    s, y, yh, loga = _data(m, 8, dtype, 2, nan=nan, spread=spread)
    loga = loga if weighted else None
    w, e = 1.0, 0.3
    # row statistics from a forward, through the torch epilogue (inactive rows: logd = +inf, q = 0)
    lse, sps, npos, nneg = _torch_fwd(s, y, yh, loga, 0, w, e, pushing, keep_self)
    _, _, stats = _fwd_epilogue(lse, sps, npos, nneg, loga, m, dtype, dtype, True, True, "none",
                                "paper")
    g = torch.linspace(0.5, 1.5, m, dtype=dtype)
    logd, q, g = stats[0].contiguous(), stats[1].contiguous(), (stats[2] * g).contiguous()
    for row0 in range(0, m, chunk):
        r1 = min(row0 + chunk, m)
        for col0 in (row0, 0, min(row0 + 5, m - 1)):  # upper triangle, full rows, shifted diagonal
            tile = s[row0:r1, col0:]
            want = _torch_bwd(tile, y, yh, loga, logd, q, g, row0, col0, w, e, pushing, keep_self)
            got = _ext_bwd(tile, y, yh, loga, logd, q, g, row0, col0, w, e, pushing, keep_self,
                           ld_pad=2)
            _close(got, want, dtype, scale=want[torch.isfinite(want)].abs().max().item())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_small_temperature_no_overflow(dtype):
    """τ = 1e-3 (s up to ±1000) with a steep exp pushing: every lse and h finite, equal to torch."""
    m = 40
    s, y, yh, loga = _data(m, 4, dtype, 3, tau=1e-3)
    y = y * 30.0  # e·Δy up to ~100: e^{e Δy} alone would overflow fp32
    yh = torch.zeros_like(y)  # every far pair a negative
    w, e = 1.0, 0.3
    want = _torch_fwd(s, y, yh, loga, 0, w, e, "exp", False)
    got, _ = _ext_fwd(s, y, yh, loga, 0, w, e, "exp", False)
    for gt, wt in zip(got, want):
        _close(gt, wt, dtype)
    lse, _, npos, nneg = got
    has = npos + nneg > 0
    assert has.sum() > m // 2 and (nneg > 0).any()
    assert torch.isfinite(lse[has]).all() and (lse[~has] == -math.inf).all()
    _, _, stats = _fwd_epilogue(*want, loga, m, dtype, dtype, False, False, "mean", "paper")
    logd, q = stats[0].contiguous(), stats[1].contiguous()
    g = stats[2].contiguous()
    h = _ext_bwd(s.clone(), y, yh, loga, logd, q, g, 0, 0, w, e, "exp", False)
    hw = _torch_bwd(s, y, yh, loga, logd, q, g, 0, 0, w, e, "exp", False)
    assert torch.isfinite(h).all()
    _close(h, hw, dtype, scale=hw.abs().max().item())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_infinite_logit_gives_inf_lse(dtype):
    """An infinite label difference on a negative (e·∞): lse = +inf as torch's (never NaN)."""
    m = 6
    s, y, yh, loga = _data(m, 4, dtype, 4)
    y[0] = math.inf
    yh[:] = 0.0  # every pair a negative candidate
    want = _torch_fwd(s, y, yh, None, 0, 1.0, 0.5, "exp", False)
    got, _ = _ext_fwd(s, y, yh, None, 0, 1.0, 0.5, "exp", False)
    for gt, wt in zip(got, want):
        _close(gt, wt, dtype)
    assert got[0][0] == math.inf


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "valid_anchors"])
@pytest.mark.parametrize("variant", ["paper", "official"])
@pytest.mark.parametrize("weighted", [False, True])
def test_epilogue_matches_torch(dtype, reduction, variant, weighted):
    m = 37
    s, y, yh, loga = _data(m, 8, dtype, 5, spread=True)
    loga = loga if weighted else None
    phantom = weight_final = variant == "official"
    lse, sps, npos, nneg = _torch_fwd(s, y, yh, loga, 0, 1.0, 0.2, "exp", False)
    want = _fwd_epilogue(lse, sps, npos, nneg, loga, m, dtype, dtype, weight_final, phantom,
                         reduction, variant)
    out = torch.empty(m if reduction == "none" else 1, dtype=dtype)
    nvalid = torch.empty(1, dtype=torch.int64)
    stats = torch.empty(3, m, dtype=dtype)
    red = {"mean": 0, "sum": 1, "none": 2, "valid_anchors": 3}[reduction]
    _C().conr_epilogue(DT[dtype], lse.data_ptr(), sps.data_ptr(), npos.data_ptr(),
                       nneg.data_ptr(), _p(loga), m, phantom, variant == "official",
                       weight_final, red, out.data_ptr(), nvalid.data_ptr(), stats.data_ptr())
    _close(out.reshape(want[0].shape), want[0], dtype)
    assert nvalid.item() == want[1].item()
    _close(stats, want[2], dtype)
    if variant == "official":
        assert out.isnan().any()  # rows without a positive: NaN, as the official code


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_simd_levels_bit_identical(dtype):
    C = _C()
    if C.simd_level_max() < 1:
        pytest.skip("no AVX2 on this CPU: one SIMD level only")
    m = 67
    s, y, yh, loga = _data(m, 8, dtype, 6, nan=True)
    lse, sps, npos, nneg = _torch_fwd(s, y, yh, loga, 0, 1.0, 0.3, "linear", False)
    _, _, stats = _fwd_epilogue(lse, sps, npos, nneg, loga, m, dtype, dtype, False, False, "mean",
                                "paper")
    logd, q, g = (stats[k].contiguous() for k in range(3))
    res = []
    try:
        for level in (0, 1):
            C._set_simd_level(level)
            f, _ = _ext_fwd(s, y, yh, loga, 0, 1.0, 0.3, "linear", False)
            b = _ext_bwd(s, y, yh, loga, logd, q, g, 0, 0, 1.0, 0.3, "linear", False)
            res.append((f, b))
    finally:
        C._set_simd_level(-1)
    for x, z in zip(res[0][0] + [res[0][1]], res[1][0] + [res[1][1]]):
        assert torch.equal(x.nan_to_num(), z.nan_to_num()) and torch.equal(x.isnan(), z.isnan())


def test_bad_arguments_raise():
    C = _C()
    t = torch.zeros(4, 4)
    with pytest.raises(ValueError, match="dtype"):
        C.conr_rows_fwd("float16", t.data_ptr(), 4, t.data_ptr(), t.data_ptr(), 0, 0, 4, 4, 1.0,
                        0.1, True, False, t.data_ptr(), t.data_ptr(), t.data_ptr(), t.data_ptr())
    with pytest.raises(ValueError, match="ldS"):
        C.conr_rows_bwd("float32", t.data_ptr(), 2, t.data_ptr(), t.data_ptr(), 0, t.data_ptr(),
                        t.data_ptr(), t.data_ptr(), 0, 4, 0, 4, 1.0, 0.1, True, False)
    with pytest.raises(ValueError, match="reduction"):
        C.conr_epilogue("float32", t.data_ptr(), t.data_ptr(), t.data_ptr(), t.data_ptr(), 0, 4,
                        False, False, False, 7, t.data_ptr(), t.data_ptr(), t.data_ptr())


class _Counting:
    """Proxy of dirfast._C counting the ConR calls made through it."""

    def __init__(self, mod):
        self.mod, self.calls = mod, {}

    def __getattr__(self, name):
        fn = getattr(self.mod, name)
        if not name.startswith("conr_"):
            return fn

        def wrapped(*a):
            self.calls[name] = self.calls.get(name, 0) + 1
            return fn(*a)
        return wrapped


def _loss_and_grad(z, y, yh, a, **kw):
    zz = z.clone().requires_grad_(True)
    out = dirfast.conr_loss(zz, y, yh, a, backend="cpu", **kw)
    (out.sum() if out.dim() else out).backward()
    return out.detach(), zz.grad


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("variant,reduction,weighted,pushing,keep_self", [
    ("paper", "mean", False, "exp", False), ("paper", "none", True, "linear", True),
    ("official", "mean", True, "exp", False), ("official", "valid_anchors", True, "exp", True),
    ("paper", "sum", True, "exp", False)])
def test_cpu_path_with_and_without_ext(monkeypatch, dtype, variant, reduction, weighted, pushing,
                                       keep_self):
    """conr_loss on CPU with 1-D labels: the C++ row passes (ops_conr.CHUNK_ROWS-row chunks, M not
    a multiple) give the torch chunk code's loss and gradient; one fwd call per chunk, one bwd
    call per chunk, one epilogue, the row normalisation (forward and backward) and its backward."""
    m = 2 * ops_conr.CHUNK_ROWS + 37
    g = torch.Generator().manual_seed(7)
    ldt = torch.float64 if dtype == torch.float64 else torch.float32
    z = torch.randn(m, 24, generator=g).relu().to(dtype)
    y = torch.randint(0, 40, (m,), generator=g).to(ldt)
    yh = y + 3.0 * torch.randn(m, generator=g).to(ldt)
    a = torch.rand(m, generator=g).to(ldt) + 0.5 if weighted else None
    kw = dict(variant=variant, reduction=reduction, pushing=pushing, denominator_self=keep_self)
    proxy = _Counting(_ext.get())
    with monkeypatch.context() as mp:
        mp.setattr(_ext, "get", lambda: proxy)
        got = _loss_and_grad(z, y, yh, a, **kw)
    nchunks = 3
    assert proxy.calls == {"conr_normalize": 2, "conr_rows_fwd": nchunks, "conr_epilogue": 1,
                           "conr_rows_bwd": nchunks, "conr_norm_bwd": 1}
    with monkeypatch.context() as mp:
        mp.setattr(_ext, "available", lambda: False)
        want = _loss_and_grad(z, y, yh, a, **kw)
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    if dtype == torch.bfloat16:  # both computed in fp32, rounded to bf16 once
        tol = 1e-2
    torch.testing.assert_close(got[0].double(), want[0].double(), rtol=tol, atol=tol,
                               equal_nan=True)
    gs = want[1].double().abs().max().item()
    torch.testing.assert_close(got[1].double(), want[1].double(), rtol=tol, atol=tol * gs)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_normalize_and_norm_bwd_match_torch(dtype):
    """conr_normalize / conr_norm_bwd vs _prepare / _norm_bwd: a zero row (norm 0 < 1e-12), a
    strided input (row stride > D), D not a multiple of the lanes."""
    m, d = 19, 13
    g = torch.Generator().manual_seed(8)
    big = torch.randn(m, d + 4, generator=g, dtype=dtype)
    big[3] = 0.0
    z = big[:, :d]
    _, _, u_w, n_w, i_w, _, _, _ = ops_conr._prepare(z, torch.zeros(m), torch.zeros(m), None)
    u = torch.empty(m, d, dtype=dtype)
    ni = torch.empty(2, m, dtype=dtype)
    _C().conr_normalize(DT[dtype], z.data_ptr(), d + 4, m, d, u.data_ptr(), ni[0].data_ptr(),
                        ni[1].data_ptr())
    for got, want in ((u, u_w), (ni[0], n_w), (ni[1], i_w)):
        _close(got, want, dtype)
    assert ni[0][3] == 0 and ni[1][3] == 1e12 and (u[3] == 0).all()
    du = torch.randn(m, d, generator=g, dtype=dtype)
    want = ops_conr._norm_bwd(du, u_w, n_w, i_w, dtype)
    dz = torch.empty_like(du)
    _C().conr_norm_bwd(DT[dtype], du.data_ptr(), u.data_ptr(), ni[0].data_ptr(), ni[1].data_ptr(),
                       m, d, dz.data_ptr())
    _close(dz, want, dtype, scale=want.abs().max().item())
    du2 = du.clone()  # in place (dz aliasing du)
    _C().conr_norm_bwd(DT[dtype], du2.data_ptr(), u.data_ptr(), ni[0].data_ptr(),
                       ni[1].data_ptr(), m, d, du2.data_ptr())
    assert torch.equal(du2, dz)


@pytest.mark.parametrize("layout", ["col", "expand_cols", "expand_rows", "step", "transposed",
                                    "one_row"])
def test_cpu_path_feature_layouts(monkeypatch, layout):
    """Non-contiguous / expanded / single-row features reach conr_normalize with the right row
    stride: the same loss and gradient as the torch path."""
    g = torch.Generator().manual_seed(9)
    z = {"col": lambda: torch.randn(1, 5, generator=g).t(),
         "expand_cols": lambda: torch.randn(5, 1, generator=g).expand(5, 3),
         "expand_rows": lambda: torch.randn(1, 4, generator=g).expand(6, 4),
         "step": lambda: torch.randn(6, 8, generator=g)[:, ::2],
         "transposed": lambda: torch.randn(8, 6, generator=g).t(),
         "one_row": lambda: torch.randn(1, 3, generator=g)}[layout]()
    y = (torch.arange(z.shape[0]) % 3 * 2).float()
    yh = torch.zeros_like(y)
    got = _loss_and_grad(z, y, yh, None)
    with monkeypatch.context() as mp:
        mp.setattr(_ext, "available", lambda: False)
        want = _loss_and_grad(z, y, yh, None)
    torch.testing.assert_close(got[0], want[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(got[1], want[1], rtol=1e-5, atol=1e-6)
    if z.shape[0] > 1 and layout != "expand_rows":
        assert got[0] > 0  # rows with positives and negatives: a real loss, not a trivial 0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_thread_count_bit_identical(dtype):
    """Tiles above the OpenMP threshold (rows·M ≥ 2^15): 1 and 2 threads give the same bits."""
    C = _C()
    m = 600
    s, y, yh, loga = _data(m, 8, dtype, 10)
    s = s[:64].contiguous()
    logd = torch.full((m,), 3.0, dtype=dtype)
    q = torch.full((m,), 0.25, dtype=dtype)
    g = torch.full((m,), 1e-2, dtype=dtype)
    old = C.num_threads()
    res = []
    try:
        for n in (1, 2):
            C.set_num_threads(n)
            f, _ = _ext_fwd(s, y, yh, loga, 100, 1.0, 0.3, "exp", False)
            b = _ext_bwd(s, y, yh, loga, logd, q, g, 100, 0, 1.0, 0.3, "exp", False)
            res.append(f + [b])
    finally:
        C.set_num_threads(old)
    for x, z in zip(*res):
        assert torch.equal(x, z)
