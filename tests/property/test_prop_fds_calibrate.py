"""Properties of ``fds_calibrate`` / ``fds_scale_shift`` against the fp64 references, on both CPU
paths: strides, dtypes, identity rows (ids < 0 and, with validation off, >= B), gradients."""

import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st

import dirfast
from dirfast.reference import fds_calibrate_ref, fds_calibrate_stats_ref

from _strategies import (F32, F64, LOW, MAT_LAYOUTS, assert_bitwise, assert_unchanged, bin_ids, budget,
                         check_close, check_double_backward, dtypes, grad_of, matrix, on_path, paths,
                         raises_naming, seeds, sizes, snapshot, value_kinds)

pytestmark = pytest.mark.property

IDX_MODES = ("random", "one_bin", "negatives", "out_of_range", "sorted")


def _stats(g, b, d, dtype, mode):
    mean = torch.randn(b, d, generator=g, dtype=F64) * 3
    var = torch.rand(b, d, generator=g, dtype=F64) * 4
    sm = mean + 0.1 * torch.randn(b, d, generator=g, dtype=F64)
    sv = var * (0.05 + 20 * torch.rand(b, d, generator=g, dtype=F64))  # ratios beyond the clip
    if mode == "zero_var":
        var = torch.where(torch.rand(b, d, generator=g) < 0.4, torch.zeros_like(var), var)
        var[0] = 0  # a whole bin with zero variance: the identity
    elif mode == "nan":
        var = torch.where(torch.rand(b, d, generator=g) < 0.2, torch.full_like(var, float("nan")), var)
    return [t.to(dtype) for t in (mean, var, sm, sv)]


@st.composite
def calib_cases(draw, max_n=300):
    n = draw(sizes(max_n, large=(1031, 4099)))
    d = draw(st.sampled_from((1, 2, 3, 8, 33, 130)))
    b = draw(st.sampled_from((1, 2, 5, 13)))
    g = torch.Generator().manual_seed(draw(seeds))
    dtype = draw(dtypes())
    feats = matrix(g, n, d, dtype, draw(value_kinds("huge")), draw(st.sampled_from(MAT_LAYOUTS)))
    idx = bin_ids(g, n, b, draw(st.sampled_from(IDX_MODES)), draw(st.sampled_from((torch.int64, torch.int32))),
                  draw(st.booleans()))
    sdt = draw(st.sampled_from((F32, F64)))
    variant = draw(st.sampled_from(("default", "official")))
    stats = _stats(g, b, d, sdt, draw(st.sampled_from(("plain", "zero_var", "nan" if variant == "default"
                                                       else "plain"))))
    clip = draw(st.sampled_from(((0.1, 10.0), (0.5, 2.0), (1.0, 1.0))))
    scale, shift = dirfast.fds_scale_shift(*stats, clip, variant=variant)
    if draw(st.booleans()):  # tables with strides of their own
        scale, shift = scale.t().contiguous().t(), shift.t().contiguous().t()
    return dict(features=feats, bin_idx=idx, scale=scale, shift=shift, stats=stats, clip=clip,
                variant=variant)


def _oracle(case, feats):
    acc = F64 if case["features"].dtype == F64 else F32
    return fds_calibrate_ref(feats, case["bin_idx"], case["scale"].to(acc).to(F64),
                             case["shift"].to(acc).to(F64))


# the reference returned a non-contiguous result for a transposed input
_TRANSPOSED = dict(features=torch.randn(3, 4, generator=torch.Generator().manual_seed(1)).t(),
                   bin_idx=torch.tensor([0, 0, -1, 0]), scale=torch.full((1, 3), 2.0),
                   shift=torch.full((1, 3), 0.5), stats=None, clip=(0.1, 10.0), variant="default")


