"""Triton kernels. Importing this package imports triton: only ``dirfast.ops`` launchers do, lazily.

Every ``@triton.jit`` function defined in a module of this package must be registered with
``_registry.register`` together with every config its launcher can pick; the ahead-of-time test
(``tests/aot``) walks the package and fails on any kernel that is not registered.
"""

KERNEL_MODULES = ("weighted_loss",)
KERNEL_MODULES += ("fds_calibrate",)
KERNEL_MODULES += ("fds_stats",)
KERNEL_MODULES += ("conr",)
KERNEL_MODULES += ("soft_sort",)
KERNEL_MODULES += ("dist_loss",)
KERNEL_MODULES += ("balanced_mse",)
KERNEL_MODULES += ("lds",)
KERNEL_MODULES += ("ranksim",)
