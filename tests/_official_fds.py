"""Faithful re-implementation of the OFFICIAL FDS module (YyzHarry/imbalanced-regression, agedb-dir
``fds.py`` + the ``train.py`` statistics pass), written from the spec (docs/lds_fds.md §2, §7) like the
official code: per-unique-label loops, boolean masks, the alias assignment in
``update_last_epoch_stats``, in-place ``smooth``. The parity oracle of ``variant="official"``.

Deviations from the official file, none of which changes a number:
* no ``.cuda()`` (CPU tests); no logging/printing;
* ``dtype`` argument (official: float32 buffers) so the same code serves as an fp64 oracle; for
  fp64 the gaussian window is built from a float64 delta (official: float32 delta, float32 window);
* ``clip_min``/``clip_max`` arguments of ``calibrate_mean_var`` exposed on the module (age defaults).
"""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from scipy.ndimage import gaussian_filter1d
from scipy.signal.windows import triang


def calibrate_mean_var(matrix, m1, v1, m2, v2, clip_min=0.1, clip_max=10):
    if torch.sum(v1) < 1e-10:
        return matrix
    if (v1 == 0.).any():
        valid = (v1 != 0.)
        factor = torch.clamp(v2[valid] / v1[valid], clip_min, clip_max)
        matrix[:, valid] = (matrix[:, valid] - m1[valid]) * torch.sqrt(factor) + m2[valid]
        return matrix

    factor = torch.clamp(v2 / v1, clip_min, clip_max)
    return (matrix - m1) * torch.sqrt(factor) + m2


class OfficialFDS(nn.Module):

    def __init__(self, feature_dim, bucket_num=100, bucket_start=3, start_update=0, start_smooth=1,
                 kernel='gaussian', ks=5, sigma=2, momentum=0.9, dtype=torch.float32,
                 clip_min=0.1, clip_max=10):
        super(OfficialFDS, self).__init__()
        self.feature_dim = feature_dim
        self.bucket_num = bucket_num
        self.bucket_start = bucket_start
        self.kernel_window = self._get_kernel_window(kernel, ks, sigma, dtype)
        self.half_ks = (ks - 1) // 2
        self.momentum = momentum
        self.start_update = start_update
        self.start_smooth = start_smooth
        self.clip_min, self.clip_max = clip_min, clip_max

        self.register_buffer('epoch', torch.zeros(1).fill_(start_update))
        self.register_buffer('running_mean', torch.zeros(bucket_num - bucket_start, feature_dim, dtype=dtype))
        self.register_buffer('running_var', torch.ones(bucket_num - bucket_start, feature_dim, dtype=dtype))
        self.register_buffer('running_mean_last_epoch', torch.zeros(bucket_num - bucket_start, feature_dim, dtype=dtype))
        self.register_buffer('running_var_last_epoch', torch.ones(bucket_num - bucket_start, feature_dim, dtype=dtype))
        self.register_buffer('smoothed_mean_last_epoch', torch.zeros(bucket_num - bucket_start, feature_dim, dtype=dtype))
        self.register_buffer('smoothed_var_last_epoch', torch.ones(bucket_num - bucket_start, feature_dim, dtype=dtype))
        self.register_buffer('num_samples_tracked', torch.zeros(bucket_num - bucket_start))

    @staticmethod
    def _get_kernel_window(kernel, ks, sigma, dtype=torch.float32):
        assert kernel in ['gaussian', 'triang', 'laplace']
        half_ks = (ks - 1) // 2
        if kernel == 'gaussian':
            base_kernel = [0.] * half_ks + [1.] + [0.] * half_ks
            base_kernel = np.array(base_kernel, dtype=np.float32 if dtype == torch.float32 else np.float64)
            kernel_window = gaussian_filter1d(base_kernel, sigma=sigma) / sum(gaussian_filter1d(base_kernel, sigma=sigma))
        elif kernel == 'triang':
            kernel_window = triang(ks) / sum(triang(ks))
        else:
            laplace = lambda x: np.exp(-abs(x) / sigma) / (2. * sigma)  # noqa: E731
            kernel_window = list(map(laplace, np.arange(-half_ks, half_ks + 1))) / sum(map(laplace, np.arange(-half_ks, half_ks + 1)))

        return torch.tensor(kernel_window, dtype=dtype)

    def _update_last_epoch_stats(self):
        self.running_mean_last_epoch = self.running_mean          # the alias (spec §7.1)
        self.running_var_last_epoch = self.running_var

        self.smoothed_mean_last_epoch = F.conv1d(
            input=F.pad(self.running_mean_last_epoch.unsqueeze(1).permute(2, 1, 0),
                        pad=(self.half_ks, self.half_ks), mode='reflect'),
            weight=self.kernel_window.view(1, 1, -1), padding=0
        ).permute(2, 1, 0).squeeze(1)
        self.smoothed_var_last_epoch = F.conv1d(
            input=F.pad(self.running_var_last_epoch.unsqueeze(1).permute(2, 1, 0),
                        pad=(self.half_ks, self.half_ks), mode='reflect'),
            weight=self.kernel_window.view(1, 1, -1), padding=0
        ).permute(2, 1, 0).squeeze(1)

    def reset(self):
        self.running_mean.zero_()
        self.running_var.fill_(1)
        self.running_mean_last_epoch.zero_()
        self.running_var_last_epoch.fill_(1)
        self.smoothed_mean_last_epoch.zero_()
        self.smoothed_var_last_epoch.fill_(1)
        self.num_samples_tracked.zero_()

    def update_last_epoch_stats(self, epoch):
        if epoch == self.epoch + 1:
            self.epoch += 1
            self._update_last_epoch_stats()

    def update_running_stats(self, features, labels, epoch):
        if epoch < self.epoch:
            return

        assert self.feature_dim == features.size(1), "Input feature dimension is not aligned!"
        assert features.size(0) == labels.size(0), "Dimensions of features and labels are not aligned!"

        for label in torch.unique(labels):
            if label > self.bucket_num - 1 or label < self.bucket_start:
                continue
            elif label == self.bucket_start:
                curr_feats = features[labels <= label]
            elif label == self.bucket_num - 1:
                curr_feats = features[labels >= label]
            else:
                curr_feats = features[labels == label]
            curr_num_sample = curr_feats.size(0)
            curr_mean = torch.mean(curr_feats, 0)
            curr_var = torch.var(curr_feats, 0, unbiased=True if curr_feats.size(0) != 1 else False)

            self.num_samples_tracked[int(label - self.bucket_start)] += curr_num_sample
            factor = self.momentum if self.momentum is not None else \
                (1 - curr_num_sample / float(self.num_samples_tracked[int(label - self.bucket_start)]))
            factor = 0 if epoch == self.start_update else factor
            self.running_mean[int(label - self.bucket_start)] = \
                (1 - factor) * curr_mean + factor * self.running_mean[int(label - self.bucket_start)]
            self.running_var[int(label - self.bucket_start)] = \
                (1 - factor) * curr_var + factor * self.running_var[int(label - self.bucket_start)]

    def smooth(self, features, labels, epoch):
        if epoch < self.start_smooth:
            return features

        labels = labels.squeeze(1)
        for label in torch.unique(labels):
            if label > self.bucket_num - 1 or label < self.bucket_start:
                continue
            elif label == self.bucket_start:
                features[labels <= label] = calibrate_mean_var(
                    features[labels <= label],
                    self.running_mean_last_epoch[int(label - self.bucket_start)],
                    self.running_var_last_epoch[int(label - self.bucket_start)],
                    self.smoothed_mean_last_epoch[int(label - self.bucket_start)],
                    self.smoothed_var_last_epoch[int(label - self.bucket_start)],
                    self.clip_min, self.clip_max)
            elif label == self.bucket_num - 1:
                features[labels >= label] = calibrate_mean_var(
                    features[labels >= label],
                    self.running_mean_last_epoch[int(label - self.bucket_start)],
                    self.running_var_last_epoch[int(label - self.bucket_start)],
                    self.smoothed_mean_last_epoch[int(label - self.bucket_start)],
                    self.smoothed_var_last_epoch[int(label - self.bucket_start)],
                    self.clip_min, self.clip_max)
            else:
                features[labels == label] = calibrate_mean_var(
                    features[labels == label],
                    self.running_mean_last_epoch[int(label - self.bucket_start)],
                    self.running_var_last_epoch[int(label - self.bucket_start)],
                    self.smoothed_mean_last_epoch[int(label - self.bucket_start)],
                    self.smoothed_var_last_epoch[int(label - self.bucket_start)],
                    self.clip_min, self.clip_max)
        return features


