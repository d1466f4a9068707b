"""RankSim: official parity (literal oracle tests/_official_ranksim.py, given the same subset), the
batched paths vs the reference, the sync-free subset rule, the blackbox backward against the
official backward replica, gradcheck of the soft-rank option, edge shapes, ties, bad input, module,
opcheck and torch.compile."""

import random

import pytest
import torch

import dirfast
from dirfast.ops import ranksim as rs_ops
from dirfast.reference.ranksim import ranksim_loss_ref
from dirfast.testing import assert_close_verbose

from _official_ranksim import official_ranksim, official_subset

F64, F32 = torch.float64, torch.float32


def batch(b, d, kind, seed=0, dtype=F64):
    """``kind="float"``: continuous labels (all distinct, no |Δy| ties); ``"repeat"``: 30 continuous
    values drawn with repetition (the subset matters, its labels have no |Δy| ties); ``"int"``:
    integer ages in [0, 30) (repeats and mirror ties y ± a); features post-ReLU plus a small jitter
    (no similarity ties)."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(b, d, generator=g, dtype=F64).relu() + 1e-3 * torch.rand(b, d, generator=g, dtype=F64)
    if kind == "float":
        y = 100 * torch.rand(b, generator=g, dtype=F64)
    elif kind == "repeat":
        y = (100 * torch.rand(30, generator=g, dtype=F64))[torch.randint(0, 30, (b,), generator=g)]
    else:
        y = torch.randint(0, 30, (b,), generator=g).to(F64)
    return z.to(dtype), y.to(dtype)


def _loss_grad(fn, z, go=None):
    x = z.clone().requires_grad_()
    out = fn(x)
    out.backward(go)
    return out.detach(), x.grad


def _official(z, y, idx, lam=2.0, rank_dtype=None):
    return _loss_grad(lambda x: official_ranksim(x, y[:, None], lam, idx, rank_dtype=rank_dtype), z)


PARITY = [(1, 4), (2, 3), (7, 5), (64, 16), (100, 33), (256, 64)]


@pytest.mark.parametrize("b,d", PARITY)
@pytest.mark.parametrize("kind", ["float", "repeat"])
@pytest.mark.parametrize("backend", ["cpu", "reference"])
@pytest.mark.parametrize("lam", [2.0, 1.0])
def test_official_parity_fp64(b, d, kind, backend, lam):
    """fp64, same subset, tie-free labels: loss and blackbox gradient within 1e-10 of the literal
    official code (its ranks kept in fp64, the only change)."""
    z, y = batch(b, d, kind, seed=b + d)
    rows, n = dirfast.ranksim_subset(y)
    idx = rows[:int(n)].tolist()
    if kind == "float":
        assert int(n) == b and idx == list(range(b))  # all distinct: batch order, as official
    want, gwant = _official(z, y, idx if kind == "repeat" else None, lam, rank_dtype=F64)
    got, ggot = _loss_grad(lambda x: dirfast.ranksim_loss(
        x, y, variant="official", interpolation_lambda=lam, backend=backend), z)
    tag = f"official b={b} {kind} {backend} lam={lam}"
    assert_close_verbose(got, want, tag=tag, rtol=1e-10, atol=1e-12)
    assert_close_verbose(ggot, gwant, tag=tag + " grad", rtol=1e-10, atol=1e-14, scale="max")


@pytest.mark.parametrize("b", [64, 256])
def test_official_parity_fp32_and_official_fp32_ranks(b):
    """fp32 features; the official code's own fp32 ranks (``.float()``) too. The seed is chosen so
    that no two *perturbed* similarities of a row tie exactly in fp32 (seed 256 at B = 256 has one
    such tie, row 205: the official unstable argsort and dirfast's index rule then order it
    differently, which moves two gradient entries by one rank step — the documented tie rule)."""
    z, y = batch(b, 32, "float", seed=1, dtype=F32)
    rows, n = dirfast.ranksim_subset(y)
    _, saved, _ = rs_ops.ranksim_fwd(z, y, rows, n, 2.0, "sum", True, "cpu")
    keys = (saved[0] + 2.0 * (saved[2] * (2.0 / b))).sort(1).values
    assert not (keys[:, 1:] == keys[:, :-1]).any()  # the precondition of exact parity
    want, gwant = _official(z, y, None)
    got, ggot = _loss_grad(lambda x: dirfast.ranksim_loss(x, y, variant="official"), z)
    assert_close_verbose(got, want, tag="fp32", rtol=1e-5)
    assert_close_verbose(ggot, gwant, tag="fp32 grad", rtol=1e-5, scale="max")
    z64 = z.double()
    want32, _ = _official(z64, y.double(), None)  # fp64 features, official fp32 ranks
    got64, _ = _loss_grad(lambda x: dirfast.ranksim_loss(x, y.double(), variant="official"), z64)
    assert_close_verbose(got64, want32.double(), tag="fp32 ranks", rtol=1e-6)


def test_official_random_subset_is_one_row_per_label():
    """The official selection (Python random) and dirfast's pick the same labels, one row each; with
    the official's indices the two losses agree."""
    z, y = batch(80, 8, "repeat", seed=5)
    random.seed(0)
    idx = official_subset(y[:, None])
    rows, n = dirfast.ranksim_subset(y)
    assert torch.equal(y[idx], y[rows[:int(n)]])  # same labels, same (ascending) order
    want, _ = _official(z, y, idx, rank_dtype=F64)
    # dirfast on the batch restricted to the official rows gives the official loss
    got = dirfast.ranksim_loss(z[idx], y[idx], variant="official")
    assert_close_verbose(got, want, tag="official subset", rtol=1e-10)


