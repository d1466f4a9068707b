"""Interpreter tier: the flash-style ConR Triton kernels (forward and backward, ``backend="triton"``)
on CPU tensors against the fp64 dense reference and the literal official oracle.

fp64 runs through the kernels too (fp64 tiles, fp64 dots): 1e-10 against the reference and an fp64
``gradcheck`` of the Triton path. ``[M, d]`` labels route from ``"triton"`` to the streaming PyTorch
path (documented dispatch rule, checked below). D values cover every kernel config: the anchor tile
held in one chunk (D ≤ BLOCK_D), dU accumulated in registers (D ≤ BLOCK_DO) or read-modify-written
per D chunk across column tiles (D > BLOCK_DO)."""

import pytest
import torch

import dirfast
from dirfast.testing import assert_close_verbose, assert_low_precision_close

from _official_conr import (TOY_F, TOY_P, TOY_Y, fp32_grad_rtol, fp32_loss_atol, low_tau_batch,
                            lse_oracle, official_conr, toy_want)

pytestmark = pytest.mark.interpreter
F64 = torch.float64


def batch(m, d, seed=0, weighted=False, scale=1.0, relu=False):
    """Integer-ish labels (0.5 offsets keep |Δy| away from w = 1), predictions near them."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(m, d, generator=g, dtype=F64)
    if relu:
        z = z.relu() + 0.01
    y = (torch.randint(0, 8, (m,), generator=g).to(F64) + 0.25 * torch.randint(0, 2, (m,), generator=g)) * scale
    yh = y + torch.randn(m, generator=g, dtype=F64) * 1.5 * scale
    a = torch.rand(m, generator=g, dtype=F64) + 0.5 if weighted else None
    return z, y, yh, a


def run(backend, z, y, yh, a, dtype, go=None, **kw):
    x = z.to(dtype).requires_grad_()
    cast = (lambda t: None if t is None else t.to(dtype)) if dtype != F64 else (lambda t: t)
    out = dirfast.conr_loss(x, cast(y), cast(yh), cast(a), backend=backend, **kw)
    g, = torch.autograd.grad(out, x, go if go is not None else torch.ones_like(out))
    return out.detach(), g


def oracle(z, y, yh, a, dtype=F64, **kw):
    """fp64 reference on the (possibly rounded) inputs the kernel saw."""
    r = lambda t: None if t is None else t.to(dtype).to(F64)
    return run("reference", r(z), r(y), r(yh), r(a), F64, **kw)


@pytest.mark.parametrize("m", [2, 37, 130])
@pytest.mark.parametrize("d", [16, 70])
@pytest.mark.parametrize("variant", ["paper", "official"])
@pytest.mark.parametrize("weighted", [False, True])
def test_fp32_matches_reference(m, d, variant, weighted):
    z, y, yh, a = batch(m, d, seed=m + d, weighted=weighted)
    out, g = run("triton", z, y, yh, a, torch.float32, variant=variant)
    want, gw = oracle(z, y, yh, a, torch.float32, variant=variant)
    if torch.isnan(want):
        # official NaN (an anchor without a positive, here at m = 2): the loss is NaN on every path;
        # the gradient follows the streaming CPU path (finite), whose semantics the kernels mirror
        assert torch.isnan(out)
        _, gw = run("cpu", z, y, yh, a, F64, variant=variant)
        want = out
    assert_close_verbose(out, want.float(), tag=f"loss m={m} d={d} {variant}", rtol=1e-5, atol=1e-6)
    assert_close_verbose(g, gw.float(), tag=f"grad m={m} d={d} {variant}", rtol=1e-5, scale="max")


def test_fp32_large_d_and_official_oracle():
    # D >= 128 (several D chunks per tile), two-view batch against the literal official code
    m, d = 66, 160
    z, y, _, a = batch(m // 2, d, seed=3, weighted=True, relu=True)
    z = torch.cat([z, z + 0.1 * torch.randn(m // 2, d, dtype=F64).abs()])
    y, a = torch.cat([y, y]), torch.cat([a, a])
    yh = y + torch.randn(m, dtype=F64)
    out, g = run("triton", z, y, yh, a, torch.float32, variant="official")
    x = z.clone().requires_grad_()
    want = official_conr(x, y[:, None], yh[:, None], w=1.0, weights=a[:, None])
    gw, = torch.autograd.grad(want, x)
    assert_close_verbose(out, want.detach().float(), tag="official oracle loss", rtol=1e-5)
    assert_close_verbose(g, gw.float(), tag="official oracle grad", rtol=1e-5, scale="max")


@pytest.mark.parametrize("knobs", [
    dict(reduction="none"), dict(reduction="sum"), dict(reduction="valid_anchors"),
    dict(pushing="linear"), dict(denominator_self=True), dict(phantom=True, weight_final=True),
    dict(variant="official", pushing="linear", denominator_self=True, weight_final=False),
])
def test_fp32_knobs(knobs):
    z, y, yh, a = batch(45, 24, seed=7, weighted=True)
    go = torch.randn(45, dtype=torch.float32) if knobs.get("reduction") == "none" else None
    out, g = run("triton", z, y, yh, a, torch.float32, go=go, **knobs)
    want, gw = oracle(z, y, yh, a, torch.float32, go=None if go is None else go.double(), **knobs)
    assert_close_verbose(out, want.float(), tag=f"loss {knobs}", rtol=1e-5, atol=1e-6)
    assert_close_verbose(g, gw.float(), tag=f"grad {knobs}", rtol=1e-5, scale="max")


@pytest.mark.parametrize("variant", ["paper", "official"])
@pytest.mark.parametrize("m,d", [(37, 16), (130, 70), (45, 200), (33, 300)])
def test_fp16(variant, m, d):
    """2× rule on the loss (the forward dots raw fp16 features with fp32 accumulation). The
    backward dots ``H`` and ``u`` rounded to fp16 (tensor cores, as flash-attention's ``P``) while
    the reference works in fp32: fixed tolerance 2e-2 × max|grad| against fp64 (conventions)."""
    z, y, yh, a = batch(m, d, seed=11, weighted=True)
    out, g = run("triton", z, y, yh, a, torch.float16, variant=variant)
    base, gb = run("reference", z, y, yh, a, torch.float16, variant=variant)
    want, gw = oracle(z, y, yh, a, torch.float16, variant=variant)
    assert out.dtype == g.dtype == torch.float16
    assert_low_precision_close(out, base, want, tag=f"fp16 loss {variant}")
    assert_close_verbose(g.double(), gw, tag=f"fp16 grad {variant}", rtol=2e-2, scale="max")


# bf16: not run here. The Triton 3.6 interpreter has no bf16 arithmetic (its bf16 tl.dot returned inf),
# so the bf16 configs are verified by the ahead-of-time tier only (compile, no spills, shared memory).


def test_labels_in_the_thousands_no_overflow():
    # e·Δy up to ~60: exp(e·Δy)·e^{1/τ} overflows fp16 (and nearly fp32) without the per-row shift
    z, y, yh, a = batch(70, 32, seed=2, weighted=True, scale=700.0)
    y = y + 1000.0
    yh = y + torch.randn(70, dtype=F64) * 3000.0
    for dtype in (torch.float32, torch.float16):
        out, g = run("triton", z, y, yh, a, dtype, w=500.0, e=0.01)
        want, gw = oracle(z, y, yh, a, dtype, w=500.0, e=0.01)
        assert torch.isfinite(out).all() and torch.isfinite(g).all()
        assert_close_verbose(out.double(), want, tag=f"large labels {dtype}",
                             rtol=1e-5 if dtype == torch.float32 else 1e-2)
        assert_close_verbose(g.double(), gw, tag=f"large labels grad {dtype}",
                             rtol=1e-5 if dtype == torch.float32 else 2e-2, scale="max")


def test_no_negatives_and_no_positives():
    z = torch.randn(9, 16, dtype=F64)
    # all in one label: no negatives -> exactly 0, zero gradient
    y = torch.zeros(9, dtype=F64)
    out, g = run("triton", z, y, y, None, torch.float32)
    assert out.item() == 0.0 and (g == 0).all()
    # isolated labels: no positives -> paper 0 (finite), official NaN (as the official code)
    y = torch.arange(9, dtype=F64) * 10.0
    out, g = run("triton", z, y, y * 0, None, torch.float32)
    assert out.item() == 0.0 and (g == 0).all()
    out, g = run("triton", z, y, y * 0, None, torch.float32, variant="official")
    assert torch.isnan(out)
    want, _ = oracle(z, y, y * 0, None, torch.float32, variant="official")
    assert torch.isnan(want)


def test_valid_count_and_kernel_is_used(monkeypatch):
    import dirfast.kernels.conr as k

    calls = []
    fwd, bwd = k.conr_fwd, k.conr_bwd
    monkeypatch.setattr(k, "conr_fwd", lambda *a, **kw: calls.append("f") or fwd(*a, **kw))
    monkeypatch.setattr(k, "conr_bwd", lambda *a, **kw: calls.append("b") or bwd(*a, **kw))
    z, y, yh, _ = batch(20, 16, seed=1)
    x = z.float().requires_grad_()
    out, nv = dirfast.conr_loss(x, y.float(), yh.float(), backend="triton", return_valid=True)
    out.backward()
    _, nv_ref = dirfast.conr_loss(z, y, yh, backend="reference", return_valid=True)
    assert calls == ["f", "b"] and nv.item() == nv_ref.item()
    # fp64 runs the kernels, and so do [M, d] labels
    calls.clear()
    dirfast.conr_loss(z, y, yh, backend="triton")
    assert calls == ["f"]
    calls.clear()
    dirfast.conr_loss(z.float(), torch.stack([y, yh], 1).float(), torch.stack([yh, y], 1).float(),
                      backend="triton")
    assert calls == ["f"]


def test_auto_never_picks_the_interpreter(monkeypatch):
    import dirfast.kernels.conr as k

    calls = []
    monkeypatch.setattr(k, "conr_fwd", lambda *a, **kw: calls.append(1))
    z, y, yh, _ = batch(8, 16)
    dirfast.conr_loss(z.float(), y.float(), yh.float())
    assert calls == []


@pytest.mark.parametrize("m,d", [(2, 8), (37, 16), (45, 24), (70, 40), (33, 70)])
@pytest.mark.parametrize("variant", ["paper", "official"])
def test_fp64_matches_reference(m, d, variant):
    z, y, yh, a = batch(m, d, seed=3 * m + d, weighted=True)
    out, g = run("triton", z, y, yh, a, F64, variant=variant, reduction="sum")
    want, gw = oracle(z, y, yh, a, variant=variant, reduction="sum")
    if torch.isnan(want):
        assert torch.isnan(out)
        return
    assert_close_verbose(out, want, tag=f"fp64 loss m={m} d={d}", rtol=1e-10, atol=1e-12)
    assert_close_verbose(g, gw, tag=f"fp64 grad m={m} d={d}", rtol=1e-10, atol=1e-12, scale="max")


@pytest.mark.parametrize("d", [5, 20, 40])
def test_gradcheck_fp64_triton(d):
    z, y, yh, a = batch(11, d, seed=d, weighted=True)
    y = y + 0.5 * torch.arange(11, dtype=F64) / 11  # keep |Δy| away from w
    x = z.clone().requires_grad_()
    fn = lambda t: dirfast.conr_loss(t, y, yh, a, backend="triton", reduction="none")
    assert torch.autograd.gradcheck(fn, (x,), eps=1e-6, atol=1e-8)


@pytest.mark.parametrize("precision", ["tf32", "tf32x3"])
def test_tf32_opt_in_dispatch(monkeypatch, precision):
    """The opt-in reaches the kernels (their TF32 configs); the interpreter evaluates dots in fp32,
    so the values equal the IEEE path's here — the TF32 rounding itself exists only on a GPU (the
    ahead-of-time tier checks the PTX: TF32 instructions present, and absent from every IEEE config)."""
    import dirfast.kernels.conr as k
    from dirfast.kernels._registry import pick as real_pick

    keys = []
    monkeypatch.setattr(k, "pick", lambda fn, key: keys.append(key) or real_pick(fn, key))
    z, y, yh, a = batch(40, 48, seed=9, weighted=True)
    out, g = run("triton", z, y, yh, a, torch.float32, input_precision=precision)
    ref, gr = run("triton", z, y, yh, a, torch.float32)
    # the similarity kernels' keys (the forward's row prologue and finish stages take no dot:
    # their keys are (dtype, "rows") and (dtype, "finish"))
    dots = lambda: [key[1] for key in keys if key[1] in k.PRECISIONS]
    assert dots() == [precision, precision, "ieee", "ieee"]
    assert_close_verbose(out.double(), ref.double(), tag="tf32 loss", rtol=1e-5)
    assert_close_verbose(g.double(), gr.double(), tag="tf32 grad", rtol=1e-5, scale="max")
    # fp16 ignores the knob (tensor cores always)
    keys.clear()
    run("triton", z, y, yh, a, torch.float16, input_precision=precision)
    assert dots() == ["ieee", "ieee"]


@pytest.mark.parametrize("variant", ["paper", "official"])
def test_fp64_features_with_fp32_labels(variant):
    """The H200 case: fp64 features, fp32 labels/predictions/weights, non-dyadic ``w``, ``τ``, ``e``.
    The kernels compute in fp64 throughout (labels upcast, scalars passed as fp64 bit patterns):
    1e-12 against the fp64 reference on the same (fp32-valued) labels. The interpreter keeps Python
    floats in double precision, so only a GPU run shows a scalar typed fp32 by the JIT; the CPU tiers
    check that through the launch signature (tests/test_kernel_signatures.py)."""
    z, y, yh, a = batch(37, 16, seed=5, weighted=True)
    y32, yh32, a32 = (t.float() for t in (y, yh, a))
    kw = dict(w=0.7, temperature=0.07, e=0.013, variant=variant, reduction="sum")
    x = z.clone().requires_grad_()
    out = dirfast.conr_loss(x, y32, yh32, a32, backend="triton", **kw)
    g, = torch.autograd.grad(out, x)
    want, gw = run("reference", z, y32.double(), yh32.double(), a32.double(), F64, **kw)
    assert out.dtype == g.dtype == F64
    if torch.isnan(want):
        assert torch.isnan(out)
        return
    assert_close_verbose(out.detach(), want, tag=f"fp64/fp32-labels loss {variant}", rtol=1e-12)
    assert_close_verbose(g, gw, tag=f"fp64/fp32-labels grad {variant}", rtol=1e-12, scale="max")


# ------------------------------------------------------------------------------------------------
# small temperatures: the forward kernel's online log-sum-exp (running max of the
# row's included logits, sum rescaled when it grows) and the backward on the same statistics


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("tau", [1e-2, 1e-3])
@pytest.mark.parametrize("variant", ["paper", "official"])
def test_small_temperature_toy_closed_form(dtype, tau, variant):
    """The issue's reproducer (fp32 τ = 0.01: 100.047 instead of 100.030; fp64 τ = 1e-3: −inf)."""
    x = torch.tensor(TOY_F, dtype=dtype, requires_grad=True)
    y, p = torch.tensor(TOY_Y, dtype=dtype), torch.tensor(TOY_P, dtype=dtype)
    out = dirfast.conr_loss(x, y, p, temperature=tau, reduction="none", variant=variant,
                            backend="triton")
    assert_close_verbose(out, toy_want(tau, variant), tag=f"toy τ={tau} {variant} {dtype}",
                         rtol=1e-5 if dtype == torch.float32 else 1e-12)
    if variant == "paper":  # (official: row 2's NaN makes every gradient NaN, as the official code)
        g, = torch.autograd.grad(out.sum(), x)
        xo = torch.tensor(TOY_F, dtype=F64, requires_grad=True)
        gw, = torch.autograd.grad(lse_oracle(xo, y, p, t=tau).sum(), xo)
        assert_close_verbose(g, gw, tag=f"toy grad τ={tau} {dtype}",
                             rtol=1e-5 if dtype == torch.float32 else 1e-10, scale="max")


