"""Smoke test of the benchmark harness (CPU, ~30 s): ``run_all --device cpu --sizes check`` end to end
(every ``bench_*.py``), ``--quick`` of three modules, ``--device cuda`` without CUDA, the runner's pieces
that the CUDA path uses (input copies, clones, kernel counting, CSV keys, CUDA-row plots) and the shared
agreement check."""

import csv
import importlib.util
import math
import os
import subprocess
import sys

import pytest
import torch

from dirfast import _ext

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks import _official, plot, runner  # noqa: E402

STABLE = ["op", "case", "provider", "kind", "min_ms", "median_ms", "gpu_ms", "wall_ms", "launches",
          "ratio_to_floor", "ratio_to_naive", "ratio_to_official"]
#: every benchmark module -> (its op, whether it has a naive_torch / official provider)
MODULES = {
    "bench_conr": ("conr", True, True), "bench_dist_loss": ("dist_loss", True, True),
    "bench_fds_calibrate": ("fds_calibrate", True, True), "bench_fds_module": ("fds_module", True, True),
    "bench_fds_stats": ("fds_stats", True, True), "bench_lds": ("lds", True, True),
    "bench_shot_metrics": ("shot_metrics", True, True), "bench_soft_sort": ("soft_sort", True, True),
    "bench_train_step": ("train_step", True, True), "bench_weighted_loss": ("weighted_loss", True, True),
}
MODULES["bench_balanced_mse"] = ("balanced_mse", True, True)
MODULES["bench_ranksim"] = ("ranksim", True, True)
MODULES["bench_host_overhead"] = ("host_overhead", False, False)  # naive_torch is its floor


def _env():
    return {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}


def _run(*args, timeout=300):
    res = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=_env(), capture_output=True, text=True,
                         timeout=timeout)
    return res


def _rows(path):
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


def test_every_module_is_covered():
    assert set(MODULES) == set(runner_modules()), "add new bench_*.py modules to MODULES"


def runner_modules():
    from benchmarks.run_all import discover

    return discover()


def test_run_all_check_cpu(tmp_path):
    """``run_all --device cpu --sizes check``: every module runs, writes the stable columns, finite
    times and ratios, the ratio columns where naive_torch / official ran, and no agreement check fails."""
    # one thread and 2 rounds: cheap on a shared 2-core machine (2 threads there can be 10x slower)
    res = _run("benchmarks.run_all", "--device", "cpu", "--sizes", "check", "--no-progress", "--threads", "1",
               "--rounds", "2", "--min-sample-ms", "0.2", "--out", str(tmp_path))
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    out = res.stdout
    assert "MISMATCH" not in out and "load average" in out and "threads" in out, out[-4000:]
    assert "(device cpu, sizes check)" in out
    for mod, (op, has_naive, has_official) in MODULES.items():
        assert f"##### {mod} done" in out, mod
        fields, rows = _rows(tmp_path / f"{op}.csv")
        assert fields[:len(STABLE)] == STABLE, (op, fields)
        assert rows, op
        by_case = {}
        for r in rows:
            assert r["op"] == op and r["device"] == "cpu" and r["sizes"] == "check", r
            for col in ("min_ms", "median_ms", "wall_ms", "ratio_to_floor"):
                v = float(r[col])
                assert math.isfinite(v) and v > 0, (op, col, r)
            assert float(r["min_ms"]) <= float(r["median_ms"]), r
            assert r["gpu_ms"] == "" and r["launches"] == "", r  # CPU: no CUDA columns
            if r["kind"] == "floor":
                assert float(r["ratio_to_floor"]) == 1.0, r
            by_case.setdefault(r["case"], {})[r["provider"]] = r
        for case, provs in by_case.items():
            if has_naive:
                assert "naive_torch" in provs, (op, case, sorted(provs))
                assert all(float(r["ratio_to_naive"]) > 0 for r in provs.values()), (op, case)
                assert float(provs["naive_torch"]["ratio_to_naive"]) == 1.0
            if has_official and "official" in provs:
                assert float(provs["official"]["ratio_to_official"]) == 1.0
                assert all(float(r["ratio_to_official"]) > 0 for r in provs.values()), (op, case)
        assert any("official" in provs for provs in by_case.values()) == has_official, op
    png = tmp_path / "weighted_loss.png"
    assert png.exists() and png.stat().st_size > 1000
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_run_all_quick(tmp_path):
    """``--quick`` of the weighted losses, soft sort and Dist Loss: every case x provider row."""
    res = _run("benchmarks.run_all", "--quick", "--no-progress", "--no-plot", "--threads", "1", "--out", str(tmp_path),
               "--only", "bench_weighted_loss", "--only", "bench_soft_sort", "--only", "bench_dist_loss")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "MISMATCH" not in res.stdout, res.stdout[-3000:]

    _, rows = _rows(tmp_path / "weighted_loss.csv")
    providers = {"floor", "dirfast_cpu_torch", "naive_torch", "official", "reference"}
    if _ext.available():
        providers.add("dirfast_cpu")
    got = {(r["case"], r["provider"]) for r in rows}
    assert got == {(c, p) for c in ("mse", "focal_l1", "huber") for p in providers}, got
    for r in rows:
        assert r["dtype"] == "float32" and r["n"] == "65536" and r["sizes"] == "quick", r
        assert int(r["threads"]) >= 1 and r["torch_version"] and r["dirfast_version"], r

    _, rows = _rows(tmp_path / "soft_sort.csv")
    ss = {"sort_floor", "dirfast_cpu_torch", "naive_torch", "scipy_isotonic", "official"}
    if _ext.available():
        ss.add("dirfast_cpu")
    if importlib.util.find_spec("torchsort") is not None:
        ss.add("torchsort")
    assert {(r["case"], r["provider"]) for r in rows} == {(c, p) for c in ("1x4096", "16x100") for p in ss}

    _, rows = _rows(tmp_path / "dist_loss.csv")
    dl = {"sort_floor", "dirfast_cpu_torch", "naive_torch", "official"}
    if _ext.available():
        dl.add("dirfast_cpu")
    cases = {"gauss_fp32", "heavy_fp32", "official_fp64"}
    assert {(r["case"], r["provider"]) for r in rows} == {(c, p) for c in cases for p in dl}
    for r in rows:
        assert math.isfinite(float(r["ratio_to_floor"])) and float(r["min_ms"]) > 0, r


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_device_cuda_without_cuda_is_a_clear_error(tmp_path):
    res = _run("benchmarks.run_all", "--device", "cuda", "--sizes", "check", "--out", str(tmp_path))
    assert res.returncode == 2 and "--device cuda: no CUDA device available" in res.stderr, res.stderr
    res = _run("benchmarks.bench_conr", "--device", "cuda", "--out", str(tmp_path))
    assert res.returncode != 0 and "no CUDA device available" in res.stderr, res.stderr
    assert not any(tmp_path.iterdir())


