"""Raw C++ entry point ``dirfast._C.weighted_loss_fwd`` against an independent numpy float64
implementation of the element formula (written below, not imported from dirfast).

Without the compiled extension these tests skip (with the reason), unless ``DIRFAST_REQUIRE_EXT=1``
is set (the Makefile sets it), in which case every test fails.
"""

from __future__ import annotations


import numpy as np
import pytest
import torch

from dirfast import _ext

from _paths import require_ext

MSE, L1, HUBER = 0, 1, 2
SCALE = 0.37


@pytest.fixture(autouse=True)
def _require_extension():
    require_ext()


def _C():
    return _ext.get()


# --------------------------------------------------------------------------- reference (numpy)


def reference(pred, target, weight, loss, focal, scale, beta, k, gamma):
    """float64 value scale*w*l and gradient scale*w*dl/de, straight from the formula."""
    e = pred.astype(np.float64) - target.astype(np.float64)
    a = np.abs(e)
    sg = np.sign(e)
    if loss == MSE:
        l, dl = e * e, 2.0 * e
    elif loss == L1:
        l, dl = a, sg
    else:
        quad = a < beta
        l = np.where(quad, 0.5 * e * e / beta, a - 0.5 * beta)
        dl = np.where(quad, e / beta, sg)
    if focal:
        s = 1.0 / (1.0 + np.exp(-k * a))
        m = 2.0 * s - 1.0
        dm = 2.0 * k * s * (1.0 - s)
        pos = m > 0
        mp = np.where(pos, m, 1.0)
        mg = np.where(pos, mp**gamma, 1.0 if gamma == 0 else 0.0)
        dmg = np.where(pos, gamma * mp ** (gamma - 1.0) * dm * sg, 0.0)
        l, dl = l * mg, dl * mg + l * dmg
    w = 1.0 if weight is None else weight.astype(np.float64)
    return scale * w * l, scale * w * dl


# --------------------------------------------------------------------------- data


_TORCH_DT = {"float32": torch.float32, "float64": torch.float64}


def make_data(n, dtype, beta, seed=0):
    """pred, target, weight with ties (e == 0), |e| at and around beta, tiny |e| mixed in."""
    rng = np.random.default_rng(seed + n)
    target = rng.standard_normal(n)
    pred = target + rng.standard_normal(n) * 1.5
    weight = rng.uniform(0.0, 2.0, n)
    weight[::13] = 0.0
    special = [
        0.0, beta, -beta, beta * (1 - 1e-7), beta * (1 + 1e-7), -beta * (1 - 1e-7),
        -beta * (1 + 1e-7), 1e-30, -1e-30, 3.0, -3.0, beta * 0.5,
    ]
    idx = np.arange(3, n, 11)
    for j, i in enumerate(idx):
        e = special[j % len(special)]
        if e == 0.0:
            pred[i] = target[i]  # a tie at a random value
        else:
            target[i] = 0.0
            pred[i] = e
    np_dt = np.float32 if dtype == "float32" else np.float64
    return pred.astype(np_dt), target.astype(np_dt), weight.astype(np_dt)


def run(dtype, pred, target, weight, loss, focal, reduce, scale, beta, k, gamma, pad=5):
    """Call the kernel on torch buffers; outputs get `pad` sentinel elements past n."""
    C = _C()
    n = pred.shape[0]
    tdt = _TORCH_DT[dtype]
    p = torch.from_numpy(pred.copy())
    t = torch.from_numpy(target.copy())
    w = None if weight is None else torch.from_numpy(weight.copy())
    sentinel = 12345.0
    grad = torch.full((n + pad,), sentinel, dtype=tdt)
    out = torch.full((n + pad,), sentinel, dtype=tdt)
    total = C.weighted_loss_fwd(
        dtype, p.data_ptr(), t.data_ptr(), 0 if w is None else w.data_ptr(), grad.data_ptr(),
        0 if reduce else out.data_ptr(), n, loss, focal, reduce, scale, beta, k, gamma,
    )
    # inputs untouched, nothing written past n, out untouched when reducing
    assert np.array_equal(p.numpy(), pred, equal_nan=True)
    assert np.array_equal(t.numpy(), target, equal_nan=True)
    assert bool((grad[n:] == sentinel).all())
    assert bool((out[n:] == sentinel).all())
    if reduce:
        assert bool((out == sentinel).all())
    return total, grad[:n].numpy().astype(np.float64), out[:n].numpy().astype(np.float64)


