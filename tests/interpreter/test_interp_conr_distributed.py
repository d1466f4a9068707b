"""Interpreter tier: ConR across ranks on the Triton kernels (``backend="triton"``, CPU tensors under
``TRITON_INTERPRET=1``): gloo, 2 spawned CPU processes (one spawn for the file), unequal local batches
(23 + 41). Each rank runs the kernels on **its anchor window** of the gathered batch only — the op
receives ``anchors = (0, m_r)``, its rows put first, in the forward and the backward (recorded) —
and the ranks' losses sum to the single-process loss of the concatenated batch, their gradients concatenate to its
gradient (fp64 1e-10; fp32 1e-5 of the fp64 result on the rounded inputs), the valid count is the
gathered batch's."""

import os
import tempfile

import pytest
import torch

import dirfast
from dirfast.testing import assert_close_verbose

from _dist_helpers import gloo_available, init_gloo, spawn_and_wait

pytestmark = pytest.mark.interpreter
WORLD = 2
F64 = torch.float64
D = 12
SIZES = (23, 41)
TIMEOUT = 300.0
#: (id, dtype, variant, reduction, weighted)
CASES = [("paper-valid-w", F64, "paper", "valid_anchors", True),
         ("official-none-u", F64, "official", "none", False),
         ("official-mean-w-fp32", torch.float32, "official", "mean", True)]


def _batch(n, seed):
    """Two views (every anchor has a positive), labels on a 0.5 grid + 0.25 (exact in fp32),
    shuffled; fp64."""
    g = torch.Generator().manual_seed(seed)
    y = 0.5 * torch.randint(0, 12, (n // 2,), generator=g).to(F64) + 0.25
    y = torch.cat([y, y])
    yh = y + 0.5 * torch.randint(-3, 4, y.shape, generator=g).to(F64)
    perm = torch.randperm(n, generator=g)
    z = torch.randn(n, D, generator=g, dtype=F64)
    a = torch.rand(n, generator=g, dtype=F64) + 0.5
    go = torch.rand(n, generator=g, dtype=F64) + 0.5
    return z, y[perm], yh[perm], a, go


def _run(z, y, yh, a, go, dtype, variant, reduction, backend, **more):
    x = z.to(dtype).requires_grad_()
    cast = lambda t: None if t is None else t.to(dtype)
    out, nv = dirfast.conr_loss(x, cast(y), cast(yh), cast(a), variant=variant,
                                reduction=reduction, backend=backend, return_valid=True, **more)
    g, = torch.autograd.grad(out, x, go.to(dtype) if out.dim() else None)
    return out.detach(), g, nv


def _worker(rank, port, out_dir):
    init_gloo(rank, WORLD, port)
    import torch.distributed as dist
    from dirfast.ops import conr as co

    seen = []
    fwd, bwd = co._PATHS["triton"]

    def rec(kind, fn):
        def wrapped(*a, **kw):
            seen.append((kind, kw.get("anchors")))
            return fn(*a, **kw)
        return wrapped

    co._PATHS["triton"] = (rec("fwd", fwd), rec("bwd", bwd))
    try:
        res = {}
        lo = sum(SIZES[:rank])
        sl = slice(lo, lo + SIZES[rank])
        for i, (cid, dtype, variant, reduction, weighted) in enumerate(CASES):
            z, y, yh, a, go = _batch(sum(SIZES), seed=i)
            res[cid] = _run(z[sl], y[sl], yh[sl], a[sl] if weighted else None, go[sl], dtype,
                            variant, reduction, "triton", gather=True)
        res["seen"] = seen
        torch.save(res, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        co._PATHS["triton"] = (fwd, bwd)
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def ranks():
    if not gloo_available():
        pytest.skip("torch.distributed with gloo is not available")
    assert os.environ.get("TRITON_INTERPRET") == "1"  # the workers inherit it
    with tempfile.TemporaryDirectory() as out_dir:
        spawn_and_wait(_worker, (out_dir,), world=WORLD, timeout_s=TIMEOUT,
                       what="distributed ConR interpreter test")
        return [torch.load(os.path.join(out_dir, f"rank{r}.pt"), weights_only=False)
                for r in range(WORLD)]


def test_each_rank_runs_its_anchor_window(ranks):
    for r in range(WORLD):  # this rank's rows put first: the leading window (0, m_r)
        want = [("fwd", (0, SIZES[r])), ("bwd", (0, SIZES[r]))] * len(CASES)
        assert ranks[r]["seen"] == want, ranks[r]["seen"]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_triton_ranks_sum_to_single_process(ranks, case):
    cid, dtype, variant, reduction, weighted = case
    z, y, yh, a, go = _batch(sum(SIZES), seed=CASES.index(case))
    a = a if weighted else None
    r = lambda t: None if t is None else t.to(dtype).to(F64)  # fp64 on the rounded inputs
    want, gw, nvw = _run(r(z), r(y), r(yh), r(a), go, F64, variant, reduction, "reference")
    outs = [ranks[k][cid][0] for k in range(WORLD)]
    grads = [ranks[k][cid][1] for k in range(WORLD)]
    rtol = 1e-10 if dtype == F64 else 1e-5
    for k in range(WORLD):
        assert outs[k].dtype == dtype and grads[k].shape == (SIZES[k], D)
        assert int(ranks[k][cid][2]) == int(nvw) > 0
    got = torch.cat(outs) if reduction == "none" else outs[0] + outs[1]
    assert_close_verbose(got.double(), want, tag=f"{cid} loss", rtol=rtol, atol=rtol)
    assert_close_verbose(torch.cat(grads).double(), gw, tag=f"{cid} grad", rtol=rtol, scale="max")
