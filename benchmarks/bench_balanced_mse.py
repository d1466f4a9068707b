"""Benchmark: Balanced MSE (BMC / GAI / BNI), forward + backward, CPU fp32 (or CUDA).

    python -m benchmarks.bench_balanced_mse [--device cpu|cuda] [--sizes default|quick|check] [--rounds R] [--memory]

Inputs: ``pred [B, 1]`` fp32 (requires grad), ``target [B, 1]``: integer ages in [0, 100) (``ages``:
~100 unique values) or continuous ``50 + 20·N(0, 1)`` (``cont``: all unique); ``pred = target +
5·N(0, 1)``; a learnable ``σ`` (``noise_sigma = 8``, requires grad: the loss sees ``σ²``); GAI: a
K = 8 GMM fitted on the batch's labels (``dirfast.fit_gmm``); BNI: 100 unit buckets with the batch
histogram as weights. Every timed call is the loss forward + ``loss.backward()`` (grads reset
untimed). Providers, interleaved:

* ``exp_floor`` — the transcendental floor: one ``torch.exp`` per (row, component) pair, i.e. over
  ``B·K`` fp32 elements (BMC: ``K = B``) in ``[rows, K]`` chunks of 2²⁰ elements (into a
  preallocated buffer) — every Balanced MSE implementation evaluates at least these exponentials;
* ``dirfast_cpu`` — ``dirfast.{bmc,gai,bni}_loss(..., noise_sigma=σ, backend="cpu")``: one C++
  pass per direction (``dirfast._C``; nothing ``B × B`` stored, gradients from the forward's softmax);
* ``naive_torch`` — the dense PyTorch reference (``backend="reference"``: ``[B, K]`` logits,
  ``torch.logsumexp``, autograd);
* ``official`` — the literal official code (``tests/_official_bmse.py``: ``[B, B]`` logits +
  ``F.cross_entropy``; GAI/BNI with float64 prior tensors, as officially), autograd.

Dense BMC providers are skipped above B = 4,096 (``[B, B]`` fp32 temporaries of 1 GB each at 16,384).
``--memory``: peak extra RSS (``VmHWM`` of a fresh subprocess after one forward + backward minus its
value after a warm-up at B = 8) of BMC at B = 16,384 for ``dirfast_cpu`` and at B = 4,096 and 8,192 for
the official code (its ``B²`` growth is measured at those two sizes and its B = 16,384 figure
extrapolated by ``B²``: a 16,384² run needs several GB on this shared machine).
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

OP = "balanced_mse"
DENSE_MAX = 4096
SIGMA = 8.0
SIZES = {
    "default": [("bmc", b, lab) for b in (256, 1024, 4096, 16384) for lab in ("ages", "cont")]
               + [(k, b, "ages") for k in ("gai", "bni") for b in (1024, 16384)],
    "quick": [("bmc", 256, "ages"), ("gai", 256, "ages"), ("bni", 256, "ages")],
    "check": [("bmc", 256, "ages"), ("gai", 256, "ages"), ("bni", 256, "ages")],
}
CHUNK = 1 << 20


def _setup(kind: str, b: int, labels: str, seed: int = 0):
    def setup():
        g = torch.Generator().manual_seed(seed)
        if labels == "ages":
            y = torch.randint(0, 100, (b, 1), generator=g).float()
        else:
            y = 50 + 20 * torch.randn(b, 1, generator=g)
        p = (y + 5 * torch.randn(b, 1, generator=g)).requires_grad_(True)
        x = {"kind": kind, "p": p, "y": y, "s": torch.tensor(SIGMA, requires_grad=True)}
        if kind == "gai":
            gmm = dirfast.fit_gmm(y, 8, seed=0, max_iter=50)
            x["gmm"] = gmm
            x["gmm32"] = dirfast.GMM(*(t.float() for t in gmm))
            x["gmm_off"] = {"weights": gmm.weights, "means": gmm.means[:, None],
                            "variances": gmm.variances[:, None, None]}
        elif kind == "bni":
            c, w = dirfast.bni_prior(y, dirfast.Bins(0, 1, 100), centers="left")
            x["c"], x["w"], x["c32"], x["w32"] = c, w, c.float(), w.float()
        k = b if kind == "bmc" else (8 if kind == "gai" else int(x["c"].numel()))
        rows = max(1, CHUNK // k)
        x["exp_buf"] = torch.empty(min(rows, b), k)
        x["exp_src"] = torch.randn(min(rows, b), k)
        return x

    return setup


def build_cases(sizes="default", device: str = "cpu") -> List[Case]:
    sizes = runner.sizes_arg(sizes)
    cases = []
    for kind, b, labels in SIZES[sizes]:
        k = b if kind == "bmc" else (8 if kind == "gai" else 100)
        cases.append(Case(
            name=f"{kind}_B{b}" + (f"_{labels}" if kind == "bmc" else ""),
            params={"n": b, "kind": kind, "dtype": "float32", "labels": labels, "components": k,
                    "shapes": f"pred/target [{b},1]", "pairs": b * k},
            setup=_setup(kind, b, labels)))
    return cases


def _reset(x):
    x["p"].grad = None
    x["s"].grad = None


def _dirfast(backend):
    def fn(x):
        kw = dict(noise_sigma=x["s"], backend=backend, validate=False)
        if x["kind"] == "bmc":
            loss = dirfast.bmc_loss(x["p"], x["y"], **kw)
        elif x["kind"] == "gai":
            loss = dirfast.gai_loss(x["p"], x["y"], x["gmm32"], **kw)
        else:
            loss = dirfast.bni_loss(x["p"], x["y"], None, x["c32"], x["w32"], **kw)
        loss.backward()
        return loss

    return fn


def _official(x):
    off = _official_mod.load("bmse")
    v = x["s"] ** 2
    if x["kind"] == "bmc":
        loss = off.official_bmc(x["p"], x["y"], v)
    elif x["kind"] == "gai":
        loss = off.official_gai(x["p"], x["y"], x["gmm_off"], v)
    else:
        loss = off.official_bni(x["p"], x["y"], v, x["c"], x["w"])
    loss.backward()
    return loss


def _exp_floor(x):
    buf, src = x["exp_buf"], x["exp_src"]
    rows, k = buf.shape
    n = x["p"].shape[0]
    for _ in range(0, n, rows):
        torch.exp(src, out=buf)


def _dense_skip(c: Case) -> Optional[str]:
    if c.params["kind"] == "bmc" and c.params["n"] > DENSE_MAX:
        return f"dense [B, B] above B = {DENSE_MAX}: 1 GB per fp32 temporary at 16,384"
    return None


def build_providers() -> List[Provider]:
    return [
        runner.compute_floor("exp_floor", _exp_floor, "transcendental floor: torch.exp over B*K fp32 "
                                                       "elements (BMC: K = B) in 2^20-element chunks"),
        Provider("dirfast_cpu", _dirfast("cpu"), reset=_reset, devices=("cpu",),
                 description="dirfast.{bmc,gai,bni}_loss(noise_sigma=σ, backend='cpu') + backward (chunked)"),
        Provider("dirfast", _dirfast("auto"), reset=_reset, devices=("cuda",),
                 description="dirfast.{bmc,gai,bni}_loss(noise_sigma=σ, backend='auto') + backward (Triton)"),
        Provider("naive_torch", _dirfast("reference"), reset=_reset, skip=_dense_skip,
                 description="dense PyTorch reference (backend='reference'), autograd"),
        Provider("official", _official, reset=_reset, skip=_dense_skip,
                 available=lambda: _official_mod.available("bmse"),
                 description="official code (tests/_official_bmse.py): [B,B] logits + F.cross_entropy; "
                             "GAI/BNI float64 priors; autograd"),
    ]


def check_agreement(providers: Sequence[Provider], device: str = "cpu") -> List[str]:
    lines = []
    for kind in ("bmc", "gai", "bni"):
        x = runner.to_device(_setup(kind, 256, "ages")(), device)
        lines += runner.check_against(providers, x, device, "naive_torch", extract=runner.loss_and_grad("p"),
                                      label=f"{kind}_B256", head=f"{kind} B256 fp32 ({device})")
    return lines


_MEM_CHILD = r"""
import json, sys, torch, dirfast
sys.path.insert(0, sys.argv[3])