REF_KW = [dict(), dict(variant="official"), dict(reduction="sum"), dict(reduction="none"),
          dict(max_unique=7), dict(max_unique=12, reduction="none", variant="official"),
          dict(subsample="none"), dict(interpolation_lambda=0.5),
          dict(rank="soft"), dict(rank="soft", variant="official", max_unique=9),
          dict(rank="soft", regularization_strength=0.2, reduction="none")]


@pytest.mark.parametrize("kw", REF_KW, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "default")
@pytest.mark.parametrize("kind", ["float", "int"])
@pytest.mark.parametrize("dtype", [F64, F32])
def test_batched_matches_reference(kw, kind, dtype):
    z, y = batch(45, 6, kind, seed=11, dtype=dtype)
    go = None
    res = []
    for backend in ("cpu", "reference"):
        x = z.clone().requires_grad_()
        out = dirfast.ranksim_loss(x, y, backend=backend, **kw)
        if go is None:
            go = torch.rand(out.shape, generator=torch.Generator().manual_seed(1), dtype=dtype) + 0.5
        out.backward(go)
        res.append((out.detach(), x.grad))
    tag = f"{kw} {kind} {dtype}"
    assert res[0][0].dtype == dtype and res[0][1].dtype == dtype
    assert_close_verbose(res[0][0], res[1][0], tag=tag, atol=1e-12 if dtype == F64 else 1e-6)
    assert_close_verbose(res[0][1], res[1][1], tag=tag + " grad", atol=1e-14 if dtype == F64 else 1e-7,
                         scale="max")


