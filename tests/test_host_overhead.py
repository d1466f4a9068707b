"""Host time per call guard: each per-step op's forward + backward on tiny CPU inputs against the naive
PyTorch weighted L1 of the same batch (``benchmarks/bench_host_overhead.py`` measures the same thing
with the full harness and writes the figures), on two routes:

* the **CPU route** (``backend="auto"`` on CPU tensors: C++ kernels, ConR's streaming path);
* the **GPU route with its launches stubbed** (``benchmarks/_stubbed_route.py``): the Triton and
  ``dirfast._C_cuda`` launchers on the same CPU tensors, every launch a no-op — the Python around the
  launches, which is what the budget is about. :func:`test_gpu_route_launches` first checks that each
  case really takes that route (it would launch the expected kernels; the CPU route launches none)
  and that the stubs are undone afterwards.

Loose by design (a shared 2-core CI machine): calls interleaved one by one, min of N, one thread; the ceiling
per op is a loose multiple of its budget where the budget is met, and a regression guard above
today's figure where it is not yet met (``KNOWN_EXCESS`` / ``KNOWN_EXCESS_GPU``: lower these when an op
gets faster).
"""

from __future__ import annotations

import time

import pytest
import torch

from benchmarks import bench_host_overhead as bho

#: ceiling = LOOSE × budget (× naive); the budget itself is in ``bho.BUDGET``
LOOSE = 2.5
#: ops whose host time is above budget today (CPU path: ConR 12×, FDS module 3× in the benchmark): ceiling
#: = this (× naive), about 1.6× today's ratio
KNOWN_EXCESS = {"conr": 20.0, "fds_module": 5.0}
#: the same for the stubbed GPU route (benchmark, min of 300 rounds, load average 4.3: fds_calibrate
#: 1.77×, ConR 3.08×, Dist Loss 2.25×, FDS module 3.28×; l1/focal_l1 1.33× are within LOOSE × 1):
#: about 1.6× today's ratio; ops not listed get LOOSE × budget
KNOWN_EXCESS_GPU = {"fds_calibrate": 3.0, "conr": 5.0, "dist_loss": 4.0, "fds_module": 5.5}
#: what one GPU-route call must launch at least: (Triton launches, dirfast._C_cuda kernel calls)
GPU_LAUNCHES = {"l1": (1, 0), "focal_l1": (1, 0), "lds_map": (1, 0), "fds_calibrate": (2, 0),
                "conr": (3, 0), "soft_sort": (0, 2), "dist_loss": (3, 2), "fds_module": (3, 0)}


def _time_call(fn, reset, x) -> float:
    reset(x)
    t0 = time.perf_counter()
    fn(x)
    return time.perf_counter() - t0


def _ratio(name, op, x):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in range(30):  # warm-up: first-call dispatch, allocator
            bho._reset(x); op(x); bho._reset(x); bho._naive(x)
        calls = 300 if name in ("conr", "fds_module") else 1500
        best_op = best_naive = float("inf")
        for _ in range(calls):  # interleaved call by call: min of N resists a loaded machine
            best_op = min(best_op, _time_call(op, bho._reset, x))
            best_naive = min(best_naive, _time_call(bho._naive, bho._reset, x))
    finally:
        torch.set_num_threads(threads)
    return best_op, best_naive


@pytest.mark.parametrize("name", list(bho.BUDGET))
def test_host_time_per_call(name, monkeypatch):
    monkeypatch.setenv("DIRFAST_VALIDATE", "0")  # the suite turns validation (host syncs) on
    x = bho._setup(name)()
    best_op, best_naive = _ratio(name, lambda x: x["call"](x), x)
    ratio = best_op / best_naive
    print(f"{name}: {best_op * 1e6:.1f} us, naive {best_naive * 1e6:.1f} us, {ratio:.2f}x")
    ceiling = KNOWN_EXCESS.get(name, LOOSE * bho.BUDGET[name])
    assert ratio <= ceiling, (f"{name}: host time {best_op * 1e6:.1f} us per call = {ratio:.2f}x the naive "
                              f"weighted L1 ({best_naive * 1e6:.1f} us), ceiling {ceiling}x")


# ------------------------------------------------------------------------------------------------
# the GPU route, launches stubbed


@pytest.fixture
def gpu_route():
    """The stubs installed for one test and undone after it (nothing leaks into other tests)."""
    pytest.importorskip("triton", reason="the GPU route's launchers import triton (make test installs it)")
    route = bho.gpu_route()
    yield route
    bho.release_gpu_route()


@pytest.mark.parametrize("name", list(bho.BUDGET))
def test_gpu_route_launches(name, gpu_route, monkeypatch):
    """The stubbed GPU route of each case launches (no-op) kernels — at least the ones listed in
    ``GPU_LAUNCHES`` — so its timing is of that route; the CPU route of the same case, outside the
    route toggle, launches none."""
    monkeypatch.setenv("DIRFAST_VALIDATE", "0")
    got = bho.launches(name)
    triton_min, cuda_min = GPU_LAUNCHES[name]
    assert got["triton"] >= triton_min and got["cuda"] >= cuda_min and got["triton"] + got["cuda"], \
        f"{name}: the stubbed GPU route launched {got}, expected >= {GPU_LAUNCHES[name]}"
    x = bho._setup(name, "cpu")()
    bho._reset(x)
    cpu = gpu_route.count(lambda: x["call"](x))
    assert cpu["triton"] == 0 and cpu["cuda"] == 0, f"{name}: the CPU route launched {cpu}"


def test_gpu_route_is_undone():
    """Installing and releasing the stubs leaves the process as it was: Triton's ``run``, ``is_cuda``,
    ``torch.cuda.current_stream``, ``device_guard`` and the backend resolution."""
    pytest.importorskip("triton")
    from dirfast import _backend
    from dirfast.kernels import _launch
    from dirfast.kernels import weighted_loss as kwl

    bho.release_gpu_route()
    assert "run" not in vars(kwl._weighted_loss_fwd_kernel) and "is_cuda" not in vars(torch.Tensor)
    route = bho.gpu_route()
    assert "run" in vars(kwl._weighted_loss_fwd_kernel) and kwl.device_guard is not _launch.device_guard
    assert "is_cuda" in vars(torch.Tensor)
    bho.release_gpu_route()
    assert "run" not in vars(kwl._weighted_loss_fwd_kernel) and "is_cuda" not in vars(torch.Tensor)
    assert kwl.device_guard is _launch.device_guard
    assert route._state.on is False
    assert torch.cuda.current_stream.__module__ == "torch.cuda"
    assert _backend.resolve_backend(None, torch.device("cpu"), op="t") in ("cpu", "cpu_torch")


@pytest.mark.parametrize("name", list(bho.BUDGET))
def test_gpu_route_host_time_per_call(name, gpu_route, monkeypatch):
    monkeypatch.setenv("DIRFAST_VALIDATE", "0")
    x = bho._setup(name, "gpu-stubbed")()
    best_op, best_naive = _ratio(name, lambda x: x["call_gpu"](x), x)
    ratio = best_op / best_naive
    print(f"{name} (GPU route, launches stubbed): {best_op * 1e6:.1f} us, naive {best_naive * 1e6:.1f} us, "
          f"{ratio:.2f}x")
    ceiling = KNOWN_EXCESS_GPU.get(name, LOOSE * bho.BUDGET[name])
    assert ratio <= ceiling, (f"{name}: GPU-route host time {best_op * 1e6:.1f} us per call = {ratio:.2f}x "
                              f"the naive weighted L1 ({best_naive * 1e6:.1f} us), ceiling {ceiling}x")
