"""Ahead-of-time compilation of registered Triton kernels (no GPU needed): used by the AOT test tier
(``tests/aot``) and by ``python -m dirfast.kernels._aot`` (resource-usage table for the README).

Not usable under ``TRITON_INTERPRET=1`` (interpreted kernels cannot be compiled).
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Dict, Iterator, Tuple

import triton
from triton.backends.compiler import GPUTarget

from ._registry import REGISTRY, KernelConfig, KernelSpec

ARCHS = (80, 90)
#: sm_86/sm_89 allow ~99 KB of shared memory per block; kernels must fit there too
SHARED_LIMIT = 99 * 1024
CUOBJDUMP = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")


def kernel_modules():
    """Every public module of ``dirfast.kernels`` (walked, so a new file cannot hide)."""
    from .. import kernels as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.name.startswith("_"):
            yield importlib.import_module(f"{pkg.__name__}.{info.name}")


def jit_functions() -> Dict[str, object]:
    """``module.name -> JITFunction`` for every ``@triton.jit`` function defined in those modules."""
    from triton.runtime.jit import JITFunction

    found = {}
    for mod in kernel_modules():
        for name, obj in vars(mod).items():
            if isinstance(obj, JITFunction) and obj.__module__ == mod.__name__:
                found[f"{mod.__name__}.{name}"] = obj
    return found


def all_configs() -> Iterator[Tuple[KernelSpec, KernelConfig]]:
    list(kernel_modules())  # importing registers
    for _, spec in sorted(REGISTRY.items()):
        for cfg in spec.configs.values():
            yield spec, cfg


@dataclass
class Compiled:
    regs: int
    stack: int
    shared: int
    tf32: bool
    usage: str


def compile_config(spec: KernelSpec, cfg: KernelConfig, cc: int) -> Compiled:
    kernel = triton.compile(
        triton.compiler.ASTSource(fn=spec.fn, signature=cfg.signature, constexprs=cfg.constexprs),
        target=GPUTarget("cuda", cc, 32),
        options={"num_warps": cfg.num_warps, "num_stages": cfg.num_stages},
    )
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(kernel.asm["cubin"])
        f.flush()
        usage = subprocess.run([CUOBJDUMP, "--dump-resource-usage", f.name], capture_output=True,
                               text=True, check=True).stdout
    regs = [int(s) for s in re.findall(r"REG:(\d+)", usage)]
    stacks = [int(s) for s in re.findall(r"STACK:(\d+)", usage)]
    if not regs or not stacks:
        raise RuntimeError(f"cuobjdump printed no resource usage for {spec.name} {cfg.key}:\n{usage}")
    return Compiled(max(regs), max(stacks), kernel.metadata.shared,
                    "tf32" in kernel.asm["ptx"].lower(), usage.strip())


def main() -> None:
    print("kernel,key,sm,regs,stack,shared_bytes,tf32")
    for spec, cfg in all_configs():
        for cc in ARCHS:
            c = compile_config(spec, cfg, cc)
            print(f"{spec.name},{'/'.join(map(str, cfg.key))},{cc},{c.regs},{c.stack},{c.shared},{c.tf32}")


if __name__ == "__main__":
    main()
