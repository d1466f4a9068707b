"""Interpreter tier: the Triton LDS map kernel (label -> bin -> weight, one launch on CUDA tensors)
against ``LDS`` on its PyTorch paths (``backend="reference"``: ``torch.searchsorted`` binning, and the
vectorised arithmetic path) — bit-identical weights for every kind of ``Bins``, fp32/fp64 labels and
tables, NaN, ±inf, labels exactly on edges and out of range."""

import math

import pytest
import torch

import dirfast
from dirfast.kernels.lds import lds_map, steps_for

pytestmark = pytest.mark.interpreter

BINS = {
    "ages": lambda: dirfast.Bins(0, 1, 121),
    "ages3": lambda: dirfast.Bins(3, 1, 97),
    "official": lambda: dirfast.Bins.official_age(121),
    "quarter": lambda: dirfast.Bins(0.5, 0.25, 40),
    "negative": lambda: dirfast.Bins(-7.3, 0.1, 200),
    "edges": lambda: dirfast.Bins(edges=[-1.0, 0.0, 0.5, 2.0, 2.25, 10.0, 1e3]),
    "one": lambda: dirfast.Bins(0, 1, 1),
    "two": lambda: dirfast.Bins(0, 2, 2),
}


def _labels(bins, dtype, n=3000, seed=0):
    g = torch.Generator().manual_seed(seed)
    e = torch.tensor(bins._edges, dtype=torch.float64)
    lo, hi = float(e[0]), float(e[-1])
    span = hi - lo
    parts = [
        lo - 0.1 * span + 1.2 * span * torch.rand(n, generator=g, dtype=torch.float64),  # some out
        e,                                                    # every edge exactly
        torch.nextafter(e, torch.full_like(e, math.inf)),     # just above / below each edge
        torch.nextafter(e, torch.full_like(e, -math.inf)),
        torch.tensor([math.nan, math.inf, -math.inf, 0.0, -0.0, 1e30, -1e30], dtype=torch.float64),
    ]
    return torch.cat(parts).to(dtype)


@pytest.mark.parametrize("name", list(BINS))
@pytest.mark.parametrize("ydt", [torch.float32, torch.float64])
@pytest.mark.parametrize("tdt", [torch.float32, torch.float64])
def test_kernel_equals_the_pytorch_paths(name, ydt, tdt):
    bins = BINS[name]()
    if ydt == torch.float32 and not bins._f32_ok:
        pytest.skip("float32 labels are refused for these edges")
    train = torch.rand(5000, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    train = torch.tensor(bins._edges[0]) + train * (bins._edges[-1] - bins._edges[0])
    lds = dirfast.LDS(bins, dtype=tdt, lds=True).fit(train)
    y = _labels(bins, ydt)
    inner = bins._edges_on(y.device, ydt)[1:-1]
    if ydt == torch.float64:  # the LDS.forward route: the fp64 table, rounded afterwards
        got = lds_map(y, inner, lds._table(y.device, ydt)).to(tdt)
    else:
        got = lds_map(y, inner, lds._table(y.device))
    ref = lds(y, backend="reference", validate=False)
    assert got.dtype == tdt and torch.equal(got, ref), name
    fast = lds(y, validate=False)  # the CPU path (C++ kernel or vectorised PyTorch)
    assert torch.equal(got, fast), name


def test_shapes_and_empty():
    bins = dirfast.Bins(0, 1, 10)
    lds = dirfast.LDS(bins).fit(torch.arange(10.0).repeat(3))
    table = lds._table(torch.device("cpu"))
    inner = bins._edges_on(torch.device("cpu"), torch.float32)[1:-1]
    y = torch.rand(7, 1) * 10
    out = lds_map(y, inner, table)
    assert out.shape == (7, 1) and torch.equal(out, lds(y, backend="reference", validate=False))
    assert lds_map(torch.empty(0), inner, table).shape == (0,)
    y2 = (torch.rand(6, 5) * 10)[:, 1]  # non-contiguous
    assert not y2.is_contiguous()
    assert torch.equal(lds_map(y2, inner, table), lds(y2, backend="reference", validate=False))


def test_steps():
    assert [steps_for(k) for k in (1, 2, 3, 4, 5, 121, 128, 129)] == [0, 1, 2, 2, 3, 7, 7, 8]
    for k in (1, 2, 3, 4, 5, 121, 128, 129):
        assert 2 ** steps_for(k) >= k  # rounds enough for k positions (0 .. k − 1 edges below)
