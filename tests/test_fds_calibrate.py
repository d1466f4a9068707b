"""FDS calibration: scale/shift semantics (official zero-variance handling), CPU paths (C++ kernel,
vectorised PyTorch) against the official formula in fp64, autograd, shapes, identity rows, bad input,
torch.compile."""

import sys

import pytest
import torch

import dirfast
from dirfast import _ext
from dirfast.reference.fds_calibrate import (fds_calibrate_loop_ref, fds_calibrate_ref,
                                             fds_calibrate_stats_ref)
from dirfast.testing import assert_close_verbose

from _fds_layouts import check_calibrate_layouts
from _paths import CPU_PATHS
from _fds_calibrate_cases import (check_against_reference, check_gradcheck, check_identity_bits,
                                  check_non_contiguous, check_not_mutated, make_features, make_stats)

DTYPES = [torch.float64, torch.float32, torch.float16, torch.bfloat16]


# ------------------------------------------------------------------------------------------------
# fds_scale_shift: official semantics


def test_scale_shift_official_zero_variance_handling():
    m, v, sm, sv = make_stats(6, 9)
    for variant in ("official", "default"):
        s, t = dirfast.fds_scale_shift(m, v, sm, sv, variant=variant)
        assert s.dtype == t.dtype == torch.float64 and s.shape == t.shape == (6, 9)
        # bin 2 (all-zero variance) and bin 3 (sum 1e-12 < 1e-10): identity, exactly
        for b in (2, 3):
            assert torch.equal(s[b], torch.ones(9, dtype=torch.float64)) and torch.equal(t[b], torch.zeros(9, dtype=torch.float64))
        # bin 1: zero-variance dims identity, the others calibrated
        zero = v[1] == 0
        assert zero.sum() == 3
        assert torch.equal(s[1][zero], torch.ones(3, dtype=torch.float64)) and torch.equal(t[1][zero], torch.zeros(3, dtype=torch.float64))
        ratio = (sv / v.where(v != 0, torch.ones_like(v))).clamp(0.1, 10.0)
        ok = torch.ones_like(v, dtype=torch.bool)
        ok[1] = ~zero
        ok[2:4] = False
        assert_close_verbose(s[ok], ratio.sqrt()[ok], tag="scale", rtol=1e-14)
        assert_close_verbose(t[ok], (sm - m * ratio.sqrt())[ok], tag="shift", rtol=1e-12, scale="max")
        # the clip is active on both sides in this data
        raw = sv / v
        assert ((raw < 0.1) & ok).any() and ((raw > 10) & ok).any()


@pytest.mark.parametrize("clip", [(0.1, 10.0), (0.5, 2.0), (0.2, 5.0), (1.0, 1.0)])
def test_scale_shift_dtypes_and_clip(clip):
    stats32 = make_stats(5, 4, torch.float32)
    s, t = dirfast.fds_scale_shift(*stats32, clip)
    assert s.dtype == torch.float32
    s64, t64 = dirfast.fds_scale_shift(*(x.double() for x in stats32), clip)
    assert_close_verbose(s, s64, tag="scale fp32", rtol=1e-6)
    assert_close_verbose(t, t64, tag="shift fp32", rtol=1e-6, scale="max")
    lo, hi = clip
    assert (s >= lo**0.5 * (1 - 1e-6)).all() and (s <= hi**0.5 * (1 + 1e-6)).all()
    # a mix of fp16 and fp64 inputs computes in fp64
    s, _ = dirfast.fds_scale_shift(stats32[0].half(), stats32[1].double(), stats32[2], stats32[3])
    assert s.dtype == torch.float64


def test_scale_shift_default_vs_official_guards():
    m, v, sm, sv = make_stats(4, 5, degenerate=False)
    v = v.clone()
    sm = sm.clone()
    v[0, 1] = -0.5                   # negative variance
    sm[1, 2] = float("nan")          # NaN statistic
    v[3, 4] = float("inf")
    so, to = dirfast.fds_scale_shift(m, v, sm, sv, variant="official")
    sd, td = dirfast.fds_scale_shift(m, v, sm, sv, variant="default")
    # official: negative variance is calibrated with the ratio clamped to lo; NaN propagates
    assert so[0, 1] == pytest.approx(0.1**0.5) and torch.isnan(to[1, 2])
    # default: those dims are the identity, the rest agrees with official
    for (b, d) in ((0, 1), (1, 2), (3, 4)):
        assert sd[b, d] == 1 and td[b, d] == 0
    mask = torch.ones_like(v, dtype=torch.bool)
    mask[0, 1] = mask[1, 2] = mask[3, 4] = False
    assert torch.equal(sd[mask], so[mask]) and torch.equal(td[mask], to[mask])
    # eps: dims with var <= eps become identity in the default variant
    s_eps, t_eps = dirfast.fds_scale_shift(m, v.abs().clamp_max(10), sm.nan_to_num(), sv, eps=10.0)
    assert torch.equal(s_eps, torch.ones_like(s_eps)) and torch.equal(t_eps, torch.zeros_like(t_eps))


