"""Properties of ``conr_loss`` / ``nn.ConRLoss`` against ``conr_loss_ref`` in fp64 on the CPU
streaming path (ConR has no C++ kernel: ``"cpu"`` and ``"cpu_torch"`` both run it).

Labels and predictions sit on a dyadic grid and ``w`` is dyadic, so ``|Δy| ≤ w`` is decided the
same way in fp32 and fp64 (the masks' kinks are exact ties, not rounding accidents); the loss is
smooth in the features, so gradients are compared everywhere. Tolerances: fp64 1e-10 and fp32 1e-5
relative to the largest value for τ ≥ 0.05; below that the logits ``s = u·u/τ`` carry fp32's
conditioning (~1e-7/τ absolute), so fp32 is held to 2× the error of the fp32 reference (as
fp16/bf16 always are).
"""

import math

import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st

import dirfast
from dirfast.reference import conr_loss_ref

from _strategies import (F32, F64, LOW, MAT_LAYOUTS, assert_bitwise, assert_unchanged, budget,
                         check_close, check_double_backward, dtypes, grad_of, matrix, on_path, paths,
                         raises_naming, seeds, sizes, snapshot, value_kinds)

pytestmark = pytest.mark.property

TEMPERATURES = (0.07, 0.2, 1.0, 10.0, 0.05, 0.01, 0.005, 1e-3)


@st.composite
def conr_cases(draw, max_m=140, low=True, min_m=0):
    m = draw(sizes(max_m, min_size=min_m, large=(255, 256, 257, 300) if max_m >= 140 else ()))
    d = draw(st.sampled_from((1, 2, 3, 16, 65)))
    g = torch.Generator().manual_seed(draw(seeds))
    dtype = draw(dtypes(low))
    feats = matrix(g, m, d, dtype, draw(value_kinds("offset")), draw(st.sampled_from(MAT_LAYOUTS)))
    ldim = draw(st.sampled_from((0, 1, 1, 2, 3)))  # 0: [M], 1: [M, 1], >1: [M, d]
    levels = draw(st.sampled_from((2, 4, 8, 64)))
    lscale = draw(st.sampled_from((1.0, 1.0, 1000.0)))
    shape = (m,) if ldim == 0 else (m, ldim)
    labels = (torch.randint(0, levels, shape, generator=g).to(F64) * 0.25 * lscale).to(dtype)
    pmode = draw(st.sampled_from(("near", "equal", "far")))
    if pmode == "equal":
        preds = labels.clone()
    else:
        jit = torch.randint(-2, 3, shape, generator=g).to(F64) * 0.25 * (1 if pmode == "near" else 40)
        preds = (labels.to(F64) + jit * lscale).to(dtype)
    if ldim == 0 and draw(st.booleans()):
        preds = preds.reshape(m, 1)  # [M] labels with [M, 1] predictions: the same 1-D labels
    wmode = draw(st.sampled_from(("none", "vec", "col", "zeros")))
    weights = None
    if wmode != "none":
        weights = (torch.rand(m, generator=g, dtype=F64) * 2).to(dtype)
        if wmode == "zeros":
            weights = torch.where(torch.rand(m, generator=g) < 0.5, torch.zeros_like(weights), weights)
        if wmode == "col":
            weights = weights.reshape(m, 1)
    variant = draw(st.sampled_from(("paper", "official")))
    return dict(
        features=feats, labels=labels, preds=preds, weights=weights,
        kw=dict(w=draw(st.sampled_from((1.0, 0.0, 0.25, 0.5, 2.0))) * lscale,
                temperature=draw(st.sampled_from(TEMPERATURES)),
                e=draw(st.sampled_from((0.01, 0.0, 0.5))),
                variant=variant,
                reduction=draw(st.sampled_from(("mean", "sum", "none", "valid_anchors"))),
                norm=draw(st.sampled_from(("l1", "l2")))))


def _d(t):
    return None if t is None else t.detach().to(F64)


def _ref(case, f):
    return conr_loss_ref(f, _d(case["labels"]), _d(case["preds"]), _d(case["weights"]), **case["kw"])


def _ref_low(case, f):
    return conr_loss_ref(f, case["labels"], case["preds"], case["weights"], **case["kw"])


# small temperatures (row shift from the self-similarity 1/τ: −inf / overflow)
_F = torch.tensor([[1., 0.], [-1., 0.], [0., 1.]])
_Y, _P = torch.tensor([0., .5, 3.]), torch.tensor([0., .5, .5])
_KW = dict(w=1.0, e=0.01, variant="paper", reduction="none", norm="l1")
_TAU_001 = dict(features=_F, labels=_Y, preds=_P, weights=None, kw=dict(_KW, temperature=0.01))
_TAU_1E3_F64 = dict(features=_F.double(), labels=_Y.double(), preds=_P.double(), weights=None,
                    kw=dict(_KW, temperature=1e-3))
