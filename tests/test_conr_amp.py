"""ConR under ``torch.autocast`` on the streaming CPU path (``torch.autocast("cpu", bfloat16)``): fp32
features are cast to the autocast dtype at the functional boundary, the op runs with autocast off
(fp32 row statistics, its own fp32 ``torch.mm`` not re-cast), the loss comes back in fp32 and the
gradient reaches the fp32 features in fp32.

Checked: bit equality with ``conr_loss(features.to(bf16), ...)`` (loss and gradient), the 2× rule
against the reference run on the same bf16 features (error vs the fp64 oracle on the rounded
features), unchanged results with autocast disabled or for fp64 features, bf16 features passed as
they are, ``ConRLoss``, ``[M, d]`` labels, and ``torch.compile`` (the cast and the autocast-free
region are traced; the graph still calls ``dirfast::conr``). The Triton path's twin (fp16 autocast:
the interpreter has no bf16 arithmetic) is ``tests/interpreter/test_interp_conr_amp.py``."""

import pytest
import torch

import dirfast
from dirfast.reference import conr_loss_ref
from dirfast.testing import assert_close_verbose, assert_low_precision_close

from _official_conr import low_tau_batch

F64, F32, BF16 = torch.float64, torch.float32, torch.bfloat16
AMP = dict(device_type="cpu", dtype=BF16)


def _loss_grad(z, y, yh, a, *, amp, go=None, **kw):
    """Loss and ``d loss / d z`` (``z`` as given, a leaf), the forward under autocast if ``amp``; the
    backward outside it (PyTorch's AMP recipe)."""
    x = z.detach().clone().requires_grad_()
    with torch.autocast(**AMP, enabled=amp):
        out = dirfast.conr_loss(x, y, yh, a, **kw)
    g, = torch.autograd.grad(out, x, torch.ones_like(out) if go is None else go)
    return out.detach(), g


@pytest.mark.parametrize("variant", ["paper", "official"])
@pytest.mark.parametrize("reduction", ["mean", "none", "valid_anchors"])
@pytest.mark.parametrize("weighted", [False, True])
def test_autocast_equals_bf16_features(variant, reduction, weighted):
    """Under autocast: exactly the computation on ``features.to(bf16)`` (loss and gradient), the loss
    returned in fp32, the gradient in fp32 for the fp32 features."""
    z, y, yh, a = low_tau_batch(40, 24, seed=1)
    z, a = z.float(), (a.float() if weighted else None)
    y, yh = y.float(), yh.float()
    kw = dict(variant=variant, reduction=reduction, backend="cpu", temperature=0.1)
    out, g = _loss_grad(z, y, yh, a, amp=True, **kw)
    assert out.dtype == F32 and g.dtype == F32
    xb = z.to(BF16).requires_grad_()
    want = dirfast.conr_loss(xb, y, yh, a, **kw)
    assert want.dtype == BF16
    gb, = torch.autograd.grad(want, xb, torch.ones_like(want))
    assert torch.equal(out, want.detach().float())
    assert torch.equal(g, gb.float())
    assert not torch.equal(g, _loss_grad(z, y, yh, a, amp=False, **kw)[1])  # bf16 was really used


@pytest.mark.parametrize("variant", ["paper", "official"])
@pytest.mark.parametrize("tau", [0.07, 1e-2])
def test_autocast_two_x_rule(variant, tau):
    """Error against the fp64 oracle on the bf16-rounded features ≤ 2× the error of the reference
    run on the same bf16 features (+ one bf16 ulp of the largest value): loss rows and gradient."""
    z, y, yh, a = low_tau_batch(48, 16, seed=7)
    kw = dict(variant=variant, temperature=tau, reduction="none")
    out, g = _loss_grad(z.float(), y.float(), yh.float(), a.float(), amp=True, backend="cpu", **kw)
    zb = z.to(BF16)
    xb = zb.clone().requires_grad_()
    base = conr_loss_ref(xb, y, yh, a, **kw)
    ok = ~torch.isnan(base.detach())
    go = ok.to(F64)
    gbase, = torch.autograd.grad(base, xb, go.to(BF16))
    x64 = zb.to(F64).requires_grad_()
    want = conr_loss_ref(x64, y, yh, a, **kw)
    gwant, = torch.autograd.grad(want, x64, go)
    assert torch.equal(torch.isnan(out), ~ok) and ok.sum() >= 24
    top = want.detach()[ok].abs().max().item()
    tag = f"bf16 autocast τ={tau} {variant}"
    assert_low_precision_close(out[ok], base.detach()[ok], want.detach()[ok], tag=tag + " loss",
                               atol=torch.finfo(BF16).eps * top)
    _, g = _loss_grad(z.float(), y.float(), yh.float(), a.float(), amp=True, go=go.float(),
                      backend="cpu", **kw)
    assert_low_precision_close(g, gbase, gwant, tag=tag + " grad",
                               atol=torch.finfo(BF16).eps * gwant.abs().max().item())


