"""Fit-time and metric APIs take NumPy arrays and Python sequences, converted once at the
boundary by ``dirfast._checks.as_label_tensor``; per-step ops stay tensor-only.

Every conversion is checked for exact equality with the tensor input of the same dtype (NumPy float64,
float32, int64; lists: floats → float64, ints → int64), for leaving the user's array untouched, and for
clear errors naming the argument.
"""

import math
import warnings

import numpy as np
import pytest
import torch

import dirfast
from dirfast import LDS, Bins, lds_weights, pseudo_labels, shot_metrics
from dirfast._checks import as_label_tensor
from dirfast.nn import DistLoss

BINS = Bins.official_age(121)
RNG = np.random.default_rng(14)
# age-like training labels (integer-valued floats, as AgeDB) and a fractional test set
TRAIN = np.clip(np.round(RNG.normal(40, 14, 600)), 1, 100)
TEST_Y = np.clip(RNG.normal(40, 16, 200), 0.5, 100.5)
TEST_P = TEST_Y + RNG.normal(0, 6, 200)

NP_DTYPES = (np.float64, np.float32, np.int64)


def _array(x, dtype):
    return np.ascontiguousarray(x.astype(dtype))


def _same(a, b):
    """Exact equality of tensors (values, dtype, shape), NaN == NaN."""
    assert a.dtype == b.dtype and a.shape == b.shape, (a, b)
    assert torch.equal(torch.nan_to_num(a, nan=-7.0), torch.nan_to_num(b, nan=-7.0)) and \
        torch.equal(a.isnan(), b.isnan())


def _same_metrics(m, ref):
    da, db = m.as_dict(), ref.as_dict()
    assert da.keys() == db.keys()
    for k in da:
        assert da[k] == db[k] or (math.isnan(da[k]) and math.isnan(db[k])), (k, da[k], db[k])
    for name in ("bin_shot", "bin_train_count", "bin_test_count", "bin_mae"):
        _same(getattr(m, name), getattr(ref, name))


def _inputs(x, dtype):
    """(array/sequence form, the equivalent tensor) for one input kind."""
    a = _array(x, dtype)
    return a, torch.from_numpy(a.copy())


KINDS = [*(pytest.param(dt, id=np.dtype(dt).name) for dt in NP_DTYPES), "list_float", "list_int",
         "tuple_float", "column"]


def _make(x, kind):
    """``(user input, equivalent tensor, kept copy for the mutation check)``."""
    if kind == "list_float":
        return list(map(float, x)), torch.tensor(list(map(float, x)), dtype=torch.float64), None
    if kind == "list_int":
        v = [int(round(float(v))) for v in x]
        return v, torch.tensor(v, dtype=torch.int64), None
    if kind == "tuple_float":
        return tuple(map(float, x)), torch.tensor(list(map(float, x)), dtype=torch.float64), None
    if kind == "column":  # nested list: [N, 1]
        v = [[float(v)] for v in x]
        return v, torch.tensor(v, dtype=torch.float64), None
    a, t = _inputs(x, kind)
    return a, t, a.copy()


def _unchanged(user, kept):
    if kept is not None:
        assert user.dtype == kept.dtype and np.array_equal(user, kept)


# -------------------------------------------------------------------------------------------------
# the helper


def test_helper_tensor_passes_through_untouched():
    t = torch.arange(5.0)
    assert as_label_tensor("y", t, fn="f") is t
    # no check on tensors: the caller's own checks (and messages) apply
    b = torch.tensor([True])
    assert as_label_tensor("y", b, fn="f") is b


@pytest.mark.parametrize("dt", [np.float16, np.float32, np.float64, np.int8, np.uint8, np.int16,
                                np.int32, np.int64, np.uint16, np.uint32])
def test_helper_keeps_numpy_dtype_and_shares_memory(dt):
    a = np.arange(6).astype(dt)
    t = as_label_tensor("y", a, fn="f")
    assert t.dtype == torch.from_numpy(a).dtype and t.shape == (6,)
    assert t.data_ptr() == a.__array_interface__["data"][0]  # no copy
    assert np.array_equal(t.numpy(), a)


