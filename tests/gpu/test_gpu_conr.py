"""GPU tier: ConR on CUDA tensors vs the fp64 dense reference (run on the same device)."""

import pytest
import torch

import dirfast
from dirfast.reference.conr import conr_loss_ref
from dirfast.testing import assert_close_verbose

from _gpu import BACKENDS, DEVICE, DTYPES, F32, F64, compare, has_cuda_kernel, run, size, to

pytestmark = pytest.mark.gpu


def batch(m, d, seed=0):
    """Two views (rows k and k + ⌈M/2⌉ share a label, so every anchor of an even M has a positive, as
    the official variant needs), integer-ish labels (0.25 offsets keep |Δy| away from w = 1),
    predictions near them, weights."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(m, d, generator=g, dtype=F64)
    h = (m + 1) // 2
    y = torch.randint(0, 8, (h,), generator=g).to(F64) + 0.25 * torch.randint(0, 2, (h,), generator=g)
    y = torch.cat([y, y])[:m]
    yh = y + torch.randn(m, generator=g, dtype=F64) * 1.5
    a = torch.rand(m, generator=g, dtype=F64) + 0.5
    return z, y, yh, a


SHAPES = [(1, 16), (2, 8), (38, 70), (size(1_024, 130), size(2_048, 96)), (size(4_096, 200), 512)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("variant", ["paper", "official"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_conr(backend, dtype, variant, shape):
    has_cuda_kernel(backend, False)
    m, d = shape
    if m == 1 and variant == "official":
        pytest.skip("official M=1: NaN loss by design (no positive); its gradient rule is a CPU-tier test")
    z, y, yh, a = batch(m, d)
    kw = dict(variant=variant)
    compare(lambda z, y, yh, a: dirfast.conr_loss(z, y, yh, a, backend=backend, validate=False, **kw),
            lambda z, y, yh, a: conr_loss_ref(z, y, yh, a, **kw),
            [z, y, yh, a], dtype, tag=f"{backend} {variant} {dtype} {shape}", diff=(0,))


@pytest.mark.gpu_check
@pytest.mark.parametrize("dtype", [F32, F64, torch.bfloat16], ids=str)
def test_conr_large(dtype):
    """M = 8,192, D = 2,048 (the largest dense reference that fits comfortably)."""
    m, d = size(8_192, 96), size(2_048, 64)
    z, y, yh, a = batch(m, d, seed=1)
    compare(lambda z, y, yh, a: dirfast.conr_loss(z, y, yh, a, validate=False),
            lambda z, y, yh, a: conr_loss_ref(z, y, yh, a),
            [z, y, yh, a], dtype, tag=f"auto {dtype} {m}x{d}", diff=(0,))


@pytest.mark.gpu_check
@pytest.mark.parametrize("shape", [(37, 70), (size(1_024, 100), size(2_048, 80))],
                         ids=lambda s: "x".join(map(str, s)))
def test_conr_fp64_features_fp32_labels(shape):
    """The first H200 run's defect: fp64 features with fp32 labels/predictions were 1e-9 off (the
    fp64 kernel got w, 1/τ, e as fp32). Must be fp64-exact (1e-10)."""
    m, d = shape
    z, y, yh, a = batch(m, d, seed=2)
    y32, yh32 = y.float(), yh.float()
    x = to(z).requires_grad_()
    out = dirfast.conr_loss(x, to(y32), to(yh32), to(a), temperature=0.1, validate=False)
    gx, = torch.autograd.grad(out, x)
    r = to(z).requires_grad_()
    want = conr_loss_ref(r, to(y32).double(), to(yh32).double(), to(a), temperature=0.1)
    gr, = torch.autograd.grad(want, r)
    assert_close_verbose(out, want, tag="fp64 features, fp32 labels: value")
    assert_close_verbose(gx, gr, tag="fp64 features, fp32 labels: grad", scale="max")


@pytest.mark.parametrize("precision", ["tf32", "tf32x3"])
def test_conr_tf32(precision):
    """TF32 opt-in: ~1e-3 relative error in the similarities (README); judged at rtol 1e-2 on the loss
    and 2e-2 on gradients (scaled by the largest); tf32x3 ≈ fp32 (1e-4)."""
    m, d = size(1_024, 64), size(512, 32)
    z, y, yh, a = batch(m, d, seed=3)
    rtol = (1e-2, 2e-2) if precision == "tf32" else (1e-4, 1e-4)
    out, (g,) = run(lambda x: dirfast.conr_loss(x, to(y, F32), to(yh, F32), to(a, F32),
                                                 input_precision=precision, validate=False),
                    [to(z, F32)], (0,))
    zr = to(z, F32).double()
    want, (gw,) = run(lambda x: conr_loss_ref(x, to(y, F32).double(), to(yh, F32).double(),
                                              to(a, F32).double()), [zr], (0,))
    assert_close_verbose(out.double(), want, tag=f"{precision} value", rtol=rtol[0])
    assert_close_verbose(g.double(), gw, tag=f"{precision} grad", rtol=rtol[1], scale="max")


@pytest.mark.parametrize("temperature", [0.01, 0.07, 1.0])
def test_conr_temperatures_fp64(temperature):
    z, y, yh, a = batch(size(300, 40), 24, seed=4)
    compare(lambda z, y, yh, a: dirfast.conr_loss(z, y, yh, a, temperature=temperature, validate=False),
            lambda z, y, yh, a: conr_loss_ref(z, y, yh, a, temperature=temperature),
            [z, y, yh, a], F64, tag=f"fp64 tau={temperature}", diff=(0,))


def test_conr_device_mismatch_names_both_devices():
    if DEVICE.type != "cuda":
        pytest.skip("needs a second device kind")
    z, y, yh, a = batch(8, 4)
    with pytest.raises(ValueError, match=r"cpu.*cuda|cuda.*cpu"):
        dirfast.conr_loss(to(z), y, to(yh))
