"""Properties of ``shot_metrics`` against ``shot_metrics_ref`` (fp64)."""

import math

import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st

import dirfast
from dirfast import Bins
from dirfast.reference import shot_metrics_ref

from _strategies import F16, F32, F64, assert_bitwise, assert_unchanged, budget, seeds, sizes, snapshot, raises_naming

pytestmark = pytest.mark.property


@st.composite
def metric_cases(draw, max_n=300):
    g = torch.Generator().manual_seed(draw(seeds))
    k = draw(st.sampled_from((1, 3, 10, 121)))
    bins = draw(st.sampled_from((Bins(0, 1, k), Bins.official_age(k), Bins(-0.5, 0.5, k))))
    top = bins.edges[-1].item()
    lo = bins.edges[0].item()
    ntrain = draw(sizes(max_n, min_size=1, large=(2000,)))
    tmode = draw(st.sampled_from(("uniform", "skewed", "one_bin", "ints")))
    if tmode == "one_bin":
        train = torch.full((ntrain,), lo + 0.25, dtype=F64)
    elif tmode == "skewed":
        train = lo + (top - lo) * torch.rand(ntrain, generator=g, dtype=F64).pow(4)
    else:
        train = lo + (top - lo) * torch.rand(ntrain, generator=g, dtype=F64)
    if tmode == "ints":
        train = train.floor()
    n = draw(sizes(max_n, large=(2000,)))
    labels = lo + (top - lo + 2) * torch.rand(n, generator=g, dtype=F64) - 1  # some out of range
    if draw(st.booleans()):
        labels = labels.round()
    pdt = draw(st.sampled_from((F64, F32, F16)))
    emode = draw(st.sampled_from(("normal", "zero", "some_zero", "huge")))
    err = torch.randn(n, generator=g, dtype=F64) * (1e6 if emode == "huge" else 3)
    if emode == "zero":
        err = torch.zeros(n, dtype=F64)
    elif emode == "some_zero":
        err = torch.where(torch.rand(n, generator=g) < 0.5, torch.zeros_like(err), err)
    if pdt == F16:
        err = err.clamp(-1000, 1000)
    preds = (labels + err).to(pdt)
    ldt = draw(st.sampled_from(("same", "int", "f64")))
    if ldt == "same":
        labels = labels.to(pdt)
    elif ldt == "int":
        labels = labels.round().to(torch.int64)
    if draw(st.booleans()):
        preds, labels = preds.reshape(-1, 1), labels.reshape(-1, 1)
    many = draw(st.sampled_from((100, 0, 1, 5, 3)))
    few = draw(st.sampled_from((20, 0, 1, 2, many + 1, many)))
    if few > many + 1:
        few = many + 1
    return dict(preds=preds, labels=labels, train=train.to(draw(st.sampled_from((F64, F32, torch.int64))))
                if tmode == "ints" else train, bins=bins, many=many, few=few,
                variant=draw(st.sampled_from(("default", "official"))),
                gm_eps=draw(st.sampled_from((None, 0.0, 1e-3))))


def _kw(case):
    return dict(many=case["many"], few=case["few"], variant=case["variant"], gm_eps=case["gm_eps"])


def _same(a, b, tag):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), tag
        for k in a:
            _same(a[k], b[k], f"{tag}[{k}]")
    elif isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape, tag
        if a.is_floating_point():
            torch.testing.assert_close(a, b, rtol=1e-10, atol=0, equal_nan=True, msg=lambda m: f"{tag}: {m}")
        else:
            assert torch.equal(a, b), f"{tag}: {a.tolist()} != {b.tolist()}"
    elif isinstance(a, float):
        assert (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-10, abs_tol=0) or a == b, \
            f"{tag}: {a!r} != {b!r}"
    else:
        assert a == b, f"{tag}: {a!r} != {b!r}"


