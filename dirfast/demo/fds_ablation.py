r"""FDS recipe ablation: which of the official FDS choices matter, on real data and where the answer is known.

``python -m dirfast.demo fds-ablation [--seeds 5] [--epochs 100] [--out DIR] [--recipes a,b]``
(``make fds-ablation``). Two parts:

**Abalone-DIR** (the demo of :mod:`dirfast.demo.abalone`: MLP, L1, FDS on the 64-d feature layer, 5
seeds, best-validation epoch; every recipe starts from the same weights and sees the same batches for
a given seed, so recipes are compared **paired by seed**). The recipes vary one FDS knob at a time
around the official code and around dirfast's default (``dirfast.nn.FDS`` arguments):

* *staleness* — in epoch ``e`` whiten with ``running@(e − whiten_lag)`` and recolour with
  ``S(running@(e − recolour_lag))`` (``running@k``: the running statistics after epoch ``k``). The
  official code is ``(1, 2)`` (its alias bug), a clean port of its call order ``(2, 2)``, the freshest
  consistent pair ``(1, 1)``;
* *statistics source* — ``stats_from="calibrated"`` (official: the statistics pass sees the calibrated
  features) or ``"input"`` (the encoder's raw output);
* *empty bins* — ``"keep"`` (mean 0 / var 1 leak into neighbours, official) or ``"interpolate"``;
* *momentum* — 0.9 (official), 0.5, ``None`` (cumulative average);
* *statistics pass* — the official extra pass over the training set after each epoch vs statistics
  accumulated in the training forwards (``accumulate_in_forward=True``).

Reported: MAE overall and per shot (mean ± std over seeds), and the paired difference to the official
recipe (``variant="official"`` with the extra pass) — mean over seeds of ``recipe − official`` ± its
standard error ``std/√n``.

**Synthetic drift** (known answer): ``K = 30`` unit bins with long-tailed counts (bin ``k`` has
``⌊300·0.8^k⌋`` samples per epoch, a few empty), ``D = 8``; in epoch ``t`` the features of bin ``k``
are ``N(μ_k(t), σ²_k(t))`` per dimension with means that drift linearly with ``t`` and variances that
grow. No model: the features do not react to the calibration, so the ideal calibration of epoch ``t``
maps bin ``k`` onto the smoothed true statistics ``S(μ(t))_k``, ``S(σ²(t))_k`` (the FDS target). FDS
runs its epoch protocol on the stream; after each epoch a fresh large sample of the *next* epoch's
distribution (1,000 rows per bin, every bin) is calibrated with the module's current ``(scale, shift)``
and its per-bin mean and variance are compared with the targets: error of the mean in units of the
true std, ``|log(var / target var)|``, averaged over dims, over bins (all bins, and the few-shot bins
``k ≥ 15``), and over epochs ``2..T−1``.

Outputs (``out``): ``fds_ablation.md`` / ``.csv`` (both tables), ``fds_ablation_per_seed.csv``,
``fds_ablation_run.json`` (timing, machine).
"""

from __future__ import annotations

import csv
import json
import math
import os
import platform
import time
from typing import Dict, List, Optional, Sequence

import torch

import dirfast
from dirfast import Bins

from .abalone import METHODS, Config, run_jobs

__all__ = ["RECIPES", "QUICK_RECIPES", "OFFICIAL", "recipe_spec", "synthetic_drift", "run"]

OFFICIAL = "official_pass"

_OFF = dict(variant="official", empty_bins="keep")


def _dflt(wl: int, rl: int, src: str, empty: str, **kw) -> dict:
    return dict(variant="default", whiten_lag=wl, recolour_lag=rl, stats_from=src, empty_bins=empty, **kw)


