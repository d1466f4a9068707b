"""ConR: official parity (literal oracle tests/_official_conr.py), paper variant vs the fp64 dense
reference, the streaming CPU path (chunks that do not divide M), gradcheck, edge cases, bad input,
fp16 / large labels, module, torch.compile."""

import math
import re

import pytest
import torch

import dirfast
from dirfast.ops import conr as conr_ops
from dirfast.reference import conr_loss_ref
from dirfast.testing import assert_close_verbose, assert_low_precision_close

from _official_conr import (TOY_F, TOY_P, TOY_Y, fp32_grad_rtol, fp32_loss_atol, low_tau_batch,
                            lse_oracle, official_conr, toy_want)

F64, F32 = torch.float64, torch.float32


def two_view(m, d, kind, seed=0, dtype=F64, relu=True):
    """Two-view batch: rows k and k + M/2 share a label. ``kind="int"``: integer ages, predictions
    = ages + multiples of 0.5 (all distances exact); ``kind="float"``: labels and predictions on a
    0.3 grid with ±0.04 jitter, so no |Δy| or |Δŷ| lies within 0.02 of w = 1."""
    g = torch.Generator().manual_seed(seed)
    b = m // 2
    z = torch.randn(m, d, generator=g, dtype=F64)
    if relu:
        z = z.relu() + 1e-3 * torch.rand(m, d, generator=g, dtype=F64)
    if kind == "int":
        y = torch.randint(0, 60, (b,), generator=g).to(F64)
        y = torch.cat([y, y])
        yh = y + 0.5 * torch.randint(-6, 7, (m,), generator=g).to(F64)
    else:
        y = 0.3 * torch.randint(0, 100, (b,), generator=g).to(F64) + 0.08 * (torch.rand(b, generator=g, dtype=F64) - 0.5)
        y = torch.cat([y, y])
        yh = y + 0.3 * torch.randint(-8, 9, (m,), generator=g).to(F64)
    a = torch.rand(m, generator=g, dtype=F64) + 0.5
    return z.to(dtype), y.to(dtype), yh.to(dtype), a.to(dtype)


def _grad(loss, x, go=None):
    return torch.autograd.grad(loss, x, go)[0]


PARITY = [(2, 16), (64, 16), (64, 2048), (254, 16), (512, 16)]


