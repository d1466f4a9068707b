"""Properties of ``dist_loss``, ``pseudo_labels`` and ``nn.DistLoss`` against the fp64 references on
both CPU paths. Gradients (w.r.t. preds) are compared away from the kinks: an L1-type distance at
``d = 0`` and a PAV merge decision within ``eps·(1 ± 1e-4)``."""

import numpy as np
import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st

import dirfast
from dirfast.reference import dist_loss_ref, pseudo_labels_ref
from dirfast.reference.dist_loss import DEFAULT_BETA, soft_sort_sorted_ref
from dirfast.reference.soft_sort import MODE_SORT, pav_blocks

from _strategies import (F32, F64, LOW, assert_bitwise, assert_unchanged, budget, check_close,
                         check_double_backward, dtypes, grad_of, on_path, paths, raises_naming, seeds,
                         sizes, snapshot, values, vector)

pytestmark = pytest.mark.property

LOSSES = ("l1", "l2", "huber", "focal_l1")
EPS = (0.1, 1.0, 0.01, 1e-3, 10.0, 1e3)


def _train(g, kind="ages"):
    if kind == "ages":
        return (45 + 15 * torch.randn(200, generator=g, dtype=F64)).round().clamp(0, 120)
    return torch.tensor([10.0, 11.0, 30.0] * 3)  # few distinct values


@st.composite
def dist_cases(draw, max_n=300, low=True):
    n = draw(sizes(max_n, min_size=1, large=(2053,) if max_n >= 300 else ()))
    dtype = draw(dtypes(low))
    g = torch.Generator().manual_seed(draw(seeds))
    kind = draw(st.sampled_from(("ages", "ties", "pool", "normal", "equal_q", "huge")))
    qsrc = draw(st.sampled_from(("kde", "sorted", "ties")))
    if qsrc == "kde":
        q = dirfast.pseudo_labels(_train(g, draw(st.sampled_from(("ages", "few")))), n)
    elif qsrc == "sorted":
        q = (45 + 15 * torch.randn(n, generator=g, dtype=F64)).sort().values
    else:
        q = torch.randint(40, 43, (n,), generator=g).to(F64).sort().values
    q = q.to(draw(st.sampled_from((F64, F32))))
    if kind == "ages":
        p = (45 + 15 * torch.randn(n, generator=g, dtype=F64))
    elif kind == "ties":
        p = torch.randint(40, 44, (n,), generator=g).to(F64)
    elif kind == "pool":
        chi = torch.randn(n, 3, generator=g, dtype=F64).pow(2).sum(1).div(3).sqrt()
        p = 45 + 15 * torch.randn(n, generator=g, dtype=F64) / chi
    elif kind == "equal_q":
        p = q.to(F64)[torch.randperm(n, generator=g)]
    elif kind == "huge":
        p = values(g, n, "huge", dtype) if dtype not in LOW else 45 + 15 * torch.randn(n, generator=g, dtype=F64)
    else:
        p = torch.randn(n, generator=g, dtype=F64)
    t = (45 + 15 * torch.randn(n, generator=g, dtype=F64)).round()
    if draw(st.booleans()):
        t = torch.where(torch.rand(n, generator=g) < 0.3, p.to(dtype).to(F64), t)  # e = 0 samples
    column = draw(st.booleans())
    lay = draw(st.sampled_from(("contiguous", "sliced", "column_sliced")))
    w = None
    if draw(st.booleans()):
        w = vector(torch.rand(n, generator=g, dtype=F64) * 3, dtype, lay, column=column)
    loss = draw(st.sampled_from(LOSSES))
    kw = dict(loss=loss, lam=draw(st.sampled_from((1.0, 0.0, 0.5, 3.0))), eps=draw(st.sampled_from(EPS)),
              dist_weighting=draw(st.sampled_from((None, "by_rank", "official", "none"))),
              reduction=draw(st.sampled_from(("mean", "sum", "none"))),
              variant=draw(st.sampled_from(("default", "default", "official"))))
    if loss in ("huber", "focal_l1") and draw(st.booleans()):
        kw["beta"] = draw(st.sampled_from((0.5, 2.0)))
    if loss == "focal_l1" and draw(st.booleans()):
        kw["gamma"] = 2.0
    return dict(preds=vector(p, dtype, lay, column=column), targets=vector(t, dtype, lay, column=column),
                q=q, weights=w, kw=kw)


def _ref_kw(kw):
    k = dict(kw)
    v = k.pop("variant")
    if k["dist_weighting"] is None:
        k["dist_weighting"] = "official" if v == "official" else "by_rank"
    return k


