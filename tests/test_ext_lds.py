"""C++ label → bin / label → weight kernel (``dirfast._C.bins_map``, used by ``Bins.index`` and
``LDS``/``lds_weights`` on CPU) against the PyTorch path: bit-identical ids and weights for every
mode of the kernel, edge values and their float neighbours, out-of-range, huge, NaN and ±inf
labels, all label dtypes, any shape/contiguity, batch sizes 0..100k, thread counts and SIMD levels.

Without the compiled extension these tests skip (with the reason), unless ``DIRFAST_REQUIRE_EXT=1``
is set (the Makefile sets it), in which case every test fails.
"""

from __future__ import annotations

import math
import sys

import pytest
import torch

from dirfast import LDS, Bins, lds_weights
from dirfast import _ext
from dirfast.bins import resolve_torch_backend

from _paths import require_ext


@pytest.fixture(autouse=True)
def _require_extension():
    require_ext()


def _C():
    return _ext.get()


class _Hidden:
    """Context manager: ``dirfast._ext.available()`` returns False inside (the PyTorch path runs)."""

    def __enter__(self):
        self._orig = _ext.available
        _ext.available = lambda: False
        return self

    def __exit__(self, *exc):
        _ext.available = self._orig


def torch_ids(b, y, table=None, index_dtype=torch.int64):
    with _Hidden():
        assert resolve_torch_backend(None, y.device, op="t", has_cpu_kernel=True) == "torch"
        return b._ids(y, validate=False, table=table, index_dtype=index_dtype)


def cpu_ids(b, y, table=None):
    return b._ids(y, validate=False, backend="cpu", table=table)


# every kernel mode (csrc/lds.h) is covered, for float and integer labels
BINS = [
    Bins.official_age(121),        # f: 2 (unit, start 0)   i: 1 (unit width)
    Bins(5, 1, 10),                # f: 2 (start 5)         i: 1
    Bins(-3, 2, 17),               # f: 3 (integer grid)    i: 1 (width 2: division)
    Bins(0, 3, 40),                # f: 3                   i: 1
    Bins(0, 0.1, 50),              # f: 4 (STS-B-DIR)       i: 4
    Bins(0.25, 0.1, 50), Bins(-1.5, 0.3, 37), Bins(1e3, 0.07, 9), Bins(0, 1e-3, 300),
    Bins(0.5, 1, 10),              # f: 4                   i: 4 (non-integer start)
    Bins(edges=[0.0, 0.5, 2.0, 2.1, 10.0]),  # 0 (binary search)
    Bins(edges=[-1e6, -3.0, 0.0, 1e-9, 7.0, 8.0, 1e12]),
    Bins(edges=[float(v) for v in range(0, 200, 3)] + [500.0]),
    Bins(1.0, 2e-7, 10),           # float32: 0 (edges distinct but too close for the guess)
    Bins(2.0 ** 40, 2, 100),       # float64 labels: 3; ints: 1; float32 labels refused
    Bins(1e8, 1e-3, 5),            # float64: 4; float32 labels refused
    Bins(5, 1, 1), Bins(0, 1, 1), Bins(edges=[0.0, 1.0]),  # K = 1
    Bins(0, 1, 5000),
]

FLOAT_DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
INT_DTYPES = [torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8]


def test_modes_are_all_covered():
    seen = set()
    for b in BINS:
        for key, m in b._kmode.items():
            if key[0] or key[1] == torch.float64:  # integer labels compare in float64
                if key[0] and key[1] == torch.float32 and not b._f32_ok:
                    continue
                seen.add((key[0], m))
    assert seen == {(True, 0), (True, 2), (True, 3), (True, 4), (False, 0), (False, 1), (False, 4)}


