"""Benchmark: host (Python + dispatch) time per call of every per-step op, forward + backward.

    python -m benchmarks.bench_host_overhead [--route cpu|gpu-stubbed|both]
        [--sizes default|quick|check] [--rounds R] [--threads T] [--out DIR]

What a small training batch pays on every step before any kernel runs: argument checks, backend
resolution, custom-op / autograd wiring, allocations, the launchers' Python. **Tiny inputs**
(B = 64, D = 16 — the arithmetic is a few microseconds), one thread. The yardstick (``naive_torch``,
the floor provider of every case, so ``ratio_to_floor`` is the ratio to it) is the plain PyTorch
weighted L1 of the same batch, forward + ``backward()``: ``((p - t).abs() * w).mean()`` — the
cheapest thing a user would write.

Routes (``--route``; the providers of a case, interleaved with ``naive_torch`` in one process):

* ``cpu`` (default) — provider ``dirfast``: the op's CPU path (``backend="auto"`` on CPU tensors:
  the C++ kernels of ``dirfast._C``, ConR's streaming PyTorch path), everything real;
* ``gpu-stubbed`` — provider ``dirfast_gpu_stubbed``: the op's **GPU route** (its Triton launchers,
  and the ``dirfast._C_cuda`` route of soft sort and Dist Loss) on the same CPU tensors with every
  kernel launch a no-op (:mod:`benchmarks._stubbed_route`: the backend resolves as for CUDA tensors,
  ``JITFunction.run`` and the ``_C_cuda`` functions do nothing, ``device_guard`` is the real guard
  object with cheap device hooks). The outputs are uninitialised memory: only the host time means
  anything. The torch ops on the route (casts, ``torch.empty``, ``torch.sort``, small reductions)
  run for real on the CPU tensors, so their CPU cost is included (a few ns of arithmetic each at
  these sizes); on a GPU each costs a kernel launch instead, and each stubbed Triton launch costs
  Triton's own launch path (binding, cache key, driver call) — more host time than a CPU op of this
  size, by an amount not knowable without a GPU. So these figures are the Python around the
  launches, a lower bound on the GPU route's host time, not a GPU measurement. The LDS map's
  one-launch decision reads the labels' device: the ``gpu-stubbed`` case hands it a metadata view on
  ``cuda:0`` (:func:`benchmarks._stubbed_route.as_cuda_view`, ~0.3 µs included). Each timed call
  includes the route toggle (two attribute stores in, two out: ~0.25 µs). Before timing, every GPU
  case is run once with counting stubs and the launches it would make are printed (a case that
  launched nothing would be timing the wrong path: it fails);
* ``both`` — the two providers and ``naive_torch`` interleaved (the CPU route's few ``is_cuda``
  reads then go through the stubs' Python property: ~0.2 µs more each, soft sort's two).

Cases (each a dirfast call, forward + ``backward()``; grads reset untimed):

* ``l1``, ``focal_l1`` — ``dirfast.l1`` / ``dirfast.focal_l1`` ``[B]`` with weights;
* ``lds_map`` — ``lds(y)`` of a fitted ``dirfast.LDS`` (per-sample weights, no backward);
* ``fds_calibrate`` — ``dirfast.fds_calibrate(x [B, D], bin_idx, scale, shift).sum()``;
* ``conr`` — ``dirfast.conr_loss(x [B, D], y, p)``;
* ``soft_sort`` — ``dirfast.soft_sort(x [4, 16]).sum()``;
* ``dist_loss`` — ``dirfast.dist_loss(p [B], y, pseudo_labels)``;
* ``fds_module`` — ``dirfast.nn.FDS(D, Bins(0, 1, 10), accumulate_in_forward=True)`` training
  forward (calibrating: two epochs ended) ``.sum()`` + backward.

Budgets (of the GPU route; the CPU route is held to the same figures): single-kernel ops (weighted
losses, ``fds_calibrate``, LDS map) ≤ 1× the naive formula, the others ≤ 2×;
``tests/test_host_overhead.py`` guards loose multiples of them, for both routes, on the CI machine.
"""

from __future__ import annotations

import sys
from typing import Callable, Dict, List, Optional, Sequence

import torch

import dirfast

from . import runner
from .runner import Case, Provider

OP = "host_overhead"
B, D = 64, 16
#: per case: the issue's budget (× naive_torch, min of N)
BUDGET: Dict[str, float] = {"l1": 1.0, "focal_l1": 1.0, "lds_map": 1.0, "fds_calibrate": 1.0,
                            "conr": 2.0, "soft_sort": 2.0, "dist_loss": 2.0, "fds_module": 2.0}
