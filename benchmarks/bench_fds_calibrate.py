"""Benchmark of FDS calibration, forward + backward (``dirfast.fds_calibrate``), CPU or CUDA.

    python -m benchmarks.bench_fds_calibrate [--device cpu|cuda] [--sizes default|quick|check] [--rounds R]

One call = ``y = fds_calibrate(z, bin_idx, scale, shift); y.backward(grad_output)`` with ``z`` a leaf
``[N, D]`` fp32 tensor (``z.grad`` reset untimed before every call), 97 bins (the AgeDB FDS buckets,
skewed counts), 5 % of the rows with bin −1 (uncalibrated), ``scale``/``shift`` from
``dirfast.fds_scale_shift`` (computed once, as the FDS module does per epoch).

Providers:

* ``floor`` — the **memory floor** of forward+backward: ``torch.sum(z) + torch.sum(grad_output)`` +
  ``buf1.copy_(z)`` + ``buf2.copy_(grad_output)`` into two preallocated feature-sized buffers (the op
  must read z and grad_output and write two feature-sized outputs, y and dz);
* ``dirfast`` (CUDA) — ``backend="auto"``: the Triton kernels, forward and backward;
* ``dirfast_cpu`` (CPU) — ``backend="cpu"``: the C++ kernel (OpenMP over rows), forward and backward;
* ``dirfast_cpu_torch`` (CPU) — ``backend="auto"`` with ``dirfast._ext.available`` patched to False
  (the vectorised-PyTorch path users without the extension run);
* ``naive_torch`` — the plain PyTorch formula a user writes, autograd backward:
  ``torch.where(idx >= 0, z·scale[idx] + shift[idx], z)`` (gathers of the ``[B, D]`` tables);
* ``official`` — the official ``FDS.smooth`` (``tests/_official_fds.py``; statistics loaded into its
  last-epoch buffers) on a non-leaf copy of ``z`` (in place, as officially), autograd backward: for
  each ``torch.unique`` label a boolean mask, ``calibrate_mean_var`` (zero-variance handling
  included), an ``index_put_``. Labels are the ages ``bin + 3``; the official code has no "skip this
  row", so the rows with bin −1 get age 2 (below ``bucket_start``: folded into bucket 0 when age 3 is
  in the batch, as officially);
* ``reference`` — ``backend="reference"`` (gather + where, autograd).

Sizes (case ``<N>x<D>``). CPU: ``default`` 8192×2048 (acceptance target: ``dirfast_cpu`` ≤ 3× the
floor, min-of-N, 256 MB working set) and 256×2048; ``quick`` 512×256, 64×256; ``check`` 512×256.
CUDA: ``default`` 256, 4,096, 8,192 and 65,536 × 2,048; ``check`` 256×2048 and 65536×2048 (host-bound
vs memory-bound); ``quick`` 512×256. Fresh output tensors page-fault on the CPU VM (~1 µs per 4 KB
page, two 64 MB outputs per call): run both with and without ``--malloc-recycle``.
"""

from __future__ import annotations

import sys
from typing import Dict, List, Optional, Sequence

import torch

import dirfast
from dirfast import _ext

from . import _official as _official_mod
from . import runner
from .runner import Case, Provider

OP = "fds_calibrate"
SHAPES_FULL = ((8192, 2048), (256, 2048))
SHAPES_QUICK = ((512, 256), (64, 256))
NUM_BINS = 97
ACCEPT_RATIO = 3.0
OFFICIAL_ROUNDS = 5
SIZES = {
    ("cpu", "default"): SHAPES_FULL, ("cpu", "quick"): SHAPES_QUICK, ("cpu", "check"): ((512, 256),),
    ("cuda", "default"): ((256, 2048), (4096, 2048), (8192, 2048), (65536, 2048)),
    ("cuda", "quick"): ((512, 256),), ("cuda", "check"): ((256, 2048), (65536, 2048)),
}


def _inputs(n: int, d: int, dtype: torch.dtype = torch.float32, seed: int = 0,
            device: str = "cpu") -> Dict[str, object]:
    """Small tables from a CPU generator; ``z`` and ``grad_output`` generated on ``device`` (the same
    generator on CPU) so large CUDA cases do not wait for the host RNG."""
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
    gd = g if device == "cpu" else torch.Generator(device=device).manual_seed(seed)
    z = (torch.randn(n, d, generator=gd, device=device) * 2 + 1).to(dtype).requires_grad_(True)
    go = torch.randn(n, d, generator=gd, device=device).to(dtype)
    official = None
    if _official_mod.available("fds"):
        official = _official_mod.load("fds").OfficialFDS(d, bucket_num=NUM_BINS + 3, bucket_start=3)
        official.running_mean_last_epoch.copy_(mean)
        official.running_var_last_epoch.copy_(var)
        official.smoothed_mean_last_epoch.copy_(smean)
        official.smoothed_var_last_epoch.copy_(svar)
    return {"z": z, "idx": idx, "scale": scale, "shift": shift, "go": go,
            "stats": (mean, var, smean, svar), "ages": (idx + 3).to(torch.float32), "official": official,
            "buf1": torch.empty(n, d, dtype=dtype, device=device),
            "buf2": torch.empty(n, d, dtype=dtype, device=device)}


