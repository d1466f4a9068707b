"""``make gpu-check``: one prepared, bounded run of the GPU tier and the GPU benchmarks.

    python -m benchmarks.gpu_check [--device cuda|cpu] [--out DIR] [--tests-timeout S] [--bench-timeout S]

Made for a scarce GPU machine without network (README "GPU check"): it uses the running python and
its packages (no venv, no downloads, nothing newer than torch 2.11 assumed), and

1. reuses ``dirfast/_C*.so`` built beforehand for this python (``make gpu-prebuilt`` on a CPU machine
   writes them with a hash of ``csrc/``) when they import and the hash matches, else builds them in
   place (``setup.py build_ext --inplace``, nvcc on PATH → ``dirfast._C_cuda`` too);
2. runs the quick subset of the GPU tier, ``pytest -m "gpu and gpu_check" tests/gpu``;
3. runs every benchmark at its decisive sizes, ``python -m benchmarks.run_all --device cuda --sizes
   check``;
4. prints one summary table last — op, correct? (the GPU tier's tests of that op), GPU ms, wall ms,
   launches, × floor, × naive, × official — and writes it (``summary.md``, ``summary.csv``), the
   junit XML, the benchmark CSVs/plots and the whole log (``gpu_check.log``) to ``--out``
   (default ``$GPU_CHECK_OUT``, else ``benchmarks/results/gpu``).

Each stage runs in a subprocess with its own time limit, so the whole check stays under ~5 minutes on
an H200 and can run twice in one session. ``--device cpu`` is the dry run CI executes (tiny sizes:
``DIRFAST_GPU_TIER_DEVICE=cpu``, the benchmarks' CPU check sizes) so that the script cannot rot.
"""

from __future__ import annotations

import argparse
import csv
import glob
import hashlib
import os
import platform
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HASH_FILE = os.path.join(ROOT, "dirfast", ".prebuilt-csrc.sha256")
DEFAULT_OUT = os.environ.get("GPU_CHECK_OUT") or os.path.join(ROOT, "benchmarks", "results", "gpu")

# the summary's op of each GPU-tier test (by test function, then by the step case in its id)
TEST_OPS = {
    "test_weighted_loss": "weighted_loss", "test_weighted_loss_large": "weighted_loss",
    "test_weighted_loss_fp32_large_values_exact_reduction": "weighted_loss",
    "test_loss_device_mismatch_names_both_devices": "weighted_loss",
    "test_lds_forward_equals_cpu": "lds", "test_shot_metrics_equals_cpu": "shot_metrics",
    "test_fds_bin_stats": "fds_stats", "test_fds_bin_stats_agedb_size": "fds_stats", "test_fds_calibrate": "fds_calibrate",
    "test_fds_calibrate_agedb_size": "fds_calibrate", "test_fds_module_matches_cpu": "fds_module",
    "test_fds_module_low_precision_features": "fds_module",
    "test_soft_sort": "soft_sort", "test_soft_sort_ties_equal_cpu_path": "soft_sort",
    "test_dist_loss": "dist_loss", "test_dist_loss_module": "dist_loss",
    "test_loss_modules": "weighted_loss", "test_conr_module": "conr", "test_soft_sort_modules": "soft_sort",
    "test_fit_time_helpers_on_device": "fit_helpers",
}
STEP_OPS = {
    "mse": "weighted_loss", "l1": "weighted_loss", "focal_l1": "weighted_loss",
    "focal_mse": "weighted_loss", "huber": "weighted_loss", "lds_focal_l1": "lds",
    "fds_calibrate": "fds_calibrate", "nn_fds": "fds_module", "conr": "conr", "soft_sort": "soft_sort",
    "soft_rank": "soft_sort", "dist_loss": "dist_loss", "nn_dist_loss": "dist_loss",
}
SUMMARY_COLUMNS = ["op", "case", "provider", "correct", "gpu_ms", "wall_ms", "launches", "x_floor",
                   "x_naive", "x_official"]


class Tee:
    """Everything printed goes to the terminal and to the log file."""

    def __init__(self, path: str):
        self.f = open(path, "w")

    def __call__(self, *parts, end="\n"):
        text = " ".join(str(p) for p in parts) + end
        sys.stdout.write(text)
        sys.stdout.flush()
        self.f.write(text)
        self.f.flush()


