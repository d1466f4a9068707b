"""Interpreter tier: the Triton FDS-calibration kernel (forward and backward) on CPU tensors against
the official formula in fp64."""

import pytest
import torch

import dirfast
from dirfast.reference.fds_calibrate import fds_calibrate_loop_ref
from dirfast.testing import assert_close_verbose

from _fds_calibrate_cases import (check_against_reference, check_gradcheck, check_identity_bits,
                                  check_non_contiguous, check_not_mutated, make_features, make_stats,
                                  run)
from _fds_layouts import check_calibrate_layouts

pytestmark = pytest.mark.interpreter


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16])
@pytest.mark.parametrize("n", [1, 7, 200])
@pytest.mark.parametrize("d", [1, 7, 64, 300])
def test_triton_matches_reference(dtype, n, d):
    # d covers every registered BLOCK_D (16, 64, 256) with a ragged last column block at 7 and 300
    check_against_reference("triton", n, d, dtype)


@pytest.mark.parametrize("variant", ["default", "official"])
def test_triton_int32_and_variants(variant):
    check_against_reference("triton", 129, 19, torch.float32, variant=variant, idx_dtype=torch.int32)


def test_triton_official_loop():
    stats = make_stats(8, 33, torch.float32)
    z, idx = make_features(150, 33, 8, torch.float32)
    s, t = dirfast.fds_scale_shift(*stats, variant="official")
    got = dirfast.fds_calibrate(z, idx, s, t, backend="triton")
    want = fds_calibrate_loop_ref(z.double(), idx, *(x.double() for x in stats))
    assert_close_verbose(got, want, tag="triton official", scale="max")


def test_triton_bf16_smoke():
    # the interpreter has no bf16 arithmetic: loads/stores only, judged with fixed tolerances
    s, t = dirfast.fds_scale_shift(*make_stats(6, 40, torch.float32))
    z, idx = make_features(65, 40, 6, torch.bfloat16)
    go = torch.randn(65, 40).to(torch.bfloat16)
    y, gx = run("triton", z, idx, s, t, go)
    want, gw = run("reference", z.float(), idx, s, t, go.float())
    assert y.dtype == torch.bfloat16
    assert_close_verbose(y.float(), want, tag="bf16", rtol=1e-2, scale="max")
    assert_close_verbose(gx.float(), gw, tag="bf16 grad", rtol=1e-2, scale="max")


def test_triton_gradcheck():
    check_gradcheck("triton")


def test_triton_non_contiguous():
    check_non_contiguous("triton")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_triton_every_layout_contiguous_result(dtype):
    """Expanded (row / column stride 0), unfolded (overlapping rows), transposed, sliced: the kernel
    reads z through both strides in place and writes a contiguous [N, D]."""
    check_calibrate_layouts("triton", dtype, sizes=((1, 1), (9, 5), (150, 70)))


def test_triton_identity_rows_bit_exact():
    check_identity_bits("triton")


def test_triton_inputs_not_mutated():
    check_not_mutated("triton")


def test_auto_never_picks_the_interpreter(monkeypatch):
    calls = []
    import dirfast.kernels.fds_calibrate as k
    monkeypatch.setattr(k, "fds_calibrate_fwd", lambda *a, **kw: calls.append(1))
    s, t = dirfast.fds_scale_shift(*make_stats(3, 4))
    z, idx = make_features(5, 4, 3)
    dirfast.fds_calibrate(z, idx, s, t)
    assert calls == []
