"""Shared machinery of the GPU tier (``pytest -m gpu``; README "Tests").

Every GPU test runs on :data:`DEVICE`: ``"cuda"`` (the default) or the device named by
``DIRFAST_GPU_TIER_DEVICE``. Without CUDA the tier is skipped by ``tests/conftest.py`` with the
reason; ``DIRFAST_GPU_TIER_DEVICE=cpu`` instead runs the same tests on CPU tensors at the small sizes
(:func:`size`) and with the backends the CPU accepts (:data:`BACKENDS`): the *dry run* that CI
runs, so the tier's own logic cannot rot between GPU sessions. Tests that only make sense on CUDA
(CUDA graphs, ``backend="cuda"``) call :func:`require_cuda`.

:func:`compare` is the one comparison every op test uses: the fast path on ``DEVICE`` in the test
dtype against the fp64 reference (values and gradients) under docs/conventions.md's tolerances: fp64
1e-10, fp32 1e-5 (gradients scaled by the largest), fp16/bf16 ≤ 2× the error of the reference run in
the same precision on the same device, plus one unit of the dtype at the largest value.
"""

from __future__ import annotations

import os
from typing import Callable, Optional, Sequence

import pytest
import torch

from dirfast import _backend
from dirfast.testing import assert_close_verbose, assert_low_precision_close

DEVICE = torch.device(os.environ.get("DIRFAST_GPU_TIER_DEVICE", "cuda"))
ON_CUDA = DEVICE.type == "cuda"
F64, F32, F16, BF16 = torch.float64, torch.float32, torch.float16, torch.bfloat16
DTYPES = [F32, F16, BF16, F64]


def _backends():
    if not ON_CUDA:
        return ["auto"]
    out = ["auto", "triton"]
    if _backend.cuda_ext_available():
        out.append("cuda")
    return out


#: the backends that accept tensors on DEVICE; ``"cuda"`` only where ``dirfast._C_cuda`` is built
BACKENDS = _backends()


def size(gpu: int, cpu: int) -> int:
    """A problem size: ``gpu`` on CUDA, ``cpu`` in the CPU dry run."""
    return gpu if ON_CUDA else cpu


def require_cuda(what: str = "this test"):
    if not ON_CUDA:
        pytest.skip(f"{what} needs CUDA tensors (dry run on {DEVICE})")


def has_cuda_kernel(backend: str, op_has_cuda: bool) -> None:
    """Skip ``backend="cuda"`` for ops that have no CUDA C++ kernel."""
    if backend == "cuda" and not op_has_cuda:
        pytest.skip("the op has no CUDA C++ kernel (backend='cuda' raises; tested in test_backend)")


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def to(t, dtype=None, device=DEVICE):
    """``t`` on ``device``; floating tensors cast to ``dtype`` (others keep theirs)."""
    if not isinstance(t, torch.Tensor):
        return t
    if dtype is not None and t.is_floating_point():
        t = t.to(dtype)
    return t.to(device)


def run(fn: Callable, tensors: Sequence, diff: Sequence[int], go_seed: int = 1):
    """``out = fn(*tensors)`` and the gradients of ``Σ out·go`` w.r.t. ``tensors[i]`` for ``i`` in
    ``diff``; ``go`` is a fixed pseudo-random ``grad_output`` (in [0.5, 1.5)) built on the CPU in fp64."""
    xs = [t.detach().clone().requires_grad_(i in diff) if isinstance(t, torch.Tensor) else t
          for i, t in enumerate(tensors)]
    out = fn(*xs)
    if not diff:
        return out.detach(), []
    go = (torch.rand(out.shape, generator=gen(go_seed), dtype=F64) + 0.5).to(out.dtype).to(out.device)
    grads = torch.autograd.grad(out, [xs[i] for i in diff], go, allow_unused=True)
    grads = [torch.zeros_like(xs[i]) if g is None else g for i, g in zip(diff, grads)]
    return out.detach(), [g.detach() for g in grads]


def compare(fast: Callable, ref: Callable, inputs64: Sequence, dtype: torch.dtype, *, tag: str,
            diff: Sequence[int] = (0,), ref_device: Optional[torch.device] = None,
            value_scale: Optional[str] = None, grad_rtol: Optional[float] = None,
            value_rtol: Optional[float] = None):
    """``fast`` on ``DEVICE`` in ``dtype`` vs ``ref`` in fp64 (on ``ref_device``, default
    ``DEVICE``) on the same inputs rounded to ``dtype``: values and the gradients of the inputs in
    ``diff``. ``inputs64``: fp64 (or integer) CPU tensors. Returns ``(out, grads)`` of the fast path."""
    ref_device = DEVICE if ref_device is None else ref_device
    xs = [to(t, dtype) for t in inputs64]  # the oracle sees the same (rounded) inputs
    out, grads = run(fast, xs, diff)
    out64, grads64 = run(ref, [to(t, F64, ref_device) for t in xs], diff)
    assert out.device.type == DEVICE.type, f"[{tag}] output on {out.device}, inputs on {DEVICE}"
    assert out.dtype == dtype, f"[{tag}] output dtype {out.dtype}, inputs {dtype}"
    for g, i in zip(grads, diff):
        assert g.dtype == dtype and g.shape == inputs64[i].shape, f"[{tag}] grad {i}: {g.dtype} {g.shape}"
    if dtype in (F64, F32):
        assert_close_verbose(out, out64.to(dtype), tag=f"{tag} value", scale=value_scale, rtol=value_rtol)
        for k, (g, g64) in enumerate(zip(grads, grads64)):
            assert_close_verbose(g, g64.to(dtype), tag=f"{tag} grad{diff[k]}", scale="max", rtol=grad_rtol)
    else:
        base, base_grads = run(ref, xs, diff)
        assert_low_precision_close(out, base, out64, tag=f"{tag} value")
        for k, (g, bg, g64) in enumerate(zip(grads, base_grads, grads64)):
            assert_low_precision_close(g, bg, g64, tag=f"{tag} grad{diff[k]}")
    return out, grads
