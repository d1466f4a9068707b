"""Interpreter tier: the Balanced MSE Triton kernels (online log-sum-exp forward, one-program
reduction, backward with BMC's target column pass; ``backend="triton"``) on CPU tensors against the
fp64 dense reference and the literal official replica.

Sizes cover several column tiles (B, K not multiples of the tiles), ``B = 1``, ``[B]`` and ``[B, 1]``,
every reduction, ``noise_var`` and ``noise_sigma``, the gradient requests (pred only / all), the
official GAI/BNI fp64 accumulation with fp32 predictions, and ``[B, d]`` targets routing from
``"triton"`` to the chunked PyTorch path (documented)."""

import pytest
import torch

import dirfast
from dirfast.testing import assert_close_verbose, assert_low_precision_close

from _official_bmse import official_bmc, official_bni, official_gai

pytestmark = pytest.mark.interpreter
F64, F32 = torch.float64, torch.float32


def batch(b, seed=0, dtype=F64, d=1):
    g = torch.Generator().manual_seed(seed)
    y = 3 * torch.randn(b, d, generator=g, dtype=F64)
    p = y + torch.randn(b, d, generator=g, dtype=F64)
    return p.to(dtype), y.to(dtype)


def prior(kind):
    g = torch.Generator().manual_seed(5)
    if kind == "gai":
        w = torch.rand(7, generator=g, dtype=F64) + 0.1
        return (w / w.sum(), 2 * torch.randn(7, generator=g, dtype=F64),
                torch.rand(7, generator=g, dtype=F64) + 0.2)
    if kind == "bni":
        return torch.arange(75, dtype=F64) / 5 - 7.5, torch.rand(75, generator=g, dtype=F64) + 0.05
    return None


def loss(kind, p, y, v, backend, **kw):
    pr = prior(kind)
    if kind == "bmc":
        return dirfast.bmc_loss(p, y, v, backend=backend, **kw)
    if kind == "gai":
        return dirfast.gai_loss(p, y, pr, v, backend=backend, **kw)
    return dirfast.bni_loss(p, y, v, *pr, backend=backend, **kw)


def run(kind, p, y, v, backend, go=None, need=(True, True, True), **kw):
    p, y, v = (t.detach().clone().requires_grad_(n) for t, n in zip((p, y, v), need))
    out = loss(kind, p, y, v, backend, **kw)
    gs = torch.autograd.grad(out, [t for t, n in zip((p, y, v), need) if n],
                             go if go is not None else torch.ones_like(out))
    return out.detach(), gs


@pytest.mark.parametrize("kind", ["bmc", "gai", "bni"])
@pytest.mark.parametrize("b", [1, 5, 130, 301])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_fp64_matches_reference(kind, b, reduction):
    p, y = batch(b, seed=b)
    v = torch.tensor(0.8, dtype=F64)
    go = torch.rand(b, dtype=F64) + 0.5 if reduction == "none" else torch.tensor(1.3, dtype=F64)
    want, gw = run(kind, p, y, v, "reference", go, reduction=reduction)
    got, gg = run(kind, p, y, v, "triton", go, reduction=reduction)
    assert_close_verbose(got, want, tag=f"{kind} loss", atol=1e-12)
    for a, e in zip(gg, gw):
        assert_close_verbose(a, e, tag=f"{kind} grad", scale="max", atol=1e-13)


@pytest.mark.parametrize("kind", ["bmc", "gai", "bni"])
def test_official_parity_and_one_dim_shape(kind):
    p, y = batch(77, seed=3)
    v = torch.tensor(1.7, dtype=F64)
    pr = prior(kind)
    if kind == "bmc":
        off = lambda p, y, v: official_bmc(p, y, v)
    elif kind == "gai":
        gmm = {"weights": pr[0], "means": pr[1][:, None], "variances": pr[2][:, None, None]}
        off = lambda p, y, v: official_gai(p, y, gmm, v)
    else:
        off = lambda p, y, v: official_bni(p, y, v, *pr)
    ps, ys, vs = (t.clone().requires_grad_() for t in (p, y, v))
    want = off(ps, ys, vs)
    gw = torch.autograd.grad(want, [ps, ys, vs])
    for shape in ("[B,1]", "[B]"):
        pp, yy = (p, y) if shape == "[B,1]" else (p[:, 0], y[:, 0])
        got, gg = run(kind, pp, yy, v, "triton")
        assert_close_verbose(got, want, tag=f"{kind} official {shape}", atol=1e-12)
        for a, e in zip(gg, gw):
            assert_close_verbose(a.reshape(e.shape), e, tag=f"{kind} official grad", scale="max")