def test_stats_ref_matches_official_loop_and_default_equals_official():
    stats = make_stats(7, 6)
    z, idx = make_features(300, 6, 7)
    want = fds_calibrate_loop_ref(z, idx, *stats)
    got = fds_calibrate_stats_ref(z, idx, *stats, variant="official")
    assert_close_verbose(got, want, tag="stats_ref vs official loop", rtol=1e-14, scale="max")
    assert torch.equal(fds_calibrate_stats_ref(z, idx, *stats, variant="default"), got)
    # the untouched parts: identity rows, identity bins 2/3, zero dims of bin 1
    assert torch.equal(got[idx < 0], z[idx < 0])
    assert torch.equal(got[(idx == 2) | (idx == 3)], z[(idx == 2) | (idx == 3)])
    rows1 = idx == 1
    zero = stats[1][1] == 0
    assert torch.equal(got[rows1][:, zero], z[rows1][:, zero])
    assert not torch.equal(got[rows1][:, ~zero], z[rows1][:, ~zero])


@pytest.mark.parametrize("path", CPU_PATHS + ["reference"])
def test_official_variant_end_to_end_matches_official_loop(route, path):
    backend = "reference" if path == "reference" else route(path)
    stats = make_stats(8, 33, torch.float32)
    z, idx = make_features(500, 33, 8, torch.float32)
    s, t = dirfast.fds_scale_shift(*stats, variant="official")
    got = dirfast.fds_calibrate(z, idx, s, t, backend=backend)
    want = fds_calibrate_loop_ref(z.double(), idx, *(x.double() for x in stats))
    assert_close_verbose(got, want, tag=f"{path} official", scale="max")


# ------------------------------------------------------------------------------------------------
# fast paths vs reference


@pytest.mark.parametrize("path", CPU_PATHS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 7, 1000])
@pytest.mark.parametrize("d", [1, 7, 64, 2048])
def test_matches_reference(route, path, dtype, n, d):
    check_against_reference(route(path), n, d, dtype)


@pytest.mark.parametrize("path", CPU_PATHS)
@pytest.mark.parametrize("variant", ["default", "official"])
def test_matches_reference_int32_and_variants(route, path, variant):
    check_against_reference(route(path), 257, 19, torch.float32, variant=variant, idx_dtype=torch.int32)


@pytest.mark.parametrize("path", CPU_PATHS + ["reference"])
def test_gradcheck(route, path):
    check_gradcheck("reference" if path == "reference" else route(path))


@pytest.mark.parametrize("path", CPU_PATHS)
def test_non_contiguous(route, path):
    check_non_contiguous(route(path))


