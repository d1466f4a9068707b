"""Double backward: ``torch.autograd.grad(loss, x, create_graph=True)`` must return a
gradient with a graph (gradient penalties), never one that silently lacks it — for every weighted
loss, Dist Loss and soft sort/rank, on the cpu and cpu_torch paths and the reference, through the eager
``autograd.Function`` and the registered op's backward. The Triton path: the interpreter files.
"""

import pytest
import torch

import dirfast
from dirfast.ops.dist_loss import dist_loss_op
from dirfast.ops.soft_sort import soft_rank_op, soft_sort_op
from dirfast.ops.weighted_loss import weighted_loss_op
from dirfast.reference.soft_sort import MODE_RANK, MODE_SORT

from _double_backward import (DIST_LOSSES, ROUTES, WL_CASES, check_dist_gradgrad,
                              check_soft_gradgrad, check_weighted_loss_gradgrad, dist_inputs,
                              wl_inputs)
from _paths import CPU_PATHS

F64 = torch.float64


@pytest.mark.parametrize("path", CPU_PATHS)
@pytest.mark.parametrize("route_", ROUTES)
@pytest.mark.parametrize("loss,activate,gamma", WL_CASES)
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_weighted_loss_gradgradcheck(route, path, route_, loss, activate, gamma, reduction):
    check_weighted_loss_gradgrad(route(path), route_, loss, activate, gamma, reduction)


@pytest.mark.parametrize("loss,activate,gamma", WL_CASES[:4])
def test_weighted_loss_sum_and_reference(loss, activate, gamma):
    check_weighted_loss_gradgrad("cpu", "function", loss, activate, gamma, "sum")
    check_weighted_loss_gradgrad("reference", "function", loss, activate, gamma, "mean")


@pytest.mark.parametrize("path", CPU_PATHS)
@pytest.mark.parametrize("route_", ROUTES)
@pytest.mark.parametrize("mode", [MODE_SORT, MODE_RANK], ids=["sort", "rank"])
@pytest.mark.parametrize("pooled", [True, False], ids=["pooling", "singletons"])
def test_soft_sort_gradgradcheck(route, path, route_, mode, pooled):
    check_soft_gradgrad(route(path), route_, mode, pooled)


@pytest.mark.parametrize("path", CPU_PATHS)
@pytest.mark.parametrize("route_", ROUTES)
@pytest.mark.parametrize("loss", DIST_LOSSES)
@pytest.mark.parametrize("pooled", [True, False], ids=["pooling", "hard"])
def test_dist_loss_gradgradcheck(route, path, route_, loss, pooled):
    check_dist_gradgrad(route(path), route_, loss, pooled)


@pytest.mark.parametrize("path", CPU_PATHS)
def test_the_issue_reproducers(route, path):
    """The issue's reproducer, for every op it names: ``g.requires_grad`` is True, as the reference's."""
    backend = route(path)
    x = torch.randn(9, dtype=F64, requires_grad=True)
    t = torch.randn(9, dtype=F64)
    for f in (dirfast.mse, dirfast.l1, dirfast.focal_l1, dirfast.focal_mse, dirfast.huber):
        for b in (backend, "reference"):
            (g,) = torch.autograd.grad(f(x, t, backend=b), x, create_graph=True)
            assert g.requires_grad, (f.__name__, b)
    p, y, w = dist_inputs(True)
    q = torch.sort(y).values
    xp = p.clone().requires_grad_()
    for b in (backend, "reference"):
        (g,) = torch.autograd.grad(dirfast.dist_loss(xp, y, q, w, backend=b), xp, create_graph=True)
        assert g.requires_grad, b
    xs = torch.tensor([[0.0, 3.0, 7.0, 7.5]], dtype=F64, requires_grad=True)  # gaps ≥ 1: pools
    for f in (dirfast.soft_sort, dirfast.soft_rank):
        for b in (backend, "reference"):
            (g,) = torch.autograd.grad((f(xs, 1.0, backend=b) ** 2).sum(), xs, create_graph=True)
            assert g.requires_grad, (f.__name__, b)


