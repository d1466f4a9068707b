"""What every op module shares: the accumulation dtype rule and the dtype names the C++ extension
(``dirfast._C``, torch-free: it takes raw pointers and a dtype name) understands."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Dict

import torch

#: torch dtype -> the name ``dirfast._C`` functions take for it
EXT_DTYPE_NAME = {torch.float32: "float32", torch.float64: "float64", torch.int64: "int64",
                  torch.int32: "int32"}


def acc_dtype(dtype: torch.dtype) -> torch.dtype:
    """The accumulation (compute) dtype of an op on inputs of ``dtype``: fp64 for fp64, else fp32
    (fp16/bf16 are computed in fp32, docs/conventions.md)."""
    return torch.float64 if dtype == torch.float64 else torch.float32


_KERNEL_MODULES: Dict[str, ModuleType] = {}


def kernels(name: str) -> ModuleType:
    """``dirfast.kernels.<name>``, imported on first use (the kernel modules import triton, which is
    optional) and cached: an ``import`` statement inside a per-call function costs ~1–2 µs. Callers
    take the launcher as an attribute of the module at each call (``kernels("lds").lds_map``), so a
    monkeypatched launcher is still seen."""
    mod = _KERNEL_MODULES.get(name)
    if mod is None:
        mod = _KERNEL_MODULES[name] = importlib.import_module(f"dirfast.kernels.{name}")
    return mod
