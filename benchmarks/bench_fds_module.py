"""Benchmark: the ``dirfast.nn.FDS`` module in a training step — forward + backward with
``accumulate_in_forward=True`` — CPU or CUDA.

    python -m benchmarks.bench_fds_module [--device cpu|cuda] [--sizes default|quick|check] [--rounds R]

Set-up (untimed): ``FDS(D, Bins(3, 1, 97), accumulate_in_forward=True)`` in training mode, two epochs
of statistics over the AgeDB-DIR training ages (12,208 rows of ``N(1, 0.5²)`` features per epoch,
``accumulate`` + ``end_epoch``), so that every timed forward **calibrates** (epoch 2) and accumulates
the statistics of its batch. Batch: ``B`` ages drawn from the AgeDB training split (labels 0..101,
out-of-range ones clamp into the edge bins), features ``z [B, D]`` fp32 leaf requiring grad, a fixed
``grad_output``. One call = ``y = fds(z, ages); y.backward(grad_output)`` (``z.grad`` reset
untimed). Providers, interleaved in one process:

* ``floor`` — memory floor of the calibration: ``torch.sum(z) + torch.sum(grad_output)`` +
  ``buf1.copy_(z)`` + ``buf2.copy_(grad_output)`` (read z and dy, write y and dz; the statistics pass
  reads z once more on top);
* ``dirfast`` — ``dirfast.nn.FDS`` forward + backward (``backend="auto"``: Triton on CUDA, the C++
  kernels on CPU);
* ``dirfast_cpu_torch`` (CPU) — the same module with ``dirfast._C`` hidden (vectorised PyTorch);
* ``naive_torch`` — what a user writes vectorised: bin ids ``clamp(age − 3, 0, 96)``, ``z·scale[b] +
  shift[b]`` from per-bin tables (autograd), and running sums ``bincount`` + ``index_add_`` of ``z``
  and ``z²`` (no grad) for the statistics;
* ``official`` — the official module in the training forward (``tests/_official_fds.py``:
  ``model_forward_train`` → ``FDS.smooth``: per ``torch.unique`` label a boolean mask,
  ``calibrate_mean_var``, an in-place ``index_put_`` on a copy of ``z``) + backward, with the same
  last-epoch statistics. The official code collects statistics in a separate pass over the training
  set after each epoch, not per step: that pass is **not** in its time (dirfast's accumulation is).

Sizes (case ``<B>x<D>``): ``default`` 256×2048 and 4096×2048 (CPU and CUDA); ``check`` 256×2048 on
CUDA (host-bound: the decisive one), 256×256 on CPU; ``quick`` 256×256. The statistics epochs of the
set-up run on the benchmark's device.
"""

from __future__ import annotations

from typing import List, Optional, Sequence

import torch

import dirfast
from dirfast import Bins

from . import _official as _official_mod
from . import runner
from .runner import Case, Provider

OP = "fds_module"
NUM_BINS = 97
OFFICIAL_ROUNDS = 5
SIZES = {
    ("cpu", "default"): [(256, 2048), (4096, 2048)], ("cpu", "quick"): [(256, 256)],
    ("cpu", "check"): [(256, 256)],
    ("cuda", "default"): [(256, 2048), (4096, 2048)], ("cuda", "quick"): [(256, 256)],
    ("cuda", "check"): [(256, 2048)],
}


def _warm_fds(d: int, g: torch.Generator, device: str = "cpu") -> "dirfast.nn.FDS":
    """An FDS module on ``device`` after two epochs of statistics (forward calibrates from now on);
    ``g``: a generator on ``device``."""
    ages = runner.agedb_train().to(device=device, dtype=torch.float32)
    fds = dirfast.nn.FDS(d, Bins(3, 1, NUM_BINS), accumulate_in_forward=True).to(device).train()
    for epoch in range(2):
        for part in ages.split(4096):
            feats = torch.randn(len(part), d, generator=g, device=device) * 0.5 + 1.0
            fds.accumulate(feats + 0.01 * part[:, None], part)  # a label-dependent mean
        fds.end_epoch(epoch)
    assert fds.calibrating
    return fds


