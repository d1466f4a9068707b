"""Benchmark: FDS per-bin feature statistics (count, mean, M2), CPU or CUDA.

    python -m benchmarks.bench_fds_stats [--device cpu|cuda] [--sizes default|quick|check] [--rounds R]

Features ``[N, D]`` fp32 (``N(1, 0.5²)``), bins = AgeDB-DIR training ages clamped to 3..99 → 97 FDS
bins (skewed, as in the official code). One call = the statistics of one batch. Providers,
interleaved in one process:

* ``floor`` — memory floor: ``torch.sum(features) + torch.sum(bin_idx)`` + ``copy_`` of a ``[2·B, D]``
  tensor (mean and M2) into a preallocated buffer;
* ``dirfast`` (CUDA) — ``fds_bin_stats(backend="auto")`` (Triton: sorted chunks + ordered merge);
* ``dirfast_cpu`` (CPU) — ``fds_bin_stats(backend="cpu")`` (C++: counting sort, Welford per 256-row
  chunk of a bin on shifted features, Chan merge; OpenMP);
* ``dirfast_cpu_torch`` (CPU) — the vectorised-PyTorch path (``auto`` with the extension hidden);
* ``naive_torch`` — what a user writes vectorised: ``bincount`` + ``index_add_`` of ``x`` and of
  ``x²``, mean and unbiased variance from the sums (no shift: loses digits when mean ≫ std);
* ``official`` — the official ``FDS.update_running_stats`` (``tests/_official_fds.py``: for each
  ``torch.unique`` label a boolean mask, ``mean``, ``var``, the EMA write; epoch 0, so the EMA copies)
  with the ages as float labels;
* ``reference`` — ``fds_bin_stats(backend="reference")`` (two ``index_add_`` passes, no shift);
* ``fds_accumulate`` / ``fds_accumulate_official`` — ``dirfast.nn.FDS(2048, Bins(3, 1, 97)).accumulate(x,
  ages)`` in a calibrating epoch (after two epochs of statistics), default / official variant: bin ids,
  the calibration (``stats_from="calibrated"``, both variants' default) and the per-bin reference shift
  in registers, statistics, fp64 Chan merge into the epoch partials (C++ on CPU: one call; CUDA:
  ``torch.sort`` + two Triton kernels + the bin-id kernel). The partials are zeroed untimed before
  each call. ``fds_accumulate_input``: the default variant with ``stats_from="input"`` (no
  calibration: the shift alone). Target: ``fds_accumulate*`` ≤ 1.3× ``fds_bin_stats`` (``dirfast_cpu``
  on CPU, ``dirfast`` on CUDA), min-of-N.

Sizes: ``agedb`` N = 12,208 rows (the AgeDB-DIR training split) × D = 2,048 (ResNet-50 encoding);
CUDA default adds the training batches ``batch_256`` and ``batch_4096`` (× 2,048, the first rows of the
split); ``quick``/``check`` on CPU: ``agedb_quick`` (first 2,048 rows, D = 256); ``check`` on CUDA:
``agedb``. Target (CPU): ``dirfast_cpu`` within 2.5× the memory floor (min-of-N) on ``agedb``.
Statistics memory: ``count [B]`` + ``mean, m2 [B, D]`` = ``8·B + 2·4·B·D`` bytes (AgeDB: 1.6 MB), plus
C++ scratch of ``(N/256 + B)·D·2`` partials (2.3 MB) and the ``[N]`` permutation.
"""

from __future__ import annotations

from typing import List, Optional, Sequence

import torch

import dirfast
from dirfast import Bins, _ext, fds_bin_stats

from . import _official as _official_mod
from . import runner
from .runner import Case, Provider

OP = "fds_stats"
NUM_BINS = 97
ACCEPT_RATIO = 2.5
ACCUMULATE_RATIO = 1.3  # FDS.accumulate vs fds_bin_stats on the same data
ACCUMULATE = ("fds_accumulate", "fds_accumulate_official", "fds_accumulate_input")
AGEDB = ("agedb", 12208, 2048)
QUICK = ("agedb_quick", 2048, 256)
SIZES = {
    ("cpu", "default"): [AGEDB], ("cpu", "quick"): [QUICK], ("cpu", "check"): [QUICK],
    ("cuda", "default"): [AGEDB, ("batch_256", 256, 2048), ("batch_4096", 4096, 2048)],
    ("cuda", "quick"): [QUICK], ("cuda", "check"): [AGEDB],
}