# ------------------------------------------------------------------------------------------------
# the runner's pieces (pure functions; the CUDA timing itself needs a GPU)


def test_n_copies():
    mb = 2**20
    assert runner.n_copies(1 * mb, 50 * mb) == 64            # tiny inputs: capped at MAX_COPIES
    assert runner.n_copies(10 * mb, 50 * mb) == 10           # 10 x 10 MB >= 2 x 50 MB
    assert runner.n_copies(10 * mb, 60 * mb) == 12           # the device's larger L2
    assert runner.n_copies(10 * mb, 0) == 10                 # unknown L2: at least 50 MB
    assert runner.n_copies(200 * mb, 50 * mb) == 1           # already 2x the L2
    assert runner.n_copies(3 * 2**30, 50 * mb, free_bytes=8 * 2**30) == 1
    assert runner.n_copies(60 * mb, 60 * mb, free_bytes=100 * mb) == 1  # free/4 budget
    assert runner.n_copies(0, 50 * mb) == 1


def test_clone_to_device_and_working_set():
    leaf = torch.randn(10, requires_grad=True)
    shared = torch.zeros(4)
    mod = torch.nn.Linear(3, 2)
    x = {"p": leaf, "a": shared, "b": shared, "m": mod, "lst": [shared, 1], "n": 3, "s": "x"}
    c = runner.clone_inputs(x)
    assert c["p"] is not leaf and c["p"].requires_grad and c["p"].is_leaf
    assert torch.equal(c["p"], leaf) and c["p"].data_ptr() != leaf.data_ptr()
    assert c["a"] is c["b"] and c["lst"][0] is c["a"] and c["a"] is not shared  # aliasing kept
    assert c["m"] is not mod and torch.equal(c["m"].weight, mod.weight)
    assert c["n"] == 3 and c["s"] == "x"
    assert runner.to_device(x, "cpu") is x
    ws = runner.working_set_bytes(x)
    assert ws == 10 * 4 + 4 * 4 + (6 + 2) * 4


class _Ev:
    def __init__(self, device_type, name):
        self.device_type, self.name = device_type, name


def test_count_kernel_events():
    from torch.autograd import DeviceType

    evs = [_Ev(DeviceType.CUDA, "void at::native::reduce_kernel<...>"), _Ev(DeviceType.CPU, "aten::sum"),
           _Ev(DeviceType.CUDA, "Memcpy HtoD (Pageable -> Device)"), _Ev(DeviceType.CUDA, "Memset (Device)"),
           _Ev(DeviceType.CUDA, "_weighted_loss_fwd_kernel"), _Ev(DeviceType.CPU, "cudaLaunchKernel")]
    assert runner.count_kernel_events(evs) == 2


