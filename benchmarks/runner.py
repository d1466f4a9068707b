"""Shared benchmark harness of dirfast (docs/conventions.md, "Measuring speed on noisy 2-core machines").

A benchmark module describes an op with

* :class:`Case` objects: a name, a ``params`` dict (``n``, ``dtype``, shapes, ... — printed and
  written to the CSV) and a ``setup()`` (or ``setup(device)``) that builds the inputs **once** (a
  dict, shared by every provider of the case), optionally ``bytes_per_call`` (the minimum bytes the
  op must move; gives GB/s columns);
* :class:`Provider` objects: named callables ``fn(inputs)`` timed on the same inputs. One provider is
  the floor (``kind="floor"``): the **memory floor** (:func:`memory_floor`: ``torch.sum`` over each
  input + ``copy_`` of an output-sized tensor into a preallocated buffer) or a named compute floor
  (:func:`compute_floor`, e.g. sort floor = ``torch.sort``, GEMM floor = ``torch.mm``). The plain
  PyTorch implementation is named ``naive_torch`` and the literal official code ``official``
  (``tests/_official_*.py``) in every benchmark, so every row gets ``ratio_to_naive`` /
  ``ratio_to_official`` columns.

:func:`run` times them **interleaved** in one process: after warm-up, rounds ``A B C``, ``B C A``,
``C A B``, ... (order rotated each round), threads fixed with ``torch.set_num_threads``. A sample is
``calls_per_sample`` calls (raised until a sample takes ``--min-sample-ms``), each call timed on its
own; min and median over the rounds are reported per provider.

**``--device cpu``** (default): each call timed with ``time.perf_counter_ns``; ``min_ms`` = wall time.

**``--device cuda``**: inputs are built on the GPU; before each call ``torch.cuda.synchronize()``,
then a ``torch.cuda.Event`` pair around the call on the current stream (``gpu_ms``: GPU timeline from
the first to the last launch of the call, including gaps where the GPU waits for the host) and
``perf_counter_ns`` around the call plus a final ``synchronize()`` (``wall_ms``: what the caller
waits, host overhead included). ``min_ms``/``median_ms`` are the CUDA-event times (the ratios are
computed from them); ``wall_ms`` is reported beside them. **Inputs are rotated**: each case keeps
``k`` copies of its inputs (``k·working set ≥ 2× the L2`` — the device's L2 as torch reports it, at
least 50 MB — capped at 64 copies and 8 GiB / a quarter of free memory) and every call takes the
next copy, so consecutive calls (of any provider) do not find their inputs in L2. Cases with state
that must not be duplicated set ``Case.rotate=False``. **Launches**: once per provider and case,
after warm-up, two calls (one under ``--sizes check`` and for slow providers) run under
``torch.profiler`` (CPU + CUDA activity) and the kernels the GPU ran (device-side kernel events;
memcpy/memset not counted) are divided by the calls (``launches``); the same calls give
``peak_extra_mb`` (``torch.cuda.max_memory_allocated`` above what was allocated before).

Results: a table (min, median, gpu/wall min/median, launches, ×floor, ×naive, ×official, GB/s) with
the conditions (threads, affinity, versions, CPU/GPU model, load average before/after, dtype and
shapes, dirfast backend), rows upserted into ``<out>/<op>.csv`` (key: op, case, provider, device) and
a PNG ``<out>/<op>.png`` (``<op>_cuda.png`` for CUDA; :mod:`benchmarks.plot`).

Sizes: ``--sizes default`` (the sizes each benchmark documents), ``quick`` (``--quick``: small, a
smoke test), ``check`` (the few decisive sizes for a short GPU check; on CPU small ones).

A benchmark module's ``main(argv)`` is typically::

    def main(argv=None):
        args = runner.parse_args(OP, argv)
        providers = build_providers()
        return runner.run_checked(OP, args, build_cases(args.sizes, args.device), providers,
                                  before=check_agreement(providers, args.device), report=report)

with ``check_agreement`` an untimed check of every provider's output against a yardstick provider
(:func:`check_against`, or :func:`provider_outputs` for other comparisons) and ``report`` the op's own
summary lines (default: :func:`print_summary` of ``dirfast``).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import csv
import datetime as _dt
import gc
import inspect
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import torch

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")

SIZES = ("default", "quick", "check")
DEVICES = ("cpu", "cuda")
#: provider names the ratio columns look for
NAIVE = "naive_torch"
OFFICIAL = "official"
#: input rotation on CUDA
L2_MIN_BYTES = 50 * 2**20
MAX_COPIES = 64
COPY_BUDGET_BYTES = 8 * 2**30
LAUNCH_CALLS = 2

#: the columns other tools read (``make gpu-check``): keep them, in this order
STABLE_COLUMNS = [
    "op", "case", "provider", "kind", "min_ms", "median_ms", "gpu_ms", "wall_ms", "launches",
    "ratio_to_floor", "ratio_to_naive", "ratio_to_official",
]
CSV_COLUMNS = STABLE_COLUMNS + [
    "device", "sizes", "n", "dtype", "shapes", "gpu_median_ms", "wall_median_ms",
    "median_ratio_to_floor", "gbps", "bytes_per_call", "peak_extra_mb", "copies", "working_set_mb",
    "rounds", "calls_per_sample", "threads", "loadavg", "loadavg_after", "cpu", "gpu", "affinity",
    "backend", "allocator", "timestamp", "torch_version", "triton_version", "dirfast_version",
]


# ------------------------------------------------------------------------------------------------
# cases and providers


@dataclass
class Case:
    """One input configuration. ``setup()`` — or ``setup(device)`` if it takes a ``device``
    argument — builds the inputs once (any object, usually a dict); tensors it leaves on the CPU
    are moved to the benchmark's device (leaves keep ``requires_grad``; modules are ``.to()``-ed)."""

    name: str
    params: Dict[str, Any]
    setup: Callable[..., Any]
    #: minimum bytes one call of the op must move (inputs read once + outputs written once);
    #: None = no GB/s column
    bytes_per_call: Optional[float] = None
    #: keep k copies of the inputs on CUDA and cycle through them (False: one copy, e.g. a
    #: training step whose weights are meant to stay in L2)
    rotate: bool = True


