"""ConR's launch plan fills an H100/H200 at every CUDA benchmark size (CPU only, nothing compiled).

The O(M²) launches (the forward's main pass and the backward) are split over column chunks when
``⌈M/BLOCK_M⌉`` row blocks alone cannot fill the machine (``dirfast.kernels.conr.conr_split``,
flash-decoding style). For every CUDA size of ``benchmarks/bench_conr.py`` and every dtype / fp32
precision the plan — computed by the same policy function the launchers call — must give the main
forward and backward launches ≥ ``TARGET_PROGRAMS`` = 264 programs (two waves of 132 SMs), keep ≥
``MIN_CHUNK_TILES`` column tiles per chunk, keep the backward's scratch within its documented cap
(O(M·D)), and stay within 8 launches per forward + backward. The launchers are then driven on fake
CUDA tensors (Triton stubbed, ``_launch_stubs``) to check that the grids they launch are the plan's.
"""

import pytest
import torch

pytest.importorskip("triton", reason="the ConR launch plan lives in the Triton kernel module")

import dirfast.kernels.conr as k  # noqa: E402
from benchmarks.bench_conr import SIZES  # noqa: E402

from _launch_stubs import LaunchStubs, fake_cuda  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Accessing the data pointer of FakeTensor")

#: benchmark precision name -> (feature dtype, fp32 input precision)
PRECS = {"fp32": ("float32", "ieee"), "tf32": ("float32", "tf32"), "tf32x3": ("float32", "tf32x3"),
         "bf16": ("bfloat16", "ieee"), "fp16": ("float16", "ieee"), "fp64": ("float64", "ieee")}
