"""Ahead-of-time tier: every registered Triton kernel config compiles to sm_80 and sm_90 cubins with no
spills, shared memory within 99 KB (sm_86/89 limit), and no TF32 where IEEE was promised.

Must not run under ``TRITON_INTERPRET=1`` (conftest deselects it there).
"""

import pytest

pytest.importorskip("triton", reason="the ahead-of-time tier needs triton (make test installs it)")

import dirfast.kernels as kernels_pkg  # noqa: E402
from dirfast.kernels._aot import (ARCHS, SHARED_LIMIT, all_configs, compile_config,  # noqa: E402
                                  jit_functions, kernel_modules)
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
    listed = {m.__name__.rsplit(".", 1)[1] for m in kernel_modules()}
    assert listed == set(kernels_pkg.KERNEL_MODULES), (listed, kernels_pkg.KERNEL_MODULES)


CASES = [pytest.param(spec, cfg, cc, id=f"{spec.name}-{'-'.join(map(str, cfg.key))}-sm{cc}")
         for spec, cfg in all_configs() for cc in ARCHS]


@pytest.mark.parametrize("spec,cfg,cc", CASES)
def test_compiles_without_spills(spec, cfg, cc):
    c = compile_config(spec, cfg, cc)
    assert c.stack == 0, f"{spec.name} {cfg.key} sm_{cc} spills registers: {c.usage}"
    assert c.shared <= SHARED_LIMIT, \
        f"{spec.name} {cfg.key} sm_{cc} needs {c.shared} B shared memory > {SHARED_LIMIT}"
    if cfg.ieee:
        assert not c.tf32, f"{spec.name} {cfg.key} sm_{cc}: TF32 in the PTX where IEEE was promised"
    else:
        assert c.tf32, f"{spec.name} {cfg.key} sm_{cc}: a TF32 opt-in config has no TF32 in its PTX"


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
    kernel = triton.compile(  # the same compile as compile_config: served from triton's cache
        triton.compiler.ASTSource(fn=spec.fn, signature=cfg.signature, constexprs=cfg.constexprs),
        target=GPUTarget("cuda", 90, 32),
        options={"num_warps": cfg.num_warps, "num_stages": cfg.num_stages},
    )
    ptx = kernel.asm["ptx"]
    bad = sorted(set(re.findall(r"\.param \.f32|cvt\.[a-z.]*(?:f64\.f32|f32\.f64)", ptx)))
    assert not bad, f"{spec.name} {cfg.key} sm_90: fp32 in an fp64 kernel's PTX: {bad}"
