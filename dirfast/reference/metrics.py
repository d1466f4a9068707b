"""Reference DIR shot metrics (docs/lds_fds.md §3.1, §3.4), written plainly with boolean masks.

Same semantics and result type as :func:`dirfast.shot_metrics` (see :mod:`dirfast.metrics` for the
equations and the group rule: many ``n > many``, else few ``n < few``, else medium — so zero-shot
samples are few for ``few >= 1``, medium for ``few = 0``); every group is selected with a mask and
reduced with ``torch.mean`` in float64. No graph: inputs that require grad are detached.
"""

from __future__ import annotations

from typing import Optional

import torch

__all__ = ["shot_metrics_ref"]


def shot_metrics_ref(preds: torch.Tensor, labels: torch.Tensor, train_labels: torch.Tensor, bins, *,
                     many: int = 100, few: int = 20, variant: str = "default",
                     gm_eps: Optional[float] = None):
    """Args as :func:`dirfast.shot_metrics`; returns a :class:`dirfast.metrics.ShotMetrics`."""
    from ..metrics import GROUPS, ShotMetrics, check_metric_inputs

    fn = "shot_metrics_ref"
    gm_eps = check_metric_inputs(fn, preds, labels, train_labels, bins, many, few, variant, gm_eps)
    preds, labels, train_labels = preds.detach(), labels.detach(), train_labels.detach()
    K = bins.num_bins
    f64 = torch.float64
    tb = bins._ids(train_labels, fn=fn, name="train_labels", backend="reference", validate=False).reshape(-1)
    train_count = torch.bincount(tb, minlength=K)
    bin_shot = torch.full((K,), 1, dtype=torch.int64, device=tb.device)
    bin_shot[train_count > many] = 0
    bin_shot[train_count < few] = 2
    b = bins._ids(labels, fn=fn, name="labels", backend="reference", validate=False).reshape(-1)
    y = labels.reshape(-1).to(f64)
    e = preds.reshape(-1).to(f64) - y
    if variant == "official":
        # distinct int-cast training values and their counts; exact float64 equality with each label
        u, c = torch.unique(train_labels.reshape(-1).to(f64).trunc(), return_counts=True)
        n_i = ((y[:, None] == u[None, :]).to(torch.int64) * c[None, :]).sum(1)
    else:
        n_i = train_count[b]
    masks = {"all": torch.ones_like(y, dtype=torch.bool), "many": n_i > many,
             "medium": (n_i >= few) & (n_i <= many), "few": n_i < few, "zero": n_i == 0}
    nan = float("nan")
    mse, mae, gm, count, num_bins = {}, {}, {}, {}, {}
    for g in GROUPS:
        m = masks[g]
        eg = e[m]
        count[g] = int(m.sum())
        num_bins[g] = int(torch.unique(b[m]).numel())
        if eg.numel() == 0:
            mse[g] = mae[g] = gm[g] = nan
            continue
        mse[g] = float((eg ** 2).mean())
        mae[g] = float(eg.abs().mean())
        a = eg.abs()
        gm[g] = float(torch.exp(torch.log(a.clamp_min(gm_eps) if gm_eps > 0 else a).mean()))
    bin_test = torch.bincount(b, minlength=K)
    bin_mae = torch.bincount(b, weights=e.abs(), minlength=K) / bin_test.to(f64)
    present = bin_test > 0
    bal = float(bin_mae[present].mean()) if bool(present.any()) else nan
    return ShotMetrics(mse=mse, mae=mae, gm=gm, count=count, num_bins=num_bins, balanced_mae=bal,
                       bin_shot=bin_shot, bin_train_count=train_count, bin_test_count=bin_test,
                       bin_mae=bin_mae, variant=variant, gm_eps=gm_eps,
                       thresholds={"many": many, "few": few})
