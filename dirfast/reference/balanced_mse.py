"""Reference Balanced MSE (Ren et al., CVPR 2022; docs/conr_ranksim_bmse.md §3): dense PyTorch,
autograd through torch ops, fp64-capable. These define dirfast's semantics.

With ``v = σ²`` (the noise variance), ``p_i``, ``y_i`` the prediction and target of row ``i``
(``[B]`` or ``[B, d]``; 1-D targets are ``d = 1``) and ``‖·‖`` the Euclidean norm, every kind is

    ``ℓ_i = ‖p_i − y_i‖²/(2v) + H·(d/2)·log v + LSE_j( a_j − ½ Σ_k (p_ik − c_jk)²/s_jk )``

over a set of Gaussian components ``j`` with centres ``c_j``, per-dimension variances ``s_j`` and
log-weights ``a_j``:

* **BMC** (batch Monte Carlo): the components are the batch targets, ``c_j = y_j``, ``s_j = v``,
  ``a_j = 0``, ``H = 0``: ``ℓ_i`` is the cross-entropy of the logits ``−‖p_i − y_j‖²/(2v)`` with
  class ``i`` (the official ``F.cross_entropy(logits, arange(B))``; the MVN normaliser of the
  d-dimensional version cancels). ``B = 1`` gives exactly 0.
* **GAI** (GMM analytical integration): ``K`` components of a fitted GMM ``(φ_k, μ_k, Σ_k)`` with
  **diagonal** covariances (``Σ_k`` is ``[K]`` for 1-D targets, ``[K, d]``: per-dimension variances),
  convolved with the likelihood: ``c_k = μ_k``, ``s_k = Σ_k + v``,
  ``a_k = log φ_k − ½ Σ_dims log s_k``, ``H = 1`` (the official ``+ ½ log v``; the ``2π`` terms cancel).
* **BNI** (bin numerical integration): bucket centres ``c_b`` with weights ``w_b`` (normalised or
  not: a constant factor only shifts the loss), ``s_b = v``, ``a_b = log w_b``, ``H = 0``; 1-D only.
  The loss can be negative (the official code omits the constant normaliser, issue #21).

The loss is ``(2v).detach() · reduce(ℓ)`` (official: restores the MSE scale, issue #16; the factor
carries no gradient) with ``reduce`` = ``mean`` (default, official), ``sum`` or ``none`` (``[B]``).

Down-sampled BMC (:func:`bmc_downsample_indices`): each row keeps its positive (its own target, column
0) and ``k`` negatives drawn uniformly with replacement from the *other* rows of the batch by a seeded
generator (static shape ``[B, k + 1]``; no host sync): ``ℓ_i = CE(logits_i[idx_i], class 0)``.

Computed in the promotion of ``pred``'s dtype and fp32 (fp64 gives the oracle); ``acc=torch.float64``
runs the whole loss in fp64 (the official GAI/BNI promotion).
"""

from __future__ import annotations

from typing import Optional

import torch

KINDS = ("bmc", "gai", "bni")
REDUCTIONS = ("mean", "sum", "none")
VARIANTS = ("default", "official")


def _reduce(ell: torch.Tensor, v: torch.Tensor, reduction: str) -> torch.Tensor:
    scale = (2 * v).detach()
    if reduction == "none":
        return ell * scale
    if reduction == "sum":
        return ell.sum() * scale
    return (ell.sum() / max(ell.shape[0], 1)) * scale