def _float_labels(b, dtype, n=20000, seed=0):
    e = b.edges
    lo, hi = float(e[0]), float(e[-1])
    span = hi - lo
    g = torch.Generator().manual_seed(seed)
    parts = [torch.rand(n, generator=g, dtype=torch.float64) * span * 1.4 + lo - 0.2 * span,
             (torch.rand(n // 4, generator=g, dtype=torch.float64) * (span + 2) + lo - 1).floor(),
             e, torch.nextafter(e, e + 1), torch.nextafter(e, e - 1), e + 1e-9, e - 1e-9,
             e.round(), e.floor() - 1, e.ceil() + 1,
             torch.tensor([lo - 1e6, hi + 1e6, 1e30, -1e30, 3e38, -3e38, 1.7e308, -1.7e308,
                           0.0, -0.0, 5e-324, -5e-324, 1e-40, 0.5, -0.5, -0.999, -1.0, -1.5,
                           math.inf, -math.inf, math.nan, 2.0 ** 24 + 1, 2.0 ** 53, -2.0 ** 53],
                          dtype=torch.float64)]
    y = torch.cat(parts)
    if dtype != torch.float64:
        # values on the float32-rounded edges and their float32 (or low-precision) neighbours
        ec = e.to(dtype)
        inf = torch.tensor(math.inf, dtype=dtype)
        y = torch.cat([y.to(dtype), ec, torch.nextafter(ec, inf), torch.nextafter(ec, -inf)])
    return y


def _int_labels(b, dtype, n=20000, seed=0):
    info = torch.iinfo(dtype)
    e = b.edges
    lo, hi = float(e[0]), float(e[-1])
    span = hi - lo
    g = torch.Generator().manual_seed(seed)
    y = torch.cat([torch.rand(n, generator=g, dtype=torch.float64) * span * 1.4 + lo - 0.2 * span,
                   e.floor(), e.ceil(), e.floor() - 1, e.ceil() + 1, e.round() + 2]).round()
    y = y.clamp(max(float(info.min), -2.0 ** 62), min(float(info.max), 2.0 ** 62)).to(dtype)
    extremes = [info.min, info.min + 1, info.max, info.max - 1, 0, 1, -1, 2, 120, 121, 122]
    if dtype == torch.int64:
        extremes += [2 ** 53 + 1, -(2 ** 53) - 1, 2 ** 62, -(2 ** 62), 2 ** 63 - 2 ** 10 - 1]
    extremes = [v for v in extremes if info.min <= v <= info.max]
    return torch.cat([y, torch.tensor(extremes, dtype=dtype)])


def _labels(b, dtype, **kw):
    return _float_labels(b, dtype, **kw) if dtype.is_floating_point else _int_labels(b, dtype, **kw)


def _refused(b, dtype):
    return dtype in (torch.float32, torch.float16, torch.bfloat16) and not b._f32_ok


def _rule(b, y):
    """The defining rule, written independently: #{interior edges e: e <= y} in the comparison dtype
    (NaN -> K-1)."""
    cdt = torch.float32 if y.dtype in (torch.float32, torch.float16, torch.bfloat16) else torch.float64
    ec = b.edges.to(cdt)[1:-1]
    yy = y.to(cdt).reshape(-1)
    want = (~(ec[None, :] > yy[:, None])).sum(1)
    return want.reshape(y.shape)


@pytest.mark.parametrize("b", BINS, ids=repr)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES + INT_DTYPES, ids=str)
def test_index_bit_identical_to_torch_path(b, dtype):
    y = _labels(b, dtype)
    if _refused(b, dtype):
        for fn in (cpu_ids, torch_ids):
            with pytest.raises(ValueError, match="not distinct in float32"):
                fn(b, y)
        return
    got = cpu_ids(b, y)
    want = torch_ids(b, y)
    assert got.dtype == torch.int64 and got.shape == y.shape
    assert torch.equal(got, want), _first_diff(y, got, want)
    assert torch.equal(got, b.index(y, validate=False, backend="reference"))
    if y.numel() * b.num_bins <= 3e7:
        assert torch.equal(got, _rule(b, y)), _first_diff(y, got, _rule(b, y))


def _first_diff(y, got, want):
    bad = (got != want).reshape(-1).nonzero()[:5].reshape(-1)
    return f"labels {y.reshape(-1)[bad].tolist()} got {got.reshape(-1)[bad].tolist()} want {want.reshape(-1)[bad].tolist()}"


@pytest.mark.parametrize("b", BINS, ids=repr)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64, torch.int32], ids=str)
@pytest.mark.parametrize("tdtype", [torch.float32, torch.float64, torch.float16], ids=str)
def test_gather_bit_identical_to_torch_path(b, dtype, tdtype):
    y = _labels(b, dtype, n=3000)
    if _refused(b, dtype):  # float32 labels refused by these bins (test above)
        return
    K = b.num_bins
    table = (torch.arange(K, dtype=torch.float64) * 1.25 + 0.5).to(tdtype)  # distinct per bin
    table[0] = math.inf if K > 1 else table[0]
    got = cpu_ids(b, y, table=table)
    idx_dt = torch.int32 if dtype.is_floating_point else torch.int64
    want = torch_ids(b, y, table=table, index_dtype=idx_dt)
    assert got.dtype == tdtype and got.shape == y.shape
    assert torch.equal(got, want)
    assert torch.equal(got, table[b.index(y, validate=False, backend="reference")])


