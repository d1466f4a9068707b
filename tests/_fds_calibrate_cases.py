"""Shared cases and checks for FDS calibration, used by the CPU tier and the interpreter tier."""

import torch

import dirfast
from dirfast.reference.fds_calibrate import fds_calibrate_ref, fds_calibrate_stats_ref
from dirfast.testing import assert_close_verbose, assert_low_precision_close


def make_stats(b, d, dtype=torch.float64, *, seed=0, degenerate=True):
    """[B, D] statistics with variance ratios on both sides of the (0.1, 10) clip; with ``degenerate``
    (and room for it) some zero-variance dims, one all-zero-variance bin and one bin whose variances
    sum to < 1e-10 (both identity bins in the official code)."""
    g = torch.Generator().manual_seed(seed)
    mean = torch.randn(b, d, generator=g, dtype=torch.float64) * 2 + 0.5
    var = torch.rand(b, d, generator=g, dtype=torch.float64) * 2 + 0.05
    smean = mean + torch.randn(b, d, generator=g, dtype=torch.float64) * 0.5
    svar = var * torch.exp(torch.randn(b, d, generator=g, dtype=torch.float64) * 1.5)
    svar[0, 0] = var[0, 0] * 50.0   # ratio above the clip's hi
    svar[-1, -1] = var[-1, -1] * 0.01  # ratio below lo
    if degenerate and b >= 4:
        var[1, ::3] = 0.0          # zero-variance dims: identity for those dims
        var[2] = 0.0               # all-zero-variance bin: identity
        var[3] = 1e-12 / max(d, 1)  # sum < 1e-10: identity
    return tuple(t.to(dtype) for t in (mean, var, smean, svar))


def make_features(n, d, b, dtype=torch.float64, *, seed=1, identity_rows=True):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, d, generator=g, dtype=torch.float64) * 3 + 1
    idx = torch.randint(0, b, (n,), generator=g)
    if identity_rows:
        idx[::5] = -1
    return z.to(dtype), idx


def grad_oracle(go, idx, scale):
    valid = ((idx >= 0) & (idx < scale.shape[0]))[:, None]
    return torch.where(valid, go.double() * scale.double()[idx.clamp(0, scale.shape[0] - 1)], go.double())


def run(backend, z, idx, scale, shift, go, **kw):
    x = z.clone().requires_grad_()
    y = dirfast.fds_calibrate(x, idx, scale, shift, backend=backend, **kw)
    (gx,) = torch.autograd.grad(y, x, go)
    return y.detach(), gx


def check_against_reference(backend, n, d, dtype, *, b=6, variant="default", idx_dtype=torch.int64,
                            seed=0):
    """Fast path (fds_scale_shift + fds_calibrate) against the official formula in fp64 (values) and
    ``grad_output·scale[bin]`` (gradients), with a non-trivial grad_output.

    Values and gradients are compared relative to their largest magnitude (the map is affine:
    ``z·scale`` and ``shift`` cancel, so near-zero outputs carry the rounding of the large terms)."""
    stat_dtype = torch.float64 if dtype == torch.float64 else torch.float32  # the module's buffers
    stats = make_stats(b, d, stat_dtype, seed=seed)
    z, idx = make_features(n, d, b, dtype, seed=seed + 1)
    idx = idx.to(idx_dtype)
    go = (torch.randn(n, d, generator=torch.Generator().manual_seed(seed + 2), dtype=torch.float64)
          * 1.5).to(dtype)
    scale, shift = dirfast.fds_scale_shift(*stats, variant=variant)
    assert scale.dtype == shift.dtype == stat_dtype
    y, gx = run(backend, z, idx, scale, shift, go)
    assert y.dtype == dtype and gx.dtype == dtype and y.shape == (n, d) and y.is_contiguous()
    oracle = fds_calibrate_stats_ref(z.double(), idx, *(t.double() for t in stats), variant=variant)
    g_oracle = grad_oracle(go, idx, scale)
    tag = f"{backend} {dtype} n={n} d={d} {variant}"
    if dtype in (torch.float64, torch.float32):
        assert_close_verbose(y, oracle, tag=tag, scale="max")
        assert_close_verbose(gx, g_oracle, tag=tag + " grad", scale="max")
    else:
        base_y, base_g = run("reference", z, idx, scale, shift, go)
        assert_low_precision_close(y, base_y, oracle, tag=tag)
        assert_low_precision_close(gx, base_g, g_oracle, tag=tag + " grad")
    # identity rows are returned bit for bit
    ident = idx < 0
    assert torch.equal(y[ident], z[ident]), tag
    return y


