"""the abalone DIR benchmark — vendored data, DIR split, and ``python -m dirfast.demo abalone
--quick`` (files, table shape, finite numbers, byte-identical second run)."""

import collections
import csv
import math
import os
import subprocess
import sys

import pytest
import torch

import dirfast
from dirfast.data import abalone_dir, abalone_dir_split, load_abalone

pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")

from dirfast.demo import QUICK_METHODS  # noqa: E402
from dirfast.demo.__main__ import main  # noqa: E402

OUTPUTS = ("abalone_results.md", "abalone_results.csv", "abalone_per_seed.csv", "abalone_per_bin.csv",
           "abalone_split.md", "abalone_labels.png", "abalone_bin_mae.png", "abalone_run.json")
#: everything except abalone_run.json (timing, load average) must be identical between runs (plots too)
DETERMINISTIC = OUTPUTS[:7]


def test_load_abalone():
    d = load_abalone()
    x, y = d["features"], d["rings"]
    assert x.shape == (4177, 10) and y.shape == (4177,)
    assert x.dtype == y.dtype == torch.float32
    assert torch.equal(x[:, :3].sum(1), torch.ones(4177))          # sex one-hot
    c = collections.Counter(y.int().tolist())
    assert c[9] == 689 and c[20] == 26 and c[1] == c[2] == c[25] == c[26] == c[29] == 1 and c[28] == 0
    assert y.min() == 1 and y.max() == 29


def test_abalone_dir_split():
    y = load_abalone()["rings"]
    s = abalone_dir_split(y)
    assert [len(s[k]) for k in ("train", "val", "test")] == [3305, 436, 436]
    allidx = torch.cat([s["train"], s["val"], s["test"]])
    assert torch.equal(torch.sort(allidx).values, torch.arange(4177))   # disjoint, covering
    for v, c in collections.Counter(y.int().tolist()).items():
        n = min(c // 3, 30)
        assert int((y[s["val"]] == v).sum()) == n == int((y[s["test"]] == v).sum())
    s2 = abalone_dir_split(y)
    assert all(torch.equal(s[k], s2[k]) for k in s)                       # fixed seed
    assert not torch.equal(abalone_dir_split(y, seed=1)["val"], s["val"])


def test_abalone_dir_standardised_with_train_stats():
    d = abalone_dir()
    xtr = d["train"][0].double()
    assert torch.allclose(xtr.mean(0), torch.zeros(10, dtype=torch.float64), atol=1e-6)
    assert torch.allclose(xtr.std(0, unbiased=False), torch.ones(10, dtype=torch.float64), atol=1e-5)
    raw = abalone_dir(standardize=False)
    mean, std = d["stats"]
    assert torch.allclose((raw["test"][0] - mean) / std, d["test"][0], atol=1e-5)
    # the shot bins the README reports (thresholds 100 / 20 on 1-ring bins)
    m = dirfast.shot_metrics(d["test"][1], d["test"][1], d["train"][1], dirfast.Bins(1, 1, 29))
    assert m.num_bins == {"all": 21, "many": 8, "medium": 5, "few": 8, "zero": 0}
    assert m.count == {"all": 436, "many": 240, "medium": 131, "few": 65, "zero": 0}


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def test_demo_quick(tmp_path):
    out1, out2 = str(tmp_path / "a"), str(tmp_path / "b")
    env = dict(os.environ)
    env.pop("TRITON_INTERPRET", None)
    subprocess.run([sys.executable, "-m", "dirfast.demo", "abalone", "--quick", "--out", out1,
                    "--no-progress"], check=True, env=env, capture_output=True)
    # the second run: in this process, on 2 worker processes (the full run's layout)
    assert main(["abalone", "--quick", "--out", out2, "--no-progress", "--workers", "2"]) == 0
    for name in OUTPUTS:
        assert os.path.getsize(os.path.join(out1, name)) > 0, name
    with open(os.path.join(out1, "abalone_results.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["method"] for r in rows] == list(QUICK_METHODS)
    for r in rows:
        for metric in ("mae", "gm"):
            for g in ("all", "many", "medium", "few"):
                for s in ("mean", "std"):
                    v = float(r[f"{metric}_{g}_{s}"])
                    assert math.isfinite(v) and v >= 0, (r["method"], metric, g, s, v)
            assert 0 < float(r[f"{metric}_all_mean"]) < 10
    md = open(os.path.join(out1, "abalone_results.md")).read().splitlines()
    table = [ln for ln in md if ln.startswith("|")]
    assert table[0].count("|") == 10 and len(table) == 2 + len(QUICK_METHODS)
    assert "nan" not in "\n".join(table).lower()
    # a second run (other processes) gives the identical table, CSVs and plots
    for name in DETERMINISTIC:
        assert _read(os.path.join(out1, name)) == _read(os.path.join(out2, name)), name


def test_demo_bmse_ranksim_methods():
    """The Balanced MSE rows: BMC/BNI replace L1 and learn σ in their own param group (the ``_fix`` variants
    keep σ = 1 exactly); RankSim changes the training of the plain L1 model; each run is
    deterministic (paired by seed with the other methods)."""
    from dirfast.demo.abalone import METHODS, Config, _load, train_one

    data = _load(666)
    cfg = Config(epochs=2)
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        names = ("vanilla", "bmc", "bni", "bmc_fix", "bni_fix", "ranksim")
        r = {m: train_one(m, 0, data, cfg) for m in names}
        again = train_one("ranksim", 0, data, cfg)["test_pred"]
    finally:
        torch.set_num_threads(prev)
    for m in ("bmc", "bni"):
        assert METHODS[m]["bmse"] == m
        assert r[m]["noise_sigma"] != 1.0 and 1.0 < r[m]["noise_sigma"] < 2.0  # 52 Adam steps of lr 1e-2
    assert r["bmc_fix"]["noise_sigma"] == r["bni_fix"]["noise_sigma"] == 1.0
    assert "noise_sigma" not in r["vanilla"] and "noise_sigma" not in r["ranksim"]
    preds = [r[m]["test_pred"] for m in r]
    assert all(torch.isfinite(p).all() for p in preds)
    for i in range(len(preds)):                       # every method trains differently
        for j in range(i):
            assert not torch.equal(preds[i], preds[j])
    assert torch.equal(again, r["ranksim"]["test_pred"])
