"""Interpreter tier: soft sort / soft rank with ``backend="triton"`` on CPU tensors — the prep kernel
(hard-sort output, ``block_start = i``, device flag) runs in the Triton interpreter, rows that pool go
through the CPU PAV — against the fp64 oracle and the reference."""

import numpy as np
import pytest
import torch

import dirfast
from dirfast.kernels.soft_sort import soft_sort_prep
from dirfast.reference.soft_sort import (MODE_RANK, MODE_SORT, soft_rank_ref, soft_rank_scipy,
                                         soft_sort_ref, soft_sort_scipy)
from dirfast.testing import assert_close_verbose

pytestmark = pytest.mark.interpreter

F64, F32 = torch.float64, torch.float32
FNS = {MODE_SORT: dirfast.soft_sort, MODE_RANK: dirfast.soft_rank}
REFS = {MODE_SORT: soft_sort_ref, MODE_RANK: soft_rank_ref}
ORACLES = {MODE_SORT: soft_sort_scipy, MODE_RANK: soft_rank_scipy}


def _data(kind, rows, n, seed):
    g = np.random.default_rng(seed)
    if kind == "heavy":
        return torch.from_numpy(g.standard_t(1.5, (rows, n)))
    if kind == "tied":
        return torch.from_numpy(g.integers(0, max(2, n // 3), (rows, n)).astype(np.float64))
    return torch.from_numpy(g.standard_normal((rows, n)))


@pytest.mark.parametrize("mode", [MODE_SORT, MODE_RANK], ids=["sort", "rank"])
@pytest.mark.parametrize("kind", ["random", "heavy", "tied"])
@pytest.mark.parametrize("rows,n", [(1, 1), (3, 5), (64, 33), (2, 3000)])
@pytest.mark.parametrize("eps", [0.01, 1.0, 30.0])
@pytest.mark.parametrize("dtype", [F64, F32])
def test_triton_matches_oracle(mode, kind, rows, n, eps, dtype):
    x = _data(kind, rows, n, seed=rows + n).to(dtype)
    xr = x.clone().requires_grad_()
    got = FNS[mode](xr, eps, backend="triton")
    want, perm, bs = ORACLES[mode](x.double().numpy(), eps)
    rtol = 1e-9 + 16 * (n / eps) * 2.0 ** -53 if dtype == F64 else 2e-6
    tag = f"triton {mode} {kind} {rows}x{n} eps={eps} {dtype}"
    assert got.dtype == dtype
    assert_close_verbose(got.double(), torch.from_numpy(want), tag=tag, rtol=rtol, atol=1e-6 if
                         dtype == F32 else 0.0, scale="max")
    g = torch.randn(x.shape, dtype=dtype)
    (gx,) = torch.autograd.grad(got, xr, g)
    x64 = x.double().requires_grad_()
    (gw,) = torch.autograd.grad(REFS[mode](x64, eps), x64, g.double())
    if kind == "tied" and mode == MODE_SORT:
        assert_close_verbose(gx.double().sum(-1), gw.sum(-1), tag=tag + " grad sums", rtol=1e-5,
                             atol=1e-5)
    else:
        assert_close_verbose(gx.double(), gw, tag=tag + " grad", rtol=1e-9 if dtype == F64 else 1e-5,
                             atol=1e-12, scale="max")


@pytest.mark.parametrize("mode", [MODE_SORT, MODE_RANK], ids=["sort", "rank"])
def test_prep_kernel_flag_and_outputs(mode):
    x = torch.sort(torch.randn(5, 700, dtype=F32), -1).values.contiguous()
    gaps = x[:, 1:] - x[:, :-1]
    for eps in (1e-4, 0.3, 1e4):
        out, bs, flag = soft_sort_prep(x, eps, mode)
        assert torch.equal(bs, torch.arange(700).expand(5, -1))
        want_out = x if mode == MODE_SORT else (torch.arange(700) + 1).to(F32).expand(5, -1)
        assert torch.equal(out, want_out)
        hit = (gaps >= 1 / eps) if mode == MODE_SORT else (gaps <= eps)
        assert bool(flag.item()) == bool(hit.any()), (eps, flag)


def test_triton_gradcheck_and_hard_sort():
    g = torch.Generator().manual_seed(1)
    x = (torch.randperm(40, generator=g).to(F64) * 0.1 + 0.01 * torch.rand(40, generator=g,
                                                                          dtype=F64)).reshape(2, 20)
    for mode, eps in ((MODE_SORT, 2.5), (MODE_RANK, 0.25)):
        xr = x.clone().requires_grad_()
        assert torch.autograd.gradcheck(lambda v: FNS[mode](v, eps, backend="triton"), (xr,),
                                        eps=1e-6, atol=1e-8)
    assert torch.equal(dirfast.soft_sort(x, 1.0, backend="triton"), torch.sort(x, -1).values)


def test_triton_fp16_bf16():
    x = torch.randn(4, 500, dtype=F64)
    for dt in (torch.float16, torch.bfloat16):
        xl = x.to(dt)
        got = dirfast.soft_sort(xl, 3.0, backend="triton")
        want = soft_sort_ref(xl.double(), 3.0)
        assert got.dtype == dt
        assert_close_verbose(got.double(), want, tag=f"triton {dt}", rtol=1e-2, atol=1e-2,
                             scale="max")


def test_auto_never_picks_the_interpreter():
    assert dirfast.resolve_backend("auto", torch.device("cpu"), op="t") in ("cpu", "cpu_torch")
