"""Running a test body on several CPU processes with ``torch.distributed`` (gloo): spawn, localhost TCP
on a free port, timeout-bounded, only the processes started here are terminated on failure. The
pattern of ``test_fds_distributed.py`` / ``test_dist_loss_distributed.py`` as a reusable helper."""

import os
import socket
import time
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def gloo_available() -> bool:
    return dist.is_available() and dist.is_gloo_available()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def init_gloo(rank: int, world: int, port: int, timeout_s: float = 60.0) -> None:
    """In a spawned worker: validation on (as the test suite), one thread, the gloo group."""
    os.environ["DIRFAST_VALIDATE"] = "1"
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world, timeout=timedelta(seconds=timeout_s))


def spawn_and_wait(worker, args, *, world: int, timeout_s: float, what: str) -> None:
    """``worker(rank, port, *args)`` on ``world`` spawned processes; raises if any fails or the whole
    run exceeds ``timeout_s``."""
    port = free_port()
    ctx = mp.start_processes(worker, args=(port,) + tuple(args), nprocs=world, join=False,
                             start_method="spawn")
    deadline = time.monotonic() + timeout_s
    try:
        while not ctx.join(timeout=1.0):
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} timed out after {timeout_s:.0f} s")
    finally:
        for p in ctx.processes:  # only the processes started here
            if p.is_alive():
                p.terminate()
                p.join(5)