@pytest.mark.parametrize("m,d", PARITY)
@pytest.mark.parametrize("kind", ["int", "float"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [F64, F32])
def test_official_parity(m, d, kind, weighted, dtype):
    z, y, yh, a = two_view(m, d, kind, seed=m + d)
    if kind == "float":
        dy = (y[:, None] - y[None, :]).abs()
        dyh = (yh[:, None] - yh[None, :]).abs()
        assert ((dy - 1).abs() >= 1e-4).all() and ((dyh - 1).abs() >= 1e-4).all()
    zo = z.clone().requires_grad_()
    want = official_conr(zo, y[:, None], yh[:, None], weights=a[:, None] if weighted else 1.0)
    gwant = _grad(want, zo)
    zf = z.to(dtype).requires_grad_()
    got = dirfast.conr_loss(zf, y.to(dtype), yh.to(dtype), a.to(dtype) if weighted else None,
                            variant="official", backend="cpu")
    ggot = _grad(got, zf)
    assert got.dtype == dtype and ggot.dtype == dtype
    rtol = 1e-9 if dtype == F64 else 1e-5
    tag = f"official {m}x{d} {kind} w={weighted} {dtype}"
    assert_close_verbose(got, want, tag=tag, rtol=rtol)
    assert_close_verbose(ggot, gwant, tag=tag + " grad", rtol=rtol, scale="max")


@pytest.mark.parametrize("variant", ["paper", "official"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "valid_anchors"])
@pytest.mark.parametrize("knobs", [{}, {"pushing": "linear", "denominator_self": True,
                                        "weight_final": False, "e": 0.2, "w": 0.2}])
def test_matches_reference_fp64(variant, reduction, knobs):
    z, y, yh, a = two_view(96, 24, "float", seed=7)
    y = y * (0.2 if "w" in knobs else 1.0)
    yh = yh * (0.2 if "w" in knobs else 1.0)
    kw = dict(variant=variant, reduction=reduction, **knobs)
    zr, zf = z.clone().requires_grad_(), z.clone().requires_grad_()
    want, nv_want = conr_loss_ref(zr, y, yh, a, return_valid=True, **kw)
    got, nv = dirfast.conr_loss(zf, y, yh, a, return_valid=True, backend="cpu", **kw)
    assert nv.dtype == torch.int64 and int(nv) == int(nv_want)
    go = torch.rand_like(want) + 0.5
    assert_close_verbose(got, want, tag=f"{variant} {reduction} {knobs}")
    assert_close_verbose(_grad(got, zf, go), _grad(want, zr, go), tag=f"{variant} {reduction} grad",
                         scale="max")


@pytest.mark.parametrize("norm", ["l1", "l2"])
def test_multidim_labels(norm):
    g = torch.Generator().manual_seed(1)
    m = 40
    z = torch.randn(m, 8, generator=g, dtype=F64)
    y = torch.randn(m, 2, generator=g, dtype=F64)
    yh = y + 0.5 * torch.randn(m, 2, generator=g, dtype=F64)
    zr, zf = z.clone().requires_grad_(), z.clone().requires_grad_()
    want = conr_loss_ref(zr, y, yh, w=0.8, norm=norm)
    got = dirfast.conr_loss(zf, y, yh, w=0.8, norm=norm, backend="cpu")
    assert_close_verbose(got, want, tag=f"multidim {norm}")
    assert_close_verbose(_grad(got, zf), _grad(want, zr), tag=f"multidim {norm} grad", scale="max")
    # d = 1 as [M, 1] equals 1-D labels
    one = dirfast.conr_loss(z, y[:, :1], yh[:, :1], w=0.8, norm=norm)
    assert_close_verbose(one, dirfast.conr_loss(z, y[:, 0], yh[:, 0], w=0.8), tag="d=1")


@pytest.mark.parametrize("chunk", [1, 7, 13, 64])
@pytest.mark.parametrize("variant", ["paper", "official"])
def test_streaming_chunks_not_dividing_m(chunk, variant):
    z, y, yh, a = two_view(50, 12, "int", seed=3)
    args = (z, y, yh, a, 1.0, 0.07, 0.01, "exp", False, variant == "official",
            variant == "official", "mean", "l1", variant)
    out, nv, stats = conr_ops._conr_fwd_stream(*args, chunk=chunk)
    zr = z.clone().requires_grad_()
    want = conr_loss_ref(zr, y, yh, a, variant=variant)
    assert_close_verbose(out, want, tag=f"stream chunk={chunk}")
    g = conr_ops._conr_bwd_stream(torch.tensor(1.0, dtype=F64), z, y, yh, a, stats, 1.0, 0.07, 0.01,
                                  "exp", False, "l1", chunk=chunk)
    assert_close_verbose(g, _grad(want, zr), tag=f"stream grad chunk={chunk}", scale="max")


@pytest.mark.parametrize("variant", ["paper", "official"])
@pytest.mark.parametrize("reduction", ["mean", "none", "valid_anchors"])
def test_gradcheck(variant, reduction):
    # float grid labels: every |Δy|, |Δŷ| is ≥ 0.02 away from w (mask boundaries)
    z, y, yh, a = two_view(12, 5, "float", seed=11, relu=False)
    z.requires_grad_()
    torch.autograd.gradcheck(
        lambda x: dirfast.conr_loss(x, y, yh, a, variant=variant, reduction=reduction, backend="cpu"),
        (z,))


def test_reference_gradcheck():
    z, y, yh, a = two_view(10, 4, "float", seed=2, relu=False)
    z.requires_grad_()
    torch.autograd.gradcheck(lambda x: conr_loss_ref(x, y, yh, a, variant="official"), (z,))


# ------------------------------------------------------------------------------------------------
# edge cases


def test_m2_and_m1():
    z = torch.randn(2, 4, dtype=F64, requires_grad=True)
    y = torch.tensor([1.0, 1.0], dtype=F64)
    # twins, no negative: exactly 0, zero gradient
    for variant in ("paper", "official"):
        out, nv = dirfast.conr_loss(z, y, y, variant=variant, return_valid=True)
        assert out.item() == 0.0 and nv.item() == 0
        assert torch.equal(_grad(out, z), torch.zeros_like(z))
    out = dirfast.conr_loss(torch.randn(1, 3), torch.zeros(1), torch.zeros(1))
    assert out.item() == 0.0


def test_all_same_label_and_no_negatives():
    z = torch.randn(16, 8, dtype=F64, requires_grad=True)
    y = torch.full((16,), 3.0, dtype=F64)
    for variant in ("paper", "official"):
        for red in ("mean", "valid_anchors", "sum"):
            out, nv = dirfast.conr_loss(z, y, y + torch.arange(16.0, dtype=F64), variant=variant,
                                        reduction=red, return_valid=True)
            assert out.item() == 0.0 and nv.item() == 0
            assert torch.equal(_grad(out, z), torch.zeros_like(z))
    # two views, labels far apart but predictions far apart too: no negatives
    y = 10.0 * torch.arange(8, dtype=F64).repeat(2)
    for variant in ("paper", "official"):
        out = dirfast.conr_loss(z, y, y, variant=variant)
        assert out.item() == 0.0
        assert torch.equal(_grad(out, z), torch.zeros_like(z))


def test_no_positives_paper_finite_official_nan():
    """Single view with an isolated label: the paper variant drops the anchor (finite), the official
    code computes 0/0 = NaN for it (spec §1.7 Q9) — reproduced, by the oracle as well."""
    g = torch.Generator().manual_seed(0)
    z = torch.randn(6, 4, generator=g, dtype=F64, requires_grad=True)
    y = torch.tensor([0.0, 0.5, 3.0, 3.2, 9.0, 20.0], dtype=F64)  # 9 and 20: no positive
    yh = torch.tensor([0.0, 0.1, 0.2, 0.3, 0.4, 0.5], dtype=F64)   # all predictions close
    out, nv = dirfast.conr_loss(z, y, yh, return_valid=True)
    want, nv_want = conr_loss_ref(z, y, yh, return_valid=True)
    assert torch.isfinite(out) and nv.item() == 4 == nv_want.item()
    assert_close_verbose(out, want, tag="paper no positives")
    assert torch.isfinite(_grad(out, z)).all()
    va = dirfast.conr_loss(z, y, yh, reduction="valid_anchors")
    assert_close_verbose(va, out * 6 / 4, tag="valid_anchors")
    off = dirfast.conr_loss(z, y, yh, variant="official")
    assert math.isnan(off.item())
    assert math.isnan(official_conr(z, y[:, None], yh[:, None]).item())
    assert math.isnan(conr_loss_ref(z, y, yh, variant="official").item())


def test_large_labels_and_fp16_no_overflow():
    """Labels in the thousands (e·Δy up to 50: exp(e·Δy)·e^{1/τ} overflows fp16 and comes close in
    fp32 without the per-row shift); fp16 / bf16 features are computed in fp32."""
    g = torch.Generator().manual_seed(5)
    m = 128
    y = torch.randint(0, 5000, (m // 2,), generator=g).to(F64)
    y = torch.cat([y, y])
    yh = torch.full((m,), 2500.0, dtype=F64) + torch.rand(m, generator=g, dtype=F64) * 0.9
    z = torch.randn(m, 32, generator=g, dtype=F64).relu()
    for dtype in (torch.float16, torch.bfloat16, F32):
        zl = z.to(dtype)
        want = conr_loss_ref(zl.to(F64).requires_grad_(), y, yh, variant="official")
        zf = zl.clone().requires_grad_()
        got = dirfast.conr_loss(zf, y.to(dtype), yh.to(dtype), variant="official")
        gr = _grad(got, zf)
        assert torch.isfinite(got) and torch.isfinite(gr).all(), dtype
        if dtype == F32:
            assert_close_verbose(got, want, tag="large labels fp32")
        else:  # labels themselves are rounded to the low precision: fixed tolerance on the loss
            want_l = conr_loss_ref(zl.to(F64), y.to(dtype).to(F64), yh.to(dtype).to(F64),
                                   variant="official")
            assert_close_verbose(got.to(F64), want_l, tag=f"{dtype}", rtol=1e-2)
    # the reference in fp16 (no shift, fp16 exp) is what overflows without dirfast's handling
    assert torch.isfinite(dirfast.conr_loss(z.half() * 50, y.half(), yh.half(), variant="official"))


# ------------------------------------------------------------------------------------------------
# small temperatures: log D is a log-sum-exp shifted by the row's largest included
# logit on every path; the fp64 oracle is tests/_official_conr.lse_oracle (row by row, logsumexp)

LOW_TAU_BACKENDS = ["cpu", "reference"]


@pytest.mark.parametrize("backend", LOW_TAU_BACKENDS)
@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize("tau", [1e-2, 1e-3])
@pytest.mark.parametrize("variant", ["paper", "official"])
def test_small_temperature_toy_closed_form(backend, dtype, tau, variant):
    """The issue's reproducer: fp32 at τ = 0.01 gave [100.047, 100.042, 0] (exact 100.030, 100.025),
    fp64 at τ = 1e-3 gave −inf rows: the shift used the self-similarity 1/τ, so e^{s − 1/τ} underflowed
    for every real term."""
    x = torch.tensor(TOY_F, dtype=dtype, requires_grad=True)
    y, p = torch.tensor(TOY_Y, dtype=dtype), torch.tensor(TOY_P, dtype=dtype)
    out = dirfast.conr_loss(x, y, p, temperature=tau, reduction="none", variant=variant,
                            backend=backend)
    want = toy_want(tau, variant)
    assert_close_verbose(out, want, tag=f"toy τ={tau} {variant} {backend} {dtype}",
                         rtol=1e-5 if dtype == F32 else 1e-12)
    if variant == "official":
        return  # row 2's NaN (0/0) makes every gradient NaN, as in the official code
    xo = torch.tensor(TOY_F, dtype=F64, requires_grad=True)
    gw = _grad(lse_oracle(xo, y, p, t=tau).sum(), xo)
    g = _grad(out.sum(), x)
    assert torch.isfinite(g).all()
    assert_close_verbose(g, gw, tag=f"toy grad τ={tau} {backend}",
                         rtol=1e-5 if dtype == F32 else 1e-10, scale="max")


@pytest.mark.parametrize("backend", LOW_TAU_BACKENDS)
def test_small_temperature_seeded_reproducer(backend):
    """τ = 0.005, labels [0, 3, 2], predictions 1.5: rows 1 and 2 were −inf (the official variant's
    phantom terms made them NaN). Row 0 has no positive: 0 (paper), NaN (official, documented)."""
    f = torch.randn(3, 2, generator=torch.Generator().manual_seed(0), dtype=F64).float()
    y, p = torch.tensor([0.0, 3.0, 2.0]), torch.full((3,), 1.5)
    for variant in ("paper", "official"):
        x = f.clone().requires_grad_()
        out = dirfast.conr_loss(x, y, p, temperature=0.005, reduction="none", variant=variant,
                                backend=backend)
        want = lse_oracle(f, y, p, t=0.005, variant=variant)
        assert torch.isfinite(out[1:]).all() and (variant == "official") == bool(torch.isnan(out[0]))
        assert_close_verbose(out, want, tag=f"seeded {variant} {backend}", rtol=1e-5, atol=1e-6)
        if variant == "paper":
            assert torch.isfinite(_grad(out.sum(), x)).all()


@pytest.mark.parametrize("backend", LOW_TAU_BACKENDS)
@pytest.mark.parametrize("dtype,tau", [(F32, 1e-3), (F64, 1e-3), (F32, 1e-2)])
def test_one_anchor_small_temperature_finite(backend, dtype, tau):
    """One anchor (no positive, no negative): 0 with a zero gradient. The reference computed
    exp(s) = exp(1/τ) = inf on the diagonal and got a NaN gradient (inf·0)."""
    x = torch.randn(1, 3, generator=torch.Generator().manual_seed(1), dtype=dtype, requires_grad=True)
    for variant in ("paper", "official"):
        out = dirfast.conr_loss(x, torch.zeros(1, dtype=dtype), torch.zeros(1, dtype=dtype),
                                temperature=tau, variant=variant, backend=backend)
        if variant == "paper":
            assert out.item() == 0.0
            assert torch.equal(_grad(out, x), torch.zeros_like(x))
        else:  # no positive: NaN as the official code; the gradient stays finite
            assert math.isnan(out.item())
    # the paper variant with a twin (a positive, no negative): 0, finite zero gradient
    x2 = torch.cat([x.detach(), -x.detach()]).requires_grad_()
    out = dirfast.conr_loss(x2, torch.zeros(2, dtype=dtype), torch.zeros(2, dtype=dtype),
                            temperature=tau, backend=backend)
    assert out.item() == 0.0 and torch.equal(_grad(out, x2), torch.zeros_like(x2))


TAUS = [1e-3, 3e-3, 1e-2, 0.07, 1.0, 10.0]


def check_against_lse_oracle(backend, dtype, tau, variant, m=16, d=4, seed=0):
    """Per-row losses and the gradient of Σ go_i ℓ_i against the fp64 oracle on the same (rounded)
    features: fp64 1e-10; fp32 1e-5 + ``fp32_loss_atol(τ)`` on values, ``fp32_grad_rtol(τ)`` on
    gradients (relative to the largest: 1e-5, or half an fp32 ulp of 1/τ for τ < 6e-3)."""
    z, y, yh, a = low_tau_batch(m, d, seed)
    zr = z.to(dtype).to(F64).requires_grad_()
    want = lse_oracle(zr, y, yh, a, t=tau, variant=variant)
    ok = ~torch.isnan(want)  # official: rows without a positive are NaN on every path
    go = torch.where(ok, torch.linspace(0.5, 1.5, m, dtype=F64), 0.0)
    gw = _grad((want[ok] * go[ok]).sum(), zr)
    x = z.to(dtype).requires_grad_()
    out = dirfast.conr_loss(x, y.to(dtype), yh.to(dtype), a.to(dtype), temperature=tau,
                            variant=variant, reduction="none", backend=backend)
    g = _grad(out, x, go.to(dtype))
    tag = f"τ={tau} {variant} {backend} {dtype}"
    assert out.dtype == g.dtype == dtype
    rtol = 1e-10 if dtype == F64 else 1e-5
    atol = 1e-10 if dtype == F64 else fp32_loss_atol(tau)
    assert_close_verbose(out, want, tag=tag, rtol=rtol, atol=atol)
    assert torch.isfinite(g).all(), tag
    grtol = 1e-10 if dtype == F64 else fp32_grad_rtol(tau)
    assert_close_verbose(g, gw, tag=tag + " grad", rtol=grtol, scale="max")


@pytest.mark.parametrize("tau", TAUS)
@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize("variant", ["paper", "official"])
@pytest.mark.parametrize("backend", LOW_TAU_BACKENDS)
def test_temperature_sweep_against_lse_oracle(backend, variant, dtype, tau):
    check_against_lse_oracle(backend, dtype, tau, variant)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("tau", [1e-3, 1e-2, 0.07])
@pytest.mark.parametrize("variant", ["paper", "official"])
def test_low_precision_small_temperature_two_x_rule(dtype, tau, variant):
    """fp16/bf16 features (computed in fp32): error against the fp64 oracle on the rounded features
    ≤ 2× the error of the reference run on the same low-precision inputs (+ 1 ulp of the output),
    loss rows and gradient (``assert_low_precision_close``: fixed rtol 1e-2 if the baseline itself is
    off by > 1e-2 relative)."""
    z, y, yh, a = low_tau_batch(24, 8, seed=3)
    zl = z.to(dtype)
    want = lse_oracle(zl.to(F64).requires_grad_(), y, yh, a, t=tau, variant=variant)
    ok = ~torch.isnan(want)
    go = ok.to(F64)
    zr = zl.to(F64).requires_grad_()
    gw = _grad((lse_oracle(zr, y, yh, a, t=tau, variant=variant)[ok]).sum(), zr)
    res = {}
    for backend in ("cpu", "reference"):
        x = zl.clone().requires_grad_()
        out = dirfast.conr_loss(x, y.to(dtype), yh.to(dtype), a.to(dtype), temperature=tau,
                                variant=variant, reduction="none", backend=backend)
        assert out.dtype == dtype
        res[backend] = (out.detach(), _grad(out, x, go.to(dtype)))
    (out, g), (base, gb) = res["cpu"], res["reference"]
    assert torch.equal(torch.isnan(out), ~ok) and torch.isfinite(g).all()
    tag = f"{dtype} τ={tau} {variant}"
    assert_low_precision_close(out[ok], base[ok], want[ok].detach(), tag=tag + " loss")
    assert_low_precision_close(g, gb, gw, tag=tag + " grad")


@pytest.mark.parametrize("backend", ["cpu", "reference"])
@pytest.mark.parametrize("norm", ["l1", "l2"])
def test_labels_requiring_grad_get_no_gradient(backend, norm):
    """Labels/predictions/weights are constants: with ``[M, 2]`` labels that require grad and
    ``norm="l2"`` the reference gave the labels a NaN gradient (sqrt at Δy = 0); they are detached."""
    g = torch.Generator().manual_seed(6)
    m = 12
    z = torch.randn(m, 5, generator=g, dtype=F64, requires_grad=True)
    y = torch.randn(m, 2, generator=g, dtype=F64).requires_grad_()
    yh = (y.detach() + 0.5 * torch.randn(m, 2, generator=g, dtype=F64)).requires_grad_()
    a = (torch.rand(m, generator=g, dtype=F64) + 0.5).requires_grad_()
    out = dirfast.conr_loss(z, y, yh, a, w=0.8, norm=norm, backend=backend)
    out.backward()
    assert y.grad is None and yh.grad is None and a.grad is None
    assert torch.isfinite(z.grad).all()
    want = conr_loss_ref(z.detach().requires_grad_(), y.detach(), yh.detach(), a.detach(), w=0.8,
                         norm=norm)
    assert_close_verbose(out.detach(), want.detach(), tag=f"detached labels {backend} {norm}")
    # the reference itself, called directly
    ref = conr_loss_ref(z, y, yh, a, w=0.8, norm=norm)
    assert not ref.requires_grad or torch.autograd.grad(ref, y, allow_unused=True)[0] is None


# ------------------------------------------------------------------------------------------------
# double backward: with create_graph=True the gradient is computed through the
# differentiable reference from the saved inputs, so it carries a graph


@pytest.mark.parametrize("variant", ["paper", "official"])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_double_backward_gradgradcheck(variant, reduction):
    z, y, yh, a = two_view(8, 3, "float", seed=12, relu=False)
    z.requires_grad_()
    fn = lambda x: dirfast.conr_loss(x, y, yh, a, variant=variant, reduction=reduction,
                                     backend="cpu")
    assert torch.autograd.gradgradcheck(fn, (z,))


@pytest.mark.parametrize("backend", ["cpu", "reference"])
def test_double_backward_issue_scenario(backend):
    """``grad(loss, x, create_graph=True)`` then the backward of a function of that gradient failed
    with an unrelated 'modified by an inplace operation'; now it matches the reference, and the
    first-order gradient equals the plain (streaming) backward's."""
    z, y, yh, a = two_view(16, 5, "float", seed=13)
    x = z.clone().requires_grad_()
    loss = dirfast.conr_loss(x, y, yh, a, variant="official", backend=backend)
    g, = torch.autograd.grad(loss, x, create_graph=True)
    assert g.requires_grad and g.grad_fn is not None
    g.pow(2).sum().backward()
    xr = z.clone().requires_grad_()
    gr, = torch.autograd.grad(conr_loss_ref(xr, y, yh, a, variant="official"), xr, create_graph=True)
    gr.pow(2).sum().backward()
    assert_close_verbose(g.detach(), gr.detach(), tag=f"first order {backend}", scale="max")
    assert_close_verbose(x.grad, xr.grad, tag=f"second order {backend}", scale="max")
    xp = z.clone().requires_grad_()
    gp = _grad(dirfast.conr_loss(xp, y, yh, a, variant="official", backend=backend), xp)
    assert not gp.requires_grad
    assert_close_verbose(g.detach(), gp, tag=f"create_graph vs plain {backend}", scale="max")


def test_double_backward_registered_op():
    """The registered ``dirfast::conr`` (what torch.compile traces) double-differentiates the same
    way in eager mode."""
    from dirfast.ops.conr import conr_op

    z, y, yh, a = two_view(10, 4, "float", seed=14, relu=False)
    z.requires_grad_()
    args = (y, yh, a, 1.0, 0.07, 0.01, "exp", False, False, False, "none", "l1", "paper",
            "cpu_torch")
    assert torch.autograd.gradgradcheck(lambda x: conr_op(x, *args)[0], (z,))


# ------------------------------------------------------------------------------------------------
# API


def test_bad_input():
    z, y, yh = torch.randn(8, 4), torch.randn(8), torch.randn(8)
    f = dirfast.conr_loss
    with pytest.raises(ValueError, match="labels"):
        f(z, torch.randn(7), yh)
    with pytest.raises(ValueError, match="preds"):
        f(z, y, torch.randn(9))
    with pytest.raises(ValueError, match="weights"):
        f(z, y, yh, torch.rand(5))
    with pytest.raises(ValueError, match="D >= 1"):
        f(torch.randn(8, 0), y, yh)
    with pytest.raises(ValueError, match="features"):
        f(torch.randn(8), y, yh)
    for t in (0.0, -1.0):
        with pytest.raises(ValueError, match="temperature"):
            f(z, y, yh, temperature=t)
    with pytest.raises(ValueError, match="w must be"):
        f(z, y, yh, w=-0.1)
    with pytest.raises(TypeError, match="features must be a floating"):
        f(torch.ones(8, 4, dtype=torch.int64), y, yh)
    with pytest.raises(ValueError, match="variant"):
        f(z, y, yh, variant="parity")
    with pytest.raises(ValueError, match="reduction"):
        f(z, y, yh, reduction="avg")
    with pytest.raises(ValueError, match="NaN"):
        f(z, y.clone().fill_(float("nan")), yh, validate=True)
    with pytest.raises(ValueError, match=">= 0"):
        f(z, y, yh, -torch.rand(8), validate=True)
    with pytest.raises(RuntimeError, match="needs the Triton interpreter"):
        f(z, y, yh, backend="triton")
    with pytest.raises(ValueError, match="temperature"):
        dirfast.nn.ConRLoss(temperature=0)
    with pytest.raises(ValueError, match="input_precision"):
        f(z, y, yh, input_precision="fp16")
    with pytest.raises(ValueError, match="input_precision"):
        dirfast.nn.ConRLoss(input_precision="tf16")


def test_weights_shape_must_be_m_or_m1():
    """``weights [1, M]`` (any shape but ``[M]`` / ``[M, 1]``) was accepted
    silently (only its element count was checked); now a ValueError naming the argument and shape."""
    z, y, yh = torch.randn(4, 3), torch.rand(4), torch.rand(4, 1)
    for bad in ((1, 4), (2, 2), (4, 1, 1), (4, 2), (1, 1, 4)):
        with pytest.raises(ValueError, match=r"weights must have shape \[M\] or \[M, 1\] with M = 4"
                                             r".*shape " + re.escape(str(bad))):
            dirfast.conr_loss(z, y, yh, torch.rand(bad))
        with pytest.raises(ValueError, match="weights"):
            dirfast.nn.ConRLoss()(z, y, yh, torch.rand(bad))
    for good in ((4,), (4, 1)):
        a = torch.rand(good) + 0.5
        assert_close_verbose(dirfast.conr_loss(z, y, yh, a), dirfast.conr_loss(z, y, yh, a.reshape(4)),
                             tag=f"weights {good}")
    # M = 1: [1] and [1, 1] are both fine
    for good in ((1,), (1, 1)):
        dirfast.conr_loss(torch.randn(1, 3), torch.zeros(1), torch.zeros(1), torch.ones(good))


def test_label_and_prediction_shapes():
    """``[M]`` and ``[M, 1]`` both mean 1-D labels and may be mixed between labels and predictions
    (same result as both ``[M]``); ``[M, d > 1]`` must match exactly."""
    z, y, yh, a = two_view(24, 6, "float", seed=8)
    want = dirfast.conr_loss(z, y, yh, a)
    for ys, ps in ((y[:, None], yh), (y, yh[:, None]), (y[:, None], yh[:, None])):
        for backend in ("cpu", "reference"):
            assert_close_verbose(dirfast.conr_loss(z, ys, ps, a, backend=backend), want,
                                 tag=f"labels {tuple(ys.shape)} preds {tuple(ps.shape)} {backend}")
    y2, yh2 = torch.stack([y, -y], 1), torch.stack([yh, -yh], 1)
    dirfast.conr_loss(z, y2, yh2, a)
    for ys, ps in ((y2, yh2[:, :1]), (y2, yh), (y, yh2), (y[:, None], yh2),
                   (y2, torch.cat([yh2, yh2[:, :1]], 1))):
        with pytest.raises(ValueError, match=r"preds must have the labels' shape .*got labels "
                                             + re.escape(str(tuple(ys.shape if ys.dim() == 2 and
                                                                   ys.shape[1] > 1 else (24,))))):
            dirfast.conr_loss(z, ys, ps, a)


@pytest.mark.parametrize("backend", ["cpu", "reference"])
def test_nan_inf_inputs_without_validation(backend):
    """What the docstring promises with validation off: a NaN/inf feature row makes NaN the rows
    that pair with it; a NaN label drops the sample from every mask (its own row: paper 0, official
    NaN); a NaN prediction only from the negatives; an infinite label is an infinitely pushed
    negative: the rows it is a negative of are inf (paper), not finite (official: inf on the fast
    paths, NaN in the reference, which sums P·(log D − s) as the official code)."""
    z = torch.randn(6, 3, generator=torch.Generator().manual_seed(0), dtype=F64)
    y = torch.tensor([0.0, 0.5, 3.0, 3.2, 6.0, 6.3], dtype=F64)
    yh = 0.1 * torch.arange(6, dtype=F64)  # every label pair far apart is a negative
    kw = dict(reduction="none", backend=backend, validate=False)
    for bad in (math.nan, math.inf):
        zz = z.clone()
        zz[2, 0] = bad
        assert torch.isnan(dirfast.conr_loss(zz, y, yh, **kw)).all()
    yy = y.clone()
    yy[2] = math.nan
    paper = dirfast.conr_loss(z, yy, yh, **kw)
    assert torch.isfinite(paper).all() and paper[2] == 0 and paper[3] == 0  # 3 lost its positive
    off = dirfast.conr_loss(z, yy, yh, variant="official", **kw)
    assert torch.isnan(off[[2, 3]]).all() and torch.isfinite(off[[0, 1, 4, 5]]).all()
    p = yh.clone()
    p[2] = math.nan
    assert torch.isfinite(dirfast.conr_loss(z, y, p, **kw)).all()
    yy = y.clone()
    yy[2] = math.inf
    paper = dirfast.conr_loss(z, yy, yh, **kw)
    assert torch.isinf(paper[[0, 1, 4, 5]]).all() and (paper[[2, 3]] == 0).all()
    off = dirfast.conr_loss(z, yy, yh, variant="official", **kw)
    assert not torch.isfinite(off).any() and torch.isnan(off[[2, 3]]).all()


def test_inputs_not_modified_and_module():
    z, y, yh, a = two_view(32, 8, "int", dtype=F32)
    copies = [t.clone() for t in (z, y, yh, a)]
    mod = dirfast.nn.ConRLoss(variant="official")
    zf = z.clone().requires_grad_()
    out = mod(zf, y[:, None], yh[:, None], a[:, None])
    out.backward()
    for t, c in zip((z, y, yh, a), copies):
        assert torch.equal(t, c)
    assert mod.num_valid_anchors.dtype == torch.int64
    _, nv = conr_loss_ref(z, y, yh, a, return_valid=True)
    assert int(mod.num_valid_anchors) == int(nv)
    assert "official" in repr(mod)
    assert dirfast.ConRLoss is dirfast.nn.ConRLoss


def test_eager_function_matches_registered_op():
    from dirfast.ops.conr import ConRFunction, conr_op

    z, y, yh, a = two_view(40, 6, "float", seed=4)
    for red in ("mean", "none", "valid_anchors"):
        args = (y, yh, a, 1.0, 0.07, 0.01, "exp", False, True, True, red, "l1", "official", "cpu_torch")
        za, zb = z.clone().requires_grad_(), z.clone().requires_grad_()
        la = conr_op(za, *args)[0]
        lb = ConRFunction.apply(zb, *args[:3], args[3:])[0]
        assert torch.equal(la, lb)
        go = torch.rand_like(la) + 0.5
        assert torch.equal(_grad(la, za, go), _grad(lb, zb, go))


def test_opcheck():
    from dirfast.ops.conr import conr_bwd, conr_op

    z, y, yh, a = two_view(10, 4, "float", seed=9)
    z.requires_grad_()
    for red in ("mean", "none"):
        args = (z, y, yh, a, 1.0, 0.07, 0.01, "exp", False, True, True, red, "l1", "official",
                "cpu_torch")
        torch.library.opcheck(conr_op, args, test_utils=("test_schema", "test_faketensor",
                                                          "test_autograd_registration"))
        stats = conr_op(*args)[2]
        go = torch.tensor(1.0, dtype=F64) if red == "mean" else torch.rand(10, dtype=F64)
        torch.library.opcheck(conr_bwd, (go, z.detach(), y, yh, a, stats, 1.0, 0.07, 0.01, "exp",
                                         False, "l1", "cpu_torch"))


def test_compile_fullgraph():
    torch._dynamo.reset()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU())
    head = torch.nn.Linear(16, 1)
    x = torch.randn(32, 6)
    y = torch.randint(0, 8, (16,)).float().repeat(2)

    def step(x, y):
        feat = model(x)
        pred = head(feat)
        return dirfast.conr_loss(feat, y, pred.detach(), variant="official", validate=False)

    graphs = []

    def record(gm, example_inputs):
        graphs.append(str(gm.graph))
        return gm.forward

    torch.compile(step, fullgraph=True, backend=record)(x, y)
    assert graphs and "dirfast.conr" in graphs[0]
    torch._dynamo.reset()
    compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
    got = compiled(x, y)
    got.backward()
    gc = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    want = step(x, y)
    want.backward()
    assert_close_verbose(got.detach(), want.detach(), tag="compiled conr")
    for a, b in zip(gc, (p.grad for p in model.parameters())):
        assert_close_verbose(a, b, tag="compiled conr grad", scale="max")


def test_compiled_backward_keeps_the_streaming_op():
    """The double-backward route (reference under grad mode) must not leak into a compiled training
    step: AOT autograd traces the backward without grad mode, so its graph calls
    ``dirfast::conr_bwd`` and no dense reference op."""
    from functorch.compile import make_boxed_func
    from torch._dynamo.backends.common import aot_autograd

    torch._dynamo.reset()
    graphs = {}

    def record(name):
        def compiler(g, _):
            graphs[name] = str(g.graph)
            return make_boxed_func(g.forward)
        return compiler

    backend = aot_autograd(fw_compiler=record("fw"), bw_compiler=record("bw"))

    z, y, yh, a = two_view(24, 6, "float", seed=15, dtype=F32)
    x = z.clone().requires_grad_()
    step = lambda t: dirfast.conr_loss(t, y, yh, a, variant="official", validate=False)
    torch.compile(step, fullgraph=True, backend=backend)(x).backward()
    assert "dirfast.conr_bwd" in graphs["bw"] and "logsumexp" not in graphs["bw"], graphs["bw"]
    torch._dynamo.reset()


def test_training_matches_reference():
    """Convergence-style: 30 SGD steps of a small encoder through the fast path and the reference."""
    def train(backend):
        torch.manual_seed(0)
        enc = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU())
        head = torch.nn.Linear(32, 1)
        params = list(enc.parameters()) + list(head.parameters())
        opt = torch.optim.SGD(params, lr=0.05)
        g = torch.Generator().manual_seed(1)
        x = torch.randn(256, 8, generator=g)
        y = (3 * x[:, 0] + 10).round()
        losses = []
        for step in range(30):
            i = (torch.arange(32) + 32 * step) % 256
            xi = torch.cat([x[i], x[i] + 0.05 * torch.randn(32, 8, generator=g)])
            yi = torch.cat([y[i], y[i]])
            feat = enc(xi)
            pred = head(feat).reshape(-1)
            loss = (pred - yi).abs().mean() + 0.5 * dirfast.conr_loss(
                feat, yi, pred.detach(), variant="official", backend=backend, validate=False)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.detach())
        return torch.stack(losses), [p.detach() for p in params]

    lr, pr = train("reference")
    lf, pf = train("cpu")
    assert lr[-5:].mean() < lr[:5].mean()
    assert_close_verbose(lf, lr, tag="training losses", rtol=1e-5)
    for a, b in zip(pf, pr):
        assert_close_verbose(a, b, tag="training params", rtol=0, atol=1e-5)