def model_forward_train(fds, encoding, targets, epoch):
    """The official ResNet forward around FDS in train mode (``resnet.py``): returns
    ``(encoding_s, encoding)``; ``smooth`` works in place on ``encoding`` (spec §7.2), so the returned
    "raw" encoding is the calibrated one once ``epoch >= start_smooth``. ``encoding`` stands for the
    network's freshly computed feature tensor (callers pass a clone of their data)."""
    encoding_s = encoding
    if epoch >= fds.start_smooth:
        encoding_s = fds.smooth(encoding_s, targets, epoch)
    return encoding_s, encoding


def official_end_of_epoch(fds, feature_batches, label_batches, epoch):
    """``train.py`` after each epoch ``>= start_update``: the statistics pass over the training
    loader (model in train mode, so ``smooth`` runs), features gathered on the host and stacked, then
    ``update_last_epoch_stats`` and ``update_running_stats``. Returns the stacked features used."""
    if epoch < fds.start_update:
        return None
    encodings, labels = [], []
    with torch.no_grad():
        for feats, targets in zip(feature_batches, label_batches):
            _, feature = model_forward_train(fds, feats.clone(), targets.reshape(-1, 1), epoch)
            encodings.extend(feature.data.squeeze().cpu().numpy())
            labels.extend(targets.data.squeeze().cpu().numpy())
    encodings, labels = torch.from_numpy(np.vstack(encodings)), torch.from_numpy(np.hstack(labels))
    fds.update_last_epoch_stats(epoch)
    fds.update_running_stats(encodings, labels, epoch)
    return encodings
