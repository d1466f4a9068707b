"""dirfast.nn.FDS and dirfast.smooth_stats (issue 4 items 2 and 4; spec lds_fds.md §2, §7).

The parity oracle of ``variant="official"`` is ``tests/_official_fds.py`` (the official module written
literally: per-label loops, masks, the alias, in-place smooth) driven like the official ``train.py``.
"""

import copy
import io

import pytest
import torch

import dirfast
from dirfast import Bins
from dirfast.fds import fill_empty_stats, smooth_stats
from dirfast.nn import FDS
from dirfast.testing import assert_close_verbose

from _official_fds import OfficialFDS, model_forward_train, official_end_of_epoch

RTOL = {torch.float32: 1e-5, torch.float64: 1e-10}


# ------------------------------------------------------------------------------------------------
# data: integer ages, bins 3..99 (bucket_num=100, bucket_start=3), empty and single-sample bins,
# labels below and above the range, exact edge labels present in some epochs/batches only


def age_data(epoch, d, dtype, n=900, seed=0):
    g = torch.Generator().manual_seed(seed * 1000 + epoch)
    core = (torch.randn(n, generator=g) * 12 + 35).round().clamp(4, 98)
    labels = core.clone()
    labels = labels[(labels < 60) | (labels > 68)]  # empty bins 60..68 (never seen)
    extra = [0.0, 1.0, 2.0, 2.0, 100.0, 104.0, 111.0, 77.0, 83.0, 91.0]  # below/above, singletons
    if epoch % 2 == 0:
        extra += [3.0, 3.0]   # exact bucket_start present: below-range rows fold into bin 0
    if epoch % 3 != 1:
        extra += [99.0]       # exact bucket_num - 1 present: above-range rows fold into the last bin
    labels = torch.cat([labels, torch.tensor(extra)])
    labels = labels[torch.randperm(labels.numel(), generator=g)]
    m = labels.numel()
    # features: a label-dependent mean (offset 4 keeps the values away from 0), label-dependent
    # spread, an epoch drift, noise
    j = torch.arange(d, dtype=torch.float64)
    mu = 4.0 + torch.sin(labels.double()[:, None] / 9.0 + j[None, :] / 3.0)
    sd = 0.5 + 0.02 * labels.double()[:, None] + 0.1 * torch.cos(j[None, :])
    x = mu + 0.05 * epoch + sd * torch.randn(m, d, generator=g, dtype=torch.float64)
    return x.to(dtype), labels.to(dtype)


def batches(x, y, b=64):
    """Batches of ``b`` rows; a trailing single row joins the previous batch (the official statistics
    pass ``squeeze()``s each batch, which a batch of one would break)."""
    n = x.shape[0]
    cuts = list(range(0, n, b))
    if n - cuts[-1] == 1 and len(cuts) > 1:
        cuts.pop()
    cuts.append(n)
    return ([x[i:j] for i, j in zip(cuts, cuts[1:])], [y[i:j] for i, j in zip(cuts, cuts[1:])])


def rel_err(a, e):
    a, e = a.double(), e.double()
    if a.numel() == 0:
        return 0.0
    return ((a - e).abs() / e.abs().clamp_min(1e-300)).max().item()


