"""``python -m dirfast.demo abalone [--quick] [--out DIR] [--seeds N] [--epochs N] [--methods a,b,...]``,
``python -m dirfast.demo fds-ablation [--quick] [--out DIR] [--seeds N] [--epochs N] [--recipes a,b,...]``."""

from __future__ import annotations

import argparse
import sys

from .abalone import METHODS, QUICK_METHODS, Config, run

DEFAULT_OUT = "benchmarks/results/demo"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m dirfast.demo",
                                description="dirfast end-to-end demos on real data")
    sub = p.add_subparsers(dest="demo", required=True)
    a = sub.add_parser("abalone", help="Abalone-DIR: every dirfast method, shot metrics, plots")
    a.add_argument("--quick", action="store_true",
                   help=f"1 seed, 4 epochs, methods {','.join(QUICK_METHODS)} (seconds; used by the test)")
    a.add_argument("--out", default=None, help=f"output directory (default {DEFAULT_OUT}, "
                                               f"or {DEFAULT_OUT}/quick with --quick)")
    a.add_argument("--seeds", type=int, default=None, help="number of seeds 0..N-1 (default 5; quick 1)")
    a.add_argument("--epochs", type=int, default=None, help="epochs per run (default 100; quick 4)")
    a.add_argument("--methods", default=None, help=f"comma-separated subset of {','.join(METHODS)}")
    a.add_argument("--workers", type=int, default=None,
                   help="worker processes, one torch thread each (default 2 = the 2 cores; quick 1 = "
                        "in this process); results do not depend on it")
    a.add_argument("--no-progress", action="store_true", help="no progress bar")
    f = sub.add_parser("fds-ablation", help="FDS recipe ablation on Abalone-DIR + a synthetic drift setting")
    f.add_argument("--quick", action="store_true", help="1 seed, 4 epochs, 4 recipes (used by the test)")
    f.add_argument("--out", default=None, help=f"output directory (default {DEFAULT_OUT}/fds_ablation)")
    f.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 (default 5)")
    f.add_argument("--epochs", type=int, default=None, help="epochs per run (default 100)")
    f.add_argument("--recipes", default=None, help="comma-separated subset of the recipes")
    f.add_argument("--synthetic-seeds", type=int, default=None, help="seeds of the synthetic setting (default 3)")
    f.add_argument("--workers", type=int, default=None, help="worker processes (default 2)")
    f.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if args.demo == "fds-ablation":
        return _fds_ablation(p, args)

    cfg = Config()
    if args.quick:
        cfg.seeds, cfg.epochs, cfg.methods, cfg.workers = 1, 4, QUICK_METHODS, 1
    if args.seeds is not None:
        cfg.seeds = args.seeds
    if args.epochs is not None:
        cfg.epochs = args.epochs
    if args.methods is not None:
        cfg.methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    if args.workers is not None:
        cfg.workers = args.workers
    if cfg.seeds < 1 or cfg.epochs < 1 or cfg.workers < 1:
        p.error("--seeds, --epochs and --workers must be >= 1")
    unknown = [m for m in cfg.methods if m not in METHODS]
    if unknown:
        p.error(f"unknown method(s) {unknown}; choose from {', '.join(METHODS)}")
    out = args.out or (DEFAULT_OUT + "/quick" if args.quick else DEFAULT_OUT)
    res = run(cfg, out, progress=not args.no_progress)
    print(res["markdown"])
    print(f"{len(cfg.methods)} methods x {cfg.seeds} seeds x {cfg.epochs} epochs on {cfg.workers} "
          f"worker(s) x 1 torch thread: {res['seconds']:.1f} s (training + evaluation, set-up excluded); "
          f"outputs in {out}/")
    return 0


def _fds_ablation(p, args) -> int:
    from .fds_ablation import QUICK_RECIPES, RECIPES, run as run_ablation

    cfg = Config()
    recipes, syn = tuple(RECIPES), 3
    if args.quick:
        cfg.seeds, cfg.epochs, cfg.workers, recipes, syn = 1, 4, 1, QUICK_RECIPES, 1
    cfg.seeds = args.seeds if args.seeds is not None else cfg.seeds
    cfg.epochs = args.epochs if args.epochs is not None else cfg.epochs
    cfg.workers = args.workers if args.workers is not None else cfg.workers
    syn = args.synthetic_seeds if args.synthetic_seeds is not None else syn
    if args.recipes is not None:
        recipes = tuple(r.strip() for r in args.recipes.split(",") if r.strip())
    unknown = [r for r in recipes if r not in RECIPES]
    if unknown:
        p.error(f"unknown recipe(s) {unknown}; choose from {', '.join(RECIPES)}")
    if cfg.seeds < 1 or cfg.epochs < 1 or cfg.workers < 1 or syn < 1:
        p.error("--seeds, --epochs, --workers and --synthetic-seeds must be >= 1")
    out = args.out or (DEFAULT_OUT + "/fds_ablation" + ("/quick" if args.quick else ""))
    res = run_ablation(cfg, out, recipes, progress=not args.no_progress, synthetic_seeds=syn)
    print(res["markdown"])
    print(f"{len(recipes)} recipes x {cfg.seeds} seeds x {cfg.epochs} epochs: {res['seconds']:.1f} s; outputs in {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