def _as_2d(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(t.shape[0], -1)


def _acc(pred: torch.Tensor, acc: Optional[torch.dtype]) -> torch.dtype:
    return acc if acc is not None else torch.promote_types(pred.dtype, torch.float32)


def _gauss_lse(p, c, s, a):
    """``LSE_j(a_j − ½ Σ_k (p_ik − c_jk)²/s_jk)`` for ``p [B, d]``, ``c [K, d]``, ``s`` broadcastable to
    ``[K, d]`` (or a 0-d variance), ``a [K]`` or None."""
    diff = p[:, None, :] - c[None, :, :]
    logits = -0.5 * (diff * diff / s).sum(-1)
    if a is not None:
        logits = logits + a[None, :]
    return torch.logsumexp(logits, dim=1)


def _out(out, pred, out_dtype):
    return out.to(pred.dtype if out_dtype is None else out_dtype)


def bmc_loss_ref(pred, target, noise_var, *, reduction="mean", acc=None, out_dtype=None):
    """Dense BMC (``[B, B]`` logits). ``pred``/``target``: ``[B]``, ``[B, 1]`` or ``[B, d]``."""
    dt = _acc(pred, acc)
    p, y = _as_2d(pred).to(dt), _as_2d(target).to(dt)
    v = torch.as_tensor(noise_var).to(dt)
    diff = p - y
    mse = 0.5 * (diff * diff / v).sum(-1)
    ell = mse + _gauss_lse(p, y, v, None)
    return _out(_reduce(ell, v, reduction), pred, out_dtype)


def gai_loss_ref(pred, target, noise_var, weights, means, variances, *, reduction="mean", acc=None,
                 out_dtype=None):
    """GAI with a diagonal GMM: ``weights [K]``, ``means``/``variances`` ``[K]`` (1-D) or ``[K, d]``."""
    dt = _acc(pred, acc)
    p, y = _as_2d(pred).to(dt), _as_2d(target).to(dt)
    d = p.shape[1]
    v = torch.as_tensor(noise_var).to(dt)
    mu = means.to(dt).reshape(-1, d)
    s = variances.to(dt).reshape(-1, d) + v
    a = torch.log(weights.to(dt)) - 0.5 * torch.log(s).sum(-1)
    diff = p - y
    mse = 0.5 * (diff * diff / v).sum(-1) + 0.5 * d * torch.log(v)
    ell = mse + _gauss_lse(p, mu, s, a)
    return _out(_reduce(ell, v, reduction), pred, out_dtype)


def bni_loss_ref(pred, target, noise_var, centers, weights, *, reduction="mean", acc=None,
                 out_dtype=None):
    """BNI: ``centers [Nb]``, ``weights [Nb]`` (> 0; zero weights are allowed and contribute nothing)."""
    dt = _acc(pred, acc)
    p, y = _as_2d(pred).to(dt), _as_2d(target).to(dt)
    v = torch.as_tensor(noise_var).to(dt)
    diff = p - y
    mse = 0.5 * (diff * diff / v).sum(-1)
    ell = mse + _gauss_lse(p, centers.to(dt).reshape(-1, 1), v, torch.log(weights.to(dt)))
    return _out(_reduce(ell, v, reduction), pred, out_dtype)


def bmc_downsample_indices(b: int, k: int, *, generator: Optional[torch.Generator] = None,
                           device=None) -> torch.Tensor:
    """``[B, k + 1]`` int64 column indices: column 0 is the row itself (the positive), columns 1..k
    are uniform draws from the other ``B − 1`` rows (with replacement; ``i`` itself never drawn).
    For ``B = 1`` the negatives repeat the row (their logit equals the positive's: still ℓ = 0 only
    if k = 0, so callers use k = 0 there; :func:`bmc_loss` does)."""
    rows = torch.arange(b, device=device)
    if k == 0 or b <= 1:
        return rows[:, None].expand(b, k + 1).clone()
    gen_device = generator.device if generator is not None else device
    off = torch.randint(1, b, (b, k), generator=generator, device=gen_device).to(device)
    return torch.cat([rows[:, None], (rows[:, None] + off) % b], dim=1)


def bmc_downsample_loss_ref(pred, target, noise_var, idx, *, reduction="mean", acc=None,
                            out_dtype=None):
    """Down-sampled BMC on given column indices ``idx [B, k+1]`` (column 0 the positive)."""
    dt = _acc(pred, acc)
    p, y = _as_2d(pred).to(dt), _as_2d(target).to(dt)
    v = torch.as_tensor(noise_var).to(dt)
    cols = y[idx]  # [B, k+1, d]
    diff = p[:, None, :] - cols
    logits = -0.5 * (diff * diff / v).sum(-1)
    ell = torch.logsumexp(logits, dim=1) - logits[:, 0]
    return _out(_reduce(ell, v, reduction), pred, out_dtype)