@budget(120)
@given(case=calib_cases(), path=paths)
@example(case=_TRANSPOSED, path="cpu")
def test_matches_reference(case, path):
    """Value = fp64 reference (tables rounded to the compute dtype), identity rows bit for bit, gradient
    w.r.t. features = ``dy·scale[bin]``; output ``[N, D]`` contiguous in the features' dtype, never
    aliasing the input — also for ``backend="reference"``."""
    feats, idx, scale, shift = case["features"], case["bin_idx"], case["scale"], case["shift"]
    dtype = feats.dtype
    with on_path(path) as backend:
        out, (gz,) = grad_of(lambda z: dirfast.fds_calibrate(z, idx, scale, shift, backend=backend,
                                                             validate=False), feats)
        plain = dirfast.fds_calibrate(feats, idx, scale, shift, backend=backend, validate=False)
    ref_out = dirfast.fds_calibrate(feats, idx, scale, shift, backend="reference", validate=False)
    for tag, y in (("fast", plain), ("reference", ref_out)):
        assert y.shape == feats.shape and y.dtype == dtype, (tag, y.shape, y.dtype)
        assert y.is_contiguous(), f"backend {tag}: result is not contiguous (strides {y.stride()})"
        if y.numel():
            assert y.data_ptr() != feats.data_ptr(), f"{tag}: result aliases features"
    oracle, (g64,) = grad_of(lambda z: _oracle(case, z), feats.to(F64))
    identity = ~((idx >= 0) & (idx < scale.shape[0]))
    assert torch.equal(out[identity].reshape(-1).view(torch.uint8) if out.numel() else out,
                       feats[identity].reshape(-1).view(torch.uint8) if out.numel() else out), \
        "identity rows are not bit-identical"
    if dtype in LOW:
        base = fds_calibrate_ref(feats, idx, scale, shift)
        check_close(out, oracle, tag="value", baseline=base)
    else:
        # one rounding of z·s + t: relative to |z·s| + |t| (cancellation is not an error)
        acc = F64 if dtype == F64 else F32
        b = torch.where(identity, torch.zeros_like(idx), idx).to(torch.int64)
        size = (feats.to(F64) * scale.to(acc).to(F64)[b]).abs() + shift.to(acc).to(F64)[b].abs()
        tol = (1e-10 if dtype == F64 else 1e-5) * (size + oracle.abs()) + 1e3 * torch.finfo(dtype).tiny
        err = (out.to(F64) - oracle).abs()
        ok = (err <= tol) | (torch.isnan(out) & torch.isnan(oracle)) | (out.to(F64) == oracle)
        assert bool(ok.all()), f"value off: max err {err[~ok].max().item():.3g}"
    gbase = None
    if dtype in LOW:
        _, (gbase,) = grad_of(lambda z: fds_calibrate_ref(z, idx, scale, shift), feats)
    check_close(gz, g64, tag="grad", scale="max", baseline=gbase)


@budget(60)
@given(case=calib_cases(max_n=100), path=paths)
def test_scale_shift_formula(case, path):
    """``fds_calibrate(z, b, *fds_scale_shift(stats))`` = the official formula
    ``(z − μ)·sqrt(clamp(σ̃²/σ², lo, hi)) + μ̃`` (``fds_calibrate_stats_ref``, fp64); identity entries
    of the table are exactly (1, 0)."""
    if case["stats"] is None:
        return
    feats = case["features"]
    if feats.dtype in LOW:
        feats = feats.to(F32)
    stats = [t.to(F64) for t in case["stats"]]
    scale, shift = dirfast.fds_scale_shift(*stats, case["clip"], variant=case["variant"])
    with on_path(path) as backend:
        out = dirfast.fds_calibrate(feats.to(F64), case["bin_idx"], scale, shift, backend=backend,
                                    validate=False)
    want = fds_calibrate_stats_ref(feats.to(F64), case["bin_idx"], *stats, case["clip"],
                                   variant=case["variant"])
    size = feats.to(F64).abs().max().item() if feats.numel() else 0.0
    check_close(out, want, tag="formula", atol=1e-12 * (1 + size + stats[0].abs().max().item() * 10))
    ident = (scale == 1) & (shift == 0)
    mean, var = stats[0], stats[1]
    if case["variant"] == "official":
        assert bool(ident[var == 0].all()), "zero-variance dims must be the identity"


@st.composite
def tiny_calib(draw):
    g = torch.Generator().manual_seed(draw(seeds))
    n, d, b = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return dict(features=torch.randn(n, d, generator=g, dtype=F64),
                bin_idx=torch.randint(-1, b, (n,), generator=g),
                scale=torch.rand(b, d, generator=g, dtype=F64) + 0.5,
                shift=torch.randn(b, d, generator=g, dtype=F64))


