"""Ahead-of-time tier: every registered Triton kernel config compiles for its architectures (sm_80 and
sm_90 unless it names its own; sm_86/sm_89 through sm_80) with no spills, shared memory within its
limit (99 KB for a config meant for every architecture: the sm_86/sm_89 limit; else the least limit of
its architectures), no TF32 where IEEE was promised, and tensor-core instructions (``mma.sync`` /
``wgmma.mma_async``) in the PTX where ``tensor_cores=True`` was promised.

Must not run under ``TRITON_INTERPRET=1`` (conftest deselects it there).
"""

import pytest

pytest.importorskip("triton", reason="the ahead-of-time tier needs triton (make test installs it)")

import dirfast.kernels as kernels_pkg  # noqa: E402
from dirfast.kernels._aot import (SHARED_LIMIT, SHARED_LIMITS, all_configs,  # noqa: E402
                                  compile_config, compile_targets, jit_functions, kernel_modules,
                                  occupancy, shared_limit)
from dirfast.kernels._registry import KernelConfig  # noqa: E402
from dirfast.kernels._registry import REGISTRY  # noqa: E402

pytestmark = pytest.mark.aot


def test_every_kernel_is_registered():
    found = jit_functions()
    assert found, "no Triton kernels found: the walk over dirfast.kernels is broken"
    # an unregistered @triton.jit function is allowed only as a device helper: called by a
    # registered kernel of its module (so every compile of that kernel compiles it too)
    callers = {q: spec.fn.src for q, spec in REGISTRY.items()}
    missing = sorted(
        q for q in set(found) - set(REGISTRY)
        if not any(c.rsplit(".", 1)[0] == q.rsplit(".", 1)[0] and f"{q.rsplit('.', 1)[1]}(" in src
                   for c, src in callers.items()))
    assert not missing, f"Triton kernels not in the AOT registry (register them): {missing}"
    empty = sorted(k for k, spec in REGISTRY.items() if not spec.configs)
    assert not empty, f"registered kernels without configs: {empty}"
    # the modules that define kernels are exactly the listed ones (data modules such as
    # conr_table define none and are not listed)
    with_kernels = {q.split(".")[2] for q in found}
    assert with_kernels == set(kernels_pkg.KERNEL_MODULES), (with_kernels, kernels_pkg.KERNEL_MODULES)
    assert {m.__name__.rsplit(".", 1)[1] for m in kernel_modules()} >= with_kernels


CASES = [pytest.param(spec, cfg, cc, id=f"{spec.name}-{'-'.join(map(str, cfg.key))}-sm{cc}")
         for spec, cfg in all_configs() for cc in compile_targets(cfg)]


def check_compiled(spec, cfg, cc):
    """The AOT promises of one (config, target) compile; returns the :class:`Compiled`."""
    c = compile_config(spec, cfg, cc)
    limit = shared_limit(cfg, cc)
    assert c.stack == 0, f"{spec.name} {cfg.key} sm_{cc} spills registers: {c.usage}"
    assert c.shared <= limit, \
        f"{spec.name} {cfg.key} sm_{cc} needs {c.shared} B shared memory > {limit}"
    if cfg.ieee:
        assert not c.tf32, f"{spec.name} {cfg.key} sm_{cc}: TF32 in the PTX where IEEE was promised"
    else:
        assert c.tf32, f"{spec.name} {cfg.key} sm_{cc}: a TF32 opt-in config has no TF32 in its PTX"
    if cfg.tensor_cores:
        assert c.mma, f"{spec.name} {cfg.key} sm_{cc}: tensor cores promised, no mma/wgmma in the PTX"
    assert c.blocks_per_sm >= 1, f"{spec.name} {cfg.key} sm_{cc}: no block fits an SM"
    return c


@pytest.mark.parametrize("spec,cfg,cc", CASES)
def test_compiles_without_spills(spec, cfg, cc):
    check_compiled(spec, cfg, cc)


def test_arch_limits_and_occupancy():
    """The per-architecture bookkeeping the tier relies on (no compile)."""
    every = KernelConfig(key=(), signature={}, constexprs={})
    hopper = KernelConfig(key=(), signature={}, constexprs={}, archs=(90,))
    ampere = KernelConfig(key=(), signature={}, constexprs={}, archs=(80, 86, 89))
    a100 = KernelConfig(key=(), signature={}, constexprs={}, archs=(80,))
    assert compile_targets(every) == (80, 90) and compile_targets(hopper) == (90,)
    assert compile_targets(ampere) == (80,)
    assert shared_limit(every, 80) == shared_limit(every, 90) == SHARED_LIMIT == 99 * 1024
    assert shared_limit(hopper, 90) == SHARED_LIMITS[90] == 227 * 1024
    assert shared_limit(ampere, 80) == 99 * 1024 and shared_limit(a100, 80) == 163 * 1024
    # registers: 128 regs x 256 threads = 32768 -> 2 blocks; warps cap 64/8 = 8 blocks
    assert occupancy(128, 0, 8, 90) == (2, 16)
    # 255 regs round to 256 per thread: one 4-warp block per 32768 registers -> 2 blocks
    assert occupancy(255, 0, 4, 80) == (2, 8)
    # warps: 32 regs x 4 warps -> register room for 16 blocks, the warp limit allows 16
    assert occupancy(32, 0, 4, 80) == (16, 64)
    # shared: 100 KB + 1 KB reserved per block -> 1 block on sm_80 (164 KB), 2 on sm_90 (228 KB)
    assert occupancy(32, 100 * 1024, 4, 80) == (1, 4)
    assert occupancy(32, 100 * 1024, 4, 90) == (2, 8)
    assert occupancy(32, 200 * 1024, 4, 80) == (0, 0)


FP64_CASES = [pytest.param(spec, cfg, id=f"{spec.name}-{'-'.join(map(str, cfg.key))}")
              for spec, cfg in all_configs() if cfg.key[0] == "float64"]


@pytest.mark.parametrize("spec,cfg", FP64_CASES)
def test_fp64_configs_stay_fp64(spec, cfg):
    """An fp64 config takes no fp32/fp16/bf16 argument (pointer or scalar) and its PTX converts
    nothing between f64 and f32. Together with ``tests/test_kernel_signatures.py`` (the registered
    signature is what the JIT compiles) this catches what made ConR's fp64 path 1e-9 accurate on an
    H200: fp32 scalars (``.param .f32`` + ``cvt.f64.f32``) in an fp64 kernel. (libdevice's fp64
    ``exp``/``log`` use a few f32 compares on the high word: those are not conversions.)"""
    import re

    import triton
    from triton.backends.compiler import GPUTarget

    narrow = {k: v for k, v in cfg.signature.items() if v.lstrip("*") in ("fp32", "fp16", "bf16")}
    assert not narrow, f"{spec.name} {cfg.key}: fp64 config with narrow arguments {narrow}"
    cc = 90 if 90 in compile_targets(cfg) else compile_targets(cfg)[0]
    kernel = triton.compile(  # the same compile as compile_config: served from triton's cache
        triton.compiler.ASTSource(fn=spec.fn, signature=cfg.signature, constexprs=cfg.constexprs),
        target=GPUTarget("cuda", cc, 32),
        options={"num_warps": cfg.num_warps, "num_stages": cfg.num_stages},
    )
    ptx = kernel.asm["ptx"]
    bad = sorted(set(re.findall(r"\.param \.f32|cvt\.[a-z.]*(?:f64\.f32|f32\.f64)", ptx)))
    assert not bad, f"{spec.name} {cfg.key} sm_{cc}: fp32 in an fp64 kernel's PTX: {bad}"