def _oracle(case, p):
    """fp64 reference on what the fast path computes with: pseudo-labels and weights rounded to the
    arithmetic dtype (fp32 for fp16/bf16/fp32 preds, fp64 for fp64 or the official variant)."""
    acc = F64 if (case["preds"].dtype == F64 or case["kw"]["variant"] == "official") else F32
    pdt = F64 if case["kw"]["variant"] == "official" else case["preds"].dtype
    q = case["q"].to(acc).to(F64)
    w = None if case["weights"] is None else case["weights"].detach().to(pdt).to(F64)
    return dist_loss_ref(p, case["targets"].detach().to(F64), q, w, **_ref_kw(case["kw"]))


def _near_kink(case):
    p = case["preds"].detach().to(F64).reshape(-1)
    x = p.sort(stable=True).values
    eps = case["kw"]["eps"]
    a = pav_blocks(x.tolist(), eps * (1 - 1e-4), MODE_SORT)
    b = pav_blocks(x.tolist(), eps * (1 + 1e-4), MODE_SORT)
    if not np.array_equal(a, b):
        return True
    if case["kw"]["loss"] in ("l1", "focal_l1", "huber"):
        scale = 1e-6 * (1 + p.abs().max().item() + case["q"].abs().max().item())
        d1 = soft_sort_sorted_ref(x, eps) - case["q"].to(F64).reshape(-1)
        d2 = p - case["targets"].detach().to(F64).reshape(-1)
        beta = case["kw"].get("beta") or DEFAULT_BETA[case["kw"]["loss"]]
        for d in (d1, d2):
            if bool((d.abs() <= scale).any()):
                return True
            if case["kw"]["loss"] == "huber" and bool(((d.abs() - beta).abs() <= scale).any()):
                return True
    return False


# found by this tier: reduction="none" (served by the reference) runs in the preds' dtype, so fp16
# block sums of a pooled row overflow (inf) — documented arithmetic is fp32
_NONE_F16 = dict(preds=torch.linspace(0, 90, 1500).half(), targets=torch.linspace(0, 90, 1500).half(),
                 q=torch.linspace(0, 90, 1500, dtype=F64), weights=None,
                 kw=dict(loss="l1", lam=1.0, eps=1000.0, dist_weighting=None, reduction="none",
                         variant="default"))


@budget(120)
@given(case=dist_cases(), path=paths)
@example(case=_NONE_F16, path="cpu")
def test_matches_reference(case, path):
    """Value (every reduction, weighting, variant) and the gradient w.r.t. preds = fp64 reference."""
    preds = case["preds"]
    dtype = preds.dtype
    with on_path(path) as backend:
        out, (gp,) = grad_of(lambda p: dirfast.dist_loss(p, case["targets"], case["q"], case["weights"],
                                                         backend=backend, **case["kw"]), preds)
    ref, (gr,) = grad_of(lambda p: _oracle(case, p), preds.detach().to(F64))
    assert out.dtype == dtype and out.shape == ref.shape, (out.shape, ref.shape)
    base = gbase = None
    if dtype in LOW and case["kw"]["variant"] != "official":
        def low_ref(p):
            w = case["weights"]
            return dist_loss_ref(p, case["targets"], case["q"], w, **_ref_kw(case["kw"]))
        base, (gbase,) = grad_of(low_ref, preds)
    lowdt = dtype in LOW and case["kw"]["variant"] != "official"
    # one rounding of ŝ − q (or p − t) at the size of the inputs: the scale of ℓ's error
    s = max(preds.detach().to(F64).abs().max().item(), case["q"].to(F64).abs().max().item(), 1.0)
    eps_acc = torch.finfo(F64 if (dtype == F64 or case["kw"]["variant"] == "official") else F32).eps
    size = 2 * s * s if case["kw"]["loss"] == "l2" else s
    wsum = case["weights"].detach().to(F64).abs().max().item() if case["weights"] is not None else 1.0
    n = preds.shape[0]
    rows = 1 if case["kw"]["reduction"] in ("mean", "none") else n
    atol = 8 * eps_acc * size * max(wsum, 1.0) * (1 + case["kw"]["lam"]) * rows
    exact = eps_acc < 1e-10 and dtype == F64  # fp64 arithmetic and an fp64 result
    if lowdt:
        check_close(out, ref, tag="value", baseline=base, atol=atol)
    elif dtype in LOW:  # official variant: fp64 arithmetic, one rounding to fp16/bf16
        check_close(out, ref, tag="value", baseline=ref.to(dtype))
    else:
        check_close(out.to(F64), ref, tag="value", dtype=F64 if exact else F32, atol=atol)
    if _near_kink(case):
        return
    if lowdt:
        check_close(gp, gr, tag="grad", scale="max", baseline=gbase)
    elif dtype in LOW:
        check_close(gp, gr, tag="grad", scale="max", baseline=gr.to(dtype))
    else:
        check_close(gp.to(F64), gr, tag="grad", scale="max", dtype=F64 if exact else F32,
                    atol=8 * eps_acc * (1 + case["kw"]["lam"]) * max(wsum, 1.0) * (s if case["kw"]["loss"] == "l2" else 1.0))