#: name → (label, FDS kwargs or None for no FDS, extra statistics pass)
RECIPES: Dict[str, tuple] = {
    "none": ("no FDS (vanilla L1)", None, False),
    "official_pass": ("official variant + extra pass (official protocol)", _OFF, True),
    "official_fwd": ("official variant + in-forward statistics", _OFF, False),
    # staleness x statistics source x empty bins, default variant, in-forward statistics, momentum 0.9
    "w2r2_in_interp": ("W2 R2, input stats, interpolate (dirfast default before)", _dflt(2, 2, "input", "interpolate"), False),
    "w2r2_in_keep": ("W2 R2, input stats, keep", _dflt(2, 2, "input", "keep"), False),
    "w1r2_in_keep": ("W1 R2, input stats, keep", _dflt(1, 2, "input", "keep"), False),
    "w1r1_in_keep": ("W1 R1, input stats, keep", _dflt(1, 1, "input", "keep"), False),
    "w1r2_in_interp": ("W1 R2, input stats, interpolate", _dflt(1, 2, "input", "interpolate"), False),
    "w1r1_in_interp": ("W1 R1, input stats, interpolate", _dflt(1, 1, "input", "interpolate"), False),
    "w2r2_cal_keep": ("W2 R2, calibrated stats, keep", _dflt(2, 2, "calibrated", "keep"), False),
    "w1r2_cal_keep": ("W1 R2, calibrated stats, keep (≈ official)", _dflt(1, 2, "calibrated", "keep"), False),
    "w1r1_cal_keep": ("W1 R1, calibrated stats, keep", _dflt(1, 1, "calibrated", "keep"), False),
    "w2r2_cal_interp": ("W2 R2, calibrated stats, interpolate", _dflt(2, 2, "calibrated", "interpolate"), False),
    "w1r2_cal_interp": ("W1 R2, calibrated stats, interpolate", _dflt(1, 2, "calibrated", "interpolate"), False),
    "w1r1_cal_interp": ("W1 R1, calibrated stats, interpolate", _dflt(1, 1, "calibrated", "interpolate"), False),
    # the default of dirfast.nn.FDS (the winner below, chosen by this ablation), momentum and the
    # statistics pass around it and around the fresh-whitening recipes
    "default": ("dirfast default: FDS() = W1 R2, calibrated stats, keep", dict(variant="default"), False),
    "w1r2_cal_interp_m05": ("W1 R2, calibrated, interpolate, momentum 0.5", _dflt(1, 2, "calibrated", "interpolate", momentum=0.5), False),
    "w1r2_cal_interp_pass": ("W1 R2, calibrated, interpolate, extra pass", _dflt(1, 2, "calibrated", "interpolate"), True),
    "w1r1_in_interp_m05": ("W1 R1, input, interpolate, momentum 0.5", _dflt(1, 1, "input", "interpolate", momentum=0.5), False),
    "w1r1_in_interp_mcum": ("W1 R1, input, interpolate, cumulative average", _dflt(1, 1, "input", "interpolate", momentum=None), False),
    "w1r1_in_interp_pass": ("W1 R1, input, interpolate, extra pass", _dflt(1, 1, "input", "interpolate"), True),
    "w1r2_in_interp_m05": ("W1 R2, input, interpolate, momentum 0.5", _dflt(1, 2, "input", "interpolate", momentum=0.5), False),
}
QUICK_RECIPES = ("none", "official_pass", "w2r2_in_interp", "default")


def recipe_spec(name: str) -> dict:
    """The :func:`dirfast.demo.abalone.train_one` spec of recipe ``name`` (L1, no LDS)."""
    label, kw, fds_pass = RECIPES[name]
    spec = dict(METHODS["vanilla"] if kw is None else METHODS["fds"])
    spec["label"] = label
    if kw is not None:
        spec["fds_kwargs"] = dict(kw)
        spec["fds_pass"] = fds_pass
    return spec


# ------------------------------------------------------------------------------------------------
# synthetic drift


