"""Convergence harness (Liger-Kernel style): train a tiny regressor a few dozen steps through
``backend="reference"`` and through a fast path; per-step losses must agree within rtol 1e-5 and the
final parameters within atol 1e-5 (fp32).

Every op adds a case to ``CASES``: a function ``(pred [B,1], target [B,1], weight [B,1], backend) -> loss``.
"""

import torch

import dirfast
from dirfast.testing import assert_close_verbose

STEPS = 40
BATCH = 96


def imbalanced_data(n=768, d=8, seed=0):
    """Synthetic imbalanced regression: targets concentrated at low values with a long right tail,
    inverse-frequency (sqrt) weights over 1-wide bins, the LDS-free SQINV recipe."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    target = -2.0 * torch.log(torch.rand(n, 1, generator=g))  # Exponential, mean 2
    target = target + 0.3 * x[:, :1]
    bins = target.clamp(0, 19).floor().long().reshape(-1)
    counts = torch.bincount(bins, minlength=20).float()
    w = (1 / counts.clamp_min(1).sqrt())[bins].reshape(-1, 1)
    w = w * n / w.sum()
    return x, target, w


CASES = {
    "mse": lambda p, t, w, b: dirfast.mse(p, t, w, backend=b, validate=False),
    "l1": lambda p, t, w, b: dirfast.l1(p, t, w, backend=b, validate=False),
    "focal_l1": lambda p, t, w, b: dirfast.focal_l1(p, t, w, backend=b, validate=False),
    "focal_mse": lambda p, t, w, b: dirfast.focal_mse(p, t, w, backend=b, validate=False),
    "huber": lambda p, t, w, b: dirfast.huber(p, t, w, backend=b, validate=False),
}


def _fds_calibrate_case():
    """FDS calibration in the training loop: the prediction is spread into D=4 feature dims by a fixed
    map, calibrated per target bin with fixed ``fds_scale_shift`` tables (from synthetic statistics
    with a zero-variance dim and an all-zero-variance bin; tail rows get bin -1, i.e. uncalibrated),
    then read out by a fixed linear head into a weighted MSE. Gradients flow through the calibration."""
    g = torch.Generator().manual_seed(1)
    nb, d = 20, 4
    mean, var = torch.randn(nb, d, generator=g), torch.rand(nb, d, generator=g) + 0.2
    var[3, 1] = 0.0
    var[5] = 0.0
    smean = mean + 0.3 * torch.randn(nb, d, generator=g)
    svar = var * torch.exp(torch.randn(nb, d, generator=g))
    scale, shift = dirfast.fds_scale_shift(mean, var, smean, svar)
    spread = 1.0 + 0.5 * torch.rand(1, d, generator=g)
    head = 1.0 / (d * spread.reshape(d, 1))

    def case(p, t, w, b):
        idx = t.reshape(-1).clamp_min(0).floor().long()
        idx = torch.where(idx < 12, idx, torch.full_like(idx, -1))
        z = dirfast.fds_calibrate(p * spread, idx, scale, shift, backend=b, validate=False)
        return dirfast.mse(z @ head, t, w, backend=b, validate=False)

    return case


CASES["fds_calibrate"] = _fds_calibrate_case()


def _conr_case():
    """ConR on top of a weighted MSE: the prediction is spread into D=16 feature dims by a fixed
    map plus fixed per-sample noise-free offsets (from the target's bin), labels = targets, the
    (detached) predictions pick the negatives. Runs the streaming path on CPU and the flash-style
    kernels under backend="triton"."""
    g = torch.Generator().manual_seed(2)
    d = 16
    spread = torch.randn(1, d, generator=g)
    table = torch.randn(20, d, generator=g)

    def case(p, t, w, b):
        idx = t.reshape(-1).clamp(0, 19).floor().long()
        z = p * spread + table[idx]
        reg = dirfast.conr_loss(z, t.reshape(-1), p.detach().reshape(-1), w.reshape(-1), w=0.5,
                                temperature=0.2, backend=b, validate=False)
        return dirfast.mse(p, t, w, backend=b, validate=False) + 0.1 * reg

    return case


CASES["conr"] = _conr_case()


def _dist_loss_case():
    """Dist Loss (λ = 0.5, by-rank weights) with quantile pseudo-labels of the training targets'
    KDE on a 0.25 grid; eps = 2 in target units (pooling across gaps ≥ 0.5), so the heavy right tail of the predictions makes the
    PAV pool in some steps (soft sort ≠ hard sort)."""
    _, target, _ = imbalanced_data()
    q = dirfast.pseudo_labels(target, BATCH, min_label=-2.0, max_label=16.0, step=0.25,
                              dtype=torch.float32)

    def case(p, t, w, b):
        return dirfast.dist_loss(p, t, q, w, lam=0.5, eps=2.0, backend=b, validate=False)

    return case


CASES["dist_loss"] = _dist_loss_case()


def train(case: str, backend: str, steps: int = STEPS):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    x, target, w = imbalanced_data()
    losses = []
    for step in range(steps):
        i = (torch.arange(BATCH) + step * BATCH) % x.shape[0]
        opt.zero_grad()
        loss = CASES[case](model(x[i]), target[i], w[i], backend)
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    return torch.stack(losses), [p.detach().clone() for p in model.parameters()]


def assert_same_training(case: str, backend: str):
    ref_losses, ref_params = train(case, "reference")
    losses, params = train(case, backend)
    assert ref_losses[-1] < ref_losses[:5].mean(), f"{case}: reference run did not learn"
    assert_close_verbose(losses, ref_losses, tag=f"convergence {case} {backend} losses", rtol=1e-5)
    for k, (a, b) in enumerate(zip(params, ref_params)):
        assert_close_verbose(a, b, tag=f"convergence {case} {backend} param {k}", rtol=0.0, atol=1e-5)