def test_helper_sequences():
    assert as_label_tensor("y", [1, 2, 3], fn="f").dtype == torch.int64
    assert as_label_tensor("y", [1.0, 2, 3], fn="f").dtype == torch.float64
    assert as_label_tensor("y", (1.5, 2.5), fn="f").dtype == torch.float64
    assert as_label_tensor("y", range(4), fn="f").tolist() == [0, 1, 2, 3]
    assert as_label_tensor("y", [[1.0], [2.0]], fn="f").shape == (2, 1)
    assert as_label_tensor("y", [np.float32(1), np.float32(2)], fn="f").dtype == torch.float32
    e = as_label_tensor("y", [], fn="f")
    assert e.shape == (0,) and e.dtype == torch.float64


def test_helper_awkward_arrays_are_copied_not_refused():
    a = np.arange(10, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "non-writable array" warning either
        rev = as_label_tensor("y", a[::-1], fn="f")
        assert rev.tolist() == a[::-1].tolist()
        big = as_label_tensor("y", a.astype(">f8"), fn="f")
        assert big.dtype == torch.float64 and big.tolist() == a.tolist()
        ro = a.copy()
        ro.flags.writeable = False
        assert as_label_tensor("y", ro, fn="f").tolist() == a.tolist()
        strided = as_label_tensor("y", a[::3], fn="f")
        assert strided.tolist() == a[::3].tolist()


def test_helper_device_and_floating():
    t = as_label_tensor("y", np.ones(3), fn="f", device="cpu")
    assert t.device.type == "cpu"
    with pytest.raises(TypeError, match=r"f: preds must be floating.*int64"):
        as_label_tensor("preds", np.ones(3, dtype=np.int64), fn="f", floating=True)


# -------------------------------------------------------------------------------------------------
# LDS


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cfg", [dict(), dict(reweight="inverse", variant="official"),
                                 dict(reweight="sqrt_inv", lds=False, empty_bins="nearest")],
                         ids=["default", "official_inverse", "sqinv"])
def test_lds_fit_matches_tensor(kind, cfg):
    user, t, kept = _make(TRAIN, kind)
    a = LDS(BINS, **cfg).fit(user)
    b = LDS(BINS, **cfg).fit(t)
    _unchanged(user, kept)
    for name in ("counts", "smoothed", "bin_weights", "num_train"):
        _same(getattr(a, name), getattr(b, name))
    probe = torch.from_numpy(TEST_Y.copy())
    _same(a(probe), b(probe))


@pytest.mark.parametrize("kind", KINDS)
def test_lds_weights_matches_tensor(kind):
    user, t, kept = _make(TRAIN, kind)
    _same(lds_weights(user, BINS), lds_weights(t, BINS))
    _same(lds_weights(user, BINS, backend="reference"), lds_weights(t, BINS, backend="reference"))
    # the labels to weight may be an array/sequence too
    lab, lab_t, lab_kept = _make(TEST_Y, kind)
    _same(lds_weights(user, BINS, lab, reweight="inverse"), lds_weights(t, BINS, lab_t, reweight="inverse"))
    _unchanged(user, kept)
    _unchanged(lab, lab_kept)


@pytest.mark.parametrize("kind", KINDS)
def test_bins_counts_matches_tensor(kind):
    user, t, kept = _make(TRAIN, kind)
    _same(BINS.counts(user), BINS.counts(t))
    _unchanged(user, kept)


# -------------------------------------------------------------------------------------------------
# Dist Loss


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["quantile", "official"])
def test_pseudo_labels_matches_tensor(kind, method):
    user, t, kept = _make(TRAIN, kind)
    for n in (1, 64, 257):
        _same(pseudo_labels(user, n, method=method), pseudo_labels(t, n, method=method))
    _unchanged(user, kept)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cfg", [dict(), dict(reweight="inverse", lds=True), dict(variant="official")],
                         ids=["default", "inverse_lds", "official"])