def run_parity(d, dtype, epochs=5, momentum=0.9, in_forward=False, report=None):
    K_START, K_NUM = 3, 100
    off = OfficialFDS(d, bucket_num=K_NUM, bucket_start=K_START, momentum=momentum, dtype=dtype)
    mod = FDS(d, bucket_num=K_NUM, bucket_start=K_START, momentum=momentum, variant="official",
              accumulate_in_forward=in_forward, dtype=dtype).train()
    rtol = RTOL[dtype]
    worst = {}

    def cmp(tag, a, e):
        # Statistics: elementwise relative, except that entries below 1% of the tensor's largest
        # magnitude (means that cancel to ~0, e.g. the EMA of calibrated features) are compared
        # absolutely at rtol·1% of it. Calibrated features: relative to the batch's largest value
        # (an output that cancels to ~0 is off by an ulp of the inputs either way: the official
        # (z - mu)*s + mu~ and dirfast's z*scale + shift round differently). Reported: the worst
        # elementwise relative error over entries >= 1% of the largest (and /max for features).
        k = tag.split("@")[0]
        feats = "calibrated" in tag
        top = e.double().abs().max().item()
        if feats:
            assert_close_verbose(a, e, tag=tag, rtol=rtol, scale="max")
        else:
            assert_close_verbose(a, e, tag=tag, rtol=rtol, atol=1e-2 * rtol * top)
        big = e.double().abs() >= 1e-2 * top
        worst[k] = max(worst.get(k, 0.0), rel_err(a[big], e[big]))
        if feats:
            worst[k + "/max"] = max(worst.get(k + "/max", 0.0),
                                    (a.double() - e.double()).abs().max().item() / top)

    for e in range(epochs):
        # training steps: the calibration applied by the model's forward
        xt, yt = age_data(100 + e, d, dtype, n=300, seed=1)
        for xb, yb in zip(*batches(xt, yt)):
            exp_s, _ = model_forward_train(off, xb.clone(), yb.reshape(-1, 1), e)
            if in_forward:
                got = mod._calibrate(xb, mod._bin_ids("t", yb)[0]) if mod.calibrating else xb
            else:
                got = mod(xb, yb)
            cmp(f"train-calibrated@{e}", got, exp_s)
            if e < 2:  # epochs 0 and 1: identity (epoch 1: last-epoch buffers still 0/1)
                assert torch.equal(got, xb)
        # statistics pass + end of epoch
        xs, ys = age_data(e, d, dtype)
        fb, lb = batches(xs, ys)
        pass_feats = official_end_of_epoch(off, fb, lb, e)
        outs = []
        for xb, yb in zip(fb, lb):
            if in_forward:
                outs.append(mod(xb, yb))
            else:
                mod.accumulate(xb, yb)
        if in_forward:
            cmp(f"pass-calibrated@{e}", torch.cat(outs), pass_feats)
        mod.end_epoch(e)
        for name in ("running_mean", "running_var", "running_mean_last_epoch", "running_var_last_epoch",
                     "smoothed_mean_last_epoch", "smoothed_var_last_epoch"):
            cmp(f"{name}@{e}", getattr(mod, name), getattr(off, name))
        assert torch.equal(mod.num_samples_tracked.double(), off.num_samples_tracked.double())
    assert mod.running_mean_last_epoch.data_ptr() != mod.running_mean.data_ptr()  # copies, not alias
    if report is not None:
        report[(d, str(dtype), in_forward, momentum)] = worst
    return worst


@pytest.mark.parametrize("d", [7, 64, 2048])
def test_official_parity_fp32(d):
    worst = run_parity(d, torch.float32)
    print(f"official parity fp32 D={d}: max elementwise relative errors {worst}")


@pytest.mark.parametrize("d", [7, 64, 2048])
def test_official_parity_fp64(d):
    worst = run_parity(d, torch.float64)
    print(f"official parity fp64 D={d}: max elementwise relative errors {worst}")


def test_official_parity_accumulate_in_forward():
    run_parity(64, torch.float32, in_forward=True)
    run_parity(7, torch.float64, in_forward=True)


def test_official_parity_cumulative_momentum():
    run_parity(7, torch.float64, momentum=None)
    run_parity(64, torch.float32, momentum=None)