ROUTES = ("cpu", "gpu-stubbed", "both")
#: provider name per route
GPU = "dirfast_gpu_stubbed"
CPU = "dirfast"

#: the installed GPU-route stubs of this process (None until a GPU route is asked for)
_ROUTE = None


def gpu_route():
    """The process's :class:`benchmarks._stubbed_route.StubbedRoute`, installed on first use."""
    global _ROUTE
    if _ROUTE is None:
        from ._stubbed_route import StubbedRoute

        _ROUTE = StubbedRoute().install()
    return _ROUTE


def release_gpu_route() -> None:
    """Undo the GPU-route stubs (tests: leave the process as it was)."""
    global _ROUTE
    if _ROUTE is not None:
        _ROUTE.uninstall()
        _ROUTE = None


def _base(seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    p = torch.randn(B, generator=g).requires_grad_()
    t = torch.randn(B, generator=g)
    w = torch.rand(B, generator=g) + 0.5
    return {"p": p, "t": t, "w": w}


def _call(name: str, x: dict, g: torch.Generator, gpu: bool) -> Callable[[dict], None]:
    """The case's dirfast call, forward + backward, on ``x``'s tensors (``gpu``: objects of its own
    for the stateful cases, set up for the GPU route)."""
    if name in ("l1", "focal_l1"):
        fn = getattr(dirfast, name)
        return lambda x: fn(x["p"], x["t"], x["w"]).backward()
    if name == "lds_map":
        y_train = torch.randint(0, 50, (1000,), generator=g).float()
        lds = dirfast.LDS(dirfast.Bins(0, 1, 50)).fit(y_train)
        if gpu:  # the one-launch decision reads the labels' device: a cuda:0 view of them
            from ._stubbed_route import as_cuda_view

            check = type(lds)._triton_map_ok
            lds._triton_map_ok = lambda labels, validate, backend: check(
                lds, as_cuda_view(labels), validate, backend)
        y = x.setdefault("y_lds", torch.randint(0, 50, (B,), generator=g).float())
        return lambda x: lds(y)
    if name == "fds_calibrate":
        f, bi, sc, sh = x["f"], x["bi"], x["sc"], x["sh"]
        return lambda x: dirfast.fds_calibrate(f, bi, sc, sh).sum().backward()
    if name == "conr":
        f, y, pr = x["f"], x["y"], x["pr"]
        return lambda x: dirfast.conr_loss(f, y, pr).backward()
    if name == "soft_sort":
        s = x["f"]
        return lambda x: dirfast.soft_sort(s).sum().backward()
    if name == "dist_loss":
        pl = x["pl"]
        return lambda x: dirfast.dist_loss(x["p"], x["t"], pl).backward()
    if name == "fds_module":
        fds = dirfast.nn.FDS(D, dirfast.Bins(0, 1, 10), accumulate_in_forward=True)
        f, y = x["f"], x["y"]
        for epoch in range(2):  # calibrating from here on (start_smooth=1); fitted on the CPU route
            fds(f.detach(), y)
            fds.end_epoch(epoch)
        return lambda x: fds(f, y).sum().backward()
    raise KeyError(name)  # pragma: no cover


def _setup(name: str, route: str = "cpu"):
    """``setup()`` of case ``name``: the inputs, ``x["call"]`` (CPU route, ``route`` cpu/both) and
    ``x["call_gpu"]`` (GPU route wrapped in the route toggle, ``route`` gpu-stubbed/both)."""
    def setup() -> dict:
        x = _base()
        g = torch.Generator().manual_seed(1)
        if name in ("fds_calibrate", "conr", "fds_module", "soft_sort"):
            x["f"] = (torch.randn(4, 16, generator=g) if name == "soft_sort"
                      else torch.randn(B, D, generator=g)).requires_grad_()
        if name == "fds_calibrate":
            x["bi"] = torch.randint(0, 10, (B,), generator=g)
            x["sc"], x["sh"] = torch.rand(10, D, generator=g) + 0.5, torch.randn(10, D, generator=g)
        elif name in ("conr", "fds_module"):
            x["y"] = torch.randint(0, 10, (B,), generator=g).float()
            x["pr"] = x["y"] + torch.randn(B, generator=g)
        elif name == "dist_loss":
            x["pl"] = torch.sort(torch.randn(B, generator=g)).values
        if route in ("cpu", "both"):
            x["call"] = _call(name, x, torch.Generator().manual_seed(2), gpu=False)
        if route in ("gpu-stubbed", "both"):
            call = _call(name, x, torch.Generator().manual_seed(2), gpu=True)
            x["call_gpu"] = gpu_route().wrap(call)
        return x
    return setup


def _reset(x: dict) -> None:
    x["p"].grad = None
    if "f" in x:
        x["f"].grad = None


def _naive(x: dict) -> None:
    ((x["p"] - x["t"]).abs() * x["w"]).mean().backward()


def build_cases(sizes: str, route: str = "cpu") -> List[Case]:
    names = list(BUDGET) if sizes != "quick" else ["l1", "fds_calibrate", "conr"]
    return [Case(name, {"n": B, "dtype": "float32", "shapes": f"B={B}, D={D}"}, _setup(name, route),
                 rotate=False) for name in names]


def build_providers(route: str = "cpu") -> List[Provider]:
    ps = []
    if route in ("cpu", "both"):
        ps.append(Provider(CPU, lambda x: x["call"](x), reset=_reset, devices=("cpu",),
                           description="the dirfast call of the case, forward + backward, CPU route "
                                       "(backend auto on CPU tensors)"))
    if route in ("gpu-stubbed", "both"):
        ps.append(Provider(GPU, lambda x: x["call_gpu"](x), reset=_reset, devices=("cpu",),
                           description="the same call on its GPU route (Triton / _C_cuda launchers) "
                                       "with every launch a no-op, on the CPU tensors "
                                       "(benchmarks/_stubbed_route.py): host time only"))
    ps.append(Provider(runner.NAIVE, _naive, kind="floor", reset=_reset, devices=("cpu",),
                       description="((p - t).abs() * w).mean() forward + backward (the yardstick)"))
    return ps


def launches(name: str) -> Dict[str, int]:
    """What one GPU-route call of case ``name`` would launch (counting stubs, untimed; after one
    warm-up call): ``{"triton": n, "cuda": n, <kernel>: n, ...}``."""
    x = _setup(name, "gpu-stubbed")()
    _reset(x)
    x["call_gpu"](x)
    _reset(x)
    return gpu_route().count(lambda: x["call_gpu"](x))


def check_launches(names: Sequence[str]) -> List[str]:
    """One line per case with the launches of its GPU route; raises if a case launches nothing."""
    lines = []
    for name in names:
        c = launches(name)
        if c["triton"] + c["cuda"] == 0:
            raise RuntimeError(f"bench_host_overhead: case {name} launched no kernel on the stubbed "
                               "GPU route: it is not timing the GPU route")
        kernels = ", ".join(f"{k}×{v}" for k, v in c.items() if k not in ("triton", "cuda"))
        lines.append(f"GPU route of {name}: {c['triton']} Triton launch(es) + {c['cuda']} _C_cuda "
                     f"call(s) per call (stubbed): {kernels}")
    return lines


def report(results, args) -> None:
    print()
    print("host time per call, dirfast / naive weighted L1 (min of N; budget in brackets):")
    route = getattr(args, "route", "cpu")
    provs = [(CPU, "CPU route"), (GPU, "GPU route, launches stubbed")]
    provs = [p for p in provs if (p[0] == CPU and route in ("cpu", "both"))
             or (p[0] == GPU and route in ("gpu-stubbed", "both"))]
    for prov, label in provs:
        print(f" {label} ({prov}):")
        for name in BUDGET:
            r = runner.find(results, name, prov)
            n = runner.find(results, name, runner.NAIVE)
            if r is None or n is None:
                continue
            ratio = r.min_ms / n.min_ms
            flag = "ok" if ratio <= BUDGET[name] else "OVER"
            print(f"  {name:14s} {r.min_ms * 1e3:8.1f} us  naive {n.min_ms * 1e3:6.1f} us  "
                  f"{ratio:5.2f}x  [{BUDGET[name]:.0f}x] {flag}")


def _extra(p) -> None:
    p.add_argument("--route", choices=ROUTES, default="cpu",
                   help="cpu (default: the CPU paths), gpu-stubbed (the GPU route with every launch a "
                        "no-op, on CPU tensors: host time only), both (interleaved)")


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not any(a.startswith("--threads") for a in argv):
        argv += ["--threads", "1"]  # host time: one thread unless asked otherwise
    args = runner.parse_args(OP, argv, __doc__.splitlines()[0], extra=_extra)
    if args.device != "cpu":
        print("bench_host_overhead: CPU only (host time; the GPU route is measured with its launches "
              "stubbed on CPU tensors: --route gpu-stubbed); skipped on", args.device)
        return 0
    cases = build_cases(args.sizes, args.route)
    before: List[str] = []
    if args.route != "cpu":
        before = check_launches([c.name for c in cases if not args.case or c.name in args.case])
    runner.run_checked(OP, args, cases, build_providers(args.route), before=before, report=report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
