"""Shared double-backward checks for the CPU tier (tests/test_double_backward.py)
and the interpreter tier (the Triton path, tests/interpreter/test_interp_*.py).

A first gradient taken with ``create_graph=True`` must carry a graph back to the inputs and to the
incoming gradient, on both routes of every op: the eager ``autograd.Function`` (``route="function"``,
what the public functions run outside ``torch.compile``) and the registered op's ``register_autograd``
backward (``route="op"``, called directly). Checked by ``torch.autograd.gradgradcheck`` in fp64 on tiny
inputs kept ≥ 1e-3 away from every kink (docs/conventions.md), and by ``g.requires_grad``.
"""

import numpy as np
import torch

import dirfast
from dirfast.functional import DEFAULT_BETA
from dirfast.ops.dist_loss import dist_loss_op
from dirfast.ops.soft_sort import soft_rank_op, soft_sort_op
from dirfast.ops.weighted_loss import weighted_loss_op
from dirfast.reference.soft_sort import MODE_RANK, MODE_SORT, pav_blocks

F64 = torch.float64
ROUTES = ["function", "op"]
#: (loss, activate, gamma) for the weighted losses: every loss, both focal activations, γ ≠ 1 once
WL_CASES = [("mse", "sigmoid", 1.0), ("l1", "sigmoid", 1.0), ("huber", "sigmoid", 1.0),
            ("focal_mse", "sigmoid", 1.0), ("focal_mse", "tanh", 2.5), ("focal_l1", "sigmoid", 1.0),
            ("focal_l1", "tanh", 1.0), ("focal_l1", "sigmoid", 0.5)]
DIST_LOSSES = ["l1", "l2", "huber", "focal_l1"]
GRADGRAD = dict(eps=1e-6, atol=1e-7, rtol=1e-5)


def _resolved(backend):
    """The op's ``backend`` argument (a resolved path) for a public ``backend=`` value."""
    return "cpu_torch" if backend == "auto" else backend


# ------------------------------------------------------------------------------------------------
# weighted losses


def wl_inputs(n=6, seed=0):
    """``|e|`` in [0.1, 0.85] ∪ [1.15, 2.5] (away from 0 and the Huber β = 1), both signs; weights in
    [0.5, 1.5). fp64, none requires grad."""
    g = torch.Generator().manual_seed(seed)
    mag = torch.where(torch.rand(n, generator=g, dtype=F64) < 0.5,
                      0.1 + 0.75 * torch.rand(n, generator=g, dtype=F64),
                      1.15 + 1.35 * torch.rand(n, generator=g, dtype=F64))
    sign = torch.where(torch.rand(n, generator=g, dtype=F64) < 0.5, -1.0, 1.0).to(F64)
    target = torch.randn(n, generator=g, dtype=F64)
    pred = target + sign * mag
    weight = torch.rand(n, generator=g, dtype=F64) + 0.5
    return pred, target, weight


def wl_fn(backend, route, loss, activate, gamma, reduction):
    beta = DEFAULT_BETA[loss] if loss == "huber" else 0.7  # a focal β that bends within |e| ≤ 2.5
    if route == "function":
        return lambda p, t, w: dirfast.weighted_loss(p, t, w, loss=loss, beta=beta, gamma=gamma,
                                                     activate=activate, reduction=reduction,
                                                     backend=backend)
    path = _resolved(backend)
    return lambda p, t, w: weighted_loss_op(p, t, w, loss, beta, gamma, activate, reduction, path,
                                            True)[0]


