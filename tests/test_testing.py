"""The tolerance helpers fail when they should (a helper that cannot fail would make every test moot)."""

import pytest
import torch

from dirfast.testing import assert_close_verbose, assert_low_precision_close


def test_assert_close_verbose_reports_first_mismatch():
    a = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    b = a.clone()
    b[2] += 1e-6
    with pytest.raises(AssertionError, match=r"(?s)\[tagX\] 1/3 elements.*\[2\] actual=3.0"):
        assert_close_verbose(a, b, tag="tagX")
    assert_close_verbose(a, b, tag="ok", rtol=1e-6)
    with pytest.raises(AssertionError, match="shape"):
        assert_close_verbose(a, b[:2], tag="s")
    with pytest.raises(AssertionError, match="NaN pattern"):
        assert_close_verbose(a, torch.tensor([1.0, float("nan"), 3.0], dtype=torch.float64), tag="n")


def test_low_precision_rule():
    oracle = torch.linspace(-1, 1, 101, dtype=torch.float64)
    baseline = oracle.half()
    assert_low_precision_close(baseline.clone(), baseline, oracle, tag="same")
    worse = (oracle + 3 * (baseline.double() - oracle).abs().max()).half()
    with pytest.raises(AssertionError, match="baseline error"):
        assert_low_precision_close(worse, baseline, oracle, tag="worse", atol=0.0)
