"""Shared benchmark harness of dirfast (conventions.md, "Measuring speed on noisy 2-core machines").

A benchmark module describes an op with

* :class:`Case` objects: a name, a ``params`` dict (``n``, ``dtype``, shapes, ... — printed and
  written to the CSV) and a ``setup()`` that builds the inputs **once** (a dict, shared by every
  provider of the case), optionally ``bytes_per_call`` (the minimum bytes the op must move; gives
  GB/s columns);
* :class:`Provider` objects: named callables ``fn(inputs)`` timed on the same inputs. One provider is
  the floor (``kind="floor"``): the **memory floor** (:func:`memory_floor`: ``torch.sum`` over each
  input + ``copy_`` of an output-sized tensor into a preallocated buffer) or a named compute floor
  (:func:`compute_floor`, e.g. sort floor = ``torch.sort``).

:func:`run` times them **interleaved** in one process: after warm-up, rounds ``A B C``, ``B C A``,
``C A B``, ... (order rotated each round), every call timed with ``time.perf_counter_ns`` (CUDA
synchronised only when the inputs are CUDA tensors), threads fixed with ``torch.set_num_threads``.
It reports per provider the min and median time per call, the min-of-N ratio to the floor's min
(the number to judge on) and the median ratio, and GB/s; prints the conditions (threads, affinity,
versions, CPU model, load average before/after, dtype and shapes, dirfast backend); upserts the rows
into ``<out>/<op>.csv`` (key: op, case, provider) and draws ``<out>/<op>.png``
(:mod:`benchmarks.plot`).

A benchmark module's ``main(argv)`` is typically::

    def main(argv=None):
        args = runner.parse_args(OP, argv)
        results = runner.run(OP, build_cases(args.quick), build_providers(), args)
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as _dt
import gc
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import torch

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")

CSV_COLUMNS = [
    "op", "case", "provider", "kind", "n", "dtype", "shapes", "threads", "min_ms", "median_ms",
    "ratio_to_floor", "median_ratio_to_floor", "gbps", "bytes_per_call", "rounds", "calls_per_sample",
    "loadavg", "loadavg_after", "cpu", "affinity", "backend", "allocator", "timestamp", "torch_version",
    "triton_version", "dirfast_version",
]


# ------------------------------------------------------------------------------------------------
# cases and providers


@dataclass
class Case:
    """One input configuration. ``setup()`` builds the inputs once (any object, usually a dict)."""

    name: str
    params: Dict[str, Any]
    setup: Callable[[], Any]
    #: minimum bytes one call of the op must move (inputs read once + outputs written once);
    #: None = no GB/s column
    bytes_per_call: Optional[float] = None


@dataclass
class Provider:
    """A named callable ``fn(inputs)`` timed on a case's inputs.

    ``kind`` is ``"floor"`` for the reference floor (memory or compute), ``"op"`` otherwise.
    ``reset(inputs)`` runs *untimed* before every timed call (e.g. ``pred.grad = None``).
    ``available()`` returning False skips the provider (with a note); ``skip(case)`` returning a
    reason string skips it for one case.
    """

    name: str
    fn: Callable[[Any], Any]
    kind: str = "op"
    reset: Optional[Callable[[Any], None]] = None
    available: Optional[Callable[[], bool]] = None
    skip: Optional[Callable[[Case], Optional[str]]] = None
    description: str = ""


def _get(inputs: Any, key: Any) -> Any:
    return inputs[key] if isinstance(inputs, Mapping) else getattr(inputs, key)


def memory_floor(reads: Sequence[str], write_src: str, write_buf: str, *, name: str = "floor") -> Provider:
    """The memory floor of conventions.md: ``torch.sum`` over each input ``reads`` plus
    ``inputs[write_buf].copy_(inputs[write_src])`` (``write_buf`` preallocated by ``setup``, the size
    of the op's output)."""

    def fn(inputs):
        # no_grad: inputs may require grad (e.g. pred); without it every call would record a
        # SumBackward/CopyBackwards graph and chain the buffer's history call after call
        with torch.no_grad():
            for key in reads:
                torch.sum(_get(inputs, key))
            _get(inputs, write_buf).copy_(_get(inputs, write_src))

    desc = " + ".join(f"sum({k})" for k in reads) + f" + {write_buf}.copy_({write_src})"
    return Provider(name, fn, kind="floor", description=f"memory floor: {desc}")


def compute_floor(name: str, fn: Callable[[Any], Any], description: str = "") -> Provider:
    """A named compute floor, e.g. ``compute_floor("sort_floor", lambda x: torch.sort(x["y"]))``."""
    return Provider(name, fn, kind="floor", description=description or f"compute floor {name}")


# ------------------------------------------------------------------------------------------------
# CLI


def add_common_args(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--quick", action="store_true",
                   help="small sizes and few rounds (smoke test; numbers are not meaningful)")
    p.add_argument("--rounds", type=int, default=None,
                   help="interleaved rounds (default 20, --quick 3)")
    p.add_argument("--warmup", type=int, default=None, help="warm-up calls per provider (default 3, --quick 1)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--out", default=DEFAULT_OUT, help="results directory (default benchmarks/results)")
    p.add_argument("--min-sample-ms", type=float, default=None,
                   help="calls per sample are raised until a sample takes this long (default 2, --quick 0.5)")
    p.add_argument("--case", action="append", default=None, help="only these cases (repeatable)")
    p.add_argument("--provider", action="append", default=None,
                   help="only these providers (repeatable; the floor is always kept)")
    p.add_argument("--malloc-recycle", action="store_true",
                   help="glibc mallopt(M_MMAP_MAX=0, M_TRIM_THRESHOLD=2**31-1): freed large tensors are "
                        "reused instead of being unmapped and page-faulted again (rows are written with "
                        "case '<case>@malloc_recycle')")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG")
    p.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    return p


def parse_args(op: str, argv: Optional[Sequence[str]] = None, description: str = "") -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=f"python -m benchmarks.bench_{op}", description=description)
    return add_common_args(p).parse_args(argv)