@pytest.mark.parametrize("backend", ["cpu", "reference"])
def test_autocast_disabled_or_fp64_unchanged(backend):
    """Autocast disabled: bit-identical to a call outside any autocast region (fp32 result). fp64
    features under an enabled autocast are not cast (fp64 result, identical)."""
    z, y, yh, a = low_tau_batch(30, 8, seed=2)
    kw = dict(variant="official", backend=backend)
    plain, gp = _loss_grad(z.float(), y, yh, a, amp=False, **kw)
    x = z.float().requires_grad_()
    out = dirfast.conr_loss(x, y, yh, a, **kw)
    g, = torch.autograd.grad(out, x)
    assert plain.dtype == F32 and torch.equal(plain, out.detach()) and torch.equal(gp, g)
    o64, g64 = _loss_grad(z, y, yh, a, amp=True, **kw)
    x = z.clone().requires_grad_()
    w64 = dirfast.conr_loss(x, y, yh, a, **kw)
    gw, = torch.autograd.grad(w64, x)
    assert o64.dtype == g64.dtype == F64
    assert torch.equal(o64, w64.detach()) and torch.equal(g64, gw)


def test_autocast_reference_backend_and_bf16_features():
    """``backend="reference"`` follows the same rule (bf16 features, fp32 statistics, fp32 loss);
    features already in bf16 are used as they are, the loss still comes back in fp32."""
    z, y, yh, a = low_tau_batch(30, 8, seed=4)
    out, g = _loss_grad(z.float(), y, yh, a, amp=True, backend="reference")
    want = conr_loss_ref(z.float().to(BF16), y, yh, a)
    assert out.dtype == F32 and g.dtype == F32 and torch.equal(out, want.float())
    ob, gb = _loss_grad(z.to(BF16), y, yh, a, amp=True, backend="cpu")
    wb = dirfast.conr_loss(z.to(BF16), y, yh, a, backend="cpu")
    assert ob.dtype == F32 and gb.dtype == BF16 and torch.equal(ob, wb.float())


@pytest.mark.parametrize("norm", ["l1", "l2"])
def test_autocast_module_and_multidim_labels(norm):
    """``ConRLoss`` and ``[M, d]`` labels (streaming path) under autocast: as the bf16 call."""
    g = torch.Generator().manual_seed(3)
    z = torch.randn(36, 12, generator=g)
    y = torch.randint(0, 4, (36, 2), generator=g).float()
    yh = y + 0.5 * torch.randint(-2, 3, (36, 2), generator=g).float()
    crit = dirfast.ConRLoss(norm=norm, w=1.0)
    x = z.clone().requires_grad_()
    with torch.autocast(**AMP):
        out = crit(x, y, yh)
    out.backward()
    xb = z.to(BF16).requires_grad_()
    want = dirfast.conr_loss(xb, y, yh, norm=norm, w=1.0)
    want.backward()
    assert out.dtype == F32 and x.grad.dtype == F32
    assert torch.equal(out.detach(), want.detach().float()) and torch.equal(x.grad, xb.grad.float())
    assert crit.num_valid_anchors.item() > 0


def test_autocast_compile_fullgraph():
    """``torch.compile(fullgraph=True)`` of a model + ConR step under autocast: the graph calls the
    registered op on bf16 features, the loss is fp32, and loss and parameter gradients equal eager
    autocast."""
    torch._dynamo.reset()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU())
    x = torch.randn(32, 6)
    y = torch.randint(0, 8, (16,)).float().repeat(2)
    yh = y + 0.5 * torch.randint(-2, 3, (32,)).float()

    def step(x, y, yh):
        with torch.autocast(**AMP):
            return dirfast.conr_loss(model(x), y, yh, variant="official", validate=False)

    graphs = []

    def record(gm, example_inputs):
        graphs.append(str(gm.graph))
        return gm.forward

    torch.compile(step, fullgraph=True, backend=record)(x, y, yh)
    assert graphs and "dirfast.conr" in graphs[0] and "torch.bfloat16" in graphs[0]
    torch._dynamo.reset()
    got = torch.compile(step, fullgraph=True, backend="aot_eager")(x, y, yh)
    got.backward()
    gc = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    want = step(x, y, yh)
    want.backward()
    assert got.dtype == want.dtype == F32
    assert_close_verbose(got.detach(), want.detach(), tag="compiled autocast conr", rtol=1e-6)
    for p, b in zip(gc, (p.grad for p in model.parameters())):
        assert p.dtype == F32
        assert_close_verbose(p, b, tag="compiled autocast conr grad", rtol=1e-5, scale="max")
    torch._dynamo.reset()


def test_backward_inside_autocast_equals_backward_outside():
    """A ``backward()`` called inside the autocast region (against the AMP recipe, but common) gives
    the gradient of the backward outside it: the op's backward runs with autocast off, so its
    recomputed similarities are not re-cast."""
    z, y, yh, a = low_tau_batch(40, 24, seed=3)
    z, a, y, yh = z.float(), a.float(), y.float(), yh.float()
    kw = dict(variant="official", backend="cpu", temperature=0.1)
    _, want = _loss_grad(z, y, yh, a, amp=True, **kw)
    x = z.clone().requires_grad_()
    with torch.autocast(**AMP):
        out = dirfast.conr_loss(x, y, yh, a, **kw)
        g, = torch.autograd.grad(out, x)
    assert torch.equal(g, want)