def csrc_hash() -> str:
    h = hashlib.sha256()
    files = sorted(glob.glob(os.path.join(ROOT, "csrc", "**", "*"), recursive=True)) + \
        [os.path.join(ROOT, "setup.py")]
    for path in files:
        if os.path.isfile(path):
            h.update(os.path.relpath(path, ROOT).encode())
            with open(path, "rb") as f:
                h.update(f.read())
    return h.hexdigest()


def _import_check(code: str) -> bool:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True).returncode == 0


def ensure_extensions(log, device: str) -> Dict[str, str]:
    """Reuse prebuilt extensions for this python when current, else build them in place."""
    want_cuda = device == "cuda"
    probe = ("import dirfast._ext as e; assert e.available()" +
             ("; assert e.cuda_available()" if want_cuda else ""))
    prebuilt = os.path.exists(HASH_FILE) and open(HASH_FILE).read().strip() == csrc_hash()
    if _import_check(probe) and (prebuilt or not os.path.exists(HASH_FILE)):
        how = "prebuilt (csrc hash matches)" if prebuilt else "already built"
        log(f"extensions: {how}")
        return {"extensions": how}
    env = dict(os.environ, DIRFAST_BUILD_EXT="1", DIRFAST_BUILD_CUDA="1" if want_cuda else "auto")
    t0 = time.time()
    log("extensions: building in place (setup.py build_ext --inplace) ...")
    res = subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=ROOT,
                         env=env, capture_output=True, text=True)
    log(res.stdout[-2000:] + res.stderr[-4000:])
    how = f"built here in {time.time() - t0:.0f} s (rc {res.returncode})"
    log(f"extensions: {how}")
    return {"extensions": how}


def conditions(log, device: str) -> None:
    import torch

    log(f"date {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; python {platform.python_version()}; "
        f"torch {torch.__version__}")
    try:
        import triton

        log(f"triton {triton.__version__}")
    except ImportError:
        log("triton: not installed")
    if device == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("gpu_check: --device cuda but torch.cuda.is_available() is False "
                             "(use --device cpu for the dry run)")
        p = torch.cuda.get_device_properties(0)
        log(f"GPU {p.name}, {p.total_memory / 2**30:.0f} GiB, {p.multi_processor_count} SMs, "
            f"capability {p.major}.{p.minor}; CUDA {torch.version.cuda}; devices {torch.cuda.device_count()}")
    log(f"cpu threads {torch.get_num_threads()}; load {os.getloadavg()}")


