"""Fused per-row sort + PAV (``dirfast._C.sort_pav``, the CPU path of soft_sort/soft_rank for rows of
``n ≤ 32768``): bit-identical to ``torch.sort`` + ``dirfast._C.pav`` (values, block starts; the
permutation too: ties, ``-0.0``/``+0.0`` and NaNs keep their index order as in ``torch.sort(stable=True)``,
dirfast's tie rule), NaN sorted last as torch does,
soft ranks scattered back to the original positions, both dtypes and modes, 1 and 2 threads, and
argument errors. Skips without the extension unless DIRFAST_REQUIRE_EXT=1 (make test)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dirfast import _ext

from _paths import require_ext


@pytest.fixture(autouse=True)
def _require_extension():
    require_ext()


def fused(theta, eps, mode, threads=0):
    rows, n = theta.shape
    out = torch.full_like(theta, float("nan"))
    perm = torch.full((rows, n), -1, dtype=torch.int64)
    bs = torch.full((rows, n), -1, dtype=torch.int64)
    dt = "float64" if theta.dtype == torch.float64 else "float32"
    pooled = _ext.get().sort_pav(dt, mode, theta.data_ptr(), rows, n, eps, out.data_ptr(),
                                 perm.data_ptr(), bs.data_ptr(), threads)
    return out, perm, bs, pooled


def unfused(theta, eps, mode):
    x, perm = torch.sort(theta, dim=-1, stable=True)
    x = x.contiguous()
    rows, n = x.shape
    out = torch.empty_like(x)
    bs = torch.empty((rows, n), dtype=torch.int64)
    dt = "float64" if theta.dtype == torch.float64 else "float32"
    pooled = _ext.get().pav(dt, mode, x.data_ptr(), rows, n, eps, out.data_ptr(), bs.data_ptr())
    if mode == 1:
        out = torch.empty_like(out).scatter_(-1, perm, out)
    return out, perm, bs, pooled


def data(kind, rows, n, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    if kind == "t3":
        x = 45 + 15 * torch.distributions.StudentT(3).sample((rows, n))
    elif kind == "tied":
        x = torch.randint(0, 12, (rows, n), generator=g).double() * 3.0
    else:
        x = torch.randn(rows, n, generator=g, dtype=torch.float64) * 20
    return x.to(dtype).contiguous()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("mode", [0, 1])
@pytest.mark.parametrize("kind", ["t3", "tied", "normal"])
@pytest.mark.parametrize("rows,n", [(1, 1), (3, 2), (256, 100), (2, 1000), (1, 32768)])
@pytest.mark.parametrize("threads", [1, 2])
def test_equals_torch_sort_then_pav(dtype, mode, kind, rows, n, threads):
    theta = data(kind, rows, n, dtype, seed=rows * 31 + n)
    eps = 0.1 if mode == 0 else 0.5
    out, perm, bs, pooled = fused(theta, eps, mode, threads)
    want, wperm, wbs, wpooled = unfused(theta, eps, mode)
    assert pooled == wpooled
    assert torch.equal(out, want)          # bit-identical values
    assert torch.equal(bs, wbs)
    # ties are ordered by index, as torch.sort(stable=True)
    assert torch.equal(perm, wperm)
    assert theta.gather(-1, perm).equal(torch.sort(theta, -1).values)


def test_nan_sorts_last_and_inputs_untouched():
    theta = torch.tensor([[3.0, float("nan"), -1.0, 2.0, -float("nan")]])
    keep = theta.clone()
    out, perm, bs, _ = fused(theta, 0.1, 0)
    assert perm[0].tolist() == [2, 3, 0, 1, 4]  # NaNs last, in index order (stable)
    assert out[0, :3].tolist() == [-1.0, 2.0, 3.0] and out[0, 3:].isnan().all()
    assert torch.equal(theta.isnan(), keep.isnan()) and torch.equal(theta[~theta.isnan()], keep[~keep.isnan()])


def test_bad_arguments():
    c = _ext.get()
    t = torch.zeros(2, 4)
    o, p, b = torch.empty(2, 4), torch.empty(2, 4, dtype=torch.int64), torch.empty(2, 4, dtype=torch.int64)
    ok = dict(dtype="float32", mode=0, theta=t.data_ptr(), rows=2, n=4, eps=0.1, out=o.data_ptr(),
              perm=p.data_ptr(), block_start=b.data_ptr())
    for k, v, msg in [("mode", 2, "mode"), ("n", 0, "n must be"), ("n", 40000, "n must be"),
                      ("eps", 0.0, "eps"), ("eps", float("inf"), "eps"), ("dtype", "float16", "dtype"),
                      ("out", t.data_ptr(), "overlap"), ("perm", 0, "perm")]:
        with pytest.raises(ValueError, match=msg):
            c.sort_pav(**dict(ok, **{k: v}))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_tie_rule_is_the_stable_torch_sort(dtype):
    """Ties, signed zeros (``-0.0 == +0.0``: the raw IEEE keys order them), NaNs of either sign and
    infinities: the permutation of ``torch.sort(stable=True)``, for both modes."""
    g = torch.Generator().manual_seed(5)
    special = torch.tensor([0.0, -0.0, float("nan"), -float("nan"), float("inf"), -float("inf")],
                           dtype=torch.float64)
    theta = torch.cat([torch.randint(-3, 4, (3, 60), generator=g).double(),
                       special[torch.randint(0, 6, (3, 40), generator=g)]], 1)
    theta = theta[:, torch.randperm(100, generator=g)].to(dtype).contiguous()
    want = torch.sort(theta, dim=-1, stable=True).indices
    for mode in (0, 1):
        _, perm, _, _ = fused(theta, 0.1, mode)
        assert torch.equal(perm, want), mode
