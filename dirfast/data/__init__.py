"""Small vendored data sets (no images, no downloads at run time); see ``dirfast/data/README.md``.

* ``agedb_dir_ages.csv``: AgeDB-DIR labels and split, from YyzHarry/imbalanced-regression (MIT licence).
* ``abalone.csv``: the UCI Abalone data set — Nash, Sellers, Talbot, Cawthorn and Ford (1994),
  "Abalone", UCI Machine Learning Repository, https://archive.ics.uci.edu/dataset/1/abalone ,
  licensed under **CC BY 4.0** (https://creativecommons.org/licenses/by/4.0/). Changes: converted to
  CSV with a header row (some values carry float-formatting noise, e.g. ``0.10099999999999999``).
"""

from __future__ import annotations

import csv
import os
from typing import Dict, List, Tuple

import numpy as np
import torch

__all__ = ["agedb_dir_ages", "load_abalone", "abalone_dir_split", "abalone_dir",
           "ABALONE_FEATURES", "ABALONE_SPLIT_SEED"]

_HERE = os.path.dirname(os.path.abspath(__file__))
SPLITS = ("train", "val", "test")


def agedb_dir_ages() -> Dict[str, torch.Tensor]:
    """AgeDB-DIR ages by split, as shipped with the official DIR code (``agedb-dir/data/agedb.csv``).

    Returns:
        ``{"train": [12208], "val": [2140], "test": [2140]}`` float32 CPU tensors of ages (integer
        values 0..101), in file order. A fresh dict of fresh tensors on every call.
    """
    out = {s: [] for s in SPLITS}
    with open(os.path.join(_HERE, "agedb_dir_ages.csv"), newline="") as f:
        for row in csv.DictReader(f):
            out[row["split"]].append(float(row["age"]))
    return {s: torch.tensor(v, dtype=torch.float32) for s, v in out.items()}


# ------------------------------------------------------------------------------------------------
# UCI Abalone (CC BY 4.0, see the module docstring)

#: the 10 feature columns of :func:`load_abalone`: sex one-hot (M, F, I), then the 7 measurements
ABALONE_FEATURES: Tuple[str, ...] = (
    "sex_M", "sex_F", "sex_I", "length", "diameter", "height", "whole_weight", "shucked_weight",
    "viscera_weight", "shell_weight")
_ABALONE_MEASUREMENTS = ABALONE_FEATURES[3:]
_SEXES = ("M", "F", "I")
#: the fixed seed of the abalone DIR split (training seeds vary only initialisation and batch order)
ABALONE_SPLIT_SEED = 666


def load_abalone() -> Dict[str, torch.Tensor]:
    """The UCI Abalone data set as tensors, in file order (4,177 rows), unstandardised.

    Returns:
        ``{"features": [4177, 10] float32, "rings": [4177] float32}``: features are the sex one-hot
        (columns M, F, I) followed by the 7 measurements (length, diameter, height in mm/200; whole,
        shucked, viscera and shell weight in g/200, as in the UCI file); ``rings`` (integer values
        1..29, age ≈ rings + 1.5 years). Column names: :data:`ABALONE_FEATURES`. Fresh tensors on
        every call. Licence CC BY 4.0 — cite Nash et al. (1994), see ``dirfast/data/README.md``.
    """
    feats: List[List[float]] = []
    rings: List[float] = []
    with open(os.path.join(_HERE, "abalone.csv"), newline="") as f:
        for row in csv.DictReader(f):
            sex = row["sex"]
            if sex not in _SEXES:
                raise ValueError(f"load_abalone: unexpected sex {sex!r} in abalone.csv")
            feats.append([float(sex == s) for s in _SEXES] + [float(row[c]) for c in _ABALONE_MEASUREMENTS])
            rings.append(float(row["rings"]))
    return {"features": torch.tensor(feats, dtype=torch.float32),
            "rings": torch.tensor(rings, dtype=torch.float32)}


def abalone_dir_split(rings: torch.Tensor, *, seed: int = ABALONE_SPLIT_SEED,
                      cap: int = 30) -> Dict[str, torch.Tensor]:
    """DIR split of the abalone rows (the AgeDB/IMDB-WIKI-DIR recipe, docs/lds_fds.md §3.1).

    For every ring value with ``c`` samples, ``n = min(c // 3, cap)`` randomly chosen samples go to
    validation, ``n`` others to test (balanced val/test sets), the rest to train. The shuffle is
    ``numpy.random.RandomState(seed)`` (a stream NumPy keeps stable across versions), one permutation
    per ring value in ascending ring order.

    Args:
        rings: ``[N]`` labels (integer-valued; :func:`load_abalone`'s ``rings``).
        seed: split seed (fixed: :data:`ABALONE_SPLIT_SEED`). cap: per-value cap on val/test (30).

    Returns:
        ``{"train", "val", "test"}`` → sorted int64 row indices into ``rings`` (disjoint, covering all
        rows). With the defaults: 3,305 train / 436 val / 436 test rows.
    """
    r = np.asarray(rings.detach().cpu().numpy() if isinstance(rings, torch.Tensor) else rings)
    rs = np.random.RandomState(seed)
    parts: Dict[str, List[np.ndarray]] = {s: [] for s in SPLITS}
    for v in np.unique(r):
        idx = np.flatnonzero(r == v)
        idx = idx[rs.permutation(idx.size)]
        n = min(idx.size // 3, cap)
        parts["val"].append(idx[:n])
        parts["test"].append(idx[n:2 * n])
        parts["train"].append(idx[2 * n:])
    return {s: torch.from_numpy(np.sort(np.concatenate(p)).astype(np.int64)) for s, p in parts.items()}


def abalone_dir(*, seed: int = ABALONE_SPLIT_SEED, standardize: bool = True
                ) -> Dict[str, Tuple[torch.Tensor, torch.Tensor]]:
    """Abalone-DIR: :func:`load_abalone` split by :func:`abalone_dir_split`, features standardised
    with the **training** statistics.

    Returns:
        ``{"train": (x [N_s, 10] float32, rings [N_s] float32), "val": ..., "test": ...,
        "stats": (mean [10], std [10])}``. Every column (the one-hot ones included) is standardised
        ``(x − mean_train) / std_train`` (``std`` with ddof 0, computed in float64); with
        ``standardize=False`` the raw features are returned and ``stats`` is ``(zeros, ones)``.
    """
    d = load_abalone()
    x, y = d["features"], d["rings"]
    split = abalone_dir_split(y, seed=seed)
    xt = x[split["train"]].to(torch.float64)
    if standardize:
        mean, std = xt.mean(0), xt.std(0, unbiased=False)
    else:
        mean, std = torch.zeros(x.shape[1], dtype=torch.float64), torch.ones(x.shape[1], dtype=torch.float64)
    xs = ((x.to(torch.float64) - mean) / std).to(torch.float32)
    out: Dict[str, Tuple[torch.Tensor, torch.Tensor]] = {s: (xs[split[s]], y[split[s]]) for s in SPLITS}
    out["stats"] = (mean.to(torch.float32), std.to(torch.float32))
    return out
