"""Interpreter tier: the FDS module driven through its Triton kernels (statistics and calibration)
over several epochs equals the same module on the reference backend."""

import pytest
import torch

from dirfast import Bins
from dirfast.nn import FDS
from dirfast.testing import assert_close_verbose

pytestmark = pytest.mark.interpreter

BUFFERS = ("running_mean", "running_var", "smoothed_mean_last_epoch", "smoothed_var_last_epoch")


def _epochs(variant, backend, in_forward):
    g = torch.Generator().manual_seed(7)
    fds = FDS(24, Bins(0, 1, 20), variant=variant, backend=backend,
              accumulate_in_forward=in_forward).train()
    outs, states, changed = [], [], []
    for epoch in range(4):
        for _ in range(3):
            y = torch.randint(-2, 23, (37,), generator=g).float()  # below and above the range
            z = torch.randn(37, 24, generator=g) * 3 + 5
            out = fds(z, y)
            outs.append(out)
            changed.append(not torch.equal(out, z))
            if not in_forward:
                fds.accumulate(z, y)
        fds.end_epoch(epoch)
        states.append({k: getattr(fds, k).clone() for k in BUFFERS})
    return outs, states, changed


@pytest.mark.parametrize("variant", ["default", "official"])
@pytest.mark.parametrize("in_forward", [False, True])
def test_fds_module_triton_matches_reference(variant, in_forward):
    outs_t, states_t, changed = _epochs(variant, "triton", in_forward)
    outs_r, states_r, _ = _epochs(variant, "reference", in_forward)
    assert not any(changed[:6]) and all(changed[6:]), changed  # calibration from epoch 2 on
    for k, (a, b) in enumerate(zip(outs_t, outs_r)):
        assert_close_verbose(a, b, tag=f"{variant} step {k} features", rtol=1e-5, scale="max")
    for e, (st, sr) in enumerate(zip(states_t, states_r)):
        for name in BUFFERS:
            assert_close_verbose(st[name], sr[name], tag=f"{variant} epoch {e} {name}", rtol=1e-5,
                                 scale="max")


@pytest.mark.parametrize("in_forward", [False, True])
def test_fds_module_triton_fused_path_matches_reference(in_forward):
    """Validation off: the default variant's Triton path (bin-id kernel, calibration and shift in
    the accumulation kernels, Chan merge in place) over several epochs equals the reference."""
    def run(backend):
        g = torch.Generator().manual_seed(11)
        fds = FDS(24, Bins(0, 1, 20), backend=backend, validate=False,
                  accumulate_in_forward=in_forward).train()
        outs = []
        for epoch in range(4):
            for _ in range(3):
                y = torch.randint(-2, 23, (37,), generator=g).float() + 0.5
                z = torch.randn(37, 24, generator=g) * 3 + 1e3
                outs.append(fds(z, y))
                if not in_forward:
                    fds.accumulate(z, y)
            fds.end_epoch(epoch)
        return outs, {k: getattr(fds, k).clone() for k in BUFFERS}

    outs_t, st = run("triton")
    outs_r, sr = run("reference")
    for k, (a, b) in enumerate(zip(outs_t, outs_r)):
        assert_close_verbose(a, b, tag=f"step {k}", rtol=1e-5, scale="max")
    for name in BUFFERS:
        assert_close_verbose(st[name], sr[name], tag=name, rtol=1e-5, scale="max")
