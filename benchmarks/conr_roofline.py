"""ConR on paper (no GPU): per GPU family, dtype/precision and benchmark size, the launch plan the
launchers take (tile, column split, programs per O(M²) launch), FLOPs and bytes per call, and the
roofline estimate of ``dirfast.kernels._sweep.estimate`` (the model the launch table was tuned with)
of one forward + backward against the GEMM floor of ``4·M²·D`` FLOPs at the same dtype's dense rate.

    python -m benchmarks.conr_roofline [--out benchmarks/results/conr_roofline.csv]

Inputs: the plans of :func:`dirfast.kernels.conr.conr_split` (family ``sm80``/``sm90``), the registers
and MMA kind of each table tile from ``benchmarks/results/conr_sweep/table_check.csv`` (the AOT
compile of every entry), occupancy ``blocks_per_sm`` from the table; the 16 × 16 small-M configs
(registered, not in the table) are compiled here (``dirfast.kernels._aot.compile_config``, about a
minute) for their registers, occupancy and MMA kind. This is a model, not a measurement: on the H200
it read 2–5× low against the measured times of ``../shared/gpu/h200_2026-12-04.md``.
"""

from __future__ import annotations

import argparse
import csv
import os

from dirfast.kernels import _sweep as S
from dirfast.kernels import conr as K
from dirfast.kernels import conr_table as T

SIZES = [(512, 2048), (4096, 512), (16384, 512), (65536, 512)]
DTYPES = [("bfloat16", "ieee"), ("float16", "ieee"), ("float32", "tf32"), ("float32", "ieee"),
          ("float64", "ieee")]
FAMILIES = [("sm90", 90), ("sm80", 80)]
CHECK = os.path.join("benchmarks", "results", "conr_sweep", "table_check.csv")


def _compiled(rows, fam, cc, dt, prec, kern, t):
    """(mma kind, registers) of the table tile ``t`` as the AOT check compiled it."""
    for r in rows:
        if ((r["family"], r["dtype"], r["precision"], r["sm"]) == (fam, dt, prec, str(cc))
                and r["role"].split("_")[0] == kern
                and tuple(int(r[c]) for c in ("block_m", "block_n", "block_d", "block_do",
                                              "num_warps"))
                == (t.block_m, t.block_n, t.block_d, t.block_do, t.num_warps)):
            return r["mma"], int(r["regs"])
    raise KeyError(f"{fam} {dt}/{prec} {kern} {t} not in {CHECK}")


def _small(kern, dt, prec, cc):
    """(tiles, mma kind, registers) of the registered small-M config, compiled for ``cc``."""
    from dirfast.kernels._aot import all_configs, compile_config

    key = K._key((dt, prec, True, False) + (() if kern == "fwd" else (False,)), True, False)
    name = "_conr_fwd_kernel" if kern == "fwd" else "_conr_bwd_kernel"
    for spec, cfg in all_configs():
        if cfg.key == key and name in str(spec):
            c = compile_config(spec, cfg, cc)
            ce = cfg.constexprs
            t = T.ConrTiles(ce["BLOCK_M"], ce["BLOCK_N"], ce["BLOCK_D"], ce.get("BLOCK_DO", 0),
                            cfg.num_warps, cfg.num_stages, False, False, c.blocks_per_sm)
            return t, c.mma or "", c.regs
    raise KeyError(key)


def rows_for(check_rows):
    out = []
    for fam, cc in FAMILIES:
        for dt, prec in DTYPES:
            b = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8}[dt]
            for m, d in SIZES:
                row = {"family": fam, "dtype": dt, "precision": prec, "M": m, "D": d}
                clk, floor = 0.0, 0.0
                for kern in ("fwd", "bwd"):
                    p = K.conr_split(m, d, dt, prec, kern, family=fam)
                    if p.small:
                        t, mma, regs = _small(kern, dt, prec, cc)
                    else:
                        t = p.tiles
                        mma, regs = _compiled(check_rows, fam, cc, dt, prec, kern, t)
                    e = S.estimate(cc, dt, prec, kern, t, m, d, mma, t.blocks_per_sm * t.num_warps,
                                   t.blocks_per_sm, split=p.split)
                    clk += e["clk"]
                    if kern == "bwd":
                        floor = e["floor"]  # 4·D per element pair at the dense rate: 4·M²·D
                    row[f"{kern}_tile"] = f"{p.block_m}x{p.block_n}" + ("s" if p.small else "")
                    row[f"{kern}_split"] = p.split
                    row[f"{kern}_programs"] = p.programs
                    row[f"{kern}_regs"] = regs
                    row[f"{kern}_bound"] = e["bound"]
                    # bytes from L2: z read once per (row tile, column tile) pair
                    row[f"{kern}_l2_GB"] = round(m * m * d * b * (1 / p.block_m + 1 / p.block_n)
                                                 / 1e9, 3)
                fl_f, fl_b = K.conr_flops(m, d)
                row["GFLOP"] = round((fl_f + fl_b) / 1e9, 2)
                row["x_gemm_floor"] = round(clk / floor, 1)
                out.append(row)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join("benchmarks", "results", "conr_roofline.csv"))
    args = ap.parse_args(argv)
    with open(CHECK) as f:
        check_rows = list(csv.DictReader(f))
    rows = rows_for(check_rows)
    cols = list(rows[0])
    with open(args.out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)
    print("NO GPU TIMING: roofline model of dirfast.kernels._sweep (see the module docstring)")
    print(" | ".join(["family", "dtype/prec", "M×D", "fwd tile/split/programs",
                      "bwd tile/split/programs", "GFLOP", "× floor (4·M²·D)"]))
    for r in rows:
        print(f"{r['family']} | {r['dtype']}/{r['precision']} | {r['M']}×{r['D']} | "
              f"{r['fwd_tile']}/{r['fwd_split']}/{r['fwd_programs']} | "
              f"{r['bwd_tile']}/{r['bwd_split']}/{r['bwd_programs']} | {r['GFLOP']} | "
              f"{r['x_gemm_floor']}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
