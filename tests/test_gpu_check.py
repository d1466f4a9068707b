"""``make gpu-check`` cannot rot between GPU sessions: its CPU dry run end to end (the GPU tier's quick
subset on CPU tensors at tiny sizes, the benchmarks' check sizes on CPU, the summary table), and the
summary's parsing of pytest results."""

import csv
import os
import subprocess
import sys

from benchmarks import gpu_check

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPS = {"weighted_loss", "lds", "fds_stats", "fds_calibrate", "fds_module", "conr", "soft_sort",
       "dist_loss", "shot_metrics"}


def test_dry_run_end_to_end(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    res = subprocess.run([sys.executable, "-m", "benchmarks.gpu_check", "--device", "cpu",
                          "--out", str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=900)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    with open(tmp_path / "summary.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["op"] for r in rows} >= OPS, {r["op"] for r in rows}
    for r in rows:
        assert r["correct"].startswith("ok") or r["correct"] == "no test", r
    timed = [r for r in rows if r["gpu_ms"]]
    assert {r["op"] for r in timed} >= OPS, {r["op"] for r in timed}
    for r in timed:
        assert float(r["gpu_ms"]) > 0, r
    # the table is printed last, and the log and the junit XML are written
    table = (tmp_path / "summary.md").read_text().strip().splitlines()
    assert res.stdout.rstrip().endswith(table[-1]), res.stdout[-2000:]
    assert (tmp_path / "gpu_check.log").stat().st_size > 1000
    assert gpu_check.test_results(str(tmp_path / "gpu_tests.xml"))["conr"][0] > 0


def test_summary_parses_failures_skips_and_xfails(tmp_path):
    xml = tmp_path / "r.xml"
    xml.write_text(
        '<testsuites><testsuite>'
        '<testcase classname="tests.gpu.test_gpu_conr" name="test_conr_large[torch.float32]"/>'
        '<testcase classname="tests.gpu.test_gpu_conr" name="test_conr_large[torch.float64]">'
        '<failure message="boom"/></testcase>'
        '<testcase classname="tests.gpu.test_gpu_step" name="test_cuda_graph_capture_replays_new_data[nn_fds]">'
        '<skipped type="pytest.xfail" message="syncs"/></testcase>'
        '<testcase classname="tests.gpu.test_gpu_step" name="test_deterministic[soft_rank]">'
        '<skipped type="pytest.skip" message="no CUDA"/></testcase>'
        '</testsuite></testsuites>')
    got = gpu_check.test_results(str(xml))
    assert got["conr"] == [1, 1, 0, 0]
    assert got["fds_module"] == [0, 0, 0, 1]
    assert got["soft_sort"] == [0, 0, 1, 0]
    assert gpu_check._verdict(got["conr"]) == "FAIL 1/2"
    assert gpu_check._verdict(got["fds_module"]) == "ok 0/0 xfail1"
    assert gpu_check._verdict(None) == "no test"


def test_prebuilt_hash_covers_csrc_and_setup(tmp_path, monkeypatch):
    h = gpu_check.csrc_hash()
    assert len(h) == 64 and h == gpu_check.csrc_hash()
    (tmp_path / "csrc").mkdir()
    (tmp_path / "csrc" / "a.cpp").write_text("int a;")
    (tmp_path / "setup.py").write_text("")
    monkeypatch.setattr(gpu_check, "ROOT", str(tmp_path))
    h1 = gpu_check.csrc_hash()
    (tmp_path / "csrc" / "a.cpp").write_text("int b;")
    assert gpu_check.csrc_hash() != h1


def test_whole_gpu_tier_dry_run_on_cpu(tmp_path):
    """Every GPU-tier test (not only the quick subset) runs on CPU tensors at small sizes: the tier's
    own logic (inputs, references, tolerances) is checked in CI although CI has no GPU."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["DIRFAST_GPU_TIER_DEVICE"] = "cpu"
    xml = tmp_path / "tier.xml"
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/gpu",
                          "-m", "gpu", f"--junitxml={xml}"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=900)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    counts = gpu_check.test_results(str(xml))
    assert {op for op, c in counts.items() if c[0] > 0} >= OPS, counts
    assert sum(c[1] for c in counts.values()) == 0, counts