def _setup(b: int, d: int, seed: int = 0):
    def setup(device: str = "cpu"):
        g = torch.Generator().manual_seed(seed)
        gd = g if device == "cpu" else torch.Generator(device=device).manual_seed(seed)
        fds = _warm_fds(d, gd, device)
        ages = runner.agedb_train().to(torch.float32)
        y = ages[torch.randint(0, len(ages), (b,), generator=g)]
        z = (torch.randn(b, d, generator=g) * 0.5 + 1.0).requires_grad_(True)
        go = torch.randn(b, d, generator=g)
        stats = (fds.running_mean_last_epoch.clone(), fds.running_var_last_epoch.clone(),
                 fds.smoothed_mean_last_epoch.clone(), fds.smoothed_var_last_epoch.clone())
        scale, shift = dirfast.fds_scale_shift(*stats)
        x = {"z": z, "y": y, "go": go, "fds": fds, "scale": scale, "shift": shift,
             "bins": (y.long() - 3).clamp(0, NUM_BINS - 1),
             "s1": torch.zeros(NUM_BINS, d), "s2": torch.zeros(NUM_BINS, d), "cnt": torch.zeros(NUM_BINS),
             "buf1": torch.empty(b, d), "buf2": torch.empty(b, d), "official": None}
        if _official_mod.available("fds"):
            off = _official_mod.load("fds").OfficialFDS(d, bucket_num=NUM_BINS + 3, bucket_start=3)
            for buf, t in zip(("running_mean_last_epoch", "running_var_last_epoch", "smoothed_mean_last_epoch",
                               "smoothed_var_last_epoch"), stats):
                getattr(off, buf).copy_(t)
            off.train()
            x["official"] = off
        return x

    return setup


def build_cases(sizes="default", device: str = "cpu") -> List[Case]:
    sizes = runner.sizes_arg(sizes)
    cases = []
    for b, d in SIZES[(device, sizes)]:
        cases.append(Case(
            name=f"{b}x{d}",
            params={"n": b * d, "dtype": "float32", "shapes": f"features/grad_output [{b}, {d}], ages [{b}]",
                    "bins": f"{NUM_BINS} (Bins(3, 1, 97))", "epoch": 2, "accumulate_in_forward": True,
                    "working_set_mb": round(4 * b * d * 4 / 2**20, 1)},
            setup=_setup(b, d),
            bytes_per_call=4 * b * d * 4))  # read z, write y, read dy, write dz
    return cases


def _reset(x) -> None:
    x["z"].grad = None


def _dirfast(x):
    y = x["fds"](x["z"], x["y"])
    y.backward(x["go"])
    return y


def _cpu_torch(x):
    with runner.hide_extension():
        y = x["fds"](x["z"], x["y"])
    y.backward(x["go"])
    return y


def _naive(x):
    z, b = x["z"], x["bins"]
    y = z * x["scale"][b] + x["shift"][b]
    with torch.no_grad():
        zd = z.detach()
        x["cnt"].add_(torch.bincount(b, minlength=NUM_BINS).to(zd.dtype))
        x["s1"].index_add_(0, b, zd)
        x["s2"].index_add_(0, b, zd * zd)
    y.backward(x["go"])
    return y


def _official(x):
    off = _official_mod.load("fds")
    y, _ = off.model_forward_train(x["official"], x["z"].clone(), x["y"].reshape(-1, 1), 2)
    y.backward(x["go"])
    return y


def build_providers() -> List[Provider]:
    return [
        runner.memory_floor(("z", "go"), "z", "buf1", more_writes=[("go", "buf2")]),
        Provider("dirfast", _dirfast, reset=_reset,
                 description="dirfast.nn.FDS(accumulate_in_forward=True) forward (calibrate + accumulate) + backward"),
        Provider("dirfast_cpu_torch", _cpu_torch, reset=_reset, devices=("cpu",),
                 description="the same with dirfast._C hidden (vectorised PyTorch ops)"),
        Provider("naive_torch", _naive, reset=_reset,
                 description="z*scale[b] + shift[b] (autograd) + bincount/index_add_ running sums"),
        Provider("official", _official, reset=_reset, available=lambda: _official_mod.available("fds"),
                 max_rounds=OFFICIAL_ROUNDS,
                 description="official model_forward_train -> FDS.smooth (per-label masks, in place on a copy) "
                             "+ backward; its per-epoch statistics pass is not per step"),
    ]


def check_agreement(device: str = "cpu", b: int = 256, d: int = 64) -> List[str]:
    """Untimed: dirfast, naive_torch and official give the same calibrated features and gradients
    (rows whose age is inside 3..99; the official code leaves the others uncalibrated unless the
    edge age is in the batch)."""
    x = runner.to_device(_setup(b, d, seed=2)(device), device)
    inside = (x["y"] >= 3) & (x["y"] <= 99)
    return runner.check_against(build_providers(), x, device, "dirfast", extract=runner.value_and_grad("z"),
                                label=f"{b}x{d}", head=f"{b}x{d} ({device})", what=("value", "grad"),
                                sel=lambda name: inside, ref_note=" (ages 3..99)")


def main(argv: Optional[Sequence[str]] = None):
    args = runner.parse_args(OP, argv, description=__doc__.splitlines()[0])
    # on CUDA at the timed D (the kernels' configs depend on D: no extra Triton compile for the check)
    checks = check_agreement(args.device, d=64 if args.device == "cpu" else 2048)
    return runner.run_checked(OP, args, build_cases(args.sizes, args.device), build_providers(), before=checks)


if __name__ == "__main__":
    main()