def synthetic_drift(fds_kwargs: dict, seed: int = 0, *, epochs: int = 20, K: int = 30, D: int = 8,
                    batch: int = 128, drift: float = 0.15, var_growth: float = 0.05,
                    eval_rows: int = 1000, n0: int = 300,
                    empty: Sequence[int] = (12, 21, 26)) -> Dict[str, float]:
    """Run ``dirfast.nn.FDS(D, Bins(0, 1, K), **fds_kwargs)`` (in-forward statistics) on the drifting
    stream described in the module docstring; return the mean calibration errors
    ``{"mean_err", "var_err", "mean_err_few", "var_err_few"}`` over epochs ``2..epochs−1``. ``n0``:
    samples of bin 0 per epoch (bin ``k`` has ``⌊n0·0.8^k⌋``); the bins ``empty`` never have any."""
    g = torch.Generator().manual_seed(1000 + seed)
    f64 = torch.float64
    k = torch.arange(K, dtype=f64)
    counts = torch.floor(n0 * 0.8 ** k).long()
    counts[list(empty)] = 0                                    # empty bins inside the tail
    base = (torch.sin(k / 4) * 2 + k / 10).unsqueeze(1) + 0.5 * torch.randn(K, D, generator=g, dtype=f64)
    direction = torch.randn(K, D, generator=g, dtype=f64).sign()
    sd0 = (1 + 0.5 * torch.sin(k / 3)).unsqueeze(1) * (0.7 + 0.6 * torch.rand(K, D, generator=g, dtype=f64))

    def mu(t):
        return base + drift * t * direction

    def sd(t):
        return sd0 * (1 + var_growth * t)

    bins = Bins(0, 1, K)
    kw = dict(kernel="gaussian", ks=5, sigma=2.0, momentum=0.9)
    kw.update(fds_kwargs)
    kw["accumulate_in_forward"] = True
    fds = dirfast.nn.FDS(D, bins, **kw).train()
    window = fds.window().to(f64)
    labels = torch.repeat_interleave(k, counts)
    few = k >= 15
    errs = []
    for t in range(epochs):
        n = labels.numel()
        perm = torch.randperm(n, generator=g)
        y = labels[perm]
        ids = y.long()
        z = mu(t)[ids] + sd(t)[ids] * torch.randn(n, D, generator=g, dtype=f64)
        with torch.no_grad():
            for i in range(0, n, batch):
                fds(z[i:i + batch].float(), y[i:i + batch].float())
        fds.end_epoch(t)
        if t < 1 or t == epochs - 1:
            continue
        # the calibration epoch t + 1 will use, applied to epoch t + 1's distribution
        ye = torch.arange(K).repeat_interleave(eval_rows)
        ze = mu(t + 1)[ye] + sd(t + 1)[ye] * torch.randn(ye.numel(), D, generator=g, dtype=f64)
        zc = ze * fds.scale.to(f64)[ye] + fds.shift.to(f64)[ye]
        zc = zc.reshape(K, eval_rows, D)
        tm, tv = dirfast.smooth_stats(mu(t + 1), sd(t + 1) ** 2, window)
        em, ev = zc.mean(1), zc.var(1)
        me = ((em - tm).abs() / tv.sqrt()).mean(1)
        ve = (ev / tv).log().abs().mean(1)
        errs.append((me.mean(), ve.mean(), me[few].mean(), ve[few].mean()))
    e = torch.tensor(errs).mean(0).tolist()
    return dict(zip(("mean_err", "var_err", "mean_err_few", "var_err_few"), e))


# ------------------------------------------------------------------------------------------------
# the ablation


def _mean_std(xs: Sequence[float]):
    n = len(xs)
    m = sum(xs) / n
    s = math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1)) if n > 1 else 0.0
    return m, s