@budget(45)
@given(case=dist_cases(max_n=80), path=paths)
def test_no_mutation_deterministic(case, path):
    snap = snapshot(case["preds"], case["targets"], case["q"], case["weights"])
    with on_path(path) as backend:
        runs = [grad_of(lambda p: dirfast.dist_loss(p, case["targets"], case["q"], case["weights"],
                                                    backend=backend, **case["kw"]), case["preds"])
                for _ in range(2)]
    assert_unchanged(snap)
    assert_bitwise(runs[0], runs[1], "two calls")


@st.composite
def module_cases(draw):
    g = torch.Generator().manual_seed(draw(seeds))
    train = _train(g, draw(st.sampled_from(("ages", "few"))))
    if draw(st.booleans()):
        train = train.to(torch.int64)
    cfg = dict(bw=draw(st.sampled_from((0.5, 0.1, 2.0, "scott", "silverman"))),
               method=draw(st.sampled_from((None, "quantile", "official"))),
               grid=draw(st.sampled_from(("bins", "continuous"))),
               reweight=draw(st.sampled_from(("none", "inverse", "sqrt_inv"))),
               loss=draw(st.sampled_from(LOSSES)), eps=draw(st.sampled_from(EPS)))
    if cfg["reweight"] != "none":
        cfg["lds"] = draw(st.booleans())
    ns = draw(st.lists(st.sampled_from((1, 2, 7, 64, 257)), min_size=1, max_size=4))
    dtype = draw(st.sampled_from((F32, F64)))
    batches = [((45 + 15 * torch.randn(n, generator=g, dtype=F64)).to(dtype),
                (45 + 15 * torch.randn(n, generator=g, dtype=F64)).round().clamp(0, 120).to(dtype)) for n in ns]
    return dict(train=train, cfg=cfg, batches=batches)


@budget(45)
@given(case=module_cases(), path=paths)
@pytest.mark.filterwarnings("ignore:Dist Loss official pseudo-labels")
def test_module_state_round_trip(case, path):
    """nn.DistLoss = dist_loss with its cached pseudo-labels (= pseudo_labels_ref) bit for bit, for
    any sequence of batch sizes; a state_dict loaded into a DistLoss fitted on other labels gives the
    same pseudo-labels and losses bit for bit; the training labels are never modified."""
    cfg = case["cfg"]
    snap = snapshot(case["train"])
    with on_path(path) as backend:
        mod = dirfast.nn.DistLoss(case["train"], backend=backend, **cfg)
        other = dirfast.nn.DistLoss(torch.tensor([1.0, 2.0, 90.0]), backend=backend, **cfg)
        other.load_state_dict(mod.state_dict())
        method = cfg["method"] or "quantile"
        for p, t in case["batches"]:
            n = p.shape[0]
            q = mod.pseudo_labels(n)
            want = pseudo_labels_ref(case["train"], n, method=method, grid=cfg["grid"], bw=cfg["bw"])
            if method == "quantile":
                assert torch.equal(q, want), "pseudo-labels differ from pseudo_labels_ref"
            else:
                torch.testing.assert_close(q, want, rtol=1e-12, atol=1e-12)
            assert bool((q[1:] >= q[:-1]).all()) and bool(torch.isfinite(q).all())
            a = mod(p, t)
            b = other(p, t)
            w = None if mod.lds is None else mod.lds(t).to(p.dtype)
            c = dirfast.dist_loss(p, t, mod.pseudo_labels(n, dtype=p.dtype), w, backend=backend,
                                  loss=cfg["loss"], eps=cfg["eps"])
            assert_bitwise(a, b, "loaded module")
            assert_bitwise(a, c, "module vs functional")
    assert_unchanged(snap, "train_labels")
    assert_bitwise(mod.state_dict(), other.state_dict(), "state_dict")


@st.composite
def tiny_dist(draw):
    g = torch.Generator().manual_seed(draw(seeds))
    n = draw(st.integers(1, 5))
    p = torch.randn(n, generator=g, dtype=F64) * 2
    return dict(preds=p, targets=p + 0.3 + torch.rand(n, generator=g, dtype=F64),
                q=(torch.randn(n, generator=g, dtype=F64) * 2).sort().values - 5.0,
                weights=None if draw(st.booleans()) else torch.rand(n, generator=g, dtype=F64) + 0.1,
                kw=dict(loss=draw(st.sampled_from(("l1", "l2", "focal_l1"))), lam=1.0,
                        eps=draw(st.sampled_from((0.1, 1.0, 10.0))), dist_weighting=None,
                        reduction=draw(st.sampled_from(("mean", "sum"))), variant="default"))


