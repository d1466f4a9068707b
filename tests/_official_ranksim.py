"""Parity oracle: a literal re-implementation of the official RankSim regularizer
(BorealisAI/ranksim-imbalanced-regression ``agedb-dir/ranksim.py`` + ``ranking.py``, identical in the
ConR repository; restated in docs/conr_ranksim_bmse.md §2.2), written the way that code is: the
unique-label subset (when a label repeats) picked with one ``random.choice`` per unique label, the
cosine-similarity matrix, then a **Python loop over rows** ranking one row at a time with
``argsort(argsort(v).flip(1))``, the blackbox ``TrueRanker`` autograd function (Vlastelica et al.)
on each feature row, ``F.mse_loss`` per row, **summed** over rows. Paraphrased from the spec; no
repository code is copied.

Two inputs differ from the official signature, both documented:

* ``sampled_indices``: the subset (in the order the rows are taken). ``None`` runs the official
  selection (``torch.unique`` + ``random.choice`` of a ``nonzero`` per label, only when some label
  repeats), seeded through Python's ``random`` module;
* ``rank_dtype``: the dtype of the normalised ranks. The official code casts them with ``.float()``
  (fp32 ranks, whatever the features' dtype); ``None`` keeps that, ``torch.float64`` makes an fp64
  comparison meaningful (the only change).
"""

import random

import torch
import torch.nn.functional as F


def official_subset(targets):
    """The official subset rule: one ``random.choice`` per unique label (``torch.unique`` order:
    ascending), or ``None`` (all rows, batch order) when every label is distinct."""
    batch_unique_targets = torch.unique(targets)
    if len(batch_unique_targets) < len(targets):
        sampled_indices = []
        for target in batch_unique_targets:
            sampled_indices.append(random.choice((targets == target).nonzero()[:, 0]).item())
        return sampled_indices
    return None


def _rank(seq):
    return torch.argsort(torch.argsort(seq).flip(1))


def _make_rank_normalised(rank_dtype):
    def rank_normalised(seq):
        r = _rank(seq) + 1
        r = r.float() if rank_dtype is None else r.to(rank_dtype)
        return r / seq.size()[1]
    return rank_normalised


def make_true_ranker(rank_dtype=None):
    rank_normalised = _make_rank_normalised(rank_dtype)

    class TrueRanker(torch.autograd.Function):
        @staticmethod
        def forward(ctx, sequence, lambda_val):
            rank = rank_normalised(sequence)
            ctx.lambda_val = lambda_val
            ctx.save_for_backward(sequence, rank)
            return rank

        @staticmethod
        def backward(ctx, grad_output):
            sequence, rank = ctx.saved_tensors
            assert grad_output.shape == rank.shape
            sequence_prime = sequence + ctx.lambda_val * grad_output
            rank_prime = rank_normalised(sequence_prime)
            gradient = -(rank - rank_prime) / (ctx.lambda_val + 1e-8)
            return gradient, None

    return TrueRanker, rank_normalised


_RANKERS = {}


def _ranker(rank_dtype):
    if rank_dtype not in _RANKERS:
        _RANKERS[rank_dtype] = make_true_ranker(rank_dtype)
    return _RANKERS[rank_dtype]


def official_ranksim(features, targets, lambda_val, sampled_indices="official", rank_dtype=None):
    """``batchwise_ranking_regularizer(features [B, ...], targets [B, 1], lambda_val)``.

    ``sampled_indices="official"`` runs the official random selection; a list / int64 tensor uses
    that subset; ``None`` uses every row in batch order."""
    TrueRanker, rank_normalised = _ranker(rank_dtype)
    loss = 0
    if isinstance(sampled_indices, str):
        sampled_indices = official_subset(targets)
    if sampled_indices is not None:
        x = features[sampled_indices]
        y = targets[sampled_indices]
    else:
        x = features
        y = targets

    xxt = torch.matmul(F.normalize(x.view(x.size(0), -1)), F.normalize(x.view(x.size(0), -1)).permute(1, 0))

    for i in range(len(y)):
        label_ranks = rank_normalised(-torch.abs(y[i] - y).transpose(0, 1))
        feature_ranks = TrueRanker.apply(xxt[i].unsqueeze(dim=0), lambda_val)
        loss += F.mse_loss(feature_ranks, label_ranks)

    return loss