def test_dist_loss_module_matches_tensor(kind, cfg):
    user, t, kept = _make(TRAIN, kind)
    a, b = DistLoss(user, **cfg), DistLoss(t, **cfg)
    _unchanged(user, kept)
    _same(a.grid, b.grid)
    _same(a.pmf, b.pmf)
    if a.lds is not None:
        _same(a.lds.bin_weights, b.lds.bin_weights)
    p = torch.from_numpy(TEST_P[:64].copy()).requires_grad_()
    q = p.detach().clone().requires_grad_()
    y = torch.from_numpy(TEST_Y[:64].copy())
    la, lb = a(p, y), b(q, y)
    _same(la, lb)
    la.backward()
    lb.backward()
    _same(p.grad, q.grad)


# -------------------------------------------------------------------------------------------------
# shot metrics


# predictions must be floating: integer kinds are covered for the labels below
FLOAT_KINDS = [k for k in KINDS if not (k == "list_int" or getattr(k, "id", None) == "int64")]


@pytest.mark.parametrize("kind", FLOAT_KINDS)
@pytest.mark.parametrize("variant", ["default", "official"])
def test_shot_metrics_all_inputs_match_tensor(kind, variant):
    tr, tr_t, tr_kept = _make(TRAIN, kind)
    y, y_t, y_kept = _make(TEST_Y, kind)
    p, p_t, p_kept = _make(TEST_P, kind)
    kw = dict(many=30, few=8, variant=variant)
    _same_metrics(shot_metrics(p, y, tr, BINS, **kw), shot_metrics(p_t, y_t, tr_t, BINS, **kw))
    for user, kept in ((tr, tr_kept), (y, y_kept), (p, p_kept)):
        _unchanged(user, kept)


@pytest.mark.parametrize("dt", NP_DTYPES, ids=lambda d: np.dtype(d).name)
def test_shot_metrics_integer_labels_and_mixed_inputs(dt):
    # integer labels (train and test) with float predictions; any mix of tensors and arrays
    tr, tr_t = _inputs(TRAIN, dt)
    y, y_t = _inputs(np.round(TEST_Y), dt)
    p = torch.from_numpy(TEST_P.copy())
    ref = shot_metrics(p, y_t, tr_t, BINS, many=30, few=8)
    _same_metrics(shot_metrics(p, y, tr, BINS, many=30, few=8), ref)
    _same_metrics(shot_metrics(p.numpy(), y_t, tr.tolist(), BINS, many=30, few=8),
                  shot_metrics(p, y_t, torch.tensor(tr.tolist()), BINS, many=30, few=8))
    # a model output that requires grad, with NumPy labels
    _same_metrics(shot_metrics(p.clone().requires_grad_(), y, tr, BINS, many=30, few=8), ref)


def test_shot_metrics_column_inputs():
    p = TEST_P.reshape(-1, 1)
    y = TEST_Y.reshape(-1, 1)
    ref = shot_metrics(torch.from_numpy(p.copy()), torch.from_numpy(y.copy()),
                       torch.from_numpy(TRAIN.reshape(-1, 1).copy()), BINS)
    _same_metrics(shot_metrics(p, y, TRAIN.reshape(-1, 1), BINS), ref)
    _same_metrics(shot_metrics(p.tolist(), y.tolist(), TRAIN.reshape(-1, 1).tolist(), BINS), ref)


# -------------------------------------------------------------------------------------------------
# bad inputs: clear errors naming the argument


def _fit_calls():
    """(name, callable taking the bad training labels, function name in the message, accepts any ndim)."""
    y = torch.from_numpy(TEST_Y.copy())
    return [
        ("LDS.fit", lambda bad: LDS(BINS).fit(bad), "LDS.fit", False),
        ("lds_weights", lambda bad: lds_weights(bad, BINS), "lds_weights", False),
        ("Bins.counts", lambda bad: BINS.counts(bad), "Bins.counts", True),
        ("pseudo_labels", lambda bad: pseudo_labels(bad, 8), "dirfast.pseudo_labels", True),
        ("DistLoss", lambda bad: DistLoss(bad), "DistLoss", True),
        ("shot_metrics", lambda bad: shot_metrics(y, y, bad, BINS), "shot_metrics", False),
    ]


FIT_CALLS = _fit_calls()
FIT_IDS = [c[0] for c in FIT_CALLS]

