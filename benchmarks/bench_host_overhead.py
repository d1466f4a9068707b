"""Benchmark: host (Python + dispatch) time per call of every per-step op, forward + backward.

    python -m benchmarks.bench_host_overhead [--sizes default|quick|check] [--rounds R]
        [--threads T] [--out DIR]

What a small training batch pays on every step before any kernel runs: argument checks, backend
resolution, custom-op / autograd wiring, small prologue tensors. Measured on the CPU paths with
**tiny inputs** (B = 64, D = 16 — the arithmetic is a few microseconds), one thread, so the time is
the host overhead that the GPU paths share (they run the same Python up to the launch). The
yardstick (``naive_torch``, the floor provider of every case, so ``ratio_to_floor`` is the ratio to it) is the plain PyTorch weighted L1 of the same batch,
forward + ``backward()``: ``((p - t).abs() * w).mean()`` — the cheapest thing a user would write.

Cases (each a dirfast call, forward + ``backward()``; grads reset untimed):

* ``l1``, ``focal_l1`` — ``dirfast.l1`` / ``dirfast.focal_l1`` ``[B]`` with weights;
* ``lds_map`` — ``lds(y)`` of a fitted ``dirfast.LDS`` (per-sample weights, no backward);
* ``fds_calibrate`` — ``dirfast.fds_calibrate(x [B, D], bin_idx, scale, shift).sum()``;
* ``conr`` — ``dirfast.conr_loss(x [B, D], y, p)``;
* ``soft_sort`` — ``dirfast.soft_sort(x [4, 16]).sum()``;
* ``dist_loss`` — ``dirfast.dist_loss(p [B], y, pseudo_labels)``;
* ``fds_module`` — ``dirfast.nn.FDS(D, Bins(0, 1, 10), accumulate_in_forward=True)`` training
  forward (calibrating: two epochs ended) ``.sum()`` + backward.

Budgets: single-kernel ops (weighted losses, ``fds_calibrate``, LDS map)
≤ 1× the naive formula, the others ≤ 2×; ``tests/test_host_overhead.py`` guards loose multiples of
them on the CI machine.
"""

from __future__ import annotations

import sys
from typing import Dict, List, Optional, Sequence

import torch

import dirfast

from . import runner
from .runner import Case, Provider

OP = "host_overhead"
B, D = 64, 16
#: per case: the issue's budget (× naive_torch, min of N)
BUDGET: Dict[str, float] = {"l1": 1.0, "focal_l1": 1.0, "lds_map": 1.0, "fds_calibrate": 1.0,
                            "conr": 2.0, "soft_sort": 2.0, "dist_loss": 2.0, "fds_module": 2.0}


def _base(seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    p = torch.randn(B, generator=g).requires_grad_()
    t = torch.randn(B, generator=g)
    w = torch.rand(B, generator=g) + 0.5
    return {"p": p, "t": t, "w": w}


def _setup(name: str):
    def setup() -> dict:
        x = _base()
        g = torch.Generator().manual_seed(1)
        if name in ("l1", "focal_l1"):
            fn = getattr(dirfast, name)
            x["call"] = lambda x: fn(x["p"], x["t"], x["w"]).backward()
        elif name == "lds_map":
            y_train = torch.randint(0, 50, (1000,), generator=g).float()
            lds = dirfast.LDS(dirfast.Bins(0, 1, 50)).fit(y_train)
            y = torch.randint(0, 50, (B,), generator=g).float()
            x["call"] = lambda x: lds(y)
        elif name == "fds_calibrate":
            f = torch.randn(B, D, generator=g).requires_grad_()
            bi = torch.randint(0, 10, (B,), generator=g)
            sc, sh = torch.rand(10, D, generator=g) + 0.5, torch.randn(10, D, generator=g)
            x["f"] = f
            x["call"] = lambda x: dirfast.fds_calibrate(f, bi, sc, sh).sum().backward()
        elif name == "conr":
            f = torch.randn(B, D, generator=g).requires_grad_()
            y = torch.randint(0, 10, (B,), generator=g).float()
            pr = y + torch.randn(B, generator=g)
            x["f"] = f
            x["call"] = lambda x: dirfast.conr_loss(f, y, pr).backward()
        elif name == "soft_sort":
            s = torch.randn(4, 16, generator=g).requires_grad_()
            x["f"] = s
            x["call"] = lambda x: dirfast.soft_sort(s).sum().backward()
        elif name == "dist_loss":
            pl = torch.sort(torch.randn(B, generator=g)).values
            x["call"] = lambda x: dirfast.dist_loss(x["p"], x["t"], pl).backward()
        elif name == "fds_module":
            fds = dirfast.nn.FDS(D, dirfast.Bins(0, 1, 10), accumulate_in_forward=True)
            f = torch.randn(B, D, generator=g).requires_grad_()
            y = torch.randint(0, 10, (B,), generator=g).float()
            for epoch in range(2):  # calibrating from here on (start_smooth=1)
                fds(f.detach(), y)
                fds.end_epoch(epoch)
            x["f"] = f
            x["call"] = lambda x: fds(f, y).sum().backward()
        else:  # pragma: no cover
            raise KeyError(name)
        return x
    return setup


def _reset(x: dict) -> None:
    x["p"].grad = None
    if "f" in x:
        x["f"].grad = None


def _naive(x: dict) -> None:
    ((x["p"] - x["t"]).abs() * x["w"]).mean().backward()


def build_cases(sizes: str) -> List[Case]:
    names = list(BUDGET) if sizes != "quick" else ["l1", "fds_calibrate", "conr"]
    return [Case(name, {"n": B, "dtype": "float32", "shapes": f"B={B}, D={D}"}, _setup(name),
                 rotate=False) for name in names]


def build_providers() -> List[Provider]:
    return [
        Provider("dirfast", lambda x: x["call"](x), reset=_reset, devices=("cpu",),
                 description="the dirfast call of the case, forward + backward (auto backend)"),
        Provider(runner.NAIVE, _naive, kind="floor", reset=_reset, devices=("cpu",),
                 description="((p - t).abs() * w).mean() forward + backward (the yardstick)"),
    ]


def report(results, args) -> None:
    print()
    print(f"host time per call, dirfast / naive weighted L1 (min of N; budget in brackets):")
    for name in BUDGET:
        r = runner.find(results, name, "dirfast")
        n = runner.find(results, name, runner.NAIVE)
        if r is None or n is None:
            continue
        ratio = r.min_ms / n.min_ms
        flag = "ok" if ratio <= BUDGET[name] else "OVER"
        print(f"  {name:14s} {r.min_ms * 1e3:8.1f} us  naive {n.min_ms * 1e3:6.1f} us  "
              f"{ratio:5.2f}x  [{BUDGET[name]:.0f}x] {flag}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not any(a.startswith("--threads") for a in argv):
        argv += ["--threads", "1"]  # host time: one thread unless asked otherwise
    args = runner.parse_args(OP, argv, __doc__.splitlines()[0])
    if args.device != "cpu":
        print("bench_host_overhead: CPU only (the host time the GPU paths share); skipped on", args.device)
        return 0
    runner.run_checked(OP, args, build_cases(args.sizes), build_providers(), report=report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
