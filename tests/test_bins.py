"""dirfast.Bins: official binning, exact edges in the label's precision, clamp/error/NaN rules — every
test on both CPU paths (the C++ kernel and the vectorised-PyTorch fallback, see the ``path`` fixture)."""

import math
import pickle

import numpy as np
import pytest
import torch

from dirfast import Bins
from dirfast.bins import resolve_torch_backend

from _paths import select_path


@pytest.fixture(autouse=True, params=["cpu", "cpu_torch"])
def path(request, monkeypatch):
    """Run the mapping on the C++ kernel ("cpu") or the vectorised-PyTorch path ("cpu_torch")."""
    select_path(request.param, monkeypatch)
    want = "cpu" if request.param == "cpu" else "torch"
    assert resolve_torch_backend(None, torch.device("cpu"), op="test", has_cpu_kernel=True) == want
    return request.param


def official_bin(y, K):
    return min(K - 1, int(y))


def test_official_age_matches_int_truncation():
    K = 121
    g = torch.Generator().manual_seed(0)
    y = torch.cat([torch.rand(20000, generator=g) * 200 - 0.999,                # (−1, 199)
                   torch.arange(0, 130, dtype=torch.float32),                     # exactly on edges
                   torch.tensor([0.99999994, 35.0, 34.999996, 119.99999, 120.0, 121.0, -0.5, -0.0])])
    b = Bins.official_age(K)
    got = b.index(y).tolist()
    want = [official_bin(v, K) for v in y.tolist()]
    assert got == want
    assert b.index(torch.tensor([35.0])).item() == 35
    # integer and float64 labels agree
    yi = torch.randint(0, 300, (5000,), generator=g)
    assert b.index(yi).tolist() == [official_bin(v, K) for v in yi.tolist()]
    assert b.index(y.double()).tolist() == want


def test_stsb_float32_edges_like_numpy_histogram():
    b = Bins(0, 0.1, 50)
    on_edges = torch.tensor([k * 0.1 for k in range(51)], dtype=torch.float32)
    assert b.index(on_edges).tolist() == list(range(50)) + [49]
    g = torch.Generator().manual_seed(1)
    for y in (torch.randint(0, 51, (20000,), generator=g).float() / 10,        # on the 0.1 grid
              torch.randint(0, 26, (20000,), generator=g).float() / 5,         # 0.2 grid
              torch.rand(20000, generator=g) * 5):
        counts, _ = np.histogram(y.numpy(), 50, (0, 5))
        assert b.counts(y).tolist() == counts.tolist()
    # float64 labels compare with float64 edges: 0.7 (float64) is exactly 7 * 0.1 - 1 ulp
    assert b.index(torch.tensor([0.7], dtype=torch.float64)).item() == 6
    assert b.index(torch.tensor([7 * 0.1], dtype=torch.float64)).item() == 7


BINS = [Bins(0, 1, 121), Bins(-3, 2, 17), Bins(0.25, 0.1, 50), Bins(-1.5, 0.3, 37), Bins(1e3, 0.07, 9),
        Bins(edges=[0.0, 0.5, 2.0, 2.1, 10.0]), Bins(5, 1, 1), Bins(0, 1e-3, 300)]


@pytest.mark.parametrize("b", BINS, ids=repr)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.int64, torch.int32])
def test_fast_path_equals_searchsorted(b, dtype):
    e = b.edges
    lo, hi = float(e[0]), float(e[-1])
    g = torch.Generator().manual_seed(2)
    span = hi - lo
    y = torch.rand(30000, generator=g, dtype=torch.float64) * span * 1.4 + lo - 0.2 * span
    y = torch.cat([y, e, e + 1e-9, e - 1e-9, torch.tensor([lo - 1e6, hi + 1e6])])
    if dtype.is_floating_point:
        y = torch.cat([y, torch.nextafter(e, e + 1), torch.nextafter(e, e - 1)]).to(dtype)
        if dtype != torch.float64:
            ef = e.to(torch.float32)
            y = torch.cat([y, ef.to(dtype), torch.nextafter(ef, ef + 1).to(dtype),
                           torch.nextafter(ef, ef - 1).to(dtype)])
    else:
        y = y.round().to(dtype)
    fast = b.index(y, validate=False)
    ref = b.index(y, validate=False, backend="reference")
    assert fast.dtype == torch.int64 and fast.shape == y.shape
    assert torch.equal(fast, ref)
    assert int(fast.min()) >= 0 and int(fast.max()) <= b.num_bins - 1
    # the defining rule, with edges rounded to the comparison precision
    cdt = torch.float64 if (not dtype.is_floating_point or dtype == torch.float64) else torch.float32
    ec = e.to(cdt)
    yy = y.to(cdt)
    want = ((yy[:, None] >= ec[None, 1:-1]).sum(1))
    assert torch.equal(fast, want)