def test_plain_backward_never_runs_the_reference(monkeypatch):
    """The fast path's single backward is unchanged: no reference recomputation without
    ``create_graph`` (the check is ``torch.is_grad_enabled()`` inside backward)."""
    import dirfast.ops.dist_loss as dl_ops
    import dirfast.ops.soft_sort as ss_ops
    import dirfast.ops.weighted_loss as wl_ops

    def boom(*a, **k):
        raise AssertionError("the differentiable reference ran in a plain backward")

    monkeypatch.setattr(wl_ops, "weighted_loss_ref", boom)
    monkeypatch.setattr(dl_ops, "dist_loss_ref", boom)
    monkeypatch.setattr(ss_ops, "_block_mean_ref", boom)
    pred, target, weight = wl_inputs(50)
    for loss, activate, gamma in WL_CASES:
        x = pred.clone().requires_grad_()
        dirfast.weighted_loss(x, target, weight, loss=loss, activate=activate, gamma=gamma,
                              backend="cpu").backward()
        for path in ("cpu", "cpu_torch"):  # the registered op's backward
            weighted_loss_op(x, target, weight, loss, 0.7, gamma, activate, "mean", path,
                             True)[0].backward()
    p, y, w = dist_inputs(True)
    xp = p.clone().requires_grad_()
    q = torch.sort(y).values
    dirfast.dist_loss(xp, y, q, w, backend="cpu").backward()
    dist_loss_op(xp, y, q, w, "l1", 1.0, 1.0, 1.0, 0.1, "by_rank", "mean", "cpu", True)[0].backward()
    xs = torch.tensor([[0.0, 3.0, 7.0, 7.5]], dtype=F64, requires_grad=True)  # pools
    for f, op in ((dirfast.soft_sort, soft_sort_op), (dirfast.soft_rank, soft_rank_op)):
        (f(xs, 1.0, backend="cpu") ** 2).sum().backward()
        (op(xs, 1.0, "cpu")[0] ** 2).sum().backward()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_create_graph_low_precision(dtype):
    """The create_graph backward computes in the compute dtype (fp32 for fp16) and returns the
    input's dtype; its value is the fast path's gradient."""
    pred, target, weight = (t.to(dtype) for t in wl_inputs(64))
    for loss, activate, gamma in WL_CASES:
        x = pred.clone().requires_grad_()
        out = dirfast.weighted_loss(x, target, weight, loss=loss, activate=activate, gamma=gamma,
                                    backend="cpu")
        (g,) = torch.autograd.grad(out, x, create_graph=True)
        (g0,) = torch.autograd.grad(dirfast.weighted_loss(x, target, weight, loss=loss,
                                                          activate=activate, gamma=gamma,
                                                          backend="cpu"), x)
        assert g.dtype == dtype and g.requires_grad
        tol = 1e-5 if dtype == torch.float32 else 2e-3
        torch.testing.assert_close(g.detach().float(), g0.float(), rtol=tol, atol=tol * g0.abs().max().item())


def test_gradient_penalty_trains():
    """A gradient penalty built on the losses is not silently zero: its gradient matches the
    reference's, for the weighted loss, Dist Loss and soft sort."""
    pred, target, weight = wl_inputs(8)
    for loss, activate, gamma in WL_CASES:
        grads = []
        for b in ("cpu", "reference"):
            x = pred.clone().requires_grad_()
            (g,) = torch.autograd.grad(dirfast.weighted_loss(x, target, weight, loss=loss,
                                                             activate=activate, gamma=gamma,
                                                             backend=b), x, create_graph=True)
            (gg,) = torch.autograd.grad(g.pow(2).sum(), x)
            grads.append(gg)
        torch.testing.assert_close(grads[0], grads[1], rtol=1e-10, atol=1e-12)
        if loss in ("mse", "huber", "focal_mse", "focal_l1"):
            assert grads[0].abs().max() > 0, loss


@pytest.mark.parametrize("which", ["mse", "focal_l1", "soft_sort", "dist_loss"])
def test_torch_compile_double_backward_is_never_silent(which):
    """Under torch.compile the backward is traced with grad mode off (the fast path: the first
    gradient is right) and torch (AOTAutograd, 2.11-2.13) supports no double backward through a
    compiled graph: a gradient penalty's ``backward()`` raises torch's "does not currently support
    double backward", ``torch.autograd.grad`` raises too (with ``allow_unused=True`` torch may return
    None: documented). Never a silently missing second-order term in ``backward()``."""
    torch._dynamo.reset()
    p, y, w = dist_inputs(False)
    t = torch.randn(6, dtype=F64)
    q = torch.sort(y).values
    fns = {
        "mse": lambda v: dirfast.mse(v, t, backend="cpu", validate=False),
        "focal_l1": lambda v: dirfast.focal_l1(v, t, activate="tanh", backend="cpu", validate=False),
        "soft_sort": lambda v: (dirfast.soft_sort(v, 0.3, backend="cpu", validate=False) ** 2).sum(),
        "dist_loss": lambda v: dirfast.dist_loss(v, y, q, w, loss="l2", backend="cpu",
                                                 validate=False),
    }
    fn = fns[which]
    compiled = torch.compile(fn, backend="aot_eager", fullgraph=True)
    x = p.clone().requires_grad_()
    (g,) = torch.autograd.grad(compiled(x), x, create_graph=True)
    (g0,) = torch.autograd.grad(fn(x), x)
    torch.testing.assert_close(g.detach(), g0, rtol=1e-12, atol=1e-14)
    assert g.requires_grad
    with pytest.raises(RuntimeError, match="double backward"):
        g.pow(2).sum().backward()
    assert x.grad is None
    (g,) = torch.autograd.grad(compiled(x), x, create_graph=True)
    with pytest.raises(RuntimeError, match="double backward|not have been used in the graph"):
        torch.autograd.grad(g.pow(2).sum(), x)
