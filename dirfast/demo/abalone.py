r"""Abalone-DIR: a real-data benchmark of every dirfast method.

**Data** (:func:`dirfast.data.abalone_dir`): UCI Abalone (CC BY 4.0), 10 features (sex one-hot + 7
measurements) standardised with the training statistics, target ``rings`` (1..29). DIR split: per ring
value ``min(count // 3, 30)`` samples to validation and as many to test (balanced), the rest to train,
split seed 666 → 3,305 / 436 / 436 rows. Bins: one per ring, ``Bins(1, 1, 29)`` (rings 1..29), shared by
LDS, FDS and the metrics. Shots from the training counts with the DIR thresholds: many ``> 100``,
few ``< 20`` (zero-shot included), medium otherwise.

**Model**: ``x [B, 10] → Linear(10, 64) → ReLU → Linear(64, 64) → ReLU → z [B, 64]`` (the feature
layer: FDS calibrates it, ConR contrasts it) ``→ Linear(64, 1) → ŷ [B]``. Adam (lr 1e-3), batch 128,
L1 regression loss, CPU, ``torch.use_deterministic_algorithms(True)``. **Two cores, used as two
worker processes of one torch thread each** (``workers=2``; each (method, seed) run is single-threaded):
at this size (batch 128 × 64 features) intra-op threading gains nothing (measured: 1 and 2 torch threads
give the same epoch time on an idle machine), and on a shared machine its fork/join barriers are
fragile — with two other busy processes on the 2 cores, one MLP step with 2 torch threads went from
0.3 ms to 78 ms, with 1 thread to 2× at most. Seed ``s`` fixes
the initialisation (``torch.manual_seed(s)``: every method starts from the same weights) and the
batch order (its own generator: every method sees the same batches); augmentations draw from a third
generator. Model selection: the epoch with the lowest validation MAE; its weights are evaluated on test.

**Methods** (:data:`METHODS`):

* ``vanilla`` — L1.
* ``sqinv`` — L1 weighted by ``1/sqrt(count)`` of the sample's ring (mean weight 1 over train):
  ``dirfast.LDS(bins, reweight="sqrt_inv", lds=False)``.
* ``lds`` — SQINV + LDS: ``1/conv(sqrt(count), gaussian ks=5 σ=2)`` (paper/README defaults).
* ``fds`` — L1 + ``dirfast.nn.FDS(64, bins)`` on ``z`` (gaussian ks=5 σ=2, momentum 0.9, clip
  [0.1, 10], ``accumulate_in_forward=True`` instead of the official extra statistics pass, and the
  module's default recipe: whitening with the last epoch's running statistics, recolouring with the
  smoothed statistics of the epoch before, statistics of the calibrated features, empty bins kept
  (ring 28 has no sample and rings ≥ 22 have 1–3); see :mod:`dirfast.demo.fds_ablation` for how this
  recipe was chosen).
* ``lds_fds`` — SQINV + LDS + FDS.
* ``conr`` — L1 + β·ConR (β = 4, w = 1 ring, τ = 0.07, e = 0.01, ``variant="paper"``: the official age
  defaults) on the features of two augmented views; the regression loss is on the plain batch (as in
  the official training loop; the views bypass FDS, like the official ``reg=False``). Tabular
  augmentation of the standardised features: ``v = (x + 0.1·ε) ⊙ m``, ``ε ~ N(0, 1)``,
  ``m ~ Bernoulli(0.9)`` per entry (Gaussian noise of 0.1 train std + feature dropout to the train
  mean, p = 0.1), drawn independently for each view.
* ``dist`` — Dist Loss: ``dirfast.nn.DistLoss`` (KDE bw 0.5 on the grid 1..29 step 1, quantile
  pseudo-labels per batch size, L1, λ = 1, eps = 0.1), trained end to end from scratch (the paper's
  best setting retrains only the last layer of a pre-trained model; not done here).
* ``lds_fds_conr`` — SQINV + LDS + FDS + ConR (ConR anchor weights = the LDS weights).
* ``mse`` — plain (unweighted) MSE instead of L1: the control for the Balanced-MSE rows, which are
  MSE-scale losses (it separates the change of loss from the balancing).
* ``bmc`` — Balanced MSE, BMC (batch-based Monte Carlo): ``dirfast.nn.BalancedMSELoss("bmc")``
  **replaces** the L1 regression loss (official usage: the model is trained with the Balanced MSE
  alone, no sample weights). Learnable noise ``σ`` with the official defaults: ``init_noise_sigma``
  1.0 (in rings: the official CLI default, label units) in its own Adam param group with lr 1e-2
  (official ``--sigma_lr``; there is no LR schedule here). Not tuned on this data set (the IMDB-WIKI
  README recipe σ₀ = 10 with last-layer retraining is for ages in years; not used).
* ``bni`` — Balanced MSE, BNI (bin-based numerical integration): as ``bmc`` with
  ``BalancedMSELoss("bni")`` and the bucket prior ``dirfast.bni_prior(y_train, Bins(1, 1, 29),
  centers="left")``: the training counts per ring, integer centres (the official unit-bin buckets),
  empty rings dropped (ring 28), not LDS-smoothed (the official default).
* ``bmc_fix``, ``bni_fix`` — ``bmc`` / ``bni`` with ``σ`` fixed at 1.0 (``learnable=False``: the
  official ``--fix_noise_sigma``, the official NYUD2-DIR recipe σ₀ = 1.0 fixed, and the author's advice
  for new tasks, BalancedMSE issue #10). Added after a seed-0 diagnostic run of ``bmc`` showed the
  learned σ drifting from 1 to ≈ 2.5 rings; 1.0 is the official value, not swept.
* ``ranksim`` — L1 + γ·RankSim on ``z`` (the 64-d feature layer, from the plain forward; the model
  has no FDS): ``dirfast.ranksim_loss(z, y, variant="official", interpolation_lambda=2,
  max_unique=29)``, γ = 100 (the official age recipe: blackbox ranks, λ = 2, rows summed, diagonal
  included; ``max_unique=29`` is exact here: at most 29 distinct ring values per batch),
  unique-label subset with the lowest-row-index representative (deterministic; the batches are
  shuffled, so this is a random representative per label as the official ``random.choice``).

**Outputs** (in ``out``): ``abalone_results.md`` / ``.csv`` (MAE and GM, overall and per shot, mean ±
std over seeds), ``abalone_per_seed.csv``, ``abalone_per_bin.csv`` (test MAE per ring and method),
``abalone_split.md`` (split and shot bins), ``abalone_labels.png`` (label histogram + LDS effective
density), ``abalone_bin_mae.png`` (per-ring test MAE per method), ``abalone_run.json`` (timing and
machine — the only file that changes between identical runs — and the learned Balanced-MSE σ of each
``bmc`` / ``bni`` run after its last epoch).
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence

import torch
from torch import nn

import dirfast
from dirfast import Bins
from dirfast.data import ABALONE_SPLIT_SEED, abalone_dir

__all__ = ["METHODS", "DEFAULT_METHODS", "QUICK_METHODS", "Config", "MLP", "augment", "train_one",
           "run", "SHOT_GROUPS"]

#: method name → (display label, reweight, lds, fds, conr, dist[, loss, bmse, bmse_learnable, ranksim])
#: (optional keys: ``loss`` ``"l1"`` (default) / ``"mse"``; ``bmse`` ``"bmc"`` / ``"bni"``: Balanced MSE
#: replaces the regression loss, ``bmse_learnable`` (default True) whether σ is learned; ``ranksim``:
#: add γ·RankSim on ``z``)
METHODS: Dict[str, dict] = {
    "vanilla": dict(label="Vanilla (L1)", reweight="none", lds=False, fds=False, conr=False, dist=False),
    "sqinv": dict(label="SQINV", reweight="sqrt_inv", lds=False, fds=False, conr=False, dist=False),
    "lds": dict(label="SQINV + LDS", reweight="sqrt_inv", lds=True, fds=False, conr=False, dist=False),
    "fds": dict(label="FDS", reweight="none", lds=False, fds=True, conr=False, dist=False),
    "lds_fds": dict(label="SQINV + LDS + FDS", reweight="sqrt_inv", lds=True, fds=True, conr=False,
                    dist=False),
    "conr": dict(label="ConR", reweight="none", lds=False, fds=False, conr=True, dist=False),
    "dist": dict(label="Dist Loss", reweight="none", lds=False, fds=False, conr=False, dist=True),
    "lds_fds_conr": dict(label="SQINV + LDS + FDS + ConR", reweight="sqrt_inv", lds=True, fds=True,
                         conr=True, dist=False),
    "mse": dict(label="MSE", reweight="none", lds=False, fds=False, conr=False, dist=False, loss="mse"),
    "bmc": dict(label="BMC (Balanced MSE)", reweight="none", lds=False, fds=False, conr=False, dist=False,
                bmse="bmc"),
    "bni": dict(label="BNI (Balanced MSE)", reweight="none", lds=False, fds=False, conr=False, dist=False,
                bmse="bni"),
    "bmc_fix": dict(label="BMC, σ fixed 1", reweight="none", lds=False, fds=False, conr=False, dist=False,
                    bmse="bmc", bmse_learnable=False),
    "bni_fix": dict(label="BNI, σ fixed 1", reweight="none", lds=False, fds=False, conr=False, dist=False,
                    bmse="bni", bmse_learnable=False),
    "ranksim": dict(label="RankSim", reweight="none", lds=False, fds=False, conr=False, dist=False,
                    ranksim=True),
}
DEFAULT_METHODS = tuple(METHODS)
#: the demo's FDS options on top of ``dirfast.nn.FDS``'s defaults (none: the defaults are the
#: recommended recipe, see ``python -m dirfast.demo fds-ablation``)
FDS_RECIPE: Dict[str, object] = {}
#: ``--quick``: methods that between them exercise every op (L1, LDS, FDS, ConR, Dist Loss, BMC with
#: a learnable σ, BNI with a fixed σ, RankSim)
QUICK_METHODS = ("vanilla", "lds_fds_conr", "dist", "bmc", "bni_fix", "ranksim")
SHOT_GROUPS = ("all", "many", "medium", "few")
BINS = Bins(1, 1, 29)  # rings 1..29, one bin per ring


@dataclass
class Config:
    """Training conditions (defaults: the full run of ``make demo``)."""

    epochs: int = 100
    seeds: int = 5
    batch_size: int = 128
    lr: float = 1e-3
    hidden: int = 64
    init_bias: bool = True          # head bias starts at the training median
    many: int = 100                 # many-shot: n_train > many
    few: int = 20                   # few-shot: n_train < few
    # LDS / FDS (paper / README defaults)
    kernel: str = "gaussian"
    ks: int = 5
    sigma: float = 2.0
    fds_momentum: float = 0.9
    # ConR (official age defaults) and the tabular augmentation of its two views
    conr_beta: float = 4.0
    conr_w: float = 1.0
    conr_temperature: float = 0.07
    conr_e: float = 0.01
    aug_noise: float = 0.1
    aug_drop: float = 0.1
    # Dist Loss
    dist_bw: float = 0.5
    dist_lam: float = 1.0
    dist_eps: float = 0.1
    # Balanced MSE (official defaults: learnable σ, init 1.0, its own param group with lr 1e-2)
    bmse_init_sigma: float = 1.0
    bmse_sigma_lr: float = 1e-2
    # RankSim (official age recipe: γ = 100, λ = 2, official variant: rows summed, diagonal included)
    ranksim_gamma: float = 100.0
    ranksim_lambda: float = 2.0
    workers: int = 2                # processes, one torch thread each (1: run in this process)
    split_seed: int = ABALONE_SPLIT_SEED
    methods: Sequence[str] = field(default_factory=lambda: DEFAULT_METHODS)


class MLP(nn.Module):
    """``x [B, d_in] → encoder → z [B, hidden] (post-ReLU) → (FDS in training) → head → ŷ [B]``."""

    def __init__(self, d_in: int = 10, hidden: int = 64, fds: Optional[nn.Module] = None):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, 1)
        self.fds = fds

    def forward(self, x: torch.Tensor, y: Optional[torch.Tensor] = None):
        """Returns ``(ŷ [B], z [B, hidden])``; ``z`` is the encoder output before FDS. FDS
        calibrates only in training mode and needs the labels ``y [B]``."""
        z = self.encoder(x)
        zs = self.fds(z, y) if (self.fds is not None and self.training and y is not None) else z
        return self.head(zs).squeeze(1), z


def augment(x: torch.Tensor, noise: float, drop: float, gen: torch.Generator) -> torch.Tensor:
    """One view of standardised tabular features ``x [B, D]``: ``(x + noise·ε) ⊙ m`` with
    ``ε ~ N(0, 1)`` and ``m ~ Bernoulli(1 − drop)`` per entry (a dropped feature is set to 0, the
    training mean). Draws from ``gen``; returns a new ``[B, D]`` tensor."""
    eps = torch.randn(x.shape, generator=gen, dtype=x.dtype)
    keep = (torch.rand(x.shape, generator=gen) >= drop).to(x.dtype)
    return (x + noise * eps) * keep


def _mae(pred: torch.Tensor, y: torch.Tensor) -> float:
    return float((pred.double() - y.double()).abs().mean())


def make_fds(spec: dict, cfg: Config) -> Optional[nn.Module]:
    """The ``dirfast.nn.FDS`` of a method spec (``None`` without FDS): the demo's FDS configuration
    (:data:`FDS_RECIPE` + ``cfg``'s kernel/momentum) updated with ``spec["fds_kwargs"]``;
    ``accumulate_in_forward`` unless ``spec["fds_pass"]`` (the official extra statistics pass)."""
    if not spec["fds"]:
        return None
    kw = dict(kernel=cfg.kernel, ks=cfg.ks, sigma=cfg.sigma, momentum=cfg.fds_momentum, **FDS_RECIPE)
    kw.update(spec.get("fds_kwargs", {}))
    kw["accumulate_in_forward"] = not spec.get("fds_pass", False)
    return dirfast.nn.FDS(cfg.hidden, BINS, **kw)


def train_one(method: str, seed: int, data: dict, cfg: Config, on_epoch=None,
              spec: Optional[dict] = None) -> dict:
    """Train ``method`` with ``seed``; select the epoch with the best validation MAE; evaluate test.

    ``spec``: the method's specification (default ``METHODS[method]``; the FDS ablation passes its
    recipes here). With ``spec["fds_pass"]`` the FDS statistics come from the official extra pass
    over the training set after each epoch (no gradient, model in training mode) instead of the
    training forwards.

    Returns ``{"method", "seed", "best_epoch", "val_mae", "metrics": ShotMetrics,
    "test_pred": [N_test]}`` (+ ``"noise_sigma"``, the learned Balanced-MSE σ after the last epoch,
    for ``bmc`` / ``bni``). ``on_epoch()`` is called after every epoch (progress bar).
    """
    spec = METHODS[method] if spec is None else spec
    (xtr, ytr), (xva, yva), (xte, yte) = data["train"], data["val"], data["test"]
    torch.manual_seed(seed)
    fds = make_fds(spec, cfg)
    model = MLP(xtr.shape[1], cfg.hidden, fds)
    if cfg.init_bias:
        with torch.no_grad():  # start every method at the median training label (the L1 optimum)
            model.head.bias.fill_(float(ytr.median()))
    bmse = None
    if spec.get("bmse"):
        kw = {}
        if spec["bmse"] == "bni":
            kw["bucket_centers"], kw["bucket_weights"] = dirfast.bni_prior(ytr, BINS, centers="left")
        learnable = spec.get("bmse_learnable", True)
        bmse = dirfast.nn.BalancedMSELoss(spec["bmse"], init_noise_sigma=cfg.bmse_init_sigma,
                                          learnable=learnable, **kw)
        groups = [{"params": model.parameters()}]
        if learnable:
            groups.append(bmse.param_group(lr=cfg.bmse_sigma_lr))
        opt = torch.optim.Adam(groups, lr=cfg.lr)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    ranksim = spec.get("ranksim", False)
    lds = None
    if spec["reweight"] != "none":
        lds = dirfast.LDS(BINS, reweight=spec["reweight"], lds=spec["lds"], kernel=cfg.kernel,
                          ks=cfg.ks, sigma=cfg.sigma).fit(ytr)
    dist = None
    if spec["dist"]:
        dist = dirfast.nn.DistLoss(ytr, bw=cfg.dist_bw, min_label=BINS.edges[0].item(),
                                   max_label=BINS.edges[-2].item(), step=1.0, loss="l1",
                                   lam=cfg.dist_lam, eps=cfg.dist_eps)
    g_batch = torch.Generator().manual_seed(10_000 + seed)
    g_aug = torch.Generator().manual_seed(20_000 + seed)
    n = xtr.shape[0]
    best = (math.inf, -1, None)
    for epoch in range(cfg.epochs):
        model.train()
        perm = torch.randperm(n, generator=g_batch)
        for i in range(0, n, cfg.batch_size):
            idx = perm[i:i + cfg.batch_size]
            x, y = xtr[idx], ytr[idx]
            w = lds(y) if lds is not None else None
            pred, z = model(x, y)
            if bmse is not None:
                loss = bmse(pred, y)
            elif dist is not None:
                loss = dist(pred, y, w)
            elif spec.get("loss", "l1") == "mse":
                loss = dirfast.mse(pred, y, w)
            else:
                loss = dirfast.l1(pred, y, w)
            if ranksim:
                loss = loss + cfg.ranksim_gamma * dirfast.ranksim_loss(
                    z, y, interpolation_lambda=cfg.ranksim_lambda, variant="official",
                    max_unique=BINS.num_bins)
            if spec["conr"]:
                views = torch.cat([augment(x, cfg.aug_noise, cfg.aug_drop, g_aug),
                                   augment(x, cfg.aug_noise, cfg.aug_drop, g_aug)])
                zc = model.encoder(views)                       # views bypass FDS (official reg=False)
                pc = model.head(zc).squeeze(1)
                y2 = torch.cat([y, y])
                a2 = torch.cat([w, w]) if w is not None else None
                loss = loss + cfg.conr_beta * dirfast.conr_loss(
                    zc, y2, pc.detach(), a2, w=cfg.conr_w, temperature=cfg.conr_temperature,
                    e=cfg.conr_e, variant="paper")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if fds is not None:
            if spec.get("fds_pass", False):  # official statistics pass: train mode, no gradient
                with torch.no_grad():
                    for i in range(0, n, cfg.batch_size):
                        idx = perm[i:i + cfg.batch_size]
                        fds.accumulate(model.encoder(xtr[idx]), ytr[idx])
            fds.end_epoch(epoch)
        model.eval()
        with torch.no_grad():
            v = _mae(model(xva)[0], yva)
        if v < best[0]:
            best = (v, epoch, copy.deepcopy(model.state_dict()))
        if on_epoch is not None:
            on_epoch()
    model.load_state_dict(best[2])
    model.eval()
    with torch.no_grad():
        pred = model(xte)[0]
    m = dirfast.shot_metrics(pred, yte, ytr, BINS, many=cfg.many, few=cfg.few)
    out = {"method": method, "seed": seed, "best_epoch": best[1], "val_mae": best[0], "metrics": m,
           "test_pred": pred}
    if bmse is not None:
        out["noise_sigma"] = float(bmse.noise_sigma.detach())  # learned σ after the last epoch
    return out


# ------------------------------------------------------------------------------------------------
# aggregation and output


def _mean_std(xs: List[float]):
    n = len(xs)
    mean = sum(xs) / n
    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else 0.0
    return mean, std


def _split_table(data: dict, cfg: Config) -> str:
    ytr, yva, yte = data["train"][1], data["val"][1], data["test"][1]
    K = BINS.num_bins
    ctr = torch.bincount(BINS.index(ytr), minlength=K)
    cva = torch.bincount(BINS.index(yva), minlength=K)
    cte = torch.bincount(BINS.index(yte), minlength=K)
    shot = lambda c: "many" if c > cfg.many else ("few" if c < cfg.few else "medium")  # noqa: E731
    lines = [f"Abalone-DIR split (seed {cfg.split_seed}): {len(ytr)} train / {len(yva)} val / "
             f"{len(yte)} test. Shots from the training count of the sample's ring: many > {cfg.many}, "
             f"few < {cfg.few} (zero-shot included), medium otherwise.", "",
             "| rings | train | val | test | shot |", "|---|---|---|---|---|"]
    for k in range(K):
        ring = int(BINS.edges[k].item())
        if ctr[k] + cva[k] + cte[k] == 0:
            continue
        lines.append(f"| {ring} | {int(ctr[k])} | {int(cva[k])} | {int(cte[k])} | "
                     f"{shot(int(ctr[k])) if ctr[k] > 0 else 'zero'} |")
    groups = {}
    for k in range(K):
        if cte[k] > 0:
            s = shot(int(ctr[k]))
            groups.setdefault(s, []).append(int(BINS.edges[k].item()))
    lines += ["", "| shot | test rings | test bins | test samples |", "|---|---|---|---|"]
    for s in ("many", "medium", "few"):
        rings = groups.get(s, [])
        ns = sum(int(cte[r - 1]) for r in rings)
        lines.append(f"| {s} | {', '.join(map(str, rings))} | {len(rings)} | {ns} |")
    lines.append("")
    lines.append("No test ring is zero-shot (every ring with a test sample has ≥ 3 training samples); "
                 "ring 28 has no sample at all.")
    return "\n".join(lines) + "\n"


def _fmt(x: float) -> str:
    return "nan" if math.isnan(x) else f"{x:.6f}"


def _write_outputs(out: str, results: List[dict], data: dict, cfg: Config) -> dict:
    os.makedirs(out, exist_ok=True)
    methods = [m for m in cfg.methods]
    by_method = {m: [r for r in results if r["method"] == m] for m in methods}
    # summary table
    rows = []
    for m in methods:
        rs = by_method[m]
        row = {"method": m, "label": METHODS[m]["label"], "seeds": len(rs), "epochs": cfg.epochs}
        for metric in ("mae", "gm"):
            for g in SHOT_GROUPS:
                mean, std = _mean_std([getattr(r["metrics"], metric)[g] for r in rs])
                row[f"{metric}_{g}_mean"], row[f"{metric}_{g}_std"] = mean, std
        mean, std = _mean_std([r["metrics"].balanced_mae for r in rs])
        row["balanced_mae_mean"], row["balanced_mae_std"] = mean, std
        row["best_epoch_mean"] = sum(r["best_epoch"] for r in rs) / len(rs)
        rows.append(row)
    cols = ["method", "label", "seeds", "epochs"] + [f"{mt}_{g}_{s}" for mt in ("mae", "gm")
                                                     for g in SHOT_GROUPS for s in ("mean", "std")] + \
        ["balanced_mae_mean", "balanced_mae_std", "best_epoch_mean"]
    buf = io.StringIO()
    wr = csv.writer(buf, lineterminator="\n")
    wr.writerow(cols)
    for row in rows:
        wr.writerow([_fmt(row[c]) if isinstance(row[c], float) else row[c] for c in cols])
    with open(os.path.join(out, "abalone_results.csv"), "w", newline="") as f:
        f.write(buf.getvalue())
    counts = results[0]["metrics"].count
    md = [f"Abalone-DIR test set ({counts['all']} samples: {counts['many']} many / {counts['medium']} "
          f"medium / {counts['few']} few-shot), mean ± std over {cfg.seeds} seed(s), {cfg.epochs} epochs, "
          "best-validation-MAE epoch. MAE and GM in rings; lower is better.", "",
          "| Method | MAE all | MAE many | MAE med. | MAE few | GM all | GM many | GM med. | GM few |",
          "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        cells = [f"{row[f'{mt}_{g}_mean']:.3f} ± {row[f'{mt}_{g}_std']:.3f}"
                 for mt in ("mae", "gm") for g in SHOT_GROUPS]
        md.append(f"| {row['label']} | " + " | ".join(cells) + " |")
    with open(os.path.join(out, "abalone_results.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    # per seed
    with open(os.path.join(out, "abalone_per_seed.csv"), "w", newline="") as f:
        wr = csv.writer(f, lineterminator="\n")
        wr.writerow(["method", "seed", "best_epoch", "val_mae"] +
                    [f"{mt}_{g}" for mt in ("mae", "gm") for g in SHOT_GROUPS] + ["balanced_mae"])
        for r in results:
            m = r["metrics"]
            wr.writerow([r["method"], r["seed"], r["best_epoch"], _fmt(r["val_mae"])] +
                        [_fmt(getattr(m, mt)[g]) for mt in ("mae", "gm") for g in SHOT_GROUPS] +
                        [_fmt(m.balanced_mae)])
    # per bin
    m0 = results[0]["metrics"]
    present = (m0.bin_test_count > 0).nonzero().flatten().tolist()
    bin_mae = {m: torch.stack([r["metrics"].bin_mae for r in by_method[m]]).mean(0) for m in methods}
    with open(os.path.join(out, "abalone_per_bin.csv"), "w", newline="") as f:
        wr = csv.writer(f, lineterminator="\n")
        wr.writerow(["rings", "train_count", "test_count", "shot"] + [f"mae_{m}" for m in methods])
        for k in present:
            wr.writerow([int(BINS.edges[k].item()), int(m0.bin_train_count[k]), int(m0.bin_test_count[k]),
                         dirfast.metrics.SHOTS[int(m0.bin_shot[k])]] +
                        [_fmt(float(bin_mae[m][k])) for m in methods])
    with open(os.path.join(out, "abalone_split.md"), "w") as f:
        f.write(_split_table(data, cfg))
    _plots(out, data, cfg, methods, bin_mae, m0)
    return {"rows": rows, "markdown": "\n".join(md) + "\n"}


def _plots(out, data, cfg, methods, bin_mae, m0) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    meta = {"Software": None}  # no version string: identical runs give identical files
    ytr, yte = data["train"][1], data["test"][1]
    K = BINS.num_bins
    rings = torch.arange(1, K + 1)
    ctr = torch.bincount(BINS.index(ytr), minlength=K).double()
    cte = torch.bincount(BINS.index(yte), minlength=K).double()
    # LDS effective label density: conv(counts, peak-normalised gaussian ks=5 σ=2), zero padding,
    # rescaled to the number of training samples (the official `inverse` recipe without the clip)
    eff = dirfast.LDS(BINS, reweight="inverse", lds=True, clip=None, kernel=cfg.kernel, ks=cfg.ks,
                      sigma=cfg.sigma).fit(ytr).smoothed
    eff = (eff * ctr.sum() / eff.sum()).numpy()
    w = dirfast.LDS(BINS, reweight="sqrt_inv", lds=True, kernel=cfg.kernel, ks=cfg.ks,
                    sigma=cfg.sigma).fit(ytr).bin_weights.numpy()
    rings, ctr_np, cte_np = rings.numpy(), ctr.numpy(), cte.numpy()

    def shade(ax):
        colors = {0: "#d9f0d3", 1: "#fff2cc", 2: "#f8d7da"}
        for k in range(K):
            if ctr[k] > 0 or cte[k] > 0:
                ax.axvspan(k + 0.5, k + 1.5, color=colors[int(m0.bin_shot[k])], lw=0, zorder=0)

    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=110)
    shade(ax)
    ax.bar(rings, ctr_np, color="#4c72b0", label="train count", zorder=2)
    ax.bar(rings, cte_np, bottom=ctr_np, color="#dd8452", label="test count (= val count)", zorder=2)
    ax.plot(rings, eff, color="k", lw=2, label=f"LDS effective density (gaussian ks={cfg.ks}, σ={cfg.sigma:g})",
            zorder=3)
    ax.axhline(cfg.many, color="#2ca02c", ls=":", lw=1)
    ax.axhline(cfg.few, color="#d62728", ls=":", lw=1)
    ax.set_xlabel("rings")
    ax.set_ylabel("samples")
    ax.set_xlim(0.5, K + 0.5)
    ax2 = ax.twinx()
    ax2.plot(rings, w, color="#8172b3", ls="--", marker=".", label="SQINV + LDS weight (right axis)")
    ax2.set_ylabel("per-sample weight")
    h1, l1_ = ax.get_legend_handles_labels()
    h2, l2_ = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1_ + l2_, fontsize=8, loc="upper right")
    ax.set_title(f"Abalone-DIR labels (background: many > {cfg.many} / medium / few < {cfg.few} train samples)",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "abalone_labels.png"), metadata=meta)
    plt.close(fig)

    present = (m0.bin_test_count > 0).nonzero().flatten()
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=110)
    shade(ax)
    markers = "osD^v<>px*hH+d"
    # > 10 methods: tab20 colours (the default cycle repeats after 10, with the same marker as well)
    colors = plt.get_cmap("tab20").colors if len(methods) > 10 else [None] * len(methods)
    for i, m in enumerate(methods):
        ax.plot((present + 1).numpy(), bin_mae[m][present].numpy(), marker=markers[i % len(markers)],
                ms=4, lw=1.2, label=METHODS[m]["label"], zorder=3, color=colors[i % len(colors)])
    ax.set_xlabel("rings (test bins; background: many / medium / few shot)")
    ax.set_ylabel("test MAE (rings)")
    ax.set_xlim(present.min().item() + 0.5, present.max().item() + 1.5)
    ax.set_xticks((present + 1).tolist())
    ax.tick_params(axis="x", labelsize=8)
    ax.legend(fontsize=7, ncol=2, loc="upper center")
    ax.set_title(f"Per-ring test MAE, mean over {cfg.seeds} seed(s)", fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "abalone_bin_mae.png"), metadata=meta)
    plt.close(fig)


# ------------------------------------------------------------------------------------------------
# entry point


_WORKER_DATA: Optional[dict] = None


def _load(split_seed: int) -> dict:
    d = abalone_dir(seed=split_seed)
    return {k: d[k] for k in ("train", "val", "test")}


def _init_worker(split_seed: int) -> None:
    global _WORKER_DATA
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    _WORKER_DATA = _load(split_seed)


def _pid_after(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def _job(method: str, seed: int, cfg: Config, spec: Optional[dict] = None) -> dict:
    r = train_one(method, seed, _WORKER_DATA, cfg, spec=spec)
    r["test_pred"] = r["test_pred"].clone()
    return r


def run_jobs(jobs: Sequence[tuple], cfg: Config, *, progress: bool = True):
    """Run ``jobs`` = ``[(method, seed, spec or None), ...]`` (see :func:`train_one`) on
    ``cfg.workers`` spawned processes of one torch thread each (``1``: here, one torch thread).
    Every run is single-threaded and independent, so results are bit-identical whatever ``workers``
    is. Returns ``(results in job order, seconds of training + evaluation, data)``."""
    bar = None
    if progress:
        from tqdm import tqdm
    if cfg.workers <= 1:
        prev_threads = torch.get_num_threads()
        prev_det = torch.are_deterministic_algorithms_enabled()
        torch.set_num_threads(1)
        torch.use_deterministic_algorithms(True)
        try:
            data = _load(cfg.split_seed)
            if progress:
                bar = tqdm(total=len(jobs) * cfg.epochs, unit="epoch", file=sys.stderr, dynamic_ncols=True)
            t0 = time.perf_counter()
            results = []
            for m, s, spec in jobs:
                if bar is not None:
                    bar.set_postfix_str(f"{m} seed {s}")
                results.append(train_one(m, s, data, cfg, on_epoch=bar.update if bar is not None else None,
                                         spec=spec))
            seconds = time.perf_counter() - t0
        finally:
            torch.use_deterministic_algorithms(prev_det)
            torch.set_num_threads(prev_threads)
    else:
        import concurrent.futures as cf
        import multiprocessing as mp

        with cf.ProcessPoolExecutor(max_workers=cfg.workers, mp_context=mp.get_context("spawn"),
                                    initializer=_init_worker, initargs=(cfg.split_seed,)) as pool:
            # start-up (imports, data) is set-up: wait until every worker has answered
            pids: set = set()
            for _ in range(100):
                pids |= set(pool.map(_pid_after, [0.3] * cfg.workers))
                if len(pids) >= cfg.workers:
                    break
            if progress:
                bar = tqdm(total=len(jobs), unit="run", file=sys.stderr, dynamic_ncols=True)
            t0 = time.perf_counter()
            futs = {pool.submit(_job, m, s, cfg, spec): i for i, (m, s, spec) in enumerate(jobs)}
            done = {}
            for f in cf.as_completed(futs):
                i = futs[f]
                done[i] = f.result()
                if bar is not None:
                    bar.set_postfix_str("{} seed {}".format(*jobs[i][:2]))
                    bar.update(1)
            seconds = time.perf_counter() - t0
        results = [done[i] for i in range(len(jobs))]
        data = _load(cfg.split_seed)
    if bar is not None:
        bar.close()
    return results, seconds, data


def run(cfg: Config, out: str, *, progress: bool = True) -> dict:
    """Train every method of ``cfg.methods`` with seeds ``0..cfg.seeds-1``; write the outputs to
    ``out``. ``cfg.workers > 1``: the (method, seed) runs go to that many ``spawn``-ed processes, each
    with one torch thread; ``1``: they run here, one torch thread. Every run is single-threaded and
    independent, so the results are bit-identical whatever ``workers`` is. Returns ``{"rows",
    "markdown", "seconds", "results"}`` (``seconds``: training and evaluation, set-up — imports,
    worker start-up, data loading — excluded)."""
    for m in cfg.methods:
        if m not in METHODS:
            raise ValueError(f"unknown method {m!r}; choose from {', '.join(METHODS)}")
    jobs = [(m, s, None) for m in cfg.methods for s in range(cfg.seeds)]
    results, seconds, data = run_jobs(jobs, cfg, progress=progress)
    summary = _write_outputs(out, results, data, cfg)
    info = {"seconds_train_eval": round(seconds, 2), "workers": cfg.workers, "torch_threads_per_run": 1,
            "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
            "cpu_count": os.cpu_count(), "machine": platform.machine(), "processor": platform.processor(),
            "python": platform.python_version(), "torch": torch.__version__,
            "dirfast": dirfast.__version__,
            "learned_noise_sigma": {f"{r['method']}/{r['seed']}": round(r["noise_sigma"], 4)
                                    for r in results if "noise_sigma" in r},
            "config": {k: (list(v) if isinstance(v, tuple) else v)
                                                        for k, v in asdict(cfg).items()}}
    with open(os.path.join(out, "abalone_run.json"), "w") as f:
        json.dump(info, f, indent=1)
    return {**summary, "seconds": seconds, "results": results}