_G = torch.randn(3, 2, generator=torch.Generator().manual_seed(0), dtype=F64).float()
_TAU_0005 = dict(features=_G, labels=torch.tensor([0., 3., 2.]), preds=torch.full((3,), 1.5), weights=None,
                 kw=dict(_KW, temperature=0.005))
_TAU_0005_OFF = dict(_TAU_0005, kw=dict(_KW, temperature=0.005, variant="official"))


# the reference overflowed too (one anchor at τ = 1e-3 in fp64; fp32 at τ = 0.01)
_ONE_ANCHOR = dict(features=torch.randn(1, 3, generator=torch.Generator().manual_seed(5), dtype=F64),
                   labels=torch.zeros(1, dtype=F64), preds=torch.zeros(1, dtype=F64), weights=None,
                   kw=dict(_KW, temperature=1e-3))


@budget(120)
@given(case=conr_cases(), path=paths)
@example(case=_ONE_ANCHOR, path="cpu")
@example(case=dict(_TAU_001, kw=dict(_KW, temperature=0.01, reduction="mean")), path="cpu_torch")
@example(case=_TAU_001, path="cpu")
@example(case=_TAU_1E3_F64, path="cpu")
@example(case=_TAU_0005, path="cpu")
@example(case=_TAU_0005_OFF, path="cpu")
def test_matches_reference(case, path):
    """Loss (every reduction, both variants, 1-D and [M, d] labels, any weights) and its gradient
    w.r.t. the features = the fp64 reference; finite wherever the reference is."""
    feats = case["features"]
    dtype, tau = feats.dtype, case["kw"]["temperature"]
    with on_path(path) as backend:
        out, (gf,) = grad_of(lambda f: dirfast.conr_loss(f, case["labels"], case["preds"], case["weights"],
                                                         backend=backend, validate=False, **case["kw"]), feats)
    ref, (gr,) = grad_of(lambda f: _ref(case, f), _d(feats))
    assert out.dtype == dtype and out.shape == ref.shape
    assert torch.isfinite(ref[~torch.isnan(ref)]).all(), "the fp64 reference itself overflowed"
    # gradients only at rows away from the normalisation's singular point: |f_i| = 0 (and the eps
    # clamp at 1e-12, where u = f/1e-12 amplifies rounding by 1e12); values everywhere
    live = (feats.detach().to(F64).norm(dim=1) > 1e-10) if feats.numel() else torch.zeros(0, dtype=torch.bool)
    if case["kw"]["variant"] == "paper":  # NaN only for the official variant's anchors without positives
        assert not torch.isnan(ref).any() and torch.isfinite(gr).all(), "the reference gave NaN"
        # (fp16/bf16: a gradient beyond the dtype's range is ±inf, e.g. ~1/(τ·|f_i|) at a tiny row)
        rep = live[:, None] & (gr.abs() <= torch.finfo(dtype).max)
        assert not torch.isnan(out).any() and torch.isfinite(gf[rep]).all(), "NaN/inf loss or gradient"
    low = dtype in LOW or (dtype == F32 and tau < 0.05)
    base = gbase = None
    if low:
        base, (gbase,) = grad_of(lambda f: _ref_low(case, f), feats)
    check_close(out, ref, tag="value", scale="max", baseline=base, dtype=F16 if low else None,
                atol=_value_noise(case, feats))
    if bool(live.any()) and not torch.isnan(ref).any():
        check_close(gf[live], gr[live], tag="grad", scale="max", dtype=F16 if low else None,
                    baseline=None if gbase is None else gbase[live], atol=_grad_noise(case, feats[live]))


F16 = torch.float16


def _value_noise(case, feats):
    """Rounding noise of a loss value: each row is a log-sum-exp minus a mean of logits of size
    ``1/τ + log M + e·max Δy + log max a`` (a small loss is a cancellation of such terms); "sum" and
    "valid_anchors" add up to M rows, the official variant multiplies rows by ``a_i``."""
    m = feats.shape[0]
    lab = case["labels"].detach().to(F64)
    dy = (lab.max() - lab.min()).item() * (lab.shape[1] if lab.dim() == 2 else 1) if lab.numel() else 0.0
    w = case["weights"]
    wmax = max(1.0, w.detach().abs().max().item() if w is not None and w.numel() else 1.0)
    kw = case["kw"]
    size = 1.0 / kw["temperature"] + math.log(m + 1) + kw["e"] * dy + math.log(wmax)
    rows = m if kw["reduction"] in ("sum", "valid_anchors") else 1
    eps = torch.finfo(F64 if feats.dtype == F64 else F32).eps
    return 16 * eps * wmax * rows * size


