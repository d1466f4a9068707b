"""Benchmark: soft sort forward + backward (fp32) against the sort floor, CPU or CUDA.

    python -m benchmarks.bench_soft_sort [--device cpu|cuda] [--sizes default|quick|check] [--rounds R]

Inputs: ``x [rows, n]`` fp32 age-scale predictions with heavy tails, ``45 + 15·t₃`` (Student t, 3
degrees of freedom), ``eps = 0.1`` (Dist Loss's default): the tails have gaps ≥ 1/eps = 10 years, so
some blocks pool (the PAV does real work, spec §1.3). Every timed call is ``soft_sort`` forward +
``backward(g)`` with a fixed random ``g`` (``x.grad`` reset untimed). Providers, interleaved:

* ``sort_floor`` — ``torch.sort(x, dim=-1)`` of the same data (values + indices), the compute floor
  (docs/conventions.md);
* ``dirfast`` (CUDA) — ``dirfast.soft_sort(x, 0.1)`` (``backend="auto"``: the CUDA C++ PAV of
  ``dirfast._C_cuda`` when built, else the Triton path);
* ``dirfast_cpu`` (CPU) — ``dirfast.soft_sort(x, 0.1, backend="cpu")``: the fused per-row sort + PAV of
  ``dirfast._C`` + block-mean backward;
* ``dirfast_cpu_torch`` (CPU) — the pure-PyTorch path (``backend="auto"`` with the extension hidden):
  vectorised hard sort + gap test, a Python stack PAV on the rows that pool;
* ``naive_torch`` — ``dirfast.soft_sort(x, 0.1, backend="reference")``: PyTorch sort + a Python stack
  PAV every call, autograd through the block means;
* ``scipy_isotonic`` (CPU) — ``np.argsort`` + ``scipy.optimize.isotonic_regression`` per row (the
  textbook uncentred form ``ŝ = w − iso(w − x)``) + a numpy block-mean backward (``np.bincount``);
* ``official`` — the soft sort of the official Dist Loss (fast-soft-sort's NumPy PAV, fp64, one row at
  a time: ``tests/_official_distloss._OfficialSoftSort``; rows copied to the host and back, as
  officially); timed in the first 3 rounds only;
* ``torchsort`` — ``torchsort.soft_sort(x, regularization_strength=0.1)`` + backward (0.1.10; skipped
  when not installed: ``PATH=<venv>/bin:/usr/bin:/bin pip install --no-build-isolation
  torchsort==0.1.10``).

Sizes (case ``<rows>x<n>``). CPU: ``default`` 1x100000, 1x1000000, 256x100 (acceptance: dirfast_cpu ≤
1.3× the sort floor and no slower than torchsort, min-of-N); ``quick`` 1x4096 and 16x100; ``check``
16x100. CUDA: ``default`` 256x100, 1x100000, 1x1000000, 1024x1024 and the training batches 1x256,
1x4096 (one Dist Loss row); ``check`` 256x100 and 1x100000 (many short rows, one long row; the
official NumPy soft sort takes seconds at 1M);
``quick`` 1x4096 and 16x100.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import List, Optional, Sequence

import numpy as np
import torch

import dirfast
from dirfast import _ext

from . import _official as _official_mod
from . import runner
from .runner import Case, Provider

OP = "soft_sort"
EPS = 0.1
ACCEPT_RATIO = 1.3
FULL = [(1, 100_000), (1, 1_000_000), (256, 100)]
QUICK = [(1, 4096), (16, 100)]
OFFICIAL_ROUNDS = 3
SIZES = {
    ("cpu", "default"): FULL, ("cpu", "quick"): QUICK, ("cpu", "check"): [(16, 100)],
    ("cuda", "default"): [(256, 100), (1, 100_000), (1, 1_000_000), (1024, 1024), (1, 256), (1, 4096)],
    ("cuda", "quick"): QUICK, ("cuda", "check"): [(256, 100), (1, 100_000)],
}


def _setup(rows: int, n: int, seed: int = 0):
    def setup():
        g = torch.Generator().manual_seed(seed)
        rng = np.random.default_rng(seed)
        x = torch.from_numpy(45.0 + 15.0 * rng.standard_t(3, (rows, n))).float()
        return {"x": x.requires_grad_(True), "g": torch.randn(rows, n, generator=g),
                "x_np": x.detach().double().numpy()}

    return setup


def build_cases(sizes="default", device: str = "cpu") -> List[Case]:
    """``sizes``: ``"default" | "quick" | "check"`` (a bool is read as ``quick``, the old signature)."""
    sizes = runner.sizes_arg(sizes)
    cases = []
    for rows, n in SIZES[(device, sizes)]:
        cases.append(Case(
            name=f"{rows}x{n}",
            params={"n": rows * n, "dtype": "float32", "shapes": f"x [{rows}, {n}]", "eps": EPS,
                    "data": "45 + 15*t3", "working_set_mb": round(rows * n * 4 * 6 / 2**20, 1)},
            setup=_setup(rows, n),
        ))
    return cases


def _reset(x) -> None:
    x["x"].grad = None


def _dirfast(backend: str):
    def fn(x):
        y = dirfast.soft_sort(x["x"], EPS, backend=backend, validate=False)
        y.backward(x["g"])
        return y

    return fn


def _cpu_torch(x):
    with runner.hide_extension():
        y = dirfast.soft_sort(x["x"], EPS, backend="auto", validate=False)
    y.backward(x["g"])
    return y


def _scipy(x):
    from scipy.optimize import isotonic_regression

    th = x["x_np"]
    perm = np.argsort(th, axis=-1)
    xs = np.take_along_axis(th, perm, -1)
    n = th.shape[1]
    w = np.arange(1, n + 1) / EPS
    g = x["g"].numpy()
    grad = np.empty_like(th)
    out = np.empty_like(th)
    for k in range(th.shape[0]):
        res = isotonic_regression(w - xs[k], increasing=True)
        out[k] = w - res.x
        blocks = np.asarray(res.blocks)
        seg = np.repeat(np.arange(len(blocks) - 1), np.diff(blocks))
        mean = np.bincount(seg, weights=g[k]) / np.diff(blocks)
        grad[k][perm[k]] = mean[seg]
    return out, grad


def _torchsort(x):
    import torchsort

    y = torchsort.soft_sort(x["x"], regularization_strength=EPS)
    y.backward(x["g"])
    return y


def torchsort_available() -> bool:
    return importlib.util.find_spec("torchsort") is not None


def _official(x):
    """The official Dist Loss soft sort, one row at a time (fast-soft-sort NumPy, fp64)."""
    op = _official_mod.load("distloss")._OfficialSoftSort
    th = x["x"]
    rows = [op.apply(th[i].cpu(), EPS) for i in range(th.shape[0])]
    y = torch.stack(rows).to(th.device)
    y.backward(x["g"].to(y.dtype))
    return y


def build_providers() -> List[Provider]:
    return [
        runner.compute_floor("sort_floor", lambda x: torch.sort(x["x"].detach(), dim=-1),
                             "torch.sort(x, dim=-1) of the same data"),
        Provider("dirfast", _dirfast("auto"), reset=_reset, devices=("cuda",),
                 description="dirfast.soft_sort(backend='auto') + backward (CUDA C++ PAV / Triton)"),
        Provider("dirfast_cpu", _dirfast("cpu"), reset=_reset, available=_ext.available, devices=("cpu",),
                 description="dirfast.soft_sort(backend='cpu') + backward (C++ PAV)"),
        Provider("dirfast_cpu_torch", _cpu_torch, reset=_reset, devices=("cpu",),
                 description="dirfast.soft_sort, pure-PyTorch path (extension hidden) + backward"),
        Provider("naive_torch", _dirfast("reference"), reset=_reset,
                 description="dirfast.soft_sort(backend='reference') + backward (Python stack PAV, autograd)"),
        Provider("scipy_isotonic", _scipy, available=lambda: importlib.util.find_spec("scipy") is not None,
                 devices=("cpu",),
                 description="np.argsort + scipy isotonic_regression per row + numpy block-mean VJP"),
        Provider("official", _official, reset=_reset, available=lambda: _official_mod.available("distloss"),
                 max_rounds=OFFICIAL_ROUNDS,
                 description="official Dist Loss soft sort (tests/_official_distloss._OfficialSoftSort: "
                             "NumPy fp64 PAV per row, host round trip) + backward"),
        Provider("torchsort", _torchsort, reset=_reset, available=torchsort_available,
                 description="torchsort 0.1.10 soft_sort + backward (CPU build)"),
    ]


def _values_grad(out, x):
    """A provider's values and input gradient, on the CPU (scipy returns both as NumPy arrays)."""
    if isinstance(out, tuple):
        return torch.from_numpy(out[0]), torch.from_numpy(out[1])
    return out.cpu(), x["x"].grad.cpu()


