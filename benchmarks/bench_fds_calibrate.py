"""Benchmark of FDS calibration, forward + backward (``dirfast.fds_calibrate``), CPU.

One call = ``y = fds_calibrate(z, bin_idx, scale, shift); y.backward(grad_output)`` with ``z`` a leaf
``[N, D]`` fp32 tensor (``z.grad`` reset untimed before every call), 97 bins (the AgeDB FDS buckets,
skewed counts), 5 % of the rows with bin −1 (uncalibrated), ``scale``/``shift`` from
``dirfast.fds_scale_shift`` (computed once, as the FDS module does per epoch).

Providers:

* ``floor`` — the **memory floor** of forward+backward: ``torch.sum(z) + torch.sum(grad_output)`` +
  ``buf1.copy_(z)`` + ``buf2.copy_(grad_output)`` into two preallocated feature-sized buffers (the op
  must read z and grad_output and write two feature-sized outputs, y and dz);
* ``dirfast_cpu`` — ``backend="cpu"``: the C++ kernel (OpenMP over rows), forward and backward;
* ``dirfast_cpu_torch`` — ``backend="auto"`` with ``dirfast._ext.available`` patched to False (the
  vectorised-PyTorch path users without the extension run);
* ``naive_loop`` — the official code's structure: a copy of ``z``, then for each bin present
  (``torch.unique``) boolean-mask the rows, calibrate them from the statistics
  (``(z − μ)·sqrt(clamp(σ̃²/σ², 0.1, 10)) + μ̃``, zero-variance handling included) and ``index_put``
  them back, autograd backward (the official code writes into the non-leaf features in place; a leaf
  needs the copy);
* ``reference`` — ``backend="reference"`` (gather + where, autograd).

Acceptance target: ``dirfast_cpu`` ≤ 3× the floor (min-of-N) at 8192×2048 fp32 (256 MB working set).
Fresh output tensors page-fault on this VM (~1 µs per 4 KB page, two 64 MB outputs per call): run
both with and without ``--malloc-recycle``.
"""

from __future__ import annotations

import sys
from typing import Dict, List, Optional, Sequence

import torch

import dirfast
from dirfast import _ext
from dirfast.reference.fds_calibrate import fds_calibrate_loop_ref

from . import runner
from .runner import Case, Provider

OP = "fds_calibrate"
SHAPES_FULL = ((8192, 2048), (256, 2048))
SHAPES_QUICK = ((512, 256), (64, 256))
NUM_BINS = 97
ACCEPT_RATIO = 3.0


def _inputs(n: int, d: int, dtype: torch.dtype = torch.float32, seed: int = 0) -> Dict[str, object]:
    g = torch.Generator().manual_seed(seed)
    mean = torch.randn(NUM_BINS, d, generator=g)
    var = torch.rand(NUM_BINS, d, generator=g) + 0.1
    var[7, ::5] = 0.0  # zero-variance dims
    var[11] = 0.0      # an all-zero-variance bin
    smean = mean + 0.2 * torch.randn(NUM_BINS, d, generator=g)
    svar = var * torch.exp(torch.randn(NUM_BINS, d, generator=g))
    scale, shift = dirfast.fds_scale_shift(mean, var, smean, svar)
    # skewed bin counts (AgeDB-like): geometric around bin 30
    w = torch.exp(-((torch.arange(NUM_BINS, dtype=torch.float64) - 30.0) / 15.0) ** 2) + 0.01
    idx = torch.multinomial(w, n, replacement=True, generator=g)
    idx[torch.rand(n, generator=g) < 0.05] = -1
    z = (torch.randn(n, d, generator=g) * 2 + 1).to(dtype).requires_grad_(True)
    go = torch.randn(n, d, generator=g).to(dtype)
    return {"z": z, "idx": idx, "scale": scale, "shift": shift, "go": go,
            "stats": (mean, var, smean, svar),
            "buf1": torch.empty(n, d, dtype=dtype), "buf2": torch.empty(n, d, dtype=dtype)}


def build_cases(quick: bool, dtype: torch.dtype = torch.float32) -> List[Case]:
    es = torch.finfo(dtype).bits // 8
    cases = []
    for n, d in (SHAPES_QUICK if quick else SHAPES_FULL):
        cases.append(Case(
            name=f"{n}x{d}",
            params={"n": n * d, "dtype": str(dtype).split(".")[-1],
                    "shapes": f"features/grad_output [{n}, {d}], bin_idx [{n}] int64, scale/shift "
                              f"[{NUM_BINS}, {d}] fp32",
                    "bins": NUM_BINS, "identity_rows": "5%",
                    "working_set_mb": round(4 * n * d * es / 2**20, 1)},
            setup=lambda n=n, d=d: _inputs(n, d, dtype),
            # minimum traffic of forward+backward: read z, write y, read grad_output, write dz
            bytes_per_call=4 * n * d * es,
        ))
    return cases


def _reset(x) -> None:
    x["z"].grad = None


def _floor(x) -> None:
    with torch.no_grad():
        torch.sum(x["z"])
        torch.sum(x["go"])
        x["buf1"].copy_(x["z"])
        x["buf2"].copy_(x["go"])


def _dirfast(backend: str):
    def fn(x):
        y = dirfast.fds_calibrate(x["z"], x["idx"], x["scale"], x["shift"], backend=backend,
                                  validate=False)
        y.backward(x["go"])
        return y

    return fn