@pytest.mark.parametrize("kind", ["bmc", "gai", "bni"])
def test_sigma_and_partial_gradient_requests(kind):
    p, y = batch(90, seed=7)
    s = torch.tensor(1.2, dtype=F64)
    want, gw = run(kind, p, y, s * s, "reference", need=(True, True, False))
    got, gg = run(kind, p, y, s * s, "triton", need=(True, True, False))
    for a, e in zip(gg, gw):
        assert_close_verbose(a, e, tag="partial", scale="max")
    # σ input: dL/dσ = 2σ·dL/dv
    sr = s.clone().requires_grad_()
    v = torch.tensor(1.44, dtype=F64, requires_grad=True)
    (gv,) = torch.autograd.grad(loss(kind, p, y, v, "reference"), v)
    pr = prior(kind)
    if kind == "bni":
        out = dirfast.bni_loss(p, y, None, *pr, noise_sigma=sr, backend="triton")
    elif kind == "gai":
        out = dirfast.gai_loss(p, y, pr, noise_sigma=sr, backend="triton")
    else:
        out = dirfast.bmc_loss(p, y, noise_sigma=sr, backend="triton")
    (gs,) = torch.autograd.grad(out, sr)
    assert_close_verbose(gs, gv * 2.4, tag="dsigma")


def test_batch_of_one_zero_and_gradcheck():
    p, y = batch(1, seed=9, dtype=F32)
    pr = p.clone().requires_grad_()
    out = dirfast.bmc_loss(pr, y, 0.01, backend="triton")
    (g,) = torch.autograd.grad(out, pr)
    assert out.item() == 0.0 and g.abs().max().item() == 0.0
    p, y = batch(6, seed=10)
    for kind in ("bmc", "gai", "bni"):
        f = lambda p, y: loss(kind, p, y, 0.9, "triton")
        assert torch.autograd.gradcheck(f, [p.clone().requires_grad_(), y.clone().requires_grad_()])


@pytest.mark.parametrize("kind", ["bmc", "gai", "bni"])
def test_fp32_and_official_promotion(kind):
    p, y = batch(200, seed=11)
    v = torch.tensor(2.0, dtype=F64)
    want, gw = run(kind, p, y, v, "reference")
    got, gg = run(kind, p.float(), y.float(), v.float(), "triton")
    assert got.dtype == F32
    assert_close_verbose(got, want, tag="fp32", rtol=1e-5)
    for a, e in zip(gg, gw):
        assert_close_verbose(a, e, tag="fp32 grad", rtol=1e-5, scale="max")
    if kind != "bmc":
        pf, yf = p.float()[:, :1], y.float()[:, :1]
        got, _ = run(kind, pf, yf, v.float(), "triton", variant="official")
        ref, _ = run(kind, pf, yf, v.float(), "cpu", variant="official")
        assert got.dtype == F64
        assert_close_verbose(got, ref, tag="official fp64 accumulation", rtol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("kind", ["bmc", "gai", "bni"])
def test_low_precision_two_x_rule(dtype, kind):
    p, y = batch(150, seed=13)
    lp, ly = p.to(dtype), y.to(dtype)
    v = torch.tensor(1.5, dtype=F32)
    oracle, go_ = run(kind, lp.double(), ly.double(), v.double(), "reference")
    base, gb = run(kind, lp, ly, v, "reference")
    got, gg = run(kind, lp, ly, v, "triton")
    assert got.dtype == dtype
    assert_low_precision_close(got, base, oracle, tag=f"{kind} {dtype}")
    for a, b, o in zip(gg, gb, go_):
        assert_low_precision_close(a, b, o, tag=f"{kind} {dtype} grad")


def test_md_targets_route_to_chunked_path():
    p, y = batch(40, seed=17, d=3)
    v = torch.tensor(0.7, dtype=F64)
    a = dirfast.bmc_loss(p, y, v, backend="triton")
    b = dirfast.bmc_loss(p, y, v, backend="cpu")
    assert torch.equal(a, b)