@pytest.mark.parametrize("n", [0, 1, 7, 100_003])
@pytest.mark.parametrize("labels", ["float32", "int64", "float64"])
@pytest.mark.parametrize("wdtype", [torch.float32, torch.float64])
def test_lds_weights_bit_identical(n, labels, wdtype):
    g = torch.Generator().manual_seed(n)
    train = (torch.rand(5000, generator=g) ** 2 * 101)
    y = torch.rand(n, generator=g) * 130 - 10
    y = {"float32": y, "int64": y.floor().to(torch.int64), "float64": y.double()}[labels]
    for bins in (Bins.official_age(121), Bins(-2.0, 0.25, 72), Bins(0, 3, 40),
                 Bins(edges=[0.0, 5.0, 20.0, 21.0, 60.0, 101.0])):
        m = LDS(bins, dtype=wdtype).fit(train)
        for shape in ((n,), (n, 1)):
            yy = y.reshape(shape)
            got = m(yy, validate=False, backend="cpu")
            with _Hidden():
                want = m(yy, validate=False)
            assert got.dtype == wdtype and got.shape == yy.shape and not got.requires_grad
            assert torch.equal(got, want)
            assert torch.equal(got, m(yy, validate=False, backend="reference"))
            assert torch.equal(got, m(yy, validate=False))  # auto -> C++
        assert torch.equal(lds_weights(train, bins, y, dtype=wdtype, validate=False),
                           m(y, validate=False))


def test_thread_count_and_simd_level_independent():
    C = _C()
    b = Bins(-1.5, 0.3, 37)
    ya = _float_labels(b, torch.float32, n=200_000)
    yb = _int_labels(Bins.official_age(121), torch.int64, n=200_000)
    table = torch.arange(121, dtype=torch.float32) / 7
    m2 = Bins.official_age(121)
    base = (cpu_ids(b, ya), cpu_ids(m2, yb, table=table), cpu_ids(m2, ya, table=table))
    nt0, lvl0 = C.num_threads(), C.simd_level()
    try:
        for nt in (1, 2, 3, 5):
            C.set_num_threads(nt)
            for lvl in range(C.simd_level_max() + 1):
                C._set_simd_level(lvl)
                got = (cpu_ids(b, ya), cpu_ids(m2, yb, table=table), cpu_ids(m2, ya, table=table))
                for g_, w_ in zip(got, base):
                    assert torch.equal(g_, w_), (nt, lvl)
    finally:
        C.set_num_threads(nt0)
        C._set_simd_level(-1)
    assert C.simd_level() == lvl0


def test_non_contiguous_shapes_and_inputs_untouched():
    b = Bins(0, 0.1, 50)
    g = torch.Generator().manual_seed(3)
    base = torch.rand(40, 30, generator=g) * 6 - 0.5
    for y in (base.t(), base[:, ::3], base[::2], base.reshape(-1)[::7], base[5:6, 4:5],
              base.double().t(), (base * 10).to(torch.int32).t()):
        y0 = y.clone()
        got = cpu_ids(b, y)
        assert got.shape == y.shape and got.is_contiguous()
        assert torch.equal(got, torch_ids(b, y))
        assert torch.equal(y, y0)
    m = LDS(Bins.official_age(121)).fit(base.reshape(-1) * 10)
    col = (base * 10)[:, :1]  # [40, 1], non-contiguous
    assert not col.is_contiguous()
    assert torch.equal(m(col, backend="cpu"), m(col.contiguous(), backend="reference"))
    assert m(col).shape == (40, 1)
    yg = (base.reshape(-1)[:64] * 10).requires_grad_()
    w = m(yg)
    assert not w.requires_grad and torch.equal(w, m(yg.detach(), backend="reference"))


def test_other_integer_dtypes_and_low_precision_labels():
    b = Bins.official_age(121)
    for dt in (torch.uint16, torch.uint32, torch.uint64):  # not read by the kernel: PyTorch path
        y = torch.tensor([0, 1, 5, 120, 121, 300], dtype=dt)
        assert cpu_ids(b, y).tolist() == [0, 1, 5, 120, 120, 120]
    for dt in (torch.float16, torch.bfloat16):
        y = torch.tensor([-1.0, 0.0, 0.99, 35.0, 119.5, 120.0, 1e4, math.nan, math.inf], dtype=dt)
        assert torch.equal(cpu_ids(b, y), torch_ids(b, y))