def _finalise_args(args: argparse.Namespace) -> argparse.Namespace:
    if args.rounds is None:
        args.rounds = 3 if args.quick else 20
    if args.warmup is None:
        args.warmup = 1 if args.quick else 3
    if args.min_sample_ms is None:
        args.min_sample_ms = 0.5 if args.quick else 2.0
    if args.rounds < 1:
        raise SystemExit("--rounds must be >= 1")
    if args.threads < 1:
        raise SystemExit("--threads must be >= 1")
    return args


# ------------------------------------------------------------------------------------------------
# conditions


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def loadavg() -> str:
    try:
        return "/".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def _affinity() -> str:
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:
        return "n/a"
    return ",".join(map(str, cpus))


def _version(dist: str) -> str:
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:
        return "not installed"


def dirfast_info() -> Dict[str, str]:
    try:
        import dirfast
        from dirfast import _ext

        ver = getattr(dirfast, "__version__", "?")
        ext = "available" if _ext.available() else f"missing ({_ext.import_error()})"
        auto = dirfast.resolve_backend(None, torch.device("cpu"), op="bench")
        return {"version": ver, "ext": ext, "cpu_auto": auto,
                "env": os.environ.get("DIRFAST_BACKEND", "<unset>")}
    except Exception as exc:  # the harness itself must not need dirfast
        return {"version": "n/a", "ext": f"n/a ({exc})", "cpu_auto": "n/a", "env": "n/a"}


