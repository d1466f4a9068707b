"""Interpreter tier: the ConR kernels with leading anchors (``conr_fwd``/``conr_bwd`` ``anchors=na``:
the rows ``[0, na)``, the per-rank computation of ``conr_loss(..., gather=True)``, which puts the
rank's rows first): the forward's main pass and merge run the anchors' row blocks only and write
inactive statistics for the other rows; the backward runs the anchors' row blocks against every
column and the other row blocks, in a second launch of the ``COL_ONLY`` twin, against the anchors'
columns only (split: a chunk may get no tile — the zeroed scratch); configs without a spill-free
twin (``COL_SPILLS``: here the fp64 small-M tiles) run every row block against every column.
Against the fp64 dense reference (the anchors' row losses, zeros elsewhere, the gradient of
``Σ_{i < na} go_i·ℓ_i``, the anchors' valid count): fp64 1e-10, fp32 1e-5, fp16 2e-2 × max|grad|;
split forced 1 and 3, the small-M and the default tiles, D held and streamed, ``na`` inside a tile,
on a tile boundary, 0, 1 and M."""

import pytest
import torch

import dirfast.kernels.conr as k
from dirfast.reference import conr_loss_ref
from dirfast.testing import assert_close_verbose

pytestmark = pytest.mark.interpreter
F64 = torch.float64
POLICY = k.conr_split


def batch(m, d, seed=0):
    """Two views (every anchor has a positive), labels on a 0.5 grid + 0.25 (exact in fp32: the
    masks agree with the fp64 reference's), predictions near them."""
    g = torch.Generator().manual_seed(seed)
    b = m // 2
    y = 0.5 * torch.randint(0, 12, (b,), generator=g).to(F64) + 0.25
    y = torch.cat([y, y, y[:m - 2 * b]])
    yh = y + 0.5 * torch.randint(-3, 4, y.shape, generator=g).to(F64)
    z = torch.randn(m, d, generator=g, dtype=F64)
    a = torch.rand(m, generator=g, dtype=F64) + 0.5
    return z, y, yh, a


KW = dict(w=1.0, temperature=0.2, e=0.3)


def oracle(z, y, yh, a, win, go, official):
    x = z.clone().requires_grad_()
    rows = conr_loss_ref(x, y, yh, a, reduction="none", variant="official" if official else "paper",
                         **KW)
    keep = torch.zeros(z.shape[0], dtype=torch.bool)
    keep[win[0]:win[1]] = True
    out = torch.where(keep, rows, 0.0)
    g, = torch.autograd.grad(out, x, torch.where(keep, go, 0.0))
    dy, dyh = (y[:, None] - y[None, :]).abs(), (yh[:, None] - yh[None, :]).abs()
    pos = (dy <= 1.0) & ~torch.eye(z.shape[0], dtype=torch.bool)
    neg = (dy > 1.0) & (dyh <= 1.0)
    return out.detach(), g, int((pos.any(1) & neg.any(1) & keep).sum())


def run(z, y, yh, a, win, go, dtype, official, split=None, small=None):
    acc = F64 if dtype == F64 else torch.float32
    zz = z.to(dtype)
    out, nv, stats = k.conr_fwd(zz, y.to(acc), yh.to(acc), a.to(acc), push_exp=True,
                                keep_self=False, phantom=official, official=official,
                                weight_final=official, reduction="none", split=split, small=small,
                                anchors=win[1], **KW)
    g = k.conr_bwd(zz, y.to(acc), yh.to(acc), stats, go.to(dtype), push_exp=True, keep_self=False,
                   split=split, small=small, anchors=win[1], **KW)
    return out, nv, g