def _grad_noise(case, feats):
    """Rounding noise of a gradient at its natural scale: ``∂ℓ_i/∂s`` is a softmax minus a mean
    (entries ≤ 1, whatever the pushing weights), ``∂s/∂f`` ≤ ``1/(τ·|f|)``; up to M rows add up and
    the official variant multiplies each row by ``a_i``. Where the true gradient is 0 (D = 1: the
    normalisation has no tangent; all rows parallel) both sides are this noise."""
    f = feats.detach().to(F64)
    norms = f.norm(dim=1)
    rmin = norms[norms > 0].min().item() if bool((norms > 0).any()) else 1.0
    w = case["weights"]
    wmax = max(1.0, w.detach().abs().max().item() if w is not None and w.numel() else 1.0)
    eps = torch.finfo(F64 if feats.dtype == F64 else F32).eps
    rows = case["features"].shape[0] if case["kw"]["reduction"] != "mean" else 1
    return 64 * eps * wmax * max(1, rows) / (case["kw"]["temperature"] * rmin)


# labels that require grad got NaN gradients with [M, 2] labels and norm="l2"
_L2_LABELS = dict(features=torch.randn(5, 3, generator=torch.Generator().manual_seed(2)),
                  labels=torch.tensor([[0., 0.], [0., 0.], [1., 1.], [3., 0.], [0., 0.25]]),
                  preds=torch.tensor([[0., 0.], [0.5, 0.], [1., 1.], [0., 0.], [0., 0.5]]), weights=None,
                  kw=dict(w=1.0, temperature=0.07, e=0.01, variant="paper", reduction="mean", norm="l2"))


@budget(60)
@given(case=conr_cases(max_m=60), path=paths)
@example(case=_L2_LABELS, path="cpu")
def test_module_no_mutation_deterministic(case, path):
    """ConRLoss = conr_loss bit for bit (and its num_valid_anchors = return_valid); two calls
    bit-identical; no input modified; labels, predictions and weights that require grad get none."""
    feats = case["features"]
    lab = case["labels"].detach().clone().requires_grad_(True) if case["labels"].is_floating_point() else case["labels"]
    preds = case["preds"].detach().clone().requires_grad_(True)
    w = None if case["weights"] is None else case["weights"].detach().clone().requires_grad_(True)
    snap = snapshot(feats, lab, preds, w)
    with on_path(path) as backend:
        fn = lambda f: dirfast.conr_loss(f, lab, preds, w, backend=backend, validate=False, **case["kw"])  # noqa: E731
        runs = [grad_of(fn, feats) for _ in range(2)]
        mod = dirfast.nn.ConRLoss(backend=backend, validate=False, **case["kw"])
        runs.append(grad_of(lambda f: mod(f, lab, preds, w), feats))
        out, nvalid = dirfast.conr_loss(feats, lab, preds, w, backend=backend, validate=False,
                                        return_valid=True, **case["kw"])
    assert_unchanged(snap)
    assert_bitwise(runs[0], runs[1], "two calls")
    assert_bitwise(runs[0], runs[2], "module vs functional")
    assert_bitwise(mod.num_valid_anchors, nvalid, "num_valid_anchors")
    assert nvalid.dtype == torch.int64 and nvalid.dim() == 0
    if feats.numel():
        f = feats.detach().clone().requires_grad_(True)
        with on_path(path) as backend:
            loss = dirfast.conr_loss(f, lab, preds, w, backend=backend, validate=False, **case["kw"])
        loss.sum().backward()
        assert f.grad is not None and not torch.isnan(f.grad).any() or torch.isnan(loss).any(), \
            "NaN feature gradient"
        live = f.detach().to(F64).norm(dim=1) > 1e-10  # not at the normalisation's singular point
        if f.dtype not in LOW:  # (fp16/bf16: ±inf beyond the dtype's range, test_matches_reference)
            assert torch.isfinite(f.grad[live]).all() or torch.isnan(loss).any(), "non-finite feature gradient"
        for name, t in (("labels", lab), ("preds", preds), ("weights", w)):
            assert t is None or not t.requires_grad or t.grad is None or not t.grad.any(), \
                f"{name} received a gradient"


@st.composite
def tiny_conr(draw):
    g = torch.Generator().manual_seed(draw(seeds))
    m, d = draw(st.integers(2, 5)), draw(st.integers(1, 3))
    labels = torch.randint(0, 4, (m,), generator=g).to(F64)
    return dict(features=torch.randn(m, d, generator=g, dtype=F64), labels=labels,
                preds=labels + torch.randint(-1, 2, (m,), generator=g).to(F64) * 0.5,
                weights=None if draw(st.booleans()) else torch.rand(m, generator=g, dtype=F64),
                kw=dict(w=1.0, temperature=draw(st.sampled_from((0.07, 0.5, 2.0))), e=0.01,
                        variant=draw(st.sampled_from(("paper", "official"))),
                        reduction=draw(st.sampled_from(("mean", "none")))))


