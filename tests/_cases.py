"""Shared cases and checks for the weighted losses, used by the CPU tier and the interpreter tier."""

import torch

import dirfast
from dirfast.functional import DEFAULT_BETA
from dirfast.reference import weighted_loss_ref
from dirfast.testing import assert_close_verbose, assert_low_precision_close

LOSSES = ["mse", "l1", "focal_mse", "focal_l1", "huber"]
REDUCTIONS = ["mean", "sum", "none"]


def make_inputs(n, dtype, *, shape2d=False, weighted=True, ties=False, seed=0, away_from_kinks=False):
    g = torch.Generator().manual_seed(seed)
    pred = torch.randn(n, generator=g, dtype=torch.float64) * 2
    target = torch.randn(n, generator=g, dtype=torch.float64) * 2
    if ties:
        target[::3] = pred[::3]  # e == 0 exactly
    if away_from_kinks:
        # keep |e| ≥ 1e-3 away from 0 and from the Huber β (1.0) for gradcheck
        e = pred - target
        e = torch.where(e.abs() < 1e-2, e.sign() * 0.05 + 0.05, e)
        e = torch.where((e.abs() - 1.0).abs() < 1e-2, e * 1.1, e)
        pred = target + e
    weight = torch.rand(n, generator=g, dtype=torch.float64) * 3 if weighted else None
    shape = (n, 1) if shape2d else (n,)
    conv = lambda t: None if t is None else t.reshape(shape).to(dtype)
    return conv(pred), conv(target), conv(weight)


def loss_kwargs(loss, **over):
    kw = {"loss": loss, "beta": DEFAULT_BETA[loss]}
    kw.update(over)
    return kw


def run(backend, pred, target, weight, kw, reduction, grad_scale=None):
    """Loss and dL/dpred through ``backend`` with a non-trivial ``grad_output``."""
    x = pred.detach().clone().requires_grad_()
    out = dirfast.weighted_loss(x, target, weight, reduction=reduction, backend=backend, **kw)
    go = torch.full_like(out, 1.7) if grad_scale is None else grad_scale
    (gx,) = torch.autograd.grad(out, x, go)
    return out.detach(), gx


def ref64(pred, target, weight, kw, reduction, go):
    x = pred.detach().double().requires_grad_()
    w = None if weight is None else weight.double()
    out = weighted_loss_ref(x, target.double(), w, reduction=reduction, **kw)
    (gx,) = torch.autograd.grad(out, x, go.double())
    return out.detach(), gx


def check_against_reference(backend, n, dtype, loss, reduction, **make):
    """The fast path vs the fp64 reference (fp64/fp32), or vs the reference run in the same low
    precision (fp16/bf16: ≤ 2× its error + atol)."""
    pred, target, weight = make_inputs(n, dtype, **make)
    kw = loss_kwargs(loss)
    out, gx = run(backend, pred, target, weight, kw, reduction)
    go = torch.full_like(out, 1.7)
    out64, g64 = ref64(pred, target, weight, kw, reduction, go)
    tag = f"{backend} {loss} {reduction} {dtype} n={n}"
    assert out.dtype == dtype and gx.dtype == dtype
    assert out.shape == (pred.shape if reduction == "none" else ())
    if dtype in (torch.float64, torch.float32):
        assert_close_verbose(out, out64.to(dtype), tag=tag + " value",
                             scale="max" if reduction == "none" else None)
        assert_close_verbose(gx, g64.to(dtype), tag=tag + " grad", scale="max")
    else:
        base_out, base_g = run("reference", pred, target, weight, kw, reduction)
        assert_low_precision_close(out, base_out, out64, tag=tag + " value")
        assert_low_precision_close(gx, base_g, g64, tag=tag + " grad")


def check_gradcheck(backend, loss, reduction, weighted=True):
    pred, target, weight = make_inputs(13, torch.float64, away_from_kinks=True, weighted=weighted)
    kw = loss_kwargs(loss)
    x = pred.clone().requires_grad_()
    assert torch.autograd.gradcheck(
        lambda p: dirfast.weighted_loss(p, target, weight, reduction=reduction, backend=backend, **kw),
        (x,), eps=1e-6, atol=1e-8,
    )


def check_no_grad_same_value(backend):
    """Under no_grad (or inputs without requires_grad) the gradient store is skipped: same values."""
    pred, target, weight = make_inputs(4099, torch.float32)
    for loss in LOSSES:
        for reduction in REDUCTIONS:
            kw = loss_kwargs(loss)
            with_grad, _ = run(backend, pred, target, weight, kw, reduction)
            with torch.no_grad():
                a = dirfast.weighted_loss(pred.requires_grad_(), target, weight,
                                          reduction=reduction, backend=backend, **kw)
            pred.requires_grad_(False)
            b = dirfast.weighted_loss(pred, target, weight, reduction=reduction, backend=backend, **kw)
            assert torch.equal(a, with_grad) and torch.equal(b, with_grad), (loss, reduction)
            assert not b.requires_grad