def run_stage(log, name: str, cmd: Sequence[str], timeout: float, env: Optional[dict] = None) -> int:
    log(f"\n=== {name}: {' '.join(cmd)} (limit {timeout:.0f} s)")
    t0 = time.time()
    proc = subprocess.Popen(list(cmd), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = t0 + timeout
        for line in proc.stdout:
            log(line, end="")
            if time.time() > deadline:
                raise subprocess.TimeoutExpired(cmd, timeout)
        rc = proc.wait(timeout=max(deadline - time.time(), 1))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        log(f"=== {name}: TIMED OUT after {timeout:.0f} s (results so far are kept)")
        return 124
    log(f"=== {name}: rc {rc} in {time.time() - t0:.0f} s")
    return rc


def test_results(xml_path: str) -> Dict[str, List[int]]:
    """``{op: [passed, failed, skipped, xfailed]}`` from pytest's junit XML."""
    out: Dict[str, List[int]] = defaultdict(lambda: [0, 0, 0, 0])
    if not os.path.exists(xml_path):
        return out
    for tc in ET.parse(xml_path).getroot().iter("testcase"):
        name = tc.get("name", "")
        fn, _, params = name.partition("[")
        op = TEST_OPS.get(fn)
        if op is None and "test_gpu_conr" in tc.get("classname", ""):
            op = "conr"
        if op is None:
            op = STEP_OPS.get(params.rstrip("]"), "other")
        kids = {child.tag: child for child in tc}
        if "failure" in kids or "error" in kids:
            out[op][1] += 1
        elif "skipped" in kids:
            msg = kids["skipped"].get("type", "") + kids["skipped"].get("message", "")
            out[op][3 if "xfail" in msg.lower() else 2] += 1
        else:
            out[op][0] += 1
    return out


def _verdict(counts: Optional[List[int]]) -> str:
    if not counts or sum(counts) == 0:
        return "no test"
    p, f, s, x = counts
    word = "FAIL" if f else "ok"
    extra = "".join(f" {k}{v}" for k, v in (("skip", s), ("xfail", x)) if v)
    return f"{word} {p}/{p + f}{extra}"


def _num(row: Dict[str, str], key: str, nd: int = 3) -> str:
    v = row.get(key, "")
    try:
        x = float(v)
    except (TypeError, ValueError):
        return ""
    return f"{x:.{nd}g}" if x == x else ""


def summary_rows(out_dir: str, tests: Dict[str, List[int]]) -> List[Dict[str, str]]:
    rows = []
    seen_ops = set()
    for path in sorted(glob.glob(os.path.join(out_dir, "*.csv"))):
        base = os.path.basename(path)
        if base.startswith("summary"):
            continue
        with open(path, newline="") as f:
            data = list(csv.DictReader(f))
        for r in data:
            if r.get("kind") != "op" or not r.get("provider", "").startswith("dirfast"):
                continue
            op = r.get("op", base[:-4])
            seen_ops.add(op)
            rows.append({
                "op": op, "case": r.get("case", ""), "provider": r["provider"],
                "correct": _verdict(tests.get(op)),
                "gpu_ms": _num(r, "gpu_ms") or _num(r, "min_ms"), "wall_ms": _num(r, "wall_ms"),
                "launches": r.get("launches", ""), "x_floor": _num(r, "ratio_to_floor"),
                "x_naive": _num(r, "ratio_to_naive"), "x_official": _num(r, "ratio_to_official"),
            })
    for op, counts in sorted(tests.items()):  # ops with tests but no benchmark row
        if op not in seen_ops:
            rows.append({"op": op, "case": "", "provider": "", "correct": _verdict(counts),
                         **{k: "" for k in SUMMARY_COLUMNS[4:]}})
    return rows


def write_summary(log, rows: List[Dict[str, str]], out_dir: str, header: str) -> None:
    with open(os.path.join(out_dir, "summary.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=SUMMARY_COLUMNS)
        w.writeheader()
        w.writerows(rows)
    lines = [header, "", "| " + " | ".join(SUMMARY_COLUMNS) + " |",
             "|" + "---|" * len(SUMMARY_COLUMNS)]
    lines += ["| " + " | ".join(r[c] for c in SUMMARY_COLUMNS) + " |" for r in rows]
    text = "\n".join(lines)
    with open(os.path.join(out_dir, "summary.md"), "w") as f:
        f.write(text + "\n")
    log("\n=== summary\n" + text)


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check", description=__doc__.splitlines()[0])
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    p.add_argument("--out", default=DEFAULT_OUT)
    # first H200 run (2026-12-04): the quick GPU tier took 107 s, the benchmarks at check sizes 154 s
    # before they were cut (~80-90 s estimated since): 150 + 130 s keeps the check under 5 minutes
    p.add_argument("--tests-timeout", type=float, default=150.0)
    p.add_argument("--bench-timeout", type=float, default=130.0)
    p.add_argument("--skip-tests", action="store_true")
    p.add_argument("--skip-bench", action="store_true")
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    log = Tee(os.path.join(args.out, "gpu_check.log"))
    t0 = time.time()
    info = ensure_extensions(log, args.device)
    conditions(log, args.device)
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env.setdefault("TRITON_DEFAULT_FP_FUSION", "1")
    env["PYTHONUNBUFFERED"] = "1"
    env["DIRFAST_GPU_TIER_DEVICE"] = args.device
    xml = os.path.join(args.out, "gpu_tests.xml")
    rc_tests = rc_bench = 0
    if not args.skip_tests:
        rc_tests = run_stage(log, "GPU tier (quick subset)", [
            sys.executable, "-m", "pytest", "-q", "-rfEx", "--durations=12", "-p", "no:cacheprovider", "tests/gpu",
            "-m", "gpu and gpu_check", f"--junitxml={xml}"], args.tests_timeout, env)
    if not args.skip_bench:
        rc_bench = run_stage(log, "GPU benchmarks (check sizes)", [
            sys.executable, "-m", "benchmarks.run_all", "--device", args.device, "--sizes", "check",
            "--out", args.out, "--no-progress"], args.bench_timeout, env)
    tests = test_results(xml)
    header = (f"gpu-check {time.strftime('%Y-%m-%d')} on {args.device} — tests rc {rc_tests}, "
              f"benchmarks rc {rc_bench}, {time.time() - t0:.0f} s; {info['extensions']}")
    write_summary(log, summary_rows(args.out, tests), args.out, header)
    return 1 if (rc_tests or rc_bench) else 0


if __name__ == "__main__":
    sys.exit(main())