def test_torch_sort_path_matches_packed_numpy_path(route):
    """The two sort engines (packed int64 + NumPy on 'cpu', torch.sort on 'cpu_torch' / CUDA) give
    the same ranks, ties and ±0 included."""
    g = torch.Generator().manual_seed(0)
    for k in (1, 5, 40, 300):
        x = torch.randn(2 * k, k, generator=g)
        x[:, : k // 3] = x[:, k // 3: 2 * (k // 3)]  # ties
        x[0, 0], x[-1, -1] = -0.0, 0.0
        x[1, : k // 2] = -torch.inf
        n = torch.tensor(float(max(k, 1)))
        assert torch.equal(rs_ops._ranks(x, n, "cpu"), rs_ops._ranks(x, n, "cpu_torch"))
    # the C++ passes of 'cpu' sum the loss and the normalisation backward's projection in fp64
    # (torch: fp32 cascade sums), so loss and gradient agree to rounding, not bit for bit; the
    # ranks (hence which entries tie and where the blackbox gradient jumps) are identical
    for dtype, tol in ((F32, 2e-7), (F64, 1e-15)):
        z, y = batch(50, 5, "int", seed=2, dtype=dtype)
        a = _loss_grad(lambda x: dirfast.ranksim_loss(x, y, backend="cpu"), z)
        b = _loss_grad(lambda x: dirfast.ranksim_loss(x, y, backend=route("cpu_torch")), z)
        assert_close_verbose(a[0], b[0], tag=f"loss {dtype}", atol=0, rtol=tol)
        assert_close_verbose(a[1], b[1], tag=f"grad {dtype}", rtol=tol, scale="max")


def test_cpp_radix_row_sort_matches_numpy(route):
    """Rows longer than RADIX_MIN are sorted by the C++ radix sort: the same order as NumPy's sort
    of the packed keys (ties by column, ±0, ±inf, NaN)."""
    import numpy as np

    route("cpu")
    from dirfast import _ext

    C = _ext.require("test")
    g = torch.Generator().manual_seed(3)
    for k in (rs_ops.RADIX_MIN + 1, 700):
        x = torch.randn(6, k, generator=g)
        x[:, : k // 3] = x[:, k // 3: 2 * (k // 3)]  # ties
        x[0, :5] = torch.tensor([-0.0, 0.0, float("inf"), -float("inf"), float("nan")])
        x[1] = 0.25  # one key: every radix pass skipped
        keys = torch.empty(6, k, dtype=torch.int64)
        n = torch.tensor(k)
        # forward keys of a [K, K] "similarity" with the mask off (include_self, n = K)
        s = torch.randn(k, k, generator=g)
        s[:6] = x
        lab = torch.randn(k, generator=g)
        rows = torch.arange(k)
        keys = torch.empty(2 * k, k, dtype=torch.int64)
        C.ranksim_keys("float32", 0, s.data_ptr(), lab.data_ptr(), rows.data_ptr(), n.data_ptr(), 0,
                       0, 1, k, True, 2.0, keys.data_ptr())
        want = np.sort(keys.numpy(), axis=1)
        got = keys.numpy().copy()
        C.ranksim_sort_rows(got.ctypes.data, got.shape[0], got.shape[1])
        assert (got == want).all()
        # and the ranks equal torch.sort(stable=True)'s (NaN last, -0.0 == +0.0)
        perm = torch.from_numpy(got[:6] & 0xFFFFFFFF)
        assert torch.equal(perm, torch.sort(x, dim=1, stable=True).indices)


@pytest.mark.parametrize("dtype", [F32, F64])
def test_cpu_matches_cpu_torch_on_long_rows(dtype, route):
    """K = 300 > RADIX_MIN (the radix sort for fp32), with tied feature rows."""
    z, y = batch(300, 6, "float", seed=4, dtype=dtype)
    z[10] = z[11]
    tol = 2e-7 if dtype == F32 else 1e-13
    a = _loss_grad(lambda x: dirfast.ranksim_loss(x, y, backend=route("cpu")), z)
    b = _loss_grad(lambda x: dirfast.ranksim_loss(x, y, backend=route("cpu_torch")), z)
    assert_close_verbose(a[0], b[0], tag="loss", atol=0, rtol=tol)
    assert_close_verbose(a[1], b[1], tag="grad", rtol=tol, scale="max")


# ------------------------------------------------------------------------------------------------
# subset rule


def test_subset_rule():
    y = torch.tensor([3.0, 1.0, 3.0, 2.0, 1.0, 5.0])
    rows, n = dirfast.ranksim_subset(y)
    assert rows.dtype == torch.int64 and rows.shape == (6,) and n.dim() == 0 and int(n) == 4
    assert rows[:4].tolist() == [1, 3, 0, 5]  # ascending labels, first occurrence (lowest index)
    assert sorted(rows.tolist()) == list(range(6))  # padding: the other rows, each once
    # all distinct: batch order
    rows, n = dirfast.ranksim_subset(torch.tensor([0.5, -1.0, 2.0]))
    assert rows.tolist() == [0, 1, 2] and int(n) == 3
    rows, n = dirfast.ranksim_subset(y, subsample="none")
    assert rows.tolist() == list(range(6)) and int(n) == 6
    # max_unique: the representatives of smallest priority (row index), then label order
    rows, n = dirfast.ranksim_subset(y, max_unique=2)
    assert rows.shape == (2,) and int(n) == 2 and rows.tolist() == [1, 0]
    rows, n = dirfast.ranksim_subset(y, max_unique=10)  # K = min(max_unique, B)
    assert rows.shape == (6,) and int(n) == 4
    # -0.0 == 0.0; all equal; batch 1
    assert int(dirfast.ranksim_subset(torch.tensor([0.0, -0.0, 1.0]))[1]) == 2
    rows, n = dirfast.ranksim_subset(torch.full((5,), 7.0))
    assert int(n) == 1 and int(rows[0]) == 0
    rows, n = dirfast.ranksim_subset(torch.tensor([4.0]))
    assert rows.tolist() == [0] and int(n) == 1


def test_cpp_subset_equals_torch_subset(route):
    """``backend="cpu"`` picks the subset in C++ (``dirfast._C.ranksim_subset``): the same rows and
    count as the PyTorch rule — repeats, NaN (each its own label), ±0 (one label), ``max_unique``
    below and above the number of distinct labels, with and without a generator."""
    from dirfast.ranksim import _subset

    route("cpu")
    g = torch.Generator().manual_seed(5)
    for trial in range(60):
        b = int(torch.randint(1, 200, (), generator=g))
        dtype = (F32, F64)[trial % 2]
        y = torch.randint(0, [5, 40, 1000][trial % 3], (b,), generator=g).to(dtype)
        if trial % 4 == 0:
            y[torch.rand(b, generator=g) < 0.1] = float("nan")
            y[torch.rand(b, generator=g) < 0.1] = -0.0
            y[torch.rand(b, generator=g) < 0.1] = 0.0
        for mu in (None, 1, 7, 64):
            for seed in (None, trial):
                g1 = None if seed is None else torch.Generator().manual_seed(seed)
                g2 = None if seed is None else torch.Generator().manual_seed(seed)
                a = _subset(y, "unique_labels", mu, g1)
                c = _subset(y, "unique_labels", mu, g2, ext=True)
                assert torch.equal(a[0], c[0]) and torch.equal(a[1], c[1]), (trial, b, mu, seed)


def test_cpu_backend_without_extension_says_how(monkeypatch):
    import sys

    z, y = batch(8, 3, "int", dtype=F32)
    want = dirfast.ranksim_loss(z, y)
    monkeypatch.setitem(sys.modules, "dirfast._C", None)
    with pytest.raises(RuntimeError, match="pip install"):
        dirfast.ranksim_loss(z, y, backend="cpu")
    assert_close_verbose(dirfast.ranksim_loss(z, y), want, tag="auto without _C", rtol=2e-7)


def test_subset_generator_seeded_and_uniform():
    y = torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0])
    picks = set()
    for seed in range(40):
        r1, n1 = dirfast.ranksim_subset(y, generator=torch.Generator().manual_seed(seed))
        r2, n2 = dirfast.ranksim_subset(y, generator=torch.Generator().manual_seed(seed))
        assert torch.equal(r1, r2) and int(n1) == int(n2) == 2
        assert y[r1[0]] == 0 and y[r1[1]] == 1
        picks.add(int(r1[0]))
    assert picks == {0, 1, 2}  # every row of label 0 gets picked
    # loss with a generator is reproducible
    z, yy = batch(40, 4, "int", seed=1)
    a = dirfast.ranksim_loss(z, yy, generator=torch.Generator().manual_seed(3))
    b = dirfast.ranksim_loss(z, yy, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_max_unique_exact_when_enough():
    """max_unique ≥ the number of distinct labels: the same loss and gradient as K = B."""
    z, y = batch(120, 8, "int", seed=4)
    n_unique = int(torch.unique(y).numel())
    full = _loss_grad(lambda x: dirfast.ranksim_loss(x, y), z)
    for mu in (n_unique, n_unique + 5, 128):
        got = _loss_grad(lambda x: dirfast.ranksim_loss(x, y, max_unique=mu), z)
        assert_close_verbose(got[0], full[0], tag=f"mu={mu}")
        assert_close_verbose(got[1], full[1], tag=f"mu={mu} grad", scale="max")


# ------------------------------------------------------------------------------------------------
# gradients


def test_blackbox_backward_matches_official_replica_with_weight():
    """The blackbox gradient is not the true gradient: it depends on the incoming gradient (γ). The
    official backward replica under the same γ and λ is the oracle (γ = 100, the AgeDB recipe)."""
    z, y = batch(60, 10, "float", seed=9)
    for gamma in (1.0, 100.0):
        _, gwant = _loss_grad(lambda x: gamma * official_ranksim(x, y[:, None], 2.0, None, rank_dtype=F64), z)
        _, ggot = _loss_grad(lambda x: gamma * dirfast.ranksim_loss(x, y, variant="official"), z)
        assert_close_verbose(ggot, gwant, tag=f"gamma={gamma}", rtol=1e-10, scale="max")


@pytest.mark.parametrize("variant", ["default", "official"])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_soft_rank_gradcheck(variant, reduction):
    # continuous labels, random directions: large eps keeps every row away from PAV block changes
    z, y = batch(9, 4, "float", seed=3)
    z = torch.randn(9, 4, generator=torch.Generator().manual_seed(3), dtype=F64).requires_grad_()
    fn = lambda x: dirfast.ranksim_loss(x, y, rank="soft", regularization_strength=3.0,  # noqa: E731
                                        variant=variant, reduction=reduction)
    torch.autograd.gradcheck(fn, (z,))
    torch.autograd.gradcheck(lambda x: dirfast.ranksim_loss(x, y, rank="soft", regularization_strength=3.0,
                                                            variant=variant, reduction=reduction,
                                                            backend="reference"), (z,))


def test_gradient_only_on_subset_rows_and_labels_get_none():
    z, y = batch(30, 5, "int", seed=6)
    yl = y.clone().requires_grad_()
    x = z.clone().requires_grad_()
    dirfast.ranksim_loss(x, yl).backward()
    assert yl.grad is None
    rows, n = dirfast.ranksim_subset(y)
    outside = torch.ones(30, dtype=torch.bool)
    outside[rows[:int(n)]] = False
    assert (x.grad[outside] == 0).all() and x.grad[~outside].abs().sum() > 0


def test_double_backward_gives_graph():
    z, y = batch(20, 4, "float", seed=1)
    x = z.clone().requires_grad_()
    g, = torch.autograd.grad(dirfast.ranksim_loss(x, y), x, create_graph=True)
    assert g.requires_grad
    g1 = torch.autograd.grad(dirfast.ranksim_loss(x, y), x)[0]
    assert_close_verbose(g.detach(), g1, tag="create_graph first order", scale="max")
    (g * g).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


# ------------------------------------------------------------------------------------------------
# shapes, ties, degenerate batches


@pytest.mark.parametrize("variant", ["default", "official"])
@pytest.mark.parametrize("rank", ["blackbox", "soft"])
def test_degenerate_batches(variant, rank):
    kw = dict(variant=variant, rank=rank)
    # batch 1 and all labels equal: one row, nothing to rank -> exactly 0 with a zero gradient
    for z, y in ((torch.randn(1, 3, dtype=F64), torch.tensor([2.0], dtype=F64)),
                 (torch.randn(6, 3, dtype=F64), torch.full((6,), 4.0, dtype=F64))):
        out, grad = _loss_grad(lambda x: dirfast.ranksim_loss(x, y, **kw), z)
        assert out.item() == 0.0 and (grad == 0).all()
    # batch 2: official includes the diagonal (ranks 1/2, 1 in both) -> 0; default: 1 column -> 0
    out, grad = _loss_grad(lambda x: dirfast.ranksim_loss(x, torch.tensor([0.0, 1.0], dtype=F64), **kw),
                           torch.randn(2, 3, dtype=F64))
    assert out.item() == 0.0 and torch.isfinite(grad).all()


def test_ties_rule_documented():
    """Ties: the later column ranks first (what argsort(argsort(v).flip(1)) gives with a stable sort)."""
    from dirfast.reference.ranksim import rank_desc_ref

    v = torch.tensor([[1.0, 3.0, 3.0, 0.0]])
    assert rank_desc_ref(v).tolist() == [[3 / 4, 2 / 4, 1 / 4, 4 / 4]]
    assert torch.equal(rs_ops._ranks(v, torch.tensor(4.0), "cpu"), rank_desc_ref(v))
    # the same as the official expression with a stable argsort
    r = torch.argsort(torch.argsort(v, stable=True).flip(1), stable=True)
    assert ((r + 1).float() / 4).tolist() == rank_desc_ref(v).tolist()


def test_features_nd_and_non_contiguous():
    z, y = batch(33, 12, "float", seed=8)
    z4 = z.reshape(33, 3, 2, 2)
    a = dirfast.ranksim_loss(z4, y)
    b = dirfast.ranksim_loss(z, y[:, None])
    assert_close_verbose(a, b, tag="[B,C,H,W] = flattened")
    zt = z.t().contiguous().t()
    assert_close_verbose(dirfast.ranksim_loss(zt, y), b, tag="non-contiguous")


def test_inputs_not_modified_and_module():
    z, y = batch(40, 6, "int", seed=2, dtype=F32)
    z0, y0 = z.clone(), y.clone()
    mod = dirfast.nn.RankSimLoss(variant="official", max_unique=32)
    x = z.clone().requires_grad_()
    out = mod(x, y)
    out.backward()
    assert torch.equal(x.detach(), z0) and torch.equal(y, y0)
    assert_close_verbose(out, dirfast.ranksim_loss(z, y, variant="official", max_unique=32), tag="module")
    assert "max_unique=32" in repr(mod)
    assert dirfast.functional.ranksim_loss is dirfast.ranksim_loss


def test_low_precision_features():
    """fp16/bf16 features are computed in fp32: the same loss as the reference on the same rounded
    inputs (bf16 rounds cosines to ~4e-3, so ranks differ from fp64 features; that is the input's
    precision, not the op's), gradients in the input dtype and finite."""
    z, y = batch(64, 16, "float", seed=3)
    for dt in (torch.float16, torch.bfloat16):
        zl = z.to(dt)
        out, grad = _loss_grad(lambda x: dirfast.ranksim_loss(x, y.to(dt), variant="official"), zl)
        want = dirfast.ranksim_loss(zl.float(), y.to(dt).float(), variant="official", backend="reference")
        assert out.dtype == dt and grad.dtype == dt and torch.isfinite(grad).all()
        assert_close_verbose(out.float(), want, tag=f"{dt} loss", rtol=1e-2)


# ------------------------------------------------------------------------------------------------
# bad input, compile


def test_bad_input():
    z, y = torch.randn(4, 3), torch.rand(4)
    cases = [
        (dict(features=[1.0], labels=y), TypeError, "features must be a torch.Tensor"),
        (dict(features=torch.ones(4, 3, dtype=torch.int64), labels=y), TypeError, "features must be a floating"),
        (dict(features=torch.randn(4), labels=y), ValueError, r"features must have shape \[B, D"),
        (dict(features=torch.randn(0, 3), labels=torch.rand(0)), ValueError, "B >= 1"),
        (dict(features=torch.randn(4, 0), labels=y), ValueError, "D >= 1"),
        (dict(features=z, labels=torch.rand(5)), ValueError, r"labels must have shape \[B\] or \[B, 1\] with B = 4"),
        (dict(features=z, labels=torch.rand(4, 2)), ValueError, "multi-dimensional labels are not supported"),
        (dict(features=z, labels=torch.arange(4)), TypeError, "labels must be a floating"),
        (dict(features=z, labels=y, interpolation_lambda=0.0), ValueError, "interpolation_lambda must be > 0"),
        (dict(features=z, labels=y, interpolation_lambda="2"), TypeError, "interpolation_lambda must be a real"),
        (dict(features=z, labels=y, subsample="unique"), ValueError, "subsample must be one of"),
        (dict(features=z, labels=y, reduction="avg"), ValueError, "reduction must be one of"),
        (dict(features=z, labels=y, rank="hard"), ValueError, "rank must be one of"),
        (dict(features=z, labels=y, variant="paper"), ValueError, "variant must be one of"),
        (dict(features=z, labels=y, max_unique=0), ValueError, "max_unique must be None or an int >= 1, got 0"),
        (dict(features=z, labels=y, max_unique=2.5), ValueError, "max_unique must be None or an int"),
        (dict(features=z, labels=y, max_unique=3, subsample="none"), ValueError, "needs subsample='unique_labels'"),
        (dict(features=z, labels=y, regularization_strength=-1.0), ValueError, "regularization_strength must be > 0"),
        (dict(features=z, labels=y, generator=0), TypeError, "generator must be None or a torch.Generator"),
        (dict(features=z, labels=y, backend="gpu"), ValueError, "backend must be one of"),
        (dict(features=z, labels=torch.tensor([1.0, float("nan"), 0.0, 2.0]), validate=True), ValueError,
         "labels contains NaN/inf"),
        (dict(features=torch.full((4, 3), float("inf")), labels=y, validate=True), ValueError,
         "features contains NaN/inf"),
    ]
    if not dirfast._backend.TRITON_INTERPRET:
        # the Triton kernels (dirfast/kernels/ranksim.py) run on CPU tensors only in the interpreter
        cases.append((dict(features=z, labels=y, backend="triton"), RuntimeError,
                      "needs the Triton interpreter"))
    for kw, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            dirfast.ranksim_loss(**kw)
    with pytest.raises(ValueError, match="max_unique"):
        dirfast.nn.RankSimLoss(max_unique=-1)
    with pytest.raises(ValueError, match="labels must have shape"):
        dirfast.ranksim_subset(torch.rand(3, 2))


def test_opcheck():
    z, y = batch(12, 4, "int", seed=0, dtype=F32)
    rows, n = dirfast.ranksim_subset(y, max_unique=8)
    for reduction, inc in (("sum", True), ("mean", False), ("none", False)):
        torch.library.opcheck(rs_ops.ranksim_op, (z.clone().requires_grad_(), y, rows, n, 2.0, reduction,
                                                  inc, "cpu"))


@pytest.mark.parametrize("rank", ["blackbox", "soft"])
def test_compile_fullgraph(rank):
    z, y = batch(40, 6, "int", seed=3, dtype=F32)

    def step(x, yy):
        return dirfast.ranksim_loss(x, yy, rank=rank, max_unique=32, variant="official", validate=False)

    compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
    want, gwant = _loss_grad(lambda x: step(x, y), z)
    got, ggot = _loss_grad(lambda x: compiled(x, y), z)
    assert_close_verbose(got, want, tag=f"compiled {rank}")
    assert_close_verbose(ggot, gwant, tag=f"compiled {rank} grad", scale="max")
