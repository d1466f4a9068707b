"""dirfast: fused, tested Deep Imbalanced Regression (LDS, FDS, ConR, Dist Loss) for PyTorch.

``import dirfast`` needs only torch: triton and the compiled extension ``dirfast._C`` are optional.
"""

from . import data, functional, nn
from ._backend import BACKENDS, resolve_backend
from .bins import Bins
from .conr import ConRLoss, conr_loss
from .distloss import DistLoss, dist_loss, pseudo_labels
from .fds import fill_empty_stats, smooth_stats
from .fds_calibrate import fds_calibrate, fds_scale_shift
from .fds_stats import BinStats, fds_bin_stats
from .functional import focal_l1, focal_mse, huber, l1, mse, weighted_loss
from .lds import LDS, kernel_window, lds_weights
from .metrics import ShotMetrics, shot_metrics
from .soft_sort import soft_rank, soft_sort

__version__ = "0.1.0"

__all__ = [
    "__version__", "BACKENDS", "resolve_backend", "data", "functional", "nn",
    # weighted losses
    "weighted_loss", "mse", "l1", "focal_mse", "focal_l1", "huber",
    # bins, LDS, metrics
    "Bins", "LDS", "kernel_window", "lds_weights", "ShotMetrics", "shot_metrics",
    # FDS
    "BinStats", "fds_bin_stats", "fds_scale_shift", "fds_calibrate", "smooth_stats", "fill_empty_stats",
    "conr_loss", "ConRLoss",
    "soft_sort", "soft_rank",
    "dist_loss", "pseudo_labels", "DistLoss",
]

# RankSim
from .ranksim import RankSimLoss, ranksim_loss, ranksim_subset  # noqa: E402

__all__ += ["ranksim_loss", "ranksim_subset", "RankSimLoss"]

# Balanced MSE (defined in dirfast.balanced_mse)
from .balanced_mse import GMM, BalancedMSELoss, bmc_loss, bni_loss, bni_prior, fit_gmm, gai_loss  # noqa: E402

__all__ += ["bmc_loss", "gai_loss", "bni_loss", "BalancedMSELoss", "GMM", "fit_gmm", "bni_prior"]
