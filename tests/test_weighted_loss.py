"""Weighted losses: CPU paths (C++ kernel, vectorised PyTorch) against the fp64 reference, autograd,
shapes, reductions, degenerate batches, and bad input."""


import pytest
import torch

import dirfast
from dirfast.reference import weighted_loss_ref
from dirfast.testing import assert_close_verbose

from _paths import CPU_PATHS, require_ext
from _cases import (LOSSES, REDUCTIONS, check_against_reference, check_focal_precision, check_gradcheck,
                    check_issue_reproducer,
                    check_no_grad_same_value, make_inputs, run)

@pytest.mark.parametrize("path", CPU_PATHS)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16])
def test_matches_reference(route, path, loss, reduction, dtype):
    check_against_reference(route(path), 1031, dtype, loss, reduction, ties=True)


@pytest.mark.parametrize("path", CPU_PATHS)
@pytest.mark.parametrize("n", [0, 1, 2, 7, 100_003])
@pytest.mark.parametrize("shape2d", [False, True])
def test_shapes(route, path, n, shape2d):
    for loss in LOSSES:
        check_against_reference(route(path), n, torch.float32, loss, "mean", shape2d=shape2d)
        check_against_reference(route(path), n, torch.float32, loss, "none", shape2d=shape2d,
                                weighted=False)


@pytest.mark.parametrize("path", CPU_PATHS)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck(route, path, loss, reduction):
    check_gradcheck(route(path), loss, reduction)


@pytest.mark.parametrize("loss", LOSSES)
def test_reference_gradcheck(loss):
    check_gradcheck("reference", loss, "mean")


@pytest.mark.parametrize("path", CPU_PATHS)
@pytest.mark.parametrize("gamma,activate", [(0.0, "sigmoid"), (2.5, "sigmoid"), (1.0, "tanh"), (0.5, "tanh")])
def test_focal_options(route, path, gamma, activate):
    pred, target, weight = make_inputs(501, torch.float64, away_from_kinks=True)
    for loss in ("focal_mse", "focal_l1"):
        kw = dict(loss=loss, beta=3.0, gamma=gamma, activate=activate)
        out, gx = run(route(path), pred, target, weight, kw, "mean")
        x = pred.clone().requires_grad_()
        ref = weighted_loss_ref(x, target, weight, reduction="mean", **kw)
        (gr,) = torch.autograd.grad(ref, x, torch.tensor(1.7, dtype=torch.float64))
        assert_close_verbose(out, ref.detach(), tag=f"{loss} γ={gamma} {activate}")
        assert_close_verbose(gx, gr, tag=f"{loss} γ={gamma} {activate} grad", scale="max")


def test_official_formula_values():
    """Hand-computed official values (spec §1.4) pin the reference itself."""
    p = torch.tensor([[1.0], [3.0]], dtype=torch.float64)
    t = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    w = torch.tensor([[2.0], [0.5]], dtype=torch.float64)
    s = lambda z: 1 / (1 + torch.exp(torch.tensor(-z, dtype=torch.float64)))
    expect = {
        "mse": (2 * 1 + 0.5 * 4) / 2,
        "l1": (2 * 1 + 0.5 * 2) / 2,
        "huber": (2 * 0.5 + 0.5 * 1.5) / 2,
        "focal_l1": (2 * 1 * (2 * s(0.2) - 1) + 0.5 * 2 * (2 * s(0.4) - 1)) / 2,
        "focal_mse": (2 * 1 * (2 * s(0.2) - 1) + 0.5 * 4 * (2 * s(0.4) - 1)) / 2,
    }
    for loss, value in expect.items():
        for backend in ("reference", "auto"):
            got = dirfast.weighted_loss(p, t, w, loss=loss, backend=backend)
            assert abs(got.item() - float(value)) < 1e-12, (loss, backend, got.item(), float(value))


@pytest.mark.parametrize("path", CPU_PATHS)
def test_empty_batch_is_zero_not_nan(route, path):
    backend = route(path)
    x = torch.zeros(0, requires_grad=True)
    for loss in LOSSES:
        out = dirfast.weighted_loss(x, torch.zeros(0), loss=loss, backend=backend)
        assert out.item() == 0.0
        (g,) = torch.autograd.grad(out, x)
        assert g.shape == (0,)


@pytest.mark.parametrize("path", CPU_PATHS)
def test_inputs_not_mutated_and_target_weight_grads(route, path):
    backend = route(path)
    pred, target, weight = make_inputs(257, torch.float64, away_from_kinks=True)
    copies = [t.clone() for t in (pred, target, weight)]
    x = pred.clone().requires_grad_()
    t = target.clone().requires_grad_()
    w = weight.clone().requires_grad_()
    for loss in LOSSES:
        out = dirfast.weighted_loss(x, t, w, loss=loss, backend=backend)
        grads = torch.autograd.grad(out * 1.3, (x, t, w))
        xr, tr, wr = (z.detach().clone().requires_grad_() for z in (x, t, w))
        ref = weighted_loss_ref(xr, tr, wr, loss=loss, beta=dirfast.functional.DEFAULT_BETA[loss])
        refs = torch.autograd.grad(ref * 1.3, (xr, tr, wr))
        for name, a, b in zip("ptw", grads, refs):
            assert_close_verbose(a, b, tag=f"{loss} d/d{name}", scale="max")
    for a, b in zip((pred, target, weight), copies):
        assert torch.equal(a, b)
    # retain_graph: backward twice gives the same gradient (the saved gradient is never scaled in place)
    out = dirfast.mse(x, t, w, backend=backend)
    g1 = torch.autograd.grad(out, x, retain_graph=True)[0]
    g2 = torch.autograd.grad(out, x)[0]
    assert torch.equal(g1, g2)