def hwm_kb():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))

torch.set_num_threads(2)
b, who = int(sys.argv[1]), sys.argv[2]
from _official_bmse import official_bmc
g = torch.Generator().manual_seed(0)
y = torch.randint(0, 100, (b, 1), generator=g).float()
p = (y + 5 * torch.randn(b, 1, generator=g)).requires_grad_(True)
s = torch.tensor(8.0, requires_grad=True)
f = (lambda p, y: dirfast.bmc_loss(p, y, noise_sigma=s, backend="cpu", validate=False)) if who == "dirfast" \
    else (lambda p, y: official_bmc(p, y, s ** 2))
f(p[:8], y[:8]).backward()
base = hwm_kb()
f(p, y).backward()
print(json.dumps({"extra_mb": (hwm_kb() - base) / 1024}))
"""


def peak_memory(b: int, who: str) -> float:
    """Peak extra RSS in MB of one BMC forward + backward at batch ``b`` (``who``: dirfast | official)."""
    res = subprocess.run([sys.executable, "-c", _MEM_CHILD, str(b), who, _official_mod.TESTS],
                         capture_output=True, text=True, timeout=900)
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-2000:])
    return json.loads(res.stdout.strip().splitlines()[-1])["extra_mb"]


def report(results, args, cases: Sequence[Case], file=sys.stdout) -> None:
    print(file=file)
    if args.device == "cuda":
        runner.print_summary(results, "dirfast", file=file)
        return
    for c in cases:
        parts = [f"{c.name}: dirfast_cpu / exp_floor = {runner.ratio(results, c.name, 'dirfast_cpu'):.2f}x"]
        for other in ("official", "naive_torch"):
            r_o, r_d = runner.find(results, c.name, other), runner.find(results, c.name, "dirfast_cpu")
            if r_o is not None and r_d is not None and r_o.min_ms and r_d.min_ms:
                parts.append(f"{other} / dirfast_cpu = {r_o.min_ms / r_d.min_ms:.2f}x (min-of-N)")
        print("; ".join(parts), file=file)
    if args.memory:
        mb = peak_memory(16384, "dirfast")
        print(f"BMC peak extra RSS B=16384 dirfast_cpu: {mb:.1f} MB "
              f"(inputs + grads: {4 * 16384 * 4 / 2**20:.2f} MB; the C++ pass: O(B) scratch per "
              f"thread; the PyTorch path, without dirfast._C: chunk temporaries ~6 x "
              f"{CHUNK * 4 / 2**20:.0f} MB)", file=file)
        off = {b: peak_memory(b, "official") for b in (4096, 8192)}
        for b, v in off.items():
            print(f"BMC peak extra RSS B={b} official: {v:.0f} MB ({v * 2**20 / (b * b * 4):.1f} "
                  f"fp32 [B,B] buffers)", file=file)
        est = off[8192] * 4
        print(f"BMC official at B=16384 (B^2 extrapolation of B=8192): ~{est:.0f} MB", file=file)


def main(argv: Optional[Sequence[str]] = None):
    def extra(p):
        p.add_argument("--memory", action="store_true",
                       help="CPU: peak extra RSS of BMC at B=16384 (dirfast) and 4096/8192 (official)")

    args = runner.parse_args(OP, argv, description=__doc__.splitlines()[0], extra=extra)
    providers = build_providers()
    checks = check_agreement(providers, args.device)
    cases = build_cases(args.sizes, args.device)
    for c in cases:
        c.params["device"] = args.device
    return runner.run_checked(OP, args, cases, providers, before=checks,
                              report=lambda results, args: report(results, args, cases))


if __name__ == "__main__":
    main()
