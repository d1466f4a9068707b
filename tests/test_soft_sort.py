"""Soft sort / soft rank (``dirfast.soft_sort``, ``dirfast.soft_rank``): every CPU path (C++ ``"cpu"``,
vectorised PyTorch ``"cpu_torch"``) and the reference against an fp64 oracle built on
``scipy.optimize.isotonic_regression``; fp32 stability at n/eps = 2.6e7 (and the torchsort formula's
error there); gradcheck; exact hard-sort invariants; sums; fp16/bf16; bad input; compile + opcheck.

Tolerance against the oracle: ``1e-9 + 16·(n/eps)·2⁻⁵³`` relative to the largest value of
the row set (the oracle's own uncentred form errs by ~``(n/eps)·2⁻⁵³``); gradients the same, relative
to the largest gradient. Tied inputs: forward values and per-row gradient sums only (docs/conventions.md).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dirfast
from dirfast.ops.soft_sort import (soft_rank_bwd, soft_rank_op, soft_sort_bwd, soft_sort_op)
from dirfast.reference.soft_sort import (MODE_RANK, MODE_SORT, pav_blocks, soft_rank_ref,
                                         soft_rank_scipy, soft_sort_ref, soft_sort_scipy)
from dirfast.testing import assert_close_verbose, assert_low_precision_close

from _double_backward import away_from_kinks
from _launch_stubs import KernelStub, assert_cuda_grid, one_fake_cuda_device
from _paths import CPU_PATHS, require_ext, select_path

pytest.importorskip("scipy.optimize", minversion=None)
F64, F32 = torch.float64, torch.float32
KINDS = ["random", "tied", "clustered", "heavy"]
FNS = {MODE_SORT: dirfast.soft_sort, MODE_RANK: dirfast.soft_rank}
ORACLES = {MODE_SORT: soft_sort_scipy, MODE_RANK: soft_rank_scipy}


def make(kind: str, rows: int, n: int, seed: int = 0) -> torch.Tensor:
    """fp64 ``[rows, n]`` test data of one kind."""
    g = np.random.default_rng(seed)
    if kind == "random":
        x = g.standard_normal((rows, n))
    elif kind == "tied":  # many exact ties
        x = g.integers(0, max(2, n // 4), (rows, n)).astype(np.float64) * 0.5
    elif kind == "clustered":  # tight clusters far apart
        centres = g.integers(0, 6, (rows, n)) * 10.0
        x = centres + 1e-3 * g.standard_normal((rows, n))
    elif kind == "heavy":  # Student t, 1.5 degrees of freedom
        x = g.standard_t(1.5, (rows, n))
    elif kind == "age":  # age-scale predictions
        x = g.uniform(0.0, 100.0, (rows, n))
    else:
        raise ValueError(kind)
    return torch.from_numpy(x)


def pick_eps(x: torch.Tensor, mode: int, regime: str) -> float:
    """An eps giving no pooling (``hard``), some (``mixed``) or a lot (``soft``) on ``x``."""
    gaps = np.diff(np.sort(x.numpy(), axis=-1), axis=-1).ravel()
    pos = gaps[gaps > 0]
    if pos.size == 0:
        return 1.0
    if mode == MODE_SORT:  # pooling where gap >= 1/eps
        inv = {"hard": 2 * pos.max(), "mixed": np.quantile(pos, 0.95), "soft": np.quantile(pos, 0.1)}
        return float(1.0 / inv[regime])
    return float({"hard": 0.5 * pos.min(), "mixed": np.quantile(pos, 0.05),
                  "soft": np.quantile(pos, 0.9)}[regime])


def tol(n: int, eps: float) -> float:
    return 1e-9 + 16 * (n / eps) * 2.0 ** -53


def oracle_grad(mode: int, g: np.ndarray, perm: np.ndarray, bs: np.ndarray, eps: float) -> np.ndarray:
    """VJP from the oracle's blocks: sort ``g`` is in sorted order, rank ``g`` in original order."""
    out = np.empty_like(g)
    for k in range(g.shape[0]):
        gg = g[k] if mode == MODE_SORT else g[k][perm[k]]
        counts = np.bincount(bs[k], minlength=g.shape[1])
        mean = (np.bincount(bs[k], weights=gg, minlength=g.shape[1]) / np.maximum(counts, 1))[bs[k]]
        gx = mean if mode == MODE_SORT else (gg - mean) / eps
        out[k][perm[k]] = gx
    return out


def run(path, route, fn, x, eps, **kw):
    backend = route(path) if path in CPU_PATHS else path
    return fn(x, eps, backend=backend, **kw)


