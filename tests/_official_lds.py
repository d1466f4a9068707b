"""Parity oracle: literal re-implementations of the official LDS weights, weighted losses and age
shot metrics (YyzHarry/imbalanced-regression, agedb-dir ``utils.py`` / ``datasets.py`` /
``loss.py`` / ``train.py``), written from the spec (docs/lds_fds.md §1.2–1.4, §3.1) the way that code is:
per-sample Python loops over a ``{label: count}`` dict, the window from scipy's ``gaussian_filter1d``
of a delta, ``convolve1d(..., mode='constant')``, float32 per-sample weights rescaled to mean 1; the
losses as out-of-place PyTorch expressions with ``weights.expand_as(loss)`` and a plain mean; the
shot metrics with a ``for l in np.unique(labels)`` loop of boolean masks. Paraphrased from the spec;
no repository code is copied.

Deviations from the official files, none of which changes a number:
* ``prepare_weights`` takes the label array (officially ``self.df['age'].values`` inside the
  dataset) and prints nothing;
* ``official_shot_metrics`` takes NumPy arrays and returns a plain dict of dicts.
"""

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import convolve1d, gaussian_filter1d
from scipy.signal.windows import triang
from scipy.stats import gmean


# ------------------------------------------------------------------------------------------------
# LDS (utils.get_lds_kernel_window, datasets.AgeDB._prepare_weights)


def get_lds_kernel_window(kernel, ks, sigma):
    """The official peak-normalised LDS window (spec §1.2)."""
    assert kernel in ['gaussian', 'triang', 'laplace']
    half_ks = (ks - 1) // 2
    if kernel == 'gaussian':
        base_kernel = [0.] * half_ks + [1.] + [0.] * half_ks
        kernel_window = gaussian_filter1d(base_kernel, sigma=sigma) / max(gaussian_filter1d(base_kernel, sigma=sigma))
    elif kernel == 'triang':
        kernel_window = triang(ks)
    else:
        laplace = lambda x: np.exp(-abs(x) / sigma) / (2. * sigma)  # noqa: E731
        kernel_window = list(map(laplace, np.arange(-half_ks, half_ks + 1))) / \
            max(map(laplace, np.arange(-half_ks, half_ks + 1)))
    return kernel_window


def prepare_weights(labels, reweight, max_target=121, lds=False, lds_kernel='gaussian', lds_ks=5,
                    lds_sigma=2):
    """The official per-sample weights (spec §1.3): a list of float32-valued weights, one per label
    (mean 1), or None for ``reweight='none'``. ``inverse`` clips the *integer* counts, so
    ``convolve1d`` runs on (and returns) int64: the smoothed counts are truncated (the official
    quirk)."""
    assert reweight in {'none', 'inverse', 'sqrt_inv'}
    assert reweight != 'none' if lds else True, \
        "Set reweight to 'sqrt_inv' (default) or 'inverse' when using LDS"

    value_dict = {x: 0 for x in range(max_target)}
    for label in labels:
        value_dict[min(max_target - 1, int(label))] += 1
    if reweight == 'sqrt_inv':
        value_dict = {k: np.sqrt(v) for k, v in value_dict.items()}
    elif reweight == 'inverse':
        value_dict = {k: np.clip(v, 5, 1000) for k, v in value_dict.items()}  # clip weights for inverse re-weight
    num_per_label = [value_dict[min(max_target - 1, int(label))] for label in labels]
    if not len(num_per_label) or reweight == 'none':
        return None

    if lds:
        lds_kernel_window = get_lds_kernel_window(lds_kernel, lds_ks, lds_sigma)
        smoothed_value = convolve1d(
            np.asarray([v for _, v in value_dict.items()]), weights=lds_kernel_window, mode='constant')
        num_per_label = [smoothed_value[min(max_target - 1, int(label))] for label in labels]

    weights = [np.float32(1 / x) for x in num_per_label]
    scaling = len(weights) / np.sum(weights)
    weights = [scaling * x for x in weights]
    return weights


# ------------------------------------------------------------------------------------------------
# weighted losses (loss.py; age defaults)


def weighted_mse_loss(inputs, targets, weights=None):
    loss = (inputs - targets) ** 2
    if weights is not None:
        loss *= weights.expand_as(loss)
    loss = torch.mean(loss)
    return loss


def weighted_l1_loss(inputs, targets, weights=None):
    loss = F.l1_loss(inputs, targets, reduction='none')
    if weights is not None:
        loss *= weights.expand_as(loss)
    loss = torch.mean(loss)
    return loss