def test_official_alias_timeline():
    """Official: in epoch e >= 2 whitening uses running@(e-1) and recolouring S(running@(e-2)),
    default variant with whiten_lag = recolour_lag = 2: both from running@(e-2) (copies). (The other
    lag pairs: tests/test_fds_recipe.py.)"""
    d = 5
    off = FDS(d, bucket_num=20, bucket_start=0, variant="official")
    dft = FDS(d, bucket_num=20, bucket_start=0, whiten_lag=2, recolour_lag=2, stats_from="input")
    hist = {"off": [], "dft": []}
    w = dft.window()
    for e in range(4):
        x, y = age_data(e, d, torch.float32)
        y = y.clamp(0, 19)
        for m in (off, dft):
            m.accumulate(x, y)
            m.end_epoch(e)
        for k, m in (("off", off), ("dft", dft)):
            hist[k].append((m.running_mean.clone(), m.running_var.clone()))
        if e >= 1:
            # official: whitening = the live running stats (alias), recolouring = S(previous running)
            assert torch.equal(off.running_mean_last_epoch, off.running_mean)
            assert torch.equal(off.running_var_last_epoch, off.running_var)
            sm, sv = smooth_stats(*hist["off"][e - 1], w)
            assert torch.equal(off.smoothed_mean_last_epoch, sm) and torch.equal(off.smoothed_var_last_epoch, sv)
            # default: both from the previous running stats (copies)
            pm, pv = hist["dft"][e - 1]
            assert torch.equal(dft.running_mean_last_epoch, pm) and torch.equal(dft.running_var_last_epoch, pv)
            sm, sv = smooth_stats(pm, pv, w)
            assert torch.equal(dft.smoothed_mean_last_epoch, sm) and torch.equal(dft.smoothed_var_last_epoch, sv)
        else:
            assert torch.equal(off.smoothed_mean_last_epoch, torch.zeros(20, d))


# ------------------------------------------------------------------------------------------------
# smoothing


def test_fds_window_golden():
    w = dirfast.kernel_window("gaussian", 5, 2, normalize="sum")
    assert torch.allclose(w, torch.tensor([0.18625, 0.20525, 0.21700, 0.20525, 0.18625], dtype=torch.float64),
                          atol=1e-5)
    assert abs(w.sum().item() - 1) < 1e-15


def test_smooth_stats_reflect_conv():
    B, D = 9, 3
    g = torch.Generator().manual_seed(0)
    mean = torch.randn(B, D, generator=g, dtype=torch.float64)
    var = torch.rand(B, D, generator=g, dtype=torch.float64) + 0.5
    w = dirfast.kernel_window("laplace", 5, 2.0, normalize="sum")
    sm, sv = smooth_stats(mean, var, w)
    for x, s in ((mean, sm), (var, sv)):
        # PyTorch reflect: [x2, x1, x0, x1, ..., x_{B-1}, x_{B-2}, x_{B-3}] (edge not repeated)
        idx = [2, 1] + list(range(B)) + [B - 2, B - 3]
        p = x[idx]
        exp = torch.stack([(p[i:i + 5] * w[:, None]).sum(0) for i in range(B)])
        assert_close_verbose(s, exp, tag="smooth", rtol=1e-12)
    # golden padding check [1..5] -> [3,2,1,2,3,4,5,4,3] with a delta window picks the padded values
    x = torch.arange(1.0, 6.0, dtype=torch.float64)[:, None]
    delta0 = torch.tensor([1.0, 0, 0, 0, 0], dtype=torch.float64)
    assert smooth_stats(x, x, delta0)[0].reshape(-1).tolist() == [3.0, 2.0, 1.0, 2.0, 3.0]


def test_smooth_stats_errors():
    m = torch.zeros(2, 4)
    with pytest.raises(ValueError, match="B > h"):
        smooth_stats(m, m, torch.ones(5) / 5)  # B = 2, h = 2
    smooth_stats(torch.zeros(3, 4), torch.ones(3, 4), torch.ones(5) / 5)  # B = 3 > h = 2 works
    with pytest.raises(ValueError, match="odd"):
        smooth_stats(m, m, torch.ones(4))
    with pytest.raises(ValueError, match="shape"):
        smooth_stats(m, torch.zeros(3, 4), torch.ones(1))
    with pytest.raises(ValueError, match="counts"):
        smooth_stats(m, m, torch.ones(1), fill_empty=torch.ones(3))