def _cpu_torch(x):
    with runner.hide_extension():
        y = dirfast.fds_calibrate(x["z"], x["idx"], x["scale"], x["shift"], backend="auto",
                                  validate=False)
    y.backward(x["go"])
    return y


def cpu_torch_path_ok() -> bool:
    with runner.hide_extension():
        return dirfast.resolve_backend("auto", torch.device("cpu"), op="bench") == "cpu_torch"


def _naive(x):
    y = fds_calibrate_loop_ref(x["z"], x["idx"], *x["stats"])
    y.backward(x["go"])
    return y


def build_providers() -> List[Provider]:
    return [
        Provider("floor", _floor, kind="floor",
                 description="memory floor: sum(z) + sum(grad_output) + buf1.copy_(z) + "
                             "buf2.copy_(grad_output) (two preallocated feature-sized outputs)"),
        Provider("dirfast_cpu", _dirfast("cpu"), reset=_reset, available=_ext.available,
                 description="dirfast.fds_calibrate(backend='cpu') + backward (C++ kernels, OpenMP)"),
        Provider("dirfast_cpu_torch", _cpu_torch, reset=_reset, available=cpu_torch_path_ok,
                 description="dirfast.fds_calibrate(backend='auto') with dirfast._ext.available "
                             "patched to False -> path 'cpu_torch' (vectorised PyTorch) + backward"),
        Provider("naive_loop", _naive, reset=_reset,
                 description="official structure: per-bin loop over torch.unique, boolean mask, "
                             "calibrate, index_put (on a copy) + autograd backward"),
        Provider("reference", _dirfast("reference"), reset=_reset,
                 description="dirfast.fds_calibrate(backend='reference') + backward"),
    ]


def check_agreement(providers: Sequence[Provider], n: int = 600, d: int = 96) -> List[str]:
    x = _inputs(n, d)
    out = {}
    for p in providers:
        if p.kind == "floor" or (p.available is not None and not p.available()):
            continue
        _reset(x)
        y = p.fn(x)
        out[p.name] = (y.detach().clone(), x["z"].grad.clone())
    ry, rg = out["reference"]
    worst = max(float((y - ry).abs().max()) / float(ry.abs().max()) for y, _ in out.values())
    gworst = max(float((g - rg).abs().max()) / float(rg.abs().max()) for _, g in out.values())
    ok = worst < 1e-5 and gworst < 1e-5
    return [f"check ({n}x{d}): providers agree with reference: value rel {worst:.1e}, grad rel "
            f"{gworst:.1e} -> {'ok' if ok else 'MISMATCH'}"]


def triton_bytes_model(d: int = 2048, es: int = 4) -> Dict[str, float]:
    """Bytes per element of the Triton kernels (not measured: no GPU) vs the minimum."""
    idx_per_elem = 8.0 / d  # one int64 bin id per row, read by each of the row's column blocks
    fwd = 2 * es + idx_per_elem  # read z, write y (scale/shift rows: a [97, D] table, L2-resident)
    bwd = 2 * es + idx_per_elem  # read dy, write dz
    minimum = 4 * es
    return {"fwd": fwd, "bwd": bwd, "total": fwd + bwd, "minimum": minimum,
            "ratio": (fwd + bwd) / minimum}


def report(results, args, file=sys.stdout) -> Dict[str, float]:
    print(file=file)
    ratios = {}
    primary = f"{SHAPES_FULL[0][0]}x{SHAPES_FULL[0][1]}"
    names = sorted({r.case.name for r in results}, key=lambda s: -int(s.split("x")[0]))
    for case in names:
        for prov in ("dirfast_cpu", "dirfast_cpu_torch", "naive_loop", "reference"):
            rr = runner.ratio(results, case, prov)
            rm = runner.ratio(results, case, prov, stat="median")
            line = f"{case} {prov}: {rr:.2f}x floor (min-of-N), {rm:.2f}x (median)"
            if prov == "dirfast_cpu":
                ratios[case] = rr
                if case == primary and not args.quick:
                    line += f"  -> target <= {ACCEPT_RATIO}: {'PASS' if rr <= ACCEPT_RATIO else 'FAIL'}"
                    if args.malloc_recycle:
                        line += " (with --malloc-recycle)"
                elif args.quick:
                    line += f"  [target <= {ACCEPT_RATIO} at {primary} fp32; --quick sizes sit in cache]"
                else:
                    line += "  (working set < 64 MB: in cache, memory-floor target does not apply)"
            print(line, file=file)
    m = triton_bytes_model()
    print(f"Triton kernel bytes model (fp32, D=2048, not measured: no GPU): forward reads z + writes y = "
          f"{m['fwd']:.3f} B/elem, backward reads dy + writes dz = {m['bwd']:.3f} B/elem (incl. the "
          f"int64 bin id per row); total {m['total']:.3f} vs minimum {m['minimum']:.0f} B/elem: ratio "
          f"{m['ratio']:.3f}", file=file)
    return ratios


def main(argv: Optional[Sequence[str]] = None):
    args = runner.parse_args(OP, argv, description=__doc__.splitlines()[0])
    providers = build_providers()
    for line in check_agreement(providers):
        print(line)
    results = runner.run(OP, build_cases(args.quick), providers, args)
    report(results, args)
    return results


if __name__ == "__main__":
    main()