def _setup(n: int, d: int):
    def setup():
        ages = runner.agedb_train()[:n]
        b = ages.long().clamp(3, 99) - 3
        g = torch.Generator().manual_seed(0)
        x = torch.randn(len(b), d, generator=g) * 0.5 + 1.0
        official = None
        if _official_mod.available("fds"):
            official = _official_mod.load("fds").OfficialFDS(d, bucket_num=100, bucket_start=3)
        labels = ages.to(torch.float32)
        mods = {}
        for name, kw in (("fds_accumulate", {}), ("fds_accumulate_official", {"variant": "official"}),
                         ("fds_accumulate_input", {"stats_from": "input"})):
            fds = dirfast.nn.FDS(d, Bins(3, 1, NUM_BINS), **kw)
            for epoch in range(2):  # two epochs of statistics: the third calibrates
                fds.accumulate(x, labels)
                fds.end_epoch(epoch)
            mods[name] = fds
        return {"x": x, "b": b, "labels": (b + 3).float(), "ages": labels, "out_src": torch.ones(2 * NUM_BINS, d),
                "out_buf": torch.empty(2 * NUM_BINS, d), "official": official, **mods}

    return setup


def build_cases(sizes="default", device: str = "cpu") -> List[Case]:
    """``sizes``: ``"default" | "quick" | "check"`` (a bool is read as ``quick``, the old signature)."""
    sizes = runner.sizes_arg(sizes)
    cases = []
    for name, n, d in SIZES[(device, sizes)]:
        read = n * d * 4 + n * 8
        write = 2 * NUM_BINS * d * 4 + NUM_BINS * 8
        cases.append(Case(
            name=name,
            params={"n": n, "dtype": "float32", "shapes": f"features [{n}, {d}], bin_idx [{n}] int64",
                    "bins": f"{NUM_BINS} (AgeDB train ages clamped to 3..99)",
                    "working_set_mb": round((read + write) / 2**20, 1),
                    "stats_mb": round(write / 2**20, 2)},
            setup=_setup(n, d), bytes_per_call=read + write))
    return cases


def _cpu_torch(x):
    with runner.hide_extension():
        return fds_bin_stats(x["x"], x["b"], NUM_BINS, backend="auto", validate=False)


def _naive(x):
    """Vectorised sum / sum-of-squares statistics (``index_add_``), unbiased variance."""
    feats, b = x["x"], x["b"]
    cnt = torch.bincount(b, minlength=NUM_BINS).to(feats.dtype)
    s1 = torch.zeros(NUM_BINS, feats.shape[1], dtype=feats.dtype, device=feats.device).index_add_(0, b, feats)
    s2 = torch.zeros_like(s1).index_add_(0, b, feats * feats)
    c = cnt[:, None]
    mean = s1 / c.clamp_min(1)
    var = (s2 - c * mean * mean) / (c - 1).clamp_min(1)
    return cnt, mean, var


def _official(x):
    """Official update_running_stats at epoch 0 (factor 0: the statistics are copied)."""
    fds = x["official"]
    with torch.no_grad():
        fds.update_running_stats(x["x"], x["labels"], 0)
    return fds.running_mean, fds.running_var


def _accumulate(name):
    def fn(x):
        x[name].accumulate(x["x"], x["ages"])
        f = x[name]
        k = NUM_BINS
        return f.partial_mean[:k], f.partial_m2[:k] / (f.partial_count[:k] - 1).clamp(min=1)[:, None]
    return fn


def _zero_partials(name):
    def reset(x):
        f = x[name]
        f.partial_count.zero_()
        f.partial_mean.zero_()
        f.partial_m2.zero_()
    return reset


def build_providers() -> List[Provider]:
    return [
        runner.memory_floor(("x", "b"), "out_src", "out_buf"),
        Provider("dirfast", lambda x: fds_bin_stats(x["x"], x["b"], NUM_BINS, backend="auto", validate=False),
                 devices=("cuda",), description="fds_bin_stats(backend='auto') (Triton)"),
        Provider("dirfast_cpu", lambda x: fds_bin_stats(x["x"], x["b"], NUM_BINS, backend="cpu",
                                                        validate=False),
                 available=_ext.available, devices=("cpu",), description="fds_bin_stats(backend='cpu') (C++ kernel)"),
        Provider("dirfast_cpu_torch", _cpu_torch, devices=("cpu",),
                 description="fds_bin_stats(backend='auto') with dirfast._C hidden -> 'cpu_torch'"),
        Provider("naive_torch", _naive, description="vectorised bincount + index_add_ of x and x^2"),
        Provider("official", _official, available=lambda: _official_mod.available("fds"), max_rounds=5,
                 description="official FDS.update_running_stats (tests/_official_fds.py): per unique label "
                             "boolean mask + mean + var + EMA write, epoch 0"),
        Provider("reference", lambda x: fds_bin_stats(x["x"], x["b"], NUM_BINS, backend="reference",
                                                      validate=False),
                 description="fds_bin_stats(backend='reference') (two index_add_ passes)"),
        Provider("fds_accumulate", _accumulate("fds_accumulate"), reset=_zero_partials("fds_accumulate"),
                 description="nn.FDS.accumulate, default variant, calibrating epoch (calibration + shift in "
                             "registers, Chan merge into the partials)"),
        Provider("fds_accumulate_official", _accumulate("fds_accumulate_official"),
                 reset=_zero_partials("fds_accumulate_official"),
                 description="nn.FDS.accumulate, official variant, calibrating epoch"),
        Provider("fds_accumulate_input", _accumulate("fds_accumulate_input"),
                 reset=_zero_partials("fds_accumulate_input"),
                 description="nn.FDS.accumulate, default variant with stats_from='input' (shift only)"),
    ]