def check_close(got, ref, dtype, what):
    if ref.size == 0:
        return
    scale = float(np.max(np.abs(ref)))
    if dtype == "float64":
        tol = 1e-12 * np.abs(ref) + 1e-12 * scale
    else:
        tol = 1e-5 * scale + 1e-30
    err = np.abs(got - ref)
    bad = ~(err <= tol)
    assert not bad.any(), (
        f"{what}: {int(bad.sum())} of {ref.size} elements off; worst at {int(np.argmax(err - tol))}: "
        f"got {got[np.argmax(err - tol)]!r}, ref {ref[np.argmax(err - tol)]!r}, max|ref| {scale}"
    )


# --------------------------------------------------------------------------- accuracy


CONFIGS = (
    [("mse", MSE, False, 0.0, 0.0), ("l1", L1, False, 0.0, 0.0)]
    + [(f"huber{b}", HUBER, False, 0.0, 0.0) for b in (1.0,)]
    + [
        (f"focal_{name}_k{k}_g{g}", code, True, k, g)
        for name, code in (("mse", MSE), ("l1", L1))
        for k in (0.2, 20.0)
        for g in (0.0, 1.0, 2.5, 2.0, 0.5)
    ]
)


# gamma in (0, 1) only in float64: m = 2*sigmoid(k|e|) - 1 cancels for small k|e| (float32 keeps
# ~6e-8 absolute accuracy on m) and m**gamma has an unbounded slope at 0, so in float32 the
# gradient's error near e = 0 is ~1e-5 of the largest gradient — the formula's conditioning, not
# the kernel's.
DTYPE_CONFIGS = [
    pytest.param(dt, c, id=f"{dt}-{c[0]}")
    for dt in ("float32", "float64")
    for c in CONFIGS
    if not (dt == "float32" and 0.0 < c[4] < 1.0)
]


@pytest.mark.parametrize("n", [0, 1, 7, 100_003])
@pytest.mark.parametrize("reduce", [True, False], ids=["sum", "none"])
@pytest.mark.parametrize("weighted", [True, False], ids=["w", "now"])
@pytest.mark.parametrize("dtype,cfg", DTYPE_CONFIGS)
def test_matches_numpy_reference(dtype, cfg, weighted, reduce, n):
    _, loss, focal, k, gamma = cfg
    beta = 1.0
    pred, target, weight = make_data(n, dtype, beta)
    w = weight if weighted else None
    total, grad, out = run(dtype, pred, target, w, loss, focal, reduce, SCALE, beta, k, gamma)
    ref_v, ref_g = reference(pred, target, w, loss, focal, SCALE, beta, k, gamma)
    ref_v = np.broadcast_to(ref_v, (n,)).astype(np.float64)
    ref_g = np.broadcast_to(ref_g, (n,)).astype(np.float64)
    check_close(grad, ref_g, dtype, "grad")
    if reduce:
        ref_sum = float(np.sum(ref_v))
        assert isinstance(total, float)
        if dtype == "float64":
            assert abs(total - ref_sum) <= 1e-12 * abs(ref_sum) + 1e-300, (total, ref_sum)
        else:
            assert abs(total - ref_sum) <= 1e-5 * float(np.sum(np.abs(ref_v))) + 1e-30, (total, ref_sum)
    else:
        assert total == 0.0
        check_close(out, ref_v, dtype, "out")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("beta", [0.5, 2.0, 1e-3])
def test_huber_around_beta(dtype, beta):
    """|e| on a grid straddling beta (both signs), plus exact +-beta."""
    d = np.array([-1e-3, -1e-6, -1e-9, 0.0, 1e-9, 1e-6, 1e-3])
    e = np.concatenate([beta * (1 + d), -beta * (1 + d), [0.0, beta, -beta]])
    np_dt = np.float32 if dtype == "float32" else np.float64
    target = np.zeros_like(e).astype(np_dt)
    pred = e.astype(np_dt)
    for reduce in (False, True):
        total, grad, out = run(dtype, pred, target, None, HUBER, False, reduce, 1.0, beta, 0.0, 0.0)
        ref_v, ref_g = reference(pred, target, None, HUBER, False, 1.0, beta, 0.0, 0.0)
        check_close(grad, ref_g, dtype, "grad")
        if reduce:
            assert abs(total - ref_v.sum()) <= 1e-5 * np.abs(ref_v).sum()
        else:
            check_close(out, ref_v, dtype, "out")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("loss,focal", [(MSE, False), (L1, False), (HUBER, False), (MSE, True), (L1, True)])
