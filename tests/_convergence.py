"""Convergence harness (Liger-Kernel style): train a tiny regressor a few dozen steps through
``backend="reference"`` and through a fast path; per-step losses must agree within rtol 1e-5 and the
final parameters within atol 1e-5 (fp32).

Every op adds a case to ``CASES``: a function ``(pred [B,1], target [B,1], weight [B,1], backend) -> loss``,
or a :class:`Stateful` case whose ``make()`` returns such a function together with its own trainable
parameters (e.g. Balanced MSE's learnable noise σ), created fresh for every run, trained by the same
optimizer and compared like the model's parameters.
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


class Stateful:
    """A case with trainable state of its own: ``make()`` → ``(fn, params)``, fresh per run. Its loss
    scale may be learned too (``(2σ²).detach()·ℓ`` with a learnable σ), so "the reference run learned"
    is checked on the model (its plain MSE on the first 5 batches drops below 0.8× the untrained
    model's) and on the case's parameters (they moved), not on the loss curve."""

    def __init__(self, make, lr: float = 0.02):
        self.make, self.lr = make, lr  # lr: the case's own optimizer param group


# ------------------------------------------------------------------------------------------------
# Balanced MSE (BMC, GAI, BNI) and RankSim

#: the noise scale of the Balanced-MSE cases (targets: Exponential(mean 2) + 0.3·N(0, 1))
BMSE_SIGMA = 1.0


def _bmse_prior():
    """GAI's GMM (K = 4, dirfast.fit_gmm) and BNI's bucket prior (0.5-wide bins on [-2, 18), counts
    of the training targets) from the harness's training targets."""
    _, target, _ = imbalanced_data()
    gmm = dirfast.fit_gmm(target, K=4, seed=0)
    gmm = dirfast.GMM(*(t.float() for t in gmm))
    centers, weights = dirfast.bni_prior(target, dirfast.Bins(-2.0, 0.5, 40))
    return gmm, centers.float(), weights.float()


def _bmc_learnable_case():
    """BMC as the regression loss (no sample weights, as officially) with a **learnable** σ
    (``noise_sigma=`` a parameter, init 1.0, trained with the model): covers ∂L/∂σ of the
    flash-cross-entropy path. Its loss scale ``(2σ²).detach()`` moves with σ: "learned" is checked
    as for every :class:`Stateful` case."""

    def make():
        sigma = torch.nn.Parameter(torch.tensor(BMSE_SIGMA))

        def case(p, t, w, b):
            return dirfast.bmc_loss(p, t, noise_sigma=sigma, backend=b, validate=False)

        return case, [sigma]

    return Stateful(make, lr=1e-3)  # σ: its own param group (official: its own lr)


def _bmse_fixed_case(kind: str):
    """GAI / BNI as the regression loss, σ fixed at 1 (the official ``--fix_noise_sigma``; the
    learnable-σ path is the BMC case's), priors from :func:`_bmse_prior`."""
    gmm, centers, weights = _bmse_prior()

    def case(p, t, w, b):
        if kind == "gai":
            return dirfast.gai_loss(p, t, gmm, noise_sigma=BMSE_SIGMA, backend=b, validate=False)
        return dirfast.bni_loss(p, t, None, centers, weights, noise_sigma=BMSE_SIGMA, backend=b,
                                validate=False)

    return case


def _ranksim_case(rank: str):
    """MSE + γ·RankSim (γ = 1, λ = 2, ``variant="official"``: rows summed, diagonal included) on
    D = 16 features built as in the ConR case; labels = the targets rounded to 0.5 (ties: the
    unique-label subset is active, ~25 of 96 rows, ``max_unique=64``). ``rank="blackbox"`` (the
    Vlastelica backward) or ``"soft"`` (``dirfast.soft_rank``, ε 0.01). RankSim has no Triton kernel:
    under ``backend="triton"`` (the interpreter twin) its batched PyTorch path runs, the MSE the kernel.

    The blackbox case runs RankSim on fp64 features: its ranks are discrete, and in fp32 the
    reference and the fast path (same formula, different op order) round two cosines of a row
    differently often enough that one near-tie flips within 40 steps (measured: the trajectories part
    at step 33), after which the runs legitimately differ. In fp64 a flip needs a gap below ~1e-16."""
    g = torch.Generator().manual_seed(3)
    d = 16
    spread = torch.randn(1, d, generator=g)
    table = torch.randn(20, d, generator=g)

    def case(p, t, w, b):
        idx = t.reshape(-1).clamp(0, 19).floor().long()
        z = torch.relu(p * spread + table[idx])
        labels = (t.reshape(-1) * 2).round() / 2
        if rank == "blackbox":
            z, labels = z.double(), labels.double()
        rb = "auto" if b == "triton" else b
        reg = dirfast.ranksim_loss(z, labels, interpolation_lambda=2.0, variant="official",
                                   max_unique=64, rank=rank, backend=rb, validate=False)
        return dirfast.mse(p, t, w, backend=b, validate=False) + reg

    return case


CASES["bmc"] = _bmc_learnable_case()
CASES["gai"] = _bmse_fixed_case("gai")
CASES["bni"] = _bmse_fixed_case("bni")
CASES["ranksim"] = _ranksim_case("blackbox")
CASES["ranksim_soft"] = _ranksim_case("soft")


def train(case: str, backend: str, steps: int = STEPS):
    """``(per-step losses [steps], parameters: the model's then the case's own)``."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
    c = CASES[case]
    fn, extra = c.make() if isinstance(c, Stateful) else (c, [])
    groups = [{"params": list(model.parameters())}]
    if extra:
        groups.append({"params": list(extra), "lr": c.lr})
    opt = torch.optim.SGD(groups, lr=0.02, momentum=0.9)
    x, target, w = imbalanced_data()
    losses = []
    for step in range(steps):
        i = (torch.arange(BATCH) + step * BATCH) % x.shape[0]
        opt.zero_grad()
        loss = fn(model(x[i]), target[i], w[i], backend)
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    return torch.stack(losses), [p.detach().clone() for p in list(model.parameters()) + list(extra)]


def _model_mse(params, steps=(0, 1, 2, 3, 4)):
    """Plain MSE of the model given by the first 4 of ``params`` on the batches of ``steps``."""
    x, target, _ = imbalanced_data()
    w1, b1, w2, b2 = params[:4]
    out = []
    for step in steps:
        i = (torch.arange(BATCH) + step * BATCH) % x.shape[0]
        p = torch.relu(x[i] @ w1.t() + b1) @ w2.t() + b2
        out.append(((p - target[i]) ** 2).mean())
    return torch.stack(out).mean()


def assert_same_training(case: str, backend: str):
    ref_losses, ref_params = train(case, "reference")
    losses, params = train(case, backend)
    c = CASES[case]
    if isinstance(c, Stateful):
        # the loss scale is learned too: the model must have learned (its plain MSE on the first
        # batches dropped below the untrained model's) and the case's own parameters must have moved
        torch.manual_seed(0)
        init = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
        _, init_extra = c.make()
        init_params = [p.detach() for p in init.parameters()]
        assert _model_mse(ref_params) < 0.8 * _model_mse(init_params), f"{case}: reference run did not learn"
        for k, (a, b) in enumerate(zip(ref_params[4:], init_extra)):
            assert not torch.equal(a, b.detach()), f"{case}: parameter {k} of the case did not move"
    else:
        assert ref_losses[-1] < ref_losses[:5].mean(), f"{case}: reference run did not learn"
    assert_close_verbose(losses, ref_losses, tag=f"convergence {case} {backend} losses", rtol=1e-5)
    for k, (a, b) in enumerate(zip(params, ref_params)):
        assert_close_verbose(a, b, tag=f"convergence {case} {backend} param {k}", rtol=0.0, atol=1e-5)