@pytest.mark.parametrize("path", CPU_PATHS + ["reference"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_every_layout_contiguous_result(route, path, dtype):
    """Expanded, unfolded (overlapping rows), transposed, sliced, stride-0 rows and columns: every
    backend returns a contiguous [N, D] (a fixed bug: "reference" returned a transposed result)."""
    check_calibrate_layouts("reference" if path == "reference" else route(path), dtype)


@pytest.mark.parametrize("path", CPU_PATHS + ["reference"])
def test_nan_without_validation_is_elementwise(route, path):
    """The documented rule: a NaN feature -> that output element; NaN in scale/shift[b, c] -> column
    c of bin b's rows; nothing else."""
    backend = "reference" if path == "reference" else route(path)
    s, t = dirfast.fds_scale_shift(*make_stats(4, 6, torch.float32, degenerate=False))
    z, idx = make_features(40, 6, 4, torch.float32)
    z[3, 2] = float("nan")
    s[1, 4] = float("nan")
    t[2, 0] = float("inf")
    y = dirfast.fds_calibrate(z, idx, s, t, backend=backend, validate=False)
    want_nan = torch.zeros(40, 6, dtype=torch.bool)
    want_nan[3, 2] = True
    want_nan[idx == 1, 4] = True
    assert torch.equal(torch.isnan(y), want_nan)
    inf = torch.zeros(40, 6, dtype=torch.bool)
    inf[idx == 2, 0] = True
    assert torch.isinf(y[inf]).all() and torch.isfinite(y[~inf & ~want_nan]).all()


@pytest.mark.parametrize("path", CPU_PATHS + ["reference"])
def test_identity_rows_bit_exact(route, path):
    check_identity_bits("reference" if path == "reference" else route(path))


@pytest.mark.parametrize("path", CPU_PATHS + ["reference"])
def test_inputs_not_mutated(route, path):
    check_not_mutated("reference" if path == "reference" else route(path))


@pytest.mark.parametrize("path", CPU_PATHS)
def test_paths_agree_bitwise_and_threads(route, path):
    """C++ and vectorised PyTorch round identically (one multiply, one add); the C++ result does not
    depend on the number of threads."""
    stats = make_stats(9, 300, torch.float32)
    s, t = dirfast.fds_scale_shift(*stats)
    z, idx = make_features(700, 300, 9, torch.float32)
    a = dirfast.fds_calibrate(z, idx, s, t, backend=route(path))
    b = fds_calibrate_ref(z, idx, s, t)
    assert torch.equal(a, b)
    if path == "cpu":
        c = _ext.get()
        old = c.num_threads()
        try:
            c.set_num_threads(1)
            one = dirfast.fds_calibrate(z, idx, s, t, backend="cpu")
        finally:
            c.set_num_threads(old)
        assert torch.equal(one, a)


def test_empty_and_no_bins():
    s, t = dirfast.fds_scale_shift(*make_stats(3, 4))
    for backend in ("auto", "reference"):
        x = torch.zeros(0, 4, dtype=torch.float64, requires_grad=True)
        y = dirfast.fds_calibrate(x, torch.zeros(0, dtype=torch.long), s, t, backend=backend)
        assert y.shape == (0, 4)
        z = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
        e = torch.zeros(0, 4, dtype=torch.float64)
        y = dirfast.fds_calibrate(z, torch.full((5,), -1), e, e, backend=backend)
        assert torch.equal(y, z) and y.data_ptr() != z.data_ptr()
        y.backward(torch.full_like(y, 2.0))
        assert torch.equal(z.grad, torch.full_like(z, 2.0))


def test_registered_op_matches_eager_function():
    from dirfast.ops.fds_calibrate import FdsCalibrateFunction, fds_calibrate_op

    s, t = dirfast.fds_scale_shift(*make_stats(5, 11))
    z, idx = make_features(40, 11, 5)
    paths = ["cpu_torch"] + (["cpu"] if _ext.available() else [])
    for path in paths:
        xs = [z.clone().requires_grad_() for _ in range(2)]
        a = fds_calibrate_op(xs[0], idx, s, t, path)
        b = FdsCalibrateFunction.apply(xs[1], idx, s, t, (path,))
        assert torch.equal(a, b)
        go = torch.randn_like(a)
        assert torch.equal(torch.autograd.grad(a, xs[0], go)[0], torch.autograd.grad(b, xs[1], go)[0])


def test_opcheck():
    from dirfast.ops.fds_calibrate import fds_calibrate_bwd, fds_calibrate_op

    s, t = dirfast.fds_scale_shift(*make_stats(5, 6))
    z, idx = make_features(12, 6, 5)
    z.requires_grad_()
    for path in ["cpu_torch"] + (["cpu"] if _ext.available() else []):
        torch.library.opcheck(fds_calibrate_op, (z, idx, s, t, path))
        torch.library.opcheck(fds_calibrate_bwd, (z.detach(), idx, s, path))


def test_scale_shift_no_grad_to_tables_on_fast_paths():
    s, t = dirfast.fds_scale_shift(*make_stats(5, 6))
    s, t = s.clone().requires_grad_(), t.clone().requires_grad_()
    z, idx = make_features(12, 6, 5)
    x = z.clone().requires_grad_()
    dirfast.fds_calibrate(x, idx, s, t, backend="auto").sum().backward()
    assert x.grad is not None and s.grad is None and t.grad is None


# ------------------------------------------------------------------------------------------------
# bad input


def _ok():
    s, t = dirfast.fds_scale_shift(*make_stats(4, 6, torch.float32))
    z, idx = make_features(10, 6, 4, torch.float32)
    return z, idx, s, t


def test_errors():
    z, idx, s, t = _ok()
    f = dirfast.fds_calibrate
    with pytest.raises(ValueError, match="rank 2"):
        f(z[0], idx[:1], s, t)
    with pytest.raises(ValueError, match="flatten"):
        f(z.reshape(10, 2, 3), idx, s, t)
    with pytest.raises(ValueError, match="D = 5"):
        f(z[:, :5], idx, s, t)
    with pytest.raises(ValueError, match="shift must have the shape"):
        f(z, idx, s, t[:3])
    with pytest.raises(TypeError, match="int64 or int32"):
        f(z, idx.float(), s, t)
    with pytest.raises(ValueError, match=r"shape \[N\]"):
        f(z, idx[:5], s, t)
    with pytest.raises(TypeError, match="floating"):
        f(z.long(), idx, s, t)
    bad = idx.clone()
    bad[3] = 4
    with pytest.raises(ValueError, match="must be < B = 4"):
        f(z, bad, s, t, validate=True)
    # validation off: out-of-range bins are identity rows
    y = f(z, bad, s, t, validate=False)
    assert torch.equal(y[3], z[3])
    zn = z.clone()
    zn[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        f(zn, idx, s, t, validate=True)
    assert torch.isnan(f(zn, idx, s, t, validate=False)[0, 0])  # NaN propagates without validation
    stats = make_stats(4, 6)
    g = dirfast.fds_scale_shift
    with pytest.raises(ValueError, match="lo <= hi"):
        g(*stats, (10.0, 0.1))
    with pytest.raises(ValueError, match="clip"):
        g(*stats, (0.0, 10.0))
    with pytest.raises(ValueError, match="clip"):
        g(*stats, (-1.0, 10.0))
    with pytest.raises(TypeError, match="pair"):
        g(*stats, 10.0)
    with pytest.raises(ValueError, match="variant"):
        g(*stats, variant="paper")
    with pytest.raises(ValueError, match="eps"):
        g(*stats, eps=-1.0)
    with pytest.raises(ValueError, match="smoothed_var must have the shape"):
        g(*stats[:3], stats[3][:2])
    with pytest.raises(ValueError, match=r"\[B, D\]"):
        g(stats[0][0], *stats[1:])


def test_cpu_backend_without_extension_raises(monkeypatch):
    z, idx, s, t = _ok()
    monkeypatch.setitem(sys.modules, "dirfast._C", None)
    with pytest.raises(RuntimeError, match="pip install --no-build-isolation"):
        dirfast.fds_calibrate(z, idx, s, t, backend="cpu")
    y = dirfast.fds_calibrate(z, idx, s, t, backend="auto")  # falls back to vectorised PyTorch
    assert torch.equal(y, fds_calibrate_ref(z, idx, s, t))


def test_triton_on_cpu_without_interpreter_raises():
    pytest.importorskip("triton")
    z, idx, s, t = _ok()
    with pytest.raises(RuntimeError, match="TRITON_INTERPRET"):
        dirfast.fds_calibrate(z, idx, s, t, backend="triton")


def test_ext_entry_point_rejects_bad_arguments():
    c = _ext.get()
    if c is None:
        pytest.skip("dirfast._C not built")
    z = torch.zeros(4, 3)
    with pytest.raises(ValueError, match="dtype"):
        c.fds_calibrate("float16", "int64", z.data_ptr(), 0, 0, 0, 0, 4, 3, 1)
    with pytest.raises(ValueError, match="non-null"):
        c.fds_calibrate("float32", "int64", z.data_ptr(), 0, z.data_ptr(), 0, 0, 4, 3, 1)
    with pytest.raises(ValueError, match=">= 0"):
        c.fds_calibrate("float32", "int64", 0, 0, 0, 0, 0, -1, 3, 1)


# ------------------------------------------------------------------------------------------------
# torch.compile (CPU): model forward + fds_calibrate + loss in one graph


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU()), torch.nn.Linear(16, 1)


def test_compile_fullgraph_forward_and_backward():
    torch._dynamo.reset()
    enc, head = _model()
    s, t = dirfast.fds_scale_shift(*make_stats(5, 16, torch.float32))
    x, y = torch.randn(37, 6), torch.randn(37, 1)
    idx = torch.randint(-1, 5, (37,))
    params = list(enc.parameters()) + list(head.parameters())

    def step(x, y, idx):
        feats = dirfast.fds_calibrate(enc(x), idx, s, t, validate=False)
        return dirfast.mse(head(feats), y, validate=False)

    graphs = []

    def record(gm, example_inputs):
        graphs.append(str(gm.graph))
        return gm.forward

    compiled = torch.compile(step, fullgraph=True, backend=record)
    got = compiled(x, y, idx)
    got.backward()
    assert graphs and "dirfast.fds_calibrate" in graphs[0]
    g_compiled = [p.grad.clone() for p in params]
    for p in params:
        p.grad = None
    want = step(x, y, idx)
    want.backward()
    assert_close_verbose(got.detach(), want.detach(), tag="compiled fds")
    for a, p in zip(g_compiled, params):
        assert_close_verbose(a, p.grad, tag="compiled fds grad", scale="max")


def test_compile_inductor_training_step():
    torch._dynamo.reset()
    enc, head = _model()
    s, t = dirfast.fds_scale_shift(*make_stats(5, 16, torch.float32))
    x, y = torch.randn(64, 6), torch.randn(64, 1)
    idx = torch.randint(-1, 5, (64,))
    params = list(enc.parameters()) + list(head.parameters())

    def train_step(x, y, idx):
        loss = dirfast.mse(head(dirfast.fds_calibrate(enc(x), idx, s, t, validate=False)), y,
                           validate=False)
        loss.backward()
        return loss.detach()

    with torch._dynamo.config.patch(trace_autograd_ops=True):
        l0 = torch.compile(train_step, fullgraph=True)(x, y, idx)
        grads = [p.grad.clone() for p in params]
    for p in params:
        p.grad = None
    ref = dirfast.mse(head(dirfast.fds_calibrate(enc(x), idx, s, t, backend="reference")), y,
                      backend="reference")
    ref.backward()
    assert_close_verbose(l0, ref.detach(), tag="inductor fds loss")
    for a, p in zip(grads, params):
        assert_close_verbose(a, p.grad, tag="inductor fds grad", scale="max")


# ------------------------------------------------------------------------------------------------
# the CUDA boundary (fake CUDA tensors, no GPU): the same errors as on CPU, devices named

_I64 = torch.int64
_BAD_CAL = {
    "features 1-D": lambda T: dirfast.fds_calibrate(T(6), T(6, dtype=_I64), T(4, 6), T(4, 6)),
    "features 3-D": lambda T: dirfast.fds_calibrate(T(10, 2, 3), T(10, dtype=_I64), T(4, 6), T(4, 6)),
    "features int": lambda T: dirfast.fds_calibrate(T(10, 6, dtype=_I64), T(10, dtype=_I64), T(4, 6),
                                                    T(4, 6)),
    "D mismatch": lambda T: dirfast.fds_calibrate(T(10, 5), T(10, dtype=_I64), T(4, 6), T(4, 6)),
    "shift shape": lambda T: dirfast.fds_calibrate(T(10, 6), T(10, dtype=_I64), T(4, 6), T(3, 6)),
    "scale 1-D": lambda T: dirfast.fds_calibrate(T(10, 6), T(10, dtype=_I64), T(6), T(4, 6)),
    "bin_idx float": lambda T: dirfast.fds_calibrate(T(10, 6), T(10), T(4, 6), T(4, 6)),
    "bin_idx length": lambda T: dirfast.fds_calibrate(T(10, 6), T(5, dtype=_I64), T(4, 6), T(4, 6)),
    "scale int": lambda T: dirfast.fds_calibrate(T(10, 6), T(10, dtype=_I64), T(4, 6, dtype=_I64),
                                                 T(4, 6)),
    "backend": lambda T: dirfast.fds_calibrate(T(10, 6), T(10, dtype=_I64), T(4, 6), T(4, 6),
                                               backend="gpu"),
}


@pytest.mark.parametrize("case", sorted(_BAD_CAL))
def test_cuda_boundary_same_errors_as_cpu(monkeypatch, case):
    from _launch_stubs import same_error_on_cuda

    same_error_on_cuda(monkeypatch, _BAD_CAL[case])


@pytest.mark.parametrize("other", ["cuda:0", "cpu"])
@pytest.mark.parametrize("arg", ["bin_idx", "scale", "shift"])
def test_cuda_device_mismatch_names_both_devices(monkeypatch, arg, other):
    from _launch_stubs import device_mismatch_error

    def case(T):
        dev = lambda name: other if name == arg else "cuda:1"
        return dirfast.fds_calibrate(T(10, 6), T(10, dtype=_I64, device=dev("bin_idx")),
                                     T(4, 6, device=dev("scale")), T(4, 6, device=dev("shift")))

    msg = device_mismatch_error(monkeypatch, case)
    assert "features on cuda:1" in msg and f"{arg} on {other}" in msg, msg
