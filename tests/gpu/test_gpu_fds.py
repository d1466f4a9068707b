"""GPU tier: FDS per-bin statistics, calibration and the nn.FDS module on CUDA tensors."""

import pytest
import torch

import dirfast
from dirfast.reference.fds_calibrate import fds_calibrate_ref
from dirfast.reference.fds_stats import fds_bin_stats_ref
from dirfast.testing import assert_close_verbose

from _fds_calibrate_cases import make_features, make_stats
from _gpu import BACKENDS, DEVICE, DTYPES, F32, F64, compare, has_cuda_kernel, size, to

pytestmark = pytest.mark.gpu

# (N, D, bins): odd sizes, a single row, all rows in one bin, and the AgeDB training set size
SHAPES = [(1, 7, 3), (37, 70, 5), (size(12_208, 900), size(2_048, 96), 97), (size(70_001, 300), 16, 1)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_fds_bin_stats(backend, dtype, shape):
    has_cuda_kernel(backend, False)
    n, d, b = shape
    z, idx = make_features(n, d, b, identity_rows=False)
    idx[: max(n // 7, 1)] = b - 1  # a heavy bin
    x = to(z, dtype)
    got = dirfast.fds_bin_stats(x, to(idx), b, backend=backend, validate=False)
    c64, m64, v64 = fds_bin_stats_ref(x.double(), to(idx), b)
    assert torch.equal(got.count.cpu(), c64.cpu())
    tag = f"{backend} {dtype} {shape}"
    acc = F64 if dtype == F64 else F32
    assert got.mean.dtype == acc and got.mean.device.type == DEVICE.type
    # statistics are accumulated in fp32 (fp64): judge them at fp32 (fp64) precision
    assert_close_verbose(got.mean, m64.to(acc), tag=tag + " mean", scale="max",
                         rtol=1e-10 if acc == F64 else 2e-6)
    assert_close_verbose(got.m2, v64.to(acc), tag=tag + " m2", scale="max",
                         rtol=1e-10 if acc == F64 else 2e-6)


@pytest.mark.gpu_check
@pytest.mark.parametrize("dtype", [F32, F64], ids=str)
def test_fds_bin_stats_agedb_size(dtype):
    test_fds_bin_stats("auto", dtype, SHAPES[2])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_fds_calibrate(backend, dtype, shape):
    has_cuda_kernel(backend, False)
    n, d, b = shape
    z, idx = make_features(n, d, b)
    scale, shift = dirfast.fds_scale_shift(*make_stats(b, d))
    compare(lambda x, s, t: dirfast.fds_calibrate(x, to(idx), s, t, backend=backend, validate=False),
            lambda x, s, t: fds_calibrate_ref(x, to(idx, device=x.device), s, t),
            [z, scale, shift], dtype, tag=f"{backend} {dtype} {shape}", diff=(0,),
            value_scale="max")


@pytest.mark.gpu_check
def test_fds_calibrate_agedb_size():
    n, d, b = size(12_208, 500), size(2_048, 64), 97
    z, idx = make_features(n, d, b, seed=3)
    scale, shift = dirfast.fds_scale_shift(*make_stats(b, d, seed=4))
    compare(lambda x, s, t: dirfast.fds_calibrate(x, to(idx), s, t, validate=False),
            lambda x, s, t: fds_calibrate_ref(x, to(idx, device=x.device), s, t),
            [z, scale, shift], F32, tag=f"auto fp32 {n}x{d}", diff=(0,), value_scale="max")


def _fds_run(device, epochs=4, d=24, in_forward=True, variant="default", seed=0):
    """nn.FDS driven for ``epochs`` epochs on ``device``; returns the training outputs and state."""
    fds = dirfast.nn.FDS(d, dirfast.Bins(0, 1, 40), accumulate_in_forward=in_forward, variant=variant,
                         validate=False).to(device)
    g = torch.Generator().manual_seed(seed)
    outs = []
    for e in range(epochs):
        for _ in range(3):
            y = (torch.randn(64, generator=g) * 8 + 20).round().clamp(0, 39)
            x = torch.randn(64, d, generator=g) + y[:, None] / 10
            xr = x.to(device).requires_grad_()
            out = fds(xr, y.to(device))
            out.square().sum().backward()
            outs.append((out.detach().cpu(), xr.grad.cpu()))
            if not in_forward:
                fds.accumulate(x.to(device), y.to(device))
        fds.end_epoch(e)
    return outs, {k: v.cpu() for k, v in fds.state_dict().items() if isinstance(v, torch.Tensor)}


@pytest.mark.gpu_check
@pytest.mark.parametrize("variant", ["default", "official"])
@pytest.mark.parametrize("in_forward", [True, False])
def test_fds_module_matches_cpu(variant, in_forward):
    got, got_state = _fds_run(DEVICE, variant=variant, in_forward=in_forward)
    want, want_state = _fds_run(torch.device("cpu"), variant=variant, in_forward=in_forward)
    for k, ((o, g), (wo, wg)) in enumerate(zip(got, want)):
        assert_close_verbose(o, wo, tag=f"FDS out step {k}", scale="max", rtol=2e-6)
        assert_close_verbose(g, wg, tag=f"FDS grad step {k}", scale="max", rtol=2e-6)
    for key, v in want_state.items():
        w = got_state[key]
        if v.is_floating_point():
            assert_close_verbose(w, v, tag=f"FDS state {key}", scale="max", rtol=2e-6)
        else:
            assert torch.equal(w, v), key


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_fds_module_low_precision_features(dtype):
    """Half features under a calibrating FDS: outputs in the input dtype, close to the same module on
    the same (rounded) features in fp64."""
    fds = dirfast.nn.FDS(32, dirfast.Bins(0, 1, 20), validate=False).to(DEVICE)
    g = torch.Generator().manual_seed(2)
    for e in range(3):
        y = torch.randint(0, 20, (256,), generator=g).float()
        fds.accumulate(torch.randn(256, 32, generator=g).to(DEVICE), y.to(DEVICE))
        fds.end_epoch(e)
    y = torch.randint(0, 20, (300,), generator=g).float()
    x = torch.randn(300, 32, generator=g, dtype=F64)
    out = fds(to(x, dtype), to(y))
    assert out.dtype == dtype
    oracle = fds(to(x.to(dtype), F64), to(y))
    # fixed tolerances of the dtype (1e-2 fp16, 2e-2 bf16) relative to the largest value
    assert_close_verbose(out, oracle, tag=f"FDS {dtype}", scale="max")
