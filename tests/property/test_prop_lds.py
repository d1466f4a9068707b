"""Properties of ``Bins``, ``LDS`` / ``lds_weights`` / ``kernel_window`` against the references
(``backend="reference"`` binning by ``searchsorted``, ``lds_weights_ref`` in fp64) on both CPU paths."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import dirfast
from dirfast import Bins, LDS
from dirfast.reference import lds_weights_ref

from _strategies import (F16, F32, F64, BF16, assert_bitwise, assert_unchanged, budget, on_path, paths,
                         raises_naming, seeds, sizes, snapshot)

pytestmark = pytest.mark.property

LABEL_DTYPES = (F64, F32, F16, BF16, torch.int64, torch.int32)


@st.composite
def bins_st(draw):
    if draw(st.booleans()):
        start = draw(st.sampled_from((0.0, -3.5, 3.0, 1e6, 0.1)))
        width = draw(st.sampled_from((1.0, 0.1, 2.5, 1e-3, 7.0)))
        count = draw(st.sampled_from((1, 2, 7, 121)))
        return Bins(start, width, count, out_of_range=draw(st.sampled_from(("clamp", "error"))))
    g = torch.Generator().manual_seed(draw(seeds))
    k = draw(st.sampled_from((1, 2, 5, 30)))
    steps = torch.rand(k, generator=g, dtype=F64) * draw(st.sampled_from((1.0, 10.0, 1e-2))) + 1e-3
    edges = draw(st.sampled_from((-5.0, 0.0, 20.0))) + torch.cat([torch.zeros(1, dtype=F64), steps.cumsum(0)])
    return Bins(edges=edges.tolist() if draw(st.booleans()) else edges,
                out_of_range=draw(st.sampled_from(("clamp", "error"))))


def labels_for(g, bins, n, dtype, mode):
    if dtype in (F32, F16, BF16) and not bins._f32_ok:
        dtype = F64  # edges not distinct in float32: float32 labels raise a clear error (documented)
    e = bins.edges
    lo, hi = e[0].item(), e[-1].item()
    if mode == "edges":  # exactly on edges (the right=True rule, the closed last edge)
        v = e[torch.randint(0, e.numel(), (n,), generator=g)]
    elif mode == "outside":
        span = hi - lo
        v = torch.where(torch.rand(n, generator=g) < 0.5, lo - span * torch.rand(n, generator=g, dtype=F64),
                        hi + span * torch.rand(n, generator=g, dtype=F64))
    else:
        v = lo + (hi - lo) * torch.rand(n, generator=g, dtype=F64)
    if not dtype.is_floating_point:
        v = v.round()
        info = torch.iinfo(dtype)
        v = v.clamp(info.min, info.max)
    else:
        big = torch.finfo(dtype).max / 2
        v = v.clamp(-big, big)
    return v.to(dtype)


@st.composite
def bins_cases(draw, max_n=300):
    bins = draw(bins_st())
    g = torch.Generator().manual_seed(draw(seeds))
    n = draw(sizes(max_n, large=(4099,)))
    dtype = draw(st.sampled_from(LABEL_DTYPES))
    y = labels_for(g, bins, n, dtype, draw(st.sampled_from(("inside", "edges", "outside"))))
    shape = draw(st.sampled_from(("flat", "column", "matrix", "sliced")))
    if shape == "column":
        y = y.reshape(-1, 1)
    elif shape == "matrix" and n % 2 == 0:
        y = y.reshape(2, -1).t()
    elif shape == "sliced":
        buf = torch.zeros(2 * n, dtype=y.dtype)
        buf[::2] = y
        y = buf[::2]
    return dict(bins=bins, y=y)


@budget(120)
@given(case=bins_cases(), path=paths)
def test_bins_index_matches_reference(case, path):
    """``Bins.index`` on each CPU path = the ``searchsorted`` reference exactly (int64, y's shape,
    values in [0, K−1]); a ``to_dict``/``from_dict`` round trip gives an equal Bins with the same
    indices; out-of-range labels raise under validation with ``out_of_range="error"``."""
    bins, y = case["bins"], case["y"]
    snap = snapshot(y)
    with on_path(path) as backend:
        got = bins.index(y, backend=backend, validate=False)
    want = bins.index(y, backend="reference", validate=False)
    assert got.dtype == torch.int64 and got.shape == y.shape
    assert torch.equal(got, want), f"index {got.reshape(-1)[:8].tolist()} != {want.reshape(-1)[:8].tolist()}"
    if got.numel():
        assert int(got.min()) >= 0 and int(got.max()) < bins.num_bins
    b2 = Bins.from_dict(bins.to_dict())
    assert b2 == bins and hash(b2) == hash(bins)
    assert torch.equal(b2.index(y, validate=False), got)
    assert_unchanged(snap)
    e = bins.edges
    if bins.out_of_range == "error" and y.numel():
        yv = y.to(F64) if y.dtype in (F64, torch.int64, torch.int32) else None
        if yv is not None and bool(((yv < e[0]) | (yv > e[-1])).any()):
            raises_naming(lambda: bins.index(y, validate=True), "y")


@st.composite
def lds_cases(draw, max_n=300):
    bins = draw(bins_st())
    bins = Bins(edges=bins.edges) if bins.out_of_range == "error" else bins  # fit clamps
    g = torch.Generator().manual_seed(draw(seeds))
    n = draw(sizes(max_n, min_size=1, large=(4099,)))
    ldt = draw(st.sampled_from(LABEL_DTYPES))
    train = labels_for(g, bins, n, ldt, draw(st.sampled_from(("inside", "edges", "outside"))))
    if draw(st.booleans()):
        train = train.reshape(-1, 1)
    reweight = draw(st.sampled_from(("sqrt_inv", "inverse", "none")))
    cfg = dict(reweight=reweight, lds=reweight != "none" and draw(st.booleans()),
               kernel=draw(st.sampled_from(("gaussian", "triang", "laplace"))),
               ks=draw(st.sampled_from((1, 3, 5, 9))), sigma=draw(st.sampled_from((2.0, 0.5, 10.0))),
               clip=draw(st.sampled_from(((5, 1000), None, (0, 3)))),
               variant=draw(st.sampled_from(("default", "official"))),
               dtype=draw(st.sampled_from((F32, F64))))
    cfg["empty_bins"] = draw(st.sampled_from((None, "nearest", "inf")))
    labels = labels_for(g, bins, draw(sizes(100)), ldt, draw(st.sampled_from(("inside", "edges", "outside"))))
    return dict(bins=bins, train=train, labels=labels, cfg=cfg)


@budget(90)
@given(case=lds_cases(), path=paths)
def test_lds_matches_reference_and_round_trips(case, path):
    """``LDS.fit(train)(labels)`` = ``lds_weights_ref`` (fp64, cast to the weights' dtype) and =
    ``lds_weights(backend="reference")``; a state_dict loaded into an LDS built with another
    configuration restores config and weights bit for bit; inputs are never modified."""
    bins, train, labels, cfg = case["bins"], case["train"], case["labels"], case["cfg"]
    snap = snapshot(train, labels)
    with on_path(path) as backend:
        lds = LDS(bins, **cfg).fit(train)
        w = lds(labels, backend=backend, validate=False)
        w_fn = dirfast.lds_weights(train, bins, labels, backend=backend, validate=False, **cfg)
    ref_cfg = dict(cfg)
    dt = ref_cfg.pop("dtype")
    want = lds_weights_ref(train, bins, labels, dtype=F64, **ref_cfg).to(dt)
    assert w.dtype == dt and w.shape == labels.shape and not w.requires_grad
    torch.testing.assert_close(w, want, rtol=1e-10 if dt == F64 else 1e-6, atol=0, equal_nan=True)
    assert_bitwise(w, w_fn, "lds_weights vs LDS")
    w_ref = dirfast.lds_weights(train, bins, labels, backend="reference", **cfg)
    torch.testing.assert_close(w, w_ref, rtol=1e-10 if dt == F64 else 1e-6, atol=0, equal_nan=True)
    other = LDS(Bins(edges=bins.edges.tolist()) if bins.width is not None else Bins(0, 1, bins.num_bins),
                reweight="inverse", lds=True, kernel="laplace", ks=3, sigma=1.0, dtype=F64)
    other.load_state_dict(lds.state_dict())
    assert other.config() == lds.config() and other.fitted
    with on_path(path) as backend:
        assert_bitwise(other(labels, backend=backend, validate=False), w, "loaded LDS")
    assert_bitwise(other.state_dict(), lds.state_dict(), "state_dict")
    assert_unchanged(snap)


BAD_BINS = [
    ("width", dict(start=0.0, width=0.0, count=3)),
    ("width", dict(start=0.0, width=-1.0, count=3)),
    ("count", dict(start=0.0, width=1.0, count=0)),
    ("count", dict(start=0.0, width=1.0, count=2.0)),
    ("start", dict(start=float("nan"), width=1.0, count=2)),
    ("edges", dict(edges=[0.0, 1.0, 1.0])),
    ("edges", dict(edges=[0.0])),
    ("edges", dict(edges=[0.0, float("inf")])),
    ("edges", dict(edges=[0.0, 1.0], start=0.0)),
    ("out_of_range", dict(start=0.0, width=1.0, count=2, out_of_range="wrap")),
]

BAD_LDS = [
    ("ks", dict(ks=4)),
    ("ks", dict(ks=0)),
    ("sigma", dict(sigma=0.0)),
    ("kernel", dict(kernel="box")),
    ("reweight", dict(reweight="log")),
    ("lds", dict(reweight="none", lds=True)),
    ("clip", dict(reweight="inverse", clip=(5, 1))),
    ("variant", dict(variant="paper")),
    ("empty_bins", dict(empty_bins="zero")),
    ("dtype", dict(dtype=torch.int64)),
    ("bins", dict(bins=[0, 1, 2])),
]

BAD_LABELS = [
    ("train_labels", lambda: dict(train=torch.zeros(0))),
    ("train_labels", lambda: dict(train=torch.tensor([1.0, float("nan")]))),
    ("train_labels", lambda: dict(train=torch.zeros(3, 2))),
    ("train_labels", lambda: dict(train=torch.zeros(3, dtype=torch.bool))),
    ("labels", lambda: dict(labels=torch.zeros(2, 2))),
    ("labels", lambda: dict(labels=torch.ones(2, dtype=torch.bool))),
]


@budget(60)
@given(bad_bins=st.sampled_from(BAD_BINS), bad_lds=st.sampled_from(BAD_LDS), bad_lab=st.sampled_from(BAD_LABELS))
def test_bad_input_raises(bad_bins, bad_lds, bad_lab):
    name, kw = bad_bins
    raises_naming(lambda: Bins(**kw), name)
    name, kw = bad_lds
    kw = dict(kw)
    b = kw.pop("bins", Bins(0, 1, 10))
    raises_naming(lambda: LDS(b, **kw), name)
    name, make = bad_lab
    d = dict(train=torch.arange(10.0), labels=torch.arange(3.0))
    d.update(make())
    raises_naming(lambda: dirfast.lds_weights(d["train"], Bins(0, 1, 10), d["labels"]), name)
    with pytest.raises(RuntimeError, match="fit"):
        LDS(Bins(0, 1, 10))(torch.arange(3.0))


@budget(45)
@given(kernel=st.sampled_from(("gaussian", "triang", "laplace")), ks=st.sampled_from((1, 3, 5, 7, 15)),
       sigma=st.floats(0.05, 50), normalize=st.sampled_from(("peak", "sum")))
def test_kernel_window(kernel, ks, sigma, normalize):
    """Symmetric, non-negative, ``ks`` long, peak 1 (``"peak"``) or sum 1 (``"sum"``), float64. (Not
    necessarily maximal at the centre: the official Gaussian is ``gaussian_filter1d`` of a delta with
    reflecting boundaries, whose ends exceed the centre once sigma >> ks, as scipy's.)"""
    w = dirfast.kernel_window(kernel, ks, sigma, normalize=normalize)
    assert w.shape == (ks,) and w.dtype == F64
    assert torch.equal(w, w.flip(0)) or torch.allclose(w, w.flip(0), rtol=1e-15, atol=0)
    assert bool((w >= 0).all())
    if normalize == "peak":
        assert abs(w.max().item() - 1.0) < 1e-15
    else:
        assert abs(w.sum().item() - 1.0) < 1e-14
