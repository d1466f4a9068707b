"""torch.compile(fullgraph=True) of a model forward + dirfast loss traces the registered ops without a
graph break (CPU; the same ops dispatch to Triton on CUDA)."""

import pytest
import torch

import dirfast
from dirfast.testing import assert_close_verbose


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
    """Inductor, with .backward() inside the fullgraph region (shared/README: trace_autograd_ops)."""
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