@budget(24)
@given(case=tiny_calib(), path=paths)
def test_double_backward(case, path):
    """Documented: double backward works (the backward is linear in dy)."""
    with on_path(path) as backend:
        check_double_backward(
            lambda z: dirfast.fds_calibrate(z, case["bin_idx"], case["scale"], case["shift"], backend=backend),
            [case["features"].clone().requires_grad_(True)], tag="fds_calibrate",
            ref=lambda z: fds_calibrate_ref(z, case["bin_idx"], case["scale"], case["shift"]))


@budget(60)
@given(case=calib_cases(max_n=100), path=paths)
def test_no_mutation_deterministic(case, path):
    feats = case["features"]
    snap = snapshot(feats, case["bin_idx"], case["scale"], case["shift"])
    with on_path(path) as backend:
        runs = [grad_of(lambda z: dirfast.fds_calibrate(z, case["bin_idx"], case["scale"], case["shift"],
                                                        backend=backend, validate=False), feats)
                for _ in range(2)]
    assert_unchanged(snap)
    assert_bitwise(runs[0], runs[1], "two calls")


BAD = [
    ("features", lambda c: dict(features=c["features"].reshape(-1))),
    ("features", lambda c: dict(features=c["features"].to(torch.int32))),
    ("features", lambda c: dict(features=c["features"].tolist())),
    ("bin_idx", lambda c: dict(bin_idx=c["bin_idx"].to(F32))),
    ("bin_idx", lambda c: dict(bin_idx=c["bin_idx"][:-1])),
    ("bin_idx", lambda c: dict(bin_idx=c["bin_idx"].clamp(min=0) + c["scale"].shape[0], validate=True)),
    ("scale", lambda c: dict(scale=c["scale"][:, :-1] if c["scale"].shape[1] > 1 else c["scale"].reshape(-1))),
    ("scale", lambda c: dict(scale=c["scale"].to(torch.int64))),
    ("shift", lambda c: dict(shift=c["shift"][:-1] if c["shift"].shape[0] > 1 else c["shift"].reshape(-1))),
    ("features", lambda c: dict(features=torch.full_like(c["features"], float("nan")), validate=True)),
    ("backend", lambda c: dict(backend="tpu")),
]

BAD_SCALE_SHIFT = [
    ("clip", dict(clip=(0.0, 10.0))),
    ("clip", dict(clip=(2.0, 1.0))),
    ("clip", dict(clip=(0.1,))),
    ("clip", dict(clip="0.1,10")),
    ("variant", dict(variant="paper")),
    ("eps", dict(eps=-1.0)),
    ("var", dict(var="x")),
    ("smoothed_var", dict(smoothed_var=torch.ones(1, 1, 1))),
    ("smoothed_mean", dict(smoothed_mean=torch.ones(99, 1))),
]


@budget(60)
@given(case=calib_cases(max_n=10), bad=st.sampled_from(BAD), bad2=st.sampled_from(BAD_SCALE_SHIFT))
def test_bad_input_raises(case, bad, bad2):
    c = dict(case)
    if c["features"].shape[0] < 2:
        c["features"] = torch.ones(2, c["features"].shape[1], dtype=c["features"].dtype)
        c["bin_idx"] = torch.zeros(2, dtype=torch.int64)
    name, mutate = bad
    kw = dict(features=c["features"], bin_idx=c["bin_idx"], scale=c["scale"], shift=c["shift"])
    kw.update(mutate(c))
    raises_naming(lambda: dirfast.fds_calibrate(kw.pop("features"), kw.pop("bin_idx"), kw.pop("scale"),
                                                kw.pop("shift"), **kw), name)
    name2, over = bad2
    stats = dict(zip(("mean", "var", "smoothed_mean", "smoothed_var"),
                     case["stats"] or [torch.ones(2, 3)] * 4))
    kw2 = dict(stats, clip=(0.1, 10.0))
    kw2.update(over)
    raises_naming(lambda: dirfast.fds_scale_shift(**kw2), name2)