def test_small_temperature_seeded_reproducer():
    f = torch.randn(3, 2, generator=torch.Generator().manual_seed(0), dtype=F64).float()
    y, p = torch.tensor([0.0, 3.0, 2.0]), torch.full((3,), 1.5)
    for variant in ("paper", "official"):
        out = dirfast.conr_loss(f, y, p, temperature=0.005, reduction="none", variant=variant,
                                backend="triton")
        assert torch.isfinite(out[1:]).all() and (variant == "official") == bool(torch.isnan(out[0]))
        assert_close_verbose(out, lse_oracle(f, y, p, t=0.005, variant=variant),
                             tag=f"seeded {variant}", rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("tau", [1e-3, 3e-3, 1e-2, 0.07, 1.0, 10.0])
@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("variant", ["paper", "official"])
def test_temperature_sweep_against_lse_oracle(variant, dtype, tau):
    """M = 40: two or three column tiles per row (BLOCK_N = 16/32), so the running max grows across
    tiles. Against the fp64 oracle on the same rounded features: fp64 1e-10; fp32 1e-5 (+
    ``fp32_loss_atol(τ)``) on values and ``fp32_grad_rtol(τ)`` on gradients (1e-5, or half an fp32
    ulp of 1/τ below τ = 6e-3: at τ = 1e-3 the kernels' raw-dot logits ``(z_i·z_j)·inv_i·inv_j/τ``
    measure 4e-5, the streaming CPU path 1.6e-5, within the 6e-5 that rounding s to fp32 allows)."""
    z, y, yh, a = low_tau_batch(40, 6, seed=1)
    zr = z.to(dtype).to(F64).requires_grad_()
    want = lse_oracle(zr, y, yh, a, t=tau, variant=variant)
    assert not torch.isnan(want).any()
    go = torch.linspace(0.5, 1.5, 40, dtype=F64)
    gw, = torch.autograd.grad(want, zr, go)
    out, g = run("triton", z, y, yh, a, dtype, go=go.to(dtype), temperature=tau, variant=variant,
                 reduction="none")
    rtol = 1e-10 if dtype == F64 else 1e-5
    atol = 1e-10 if dtype == F64 else fp32_loss_atol(tau)
    grtol = 1e-10 if dtype == F64 else fp32_grad_rtol(tau)
    assert_close_verbose(out, want.detach(), tag=f"τ={tau} {variant} {dtype}", rtol=rtol, atol=atol)
    assert_close_verbose(g, gw, tag=f"τ={tau} {variant} {dtype} grad", rtol=grtol, scale="max")


@pytest.mark.parametrize("late", [True, False])
def test_online_max_grows_in_a_later_tile(late):
    """Anchor 0 at τ = 1e-3 with a positive ``j`` and a negative ``k`` both near-parallel to it (their
    logits ≈ 1/τ − O(1): comparable terms) among 67 random negatives (logits ≈ ±1/τ, terms down to
    e^{−2/τ}). ``late``: ``k`` in the first column tile, the larger ``j`` in the last one, so the
    running max grows in the last tile and the earlier sum is rescaled; else the order is reversed.
    Rows ``j`` and ``k`` see the same from their side."""
    m, tau = 70, 1e-3
    g = torch.Generator().manual_seed(4)
    z = torch.randn(m, 4, generator=g, dtype=F64)
    y = 10.0 + 3.0 * torch.arange(m, dtype=F64)  # pairwise far apart: no positives ...
    yh = torch.zeros(m, dtype=F64)                # ... and every pair a negative
    j, k = (m - 1, 1) if late else (1, m - 1)
    y[j] = y[0] + 0.5                             # ... but one positive pair (0, j)
    z[j] = z[0] + 0.02 * torch.randn(4, generator=g, dtype=F64)
    z[k] = z[0] + 0.04 * torch.randn(4, generator=g, dtype=F64)
    for dtype in (torch.float32, F64):
        out, gr = run("triton", z, y, yh, None, dtype, temperature=tau, reduction="none")
        zr = z.to(dtype).to(F64).requires_grad_()
        want = lse_oracle(zr, y, yh, t=tau)
        gw, = torch.autograd.grad(want.sum(), zr)
        assert want[0] > 0.1 and want[j] > 0.1  # the terms compete: not a saturated softmax
        rtol = 1e-10 if dtype == F64 else 1e-5
        atol = 1e-10 if dtype == F64 else fp32_loss_atol(tau)
        grtol = 1e-10 if dtype == F64 else fp32_grad_rtol(tau)
        assert torch.isfinite(out).all() and torch.isfinite(gr).all()
        assert_close_verbose(out, want.detach(), tag=f"late={late} {dtype}", rtol=rtol, atol=atol)
        assert_close_verbose(gr, gw, tag=f"late={late} {dtype} grad", rtol=grtol, scale="max")


@pytest.mark.parametrize("tau", [1e-3, 1e-2])
@pytest.mark.parametrize("variant", ["paper", "official"])
def test_fp16_small_temperature(tau, variant):
    """fp16 at small τ: the loss within 2× the error of the reference run on the same fp16 inputs
    (+ 1 ulp); the gradient (``H`` and ``u`` rounded to fp16 for the tensor-core dot, as in
    :func:`test_fp16`) within the fixed 2e-2 × max|grad| against fp64."""
    z, y, yh, a = low_tau_batch(40, 16, seed=2)
    out, g = run("triton", z, y, yh, a, torch.float16, temperature=tau, variant=variant,
                 reduction="none")
    base, _ = run("reference", z, y, yh, a, torch.float16, temperature=tau, variant=variant,
                  reduction="none")
    want, gw = oracle(z, y, yh, a, torch.float16, temperature=tau, variant=variant,
                      reduction="none")
    assert torch.isfinite(out).all() and torch.isfinite(g).all()
    assert_low_precision_close(out, base, want, tag=f"fp16 τ={tau} {variant} loss")
    assert_close_verbose(g.double(), gw, tag=f"fp16 τ={tau} {variant} grad", rtol=2e-2, scale="max")


@pytest.mark.parametrize("variant", ["paper", "official"])
def test_double_backward_gradgradcheck_triton(variant, monkeypatch):
    """``create_graph=True`` through the Triton path. The forward and the plain
    backward run the kernels; the graph-carrying gradient comes from the differentiable reference
    (no kernel backward launched under grad mode) and is checked by ``gradgradcheck`` in fp64."""
    import dirfast.kernels.conr as k

    z, y, yh, a = batch(10, 5, seed=21, weighted=True)
    y = torch.cat([y[:5], y[:5]])  # two views: every anchor has a positive (official: no NaN row)
    x = z.clone().requires_grad_()
    fn = lambda t: dirfast.conr_loss(t, y, yh, a, backend="triton", variant=variant,
                                     reduction="none")
    assert torch.isfinite(fn(x)).all() and (fn(x) != 0).sum() >= 4
    assert torch.autograd.gradgradcheck(fn, (x,), eps=1e-6, atol=1e-7)
    calls = []
    bwd = k.conr_bwd
    monkeypatch.setattr(k, "conr_bwd", lambda *a, **kw: calls.append(1) or bwd(*a, **kw))
    g, = torch.autograd.grad(fn(x).sum(), x, create_graph=True)
    assert g.grad_fn is not None and calls == []
    gp, = torch.autograd.grad(fn(x).sum(), x)
    assert calls == [1] and gp.grad_fn is None
    assert_close_verbose(g.detach(), gp, tag=f"create_graph vs kernel grad {variant}", rtol=1e-10,
                         scale="max")


@pytest.mark.parametrize("d", [5, 100])
def test_fp64_near_zero_rows(d):
    """Rows with ‖z‖ ≤ 1e-12 (clamped in the normalisation; their gradient skips the projection),
    fp64 1e-10: the clamp inside the row prologue must be the exact double 1e-12 (a Triton float
    literal is an fp32 constant, 9.99999996e-13: a 4e-9 gradient error here)."""
    z, y, yh, a = batch(20, d, seed=30 + d, weighted=True)
    z[3] = 0.0
    z[7] = 1e-14
    out, g = run("triton", z, y, yh, a, F64, variant="official", reduction="sum")
    want, gw = oracle(z, y, yh, a, variant="official", reduction="sum")
    if torch.isnan(want):
        assert torch.isnan(out)
        return
    assert_close_verbose(out, want, tag=f"near-zero rows loss d={d}", rtol=1e-10)
    assert_close_verbose(g, gw, tag=f"near-zero rows grad d={d}", rtol=1e-10, scale="max")
