"""Interpreter tier: the Dist Loss Triton kernels (fused pass, flag, pooling stage) on CPU tensors
against the fp64 reference and the literal official oracle (``backend="triton"``), and the ``cuda``
route with ``dirfast._C_cuda`` emulated on the host."""

import ctypes

import pytest
import torch

import dirfast
from dirfast import _ext
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
        sc = K.scalars(F64, n, "mean", 1.0, eps, 1.0, 1.0)
        partials, grad, flag = K.dist_loss_fwd(x, perm, y, q, w, sc, loss=LOSS_CODES["l1"],
                                               weighting=WEIGHTING_CODES["by_rank"])
        assert int(flag.item()) == int(pooled(p, eps * (1 + 1e-6))), heavy
    zero = torch.zeros(1, dtype=torch.int32)
    before = (partials.clone(), grad.clone())
    gs = K.pooled_dist(x, perm, q, w, sc, partials, zero, loss=1, weighting=1)
    K.pooled_grad(x, perm, y, w, torch.zeros_like(x), sc, grad, zero, loss=1)
    assert torch.equal(partials, before[0]) and torch.equal(grad, before[1])
    del gs


# -------------------------------------------------------------------------------------------------
# backend="cuda" (Triton + the CUDA C++ PAV) with dirfast._C_cuda emulated on the host;
# devices; ties


class HostCudaPav:
    """``dirfast._C_cuda``'s PAV API on CPU pointers: ``pav`` runs the GPU decomposition simulated by
    ``dirfast._C.pav(grid=True)`` and sets the flag as the gap kernel does; ``pav_block_mean`` copies
    ``g`` when the flag is 0, as the CUDA kernels' early exit does. Records the calls."""

    def __init__(self):
        self.calls = []
        self.cpu = _ext.require("the host _C_cuda stand-in")

    def device_count(self):
        return 1

    def pav_workspace_bytes(self, rows, n, chunk=0):
        return 256

    def pav(self, dtype, mode, x, rows, n, eps, out, block_start, chunk, flag, workspace, stream,
            perm=0):
        assert perm == 0  # Dist Loss keeps ŝ in sorted order
        self.calls.append("pav")
        pooled = self.cpu.pav(dtype, mode, x, rows, n, eps, out, block_start, chunk, True, 1)
        ctypes.c_int32.from_address(flag).value = 1 if pooled else 0

    def pav_block_mean(self, dtype, g, block_start, rows, n, out, flag, workspace, stream):
        self.calls.append("pav_block_mean")
        if ctypes.c_int32.from_address(flag).value == 0:
            ctypes.memmove(out, g, rows * n * (8 if dtype == "float64" else 4))
        else:
            self.cpu.pav_block_mean(dtype, g, block_start, rows, n, out, 1)


@pytest.fixture(scope="module")
def pav_sim(tmp_path_factory):
    """The kernels of csrc/cuda/pav.cu on host threads (``_launch_stubs.build_pav_sim``)."""
    from _launch_stubs import build_pav_sim

    lib, why = build_pav_sim(tmp_path_factory.mktemp("pav_sim"))
    if lib is None:
        pytest.skip(why)
    return lib


