"""Convergence harness on the CPU paths (the interpreter twin is tests/interpreter/test_interp_convergence.py)."""

import pytest

from dirfast import _ext

from _convergence import CASES, assert_same_training


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("path", ["cpu", "cpu_torch"])
def test_convergence_cpu(case, path, monkeypatch):
    if path == "cpu_torch":
        monkeypatch.setattr(_ext, "available", lambda: False)
        backend = "auto"
    else:
        backend = "cpu"  # raises (does not skip) if the extension is missing
    assert_same_training(case, backend)