# ------------------------------------------------------------------------------------------------
# the CUDA boundary (fake CUDA tensors, no GPU): the same errors as on CPU, devices named


_BAD_CONR = {
    "features 1-D": lambda T: dirfast.conr_loss(T(8), T(8), T(8)),
    "features int": lambda T: dirfast.conr_loss(T(8, 4, dtype=torch.int64), T(8), T(8)),
    "D = 0": lambda T: dirfast.conr_loss(T(8, 0), T(8), T(8)),
    "labels length": lambda T: dirfast.conr_loss(T(8, 4), T(7), T(8)),
    "labels int": lambda T: dirfast.conr_loss(T(8, 4), T(8, dtype=torch.int64), T(8)),
    "preds shape": lambda T: dirfast.conr_loss(T(8, 4), T(8), T(8, 2)),
    "weights shape": lambda T: dirfast.conr_loss(T(8, 4), T(8), T(8), T(5)),
    "weights [1, M]": lambda T: dirfast.conr_loss(T(8, 4), T(8), T(8), T(1, 8)),
    "labels [M, 2] vs preds [M]": lambda T: dirfast.conr_loss(T(8, 4), T(8, 2), T(8)),
    "labels not a tensor": lambda T: dirfast.conr_loss(T(8, 4), [1.0] * 8, T(8)),
    "w < 0": lambda T: dirfast.conr_loss(T(8, 4), T(8), T(8), w=-1.0),
    "temperature 0": lambda T: dirfast.conr_loss(T(8, 4), T(8), T(8), temperature=0.0),
    "reduction": lambda T: dirfast.conr_loss(T(8, 4), T(8), T(8), reduction="avg"),
    "input_precision": lambda T: dirfast.conr_loss(T(8, 4), T(8), T(8), input_precision="tf16"),
    "backend": lambda T: dirfast.conr_loss(T(8, 4), T(8), T(8), backend="gpu"),
}


