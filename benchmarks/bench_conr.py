"""Benchmark: ConR (official variant), forward + backward, CPU (fp32) or CUDA (fp32 IEEE / TF32 / bf16 / fp64).

    python -m benchmarks.bench_conr [--device cpu|cuda] [--sizes default|quick|check] [--rounds R] [--memory]

Inputs: two-view batch, ``features [M, D]`` post-ReLU (requires grad) in the case's dtype, integer
ages in [0, 100) (each label twice), predictions = labels + N(0, 5²), weights U[0.5, 1.5) (labels,
predictions and weights fp32, fp64 in the fp64 cases). Every timed call is the loss forward +
``loss.backward()`` (``features.grad`` reset untimed). Providers, interleaved:

* ``gemm_floor`` — the GEMM floor **per dtype**: ``torch.mm(U, Uᵀ)`` twice for ``U [M, D]`` in the
  case's dtype, i.e. two ``[M, D]×[D, M]`` products = 4·M²·D FLOPs, what an exact dense method needs
  (``s = UUᵀ`` forward, ``(G + Gᵀ)·U`` backward); fp32 cases with
  ``torch.backends.cuda.matmul.allow_tf32=False`` (IEEE), TF32 cases with it True (restored after);
* ``dirfast`` (CUDA) — ``dirfast.conr_loss(..., variant="official")`` (Triton flash-style kernels;
  ``input_precision="tf32"`` in the TF32 cases, ``"ieee"`` otherwise);
* ``dirfast_cpu`` (CPU) — the same with ``backend="cpu"``: the streaming path (``CHUNK_ROWS`` rows at
  a time, nothing ``M×M`` stored);
* ``naive_torch`` — a dense PyTorch implementation of the same semantics with autograd
  (``dirfast.conr_loss(..., backend="reference")``: ``[M, M]`` masks and temporaries);
* ``official`` — the official age loss (``tests/_official_conr.py``: dense ``[M, M]`` masks, a Python
  loop clearing the diagonal, ``einsum``), autograd; timed in the first 3 rounds only.

Cases ``M<M>_D<D>`` (CPU, fp32) / ``M<M>_D<D>_<fp32|tf32|bf16|fp64>`` (CUDA). CPU: ``default``
M512_D2048, M4096_D512 (acceptance: dirfast_cpu ≤ 2.5× the GEMM floor, min-of-N), M8192_D512 (dense
providers skipped above M = 4,096); ``quick``/``check`` M256_D64. CUDA: ``default`` M = 512 with D =
2,048 and 512 (a training batch of 256, two views), M = 4,096 / 8,192 / 16,384 with D = 512, each in
fp32 IEEE, TF32 and bf16, plus M4096_D512_fp64; ``check`` M512_D2048_fp32 and M4096_D512 in fp32 /
TF32 / bf16; ``quick`` M256_D64_fp32. ``--memory`` (CPU): peak extra RSS (``VmHWM`` of a fresh
subprocess minus its post-import baseline) of dirfast vs dense at M=4096, D=512 (on CUDA the
``peak_extra_mb`` column gives ``torch.cuda.max_memory_allocated`` per provider).
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import List, Optional, Sequence

import torch

import dirfast

from . import _official as _official_mod
from . import runner
from .runner import Case, Provider

OP = "conr"
ACCEPT_RATIO = 2.5
FULL = [(512, 2048), (4096, 512), (8192, 512)]
QUICK = [(256, 64)]
OFFICIAL_ROUNDS = 3
PRECS = ("fp32", "tf32", "bf16")
#: precision name -> (feature dtype, allow TF32)
PREC = {"fp32": (torch.float32, False), "tf32": (torch.float32, True), "bf16": (torch.bfloat16, False),
        "fp64": (torch.float64, False)}
SIZES = {
    ("cpu", "default"): [(m, d, "fp32") for m, d in FULL],
    ("cpu", "quick"): [(m, d, "fp32") for m, d in QUICK],
    ("cpu", "check"): [(m, d, "fp32") for m, d in QUICK],
    ("cuda", "default"): [(m, d, p) for m, d in ((512, 2048), (512, 512), (4096, 512), (8192, 512), (16384, 512))
                          for p in PRECS] + [(4096, 512, "fp64")],
    ("cuda", "quick"): [(256, 64, "fp32")],
    ("cuda", "check"): [(512, 2048, "fp32")] + [(4096, 512, p) for p in PRECS],
}


def _setup(m: int, d: int, prec: str = "fp32", seed: int = 0):
    dtype, tf32 = PREC[prec]
    ldtype = torch.float64 if dtype == torch.float64 else torch.float32

    def setup():
        g = torch.Generator().manual_seed(seed)
        z = torch.randn(m, d, generator=g).relu().to(dtype).requires_grad_(True)
        y = torch.randint(0, 100, (m // 2,), generator=g).to(ldtype)
        y = torch.cat([y, y])
        yh = y + 5 * torch.randn(m, generator=g).to(ldtype)
        a = torch.rand(m, generator=g).to(ldtype) + 0.5
        return {"z": z, "y": y, "yh": yh, "a": a, "u": torch.randn(m, d, generator=g).to(dtype), "tf32": tf32}

    return setup


def build_cases(sizes="default", device: str = "cpu") -> List[Case]:
    """``sizes``: ``"default" | "quick" | "check"`` (a bool is read as ``quick``, the old signature)."""
    sizes = runner.sizes_arg(sizes)
    cases = []
    for m, d, prec in SIZES[(device, sizes)]:
        dtype, tf32 = PREC[prec]
        es = torch.finfo(dtype).bits // 8
        cases.append(Case(
            name=f"M{m}_D{d}" + ("" if device == "cpu" else f"_{prec}"),
            params={"n": m, "dtype": str(dtype).split(".")[-1], "precision": "tf32" if tf32 else "ieee",
                    "shapes": f"features [{m},{d}]", "gflop_floor": round(4 * m * m * d / 1e9, 2),
                    "working_set_mb": round(3 * m * d * es / 2**20, 1)},
            setup=_setup(m, d, prec)))
    return cases


def _reset(x):
    x["z"].grad = None


def _conr(backend):
    def fn(x):
        loss = dirfast.conr_loss(x["z"], x["y"], x["yh"], x["a"], variant="official", backend=backend,
                                 input_precision="tf32" if x["tf32"] else "ieee", validate=False)
        loss.backward()
        return loss

    return fn


def _floor(x):
    runner.gemm_floor_fn("u", tf32=x["tf32"])(x)


def _official(x):
    # the official code takes [M, 1] labels, predictions and weights
    loss = _official_mod.load("conr").official_conr(x["z"], x["y"][:, None], x["yh"][:, None], w=1.0,
                                                    weights=x["a"][:, None], t=0.07, e=0.01)
    loss.backward()
    return loss


def _dense_skip(c: Case) -> Optional[str]:
    if c.params.get("device", "cpu") == "cpu" and c.params["n"] > 4096:
        return "dense M > 4096 too slow/large on CPU"
    return None


def build_providers() -> List[Provider]:
    return [
        runner.compute_floor("gemm_floor", _floor, "GEMM floor: torch.mm(U, U^T) twice (4*M^2*D FLOPs) in the "
                                                   "case's dtype; allow_tf32 = the case's precision"),
        Provider("dirfast", _conr("auto"), reset=_reset, devices=("cuda",),
                 description="dirfast.conr_loss(variant='official', backend='auto') + backward (Triton)"),
        Provider("dirfast_cpu", _conr("cpu"), reset=_reset, devices=("cpu",),
                 description="dirfast.conr_loss(variant='official', backend='cpu') + backward (streaming)"),
        Provider("naive_torch", _conr("reference"), reset=_reset, skip=_dense_skip,
                 description="dense PyTorch, same semantics, autograd (backend='reference')"),
        Provider("official", _official, reset=_reset, skip=_dense_skip, max_rounds=OFFICIAL_ROUNDS,
                 available=lambda: _official_mod.available("conr"),
                 description="official age loss (tests/_official_conr.py): dense masks, diagonal loop, einsum; "
                             "autograd"),
    ]


def check_agreement(providers: Sequence[Provider], device: str = "cpu", m: int = 256, d: int = 64) -> List[str]:
    """Untimed, fp32 IEEE: every provider's loss and gradient against naive_torch (dense reference)."""
    return runner.check_against(providers, runner.to_device(_setup(m, d)(), device), device, "naive_torch",
                                extract=runner.loss_and_grad("z"), label=f"M{m}_D{d}",
                                head=f"M{m}_D{d} fp32 ({device})")


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


