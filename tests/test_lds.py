"""LDS weights and kernel windows vs SciPy, an independent NumPy re-implementation of spec §1.3, the
official code's recipe (quirks included) and the spec's AgeDB golden numbers."""

import io

import numpy as np
import pytest
import torch
from scipy.ndimage import convolve1d, gaussian_filter1d
from scipy.signal.windows import triang

import dirfast
from dirfast import LDS, Bins, kernel_window, lds_weights
from dirfast.bins import resolve_torch_backend
from dirfast.reference import lds_weights_ref
from dirfast.reference.lds import smooth_counts
from dirfast.testing import assert_close_verbose

from _paths import select_path


@pytest.fixture(params=["cpu", "cpu_torch"])
def path(request, monkeypatch):
    """Run the mapping on the C++ kernel ("cpu") or the vectorised-PyTorch path ("cpu_torch")."""
    select_path(request.param, monkeypatch)
    want = "cpu" if request.param == "cpu" else "torch"
    assert resolve_torch_backend(None, torch.device("cpu"), op="test", has_cpu_kernel=True) == want
    return request.param


# ------------------------------------------------------------------------------------------------
# kernel windows


def scipy_window(kernel, ks, sigma):
    h = (ks - 1) // 2
    if kernel == "gaussian":
        base = [0.0] * h + [1.0] + [0.0] * h
        w = gaussian_filter1d(base, sigma=sigma)
        return w / max(w)
    if kernel == "triang":
        return triang(ks)
    f = [np.exp(-abs(x) / sigma) / (2.0 * sigma) for x in np.arange(-h, h + 1)]
    return np.array(f) / max(f)


GOLDEN = [  # spec §1.2 table: (kernel, ks, sigma, LDS window, FDS window), printed digits
    ("gaussian", 5, 2, [0.85829, 0.94583, 1, 0.94583, 0.85829], [0.18625, 0.20525, 0.21700, 0.20525, 0.18625]),
    ("gaussian", 9, 1, [3.4e-4, 0.01111, 0.13534, 0.60653, 1, 0.60653, 0.13534, 0.01111, 3.4e-4], None),
    ("gaussian", 5, 1, [0.14644, 0.60687, 1, 0.60687, 0.14644], [0.05842, 0.24211, 0.39894, 0.24211, 0.05842]),
    ("triang", 5, 2, [1 / 3, 2 / 3, 1, 2 / 3, 1 / 3], [1 / 9, 2 / 9, 3 / 9, 2 / 9, 1 / 9]),
    ("laplace", 5, 2, [0.36788, 0.60653, 1, 0.60653, 0.36788], [0.12475, 0.20569, 0.33912, 0.20569, 0.12475]),
]


def _digits_tol(vals):
    """Half a unit of the last printed digit of each golden value."""
    out = []
    for v in vals:
        s = f"{v}"
        if "e" in s:
            out.append(0.5 * 10 ** (int(s.split("e")[1]) - (len(s.split("e")[0].split(".")[-1]) if "." in s else 0)))
        elif "." in s and len(s.split(".")[1]) <= 5:
            out.append(0.5 * 10 ** -len(s.split(".")[1]))
        else:
            out.append(1e-12)
    return torch.tensor(out, dtype=torch.float64)


@pytest.mark.parametrize("kernel,ks,sigma,lds_w,fds_w", GOLDEN)
def test_window_golden_vectors(kernel, ks, sigma, lds_w, fds_w):
    w = kernel_window(kernel, ks, sigma)
    want = torch.tensor(lds_w, dtype=torch.float64)
    assert w.dtype == torch.float64 and w.shape == (ks,)
    assert ((w - want).abs() <= _digits_tol(lds_w)).all(), (w, want)
    assert w.max().item() == 1.0 and torch.equal(w, w.flip(0))
    if fds_w is not None:
        ws = kernel_window(kernel, ks, sigma, normalize="sum")
        assert ((ws - torch.tensor(fds_w, dtype=torch.float64)).abs() <= _digits_tol(fds_w)).all(), ws
        assert abs(ws.sum().item() - 1) < 1e-15


