"""GPU tier: soft sort / soft rank and Dist Loss on CUDA tensors vs the fp64 reference and the CPU
path — long rows with exact ties (one tie rule on every path), more than 65,535 rows, odd sizes."""

import pytest
import torch

import dirfast
from dirfast.reference.dist_loss import dist_loss_ref
from dirfast.reference.soft_sort import soft_rank_ref, soft_sort_ref
from dirfast.testing import assert_close_verbose

from _dist_loss_cases import batch as dl_batch
from _gpu import BACKENDS, DEVICE, DTYPES, F32, F64, compare, run, size, to

pytestmark = pytest.mark.gpu

FNS = {"sort": (dirfast.soft_sort, soft_sort_ref), "rank": (dirfast.soft_rank, soft_rank_ref)}


def rows(r, n, *, ties, seed=0):
    """``[r, n]`` fp64 rows of ``10·randn``; with ``ties`` every value is rounded to a 1/4 grid so
    that long rows hold many exact ties (which fp16/bf16 keep exact too)."""
    x = torch.randn(r, n, generator=torch.Generator().manual_seed(seed), dtype=F64) * 10
    return (x * 4).round() / 4 if ties else x


# (rows, n, ties): odd sizes, one element, long rows with ties, more rows than grid axis 1 allows
SHAPES = [(1, 1, False), (3, 37, True), (5, 1_000, False), (size(4, 2), size(70_000, 5_000), True),
          (size(70_000, 300), 8, True)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("mode", ["sort", "rank"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_soft_sort(backend, dtype, mode, shape):
    r, n, ties = shape
    if dtype in (torch.float16, torch.bfloat16) and n > 2048:
        pytest.skip("fp16/bf16 rows > 2048 hold values that are not exact in the dtype's rank range")
    fn, ref = FNS[mode]
    eps = 0.5
    compare(lambda x: fn(x, eps, backend=backend, validate=False), lambda x: ref(x, eps),
            [rows(r, n, ties=ties)], dtype, tag=f"{backend} {mode} {dtype} {shape}", diff=(0,),
            value_scale="max")


@pytest.mark.gpu_check
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", ["sort", "rank"])
@pytest.mark.parametrize("shape", [(size(4, 2), size(70_000, 3_000)), (1, size(1_000_000, 20_000))],
                         ids=lambda s: "x".join(map(str, s)))
def test_soft_sort_ties_equal_cpu_path(backend, mode, shape):
    """The first H200 run's defect: CUDA's unstable ``torch.sort`` broke ties differently from the
    CPU path (elementwise gradients 2.9e-2 apart at 123 ties in 4 × 70,000). One tie rule now: the
    GPU path equals the CPU path elementwise, values and gradients (fp32, rtol 1e-5)."""
    fn, _ = FNS[mode]
    x = rows(*shape, ties=True, seed=1).float()
    assert torch.unique(x).numel() < x.numel()  # the data holds ties
    got, (g,) = run(lambda t: fn(t, 0.5, backend=backend, validate=False), [to(x)], (0,))
    want, (gw,) = run(lambda t: fn(t, 0.5, backend="auto", validate=False), [x], (0,))
    assert_close_verbose(got, want, tag=f"{backend} {mode} {shape} value", scale="max")
    assert_close_verbose(g, gw, tag=f"{backend} {mode} {shape} grad", scale="max")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("loss", ["l1", "l2"])
@pytest.mark.parametrize("n", [1, 37, 256, size(65_536, 2_048)])
def test_dist_loss(backend, dtype, loss, n):
    p, y, q, w = dl_batch(n, seed=n, heavy=True, ties=True)
    kw = dict(loss=loss, eps=0.1)
    compare(lambda p, y, w: dirfast.dist_loss(p, y, to(q), w, backend=backend, validate=False, **kw),
            lambda p, y, w: dist_loss_ref(p, y, to(q, device=p.device), w, **kw),
            [p, y, w], dtype, tag=f"{backend} {loss} {dtype} n={n}", diff=(0,))


@pytest.mark.gpu_check
@pytest.mark.parametrize("n", [256, size(65_536, 2_048)])
def test_dist_loss_module(n):
    train = dl_batch(4096, seed=9)[1].reshape(-1)
    mod_dev = dirfast.DistLoss(train, validate=False)
    mod_cpu = dirfast.DistLoss(train, validate=False)
    p, y, _, _ = dl_batch(n, seed=3, heavy=True)
    got, (g,) = run(lambda t: mod_dev(t, to(y, F32)), [to(p, F32)], (0,))
    want, (gw,) = run(lambda t: mod_cpu(t, y.float()), [p.float()], (0,))
    assert_close_verbose(got, want, tag=f"DistLoss n={n} value")
    assert_close_verbose(g, gw, tag=f"DistLoss n={n} grad", scale="max")
