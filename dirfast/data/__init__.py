"""Small vendored label sets (no images, no downloads at run time); see ``dirfast/data/README.md``."""

from __future__ import annotations

import csv
import os
from typing import Dict

import torch

__all__ = ["agedb_dir_ages"]

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