@pytest.mark.parametrize("kernel", ["gaussian", "triang", "laplace"])
@pytest.mark.parametrize("ks,sigma", [(1, 1.0), (3, 0.3), (5, 2.0), (7, 1.5), (9, 1.0), (11, 3.7), (25, 0.8), (5, 40.0)])
def test_window_vs_scipy(kernel, ks, sigma):
    got = kernel_window(kernel, ks, sigma)
    want = torch.from_numpy(np.asarray(scipy_window(kernel, ks, sigma), dtype=np.float64))
    assert_close_verbose(got, want, tag=f"{kernel}{ks}/{sigma}", rtol=1e-14, atol=1e-16)


def test_window_bad_args():
    for ks in (0, -3, 4, 2.0, True):
        with pytest.raises(ValueError, match=f"ks must be an odd int >= 1, got {ks!r}"):
            kernel_window("gaussian", ks, 1.0)
    for sigma in (0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="sigma"):
            kernel_window("gaussian", 5, sigma)
    with pytest.raises(ValueError, match="kernel must be one of"):
        kernel_window("box", 5, 1.0)
    with pytest.raises(ValueError, match="normalize must be one of"):
        kernel_window("triang", 5, 1.0, normalize="max")
    with pytest.raises(ValueError, match="ks must be an odd int >= 1, got 4"):
        LDS(Bins.official_age(), ks=4)
    with pytest.raises(ValueError, match="sigma must be > 0.0, got 0"):
        LDS(Bins.official_age(), sigma=0)


def test_smoothing_matches_scipy_including_int_truncation():
    g = np.random.default_rng(0)
    for kernel, ks, sigma in [("gaussian", 5, 2), ("triang", 5, 1), ("laplace", 7, 1.3), ("gaussian", 9, 1)]:
        w = kernel_window(kernel, ks, sigma)
        wn = w.numpy()
        v = g.random(97) * 50
        assert_close_verbose(smooth_counts(torch.from_numpy(v), w),
                             torch.from_numpy(convolve1d(v, wn, mode="constant")), tag="float", rtol=1e-14)
        for c in (g.integers(0, 400, 121), np.full(40, 5), np.clip(g.integers(0, 30, 60), 5, 1000)):
            want = convolve1d(c.astype(np.int64), wn, mode="constant")
            got = smooth_counts(torch.from_numpy(c).double(), w).trunc()
            assert got.tolist() == want.tolist(), kernel
    # the borderline case: a constant run under triang sums to an exact integer in real arithmetic
    c = np.full(9, 5, dtype=np.int64)
    assert smooth_counts(torch.from_numpy(c).double(), kernel_window("triang", 5)).trunc().tolist() == \
        convolve1d(c, triang(5), mode="constant").tolist()


# ------------------------------------------------------------------------------------------------
# weights vs an independent fp64 implementation of spec §1.3


def numpy_lds(train_bins, K, reweight, lds, kernel, ks, sigma, clip=(5, 1000)):
    """Spec §1.3 in float64 with NumPy/SciPy (per-bin weights, mean-1 over the train set)."""
    c = np.bincount(train_bins, minlength=K).astype(np.float64)
    if reweight == "sqrt_inv":
        v = np.sqrt(c)
    elif reweight == "inverse":
        v = np.clip(c, *clip)
    else:
        return np.ones(K)
    if lds:
        v = convolve1d(v, np.asarray(scipy_window(kernel, ks, sigma), dtype=np.float64), mode="constant")
    with np.errstate(divide="ignore"):
        u = 1.0 / v
    per_sample = u[train_bins]
    return u * len(train_bins) / per_sample.sum()