BAD = [
    pytest.param(["a", "b"], TypeError, r"must hold real numbers.*str", id="str_list"),
    pytest.param([1.0, "a"], TypeError, r"must hold real numbers.*str", id="mixed_str_list"),
    pytest.param("12", TypeError, r"a NumPy array or a sequence of numbers, got str", id="str"),
    pytest.param(np.array([True, False]), TypeError, r"must hold real numbers.*bool", id="bool_array"),
    pytest.param([True, False], TypeError, r"must hold real numbers.*bool", id="bool_list"),
    pytest.param(np.array([1.0, None], dtype=object), TypeError, r"must hold real numbers.*object",
                 id="object_array"),
    pytest.param([1.0, None], TypeError, r"must hold real numbers.*object", id="none_in_list"),
    pytest.param(np.array([1 + 2j, 3j]), TypeError, r"must hold real numbers.*complex", id="complex"),
    pytest.param(np.array(["1", "2"]), TypeError, r"must hold real numbers.*str", id="str_array"),
    pytest.param(np.array([1, 2], dtype="datetime64[D]"), TypeError, r"datetime64", id="datetime"),
    pytest.param(3.0, ValueError, r"got the scalar float 3.0", id="python_scalar"),
    pytest.param(np.float64(3.0), ValueError, r"got the scalar float64", id="numpy_scalar"),
    pytest.param(np.array(3.0), ValueError, r"got a 0-d NumPy array", id="0d_array"),
    pytest.param([[1.0], [2.0, 3.0]], ValueError, r"could not be read as an array of numbers \(list\)",
                 id="ragged"),
    pytest.param({1.0, 2.0}, TypeError, r"a NumPy array or a sequence of numbers, got set", id="set"),
    pytest.param(object(), TypeError, r"a NumPy array or a sequence of numbers, got object", id="object"),
]


@pytest.mark.parametrize("call,fn", [(c[1], c[2]) for c in FIT_CALLS], ids=FIT_IDS)
@pytest.mark.parametrize("bad,exc,msg", BAD)
def test_bad_training_labels(call, fn, bad, exc, msg):
    arg = "y" if fn == "Bins.counts" else "train_labels"
    with pytest.raises(exc, match=rf"^{fn}: {arg} .*{msg}"):
        call(bad)


@pytest.mark.skipif(np.dtype(np.longdouble).itemsize <= 8, reason="longdouble is float64 here")
def test_extended_precision_refused():
    with pytest.raises(TypeError, match=r"LDS.fit: train_labels must hold real numbers.*float128"):
        LDS(BINS).fit(np.ones(3, dtype=np.longdouble))


@pytest.mark.parametrize("call,fn", [(c[1], c[2]) for c in FIT_CALLS if not c[3]],
                         ids=[c[0] for c in FIT_CALLS if not c[3]])
@pytest.mark.parametrize("bad", [np.zeros((4, 2)), [[1.0, 2.0], [3.0, 4.0]], np.zeros((2, 1, 1))],
                         ids=["2d_array", "2d_list", "3d_array"])
def test_wrong_ndim(call, fn, bad):
    with pytest.raises(ValueError, match=rf"^{fn}: train_labels must .*(shape \[B\] or \[B, 1\]|1-D or 2-D)"
                                         r".*got (NumPy array|list) of shape"):
        call(bad)


@pytest.mark.parametrize("call,fn", [(c[1], c[2]) for c in FIT_CALLS if c[0] != "Bins.counts"],
                         ids=[c[0] for c in FIT_CALLS if c[0] != "Bins.counts"])
def test_empty_list_like_empty_tensor(call, fn):
    with pytest.raises(ValueError) as from_tensor:
        call(torch.tensor([], dtype=torch.float64))
    with pytest.raises(ValueError) as from_list:
        call([])
    with pytest.raises(ValueError) as from_array:
        call(np.array([]))
    assert str(from_list.value) == str(from_tensor.value) == str(from_array.value)
    assert "empty" in str(from_list.value) or "at least 2" in str(from_list.value)


def test_bins_counts_empty():
    _same(BINS.counts([]), BINS.counts(torch.tensor([], dtype=torch.float64)))


