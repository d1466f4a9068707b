"""GPU tier: every ``dirfast.nn`` module and the remaining public helpers on CUDA tensors equal (fp32:
rtol 1e-5; integer and fit-time results: exactly) to the same call on CPU tensors."""

import pytest
import torch

import dirfast
from dirfast.testing import assert_close_verbose

from _cases import make_inputs
from _gpu import DEVICE, F32, F64, gen, run, to

pytestmark = pytest.mark.gpu

LOSS_MODULES = ["MSELoss", "L1Loss", "FocalMSELoss", "FocalL1Loss", "HuberLoss"]


def _same_on_both(fn_dev, fn_cpu, xs, tag, rtol=None):
    got, gs = run(fn_dev, [to(x) for x in xs], (0,))
    want, ws = run(fn_cpu, xs, (0,))
    assert got.device.type == DEVICE.type
    assert_close_verbose(got, want, tag=tag + " value", scale="max", rtol=rtol)
    for g, w in zip(gs, ws):
        assert_close_verbose(g, w, tag=tag + " grad", scale="max", rtol=rtol)


@pytest.mark.parametrize("name", LOSS_MODULES)
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_loss_modules(name, reduction):
    p, t, w = make_inputs(1_001, F32, shape2d=True, seed=3)
    mod = getattr(dirfast.nn, name)(reduction=reduction, validate=False)
    _same_on_both(lambda x: mod(x, to(t), to(w)), lambda x: mod(x, t, w), [p], f"{name} {reduction}")


def test_conr_module():
    z = torch.randn(96, 40, generator=gen(0))
    y = torch.randint(0, 10, (48,), generator=gen(1)).float().repeat(2)
    yh = y + torch.randn(96, generator=gen(2))
    mod = dirfast.nn.ConRLoss(validate=False)
    _same_on_both(lambda x: mod(x, to(y), to(yh)), lambda x: mod(x, y, yh), [z], "ConRLoss")


@pytest.mark.parametrize("name", ["SoftSort", "SoftRank"])
def test_soft_sort_modules(name):
    x = torch.randn(7, 301, generator=gen(4)) * 5
    mod = getattr(dirfast.nn, name)(0.3)
    _same_on_both(mod, mod, [x], name)


def test_fit_time_helpers_on_device():
    """smooth_stats, fill_empty_stats, fds_scale_shift, lds_weights, pseudo_labels: the same
    results on the device as on CPU."""
    b, d = 30, 16
    mean = torch.randn(b, d, generator=gen(5), dtype=F64)
    var = torch.rand(b, d, generator=gen(6), dtype=F64) + 0.1
    counts = torch.randint(0, 5, (b,), generator=gen(7))
    counts[3:6] = 0
    window = dirfast.kernel_window("gaussian", 5, 2.0)
    fm, fv = dirfast.fill_empty_stats(to(mean), to(var), to(counts))
    cm, cv = dirfast.fill_empty_stats(mean, var, counts)
    assert_close_verbose(fm, cm, tag="fill_empty mean", scale="max")
    assert_close_verbose(fv, cv, tag="fill_empty var", scale="max")
    sm, sv = dirfast.smooth_stats(to(mean), to(var), to(window))
    wm, wv = dirfast.smooth_stats(mean, var, window)
    assert_close_verbose(sm, wm, tag="smooth mean", scale="max")
    assert_close_verbose(sv, wv, tag="smooth var", scale="max")
    sc, sh = dirfast.fds_scale_shift(to(mean), to(var), to(sm), to(sv))
    wc, wh = dirfast.fds_scale_shift(mean, var, wm, wv)
    assert_close_verbose(sc, wc, tag="scale", scale="max")
    assert_close_verbose(sh, wh, tag="shift", scale="max")
    train = torch.randint(0, 90, (4_000,), generator=gen(8)).float()
    bins = dirfast.Bins(0, 1, 100)
    assert torch.equal(dirfast.lds_weights(to(train), bins).cpu(), dirfast.lds_weights(train, bins))
    q = dirfast.pseudo_labels(train, 513, device=DEVICE)
    assert q.device.type == DEVICE.type
    assert torch.equal(q.cpu(), dirfast.pseudo_labels(train, 513))
