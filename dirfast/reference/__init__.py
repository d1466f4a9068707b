"""Pure-PyTorch reference implementations (``x_ref``): they define dirfast's semantics, work in fp64 on
any device, differentiate through ordinary torch ops, and are what every fast path is tested against."""

from .balanced_mse import bmc_loss_ref, bni_loss_ref, gai_loss_ref
from .conr import conr_loss_ref
from .dist_loss import dist_loss_ref, pseudo_labels_ref
from .fds_calibrate import fds_calibrate_ref, fds_calibrate_stats_ref, fds_scale_shift_ref
from .fds_stats import fds_bin_stats_ref
from .lds import kernel_window, lds_weights_ref
from .metrics import shot_metrics_ref
from .weighted_loss import weighted_loss_ref

__all__ = ["weighted_loss_ref", "kernel_window", "lds_weights_ref", "shot_metrics_ref",
           "fds_bin_stats_ref", "fds_scale_shift_ref", "fds_calibrate_ref", "fds_calibrate_stats_ref",
           "conr_loss_ref", "dist_loss_ref", "pseudo_labels_ref"]
__all__ += ["bmc_loss_ref", "gai_loss_ref", "bni_loss_ref"]

# RankSim
from .ranksim import ranksim_loss_ref  # noqa: E402

__all__ += ["ranksim_loss_ref"]
