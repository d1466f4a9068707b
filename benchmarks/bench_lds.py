"""Benchmark: LDS fit, LDS label→weight mapping and DIR shot metrics on CPU.

    python -m benchmarks.bench_lds [--quick] [--rounds R] [--threads T] [--out DIR]

N = 1,000,000 labels (``--quick``: 65,536), ages uniform in [0, 101): float32 (``*_float``: continuous
values; ``metrics`` uses integer-valued float32 ages like AgeDB) or int64 (``*_int``). Bins:
``Bins.official_age(121)``; LDS: sqrt_inv + gaussian ks=5 σ=2. Providers, interleaved in one process:

* ``floor`` — memory floor: ``torch.sum`` of the inputs + ``copy_`` of an output-sized tensor into a
  preallocated buffer (the op's output: ``[K]`` for fit and metrics — so it is ~ the read of the inputs —
  ``[N]`` float32 weights for the mapping);
* ``dirfast`` — ``LDS(...).fit(y)`` / ``shot_metrics(...)`` (``validate=False``; fit and metrics);
* ``dirfast_cpu`` (map) — ``lds(y, backend="cpu")``: the fused one-pass C++ kernel
  (``dirfast._C.bins_map``: label → bin → weight, OpenMP); skipped when the extension is not built;
* ``dirfast_cpu_torch`` (map) — ``lds(y)`` with the extension hidden: the vectorised-PyTorch path
  ``"auto"`` takes without ``dirfast._C`` (arithmetic bin ids + ``index_select``);
* ``dirfast_reference`` — the same through ``backend="reference"`` (``torch.searchsorted``) or
  ``shot_metrics_ref`` (masks);
* ``dirfast_official`` — ``variant="official"`` (metrics: per-label-value shot membership);
* ``numpy`` — a vectorised NumPy version a user would write (``np.bincount`` of ``int`` bins,
  ``scipy.ndimage.convolve1d``; a table gather ``w[np.minimum(120, y.astype(int))]``);
* ``official_loop_1e5`` — the official per-sample Python code (``Counter``/dict loops,
  ``_prepare_weights``) on a **100,000-label subset** (10,000 with ``--quick``): its time is for
  1/10 of the data (it scales linearly);
* ``official_numpy`` (metrics) — the official ``shot_metrics`` (``for l in np.unique(labels)`` with
  boolean masks over all samples, O(U·N)) on the full data.

Targets (N = 1M, min-of-N): fit ≤ 25 ms; mapping (``dirfast_cpu``, or ``dirfast_cpu_torch`` without
the extension) ≤ 3× the memory floor; shot metrics ≤ 50 ms.
"""

from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np
import torch
from scipy.ndimage import convolve1d

from dirfast import LDS, Bins, _ext, shot_metrics
from dirfast.reference import shot_metrics_ref

from . import runner
from .runner import Case, Provider

OP = "lds"
N_FULL = 1_000_000
N_QUICK = 65_536
K = 121
TARGETS = {"fit": ("abs", 25.0), "map": ("floor", 3.0), "metrics": ("abs", 50.0)}


def _setup(n: int, kind: str, labels: str, seed: int = 0):
    def setup():
        g = torch.Generator().manual_seed(seed)
        y = torch.rand(n, generator=g) * 101
        if labels == "int":
            y = y.to(torch.int64)
        elif kind == "metrics":
            y = y.floor()
        bins = Bins.official_age(K)
        x = {"y": y, "bins": bins, "y_np": y.numpy(), "n": n,
             "sub": y[: min(n, 100_000 if n >= 100_000 else 10_000)].tolist(),
             "kbuf": torch.empty(K), "ksrc": torch.ones(K)}
        lds = LDS(bins).fit(y)
        x["lds"] = lds
        x["table_np"] = lds.bin_weights.to(torch.float32).numpy()
        x["wbuf"] = torch.empty(n)
        x["wsrc"] = torch.ones(n)
        if kind == "metrics":
            x["train"] = (torch.rand(n, generator=g) ** 2 * 101).floor()  # skewed: many/medium/few
            x["preds"] = y.float() + torch.randn(n, generator=g) * 5
            x["train_np"], x["preds_np"] = x["train"].numpy(), x["preds"].numpy()
        return x

    return setup


def build_cases(quick: bool) -> List[Case]:
    n = N_QUICK if quick else N_FULL
    cases = []
    for kind in ("fit", "map", "metrics"):
        for labels in ("float", "int"):
            if kind == "metrics" and labels == "int":
                continue
            es = 4 if labels == "float" else 8
            reads = es * n * (3 if kind == "metrics" else 1)
            writes = 4 * n if kind == "map" else 8 * K
            cases.append(Case(
                name=f"{kind}_{labels}",
                params={"n": n, "dtype": "float32" if labels == "float" else "int64",
                        "shapes": f"labels [{n}]" + (f", preds [{n}], train [{n}]" if kind == "metrics" else ""),
                        "bins": "official_age(121)", "lds": "sqrt_inv gaussian ks=5 sigma=2",
                        "working_set_mb": round((reads + writes) / 2**20, 1)},
                setup=_setup(n, kind, labels), bytes_per_call=reads + writes))
    return cases


# ------------------------------------------------------------------------------------------------
# providers


def _kind(case: Case) -> str:
    return case.name.split("_")[0]