def check_gradcheck(backend):
    stats = make_stats(5, 3, seed=4)
    z, idx = make_features(9, 3, 5, seed=5)
    scale, shift = dirfast.fds_scale_shift(*stats)
    x = z.clone().requires_grad_()
    assert torch.autograd.gradcheck(
        lambda t: dirfast.fds_calibrate(t, idx, scale, shift, backend=backend), (x,), eps=1e-6, atol=1e-8)
    assert torch.autograd.gradgradcheck(
        lambda t: dirfast.fds_calibrate(t, idx, scale, shift, backend=backend), (x,), eps=1e-6, atol=1e-8)


def check_non_contiguous(backend, dtype=torch.float32):
    stats = make_stats(4, 9, seed=6)
    scale, shift = dirfast.fds_scale_shift(*stats)
    g = torch.Generator().manual_seed(7)
    base = torch.randn(9, 40, generator=g, dtype=torch.float64).to(dtype)
    idx = torch.randint(-1, 4, (20,), generator=g)
    for z in (base.t()[::2], base.t()[1::2]):  # [20, 9], strides (2, 40)
        assert not z.is_contiguous()
        go = torch.randn(z.shape, generator=g, dtype=torch.float64).to(dtype).t().contiguous().t()
        y, gx = run(backend, z, idx, scale, shift, go)
        want, gwant = run("reference", z.contiguous(), idx, scale, shift, go.contiguous())
        assert_close_verbose(y, want, tag=f"{backend} non-contiguous", scale="max")
        assert_close_verbose(gx, gwant, tag=f"{backend} non-contiguous grad", scale="max")


def check_identity_bits(backend):
    """Rows with bin -1 (or >= B, validation off) come back bit for bit: -0.0, NaN and inf included."""
    stats = make_stats(3, 5, torch.float32, seed=8, degenerate=False)
    scale, shift = dirfast.fds_scale_shift(*stats)
    z = torch.tensor([[-0.0, float("nan"), float("inf"), -float("inf"), 1e-40]] * 4, dtype=torch.float32)
    idx = torch.tensor([-1, 3, 17, -5])
    y = dirfast.fds_calibrate(z, idx, scale, shift, backend=backend, validate=False)
    assert torch.equal(y.view(torch.int32), z.view(torch.int32))


def check_not_mutated(backend, dtype=torch.float32):
    stats = make_stats(6, 16, seed=9)
    scale, shift = dirfast.fds_scale_shift(*stats)
    z, idx = make_features(33, 16, 6, dtype)
    before = [t.clone() for t in (z, idx, scale, shift)]
    x = z.clone().requires_grad_()
    y = dirfast.fds_calibrate(x, idx, scale, shift, backend=backend)
    y.backward(torch.ones_like(y))
    for a, b in zip((x.detach(), idx, scale, shift), before):
        assert torch.equal(a, b)
    assert y.data_ptr() != x.data_ptr() and y.untyped_storage().data_ptr() != x.untyped_storage().data_ptr()
    # on a ReLU output under autograd (the official in-place write would need a copy here)
    h = torch.randn(33, 16, dtype=dtype, requires_grad=True)
    r = torch.relu(h)
    out = dirfast.fds_calibrate(r, idx, scale, shift, backend=backend)
    out.sum().backward()
    want = fds_calibrate_ref(torch.relu(h.detach()), idx, scale, shift)
    assert_close_verbose(out.detach(), want, tag=f"{backend} relu", scale="max")
    assert h.grad is not None and torch.isfinite(h.grad).all()
