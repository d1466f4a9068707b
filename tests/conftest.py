"""Test tiers (see README "Tests"):

* default tier: ``pytest tests`` without ``TRITON_INTERPRET`` — references, CPU/C++ paths, dispatch,
  torch.compile, convergence on CPU, and the ahead-of-time tier (``-m aot``);
* interpreter tier: ``TRITON_INTERPRET=1 pytest tests -m interpreter`` — every Triton kernel on CPU tensors.

The two cannot share a process (``TRITON_INTERPRET=1`` turns ``@triton.jit`` into interpreted
functions that ``triton.compile`` rejects), so tests of the other tier are deselected, and ``make test``
runs both invocations.
"""

import os

import pytest

# value checks (NaN, negative weights, ...) on in the test suite, as conventions.md asks
os.environ.setdefault("DIRFAST_VALIDATE", "1")
INTERPRET = os.environ.get("TRITON_INTERPRET", "0") == "1"


def pytest_collection_modifyitems(config, items):
    keep, drop = [], []
    for item in items:
        is_interp = item.get_closest_marker("interpreter") is not None
        (keep if is_interp == INTERPRET else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture
def route(monkeypatch):
    """``route(path)`` -> the ``backend=`` value that runs CPU path ``path`` (``"cpu"`` = C++,
    ``"cpu_torch"`` = vectorised PyTorch); see ``_paths.select_path``."""
    from _paths import select_path

    return lambda path: select_path(path, monkeypatch)
