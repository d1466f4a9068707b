"""Benchmark: ConR (official variant), forward + backward on CPU (fp32).

    python -m benchmarks.bench_conr [--quick] [--rounds R] [--threads T] [--out DIR] [--memory]

Inputs: two-view batch, ``features [M, D]`` fp32 post-ReLU (requires grad), integer ages in
[0, 100) (each label twice), predictions = labels + N(0, 5²), weights U[0.5, 1.5). Every timed call
is the loss forward + ``loss.backward()`` (``features.grad`` reset untimed). Providers, interleaved:

* ``gemm_floor`` — the GEMM floor: ``torch.mm(U, Uᵀ)`` twice for ``U [M, D]`` fp32, i.e. two
  ``[M, D]×[D, M]`` products = 4·M²·D FLOPs, what an exact dense method needs (``s = UUᵀ`` forward,
  ``(G + Gᵀ)·U`` backward);
* ``dirfast_cpu`` — ``dirfast.conr_loss(..., variant="official", backend="cpu")``: the streaming
  path (``CHUNK_ROWS`` rows at a time, nothing ``M×M`` stored);
* ``dense_torch`` — a dense PyTorch implementation of the same semantics with autograd
  (``dirfast.conr_loss(..., backend="reference")``: ``[M, M]`` masks and temporaries).

Cases: ``M512_D2048``, ``M4096_D512`` (acceptance: dirfast_cpu ≤ 2.5× the GEMM floor, min-of-N),
``M8192_D512``. ``--quick``: M=256, D=64 only. ``--memory``: peak extra RSS (``VmHWM`` of a fresh
subprocess minus its post-import baseline) of dirfast vs dense at M=4096, D=512.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import List, Optional, Sequence

import torch

import dirfast

from . import runner
from .runner import Case, Provider

OP = "conr"
ACCEPT_RATIO = 2.5
FULL = [(512, 2048), (4096, 512), (8192, 512)]
QUICK = [(256, 64)]


def _setup(m: int, d: int, seed: int = 0):
    def setup():
        g = torch.Generator().manual_seed(seed)
        z = torch.randn(m, d, generator=g).relu().requires_grad_(True)
        y = torch.randint(0, 100, (m // 2,), generator=g).float()
        y = torch.cat([y, y])
        yh = y + 5 * torch.randn(m, generator=g)
        a = torch.rand(m, generator=g) + 0.5
        return {"z": z, "y": y, "yh": yh, "a": a, "u": torch.randn(m, d, generator=g)}

    return setup


def build_cases(quick: bool) -> List[Case]:
    return [Case(name=f"M{m}_D{d}", params={"n": m, "dtype": "float32", "shapes": f"features [{m},{d}]",
                                              "gflop_floor": round(4 * m * m * d / 1e9, 2)},
                 setup=_setup(m, d)) for m, d in (QUICK if quick else FULL)]


def _reset(x):
    x["z"].grad = None


def _conr(backend):
    def fn(x):
        loss = dirfast.conr_loss(x["z"], x["y"], x["yh"], x["a"], variant="official", backend=backend,
                                 validate=False)
        loss.backward()
        return loss

    return fn


def _floor(x):
    u = x["u"]
    torch.mm(u, u.t())
    torch.mm(u, u.t())


def build_providers() -> List[Provider]:
    return [
        runner.compute_floor("gemm_floor", _floor, "GEMM floor: torch.mm(U, U^T) twice (4*M^2*D FLOPs)"),
        Provider("dirfast_cpu", _conr("cpu"), reset=_reset,
                 description="dirfast.conr_loss(variant='official', backend='cpu') + backward (streaming)"),
        Provider("dense_torch", _conr("reference"), reset=_reset,
                 skip=lambda c: "dense M=8192 too slow/large here" if c.params["n"] > 4096 else None,
                 description="dense PyTorch, same semantics, autograd (backend='reference')"),
    ]


# Peak RSS of the child's own address space: VmHWM from /proc/self/status. Not ru_maxrss: Linux folds
# the parent's high-water mark into the child's ru_maxrss at fork+exec, so after the timing runs (a
# large parent) it reported 0 MB for both backends.
_MEM_CHILD = r"""
import json, sys, torch, dirfast

def hwm_kb():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))

torch.set_num_threads(2)
m, d, backend = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
g = torch.Generator().manual_seed(0)
z = torch.randn(m, d, generator=g).relu().requires_grad_(True)
y = torch.randint(0, 100, (m // 2,), generator=g).float(); y = torch.cat([y, y])
yh = y + 5 * torch.randn(m, generator=g); a = torch.rand(m, generator=g) + 0.5
dirfast.conr_loss(z[:8], y[:8], yh[:8], a[:8], variant="official", backend=backend).backward()
base = hwm_kb()
loss = dirfast.conr_loss(z, y, yh, a, variant="official", backend=backend, validate=False)
loss.backward()
peak = hwm_kb()
print(json.dumps({"extra_mb": (peak - base) / 1024}))
"""


def peak_memory(m: int, d: int, backend: str) -> float:
    """Peak extra RSS in MB (VmHWM after minus before; inputs included: features + grad = 2·M·D·4 B)."""
    res = subprocess.run([sys.executable, "-c", _MEM_CHILD, str(m), str(d), backend],
                         capture_output=True, text=True, timeout=600)
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-2000:])
    return json.loads(res.stdout.strip().splitlines()[-1])["extra_mb"]


def main(argv: Optional[Sequence[str]] = None):
    import argparse

    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_conr", description=__doc__.splitlines()[0])
    runner.add_common_args(p)
    p.add_argument("--memory", action="store_true", help="also measure peak extra RSS at M=4096, D=512")
    args = p.parse_args(argv)
    results = runner.run(OP, build_cases(args.quick), build_providers(), args)
    print()
    for c in build_cases(args.quick):
        r = runner.ratio(results, c.name, "dirfast_cpu")
        rm = runner.ratio(results, c.name, "dirfast_cpu", stat="median")
        rd = runner.ratio(results, c.name, "dense_torch")
        line = (f"{c.name}: dirfast_cpu / gemm_floor = {r:.2f}x (min-of-N), {rm:.2f}x (median); "
                f"dense_torch / gemm_floor = {rd:.2f}x")
        if c.name in ("M4096_D512", "M8192_D512"):
            line += f"  -> target <= {ACCEPT_RATIO}: {'PASS' if r <= ACCEPT_RATIO else 'FAIL'}"
        print(line)
    if args.memory:
        for backend in ("cpu", "reference"):
            mb = peak_memory(4096, 512, backend)
            print(f"peak extra RSS M=4096 D=512 backend={backend}: {mb:.0f} MB "
                  f"(features + grad alone: {2 * 4096 * 512 * 4 / 2**20:.0f} MB)")
    return results


if __name__ == "__main__":
    main()