def test_upsert_keys_include_device(tmp_path):
    path = str(tmp_path / "x.csv")
    runner.upsert_csv(path, [{"op": "x", "case": "a", "provider": "p", "min_ms": "1"},
                             {"op": "x", "case": "b", "provider": "p", "min_ms": "2"}])
    runner.upsert_csv(path, [{"op": "x", "case": "a", "provider": "p", "min_ms": "3"}])
    runner.upsert_csv(path, [{"op": "x", "case": "a", "provider": "p", "min_ms": "4", "device": "cuda"}])
    rows = {(r["case"], r["provider"], r["device"] or "cpu"): r["min_ms"] for r in runner.read_csv(path)}
    assert rows == {("a", "p", "cpu"): "3", ("b", "p", "cpu"): "2", ("a", "p", "cuda"): "4"}
    fields, _ = _rows(path)
    assert fields[:len(STABLE)] == STABLE


def test_plot_cuda_rows(tmp_path):
    path = str(tmp_path / "op.csv")
    base = {"op": "op", "device": "cuda", "rounds": "5", "gpu": "NVIDIA H200"}
    runner.upsert_csv(path, [
        dict(base, case="c", provider="floor", kind="floor", min_ms="0.1", wall_ms="0.2", launches="2",
             ratio_to_floor="1"),
        dict(base, case="c", provider="dirfast", kind="op", min_ms="0.3", wall_ms="0.5", launches="3",
             ratio_to_floor="3"),
        {"op": "op", "case": "c", "provider": "floor", "kind": "floor", "min_ms": "1", "ratio_to_floor": "1"},
    ])
    png = plot.plot_op(path, str(tmp_path / "op_cuda.png"), op="op", device="cuda")
    assert os.path.getsize(png) > 1000
    with pytest.raises(ValueError):
        plot.plot_op(path, str(tmp_path / "none.png"), op="op", device="xpu")


def test_official_dist_loss_roundtrip_path():
    """The CUDA branch of ``_official.dist_loss`` (explicit host round trip) equals the replica."""
    g = torch.Generator().manual_seed(0)
    n = 512
    p1 = (45 + 15 * torch.randn(n, 1, generator=g, dtype=torch.float64)).requires_grad_(True)
    p2 = p1.detach().clone().requires_grad_(True)
    t = torch.round(45 + 15 * torch.randn(n, 1, generator=g, dtype=torch.float64))
    w = torch.rand(n, 1, generator=g, dtype=torch.float64) + 0.5
    q = torch.sort(45 + 15 * torch.randn(n, generator=g, dtype=torch.float64)).values.reshape(-1, 1)
    a = _official.dist_loss(p1, t, q, w, roundtrip=False)
    b = _official.dist_loss(p2, t, q, w, roundtrip=True)
    a.backward()
    b.backward()
    torch.testing.assert_close(a, b, rtol=1e-14, atol=0)
    torch.testing.assert_close(p1.grad, p2.grad, rtol=1e-12, atol=1e-15)


def test_check_against_lines():
    """The shared agreement check: floors left out, ``reset`` before each call, a failing provider
    reported by name, the worst relative error of each extracted item against the yardstick."""
    calls = []

    def loss(scale):
        def fn(x):
            calls.append(x["p"].grad is None)
            out = (scale * x["p"] ** 2).sum()
            out.backward()
            return out
        return fn

    def boom(x):
        raise ValueError("bad {x}")

    def reset(x):
        x["p"].grad = None

    x = {"p": torch.tensor([1.0, 2.0], requires_grad=True)}
    provs = [runner.memory_floor(("p",), "p", "p"), runner.Provider("ref", loss(1.0), reset=reset),
             runner.Provider("boom", boom), runner.Provider("same", loss(1.0), reset=reset),
             runner.Provider("off", loss(1.5), reset=reset)]
    lines = runner.check_against(provs, x, "cpu", "ref", extract=runner.loss_and_grad("p"), label="c",
                                 head="c (n=2)")
    assert lines == ["check c: boom failed: ValueError: bad {x}",
                     "check c (n=2): ref, same, off agree with ref: loss rel 5.0e-01, grad rel 5.0e-01 -> MISMATCH"]
    assert calls == [True, True, True]
    lines = runner.check_against(provs[:4], x, "cpu", "ref", extract=runner.value_and_grad("p"), label="c",
                                 head="c", what=("value", "grad"), who="providers", ref_note=" (all)",
                                 skip=lambda p: p.name == "boom")
    assert lines == ["check c: providers agree with ref (all): value rel 0.0e+00, grad rel 0.0e+00 -> ok"]
    outs, lines = runner.provider_outputs(provs[1:3], x, "cpu", runner.loss_and_grad("p"),
                                          each=lambda name, o: f"{name} {o[0]:g}", failed="{name} ({device}): {error}")
    assert list(outs) == ["ref"] and lines == ["ref 5", "boom (cpu): ValueError: bad {x}"]  # provider order
    assert runner.rel_err(torch.tensor([1.0, 3.0]), torch.tensor([1.0, 2.0]), torch.tensor([True, False])) == 0.0
    assert runner.rel_err(0.0, 0.0) == 0.0


def test_sizes_arg_reads_the_old_bool():
    assert [runner.sizes_arg(s) for s in (True, False, "check", "default")] == ["quick", "default", "check", "default"]
