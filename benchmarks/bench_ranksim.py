"""Benchmark: RankSim (official variant, blackbox ranks, λ = 2), forward + backward, CPU fp32.

    python -m benchmarks.bench_ranksim [--device cpu|cuda] [--sizes default|quick|check] [--rounds R]

Inputs: ``features [B, 512]`` post-ReLU fp32 (requires grad) and labels: ``cont`` = continuous
U[0, 100) (all distinct: the subset is the whole batch, M = B), ``int`` = integer ages U{0..99}
(~100 distinct: M ≈ 92 at B = 256, 100 at B = 1,024). Every timed call is the loss forward +
``loss.backward()`` (``features.grad`` reset untimed). Providers, interleaved:

* ``gemm_floor`` — ``torch.mm(U, Uᵀ)`` twice for ``U [M, 512]`` (the similarity forward and its
  backward GEMM: what any exact method needs besides the ranking);
* ``dirfast`` — ``dirfast.ranksim_loss(..., variant="official")`` with ``max_unique=128`` for the
  integer ages (exact: ≤ 100 distinct labels) and ``max_unique=None`` (K = B) for continuous labels;
* ``dirfast_unbounded`` (integer ages only) — the same with ``max_unique=None``: static subset size
  K = B, the masked B × B layout (what a user pays without the bound);
* ``naive_torch`` — a dense PyTorch version of the same semantics (``backend="reference"``: the
  subset compacted with a host read, one stable ``torch.sort`` per rank matrix, autograd + the
  blackbox function on the whole matrix);
* ``official`` — the official code (``tests/_official_ranksim.py``: ``torch.unique`` + one
  ``random.choice``/``nonzero``/``.item()`` per label, then one ``TrueRanker`` + ``mse_loss`` per
  row in a Python loop), autograd; timed in the first 3 rounds only.

Acceptance: ``official / dirfast ≥ 10`` (min-of-N) in each of the four cases
``B256_cont``, ``B1024_cont``, ``B256_int``, ``B1024_int``; ``quick``/``check``: B64 with D = 64.
"""

from __future__ import annotations

import random
import sys
from typing import List, Optional, Sequence

import torch

import dirfast

from . import _official as _official_mod
from . import runner
from .runner import Case, Provider

OP = "ranksim"
ACCEPT = 10.0
OFFICIAL_ROUNDS = 3
D = 512
MAX_UNIQUE_INT = 128
SIZES = {
    "default": [(256, "cont", D), (1024, "cont", D), (256, "int", D), (1024, "int", D)],
    "quick": [(64, "cont", 64), (64, "int", 64)],
    "check": [(64, "int", 64)],
}


def _setup(b: int, kind: str, d: int, seed: int = 0):
    def setup():
        g = torch.Generator().manual_seed(seed)
        z = torch.randn(b, d, generator=g).relu().requires_grad_(True)
        if kind == "cont":
            y = 100 * torch.rand(b, generator=g)
        else:
            y = torch.randint(0, 100, (b,), generator=g).float()
        m = int(torch.unique(y).numel())
        return {"z": z, "y": y, "y2": y[:, None], "kind": kind, "u": torch.randn(m, d, generator=g),
                "max_unique": None if kind == "cont" else MAX_UNIQUE_INT}

    return setup


def build_cases(sizes="default", device: str = "cpu") -> List[Case]:
    sizes = runner.sizes_arg(sizes)
    cases = []
    for b, kind, d in SIZES[sizes]:
        cases.append(Case(
            name=f"B{b}_{kind}",
            params={"n": b, "dtype": "float32", "shapes": f"features [{b},{d}], labels {kind}",
                    "labels": kind},
            setup=_setup(b, kind, d)))
    return cases


def _reset(x):
    x["z"].grad = None


def _dirfast(backend: Optional[str], bounded: bool = True):
    def fn(x):
        mu = x["max_unique"] if bounded else None
        loss = dirfast.ranksim_loss(x["z"], x["y"], variant="official", interpolation_lambda=2.0,
                                    max_unique=mu, backend=backend, validate=False)
        loss.backward()
        return loss

    return fn


def _official(x):
    loss = _official_mod.load("ranksim").official_ranksim(x["z"], x["y2"], 2.0)
    loss.backward()
    return loss


def build_providers() -> List[Provider]:
    random.seed(0)  # the official subset uses Python's random module
    return [
        runner.compute_floor("gemm_floor", runner.gemm_floor_fn("u"),
                             "GEMM floor: torch.mm(U, U^T) twice for U [M, D] (M = distinct labels)"),
        Provider("dirfast", _dirfast(None), reset=_reset,
                 description="dirfast.ranksim_loss(variant='official', max_unique=128 for integer "
                             "ages, None for continuous) + backward"),
        Provider("dirfast_unbounded", _dirfast(None, bounded=False), reset=_reset,
                 skip=lambda c: None if c.params["labels"] == "int" else "same as dirfast (max_unique=None)",
                 description="dirfast.ranksim_loss(variant='official', max_unique=None): K = B masked"),
        Provider("naive_torch", _dirfast("reference"), reset=_reset,
                 description="dense PyTorch, same semantics (backend='reference'): host-compacted "
                             "subset, torch.sort ranks, autograd"),
        Provider("official", _official, reset=_reset, max_rounds=OFFICIAL_ROUNDS,
                 available=lambda: _official_mod.available("ranksim"),
                 description="official batchwise_ranking_regularizer (tests/_official_ranksim.py): "
                             "random.choice subset, per-row TrueRanker loop; autograd"),
    ]


def check_agreement(providers: Sequence[Provider], device: str = "cpu", b: int = 128,
                    d: int = 64) -> List[str]:
    """Untimed: loss and gradient of every provider against naive_torch on continuous labels (all
    distinct, so the official subset is the whole batch and every provider ranks the same rows)."""
    return runner.check_against(providers, runner.to_device(_setup(b, "cont", d)(), device), device,
                                "naive_torch", extract=runner.loss_and_grad("z"), label=f"B{b}_D{d}",
                                head=f"B{b}_D{d} continuous fp32 ({device})")


def report(results, args, cases: Sequence[Case], file=sys.stdout) -> None:
    print(file=file)
    for c in cases:
        d = runner.find(results, c.name, "dirfast")
        o = runner.find(results, c.name, "official")
        n = runner.find(results, c.name, "naive_torch")
        if d is None or o is None:
            continue
        r, rm = o.min_ms / d.min_ms, o.median_ms / d.median_ms
        line = (f"{c.name}: official / dirfast = {r:.1f}x (min-of-N), {rm:.1f}x (median); dirfast "
                f"{d.min_ms:.2f} ms, official {o.min_ms:.2f} ms")
        if n is not None:
            line += f", naive_torch / dirfast = {n.min_ms / d.min_ms:.1f}x"
        u = runner.find(results, c.name, "dirfast_unbounded")
        if u is not None:
            line += f", dirfast_unbounded {u.min_ms:.2f} ms ({o.min_ms / u.min_ms:.1f}x)"
        if args.sizes == "default":
            line += f"  -> target >= {ACCEPT:g}x: {'PASS' if r >= ACCEPT else 'FAIL'}"
        print(line, file=file)


def main(argv: Optional[Sequence[str]] = None):
    args = runner.parse_args(OP, argv, description=__doc__.splitlines()[0])
    providers = build_providers()
    checks = check_agreement(providers, args.device)
    cases = build_cases(args.sizes, args.device)
    for c in cases:
        c.params["device"] = args.device
    return runner.run_checked(OP, args, cases, providers, before=checks,
                              report=lambda results, args: report(results, args, cases))


if __name__ == "__main__":
    main()
