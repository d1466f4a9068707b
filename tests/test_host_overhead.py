"""Host time per call guard: each per-step op's forward + backward on tiny CPU inputs against the naive
PyTorch weighted L1 of the same batch (``benchmarks/bench_host_overhead.py`` measures the same thing
with the full harness and writes the figures).

Loose by design (a shared 2-core CI machine): calls interleaved one by one, min of N, one thread; the ceiling
per op is a loose multiple of its budget where the budget is met, and a regression guard above
today's figure where it is not yet met (``KNOWN_EXCESS``: lower these when an op gets faster).
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


def _time_call(fn, reset, x) -> float:
    reset(x)
    t0 = time.perf_counter()
    fn(x)
    return time.perf_counter() - t0


@pytest.mark.parametrize("name", list(bho.BUDGET))
def test_host_time_per_call(name, monkeypatch):
    monkeypatch.setenv("DIRFAST_VALIDATE", "0")  # the suite turns validation (host syncs) on
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        x = bho._setup(name)()
        op = lambda x: x["call"](x)  # noqa: E731
        for _ in range(30):  # warm-up: first-call dispatch, allocator
            bho._reset(x); op(x); bho._reset(x); bho._naive(x)
        calls = 300 if name in ("conr", "fds_module") else 1500
        best_op = best_naive = float("inf")
        for _ in range(calls):  # interleaved call by call: min of N resists a loaded machine
            best_op = min(best_op, _time_call(op, bho._reset, x))
            best_naive = min(best_naive, _time_call(bho._naive, bho._reset, x))
    finally:
        torch.set_num_threads(threads)
    ratio = best_op / best_naive
    print(f"{name}: {best_op * 1e6:.1f} us, naive {best_naive * 1e6:.1f} us, {ratio:.2f}x")
    ceiling = KNOWN_EXCESS.get(name, LOOSE * bho.BUDGET[name])
    assert ratio <= ceiling, (f"{name}: host time {best_op * 1e6:.1f} us per call = {ratio:.2f}x the naive "
                              f"weighted L1 ({best_naive * 1e6:.1f} us), ceiling {ceiling}x")
