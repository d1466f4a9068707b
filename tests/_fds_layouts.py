"""Feature layouts the FDS ops (``fds_bin_stats``, ``fds_calibrate``) must take: expanded (row or
column stride 0), unfolded (rows that overlap), transposed, sliced, column stride 2 — shared by the CPU
tier and the interpreter tier."""

import torch


def layouts(n, d, dtype=torch.float32, *, seed=0, requires_grad=False):
    """``(name, view, base)`` triples: ``view`` is an ``[n, d]`` view of the fresh tensor ``base`` (a
    leaf that requires grad when asked; gradients reach it through the view)."""
    g = torch.Generator().manual_seed(seed)

    def r(*shape):
        t = (torch.randn(*shape, generator=g, dtype=torch.float64) * 3 + 5).to(dtype)
        return t.requires_grad_(requires_grad)

    out = []
    for name, base, make in [
        ("expanded rows (row stride 0)", r(1, d), lambda t: t.expand(n, d)),
        ("expanded columns (column stride 0)", r(n, 1), lambda t: t.expand(n, d)),
        ("expanded scalar (strides 0, 0)", r(1, 1), lambda t: t.expand(n, d)),
        ("unfold step 1 (rows overlap, stride 1)", r(n + d - 1), lambda t: t.unfold(0, d, 1)),
        ("unfold step 2 (rows overlap, stride 2)", r(2 * n + d), lambda t: t.unfold(0, d, 2)[:n]),
        ("as_strided (1, 2) (rows overlap, column stride 2)", r(n + 2 * d),
         lambda t: t.as_strided((n, d), (1, 2))),
        ("transposed", r(d, n), lambda t: t.t()),
        ("sliced rows and columns", r(2 * n, d + 7), lambda t: t[1::2, 3:3 + d]),
        ("column stride 2", r(n, 2 * d), lambda t: t[:, ::2]),
    ]:
        v = make(base)
        assert v.shape == (n, d), (name, v.shape)
        out.append((name, v, base))
    return out


def check_calibrate_layouts(backend, dtype=torch.float32, sizes=((1, 1), (7, 1), (9, 5), (300, 40))):
    """``fds_calibrate`` on every layout: a contiguous ``[N, D]`` result in the features' dtype equal to
    the reference on the contiguous copy (bit for bit: one multiply and one add per element on every
    path), and the gradient reaching the view equal to ``grad_output·scale[bin]`` (identity rows:
    ``grad_output``). Also ``B = 0`` tables (every row an identity row)."""
    import dirfast
    from dirfast.reference.fds_calibrate import fds_calibrate_ref
    from dirfast.testing import assert_close_verbose

    acc = torch.float64 if dtype == torch.float64 else torch.float32
    for n, d in sizes:
        g = torch.Generator().manual_seed(10 * n + d)
        scale = (torch.rand(4, d, generator=g, dtype=torch.float64) * 2 + 0.3).to(acc)
        shift = torch.randn(4, d, generator=g, dtype=torch.float64).to(acc)
        idx = torch.randint(-1, 4, (n,), generator=g)
        go = torch.randn(n, d, generator=g, dtype=torch.float64).to(dtype)
        for name, v, base in layouts(n, d, dtype, requires_grad=True):
            tag = f"{backend} {dtype} {name} {n}x{d}"
            y = dirfast.fds_calibrate(v, idx, scale, shift, backend=backend)
            assert y.shape == (n, d) and y.dtype == dtype and y.is_contiguous(), (tag, y.stride())
            want = fds_calibrate_ref(v.detach().contiguous(), idx, scale, shift)
            assert_close_verbose(y.detach(), want, tag=tag, scale="max")
            (gv,) = torch.autograd.grad(y, v, go)
            valid = (idx >= 0)[:, None]
            gwant = torch.where(valid, go.to(acc) * scale[idx.clamp(min=0)], go.to(acc)).to(dtype)
            assert_close_verbose(gv, gwant, tag=f"{tag} grad", scale="max")
            empty = dirfast.fds_calibrate(v.detach(), idx, scale[:0], shift[:0], backend=backend,
                                          validate=False)
            assert empty.is_contiguous() and torch.equal(empty, v.detach().contiguous()), f"{tag} B=0"