def weighted_focal_mse_loss(inputs, targets, weights=None, activate='sigmoid', beta=.2, gamma=1):
    loss = (inputs - targets) ** 2
    loss *= (torch.tanh(beta * torch.abs(inputs - targets))) ** gamma if activate == 'tanh' else \
        (2 * torch.sigmoid(beta * torch.abs(inputs - targets)) - 1) ** gamma
    if weights is not None:
        loss *= weights.expand_as(loss)
    loss = torch.mean(loss)
    return loss


def weighted_focal_l1_loss(inputs, targets, weights=None, activate='sigmoid', beta=.2, gamma=1):
    loss = F.l1_loss(inputs, targets, reduction='none')
    loss *= (torch.tanh(beta * torch.abs(inputs - targets))) ** gamma if activate == 'tanh' else \
        (2 * torch.sigmoid(beta * torch.abs(inputs - targets)) - 1) ** gamma
    if weights is not None:
        loss *= weights.expand_as(loss)
    loss = torch.mean(loss)
    return loss


def weighted_huber_loss(inputs, targets, weights=None, beta=1.):
    l1_loss = torch.abs(inputs - targets)
    cond = l1_loss < beta
    loss = torch.where(cond, 0.5 * l1_loss ** 2 / beta, l1_loss - 0.5 * beta)
    if weights is not None:
        loss *= weights.expand_as(loss)
    loss = torch.mean(loss)
    return loss


#: dirfast loss name -> official function
LOSSES = {"mse": weighted_mse_loss, "l1": weighted_l1_loss, "focal_mse": weighted_focal_mse_loss,
          "focal_l1": weighted_focal_l1_loss, "huber": weighted_huber_loss}


# ------------------------------------------------------------------------------------------------
# shot metrics (train.shot_metrics, age datasets)


def official_shot_metrics(preds, labels, train_labels, many_shot_thr=100, low_shot_thr=20):
    """Per distinct test label value: training count (int-cast training labels, exact equality),
    sums of squared / absolute errors and the absolute errors; then per shot (many ``> 100``, few
    ``< 20``, medium otherwise) the sample-weighted MSE / L1 and ``scipy.stats.gmean`` of the errors.
    Returns ``{'many'|'median'|'low': {'mse', 'l1', 'gmean'}}`` (official key names). An empty group
    gives NaN MSE/L1 and raises in ``gmean`` (as officially)."""
    if isinstance(train_labels, torch.Tensor):
        train_labels = train_labels.detach().cpu().numpy()
    train_labels = np.asarray(train_labels).astype(int)
    train_class_count, test_class_count = [], []
    mse_per_class, l1_per_class, l1_all_per_class = [], [], []
    for l in np.unique(labels):
        train_class_count.append(len(train_labels[train_labels == l]))
        test_class_count.append(len(labels[labels == l]))
        mse_per_class.append(np.sum((preds[labels == l] - labels[labels == l]) ** 2))
        l1_per_class.append(np.sum(np.abs(preds[labels == l] - labels[labels == l])))
        l1_all_per_class.append(np.abs(preds[labels == l] - labels[labels == l]))

    many_shot_mse, median_shot_mse, low_shot_mse = [], [], []
    many_shot_l1, median_shot_l1, low_shot_l1 = [], [], []
    many_shot_gmean, median_shot_gmean, low_shot_gmean = [], [], []
    many_shot_cnt, median_shot_cnt, low_shot_cnt = [], [], []

    for i in range(len(train_class_count)):
        if train_class_count[i] > many_shot_thr:
            many_shot_mse.append(mse_per_class[i])
            many_shot_l1.append(l1_per_class[i])
            many_shot_gmean += list(l1_all_per_class[i])
            many_shot_cnt.append(test_class_count[i])
        elif train_class_count[i] < low_shot_thr:
            low_shot_mse.append(mse_per_class[i])
            low_shot_l1.append(l1_per_class[i])
            low_shot_gmean += list(l1_all_per_class[i])
            low_shot_cnt.append(test_class_count[i])
        else:
            median_shot_mse.append(mse_per_class[i])
            median_shot_l1.append(l1_per_class[i])
            median_shot_gmean += list(l1_all_per_class[i])
            median_shot_cnt.append(test_class_count[i])

    shot_dict = {'many': {}, 'median': {}, 'low': {}}
    for key, mse, l1, gm, cnt in (('many', many_shot_mse, many_shot_l1, many_shot_gmean, many_shot_cnt),
                                  ('median', median_shot_mse, median_shot_l1, median_shot_gmean, median_shot_cnt),
                                  ('low', low_shot_mse, low_shot_l1, low_shot_gmean, low_shot_cnt)):
        with np.errstate(invalid='ignore', divide='ignore'):
            shot_dict[key]['mse'] = np.sum(mse) / np.sum(cnt)
            shot_dict[key]['l1'] = np.sum(l1) / np.sum(cnt)
            shot_dict[key]['gmean'] = gmean(np.hstack(gm), axis=None).astype(float)
    return shot_dict
