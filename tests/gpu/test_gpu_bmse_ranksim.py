"""GPU tier: Balanced MSE (BMC, GAI, BNI, the module with its learnable σ) and RankSim on CUDA
tensors vs the fp64 reference, every backend that accepts CUDA tensors and fp32/fp16/bf16/fp64.

Dry run on the CPU: ``DIRFAST_GPU_TIER_DEVICE=cpu pytest tests/gpu -m gpu`` (sizes shrink)."""

import pytest
import torch

import dirfast
from dirfast.reference import bmc_loss_ref, bni_loss_ref, gai_loss_ref, ranksim_loss_ref

from _gpu import BACKENDS, DEVICE, DTYPES, F32, F64, compare, gen, has_cuda_kernel, run, size, to

pytestmark = pytest.mark.gpu

#: batch sizes: empty-free odd sizes, batch 1 and one large enough for several column tiles
SIZES = [1, 37, size(4_099, 300)]
NOISE = 1.3  # v = σ² > 0
NOISE64 = torch.tensor(NOISE, dtype=F64)  # the reference reads a Python float through fp32 (as_tensor)


def _pt(b, seed, d=1):
    g = gen(seed)
    y = torch.rand(b, d, generator=g, dtype=F64) * 80 + 10
    p = y + torch.randn(b, d, generator=g, dtype=F64) * 3
    return p, y


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("b", SIZES)
def test_bmc(backend, dtype, b):
    has_cuda_kernel(backend, False)
    p, y = _pt(b, 0)
    compare(lambda p, y: dirfast.bmc_loss(p, y, NOISE, backend=backend, validate=False),
            lambda p, y: bmc_loss_ref(p, y, to(NOISE64)), [p, y], dtype, tag=f"bmc {backend} {dtype} b={b}",
            diff=(0, 1))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("b", SIZES)
def test_gai(backend, dtype, b):
    has_cuda_kernel(backend, False)
    p, y = _pt(b, 1)
    gmm = dirfast.fit_gmm(torch.rand(2_000, generator=gen(5), dtype=F64) * 80 + 10, K=6)
    parts = [to(t, F64) for t in gmm]
    compare(lambda p, y: dirfast.gai_loss(p, y, dirfast.GMM(*parts), NOISE, backend=backend, validate=False),
            lambda p, y: gai_loss_ref(p, y, to(NOISE64), *parts), [p, y], dtype,
            tag=f"gai {backend} {dtype} b={b}", diff=(0,))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("b", SIZES)
def test_bni(backend, dtype, b):
    has_cuda_kernel(backend, False)
    p, y = _pt(b, 2)
    train = torch.randint(10, 90, (3_000,), generator=gen(6)).double()
    centers, weights = [to(t, F64) for t in dirfast.bni_prior(train, dirfast.Bins(0, 1, 100))]
    compare(lambda p, y: dirfast.bni_loss(p, y, NOISE, centers, weights, backend=backend, validate=False),
            lambda p, y: bni_loss_ref(p, y, to(NOISE64), centers, weights), [p, y], dtype,
            tag=f"bni {backend} {dtype} b={b}", diff=(0,))


@pytest.mark.gpu_check
@pytest.mark.parametrize("kind", ["bmc", "gai", "bni"])
def test_module_on_device_sigma_gradient(kind):
    """The module on the device: its noise σ and prior buffers move with ``.to``; value and the
    gradients of pred and σ equal the CPU fp64 module's."""
    train = torch.randint(10, 90, (3_000,), generator=gen(7)).double()
    kw = {}
    if kind == "gai":
        kw["gmm"] = dirfast.fit_gmm(train, K=5)
    elif kind == "bni":
        kw["bucket_centers"], kw["bucket_weights"] = dirfast.bni_prior(train, dirfast.Bins(0, 1, 100))
    p, y = _pt(size(2_048, 200), 3)
    outs = []
    for device, dtype in ((DEVICE, F32), (torch.device("cpu"), F64)):
        crit = dirfast.nn.BalancedMSELoss(kind, init_noise_sigma=2.0, validate=False, **kw).to(device)
        pd = p.to(device, dtype).requires_grad_()
        loss = crit(pd, y.to(device, dtype))
        loss.backward()
        assert loss.device.type == device.type and loss.dtype == dtype
        outs.append((loss.detach().double().cpu(), pd.grad.double().cpu(), crit.noise_sigma.grad.double().cpu()))
    (l32, g32, s32), (l64, g64, s64) = outs
    torch.testing.assert_close(l32, l64, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(g32, g64, rtol=1e-4, atol=1e-5 * float(g64.abs().max()))
    torch.testing.assert_close(s32, s64, rtol=1e-4, atol=1e-6)


def _same_precision(fast, ref, inputs64, dtype, tag, diff=(0,)):
    """RankSim's loss is a function of the *ranks* of similarities: an fp32 similarity that rounds
    across its neighbour flips a rank against fp64, a discrete change that no tolerance describes.
    So the device path is compared with the reference run on the same rounded inputs (the reference
    computes in fp32 for fp32/fp16/bf16 inputs, fp64 for fp64), values and gradients."""
    xs = [to(t, dtype) for t in inputs64]
    out, grads = run(fast, xs, diff)
    want, want_grads = run(ref, [x.cpu() for x in xs], diff)
    assert out.device.type == DEVICE.type and out.dtype == dtype, (tag, out.device, out.dtype)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == F64 else dict(rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out.cpu().double(), want.double(), **tol, msg=lambda m: f"[{tag}] value: {m}")
    for g, wg in zip(grads, want_grads):
        scale = float(wg.abs().max()) if wg.numel() else 0.0
        torch.testing.assert_close(g.cpu().double(), wg.double(), rtol=tol["rtol"], atol=tol["atol"] + 1e-5 * scale
                                   if dtype != F64 else tol["atol"], msg=lambda m: f"[{tag}] grad: {m}")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("b", [1, 37, size(1_024, 128)])
def test_ranksim_continuous(dtype, b):
    """Tie-free continuous labels: every row is used; blackbox gradient vs the reference."""
    g = gen(8)
    z = torch.randn(b, 33, generator=g, dtype=F64)
    y = torch.randperm(b, generator=g).double() * 0.37
    rows, num = dirfast.ranksim_subset(y, subsample="none")
    _same_precision(lambda z, y: dirfast.ranksim_loss(z, y, subsample="none", validate=False),
                    lambda z, y: ranksim_loss_ref(z, y, rows, num), [z, y], dtype, f"ranksim {dtype} b={b}")


@pytest.mark.gpu_check
@pytest.mark.parametrize("dtype", [F32, F64], ids=str)
def test_ranksim_integer_ages_unique_subset(dtype):
    """Integer ages with repeats: the sync-free unique-label subset (static shape, ``max_unique``)
    on the device equals the reference over the same subset."""
    g = gen(9)
    b = size(1_024, 256)
    z = torch.randn(b, 64, generator=g, dtype=F64)
    y = torch.randint(0, 100, (b,), generator=g).double()
    rows, num = dirfast.ranksim_subset(to(y), subsample="unique_labels", max_unique=128)
    assert rows.device.type == DEVICE.type
    _same_precision(lambda z, y: dirfast.ranksim_loss(z, y, max_unique=128, validate=False),
                    lambda z, y: ranksim_loss_ref(z, y, rows.cpu(), num.cpu()), [z, y], dtype,
                    f"ranksim unique {dtype}")
