"""Interpreter tier: RankSim's Triton kernels (``dirfast/kernels/ranksim.py``: the unique-label
subset, unit rows, masked keys, rank/loss, reduction, blackbox backward; ``backend="triton"``) on CPU
tensors against the reference, the literal official replica and the PyTorch path.

fp64 within 1e-10 of the official code and the reference; fp32 within 1e-5; the ranks (``r^z`` and
the differences ``d`` saved for the backward) **identical** to the PyTorch path's, ties included
(duplicated feature rows, integer labels with mirror ties); the subset kernel equal to the PyTorch
subset (one pass over several 1,024-element blocks, NaN, ±0, ``max_unique``)."""

import pytest
import torch

import dirfast
from dirfast.kernels.ranksim import ranksim_subset_triton
from dirfast.ops import ranksim as rs_ops
from dirfast.ranksim import _subset
from dirfast.reference.ranksim import ranksim_loss_ref
from dirfast.testing import assert_close_verbose

from _official_ranksim import official_ranksim

pytestmark = pytest.mark.interpreter
F64, F32 = torch.float64, torch.float32


def batch(b, d, kind, seed=0, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(b, d, generator=g, dtype=F64).relu() + 1e-3 * torch.rand(b, d, generator=g, dtype=F64)
    if kind == "float":
        y = 100 * torch.rand(b, generator=g, dtype=F64)
    elif kind == "repeat":
        y = (100 * torch.rand(9, generator=g, dtype=F64))[torch.randint(0, 9, (b,), generator=g)]
    else:
        y = torch.randint(0, 6, (b,), generator=g).to(F64)
    return z.to(dtype), y.to(dtype)


def loss_grad(z, y, go=None, **kw):
    x = z.clone().requires_grad_()
    out = dirfast.ranksim_loss(x, y, **kw)
    g, = torch.autograd.grad(out, x, torch.ones_like(out) if go is None else go)
    return out.detach(), g


@pytest.mark.parametrize("b,d", [(1, 3), (7, 5), (40, 9)])
@pytest.mark.parametrize("kind", ["float", "repeat"])
def test_fp64_official_parity(b, d, kind):
    z, y = batch(b, d, kind, seed=b)
    rows, n = dirfast.ranksim_subset(y)
    idx = rows[:int(n)].tolist()
    x = z.clone().requires_grad_()
    want = official_ranksim(x, y[:, None], 2.0, idx if kind == "repeat" else None, rank_dtype=F64)
    gwant, = torch.autograd.grad(want, x)
    got, ggot = loss_grad(z, y, variant="official", backend="triton")
    tag = f"official b={b} {kind}"
    assert_close_verbose(got, want.detach(), tag=tag, rtol=1e-10, atol=1e-12)
    assert_close_verbose(ggot, gwant, tag=tag + " grad", rtol=1e-10, atol=1e-14, scale="max")


@pytest.mark.parametrize("variant,reduction,max_unique", [
    ("default", "mean", None), ("default", "none", 4), ("official", "sum", 3),
    ("official", "none", None), ("default", "sum", None)])
@pytest.mark.parametrize("dtype", [F64, F32])
def test_matches_reference(variant, reduction, max_unique, dtype):
    z, y = batch(33, 6, "int", seed=3, dtype=dtype)
    kw = dict(variant=variant, reduction=reduction, max_unique=max_unique, interpolation_lambda=0.7)
    go = torch.rand(33, dtype=dtype) + 0.5 if reduction == "none" else torch.tensor(3.0, dtype=dtype)
    got = loss_grad(z, y, go, backend="triton", **kw)
    want = loss_grad(z, y, go, backend="reference", **kw)
    tol = 1e-10 if dtype == F64 else 1e-5
    tag = f"{variant} {reduction} max_unique={max_unique} {dtype}"
    assert_close_verbose(got[0], want[0], tag=tag, rtol=tol, atol=tol * 1e-2)
    assert_close_verbose(got[1], want[1], tag=tag + " grad", rtol=tol, atol=tol * 1e-2, scale="max")
    if max_unique is not None:  # rows outside the subset: zero loss and zero gradient
        rows, n = dirfast.ranksim_subset(y, max_unique=max_unique)
        outside = torch.ones(33, dtype=torch.bool)
        outside[rows[:int(n)]] = False
        assert (got[1][outside] == 0).all()
        if reduction == "none":
            assert (got[0][outside] == 0).all()


@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize("include_self", [False, True])
def test_ranks_identical_to_torch_path_with_ties(dtype, include_self):
    """Duplicated feature rows (exactly tied similarities) and integer labels (|Δy| ties): the saved
    ``r^z`` and ``d`` equal the PyTorch path's bit for bit, so do the blackbox gradient's ranks."""
    z, y = batch(30, 4, "int", seed=5, dtype=dtype)
    z[10:20] = z[:10]
    rows, n = dirfast.ranksim_subset(y, subsample="none")
    args = (z, y, rows, n, 2.0, "mean", include_self)
    out_t, saved_t, unit_t = rs_ops.ranksim_fwd(*args, "triton")
    out_p, saved_p, unit_p = rs_ops.ranksim_fwd(*args, "cpu_torch")
    assert torch.equal(saved_t[1], saved_p[1]) and torch.equal(saved_t[2], saved_p[2])
    assert_close_verbose(out_t, out_p, tag="loss", rtol=1e-12 if dtype == F64 else 1e-6)
    go = torch.tensor(5.0, dtype=dtype)
    # the backward's keys from the same saved state: the same perturbed ranks
    g_t = rs_ops.ranksim_bwd_impl(go, z, rows, n, saved_p, unit_p, 2.0, "mean", include_self, "triton")
    g_p = rs_ops.ranksim_bwd_impl(go, z, rows, n, saved_p, unit_p, 2.0, "mean", include_self,
                                  "cpu_torch")
    assert_close_verbose(g_t, g_p, tag="grad", rtol=1e-12 if dtype == F64 else 1e-5, scale="max")


def test_subset_kernel_equals_torch_subset():
    g = torch.Generator().manual_seed(0)
    for b, labels, dtype in ((1, 1, F32), (6, 3, F64), (50, 7, F32), (1100, 40, F32),
                             (1100, 0, F64), (300, 0, torch.float16)):
        if labels:
            y = torch.randint(0, labels, (b,), generator=g).to(dtype)
        else:
            y = torch.randperm(b, generator=g).to(dtype)
        if b >= 6:
            y[1], y[4], y[2], y[5] = float("nan"), float("nan"), -0.0, 0.0
        for mu in (None, 1, 5, 2000):
            k = b if mu is None else min(mu, b)
            want = _subset(y, "unique_labels", mu, None)
            got = ranksim_subset_triton(y, k)
            tag = f"b={b} labels={labels} {dtype} max_unique={mu}"
            assert torch.equal(got[0], want[0]), tag
            assert int(got[1]) == int(want[1]), tag


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_features(dtype):
    z, y = batch(20, 8, "repeat", seed=2)
    got = loss_grad(z.to(dtype), y, backend="triton")
    want = loss_grad(z.to(dtype), y, backend="reference")
    assert got[0].dtype == dtype and got[1].dtype == dtype
    # both compute in fp32 from the same rounded features: they differ by the final rounding only
    tol = 2 * torch.finfo(dtype).eps
    assert_close_verbose(got[0], want[0], tag=f"loss {dtype}", rtol=tol, atol=0)
    assert_close_verbose(got[1], want[1], tag=f"grad {dtype}", rtol=tol, scale="max")


@pytest.mark.parametrize("variant", ["default", "official"])
def test_degenerate_batches(variant):
    for z, y in ((torch.randn(1, 3, dtype=F64), torch.tensor([2.0], dtype=F64)),
                 (torch.randn(6, 3, dtype=F64), torch.full((6,), 4.0, dtype=F64))):
        out, grad = loss_grad(z, y, variant=variant, backend="triton")
        assert out.item() == 0.0 and (grad == 0).all()
    z = torch.randn(5, 3, dtype=F64)
    z[2] = 0.0  # an all-zero feature row (norm clamped to eps), as the reference
    y = torch.arange(5.0, dtype=F64)
    got = loss_grad(z, y, variant=variant, backend="triton")
    want = loss_grad(z, y, variant=variant, backend="reference")
    assert_close_verbose(got[0], want[0], tag="zero row", rtol=1e-10)
    assert_close_verbose(got[1], want[1], tag="zero row grad", rtol=1e-10, scale="max")