@dataclass
class Provider:
    """A named callable ``fn(inputs)`` timed on a case's inputs.

    ``kind`` is ``"floor"`` for the reference floor (memory or compute), ``"op"`` otherwise.
    ``reset(inputs)`` runs *untimed* before every timed call (e.g. ``pred.grad = None``).
    ``available()`` returning False skips the provider (with a note); ``skip(case)`` returning a
    reason string skips it for one case; ``devices`` lists where it runs (others: skipped with a
    note). ``max_rounds``: a slow provider (official Python loops) is timed in the first
    ``max_rounds`` rounds only (1 under ``--sizes check``), one call per sample, no calibration call
    (still interleaved). ``warmup``: minimum warm-up
    calls (e.g. 3 for ``torch.compile(mode="reduce-overhead")``, which records its CUDA graph late).
    """

    name: str
    fn: Callable[[Any], Any]
    kind: str = "op"
    reset: Optional[Callable[[Any], None]] = None
    available: Optional[Callable[[], bool]] = None
    skip: Optional[Callable[[Case], Optional[str]]] = None
    description: str = ""
    devices: Tuple[str, ...] = DEVICES
    max_rounds: Optional[int] = None
    warmup: int = 0


def _get(inputs: Any, key: Any) -> Any:
    return inputs[key] if isinstance(inputs, Mapping) else getattr(inputs, key)


def memory_floor(reads: Sequence[str], write_src: str, write_buf: str, *, name: str = "floor",
                 more_writes: Sequence[Tuple[str, str]] = ()) -> Provider:
    """The memory floor of docs/conventions.md: ``torch.sum`` over each input ``reads`` plus
    ``inputs[write_buf].copy_(inputs[write_src])`` (``write_buf`` preallocated by ``setup``, the size
    of the op's output) and one more ``copy_`` per ``(src, buf)`` of ``more_writes`` (ops with several
    outputs, e.g. a forward output and an input gradient)."""
    writes = [(write_src, write_buf), *more_writes]

    def fn(inputs):
        # no_grad: inputs may require grad (e.g. pred); without it every call would record a
        # SumBackward/CopyBackwards graph and chain the buffer's history call after call
        with torch.no_grad():
            for key in reads:
                torch.sum(_get(inputs, key))
            for src, buf in writes:
                _get(inputs, buf).copy_(_get(inputs, src))

    desc = " + ".join([f"sum({k})" for k in reads] + [f"{buf}.copy_({src})" for src, buf in writes])
    return Provider(name, fn, kind="floor", description=f"memory floor: {desc}")


def compute_floor(name: str, fn: Callable[[Any], Any], description: str = "") -> Provider:
    """A named compute floor, e.g. ``compute_floor("sort_floor", lambda x: torch.sort(x["y"]))``."""
    return Provider(name, fn, kind="floor", description=description or f"compute floor {name}")


def gemm_floor_fn(key: str = "u", *, tf32: Optional[bool] = None, times: int = 2) -> Callable[[Any], None]:
    """GEMM floor: ``torch.mm(U, Uᵀ)`` ``times`` times for ``U = inputs[key]`` (``[M, D]`` → 2·M²·D
    FLOPs each) in ``U``'s dtype; ``tf32`` sets ``torch.backends.cuda.matmul.allow_tf32`` for the
    call (False: fp32 IEEE, True: TF32) and restores it."""

    def fn(inputs):
        u = _get(inputs, key)
        old = torch.backends.cuda.matmul.allow_tf32
        if tf32 is not None:
            torch.backends.cuda.matmul.allow_tf32 = tf32
        try:
            for _ in range(times):
                torch.mm(u, u.t())
        finally:
            torch.backends.cuda.matmul.allow_tf32 = old

    return fn


# ------------------------------------------------------------------------------------------------
# CLI


def add_common_args(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--device", choices=DEVICES, default="cpu",
                   help="cpu (default; perf_counter per call) or cuda (CUDA events + wall per call, "
                        "inputs rotated against L2, kernel launches counted)")
    p.add_argument("--sizes", choices=SIZES, default=None,
                   help="default (documented sizes), quick (= --quick: small, smoke test), check (the few "
                        "decisive sizes per op for a short GPU check; small on CPU)")
    p.add_argument("--quick", action="store_true",
                   help="= --sizes quick: small sizes and few rounds (numbers are not meaningful)")
    p.add_argument("--rounds", type=int, default=None,
                   help="interleaved rounds (default 20, check 5, quick 3)")
    p.add_argument("--warmup", type=int, default=None,
                   help="warm-up calls per provider (default 3, check/quick 1)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--out", default=DEFAULT_OUT, help="results directory (default benchmarks/results)")
    p.add_argument("--min-sample-ms", type=float, default=None,
                   help="calls per sample are raised until a sample takes this long (default 2, check 1, "
                        "quick 0.5)")
    p.add_argument("--copies", type=int, default=None,
                   help="CUDA: input copies per case (default: enough to cover 2x the L2, see runner)")
    p.add_argument("--no-launches", action="store_true", help="CUDA: do not count kernel launches")
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


def require_device(device: str) -> None:
    """Exit with a clear message when ``device`` cannot be used here."""
    if device not in DEVICES:
        raise SystemExit(f"--device must be one of {DEVICES}, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit(
            f"--device cuda: no CUDA device available (torch {torch.__version__}, built with CUDA "
            f"{torch.version.cuda}, torch.cuda.is_available() is False). Run on a GPU machine, or use "
            "--device cpu.")


