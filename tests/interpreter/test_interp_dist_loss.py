"""Interpreter tier: the Dist Loss Triton kernels (fused pass, flag, pooling stage) on CPU tensors
against the fp64 reference and the literal official oracle (``backend="triton"``)."""

import pytest
import torch

import dirfast
from dirfast.kernels import dist_loss as K
from dirfast.ops.dist_loss import LOSS_CODES, WEIGHTING_CODES
from dirfast.testing import assert_close_verbose

from _dist_loss_cases import (F64, LOSSES, WEIGHTINGS, agedb_train, batch, check_against_reference,
                              check_gradcheck, pooled)
from _official_distloss import (official_batch_labels, official_dist_loss,
                                official_label_distribution)

pytestmark = pytest.mark.interpreter


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("dist_weighting", WEIGHTINGS)
@pytest.mark.parametrize("heavy", [False, True])
@pytest.mark.parametrize("dtype", [F64, torch.float32])
def test_matches_reference(loss, dist_weighting, heavy, dtype):
    check_against_reference("triton", 1500, dtype, loss, dist_weighting, heavy=heavy, ties=True)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision(dtype):
    check_against_reference("triton", 700, dtype, "l1", "by_rank", heavy=True)


@pytest.mark.parametrize("n", [1, 2, 511, 512, 513, 3000])
@pytest.mark.parametrize("weighted", [False, True])
def test_shapes_and_sum(n, weighted):
    check_against_reference("triton", n, F64, "l2", "official", "sum", weighted=weighted, heavy=True,
                            shape2d=True)


def test_one_block():
    check_against_reference("triton", 300, F64, "huber", "by_rank", eps=50.0)


@pytest.mark.parametrize("loss", LOSSES)
def test_gradcheck(loss):
    check_gradcheck("triton", loss, "by_rank", 0.6)


@pytest.mark.parametrize("loss", ["l1", "l2"])
@pytest.mark.parametrize("lam", [1.0, 0.5])
def test_official_parity_fp64(loss, lam):
    n, eps = 512, 0.1
    q = official_batch_labels(official_label_distribution(agedb_train().numpy()), n)
    p, y, _, w = batch(n, seed=n + 1, heavy=True, shape2d=True)
    assert pooled(p, eps)
    x = p.clone().requires_grad_()
    want = official_dist_loss(x, y, q, w, loss=loss, lam=lam, eps=eps)
    (gw,) = torch.autograd.grad(want, x)
    x = p.clone().requires_grad_()
    out = dirfast.dist_loss(x, y, torch.from_numpy(q), w, loss=loss, lam=lam, eps=eps,
                            variant="official", backend="triton")
    (g,) = torch.autograd.grad(out, x)
    assert_close_verbose(out, want, tag=f"triton official {loss} λ={lam}", rtol=1e-10)
    assert_close_verbose(g, gw, tag=f"triton official {loss} λ={lam} grad", rtol=1e-10, scale="max")


def test_flag_and_pooling_stage_exit_when_flag_is_zero():
    """The flag is raised exactly when some gap reaches (1/eps)(1 − 1e-6); the pooling-stage kernels
    write nothing when it is 0."""
    n, eps = 700, 0.1
    for heavy in (False, True):
        p, y, q, w = batch(n, heavy=heavy, scale=1.0 if not heavy else 15.0)
        x, perm = torch.sort(p, stable=True)
        params = K.params(x.device, F64, n, "mean", 1.0, eps, "l1", 1.0, 1.0)
        partials, grad, flag = K.dist_loss_fwd(x, perm, y, q, w, params, loss=LOSS_CODES["l1"],
                                               weighting=WEIGHTING_CODES["by_rank"])
        assert int(flag.item()) == int(pooled(p, eps * (1 + 1e-6))), heavy
    zero = torch.zeros(1, dtype=torch.int32)
    s_hat = torch.full_like(x, 7.0)
    bs = torch.full((n,), -1, dtype=torch.int64)
    K._dist_loss_pool_prep_kernel[K._grid(n, "float64")](x, s_hat, bs, zero, n, BLOCK=K.BLOCK["float64"])
    assert bool((s_hat == 7.0).all()) and bool((bs == -1).all())
    before = (partials.clone(), grad.clone())
    gs = K.pooled_dist(x, perm, q, w, params, partials, zero, loss=1, weighting=1)
    K.pooled_grad(x, perm, y, w, torch.zeros_like(x), params, grad, zero, loss=1)
    assert torch.equal(partials, before[0]) and torch.equal(grad, before[1])
    del gs
    s_hat, bs = K.pool_prep(x, torch.ones(1, dtype=torch.int32))
    assert torch.equal(s_hat, x) and torch.equal(bs, torch.arange(n))