@pytest.mark.parametrize("case", sorted(_BAD_CONR))
def test_cuda_boundary_same_errors_as_cpu(monkeypatch, case):
    from _launch_stubs import same_error_on_cuda

    same_error_on_cuda(monkeypatch, _BAD_CONR[case])


@pytest.mark.parametrize("other", ["cuda:0", "cpu"])
@pytest.mark.parametrize("arg", ["labels", "preds", "weights"])
def test_cuda_device_mismatch_names_both_devices(monkeypatch, arg, other):
    from _launch_stubs import device_mismatch_error

    def case(T):
        kw = {name: T(8, device=other if name == arg else "cuda:1")
              for name in ("labels", "preds", "weights")}
        return dirfast.conr_loss(T(8, 4), **kw)

    msg = device_mismatch_error(monkeypatch, case)
    assert "features on cuda:1" in msg and f"{arg} on {other}" in msg, msg


# ------------------------------------------------------------------------------------------------
# launch budget of the CUDA (Triton) path, counted without a GPU: fake CUDA tensors, stubbed Triton
# launchers (tests/_launch_stubs.py) and a dispatch-mode counter of the aten ops that would launch a
# kernel. Today: 4 launches per forward + backward (3 forward stages + 1 backward), no aten op.

CONR_LAUNCH_BUDGET = 4  #: measured; issue budget ≤ 8 (was 46: 2 Triton kernels + 44 aten ops)