def malloc_recycle() -> str:
    """Make glibc keep freed memory (no mmap for large blocks, no trimming): a fresh 64 MB tensor then
    reuses already-faulted pages. Returns a description, or why it could not be applied."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
        ok = libc.mallopt(M_MMAP_MAX, 0) == 1 and libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1) == 1
    except OSError as exc:
        return f"not applied ({exc})"
    return "glibc mallopt(M_MMAP_MAX=0, M_TRIM_THRESHOLD=2**31-1)" if ok else "mallopt failed"


@contextlib.contextmanager
def hide_extension():
    """Inside the block ``dirfast._ext.available()`` is False, so ``backend="auto"`` on CPU tensors
    runs the vectorised-PyTorch path (what users without the built extension get). Providers use it
    to time that path through the public functions, whose internal op signatures may change."""
    from dirfast import _ext

    orig = _ext.available
    _ext.available = lambda: False
    try:
        yield
    finally:
        _ext.available = orig


def allocator_info() -> str:
    """What decides whether a fresh large tensor costs page faults (often the dominant CPU cost)."""
    parts = []
    for k in sorted(os.environ):
        if k.startswith("MALLOC_") or k in ("LD_PRELOAD", "THP_MEM_ALLOC_ENABLE"):
            parts.append(f"{k}={os.environ[k]}")
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            parts.append(f"THP {f.read().strip()}")
    except OSError:
        pass
    return ", ".join(parts) or "default"


def _uses_cuda(obj: Any) -> bool:
    if isinstance(obj, torch.Tensor):
        return obj.is_cuda
    if isinstance(obj, Mapping):
        return any(_uses_cuda(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return any(_uses_cuda(v) for v in obj)
    return False


# ------------------------------------------------------------------------------------------------
# timing


@dataclass
class Result:
    op: str
    case: Case
    provider: Provider
    samples_ns: List[float] = field(default_factory=list)  # per-call time of each round
    calls_per_sample: int = 1
    error: Optional[str] = None

    @property
    def min_ms(self) -> float:
        return min(self.samples_ns) / 1e6 if self.samples_ns else math.nan

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ns) / 1e6 if self.samples_ns else math.nan


def _timed_calls(p: Provider, inputs: Any, number: int, cuda: bool) -> float:
    """Total ns of ``number`` calls (``reset`` and the timer themselves excluded)."""
    total = 0
    fn, reset = p.fn, p.reset
    for _ in range(number):
        if reset is not None:
            reset(inputs)
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter_ns()
        fn(inputs)
        if cuda:
            torch.cuda.synchronize()
        total += time.perf_counter_ns() - t0
    return total


def _fmt(x: float, nd: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{nd}f}"


def print_table(results: Sequence[Result], floors: Dict[str, Optional[Result]], file=sys.stdout) -> None:
    hdr = ("case", "provider", "n", "min ms", "median ms", "min/floor", "med/floor", "GB/s", "calls")
    rows = []
    for r in results:
        fl = floors.get(r.case.name)
        ratio = r.min_ms / fl.min_ms if fl is not None and fl.samples_ns and r.samples_ns else math.nan
        mratio = r.median_ms / fl.median_ms if fl is not None and fl.samples_ns and r.samples_ns else math.nan
        gbps = (r.case.bytes_per_call / (r.min_ms * 1e6) if r.case.bytes_per_call and r.samples_ns
                else math.nan)
        name = r.provider.name + (" *" if r.provider.kind == "floor" else "")
        if r.error:
            rows.append((r.case.name, name, str(r.case.params.get("n", "")), "error: " + r.error,
                         "", "", "", "", ""))
            continue
        rows.append((r.case.name, name, str(r.case.params.get("n", "")), _fmt(r.min_ms),
                     _fmt(r.median_ms), _fmt(ratio, 2), _fmt(mratio, 2), _fmt(gbps, 1),
                     str(r.calls_per_sample)))
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(hdr)]
    line = "  ".join(h.ljust(w) if i < 2 else h.rjust(w) for i, (h, w) in enumerate(zip(hdr, widths)))
    print(line, file=file)
    print("-" * len(line), file=file)
    last = None
    for row in rows:
        if last is not None and row[0] != last:
            print(file=file)
        last = row[0]
        print("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))),
              file=file)
    print("(* = floor; min/floor = min-of-N ratio, the number to judge on; GB/s = minimum bytes of the op / min time)",
          file=file)


def run(
    op: str,
    cases: Sequence[Case],
    providers: Sequence[Provider],
    args: argparse.Namespace,
    *,
    file=sys.stdout,
) -> List[Result]:
    """Time ``providers`` on every case, interleaved; print, write the CSV and the PNG.

    Returns the :class:`Result` list (in case order, then provider order)."""
    args = _finalise_args(args)
    torch.set_num_threads(args.threads)
    if args.case:
        unknown = set(args.case) - {c.name for c in cases}
        if unknown:
            raise SystemExit(f"unknown case(s) {sorted(unknown)}; have {[c.name for c in cases]}")
        cases = [c for c in cases if c.name in args.case]
    if args.provider:
        unknown = set(args.provider) - {p.name for p in providers}
        if unknown:
            raise SystemExit(f"unknown provider(s) {sorted(unknown)}; have {[p.name for p in providers]}")
        providers = [p for p in providers if p.name in args.provider or p.kind == "floor"]
    active = []
    notes = []
    for p in providers:
        if p.available is not None and not p.available():
            notes.append(f"provider {p.name} skipped: not available here")
        else:
            active.append(p)
    floor_names = [p.name for p in active if p.kind == "floor"]

    alloc = "default"
    if getattr(args, "malloc_recycle", False):
        alloc = malloc_recycle()
    info = dirfast_info()
    info["allocator"] = alloc
    load_before = loadavg()
    print(f"== benchmark {op} ==", file=file)
    print(f"threads: torch.set_num_threads({args.threads}) -> get_num_threads()={torch.get_num_threads()}, "
          f"interop={torch.get_num_interop_threads()}, affinity cpus [{_affinity()}] of os.cpu_count()={os.cpu_count()}",
          file=file)
    print(f"versions: python {platform.python_version()}, torch {torch.__version__}, "
          f"triton {_version('triton')}, dirfast {info['version']}", file=file)
    print(f"cpu: {cpu_model()}; cuda available: {torch.cuda.is_available()}", file=file)
    print(f"dirfast backend: cpu 'auto' -> {info['cpu_auto']}; dirfast._C {info['ext']}; "
          f"DIRFAST_BACKEND={info['env']}", file=file)
    print(f"allocator: {alloc}; {allocator_info()}", file=file)
    print(f"load average (1/5/15 min) before: {load_before}", file=file)
    print(f"rounds: {args.rounds} interleaved (order rotated each round), warm-up {args.warmup} call(s) per "
          f"provider, samples >= {args.min_sample_ms} ms; floor: {', '.join(floor_names) or 'none'}", file=file)
    for p in active:
        if p.description:
            print(f"  {p.name}: {p.description}", file=file)
    for c in cases:
        print(f"case {c.name}: " + ", ".join(f"{k}={v}" for k, v in c.params.items()), file=file)
    for n in notes:
        print(n, file=file)
    file.flush()

    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is in the bench extra
        tqdm = None
    bar = None
    if tqdm is not None and not args.no_progress:
        bar = tqdm(total=len(cases) * args.rounds, desc=op, unit="round", file=sys.stderr,
                   leave=False, mininterval=0.5)

    results: List[Result] = []
    floors: Dict[str, Optional[Result]] = {}
    for case in cases:
        inputs = case.setup()
        cuda = _uses_cuda(inputs)
        case_res: List[Result] = []
        for p in active:
            reason = p.skip(case) if p.skip is not None else None
            r = Result(op, case, p)
            if reason:
                r.error = f"skipped: {reason}"
            case_res.append(r)
        runnable = [r for r in case_res if r.error is None]
        # warm-up, then calibrate calls per sample so a sample is >= min_sample_ms
        for r in runnable:
            try:
                _timed_calls(r.provider, inputs, max(args.warmup, 1), cuda)
                one = _timed_calls(r.provider, inputs, 1, cuda)
                r.calls_per_sample = max(1, math.ceil(args.min_sample_ms * 1e6 / max(one, 1)))
            except Exception as exc:  # report, keep benchmarking the others
                r.error = f"{type(exc).__name__}: {exc}"
        runnable = [r for r in runnable if r.error is None]
        gc.collect()
        gc_was = gc.isenabled()
        gc.disable()
        try:
            k = len(runnable)
            for rnd in range(args.rounds):
                order = runnable[rnd % k:] + runnable[:rnd % k] if k else []
                for r in order:
                    t = _timed_calls(r.provider, inputs, r.calls_per_sample, cuda)
                    r.samples_ns.append(t / r.calls_per_sample)
                if bar is not None:
                    bar.update(1)
        finally:
            if gc_was:
                gc.enable()
        fl = next((r for r in case_res if r.provider.kind == "floor" and r.samples_ns), None)
        floors[case.name] = fl
        results.extend(case_res)
        del inputs
        gc.collect()
    if bar is not None:
        bar.close()
    load_after = loadavg()

    print(file=file)
    print_table(results, floors, file=file)
    print(f"load average (1/5/15 min) after: {load_after}", file=file)
    small = [c.name for c in cases if c.params.get("working_set_mb", 64) < 64]
    if small:
        print(f"note: working set < 64 MB in {small}: (partly) in cache, memory-floor targets do not apply",
              file=file)
    file.flush()

    rows = to_rows(op, results, floors, args, load_before, load_after, info)
    os.makedirs(args.out, exist_ok=True)
    csv_path = os.path.join(args.out, f"{op}.csv")
    upsert_csv(csv_path, rows)
    print(f"wrote {csv_path}", file=file)
    if not args.no_plot:
        from . import plot

        png = plot.plot_op(csv_path, os.path.join(args.out, f"{op}.png"), op=op)
        print(f"wrote {png}", file=file)
    return results


def ratio(results: Sequence[Result], case: str, provider: str, floor: Optional[str] = None,
          stat: str = "min") -> float:
    """``stat`` (min/median) time of ``provider`` over the floor's in ``case`` (nan if missing)."""
    by = {(r.case.name, r.provider.name): r for r in results}
    fl = next((r for r in results if r.case.name == case and
               (r.provider.name == floor if floor else r.provider.kind == "floor")), None)
    r = by.get((case, provider))
    if r is None or fl is None or not r.samples_ns or not fl.samples_ns:
        return math.nan
    return getattr(r, f"{stat}_ms") / getattr(fl, f"{stat}_ms")