CONFIGS = [("sqrt_inv", False, "gaussian", 5, 2.0), ("sqrt_inv", True, "gaussian", 5, 2.0),
           ("inverse", False, "gaussian", 5, 2.0), ("inverse", True, "gaussian", 5, 2.0),
           ("sqrt_inv", True, "triang", 7, 1.0), ("inverse", True, "laplace", 5, 1.5),
           ("sqrt_inv", True, "gaussian", 9, 1.0), ("none", False, "gaussian", 5, 2.0)]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "-".join(map(str, c)))
@pytest.mark.parametrize("kind", ["int", "float"])
@pytest.mark.usefixtures("path")
def test_weights_vs_numpy_fp64(cfg, kind):
    reweight, lds, kernel, ks, sigma = cfg
    g = torch.Generator().manual_seed(hash(cfg) % 1000 + (kind == "float"))
    if kind == "int":
        bins = Bins.official_age(121)
        y = (torch.randn(5000, generator=g) * 15 + 40).round().clamp(0, 120).to(torch.int64)
        tb = y.numpy()
    else:  # float labels on 0.25-wide bins over [-2, 16) (issue #15's range)
        bins = Bins(-2.0, 0.25, 72)
        y = torch.distributions.Gamma(2.0, 0.5).sample((5000,)).clamp(max=17.9) - 2.0
        tb = np.clip(np.floor((y.double().numpy() + 2.0) / 0.25), 0, 71).astype(np.int64)
    want_bin = numpy_lds(tb, bins.num_bins, reweight, lds, kernel, ks, sigma)
    want = torch.from_numpy(want_bin[tb])
    kw = dict(reweight=reweight, lds=lds, kernel=kernel, ks=ks, sigma=sigma)
    for dtype, rtol in ((torch.float64, 1e-12), (torch.float32, 1e-6)):
        w = lds_weights(y, bins, **kw, dtype=dtype)
        assert w.dtype == dtype and w.shape == y.shape
        assert_close_verbose(w, want, tag=f"{cfg}-{dtype}", rtol=rtol)
        assert abs(w.double().mean().item() - 1) < 1e-6
    assert_close_verbose(lds_weights_ref(y, bins, **kw), want, tag="ref", rtol=1e-12)
    # mapping unseen labels = per-bin weight of their bin (empty bins: nearest, finite)
    model = LDS(bins, **kw).fit(y)
    probe = torch.linspace(-5.0, 130.0, 999)
    wp = model(probe)
    assert torch.isfinite(wp).all()
    pb = bins.index(probe)
    has = torch.from_numpy(np.isfinite(want_bin))[pb]
    assert_close_verbose(wp[has], torch.from_numpy(want_bin)[pb][has], tag="probe", rtol=1e-6)


# ------------------------------------------------------------------------------------------------
# official variant: AgeDB golden numbers and the official recipe


def official_agedb_weights(labels, reweight, lds, ks=5, sigma=2, K=121):
    """The official `_prepare_weights` recipe (spec §1.3), per-sample Python, NumPy 2 dtypes."""
    value_dict = {x: 0 for x in range(K)}
    for label in labels:
        value_dict[min(K - 1, int(label))] += 1
    if reweight == "sqrt_inv":
        value_dict = {k: np.sqrt(v) for k, v in value_dict.items()}
    elif reweight == "inverse":
        value_dict = {k: np.clip(v, 5, 1000) for k, v in value_dict.items()}
    num_per_label = [value_dict[min(K - 1, int(label))] for label in labels]
    if lds:
        smoothed = convolve1d(np.asarray([v for _, v in value_dict.items()]),
                              weights=scipy_window("gaussian", ks, sigma), mode="constant")
        num_per_label = [smoothed[min(K - 1, int(label))] for label in labels]
    weights = [np.float32(1 / x) for x in num_per_label]
    scaling = len(weights) / np.sum(weights)
    return np.array([scaling * x for x in weights])


