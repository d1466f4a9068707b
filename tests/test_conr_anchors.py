"""ConR's anchor window (the per-rank computation of ``conr_loss(..., gather=True)``): only the rows
``[a0, a1)`` are anchors, on the streaming CPU paths (the C++ row passes for 1-D labels, the torch
chunk code for ``[M, d]`` labels and with the extension masked off), through the registered op and
its eager twin. Against the fp64 dense reference: the window's row losses (the others exactly 0),
the valid count of the window, and the gradient of ``Σ_{i ∈ window} go_i·ℓ_i`` — at fp64 1e-12;
chunks that do not divide M (the backward's chunks then straddle, precede and follow the window);
empty, one-row, head, tail and full windows."""

import pytest
import torch

from dirfast.ops import conr as conr_ops
from dirfast.ops.conr import ConRFunction, conr_op
from dirfast.reference import conr_loss_ref
from dirfast.testing import assert_close_verbose

F64 = torch.float64
M = 50
WINDOWS = [(0, M), (11, 29), (0, 17), (23, M), (20, 20), (37, 38)]


def batch(m, d, seed=0, multi=False):
    """Two views (rows k and k + M/2 share a label: every anchor has a positive, so the official
    variant has no NaN row), labels on a 0.5 grid + 0.25 (exact in fp32), predictions near them."""
    g = torch.Generator().manual_seed(seed)
    b = m // 2
    shape = (b, 2) if multi else (b,)
    y = 0.5 * torch.randint(0, 12, shape, generator=g).to(F64) + 0.25
    y = torch.cat([y, y])
    yh = y + 0.5 * torch.randint(-3, 4, y.shape, generator=g).to(F64)
    z = torch.randn(m, d, generator=g, dtype=F64)
    a = torch.rand(m, generator=g, dtype=F64) + 0.5
    return z, y, yh, a


def oracle(z, y, yh, a, win, go, **kw):
    """fp64 dense reference: the window's rows, zeros elsewhere, and the gradient of Σ go·ℓ over
    the window."""
    x = z.clone().requires_grad_()
    rows = conr_loss_ref(x, y, yh, a, reduction="none", **kw)
    keep = torch.zeros(z.shape[0], dtype=torch.bool)
    keep[win[0]:win[1]] = True
    out = torch.where(keep, rows, 0.0)
    g, = torch.autograd.grad(out, x, torch.where(keep, go, 0.0))
    dist = lambda t: (t[:, None] - t[None, :]).abs().reshape(t.shape[0], t.shape[0], -1).sum(-1)
    dy, dyh = dist(y), dist(yh)
    pos = (dy <= kw["w"]) & ~torch.eye(z.shape[0], dtype=torch.bool)
    neg = (dy > kw["w"]) & (dyh <= kw["w"])
    valid = pos.any(1) & neg.any(1) & keep
    return out.detach(), g, int(valid.sum())


def kwargs(variant):
    off = variant == "official"
    return dict(w=1.0, temperature=0.2, e=0.3, pushing="exp", denominator_self=False,
                weight_final=off, phantom=off, norm="l1", variant=variant)


def cfg(kw, backend, win):
    return (kw["w"], kw["temperature"], kw["e"], kw["pushing"], kw["denominator_self"],
            kw["weight_final"], kw["phantom"], "none", kw["norm"], kw["variant"], backend, *win)