def build_cases(sizes="default", device: str = "cpu", dtype: torch.dtype = torch.float32) -> List[Case]:
    """``sizes``: ``"default" | "quick" | "check"`` (a bool is read as ``quick``, the old signature)."""
    sizes = runner.sizes_arg(sizes)
    es = torch.finfo(dtype).bits // 8
    cases = []
    for n, d in SIZES[(device, sizes)]:
        cases.append(Case(
            name=f"{n}x{d}",
            params={"n": n * d, "dtype": str(dtype).split(".")[-1],
                    "shapes": f"features/grad_output [{n}, {d}], bin_idx [{n}] int64, scale/shift "
                              f"[{NUM_BINS}, {d}] fp32",
                    "bins": NUM_BINS, "identity_rows": "5%",
                    "working_set_mb": round(4 * n * d * es / 2**20, 1)},
            setup=lambda device="cpu", n=n, d=d: _inputs(n, d, dtype, device=device),
            # minimum traffic of forward+backward: read z, write y, read grad_output, write dz
            bytes_per_call=4 * n * d * es,
        ))
    return cases


def _reset(x) -> None:
    x["z"].grad = None


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
    z, idx = x["z"], x["idx"]
    i = idx.clamp_min(0)
    y = torch.where((idx >= 0)[:, None], z * x["scale"][i] + x["shift"][i], z)
    y.backward(x["go"])
    return y


def _official(x):
    off = _official_mod.load("fds")
    enc = x["z"].clone()  # the network's fresh (non-leaf) features, calibrated in place
    y, _ = off.model_forward_train(x["official"], enc, x["ages"].reshape(-1, 1), 2)
    y.backward(x["go"])
    return y


def build_providers() -> List[Provider]:
    return [
        runner.memory_floor(("z", "go"), "z", "buf1", more_writes=[("go", "buf2")]),
        Provider("dirfast", _dirfast("auto"), reset=_reset, devices=("cuda",),
                 description="dirfast.fds_calibrate(backend='auto') + backward (Triton kernels)"),
        Provider("dirfast_cpu", _dirfast("cpu"), reset=_reset, available=_ext.available, devices=("cpu",),
                 description="dirfast.fds_calibrate(backend='cpu') + backward (C++ kernels, OpenMP)"),
        Provider("dirfast_cpu_torch", _cpu_torch, reset=_reset, available=cpu_torch_path_ok, devices=("cpu",),
                 description="dirfast.fds_calibrate(backend='auto') with dirfast._ext.available "
                             "patched to False -> path 'cpu_torch' (vectorised PyTorch) + backward"),
        Provider("naive_torch", _naive, reset=_reset,
                 description="plain PyTorch: where(idx >= 0, z*scale[idx] + shift[idx], z) + autograd"),
        Provider("official", _official, reset=_reset, available=lambda: _official_mod.available("fds"),
                 max_rounds=OFFICIAL_ROUNDS,
                 description="official FDS.smooth (tests/_official_fds.py): per unique label mask + "
                             "calibrate_mean_var + index_put_, in place on a copy, + autograd backward"),
        Provider("reference", _dirfast("reference"), reset=_reset,
                 description="dirfast.fds_calibrate(backend='reference') + backward"),
    ]


def check_agreement(providers: Sequence[Provider], n: int = 600, d: int = 96, device: str = "cpu") -> List[str]:
    """Untimed: every provider's output and gradient against ``reference`` (the official provider on
    the rows with a bin: it calibrates the others with bin 0, see the module docstring)."""
    x = runner.to_device(_inputs(n, d, device=device), device)
    rows = x["idx"] >= 0
    return runner.check_against(providers, x, device, "reference", extract=runner.value_and_grad("z"),
                                label=f"({n}x{d})", head=f"({n}x{d}, {device})", what=("value", "grad"),
                                sel=lambda name: rows if name == "official" else None)


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
    if args.device == "cuda":
        runner.print_summary(results, "dirfast", file=file)
        return ratios
    primary = f"{SHAPES_FULL[0][0]}x{SHAPES_FULL[0][1]}"
    names = sorted({r.case.name for r in results}, key=lambda s: -int(s.split("x")[0]))
    for case in names:
        for prov in ("dirfast_cpu", "dirfast_cpu_torch", "naive_torch", "official", "reference"):
            rr = runner.ratio(results, case, prov)
            rm = runner.ratio(results, case, prov, stat="median")
            line = f"{case} {prov}: {rr:.2f}x floor (min-of-N), {rm:.2f}x (median)"
            if prov == "dirfast_cpu":
                ratios[case] = rr
                if case == primary and args.sizes == "default":
                    line += f"  -> target <= {ACCEPT_RATIO}: {'PASS' if rr <= ACCEPT_RATIO else 'FAIL'}"
                    if args.malloc_recycle:
                        line += " (with --malloc-recycle)"
                elif args.sizes != "default":
                    line += f"  [target <= {ACCEPT_RATIO} at {primary} fp32; --sizes {args.sizes} sits in cache]"
                else:
                    line += "  (working set < 64 MB: in cache, memory-floor target does not apply)"
            print(line, file=file)
    m = triton_bytes_model()
    print(f"Triton kernel bytes model (fp32, D=2048): forward reads z + writes y = "
          f"{m['fwd']:.3f} B/elem, backward reads dy + writes dz = {m['bwd']:.3f} B/elem (incl. the "
          f"int64 bin id per row); total {m['total']:.3f} vs minimum {m['minimum']:.0f} B/elem: ratio "
          f"{m['ratio']:.3f}", file=file)
    return ratios


def main(argv: Optional[Sequence[str]] = None):
    args = runner.parse_args(OP, argv, description=__doc__.splitlines()[0])
    providers = build_providers()
    # on CUDA at the timed D (the kernels' configs depend on D: no extra Triton compile for the check)
    checks = check_agreement(providers, d=96 if args.device == "cpu" else 2048, device=args.device)
    return runner.run_checked(OP, args, build_cases(args.sizes, args.device), providers, before=checks,
                              report=report)


if __name__ == "__main__":
    main()