def _mean_var(out, x):
    """The per-bin mean and variance a provider returns (a tuple ending with them, or BinStats), fp64 CPU."""
    m, v = (out[-2], out[-1]) if isinstance(out, tuple) else (out.mean, out.var)
    return m.double().cpu(), v.double().cpu()


def check_agreement(cases: Sequence[Case], providers: Sequence[Provider], device: str = "cpu") -> List[str]:
    """Untimed: every provider's per-bin mean and variance against the fp64 reference (CPU)."""
    lines = []
    for c in cases:
        x = runner.to_device(c.setup(), device)
        want = fds_bin_stats(x["x"].double().cpu(), x["b"].cpu(), NUM_BINS, backend="reference")
        present = want.count > 0
        wv = want.var

        def line(name, mv):  # called at once, inside this iteration
            m, v = mv
            em = ((m - want.mean)[present].abs().max() / want.mean.abs().max()).item()
            ev = ((v - wv)[present].abs().max() / wv[present].abs().max()).item()
            return (f"check {c.name}: {name} vs fp64 reference: mean rel {em:.1e}, var rel {ev:.1e} "
                    f"-> {'ok' if max(em, ev) < 1e-5 else 'MISMATCH'}")

        # the calibrating accumulate providers see calibrated features: not compared here
        lines += runner.provider_outputs(providers, x, device, _mean_var, label=c.name, each=line,
                                         skip=lambda p: p.name in ACCUMULATE[:2])[1]
    return lines


def report(results, args, cases: Sequence[Case]) -> None:
    print()
    case = cases[0].name
    op = "dirfast" if args.device == "cuda" else "dirfast_cpu"
    for prov in ACCUMULATE:
        r = runner.ratio(results, case, prov, floor=op)
        rm = runner.ratio(results, case, prov, floor=op, stat="median")
        if r == r:
            verdict = (f"-> target <= {ACCUMULATE_RATIO}: {'PASS' if r <= ACCUMULATE_RATIO else 'FAIL'}"
                       if case == AGEDB[0] else
                       f"[target <= {ACCUMULATE_RATIO} at {AGEDB[0]}; {case} is judged on nothing]")
            print(f"{prov} / {op} (fds_bin_stats) = {r:.2f}x (min-of-N), {rm:.2f}x (median)  {verdict}")
    if args.device == "cuda":
        runner.print_summary(results, "dirfast")
        return
    for prov in ("dirfast_cpu", "dirfast_cpu_torch", "naive_torch", "official", "reference"):
        r = runner.ratio(results, case, prov)
        rm = runner.ratio(results, case, prov, stat="median")
        if r != r:  # provider unavailable
            continue
        line = f"{prov} / floor = {r:.2f}x (min-of-N), {rm:.2f}x (median)"
        if prov == "dirfast_cpu":
            line += (f"  [target <= {ACCEPT_RATIO}; --sizes {args.sizes} sits in cache, not judged]"
                     if args.sizes != "default" else
                     f"  -> target <= {ACCEPT_RATIO}: {'PASS' if r <= ACCEPT_RATIO else 'FAIL'}")
        print(line)
    print(f"statistics memory: {cases[0].params['stats_mb']} MB (count [B] + mean, m2 [B, D]); C++ scratch "
          f"(N/256 + B)·D·2 partials + [N] int64 permutation")


def main(argv: Optional[Sequence[str]] = None):
    args = runner.parse_args(OP, argv, description=__doc__.splitlines()[0])
    cases = build_cases(args.sizes, args.device)
    providers = build_providers()
    return runner.run_checked(OP, args, cases, providers, before=check_agreement(cases[:1], providers, args.device),
                              report=lambda results, args: report(results, args, cases))


if __name__ == "__main__":
    main()