def parse_args(op: str, argv: Optional[Sequence[str]] = None, description: str = "",
               extra: Optional[Callable[[argparse.ArgumentParser], None]] = None) -> argparse.Namespace:
    """Parse the common options (``extra(parser)`` adds a benchmark's own), fill the defaults of
    ``--sizes`` and check ``--device`` (``--device cuda`` without CUDA exits with a message)."""
    p = argparse.ArgumentParser(prog=f"python -m benchmarks.bench_{op}", description=description)
    add_common_args(p)
    if extra is not None:
        extra(p)
    return _finalise_args(p.parse_args(argv))


def _finalise_args(args: argparse.Namespace) -> argparse.Namespace:
    if getattr(args, "_finalised", False):
        return args
    sizes = getattr(args, "sizes", None)
    if getattr(args, "quick", False):
        if sizes not in (None, "quick"):
            raise SystemExit(f"--quick conflicts with --sizes {sizes}")
        sizes = "quick"
    args.sizes = sizes or "default"
    args.quick = args.sizes == "quick"
    args.device = getattr(args, "device", "cpu")
    for k in ("copies", "no_launches"):
        if not hasattr(args, k):
            setattr(args, k, None if k == "copies" else False)
    if args.rounds is None:
        args.rounds = {"quick": 3, "check": 5}.get(args.sizes, 20)
    if args.warmup is None:
        args.warmup = 3 if args.sizes == "default" else 1
    if args.min_sample_ms is None:
        args.min_sample_ms = {"quick": 0.5, "check": 1.0}.get(args.sizes, 2.0)
    if args.rounds < 1:
        raise SystemExit("--rounds must be >= 1")
    if args.threads < 1:
        raise SystemExit("--threads must be >= 1")
    if args.copies is not None and args.copies < 1:
        raise SystemExit("--copies must be >= 1")
    require_device(args.device)
    args._finalised = True
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
        info = {"version": ver, "ext": ext, "cpu_auto": auto,
                "env": os.environ.get("DIRFAST_BACKEND", "<unset>")}
        if torch.cuda.is_available():
            try:
                info["cuda_auto"] = dirfast.resolve_backend(None, torch.device("cuda"), op="bench")
            except Exception as exc:  # report, do not fail the benchmark
                info["cuda_auto"] = f"n/a ({exc})"
        return info
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


def gpu_info() -> Dict[str, Any]:
    """Name, L2, SMs, memory and the matmul precision flags of the current CUDA device."""
    if not torch.cuda.is_available():
        return {"name": "", "l2_bytes": 0}
    i = torch.cuda.current_device()
    prop = torch.cuda.get_device_properties(i)
    return {"name": prop.name, "l2_bytes": int(getattr(prop, "L2_cache_size", 0) or 0),
            "sms": prop.multi_processor_count, "mem_gb": prop.total_memory / 2**30,
            "cc": f"{prop.major}.{prop.minor}", "cuda": torch.version.cuda,
            "allow_tf32": torch.backends.cuda.matmul.allow_tf32}


# ------------------------------------------------------------------------------------------------
# inputs on the device, copies against L2


def _setup_inputs(case: Case, device: str) -> Any:
    try:
        takes_device = "device" in inspect.signature(case.setup).parameters
    except (TypeError, ValueError):
        takes_device = False
    x = case.setup(device=device) if takes_device else case.setup()
    return to_device(x, device)


def _map_inputs(obj: Any, on_tensor: Callable[[torch.Tensor], torch.Tensor],
                on_module: Callable[[torch.nn.Module], torch.nn.Module], memo: Dict[int, Any]) -> Any:
    """``obj`` with ``on_tensor``/``on_module`` applied to every tensor/module inside dicts, lists and
    tuples (rebuilt; an object reached twice maps to one result, so sharing is kept); other objects —
    numpy arrays, Python lists of numbers, ``Bins`` — are returned as they are."""
    if id(obj) in memo:
        return memo[id(obj)]
    if isinstance(obj, torch.Tensor):
        out = on_tensor(obj)
    elif isinstance(obj, torch.nn.Module):
        out = on_module(obj)
    elif isinstance(obj, dict):
        out = type(obj)((k, _map_inputs(v, on_tensor, on_module, memo)) for k, v in obj.items())
    elif isinstance(obj, (list, tuple)) and any(isinstance(v, (torch.Tensor, torch.nn.Module, dict, list, tuple))
                                                for v in obj):
        vals = [_map_inputs(v, on_tensor, on_module, memo) for v in obj]
        out = type(obj)(*vals) if hasattr(obj, "_fields") else type(obj)(vals)
    else:
        out = obj
    memo[id(obj)] = out
    return out


