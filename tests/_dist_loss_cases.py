"""Shared inputs and checks for Dist Loss (CPU tier and interpreter tier)."""

import numpy as np
import torch

import dirfast
from dirfast.data import agedb_dir_ages
from dirfast.reference import dist_loss_ref
from dirfast.testing import assert_close_verbose, assert_low_precision_close

F64 = torch.float64
LOSSES = ["l1", "l2", "huber", "focal_l1"]
WEIGHTINGS = ["by_rank", "official", "none"]

_AGES = None


def agedb_train():
    global _AGES
    if _AGES is None:
        _AGES = agedb_dir_ages()["train"]
    return _AGES.clone()


def batch(n, *, seed=0, heavy=False, weighted=True, ties=False, scale=15.0, shape2d=False):
    """Age-like predictions ``N(45, 15)`` (``heavy``: Student-t₃ tails, so PAV pools), targets,
    weights in [0.5, 1.5), pseudo-labels from the AgeDB KDE (quantile method). All fp64."""
    g = torch.Generator().manual_seed(seed)
    if heavy:
        z = torch.randn(n, generator=g, dtype=F64)
        chi = sum(torch.randn(n, generator=g, dtype=F64) ** 2 for _ in range(3)) / 3
        p = 45 + scale * z / chi.sqrt()
    else:
        p = 45 + scale * torch.randn(n, generator=g, dtype=F64)
    if ties:
        p[1::4] = p[::4][: p[1::4].numel()]
    y = (45 + 15 * torch.randn(n, generator=g, dtype=F64)).round()
    w = torch.rand(n, generator=g, dtype=F64) + 0.5 if weighted else None
    q = dirfast.pseudo_labels(agedb_train(), n)
    shape = (n, 1) if shape2d else (n,)
    return p.reshape(shape), y.reshape(shape), q, None if w is None else w.reshape(shape)


def pooled(p, eps):
    x, _ = torch.sort(p.reshape(-1).double())
    return bool(((x[1:] - x[:-1]) >= 1.0 / eps).any()) if x.numel() > 1 else False


def run(backend, p, y, q, w, go=1.7, **kw):
    x = p.detach().clone().requires_grad_()
    out = dirfast.dist_loss(x, y, q, w, backend=backend, **kw)
    (g,) = torch.autograd.grad(out, x, torch.full_like(out, go))
    return out.detach(), g


def check_against_reference(backend, n, dtype, loss, dist_weighting, reduction="mean", *, eps=0.1,
                            lam=1.0, **make):
    """The fast path vs the fp64 reference (fp64/fp32), or vs the reference run in the same low
    precision (fp16/bf16: ≤ 2× its error + atol)."""
    p, y, q, w = batch(n, **make)
    kw = dict(loss=loss, dist_weighting=dist_weighting, reduction=reduction, eps=eps, lam=lam)
    cast = lambda t: None if t is None else t.to(dtype)
    out, g = run(backend, cast(p), cast(y), q, cast(w), **kw)
    r = lambda t: None if t is None else t.to(dtype).to(F64)
    want, gw = run("reference", r(p), r(y), q, r(w), **kw)
    tag = f"{backend} n={n} {dtype} {loss} {dist_weighting} {reduction} eps={eps} {make}"
    if dtype in (F64, torch.float32):
        assert out.dtype == dtype and g.dtype == dtype
        assert_close_verbose(out, want.to(dtype), tag=tag + " loss")
        assert_close_verbose(g, gw.to(dtype), tag=tag + " grad", scale="max")
    else:
        base, gb = run("reference", cast(p), cast(y), q, cast(w), **kw)
        assert_low_precision_close(out, base, want, tag=tag + " loss")
        assert_low_precision_close(g, gb, gw, tag=tag + " grad")


