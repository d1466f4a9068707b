"""Interpreter tier: the Triton weighted-loss kernel on CPU tensors against the reference."""

import pytest
import torch

import dirfast
from dirfast.testing import assert_close_verbose

from _cases import (LOSSES, REDUCTIONS, check_against_reference, check_gradcheck,
                    check_no_grad_same_value, make_inputs, run)

pytestmark = pytest.mark.interpreter


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16])
@pytest.mark.parametrize("n", [1, 7, 2048, 5003])
def test_triton_matches_reference(loss, reduction, dtype, n):
    check_against_reference("triton", n, dtype, loss, reduction, ties=True, shape2d=(n == 7))


@pytest.mark.parametrize("loss", LOSSES)
def test_triton_bf16_smoke(loss):
    # the interpreter has no bf16 arithmetic: loads only, judged with fixed tolerances
    pred, target, weight = make_inputs(513, torch.bfloat16)
    out, gx = run("triton", pred, target, weight, {"loss": loss}, "mean")
    want, gw = run("reference", pred.float(), target.float(), weight.float(), {"loss": loss}, "mean")
    assert_close_verbose(out.float(), want, tag=f"bf16 {loss}", rtol=2e-2)
    assert_close_verbose(gx.float(), gw, tag=f"bf16 {loss} grad", rtol=2e-2, scale="max")


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_triton_gradcheck(loss, reduction):
    check_gradcheck("triton", loss, reduction)


def test_triton_unweighted_and_empty():
    check_against_reference("triton", 3001, torch.float32, "focal_l1", "mean", weighted=False)
    x = torch.zeros(0, requires_grad=True)
    out = dirfast.mse(x, torch.zeros(0), backend="triton")
    assert out.item() == 0.0 and torch.autograd.grad(out, x)[0].shape == (0,)


def test_triton_no_grad_skips_gradient():
    check_no_grad_same_value("triton")


def test_triton_deterministic():
    pred, target, weight = make_inputs(20_000, torch.float32)
    a = dirfast.focal_mse(pred, target, weight, backend="triton")
    b = dirfast.focal_mse(pred, target, weight, backend="triton")
    assert torch.equal(a, b)


def test_auto_never_picks_the_interpreter(monkeypatch):
    calls = []
    import dirfast.kernels.weighted_loss as k
    monkeypatch.setattr(k, "weighted_loss_fwd", lambda *a, **kw: calls.append(1))
    dirfast.mse(torch.randn(5), torch.randn(5))
    assert calls == []


# ------------------------------------------------------------------------------------------------
# focal modulator precision (the kernel's tanh) and double backward on the triton path


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_triton_focal_modulator_precision(dtype):
    from _cases import check_focal_precision, check_issue_reproducer

    check_focal_precision("triton", dtype)
    check_issue_reproducer("triton")


@pytest.mark.parametrize("route_", ["function", "op"])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_triton_double_backward(route_, reduction):
    from _double_backward import WL_CASES, check_weighted_loss_gradgrad

    for loss, activate, gamma in WL_CASES:
        check_weighted_loss_gradgrad("triton", route_, loss, activate, gamma, reduction)