# ------------------------------------------------------------------------------------------------
# against the fp64 oracle


SHAPES = [(1, 1), (1, 2), (256, 7), (16, 100), (2, 1000), (1, 100_000)]


@pytest.mark.parametrize("path", CPU_PATHS + ["reference"])
@pytest.mark.parametrize("mode", [MODE_SORT, MODE_RANK], ids=["sort", "rank"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("rows,n", SHAPES, ids=[f"{r}x{n}" for r, n in SHAPES])
@pytest.mark.parametrize("regime", ["hard", "mixed", "soft"])
def test_matches_oracle_fp64(path, mode, kind, rows, n, regime, route):
    if path == "reference" and rows * n > 10_000:
        pytest.skip("the Python reference is the oracle's twin; large sizes run on the fast paths")
    x = make(kind, rows, n, seed=rows * 7 + n)
    eps = pick_eps(x, mode, regime)
    want, perm, bs = ORACLES[mode](x.numpy(), eps)
    xr = x.clone().requires_grad_()
    got = run(path, route, FNS[mode], xr, eps)
    t = tol(n, eps)
    tag = f"{path} {'sort' if mode == MODE_SORT else 'rank'} {kind} {rows}x{n} {regime} eps={eps:.3g}"
    assert got.dtype == F64 and got.shape == x.shape
    assert_close_verbose(got, torch.from_numpy(want), tag=tag, rtol=t, scale="max")
    g = torch.from_numpy(np.random.default_rng(1).standard_normal(x.shape))
    (gx,) = torch.autograd.grad(got, xr, g)
    gw = torch.from_numpy(oracle_grad(mode, g.numpy(), perm, bs, eps))
    if kind == "tied" and mode == MODE_SORT:
        # which of two tied inputs takes which sorted slot is arbitrary: sums only
        assert_close_verbose(gx.sum(-1), gw.sum(-1), tag=tag + " grad sums", rtol=t, atol=1e-9)
    else:
        assert_close_verbose(gx, gw, tag=tag + " grad", rtol=t, atol=1e-12, scale="max")


@pytest.mark.parametrize("mode", [MODE_SORT, MODE_RANK], ids=["sort", "rank"])
@pytest.mark.parametrize("kind", ["random", "heavy"])
def test_one_million_cpu(mode, kind):
    require_ext()
    x = make(kind, 1, 1_000_000, seed=5)
    eps = pick_eps(x, mode, "mixed")
    want, _, _ = ORACLES[mode](x.numpy(), eps)
    got = FNS[mode](x, eps, backend="cpu")
    assert_close_verbose(got, torch.from_numpy(want), tag=f"1M {kind}", rtol=tol(10**6, eps),
                         scale="max")


def test_reference_matches_scipy_and_block_rule():
    for mode in (MODE_SORT, MODE_RANK):
        for kind in KINDS:
            x = make(kind, 4, 300, seed=3)
            for regime in ("hard", "mixed", "soft"):
                eps = pick_eps(x, mode, regime)
                ref = (soft_sort_ref if mode == MODE_SORT else soft_rank_ref)(x, eps)
                want, _, bs = ORACLES[mode](x.numpy(), eps)
                assert_close_verbose(ref, torch.from_numpy(want), tag=f"ref {kind} {regime}",
                                     rtol=tol(300, eps), scale="max")
                mine = np.stack([pav_blocks(np.sort(r), eps, mode) for r in x.numpy()])
                if kind != "tied" or mode == MODE_RANK:
                    assert (mine == bs).mean() > 0.99  # boundaries equal up to exact ties


# ------------------------------------------------------------------------------------------------
# fp32 stability (spec §2.8)


def naive_soft_sort_fp32(x64: torch.Tensor, eps: float) -> torch.Tensor:
    """The torchsort / fast-soft-sort formula in fp32: ``ŝ = ρ/ε − v`` with ``v`` the isotonic fit of
    ``ρ/ε − x`` (blocks from the fp64 solution; every value formed and averaged in fp32)."""
    x = torch.sort(x64.to(F32), -1).values
    n = x.shape[-1]
    w = torch.arange(1, n + 1, dtype=F32) / eps
    u = w - x
    out = torch.empty_like(u)
    for k in range(x.shape[0]):
        b = torch.from_numpy(pav_blocks(x64[k].sort().values.tolist(), eps, MODE_SORT))
        sums = torch.zeros(n, dtype=F32).index_add_(0, b, u[k])
        v = (sums / torch.bincount(b, minlength=n).clamp_min(1).to(F32))[b]
        out[k] = w - v
    return out


@pytest.mark.parametrize("path", CPU_PATHS)
@pytest.mark.parametrize("tail", [False, True], ids=["ages", "ages+outliers"])
def test_fp32_stable_at_large_n_over_eps(path, tail, route):
    n, eps = 262_144, 0.01
    x = make("age", 1, n, seed=11)
    if tail:  # a few predictions far out: gaps >= 1/eps = 100 years pool
        x[0, :6] = torch.tensor([250.0, 420.0, 430.0, 700.0, 1300.0, 1305.0], dtype=F64)
    x32 = x.to(F32)
    want = torch.from_numpy(soft_sort_scipy(x32.double().numpy(), eps)[0])
    got = run(path, route, dirfast.soft_sort, x32, eps)
    err = (got.double() - want).abs().max().item()
    assert got.dtype == F32 and err < 1e-4, f"{path} fp32 max abs error {err:.3g} (target 1e-4)"
    naive = (naive_soft_sort_fp32(x32.double(), eps).double() - want).abs().max().item()
    assert naive > 0.1, f"the fp32 torchsort formula was expected to err by ~1, got {naive:.3g}"
    rank = run(path, route, dirfast.soft_rank, x32, 1e-3)
    wantr = torch.from_numpy(soft_rank_scipy(x32.double().numpy(), 1e-3)[0])
    assert (rank.double() - wantr).abs().max().item() <= 2.0 ** -24 * n * 4


# ------------------------------------------------------------------------------------------------
# invariants




@pytest.mark.parametrize("path", CPU_PATHS + ["reference"])
@pytest.mark.parametrize("mode", [MODE_SORT, MODE_RANK], ids=["sort", "rank"])
@pytest.mark.parametrize("eps", [0.3, 1.0, 4.0])
def test_gradcheck(path, mode, eps, route):
    backend = route(path) if path in CPU_PATHS else path
    g = torch.Generator().manual_seed(int(eps * 10) + mode)
    for _ in range(20):
        x = torch.randn(3, 12, dtype=F64, generator=g) * 2
        if away_from_kinks(x, eps, mode):
            break
    else:
        pytest.fail("no kink-free sample found")
    xr = x.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda v: FNS[mode](v, eps, backend=backend), (xr,),
                                    eps=1e-6, atol=1e-8, rtol=1e-6)
    # and along dim=0 / 1-D layouts
    assert torch.autograd.gradcheck(lambda v: FNS[mode](v, eps, dim=0, backend=backend),
                                    (xr.detach().t().clone().requires_grad_(),), eps=1e-6,
                                    atol=1e-8, rtol=1e-6)
    assert torch.autograd.gradcheck(lambda v: FNS[mode](v, eps, backend=backend),
                                    (xr[0].detach().clone().requires_grad_(),), eps=1e-6,
                                    atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("path", CPU_PATHS)
@pytest.mark.parametrize("dtype", [F64, F32])
def test_exact_hard_sort_and_sum(path, dtype, route):
    backend = route(path)
    x = make("heavy", 8, 5000, seed=2).to(dtype)
    xs = torch.sort(x, -1).values
    maxgap = (xs[:, 1:] - xs[:, :-1]).max().item()
    eps = 0.99 / maxgap  # every gap < 1/eps
    assert torch.equal(dirfast.soft_sort(x, eps, backend=backend), xs)
    g = torch.Generator().manual_seed(0)
    perms = torch.stack([torch.randperm(5000, generator=g) for _ in range(8)])
    xr = perms.to(dtype) * 0.25 - 300.0  # every gap 0.25 > eps: the hard ranks exactly
    assert torch.equal(dirfast.soft_rank(xr, 0.1, backend=backend), (perms + 1).to(dtype))
    for e in (0.01, 1.0, 100.0):
        s = dirfast.soft_sort(x.double(), e, backend=backend)
        assert_close_verbose(s.sum(-1), x.double().sum(-1), tag=f"sum eps={e}", rtol=1e-12,
                             atol=1e-9 * (1 + 5000 / e))
        assert (s[:, 1:] >= s[:, :-1]).all()


@pytest.mark.parametrize("path", CPU_PATHS + ["reference"])
def test_readme_example(path, route):
    backend = route(path) if path in CPU_PATHS else path
    x = torch.tensor([[8.0, 0, 5, 3, 2, 1, 6, 7, 9]])
    got = dirfast.soft_sort(x, eps=1.0, backend=backend)
    want = torch.arange(9, dtype=F64) + 5 / 9
    assert_close_verbose(got, want[None].float(), tag="readme", rtol=1e-6)
    assert torch.equal(dirfast.soft_sort(x, regularization_strength=1.0, backend=backend), got)
    r = dirfast.soft_rank(x, 0.5, backend=backend)
    assert torch.equal(r, x + torch.tensor([[0.0, 1, 0, 1, 1, 1, 0, 0, 0]]))


@pytest.mark.parametrize("path", CPU_PATHS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("mode", [MODE_SORT, MODE_RANK], ids=["sort", "rank"])
def test_low_precision_inputs(path, dtype, mode, route):
    backend = route(path)
    x = make("random", 4, 3000, seed=4).to(dtype)
    eps = pick_eps(x.double(), mode, "mixed")
    xr = x.clone().requires_grad_()
    got = FNS[mode](xr, eps, backend=backend)
    assert got.dtype == dtype
    oracle = (soft_sort_ref if mode == MODE_SORT else soft_rank_ref)(x.double(), eps)
    base = (soft_sort_ref if mode == MODE_SORT else soft_rank_ref)(x, eps)
    assert_low_precision_close(got, base, oracle, tag=f"{path} {dtype}")
    g = torch.randn(x.shape, dtype=F64)
    (gx,) = torch.autograd.grad(got, xr, g.to(dtype))
    x64 = x.double().requires_grad_()
    (gw,) = torch.autograd.grad((soft_sort_ref if mode == MODE_SORT else soft_rank_ref)(x64, eps),
                                x64, g.to(dtype).double())
    assert gx.dtype == dtype
    assert_close_verbose(gx.double(), gw, tag=f"{path} {dtype} grad", rtol=2e-2, atol=1e-3,
                         scale="max") if mode == MODE_RANK else \
        assert_close_verbose(gx.double().sum(-1), gw.sum(-1), tag="grad sums", rtol=2e-2, atol=0.1)


# ------------------------------------------------------------------------------------------------
# layouts, inputs untouched, modules


@pytest.mark.parametrize("path", CPU_PATHS)
def test_layouts_and_input_untouched(path, route):
    backend = route(path)
    x = make("heavy", 5, 40, seed=8)
    keep = x.clone()
    a = dirfast.soft_sort(x, 0.5, backend=backend)
    assert torch.equal(x, keep)
    assert torch.equal(dirfast.soft_sort(x.t(), 0.5, dim=0, backend=backend), a.t())
    assert torch.equal(dirfast.soft_sort(x[2], 0.5, backend=backend), a[2])
    r = dirfast.soft_rank(x, 0.05, backend=backend)
    assert torch.equal(dirfast.soft_rank(x.t().contiguous(), 0.05, dim=0, backend=backend), r.t())
    assert torch.equal(x, keep)
    col = x[0][:, None]
    assert torch.equal(dirfast.soft_sort(col, 0.5, dim=0, backend=backend)[:, 0], a[0])
    assert torch.equal(dirfast.nn.SoftSort(0.5, backend=backend)(x), a)
    assert torch.equal(dirfast.nn.SoftRank(regularization_strength=0.05, backend=backend)(x), r)
    assert torch.equal(dirfast.functional.soft_sort(x, 0.5, backend=backend), a)


def test_bad_inputs():
    x = torch.randn(4, 5)
    with pytest.raises(ValueError, match="eps must be a finite number > 0, got 0"):
        dirfast.soft_sort(x, 0.0)
    with pytest.raises(ValueError, match="eps must be a finite number > 0, got -1"):
        dirfast.soft_rank(x, -1.0)
    with pytest.raises(ValueError, match="eps must be a finite number > 0, got nan"):
        dirfast.soft_sort(x, float("nan"))
    with pytest.raises(ValueError, match="regularization_strength must be a finite number > 0, got inf"):
        dirfast.soft_sort(x, regularization_strength=float("inf"))
    with pytest.raises(ValueError, match=r"eps=0.5 and regularization_strength=2.0 disagree"):
        dirfast.soft_sort(x, 0.5, regularization_strength=2.0)
    assert torch.equal(dirfast.soft_sort(x, 0.5, regularization_strength=0.5),
                       dirfast.soft_sort(x, 0.5))
    with pytest.raises(TypeError, match="eps must be a real number"):
        dirfast.soft_sort(x, "1")
    with pytest.raises(ValueError, match="must not be empty"):
        dirfast.soft_sort(torch.zeros(3, 0))
    with pytest.raises(ValueError, match="must not be empty"):
        dirfast.soft_rank(torch.zeros(0))
    with pytest.raises(TypeError, match="floating tensor.*int64"):
        dirfast.soft_sort(torch.arange(5))
    with pytest.raises(ValueError, match=r"\[n\] \(one row\) or \[batch, n\].*\(2, 3, 4\)"):
        dirfast.soft_sort(torch.randn(2, 3, 4))
    with pytest.raises(ValueError, match=r"shape \(7, 1\).*rows of length 1.*dim=0"):
        dirfast.soft_sort(torch.randn(7, 1))
    with pytest.raises(ValueError, match=r"shape \(7, 1\)"):
        dirfast.soft_rank(torch.randn(7, 1), dim=-1)
    with pytest.raises(ValueError, match="dim must be an int in"):
        dirfast.soft_sort(x, dim=2)
    with pytest.raises(ValueError, match="regularization must be 'l2'.*'kl'"):
        dirfast.soft_sort(x, regularization="kl")
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        dirfast.soft_sort([1.0, 2.0])
    with pytest.raises(ValueError, match="NaN"):
        dirfast.soft_sort(torch.tensor([1.0, float("nan")]), validate=True)
    with pytest.raises(ValueError, match="backend must be one of"):
        dirfast.soft_sort(x, backend="gpu")
    with pytest.raises(ValueError, match="backend='cuda' needs CUDA tensors"):
        dirfast.soft_sort(x, backend="cuda")
    with pytest.raises(ValueError, match="eps must be a finite number > 0"):
        dirfast.nn.SoftSort(eps=0)
    # [1, 1] and [N] are fine
    assert dirfast.soft_sort(torch.ones(1, 1)).shape == (1, 1)
    assert dirfast.soft_rank(torch.ones(3)).tolist() == [2.0, 2.0, 2.0]


# ------------------------------------------------------------------------------------------------
# registered ops: opcheck and torch.compile


@pytest.mark.parametrize("path", CPU_PATHS)
def test_opcheck(path, route):
    route(path)
    x = make("heavy", 3, 17, seed=6).requires_grad_()
    for op, bop, eps in ((soft_sort_op, soft_sort_bwd, 0.7), (soft_rank_op, soft_rank_bwd, 0.2)):
        torch.library.opcheck(op, (x, eps, path), test_utils=(
            "test_schema", "test_faketensor", "test_autograd_registration"))
        out, perm, bs, flag = op(x.detach(), eps, path)
        g = torch.randn_like(out)
        torch.library.opcheck(bop, (g, perm, bs, flag, eps, path, F64))
        a = x.detach().clone().requires_grad_()
        b = x.detach().clone().requires_grad_()
        (ga,) = torch.autograd.grad(op(a, eps, path)[0], a, g)
        fn = dirfast.soft_sort if op is soft_sort_op else dirfast.soft_rank
        (gb,) = torch.autograd.grad(fn(b, eps, backend="cpu" if path == "cpu" else "auto"), b, g)
        assert torch.equal(ga, gb)


def test_compile_fullgraph():
    torch._dynamo.reset()
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    x = torch.randn(64, 3)
    q = torch.linspace(-1, 1, 64)

    def step(x):
        pred = model(x)
        s = dirfast.soft_sort(pred, eps=0.5, dim=0, validate=False)[:, 0]
        r = dirfast.soft_rank(pred[:, 0], eps=0.05, validate=False)
        return (s - q).abs().mean() + 1e-3 * r.square().mean()

    graphs = []

    def record(gm, example_inputs):
        graphs.append(str(gm.graph))
        return gm.forward

    torch.compile(step, fullgraph=True, backend=record)(x)
    assert graphs and "dirfast.soft_sort" in graphs[0] and "dirfast.soft_rank" in graphs[0]
    torch._dynamo.reset()
    got = torch.compile(step, fullgraph=True, backend="aot_eager")(x)
    got.backward()
    gc = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    want = step(x)
    want.backward()
    assert_close_verbose(got.detach(), want.detach(), tag="compiled soft sort", rtol=1e-6)
    for a, p in zip(gc, model.parameters()):
        assert_close_verbose(a, p.grad, tag="compiled grad", rtol=1e-5, scale="max")


# ------------------------------------------------------------------------------------------------
# the tie rule: every path sorts stably, so gradients at ties agree elementwise


def tied(rows: int, n: int, dtype, seed: int = 0) -> torch.Tensor:
    """Small integers (ties everywhere), half of the zeros negative (``-0.0 == +0.0`` ties too)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(-6, 7, (rows, n), generator=g).to(dtype)
    neg = (x == 0) & (torch.rand(rows, n, generator=g) < 0.5)
    return torch.where(neg, torch.tensor(-0.0, dtype=dtype), x)


def grads_by_path(mode, x, g, eps, paths, monkeypatch):
    res = {}
    for path in paths:
        with monkeypatch.context() as m:
            backend = path if path in ("reference", "triton") else select_path(path, m)
            xr = x.clone().requires_grad_()
            out = FNS[mode](xr, eps, backend=backend, validate=False)
            (gx,) = torch.autograd.grad(out, xr, g)
        res[path] = (out.detach(), gx)
    return res


def check_tie_rule(mode, x, eps, paths, monkeypatch):
    """Every path against the first: values and elementwise gradients; for soft sort with no pooling
    (gaps < 1/eps) the gradient is exactly ``g`` scattered by the stable permutation."""
    g = torch.randn(x.shape, generator=torch.Generator().manual_seed(1), dtype=x.dtype)
    res = grads_by_path(mode, x, g, eps, paths, monkeypatch)
    tag = f"{'sort' if mode == MODE_SORT else 'rank'} {tuple(x.shape)} {x.dtype} eps={eps}"
    if mode == MODE_SORT and eps * 12 < 1:
        want = torch.empty_like(g).scatter_(-1, torch.sort(x, dim=-1, stable=True).indices, g)
        for path, (_, gx) in res.items():
            assert torch.equal(gx, want), f"{path} {tag}: gradient not g permuted by the stable sort"
    base_out, base_g = res[paths[0]]
    rtol = 1e-12 if x.dtype == F64 else 2e-6
    for path, (out, gx) in res.items():
        assert_close_verbose(out, base_out, tag=f"{path} vs {paths[0]} {tag}", rtol=rtol, atol=rtol,
                             scale="max")
        assert_close_verbose(gx, base_g, tag=f"{path} vs {paths[0]} {tag} grad", rtol=rtol,
                             atol=rtol, scale="max")


@pytest.mark.parametrize("mode", [MODE_SORT, MODE_RANK], ids=["sort", "rank"])
@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize("rows,n", [(4, 100), (1, 40_000)], ids=["4x100", "1x40000"])
@pytest.mark.parametrize("eps", [0.01, 1.0])
def test_ties_same_gradients_on_every_path(mode, dtype, rows, n, eps, monkeypatch):
    require_ext()  # 1x40000: torch.sort + dirfast._C.pav; 4x100: the fused dirfast._C.sort_pav
    check_tie_rule(mode, tied(rows, n, dtype, seed=n), eps, ["cpu", "cpu_torch", "reference"],
                   monkeypatch)


# ------------------------------------------------------------------------------------------------
# tensors on the input's device: the reference and the ops create none elsewhere


@pytest.mark.parametrize("path", CPU_PATHS + ["reference"])
def test_no_tensor_created_off_the_inputs_device(path, route):
    """With ``torch.device("meta")`` as the default device, a factory call without ``device=``
    (``torch.arange(rows)`` in the reference's ``_centre`` failed on CUDA tensors) lands on meta and
    fails against the CPU inputs."""
    backend = "reference" if path == "reference" else route(path)
    x = make("heavy", 3, 50, seed=2).requires_grad_()
    g = torch.randn(3, 50, dtype=F64)
    for fn, eps in ((dirfast.soft_sort, 0.3), (dirfast.soft_rank, 0.3)):
        want = torch.autograd.grad(fn(x, eps, backend=backend), x, g)[0]
        with torch.device("meta"):
            out = fn(x, eps, backend=backend)
            got = torch.autograd.grad(out, x, g)[0]
        assert out.device.type == "cpu" and torch.equal(got, want)


# ------------------------------------------------------------------------------------------------
# launch grids: rows on grid axis 0, every axis within CUDA's limits




@pytest.mark.parametrize("rows,n", [(70_000, 3), (70_000, 2500), (1, 10_000_000)])
def test_prep_grid_puts_rows_on_axis_0(rows, n, monkeypatch):
    pytest.importorskip("triton")
    from dirfast.kernels import soft_sort as KS

    stub = KernelStub(KS._soft_sort_prep_kernel)
    monkeypatch.setattr(KS, "_soft_sort_prep_kernel", stub)
    x = torch.empty(rows, n, dtype=F32, device="meta")  # shapes only: nothing is launched
    KS.soft_sort_prep(x, 0.5, MODE_SORT)
    ((grid, args, kw),) = stub.launches
    assert_cuda_grid(grid)
    assert grid == (rows * -(-n // KS.BLOCK),)  # one program per (row, column block), on axis 0
    assert grid == KS.grid(rows, n)
    with pytest.raises(ValueError, match="2\\^31"):
        KS.grid(2**31, 2)


def test_prep_kernel_scalar_by_value(monkeypatch):
    """``thresh`` reaches the kernel as a Python float (fp32 rows) or as the int64 bit pattern of
    the double (fp64 rows; Triton's JIT would type a float fp32)."""
    pytest.importorskip("triton")
    from dirfast.kernels import soft_sort as KS
    from dirfast.kernels._launch import fp64_bits

    stub = KernelStub(KS._soft_sort_prep_kernel)
    monkeypatch.setattr(KS, "_soft_sort_prep_kernel", stub)
    for dtype in (F32, F64):
        for mode, eps in ((MODE_SORT, 0.3), (MODE_RANK, 0.7)):
            KS.soft_sort_prep(torch.zeros(2, 5, dtype=dtype), eps, mode)
            thresh = stub.launches[-1][1][5]
            want = KS.flag_threshold(eps, mode)
            if dtype == F64:
                assert type(thresh) is int and thresh == fp64_bits(want)
            else:
                assert type(thresh) is float and thresh == want


# ------------------------------------------------------------------------------------------------
# torch.compile on CUDA tensors, on this CPU-only machine: fake CUDA tensors


def test_compile_fullgraph_cuda_route_sees_only_the_ops(monkeypatch):
    """The backend resolution asks ``dirfast._C_cuda`` for its devices — a pybind call dynamo cannot
    trace ("Attempted to call function marked as skipped" on the H200). It is a trace-time constant
    now: the graph of a CUDA call holds the registered ops and the layout ops only. The stand-in
    ``device_count`` is untraceable too (``torch.compiler.disable``), so tracing into it fails."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    one_fake_cuda_device(monkeypatch)
    graphs = []

    def record(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    def step(x):
        s = dirfast.soft_sort(x, eps=0.5, validate=False)
        return s, dirfast.soft_rank(x.t(), 0.1, dim=0, validate=False)

    mode = FakeTensorMode()
    with mode:
        x = torch.empty(4, 50, device="cuda")
        s, r = torch.compile(step, fullgraph=True, backend=record)(x)
    assert s.device.type == "cuda" and s.shape == (4, 50) and r.shape == (50, 4)
    targets = {str(n.target) for g in graphs for n in g.graph.nodes if n.op == "call_function"}
    assert {"dirfast.soft_sort.default", "dirfast.soft_rank.default"} <= targets, targets
    torch._dynamo.reset()


# ------------------------------------------------------------------------------------------------
# the dirfast._C_cuda route (triton/cuda on a GPU with the CUDA module) on CPU tensors, with the
# module's API emulated on the host


def _host_array(ptr: int, count: int, dtype: str) -> np.ndarray:
    import ctypes

    ct = {"float32": ctypes.c_float, "float64": ctypes.c_double, "int64": ctypes.c_int64}[dtype]
    return np.ctypeslib.as_array((ct * count).from_address(ptr))


class HostCudaPav:
    """``dirfast._C_cuda``'s PAV API on CPU pointers. ``pav``: the GPU decomposition simulated by
    ``dirfast._C.pav(grid=True)``, its output scattered by ``perm`` when given, the flag set as the
    kernel sets it. ``pav_vjp``: the summands ``v`` (``g`` or ``g[perm]``), their block means by
    ``dirfast._C.pav_block_mean(grid=True)`` (the kernels' summation order), the epilogue
    ``T(m)`` / ``(v − T(m))/T(eps)`` in the dtype and the scatter by ``perm`` (the identity form when
    the flag is 0). Records the calls."""

    def __init__(self):
        from dirfast import _ext

        self.calls = []
        self.cpu = _ext.require("the host _C_cuda stand-in")

    def device_count(self):
        return 1

    def pav_workspace_bytes(self, rows, n, chunk=0):
        return 256

    def pav(self, dtype, mode, x, rows, n, eps, out, block_start, chunk, flag, workspace, stream,
            perm=0):
        self.calls.append("pav")
        tmp = np.empty((rows, n), dtype=dtype)
        pooled = self.cpu.pav(dtype, mode, x, rows, n, eps, tmp.ctypes.data, block_start, chunk,
                              True, 1)
        o = _host_array(out, rows * n, dtype).reshape(rows, n)
        if perm:
            np.put_along_axis(o, _host_array(perm, rows * n, "int64").reshape(rows, n), tmp, -1)
        else:
            o[...] = tmp
        _host_array(flag, 1, "float32").view(np.int32)[0] = 1 if pooled else 0

    def pav_vjp(self, dtype, mode, g, perm, block_start, rows, n, eps, out, flag, workspace,
                stream):
        self.calls.append("pav_vjp")
        gt = _host_array(g, rows * n, dtype).reshape(rows, n)
        p = _host_array(perm, rows * n, "int64").reshape(rows, n) if perm else None
        v = np.ascontiguousarray(np.take_along_axis(gt, p, -1) if mode == MODE_RANK else gt)
        if _host_array(flag, 1, "float32").view(np.int32)[0] == 0:
            m = v.copy()
        else:
            m = np.empty_like(v)
            self.cpu.pav_block_mean(dtype, v.ctypes.data, block_start, rows, n, m.ctypes.data, 1,
                                    True, 0)
        val = m if mode == MODE_SORT else (v - m) / np.dtype(dtype).type(eps)
        o = _host_array(out, rows * n, dtype).reshape(rows, n)
        if p is None:
            o[...] = val
        else:
            np.put_along_axis(o, p, val, -1)


@pytest.fixture(scope="module")
def pav_sim(tmp_path_factory):
    """The kernels of csrc/cuda/pav.cu on host threads (``_launch_stubs.build_pav_sim``)."""
    from _launch_stubs import build_pav_sim

    lib, why = build_pav_sim(tmp_path_factory.mktemp("pav_sim"))
    if lib is None:
        pytest.skip(why)
    return lib


@pytest.mark.parametrize("module", ["host", "kernels"])
@pytest.mark.parametrize("mode", [MODE_SORT, MODE_RANK], ids=["sort", "rank"])
@pytest.mark.parametrize("dtype", [F64, F32])
@pytest.mark.parametrize("regime", ["hard", "soft"])
@pytest.mark.parametrize("rows,n", [(5, 300), (1, 20_000)], ids=["5x300", "1x20000"])
def test_c_cuda_route_with_host_module(mode, dtype, regime, rows, n, module, request, monkeypatch):
    """The ``triton``/``cuda`` route through ``dirfast._C_cuda`` (one ``pav`` call forward — soft
    rank's scatter by ``perm`` folded in — and one ``pav_vjp`` call backward, nothing else) against
    the C++ ``cpu`` path: values and gradients, pooled and hard rows, one-block rows and the long-row
    decomposition. ``module``: the API emulated on the host (:class:`HostCudaPav`), or the kernels of
    csrc/cuda/pav.cu themselves run on host threads (``_launch_stubs.SimCudaPav``; launch counts
    checked: 1 + a memset per call for one-block rows)."""
    require_ext()
    import dirfast.ops.soft_sort as S
    from dirfast import _ext

    if module == "host":
        cu = HostCudaPav()
    else:
        from _launch_stubs import SimCudaPav

        cu = SimCudaPav(request.getfixturevalue("pav_sim"))
    monkeypatch.setattr(S, "_c_cuda_route", lambda t: True)
    monkeypatch.setattr(_ext, "require_cuda", lambda what: cu)
    monkeypatch.setattr(S, "_cuda_stream", lambda device: 0)
    x = make("heavy", rows, n, seed=n).to(dtype)
    eps = pick_eps(x.double(), mode, regime)
    g = torch.randn(x.shape, generator=torch.Generator().manual_seed(2), dtype=dtype)
    xa = x.clone().requires_grad_()
    got = S.EAGER[mode].apply(xa, (eps, "triton"))
    (ga,) = torch.autograd.grad(got, xa, g)
    assert cu.calls == ["pav", "pav_vjp"], cu.calls
    if module == "kernels":  # kernels launched per call (the memset is no launch here)
        assert cu.launches == ([1, 1] if n <= 16384 else [5 + 10, 3]), cu.launches
    xb = x.clone().requires_grad_()
    want = FNS[mode](xb, eps, backend="cpu")
    (gb,) = torch.autograd.grad(want, xb, g)
    rtol = 1e-12 if dtype == F64 else 2e-6
    tag = f"_C_cuda route {mode} {dtype} {regime} {rows}x{n}"
    assert_close_verbose(got.detach(), want.detach(), tag=tag, rtol=rtol, atol=rtol, scale="max")
    assert_close_verbose(ga, gb, tag=tag + " grad", rtol=rtol, atol=rtol, scale="max")
    gaps = torch.diff(torch.sort(x.double(), dim=-1).values, dim=-1)
    if not bool(((gaps >= 1 / eps) if mode == MODE_SORT else (gaps <= eps)).any()):
        # nothing pools: the hard sort and the plain permutation, or the hard ranks' zero gradient
        perm = torch.sort(x, dim=-1, stable=True).indices
        if mode == MODE_SORT:
            assert torch.equal(got.detach(), torch.sort(x, -1).values)
            assert torch.equal(ga, torch.empty_like(g).scatter_(-1, perm, g))
        else:
            assert torch.equal(ga, torch.zeros_like(g))