AGEDB = {  # spec §1.3 (official variant: truncation for inverse+LDS)
    ("sqrt_inv", False): (0.6960, 13.0765), ("sqrt_inv", True): (0.7320, 22.0098),
    ("inverse", False): (0.3767, 26.5969), ("inverse", True): (0.42729, 34.39699),
}


def _printed(x, ref):
    nd = len(f"{ref}".split(".")[1])
    return round(x, nd) == ref


@pytest.mark.parametrize("reweight,lds", list(AGEDB))
@pytest.mark.usefixtures("path")
def test_official_agedb_ranges(reweight, lds):
    train = dirfast.data.agedb_dir_ages()["train"]
    assert train.numel() == 12208
    w = lds_weights(train, Bins.official_age(121), reweight=reweight, lds=lds, variant="official")
    lo, hi = AGEDB[(reweight, lds)]
    assert w.dtype == torch.float32
    assert _printed(w.min().item(), lo) and _printed(w.max().item(), hi), (w.min().item(), w.max().item())
    assert abs(w.double().mean().item() - 1) < 1e-6
    want = torch.from_numpy(official_agedb_weights(train.numpy(), reweight, lds))
    assert want.dtype == torch.float32  # NumPy 2: float32 per-sample weights
    assert_close_verbose(w, want, tag="official recipe", rtol=1e-6)


@pytest.mark.usefixtures("path")
def test_default_agedb_inverse_lds_is_float():
    train = dirfast.data.agedb_dir_ages()["train"]
    w = lds_weights(train, Bins.official_age(121), reweight="inverse", lds=True)
    assert _printed(w.min().item(), 0.4287) and _printed(w.max().item(), 33.1416)
    assert abs(w.double().mean().item() - 1) < 1e-6
    off = lds_weights(train, Bins.official_age(121), reweight="inverse", lds=True, variant="official")
    assert (w - off).abs().max() > 0.5  # the truncation quirk is visible


# ------------------------------------------------------------------------------------------------
# module behaviour


@pytest.mark.usefixtures("path")
def test_state_dict_round_trip_exact():
    train = dirfast.data.agedb_dir_ages()["train"]
    a = LDS(Bins(0, 0.5, 250), reweight="inverse", kernel="laplace", ks=7, sigma=1.5,
            variant="official", dtype=torch.float64).fit(train)
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    b = LDS(Bins(10, 0.5, 250))  # other config, same K: restored from the state
    b.load_state_dict(torch.load(buf, weights_only=False))
    assert b.fitted and b.variant == "official" and b.kernel == "laplace" and b.bins == a.bins
    assert b.dtype == torch.float64 and b.ks == 7 and b.sigma == 1.5
    probe = torch.linspace(-1, 130, 777)
    assert torch.equal(a(probe), b(probe))
    for name in ("counts", "smoothed", "bin_weights", "num_train"):
        assert torch.equal(getattr(a, name), getattr(b, name))
    # whole-module save too
    buf = io.BytesIO()
    torch.save(a, buf)
    buf.seek(0)
    c = torch.load(buf, weights_only=False)
    assert torch.equal(c(probe), a(probe))
    with pytest.raises(RuntimeError, match="size mismatch"):
        LDS(Bins.official_age(121)).load_state_dict(a.state_dict())


