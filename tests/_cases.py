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


# ------------------------------------------------------------------------------------------------
# focal modulator precision: m = tanh(c·a), never 2σ(2c·a) − 1, which cancels for
# small c·a (fp32: 1.7e-4 off at |e| = 1e-3; fp64: 0 instead of 4.6e-53 at |e| = 1.5e-26)

#: |e| per dtype: the issue's reproducers (1e-3, 1.5e-6; 1.517e-26 gives 4.6e-53 with tanh, β = 0.2)
#: plus both branches of the kernels' tanh (c·a below and above 1/4) and a saturated modulator
FOCAL_E = {torch.float32: [1e-3, -1.5e-6, 2e-2, -0.3, 2.0, -40.0],
           torch.float64: [1e-3, -1.5e-6, 1.517e-26, -3e-300, 2e-2, -0.3, 2.0, -40.0, 300.0]}
FOCAL_RTOL = {torch.float32: 1e-5, torch.float64: 1e-10}


def focal_truth(e, loss, activate, beta, gamma):
    """``(l, dl/de)`` of the focal loss at the exact value ``e`` (mpmath, 50 digits)."""
    import mpmath as mp

    with mp.workdps(50):
        e = mp.mpf(e)
        a = abs(e)
        c = mp.mpf(beta) if activate == "tanh" else mp.mpf(beta) / 2
        m = mp.tanh(c * a)
        base, dbase = (e * e, 2 * a) if loss == "focal_mse" else (a, mp.mpf(1))
        if m == 0:
            return 0.0, 0.0
        dm = c * mp.sech(c * a) ** 2
        l = base * m ** gamma
        dl = dbase * m ** gamma + base * gamma * m ** (gamma - 1) * dm
        return float(l), float(mp.sign(e) * dl)


def check_focal_precision(backend, dtype, gammas=(1.0, 2.0, 0.5)):
    """Per-element value and gradient of focal_l1/focal_mse (``reduction="none"``, no weights) within
    ``FOCAL_RTOL[dtype]`` relative of the exact result, both activations, γ = 1, 2 (exact selects
    in the kernels) and 0.5 (a general power)."""
    e = torch.tensor(FOCAL_E[dtype], dtype=torch.float64).to(dtype)
    rtol = FOCAL_RTOL[dtype]
    for loss in ("focal_l1", "focal_mse"):
        for activate in ("sigmoid", "tanh"):
            for gamma in gammas:
                x = e.clone().requires_grad_()
                out = dirfast.weighted_loss(x, torch.zeros_like(e), loss=loss, beta=0.2, gamma=gamma,
                                            activate=activate, reduction="none", backend=backend)
                (g,) = torch.autograd.grad(out.sum(), x)
                for i, ei in enumerate(e.tolist()):
                    lt, gt = focal_truth(ei, loss, activate, 0.2, gamma)
                    tag = f"{backend} {dtype} {loss} {activate} γ={gamma} e={ei!r}"
                    if dtype == torch.float32 and abs(lt) < 1e-37:  # below fp32's normal range
                        continue
                    for got, want, what in ((out[i].item(), lt, "value"), (g[i].item(), gt, "grad")):
                        assert abs(got - want) <= rtol * abs(want), \
                            f"{tag} {what}: got {got!r}, want {want!r} (rel {abs(got - want) / abs(want):.2e})"


def check_issue_reproducer(backend):
    """The issue's line: ``focal_l1(tensor([1e-3]), zeros(1), activate="tanh", reduction="none")`` in
    fp32 within 1e-5 relative of fp64 (it was 1.7e-4 off); fp64 tiny values within 1e-10."""
    for e, dt, rtol in ((1e-3, torch.float32, 1e-5), (1.5e-6, torch.float64, 1e-10),
                        (1.517e-26, torch.float64, 1e-10)):
        got = dirfast.focal_l1(torch.tensor([e], dtype=dt), torch.zeros(1, dtype=dt), activate="tanh",
                               reduction="none", backend=backend).item()
        want = focal_truth(torch.tensor(e, dtype=dt).item(), "focal_l1", "tanh", 0.2, 1.0)[0]
        assert want > 0 and abs(got - want) <= rtol * want, (backend, dt, e, got, want)
