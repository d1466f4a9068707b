"""Registry of every Triton kernel and every config its launcher can pick.

A launcher never builds a launch config itself: it asks ``pick(kernel, ...)`` for the registered config
matching its key, and an unregistered key raises. The ahead-of-time tier (``tests/aot``) compiles every
registered config for its architectures (sm_80 and sm_90 unless the config names its own, see
``KernelConfig.archs``) and checks that every ``@triton.jit`` function found in the ``dirfast.kernels``
modules is registered, so no kernel or config can escape it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

# triton type names of torch dtypes, for signatures
TRITON_DTYPE = {"float16": "fp16", "bfloat16": "bf16", "float32": "fp32", "float64": "fp64"}


def _dtype_names():
    import torch

    return {getattr(torch, name): name for name in TRITON_DTYPE}


#: torch dtype -> the name config keys use (``str(dtype).split(".")[-1]`` without the string work)
DTYPE_NAME = _dtype_names()


@dataclass(frozen=True)
class KernelConfig:
    """One compilation of a kernel: argument types, constexpr values and launch options.

    ``signature`` maps every non-constexpr argument to a triton type (``"*fp32"``, ``"i64"``, ...)
    and must be what Triton's JIT derives from the arguments the launcher really passes
    (``tests/test_kernel_signatures.py``): pointers and floats exactly — the JIT types a Python
    ``float`` as ``fp32``, so an fp64 kernel takes its float scalars as ``i64`` bit patterns
    (``_launch.fp64_bits``) — and integers by class (the JIT picks i32/i64 by value).
    ``ieee`` promises that no TF32 instruction appears in the PTX.
    ``tensor_cores`` promises that the PTX contains tensor-core instructions (``mma.sync`` on sm_80;
    ``wgmma.mma_async`` or ``mma.sync`` on sm_90 — the AOT table records which); ``False`` promises
    nothing (an FMA-only config may still say ``False``).
    ``archs``: the compute capabilities the config is meant for (``(90,)``: Hopper only; sm_86/sm_89
    are Ampere-family targets with 99 KB of shared memory per block); ``None``: every architecture,
    so the config must fit the smallest limit (99 KB). The AOT tier compiles a config only for its
    architectures and checks it against their shared-memory limits (``_aot.SHARED_LIMITS``).
    """

    key: Tuple[Any, ...]
    signature: Dict[str, str]
    constexprs: Dict[str, Any]
    num_warps: int = 4
    num_stages: int = 3
    ieee: bool = True
    tensor_cores: bool = False
    archs: Optional[Tuple[int, ...]] = None


@dataclass
class KernelSpec:
    fn: Any
    configs: Dict[Tuple[Any, ...], KernelConfig] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.fn.__name__


REGISTRY: Dict[str, KernelSpec] = {}
#: kernel object -> its spec (``pick`` runs per launch: no qualified-name string per call)
_SPEC_OF: Dict[Any, KernelSpec] = {}


def _qualname(fn) -> str:
    return f"{fn.__module__}.{fn.__name__}"


def register(fn, configs: List[KernelConfig]) -> None:
    spec = REGISTRY.setdefault(_qualname(fn), KernelSpec(fn))
    for cfg in configs:
        spec.configs[cfg.key] = cfg


def pick(fn, key: Tuple[Any, ...]) -> KernelConfig:
    """The registered config of ``fn`` for ``key``; raises if the launcher asks for anything else."""
    spec = _SPEC_OF.get(fn)
    if spec is None:
        spec = REGISTRY.get(_qualname(fn))
        if spec is not None:
            _SPEC_OF[fn] = spec
    if spec is None or key not in spec.configs:
        raise RuntimeError(
            f"internal error: {_qualname(fn)} launched with unregistered config {key}; add it to "
            "the kernel's register() call so the ahead-of-time tier compiles it"
        )
    return spec.configs[key]