def test_fill_empty_interpolates():
    mean = torch.tensor([[0.0], [1.0], [0.0], [0.0], [4.0], [0.0]], dtype=torch.float64)
    var = mean * 2 + 1
    counts = torch.tensor([0, 5, 0, 0, 2, 0])
    fm, fv = fill_empty_stats(mean, var, counts)
    assert fm.reshape(-1).tolist() == [1.0, 1.0, 2.0, 3.0, 4.0, 4.0]
    assert fv.reshape(-1).tolist() == [3.0, 3.0, 5.0, 7.0, 9.0, 9.0]
    # nothing seen: unchanged
    fm, fv = fill_empty_stats(mean, var, torch.zeros(6))
    assert torch.equal(fm, mean) and torch.equal(fv, var)
    # smoothing with fill = smoothing of the filled statistics
    w = dirfast.kernel_window("gaussian", 3, 1.0, normalize="sum")
    a = smooth_stats(mean, var, w, fill_empty=counts)
    b = smooth_stats(*fill_empty_stats(mean, var, counts), w)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_module_interpolate_empty_bins():
    d = 3
    fds = FDS(d, bucket_num=10, bucket_start=0, empty_bins="interpolate", ks=3, sigma=1, whiten_lag=2,
              recolour_lag=2)
    y = torch.tensor([1.0] * 4 + [5.0] * 4)
    x = torch.cat([torch.full((4, d), 1.0), torch.full((4, d), 5.0)]) + torch.randn(8, d) * 0.1
    for e in range(2):
        prev = fds.running_mean.clone()
        fds.accumulate(x, y)
        fds.end_epoch(e)
    lm = fds.running_mean_last_epoch
    m1, m5 = prev[1], prev[5]
    assert_close_verbose(lm[3], 0.5 * (m1 + m5), tag="interp", rtol=1e-6)
    assert torch.equal(lm[0], m1) and torch.equal(lm[9], m5)
    assert torch.equal(fds.running_mean[3], torch.zeros(d))  # running statistics stay raw


# ------------------------------------------------------------------------------------------------
# numerics: large means


@pytest.mark.parametrize("mean,std", [(1e4, 1.0), (1e4, 1e4)])
def test_large_mean_variance_fp32(mean, std):
    d, K = 16, 5
    g = torch.Generator().manual_seed(3)
    fds = FDS(d, bucket_num=K, bucket_start=0, ks=3, momentum=0.9)
    xs, ys = [], []
    for _ in range(20):  # 20 calls per epoch
        y = torch.randint(0, K, (97,), generator=g).float()
        x = (mean + std * torch.randn(97, d, generator=g, dtype=torch.float64)).float()
        fds.accumulate(x, y)
        xs.append(x)
        ys.append(y)
    fds.end_epoch(0)
    x, y = torch.cat(xs).double(), torch.cat(ys)
    exp_var = torch.stack([x[y == k].var(0) for k in range(K)])
    exp_mean = torch.stack([x[y == k].mean(0) for k in range(K)])
    err = ((fds.running_var.double() - exp_var).abs() / exp_var).max().item()
    print(f"mean {mean:g} std {std:g}: running_var max relative error {err:.3g}")
    assert err <= 1e-5
    assert_close_verbose(fds.running_mean, exp_mean.float(), tag="mean", rtol=1e-6)


# ------------------------------------------------------------------------------------------------
# errors


def test_constructor_errors():
    b = Bins(3, 1, 97)
    with pytest.raises(ValueError, match="momentum"):
        FDS(8, b, momentum=1.0)
    with pytest.raises(ValueError, match="momentum"):
        FDS(8, b, momentum=-0.1)
    FDS(8, b, momentum=0.0)
    FDS(8, b, momentum=None)
    with pytest.raises(ValueError, match="start_smooth"):
        FDS(8, b, start_update=3, start_smooth=2)
    with pytest.raises(ValueError, match="lo <= hi"):
        FDS(8, b, clip=(10, 0.1))
    with pytest.raises(ValueError, match="clip"):
        FDS(8, b, clip=(0.0, 1.0))
    with pytest.raises(ValueError, match="ks"):
        FDS(8, b, ks=4)
    with pytest.raises(ValueError, match="half-width"):
        FDS(8, Bins(0, 1, 2), ks=5)
    with pytest.raises(ValueError, match="feature_dim"):
        FDS(0, b)
    with pytest.raises(ValueError, match="bins"):
        FDS(8)
    with pytest.raises(ValueError, match="not both"):
        FDS(8, b, bucket_num=100)
    with pytest.raises(ValueError, match="variant"):
        FDS(8, b, variant="paper")
    with pytest.raises(ValueError, match="empty_bins"):
        FDS(8, b, variant="official", empty_bins="interpolate")