@pytest.mark.parametrize("dtype", [F64, torch.float32])
@pytest.mark.parametrize("split,small", [(1, None), (3, True), (3, False)])
@pytest.mark.parametrize("d", [12, 70])
@pytest.mark.parametrize("win", [(0, 45), (0, 30), (0, 16), (0, 1), (0, 0)])
def test_window_matches_reference(dtype, split, small, d, win):
    m = 45
    z, y, yh, a = batch(m, d, seed=d)
    if dtype != F64:  # the reference on the rounded features
        z = z.to(dtype).to(F64)
    go = torch.linspace(0.5, 1.5, m, dtype=F64)
    official = win[1] % 2 == 1
    want, gw, nvw = oracle(z, y, yh, a, win, go, official)
    out, nv, g = run(z, y, yh, a, win, go, dtype, official, split, small)
    rtol, atol = (1e-10, 1e-12) if dtype == F64 else (1e-5, 1e-6)
    tag = f"{dtype} split={split} small={small} d={d} win={win}"
    assert torch.isfinite(out).all() and torch.isfinite(g).all(), tag
    assert (out[:win[0]] == 0).all() and (out[win[1]:] == 0).all(), tag
    assert int(nv) == nvw, (tag, int(nv), nvw)
    assert_close_verbose(out.double(), want, tag=f"rows {tag}", rtol=rtol, atol=atol)
    assert_close_verbose(g.double(), gw, tag=f"grad {tag}", rtol=rtol, scale="max")


def test_window_fp16_split():
    """fp16 with a split of both launches: the merge of the anchors' rows, the backward's per-chunk
    row scales of rows without an anchor (their G terms are exact zeros)."""
    m, win = 130, (0, 12)
    z, y, yh, a = batch(m, 300, seed=4)
    z = z.half().double()
    go = torch.linspace(0.5, 1.5, m, dtype=F64)
    want, gw, nvw = oracle(z, y, yh, a, win, go, False)
    for small in (True, False):
        for kern in ("fwd", "bwd"):
            plan = POLICY(m, 300, torch.float16, "ieee", kern, split=3, small=small)
            assert plan.split == 3
        out, nv, g = run(z, y, yh, a, win, go, torch.float16, False, split=3, small=small)
        assert int(nv) == nvw and torch.isfinite(g).all()
        assert_close_verbose(out.double(), want, tag="fp16 rows", rtol=2e-3, atol=2e-3)
        assert_close_verbose(g.double(), gw, tag=f"fp16 grad small={small}", rtol=2e-2,
                             scale="max")


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_window_plan_and_launches(monkeypatch, dtype):
    """The forward's main pass plans ⌈na/BLOCK_M⌉ row blocks (not ⌈M/BLOCK_M⌉) and launches them;
    the backward launches the anchors' row blocks and then the others (COL_ONLY twin), or every row
    block once where the config has no twin (fp64 small-M tiles)."""
    full = POLICY(4096, 512, torch.bfloat16, "ieee", "fwd", split=1)
    part = POLICY(4096, 512, torch.bfloat16, "ieee", "fwd", split=1, rows=1000)
    assert part.programs == -(-1000 // part.block_m) and full.programs == -(-4096 // full.block_m)
    grids = []
    getitem = type(k._conr_fwd_kernel).__getitem__

    def rec(self, grid):
        if self in (k._conr_fwd_kernel, k._conr_bwd_kernel):
            grids.append((self is k._conr_bwd_kernel, grid))
        return getitem(self, grid)

    monkeypatch.setattr(type(k._conr_fwd_kernel), "__getitem__", rec)
    z, y, yh, a = batch(45, 12, seed=1)
    run(z, y, yh, a, (0, 20), torch.ones(45, dtype=F64), dtype, False, split=1, small=True)
    dt = str(dtype).split(".")[-1]
    fb, bb = k.FWD_SMALL[dt, "ieee"][0], k.BWD_SMALL[dt, "ieee"][0]
    rows_bm = k.ROWS_TILE[dt][0]
    fwd = [(False, (-(-45 // rows_bm),)), (False, (-(-20 // fb),)), (False, (1,))]
    bwd = ([(True, (-(-45 // bb),))] if dtype == F64
           else [(True, (-(-20 // bb),)), (True, (-(-45 // bb) - -(-20 // bb),))])
    assert grids == fwd + bwd, grids