@budget(24)
@given(case=tiny_conr(), path=paths)
@example(case=dict(features=torch.randn(4, 3, generator=torch.Generator().manual_seed(3), dtype=F64),
                   labels=torch.tensor([0., 0., 3., 3.], dtype=F64), preds=torch.tensor([0., 0.5, 3., 2.5], dtype=F64),
                   weights=None, kw=dict(w=1.0, temperature=0.5, e=0.01, variant="paper", reduction="mean")),
         path="cpu")
def test_double_backward(case, path):
    """A fixed bug: ConR's double backward failed with an unrelated 'modified by an inplace operation' error."""
    if case["kw"]["variant"] == "official":
        case["preds"] = case["labels"].clone()  # every anchor has its twin positive: no NaN rows
        case["labels"] = torch.cat([case["labels"][: len(case["labels"]) // 2]] * 2 + [case["labels"][:len(case["labels"]) % 2]])
        case["preds"] = case["labels"].clone()
    with on_path(path) as backend:
        check_double_backward(
            lambda f: dirfast.conr_loss(f, case["labels"], case["preds"], case["weights"], backend=backend,
                                        **case["kw"]),
            [case["features"].clone().requires_grad_(True)], tag="conr_loss",
            ref=lambda f: _ref(case, f))


BAD = [
    ("weights", lambda c, m: dict(weights=torch.rand(1, m))),
    ("weights", lambda c, m: dict(weights=torch.rand(m, 2))),
    ("weights", lambda c, m: dict(weights=torch.rand(m + 1))),
    ("weights", lambda c, m: dict(weights=torch.ones(m, dtype=torch.int64))),
    ("weights", lambda c, m: dict(weights=-torch.ones(m), validate=True)),
    ("features", lambda c, m: dict(features=c["features"].reshape(-1))),
    ("features", lambda c, m: dict(features=c["features"][:, :0])),
    ("features", lambda c, m: dict(features=c["features"].to(torch.int64))),
    ("features", lambda c, m: dict(features=torch.full_like(c["features"], float("nan")), validate=True)),
    ("labels", lambda c, m: dict(labels=torch.zeros(m + 1))),
    ("labels", lambda c, m: dict(labels=torch.zeros(m, dtype=torch.int64))),
    ("labels", lambda c, m: dict(labels=torch.zeros(m, 2, 1))),
    ("preds", lambda c, m: dict(labels=torch.zeros(m, 2), preds=torch.zeros(m, 3))),
    ("preds", lambda c, m: dict(preds=torch.zeros(m + 2))),
    ("temperature", lambda c, m: dict(temperature=0.0)),
    ("temperature", lambda c, m: dict(temperature=-0.1)),
    ("temperature", lambda c, m: dict(temperature=float("nan"))),
    ("w", lambda c, m: dict(w=-1.0)),
    ("e", lambda c, m: dict(e=-0.5)),
    ("e", lambda c, m: dict(e="big")),
    ("variant", lambda c, m: dict(variant="depth")),
    ("reduction", lambda c, m: dict(reduction="avg")),
    ("norm", lambda c, m: dict(norm="linf")),
    ("pushing", lambda c, m: dict(pushing="quadratic")),
    ("input_precision", lambda c, m: dict(input_precision="fp8")),
    ("backend", lambda c, m: dict(backend="gpu")),
]


@budget(90)
@given(case=conr_cases(max_m=12, low=False, min_m=2), bad=st.sampled_from(BAD))
@example(case=dict(features=torch.randn(4, 3), labels=torch.rand(4), preds=torch.rand(4, 1), weights=None,
                   kw=dict(_KW, temperature=0.07)), bad=BAD[0])  # weights [1, M]
def test_bad_input_raises(case, bad):
    name, mutate = bad
    m = case["features"].shape[0]
    kw = dict(features=case["features"], labels=case["labels"], preds=case["preds"], weights=case["weights"])
    kw.update({k: v for k, v in case["kw"].items()})
    kw.update(mutate(case, m))
    if name == "features" and kw["features"].dim() == 1:
        pass
    raises_naming(lambda: dirfast.conr_loss(kw.pop("features"), kw.pop("labels"), kw.pop("preds"),
                                            kw.pop("weights"), **kw), name)
    # the module checks names and values at construction (the backend only per call: it depends on
    # the tensors' device)
    if name not in ("features", "labels", "preds", "weights", "backend"):
        raises_naming(lambda: dirfast.nn.ConRLoss(**{name: mutate(case, m)[name]}), name)