def test_forward_errors():
    fds = FDS(8, Bins(0, 1, 10))
    with pytest.raises(ValueError, match="rank >= 2"):
        fds(torch.zeros(8), torch.zeros(8))
    with pytest.raises(ValueError, match="feature_dim=8"):
        fds(torch.zeros(4, 7), torch.zeros(4))
    with pytest.raises(ValueError, match="feature_dim=8"):
        fds.accumulate(torch.zeros(4, 7), torch.zeros(4))
    with pytest.raises(ValueError, match="labels must have shape"):
        fds(torch.zeros(4, 8), torch.zeros(5))
    with pytest.raises(ValueError, match="labels must have shape"):
        fds(torch.zeros(2, 8, 3, 3), torch.zeros(2, 3))
    with pytest.raises(TypeError, match="floating"):
        fds(torch.zeros(4, 8, dtype=torch.int64), torch.zeros(4))
    with pytest.raises(ValueError, match="NaN"):
        fds.accumulate(torch.zeros(4, 8), torch.tensor([0.0, 1.0, float("nan"), 2.0]))
    with pytest.raises(ValueError, match="epoch"):
        fds.end_epoch(-1)


# ------------------------------------------------------------------------------------------------
# state, resume


def _drive(fds, epochs, start_epoch=0, stop_after=None):
    """Deterministic loop: train forwards (returned), an explicit statistics pass, end_epoch."""
    outs = []
    for e in range(start_epoch, epochs):
        x, y = age_data(e, 6, torch.float32, n=400, seed=7)
        fb, lb = batches(x, y, 50)
        for i, (xb, yb) in enumerate(zip(fb, lb)):
            outs.append(fds(xb, yb))
            fds.accumulate(xb * 1.1, yb)
            if stop_after == (e, i):
                return outs
        fds.end_epoch(e)
    return outs


@pytest.mark.parametrize("variant", ["default", "official"])
@pytest.mark.parametrize("in_forward", [False, True])
def test_state_dict_resume_mid_epoch(variant, in_forward):
    kw = dict(bucket_num=100, bucket_start=3, variant=variant, accumulate_in_forward=in_forward)
    ref = FDS(6, **kw).train()
    full = _drive(ref, 5)

    a = FDS(6, **kw).train()
    first = _drive(a, 5, stop_after=(3, 3))  # stop in the middle of epoch 3
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    b = FDS(6, bucket_num=100, bucket_start=3).train()  # fresh module, default config
    b.load_state_dict(torch.load(buf, weights_only=False))
    assert b.variant == variant and b.accumulate_in_forward == in_forward and b._epoch == 3
    # finish epoch 3 (remaining batches), then epoch 4
    x, y = age_data(3, 6, torch.float32, n=400, seed=7)
    fb, lb = batches(x, y, 50)
    rest = []
    for xb, yb in list(zip(fb, lb))[4:]:
        rest.append(b(xb, yb))
        b.accumulate(xb * 1.1, yb)
    b.end_epoch(3)
    rest += _drive(b, 5, start_epoch=4)
    got = first + rest
    assert len(got) == len(full)
    for i, (u, v) in enumerate(zip(got, full)):
        assert torch.equal(u, v), i
    for k, v in ref.state_dict().items():
        if isinstance(v, torch.Tensor):
            assert torch.equal(b.state_dict()[k], v), k


def test_state_dict_between_epochs_and_contents():
    a = FDS(6, bucket_num=100, bucket_start=3)
    _drive(a, 3)
    sd = a.state_dict()
    for k in ("running_mean", "running_var", "smoothed_mean_last_epoch", "smoothed_var_last_epoch",
              "partial_count", "partial_mean", "partial_m2", "epoch", "num_samples_tracked"):
        assert k in sd
    assert "scale" not in sd and "shift" not in sd
    b = FDS(6, bucket_num=100, bucket_start=3)
    b.load_state_dict(sd)
    assert torch.equal(a.scale, b.scale) and torch.equal(a.shift, b.shift)
    assert b.calibrating and b._epoch == 3


# ------------------------------------------------------------------------------------------------
# behaviour


