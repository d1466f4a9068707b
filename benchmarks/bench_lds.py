"""Benchmark: LDS fit, LDS label→weight mapping and DIR shot metrics, CPU or CUDA.

    python -m benchmarks.bench_lds [--device cpu|cuda] [--sizes default|quick|check] [--rounds R] [--out DIR]

Labels: ages uniform in [0, 101): float32 (``*_float``: continuous values; ``metrics`` uses
integer-valued float32 ages like AgeDB) or int64 (``*_int``). Bins: ``Bins.official_age(121)``; LDS:
sqrt_inv + gaussian ks=5 σ=2. Every call is one fit (``LDS(...).fit(y)``), one mapping of a batch of
labels to weights, or one ``shot_metrics`` evaluation. Providers, interleaved in one process:

* ``floor`` — memory floor: ``torch.sum`` of the inputs + ``copy_`` of an output-sized tensor into a
  preallocated buffer (the op's output: ``[K]`` for fit and metrics — so it is ~ the read of the inputs —
  ``[N]`` float32 weights for the mapping);
* ``dirfast`` — ``LDS(...).fit(y)`` / ``lds(y)`` (CUDA; on CPU see the next two) / ``shot_metrics(...)``
  (``validate=False``);
* ``dirfast_cpu`` (map, CPU) — ``lds(y, backend="cpu")``: the fused one-pass C++ kernel
  (``dirfast._C.bins_map``: label → bin → weight, OpenMP); skipped when the extension is not built;
* ``dirfast_cpu_torch`` (map, CPU) — ``lds(y)`` with the extension hidden: the vectorised-PyTorch path
  ``"auto"`` takes without ``dirfast._C`` (arithmetic bin ids + ``index_select``);
* ``dirfast_reference`` — the same through ``backend="reference"`` (``torch.searchsorted``) or
  ``shot_metrics_ref`` (masks);
* ``dirfast_official`` — ``variant="official"`` (fit; metrics: per-label-value shot membership);
* ``naive_torch`` — plain vectorised PyTorch a user would write on the labels' device (fit:
  ``bincount`` of ``y.long().clamp(max=120)`` + ``conv1d`` with the window + the mean-1 rescale; map:
  ``table[y.long().clamp(max=120)]``);
* ``numpy`` (CPU) — a vectorised NumPy version (``np.bincount`` of ``int`` bins,
  ``scipy.ndimage.convolve1d``; a table gather ``w[np.minimum(120, y.astype(int))]``);
* ``official`` — the literal official code (``tests/_official_lds.py``) on the full data, timed in the
  first 3 rounds only (Python loops): fit = ``prepare_weights`` (``Counter``-style dict loops,
  ``convolve1d``, per-sample ``float32(1/x)``) on the host label array; map = the official
  per-sample lookup ``[table[min(120, int(l))] for l in labels]`` of the labels' ``tolist()`` and a
  tensor of the weights on the labels' device; metrics = ``official_shot_metrics``
  (``for l in np.unique(labels)`` with boolean masks over all samples, O(U·N)) on host arrays.

Sizes. CPU (case names ``<kind>_<labels>``): ``default`` N = 1,000,000 (fit, map float/int, metrics);
``quick`` N = 65,536; ``check`` fit_float and map_float at 65,536. CUDA (``<kind>_<labels>_<N>``; shot
metrics are in ``bench_shot_metrics``): ``default`` fit_float 1M, map float/int 1M, map_float 256 and
4,096 (training batches); ``check`` map_float 1M and 256; ``quick`` map_float and fit_float 65,536.
Targets (CPU, N = 1M, min-of-N): fit ≤ 25 ms; mapping (``dirfast_cpu``, or ``dirfast_cpu_torch``
without the extension) ≤ 3× the memory floor; shot metrics ≤ 50 ms.
"""

from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np
import torch
from scipy.ndimage import convolve1d

from dirfast import LDS, Bins, _ext, shot_metrics
from dirfast.reference import shot_metrics_ref

from . import _official as _official_mod
from . import runner
from .runner import Case, Provider

OP = "lds"
N_FULL = 1_000_000
N_QUICK = 65_536
K = 121
TARGETS = {"fit": ("abs", 25.0), "map": ("floor", 3.0), "metrics": ("abs", 50.0)}
OFFICIAL_ROUNDS = 3
_CPU_FULL = [("fit", "float"), ("fit", "int"), ("map", "float"), ("map", "int"), ("metrics", "float")]
#: (device, sizes) -> [(kind, labels, N)]
SIZES = {
    ("cpu", "default"): [(k, l, N_FULL) for k, l in _CPU_FULL],
    ("cpu", "quick"): [(k, l, N_QUICK) for k, l in _CPU_FULL],
    ("cpu", "check"): [("fit", "float", N_QUICK), ("map", "float", N_QUICK)],
    ("cuda", "default"): [("fit", "float", N_FULL), ("map", "float", N_FULL), ("map", "int", N_FULL),
                          ("map", "float", 256), ("map", "float", 4096)],
    ("cuda", "quick"): [("fit", "float", N_QUICK), ("map", "float", N_QUICK)],
    ("cuda", "check"): [("map", "float", N_FULL), ("map", "float", 256)],
}
WINDOW = np.array([0.85828524, 0.94582765, 1.0, 0.94582765, 0.85828524])