@pytest.mark.usefixtures("path")
def test_unfitted_and_bad_inputs():
    m = LDS(Bins.official_age(121))
    with pytest.raises(RuntimeError, match="not fitted"):
        m(torch.tensor([3.0]))
    with pytest.raises(ValueError, match="train_labels is empty"):
        m.fit(torch.tensor([]))
    with pytest.raises(ValueError, match="train_labels contains NaN/inf"):
        m.fit(torch.tensor([1.0, float("nan")]))
    with pytest.raises(ValueError, match="train_labels must have shape"):
        m.fit(torch.ones(3, 2))
    m.fit(torch.tensor([3.0, 4.0]))
    with pytest.raises(ValueError, match=r"labels must have shape \[B\] or \[B, 1\]"):
        m(torch.ones(2, 2))
    with pytest.raises(ValueError, match="labels contains NaN"):
        m(torch.tensor([float("nan")]), validate=True)
    strict = LDS(Bins(0, 1, 10, out_of_range="error"))
    with pytest.raises(ValueError, match=r"train_labels outside the bins' range.*\[11.0\]"):
        strict.fit(torch.tensor([1.0, 11.0]))  # fit-time checks always run
    strict.fit(torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="labels outside"):
        strict(torch.tensor([-3.0]), validate=True)
    assert strict(torch.tensor([-3.0]), validate=False).shape == (1,)
    with pytest.raises(ValueError, match="lds=True needs reweight"):
        LDS(Bins(0, 1, 3), reweight="none")
    with pytest.raises(ValueError, match="reweight must be one of"):
        LDS(Bins(0, 1, 3), reweight="sqrt")
    with pytest.raises(ValueError, match="variant must be one of"):
        LDS(Bins(0, 1, 3), variant="parity")
    with pytest.raises(ValueError, match="clip must be None or"):
        LDS(Bins(0, 1, 3), reweight="inverse", clip=(10, 5))
    with pytest.raises(TypeError, match="bins must be a dirfast.Bins"):
        LDS([0, 1, 2])
    with pytest.raises(RuntimeError, match="no triton kernel"):
        m(torch.tensor([3.0]), backend="triton")


@pytest.mark.usefixtures("path")
def test_empty_bins_policy():
    train = torch.tensor([2.0] * 30 + [3.0] * 10 + [7.0] * 5)
    bins = Bins(0, 1, 10)
    probe = torch.tensor([0.5, 2.5, 4.2, 5.5, 6.0, 9.0])  # bins 0, 2, 4, 5, 6, 9
    near = LDS(bins, reweight="sqrt_inv", lds=False).fit(train)
    w = near(probe)
    bw = near.bin_weights
    # nearest non-empty bins: 0→2, 4→3, 5→3 (tie 3 vs 7? dist 2 vs 2 → lower), 6→7, 9→7
    assert torch.equal(w, bw[[2, 2, 3, 3, 7, 7]].float())
    assert torch.isfinite(w).all()
    off = LDS(bins, reweight="sqrt_inv", lds=False, variant="official").fit(train)
    wo = off(probe, validate=False)
    assert torch.isinf(wo[[0, 2, 3, 4, 5]]).all() and torch.isfinite(wo[1])
    err = LDS(bins, reweight="sqrt_inv", lds=False, empty_bins="error").fit(train)
    with pytest.raises(ValueError, match="without \\(smoothed\\) training mass.*0.5"):
        err(probe, validate=True)
    assert torch.isinf(err(probe, validate=False)[0])
    # training weights are unaffected: mean 1, and equal across policies
    for m in (near, off, err):
        assert abs(m(train, validate=False).double().mean().item() - 1) < 1e-6


@pytest.mark.usefixtures("path")
def test_weights_batch_shapes_dtypes_and_reference_backend():
    train = dirfast.data.agedb_dir_ages()["train"]
    m = LDS(Bins.official_age(121)).fit(train)
    y = train[:64]
    assert m(y[:, None]).shape == (64, 1)
    assert torch.equal(m(y[:, None]).reshape(-1), m(y))
    assert torch.equal(m(y.to(torch.int64)), m(y))
    assert torch.equal(m(y), m(y, backend="reference"))
    assert torch.equal(m.weights_for(y), m(y))
    assert not m(y).requires_grad
    full = lds_weights(train, Bins.official_age(121), backend="reference")
    assert_close_verbose(full, lds_weights(train, Bins.official_age(121)), tag="ref backend", rtol=1e-6)
    # user tensors are not modified
    y2 = y.clone()
    m(y2)
    assert torch.equal(y2, y)
