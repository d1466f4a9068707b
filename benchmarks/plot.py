"""Plot a benchmark CSV (``benchmarks/results/<op>.csv``) to a PNG (matplotlib, Agg backend).

Default: one panel per case, a bar per provider with its min time per call (ms: wall time on CPU,
CUDA-event time on CUDA); the floor's bar is hatched and its min drawn as a dashed line across the
panel; each bar is labelled with its min-of-N ratio to the floor (and, on CUDA, its kernel launches
per call); on CUDA a black tick marks each provider's min wall time (host included). Rows are those
of one device (``--device``, default cpu; rows without a device column are CPU rows). ``--lines``:
min time over ``n`` per provider (log-log), for ops benchmarked at several sizes.

    python -m benchmarks.plot benchmarks/results/weighted_loss.csv [--out x.png] [--device cuda] [--lines]
"""

from __future__ import annotations

import argparse
import math
import os
from collections import OrderedDict
from typing import Dict, List, Optional

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .runner import read_csv  # noqa: E402


def _f(x: str) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def plot_op(csv_path: str, png_path: Optional[str] = None, *, op: Optional[str] = None,
            lines: bool = False, device: str = "cpu") -> str:
    rows = read_csv(csv_path)
    if op is not None:
        rows = [r for r in rows if r["op"] == op]
    rows = [r for r in rows if (r.get("device") or "cpu") == device]
    if not rows:
        raise ValueError(f"no rows for op {op!r} on {device} in {csv_path}")
    op = op or rows[0]["op"]
    png_path = png_path or os.path.splitext(csv_path)[0] + ".png"
    if lines:
        return _plot_lines(rows, png_path, op)

    cases: "OrderedDict[str, List[Dict[str, str]]]" = OrderedDict()
    for r in rows:
        cases.setdefault(r["case"], []).append(r)
    k = len(cases)
    ncols = min(k, 3)
    nrows = math.ceil(k / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(max(4.8 * ncols, 6), 4.2 * nrows), squeeze=False)
    for ax in axes.flat[k:]:
        ax.set_visible(False)
    for ax, (case, rs) in zip(axes.flat, cases.items()):
        rs = sorted(rs, key=lambda r: (r.get("kind") != "floor", r["provider"]))
        names = [r["provider"] for r in rs]
        mins = [_f(r["min_ms"]) for r in rs]
        colors = ["0.6" if r.get("kind") == "floor" else f"C{i}" for i, r in enumerate(rs)]
        bars = ax.bar(range(len(rs)), mins, color=colors)
        for b, r in zip(bars, rs):
            if r.get("kind") == "floor":
                b.set_hatch("//")
        floor = next((m for m, r in zip(mins, rs) if r.get("kind") == "floor"), None)
        if floor is not None and math.isfinite(floor):
            ax.axhline(floor, color="k", ls="--", lw=1, label=f"floor {floor:.3g} ms")
            ax.legend(loc="upper left", fontsize=8)
        walls = [_f(r.get("wall_ms")) for r in rs] if device != "cpu" else []
        for b, w in zip(bars, walls):
            if math.isfinite(w):
                ax.plot([b.get_x(), b.get_x() + b.get_width()], [w, w], color="k", lw=1.5)
        for b, r in zip(bars, rs):
            ratio = _f(r.get("ratio_to_floor"))
            launches = r.get("launches") or ""
            label = f"{ratio:.2f}x" if math.isfinite(ratio) else ""
            if launches:
                label += f"\n{launches} k"
            if label:
                ax.annotate(label, (b.get_x() + b.get_width() / 2, b.get_height()),
                            ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(rs)))
        ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
        r0 = rs[0]
        ax.set_title(f"{case}  n={r0.get('n', '')} {r0.get('dtype', '')}", fontsize=9)
        ax.set_ylabel("min " + ("CUDA-event " if device != "cpu" else "") + "time per call (ms)")
        top = max([m for m in mins + walls if math.isfinite(m)] or [1])
        ax.set_ylim(0, top * 1.2)
    r0 = rows[0]
    where = (f"{r0.get('gpu') or device}; bars: CUDA events, ticks: wall; labels: x floor, kernels/call"
             if device != "cpu" else f"{r0.get('threads', '?')} threads, load {r0.get('loadavg', '?')}")
    fig.suptitle(f"{op}: min of {r0.get('rounds', '?')} interleaved rounds, {where}, "
                 f"torch {r0.get('torch_version', '?')}", fontsize=9)
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)
    plt.close(fig)
    return png_path


def _plot_lines(rows, png_path, op) -> str:
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    provs: "OrderedDict[str, List[Dict[str, str]]]" = OrderedDict()
    for r in rows:
        provs.setdefault(r["provider"], []).append(r)
    for i, (p, rs) in enumerate(provs.items()):
        rs = sorted(rs, key=lambda r: _f(r["n"]))
        floor = rs[0].get("kind") == "floor"
        ax.plot([_f(r["n"]) for r in rs], [_f(r["min_ms"]) for r in rs], marker="o",
                ls="--" if floor else "-", color="k" if floor else f"C{i}", label=p)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("n")
    ax.set_ylabel("min time per call (ms)")
    ax.set_title(op)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)
    plt.close(fig)
    return png_path


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.plot", description=__doc__.splitlines()[0])
    p.add_argument("csv")
    p.add_argument("--out", default=None, help="PNG path (default: next to the CSV)")
    p.add_argument("--op", default=None)
    p.add_argument("--device", default="cpu", help="rows of this device (default cpu)")
    p.add_argument("--lines", action="store_true", help="min time over n per provider (log-log)")
    a = p.parse_args(argv)
    print(plot_op(a.csv, a.out, op=a.op, lines=a.lines, device=a.device))


if __name__ == "__main__":
    main()