@pytest.mark.parametrize("path", CPU_PATHS)
def test_non_contiguous_and_single_bin(route, path):
    backend = route(path)
    base = torch.randn(64, 2, dtype=torch.float64)
    pred, target = base[:, :1], base[:, 1:]  # [64,1] views with stride 2
    assert not pred.is_contiguous()
    weight = torch.ones(64, 1, dtype=torch.float64)  # all samples in one bin
    for loss in LOSSES:
        got = dirfast.weighted_loss(pred, target, weight, loss=loss, backend=backend)
        want = weighted_loss_ref(pred, target, weight, loss=loss,
                                 beta=dirfast.functional.DEFAULT_BETA[loss])
        assert_close_verbose(got, want, tag=f"strided {loss}")


@pytest.mark.parametrize("path", CPU_PATHS)
def test_no_grad_skips_gradient(route, path):
    check_no_grad_same_value(route(path))


def test_cpu_kernel_deterministic():
    require_ext()
    pred, target, weight = make_inputs(300_001, torch.float32)
    a = dirfast.mse(pred, target, weight, backend="cpu")
    b = dirfast.mse(pred, target, weight, backend="cpu")
    assert torch.equal(a, b)


def test_modules_match_functional():
    pred, target, weight = make_inputs(99, torch.float32)
    mods = {
        "mse": dirfast.nn.MSELoss(), "l1": dirfast.nn.L1Loss(), "focal_mse": dirfast.nn.FocalMSELoss(),
        "focal_l1": dirfast.nn.FocalL1Loss(), "huber": dirfast.nn.HuberLoss(),
    }
    fns = {"mse": dirfast.mse, "l1": dirfast.l1, "focal_mse": dirfast.focal_mse,
           "focal_l1": dirfast.focal_l1, "huber": dirfast.huber}
    for name, mod in mods.items():
        assert torch.equal(mod(pred, target, weight), fns[name](pred, target, weight))
        assert torch.equal(mod(pred, target, weight),
                           dirfast.nn.WeightedLoss(name)(pred, target, weight))


BAD = [
    (lambda p, t, w: dirfast.mse(p, t.reshape(-1, 1)), ValueError, "no broadcasting"),
    (lambda p, t, w: dirfast.mse(p.reshape(-1, 1), t), ValueError, "no broadcasting"),
    (lambda p, t, w: dirfast.mse(p.reshape(2, 4), t.reshape(2, 4)), ValueError, "pred must have shape"),
    (lambda p, t, w: dirfast.mse(p, t, w[:-1]), ValueError, "weight must have the shape"),
    (lambda p, t, w: dirfast.mse(p.long(), t.long()), TypeError, "pred must be a floating"),
    (lambda p, t, w: dirfast.mse(p, t.long()), TypeError, "target must be a floating"),
    (lambda p, t, w: dirfast.mse(p, t.double()), TypeError, "target must have pred's dtype"),
    (lambda p, t, w: dirfast.mse(p, t, w.to("meta")), ValueError, "one device"),
    (lambda p, t, w: dirfast.mse(p, t, -w), ValueError, "weight must be >= 0"),
    (lambda p, t, w: dirfast.mse(p * float("nan"), t), ValueError, "pred contains NaN"),
    (lambda p, t, w: dirfast.huber(p, t, beta=0.0), ValueError, "beta must be > 0"),
    (lambda p, t, w: dirfast.focal_l1(p, t, beta=-1.0), ValueError, "beta must be > 0"),
    (lambda p, t, w: dirfast.focal_l1(p, t, gamma=-1.0), ValueError, "gamma must be >= 0"),
    (lambda p, t, w: dirfast.focal_l1(p, t, activate="relu"), ValueError, "activate must be one of"),
    (lambda p, t, w: dirfast.mse(p, t, reduction="avg"), ValueError, "reduction must be one of"),
    (lambda p, t, w: dirfast.weighted_loss(p, t, loss="bce"), ValueError, "loss must be one of"),
    (lambda p, t, w: dirfast.mse(p.numpy(), t), TypeError, "pred must be a torch.Tensor"),
    (lambda p, t, w: dirfast.mse(p, t, backend="gpu"), ValueError, "backend must be one of"),
    (lambda p, t, w: dirfast.mse(p, t, backend="cuda"), RuntimeError, r"no CUDA C\+\+ kernel"),
    (lambda p, t, w: dirfast.nn.HuberLoss(beta=-2.0), ValueError, "beta must be > 0"),
]