def test_fit_value_checks_still_run_on_arrays():
    with pytest.raises(ValueError, match="LDS.fit: train_labels contains NaN/inf"):
        LDS(BINS).fit(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="dirfast.pseudo_labels: train_labels contains NaN/inf"):
        pseudo_labels([1.0, math.inf, 3.0], 4)
    strict = LDS(Bins(0, 1, 10, out_of_range="error"))
    with pytest.raises(ValueError, match=r"train_labels outside the bins' range.*\[11.0\]"):
        strict.fit([1.0, 11.0])


def test_shot_metrics_bad_preds_and_labels():
    y = TEST_Y[:10]
    with pytest.raises(TypeError, match=r"^shot_metrics: preds must be floating.*int64"):
        shot_metrics([1, 2, 3], [1.0, 2.0, 3.0], TRAIN, BINS)
    with pytest.raises(TypeError, match=r"^shot_metrics: labels must hold real numbers.*bool"):
        shot_metrics(y, np.ones(10, dtype=bool), TRAIN, BINS)
    with pytest.raises(ValueError, match=r"^shot_metrics: preds must be an array.*scalar float"):
        shot_metrics(1.0, y, TRAIN, BINS)
    with pytest.raises(ValueError, match=r"^shot_metrics: labels must have shape \[B\] or \[B, 1\], got "
                                         r"NumPy array of shape \(5, 2\)"):
        shot_metrics(torch.from_numpy(y.reshape(5, 2).copy()), y.reshape(5, 2), TRAIN, BINS)
    with pytest.raises(ValueError, match="preds must have the shape of labels"):
        shot_metrics(y, y.reshape(-1, 1), TRAIN, BINS)


def test_lds_weights_bad_labels():
    with pytest.raises(TypeError, match=r"^lds_weights: labels must hold real numbers.*bool"):
        lds_weights(TRAIN, BINS, np.array([True]))
    with pytest.raises(ValueError, match=r"^lds_weights: labels must be an array.*scalar"):
        lds_weights(TRAIN, BINS, 3.0)


# -------------------------------------------------------------------------------------------------
# per-step ops stay tensor-only, with their existing messages


def test_per_step_ops_reject_ndarray():
    a = np.linspace(1.0, 60.0, 8)
    t = torch.from_numpy(a.copy())
    lds = LDS(BINS).fit(TRAIN)
    crit = DistLoss(TRAIN)
    cases = [
        (lambda: lds(a), r"LDS: labels must be a torch.Tensor, got ndarray"),
        (lambda: lds.weights_for(a.tolist()), r"LDS: labels must be a torch.Tensor, got list"),
        (lambda: BINS.index(a), r"Bins.index: y must be a torch.Tensor, got ndarray"),
        (lambda: crit(a, t), r"DistLoss: preds must be a torch.Tensor, got ndarray"),
        (lambda: dirfast.dist_loss(t, a, t),
         r"dirfast.dist_loss: targets must be a torch.Tensor, got ndarray"),
        (lambda: dirfast.l1(a, t), r"pred must be a torch.Tensor, got ndarray"),
        (lambda: dirfast.mse(t, a), r"target must be a torch.Tensor, got ndarray"),
        (lambda: dirfast.soft_sort(a), r"x must be a torch.Tensor, got ndarray"),
        (lambda: dirfast.conr_loss(a.reshape(4, 2), t[:4], t[:4]),
         r"features must be a torch.Tensor, got ndarray"),
        (lambda: dirfast.fds_bin_stats(a.reshape(4, 2), torch.zeros(4, dtype=torch.int64), 3),
         r"features must be a torch.Tensor, got ndarray"),
        (lambda: dirfast.fds_calibrate(t.reshape(4, 2), np.zeros(4, dtype=np.int64), torch.ones(3, 2),
                                       torch.zeros(3, 2)),
         r"bin_idx must be a torch.Tensor, got ndarray"),
    ]
    for call, msg in cases:
        with pytest.raises(TypeError, match=msg):
            call()
    # DistLoss with LDS weights maps the targets per step: tensor-only too
    crit_w = DistLoss(TRAIN, reweight="inverse")
    with pytest.raises(TypeError, match=r"DistLoss: targets must be a torch.Tensor, got ndarray"):
        crit_w(t, a)