FIELDS = ("mse", "mae", "gm", "count", "num_bins", "balanced_mae", "bin_shot", "bin_train_count",
          "bin_test_count", "bin_mae")

# fixed bugs: few = 0 accepted but miscounted; preds that require grad
_FEW0 = dict(preds=torch.tensor([0.5, 2.5]), labels=torch.tensor([0.5, 2.5]), train=torch.tensor([0.5]),
             bins=Bins(0, 1, 3), many=3, few=0, variant="default", gm_eps=None)


@budget(120)
@given(case=metric_cases(), grad=st.booleans())
@example(case=_FEW0, grad=False)
@example(case=_FEW0, grad=True)
def test_matches_reference(case, grad):
    """Every field = ``shot_metrics_ref`` (fp64 sums: 1e-10); predictions that require grad work
    and give the same numbers (no graph); inputs unchanged; two calls bit-identical."""
    preds = case["preds"]
    if grad:
        preds = preds.detach().clone().to(F32 if preds.dtype == F16 else preds.dtype).requires_grad_(True)
    snap = snapshot(preds, case["labels"], case["train"])
    got = dirfast.shot_metrics(preds, case["labels"], case["train"], case["bins"], validate=False, **_kw(case))
    again = dirfast.shot_metrics(preds, case["labels"], case["train"], case["bins"], validate=False, **_kw(case))
    want = shot_metrics_ref(preds.detach(), case["labels"], case["train"], case["bins"], **_kw(case))
    assert_unchanged(snap)
    for f in FIELDS:
        _same(getattr(got, f), getattr(want, f), f)
        assert_bitwise(getattr(got, f), getattr(again, f), f"{f} twice")
    c = got.count
    assert c["all"] == preds.numel()
    if case["few"] >= 1:  # few-shot (n_train < few) includes zero-shot; with few = 0 it is empty
        assert c["few"] >= c["zero"]
    assert c["many"] + c["medium"] + c["few"] == c["all"]
    for f in ("bin_mae",):
        assert not getattr(got, f).requires_grad


BAD = [
    ("preds", lambda c: dict(preds=c["preds"].to(torch.int64))),
    ("preds", lambda c: dict(preds=c["preds"].reshape(-1)[:-1] if c["preds"].numel() else torch.zeros(1))),
    ("labels", lambda c: dict(labels=torch.zeros(2, 2), preds=torch.zeros(2, 2))),
    ("labels", lambda c: dict(labels=torch.zeros(c["preds"].shape[0], dtype=torch.bool), preds=c["preds"].reshape(-1))),
    ("train_labels", lambda c: dict(train=torch.zeros(0))),
    ("train_labels", lambda c: dict(train=torch.zeros(3, 2))),
    ("bins", lambda c: dict(bins=(0, 1, 10))),
    ("many", lambda c: dict(many=-1)),
    ("many", lambda c: dict(many=2.5)),
    ("few", lambda c: dict(few=-1)),
    ("few", lambda c: dict(many=3, few=10)),
    ("variant", lambda c: dict(variant="paper")),
    ("gm_eps", lambda c: dict(gm_eps=-1.0)),
    ("gm_eps", lambda c: dict(gm_eps=float("nan"))),
    ("preds", lambda c: dict(preds=torch.full_like(c["preds"], float("nan")), validate=True)),
]


@budget(60)
@given(case=metric_cases(max_n=12), bad=st.sampled_from(BAD))
def test_bad_input_raises(case, bad):
    name, mutate = bad
    if case["preds"].numel() == 0:
        case = dict(case, preds=torch.ones(2), labels=torch.ones(2))
    kw = dict(preds=case["preds"], labels=case["labels"], train=case["train"], bins=case["bins"], **_kw(case))
    kw.update(mutate(case))
    raises_naming(lambda: dirfast.shot_metrics(kw.pop("preds"), kw.pop("labels"), kw.pop("train"),
                                               kw.pop("bins"), **kw), name)
