"""Dist Loss with ``global_sort=True`` under torch.distributed: gloo, 2 CPU processes
(spawn, localhost TCP on a free port, timeout-bounded), uneven local batches (37 and 58 samples, e.g. a
short last batch). Every rank must return the loss of one process on the concatenated batch, and the
gradient of that loss with respect to its own predictions (fp64, 1e-12 relative)."""

import os
import socket
import tempfile
import time
from datetime import timedelta

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

WORLD = 2
SIZES = (37, 58)
TIMEOUT = 240.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _global_batch():
    """Heavy-tailed age predictions (the PAV pools), integer targets; fp64."""
    g = torch.Generator().manual_seed(5)
    n = sum(SIZES)
    z = torch.randn(n, generator=g, dtype=torch.float64)
    chi = sum(torch.randn(n, generator=g, dtype=torch.float64) ** 2 for _ in range(3)) / 3
    p = 45 + 15 * z / chi.sqrt()
    y = (45 + 15 * torch.randn(n, generator=g, dtype=torch.float64)).round().clamp(0, 120)
    return p, y


def _crit():
    import dirfast
    from dirfast.data import agedb_dir_ages

    return dirfast.nn.DistLoss(agedb_dir_ages()["train"], reweight="sqrt_inv", lds=True,
                               global_sort=True, lam=0.7)


def _loss_grad(crit, p, y):
    x = p.clone().requires_grad_()
    out = crit(x, y)
    (g,) = torch.autograd.grad(out, x)
    return out.detach(), g


def _worker(rank, port, out_dir):
    os.environ["DIRFAST_VALIDATE"] = "1"
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=WORLD, timeout=timedelta(seconds=60))
    try:
        p, y = _global_batch()
        lo = sum(SIZES[:rank])
        sl = slice(lo, lo + SIZES[rank])
        out, g = _loss_grad(_crit(), p[sl], y[sl])
        torch.save({"loss": out, "grad": g}, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_global_sort_matches_single_process():
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available")
    with tempfile.TemporaryDirectory() as out_dir:
        port = _free_port()
        ctx = mp.start_processes(_worker, args=(port, out_dir), nprocs=WORLD, join=False,
                                 start_method="spawn")
        deadline = time.monotonic() + TIMEOUT
        try:
            while not ctx.join(timeout=1.0):
                if time.monotonic() > deadline:
                    raise AssertionError(f"distributed Dist Loss test timed out after {TIMEOUT:.0f} s")
        finally:
            for proc in ctx.processes:  # only the processes this test started
                if proc.is_alive():
                    proc.terminate()
                    proc.join(5)
        res = [torch.load(os.path.join(out_dir, f"rank{r}.pt")) for r in range(WORLD)]

    from dirfast.testing import assert_close_verbose

    p, y = _global_batch()
    want, gw = _loss_grad(_crit(), p, y)  # one process, no process group: the concatenated batch
    lo = 0
    for r, size in enumerate(SIZES):
        assert_close_verbose(res[r]["loss"], want, tag=f"rank {r} loss", rtol=1e-12)
        assert res[r]["grad"].shape == (size,)
        assert_close_verbose(res[r]["grad"], gw[lo:lo + size], tag=f"rank {r} grad", rtol=1e-12,
                             scale="max")
        lo += size
    # the local-only loss differs: the global sort changed something
    local, _ = _loss_grad(_crit(), p[:SIZES[0]], y[:SIZES[0]])
    assert abs(local.item() - want.item()) > 1e-6