#: every CUDA benchmark (M, D), with every dtype/precision (the benchmark runs a subset of them)
SHAPES = sorted({(m, d) for m, d, _ in SIZES[("cuda", "default")]})
CASES = [(m, d, p) for m, d in SHAPES for p in PRECS]
cdiv = lambda a, b: -(-a // b)


def test_benchmark_sizes_are_the_ones_planned():
    assert (512, 2048) in SHAPES and (16384, 512) in SHAPES and len(SHAPES) == 5
    assert {p for _, _, p in SIZES[("cuda", "default")]} <= set(PRECS)


@pytest.mark.parametrize("m,d,prec", CASES)
def test_main_launches_fill_two_waves(m, d, prec):
    dt, p = PRECS[prec]
    assert k.TARGET_PROGRAMS == 264
    for kernel in ("fwd", "bwd"):
        plan = k.conr_split(m, d, dt, p, kernel)
        rb, nt = cdiv(m, plan.block_m), cdiv(m, plan.block_n)
        assert plan.programs == rb * plan.split >= k.TARGET_PROGRAMS, (kernel, plan)
        # balanced chunks of ⌊nt/S⌋ or ⌈nt/S⌉ tiles: every chunk keeps ≥ MIN_CHUNK_TILES tiles
        assert plan.split == 1 or nt // plan.split >= k.MIN_CHUNK_TILES, (kernel, plan)
        # the least split that reaches the target (no more scratch or merging than needed)
        assert plan.split == 1 or rb * (plan.split - 1) < k.TARGET_PROGRAMS, (kernel, plan)
    launches = k.conr_launch_plan(m, d, dt, p)
    names = [n for n, _ in launches]
    assert len(launches) <= 8
    assert names[:2] == ["fwd.rows", "fwd.main"] and "fwd.finish" in names and "bwd.main" in names
    assert ("fwd.merge" in names) == (k.conr_split(m, d, dt, p, "fwd").split > 1)
    assert ("bwd.reduce" in names) == (k.conr_split(m, d, dt, p, "bwd").split > 1)


@pytest.mark.parametrize("m,d,prec", CASES)
def test_scratch_memory_within_the_cap(m, d, prec):
    dt, p = PRECS[prec]
    es = 8 if dt == "float64" else 4
    f, b = k.conr_split(m, d, dt, p, "fwd"), k.conr_split(m, d, dt, p, "bwd")
    assert f.scratch_bytes == (5 * f.split * m * es if f.split > 1 else 0)
    dense = b.split * m * d * es if b.split > 1 else 0
    scales = b.split * m * 4 if (b.split > 1 and dt == "float16") else 0
    assert b.scratch_bytes == dense + scales
    assert dense <= max(k.BWD_SCRATCH_COPIES * m * d * es, k.BWD_SCRATCH_MIN_BYTES)
    assert dense <= 8 * m * d * es or dense <= 128 * 2**20  # the documented numbers


@pytest.mark.parametrize("m,d", [(64, 8), (100, 70), (256, 64), (1000, 300), (3000, 1000),
                                 (20000, 64), (50000, 512), (200, 100000)])
@pytest.mark.parametrize("prec", list(PRECS))
def test_policy_bounds(m, d, prec):
    """Off the benchmark sizes: never an empty chunk, the split only below the target, the scratch
    cap always (here it binds at D = 100000)."""
    dt, p = PRECS[prec]
    es = 8 if dt == "float64" else 4
    for kernel in ("fwd", "bwd"):
        plan = k.conr_split(m, d, dt, p, kernel)
        rb, nt = cdiv(m, plan.block_m), cdiv(m, plan.block_n)
        assert 1 <= plan.split <= max(1, nt // k.MIN_CHUNK_TILES)
        if rb >= k.TARGET_PROGRAMS or m * d < k.SPLIT_MIN_MD:
            assert plan.split == 1
        if kernel == "bwd":
            assert plan.split <= k.bwd_split_cap(m, d, dt)
            assert plan.split == 1 or plan.split * m * d * es <= max(
                k.BWD_SCRATCH_COPIES * m * d * es, k.BWD_SCRATCH_MIN_BYTES)


@pytest.mark.parametrize("m,d,prec", [(512, 2048, "fp32"), (512, 512, "bf16"), (4096, 512, "tf32"),
                                      (4096, 512, "fp64"), (16384, 512, "fp16"), (40, 8, "fp32")])
def test_launchers_launch_the_plan(monkeypatch, m, d, prec):
    """``conr_fwd`` + ``conr_bwd`` on fake CUDA tensors: the grids launched, in order, are
    :func:`conr_launch_plan`'s, and the O(M²) launches get the ``nsplit`` of the plan."""
    dt, p = PRECS[prec]
    dtype = getattr(torch, dt)
    acc = torch.float64 if dt == "float64" else torch.float32
    stubs = LaunchStubs().install(monkeypatch)
    kw = dict(w=1.0, temperature=0.07, e=0.01, push_exp=True, keep_self=False, precision=p)
    with fake_cuda():
        z = torch.randn(m, d, dtype=dtype, device="cuda:1")
        y, yh = torch.randn(m, dtype=acc, device="cuda:1"), torch.randn(m, dtype=acc, device="cuda:1")
        _, _, stats = k.conr_fwd(z, y, yh, None, phantom=False, official=True, weight_final=False,
                                 reduction="mean", **kw)
        k.conr_bwd(z, y, yh, stats, torch.ones((), dtype=dtype, device="cuda:1"), **kw)
    grids = [ln.grid[0] if isinstance(ln.grid, tuple) else ln.grid for ln in stubs.launches]
    plan = k.conr_launch_plan(m, d, dt, p)
    assert grids == [n for _, n in plan], (grids, plan)
    f, b = k.conr_split(m, d, dt, p, "fwd"), k.conr_split(m, d, dt, p, "bwd")
    mains = [ln for ln in stubs.launches if ln.key is not None and ln.key[1] in k.PRECISIONS]
    assert [("small" in ln.key, "ml" in ln.key) for ln in mains] == [(f.small, False),
                                                                      (b.small, False)]
    assert [ln.args[13] if "fwd" in ln.qualname else ln.args[12] for ln in mains] == [f.split, b.split]