def test_out_of_place_and_autograd_through_relu():
    """The official in-place smooth crashes after a ReLU (issues #6/#43/#45); dirfast is out of place."""
    fds = FDS(8, Bins(0, 1, 10)).train()
    x, y = torch.randn(200, 8), torch.randint(0, 10, (200,)).float()
    for e in range(3):
        fds.accumulate(x * (1 + e), y)
        fds.end_epoch(e)
    w = torch.randn(8, 8, requires_grad=True)
    h = torch.relu(x @ w)
    h_before = h.detach().clone()
    z = fds(h, y)
    assert not torch.equal(z, h)
    assert torch.equal(h, h_before)
    z.square().sum().backward()
    assert w.grad is not None and torch.isfinite(w.grad).all()


def test_eval_identity_and_no_accumulate():
    fds = FDS(4, Bins(0, 1, 10), accumulate_in_forward=True)
    x, y = torch.randn(50, 4), torch.randint(0, 10, (50,)).float()
    for e in range(3):
        fds.accumulate(x + e, y)
        fds.end_epoch(e)
    fds.eval()
    before = fds.partial_count.clone()
    assert fds(x, y) is x
    assert torch.equal(fds.partial_count, before)
    fds.train()
    assert not torch.equal(fds(x, y), x)
    assert fds.partial_count.sum() == 50


def test_rank4_per_pixel():
    C = 5
    fds = FDS(C, Bins(0.7, 0.1, 93), start_smooth=1).train()  # NYUD2-like depth bins
    g = torch.Generator().manual_seed(0)
    for e in range(3):
        x = torch.randn(2, C, 4, 6, generator=g) + e
        depth = torch.rand(2, 4, 6, generator=g) * 9 + 0.5
        fds.accumulate(x, depth)
        fds.end_epoch(e)
    x = torch.randn(2, C, 4, 6, generator=g)
    depth = torch.rand(2, 4, 6, generator=g) * 9 + 0.5
    out = fds(x, depth)
    flat = fds(x.permute(0, 2, 3, 1).reshape(-1, C), depth.reshape(-1))
    assert out.shape == x.shape
    assert torch.equal(out, flat.reshape(2, 4, 6, C).permute(0, 3, 1, 2))
    assert torch.equal(fds(x, depth.unsqueeze(1)), out)  # [N, 1, H, W] labels too
    # statistics of rank-4 input = statistics of the flattened pixels
    a, b = FDS(C, Bins(0.7, 0.1, 93)), FDS(C, Bins(0.7, 0.1, 93))
    a.accumulate(x, depth)
    b.accumulate(x.permute(0, 2, 3, 1).reshape(-1, C), depth.reshape(-1))
    assert torch.equal(a.partial_mean, b.partial_mean) and torch.equal(a.partial_m2, b.partial_m2)


def test_default_clamps_official_folds():
    """Default: out-of-range labels clamp into the edge bins. Official: below-range rows are
    calibrated with bin 0 only when the exact label bucket_start is in the same call."""
    d = 4
    kw = dict(bucket_num=10, bucket_start=3, ks=3, sigma=1)
    mods = {v: FDS(d, variant=v, **kw).train() for v in ("default", "official")}
    g = torch.Generator().manual_seed(0)
    for e in range(3):
        y = torch.arange(0, 13).float().repeat(20)
        x = torch.randn(y.numel(), d, generator=g) * (1 + y[:, None] / 5) + y[:, None]
        for m in mods.values():
            m.accumulate(x, y)
            m.end_epoch(e)
    x = torch.randn(3, d, generator=g) + 1
    y_without = torch.tensor([1.0, 5.0, 12.0])   # no exact 3 / 9 in the call
    y_with = torch.tensor([1.0, 3.0, 9.0])
    off, dft = mods["official"], mods["default"]
    out = off(x, y_without)
    assert torch.equal(out[0], x[0]) and torch.equal(out[2], x[2]) and not torch.equal(out[1], x[1])
    out = off(x, y_with)
    assert not torch.equal(out[0], x[0])
    z = dft(x, y_without)
    ref = dft(x, torch.tensor([3.0, 5.0, 9.0]))  # clamped into bins 0 and 6
    assert torch.equal(z, ref)


