"""End-to-end demos of dirfast on real data.

``python -m dirfast.demo abalone [--quick] [--out DIR] [--seeds N] [--epochs N] [--methods a,b]``
(or ``make demo``) trains a small MLP on the UCI Abalone DIR split with every dirfast method and writes
the shot-metric table (Markdown + CSV) and plots; see :mod:`dirfast.demo.abalone`.

The demos need ``matplotlib`` and ``tqdm`` (``pip install dirfast[bench]``); the library does not.
"""

from .abalone import DEFAULT_METHODS, METHODS, QUICK_METHODS, Config, run

__all__ = ["run", "Config", "METHODS", "DEFAULT_METHODS", "QUICK_METHODS"]
