"""Convergence harness through the Triton kernels under the interpreter."""

import pytest

from _convergence import CASES, assert_same_training

pytestmark = pytest.mark.interpreter


@pytest.mark.parametrize("case", sorted(CASES))
def test_convergence_triton(case):
    assert_same_training(case, "triton")
