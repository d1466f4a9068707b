"""GPU tier: weighted losses, LDS weights and shot metrics on CUDA tensors vs the fp64 reference."""

import pytest
import torch

import dirfast
from dirfast.reference import weighted_loss_ref
from dirfast.testing import assert_close_verbose

from _cases import LOSSES, loss_kwargs, make_inputs
from _gpu import BACKENDS, DEVICE, DTYPES, F32, F64, compare, has_cuda_kernel, size, to

pytestmark = pytest.mark.gpu

SIZES = [0, 1, 37, size(70_001, 4_099)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("reduction", ["mean", "none"])
@pytest.mark.parametrize("n", SIZES)
def test_weighted_loss(backend, dtype, loss, reduction, n):
    has_cuda_kernel(backend, False)
    pred, target, weight = make_inputs(n, F64)
    kw = loss_kwargs(loss)
    compare(lambda p, t, w: dirfast.weighted_loss(p, t, w, reduction=reduction, backend=backend,
                                                  validate=False, **kw),
            lambda p, t, w: weighted_loss_ref(p, t, w, reduction=reduction, **kw),
            [pred, target, weight], dtype, tag=f"{backend} {loss} {reduction} {dtype} n={n}",
            diff=(0,), value_scale="max" if reduction == "none" else None)


@pytest.mark.gpu_check
@pytest.mark.parametrize("dtype", [F32, F64], ids=str)
@pytest.mark.parametrize("loss", LOSSES)
def test_weighted_loss_large(dtype, loss):
    n = size(1 << 20, 1 << 12)
    pred, target, weight = make_inputs(n, F64, shape2d=True, seed=2)
    kw = loss_kwargs(loss)
    compare(lambda p, t, w: dirfast.weighted_loss(p, t, w, validate=False, **kw),
            lambda p, t, w: weighted_loss_ref(p, t, w, **kw),
            [pred, target, weight], dtype, tag=f"auto {loss} {dtype} n={n}", diff=(0,))


@pytest.mark.gpu_check
@pytest.mark.parametrize("backend", ["auto", "reference"])
def test_lds_forward_equals_cpu(backend):
    bins = dirfast.Bins(0, 1, 121)
    g = torch.Generator().manual_seed(0)
    train = torch.randint(0, 100, (5_000,), generator=g).float()
    labels = torch.rand(size(1 << 20, 4096), generator=g, dtype=F64) * 120
    lds = dirfast.LDS(bins).fit(train)
    want = lds(labels.float(), validate=False)
    lds_dev = dirfast.LDS(bins).fit(train.to(DEVICE)).to(DEVICE)
    got = lds_dev(labels.float().to(DEVICE), validate=False, backend=backend)
    assert got.device.type == DEVICE.type
    assert torch.equal(got.cpu(), want)
    # integer labels, [B, 1]
    ints = torch.randint(0, 121, (1000, 1), generator=g)
    assert torch.equal(lds_dev(ints.to(DEVICE), validate=False).cpu(), lds(ints, validate=False))


@pytest.mark.gpu_check
def test_shot_metrics_equals_cpu():
    bins = dirfast.Bins(0, 1, 100)
    g = torch.Generator().manual_seed(1)
    train = (torch.randn(20_000, generator=g) * 15 + 40).clamp(0, 99).round()
    n = size(1 << 20, 10_000)
    labels = (torch.randn(n, generator=g) * 20 + 45).clamp(0, 99).round()
    preds = labels + torch.randn(n, generator=g) * 3
    for variant in ("default", "official"):
        want = dirfast.shot_metrics(preds, labels, train, bins, variant=variant)
        got = dirfast.shot_metrics(preds.to(DEVICE), labels.to(DEVICE), train.to(DEVICE), bins,
                                   variant=variant)
        for field in ("mae", "mse", "gm"):
            for group, v in getattr(want, field).items():
                w = getattr(got, field)[group]
                assert (v != v and w != w) or abs(w - v) <= 1e-6 * max(abs(v), 1.0), (variant, field, group, w, v)
        assert got.count == want.count, (variant, got.count, want.count)


@pytest.mark.parametrize("backend", BACKENDS)
def test_loss_device_mismatch_names_both_devices(backend):
    if DEVICE.type != "cuda":
        pytest.skip("needs a second device kind")
    p = torch.randn(8, device=DEVICE)
    with pytest.raises(ValueError, match=r"cpu.*cuda|cuda.*cpu"):
        dirfast.mse(p, torch.randn(8), backend=backend)


def test_weighted_loss_fp32_large_values_exact_reduction():
    """The reduced loss sums partials in the compute dtype: compare with fp64 at 1M elements."""
    n = size(1 << 20, 1 << 12)
    pred, target, weight = make_inputs(n, F64, seed=5)
    got = dirfast.l1(to(pred, F32), to(target, F32), to(weight, F32), reduction="sum", validate=False)
    want = weighted_loss_ref(pred.float().double(), target.float().double(), weight.float().double(),
                             loss="l1", reduction="sum")
    assert_close_verbose(got, want.float(), tag="l1 sum 1M")