def check_gradcheck(backend, loss, dist_weighting, eps):
    """fp64 gradcheck away from kinks: predictions spaced ≥ 0.05 apart and ≥ 1e-3 from every gap
    = 1/eps; |ŝ − q| and |p − y| ≥ 1e-3 from 0 and from the Huber β."""
    n = 10
    g = torch.Generator().manual_seed(3)
    p = torch.linspace(0, 9, n, dtype=F64)[torch.randperm(n, generator=g)] * (2.3 if eps >= 0.5 else 1.0)
    p = p + 0.013 * torch.rand(n, generator=g, dtype=F64)
    y = p + 0.37 + torch.rand(n, generator=g, dtype=F64)
    q = torch.linspace(-3.11, 12.07, n, dtype=F64)
    w = torch.rand(n, generator=g, dtype=F64) + 0.5
    x = p.clone().requires_grad_()
    fn = lambda x: dirfast.dist_loss(x, y, q, w, loss=loss, dist_weighting=dist_weighting, eps=eps,
                                     backend=backend)
    assert torch.autograd.gradcheck(fn, (x,), eps=1e-6, atol=1e-8, rtol=1e-6)


# focal_l1 precision: the modulator 2σ(β|d|) − 1 is computed as tanh(β|d|/2)

#: (preds, targets, pseudo-labels) batches, no pooling (gaps < 1/eps = 10): a tiny-|d| batch (fp64:
#: both terms ~2.3e-53) and one with |d| = 1e-3, 1.5e-6, 0.3, 2 (both branches of the kernels' tanh)
FOCAL_BATCHES = {
    torch.float32: [([0.5, 1.0, 2.0, 6.0], [0.499, 1.0 + 1.5e-6, 1.7, 4.0], [0.3, 0.999, 2.0 - 1.5e-6, 6.3])],
    F64: [([3e-26], [1.5e-26], [1.5e-26]),
          ([0.5, 1.0, 2.0, 6.0], [0.499, 1.0 + 1.5e-6, 1.7, 4.0], [0.3, 0.999, 2.0 - 1.5e-6, 6.3])],
}


def _focal_l1_truth(d, beta, gamma):
    import mpmath as mp

    a = abs(d)
    if a == 0:
        return mp.mpf(0), mp.mpf(0)
    c = mp.mpf(beta) / 2
    m = mp.tanh(c * a)
    return a * m ** gamma, mp.sign(d) * (m ** gamma + a * gamma * m ** (gamma - 1) * c * mp.sech(c * a) ** 2)


def check_focal_precision(backend, dtype, gammas=(1.0, 2.0)):
    """``reduction="sum"`` loss and gradient of focal_l1 Dist Loss (λ = 1, no weights, no pooling)
    within 1e-5 (fp32) / 1e-10 (fp64) relative of the exact value (mpmath, from the inputs' exact
    values: ``d = x_i − q_i`` and ``p_k − y_k`` are exact differences here)."""
    import mpmath as mp

    rtol = 1e-5 if dtype == torch.float32 else 1e-10
    for p, y, q in FOCAL_BATCHES[dtype]:
        p, y, q = (torch.tensor(v, dtype=F64).to(dtype) for v in (p, y, q))
        for gamma in gammas:
            x = p.clone().requires_grad_()
            out = dirfast.dist_loss(x, y, q, loss="focal_l1", gamma=gamma, reduction="sum",
                                    backend=backend)
            (g,) = torch.autograd.grad(out, x)
            with mp.workdps(50):
                P, Y, Q = ([mp.mpf(v) for v in t.tolist()] for t in (p, y, q))
                order = sorted(range(len(P)), key=lambda k: P[k])
                total, grad = mp.mpf(0), [mp.mpf(0)] * len(P)
                for i, k in enumerate(order):
                    ld, gd = _focal_l1_truth(P[k] - Q[i], 0.2, gamma)
                    ls, gs = _focal_l1_truth(P[k] - Y[k], 0.2, gamma)
                    total += ld + ls
                    grad[k] = gd + gs
            tag = f"{backend} {dtype} γ={gamma} p={p.tolist()}"
            assert abs(out.item() - float(total)) <= rtol * float(total), (tag, out.item(), float(total))
            for k in range(len(P)):
                want = float(grad[k])
                assert abs(g[k].item() - want) <= rtol * abs(want), (tag, k, g[k].item(), want)


__all__ = ["F64", "check_focal_precision", "LOSSES", "WEIGHTINGS", "agedb_train", "batch", "pooled", "run",
           "check_against_reference", "check_gradcheck", "dist_loss_ref", "np"]