def test_validation_still_runs_before_the_kernel():
    b = Bins(0, 1, 10, out_of_range="error")
    with pytest.raises(ValueError, match="NaN"):
        b.index(torch.tensor([1.0, math.nan]), validate=True, backend="cpu")
    with pytest.raises(ValueError, match="outside the bins' range"):
        b.index(torch.tensor([1.0, 10.5]), validate=True, backend="cpu")
    with pytest.raises(ValueError, match="outside the bins' range"):
        b.index(torch.tensor([1, -2]), validate=True, backend="cpu")
    assert b.index(torch.tensor([1.0, 10.5, -3.0, math.nan]), validate=False, backend="cpu").tolist() == [1, 9, 0, 9]
    m = LDS(b).fit(torch.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="labels outside"):
        m(torch.tensor([-3.0]), validate=True, backend="cpu")


def test_backend_rule(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_torch_backend("auto", cpu, op="t", has_cpu_kernel=True) == "cpu"
    assert resolve_torch_backend("cpu", cpu, op="t", has_cpu_kernel=True) == "cpu"
    assert resolve_torch_backend("auto", cuda, op="t", has_cpu_kernel=True) == "torch"
    assert resolve_torch_backend("reference", cpu, op="t", has_cpu_kernel=True) == "reference"
    monkeypatch.setenv("DIRFAST_BACKEND", "triton")  # env value without such a kernel -> auto
    assert resolve_torch_backend(None, cpu, op="t", has_cpu_kernel=True) == "cpu"
    monkeypatch.delenv("DIRFAST_BACKEND")
    with pytest.raises(ValueError, match="needs CPU tensors"):
        resolve_torch_backend("cpu", cuda, op="t", has_cpu_kernel=True)
    m = LDS(Bins.official_age(121)).fit(torch.tensor([3.0, 4.0]))
    y = torch.tensor([3.5, 9.0])
    with _Hidden():
        assert resolve_torch_backend("auto", cpu, op="t", has_cpu_kernel=True) == "torch"
        assert torch.equal(m(y), m(y, backend="reference"))  # auto falls back to PyTorch
    with monkeypatch.context() as mp:
        mp.setitem(sys.modules, "dirfast._C", None)  # really missing: require() raises
        assert torch.equal(m(y), m(y, backend="reference"))
        with pytest.raises(RuntimeError, match=r"LDS with backend='cpu' needs the compiled extension dirfast\._C"):
            m(y, backend="cpu")
        with pytest.raises(RuntimeError, match="dirfast._C"):
            Bins.official_age(121).index(y, backend="cpu")
        mp.setenv("DIRFAST_BACKEND", "cpu")
        with pytest.raises(RuntimeError, match="pip install --no-build-isolation"):
            m(y)
    # the C++ path really runs on CPU tensors by default
    calls = []
    C = _C()
    orig = C.bins_map

    class Spy:
        def __getattr__(self, name):
            return getattr(C, name)

        def bins_map(self, *a):
            calls.append(a[0])
            return orig(*a)

    monkeypatch.setattr(_ext, "get", lambda: Spy())
    m(y)
    Bins.official_age(121).index(y.to(torch.int32))
    assert calls == ["float32", "int32"]


def test_raw_entry_point_errors():
    C = _C()
    y = torch.rand(16) * 100
    out = torch.empty(16)
    t = torch.ones(121)
    e = Bins.official_age(121).edges
    ok = dict(label_dtype="float32", labels=y.data_ptr(), n=16, mode=2, num_bins=121, start=0.0,
              width=1.0, edges=0, table=t.data_ptr(), itemsize=4, out=out.data_ptr())
    C.bins_map(**ok)
    assert torch.equal(out, t[y.long()])

    def bad(match, **kw):
        with pytest.raises(ValueError, match=match):
            C.bins_map(**{**ok, **kw})

    bad("label_dtype must be", label_dtype="float16")
    bad("mode must be 0..4", mode=7)
    bad("mode 1 .* needs integer labels", mode=1)
    bad("modes 2 and 3 need float labels", label_dtype="int64", mode=3)
    bad("mode 2 needs width == 1", width=2.0)
    bad("integer start and width", start=0.5)
    bad("num_bins must be", num_bins=0)
    bad("n must be >= 0", n=-1)
    bad("labels must be a non-null", labels=0)
    bad("out must be a non-null", out=0)
    bad("out is not aligned", out=out.data_ptr() + 1)
    bad("itemsize must be 2, 4 or 8", itemsize=3)
    bad("itemsize must be 8", table=0)
    bad("mode 0 needs the edges", mode=0)
    bad("out overlaps labels", out=y.data_ptr() + 4)
    bad("out overlaps table", out=t.data_ptr())
    bad("width must be finite and > 0|start must be finite", mode=4, width=0.0)
    C.bins_map(**{**ok, "n": 0, "labels": 0, "out": 0})  # n == 0 touches nothing
    C.bins_map(**{**ok, "mode": 0, "edges": e.to(torch.float32).data_ptr()})
    assert torch.equal(out, t[y.long()])
