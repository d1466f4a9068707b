"""Offline tile sweep of the ConR kernels (no GPU): compiles candidate tiles ahead of time, records
what the cubin and PTX say, ranks the spill-free ones by a roofline estimate, and proposes the static
table of ``dirfast/kernels/conr_table.py``.

    python -m dirfast.kernels._sweep conr [--quick] [--budget SECONDS] [--out DIR]
                                         [--only DTYPE/PRECISION ...] [--ml] [--from-csv] [--rev REV]
    python -m dirfast.kernels._sweep conr --check-table [--rev REV]

writes ``DIR/sweep.csv`` (one row per compiled candidate) and ``DIR/proposed_table.py`` (the
``CONFIGS`` literal to paste into ``conr_table.py``; ``--check-table`` compiles the pasted table and
writes ``DIR/table_check.csv``); ``DIR`` defaults to
``benchmarks/results/conr_sweep``. One process, one compile at a time (the machines it runs on are
shared); ``--budget`` stops compiling after that many seconds (the groups are visited in order of
importance, the benchmark sizes first) and ``--quick`` compiles a handful (the test tier's smoke run).
Re-run it whenever ``dirfast/kernels/conr.py`` changes: the configs are built from that module's own
builders (``_fwd_config`` / ``_bwd_config``) with only the tiles, warps and stages replaced
(:func:`dirfast.kernels.conr_table.with_tiles`), so the signature and the other constexprs are
always the kernel's current ones.

**Candidates.** Per (architecture ∈ {sm_80, sm_90}, dtype/precision ∈ {fp16, bf16, fp32 IEEE, fp32
TF32, fp32 TF32x3, fp64}, role), with ``BLOCK_*`` powers of two and ``num_warps ∈ {4, 8}``:

* ``fwd_held`` (``ONE_CHUNK``: anchor tile held, ``D ≤ BLOCK_D``), one group per
  ``BLOCK_D ∈ {64, 128, 256}``; ``fwd_streamed`` (``BLOCK_D ∈ {16 … 128}`` chunks);
* ``bwd_held`` (``ONE_CHUNK`` and ``ONE_OUT``, ``BLOCK_D = BLOCK_DO``), one group per
  ``BLOCK_D ∈ {64, 128}``; ``bwd_streamed`` (neither: ``dU`` read-modify-written per column
  tile); ``bwd_out`` (``ONE_OUT`` only: streamed similarity, ``dU`` held in registers, one group
  per ``BLOCK_DO ∈ {256, 512}``; the kernel supports it, today's launcher never picks it);
* ``--ml``: the same roles (``…+ml``) for the ``[M, dl]``-labels variant (``multi=True``: per-tile
  label distances, more registers), table roles ``fwd_ml`` / ``bwd_ml``.

``BLOCK_M, BLOCK_N ∈ {16 … 256}`` with at most 16 fp32 tile elements per thread (8 for fp64: the
tile math keeps several ``[BLOCK_M, BLOCK_N]`` tiles live; at 32 every bf16 candidate spilled on
sm_90), operand tiles ≤ 64 KB; every ``tl.dot`` dimension ≥ 16, so fp16/bf16/TF32 dots can lower to
``mma``/``wgmma``. ``num_stages`` is compiled at 1; for the best of each forward-streamed group the
sweep also compiles 2 and 3 and records whether the PTX changed (``pipelined``): the kernels' column
loops are ``while`` loops, which Triton's software pipeliner does not touch.
Within a group, candidates are compiled best-estimate first (the estimate below at 16 resident
warps; fp16 and TF32x3 groups first try the spill-free tiles of bf16 / TF32, ``SEED``), until
``KEEP`` compile spill-free with both ``PUSH_EXP`` variants or ``TRIES`` were tried; a candidate at
least as large in every tile as one that spilled (same warps) is skipped; a group with none
spill-free then tries up to ``TRIES`` of its smallest tiles.

**Roofline estimate** (:func:`estimate`): clocks per SM per similarity element ``(i, j)`` of the
role at ``(M, D)``, the largest of

* tensor-core / FMA time: ``2·D`` FLOPs forward, ``4·D`` backward (``D`` padded to the chunk) at the
  unit the PTX uses (``PEAK``: sm_80 ``mma.sync`` 2048 FLOP/clk/SM fp16/bf16, 1024 TF32, 128 fp64
  DMMA, 128 fp32 FMA; sm_90 ``wgmma`` 4096 / 2048 TF32, ``mma.sync`` on sm_90 at 0.6 of that,
  256 fp64 DMMA, 256 fp32 FMA; TF32x3 three TF32 products);
* elementwise time: ``ALU_OPS`` fp32 operations per element (forward 30, backward 45, fp16 backward
  +3 for its scaling: counted by hand from ``_tile_logits`` and the loop bodies) at 64 (sm_80) /
  128 (sm_90) lanes per clock — fp64 at half that and each ``exp`` as 20 fp64 operations —;
  ``exp`` on the MUFU (16/clk/SM): 1 forward, 2 backward;
* memory time: bytes per element through L2 (32 B/clk/SM): the column tile per row tile
  (``D·b/BLOCK_M``) and the backward's read-modify-write of ``dU`` when not ``ONE_OUT``
  (``2·D·4/BLOCK_N``, 8-byte for fp64); through L1 (128 B/clk/SM) when the re-read rows of every
  resident block fit 96 KB (else L2): the anchor chunks when streamed (``D·b/BLOCK_N``) and the
  backward's second read of the column tile for ``H·u_J`` (``D·b/BLOCK_M``);

(an FMA-only config adds its dot time to its elementwise time: one pipe), divided by the
occupancy factor ``min(1, resident warps / 16)`` (no software pipelining: latency is
hidden by other warps only) and by the wave utilisation of the grid, with the edge tiles' padding
counted. The grid is the column-split one (``cdiv(M, BLOCK_M) × SPLIT`` programs, ``SPLIT`` chosen
by the launcher to fill every resident-block slot: :func:`dirfast.kernels.conr_table.split_for`;
``split=1`` estimates today's grid).
``x_floor`` = that time over the GEMM floor: the same ``2·D`` / ``4·D`` FLOPs at the peak of the
unit ``torch.mm`` uses for the dtype (fp16/bf16: ``wgmma``/``mma``; fp32 IEEE: FMA; TF32/TF32x3: TF32
tensor cores; fp64: DMMA). A measured ``torch.mm`` runs below peak, so a measured ratio reads lower.
It is a paper model for ranking spill-free tiles, not a timing: no GPU was used.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import os
import sys
import time
from typing import Dict, Iterator, List, Optional, Tuple

from . import conr_table as T

POW2 = (16, 32, 64, 128, 256)
FWD_HELD_D = (64, 128, 256)
BWD_HELD_D = (64, 128)
OUT_DO = (256, 512)
STREAM_D = (16, 32, 64, 128)
WARPS = (4, 8)
STAGES_CHECKED = (2, 3)
KEEP, TRIES = 2, 6
#: (dtype, precision) swept, the benchmark's first
DTYPES = (("bfloat16", "ieee"), ("float32", "ieee"), ("float32", "tf32"), ("float64", "ieee"),
          ("float16", "ieee"), ("float32", "tf32x3"))
ARCH_CC = {"sm90": 90, "sm80": 80}

#: per-SM throughput per clock (see the module docstring)
PEAK = {
    80: {"sms": 108, "tc16": 2048, "tf32": 1024, "dmma": 128, "fma32": 128, "alu": 64, "mufu": 16,
         "l2": 32, "l1": 128},
    90: {"sms": 132, "tc16": 4096, "tf32": 2048, "dmma": 256, "fma32": 256, "alu": 128, "mufu": 16,
         "l2": 32, "l1": 128},
}
MMA_SYNC_ON_SM90 = 0.6
ALU_OPS = {"fwd": 30, "bwd": 45}
F16_BWD_OPS = 3
EXPS = {"fwd": 1, "bwd": 2}
FP64_EXP_OPS = 20
OCC_WARPS = 16
#: estimates within this fraction of the best count as ties when the table is proposed
TIE = 0.05
#: L1 bytes per SM left for re-read rows (the rest of the 192/256 KB L1/shared array: shared memory)
L1_BYTES = 96 * 1024


def _dot_peak(cc: int, dtype: str, precision: str, mma: str) -> float:
    """FLOP/clk/SM of the similarity dots as compiled (``mma``: the PTX's tensor-core kinds)."""
    p = PEAK[cc]
    if not mma:
        return p["fma32"] / (2 if dtype == "float64" else 1)
    if dtype == "float64":
        return p["dmma"]
    peak = p["tc16"] if dtype in ("float16", "bfloat16") else p["tf32"]
    if cc == 90 and "wgmma" not in mma:
        peak *= MMA_SYNC_ON_SM90
    if precision == "tf32x3":
        peak /= 3
    return peak


def _floor_peak(cc: int, dtype: str, precision: str) -> float:
    p = PEAK[cc]
    if dtype in ("float16", "bfloat16"):
        return p["tc16"]
    if dtype == "float64":
        return p["dmma"]
    return p["fma32"] if precision == "ieee" else p["tf32"]


def estimate(cc: int, dtype: str, precision: str, kernel: str, tiles: T.ConrTiles, m: int, d: int,
             mma: str, warps_per_sm: int, blocks_per_sm: int,
             split: Optional[int] = None) -> Dict[str, float]:
    """The roofline estimate of the module docstring for one compiled config at ``(M, D)``:
    ``{"clk": clocks per element per SM, "floor": the GEMM floor's, "x_floor": their ratio,
    "bound": "mma" | "alu" | "mufu" | "mem"}``."""
    p = PEAK[cc]
    b = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8}[dtype]
    acc_b = 8 if dtype == "float64" else 4
    bm, bn, bd, bdo = tiles.block_m, tiles.block_n, tiles.block_d, tiles.block_do
    d_sim = -(-d // bd) * bd
    blocks = max(blocks_per_sm, 1)
    # L2: the column tile once per (row tile, column tile); L1 (if the re-read rows of every
    # resident block fit L1_BYTES): the streamed anchor chunks, the backward's second read of the
    # column tile; the backward's dU read-modify-write (fp32; fp64 for fp64) goes to L2
    l2 = d * b / bm + (3 if kernel == "fwd" else 7) * acc_b / bm
    l1 = 0.0
    if not tiles.one_chunk:
        anchor = d * b / bn
        if bm * d * b * blocks <= L1_BYTES:
            l1 += anchor
        else:
            l2 += anchor
    if kernel == "fwd":
        flops = 2 * d_sim
    else:
        flops = 2 * d_sim + 2 * (-(-d // bdo) * bdo)
        if bn * d * b * blocks <= L1_BYTES:
            l1 += d * b / bm
        else:
            l2 += d * b / bm
        if not tiles.one_out:
            l2 += 2 * d * acc_b / bn
    ops = ALU_OPS[kernel] + (F16_BWD_OPS if (dtype == "float16" and kernel == "bwd") else 0)
    exps = EXPS[kernel]
    if dtype == "float64":
        t_alu = (ops + exps * FP64_EXP_OPS) / (p["alu"] / 2)
        t_mufu = 0.0
    else:
        t_alu = ops / p["alu"]
        t_mufu = exps / p["mufu"]
    parts = {"mma": flops / _dot_peak(cc, dtype, precision, mma), "alu": t_alu, "mufu": t_mufu,
             "mem": l2 / p["l2"] + l1 / p["l1"]}
    if not mma:  # an FMA dot and the tile math share the FP32 (FP64) pipe: they add up
        parts["mma"] += parts.pop("alu")
    bound = max(parts, key=parts.get)
    occ = min(1.0, warps_per_sm / OCC_WARPS) if warps_per_sm else 1e-9
    slots = max(1, p["sms"] * max(blocks_per_sm, 1))
    rows = -(-m // bm)
    programs = rows * (T.split_for(m, bm, bn, slots) if split is None else split)
    util = programs / (-(-programs // slots) * slots)
    pad = (rows * bm) * (-(-m // bn) * bn) / (m * m)
    clk = parts[bound] / occ / util * pad
    floor = (2 if kernel == "fwd" else 4) * d / _floor_peak(cc, dtype, precision)
    return {"clk": clk, "floor": floor, "x_floor": clk / floor, "bound": bound}


@dataclasses.dataclass
class Group:
    arch: str
    dtype: str
    precision: str
    role: str
    #: the held ``BLOCK_D`` / one-out ``BLOCK_DO`` of the group (0 for streamed roles)
    width: int

    @property
    def kernel(self) -> str:
        return self.role.split("_")[0]

    @property
    def base_role(self) -> str:
        """The role without the ``+ml`` suffix (``[M, dl]``-labels variant, ``multi=True``)."""
        return self.role.split("+")[0]

    @property
    def extra(self) -> Dict[str, object]:
        return {"multi": True} if self.role.endswith("+ml") else {}

    @property
    def d_eval(self) -> int:
        """The ``D`` the group's candidates are ranked at: the widest they take, else 512."""
        return self.width or 512


def _tile_ok(dtype: str, bm: int, bn: int, warps: int) -> bool:
    per_thread = bm * bn / (32 * warps)
    return per_thread <= (8 if dtype == "float64" else 16) and per_thread >= 1


def candidates(g: Group) -> Iterator[T.ConrTiles]:
    b = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8}[g.dtype]
    for bm in POW2:
        for bn in POW2:
            for w in WARPS:
                if not _tile_ok(g.dtype, bm, bn, w):
                    continue
                if g.base_role == "fwd_held":
                    if bm * g.width * b <= 64 * 1024:
                        yield T.ConrTiles(bm, bn, g.width, 0, w, 1, True, False)
                elif g.base_role == "fwd_streamed":
                    for bd in STREAM_D:
                        if max(bm, bn) * bd * b <= 64 * 1024:
                            yield T.ConrTiles(bm, bn, bd, 0, w, 1, False, False)
                elif g.base_role == "bwd_held":
                    # anchor tile (input dtype) and dU accumulator (fp32/fp64) held
                    if bm * g.width * (b + (8 if g.dtype == "float64" else 4)) <= 96 * 1024:
                        yield T.ConrTiles(bm, bn, g.width, g.width, w, 1, True, True)
                elif g.base_role == "bwd_streamed":
                    for bd in STREAM_D:
                        for bdo in STREAM_D[1:]:
                            if max(bm, bn) * max(bd, bdo) * b <= 64 * 1024:
                                yield T.ConrTiles(bm, bn, bd, bdo, w, 1, False, False)
                elif g.base_role == "bwd_out":
                    if bm * g.width * (8 if g.dtype == "float64" else 4) <= 96 * 1024:
                        for bd in STREAM_D:
                            yield T.ConrTiles(bm, bn, bd, g.width, w, 1, False, True)


def groups(quick: bool, only=None, ml: bool = False) -> List[Group]:
    """The groups in sweep order; ``ml``: the ``[M, dl]``-labels variant's (roles ``…+ml``)."""
    if ml:
        return [dataclasses.replace(g, role=g.role + "+ml") for g in groups(quick, only)]
    out = []
    archs = ("sm90",) if quick else ("sm90", "sm80")
    dtypes = DTYPES[:1] if quick else [dp for dp in DTYPES if not only or dp in only]
    for dt, prec in dtypes:
        for arch in archs:
            if quick:
                out.append(Group(arch, dt, prec, "fwd_streamed", 0))
                continue
            # the benchmark sizes first (D = 512: streamed forward, held/one-out backward)
            out += [Group(arch, dt, prec, "fwd_streamed", 0), Group(arch, dt, prec, "bwd_out", 512),
                    Group(arch, dt, prec, "bwd_streamed", 0)]
            out += [Group(arch, dt, prec, "fwd_held", w) for w in FWD_HELD_D]
            out += [Group(arch, dt, prec, "bwd_held", w) for w in BWD_HELD_D]
            out += [Group(arch, dt, prec, "bwd_out", w) for w in OUT_DO[:-1]]
    return out


#: the ConR module swept: ``dirfast.kernels.conr`` of the working tree, or a snapshot of a commit
_KERNEL_MODULE = None


def load_kernel_module(rev: Optional[str] = None):
    """``dirfast.kernels.conr`` (``rev`` None), or the file at git revision ``rev`` loaded as
    ``dirfast.kernels.conr`` in this process (same name: Triton's cache keys include it, so the
    compiles are shared with the AOT tier's; its relative imports resolve in this package; Triton
    needs the source in a real file, written to a temporary directory)."""
    global _KERNEL_MODULE
    if rev is None:
        from . import conr as mod
    else:
        import importlib.util
        import subprocess
        import tempfile

        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        src = subprocess.run(["git", "show", f"{rev}:dirfast/kernels/conr.py"], cwd=root, check=True,
                             capture_output=True, text=True).stdout
        path = os.path.join(tempfile.mkdtemp(prefix="conr_at_rev_"), "conr.py")
        with open(path, "w") as f:
            f.write(src)
        name = f"{__package__}.conr"
        if name in sys.modules:
            raise RuntimeError(f"{name} is already imported: --rev needs a fresh process")
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    _KERNEL_MODULE = mod
    return mod


def _bases():
    """The kernel module's own config builders (read-only use of ``dirfast.kernels.conr``)."""
    conr = _KERNEL_MODULE or load_kernel_module()
    return conr, conr._fwd_config, conr._bwd_config


COLUMNS = ["arch", "dtype", "precision", "role", "block_m", "block_n", "block_d", "block_do",
           "num_warps", "num_stages", "push_exp", "status", "regs", "stack", "shared", "shared_limit",
           "mma", "tf32", "blocks_per_sm", "warps_per_sm", "pipelined", "compile_s", "d_eval",
           "clk_m4096", "x_floor_m4096", "bound", "x_floor_m512"]


def compile_one(g: Group, tiles: T.ConrTiles, push_exp: bool, stages: int = 1) -> Dict[str, object]:
    from ._aot import compile_kernel, inspect_kernel

    conr, fwd_base, bwd_base = _bases()
    cc = ARCH_CC[g.arch]
    tiles = tiles._replace(num_stages=stages)
    cfg = T.with_tiles(fwd_base if g.kernel == "fwd" else bwd_base, g.arch, g.dtype, g.precision,
                       g.kernel, push_exp, tiles, **g.extra)
    fn = conr._conr_fwd_kernel if g.kernel == "fwd" else conr._conr_bwd_kernel
    row = {"arch": g.arch, "dtype": g.dtype, "precision": g.precision, "role": g.role,
           "block_m": tiles.block_m, "block_n": tiles.block_n, "block_d": tiles.block_d,
           "block_do": tiles.block_do, "num_warps": tiles.num_warps, "num_stages": stages,
           "push_exp": push_exp, "shared_limit": T.SHARED_LIMIT[g.arch], "d_eval": g.d_eval}
    t0 = time.perf_counter()
    try:
        kernel = compile_kernel(fn, cfg, cc)
        c = inspect_kernel(kernel, f"{fn.__name__} {cfg.key}", tiles.num_warps, cc)
    except Exception as exc:  # a tile Triton cannot lower is a result, not a crash
        row.update(status=f"error: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}",
                   compile_s=round(time.perf_counter() - t0, 2))
        return row
    row.update(status="ok" if c.stack == 0 and c.shared <= T.SHARED_LIMIT[g.arch] else
               ("spills" if c.stack else "shared"),
               regs=c.regs, stack=c.stack, shared=c.shared, mma=c.mma or "none", tf32=c.tf32,
               blocks_per_sm=c.blocks_per_sm, warps_per_sm=c.warps_per_sm,
               compile_s=round(time.perf_counter() - t0, 2),
               _ptx=_ptx_hash(kernel.asm["ptx"]))
    for m, tag in ((4096, "m4096"), (512, "m512")):
        e = estimate(cc, g.dtype, g.precision, g.kernel, tiles, m, g.d_eval, c.mma,
                     c.warps_per_sm, c.blocks_per_sm)
        row[f"x_floor_{tag}"] = round(e["x_floor"], 3)
        if tag == "m4096":
            row["clk_m4096"] = round(e["clk"], 4)
            row["bound"] = e["bound"]
    return row


def _ptx_hash(ptx: str) -> str:
    """The PTX's hash without its debug information (``.file`` / ``.loc`` lines and the
    ``.debug_*`` sections name the source file, which differs between processes under ``--rev``)."""
    code = ptx.split(".section\t.debug", 1)[0].split(".section .debug", 1)[0]
    body = "\n".join(ln for ln in code.splitlines() if not ln.lstrip().startswith((".file", ".loc")))
    return hashlib.sha1(body.encode()).hexdigest()


def _prior(g: Group, tiles: T.ConrTiles) -> float:
    """The estimate before compiling: tensor cores as the dtype allows, full occupancy."""
    cc = ARCH_CC[g.arch]
    mma = "" if (g.dtype == "float32" and g.precision == "ieee") else (
        "wgmma" if cc == 90 and tiles.block_m % 64 == 0 else "mma")
    return estimate(cc, g.dtype, g.precision, g.kernel, tiles, 4096, g.d_eval, mma, 16, 2)["clk"]


#: dtypes whose groups try the spill-free tiles of a sibling first (same kernel code but the
#: fp16 backward's scaling / TF32x3's three products): most compile spill-free at once
SEED = {("float16", "ieee"): ("bfloat16", "ieee"), ("float32", "tf32x3"): ("float32", "tf32")}


def _seeded(g: Group, ranked: List[T.ConrTiles], rows) -> List[T.ConrTiles]:
    seed = SEED.get((g.dtype, g.precision))
    role = g.role
    if g.extra:  # the [M, dl]-labels variant: the single-label tiles of the same dtype first
        seed, role = (g.dtype, g.precision), g.base_role
    if seed is None:
        return ranked
    first = [_tiles_of(r) for r in sorted(
        (r for r in rows if (r["arch"], r["dtype"], r["precision"], r["role"]) ==
         (g.arch,) + seed + (role,) and r["status"] == "ok" and int(r["num_stages"]) == 1
         and str(r["push_exp"]) == "True" and _width(r) == g.width),
        key=lambda r: float(r["clk_m4096"]))]
    return first + [t for t in ranked if t not in first]


def _width(r) -> int:
    role = r["role"].split("+")[0]
    return int(r["block_d"]) if role in ("fwd_held", "bwd_held") else (
        int(r["block_do"]) if role == "bwd_out" else 0)


def sweep(quick: bool, budget: float, only=None, log=sys.stderr,
          prior_rows=(), ml: bool = False) -> List[Dict[str, object]]:
    """Compile the candidates of every group (see the module docstring); one row per compile."""
    rows: List[Dict[str, object]] = []
    t_end = time.monotonic() + budget
    keep, tries = (1, 2) if quick else (KEEP, TRIES)
    for g in groups(quick, only, ml):
        if time.monotonic() > t_end:
            print(f"budget spent: skipping {g}", file=log)
            continue
        ranked = sorted(candidates(g), key=lambda t: (_prior(g, t), -t.block_m, t.num_warps))
        ranked = _seeded(g, ranked, list(prior_rows) + rows)
        ok: List[Dict[str, object]] = []
        failed: List[T.ConrTiles] = []

        def attempt(tiles: T.ConrTiles) -> None:
            # spill-free only if both PUSH_EXP variants are (the table serves both)
            for px in (True, False):
                row = compile_one(g, tiles, push_exp=px)
                rows.append(row)
                if row["status"] != "ok":
                    failed.append(tiles)
                    return
            ok.append(rows[-2])

        n = 0
        for tiles in ranked:
            if len(ok) >= keep or n >= tries or time.monotonic() > t_end:
                break
            if any(_dominates(f, tiles) for f in failed):
                continue  # at least as large as a tile that spilled: would spill too
            attempt(tiles)
            n += 1
        if not ok:
            # nothing spill-free among the best-estimate tiles: the smallest ones next
            for tiles in sorted(ranked, key=lambda t: (t.block_m * t.block_n, t.block_d + t.block_do,
                                                       -t.num_warps))[:tries]:
                if ok or time.monotonic() > t_end:
                    break
                if any(_dominates(f, tiles) for f in failed) or any(
                        _same_tiles(r, tiles) for r in rows if _same(r, g)):
                    continue
                attempt(tiles)
        # the group's best: the stages the pipeliner could use
        ok.sort(key=lambda r: r["clk_m4096"])
        for best in ok[:1]:
            best["pipelined"] = False
            if not quick and g.role == "fwd_streamed":
                for st in STAGES_CHECKED:
                    r = compile_one(g, _tiles_of(best), push_exp=True, stages=st)
                    r["pipelined"] = r.get("_ptx") != best.get("_ptx")
                    rows.append(r)
        print(f"{g.arch} {g.dtype}/{g.precision} {g.role} {g.width or ''}: "
              f"{len(ok)} spill-free of {len([r for r in rows if _same(r, g)])} "
              + (f"best {_tiles_of(ok[0])} x_floor {ok[0]['x_floor_m4096']}" if ok else ""),
              file=log, flush=True)
    return rows


def _dominates(small: T.ConrTiles, big: T.ConrTiles) -> bool:
    """``big`` needs at least the registers of ``small``: same warps, every tile at least as
    large (elements per thread grow with each)."""
    return (big.num_warps == small.num_warps and big.block_m >= small.block_m
            and big.block_n >= small.block_n and big.block_d >= small.block_d
            and big.block_do >= small.block_do)


def _same_tiles(r, tiles: T.ConrTiles) -> bool:
    return _tiles_of(r)[:6] == tiles[:6]


def _same(r, g: Group) -> bool:
    return (r["arch"], r["dtype"], r["precision"], r["role"], _width(r)) == \
        (g.arch, g.dtype, g.precision, g.role, g.width)


def _tiles_of(r) -> T.ConrTiles:
    role = r["role"].split("+")[0]
    return T.ConrTiles(int(r["block_m"]), int(r["block_n"]), int(r["block_d"]), int(r["block_do"]),
                       int(r["num_warps"]), int(r["num_stages"]), role in ("fwd_held", "bwd_held"),
                       role in ("bwd_held", "bwd_out"))


def write_csv(rows, path: str) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)


def read_csv(path: str) -> List[Dict[str, object]]:
    with open(path) as f:
        return list(csv.DictReader(f))


def propose(rows) -> Dict[Tuple, T.ConrTiles]:
    """The table: for every key, the spill-free tiles (compiled with both ``PUSH_EXP`` variants, one
    stage) with the lowest estimate (within ``TIE`` of it: the least padded dot widths) at the
    bucket's representative size (``M``: 512 for the small bucket, 8192 above; ``D``: the bucket's
    upper bound, 2048 for the open one); held tiles only where the bucket's ``D`` fits, the sm80
    family within 99 KB (sm_86/sm_89)."""
    ok: Dict[Tuple, Dict[str, object]] = {}
    push_ok = set()
    for r in rows:
        if r["status"] != "ok" or int(r["num_stages"]) != 1:
            continue
        k = (r["arch"], r["dtype"], r["precision"], r["role"], _tiles_of(r))
        if str(r["push_exp"]) in ("True", "true", "1"):
            ok[k] = r
        else:
            push_ok.add(k)
    cands: Dict[Tuple, List] = {}
    for (arch, dt, prec, role, tiles), r in ok.items():
        if (arch, dt, prec, role, tiles) not in push_ok:
            continue
        cc = ARCH_CC[arch]
        kern = role.split("_")[0]
        table_role = kern + ("_ml" if role.endswith("+ml") else "")
        for mb in T.M_BUCKETS:
            m = 512 if mb is not None else 8192
            for db in T.D_BUCKETS:
                d = db if db is not None else 2048
                if tiles.one_chunk and tiles.block_d < d or tiles.one_out and tiles.block_do < d:
                    continue
                e = estimate(cc, dt, prec, kern, tiles, m, d, "" if r["mma"] == "none" else r["mma"],
                             int(r["warps_per_sm"]), int(r["blocks_per_sm"]))
                pad = -(-d // tiles.block_d) * tiles.block_d + (
                    -(-d // tiles.block_do) * tiles.block_do if tiles.block_do else 0)
                cands.setdefault((arch, dt, prec, table_role, mb, db), []).append(
                    (e, tiles._replace(blocks_per_sm=int(r["blocks_per_sm"])), r, (m, d), pad))
    table = {}
    for key, cs in cands.items():
        # within TIE of the best estimate: the least padded dot width (a small D in a wide tile
        # wastes tensor-core issue the model counts as hidden behind the elementwise work)
        best = min(c[0]["clk"] for c in cs)
        near = [c for c in cs if c[0]["clk"] <= best * (1 + TIE)]
        table[key] = min(near, key=lambda c: (c[4], c[0]["clk"]))[:4]
    return dict(sorted(table.items(), key=lambda kv: str(kv[0])))


def write_table(table, path: str, argv: str) -> None:
    """``CONFIGS`` as Python source (``_C`` = ``ConrTiles``), one comment per entry: the compile's
    registers, shared bytes, tensor-core kind, resident warps per SM and the estimate's bound and
    ratio to the GEMM floor at the bucket's representative size."""
    with open(path, "w") as f:
        f.write(f"# produced by `python -m dirfast.kernels._sweep {argv}` on "
                f"{time.strftime('%Y-%m-%d', time.gmtime())} (no GPU: AOT compiles + roofline)\n")
        f.write("# key: (family, dtype, precision, role, m_bucket, d_bucket) -> _C(block_m, block_n, "
                "block_d, block_do, num_warps, num_stages, one_chunk, one_out, blocks_per_sm)\n")
        f.write("CONFIGS = {\n")
        for k, (e, t, r, (m, d)) in table.items():
            f.write(f"    {k!r}: _C{tuple(t)!r},\n")
            f.write(f"    # {r['role']}: {r['regs']} regs, {r['shared']} B shared, {r['mma']}, "
                    f"{r['warps_per_sm']} warps/SM; M={m} D={d}: {e['bound']}-bound, "
                    f"{e['x_floor']:.1f}x GEMM floor\n")
        f.write("}\n")


CHECK_COLUMNS = ["family", "dtype", "precision", "role", "m_bucket", "d_bucket", "variant", "block_m",
                 "block_n", "block_d", "block_do", "num_warps", "num_stages", "sm", "regs", "stack",
                 "shared", "shared_limit", "mma", "tf32", "blocks_per_sm", "warps_per_sm", "m", "d",
                 "bound", "x_floor"]


def check_table(log=sys.stderr) -> List[Dict[str, object]]:
    """Every entry of ``conr_table.CONFIGS`` compiled (both ``PUSH_EXP`` variants, for its
    family's targets) with the swept kernel module; one row per entry and target (the
    ``PUSH_EXP=True`` compile's figures; the worse stack / shared of the two) with the estimate at
    the bucket's representative size (as :func:`propose`)."""
    from ._aot import compile_kernel, compile_targets, inspect_kernel

    conr, fwd_base, bwd_base = _bases()
    out = []
    for (family, dtype, precision, role, mb, db), tiles in T.entries():
        kern = role.split("_")[0]
        base = fwd_base if kern == "fwd" else bwd_base
        fn = conr._conr_fwd_kernel if kern == "fwd" else conr._conr_bwd_kernel
        m, d = (512 if mb is not None else 8192), (db if db is not None else 2048)
        cfgs = [T.with_tiles(base, family, dtype, precision, role, px, tiles, **T.ROLE_EXTRAS[role])
                for px in (True, False)]
        for cc in compile_targets(cfgs[0]):
            cs = [inspect_kernel(compile_kernel(fn, c, cc), str(c.key), c.num_warps, cc) for c in cfgs]
            c = cs[0]
            e = estimate(cc, dtype, precision, kern, tiles, m, d, c.mma, c.warps_per_sm,
                         c.blocks_per_sm)
            variant = ("held" if tiles.one_chunk else "streamed") + (
                "+dU-held" if tiles.one_out and not tiles.one_chunk else "")
            out.append({"family": family, "dtype": dtype, "precision": precision, "role": role,
                        "m_bucket": mb, "d_bucket": db, "variant": variant, **tiles._asdict(),
                        "sm": cc, "regs": c.regs, "stack": max(x.stack for x in cs),
                        "shared": max(x.shared for x in cs), "shared_limit": T.SHARED_LIMIT[family],
                        "mma": c.mma or "none", "tf32": c.tf32, "blocks_per_sm": c.blocks_per_sm,
                        "warps_per_sm": c.warps_per_sm, "m": m, "d": d, "bound": e["bound"],
                        "x_floor": round(e["x_floor"], 2)})
            print(",".join(str(out[-1][k]) for k in CHECK_COLUMNS), file=log, flush=True)
    return out


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dirfast.kernels._sweep", description=__doc__.split("\n")[0])
    ap.add_argument("kernel", choices=["conr"])
    ap.add_argument("--quick", action="store_true", help="a handful of compiles (smoke test)")
    ap.add_argument("--budget", type=float, default=3600.0, help="seconds of compiling at most")
    ap.add_argument("--out", default=os.path.join("benchmarks", "results", "conr_sweep"))
    ap.add_argument("--from-csv", action="store_true",
                    help="no compile: rebuild the proposed table from DIR/sweep.csv")
    ap.add_argument("--only", action="append", default=[], metavar="DTYPE/PRECISION",
                    help="sweep only these (e.g. float16/ieee; repeatable) and merge them into "
                         "DIR/sweep.csv, keeping its other rows")
    ap.add_argument("--rev", default=None,
                    help="sweep dirfast/kernels/conr.py as of this git revision (default: the "
                         "working tree)")
    ap.add_argument("--check-table", action="store_true",
                    help="compile every conr_table entry instead; write DIR/table_check.csv")
    ap.add_argument("--ml", action="store_true",
                    help="sweep the [M, dl]-labels variant (multi=True; roles fwd_ml/bwd_ml) and "
                         "merge it into DIR/sweep.csv")
    args = ap.parse_args(argv)
    only = [tuple(o.split("/")) for o in args.only]
    if os.environ.get("TRITON_INTERPRET", "0") == "1":
        ap.error("the sweep compiles ahead of time: unset TRITON_INTERPRET")
    os.makedirs(args.out, exist_ok=True)
    csv_path = os.path.join(args.out, "sweep.csv")
    if not args.from_csv:
        load_kernel_module(args.rev)
    if args.check_table:
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, "table_check.csv")
        rows = check_table()
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=CHECK_COLUMNS, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
        bad = [r for r in rows if r["stack"] or r["shared"] > r["shared_limit"] or (
            (r["dtype"], r["precision"]) in T.TENSOR_CORE and r["mma"] == "none")]
        print(path)
        return 1 if bad else 0
    if args.from_csv:
        rows = read_csv(csv_path)
    else:
        merge = (only or args.ml) and os.path.exists(csv_path)
        kept = [r for r in read_csv(csv_path)
                if (only and (r["dtype"], r["precision"]) not in only)
                or (args.ml and not r["role"].endswith("+ml"))] if merge else []
        rows = kept + sweep(args.quick, args.budget, only, prior_rows=kept, ml=args.ml)
        write_csv(rows, csv_path)
    write_table(propose(rows), os.path.join(args.out, "proposed_table.py"),
                " ".join(sys.argv[1:] if argv is None else argv))
    print(csv_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
