"""DIR shot metrics vs a per-label Python oracle, the AgeDB-DIR shot split, NaN groups, GM eps."""

import math
from collections import Counter

import pytest
import torch

import dirfast
from dirfast import Bins, shot_metrics
from dirfast.metrics import GROUPS
from dirfast.reference import shot_metrics_ref


def oracle(preds, labels, train, bins_fn, many=100, few=20, official=False, eps=1e-10):
    """Straightforward per-sample loops (spec §3.1): returns {group: (mse, mae, gm, n)} and balanced MAE."""
    preds, labels, train = preds.tolist(), labels.tolist(), train.tolist()
    if official:
        tc = Counter(int(t) for t in train)
        n_of = lambda y: tc.get(y, 0) if float(y).is_integer() else 0  # exact float == int(train)
    else:
        bc = Counter(bins_fn(t) for t in train)
        n_of = lambda y: bc.get(bins_fn(y), 0)
    groups = {g: [] for g in GROUPS}
    per_bin = {}
    for p, y in zip(preds, labels):
        e = p - y
        n = n_of(y)
        groups["all"].append(e)
        groups["many" if n > many else "few" if n < few else "medium"].append(e)
        if n == 0:
            groups["zero"].append(e)
        per_bin.setdefault(bins_fn(y), []).append(abs(e))
    out = {}
    for g, es in groups.items():
        if not es:
            out[g] = (math.nan, math.nan, math.nan, 0)
            continue
        logs = [math.log(abs(e)) if abs(e) > 0 else -math.inf for e in es] if official else \
            [math.log(max(abs(e), eps)) for e in es]
        out[g] = (sum(e * e for e in es) / len(es), sum(abs(e) for e in es) / len(es),
                  math.exp(sum(logs) / len(es)), len(es))
    bal = sum(sum(v) / len(v) for v in per_bin.values()) / len(per_bin)
    return out, bal


def assert_matches(m, want, bal, rtol=1e-12):
    for g in GROUPS:
        mse, mae, gm, n = want[g]
        assert m.count[g] == n, g
        for name, got, exp in (("mse", m.mse[g], mse), ("mae", m.mae[g], mae), ("gm", m.gm[g], gm)):
            if math.isnan(exp):
                assert math.isnan(got), (g, name, got)
            else:
                assert got == pytest.approx(exp, rel=rtol, abs=1e-300), (g, name)
    assert m.balanced_mae == pytest.approx(bal, rel=rtol)


@pytest.fixture(scope="module")
def agedb():
    return dirfast.data.agedb_dir_ages()


def test_agedb_shot_split(agedb):
    train, test = agedb["train"], agedb["test"]
    assert (train.numel(), agedb["val"].numel(), test.numel()) == (12208, 2140, 2140)
    for variant in ("default", "official"):
        m = shot_metrics(test + 1.0, test, train, Bins.official_age(121), variant=variant)
        assert m.num_bins == {"all": 92, "many": 51, "medium": 16, "few": 25, "zero": 0}, variant
        assert m.count == {"all": 2140, "many": 1530, "medium": 448, "few": 162, "zero": 0}, variant
        assert m.mae["all"] == 1.0 and m.mse["few"] == 1.0 and m.gm["many"] == pytest.approx(1.0, rel=1e-15)
        assert math.isnan(m.mae["zero"]) and math.isnan(m.gm["zero"])
    assert m.bin_shot.shape == (121,) and m.bin_train_count.sum().item() == 12208
    assert m.bin_test_count.sum().item() == 2140
    assert m.bin_shot[35].item() == 0 and m.bin_train_count[35].item() == 353  # spec §4: max bin, age 35