#: aten ops that launch nothing on a GPU: allocations and metadata (views are skipped by is_view)
_NO_LAUNCH = {"aten.empty.memory_format", "aten.empty_strided.default", "aten.new_empty.default",
              "aten.empty_like.default", "aten.detach.default", "aten.alias.default",
              "aten.lift_fresh.default", "prim.device.default"}


class _KernelOps:
    """A ``TorchDispatchMode`` recording every aten op on a CUDA tensor that is neither a view nor an
    allocation/metadata op: each would be (at least) one kernel launch."""

    def __new__(cls):
        from torch.utils._python_dispatch import TorchDispatchMode
        from torch.utils._pytree import tree_flatten

        class Mode(TorchDispatchMode):
            def __init__(self):
                super().__init__()
                self.ops = []

            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                out = func(*args, **(kwargs or {}))
                ts = [t for t in tree_flatten((args, kwargs, out))[0] if isinstance(t, torch.Tensor)]
                if (any(t.device.type == "cuda" for t in ts) and not func.is_view
                        and str(func) not in _NO_LAUNCH):
                    self.ops.append(str(func))
                return out

        return Mode()


class _Ctx:
    """Stand-in for the autograd context of ``ConRFunction`` (fake CUDA tensors must not meet autograd)."""

    def __init__(self):
        self.needs_input_grad = (True,) + (False,) * 14

    def save_for_backward(self, *t):
        self.saved_tensors = t

    def mark_non_differentiable(self, *t):
        pass

    def set_materialize_grads(self, v):
        pass


