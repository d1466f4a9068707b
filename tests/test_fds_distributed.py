"""FDS under torch.distributed: gloo, 2 CPU processes (spawn, localhost TCP on a free
port, timeout-bounded). Every rank accumulates its own shard; ``end_epoch`` all-gathers the per-bin
(count, mean, M2) and merges them in rank order. Both ranks must end with bit-identical buffers equal
to a single process over the concatenated data (rtol 1e-6; the merge order differs)."""

import os
import socket
import tempfile
import time
from datetime import timedelta

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from dirfast.nn import FDS
from dirfast.testing import assert_close_verbose

WORLD = 2
EPOCHS = 4
D = 24
TIMEOUT = 240.0
STAT_KEYS = ("running_mean", "running_var", "running_mean_last_epoch", "running_var_last_epoch",
             "smoothed_mean_last_epoch", "smoothed_var_last_epoch", "num_samples_tracked", "epoch",
             "stats_epoch", "num_updates", "partial_count")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _epoch_batches(epoch):
    """Integer ages 0..110 (below/above the 3..99 buckets included), 7 batches of 50."""
    g = torch.Generator().manual_seed(epoch)
    n = 350
    y = (torch.randn(n, generator=g) * 20 + 40).round().clamp(0, 110)
    y[:3] = torch.tensor([1.0, 3.0, 105.0])
    x = (3.0 + torch.sin(y[:, None] / 7 + torch.arange(D) / 5.0)
         + (0.3 + y[:, None] / 100) * torch.randn(n, D, generator=g))
    return list(zip(torch.split(x, 50), torch.split(y, 50)))


def _make(variant):
    return FDS(D, bucket_num=100, bucket_start=3, variant=variant).train()


def _run(fds, batch_filter):
    outs = []
    for e in range(EPOCHS):
        bl = _epoch_batches(e)
        for i, (xb, yb) in enumerate(bl):
            if batch_filter(i):
                fds.accumulate(xb, yb)
        outs.append(fds(bl[0][0], bl[0][1]).detach().clone())  # calibration with the merged stats
        fds.end_epoch(e)
    return outs


def _worker(rank, port, variant, out_dir):
    os.environ["DIRFAST_VALIDATE"] = "1"
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=WORLD, timeout=timedelta(seconds=60))
    try:
        fds = _make(variant)
        outs = _run(fds, lambda i: i % WORLD == rank)
        torch.save({"state": fds.state_dict(), "outs": outs}, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("variant", ["default", "official"])
def test_distributed_end_epoch_matches_single_process(variant):
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available")
    with tempfile.TemporaryDirectory() as out_dir:
        port = _free_port()
        ctx = mp.start_processes(_worker, args=(port, variant, out_dir), nprocs=WORLD, join=False,
                                 start_method="spawn")
        deadline = time.monotonic() + TIMEOUT
        try:
            while not ctx.join(timeout=1.0):
                if time.monotonic() > deadline:
                    raise AssertionError(f"distributed FDS test timed out after {TIMEOUT:.0f} s")
        finally:
            for p in ctx.processes:  # only the processes this test started
                if p.is_alive():
                    p.terminate()
                    p.join(5)
        res = [torch.load(os.path.join(out_dir, f"rank{r}.pt"), weights_only=False) for r in range(WORLD)]

    single = _make(variant)
    outs = _run(single, lambda i: True)
    s0, s1 = res[0]["state"], res[1]["state"]
    for k in STAT_KEYS:
        assert torch.equal(s0[k], s1[k]), f"ranks differ on {k}"
        want = single.state_dict()[k]
        if want.is_floating_point():
            assert_close_verbose(s0[k], want, tag=f"{variant}:{k}", rtol=1e-6, atol=1e-7)
        else:
            assert torch.equal(s0[k], want), k
    assert int(s0["partial_count"].sum()) == 0
    for e in range(EPOCHS):
        assert torch.equal(res[0]["outs"][e], res[1]["outs"][e])
        assert_close_verbose(res[0]["outs"][e], outs[e], tag=f"{variant}:calibrated@{e}", rtol=1e-6,
                             scale="max")
    assert not torch.equal(outs[-1], _epoch_batches(EPOCHS - 1)[0][0])  # calibration was active