@pytest.mark.parametrize("win", WINDOWS)
@pytest.mark.parametrize("variant", ["paper", "official"])
@pytest.mark.parametrize("chunk", [7, 16, 256])
@pytest.mark.parametrize("ext", [True, False])
def test_stream_window_matches_reference(monkeypatch, win, variant, chunk, ext):
    if not ext:
        monkeypatch.setattr(conr_ops, "_ext_rows", lambda *a: None)
    z, y, yh, a = batch(M, 9, seed=chunk)
    go = torch.linspace(0.5, 1.5, M, dtype=F64)
    kw = kwargs(variant)
    want, gw, nvw = oracle(z, y, yh, a, win, go, **kw)
    pos = (z, y, yh, a, kw["w"], kw["temperature"], kw["e"], kw["pushing"], kw["denominator_self"])
    out, nv, stats = conr_ops._conr_fwd_stream(*pos, kw["weight_final"], kw["phantom"], "none",
                                               "l1", variant, chunk=chunk, anchors=win)
    g = conr_ops._conr_bwd_stream(go, z, y, yh, a, stats, kw["w"], kw["temperature"], kw["e"],
                                  kw["pushing"], kw["denominator_self"], "l1", chunk=chunk,
                                  anchors=win)
    tag = f"{variant} win={win} chunk={chunk} ext={ext}"
    assert torch.isfinite(out).all() and (out[:win[0]] == 0).all() and (out[win[1]:] == 0).all()
    assert_close_verbose(out, want, tag=f"rows {tag}", rtol=1e-12, atol=1e-12)
    assert_close_verbose(g, gw, tag=f"grad {tag}", rtol=1e-12, scale="max")
    # valid anchors: the window's rows with a positive and a negative
    assert int(nv) == nvw and (nvw > 0) == (win[1] > win[0]), (int(nv), nvw)
    if win == (20, 20):
        assert g.abs().max() == 0


@pytest.mark.parametrize("win", [(11, 29), (0, M), (49, M), (3, 3)])
@pytest.mark.parametrize("multi", [False, True])
def test_op_and_twin_window(win, multi):
    """Both front doors (``dirfast::conr`` and ``ConRFunction``) pass the window to forward and
    backward; ``[M, 2]`` labels take the torch chunk code."""
    z, y, yh, a = batch(M, 6, seed=3, multi=multi)
    go = torch.linspace(-1.0, 2.0, M, dtype=F64)
    kw = kwargs("paper")
    want, gw, nvw = oracle(z, y, yh, a, win, go, **kw)
    for front in ("op", "twin"):
        x = z.clone().requires_grad_()
        c = cfg(kw, "cpu_torch", win)
        out, nv = (conr_op(x, y, yh, a, *c)[:2] if front == "op"
                   else ConRFunction.apply(x, y, yh, a, c))
        g, = torch.autograd.grad(out, x, go)
        tag = f"{front} win={win} multi={multi}"
        assert int(nv) == nvw
        assert_close_verbose(out.detach(), want, tag=f"rows {tag}", rtol=1e-12, atol=1e-12)
        assert_close_verbose(g, gw, tag=f"grad {tag}", rtol=1e-12, scale="max")


def test_window_double_backward():
    """``create_graph=True`` through a window: the differentiable route masks the rows outside."""
    z, y, yh, a = batch(12, 4, seed=5)
    kw = kwargs("paper")
    win = (3, 8)
    x = z.clone().requires_grad_()
    out = ConRFunction.apply(x, y, yh, a, cfg(kw, "cpu_torch", win))[0]
    g, = torch.autograd.grad(out.sum(), x, create_graph=True)
    _, gw, _ = oracle(z, y, yh, a, win, torch.ones(12, dtype=F64), **kw)
    assert_close_verbose(g.detach(), gw, tag="double backward first grad", rtol=1e-12, scale="max")
    assert torch.isfinite(torch.autograd.grad(g.square().sum(), x)[0]).all()


def test_window_errors():
    z, y, yh, a = batch(10, 3)
    kw = kwargs("paper")
    pos = (z, y, yh, a, kw["w"], kw["temperature"], kw["e"], kw["pushing"], False, False, False)
    with pytest.raises(ValueError, match="anchors must satisfy"):
        conr_ops._conr_fwd_stream(*pos, "none", "l1", "paper", anchors=(4, 11))
    with pytest.raises(ValueError, match="reduction='none'"):
        conr_ops._conr_fwd_stream(*pos, "mean", "l1", "paper", anchors=(2, 5))