def _count_conr_cuda(monkeypatch, dtype=F32, d=24, ldtype=None, weighted=True, **kw):
    from _launch_stubs import LaunchStubs, fake_cuda

    stubs = LaunchStubs().install(monkeypatch)
    args = {}

    def capture(*a):  # the arguments conr_loss hands to the autograd function (the forward runs below)
        args["a"] = a  # (features, labels, preds, weights, (..., backend))
        return conr_ops._PATHS[a[-1][-1]][0](*a[:-1], *a[-1][:-1])[:2]

    with fake_cuda():
        m, dev = 70, "cuda:1"
        ldtype = ldtype or (F64 if dtype == F64 else F32)
        z = torch.randn(m, d, dtype=dtype, device=dev)
        y, yh = torch.randn(m, dtype=ldtype, device=dev), torch.randn(m, dtype=ldtype, device=dev)
        a = torch.rand(m, dtype=ldtype, device=dev) if weighted else None
        go = torch.ones((m,) if kw.get("reduction") == "none" else (), dtype=dtype, device=dev)
        # forward: the public function as called in training (validation off, as per step)
        fwd = _KernelOps()
        with fwd:
            out, nv = dirfast.conr_loss(z, y, yh, a, return_valid=True, validate=False, **kw)
        n_fwd = len(stubs.launches)
        assert out.shape == go.shape and nv.dtype == torch.int64
        # backward: ConRFunction.backward on the context its forward filled (what autograd calls;
        # the seed of .backward() is not counted)
        monkeypatch.setattr(conr_ops.ConRFunction, "apply", capture)
        dirfast.conr_loss(z, y, yh, a, validate=False, **kw)
        ctx = _Ctx()
        conr_ops.ConRFunction.forward(ctx, *args["a"])
        n0 = len(stubs.launches)
        bwd = _KernelOps()
        with bwd, torch.no_grad():  # a plain backward runs with grad mode off
            g, *rest = conr_ops.ConRFunction.backward(ctx, go, None)
        assert g.shape == z.shape and g.dtype == dtype and all(r is None for r in rest)
        n_bwd = len(stubs.launches) - n0
    return n_fwd, fwd.ops, n_bwd, bwd.ops