def run(cfg: Config, out: str, recipes: Sequence[str], *, progress: bool = True,
        synthetic_seeds: int = 3) -> dict:
    """Train every recipe × seed on Abalone-DIR (``cfg``: the demo's conditions), run the synthetic
    setting for every FDS recipe, write the tables to ``out``. Returns ``{"markdown", "rows",
    "synthetic", "seconds"}``."""
    for r in recipes:
        if r not in RECIPES:
            raise ValueError(f"unknown recipe {r!r}; choose from {', '.join(RECIPES)}")
    recipes = list(recipes)
    if OFFICIAL not in recipes:
        recipes.insert(0, OFFICIAL)
    t0 = time.perf_counter()
    jobs = [(r, s, recipe_spec(r)) for r in recipes for s in range(cfg.seeds)]
    results, seconds, _ = run_jobs(jobs, cfg, progress=progress)
    res = {(r["method"], r["seed"]): r["metrics"] for r in results}
    groups = ("all", "many", "medium", "few")
    rows: List[dict] = []
    for name in recipes:
        row = {"recipe": name, "label": RECIPES[name][0]}
        for gname in groups:
            vals = [res[(name, s)].mae[gname] for s in range(cfg.seeds)]
            ref = [res[(OFFICIAL, s)].mae[gname] for s in range(cfg.seeds)]
            row[f"mae_{gname}_mean"], row[f"mae_{gname}_std"] = _mean_std(vals)
            d = [a - b for a, b in zip(vals, ref)]
            dm, ds = _mean_std(d)
            row[f"dpaired_{gname}_mean"], row[f"dpaired_{gname}_se"] = dm, ds / math.sqrt(len(d))
        rows.append(row)
    syn: Dict[str, dict] = {}
    t1 = time.perf_counter()
    for name in recipes:
        kw = RECIPES[name][1]
        if kw is None:
            continue
        per = [synthetic_drift(kw, s) for s in range(synthetic_seeds)]
        syn[name] = {k: sum(p[k] for p in per) / len(per) for k in per[0]}
    seconds_syn = time.perf_counter() - t1

    os.makedirs(out, exist_ok=True)
    md = [f"FDS recipe ablation on Abalone-DIR: MLP + L1 + FDS on the 64-d feature layer, {cfg.seeds} seeds "
          f"(0..{cfg.seeds - 1}), {cfg.epochs} epochs, best-validation epoch, test MAE in rings. "
          "Δ = paired difference to the official recipe (official variant + extra statistics pass), "
          "mean over seeds ± standard error; negative is better. W/R = whitening/recolouring lag "
          "(epochs), momentum 0.9 and in-forward statistics unless stated.", "",
          "| Recipe | MAE all | MAE many | MAE med. | MAE few | Δ all | Δ few |", "|---|---|---|---|---|---|---|"]
    for row in rows:
        cells = [f"{row[f'mae_{g}_mean']:.3f} ± {row[f'mae_{g}_std']:.3f}" for g in groups]
        cells += [f"{row[f'dpaired_{g}_mean']:+.3f} ± {row[f'dpaired_{g}_se']:.3f}" for g in ("all", "few")]
        md.append(f"| {row['label']} | " + " | ".join(cells) + " |")
    md += ["", f"Synthetic drift (known answer, {synthetic_seeds} seeds): error of the calibrated features' "
           "per-bin mean (in true std) and variance (|log ratio|) against the smoothed true statistics of "
           "the epoch they are used in; all 30 bins / few-shot bins (k ≥ 15). Lower is better.", "",
           "| Recipe | mean err | var err | mean err few | var err few |", "|---|---|---|---|---|"]
    for name, e in syn.items():
        md.append(f"| {RECIPES[name][0]} | {e['mean_err']:.3f} | {e['var_err']:.3f} | "
                  f"{e['mean_err_few']:.3f} | {e['var_err_few']:.3f} |")
    text = "\n".join(md) + "\n"
    with open(os.path.join(out, "fds_ablation.md"), "w") as f:
        f.write(text)
    with open(os.path.join(out, "fds_ablation.csv"), "w", newline="") as f:
        cols = list(rows[0]) + ["syn_mean_err", "syn_var_err", "syn_mean_err_few", "syn_var_err_few"]
        wr = csv.writer(f, lineterminator="\n")
        wr.writerow(cols)
        for row in rows:
            e = syn.get(row["recipe"], {})
            vals = [row[c] for c in cols[:len(row)]] + [e.get(k[4:], float("nan")) for k in cols[len(row):]]
            wr.writerow([f"{v:.6f}" if isinstance(v, float) else v for v in vals])
    with open(os.path.join(out, "fds_ablation_per_seed.csv"), "w", newline="") as f:
        wr = csv.writer(f, lineterminator="\n")
        wr.writerow(["recipe", "seed", "best_epoch"] + [f"mae_{g}" for g in groups])
        for r in results:
            wr.writerow([r["method"], r["seed"], r["best_epoch"]] + [f"{r['metrics'].mae[g]:.6f}" for g in groups])
    info = {"seconds_abalone": round(seconds, 2), "seconds_synthetic": round(seconds_syn, 2),
            "seconds_total": round(time.perf_counter() - t0, 2), "workers": cfg.workers,
            "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
            "machine": platform.machine(), "python": platform.python_version(), "torch": torch.__version__,
            "seeds": cfg.seeds, "epochs": cfg.epochs, "recipes": recipes}
    with open(os.path.join(out, "fds_ablation_run.json"), "w") as f:
        json.dump(info, f, indent=1)
    return {"markdown": text, "rows": rows, "synthetic": syn, "seconds": seconds}