@pytest.mark.parametrize("variant", ["default", "official"])
def test_agedb_random_preds_vs_per_label_loop(agedb, variant):
    train, test = agedb["train"], agedb["test"]
    g = torch.Generator().manual_seed(0)
    preds = test + torch.randn(test.shape, generator=g) * 8
    preds[:5] = test[:5]  # exact zeros: GM eps / official 0 behaviour
    bins = Bins.official_age(121)
    m = shot_metrics(preds, test, train, bins, variant=variant)
    want, bal = oracle(preds.double(), test.double(), train, lambda y: min(120, int(y)),
                       official=variant == "official")
    assert_matches(m, want, bal)
    if variant == "official":
        assert m.gm["all"] == 0.0
    else:
        assert 0 < m.gm["all"] < m.mae["all"]
    r = shot_metrics_ref(preds, test, train, bins, variant=variant)
    assert_matches(r, want, bal)
    assert torch.equal(r.bin_shot, m.bin_shot) and r.num_bins == m.num_bins


@pytest.mark.parametrize("seed", [1, 2])
def test_float_labels_and_zero_shot(seed):
    g = torch.Generator().manual_seed(seed)
    train = torch.distributions.Exponential(0.4).sample((3000,)) * 1.0
    test = torch.rand(1500, generator=g) * 20  # tail bins are zero-shot
    preds = test + torch.randn(1500, generator=g)
    bins = Bins(0, 0.5, 40)
    fb = lambda y: min(39, max(0, math.floor(y / 0.5)))
    for many, few in ((100, 20), (300, 50), (5, 2)):
        m = shot_metrics(preds, test, train, bins, many=many, few=few)
        want, bal = oracle(preds.double(), test.double(), train, fb, many=many, few=few)
        assert_matches(m, want, bal)
        assert m.count["zero"] > 0
    # official: non-integer test labels match no int-cast train label -> all few / zero-shot
    m = shot_metrics(preds, test, train, bins, variant="official")
    assert m.count["few"] == m.count["zero"] == 1500 - int((test == test.trunc()).sum())
    want, bal = oracle(preds.double(), test.double(), train, fb, official=True)
    assert_matches(m, want, bal)


def test_empty_groups_are_nan_and_gm_eps():
    train = torch.tensor([1.0] * 50)
    labels = torch.tensor([1.0, 1.0, 2.0])
    preds = torch.tensor([1.0, 1.5, 2.0])
    bins = Bins(0, 1, 5)
    m = shot_metrics(preds, labels, train, bins)  # bin 1 has 50 → medium; bin 2 zero-shot
    assert math.isnan(m.mse["many"]) and math.isnan(m.mae["many"]) and math.isnan(m.gm["many"])
    assert m.count == {"all": 3, "many": 0, "medium": 2, "few": 1, "zero": 1}
    assert m.gm["zero"] == pytest.approx(1e-10, rel=1e-12)  # exact zero → eps
    assert m.gm["medium"] == pytest.approx(math.sqrt(1e-10 * 0.5), rel=1e-12)
    m2 = shot_metrics(preds, labels, train, bins, gm_eps=1e-3)
    assert m2.gm["medium"] == pytest.approx(math.sqrt(1e-3 * 0.5), rel=1e-12)
    mo = shot_metrics(preds, labels, train, bins, variant="official")
    assert mo.gm["medium"] == 0.0 and mo.gm["zero"] == 0.0 and mo.gm_eps == 0.0
    assert m.balanced_mae == pytest.approx((0.25 + 0.0) / 2)
    assert math.isnan(m.bin_mae[0].item()) and m.bin_mae[1].item() == 0.25
    d = m.as_dict()
    assert d["count/medium"] == 2 and math.isnan(d["mae/many"]) and d["balanced_mae"] == m.balanced_mae
    # no test sample at all: everything NaN, no exception
    e = shot_metrics(torch.tensor([]), torch.tensor([]), train, bins)
    assert all(math.isnan(e.mae[g]) for g in GROUPS) and math.isnan(e.balanced_mae)