_DB = torch.tensor([0.3, -1.2, 2.0], dtype=F64)


@budget(30)
@given(case=tiny_dist(), path=paths)
@example(case=dict(preds=_DB, targets=_DB + 0.5, q=torch.tensor([-4.0, -3.0, -2.0], dtype=F64), weights=None,
                   kw=dict(loss="l1", lam=1.0, eps=0.1, dist_weighting=None, reduction="mean",
                           variant="default")), path="cpu")
@example(case=dict(preds=_DB, targets=_DB + 0.5, q=torch.tensor([-4.0, -3.0, -2.0], dtype=F64), weights=None,
                   kw=dict(loss="l2", lam=1.0, eps=0.1, dist_weighting=None, reduction="mean",
                           variant="default")), path="cpu_torch")
def test_double_backward(case, path):
    """dist_loss's gradient had no graph with create_graph=True."""
    if _near_kink(case):
        return
    with on_path(path) as backend:
        check_double_backward(
            lambda p: dirfast.dist_loss(p, case["targets"], case["q"], case["weights"], backend=backend,
                                        **case["kw"]),
            [case["preds"].clone().requires_grad_(True)], tag="dist_loss", ref=lambda p: _oracle(case, p))


BAD = [
    ("preds", lambda c: dict(preds=c["preds"][:0], targets=c["targets"][:0], pseudo_labels=c["q"][:0], weights=None)),
    ("preds", lambda c: dict(preds=c["preds"].reshape(1, 1, -1), targets=c["targets"].reshape(1, 1, -1))),
    ("preds", lambda c: dict(preds=c["preds"].to(torch.int64), targets=c["targets"].to(torch.int64))),
    ("preds", lambda c: dict(preds=torch.full_like(c["preds"], float("nan")), validate=True)),
    ("targets", lambda c: dict(targets=c["targets"].reshape(-1, 1) if c["targets"].dim() == 1 else c["targets"].reshape(-1))),
    ("targets", lambda c: dict(targets=c["targets"].to(F32 if c["targets"].dtype == F64 else F64))),
    ("pseudo_labels", lambda c: dict(pseudo_labels=torch.cat([c["q"], c["q"][:1]]))),
    ("pseudo_labels", lambda c: dict(pseudo_labels=c["q"].flip(0) + torch.arange(c["q"].numel(), dtype=c["q"].dtype).flip(0),
                                     validate=True)),
    ("weights", lambda c: dict(weights=torch.ones(c["preds"].shape[0] + 1, dtype=c["preds"].dtype))),
    ("weights", lambda c: dict(weights=-torch.ones_like(c["preds"]), validate=True)),
    ("loss", lambda c: dict(loss="focal_mse")),
    ("lam", lambda c: dict(lam=-1.0)),
    ("eps", lambda c: dict(eps=0.0)),
    ("eps", lambda c: dict(eps=float("nan"))),
    ("dist_weighting", lambda c: dict(dist_weighting="by_value")),
    ("reduction", lambda c: dict(reduction="avg")),
    ("variant", lambda c: dict(variant="paper")),
    ("beta", lambda c: dict(loss="huber", beta=0.0)),
    ("gamma", lambda c: dict(loss="focal_l1", gamma=-1.0)),
    ("backend", lambda c: dict(backend="gpu")),
]

BAD_PSEUDO = [
    ("n", dict(n=0)),
    ("n", dict(n=2.0)),
    ("train_labels", dict(train_labels=torch.zeros(0))),
    ("train_labels", dict(train_labels=torch.tensor([1.0, float("nan")]))),
    ("bw", dict(bw=-1.0)),
    ("bw", dict(bw="normal")),
    ("min_label", dict(min_label=10.0, max_label=5.0)),
    ("step", dict(step=0.0)),
    ("method", dict(method="mode")),
    ("grid", dict(grid="fine")),
]


@budget(75)
@given(case=dist_cases(max_n=12, low=False), bad=st.sampled_from(BAD), bad2=st.sampled_from(BAD_PSEUDO))
def test_bad_input_raises(case, bad, bad2):
    name, mutate = bad
    if case["preds"].shape[0] < 2:
        return
    kw = dict(preds=case["preds"], targets=case["targets"], pseudo_labels=case["q"], weights=case["weights"])
    kw.update(case["kw"])
    kw.update(mutate(case))
    raises_naming(lambda: dirfast.dist_loss(kw.pop("preds"), kw.pop("targets"), kw.pop("pseudo_labels"),
                                            kw.pop("weights"), **kw), name)
    name2, over = bad2
    kw2 = dict(train_labels=_train(torch.Generator().manual_seed(0)), n=4)
    kw2.update(over)
    raises_naming(lambda: dirfast.pseudo_labels(kw2.pop("train_labels"), kw2.pop("n"), **kw2), name2)
