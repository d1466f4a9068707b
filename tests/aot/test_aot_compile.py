"""Ahead-of-time tier: every registered Triton kernel config compiles to sm_80 and sm_90 cubins with no
spills, shared memory within 99 KB (sm_86/89 limit), and no TF32 where IEEE was promised.

Must not run under ``TRITON_INTERPRET=1`` (conftest deselects it there).
"""

import importlib
import os
import pkgutil
import re
import subprocess
import tempfile

import pytest

triton = pytest.importorskip("triton", reason="the ahead-of-time tier needs triton (make test installs it)")
from triton.backends.compiler import GPUTarget  # noqa: E402

import dirfast.kernels as kernels_pkg  # noqa: E402
from dirfast.kernels._registry import REGISTRY  # noqa: E402

pytestmark = pytest.mark.aot

SHARED_LIMIT = 99 * 1024
ARCHS = (80, 90)
CUOBJDUMP = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")


def _all_kernel_modules():
    for info in pkgutil.iter_modules(kernels_pkg.__path__):
        if not info.name.startswith("_"):
            yield importlib.import_module(f"{kernels_pkg.__name__}.{info.name}")


def _jit_functions():
    from triton.runtime.jit import JITFunction

    for mod in _all_kernel_modules():
        for name, obj in vars(mod).items():
            if isinstance(obj, JITFunction) and obj.__module__ == mod.__name__:
                yield f"{mod.__name__}.{name}", obj


def test_every_kernel_is_registered():
    found = dict(_jit_functions())
    assert found, "no Triton kernels found: the walk over dirfast.kernels is broken"
    missing = sorted(set(found) - set(REGISTRY))
    assert not missing, f"Triton kernels not in the AOT registry (register them): {missing}"
    empty = sorted(k for k, spec in REGISTRY.items() if not spec.configs)
    assert not empty, f"registered kernels without configs: {empty}"
    listed = {m.__name__.rsplit(".", 1)[1] for m in _all_kernel_modules()}
    assert listed == set(kernels_pkg.KERNEL_MODULES), (listed, kernels_pkg.KERNEL_MODULES)


def _cases():
    for _ in _all_kernel_modules():
        pass
    for qual, spec in sorted(REGISTRY.items()):
        for key, cfg in spec.configs.items():
            for cc in ARCHS:
                yield pytest.param(spec, cfg, cc, id=f"{spec.name}-{'-'.join(map(str, key))}-sm{cc}")


def _resource_usage(cubin: bytes) -> str:
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(cubin)
        f.flush()
        res = subprocess.run([CUOBJDUMP, "--dump-resource-usage", f.name], capture_output=True,
                             text=True, check=True)
    return res.stdout


@pytest.mark.parametrize("spec,cfg,cc", list(_cases()))
def test_compiles_without_spills(spec, cfg, cc):
    compiled = triton.compile(
        triton.compiler.ASTSource(fn=spec.fn, signature=cfg.signature, constexprs=cfg.constexprs),
        target=GPUTarget("cuda", cc, 32),
        options={"num_warps": cfg.num_warps, "num_stages": cfg.num_stages},
    )
    usage = _resource_usage(compiled.asm["cubin"])
    stacks = [int(s) for s in re.findall(r"STACK:(\d+)", usage)]
    regs = [int(s) for s in re.findall(r"REG:(\d+)", usage)]
    assert stacks and regs, f"cuobjdump printed no resource usage:\n{usage}"
    assert max(stacks) == 0, f"{spec.name} {cfg.key} sm_{cc} spills registers: {usage.strip()}"
    assert compiled.metadata.shared <= SHARED_LIMIT, \
        f"{spec.name} {cfg.key} sm_{cc} needs {compiled.metadata.shared} B shared memory > {SHARED_LIMIT}"
    if cfg.ieee:
        assert "tf32" not in compiled.asm["ptx"].lower(), f"{spec.name} {cfg.key} sm_{cc}: TF32 in PTX"
