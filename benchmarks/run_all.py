"""Run every ``benchmarks/bench_*.py`` module (discovered, so new ops are picked up).

    python -m benchmarks.run_all [--device cpu|cuda] [--sizes default|quick|check] [--quick]
        [--rounds R] [--warmup W] [--min-sample-ms MS] [--threads T] [--out DIR] [--copies K]
        [--no-launches] [--only NAME ...] [--no-plot] [--no-progress] [--malloc-recycle]

Each module must define ``main(argv)``; the common options are forwarded to it (``benchmarks.runner``
documents them). Modules run one after the other in this process (inputs are freed between cases,
CUDA's cache emptied between modules); a module that fails is reported and the others still run; the
exit code is 1 if any failed. ``--device cuda`` without a CUDA device exits at once with a message
(exit code 2). Each module writes ``<out>/<op>.csv`` (columns: ``runner.CSV_COLUMNS``, the first
twelve stable) and a PNG.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import pkgutil
import sys
import time
import traceback
from typing import List, Optional, Sequence

from . import runner

HERE = os.path.dirname(os.path.abspath(__file__))


def discover() -> List[str]:
    return sorted(m.name for m in pkgutil.iter_modules([HERE]) if m.name.startswith("bench_"))


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run_all", description=__doc__.splitlines()[0])
    p.add_argument("--device", choices=runner.DEVICES, default="cpu")
    p.add_argument("--sizes", choices=runner.SIZES, default=None)
    p.add_argument("--quick", action="store_true", help="= --sizes quick")
    p.add_argument("--rounds", type=int, default=None)
    p.add_argument("--warmup", type=int, default=None)
    p.add_argument("--min-sample-ms", type=float, default=None)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=runner.DEFAULT_OUT)
    p.add_argument("--copies", type=int, default=None)
    p.add_argument("--no-launches", action="store_true")
    p.add_argument("--malloc-recycle", action="store_true")
    p.add_argument("--no-plot", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--only", action="append", default=None,
                   help="module name(s) to run, e.g. bench_weighted_loss (repeatable)")
    a = p.parse_args(argv)
    if a.quick and a.sizes not in (None, "quick"):
        p.error(f"--quick conflicts with --sizes {a.sizes}")
    try:
        runner.require_device(a.device)
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return 2
    fwd = ["--device", a.device, "--threads", str(a.threads), "--out", a.out]
    sizes = "quick" if a.quick else a.sizes
    if sizes:
        fwd += ["--sizes", sizes]
    for flag, val in (("--rounds", a.rounds), ("--warmup", a.warmup), ("--min-sample-ms", a.min_sample_ms),
                      ("--copies", a.copies)):
        if val is not None:
            fwd += [flag, str(val)]
    for flag, on in (("--no-launches", a.no_launches), ("--malloc-recycle", a.malloc_recycle),
                     ("--no-plot", a.no_plot), ("--no-progress", a.no_progress)):
        if on:
            fwd.append(flag)
    names = discover()
    if a.only:
        missing = set(a.only) - set(names)
        if missing:
            raise SystemExit(f"unknown module(s) {sorted(missing)}; found {names}")
        names = [n for n in names if n in a.only]
    failed = []
    t_all = time.perf_counter()
    for name in names:
        t0 = time.perf_counter()
        print(f"\n##### {name} {' '.join(fwd)}", flush=True)
        try:
            mod = importlib.import_module(f"{__package__}.{name}")
            mod.main(fwd)
        except SystemExit as exc:
            if exc.code not in (0, None):
                failed.append(name)
                print(f"##### {name} exited with {exc.code}", flush=True)
        except Exception:
            failed.append(name)
            traceback.print_exc()
        finally:
            gc.collect()
            if a.device == "cuda":
                import torch

                torch.cuda.empty_cache()
        print(f"##### {name} done in {time.perf_counter() - t0:.1f} s", flush=True)
    print(f"\n##### run_all ({a.device}, sizes {sizes or 'default'}): {len(names)} modules in "
          f"{time.perf_counter() - t_all:.1f} s; results in {a.out}", flush=True)
    if failed:
        print(f"failed: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
