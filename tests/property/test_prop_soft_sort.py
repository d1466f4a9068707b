"""Properties of ``soft_sort`` / ``soft_rank`` (and ``nn.SoftSort`` / ``nn.SoftRank``) against the
fp64 references on both CPU paths.

Every path sorts stably (the documented tie rule), so values *and* gradients are compared at ties
too; gradients are compared in full only away from the PAV merge boundaries (the reference's blocks
are the same at ``eps·(1 ± 1e-4)``), otherwise on their row sums (soft sort: ``Σ g``, soft rank: 0).
"""

import numpy as np
import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st

import dirfast
from dirfast.reference.soft_sort import MODE_RANK, MODE_SORT, pav_blocks, soft_rank_ref, soft_sort_ref

from _strategies import (F32, F64, LOW, assert_bitwise, assert_unchanged, budget, check_close, cotangent,
                         check_double_backward, dtypes, grad_of, on_path, paths, raises_naming, seeds,
                         sizes, snapshot, values)

pytestmark = pytest.mark.property

EPS = (1.0, 0.1, 0.01, 1e-3, 10.0, 1e3)
FNS = {"sort": dirfast.soft_sort, "rank": dirfast.soft_rank}
REFS = {"sort": soft_sort_ref, "rank": soft_rank_ref}
MODES = {"sort": MODE_SORT, "rank": MODE_RANK}


@st.composite
def sort_cases(draw, max_n=300, low=True):
    mode = draw(st.sampled_from(("sort", "rank")))
    dtype = draw(dtypes(low))
    n = draw(sizes(max_n, min_size=1, large=(2053, 5003) if max_n >= 300 else ()))
    shape = draw(st.sampled_from(("1d", "rows", "column", "cols")))
    rows = 1 if shape in ("1d", "column") else draw(st.sampled_from((1, 2, 3, 7)))
    if shape == "rows" and n == 1:
        rows = 1  # [rows, 1] with dim=-1 raises (torchsort's silent no-op; test_bad_input_raises)
    g = torch.Generator().manual_seed(draw(seeds))
    kind = draw(st.sampled_from(("normal", "ties", "pool", "huge", "tiny", "mixed", "offset", "equal")))
    if kind == "pool":  # heavy tails (t3): far values pool
        r = torch.randn(rows * n, generator=g, dtype=F64)
        chi = torch.randn(rows * n, 3, generator=g, dtype=F64).pow(2).sum(1).div(3).sqrt()
        v = (45 + 15 * r / chi).to(dtype).to(F64)
    elif kind == "equal":
        v = torch.full((rows * n,), 2.5, dtype=F64)
    else:
        v = values(g, rows * n, kind, dtype)
    x = v.to(dtype).reshape(rows, n)
    layout = draw(st.sampled_from(("contiguous", "transposed", "sliced")))
    if layout == "transposed":
        x = x.t().contiguous().t()
    elif layout == "sliced":
        buf = torch.zeros(rows, 2 * n, dtype=dtype)
        buf[:, ::2] = x
        x = buf[:, ::2]
    if shape == "1d":
        x, dim = x[0], -1
    elif shape == "column":
        x, dim = x.t(), 0  # [n, 1] sorted with dim=0
    elif shape == "cols":
        x, dim = x.t(), 0  # [n, rows], columns sorted
    else:
        dim = draw(st.sampled_from((-1, 1)))
    return dict(mode=mode, x=x, eps=draw(st.sampled_from(EPS)), dim=dim)


def _rows(x, dim):
    """[rows, n] view of x along dim."""
    if x.dim() == 1:
        return x[None]
    return x.t() if dim in (0, -2) else x


def _ref(case, x):
    rows = _rows(x, case["dim"])
    out = REFS[case["mode"]](rows, case["eps"])
    if x.dim() == 1:
        return out[0]
    return out.t() if case["dim"] in (0, -2) else out


def _near_boundary(case):
    """True where a PAV merge decision of some row changes within eps·(1 ± 1e-4)."""
    rows = _rows(case["x"], case["dim"]).detach().to(F64)
    for r in rows:
        xs = np.sort(r.numpy(), kind="stable")
        a = pav_blocks(xs.tolist(), case["eps"] * (1 - 1e-4), MODES[case["mode"]])
        b = pav_blocks(xs.tolist(), case["eps"] * (1 + 1e-4), MODES[case["mode"]])
        if not np.array_equal(a, b):
            return True
    return False