def _official_prepare_weights(labels, reweight="sqrt_inv", lds=True):
    """The official per-sample recipe (spec §1.3), Python loops."""
    value_dict = {x: 0 for x in range(K)}
    for label in labels:
        value_dict[min(K - 1, int(label))] += 1
    value_dict = {k: np.sqrt(v) for k, v in value_dict.items()}
    num_per_label = [value_dict[min(K - 1, int(label))] for label in labels]
    if lds:
        win = np.array([0.85828524, 0.94582765, 1.0, 0.94582765, 0.85828524])
        smoothed = convolve1d(np.asarray([v for _, v in value_dict.items()]), weights=win, mode="constant")
        num_per_label = [smoothed[min(K - 1, int(label))] for label in labels]
    weights = [np.float32(1 / x) for x in num_per_label]
    scaling = len(weights) / np.sum(weights)
    return [scaling * x for x in weights]


def _numpy_fit(x):
    c = np.bincount(np.minimum(K - 1, x["y_np"].astype(np.int64)), minlength=K).astype(np.float64)
    v = convolve1d(np.sqrt(c), np.array([0.85828524, 0.94582765, 1.0, 0.94582765, 0.85828524]), mode="constant")
    with np.errstate(divide="ignore"):
        u = 1.0 / v
    return u * c.sum() / (c * np.where(c > 0, u, 0)).sum()


def _official_shot_metrics(x):
    """The official AgeDB ``shot_metrics`` (per unique label, boolean masks over all samples)."""
    preds, labels, train = x["preds_np"], x["y_np"], x["train_np"]
    train_labels = train.astype(int)
    many, med, few = [], [], []
    out = {}
    mse_c, l1_c, ln_c, tr_c, te_c = [], [], [], [], []
    for l in np.unique(labels):
        m = labels == l
        tr_c.append(len(train_labels[train_labels == l]))
        te_c.append(int(m.sum()))
        e = preds[m] - labels[m]
        mse_c.append(np.sum(e ** 2))
        l1_c.append(np.sum(np.abs(e)))
        ln_c.append(np.log(np.abs(e)))
    for i in range(len(tr_c)):
        (many if tr_c[i] > 100 else few if tr_c[i] < 20 else med).append(i)
    for name, idx in (("many", many), ("median", med), ("low", few)):
        n = sum(te_c[i] for i in idx)
        out[name] = (sum(mse_c[i] for i in idx) / max(n, 1), sum(l1_c[i] for i in idx) / max(n, 1),
                     np.exp(np.concatenate([ln_c[i] for i in idx]).mean()) if idx else np.nan)
    return out


def build_providers() -> List[Provider]:
    def floor_fn(x):
        with torch.no_grad():
            for k in ("y", "preds", "train"):
                if k in x:
                    torch.sum(x[k])
            if "wout" in x:
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

    def official_fn(x):
        if x["kind"] == "metrics":
            return _official_shot_metrics(x)
        if x["kind"] == "fit":
            return _official_prepare_weights(x["sub"])
        tbl = {k: float(v) for k, v in enumerate(x["table_np"])}
        return [tbl[min(K - 1, int(l))] for l in x["sub"]]

    return [
        Provider("floor", floor_fn, kind="floor",
                 description="memory floor: sum(inputs) + copy_ of an output-sized tensor ([N] weights for "
                             "map, [K] otherwise) into a preallocated buffer"),
        Provider("dirfast", dirfast_fn(), description="dirfast LDS.fit / shot_metrics",
                 skip=lambda c: "see dirfast_cpu / dirfast_cpu_torch" if _kind(c) == "map" else None),
        Provider("dirfast_cpu", cpu_fn, available=_ext.available, skip=map_only,
                 description="LDS(labels, backend='cpu'): fused one-pass C++ kernel (dirfast._C.bins_map)"),
        Provider("dirfast_cpu_torch", cpu_torch_fn, skip=map_only,
                 description="LDS(labels) with dirfast._C hidden: vectorised PyTorch (ids + index_select)"),
        Provider("dirfast_official", dirfast_fn("official"),
                 skip=lambda c: "same path as dirfast_cpu" if _kind(c) == "map" else None,
                 description="variant='official'"),
        Provider("dirfast_reference", ref_fn,
                 description="backend='reference' (torch.searchsorted binning) / shot_metrics_ref"),
        Provider("numpy", numpy_fn, skip=lambda c: "n/a" if _kind(c) == "metrics" else None,
                 description="vectorised NumPy/SciPy a user would write"),
        Provider("official_loop_1e5", official_fn,
                 skip=lambda c: "see official_numpy" if _kind(c) == "metrics" else None,
                 description="official per-sample Python recipe on a 100k-label SUBSET (10k with --quick)"),
        Provider("official_numpy", official_fn,
                 skip=lambda c: None if _kind(c) == "metrics" else "metrics only",
                 description="official shot_metrics (per unique label masks, O(U*N)), full data"),
    ]


def _with_kind(cases: Sequence[Case]) -> List[Case]:
    out = []
    for c in cases:
        def setup(c=c, base=c.setup):
            x = base()
            x["kind"] = _kind(c)
            if x["kind"] == "map":
                x["wout"] = True
            return x
        out.append(Case(c.name, c.params, setup, c.bytes_per_call))
    return out


def report(results, file=None) -> None:
    print(file=file)
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
    results = runner.run(OP, _with_kind(build_cases(args.quick)), build_providers(), args)
    report(results)
    return results


if __name__ == "__main__":
    main()