def check_weighted_loss_gradgrad(backend, route, loss, activate, gamma, reduction):
    pred, target, weight = wl_inputs()
    fn = wl_fn(backend, route, loss, activate, gamma, reduction)
    ins = tuple(t.clone().requires_grad_() for t in (pred, target, weight))
    assert torch.autograd.gradgradcheck(fn, ins, **GRADGRAD)
    # pred only (the usual case: constant targets and weights)
    x = pred.clone().requires_grad_()
    assert torch.autograd.gradgradcheck(lambda p: fn(p, target, weight), (x,), **GRADGRAD)
    out = fn(x, target, weight)
    (g,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    assert g.requires_grad and g.grad_fn is not None, (backend, route, loss)
    (g0,) = torch.autograd.grad(fn(x, target, weight).sum(), x)  # the fast path's gradient
    torch.testing.assert_close(g.detach(), g0, rtol=1e-12, atol=1e-14)


# ------------------------------------------------------------------------------------------------
# soft sort / soft rank


def away_from_kinks(x, eps, mode, margin=1e-3):
    """No tie, no gap within ``margin`` of the singleton threshold, adjacent final PAV blocks away
    from the merge rule's equality."""
    for r in x:
        xs = np.sort(r.numpy())
        gaps = np.diff(xs)
        thr = 1 / eps if mode == MODE_SORT else eps
        if (gaps < margin).any() or (np.abs(gaps - thr) < margin).any():
            return False
        bs = pav_blocks(xs, eps, mode)
        starts = np.unique(bs)
        ends = np.append(starts[1:], len(xs))
        means = [xs[a:b].mean() for a, b in zip(starts, ends)]
        for k in range(len(starts) - 1):
            lsum = (ends[k] - starts[k]) + (ends[k + 1] - starts[k + 1])
            t = lsum / (2 * eps) if mode == MODE_SORT else eps * lsum / 2
            if abs(means[k + 1] - means[k] - t) < margin:
                return False
    return True


def soft_rows(mode, pooled, eps=1.0, n=6, seed=0):
    """``[2, n]`` fp64 rows: ``pooled`` → row 0 pools and row 1 does not ("mixed"), else neither pools
    (every block a singleton: the plain-permutation backward)."""
    g = torch.Generator().manual_seed(seed)
    thr = 1.0 / eps if mode == MODE_SORT else eps

    def row(pool):
        for _ in range(200):
            if mode == MODE_SORT:  # pools across gaps ≥ 1/eps
                gaps = thr * (0.15 + 0.7 * torch.rand(n - 1, generator=g, dtype=F64))
                if pool:
                    gaps[torch.randint(0, n - 1, (2,), generator=g)] = thr * 1.6
            else:  # pools across gaps ≤ eps
                gaps = thr * (1.3 + torch.rand(n - 1, generator=g, dtype=F64))
                if pool:
                    gaps[torch.randint(0, n - 1, (2,), generator=g)] = thr * 0.4
            x = torch.cat([torch.zeros(1, dtype=F64), gaps.cumsum(0)])
            x = (x - x.mean())[torch.randperm(n, generator=g)]
            blocks = pav_blocks(np.sort(x.numpy()), eps, mode)
            if (len(np.unique(blocks)) < n) == pool and away_from_kinks(x[None], eps, mode):
                return x
        raise AssertionError("no kink-free row found")

    return torch.stack([row(pooled), row(False)])


def soft_fn(backend, route, mode, eps):
    if route == "function":
        f = dirfast.soft_sort if mode == MODE_SORT else dirfast.soft_rank
        return lambda v: f(v, eps, backend=backend)
    op = soft_sort_op if mode == MODE_SORT else soft_rank_op
    path = _resolved(backend)
    return lambda v: op(v, eps, path)[0]


def check_soft_gradgrad(backend, route, mode, pooled, eps=1.0):
    x = soft_rows(mode, pooled, eps)
    fn = soft_fn(backend, route, mode, eps)
    xr = x.clone().requires_grad_()
    # the output itself (second derivative through grad_output only) and a nonlinear function of it
    # (the first gradient then depends on x through the incoming gradient)
    assert torch.autograd.gradgradcheck(fn, (xr,), **GRADGRAD)
    assert torch.autograd.gradgradcheck(lambda v: fn(v) ** 2 * 0.5, (xr,), **GRADGRAD)
    (g,) = torch.autograd.grad((fn(xr) ** 2).sum(), xr, create_graph=True)
    assert g.requires_grad and g.grad_fn is not None, (backend, route, mode, pooled)
    (g0,) = torch.autograd.grad((fn(xr) ** 2).sum(), xr)
    torch.testing.assert_close(g.detach(), g0, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------------------------------------
# Dist Loss


def dist_inputs(pooled, n=6, seed=1):
    """Predictions with gaps in [1.5, 4.5] (``pooled``: one gap of 13 ≥ 1/eps = 10, eps = 0.1) and
    ``|ŝ − q|``, ``|p − y|`` in [0.2, 0.8] ∪ [1.2, 1.8] (away from 0 and the Huber β = 1)."""
    g = torch.Generator().manual_seed(seed)
    gaps = 1.5 + 3 * torch.rand(n - 1, generator=g, dtype=F64)
    if pooled:
        gaps[n // 2] = 13.0
    x = 40 + torch.cat([torch.zeros(1, dtype=F64), gaps.cumsum(0)])

    def off(m):
        mag = 0.2 + 0.6 * torch.rand(m, generator=g, dtype=F64)
        mag = mag + torch.where(torch.rand(m, generator=g, dtype=F64) < 0.5, 0.0, 1.0)
        return mag * torch.where(torch.rand(m, generator=g, dtype=F64) < 0.5, -1.0, 1.0)

    perm = torch.randperm(n, generator=g)
    p = x[perm]
    y = p + off(n)
    w = torch.rand(n, generator=g, dtype=F64) + 0.5
    return p, y, w


def dist_fn(backend, route, loss, y, w, eps, weighting="by_rank"):
    beta = DEFAULT_BETA.get(loss, 1.0) if loss != "focal_l1" else 0.7
    if route == "function":
        return lambda p, q: dirfast.dist_loss(p, y, q, w, loss=loss, eps=eps, beta=beta,
                                              dist_weighting=weighting, backend=backend,
                                              validate=False)
    path = _resolved(backend)
    return lambda p, q: dist_loss_op(p, y, q, w, loss, beta, 1.0, 1.0, eps, weighting, "mean", path,
                                     True)[0]


def check_dist_gradgrad(backend, route, loss, pooled, eps=0.1):
    p, y, w = dist_inputs(pooled)
    # pseudo-labels: the soft-sorted predictions moved by ±[0.2, 0.7] (alternating signs; still
    # sorted, as ŝ's gaps are ≥ 1.5): |ŝ − q| away from 0 and from the Huber β
    s_hat = dirfast.soft_sort(torch.sort(p).values, eps, backend="reference")
    g = torch.Generator().manual_seed(7)
    mag = 0.2 + 0.5 * torch.rand(p.numel(), generator=g, dtype=F64)
    q = s_hat + mag * torch.where(torch.arange(p.numel()) % 2 == 0, 1.0, -1.0).to(F64)
    assert (q[1:] > q[:-1]).all()
    assert away_from_kinks(p[None], eps, MODE_SORT)
    assert ((torch.sort(p).values[1:] - torch.sort(p).values[:-1]) >= 1 / eps).any() == pooled
    fn = dist_fn(backend, route, loss, y, w, eps)
    x = p.clone().requires_grad_()
    assert torch.autograd.gradgradcheck(lambda v: fn(v, q), (x,), **GRADGRAD)
    (gx,) = torch.autograd.grad(fn(x, q), x, create_graph=True)
    assert gx.requires_grad and gx.grad_fn is not None, (backend, route, loss, pooled)
    (g0,) = torch.autograd.grad(fn(x, q), x)
    torch.testing.assert_close(gx.detach(), g0, rtol=1e-12, atol=1e-14)
