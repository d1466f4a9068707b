r"""DIR shot metrics (docs/lds_fds.md §3.1, §3.4): MSE, MAE and GM overall and per shot.

With per-sample errors :math:`e_i = \hat y_i - y_i` (computed in float64) over a group :math:`G`:

.. math::
    \mathrm{MSE}_G = \frac1{|G|}\sum_{i\in G} e_i^2, \quad
    \mathrm{MAE}_G = \frac1{|G|}\sum_{i\in G} |e_i|, \quad
    \mathrm{GM}_G = \exp\Big(\frac1{|G|}\sum_{i\in G}\log\max(|e_i|, \varepsilon)\Big)

(sample-weighted, as officially). Groups, the official rule (spec §3.1) applied literally:
``many`` if the sample's bin has :math:`n_\text{train} > \text{many}`, else ``few`` if
:math:`n_\text{train} < \text{few}`, else ``medium`` (``few ≤ n_train ≤ many``); ``all``; and ``zero``
(:math:`n_\text{train} = 0`, also reported alone). Zero-shot samples therefore count in ``few``
whenever ``few ≥ 1`` (the usual case: "zero-shot falls into few", as officially) and in ``medium``
for ``few = 0`` (no bin has fewer than 0 samples: ``few = 0`` means no few-shot group); ``many``,
``medium`` and ``few`` always partition ``all``. An empty group gives NaN (never an exception).
``balanced_mae`` is the mean over the bins that contain test labels of the per-bin MAE.

GM uses ``gm_eps = 1e-10`` by default (the STS-B-DIR code's constant; float64): an exact-zero error
counts as :math:`10^{-10}` instead of making GM 0.

``variant="official"`` (AgeDB/IMDB-WIKI ``train.py``): no epsilon (an exact-zero error gives GM 0), and
shot membership **per label value**: :math:`n_\text{train}(y) = \#\{j : \mathrm{int}(y^\text{train}_j)
= y\}` by exact float equality (int() truncates toward zero; a non-integer test label matches no
training label → zero-shot → few), instead of per bin. Per-bin outputs (``bin_*``, ``balanced_mae``)
always use ``bins``. Differences from the official code: an empty group's GM is NaN (the official
``gmean`` raised), and sums are float64 (officially float32 NumPy sums).

Vectorised: bin ids, one ``bincount``/``index_put_`` per statistic keyed by ``(bin, group)``, then
``O(K)`` work; sums are deterministic (serial ``bincount`` on CPU, sort-based
``index_put_(accumulate=True)`` elsewhere; counts by an integer ``index_add_`` off the CPU, where
``bincount`` would sync). One host sync at the end (Python floats are returned).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional

import torch

from ._checks import LabelsLike, as_label_tensor, check_finite_values, check_float, check_same_device, \
    check_scalar, describe, validation_enabled
from .bins import Bins
from .lds import _check_labels

__all__ = ["shot_metrics", "ShotMetrics", "GROUPS", "SHOTS", "DEFAULT_GM_EPS"]

GROUPS = ("all", "many", "medium", "few", "zero")
#: codes of ``ShotMetrics.bin_shot``
SHOTS = ("many", "medium", "few")
DEFAULT_GM_EPS = 1e-10
VARIANTS = ("default", "official")


@dataclass
class ShotMetrics:
    """Result of :func:`shot_metrics`.

    ``mse``, ``mae``, ``gm``: ``{group: float}`` for ``GROUPS = ("all", "many", "medium", "few",
    "zero")`` (NaN for an empty group); ``count``: ``{group: samples}``; ``num_bins``: ``{group: bins
    containing test samples of that group}`` (AgeDB-DIR test: 51 / 16 / 25 / 0); ``balanced_mae``:
    float. Per-bin tensors (``[K]``, on the inputs' device): ``bin_shot`` int64 code into
    ``SHOTS`` (0 many, 1 medium, 2 few) from the per-bin training counts; ``bin_train_count`` and
    ``bin_test_count`` int64; ``bin_mae`` float64 (NaN for bins without test samples).
    """

    mse: Dict[str, float]
    mae: Dict[str, float]
    gm: Dict[str, float]
    count: Dict[str, int]
    num_bins: Dict[str, int]
    balanced_mae: float
    bin_shot: torch.Tensor
    bin_train_count: torch.Tensor
    bin_test_count: torch.Tensor
    bin_mae: torch.Tensor
    variant: str = "default"
    gm_eps: float = DEFAULT_GM_EPS
    thresholds: Dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> Dict[str, object]:
        """Flat ``{"mae/few": ..., "balanced_mae": ..., "count/many": ...}`` of Python numbers."""
        out: Dict[str, object] = {}
        for name in ("mse", "mae", "gm", "count", "num_bins"):
            for g, v in getattr(self, name).items():
                out[f"{name}/{g}"] = v
        out["balanced_mae"] = self.balanced_mae
        return out


def _segment_sum(keys: torch.Tensor, values: torch.Tensor, n: int) -> torch.Tensor:
    """``out[k] = Σ_{i: keys_i = k} values_i`` (float64), deterministic on every device."""
    if keys.device.type == "cpu":
        return torch.bincount(keys, weights=values, minlength=n)  # serial loop on the CPU
    # CUDA & co: accumulate=True index_put_ is the sort-based deterministic kernel (no float atomics)
    return torch.zeros(n, dtype=values.dtype, device=values.device).index_put_((keys,), values,
                                                                                accumulate=True)


def _count(keys: torch.Tensor, n: int) -> torch.Tensor:
    """``out[k] = #{i : keys_i = k}`` (int64; ``0 <= keys < n``). CPU: ``bincount``. Elsewhere an
    integer ``index_add_`` (exact and deterministic): ``bincount`` on CUDA reads the keys' maximum on
    the host (a sync per call)."""
    if keys.device.type == "cpu":
        return torch.bincount(keys, minlength=n)
    return _count_index_add(keys, n)


def _count_index_add(keys: torch.Tensor, n: int) -> torch.Tensor:
    ones = torch.ones(1, dtype=torch.int64, device=keys.device).expand(keys.numel())
    return torch.zeros(n, dtype=torch.int64, device=keys.device).index_add_(0, keys.reshape(-1), ones)


def _official_train_counts(labels64: torch.Tensor, train: torch.Tensor) -> torch.Tensor:
    """``n(y_i) = #{j : int(train_j) == y_i}`` (exact float64 equality), vectorised by sorting."""
    t = train.reshape(-1)
    t = (t.to(torch.float64).trunc() if t.is_floating_point() else t.to(torch.float64))
    t = torch.sort(t).values
    lo = torch.searchsorted(t, labels64, right=False)
    hi = torch.searchsorted(t, labels64, right=True)
    return hi - lo  # NaN labels: 0 (NaN never equals)


def check_metric_inputs(fn: str, preds, labels, train_labels, bins, many, few, variant, gm_eps):
    _check_labels("labels", labels, fn=fn)
    _check_labels("train_labels", train_labels, fn=fn)
    if not isinstance(preds, torch.Tensor):
        raise TypeError(f"{fn}: preds must be a torch.Tensor, got {type(preds).__name__}")
    check_float("preds", preds, fn=fn)
    if preds.shape != labels.shape:
        raise ValueError(f"{fn}: preds must have the shape of labels {tuple(labels.shape)} (no "
                         f"broadcasting), got {describe(preds)}")
    check_same_device(fn, preds=preds, labels=labels, train_labels=train_labels)
    if not isinstance(bins, Bins):
        raise TypeError(f"{fn}: bins must be a dirfast.Bins, got {type(bins).__name__}")
    for name, v in (("many", many), ("few", few)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"{fn}: {name} must be an int >= 0, got {v!r}")
    if few > many + 1:
        raise ValueError(f"{fn}: need few <= many + 1 (few-shot is n_train < few, many-shot n_train > "
                         f"many), got many={many!r}, few={few!r}")
    if variant not in VARIANTS:
        raise ValueError(f"{fn}: variant must be one of {VARIANTS}, got {variant!r}")
    if train_labels.numel() == 0:
        raise ValueError(f"{fn}: train_labels is empty ({describe(train_labels)})")
    if gm_eps is None:
        gm_eps = 0.0 if variant == "official" else DEFAULT_GM_EPS
    return check_scalar("gm_eps", gm_eps, fn=fn, low=0.0)


def _finish(fn, sums, cnt, K, bin_shot, train_count, variant, gm_eps, many, few, device):
    """sums: ``[K, 4, 3]`` float64 (|e|, e², log) by (bin, group 0 many/1 medium/2 few with
    n_train > 0/3 zero-shot); cnt: ``[K, 4]`` int64. Zero-shot joins few if ``few >= 1`` (0 < few),
    else medium (the rule; a Python decision on the thresholds, not on data). Returns a ShotMetrics
    (one host sync)."""
    g_sum = sums.sum(0)                                  # [4, 3]
    g_cnt = cnt.sum(0)                                   # [4]
    zf = few >= 1                                        # zero-shot is few (else medium)
    # groups: all, many, medium, few, zero. Explicit sums, not a 0/1 matmul:
    # 0 * (-inf) would turn an exact-zero error's log into NaN.
    s_med = g_sum[1] if zf else g_sum[1] + g_sum[3]
    s_few = g_sum[2] + g_sum[3] if zf else g_sum[2]
    c_med = g_cnt[1] if zf else g_cnt[1] + g_cnt[3]
    c_few = g_cnt[2] + g_cnt[3] if zf else g_cnt[2]
    G_sum = torch.stack([g_sum.sum(0), g_sum[0], s_med, s_few, g_sum[3]])                   # [5, 3]
    G_cnt = torch.stack([g_cnt.sum(), g_cnt[0], c_med, c_few, g_cnt[3]]).to(torch.float64)
    mean = G_sum / G_cnt[:, None]                        # NaN for empty groups
    mae, mse, gm = mean[:, 0], mean[:, 1], torch.exp(mean[:, 2])
    bin_test = cnt.sum(1)
    bin_mae = sums[:, :, 0].sum(1) / bin_test.to(torch.float64)          # NaN where no test samples
    present = bin_test > 0
    bal = torch.where(present, bin_mae, torch.zeros_like(bin_mae)).sum() / present.sum().to(torch.float64)
    g_bins = (cnt > 0).to(torch.int64).sum(0).to(torch.float64)          # [4]
    # the group zero-shot joins counts the bins holding either part
    joined = ((cnt[:, 2 if zf else 1] + cnt[:, 3]) > 0).sum().to(torch.float64)
    b_med = g_bins[1] if zf else joined
    b_few = joined if zf else g_bins[2]
    G_bins = torch.stack([present.sum().to(torch.float64), g_bins[0], b_med, b_few, g_bins[3]])
    host = torch.cat([mse, mae, gm, G_cnt, G_bins, bal.reshape(1)]).tolist()  # the one sync
    n = len(GROUPS)
    parts = [host[i * n:(i + 1) * n] for i in range(5)]
    return ShotMetrics(
        mse=dict(zip(GROUPS, parts[0])), mae=dict(zip(GROUPS, parts[1])), gm=dict(zip(GROUPS, parts[2])),
        count={g: int(v) for g, v in zip(GROUPS, parts[3])},
        num_bins={g: int(v) for g, v in zip(GROUPS, parts[4])},
        balanced_mae=host[-1], bin_shot=bin_shot, bin_train_count=train_count, bin_test_count=bin_test,
        bin_mae=bin_mae, variant=variant, gm_eps=gm_eps, thresholds={"many": many, "few": few})


def shot_metrics(preds: LabelsLike, labels: LabelsLike, train_labels: LabelsLike, bins: Bins, *,
                 many: int = 100, few: int = 20, variant: str = "default",
                 gm_eps: Optional[float] = None, validate: Optional[bool] = None) -> ShotMetrics:
    r"""DIR evaluation: MSE / MAE / GM overall, per shot and zero-shot, plus balanced MAE.

    ``preds``, ``labels`` and ``train_labels`` each accept a tensor, a NumPy array (float16/32/64;
    integer dtypes for the labels) or a sequence of numbers (nested ``[[y], ...]`` for ``[B, 1]``),
    as the official evaluation code's NumPy arrays; they are converted once onto the device of the
    tensor arguments (CPU, sharing the array's memory, if none is a tensor; tensors are never moved). bool, complex, object or string
    data raise ``TypeError``, scalars ``ValueError``.

    Args:
        preds: ``[B]`` or ``[B, 1]`` floating predictions; may require grad (a model's output):
            evaluated on ``preds.detach()``, no graph is built and nothing flows back.
        labels: ground truth, exactly ``preds``' shape (float or int dtype).
        train_labels: ``[N]`` or ``[N, 1]`` training labels (defines the per-bin training counts), N ≥ 1.
        bins: :class:`dirfast.Bins` (official AgeDB: ``Bins.official_age(121)``).
        many, few: thresholds (ints >= 0, ``few <= many + 1``): many-shot if ``n_train > many``,
            else few-shot if ``n_train < few``, else medium; zero-shot samples are few for
            ``few >= 1`` and medium for ``few = 0`` (module docstring).
        variant: ``"default"`` or ``"official"`` (module docstring).
        gm_eps: GM floor ``max(|e|, gm_eps)``; default ``1e-10`` (official: 0).
        validate: value checks (NaN in preds/labels/train_labels, labels out of range with
            ``out_of_range="error"``); default ``DIRFAST_VALIDATE``. With validation off a NaN
            prediction (or a NaN label, which lands in the last bin) makes NaN the MSE/MAE/GM of
            every group holding that sample, its ``bin_mae`` and ``balanced_mae`` (counts are
            unaffected); a NaN training label is counted in the last bin.

    Returns:
        :class:`ShotMetrics` (Python floats; per-bin tensors on the inputs' device). Errors are computed
        in float64 whatever the input dtype.
    """
    fn = "shot_metrics"
    # NumPy arrays / sequences: converted once, onto the device of the tensor arguments
    dev = next((t.device for t in (preds, labels, train_labels) if isinstance(t, torch.Tensor)), None)
    preds = as_label_tensor("preds", preds, fn=fn, column=True, device=dev, floating=True)
    labels = as_label_tensor("labels", labels, fn=fn, column=True, device=dev)
    train_labels = as_label_tensor("train_labels", train_labels, fn=fn, column=True, device=dev)
    gm_eps = check_metric_inputs(fn, preds, labels, train_labels, bins, many, few, variant, gm_eps)
    # metrics build no graph: model outputs that require grad are read as values
    preds, labels, train_labels = preds.detach(), labels.detach(), train_labels.detach()
    if validation_enabled(validate):
        check_finite_values(fn, preds=preds, train_labels=train_labels if train_labels.is_floating_point()
                            else None)
    K = bins.num_bins
    tb = bins._ids(train_labels, fn=fn, name="train_labels", validate=validate).reshape(-1)
    train_count = _count(tb, K)
    bin_shot = torch.where(train_count > many, 0, torch.where(train_count < few, 2, 1))
    b = bins._ids(labels, fn=fn, name="labels", validate=validate).reshape(-1)
    lab = labels.reshape(-1)
    # key = 4·bin + group (0 many, 1 medium, 2 few with n_train > 0, 3 zero-shot); few fresh buffers
    # (large fresh tensors cost page faults on CPU)
    if variant == "official":
        n_i = _official_train_counts(lab.to(torch.float64), train_labels)
        group = torch.where(n_i > many, 0, torch.where(n_i < few, 2, 1))
        group = torch.where(n_i == 0, 3, group)
        key = b.mul_(4).add_(group)
    else:
        g_bin = torch.where(train_count == 0, 3, bin_shot)                  # [K]
        key4 = torch.arange(K, device=b.device).mul_(4).add_(g_bin)        # [K]: 4k + group(k)
        key = torch.index_select(key4, 0, b)
    n = 4 * K
    e = preds.reshape(-1).to(torch.float64, copy=True).sub_(lab)           # float64 errors
    a = e.abs()
    s_ae = _segment_sum(key, a, n)
    s_se = _segment_sum(key, e.mul_(e), n)
    le = torch.clamp_min(a, gm_eps, out=e) if gm_eps > 0 else torch.abs(a, out=e)
    s_le = _segment_sum(key, le.log_(), n)
    sums = torch.stack([s_ae, s_se, s_le], dim=1).reshape(K, 4, 3)
    cnt = _count(key, n).reshape(K, 4)
    return _finish(fn, sums, cnt, K, bin_shot, train_count, variant, gm_eps, many, few, preds.device)
