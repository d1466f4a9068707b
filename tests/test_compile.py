"""torch.compile(fullgraph=True) of a model forward + dirfast loss traces the registered ops without a
graph break (CPU; the same ops dispatch to Triton on CUDA)."""

import pytest
import torch

import dirfast
from dirfast.testing import assert_close_verbose

from _paths import require_ext


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))


@pytest.mark.parametrize("loss", ["mse", "focal_l1", "huber"])
def test_fullgraph_forward_and_backward(loss):
    torch._dynamo.reset()
    model = _model()
    x, y, w = torch.randn(37, 6), torch.randn(37, 1), torch.rand(37, 1)

    def step(x, y, w):
        return dirfast.weighted_loss(model(x), y, w, loss=loss, validate=False)

    compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
    got = compiled(x, y, w)
    got.backward()
    g_compiled = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    want = step(x, y, w)
    want.backward()
    assert_close_verbose(got.detach(), want.detach(), tag=f"compiled {loss}")
    for a, b in zip(g_compiled, (p.grad for p in model.parameters())):
        assert_close_verbose(a, b, tag=f"compiled {loss} grad", scale="max")


def test_fullgraph_inductor_training_step():
    """Inductor, with .backward() inside the fullgraph region (``trace_autograd_ops``: dynamo traces it)."""
    torch._dynamo.reset()
    model = _model()
    x, y, w = torch.randn(64, 6), torch.randn(64, 1), torch.rand(64, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def train_step(x, y, w):
        loss = dirfast.mse(model(x), y, w, validate=False)
        loss.backward()
        return loss.detach()

    with torch._dynamo.config.patch(trace_autograd_ops=True):
        compiled = torch.compile(train_step, fullgraph=True)
        l0 = compiled(x, y, w)
        grads = [p.grad.clone() for p in model.parameters()]
    opt.zero_grad()
    ref = dirfast.mse(model(x), y, w, backend="reference")
    ref.backward()
    assert_close_verbose(l0, ref.detach(), tag="inductor loss")
    for a, p in zip(grads, model.parameters()):
        assert_close_verbose(a, p.grad, tag="inductor grad", scale="max")


def test_opcheck():
    from dirfast.ops.weighted_loss import weighted_loss_bwd, weighted_loss_op

    x = torch.randn(9, dtype=torch.float64, requires_grad=True)
    y, w = torch.randn(9, dtype=torch.float64), torch.rand(9, dtype=torch.float64)
    for backend in ("cpu_torch",) + (("cpu",) if dirfast._ext.available() else ()):
        for reduction in ("mean", "none"):
            for need_grad in (True, False):
                torch.library.opcheck(weighted_loss_op, (x, y, w, "focal_l1", 0.2, 1.0, "sigmoid",
                                                         reduction, backend, need_grad))
    torch.library.opcheck(weighted_loss_bwd, (torch.tensor(2.0, dtype=torch.float64), y))


def test_compiled_graph_calls_the_registered_op():
    torch._dynamo.reset()
    graphs = []

    def record(gm, example_inputs):
        graphs.append(str(gm.graph))
        return gm.forward

    fn = torch.compile(lambda p, t: dirfast.huber(p, t, validate=False), fullgraph=True,
                       backend=record)
    fn(torch.randn(5, requires_grad=True), torch.randn(5))
    assert graphs and "dirfast.weighted_loss" in graphs[0], graphs


@pytest.mark.parametrize("backend", ["cpu", "cpu_torch"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_registered_op_autograd_matches_eager_function(backend, reduction):
    """Eager calls use WeightedLossFunction, compiled ones the registered op: same values and grads."""
    from dirfast.ops.weighted_loss import WeightedLossFunction, weighted_loss_op

    if backend == "cpu":
        require_ext()
    g = torch.Generator().manual_seed(3)
    p, t, w = (torch.randn(101, generator=g, dtype=torch.float64) for _ in range(3))
    for loss in ("mse", "l1", "focal_mse", "focal_l1", "huber"):
        args = (loss, 0.7, 1.5, "tanh", reduction, backend, True)
        xs = [p.clone().requires_grad_() for _ in range(2)]
        ts = [t.clone().requires_grad_() for _ in range(2)]
        ws = [w.abs().clone().requires_grad_() for _ in range(2)]
        a = weighted_loss_op(xs[0], ts[0], ws[0], *args)[0]
        b = WeightedLossFunction.apply(xs[1], ts[1], ws[1], args)
        assert torch.equal(a, b)
        go = torch.rand_like(a) + 0.5
        ga = torch.autograd.grad(a, (xs[0], ts[0], ws[0]), go)
        gb = torch.autograd.grad(b, (xs[1], ts[1], ws[1]), go)
        for u, v in zip(ga, gb):
            assert torch.equal(u, v), loss


def test_fullgraph_fds_module_training_forward():
    """A training step through nn.FDS (label -> bin, calibration op) and a dirfast loss traces whole."""
    torch._dynamo.reset()
    fds = dirfast.nn.FDS(16, dirfast.Bins(0, 1, 20), validate=False)
    enc = torch.nn.Linear(4, 16)
    g = torch.Generator().manual_seed(0)
    for epoch in range(3):
        for _ in range(2):
            x = torch.randn(32, 4, generator=g)
            fds.accumulate(enc(x).detach(), torch.randint(0, 20, (32,), generator=g).float())
        fds.end_epoch(epoch)
    assert fds.train().calibrating

    def step(x, y):
        return dirfast.mse(fds(enc(x), y).sum(1), y, validate=False)

    x, y = torch.randn(32, 4, generator=g), torch.randint(0, 20, (32,), generator=g).float()
    got = torch.compile(step, fullgraph=True)(x, y)
    assert_close_verbose(got.detach(), step(x, y).detach(), tag="compiled FDS step")