def _setup(n: int, kind: str, labels: str, seed: int = 0):
    def setup():
        g = torch.Generator().manual_seed(seed)
        y = torch.rand(n, generator=g) * 101
        if labels == "int":
            y = y.to(torch.int64)
        elif kind == "metrics":
            y = y.floor()
        bins = Bins.official_age(K)
        x = {"kind": kind, "y": y, "bins": bins, "y_np": y.numpy(), "n": n,
             "kbuf": torch.empty(K), "ksrc": torch.ones(K), "window": torch.from_numpy(WINDOW).float()}
        lds = LDS(bins).fit(y)
        x["lds"] = lds
        x["table_np"] = lds.bin_weights.to(torch.float32).numpy()
        if kind == "map":
            x["wbuf"] = torch.empty(n)
            x["wsrc"] = torch.ones(n)
            x["table"] = lds.bin_weights.to(torch.float32)
        if kind == "metrics":
            x["train"] = (torch.rand(n, generator=g) ** 2 * 101).floor()  # skewed: many/medium/few
            x["preds"] = y.float() + torch.randn(n, generator=g) * 5
            x["train_np"], x["preds_np"] = x["train"].numpy(), x["preds"].numpy()
        return x

    return setup


def build_cases(sizes="default", device: str = "cpu") -> List[Case]:
    """``sizes``: ``"default" | "quick" | "check"`` (a bool is read as ``quick``, the old signature)."""
    sizes = runner.sizes_arg(sizes)
    cases = []
    for kind, labels, n in SIZES[(device, sizes)]:
        es = 4 if labels == "float" else 8
        reads = es * n * (3 if kind == "metrics" else 1)
        writes = 4 * n if kind == "map" else 8 * K
        cases.append(Case(
            name=f"{kind}_{labels}" + ("" if device == "cpu" else f"_{runner.size_name(n)}"),
            params={"n": n, "dtype": "float32" if labels == "float" else "int64",
                    "shapes": f"labels [{n}]" + (f", preds [{n}], train [{n}]" if kind == "metrics" else ""),
                    "bins": "official_age(121)", "lds": "sqrt_inv gaussian ks=5 sigma=2", "device": device,
                    "working_set_mb": round((reads + writes) / 2**20, 1)},
            setup=_setup(n, kind, labels), bytes_per_call=reads + writes))
    return cases


# ------------------------------------------------------------------------------------------------
# providers


def _kind(case: Case) -> str:
    return case.name.split("_")[0]


def _numpy_fit(x):
    c = np.bincount(np.minimum(K - 1, x["y_np"].astype(np.int64)), minlength=K).astype(np.float64)
    v = convolve1d(np.sqrt(c), WINDOW, mode="constant")
    with np.errstate(divide="ignore"):
        u = 1.0 / v
    return u * c.sum() / (c * np.where(c > 0, u, 0)).sum()


def _naive_fit(x):
    """Vectorised PyTorch on the labels' device: histogram, sqrt, conv1d (zero padding), 1/v,
    mean-1 rescale over the training labels."""
    ids = x["y"].long().clamp(0, K - 1)
    c = torch.bincount(ids, minlength=K).to(torch.float32)
    v = torch.nn.functional.conv1d(c.sqrt().view(1, 1, -1), x["window"].view(1, 1, -1), padding=2).view(-1)
    u = torch.where(v > 0, 1.0 / v, torch.zeros_like(v))
    return u * c.sum() / (c * u).sum()


def _naive_map(x):
    return x["table"][x["y"].long().clamp(0, K - 1)]


