"""Test tiers (see README "Tests"):

* default tier: ``pytest tests`` without ``TRITON_INTERPRET`` — references, CPU/C++ paths, dispatch,
  torch.compile, convergence on CPU, and the ahead-of-time tier (``-m aot``);
* interpreter tier: ``TRITON_INTERPRET=1 pytest tests -m interpreter`` — every Triton kernel on CPU tensors;
* GPU tier: ``pytest tests -m gpu`` — every op on CUDA tensors (``tests/gpu``); skipped, with the reason,
  where CUDA is not available, unless ``DIRFAST_GPU_TIER_DEVICE=cpu`` dry-runs it on CPU tensors.

The two cannot share a process (``TRITON_INTERPRET=1`` turns ``@triton.jit`` into interpreted
functions that ``triton.compile`` rejects), so tests of the other tier are deselected, and ``make test``
runs both invocations.
"""

import os

import pytest

# value checks (NaN, negative weights, ...) on in the test suite, as docs/conventions.md asks
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
    gpu_items = [item for item in items if item.get_closest_marker("gpu") is not None]
    if gpu_items and os.environ.get("DIRFAST_GPU_TIER_DEVICE", "cuda").startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            why = ("GPU tier: no CUDA device (torch.cuda.is_available() is False; torch "
                   f"{torch.__version__}); run it on a GPU machine with `make gpu-check` or "
                   "`pytest -m gpu`, or dry-run it on CPU with DIRFAST_GPU_TIER_DEVICE=cpu")
            for item in gpu_items:
                item.add_marker(pytest.mark.skip(reason=why))


@pytest.fixture
def route(monkeypatch):
    """``route(path)`` -> the ``backend=`` value that runs CPU path ``path`` (``"cpu"`` = C++,
    ``"cpu_torch"`` = vectorised PyTorch); see ``_paths.select_path``."""
    from _paths import select_path

    return lambda path: select_path(path, monkeypatch)
