"""Parity oracle: a literal re-implementation of the official Balanced MSE losses
(jiawei-ren/BalancedMSE ``imdb-wiki-dir/balanaced_mse.py`` and ``synthetic_benchmark/loss.py``, as
restated in docs/conr_ranksim_bmse.md §3.2), written the way that code is: ``[B, 1]`` predictions and
targets, ``[B, B]`` logits from ``pred − target.T`` fed to ``F.cross_entropy`` with ``arange(B)``,
the GMM / bucket tensors expanded to ``[B, K]`` and reduced with ``torch.logsumexp``, the loss
multiplied by ``(2·noise_var).detach()``. The prior tensors keep whatever dtype they arrive in (the
official code builds them from float64 NumPy arrays, so the balancing term runs in float64).
The multi-dimensional versions go through ``torch.distributions.MultivariateNormal`` as the synthetic
benchmark does. Paraphrased from the spec; no repository code is copied."""

import torch
import torch.nn.functional as F
from torch.distributions import MultivariateNormal


def official_bmc(pred, target, noise_var):
    logits = -0.5 * (pred - target.T).pow(2) / noise_var
    loss = F.cross_entropy(logits, torch.arange(pred.shape[0], device=pred.device))
    return loss * (2 * noise_var).detach()


def official_gai(pred, target, gmm, noise_var):
    """``gmm``: dict of ``weights [K]``, ``means [K, 1]``, ``variances [K, 1, 1]`` (sklearn's shapes)."""
    g = {k: gmm[k].reshape(1, -1).expand(pred.shape[0], -1) for k in gmm}
    mse_term = F.mse_loss(pred, target, reduction="none") / 2 / noise_var + 0.5 * noise_var.log()
    sum_var = g["variances"] + noise_var
    balancing = -0.5 * sum_var.log() - 0.5 * (pred - g["means"]).pow(2) / sum_var + g["weights"].log()
    balancing = torch.logsumexp(balancing, dim=-1, keepdim=True)
    loss = (mse_term + balancing) * (2 * noise_var).detach()
    return loss.mean()


def official_bni(pred, target, noise_var, bucket_centers, bucket_weights):
    mse_term = F.mse_loss(pred, target, reduction="none") / 2 / noise_var
    nb = bucket_centers.shape[0]
    centers = bucket_centers.unsqueeze(0).repeat(pred.shape[0], 1)
    weights = bucket_weights.unsqueeze(0).repeat(pred.shape[0], 1)
    balancing = -0.5 * (pred.expand(-1, nb) - centers).pow(2) / noise_var + weights.log()
    balancing = torch.logsumexp(balancing, dim=-1, keepdim=True)
    loss = (mse_term + balancing) * (2 * noise_var).detach()
    return loss.mean()


def official_bmc_md(pred, target, noise_var):
    eye = torch.eye(pred.shape[-1], dtype=pred.dtype)
    logits = MultivariateNormal(pred.unsqueeze(1), noise_var * eye).log_prob(target.unsqueeze(0))
    loss = F.cross_entropy(logits, torch.arange(pred.shape[0]))
    return loss * (2 * noise_var).detach()


def official_gai_md(pred, target, gmm, noise_var):
    """``gmm``: ``weights [K]``, ``means [K, d]``, ``variances [K, d, d]`` (full covariances)."""
    eye = torch.eye(pred.shape[-1], dtype=pred.dtype)
    mse_term = -MultivariateNormal(pred, noise_var * eye).log_prob(target)
    balancing = MultivariateNormal(gmm["means"], gmm["variances"] + noise_var * eye).log_prob(
        pred.unsqueeze(1)) + gmm["weights"].log()
    balancing = torch.logsumexp(balancing, dim=1)
    loss = (mse_term + balancing) * (2 * noise_var).detach()
    return loss.mean()
