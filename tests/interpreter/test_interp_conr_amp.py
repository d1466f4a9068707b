"""Interpreter tier: ConR under ``torch.autocast`` on the Triton path (``backend="triton"``, CPU tensors,
``TRITON_INTERPRET=1``). fp16 autocast (``torch.autocast("cpu", float16)``): the interpreter has no
bf16 arithmetic (see ``test_interp_conr.py``), and the cast rule is the same for both dtypes.

fp32 features are cast to fp16 at the functional boundary and the kernels run their fp16 configs with
fp32 row statistics: bit equality with ``conr_loss(features.half(), backend="triton")``, the loss in
fp32 and the gradient in fp32 for the fp32 features; the loss within 2× the error of the reference run
on the same fp16 features, the gradient (fp16 tensor-core dots of ``H`` and ``u``, as in
``test_fp16``) within the fixed 2e-2 × max|grad| against fp64; autocast disabled: unchanged."""

import pytest
import torch

import dirfast
from dirfast.reference import conr_loss_ref
from dirfast.testing import assert_close_verbose, assert_low_precision_close

from _official_conr import low_tau_batch

pytestmark = pytest.mark.interpreter
F64, F32, F16 = torch.float64, torch.float32, torch.float16


def _loss_grad(z, y, yh, a, *, amp, **kw):
    x = z.detach().clone().requires_grad_()
    with torch.autocast("cpu", dtype=F16, enabled=amp):
        out = dirfast.conr_loss(x, y, yh, a, backend="triton", **kw)
    g, = torch.autograd.grad(out, x, torch.ones_like(out))
    return out.detach(), g


@pytest.mark.parametrize("variant", ["paper", "official"])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_autocast_triton_fp16(variant, reduction):
    z, y, yh, a = low_tau_batch(40, 16, seed=5)
    z, y, yh, a = z.float(), y.float(), yh.float(), a.float()
    kw = dict(variant=variant, reduction=reduction)
    out, g = _loss_grad(z, y, yh, a, amp=True, **kw)
    assert out.dtype == F32 and g.dtype == F32
    xh = z.half().requires_grad_()
    want = dirfast.conr_loss(xh, y, yh, a, backend="triton", **kw)
    gh, = torch.autograd.grad(want, xh, torch.ones_like(want))
    assert torch.equal(out, want.detach().float()) and torch.equal(g, gh.float())
    # 2× rule on the loss, fixed tolerance on the gradient (fp64 oracle on the fp16-rounded features)
    base = conr_loss_ref(z.half(), y, yh, a, **kw)
    x64 = z.half().to(F64).requires_grad_()
    oracle = conr_loss_ref(x64, y.double(), yh.double(), a.double(), **kw)
    g64, = torch.autograd.grad(oracle, x64, torch.ones_like(oracle))
    ok = ~torch.isnan(oracle.detach())
    assert ok.all()
    assert_low_precision_close(out, base, oracle.detach(), tag=f"fp16 autocast {variant} loss",
                               atol=torch.finfo(F16).eps * oracle.detach().abs().max().item())
    assert_close_verbose(g.double(), g64, tag=f"fp16 autocast {variant} grad", rtol=2e-2,
                         scale="max")


def test_autocast_disabled_triton_unchanged():
    z, y, yh, a = low_tau_batch(24, 16, seed=6)
    z, y, yh, a = z.float(), y.float(), yh.float(), a.float()
    out, g = _loss_grad(z, y, yh, a, amp=False, variant="official")
    x = z.clone().requires_grad_()
    want = dirfast.conr_loss(x, y, yh, a, backend="triton", variant="official")
    gw, = torch.autograd.grad(want, x)
    assert out.dtype == F32 and torch.equal(out, want.detach()) and torch.equal(g, gw)