def test_ties_give_zero_gradient(dtype, loss, focal):
    np_dt = np.float32 if dtype == "float32" else np.float64
    pred = np.array([0.0, 1.5, -2.25, 7.0], dtype=np_dt)
    total, grad, out = run(dtype, pred, pred.copy(), None, loss, focal, False, 1.0, 1.0, 20.0, 2.5)
    assert total == 0.0
    assert np.all(grad == 0.0) and np.all(out == 0.0)


def test_nan_propagates():
    pred = np.array([np.nan, 1.0], dtype=np.float64)
    target = np.zeros(2)
    for loss in (MSE, L1, HUBER):
        _, grad, out = run("float64", pred, target, None, loss, False, False, 1.0, 1.0, 0.0, 0.0)
        assert np.isnan(out[0]) and np.isnan(grad[0]) and np.isfinite(out[1])


# --------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("loss,focal", [(MSE, False), (HUBER, False), (L1, True)])
def test_reduce_bit_identical_across_threads(dtype, loss, focal):
    C = _C()
    n = C.REDUCE_BLOCK * 37 + 5
    pred, target, weight = make_data(n, dtype, 1.0, seed=7)
    before = C.num_threads()
    try:
        results = []
        for threads in (1, 2, 3, 1):
            C.set_num_threads(threads)
            assert C.num_threads() == threads
            total, grad, _ = run(dtype, pred, target, weight, loss, focal, True, 1.0 / n, 1.0, 0.2, 2.5)
            results.append((total.hex(), grad.tobytes()))
    finally:
        C.set_num_threads(before)
    assert all(r == results[0] for r in results), [r[0] for r in results]


def test_thread_controls():
    C = _C()
    before = C.num_threads()
    assert before >= 1
    try:
        C.set_num_threads(1)
        assert C.num_threads() == 1
        with pytest.raises(ValueError):
            C.set_num_threads(0)
    finally:
        C.set_num_threads(before)
    assert C.num_threads() == before


# --------------------------------------------------------------------------- argument errors


def _args(**over):
    n = 8
    p, t, w, g, o = (torch.zeros(n, dtype=torch.float32) for _ in range(5))
    keep = (p, t, w, g, o)
    kw = dict(dtype="float32", pred=p.data_ptr(), target=t.data_ptr(), weight=w.data_ptr(),
              grad=g.data_ptr(), out=o.data_ptr(), n=n, loss=MSE, focal=False, reduce=False,
              scale=1.0, beta=1.0, k=1.0, gamma=1.0)
    kw.update(over)
    return kw, keep


def test_valid_call_works():
    kw, keep = _args()
    assert _C().weighted_loss_fwd(**kw) == 0.0
    kw, keep = _args(reduce=True, out=0)
    assert _C().weighted_loss_fwd(**kw) == 0.0


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "int32", "float", "", "torch.float32"])
def test_bad_dtype(dtype):
    kw, keep = _args(dtype=dtype)
    with pytest.raises(ValueError, match="dtype"):
        _C().weighted_loss_fwd(**kw)


def test_focal_huber_rejected():
    kw, keep = _args(loss=HUBER, focal=True)
    with pytest.raises(ValueError, match="focal"):
        _C().weighted_loss_fwd(**kw)


@pytest.mark.parametrize("loss", [-1, 3])
def test_bad_loss_code(loss):
    kw, keep = _args(loss=loss)
    with pytest.raises(ValueError, match="loss"):
        _C().weighted_loss_fwd(**kw)


@pytest.mark.parametrize("name", ["pred", "target", "out"])
def test_null_pointer(name):
    kw, keep = _args(**{name: 0})
    with pytest.raises(ValueError, match=name):
        _C().weighted_loss_fwd(**kw)


