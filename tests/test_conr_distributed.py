"""ConR with ``gather=True`` under torch.distributed: gloo, 2 CPU processes (one spawn for the whole
file: every case runs in the same two workers), streaming CPU path, fp64.

Each rank returns the loss of its local anchors against the gathered batch, so the ranks' losses
**sum** to the single-process loss of the concatenated batch (1e-12 relative) and the ranks' feature
gradients, concatenated, equal the single-process gradient (1e-12 × max|grad|): both variants,
weighted and unweighted, every reduction (``"none"``: the local rows, with a random upstream
gradient), unequal (23 + 41) and equal (32 + 32) local batches, ``[M, d]`` labels, the reference
backend, ``ConRLoss``; under DDP, ``R ×`` the ConR term gives the single-process parameter gradient
(the documented factor); a one-rank group leaves the local loss unchanged. In this process (no group
initialised): ``gather=False`` is unchanged and ``gather=True`` raises a clear error."""

import os
import tempfile

import pytest
import torch

import dirfast
from dirfast.testing import assert_close_verbose

from _dist_helpers import gloo_available, init_gloo, spawn_and_wait

WORLD = 2
F64 = torch.float64
D = 12
TIMEOUT = 120.0

#: (id, sizes per rank, variant, reduction, weighted, extra kwargs)
CASES = [(f"{v}-{r}-{'w' if wt else 'u'}", (23, 41), v, r, wt, {})
         for v in ("paper", "official") for r in ("mean", "sum", "valid_anchors", "none")
         for wt in (False, True)]
CASES += [
    ("equal-official-mean-w", (32, 32), "official", "mean", True, {}),
    ("equal-paper-valid-u", (32, 32), "paper", "valid_anchors", False, {}),
    ("multidim-l2-sum", (23, 41), "paper", "sum", True, {"norm": "l2"}),
    ("reference-official-mean", (23, 41), "official", "mean", True, {"backend": "reference"}),
    ("knobs-linear-self", (23, 41), "paper", "mean", True,
     {"pushing": "linear", "denominator_self": True, "weight_final": True}),
]
CASE_IDS = [c[0] for c in CASES]


def _global_batch(case_id, n):
    """Two views of ``n/2`` samples, shuffled (every anchor has a positive: the official variant is
    finite), integer-ish labels (no |Δy| at w = 1), predictions on a 0.5 grid; fp64."""
    g = torch.Generator().manual_seed(sum(map(ord, case_id)))
    b = n // 2
    multidim = case_id.startswith("multidim")
    y = torch.randint(0, 10, (b, 2) if multidim else (b,), generator=g).to(F64)
    y = torch.cat([y, y])
    yh = y + 0.5 * torch.randint(-3, 4, y.shape, generator=g).to(F64)
    perm = torch.randperm(n, generator=g)
    z = torch.randn(n, D, generator=g, dtype=F64)
    a = torch.rand(n, generator=g, dtype=F64) + 0.5
    go = torch.rand(n, generator=g, dtype=F64) + 0.5  # upstream gradient of "none" rows
    return z, y[perm], yh[perm], a, go


def _kw(variant, reduction, extra):
    kw = dict(variant=variant, reduction=reduction, backend="cpu")
    kw.update(extra)
    return kw


def _loss_grad(z, y, yh, a, go, kw, **more):
    x = z.clone().requires_grad_()
    out, nv = dirfast.conr_loss(x, y, yh, a, return_valid=True, **kw, **more)
    g, = torch.autograd.grad(out, x, go if out.dim() else None)
    return out.detach(), g, nv


def _ddp_setup():
    g = torch.Generator().manual_seed(9)
    x = torch.randn(40, 5, generator=g, dtype=F64)
    y = torch.cat([torch.randint(0, 6, (20,), generator=g)] * 2).to(F64)
    yh = y + 0.5 * torch.randint(-2, 3, (40,), generator=g).to(F64)
    torch.manual_seed(0)
    model = torch.nn.Linear(5, 8).double()
    return model, x, y, yh