def report(results, args, cases: Sequence[Case], file=sys.stdout) -> None:
    print(file=file)
    if args.device == "cuda":
        runner.print_summary(results, "dirfast", file=file)
        return
    for c in cases:
        r = runner.ratio(results, c.name, "dirfast_cpu")
        rm = runner.ratio(results, c.name, "dirfast_cpu", stat="median")
        rd = runner.ratio(results, c.name, "naive_torch")
        line = (f"{c.name}: dirfast_cpu / gemm_floor = {r:.2f}x (min-of-N), {rm:.2f}x (median); "
                f"naive_torch / gemm_floor = {rd:.2f}x")
        if c.name in ("M4096_D512", "M8192_D512"):
            line += f"  -> target <= {ACCEPT_RATIO}: {'PASS' if r <= ACCEPT_RATIO else 'FAIL'}"
        print(line, file=file)
    if args.memory:
        for backend in ("cpu", "reference"):
            mb = peak_memory(4096, 512, backend)
            print(f"peak extra RSS M=4096 D=512 backend={backend}: {mb:.0f} MB "
                  f"(features + grad alone: {2 * 4096 * 512 * 4 / 2**20:.0f} MB)", file=file)


def main(argv: Optional[Sequence[str]] = None):
    def extra(p):
        p.add_argument("--memory", action="store_true", help="CPU: also measure peak extra RSS at M=4096, D=512")

    args = runner.parse_args(OP, argv, description=__doc__.splitlines()[0], extra=extra)
    providers = build_providers()
    # on CUDA at the timed D (the kernels' configs depend on D: no extra Triton compile for the check)
    checks = check_agreement(providers, args.device, d=64 if args.device == "cpu" else 512)
    cases = build_cases(args.sizes, args.device)
    for c in cases:
        c.params["device"] = args.device
    return runner.run_checked(OP, args, cases, providers, before=checks,
                              report=lambda results, args: report(results, args, cases))


if __name__ == "__main__":
    main()