@pytest.mark.parametrize("module", ["host", "kernels"])
@pytest.mark.parametrize("heavy", [False, True], ids=["no-pool", "pooled"])
@pytest.mark.parametrize("dtype", [F64, torch.float32])
@pytest.mark.parametrize("loss", ["l1", "focal_l1"])
def test_cuda_route_with_host_c_cuda(heavy, dtype, loss, module, request, monkeypatch):
    """The ``cuda`` path (what ``backend="cuda"``/``"auto"`` run on a GPU with dirfast._C_cuda): the
    Triton kernels in the interpreter, every pooling stage always launched, the PAV and block mean
    from the stand-in — the API emulated on the host, or the kernels of csrc/cuda/pav.cu themselves
    on host threads (``_launch_stubs.SimCudaPav``: one kernel each at N = 1500); against the
    reference."""
    import dirfast.ops.dist_loss as D

    if module == "host":
        cu = HostCudaPav()
    else:
        from _launch_stubs import SimCudaPav

        cu = SimCudaPav(request.getfixturevalue("pav_sim"))
    monkeypatch.setattr(_ext, "require_cuda", lambda what: cu)
    monkeypatch.setattr(D, "_cuda_stream", lambda device: 0)
    p, y, q, w = batch(1500, heavy=heavy, ties=True)
    assert pooled(p, 0.1) == heavy
    cast = lambda t: t.to(dtype)
    x = cast(p).requires_grad_()
    out = D.DistLossFunction.apply(x, cast(y), q.to(dtype), cast(w), (loss, D.DEFAULT_BETA[loss],
                                   1.0, 0.7, 0.1, "by_rank", "mean", "cuda", True))
    (g,) = torch.autograd.grad(out, x)
    assert cu.calls == ["pav", "pav_block_mean"]
    if module == "kernels":
        assert cu.launches == [1, 1], cu.launches  # one row: no memset either
    xr = p.clone().requires_grad_()
    want = dirfast.dist_loss(xr, y, q, w, loss=loss, lam=0.7, eps=0.1, backend="reference")
    (gw,) = torch.autograd.grad(want, xr)
    rtol = 1e-10 if dtype == F64 else 1e-5
    tag = f"cuda route {dtype} {loss} heavy={heavy}"
    assert_close_verbose(out.double(), want, tag=tag, rtol=rtol)
    assert_close_verbose(g.double(), gw, tag=tag + " grad", rtol=rtol, scale="max")


def test_triton_route_creates_tensors_on_the_inputs_device():
    p, y, q, w = batch(700, heavy=True)
    assert pooled(p, 0.1)
    x = p.clone().requires_grad_()
    want = torch.autograd.grad(dirfast.dist_loss(x, y, q, w, backend="triton"), x)[0]
    with torch.device("meta"):
        got = torch.autograd.grad(dirfast.dist_loss(x, y, q, w, backend="triton"), x)[0]
    assert torch.equal(got, want)


@pytest.mark.parametrize("eps", [0.01, 2.0])
def test_integer_ties_match_the_cpu_paths(eps):
    """Integer predictions with signed zeros, distinct pseudo-labels: triton, cpu and the reference
    give the same elementwise gradient (stable sort on every path)."""
    g = torch.Generator().manual_seed(0)
    p = torch.randint(-5, 6, (2001,), generator=g).double()
    p = torch.where((p == 0) & (torch.rand(2001, generator=g) < 0.5), torch.tensor(-0.0, dtype=F64), p)
    y = torch.randn(2001, generator=g, dtype=F64)
    q = torch.linspace(-6, 6, 2001, dtype=F64)
    res = {}
    for backend in ("triton", "cpu", "reference"):
        x = p.clone().requires_grad_()
        out = dirfast.dist_loss(x, y, q, loss="l2", eps=eps, backend=backend)
        res[backend] = (out.detach(), torch.autograd.grad(out, x)[0])
    for backend, (out, gx) in res.items():
        assert_close_verbose(out, res["reference"][0], tag=f"{backend} ties", rtol=1e-12)
        assert_close_verbose(gx, res["reference"][1], tag=f"{backend} ties grad", rtol=1e-12,
                             atol=1e-15, scale="max")


# ------------------------------------------------------------------------------------------------
# focal_l1 modulator precision (the kernels' tanh) and double backward on the triton path


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_triton_focal_l1_modulator_precision(dtype):
    from _dist_loss_cases import check_focal_precision

    check_focal_precision("triton", dtype)


@pytest.mark.parametrize("route_", ["function", "op"])
@pytest.mark.parametrize("pooled", [True, False], ids=["pooling", "hard"])
def test_triton_double_backward(route_, pooled):
    from _double_backward import DIST_LOSSES, check_dist_gradgrad

    for loss in DIST_LOSSES:
        check_dist_gradgrad("triton", route_, loss, pooled)