def build_providers() -> List[Provider]:
    def floor_fn(x):
        with torch.no_grad():
            for k in ("y", "preds", "train"):
                if k in x:
                    torch.sum(x[k])
            if "wbuf" in x:
                x["wbuf"].copy_(x["wsrc"])
            else:
                x["kbuf"].copy_(x["ksrc"])

    def dirfast_fn(variant="default", backend=None):
        def fn(x):
            kind = x["kind"]
            if kind == "fit":
                return LDS(x["bins"], variant=variant).fit(x["y"])
            if kind == "map":
                return x["lds"](x["y"], validate=False, backend=backend)
            return shot_metrics(x["preds"], x["y"], x["train"], x["bins"], variant=variant, validate=False)
        return fn

    def cpu_fn(x):
        return x["lds"](x["y"], validate=False, backend="cpu")

    def cpu_torch_fn(x):
        with runner.hide_extension():  # what backend="auto" runs when dirfast._C is not built
            return x["lds"](x["y"], validate=False)

    def map_only(c):
        return None if _kind(c) == "map" else "map only"

    def ref_fn(x):
        kind = x["kind"]
        if kind == "metrics":
            return shot_metrics_ref(x["preds"], x["y"], x["train"], x["bins"])
        if kind == "map":
            return x["lds"](x["y"], validate=False, backend="reference")
        # fit through the reference binning (searchsorted)
        ids = x["bins"].index(x["y"], validate=False, backend="reference")
        return torch.bincount(ids, minlength=K)

    def numpy_fn(x):
        kind = x["kind"]
        if kind == "fit":
            return _numpy_fit(x)
        if kind == "map":
            return x["table_np"][np.minimum(K - 1, x["y_np"].astype(np.int64))]
        return None

    def naive_fn(x):
        return _naive_fit(x) if x["kind"] == "fit" else _naive_map(x)

    def official_fn(x):
        off = _official_mod.load("lds")
        if x["kind"] == "metrics":
            return off.official_shot_metrics(x["preds_np"], x["y_np"], x["train_np"])
        if x["kind"] == "fit":
            return off.prepare_weights(x["y_np"], "sqrt_inv", max_target=K, lds=True)
        # the official per-sample lookup (datasets: value_dict / smoothed_value[min(K-1, int(label))])
        tbl = x["table_np"]
        y = x["y"]
        w = [tbl[min(K - 1, int(l))] for l in y.tolist()]
        return torch.tensor(w, dtype=torch.float32, device=y.device)

    return [
        Provider("floor", floor_fn, kind="floor",
                 description="memory floor: sum(inputs) + copy_ of an output-sized tensor ([N] weights for "
                             "map, [K] otherwise) into a preallocated buffer"),
        Provider("dirfast", dirfast_fn(), description="dirfast LDS.fit / LDS(labels) (CUDA) / shot_metrics",
                 skip=lambda c: ("see dirfast_cpu / dirfast_cpu_torch" if _kind(c) == "map" and
                                 c.params.get("device", "cpu") == "cpu" else None)),
        Provider("dirfast_cpu", cpu_fn, available=_ext.available, skip=map_only, devices=("cpu",),
                 description="LDS(labels, backend='cpu'): fused one-pass C++ kernel (dirfast._C.bins_map)"),
        Provider("dirfast_cpu_torch", cpu_torch_fn, skip=map_only, devices=("cpu",),
                 description="LDS(labels) with dirfast._C hidden: vectorised PyTorch (ids + index_select)"),
        Provider("dirfast_official", dirfast_fn("official"),
                 skip=lambda c: "same path as dirfast" if _kind(c) == "map" else None,
                 description="variant='official'"),
        Provider("dirfast_reference", ref_fn,
                 description="backend='reference' (torch.searchsorted binning) / shot_metrics_ref"),
        Provider("naive_torch", naive_fn, skip=lambda c: "see bench_shot_metrics" if _kind(c) == "metrics" else None,
                 description="vectorised PyTorch a user would write (bincount + conv1d; table[y.long()])"),
        Provider("numpy", numpy_fn, skip=lambda c: "n/a" if _kind(c) == "metrics" else None, devices=("cpu",),
                 description="vectorised NumPy/SciPy a user would write"),
        Provider("official", official_fn, available=lambda: _official_mod.available("lds"),
                 max_rounds=OFFICIAL_ROUNDS,
                 description="literal official code (tests/_official_lds.py) on the full data: prepare_weights "
                             "/ per-sample lookup / official_shot_metrics (host arrays)"),
    ]


def report(results, args, file=None) -> None:
    print(file=file)
    if args.device == "cuda":
        runner.print_summary(results, "dirfast", file=file)
        return
    for case in sorted({r.case.name for r in results}):
        kind = case.split("_")[0]
        how, target = TARGETS[kind]
        names = ("dirfast_cpu", "dirfast_cpu_torch") if kind == "map" else ("dirfast",)
        for name in names:
            r = next((r for r in results if r.case.name == case and r.provider.name == name), None)
            if r is None or not r.samples_ns:
                continue
            ratio = runner.ratio(results, case, name)
            mratio = runner.ratio(results, case, name, stat="median")
            if how == "abs":
                verdict = "PASS" if r.min_ms <= target else "FAIL"
                print(f"{case}: {name} {r.min_ms:.3f} ms min / {r.median_ms:.3f} ms median (floor ratio "
                      f"{ratio:.2f}x) -> target <= {target} ms: {verdict}", file=file)
            else:
                verdict = "PASS" if ratio <= target else "FAIL"
                print(f"{case}: {name} / floor = {ratio:.2f}x (min-of-N), {mratio:.2f}x (median) -> target "
                      f"<= {target}x: {verdict}", file=file)
            break  # the map verdict is on dirfast_cpu; dirfast_cpu_torch only without the extension


def main(argv: Optional[Sequence[str]] = None):
    args = runner.parse_args(OP, argv, description=__doc__.splitlines()[0])
    return runner.run_checked(OP, args, build_cases(args.sizes, args.device), build_providers(), report=report)


if __name__ == "__main__":
    main()