def test_metric_bad_inputs():
    train = torch.tensor([1.0, 2.0])
    bins = Bins(0, 1, 5)
    with pytest.raises(ValueError, match="preds must have the shape of labels"):
        shot_metrics(torch.zeros(3, 1), torch.zeros(3), train, bins)
    with pytest.raises(ValueError, match=r"labels must have shape \[B\] or \[B, 1\]"):
        shot_metrics(torch.zeros(3, 2), torch.zeros(3, 2), train, bins)
    with pytest.raises(TypeError, match="preds must be a floating tensor"):
        shot_metrics(torch.zeros(3, dtype=torch.int64), torch.zeros(3), train, bins)
    with pytest.raises(ValueError, match="train_labels is empty"):
        shot_metrics(torch.zeros(3), torch.zeros(3), torch.tensor([]), bins)
    with pytest.raises(ValueError, match="variant must be one of"):
        shot_metrics(torch.zeros(3), torch.zeros(3), train, bins, variant="paper")
    with pytest.raises(ValueError, match="gm_eps must be >= 0.0, got -1"):
        shot_metrics(torch.zeros(3), torch.zeros(3), train, bins, gm_eps=-1)
    with pytest.raises(ValueError, match="preds contains NaN"):
        shot_metrics(torch.tensor([math.nan]), torch.zeros(1), train, bins, validate=True)
    with pytest.raises(ValueError, match="labels outside"):
        shot_metrics(torch.zeros(1), torch.tensor([9.0]), train, Bins(0, 1, 5, out_of_range="error"),
                     validate=True)
    # without validation: NaN predictions propagate, no exception
    m = shot_metrics(torch.tensor([math.nan, 1.0]), torch.tensor([1.0, 1.0]), train, bins, validate=False)
    assert math.isnan(m.mae["all"])


def test_shapes_and_int_labels():
    g = torch.Generator().manual_seed(3)
    train = torch.randint(0, 50, (4000,), generator=g)
    test = torch.randint(0, 60, (777,), generator=g)
    preds = test.float() + torch.randn(777, generator=g)
    bins = Bins.official_age(121)
    a = shot_metrics(preds, test, train, bins)
    b = shot_metrics(preds[:, None], test[:, None].float(), train[:, None].double(), bins)
    assert a.as_dict() == pytest.approx(b.as_dict(), nan_ok=True, rel=1e-7)
    want, bal = oracle(preds.double(), test.double(), train, lambda y: min(120, int(y)))
    assert_matches(a, want, bal)
    assert a.count["zero"] == int((test >= 50).sum())


def _assert_same(m, r, tag):
    """Fast path and reference agree on every field (floats to 1e-12, NaN where NaN)."""
    assert m.count == r.count, (tag, m.count, r.count)
    assert m.num_bins == r.num_bins, (tag, m.num_bins, r.num_bins)
    assert torch.equal(m.bin_shot, r.bin_shot) and torch.equal(m.bin_train_count, r.bin_train_count), tag
    for name in ("mse", "mae", "gm"):
        for g in GROUPS:
            a, b = getattr(m, name)[g], getattr(r, name)[g]
            assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-12), (tag, name, g)
    assert m.balanced_mae == pytest.approx(r.balanced_mae, rel=1e-12, nan_ok=True), tag


def test_few_zero_issue_example():
    """The spec's rule (§3.1, official ``train.py``): many if n_train > many, else
    few if n_train < few, else medium; zero-shot (n_train = 0) bins are reported alone in "zero" and
    belong to whichever shot the rule gives n_train = 0: few for few >= 1 (the usual case, "zero-shot
    falls into few"), medium for few = 0. The fast path put zero-shot into few even for few = 0."""
    p, y, t = torch.tensor([0.5, 2.0]), torch.tensor([0.5, 2.5]), torch.tensor([0.5])
    for variant in ("default", "official"):
        m = shot_metrics(p, y, t, Bins(0, 1, 3), many=3, few=0, variant=variant)
        r = shot_metrics_ref(p, y, t, Bins(0, 1, 3), many=3, few=0, variant=variant)
        # official: shots per label value; 0.5 and 2.5 match no int-cast train label: both zero-shot
        zero = 1 if variant == "default" else 2
        want = {"all": 2, "many": 0, "medium": 2, "few": 0, "zero": zero}
        assert m.count == want and r.count == want, (variant, m.count, r.count)
        assert m.num_bins == r.num_bins == {"all": 2, "many": 0, "medium": 2, "few": 0, "zero": zero}
        assert m.mae["medium"] == pytest.approx(0.25) and math.isnan(m.mae["few"])
        assert m.bin_shot.tolist() == [1, 1, 1]  # n_train 0, 1, 0: none < 0, none > 3