def test_last_edge_closed_and_clamp():
    b = Bins(0, 1, 3)
    y = torch.tensor([-5.0, -1e-9, 0.0, 2.999, 3.0, 3.5, math.inf, -math.inf])
    assert b.index(y).tolist() == [0, 0, 0, 2, 2, 2, 2, 0]


def test_out_of_range_error_only_under_validation():
    b = Bins(0, 1, 10, out_of_range="error")
    y = torch.tensor([1.0, 10.0, 10.5, -2.0])
    with pytest.raises(ValueError, match=r"outside the bins' range \[0.0, 10.0\].*10.5.*-2.0"):
        b.index(y, validate=True)
    assert b.index(y, validate=False).tolist() == [1, 9, 9, 0]
    assert b.index(torch.tensor([0.0, 10.0]), validate=True).tolist() == [0, 9]


def test_nan_labels():
    b = Bins(0, 1, 10)
    y = torch.tensor([1.0, math.nan])
    with pytest.raises(ValueError, match="NaN"):
        b.index(y, validate=True)
    for be in (None, "reference"):
        assert b.index(y, validate=False, backend=be).tolist() == [1, 9]  # NaN -> last bin
    assert Bins(0, 0.3, 10).index(y, validate=False).tolist() == [3, 9]


def test_bad_construction():
    with pytest.raises(ValueError, match="width must be > 0, got 0"):
        Bins(0, 0, 10)
    with pytest.raises(ValueError, match="count must be an int >= 1, got 0"):
        Bins(0, 1, 0)
    with pytest.raises(ValueError, match="strictly increasing"):
        Bins(edges=[0, 1, 1, 2])
    with pytest.raises(ValueError, match="not both"):
        Bins(0, 1, 3, edges=[0, 1])
    with pytest.raises(ValueError, match="out_of_range"):
        Bins(0, 1, 3, out_of_range="wrap")
    with pytest.raises(ValueError, match="at least 2"):
        Bins(edges=[1.0])
    with pytest.raises(TypeError, match="real floating or integer"):
        Bins(0, 1, 3).index(torch.tensor([True]))
    with pytest.raises(TypeError, match="torch.Tensor"):
        Bins(0, 1, 3).index([1.0])
    # edges that collapse in float32: float32 labels refused, float64 fine
    b = Bins(1e8, 1e-3, 5)
    with pytest.raises(ValueError, match="not distinct in float32"):
        b.index(torch.tensor([1e8], dtype=torch.float32))
    assert b.index(torch.tensor([1e8 + 2.5e-3], dtype=torch.float64)).item() == 2


def test_edges_are_start_plus_k_width_and_serialisation():
    b = Bins(0.1, 0.1, 30)
    assert b.edges.dtype == torch.float64 and b.num_bins == 30
    assert b.edges.tolist() == [0.1 + k * 0.1 for k in range(31)]  # not a cumulative sum
    assert b.edges.tolist() != list(np.cumsum([0.1] * 31))
    for x in (b, Bins(edges=[0, 1, 5]), Bins(0, 1, 4, out_of_range="error")):
        y = Bins.from_dict(x.to_dict())
        assert y == x and hash(y) == hash(x) and repr(y) == repr(x)
        assert pickle.loads(pickle.dumps(x)) == x
    assert Bins(0, 1, 4) != Bins(0, 1, 4, out_of_range="error")
    assert Bins(0, 1, 3) == Bins(edges=[0, 1, 2, 3])
    assert repr(Bins.official_age()) == "Bins(start=0.0, width=1.0, count=121)"


def test_shape_and_device_preserved():
    b = Bins.official_age()
    y = torch.tensor([[3.5], [7.0]])
    out = b.index(y)
    assert out.shape == (2, 1) and out.tolist() == [[3], [7]]
    assert b.counts(y).shape == (121,) and int(b.counts(y).sum()) == 2
    y_nc = torch.arange(20.0).reshape(4, 5).t()  # non-contiguous
    assert torch.equal(b.index(y_nc), y_nc.long())
    assert torch.equal(Bins(0, 0.5, 80).index(y_nc), Bins(0, 0.5, 80).index(y_nc.contiguous()))