# double backward when a row pools: see test_double_backward
@budget(120)
@given(case=sort_cases(), path=paths)
def test_matches_reference(case, path):
    """Values (shape and dtype of x) and the VJP = fp64 reference; fp16/bf16 within 2× the error of
    the same-precision reference."""
    x, dtype = case["x"], case["x"].dtype
    fn = FNS[case["mode"]]
    with on_path(path) as backend:
        out, (gx,) = grad_of(lambda t: fn(t, case["eps"], case["dim"], backend=backend), x)
    ref, (gr,) = grad_of(lambda t: _ref(case, t), x.to(F64))
    assert out.shape == x.shape and out.dtype == dtype
    base = gbase = None
    if dtype in LOW:
        base, (gbase,) = grad_of(lambda t: _ref(case, t), x)
    check_close(out, ref, tag="value", scale="max", baseline=base)
    # row sums of the gradient: soft sort Σ v (shift equivariance), soft rank 0 (shift invariance)
    v = cotangent(out).to(F64)
    want = _rows(v, case["dim"]).sum(1) if case["mode"] == "sort" else torch.zeros(_rows(v, case["dim"]).shape[0], dtype=F64)
    got = _rows(gx.to(F64), case["dim"]).sum(1)
    scale = gr.abs().max().item() * _rows(v, case["dim"]).shape[1]
    tol = {F64: 1e-10, F32: 1e-5}.get(dtype, 2e-2) * max(scale, 1.0)
    assert bool(((got - want).abs() <= tol).all()), f"gradient row sums {got.tolist()} != {want.tolist()}"
    if dtype not in LOW and _near_boundary(case):
        return
    if dtype in LOW and _near_boundary(dict(case, x=x.to(F64))):
        return
    check_close(gx, gr, tag="grad", scale="max", baseline=gbase)


@budget(60)
@given(case=sort_cases(max_n=100), path=paths)
def test_module_no_mutation_deterministic(case, path):
    """nn.SoftSort/SoftRank = functional bit for bit, ``regularization_strength`` = ``eps``; two calls
    bit-identical; x never modified."""
    x = case["x"]
    snap = snapshot(x)
    mod_cls = dirfast.nn.SoftSort if case["mode"] == "sort" else dirfast.nn.SoftRank
    fn = FNS[case["mode"]]
    with on_path(path) as backend:
        runs = [grad_of(lambda t: fn(t, case["eps"], case["dim"], backend=backend), x) for _ in range(2)]
        runs.append(grad_of(lambda t: mod_cls(case["eps"], case["dim"], backend=backend)(t), x))
        runs.append(grad_of(lambda t: fn(t, dim=case["dim"], regularization_strength=case["eps"],
                                         backend=backend), x))
    assert_unchanged(snap)
    for i in (1, 2, 3):
        assert_bitwise(runs[0], runs[i], f"run {i}")


_POOLED = torch.tensor([[0.0, 0.1, 5.0, 5.2]], dtype=F64)  # eps = 1: the first two pool


@st.composite
def tiny_sort(draw):
    g = torch.Generator().manual_seed(draw(seeds))
    n = draw(st.integers(2, 6))
    x = torch.randn(draw(st.integers(1, 2)), n, generator=g, dtype=F64) * draw(st.sampled_from((0.1, 1.0, 5.0)))
    return dict(mode=draw(st.sampled_from(("sort", "rank"))), x=x, eps=draw(st.sampled_from((0.3, 1.0, 3.0))), dim=-1)


@budget(30)
@given(case=tiny_sort(), path=paths)
@example(case=dict(mode="sort", x=_POOLED, eps=1.0, dim=-1), path="cpu")
@example(case=dict(mode="sort", x=_POOLED, eps=1.0, dim=-1), path="cpu_torch")
@example(case=dict(mode="rank", x=_POOLED, eps=1.0, dim=-1), path="cpu")
def test_double_backward(case, path):
    """soft_sort's gradient lacked a graph when a row pools."""
    if _near_boundary(case):
        return
    fn = FNS[case["mode"]]
    with on_path(path) as backend:
        check_double_backward(lambda t: fn(t, case["eps"], case["dim"], backend=backend),
                              [case["x"].clone().requires_grad_(True)], tag=f"soft_{case['mode']}",
                              ref=lambda t: _ref(case, t))


BAD = [
    ("dim", lambda x: dict(x=x.reshape(-1, 1) if x.numel() > 1 else torch.zeros(3, 1), dim=-1)),
    ("dim", lambda x: dict(dim=2)),
    ("dim", lambda x: dict(dim=0.0)),
    ("x", lambda x: dict(x=x.reshape(1, 1, -1))),
    ("x", lambda x: dict(x=x[:0])),
    ("x", lambda x: dict(x=x.to(torch.int64))),
    ("x", lambda x: dict(x=x.tolist())),
    ("x", lambda x: dict(x=torch.full_like(x, float("nan")), validate=True)),
    ("eps", lambda x: dict(eps=0.0)),
    ("eps", lambda x: dict(eps=-1.0)),
    ("eps", lambda x: dict(eps=float("inf"))),
    ("eps", lambda x: dict(eps="1")),
    ("regularization_strength", lambda x: dict(eps=1.0, regularization_strength=2.0)),
    ("regularization_strength", lambda x: dict(eps=None, regularization_strength=-2.0)),
    ("regularization", lambda x: dict(regularization="kl")),
    ("backend", lambda x: dict(backend="npu")),
]


@budget(75)
@given(case=sort_cases(max_n=12, low=False), bad=st.sampled_from(BAD))
def test_bad_input_raises(case, bad):
    name, mutate = bad
    x = case["x"].detach()
    if x.dim() == 2 and case["dim"] == 0:
        x = x.reshape(-1)  # one row: valid with the default dim
    kw = dict(x=x, eps=case["eps"])
    kw.update(mutate(x))
    for fn in FNS.values():
        k = dict(kw)
        raises_naming(lambda: fn(k.pop("x"), **k), name)