@pytest.mark.parametrize("variant", ["default", "official"])
@pytest.mark.parametrize("many,few", [(3, 0), (0, 0), (0, 1), (4, 4), (4, 5), (2, 3), (100, 20)])
def test_threshold_edges_fast_equals_reference_and_oracle(variant, many, few):
    """few = 0, few = many, few = many + 1 (no medium), many = 0: fast path == reference == the
    per-sample oracle of the literal rule, on bins with 0..9 training samples (zero-shot included)."""
    g = torch.Generator().manual_seed(many * 10 + few)
    counts = torch.randint(0, 10, (12,), generator=g)
    counts[[2, 7]] = 0
    train = torch.repeat_interleave(torch.arange(12), counts).double()
    test = torch.randint(0, 12, (300,), generator=g).double()
    preds = test + torch.randn(300, generator=g, dtype=torch.float64)
    bins = Bins(0, 1, 12)
    m = shot_metrics(preds, test, train, bins, many=many, few=few, variant=variant)
    r = shot_metrics_ref(preds, test, train, bins, many=many, few=few, variant=variant)
    tag = f"{variant} many={many} few={few}"
    _assert_same(m, r, tag)
    want, bal = oracle(preds, test, train, lambda v: min(11, int(v)), many=many, few=few,
                       official=variant == "official", eps=0.0 if variant == "official" else 1e-10)
    assert_matches(m, want, bal)
    assert m.count["zero"] > 0
    assert m.count["many"] + m.count["medium"] + m.count["few"] == m.count["all"], tag


@pytest.mark.parametrize("variant", ["default", "official"])
def test_preds_requiring_grad(variant):
    """predictions straight from a model (requires_grad) are evaluated without a
    graph (they raised "clamp_min(): functions with out=... arguments don't support automatic
    differentiation"); the inputs are left as they were."""
    g = torch.Generator().manual_seed(5)
    train = torch.randint(0, 30, (500,), generator=g).float()
    labels = torch.randint(0, 40, (200,), generator=g).float()
    w = torch.randn(200, 1, generator=g, requires_grad=True)
    preds = (labels[:, None] + w)  # non-leaf, requires grad
    labels_g = labels[:, None].clone().requires_grad_()
    bins = Bins(0, 1, 40)
    m = shot_metrics(preds, labels_g, train, bins, many=20, few=10, variant=variant)
    r = shot_metrics_ref(preds, labels_g, train, bins, many=20, few=10, variant=variant)
    plain = shot_metrics(preds.detach(), labels[:, None], train, bins, many=20, few=10, variant=variant)
    _assert_same(m, r, variant)
    _assert_same(m, plain, variant)
    assert not m.bin_mae.requires_grad and not r.bin_mae.requires_grad
    assert w.grad is None and preds.requires_grad


def test_counts_off_the_cpu_equal_bincount():
    """The count used off the CPU (integer index_add_, no host sync) equals bincount exactly."""
    from dirfast.metrics import _count_index_add

    g = torch.Generator().manual_seed(0)
    for n, size in ((1, 0), (1, 5), (7, 100), (484, 10_000)):
        keys = torch.randint(0, n, (size,), generator=g)
        assert torch.equal(_count_index_add(keys, n), torch.bincount(keys, minlength=n))