@pytest.mark.parametrize("case", range(len(BAD)))
def test_bad_input(case):
    fn, exc, msg = BAD[case]
    p, t, w = torch.randn(8), torch.randn(8), torch.rand(8)
    with pytest.raises(exc, match=msg):
        fn(p, t, w)


def test_checked_configurations_are_remembered_only_when_valid():
    """A valid configuration is checked once and remembered; a bad one raises every time, also
    after an equal-hashing valid one (True == 1) or with an unhashable argument."""
    p, t = torch.randn(8), torch.randn(8)
    for _ in range(2):
        assert torch.equal(dirfast.focal_l1(p, t, beta=1, gamma=1),
                           dirfast.focal_l1(p, t, beta=1.0, gamma=1.0))
        with pytest.raises(TypeError, match="beta must be a real number, got bool"):
            dirfast.focal_l1(p, t, beta=True, gamma=1)
        with pytest.raises(TypeError, match="gamma must be a real number, got bool"):
            dirfast.focal_l1(p, t, beta=1, gamma=True)
        with pytest.raises(TypeError, match="beta must be a real number, got list"):
            dirfast.focal_l1(p, t, beta=[1.0])
        with pytest.raises(ValueError, match="beta must be finite"):
            dirfast.focal_l1(p, t, beta=float("nan"))


def test_value_checks_only_with_validation():
    p, t, w = torch.randn(8), torch.randn(8), torch.rand(8)
    # validation off: a negative weight is not a host sync error, NaN propagates
    dirfast.mse(p, t, -w, validate=False)
    assert torch.isnan(dirfast.mse(p * float("nan"), t, validate=False))


# ------------------------------------------------------------------------------------------------
# the CUDA boundary (fake CUDA tensors, no GPU): the same errors as on CPU, devices named


_BAD_LOSS = {
    "pred [B, 2]": lambda T: dirfast.mse(T(8, 2), T(8, 2)),
    "[B] vs [B, 1]": lambda T: dirfast.l1(T(8), T(8, 1)),
    "target dtype": lambda T: dirfast.mse(T(8), T(8, dtype=torch.float64)),
    "pred int": lambda T: dirfast.mse(T(8, dtype=torch.int64), T(8, dtype=torch.int64)),
    "weight shape": lambda T: dirfast.focal_l1(T(8), T(8), T(7)),
    "weight int": lambda T: dirfast.mse(T(8), T(8), T(8, dtype=torch.int32)),
    "huber beta 0": lambda T: dirfast.huber(T(8), T(8), beta=0.0),
    "gamma < 0": lambda T: dirfast.focal_mse(T(8), T(8), gamma=-1.0),
    "loss name": lambda T: dirfast.weighted_loss(T(8), T(8), loss="mae"),
    "reduction": lambda T: dirfast.mse(T(8), T(8), reduction="avg"),
    "target not a tensor": lambda T: dirfast.mse(T(3), [0.0, 1.0, 2.0]),
}


@pytest.mark.parametrize("case", sorted(_BAD_LOSS))
def test_cuda_boundary_same_errors_as_cpu(monkeypatch, case):
    from _launch_stubs import same_error_on_cuda

    same_error_on_cuda(monkeypatch, _BAD_LOSS[case])


@pytest.mark.parametrize("other", ["cuda:0", "cpu"])
@pytest.mark.parametrize("arg", ["target", "weight"])
def test_cuda_device_mismatch_names_both_devices(monkeypatch, arg, other):
    from _launch_stubs import device_mismatch_error

    def case(T):
        kw = {name: T(8, device=other if name == arg else "cuda:1") for name in ("target", "weight")}
        return dirfast.focal_l1(T(8), **kw)

    msg = device_mismatch_error(monkeypatch, case)
    assert "pred on cuda:1" in msg and f"{arg} on {other}" in msg, msg


# ------------------------------------------------------------------------------------------------
# focal modulator precision


@pytest.mark.parametrize("path", CPU_PATHS + ["reference"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_focal_modulator_precision(route, path, dtype):
    backend = route(path) if path in CPU_PATHS else path
    check_focal_precision(backend, dtype)
    check_issue_reproducer(backend)


def test_focal_tanh_branches_sweep(route):
    """The C++ kernel's tanh (series below c·a = 1/4, exp form above) against mpmath over a log sweep
    of |e| (focal_l1, γ = 1: out = |e|·tanh(c|e|)), fp64 within 4 ulp-ish, fp32 within 1e-6."""
    import mpmath as mp

    backend = route("cpu")
    for dt, rtol in ((torch.float64, 1e-15), (torch.float32, 1e-6)):
        e = torch.logspace(-8, 2.5, 2001, dtype=torch.float64).to(dt)
        out = dirfast.focal_l1(e, torch.zeros_like(e), activate="tanh", beta=1.0, reduction="none",
                               backend=backend)
        want = torch.tensor([float(mp.mpf(v) * mp.tanh(mp.mpf(v))) for v in e.tolist()],
                            dtype=torch.float64)
        rel = ((out.double() - want).abs() / want).max().item()
        assert rel <= rtol, (dt, rel)