@pytest.mark.parametrize("reduce", [True, False])
@pytest.mark.parametrize("focal,loss", [(False, 0), (False, 2), (True, 1)])
def test_null_grad_skips_gradient_only(reduce, focal, loss):
    """grad == 0 (no gradient needed): same loss bits, nothing written to a gradient buffer."""
    n = 40_000
    pred, target, weight = (torch.randn(n) for _ in range(3))
    out_a, out_b = torch.zeros(n), torch.zeros(n)
    grad = torch.zeros(n)
    common = dict(dtype="float32", pred=pred.data_ptr(), target=target.data_ptr(),
                  weight=weight.data_ptr(), n=n, loss=loss, focal=focal, reduce=reduce,
                  scale=1.0 / n, beta=0.7, k=0.2, gamma=1.0)
    a = _C().weighted_loss_fwd(grad=grad.data_ptr(), out=0 if reduce else out_a.data_ptr(), **common)
    b = _C().weighted_loss_fwd(grad=0, out=0 if reduce else out_b.data_ptr(), **common)
    assert a == b and torch.equal(out_a, out_b)
    assert grad.abs().sum() > 0


def test_null_weight_is_unit_weight_and_null_out_ok_when_reducing():
    kw, keep = _args(weight=0, reduce=True, out=0)
    assert _C().weighted_loss_fwd(**kw) == 0.0


def test_negative_n():
    kw, keep = _args(n=-1)
    with pytest.raises(ValueError, match="n must be"):
        _C().weighted_loss_fwd(**kw)


def test_out_given_while_reducing():
    kw, keep = _args(reduce=True)
    with pytest.raises(ValueError, match="out"):
        _C().weighted_loss_fwd(**kw)


def test_misaligned_pointer():
    kw, keep = _args()
    kw["pred"] += 1
    with pytest.raises(ValueError, match="aligned"):
        _C().weighted_loss_fwd(**kw)


def test_output_aliasing_rejected():
    kw, keep = _args()
    kw["grad"] = kw["pred"]
    with pytest.raises(ValueError, match="overlap"):
        _C().weighted_loss_fwd(**kw)
    kw, keep = _args()
    kw["out"] = kw["grad"] + 4  # partial overlap
    with pytest.raises(ValueError, match="overlap"):
        _C().weighted_loss_fwd(**kw)


def test_inputs_may_alias():
    kw, keep = _args()
    kw["target"] = kw["pred"]
    kw["weight"] = kw["pred"]
    assert _C().weighted_loss_fwd(**kw) == 0.0


def test_n_zero_touches_nothing():
    C = _C()
    assert C.weighted_loss_fwd("float64", 0, 0, 0, 0, 0, 0, MSE, False, True, 1.0, 1.0, 0.0, 0.0) == 0.0
    assert C.weighted_loss_fwd("float32", 0, 0, 0, 0, 0, 0, L1, True, False, 1.0, 1.0, 1.0, 2.0) == 0.0
    g = torch.full((3,), 5.0, dtype=torch.float64)
    x = torch.ones(3, dtype=torch.float64)
    C.weighted_loss_fwd("float64", x.data_ptr(), x.data_ptr(), 0, g.data_ptr(), 0, 0, MSE, False,
                        True, 1.0, 1.0, 0.0, 0.0)
    assert bool((g == 5.0).all())


def test_negative_pointer_is_not_a_crash():
    kw, keep = _args(pred=-8)
    with pytest.raises((TypeError, ValueError, OverflowError)):
        _C().weighted_loss_fwd(**kw)


# --------------------------------------------------------------------------- vectorised exp/log


_NP_DT = {"float32": np.float32, "float64": np.float64}
_UINT = {"float32": np.uint32, "float64": np.uint64}


def _vmath(fn, x):
    dtype = "float32" if x.dtype == np.float32 else "float64"
    x = np.ascontiguousarray(x)
    y = np.full_like(x, 12345.0)
    _C()._vmath(fn, dtype, x.ctypes.data, y.ctypes.data, x.size)
    return y


def _max_ulp(got, x, fn, dtype):
    """Max error in ulps of the correctly rounded result, against a long double reference."""
    ref_ld = (np.exp if fn == "exp" else np.log)(x.astype(np.longdouble))
    with np.errstate(over="ignore"):
        ref = ref_ld.astype(_NP_DT[dtype])
    fin = np.isfinite(ref)
    assert np.array_equal(got[~fin], ref[~fin]), "non-finite results differ"
    ulp = np.spacing(np.abs(ref[fin])).astype(np.longdouble)  # subnormal spacing below normal
    return float(np.max(np.abs(got[fin].astype(np.longdouble) - ref_ld[fin]) / ulp))


def _simd_levels():
    return list(range(_C().simd_level_max() + 1))


