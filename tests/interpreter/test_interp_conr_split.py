"""Interpreter tier: the ConR kernels with the column split forced on (flash-decoding style: the main
forward pass and the backward run per (row block, column chunk), the forward's merge stage and the
backward's reduce kernel combine the chunks in a fixed order).

The split is forced through the policy the launchers call (``dirfast.kernels.conr.conr_split``,
monkeypatched to return ``split=S`` and, for streamed D, the small-M tiles or not), so the public
``dirfast.conr_loss(..., backend="triton")`` path is exercised end to end. Each case is compared with
the fp64 dense reference (``dirfast.reference.conr_loss_ref``) and with the same kernels unsplit
(``S = 1``): fp64 1e-10, fp32 1e-5 (gradients scaled by the largest), fp16 the 2× rule on the loss
and 2e-2 × max|grad| on the gradient (the tensor-core dot of fp16 ``H``, as ``test_interp_conr``).
M is never a multiple of the tiles; chunk sizes differ by one tile (balanced runs)."""

import pytest
import torch

import dirfast
import dirfast.kernels.conr as k
from dirfast.testing import assert_close_verbose, assert_low_precision_close

pytestmark = pytest.mark.interpreter
F64 = torch.float64
#: the launchers' policy, before any test wraps it
POLICY = k.conr_split


