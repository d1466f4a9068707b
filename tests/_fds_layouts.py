"""Feature layouts the FDS ops (``fds_bin_stats``, ``fds_calibrate``) must take: expanded (row or
column stride 0), unfolded (rows that overlap), transposed, sliced, column stride 2 — shared by the CPU
tier and the interpreter tier (issue 13 items 1 and 8)."""

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
