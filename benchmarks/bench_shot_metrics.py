"""Benchmark: DIR shot metrics (MSE / MAE / GM overall and per many / medium / few shot), CPU or CUDA.

    python -m benchmarks.bench_shot_metrics [--device cpu|cuda] [--sizes default|quick|check] [--rounds R]

Inputs: ``labels [N]`` integer-valued float32 ages uniform in 0..100 (AgeDB-like), ``preds = labels +
N(0, 5²)`` float32, training labels = the AgeDB-DIR training ages (12,208; defines the shots: many
> 100, few < 20 training samples), bins ``Bins.official_age(121)``. One call = one evaluation
(Python floats back on the host). Providers, interleaved in one process:

* ``floor`` — memory floor: ``torch.sum`` of preds, labels and training labels + ``copy_`` of a ``[K]``
  tensor (the per-bin output) into a preallocated buffer (~ one read of the inputs);
* ``dirfast`` — ``dirfast.shot_metrics(preds, labels, train, bins, validate=False)`` (vectorised:
  bin ids, one ``bincount``/``index_put_`` per statistic, one host sync at the end);
* ``dirfast_official`` — the same with ``variant="official"`` (per-label-value shot membership);
* ``reference`` — :func:`dirfast.reference.shot_metrics_ref` (masks per group);
* ``naive_torch`` — a per-shot loop a user would write in PyTorch: training counts by ``bincount``,
  then for each shot a boolean mask, boolean indexing of the errors (a sync each) and MSE / MAE / GM;
* ``official`` — the official ``shot_metrics`` of the age code (``tests/_official_lds.py``:
  ``for l in np.unique(labels)`` with boolean masks over all samples, O(U·N), float32 NumPy sums,
  ``scipy.stats.gmean``) on the predictions and labels copied to host NumPy arrays (the copy is
  timed: the official ``validate`` gathers them on the host); timed in the first 3 rounds only.

Sizes (case ``preds_<N>``). CPU: ``default`` N = 262,144; ``quick``/``check`` 16,384. CUDA:
``default`` N = 2,140 (the AgeDB-DIR test set) and 1,000,000; ``check`` 1,000,000; ``quick`` 16,384.
"""

from __future__ import annotations

import math
from typing import List, Optional, Sequence

import torch

from dirfast import Bins, shot_metrics
from dirfast.reference import shot_metrics_ref

from . import _official as _official_mod
from . import runner
from .runner import Case, Provider

OP = "shot_metrics"
K = 121
OFFICIAL_ROUNDS = 3
SIZES = {
    ("cpu", "default"): [262_144], ("cpu", "quick"): [16_384], ("cpu", "check"): [16_384],
    ("cuda", "default"): [2_140, 1_000_000], ("cuda", "quick"): [16_384], ("cuda", "check"): [1_000_000],
}
SHOTS = (("many", "many"), ("medium", "median"), ("few", "low"))  # dirfast name, official name


def _setup(n: int, seed: int = 0):
    def setup():
        g = torch.Generator().manual_seed(seed)
        labels = torch.randint(0, 101, (n,), generator=g).to(torch.float32)
        preds = labels + 5 * torch.randn(n, generator=g)
        train = runner.agedb_train().to(torch.float32)
        return {"preds": preds, "labels": labels, "train": train, "train_np": train.numpy(),
                "bins": Bins.official_age(K), "kbuf": torch.empty(K), "ksrc": torch.ones(K)}

    return setup


def build_cases(sizes="default", device: str = "cpu") -> List[Case]:
    sizes = runner.sizes_arg(sizes)
    cases = []
    for n in SIZES[(device, sizes)]:
        reads = 4 * (2 * n + 12_208)
        cases.append(Case(
            name=f"preds_{runner.size_name(n)}",
            params={"n": n, "dtype": "float32", "shapes": f"preds/labels [{n}], train [12208]",
                    "bins": "official_age(121)", "working_set_mb": round(reads / 2**20, 2)},
            setup=_setup(n), bytes_per_call=reads + 8 * K))
    return cases


def _dirfast(variant: str):
    def fn(x):
        return shot_metrics(x["preds"], x["labels"], x["train"], x["bins"], variant=variant, validate=False)

    return fn


def _naive(x):
    """Per-shot loop with boolean masks (PyTorch, on the inputs' device)."""
    tc = torch.bincount(x["train"].long().clamp(0, K - 1), minlength=K)
    n_i = tc[x["labels"].long().clamp(0, K - 1)]
    a = (x["preds"].double() - x["labels"].double()).abs()
    out = {}
    for name, mask in (("all", None), ("many", n_i > 100), ("medium", (n_i >= 20) & (n_i <= 100)),
                       ("few", n_i < 20)):
        ae = a if mask is None else a[mask]
        out[name] = (float((ae * ae).mean()), float(ae.mean()),
                     float(torch.exp(torch.log(ae.clamp_min(1e-10)).mean())))
    return out


def _official(x):
    off = _official_mod.load("lds")
    preds = x["preds"].detach().cpu().numpy()
    labels = x["labels"].cpu().numpy()
    return off.official_shot_metrics(preds, labels, x["train_np"])


def build_providers() -> List[Provider]:
    return [
        runner.memory_floor(("preds", "labels", "train"), "ksrc", "kbuf"),
        Provider("dirfast", _dirfast("default"), description="dirfast.shot_metrics (vectorised)"),
        Provider("dirfast_official", _dirfast("official"), description="dirfast.shot_metrics(variant='official')"),
        Provider("reference", lambda x: shot_metrics_ref(x["preds"], x["labels"], x["train"], x["bins"]),
                 description="dirfast.reference.shot_metrics_ref (masks per group)"),
        Provider("naive_torch", _naive, description="per-shot loop: bincount, boolean mask + indexing per shot"),
        Provider("official", _official, available=lambda: _official_mod.available("lds"), max_rounds=OFFICIAL_ROUNDS,
                 description="official shot_metrics (tests/_official_lds.py): per unique label masks, O(U*N), "
                             "on host NumPy copies"),
    ]


def check_agreement(device: str = "cpu", n: int = 16_384) -> List[str]:
    """Untimed: dirfast (official variant, float64 sums) vs the official NumPy code (float32 sums)."""
    x = runner.to_device(_setup(n, seed=1)(), device)
    m = _dirfast("official")(x)
    off = _official(x)
    worst = 0.0
    for ours, theirs in SHOTS:
        for a, b in ((m.mse[ours], off[theirs]["mse"]), (m.mae[ours], off[theirs]["l1"]),
                     (m.gm[ours], off[theirs]["gmean"])):
            worst = max(worst, abs(a - b) / max(abs(b), 1e-30) if math.isfinite(b) else 0.0)
    return [f"check (n={n}, {device}): dirfast_official vs official per-shot MSE/MAE/GM: rel {worst:.1e} "
            f"(official sums in float32) -> {'ok' if worst < 1e-4 else 'MISMATCH'}"]


def main(argv: Optional[Sequence[str]] = None):
    args = runner.parse_args(OP, argv, description=__doc__.splitlines()[0])
    checks = check_agreement(args.device) if _official_mod.available("lds") else []
    return runner.run_checked(OP, args, build_cases(args.sizes, args.device), build_providers(), before=checks)


if __name__ == "__main__":
    main()
