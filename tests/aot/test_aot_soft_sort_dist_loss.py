"""Ahead-of-time tier, soft sort and Dist Loss kernels: fp64 kernels take their scalars by value as
int64 bit patterns (``fp64_bits``) and never widen an fp32 scalar (Triton's JIT types a Python float
fp32: the H200's ConR fp64 path lost precision that way). Needs no GPU; not under the interpreter."""

import pytest

pytest.importorskip("triton", reason="the ahead-of-time tier needs triton (make test installs it)")

import triton  # noqa: E402
from triton.backends.compiler import GPUTarget  # noqa: E402

import dirfast.kernels.dist_loss  # noqa: E402,F401
import dirfast.kernels.soft_sort  # noqa: E402,F401
from dirfast.kernels._registry import REGISTRY  # noqa: E402

pytestmark = pytest.mark.aot

SCALARS = {"thresh", "lam_s", "scale", "beta", "gamma", "inv_beta", "eps"}
SPECS = [spec for name, spec in sorted(REGISTRY.items())
         if name.startswith(("dirfast.kernels.soft_sort.", "dirfast.kernels.dist_loss."))]
CASES = [pytest.param(spec, cfg, id=f"{spec.name}-{'-'.join(map(str, cfg.key))}")
         for spec in SPECS for cfg in spec.configs.values()]


def test_kernels_found():
    assert {s.name for s in SPECS} == {
        "_soft_sort_prep_kernel", "_soft_rank_bwd_kernel", "_dist_loss_fwd_kernel",
        "_dist_loss_pooled_dist_kernel", "_dist_loss_pooled_grad_kernel"}


@pytest.mark.parametrize("spec,cfg", CASES)
def test_scalars_by_value_in_the_compute_dtype(spec, cfg):
    fp64 = cfg.key[0] == "float64"
    scalars = {a: t for a, t in cfg.signature.items() if a in SCALARS}
    assert set(scalars) <= set(spec.fn.arg_names)
    assert all(t == ("i64" if fp64 else "fp32") for t in scalars.values()), scalars
    assert not any(t.startswith("fp") for a, t in cfg.signature.items() if a not in SCALARS)
    if not fp64 or not scalars:
        return
    kernel = triton.compile(
        triton.compiler.ASTSource(fn=spec.fn, signature=cfg.signature, constexprs=cfg.constexprs),
        target=GPUTarget("cuda", 90, 32), options={"num_warps": cfg.num_warps})
    ptx = kernel.asm["ptx"]
    assert "cvt.f64.f32" not in ptx, f"{spec.name} {cfg.key}: an fp32 value widened to fp64"