# ------------------------------------------------------------------------------------------------
# CSV


def to_rows(op, results, floors, args, load_before, load_after, info) -> List[Dict[str, str]]:
    now = _dt.datetime.now().isoformat(timespec="seconds")
    rows = []
    for r in results:
        if r.error or not r.samples_ns:
            continue
        fl = floors.get(r.case.name)
        rat = r.min_ms / fl.min_ms if fl is not None else math.nan
        mrat = r.median_ms / fl.median_ms if fl is not None else math.nan
        bpc = r.case.bytes_per_call
        gbps = bpc / (r.min_ms * 1e6) if bpc else math.nan
        case = r.case.name if info.get("allocator", "default") == "default" else f"{r.case.name}@malloc_recycle"
        rows.append({
            "op": op, "case": case, "provider": r.provider.name, "kind": r.provider.kind,
            "n": r.case.params.get("n", ""), "dtype": r.case.params.get("dtype", ""),
            "shapes": r.case.params.get("shapes", ""), "threads": torch.get_num_threads(),
            "min_ms": f"{r.min_ms:.6g}", "median_ms": f"{r.median_ms:.6g}",
            "ratio_to_floor": f"{rat:.4g}", "median_ratio_to_floor": f"{mrat:.4g}",
            "gbps": f"{gbps:.4g}" if bpc else "", "bytes_per_call": f"{bpc:.0f}" if bpc else "",
            "rounds": len(r.samples_ns), "calls_per_sample": r.calls_per_sample,
            "loadavg": load_before, "loadavg_after": load_after, "cpu": cpu_model(),
            "affinity": _affinity(), "backend": info["cpu_auto"],
            "allocator": f"{info.get('allocator', 'default')}; {allocator_info()}", "timestamp": now,
            "torch_version": torch.__version__, "triton_version": _version("triton"),
            "dirfast_version": info["version"],
        })
    return rows


def read_csv(path: str) -> List[Dict[str, str]]:
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def upsert_csv(path: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Replace rows with the same (op, case, provider), keep the others; atomic write."""
    old = read_csv(path)
    key = lambda r: (str(r["op"]), str(r["case"]), str(r["provider"]))  # noqa: E731
    new_keys = {key(r) for r in rows}
    merged = [r for r in old if key(r) not in new_keys] + [dict(r) for r in rows]
    columns = list(CSV_COLUMNS)
    for r in merged:
        for c in r:
            if c not in columns:
                columns.append(c)
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        for r in merged:
            w.writerow({c: r.get(c, "") for c in columns})
    os.replace(tmp, path)