def _worker(rank, port, out_dir):
    init_gloo(rank, WORLD, port)
    import torch.distributed as dist

    try:
        res = {}
        for case_id, sizes, variant, reduction, weighted, extra in CASES:
            z, y, yh, a, go = _global_batch(case_id, sum(sizes))
            lo = sum(sizes[:rank])
            sl = slice(lo, lo + sizes[rank])
            out, g, nv = _loss_grad(z[sl], y[sl], yh[sl], a[sl] if weighted else None, go[sl],
                                    _kw(variant, reduction, extra), gather=True)
            res[case_id] = (out, g, nv)
        # ConRLoss module, gathered
        z, y, yh, a, _ = _global_batch("module", 60)
        sl = slice(0, 25) if rank == 0 else slice(25, 60)
        crit = dirfast.ConRLoss(variant="official", gather=True)
        x = z[sl].clone().requires_grad_()
        out = crit(x, y[sl], yh[sl], a[sl])
        out.backward()
        res["module"] = (out.detach(), x.grad, crit.num_valid_anchors)
        # a group of one rank: gather is the identity (no communication, local loss)
        groups = [dist.new_group([r]) for r in range(WORLD)]
        res["own-group"] = _loss_grad(z[sl], y[sl], yh[sl], a[sl], None,
                                      _kw("official", "mean", {}), gather=True,
                                      group=groups[rank])
        # DDP: R × the ConR term gives the single-process parameter gradient of the global batch
        model, x, y, yh = _ddp_setup()
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        sl = slice(0, 17) if rank == 0 else slice(17, 40)
        loss = WORLD * dirfast.conr_loss(ddp(x[sl]), y[sl], yh[sl], variant="official",
                                         gather=True)
        loss.backward()
        res["ddp"] = [p.grad.clone() for p in model.parameters()]
        torch.save(res, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def ranks():
    if not gloo_available():
        pytest.skip("torch.distributed with gloo is not available")
    with tempfile.TemporaryDirectory() as out_dir:
        spawn_and_wait(_worker, (out_dir,), world=WORLD, timeout_s=TIMEOUT,
                       what="distributed ConR test")
        return [torch.load(os.path.join(out_dir, f"rank{r}.pt"), weights_only=False)
                for r in range(WORLD)]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_gathered_ranks_sum_to_single_process(ranks, case):
    case_id, sizes, variant, reduction, weighted, extra = case
    z, y, yh, a, go = _global_batch(case_id, sum(sizes))
    kw = _kw(variant, reduction, extra)
    a = a if weighted else None
    want, gw, nvw = _loss_grad(z, y, yh, a, go, kw)  # one process: the concatenated batch
    assert torch.isfinite(want).all() and int(nvw) > 0
    outs = [ranks[r][case_id][0] for r in range(WORLD)]
    grads = [ranks[r][case_id][1] for r in range(WORLD)]
    for r in range(WORLD):
        assert outs[r].dtype == F64 and grads[r].shape == (sizes[r], D)
        assert torch.equal(ranks[r][case_id][2], nvw)  # valid anchors of the gathered batch
    if reduction == "none":
        got = torch.cat(outs)
        assert_close_verbose(got, want, tag=f"{case_id} rows", rtol=1e-12, scale="max")
    else:
        got = outs[0] + outs[1]
        assert_close_verbose(got, want, tag=f"{case_id} loss sum", rtol=1e-12)
        assert abs(outs[0].item()) > 1e-3 and abs(outs[1].item()) > 1e-3  # both ranks contribute
    assert_close_verbose(torch.cat(grads), gw, tag=f"{case_id} grad", rtol=1e-12, scale="max")
    # the gather changed the result: the local batch alone gives another loss
    local, _, _ = _loss_grad(z[:sizes[0]], y[:sizes[0]], yh[:sizes[0]],
                             None if a is None else a[:sizes[0]], go[:sizes[0]], kw)
    assert not torch.allclose(local, outs[0], rtol=1e-6)


def test_gathered_module_and_one_rank_group(ranks):
    z, y, yh, a, _ = _global_batch("module", 60)
    crit = dirfast.ConRLoss(variant="official")
    x = z.clone().requires_grad_()
    want = crit(x, y, yh, a)
    want.backward()
    m0, m1 = ranks[0]["module"], ranks[1]["module"]
    assert_close_verbose(m0[0] + m1[0], want.detach(), tag="module loss sum", rtol=1e-12)
    assert_close_verbose(torch.cat([m0[1], m1[1]]), x.grad, tag="module grad", rtol=1e-12,
                         scale="max")
    assert torch.equal(m0[2], crit.num_valid_anchors) and torch.equal(m1[2], crit.num_valid_anchors)
    kw = _kw("official", "mean", {})
    for r, sl in enumerate((slice(0, 25), slice(25, 60))):
        own, g_own, _ = ranks[r]["own-group"]
        local, g_local, _ = _loss_grad(z[sl], y[sl], yh[sl], a[sl], None, kw)
        # (bitwise up to the thread count: the workers run one thread)
        assert_close_verbose(own, local, tag=f"one-rank group loss {r}", rtol=1e-14)
        assert_close_verbose(g_own, g_local, tag=f"one-rank group grad {r}", rtol=1e-13,
                             scale="max")


def test_ddp_world_size_factor_gives_single_process_gradient(ranks):
    model, x, y, yh = _ddp_setup()
    loss = dirfast.conr_loss(model(x), y, yh, variant="official")
    loss.backward()
    for p, g0, g1 in zip(model.parameters(), ranks[0]["ddp"], ranks[1]["ddp"]):
        assert torch.equal(g0, g1)  # DDP synchronised the ranks
        assert_close_verbose(g0, p.grad, tag="DDP parameter grad", rtol=1e-12, scale="max")


def test_gather_off_without_process_group_and_error_when_on():
    import torch.distributed as dist

    assert not (dist.is_available() and dist.is_initialized())
    z, y, yh, a, go = _global_batch("local", 30)
    plain = _loss_grad(z, y, yh, a, go, _kw("official", "mean", {}))
    off = _loss_grad(z, y, yh, a, go, _kw("official", "mean", {}), gather=False)
    assert all(torch.equal(p, o) for p, o in zip(plain, off))
    with pytest.raises(RuntimeError, match=r"conr_loss: gather=True needs an initialised process "
                                           r"group.*init_process_group"):
        dirfast.conr_loss(z, y, yh, a, gather=True)
    crit = dirfast.ConRLoss(gather=True)  # constructing is fine: the group may come later
    assert "gather=True" in repr(crit)
    with pytest.raises(RuntimeError, match="init_process_group"):
        crit(z, y, yh, a)
