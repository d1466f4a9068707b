"""Benchmark: FDS per-bin feature statistics (count, mean, M2) on CPU.

    python -m benchmarks.bench_fds_stats [--quick] [--rounds R] [--threads T] [--out DIR]

Case ``agedb``: N = 12,208 rows (the AgeDB-DIR training split) × D = 2,048 fp32 features (ResNet-50
encoding), bins = training ages clamped to 3..99 → 97 FDS bins (skewed, as in the official code;
``--quick``: the first 2,048 rows, D = 256). Providers, interleaved in one process:

* ``floor`` — memory floor: ``torch.sum(features) + torch.sum(bin_idx)`` + ``copy_`` of a ``[2·B, D]``
  tensor (mean and M2) into a preallocated buffer;
* ``dirfast_cpu`` — ``fds_bin_stats(backend="cpu")`` (C++: counting sort, Welford per 256-row chunk of a
  bin on shifted features, Chan merge; OpenMP);
* ``dirfast_cpu_torch`` — the vectorised-PyTorch path (``auto`` with the extension hidden);
* ``naive_loop`` — the official pattern: for each unique label, a boolean mask, ``mean`` and ``var`` of
  the selected rows (``torch.unique`` + per-bin syncs);
* ``reference`` — ``fds_bin_stats(backend="reference")`` (two ``index_add_`` passes, no shift).

Target: ``dirfast_cpu`` within 2.5× the memory floor (min-of-N) on the full case.
Statistics memory: ``count [B]`` + ``mean, m2 [B, D]`` = ``8·B + 2·4·B·D`` bytes (AgeDB: 1.6 MB), plus
C++ scratch of ``(N/256 + B)·D·2`` partials (2.3 MB) and the ``[N]`` permutation.
"""

from __future__ import annotations

from typing import List, Optional, Sequence

import torch

import dirfast
from dirfast import _ext, fds_bin_stats

from . import runner
from .runner import Case, Provider

OP = "fds_stats"
NUM_BINS = 97
ACCEPT_RATIO = 2.5


def _setup(n: int, d: int):
    def setup():
        ages = dirfast.data.agedb_dir_ages()["train"][:n]
        b = ages.long().clamp(3, 99) - 3
        g = torch.Generator().manual_seed(0)
        x = torch.randn(len(b), d, generator=g) * 0.5 + 1.0
        return {"x": x, "b": b, "out_src": torch.ones(2 * NUM_BINS, d),
                "out_buf": torch.empty(2 * NUM_BINS, d)}

    return setup


def build_cases(quick: bool) -> List[Case]:
    n, d = (2048, 256) if quick else (12208, 2048)
    read = n * d * 4 + n * 8
    write = 2 * NUM_BINS * d * 4 + NUM_BINS * 8
    return [Case(
        name="agedb_quick" if quick else "agedb",
        params={"n": n, "dtype": "float32", "shapes": f"features [{n}, {d}], bin_idx [{n}] int64",
                "bins": f"{NUM_BINS} (AgeDB train ages clamped to 3..99)",
                "working_set_mb": round((read + write) / 2**20, 1),
                "stats_mb": round(write / 2**20, 2)},
        setup=_setup(n, d), bytes_per_call=read + write)]


def _cpu_torch(x):
    with runner.hide_extension():
        return fds_bin_stats(x["x"], x["b"], NUM_BINS, backend="auto", validate=False)


def _naive(x):
    """The official per-bucket loop (spec §2.4 step 3), without the EMA."""
    feats, labels = x["x"], x["b"]
    mean = torch.zeros(NUM_BINS, feats.shape[1])
    var = torch.ones(NUM_BINS, feats.shape[1])
    for label in torch.unique(labels):
        sel = feats[labels == label]
        k = int(label)
        mean[k] = sel.mean(0)
        var[k] = sel.var(0, unbiased=sel.shape[0] != 1)
    return mean, var


def build_providers() -> List[Provider]:
    return [
        runner.memory_floor(("x", "b"), "out_src", "out_buf"),
        Provider("dirfast_cpu", lambda x: fds_bin_stats(x["x"], x["b"], NUM_BINS, backend="cpu",
                                                        validate=False),
                 available=_ext.available, description="fds_bin_stats(backend='cpu') (C++ kernel)"),
        Provider("dirfast_cpu_torch", _cpu_torch,
                 description="fds_bin_stats(backend='auto') with dirfast._C hidden -> 'cpu_torch'"),
        Provider("naive_loop", _naive, description="official loop: torch.unique + per-bin mask/mean/var"),
        Provider("reference", lambda x: fds_bin_stats(x["x"], x["b"], NUM_BINS, backend="reference",
                                                      validate=False),
                 description="fds_bin_stats(backend='reference') (two index_add_ passes)"),
    ]


def check_agreement(cases: Sequence[Case]) -> List[str]:
    lines = []
    for c in cases:
        x = c.setup()
        want = fds_bin_stats(x["x"].double(), x["b"], NUM_BINS, backend="reference")
        wv = want.var
        for name, fn in (("dirfast_cpu", lambda: fds_bin_stats(x["x"], x["b"], NUM_BINS, backend="cpu"))
                         if _ext.available() else (None, None),
                         ("dirfast_cpu_torch", lambda: _cpu_torch(x)),
                         ("naive_loop", lambda: None)):
            if name is None:
                continue
            if name == "naive_loop":
                m, v = _naive(x)
            else:
                s = fn()
                m, v = s.mean, s.var
            present = want.count > 0
            em = ((m.double() - want.mean).abs().max() / want.mean.abs().max()).item()
            ev = ((v.double() - wv)[present].abs().max() / wv[present].abs().max()).item()
            lines.append(f"check {c.name}: {name} vs fp64 reference: mean rel {em:.1e}, var rel {ev:.1e} "
                         f"-> {'ok' if max(em, ev) < 1e-5 else 'MISMATCH'}")
    return lines


def main(argv: Optional[Sequence[str]] = None):
    args = runner.parse_args(OP, argv, description=__doc__.splitlines()[0])
    cases = build_cases(args.quick)
    for line in check_agreement(cases):
        print(line)
    results = runner.run(OP, cases, build_providers(), args)
    case = cases[0].name
    print()
    for prov in ("dirfast_cpu", "dirfast_cpu_torch", "naive_loop", "reference"):
        try:
            r = runner.ratio(results, case, prov)
            rm = runner.ratio(results, case, prov, stat="median")
        except Exception:  # provider unavailable
            continue
        line = f"{prov} / floor = {r:.2f}x (min-of-N), {rm:.2f}x (median)"
        if prov == "dirfast_cpu":
            line += (f"  [target <= {ACCEPT_RATIO}; --quick sizes are in cache, not judged]" if args.quick
                     else f"  -> target <= {ACCEPT_RATIO}: {'PASS' if r <= ACCEPT_RATIO else 'FAIL'}")
        print(line)
    print(f"statistics memory: {cases[0].params['stats_mb']} MB (count [B] + mean, m2 [B, D]); C++ scratch "
          f"(N/256 + B)·D·2 partials + [N] int64 permutation")
    return results


if __name__ == "__main__":
    main()