def batch(m, d, seed=0, weighted=False, scale=1.0):
    """Integer-ish labels (0.25 offsets keep |Δy| away from w = 1), predictions near them."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(m, d, generator=g, dtype=F64)
    y = (torch.randint(0, 8, (m,), generator=g).to(F64)
         + 0.25 * torch.randint(0, 2, (m,), generator=g)) * scale
    yh = y + torch.randn(m, generator=g, dtype=F64) * 1.5 * scale
    a = torch.rand(m, generator=g, dtype=F64) + 0.5 if weighted else None
    return z, y, yh, a


def force(monkeypatch, split, small=None):
    """Every ConR launch of the test plans ``split`` chunks (``small``: the small-M tiles, streamed
    D only); returns the list of plans the launchers got."""
    real = POLICY
    plans = []

    def forced(m, d, dtype, precision="ieee", kernel="fwd", multi=False, **_):
        plan = real(m, d, dtype, precision, kernel, split=split, small=small, multi=multi)
        plans.append((kernel, plan))
        return plan

    monkeypatch.setattr(k, "conr_split", forced)
    return plans


def run(z, y, yh, a, dtype, go=None, **kw):
    x = z.to(dtype).requires_grad_()
    cast = (lambda t: None if t is None else t.to(dtype)) if dtype != F64 else (lambda t: t)
    out = dirfast.conr_loss(x, cast(y), cast(yh), cast(a), backend="triton", **kw)
    g, = torch.autograd.grad(out, x, go if go is not None else torch.ones_like(out))
    return out.detach(), g


def oracle(z, y, yh, a, dtype, go=None, **kw):
    """fp64 reference on the (rounded) inputs the kernels saw."""
    r = lambda t: None if t is None else t.to(dtype).to(F64)
    x = r(z).requires_grad_()
    out = dirfast.conr_loss(x, r(y), r(yh), r(a), backend="reference", **kw)
    g, = torch.autograd.grad(out, x, go.double() if go is not None else torch.ones_like(out))
    return out.detach(), g


def tols(dtype):
    return (1e-10, 1e-12) if dtype == F64 else (1e-5, 1e-6)


def check(out, g, want, gw, dtype, tag):
    rtol, atol = tols(dtype)
    assert torch.equal(torch.isnan(out), torch.isnan(want)), f"NaN pattern {tag}"
    ok = ~torch.isnan(want)
    assert_close_verbose(out[ok].double(), want[ok].double(), tag=f"loss {tag}", rtol=rtol,
                         atol=atol)
    assert_close_verbose(g.double(), gw.double(), tag=f"grad {tag}", rtol=rtol, scale="max")


@pytest.mark.parametrize("variant", ["paper", "official"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", ["none", "mean", "valid_anchors"])
def test_fp32_split_matches_reference_and_unsplit(monkeypatch, variant, weighted, reduction):
    """M = 45 (not a multiple of any tile), D = 70 streamed with the small-M 16 × 16 tiles: 3 row
    blocks × 3 chunks of 1 column tile each (the last one partial); plus the default tiles."""
    z, y, yh, a = batch(45, 70, seed=5, weighted=weighted)
    y = torch.cat([y[:22], y[:23]])  # two views: anchors have positives (official: no NaN row)
    go = torch.linspace(0.5, 1.5, 45) if reduction == "none" else None
    kw = dict(variant=variant, reduction=reduction)
    want, gw = oracle(z, y, yh, a, torch.float32, go=go, **kw)
    for small in (True, False):
        plans = force(monkeypatch, 1, small)
        base, gb = run(z, y, yh, a, torch.float32, go=go, **kw)
        plans = force(monkeypatch, 3, small)
        out, g = run(z, y, yh, a, torch.float32, go=go, **kw)
        assert len(plans) == 2 and all(p.small == small for _, p in plans)
        assert all(p.split == min(3, -(-45 // p.block_n)) > 1 for _, p in plans)
        tag = f"{variant} w={weighted} {reduction} small={small}"
        check(out, g, want, gw, torch.float32, tag)
        check(out, g, base, gb, torch.float32, tag + " vs unsplit")


@pytest.mark.parametrize("variant", ["paper", "official"])
@pytest.mark.parametrize("m,d,split", [(37, 16, 2), (45, 24, 3), (70, 40, 4), (33, 70, 2)])
def test_fp64_split_matches_reference(monkeypatch, variant, m, d, split):
    """fp64 through the split kernels (held anchor tiles for D ≤ 64, streamed above): 1e-10."""
    z, y, yh, a = batch(m, d, seed=3 * m + d, weighted=True)
    kw = dict(variant=variant, reduction="sum")
    want, gw = oracle(z, y, yh, a, F64, **kw)
    force(monkeypatch, 1)
    base, gb = run(z, y, yh, a, F64, **kw)
    plans = force(monkeypatch, split)
    out, g = run(z, y, yh, a, F64, **kw)
    assert all(p.split == min(split, -(-m // p.block_n)) > 1 for _, p in plans)
    if torch.isnan(want):
        assert torch.isnan(out) and torch.isnan(base)
        return
    check(out, g, want, gw, F64, f"fp64 m={m} d={d} S={split}")
    check(out, g, base, gb, F64, f"fp64 m={m} d={d} S={split} vs unsplit")


@pytest.mark.parametrize("knobs", [
    dict(pushing="linear"), dict(denominator_self=True), dict(phantom=True, weight_final=True),
    dict(reduction="sum", variant="official", pushing="linear", denominator_self=True),
])
def test_fp32_split_knobs(monkeypatch, knobs):
    z, y, yh, a = batch(45, 24, seed=7, weighted=True)
    want, gw = oracle(z, y, yh, a, torch.float32, **knobs)
    force(monkeypatch, 3)
    out, g = run(z, y, yh, a, torch.float32, **knobs)
    check(out, g, want, gw, torch.float32, f"{knobs}")


def test_chunk_without_valid_columns_and_rows_without_terms(monkeypatch):
    """M = 48, D = 16, fp32 held tiles (BLOCK_N = 16), split 3: chunk 2 is columns 32–47, whose
    labels and predictions are far from every other sample and from each other — for rows 0–31 that
    chunk holds no positive and no negative (its running max stays −inf, its sum 0: the merge must
    skip it), and rows 32–47 have no positive and no negative at all (paper: loss 0, no gradient;
    official: NaN, as the official code)."""
    g = torch.Generator().manual_seed(8)
    z = torch.randn(48, 16, generator=g, dtype=F64)
    y = torch.randint(0, 6, (48,), generator=g).to(F64) + 0.25
    yh = y + torch.randn(48, generator=g, dtype=F64)
    far = torch.arange(16, dtype=F64)
    y[32:], yh[32:] = 1000.0 + 10.0 * far, -1000.0 - 10.0 * far
    plans = force(monkeypatch, 3)
    out, gr = run(z, y, yh, None, torch.float32, reduction="none")
    assert all(p.split == 3 and p.block_n == 16 for _, p in plans)
    want, gw = oracle(z, y, yh, None, torch.float32, reduction="none")
    assert (want[32:] == 0).all() and (want[:32] > 0).sum() >= 16
    assert (out[32:] == 0).all() and (gr[32:] == 0).all()
    check(out, gr, want, gw, torch.float32, "empty chunk")
    out, _ = run(z, y, yh, None, torch.float32, reduction="none", variant="official")
    want, _ = oracle(z, y, yh, None, torch.float32, reduction="none", variant="official")
    assert torch.isnan(out[32:]).all() and torch.isnan(want[32:]).all()
    assert_close_verbose(out[:32].double(), want[:32], tag="official rows with terms", rtol=1e-5)
    # the valid-anchor count merges the chunks' |P|, |N| too
    _, nv = dirfast.conr_loss(z.float(), y.float(), yh.float(), backend="triton", return_valid=True)
    _, nv_ref = dirfast.conr_loss(z, y, yh, backend="reference", return_valid=True)
    assert nv.item() == nv_ref.item() and 16 <= nv_ref.item() <= 32


@pytest.mark.parametrize("dtype", [torch.float32, F64, torch.float16])
def test_split_is_deterministic(monkeypatch, dtype):
    z, y, yh, a = batch(45, 70, seed=9, weighted=True)
    plans = force(monkeypatch, 3)
    out1, g1 = run(z, y, yh, a, dtype, reduction="none")
    out2, g2 = run(z, y, yh, a, dtype, reduction="none")
    assert all(p.split > 1 for _, p in plans)
    assert torch.equal(out1, out2) and torch.equal(g1, g2)


@pytest.mark.parametrize("small", [True, False])
def test_fp16_split_large_gradients(monkeypatch, small):
    """fp16: each chunk's partial ``dU`` is kept in units of its own running power-of-two row scale
    (``hs[c]``), the reduce kernel multiplies each by its scale before summing in fp32. Labels in the
    thousands (``e·Δy`` up to ~60: ``H`` far beyond fp16's range) and an incoming gradient of 1e3
    per row: finite, the loss within the 2× rule, the gradient within 2e-2 × max|grad| of fp64."""
    m = 130  # ⌈M / BLOCK_N⌉ ≥ 3 column tiles for the table's fp16 tiles (64 × 64 forward)
    z, y, yh, a = batch(m, 300, seed=2, weighted=True, scale=700.0)
    y = y + 1000.0
    yh = y + torch.randn(m, dtype=F64) * 3000.0
    go = torch.full((m,), 1e3)
    kw = dict(w=500.0, e=0.01, reduction="none")
    plans = force(monkeypatch, 3, small)
    out, g = run(z, y, yh, a, torch.float16, go=go.half(), **kw)
    assert {kern for kern, _ in plans} == {"fwd", "bwd"}
    assert all(p.split == 3 and p.small == small for _, p in plans), plans
    want, gw = oracle(z, y, yh, a, torch.float16, go=go, **kw)
    base = dirfast.conr_loss(z.half(), y.half(), yh.half(), a.half(), backend="reference", **kw)
    assert torch.isfinite(out).all() and torch.isfinite(g).all()
    assert gw.abs().max() > 1e2  # large gradients indeed
    assert_low_precision_close(out, base, want, tag=f"fp16 split loss small={small}")
    assert_close_verbose(g.double(), gw, tag=f"fp16 split grad small={small}", rtol=2e-2, scale="max")


def test_policy_split_reaches_the_merge_and_reduce(monkeypatch):
    """Without forcing the plan: at M = 100, D = 70 (fp32, streamed), with the no-split threshold
    ``SPLIT_MIN_MD`` lowered to 0 (a GPU-size batch is too slow here), the policy itself splits both
    launches (the small-M tiles, 7 row blocks × 3 chunks); the results match the reference."""
    monkeypatch.setattr(k, "SPLIT_MIN_MD", 0)
    calls = []
    real = k.conr_split
    monkeypatch.setattr(k, "conr_split", lambda *a, **kw: calls.append(real(*a, **kw)) or calls[-1])
    z, y, yh, a = batch(100, 70, seed=4, weighted=True)
    out, g = run(z, y, yh, a, torch.float32, variant="official")
    want, gw = oracle(z, y, yh, a, torch.float32, variant="official")
    assert [c.split > 1 for c in calls] == [True, True], calls
    check(out, g, want, gw, torch.float32, "policy split")