def check_agreement(providers: Sequence[Provider], device: str = "cpu") -> List[str]:
    """Untimed: every provider's values and gradient against dirfast's fp64 reference (CPU) on a small
    pooled case."""
    x = _setup(4, 3000, seed=1)()
    x64 = x["x"].detach().double().requires_grad_()
    want = dirfast.soft_sort(x64, EPS, backend="reference")
    (gw,) = torch.autograd.grad(want, x64, x["g"].double())

    def line(name, yg):
        y, gr = yg
        ev = float((y.double() - want.detach()).abs().max())
        eg = float((gr.double() - gw).abs().max() / gw.abs().max())
        return f"check {name} ({device}): max |value - ref| {ev:.1e}, grad rel {eg:.1e}"

    return runner.provider_outputs(providers, runner.to_device(x, device), device, _values_grad, each=line,
                                   failed="check {name} ({device}): failed: {error}")[1]


def report(results, args, file=sys.stdout) -> None:
    print(file=file)
    if args.device == "cuda":
        runner.print_summary(results, "dirfast", file=file)
        return
    for c in SIZES[(args.device, args.sizes)]:
        case = f"{c[0]}x{c[1]}"
        r = runner.ratio(results, case, "dirfast_cpu")
        rm = runner.ratio(results, case, "dirfast_cpu", stat="median")
        ts = runner.ratio(results, case, "torchsort")
        line = f"{case}: dirfast_cpu / sort floor = {r:.2f}x (min-of-N), {rm:.2f}x (median)"
        if ts == ts:  # not nan
            line += f"; torchsort / sort floor = {ts:.2f}x -> dirfast/torchsort = {r / ts:.2f}"
        if args.sizes == "default":
            ok = r <= ACCEPT_RATIO and (ts != ts or r <= ts)
            line += f"  [target <= {ACCEPT_RATIO}x floor and <= torchsort: {'PASS' if ok else 'FAIL'}]"
        print(line, file=file)


def main(argv: Optional[Sequence[str]] = None):
    args = runner.parse_args(OP, argv, description=__doc__.splitlines()[0])
    providers = build_providers()
    return runner.run_checked(OP, args, build_cases(args.sizes, args.device), providers,
                              before=check_agreement(providers, args.device), report=report)


if __name__ == "__main__":
    main()