@pytest.fixture
def _restore_simd():
    yield
    _C()._set_simd_level(-1)


@pytest.mark.skipif(np.finfo(np.longdouble).nmant < 60, reason="needs an extended long double")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_vmath_exp_accuracy(dtype, _restore_simd):
    """<= 1.1 ulp everywhere, subnormal results included; bit-identical at every simd level."""
    dt = _NP_DT[dtype]
    lo, hi = (-104.0, 89.0) if dtype == "float32" else (-746.0, 710.0)
    rng = np.random.default_rng(1)
    x = np.concatenate([np.linspace(lo, hi, 400_001), rng.uniform(-1, 1, 200_000),
                        rng.uniform(-100, 0, 200_000), -np.geomspace(1e-30, 1e-3, 1001),
                        np.geomspace(1e-30, 1e-3, 1001)]).astype(dt)
    outs = []
    for level in _simd_levels():
        _C()._set_simd_level(level)
        y = _vmath("exp", x)
        assert _max_ulp(y, x, "exp", dtype) <= 1.1
        outs.append(y.view(_UINT[dtype]))
    assert all(np.array_equal(o, outs[0]) for o in outs)


@pytest.mark.skipif(np.finfo(np.longdouble).nmant < 60, reason="needs an extended long double")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_vmath_log_accuracy(dtype, _restore_simd):
    dt = _NP_DT[dtype]
    fi = np.finfo(dt)
    rng = np.random.default_rng(2)
    with np.errstate(over="ignore"):
        big = np.geomspace(fi.smallest_subnormal, fi.max, 400_001)
    x = np.concatenate([big,
                        rng.uniform(0.5, 2.0, 200_000), rng.uniform(0.0, 1.0, 200_000),
                        1.0 + np.linspace(-1e-3, 1e-3, 20_001), [fi.max, fi.tiny, 1.0]]).astype(dt)
    x = x[x > 0]
    outs = []
    for level in _simd_levels():
        _C()._set_simd_level(level)
        y = _vmath("log", x)
        assert _max_ulp(y, x, "log", dtype) <= 1.1
        outs.append(y.view(_UINT[dtype]))
    assert all(np.array_equal(o, outs[0]) for o in outs)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_vmath_special_values(dtype):
    dt = _NP_DT[dtype]
    x = np.array([0.0, -0.0, -1.0, np.inf, -np.inf, np.nan, -np.nan, 1.0, -1e6, 1e6], dtype=dt)
    e = _vmath("exp", x)
    np.testing.assert_array_equal(e[[0, 1, 3, 4, 8, 9]], np.array([1, 1, np.inf, 0, 0, np.inf], dtype=dt))
    assert np.isnan(e[5]) and np.isnan(e[6])
    eps = np.finfo(dt).eps
    assert abs(e[2] - np.exp(-1.0)) <= eps and abs(e[7] - np.exp(1.0)) <= 4 * eps  # <= 1 ulp
    lg = _vmath("log", x)
    assert lg[0] == -np.inf and lg[1] == -np.inf and np.isnan(lg[2]) and lg[3] == np.inf
    assert np.isnan(lg[4]) and np.isnan(lg[5]) and np.isnan(lg[6]) and lg[7] == 0.0


def test_vmath_bad_arguments():
    x = np.ones(4)
    with pytest.raises(ValueError, match="fn"):
        _C()._vmath("sin", "float64", x.ctypes.data, x.ctypes.data, 4)
    with pytest.raises(ValueError, match="dtype"):
        _C()._vmath("exp", "float16", x.ctypes.data, x.ctypes.data, 4)


def test_simd_level_controls(_restore_simd):
    C = _C()
    top = C.simd_level_max()
    assert top >= 0 and C.simd_level() == top
    assert C._set_simd_level(0) == 0 and C.simd_level() == 0
    assert C._set_simd_level(99) == top
    assert C._set_simd_level(-1) == top


# Every loss/focal mode (gamma 0, 1, 2, general, and the scalar fallback for gamma < 0), both
# dtypes, reduce and not: identical bits at every simd level (no FMA contraction in any version).
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("loss,focal,gamma", [(MSE, False, 0.0), (L1, False, 0.0), (HUBER, False, 0.0)]
                         + [(lo, True, g) for lo in (MSE, L1) for g in (0.0, 1.0, 2.0, 2.5, 0.5, -0.5)])
