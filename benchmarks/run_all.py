"""Run every ``benchmarks/bench_*.py`` module (discovered, so new ops are picked up).

    python -m benchmarks.run_all [--quick] [--rounds R] [--threads T] [--out DIR] [--only NAME ...]

Each module must define ``main(argv)``; the common options are forwarded to it. Modules run one after
the other in this process (inputs are freed between cases); a module that fails is reported and the
others still run; the exit code is 1 if any failed.
"""

from __future__ import annotations

import argparse
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
    p.add_argument("--quick", action="store_true")
    p.add_argument("--rounds", type=int, default=None)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=runner.DEFAULT_OUT)
    p.add_argument("--malloc-recycle", action="store_true")
    p.add_argument("--no-plot", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--only", action="append", default=None,
                   help="module name(s) to run, e.g. bench_weighted_loss (repeatable)")
    a = p.parse_args(argv)
    fwd = ["--threads", str(a.threads), "--out", a.out]
    if a.quick:
        fwd.append("--quick")
    if a.rounds is not None:
        fwd += ["--rounds", str(a.rounds)]
    if a.malloc_recycle:
        fwd.append("--malloc-recycle")
    if a.no_plot:
        fwd.append("--no-plot")
    if a.no_progress:
        fwd.append("--no-progress")
    names = discover()
    if a.only:
        missing = set(a.only) - set(names)
        if missing:
            raise SystemExit(f"unknown module(s) {sorted(missing)}; found {names}")
        names = [n for n in names if n in a.only]
    failed = []
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
        print(f"##### {name} done in {time.perf_counter() - t0:.1f} s", flush=True)
    if failed:
        print(f"failed: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