@pytest.mark.parametrize("case", [
    dict(), dict(weighted=False), dict(variant="official"), dict(reduction="none"),
    dict(reduction="valid_anchors", pushing="linear", denominator_self=True),
    dict(dtype=torch.float16, d=300), dict(dtype=torch.bfloat16, d=8),
    dict(dtype=F64, d=100), dict(input_precision="tf32"),
])
def test_cuda_launch_budget(monkeypatch, case):
    """Forward + backward of the CUDA route: 3 Triton launches forward (row prologue, main pass,
    finish), 1 backward, and no aten kernel (row norms, ``log a``, the row epilogue, the reduction
    and the backward through the normalisation all run inside the kernels)."""
    n_fwd, fwd_ops, n_bwd, bwd_ops = _count_conr_cuda(monkeypatch, **case)
    assert (n_fwd, n_bwd) == (3, 1), (n_fwd, n_bwd)
    assert fwd_ops == [] and bwd_ops == [], (fwd_ops, bwd_ops)
    assert n_fwd + n_bwd + len(fwd_ops) + len(bwd_ops) <= CONR_LAUNCH_BUDGET <= 8


def test_cuda_launch_budget_mixed_label_dtype(monkeypatch):
    """Labels, predictions and weights in another dtype than the kernels' (fp32 with fp64 features):
    one cast each, in the forward only (the backward reads the saved, cast copies): 7 ≤ 8."""
    n_fwd, fwd_ops, n_bwd, bwd_ops = _count_conr_cuda(monkeypatch, dtype=F64, ldtype=F32)
    assert fwd_ops == ["aten._to_copy.default"] * 3 and bwd_ops == [], (fwd_ops, bwd_ops)
    assert n_fwd + n_bwd + len(fwd_ops) + len(bwd_ops) == 7
