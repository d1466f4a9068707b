"""Ahead-of-time compilation of registered Triton kernels (no GPU needed): used by the AOT test tier
(``tests/aot``), by the offline tile sweep (``dirfast.kernels._sweep``) and by
``python -m dirfast.kernels._aot`` (resource-usage table for the README, CSV on stdout).

Per compile it records what the cubin and the PTX say: registers and stack (spills) from
``cuobjdump --dump-resource-usage``, shared memory from Triton's metadata, TF32 and tensor-core
instructions from the PTX (``mma.sync`` — sm_80's only kind, also used on sm_90 for tiles a warpgroup
cannot take — and ``wgmma.mma_async``, sm_90's warpgroup MMA), and an occupancy estimate.

Occupancy (:func:`occupancy`): resident blocks per SM = the least of the block limit (32), the warp
limit (64 warps / ``num_warps``), the register limit (65,536 registers; a warp allocates
``regs·32`` rounded up to 256) and the shared-memory limit (the SM's shared capacity over the block's
shared bytes + 1 KB the driver reserves per block): the sm_80 / sm_90 figures of the CUDA occupancy
calculator (sm_86/sm_89 have fewer warps and blocks; they are not estimated).

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

#: the architectures a config without ``archs`` is compiled for
ARCHS = (80, 90)
#: the shared-memory limit of a config meant for every architecture: sm_86/sm_89 allow ~99 KB per block
SHARED_LIMIT = 99 * 1024
#: opt-in shared memory per block by compute capability (``cudaDevAttrMaxSharedMemoryPerBlockOptin``)
SHARED_LIMITS = {80: 163 * 1024, 86: 99 * 1024, 89: 99 * 1024, 90: 227 * 1024}
#: shared memory per SM (occupancy) and the driver's reserve per block
SM_SHARED = {80: 164 * 1024, 86: 100 * 1024, 89: 100 * 1024, 90: 228 * 1024}
BLOCK_RESERVED_SHARED = 1024
#: sm_80 / sm_90 per-SM limits used by the occupancy estimate
REGS_PER_SM = 65536
MAX_WARPS_PER_SM = 64
MAX_BLOCKS_PER_SM = 32
REG_ALLOC_UNIT = 256  # registers per warp are allocated in units of 256
#: Ampere-family targets compiled as sm_80 (Triton generates the same MMA code and shared-memory
#: allocation for them); their own, smaller shared limit is checked against that compile
COMPILE_AS = {86: 80, 89: 80}
CUOBJDUMP = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")

_WGMMA = re.compile(r"\bwgmma\.mma_async\b")
_MMA = re.compile(r"\bmma\.sync\.aligned\b")


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


def config_archs(cfg: KernelConfig) -> Tuple[int, ...]:
    """The compute capabilities ``cfg`` is meant for (``ARCHS`` when it names none)."""
    return tuple(cfg.archs) if cfg.archs else ARCHS


def compile_targets(cfg: KernelConfig) -> Tuple[int, ...]:
    """The targets the AOT tier compiles ``cfg`` for (sm_86/sm_89 through sm_80)."""
    return tuple(sorted({COMPILE_AS.get(a, a) for a in config_archs(cfg)}))


def shared_limit(cfg: KernelConfig, cc: int) -> int:
    """Shared bytes per block ``cfg`` may use when compiled for ``cc``: 99 KB for a config meant for
    every architecture; else the least limit of its architectures that compile as ``cc``."""
    if not cfg.archs:
        return SHARED_LIMIT
    return min(SHARED_LIMITS[a] for a in cfg.archs if COMPILE_AS.get(a, a) == cc)


def occupancy(regs: int, shared: int, num_warps: int, cc: int) -> Tuple[int, int]:
    """``(blocks, warps)`` resident per SM for a block of ``num_warps`` warps using ``regs``
    registers per thread and ``shared`` bytes (see the module docstring); ``(0, 0)`` if it cannot
    run."""
    per_warp = -(-regs * 32 // REG_ALLOC_UNIT) * REG_ALLOC_UNIT
    by_regs = REGS_PER_SM // (per_warp * num_warps) if per_warp else MAX_BLOCKS_PER_SM
    by_shared = SM_SHARED[cc] // (shared + BLOCK_RESERVED_SHARED)
    blocks = min(MAX_BLOCKS_PER_SM, MAX_WARPS_PER_SM // num_warps, by_regs, by_shared)
    if regs > 255 or shared > SHARED_LIMITS[cc]:
        blocks = 0
    return blocks, blocks * num_warps


def mma_kinds(ptx: str) -> str:
    """Tensor-core instructions in ``ptx``: ``"wgmma"``, ``"mma"``, ``"wgmma+mma"`` or ``""``."""
    return "+".join(k for k, rx in (("wgmma", _WGMMA), ("mma", _MMA)) if rx.search(ptx))


@dataclass
class Compiled:
    regs: int
    stack: int
    shared: int
    tf32: bool
    usage: str
    #: tensor-core instructions in the PTX (:func:`mma_kinds`)
    mma: str = ""
    #: occupancy estimate (:func:`occupancy`)
    blocks_per_sm: int = 0
    warps_per_sm: int = 0

    @property
    def tensor_cores(self) -> bool:
        return bool(self.mma)


def compile_kernel(fn, cfg: KernelConfig, cc: int):
    """``triton.compile`` of ``fn`` with ``cfg`` for ``sm_<cc>`` (served from Triton's cache when
    already compiled)."""
    return triton.compile(
        triton.compiler.ASTSource(fn=fn, signature=cfg.signature, constexprs=cfg.constexprs),
        target=GPUTarget("cuda", cc, 32),
        options={"num_warps": cfg.num_warps, "num_stages": cfg.num_stages},
    )


def inspect_kernel(kernel, name: str, num_warps: int, cc: int) -> Compiled:
    """Resource usage and PTX facts of a compiled kernel (see :class:`Compiled`)."""
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(kernel.asm["cubin"])
        f.flush()
        usage = subprocess.run([CUOBJDUMP, "--dump-resource-usage", f.name], capture_output=True,
                               text=True, check=True).stdout
    regs = [int(s) for s in re.findall(r"REG:(\d+)", usage)]
    stacks = [int(s) for s in re.findall(r"STACK:(\d+)", usage)]
    if not regs or not stacks:
        raise RuntimeError(f"cuobjdump printed no resource usage for {name}:\n{usage}")
    ptx = kernel.asm["ptx"]
    shared = kernel.metadata.shared
    blocks, warps = occupancy(max(regs), shared, num_warps, cc)
    return Compiled(max(regs), max(stacks), shared, "tf32" in ptx.lower(), usage.strip(),
                    mma_kinds(ptx), blocks, warps)


def compile_config(spec: KernelSpec, cfg: KernelConfig, cc: int) -> Compiled:
    return inspect_kernel(compile_kernel(spec.fn, cfg, cc), f"{spec.name} {cfg.key}", cfg.num_warps,
                          cc)


COLUMNS = ("kernel,key,sm,regs,stack,shared_bytes,shared_limit,tf32,mma,blocks_per_sm,warps_per_sm,"
           "num_warps,num_stages")


def main() -> None:
    print(COLUMNS)
    for spec, cfg in all_configs():
        for cc in compile_targets(cfg):
            c = compile_config(spec, cfg, cc)
            print(f"{spec.name},{'/'.join(map(str, cfg.key))},{cc},{c.regs},{c.stack},{c.shared},"
                  f"{shared_limit(cfg, cc)},{c.tf32},{c.mma or 'none'},{c.blocks_per_sm},"
                  f"{c.warps_per_sm},{cfg.num_warps},{cfg.num_stages}")


if __name__ == "__main__":
    main()
