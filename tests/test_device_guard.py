"""Every GPU launch runs on the CUDA device of its tensors, not on the current device.

Triton kernels (and the ``dirfast._C_cuda`` kernels) launch on the *current* CUDA device and its
current stream, whatever device the tensors live on; every launcher therefore enters
``dirfast.kernels._launch.device_guard`` around its launches. Checked on CPU (no GPU, no
interpreter): fake CUDA tensors on ``cuda:1`` (``FakeTensorMode``), a fake current device starting at
0 behind the guard's ``_exchange_device`` / ``_maybe_exchange_device`` hooks, every Triton launch and
every ``dirfast._C_cuda`` call stubbed to record the fake current device (``_launch_stubs``). Each op's
CUDA route is driven through every registered config (``_launch_stubs.DRIVERS``: the registered ops'
real implementations and the launchers; autograd cannot run on fake CUDA tensors in the CPU build of
torch, so backward ops are called directly) and through the public functions; every recorded launch
must have seen device 1, and device 0 must be current again afterwards (also after a failed launch).
"""

import pytest
import torch

pytest.importorskip("triton", reason="the launch-path tests stub Triton kernels (make test installs it)")

import dirfast
import dirfast.kernels as kernels_pkg

from _launch_stubs import DRIVERS, LaunchStubs, fake_cuda

pytestmark = pytest.mark.filterwarnings("ignore:Accessing the data pointer of FakeTensor")

#: ``dirfast._C_cuda`` functions that only compute on the host (sizes, device count)
HOST_ONLY = ("pav_workspace_bytes", "device_count")


def _wrong_device(stubs, want):
    bad = [f"{ln.qualname} (config {ln.key}) launched on device {ln.device}"
           for ln in stubs.launches if ln.device != want]
    bad += [f"dirfast._C_cuda.{c.name} called on device {c.device}" for c in stubs.cuda_calls
            if c.device != want and c.name not in HOST_ONLY]
    return bad


@pytest.mark.parametrize("module", kernels_pkg.KERNEL_MODULES)
def test_every_launch_runs_on_the_tensors_device(monkeypatch, module):
    stubs = LaunchStubs().install(monkeypatch)
    with fake_cuda():
        DRIVERS[module](device="cuda:1")
    assert stubs.launches, f"the {module} driver launched no Triton kernel"
    bad = _wrong_device(stubs, 1)
    assert not bad, f"{len(bad)} launches not on the tensors' device cuda:1, e.g.:\n  " + \
        "\n  ".join(bad[:10])
    assert stubs.current == 0, f"the current device was left at {stubs.current}"


def test_guard_is_a_no_op_on_the_current_device(monkeypatch):
    stubs = LaunchStubs().install(monkeypatch)
    with fake_cuda():
        DRIVERS["conr"](device="cuda:0", dtypes=(torch.float32,))
    assert stubs.launches and not _wrong_device(stubs, 0) and stubs.current == 0


def _public_calls(device):
    """The public functions whose CUDA route launches kernels (forward only: no autograd here)."""
    t = lambda *s, dtype=torch.float32: torch.randn(*s, dtype=dtype, device=device)
    n, d, nb = 64, 24, 5
    idx = torch.randint(0, nb, (n,), device=device)
    yield "mse", lambda: dirfast.mse(t(n), t(n), t(n).abs(), validate=False)
    yield "focal_l1", lambda: dirfast.focal_l1(t(n, 1), t(n, 1), None, validate=False)
    yield "conr_loss", lambda: dirfast.conr_loss(t(n, d), t(n), t(n), t(n).abs(), validate=False)
    yield "fds_calibrate", lambda: dirfast.fds_calibrate(t(n, d), idx, t(nb, d), t(nb, d),
                                                         validate=False)
    yield "fds_bin_stats", lambda: dirfast.fds_bin_stats(t(n, d), idx, nb, validate=False)
    yield "soft_sort", lambda: dirfast.soft_sort(t(4, n), backend="triton", validate=False)
    yield "soft_rank", lambda: dirfast.soft_rank(t(4, n), backend="triton", validate=False)
    yield "dist_loss", lambda: dirfast.dist_loss(t(n), t(n), torch.sort(t(n))[0],
                                                 backend="triton", validate=False)


@pytest.mark.parametrize("name", [name for name, _ in _public_calls("cpu")])
def test_public_functions_launch_on_the_tensors_device(monkeypatch, name):
    """``backend="auto"`` (``"triton"`` for soft sort / Dist Loss, whose auto route is the CUDA C++
    one) on ``cuda:1`` tensors while ``cuda:0`` is current."""
    stubs = LaunchStubs().install(monkeypatch)
    with fake_cuda():
        call = dict(_public_calls("cuda:1"))[name]
        call()
    assert stubs.launches or stubs.cuda_calls, f"{name} launched nothing on its CUDA route"
    bad = _wrong_device(stubs, 1)
    assert not bad, "\n".join(bad)
    assert stubs.current == 0


def test_device_restored_after_a_failed_launch(monkeypatch):
    stubs = LaunchStubs().install(monkeypatch)
    from dirfast.kernels.weighted_loss import _weighted_loss_fwd_kernel

    def boom(*args, **kwargs):
        raise RuntimeError("launch failed")

    monkeypatch.setattr(_weighted_loss_fwd_kernel, "run", boom)
    with fake_cuda():
        x = torch.randn(10, device="cuda:1")
        with pytest.raises(RuntimeError, match="launch failed"):
            dirfast.mse(x, x, validate=False)
    assert stubs.current == 0


def test_guard_restores_the_previous_device_not_zero(monkeypatch):
    from dirfast.kernels._launch import device_guard

    stubs = LaunchStubs().install(monkeypatch)
    stubs.current = 2
    with fake_cuda():
        x = torch.empty(3, device="cuda:1")
        y = torch.empty(3, device="cpu")
    with device_guard(x):
        assert stubs.current == 1
        with device_guard(y):  # CPU tensors (the interpreter): no-op
            assert stubs.current == 1
    assert stubs.current == 2
