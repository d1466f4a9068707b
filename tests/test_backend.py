"""The one backend rule (docs/conventions.md) as implemented by dirfast._backend.resolve_backend."""

import pytest
import torch

from dirfast import _backend, _ext
from dirfast._backend import resolve_backend

CPU = torch.device("cpu")
CUDA = torch.device("cuda", 0)  # only the device object: no CUDA tensor is created


def test_auto_on_cpu_uses_cpu_kernel_or_torch(monkeypatch):
    monkeypatch.setattr(_ext, "available", lambda: True)
    assert resolve_backend("auto", CPU, op="x") == "cpu"
    monkeypatch.setattr(_ext, "available", lambda: False)
    assert resolve_backend("auto", CPU, op="x") == "cpu_torch"
    assert resolve_backend("auto", CPU, op="x", has_cpu_kernel=False) == "cpu_torch"


def test_auto_never_selects_interpreter(monkeypatch):
    monkeypatch.setattr(_backend, "TRITON_INTERPRET", True)
    assert resolve_backend("auto", CPU, op="x") in ("cpu", "cpu_torch")


def test_auto_on_cuda(monkeypatch):
    monkeypatch.setattr(_backend, "triton_available", lambda: True)
    assert resolve_backend("auto", CUDA, op="x") == "triton"
    monkeypatch.setattr(_backend, "cuda_ext_available", lambda: True)
    assert resolve_backend("auto", CUDA, op="x", has_cuda_kernel=True) == "cuda"
    monkeypatch.setattr(_backend, "cuda_ext_available", lambda: False)
    monkeypatch.setattr(_backend, "triton_available", lambda: False)
    assert resolve_backend("auto", CUDA, op="x") == "reference"


def test_env_default(monkeypatch):
    monkeypatch.setenv("DIRFAST_BACKEND", "reference")
    assert resolve_backend(None, CPU, op="x") == "reference"
    monkeypatch.setenv("DIRFAST_BACKEND", "fast")
    with pytest.raises(ValueError, match="DIRFAST_BACKEND must be one of"):
        resolve_backend(None, CPU, op="x")


def test_explicit_cpu_without_extension_says_how_to_build(monkeypatch):
    monkeypatch.setattr(_ext, "_current", lambda: None)
    with pytest.raises(RuntimeError, match="no-build-isolation"):
        resolve_backend("cpu", CPU, op="x")
    with pytest.raises(ValueError, match="needs CPU tensors"):
        resolve_backend("cpu", CUDA, op="x")


def test_triton_on_cpu_needs_interpreter(monkeypatch):
    monkeypatch.setattr(_backend, "TRITON_INTERPRET", False)
    with pytest.raises(RuntimeError, match="TRITON_INTERPRET=1"):
        resolve_backend("triton", CPU, op="x")
    monkeypatch.setattr(_backend, "TRITON_INTERPRET", True)
    assert resolve_backend("triton", CPU, op="x") == "triton"


def test_triton_missing_says_how_to_install(monkeypatch):
    monkeypatch.setattr(_backend, "_find_triton", lambda: "triton is not installed")
    with pytest.raises(RuntimeError, match="pip install triton"):
        resolve_backend("triton", CUDA, op="x")


def test_cuda_backend_rules(monkeypatch):
    with pytest.raises(RuntimeError, match="has no CUDA"):
        resolve_backend("cuda", CUDA, op="x")
    with pytest.raises(ValueError, match="needs CUDA tensors"):
        resolve_backend("cuda", CPU, op="x", has_cuda_kernel=True)
    with pytest.raises(RuntimeError, match="nvcc"):
        resolve_backend("cuda", CUDA, op="x", has_cuda_kernel=True)


def test_reference_always_and_unknown_name():
    assert resolve_backend("reference", CUDA, op="x") == "reference"
    with pytest.raises(ValueError, match="backend must be one of"):
        resolve_backend("gpu", CPU, op="x")
