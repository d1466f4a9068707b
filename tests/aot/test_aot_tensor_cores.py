"""Ahead-of-time tier, the ConR launch table (``dirfast/kernels/conr_table.py``): every entry, built
through ``table_configs`` from the kernel module's own builders (the configs the kernel module
registers; both label variants, ``ROLE_EXTRAS``), compiles for its family's architectures (sm80
family: sm_80, its 99 KB sm_86/sm_89 limit; sm90: sm_90, 227 KB) with no spills, shared memory
within the limit, tensor-core instructions in the PTX of fp16/bf16/TF32 entries (``mma.sync`` on
sm_80; ``wgmma.mma_async`` or ``mma.sync`` on sm_90), no TF32 in IEEE entries, and at least one
resident block per SM. Also a smoke run of the offline sweep (``python -m dirfast.kernels._sweep
conr --quick``). Needs no GPU; not under the interpreter.
"""

import csv
import os

import pytest

pytest.importorskip("triton", reason="the ahead-of-time tier needs triton (make test installs it)")

from dirfast.kernels import conr  # noqa: E402
from dirfast.kernels import conr_table as T  # noqa: E402
from dirfast.kernels._aot import (compile_kernel, compile_targets, inspect_kernel,  # noqa: E402
                                  shared_limit)

pytestmark = pytest.mark.aot

FWD, BWD = T.table_configs(conr._fwd_config, conr._bwd_config)
CASES = [pytest.param(fn, cfg, cc, id=f"{fn.__name__}-{'-'.join(map(str, cfg.key))}-sm{cc}")
         for fn, cfgs in ((conr._conr_fwd_kernel, FWD), (conr._conr_bwd_kernel, BWD))
         for cfg in cfgs for cc in compile_targets(cfg)]


def test_table_has_configs():
    assert FWD and BWD
    assert {c.archs for c in FWD + BWD} == set(T.FAMILY_ARCHS.values())


@pytest.mark.parametrize("fn,cfg,cc", CASES)
def test_table_entry_compiles(fn, cfg, cc):
    c = inspect_kernel(compile_kernel(fn, cfg, cc), f"{fn.__name__} {cfg.key}", cfg.num_warps, cc)
    where = f"{fn.__name__} {cfg.key} sm_{cc}"
    assert c.stack == 0, f"{where} spills registers: {c.usage}"
    family = cfg.key[-7]
    assert shared_limit(cfg, cc) == T.SHARED_LIMIT[family]
    assert c.shared <= T.SHARED_LIMIT[family], f"{where}: {c.shared} B shared > {T.SHARED_LIMIT[family]}"
    assert c.blocks_per_sm >= 1, f"{where}: no block fits an SM"
    if cfg.tensor_cores:
        assert c.mma, f"{where}: no mma/wgmma in the PTX of a tensor-core entry"
        if cc == 80:
            assert c.mma == "mma", f"{where}: {c.mma}"
    if cfg.ieee:
        assert not c.tf32, f"{where}: TF32 in the PTX of an IEEE entry"
    else:
        assert c.tf32, f"{where}: a TF32 entry has no TF32 in its PTX"


def test_sweep_quick(tmp_path):
    """The sweep's smoke run: the CSV has its columns and a spill-free tensor-core candidate, the
    proposed table parses and names a ``ConrTiles`` per key of the swept group."""
    from dirfast.kernels import _sweep

    assert _sweep.main(["conr", "--quick", "--out", str(tmp_path)]) == 0
    with open(os.path.join(tmp_path, "sweep.csv")) as f:
        rows = list(csv.DictReader(f))
    assert rows and set(_sweep.COLUMNS) == set(rows[0])
    ok = [r for r in rows if r["status"] == "ok" and r["push_exp"] == "True"]
    assert ok and all(r["mma"] in ("wgmma", "mma", "wgmma+mma") for r in ok), rows
    assert all(int(r["stack"]) == 0 and float(r["x_floor_m4096"]) > 0 for r in ok)
    ns = {"_C": T.ConrTiles}
    exec(open(os.path.join(tmp_path, "proposed_table.py")).read(), ns)
    assert ns["CONFIGS"] and all(k[:4] == ("sm90", "bfloat16", "ieee", "fwd")
                                 for k in ns["CONFIGS"])
    assert len(ns["CONFIGS"]) == len(T.M_BUCKETS) * len(T.D_BUCKETS)  # streamed tiles fit any D