def test_start_update_discards_and_default_first_copy():
    fds = FDS(3, Bins(0, 1, 5), start_update=1, start_smooth=2)
    x, y = torch.randn(40, 3), torch.randint(0, 4, (40,)).float()  # bin 4 empty at first
    fds.accumulate(x, y)
    fds.end_epoch(0)  # before start_update: discarded
    assert int(fds.num_updates) == 0 and fds.partial_count.sum() == 0
    assert torch.equal(fds.running_mean, torch.zeros(5, 3))
    fds.accumulate(x, y)
    fds.end_epoch(1)
    exp = torch.stack([x[y == k].mean(0) for k in range(4)])
    assert_close_verbose(fds.running_mean[:4], exp, tag="first copy", rtol=1e-6, scale="max")
    # bin 4 first seen at epoch 2: default copies (official would blend with the initial 0/1)
    kept = fds.running_mean[:4].clone()
    x4 = torch.randn(6, 3) + 7
    fds.accumulate(x4, torch.full((6,), 4.0))
    fds.end_epoch(2)
    assert_close_verbose(fds.running_mean[4], x4.mean(0), tag="late first copy", rtol=1e-6)
    assert torch.equal(fds.running_mean[:4], kept)  # absent bins keep their statistics


def test_cumulative_average_default():
    fds = FDS(2, Bins(0, 1, 3), momentum=None, ks=1, stats_from="input")  # statistics of the data as given
    data = [torch.randn(30, 2, dtype=torch.float64) + e for e in range(3)]
    y = torch.tensor([0.0, 1.0, 2.0]).repeat(10)
    for e, x in enumerate(data):
        fds.accumulate(x, y)
        fds.end_epoch(e)
    # f = 1 - n/tracked with equal n per epoch: the running mean is the average of the epoch means
    exp = torch.stack([torch.stack([x[y == k].mean(0) for k in range(3)]) for x in data]).mean(0)
    assert_close_verbose(fds.running_mean, exp.float(), tag="cumavg", rtol=1e-6)


def test_convergence_tiny_model_calibration_active_from_epoch_2():
    torch.manual_seed(0)
    n, din, d = 512, 6, 16
    g = torch.Generator().manual_seed(1)
    X = torch.randn(n, din, generator=g)
    Y = (20 + 8 * X[:, 0] + 3 * X[:, 1] ** 2).round().clamp(0, 49)
    enc = torch.nn.Sequential(torch.nn.Linear(din, 32), torch.nn.ReLU(), torch.nn.Linear(32, d), torch.nn.ReLU())
    head = torch.nn.Linear(d, 1)
    fds = FDS(d, Bins(0, 1, 50))
    opt = torch.optim.Adam(list(enc.parameters()) + list(head.parameters()), lr=1e-2)
    losses, active = [], []
    for epoch in range(6):
        enc.train(), fds.train()
        changed, tot = False, 0.0
        for i in range(0, n, 64):
            xb, yb = X[i:i + 64], Y[i:i + 64]
            z = enc(xb)
            zc = fds(z, yb)
            changed |= not torch.equal(zc, z)
            loss = torch.nn.functional.mse_loss(head(zc).squeeze(1), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += loss.item()
        losses.append(tot)
        active.append(changed)
        with torch.no_grad():
            for i in range(0, n, 64):
                fds.accumulate(enc(X[i:i + 64]), Y[i:i + 64])
        fds.end_epoch(epoch)
    print("losses per epoch", [round(v, 1) for v in losses], "calibration active", active)
    assert active == [False, False, True, True, True, True]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]
    fds.eval()
    z = enc(X[:10])
    assert fds(z, Y[:10]) is z


def test_exports():
    assert dirfast.nn.FDS is FDS
    assert dirfast.smooth_stats is smooth_stats and dirfast.nn.smooth_stats is smooth_stats
    fds = FDS(4, bucket_num=100, bucket_start=3)
    assert fds.bins == Bins(3, 1, 97) and fds.num_bins == 97
    m = copy.deepcopy(fds)
    assert m.num_bins == 97
