"""Interpreter tier: ConR's Triton kernels on multi-dimensional labels ``[M, d]`` (``d`` = 2, 3) with
the ``"l1"`` (``Σ_k |Δy_k|``) and ``"l2"`` (``sqrt(Σ_k Δy_k²)``) label distances, computed per tile
in the kernels (``dirfast.kernels.conr._label_dist``: a loop over the components).

Most tests call the registered op's eager twin (``dirfast.ops.conr.ConRFunction``) with
``backend="triton"`` — the kernels' entry point — one goes through the public ``dirfast.conr_loss``
(which sends ``[M, d]`` labels to the kernels too); all compare with the fp64 dense reference
(``dirfast.reference.conr_loss_ref``): fp64 1e-10, fp32 1e-5 (gradients scaled by the largest), with
and without the column split, both variants, weighted, the held and the streamed-D configs."""

import pytest
import torch

import dirfast.kernels.conr as k
from dirfast.ops.conr import ConRFunction
from dirfast.reference import conr_loss_ref
from dirfast.testing import assert_close_verbose

pytestmark = pytest.mark.interpreter
F64 = torch.float64
#: the launchers' policy, before any test wraps it
POLICY = k.conr_split


def batch(m, d, dl, seed=0):
    """Labels and predictions on a 0.3-spaced grid: an l1 distance is 0.3·n and an l2 distance
    0.3·√n (n integer), never within 4e-3 of w = 1 (kinks of the masks); weights in [0.5, 1.5)."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(m, d, generator=g, dtype=F64)
    y = 0.3 * torch.randint(0, 6, (m, dl), generator=g).to(F64)
    yh = y + 0.3 * torch.randint(-2, 3, (m, dl), generator=g).to(F64)
    a = torch.rand(m, generator=g, dtype=F64) + 0.5
    return z, y, yh, a


def kernel(z, y, yh, a, dtype, norm, variant, reduction="none", go=None):
    x = z.to(dtype).requires_grad_()
    acc = F64 if dtype == F64 else torch.float32
    out, _ = ConRFunction.apply(x, y.to(acc), yh.to(acc), a.to(acc), (1.0, 0.07, 0.01, "exp", False,
                                variant == "official", variant == "official", reduction, norm,
                                variant, "triton"))
    g, = torch.autograd.grad(out, x, go if go is not None else torch.ones_like(out))
    return out.detach(), g


def reference(z, y, yh, a, dtype, norm, variant, reduction="none", go=None):
    acc = F64 if dtype == F64 else torch.float32
    r = lambda t: t.to(acc).to(F64)  # the labels, predictions and weights the kernels saw
    x = z.to(dtype).to(F64).requires_grad_()
    out = conr_loss_ref(x, r(y), r(yh), r(a), w=1.0, temperature=0.07, e=0.01, variant=variant,
                        reduction=reduction, norm=norm)
    g, = torch.autograd.grad(out, x, go.double() if go is not None else torch.ones_like(out))
    return out.detach(), g


def distances_away_from_w(y, norm):
    diff = y[:, None, :] - y[None, :, :]
    dist = diff.abs().sum(-1) if norm == "l1" else diff.pow(2).sum(-1).sqrt()
    return ((dist - 1.0).abs() >= 4e-3).all()


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("norm", ["l1", "l2"])
@pytest.mark.parametrize("dl", [2, 3])
@pytest.mark.parametrize("variant", ["paper", "official"])
def test_multidim_labels_match_reference(dtype, norm, dl, variant):
    z, y, yh, a = batch(37, 16, dl, seed=dl)
    assert distances_away_from_w(y, norm) and distances_away_from_w(yh, norm)
    go = torch.linspace(0.5, 1.5, 37, dtype=dtype)
    out, g = kernel(z, y, yh, a, dtype, norm, variant, go=go)
    want, gw = reference(z, y, yh, a, dtype, norm, variant, go=go)
    rtol = 1e-10 if dtype == F64 else 1e-5
    tag = f"{dtype} {norm} dl={dl} {variant}"
    nan = torch.isnan(want)
    assert torch.equal(torch.isnan(out), nan), tag
    assert_close_verbose(out[~nan].double(), want[~nan], tag=f"loss {tag}", rtol=rtol,
                         atol=rtol * 0.1)
    if not nan.any():
        assert_close_verbose(g.double(), gw, tag=f"grad {tag}", rtol=rtol, scale="max")


@pytest.mark.parametrize("norm", ["l1", "l2"])
@pytest.mark.parametrize("split", [1, 3])
def test_multidim_streamed_and_split(monkeypatch, norm, split):
    """D = 70 (streamed D), M = 45, dl = 3, the split forced off and on: fp64, 1e-10. (``[M, dl]``
    labels never take the small-M tiles: the policy plans the default ones.)"""
    plans = []

    def forced(m, d, dtype, precision="ieee", kernel="fwd", multi=False, **_):
        assert multi
        plans.append(POLICY(m, d, dtype, precision, kernel, split=split, multi=multi))
        return plans[-1]

    monkeypatch.setattr(k, "conr_split", forced)
    z, y, yh, a = batch(45, 70, 3, seed=11)
    assert distances_away_from_w(y, norm) and distances_away_from_w(yh, norm)
    out, g = kernel(z, y, yh, a, F64, norm, "paper", reduction="sum")
    want, gw = reference(z, y, yh, a, F64, norm, "paper", reduction="sum")
    assert len(plans) == 2 and all(p.split == min(split, -(-45 // p.block_n)) for p in plans)
    assert not any(p.small for p in plans)
    assert_close_verbose(out, want, tag=f"loss {norm} S={split}", rtol=1e-10)
    assert_close_verbose(g, gw, tag=f"grad {norm} S={split}", rtol=1e-10, scale="max")


def test_one_column_labels_take_the_multidim_configs_and_agree_with_1d(monkeypatch):
    """``[M, 1]`` given straight to the kernels runs the multi-dimensional configs (``dl = 1``) and
    equals the 1-D fast path bit for bit in fp64 (the same arithmetic)."""
    keys = []
    real_pick = k.pick
    monkeypatch.setattr(k, "pick", lambda fn, key: keys.append(key) or real_pick(fn, key))
    z, y, yh, a = batch(30, 16, 1, seed=3)
    out2, g2 = kernel(z, y, yh, a, F64, "l2", "paper")
    assert ["ml" in key for key in keys if key[1] in k.PRECISIONS] == [True, True]
    keys.clear()
    out1, g1 = kernel(z, y[:, 0], yh[:, 0], a, F64, "l2", "paper")
    assert not any("ml" in key for key in keys)
    assert torch.equal(out1, out2) and torch.equal(g1, g2)


def test_multidim_policy_uses_the_default_tiles():
    for kernel in ("fwd", "bwd"):
        assert POLICY(512, 512, "float32", "ieee", kernel).programs >= k.TARGET_PROGRAMS
        plan = POLICY(512, 512, "float32", "ieee", kernel, multi=True)
        assert not plan.small and plan.split > 1
    assert POLICY(512, 512, "float32", "ieee", "fwd").small  # the fwd table tile is too wide there
    with pytest.raises(ValueError, match="1-D labels"):
        POLICY(512, 512, "float32", "ieee", "fwd", small=True, multi=True)


@pytest.mark.parametrize("norm", ["l1", "l2"])
@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_public_conr_loss_runs_the_kernels_on_multidim_labels(monkeypatch, norm, dtype):
    """``dirfast.conr_loss(..., backend="triton")`` with ``[M, 3]`` labels launches the kernels (no
    fallback to the streaming path) and matches the reference, loss and gradient."""
    import dirfast

    calls = []
    fwd = k.conr_fwd
    monkeypatch.setattr(k, "conr_fwd", lambda *a, **kw: calls.append(1) or fwd(*a, **kw))
    z, y, yh, a = batch(37, 20, 3, seed=5)
    x = z.to(dtype).requires_grad_()
    out = dirfast.conr_loss(x, y.to(dtype), yh.to(dtype), a.to(dtype), norm=norm,
                            variant="official", backend="triton")
    (g,) = torch.autograd.grad(out, x)
    assert calls == [1]
    xr = z.clone().requires_grad_()
    want = conr_loss_ref(xr, y, yh, a, norm=norm, variant="official")
    (gr,) = torch.autograd.grad(want, xr)
    tol = 1e-10 if dtype == F64 else 1e-5
    assert_close_verbose(out.double(), want, rtol=tol, atol=tol, tag=f"loss {norm} {dtype}")
    scale = gr.abs().max()
    assert_close_verbose(g.double() / scale, gr / scale, rtol=tol, atol=tol,
                         tag=f"grad {norm} {dtype}")
