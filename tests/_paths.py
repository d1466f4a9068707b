"""The two CPU paths every op is tested on, and the one rule for tests that need ``dirfast._C``.

* ``"cpu"``: the C++ kernel in ``dirfast._C`` (``backend="cpu"``);
* ``"cpu_torch"``: vectorised PyTorch, what ``backend="auto"`` runs when the extension is not built
  (selected by hiding the extension).

Without the extension, C++ tests skip with the reason — and fail under ``DIRFAST_REQUIRE_EXT=1``, which
``make test`` sets, so CI can never pass by skipping them.
"""

import os

import pytest
import torch

import dirfast
from dirfast import _ext

CPU_PATHS = ["cpu", "cpu_torch"]


def require_ext():
    if _ext.available():
        return
    msg = f"dirfast._C is not available ({_ext.import_error()})"
    if os.environ.get("DIRFAST_REQUIRE_EXT") == "1":
        pytest.fail(f"{msg} but DIRFAST_REQUIRE_EXT=1", pytrace=False)
    pytest.skip(f"{msg}; build it with `pip install --no-build-isolation -e .`")


def select_path(path, monkeypatch):
    """Make ``path`` the one that runs; returns the ``backend=`` value that selects it."""
    if path == "cpu":
        require_ext()
        return "cpu"
    monkeypatch.setattr(_ext, "available", lambda: False)
    assert dirfast.resolve_backend("auto", torch.device("cpu"), op="t") == "cpu_torch"
    return "auto"
