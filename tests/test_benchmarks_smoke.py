"""Smoke test of the benchmark harness: ``python -m benchmarks.run_all --quick`` end to end (a few s)."""

import csv
import math
import os
import subprocess
import sys

from dirfast import _ext

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASES = {"mse", "focal_l1", "huber"}


def test_run_all_quick(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    res = subprocess.run(
        [sys.executable, "-m", "benchmarks.run_all", "--quick", "--out", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "load average" in res.stdout and "threads" in res.stdout, res.stdout

    csv_path = tmp_path / "weighted_loss.csv"
    assert csv_path.exists(), res.stdout
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    providers = {"floor", "dirfast_cpu_torch", "naive_torch", "official", "reference"}
    if _ext.available():
        providers.add("dirfast_cpu")
    got = {(r["case"], r["provider"]) for r in rows}
    assert got == {(c, p) for c in CASES for p in providers}, got
    for r in rows:
        for col in ("min_ms", "median_ms", "wall_ms", "ratio_to_floor", "ratio_to_naive", "ratio_to_official"):
            v = float(r[col])
            assert math.isfinite(v) and v > 0, (col, r)
        assert float(r["min_ms"]) <= float(r["median_ms"]), r
        assert r["op"] == "weighted_loss" and r["dtype"] == "float32" and r["n"] == "65536", r
        assert int(r["threads"]) >= 1 and r["torch_version"] and r["dirfast_version"], r
        if r["provider"] == "floor":
            assert float(r["ratio_to_floor"]) == 1.0, r

    # soft sort (issue 6): sort floor, both CPU paths, scipy, and torchsort when installed
    import importlib.util

    with open(tmp_path / "soft_sort.csv", newline="") as f:
        ss = {(r["case"], r["provider"]) for r in csv.DictReader(f)}
    ss_providers = {"sort_floor", "dirfast_cpu_torch", "scipy_isotonic"}
    if _ext.available():
        ss_providers.add("dirfast_cpu")
    if importlib.util.find_spec("torchsort") is not None:
        ss_providers.add("torchsort")
    assert ss == {(c, p) for c in ("1x4096", "16x100") for p in ss_providers}, ss

    png = tmp_path / "weighted_loss.png"
    assert png.exists() and png.stat().st_size > 1000
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_upsert_keeps_other_rows(tmp_path):
    sys.path.insert(0, ROOT)
    try:
        from benchmarks.runner import read_csv, upsert_csv
    finally:
        sys.path.remove(ROOT)
    path = str(tmp_path / "x.csv")
    upsert_csv(path, [{"op": "x", "case": "a", "provider": "p", "min_ms": "1"},
                      {"op": "x", "case": "b", "provider": "p", "min_ms": "2"}])
    upsert_csv(path, [{"op": "x", "case": "a", "provider": "p", "min_ms": "3"}])
    rows = {(r["case"], r["provider"]): r["min_ms"] for r in read_csv(path)}
    assert rows == {("a", "p"): "3", ("b", "p"): "2"}


def test_dist_loss_quick(tmp_path):
    """bench_dist_loss --quick: every case x provider row, finite ratios to the sort floor, PNG."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    res = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_dist_loss", "--quick", "--no-progress", "--out",
         str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "MISMATCH" not in res.stdout and "sort floor" in res.stdout, res.stdout
    with open(tmp_path / "dist_loss.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    providers = {"sort_floor", "dirfast_cpu_torch", "naive_torch"}
    if _ext.available():
        providers.add("dirfast_cpu")
    cases = {"gauss_fp32", "heavy_fp32", "official_fp64"}
    assert {(r["case"], r["provider"]) for r in rows} == {(c, p) for c in cases for p in providers}
    for r in rows:
        assert math.isfinite(float(r["ratio_to_floor"])) and float(r["min_ms"]) > 0, r
    assert (tmp_path / "dist_loss.png").stat().st_size > 1000