def _leaf_like(src: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    return out.requires_grad_(True) if src.requires_grad else out


def to_device(obj: Any, device: str) -> Any:
    """``obj`` with every tensor not on ``device`` moved there (a leaf keeps ``requires_grad``;
    ``nn.Module``s are moved in place); see :func:`_map_inputs`."""
    if device == "cpu":
        return obj
    kind = torch.device(device).type
    return _map_inputs(
        obj, lambda t: t if t.device.type == kind else _leaf_like(t, t.detach().to(device)),
        lambda m: m.to(device), {})


def clone_inputs(obj: Any) -> Any:
    """A copy of ``obj`` with fresh storage for every tensor (leaves keep ``requires_grad``;
    ``nn.Module``s deep-copied); other objects are shared."""
    return _map_inputs(obj, lambda t: _leaf_like(t, t.detach().clone()), copy.deepcopy, {})


def working_set_bytes(obj: Any, device: Optional[str] = None) -> int:
    """Bytes of the distinct tensor storages in ``obj`` (on ``device``'s type if given), modules'
    parameters and buffers included."""
    seen: Dict[Tuple[str, int], int] = {}

    def visit(o, depth=0):
        if depth > 8:
            return
        if isinstance(o, torch.Tensor):
            if device is None or o.device.type == torch.device(device).type:
                st = o.untyped_storage()
                seen[(str(o.device), st.data_ptr())] = st.nbytes()
        elif isinstance(o, torch.nn.Module):
            for t in list(o.parameters()) + list(o.buffers()):
                visit(t, depth + 1)
        elif isinstance(o, dict):
            for v in o.values():
                visit(v, depth + 1)
        elif isinstance(o, (list, tuple)) and len(o) < 10_000:
            for v in o:
                visit(v, depth + 1)

    visit(obj)
    return sum(seen.values())


def n_copies(ws_bytes: int, l2_bytes: int, *, free_bytes: Optional[int] = None,
             max_copies: int = MAX_COPIES, budget_bytes: int = COPY_BUDGET_BYTES) -> int:
    """Input copies so that ``k·ws ≥ 2·L2`` (L2 at least ``L2_MIN_BYTES``), capped at ``max_copies``
    and at ``min(budget, free/4)`` bytes in all; at least 1."""
    l2 = max(int(l2_bytes or 0), L2_MIN_BYTES)
    if ws_bytes <= 0:
        return 1
    k = math.ceil(2 * l2 / ws_bytes)
    cap = budget_bytes if free_bytes is None else min(budget_bytes, free_bytes // 4)
    k = min(k, max_copies, max(1, cap // ws_bytes))
    return max(1, k)


class _Pool:
    """The case's input copies; ``next()`` cycles through them (one per call)."""

    def __init__(self, copies: List[Any]):
        self.copies = copies
        self.i = 0

    def next(self) -> Any:
        x = self.copies[self.i % len(self.copies)]
        self.i += 1
        return x


def _materialise(case: Case, device: str, args: argparse.Namespace) -> Tuple[_Pool, int]:
    x = _setup_inputs(case, device)
    ws = working_set_bytes(x, device)
    copies = [x]
    if device == "cuda" and case.rotate:
        if args.copies is not None:
            k = args.copies
        else:
            free = torch.cuda.mem_get_info()[0]
            k = n_copies(ws, gpu_info()["l2_bytes"], free_bytes=free)
        copies += [clone_inputs(x) for _ in range(k - 1)]
    return _Pool(copies), ws


# ------------------------------------------------------------------------------------------------
# timing


@dataclass
class Result:
    op: str
    case: Case
    provider: Provider
    samples_ns: List[float] = field(default_factory=list)  # per-call time of each round (min_ms source)
    wall_ns: List[float] = field(default_factory=list)     # per-call wall time of each round
    gpu_ns: List[float] = field(default_factory=list)      # per-call CUDA-event time of each round
    calls_per_sample: int = 1
    launches: Optional[float] = None
    peak_extra_mb: Optional[float] = None
    copies: int = 1
    error: Optional[str] = None

    @property
    def min_ms(self) -> float:
        return min(self.samples_ns) / 1e6 if self.samples_ns else math.nan

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ns) / 1e6 if self.samples_ns else math.nan

    def stat_ms(self, which: str, stat: str) -> float:
        xs = getattr(self, f"{which}_ns")
        if not xs:
            return math.nan
        return (min(xs) if stat == "min" else statistics.median(xs)) / 1e6


class _Timer:
    """Per-call timing: wall (``perf_counter_ns``) on CPU; wall + CUDA events on CUDA."""

    def __init__(self, device: str):
        self.cuda = device == "cuda"
        if self.cuda:
            self.ev0 = torch.cuda.Event(enable_timing=True)
            self.ev1 = torch.cuda.Event(enable_timing=True)

    def calls(self, p: Provider, pool: _Pool, number: int) -> Tuple[float, float]:
        """Total (wall ns, gpu ns) of ``number`` calls (``reset`` and the timers' set-up excluded);
        gpu is nan on CPU."""
        wall = 0
        gpu = 0.0
        fn, reset = p.fn, p.reset
        for _ in range(number):
            x = pool.next()
            if reset is not None:
                reset(x)
            if self.cuda:
                torch.cuda.synchronize()
                self.ev0.record()
                t0 = time.perf_counter_ns()
                fn(x)
                self.ev1.record()
                torch.cuda.synchronize()
                wall += time.perf_counter_ns() - t0
                gpu += self.ev0.elapsed_time(self.ev1) * 1e6
            else:
                t0 = time.perf_counter_ns()
                fn(x)
                wall += time.perf_counter_ns() - t0
        return float(wall), (gpu if self.cuda else math.nan)


def count_kernel_events(events: Iterable[Any]) -> int:
    """Number of GPU kernels among profiler events (objects with ``device_type`` and ``name``):
    device-side CUDA events, except memcpy/memset."""
    n = 0
    for e in events:
        dt = getattr(e, "device_type", None)
        dt = dt() if callable(dt) else dt
        if str(dt).split(".")[-1].upper() != "CUDA":
            continue
        name = getattr(e, "name", "")
        name = name() if callable(name) else name
        low = str(name).lower()
        if low.startswith(("memcpy", "memset")) or "[memory]" in low:
            continue
        n += 1
    return n


def profile_calls(p: Provider, pool: _Pool, calls: int = LAUNCH_CALLS) -> Tuple[Optional[float], Optional[float]]:
    """CUDA only: (kernels per call, peak extra MB) over ``calls`` calls under ``torch.profiler``."""
    from torch.profiler import ProfilerActivity, profile

    xs = [pool.next() for _ in range(calls)]
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for x in xs:
            if p.reset is not None:
                p.reset(x)
            p.fn(x)
        torch.cuda.synchronize()
    peak = (torch.cuda.max_memory_allocated() - base) / 2**20
    try:
        n = count_kernel_events(prof.events())
    except Exception:  # profiler layout differs: leave the column empty rather than guess
        return None, peak
    return n / calls, peak


def _fmt(x: Optional[float], nd: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{nd}f}"


def _refs(results: Sequence[Result]) -> Dict[str, Dict[str, Optional[Result]]]:
    """Per case: the floor, ``naive_torch`` and ``official`` results (with samples) or None."""
    out: Dict[str, Dict[str, Optional[Result]]] = {}
    for r in results:
        d = out.setdefault(r.case.name, {"floor": None, "naive": None, "official": None})
        if not r.samples_ns:
            continue
        if r.provider.kind == "floor" and d["floor"] is None:
            d["floor"] = r
        elif r.provider.name == NAIVE:
            d["naive"] = r
        elif r.provider.name == OFFICIAL:
            d["official"] = r
    return out


def _ratio(r: Result, ref: Optional[Result], stat: str = "min") -> float:
    if ref is None or not r.samples_ns or not ref.samples_ns:
        return math.nan
    return getattr(r, f"{stat}_ms") / getattr(ref, f"{stat}_ms")


def print_table(results: Sequence[Result], floors: Optional[Dict[str, Optional[Result]]] = None,
                file=sys.stdout, device: str = "cpu") -> None:
    refs = _refs(results)
    hdr = ("case", "provider", "n", "min ms", "median ms", "gpu ms min/med", "wall ms min/med", "launches",
           "x floor", "med x floor", "x naive", "x official", "GB/s", "calls")
    rows = []
    for r in results:
        ref = refs.get(r.case.name, {})
        name = r.provider.name + (" *" if r.provider.kind == "floor" else "")
        n = str(r.case.params.get("n", ""))
        if r.error:
            msg = r.error if r.error.startswith("skipped") else "error: " + r.error
            rows.append((r.case.name, name, n, "\0" + msg[:200]) + ("",) * (len(hdr) - 4))
            continue
        gbps = (r.case.bytes_per_call / (r.min_ms * 1e6) if r.case.bytes_per_call and r.samples_ns
                else math.nan)
        gpu = (f"{_fmt(r.stat_ms('gpu', 'min'))}/{_fmt(r.stat_ms('gpu', 'median'))}" if r.gpu_ns else "-")
        wall = f"{_fmt(r.stat_ms('wall', 'min'))}/{_fmt(r.stat_ms('wall', 'median'))}"
        launches = "-" if r.launches is None else f"{r.launches:g}"
        rows.append((r.case.name, name, n, _fmt(r.min_ms), _fmt(r.median_ms), gpu, wall, launches,
                     _fmt(_ratio(r, ref.get("floor")), 2), _fmt(_ratio(r, ref.get("floor"), "median"), 2),
                     _fmt(_ratio(r, ref.get("naive")), 2), _fmt(_ratio(r, ref.get("official")), 2),
                     _fmt(gbps, 1), str(r.calls_per_sample)))
    ok_rows = [row for row in rows if not row[3].startswith("\0")]
    widths = [max([len(h)] + [len(row[i]) for row in (ok_rows if i >= 3 else rows)]) for i, h in enumerate(hdr)]
    line = "  ".join(h.ljust(w) if i < 2 else h.rjust(w) for i, (h, w) in enumerate(zip(hdr, widths)))
    print(line, file=file)
    print("-" * len(line), file=file)
    last = None
    for row in rows:
        if last is not None and row[0] != last:
            print(file=file)
        last = row[0]
        if row[3].startswith("\0"):  # skipped / error: the message instead of the numbers
            print("  ".join((row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].rjust(widths[2]), row[3][1:])),
                  file=file)
            continue
        print("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))),
              file=file)
    what = "CUDA-event time per call" if device == "cuda" else "wall time per call"
    print(f"(* = floor; min/median = {what}; x floor/naive/official = min-of-N ratio to that provider's min "
          "in the same case (the number to judge on); GB/s = minimum bytes of the op / min time; calls = "
          "calls per sample)", file=file)


def _active(providers: Sequence[Provider], device: str) -> Tuple[List[Provider], List[str]]:
    active, notes = [], []
    for p in providers:
        if device not in p.devices:
            notes.append(f"provider {p.name} skipped: runs on {'/'.join(p.devices)} only")
        elif p.available is not None and not p.available():
            notes.append(f"provider {p.name} skipped: not available here")
        else:
            active.append(p)
    return active, notes


def active_providers(providers: Sequence[Provider], device: str) -> List[Provider]:
    """The providers that run on ``device`` here (for a benchmark's own agreement checks)."""
    return _active(providers, device)[0]


def _print_conditions(op, args, active, notes, cases, info, alloc, load_before, file) -> None:
    print(f"== benchmark {op} (device {args.device}, sizes {args.sizes}) ==", file=file)
    print(f"threads: torch.set_num_threads({args.threads}) -> get_num_threads()={torch.get_num_threads()}, "
          f"interop={torch.get_num_interop_threads()}, affinity cpus [{_affinity()}] of os.cpu_count()={os.cpu_count()}",
          file=file)
    print(f"versions: python {platform.python_version()}, torch {torch.__version__}, "
          f"triton {_version('triton')}, dirfast {info['version']}", file=file)
    print(f"cpu: {cpu_model()}; cuda available: {torch.cuda.is_available()}", file=file)
    if args.device == "cuda":
        g = gpu_info()
        print(f"gpu: {g['name']} (cc {g['cc']}, {g['sms']} SMs, L2 {g['l2_bytes'] / 2**20:.0f} MB, "
              f"{g['mem_gb']:.0f} GB), CUDA {g['cuda']}; torch.backends.cuda.matmul.allow_tf32="
              f"{g['allow_tf32']}; timing: CUDA events per call after synchronize (min_ms) + wall "
              f"(perf_counter + synchronize); inputs rotated over k copies with k*working set >= 2 x "
              f"max(L2, {L2_MIN_BYTES / 2**20:.0f} MB) (cap {MAX_COPIES} copies, "
              f"{COPY_BUDGET_BYTES / 2**30:.0f} GiB){'' if args.copies is None else f', --copies {args.copies}'}; "
              f"launches: {'off' if args.no_launches else 'kernels per call under torch.profiler (2 calls; 1 for slow providers or --sizes check)'}",
              file=file)
    print(f"dirfast backend: cpu 'auto' -> {info['cpu_auto']}; cuda 'auto' -> {info.get('cuda_auto', '-')}; "
          f"dirfast._C {info['ext']}; DIRFAST_BACKEND={info['env']}", file=file)
    print(f"allocator: {alloc}; {allocator_info()}", file=file)
    print(f"load average (1/5/15 min) before: {load_before}", file=file)
    floor_names = [p.name for p in active if p.kind == "floor"]
    print(f"rounds: {args.rounds} interleaved (order rotated each round), warm-up {args.warmup} call(s) per "
          f"provider, samples >= {args.min_sample_ms} ms; floor: {', '.join(floor_names) or 'none'}", file=file)
    for p in active:
        if p.description:
            extra = f" [timed in the first {_max_rounds(p, args)} round(s) only]" if p.max_rounds else ""
            print(f"  {p.name}: {p.description}{extra}", file=file)
    for c in cases:
        print(f"case {c.name}: " + ", ".join(f"{k}={v}" for k, v in c.params.items()), file=file)
    for n in notes:
        print(n, file=file)
    file.flush()


def _error(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {msg[0] if msg else ''}"


def _max_rounds(p: Provider, args: argparse.Namespace) -> int:
    """Timed rounds of a slow provider: its ``max_rounds``, 1 under ``--sizes check``."""
    return 1 if args.sizes == "check" else int(p.max_rounds)


def _free_device(device: str) -> None:
    """CUDA: collect cycles and return cached blocks (the next case may need the memory). CPU: the
    dropped references free the tensors; the next case's pre-round ``gc.collect`` does the rest."""
    if device == "cuda":
        gc.collect()
        torch.cuda.synchronize()
        torch.cuda.empty_cache()


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
    device = args.device
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
    active, notes = _active(providers, device)

    alloc = "default"
    if getattr(args, "malloc_recycle", False):
        alloc = malloc_recycle()
    info = dirfast_info()
    info["allocator"] = alloc
    load_before = loadavg()
    _print_conditions(op, args, active, notes, cases, info, alloc, load_before, file)

    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is in the bench extra
        tqdm = None
    bar = None
    if tqdm is not None and not args.no_progress:
        bar = tqdm(total=len(cases) * args.rounds, desc=op, unit="round", file=sys.stderr,
                   leave=False, mininterval=0.5)

    timer = _Timer(device)
    results: List[Result] = []
    for case in cases:
        case_res = []
        for p in active:
            reason = p.skip(case) if p.skip is not None else None
            r = Result(op, case, p)
            if reason:
                r.error = f"skipped: {reason}"
            case_res.append(r)
        try:
            pool, ws = _materialise(case, device, args)
        except Exception as exc:  # e.g. out of memory: report the case, keep going
            for r in case_res:
                r.error = r.error or f"setup failed: {_error(exc)}"
            results.extend(case_res)
            _free_device(device)
            if bar is not None:
                bar.update(args.rounds)
            continue
        case.params.setdefault("working_set_mb", round(ws / 2**20, 1))
        runnable = [r for r in case_res if r.error is None]
        # warm-up, then calibrate calls per sample so a sample is >= min_sample_ms
        for r in runnable:
            r.copies = len(pool.copies)
            try:
                timer.calls(r.provider, pool, max(args.warmup, r.provider.warmup, 1))
                slow = bool(r.provider.max_rounds)
                if slow:  # one call per sample: no calibration call
                    r.calls_per_sample = 1
                else:
                    one, _ = timer.calls(r.provider, pool, 1)
                    r.calls_per_sample = min(100_000, max(1, math.ceil(args.min_sample_ms * 1e6 / max(one, 1))))
                if device == "cuda" and not args.no_launches:
                    n_prof = 1 if (slow or args.sizes == "check") else LAUNCH_CALLS
                    r.launches, r.peak_extra_mb = profile_calls(r.provider, pool, n_prof)
            except Exception as exc:  # report, keep benchmarking the others
                r.error = _error(exc)
                _free_device(device)
        runnable = [r for r in runnable if r.error is None]
        gc.collect()
        gc_was = gc.isenabled()
        gc.disable()
        try:
            k = len(runnable)
            for rnd in range(args.rounds):
                order = runnable[rnd % k:] + runnable[:rnd % k] if k else []
                for r in order:
                    if r.error is not None or (r.provider.max_rounds and
                                               len(r.samples_ns) >= _max_rounds(r.provider, args)):
                        continue
                    try:
                        wall, gpu = timer.calls(r.provider, pool, r.calls_per_sample)
                    except Exception as exc:
                        r.error = _error(exc)
                        continue
                    r.wall_ns.append(wall / r.calls_per_sample)
                    if device == "cuda":
                        r.gpu_ns.append(gpu / r.calls_per_sample)
                    r.samples_ns.append(r.gpu_ns[-1] if device == "cuda" else r.wall_ns[-1])
                if bar is not None:
                    bar.update(1)
        finally:
            if gc_was:
                gc.enable()
        for r in case_res:
            if r.error is not None and r.samples_ns and not r.error.startswith("skipped"):
                r.samples_ns, r.wall_ns, r.gpu_ns = [], [], []  # a provider that failed mid-way has no row
        results.extend(case_res)
        del pool
        _free_device(device)
    if bar is not None:
        bar.close()
    load_after = loadavg()
    floors = {c: d["floor"] for c, d in _refs(results).items()}

    print(file=file)
    print_table(results, floors, file=file, device=device)
    print(f"load average (1/5/15 min) after: {load_after}", file=file)
    copies = sorted({(r.case.name, r.copies) for r in results if r.copies > 1})
    if copies:
        print("input copies (rotated per call): " + ", ".join(f"{c}: {k}" for c, k in copies), file=file)
    if device == "cpu":
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
    if not args.no_plot and rows:
        from . import plot

        png_name = f"{op}.png" if device == "cpu" else f"{op}_{device}.png"
        try:
            png = plot.plot_op(csv_path, os.path.join(args.out, png_name), op=op, device=device)
            print(f"wrote {png}", file=file)
        except Exception as exc:  # a plot must never lose the CSV
            print(f"plot failed: {_error(exc)}", file=file)
    return results


def ratio(results: Sequence[Result], case: str, provider: str, floor: Optional[str] = None,
          stat: str = "min") -> float:
    """``stat`` (min/median) time of ``provider`` over the floor's (or provider ``floor``'s) in
    ``case`` (nan if missing)."""
    by = {(r.case.name, r.provider.name): r for r in results}
    fl = next((r for r in results if r.case.name == case and
               (r.provider.name == floor if floor else r.provider.kind == "floor")), None)
    r = by.get((case, provider))
    if r is None or fl is None or not r.samples_ns or not fl.samples_ns:
        return math.nan
    return getattr(r, f"{stat}_ms") / getattr(fl, f"{stat}_ms")


def find(results: Sequence[Result], case: str, provider: str) -> Optional[Result]:
    """The result of ``provider`` in ``case`` if it has samples."""
    return next((r for r in results if r.case.name == case and r.provider.name == provider and r.samples_ns),
                None)


# ------------------------------------------------------------------------------------------------
# CSV


def _num(x: Optional[float], fmt: str = ".6g") -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return ""
    return format(x, fmt)


def to_rows(op, results, floors, args, load_before, load_after, info) -> List[Dict[str, str]]:
    now = _dt.datetime.now().isoformat(timespec="seconds")
    refs = _refs(results)
    device = getattr(args, "device", "cpu")
    gpu = gpu_info()["name"] if device == "cuda" else ""
    rows = []
    for r in results:
        if r.error or not r.samples_ns:
            continue
        ref = refs.get(r.case.name, {})
        bpc = r.case.bytes_per_call
        gbps = bpc / (r.min_ms * 1e6) if bpc else math.nan
        case = r.case.name if info.get("allocator", "default") == "default" else f"{r.case.name}@malloc_recycle"
        rows.append({
            "op": op, "case": case, "provider": r.provider.name, "kind": r.provider.kind,
            "min_ms": _num(r.min_ms), "median_ms": _num(r.median_ms),
            "gpu_ms": _num(r.stat_ms("gpu", "min")), "wall_ms": _num(r.stat_ms("wall", "min")),
            "launches": "" if r.launches is None else f"{r.launches:g}",
            "ratio_to_floor": _num(_ratio(r, ref.get("floor")), ".4g"),
            "ratio_to_naive": _num(_ratio(r, ref.get("naive")), ".4g"),
            "ratio_to_official": _num(_ratio(r, ref.get("official")), ".4g"),
            "device": device, "sizes": getattr(args, "sizes", ""),
            "n": r.case.params.get("n", ""), "dtype": r.case.params.get("dtype", ""),
            "shapes": r.case.params.get("shapes", ""),
            "gpu_median_ms": _num(r.stat_ms("gpu", "median")), "wall_median_ms": _num(r.stat_ms("wall", "median")),
            "median_ratio_to_floor": _num(_ratio(r, ref.get("floor"), "median"), ".4g"),
            "gbps": _num(gbps, ".4g"), "bytes_per_call": f"{bpc:.0f}" if bpc else "",
            "peak_extra_mb": _num(r.peak_extra_mb, ".4g"), "copies": r.copies,
            "working_set_mb": r.case.params.get("working_set_mb", ""),
            "rounds": len(r.samples_ns), "calls_per_sample": r.calls_per_sample,
            "threads": torch.get_num_threads(),
            "loadavg": load_before, "loadavg_after": load_after, "cpu": cpu_model(), "gpu": gpu,
            "affinity": _affinity(), "backend": info.get("cuda_auto" if device == "cuda" else "cpu_auto", ""),
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


def _key(r: Mapping[str, Any]) -> Tuple[str, str, str, str]:
    return (str(r["op"]), str(r["case"]), str(r["provider"]), str(r.get("device") or "cpu"))


def upsert_csv(path: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Replace rows with the same (op, case, provider, device) — rows without a device are CPU rows —
    keep the others; columns in :data:`CSV_COLUMNS` order, unknown ones after; atomic write."""
    old = read_csv(path)
    new_keys = {_key(r) for r in rows}
    merged = [r for r in old if _key(r) not in new_keys] + [dict(r) for r in rows]
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


# ------------------------------------------------------------------------------------------------
# helpers for benchmark modules


def sizes_arg(sizes: Any) -> str:
    """A ``build_cases`` ``sizes`` argument: ``"default" | "quick" | "check"`` as given, a bool read as
    ``"quick"`` / ``"default"`` (the old ``quick`` signature)."""
    return ("quick" if sizes else "default") if isinstance(sizes, bool) else sizes


def size_name(n: int) -> str:
    """Short case-name form of a size: 16777216 -> '16M', 1000000 -> '1M', 65536 -> '64k', 256 -> '256'."""
    if n >= 2**20 and n % 2**20 == 0:
        return f"{n >> 20}M"
    if n >= 10**6 and n % 10**6 == 0:
        return f"{n // 10**6}M"
    if n >= 2**16 and n % 2**10 == 0:
        return f"{n >> 10}k"
    return str(n)


def print_summary(results: Sequence[Result], main: str, file=sys.stdout) -> None:
    """One line per case: ``main``'s min-of-N ratios to the floor, ``naive_torch`` and ``official``
    (and its wall time and launches on CUDA)."""
    refs = _refs(results)
    for case in dict.fromkeys(r.case.name for r in results):
        r = find(results, case, main)
        if r is None:
            continue
        ref = refs[case]
        parts = [f"{case}: {main} {r.min_ms:.4g} ms"]
        if r.wall_ns and r.gpu_ns:
            parts[0] += f" (wall {r.stat_ms('wall', 'min'):.4g} ms)"
        if r.launches is not None:
            parts.append(f"{r.launches:g} kernels/call")
        for key, label in (("floor", "floor"), ("naive", NAIVE), ("official", OFFICIAL)):
            if ref.get(key) is not None:
                parts.append(f"{_ratio(r, ref[key]):.2f}x {label if key != 'floor' else ref[key].provider.name}")
        print("; ".join(parts), file=file)


def run_checked(op: str, args: argparse.Namespace, cases: Sequence[Case], providers: Sequence[Provider], *,
                before: Iterable[str] = (),
                report: Optional[Callable[[List[Result], argparse.Namespace], Any]] = None) -> List[Result]:
    """The usual tail of a benchmark module's ``main``: print the lines ``before`` (its agreement
    checks, notes), :func:`run`, then ``report(results, args)`` — by default a blank line and
    :func:`print_summary` of ``dirfast``. Returns the results."""
    for line in before:
        print(line)
    results = run(op, cases, providers, args)
    if report is None:
        print()
        print_summary(results, "dirfast")
    else:
        report(results, args)
    return results


# ------------------------------------------------------------------------------------------------
# agreement checks (untimed, printed before the timing run)


def loss_and_grad(key: str) -> Callable[[Any, Any], Tuple[float, Optional[torch.Tensor]]]:
    """An ``extract`` for :func:`provider_outputs`: the scalar loss a provider returns (as a float)
    and ``inputs[key].grad``."""
    return lambda out, x: (float(out.detach()), _get(x, key).grad)


def value_and_grad(key: str) -> Callable[[Any, Any], Tuple[torch.Tensor, Optional[torch.Tensor]]]:
    """An ``extract`` for :func:`provider_outputs`: the tensor a provider returns and ``inputs[key].grad``."""
    return lambda out, x: (out, _get(x, key).grad)


def provider_outputs(providers: Sequence[Provider], inputs: Any, device: str,
                     extract: Callable[[Any, Any], Sequence[Any]], *, label: str = "",
                     skip: Optional[Callable[[Provider], bool]] = None,
                     each: Optional[Callable[[str, Tuple[Any, ...]], str]] = None,
                     failed: str = "check {label}: {name} failed: {error}",
                     ) -> Tuple[Dict[str, Tuple[Any, ...]], List[str]]:
    """Untimed: call every provider that runs on ``device`` here, floors and those ``skip(p)`` is True
    for left out, once on ``inputs`` (its ``reset`` first) and keep ``extract(out, inputs)`` (a tuple,
    tensors detached and cloned) by provider name, in provider order. Returns those and the check
    lines: ``failed`` (formatted with ``label``, ``name``, ``device``, ``error``) for a provider that
    raised, and, with ``each``, the line ``each(name, extracted)`` right after each provider ran."""
    outs: Dict[str, Tuple[Any, ...]] = {}
    lines: List[str] = []
    for p in active_providers(providers, device):
        if p.kind == "floor" or (skip is not None and skip(p)):
            continue
        if p.reset is not None:
            p.reset(inputs)
        try:
            out = p.fn(inputs)
        except Exception as exc:
            lines.append(failed.format(label=label, name=p.name, device=device,
                                       error=f"{type(exc).__name__}: {exc}"))
            continue
        outs[p.name] = tuple(t.detach().clone() if isinstance(t, torch.Tensor) else t for t in extract(out, inputs))
        if each is not None:
            lines.append(each(p.name, outs[p.name]))
    return outs, lines


def rel_err(a: Any, ref: Any, sel: Any = None) -> float:
    """``max |a - ref|`` (over ``(a - ref)[sel]``) divided by ``max |ref|`` (at least 1e-30), for
    tensors or floats."""
    if isinstance(ref, torch.Tensor):
        diff = a - ref if sel is None else (a - ref)[sel]
        return float(diff.abs().max()) / max(float(ref.abs().max()), 1e-30)
    return abs(a - ref) / max(abs(ref), 1e-30)


def check_against(providers: Sequence[Provider], inputs: Any, device: str, ref: str, *,
                  extract: Callable[[Any, Any], Sequence[Any]], label: str, head: str, tol: float = 1e-5,
                  what: Sequence[str] = ("loss", "grad"), sel: Optional[Callable[[str], Any]] = None,
                  skip: Optional[Callable[[Provider], bool]] = None, who: Optional[str] = None,
                  ref_note: str = "") -> List[str]:
    """Untimed agreement check of a benchmark's providers on ``inputs``: :func:`provider_outputs`
    (``extract``, ``label``, ``skip``) and, if provider ``ref`` ran, one line ``check <head>: <names>
    agree with <ref><ref_note>: <what[i]> rel <e_i>, ... -> ok|MISMATCH`` where ``e_i`` is the worst
    :func:`rel_err` of the ``i``-th extracted item against ``ref``'s (over ``sel(name)`` where given)
    and ``ok`` means every ``e_i < tol``; ``who`` replaces the provider names."""
    outs, lines = provider_outputs(providers, inputs, device, extract, label=label, skip=skip)
    if ref not in outs:
        return lines
    want = outs[ref]
    errs = [max(rel_err(got[i], want[i], None if sel is None else sel(name)) for name, got in outs.items())
            for i in range(len(what))]
    ok = all(e < tol for e in errs)
    return lines + [f"check {head}: {who or ', '.join(outs)} agree with {ref}{ref_note}: "
                    + ", ".join(f"{w} rel {e:.1e}" for w, e in zip(what, errs))
                    + f" -> {'ok' if ok else 'MISMATCH'}"]


_AGEDB: Dict[str, torch.Tensor] = {}


def agedb_train() -> torch.Tensor:
    """The AgeDB-DIR training ages (``dirfast.data.agedb_dir_ages()["train"]``, read once per process;
    callers must not modify it)."""
    if "train" not in _AGEDB:
        import dirfast

        _AGEDB["train"] = dirfast.data.agedb_dir_ages()["train"]
    return _AGEDB["train"]