def test_simd_levels_bit_identical(dtype, loss, focal, gamma, _restore_simd):
    n = 3 * _C().REDUCE_BLOCK + 37
    pred, target, weight = make_data(n, dtype, 1.0, seed=3)
    pred[::97] = np.nan
    pred[5::101] = np.inf
    pred[7::103] = -np.inf
    res = []
    for level in _simd_levels():
        _C()._set_simd_level(level)
        for reduce in (True, False):
            total, grad, out = run(dtype, pred, target, weight, loss, focal, reduce, 0.5, 1.0, 3.0, gamma)
            res.append((reduce, total.hex(), grad.tobytes(), out.tobytes()))
    for r in res[2:]:
        assert r == res[r[0] is False]


def _focal_ref(e, loss, k, gamma, s_shift=0.0):
    """float64 focal value and gradient (scale = w = 1) with s = sigmoid(k|e|) + s_shift."""
    e = e.astype(np.float64)
    a, sg = np.abs(e), np.sign(e)
    l, dl = (e * e, 2.0 * e) if loss == MSE else (a, sg)
    s = 1.0 / (1.0 + np.exp(-k * a)) + s_shift
    m = 2.0 * s - 1.0
    dm = 2.0 * k * s * (1.0 - s)
    pos = m > 0
    mp = np.where(pos, m, 1.0)
    mg = np.where(pos, mp**gamma, 1.0 if gamma == 0 else 0.0)
    dmg = np.where(pos, gamma * mp ** (gamma - 1.0) * dm * sg, 0.0)
    return l * mg, dl * mg + l * dmg


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("loss", [MSE, L1])
@pytest.mark.parametrize("gamma", [0.0, 1.0, 2.0, 2.5, 0.5])
def test_focal_wide_range(dtype, loss, gamma):
    """k|e| from 0 to far past exp's underflow, e == 0 and tiny |e|, compared element-wise.

    m = 2*sigmoid(k|e|) - 1 cancels for small k|e| (the formula's conditioning, in any exp
    implementation): a 1-ulp change of exp's result can move s to a neighbouring float, so the
    tolerance is rtol*|ref| plus the reference's own change when s moves by 2 ulp of 1.
    """
    dt = _NP_DT[dtype]
    mags = np.concatenate([[0.0], np.geomspace(1e-30, 1e30 if dtype == "float64" else 1e15, 4001)])
    e = np.concatenate([mags, -mags]).astype(dt)
    target = np.zeros_like(e)
    eps = float(np.finfo(dt).eps)
    rtol = 1e-12 if dtype == "float64" else 2e-5
    with np.errstate(all="ignore"):
        for k in (0.2, 20.0, 100.0):
            _, grad, out = run(dtype, e, target, None, loss, True, False, 1.0, 1.0, k, gamma)
            refs = [_focal_ref(e, loss, k, gamma, d) for d in (0.0, 2 * eps, -2 * eps)]
            for i, (got, what) in enumerate(((out, "out"), (grad, "grad"))):
                ref = refs[0][i]
                spread = np.maximum(np.abs(refs[1][i] - ref), np.abs(refs[2][i] - ref))
                tol = rtol * np.abs(ref) + np.nan_to_num(spread) + (1e-300 if dtype == "float64" else 1e-37)
                bad = ~(np.abs(got - ref) <= tol)
                assert not bad.any(), (what, k, e[bad][:5], got[bad][:5], ref[bad][:5])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_focal_nan_and_inf_propagate():
    for dtype in ("float32", "float64"):
        dt = _NP_DT[dtype]
        pred = np.array([np.nan, np.inf, -np.inf, 1.0], dtype=dt)
        target = np.zeros(4, dtype=dt)
        for loss in (MSE, L1):
            for gamma in (0.0, 1.0, 2.0, 2.5):
                _, grad, out = run(dtype, pred, target, None, loss, True, False, 1.0, 1.0, 5.0, gamma)
                ref_v, ref_g = reference(pred, target, None, loss, True, 1.0, 1.0, 5.0, gamma)
                np.testing.assert_array_equal(np.isnan(out), np.isnan(ref_v))
                np.testing.assert_array_equal(np.isnan(grad), np.isnan(ref_g))
                fin = ~np.isnan(ref_v)
                np.testing.assert_allclose(out[fin], ref_v[fin], rtol=1e-5)
