"""Interpreter tier: the entries of ConR's launch table (``dirfast.kernels.conr_table``) for both GPU
families, run through the public ``dirfast.conr_loss(..., backend="triton")``.

On a GPU the launchers pick the table's entry for the device's family (``arch_family``) and the
batch's M and D buckets; under the interpreter the family is forced here (``sm80`` / ``sm90``), the
table's tiles are forced over the small-M plan (``small=False``), and D is taken inside each bucket
(40, 100, 200, 400, 600), so every variant the table uses runs: anchor tile held or streamed, and in
the backward ``dU`` held in registers with streamed similarities (``ONE_CHUNK = False, ONE_OUT =
True``, the D ≤ 512 entries of fp16/bf16/TF32/fp64), unsplit and split over 3 column chunks.
Compared with the fp64 dense reference: fp64 1e-10, fp32 1e-5 (gradients scaled by the largest),
TF32 1e-5 too (the interpreter computes its dots in fp32), fp16 the 2× rule on the loss and
2e-2 × max|grad| on the gradient (as the other ConR interpreter tests)."""

import pytest
import torch

import dirfast
import dirfast.kernels.conr as k
from dirfast.kernels.conr_table import conr_tiles
from dirfast.testing import assert_close_verbose, assert_low_precision_close

pytestmark = pytest.mark.interpreter
F64, F16 = torch.float64, torch.float16
POLICY = k.conr_split
M = 50


def batch(m, d, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(m, d, generator=g, dtype=F64)
    y = torch.randint(0, 8, (m,), generator=g).to(F64) + 0.25 * torch.randint(0, 2, (m,), generator=g)
    yh = y + torch.randn(m, generator=g, dtype=F64) * 1.5
    a = torch.rand(m, generator=g, dtype=F64) + 0.5
    return z, y, yh, a


def force(monkeypatch, family, split):
    plans = []

    def forced(m, d, dtype, precision="ieee", kernel="fwd", multi=False, **_):
        plan = POLICY(m, d, dtype, precision, kernel, split=split, small=False, multi=multi,
                      family=family)
        plans.append((kernel, plan))
        return plan

    monkeypatch.setattr(k, "arch_family", lambda dev: family)
    monkeypatch.setattr(k, "conr_split", forced)
    return plans


CASES = ([(F64, "ieee", d) for d in (40, 200, 400, 600)]
         + [(torch.float32, "ieee", d) for d in (40, 100, 200, 400, 600)]
         + [(torch.float32, "tf32", d) for d in (40, 400)]
         + [(F16, "ieee", d) for d in (40, 400)])


@pytest.mark.parametrize("family", ["sm80", "sm90"])
@pytest.mark.parametrize("dtype,prec,d", CASES)
@pytest.mark.parametrize("split", [1, 3])
def test_table_entry_matches_reference(monkeypatch, family, dtype, prec, d, split):
    z, y, yh, a = batch(M, d, seed=d)
    plans = force(monkeypatch, family, split)
    kw = dict(variant="official", temperature=0.1, input_precision=prec)
    x = z.to(dtype).requires_grad_()
    acc = F64 if dtype == F64 else torch.float32
    out = dirfast.conr_loss(x, y.to(acc), yh.to(acc), a.to(acc), backend="triton", **kw)
    g, = torch.autograd.grad(out, x)
    # the launches used the table's entries of this family, bucket and dtype
    dt = str(dtype).split(".")[-1]
    for kernel, plan in plans:
        assert plan.tiles == conr_tiles(family, dt, prec, kernel, M, d)
        assert plan.split == min(split, -(-M // plan.block_n))  # never an empty chunk
    assert {kernel for kernel, _ in plans} == {"fwd", "bwd"}
    r = lambda t: t.to(dtype).to(F64)
    xr = r(z).requires_grad_()
    want = dirfast.conr_loss(xr, y, yh, a, backend="reference", **kw)
    gw, = torch.autograd.grad(want, xr)
    tag = f"{family} {dt} {prec} D={d} split={split}"
    if dtype == F16:
        base = dirfast.conr_loss(z.half(), y.half(), yh.half(), a.half(), backend="reference", **kw)
        assert_low_precision_close(out, base, want, tag=f"loss {tag}")
        assert_close_verbose(g.double(), gw, tag=f"grad {tag}", rtol=2e-2, scale="max")
        return
    rtol, atol = (1e-10, 1e-12) if dtype == F64 else (1e-5, 1e-6)
    assert_close_verbose(out.double(), want, tag=f"loss {tag}", rtol=rtol, atol=atol)
    assert_close_verbose(g.double(), gw, tag=f"grad {tag}", rtol=rtol, scale="max")


def test_streamed_similarities_with_du_held_is_in_the_cases():
    """The backward variant new with the table (streamed similarities, ``dU`` in registers) is among
    the entries the cases above run."""
    held_out = [(f, dt, p, d) for f in ("sm80", "sm90") for dt, p, d in CASES
                for t in [conr_tiles(f, str(dt).split(".")[-1], p, "bwd", M, d)]
                if t.one_out and not t.one_chunk]
    assert held_out
