"""Properties of ``dirfast.nn.FDS`` (epoch protocol over ``fds_bin_stats``/``fds_calibrate``) and
``smooth_stats``: a state_dict saved at any point resumes bit-identically, inputs are never
modified, eval mode is the identity, two identical runs are bit-identical."""

import copy

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import dirfast

from _strategies import (F32, F64, assert_bitwise, assert_unchanged, budget, on_path, paths, seeds,
                         snapshot)

pytestmark = pytest.mark.property


@st.composite
def fds_scripts(draw):
    k = draw(st.sampled_from((3, 5, 8)))
    d = draw(st.sampled_from((1, 3, 8)))
    variant = draw(st.sampled_from(("default", "official")))
    cfg = dict(
        feature_dim=d,
        bins=dirfast.Bins(0, 1, k),
        start_update=draw(st.sampled_from((0, 1))),
        momentum=draw(st.sampled_from((0.9, 0.0, None))),
        accumulate_in_forward=draw(st.booleans()),
        variant=variant,
        empty_bins="keep" if variant == "official" else draw(st.sampled_from(("keep", "interpolate"))),
        dtype=draw(st.sampled_from((F32, F64))),
        kernel=draw(st.sampled_from(("gaussian", "triang", "laplace"))),
        ks=draw(st.sampled_from((3, 5))),
    )
    cfg["start_smooth"] = cfg["start_update"] + draw(st.sampled_from((0, 1)))
    g = torch.Generator().manual_seed(draw(seeds))
    steps = []
    for epoch in range(draw(st.integers(1, 4))):
        for _ in range(draw(st.integers(0, 3))):
            n = draw(st.sampled_from((0, 1, 2, 7, 33)))
            fdt = draw(st.sampled_from((F32, F64, torch.float16)))
            spatial = draw(st.booleans())
            shape = (n, d, 2, 3) if spatial else (n, d)
            feats = (torch.randn(*shape, generator=g, dtype=F64) * 2 + 5).to(fdt)
            lshape = (n, 2, 3) if spatial else (n,)
            # integer labels, some exactly on the edges, some outside the bins
            labels = torch.randint(-2, k + 2, lshape, generator=g).to(draw(st.sampled_from((F32, torch.int64))))
            steps.append((draw(st.sampled_from(("forward", "accumulate", "eval"))), feats, labels))
        steps.append(("end_epoch", epoch, None))
    cut = draw(st.integers(0, len(steps)))
    return dict(cfg=cfg, steps=steps, cut=cut)


def _run(fds, steps, backend):
    outs = []
    for kind, a, b in steps:
        if kind == "end_epoch":
            fds.end_epoch(a)
            continue
        snap = snapshot(a, b)
        if kind == "accumulate":
            fds.accumulate(a, b)
        elif kind == "eval":
            fds.eval()
            y = fds(a, b)
            assert y is a, "eval mode must return the features themselves"
            fds.train()
        else:
            fds.train()
            y = fds(a, b)
            assert y.shape == a.shape and y.dtype == a.dtype
            outs.append(y)
        assert_unchanged(snap, "features/labels")
    return outs


@budget(90)
@given(script=fds_scripts(), path=paths)
def test_state_dict_round_trip(script, path):
    """Run a random epoch script; at a random point save the state_dict, load it into a fresh FDS
    built with default arguments (the configuration travels as extra state) and run the rest on
    both: every later output and every buffer is bit-identical."""
    cfg, steps, cut = script["cfg"], script["steps"], script["cut"]
    dtype = cfg["dtype"]
    with on_path(path) as backend:
        a = dirfast.nn.FDS(**cfg, backend=backend)
        _run(a, steps[:cut], backend)
        state = copy.deepcopy(a.state_dict())
        b = dirfast.nn.FDS(cfg["feature_dim"], dirfast.Bins(0, 1, cfg["bins"].num_bins), dtype=dtype,
                           backend=backend)
        b.load_state_dict(state)
        for name, buf in a.named_buffers():
            assert_bitwise(buf, dict(b.named_buffers())[name], f"loaded {name}")
        assert b.config() == a.config() if hasattr(a, "config") else True
        out_a = _run(a, steps[cut:], backend)
        out_b = _run(b, steps[cut:], backend)
    assert_bitwise(out_a, out_b, "outputs after resume")
    assert_bitwise(dict(a.named_buffers()), dict(b.named_buffers()), "buffers after resume")
    assert_bitwise(a.state_dict(), b.state_dict(), "state_dict after resume")


@budget(45)
@given(script=fds_scripts())
def test_paths_agree_and_deterministic(script):
    """The same script twice on one path is bit-identical; the C++ and the vectorised paths give the
    same buffers within fp32/fp64 tolerance."""
    cfg, steps = script["cfg"], script["steps"]
    res = {}
    for path in ("cpu", "cpu_torch", "cpu"):
        with on_path(path) as backend:
            fds = dirfast.nn.FDS(**cfg, backend=backend)
            outs = _run(fds, steps, backend)
        bufs = {k: v.clone() for k, v in fds.named_buffers()}
        if path in res:
            assert_bitwise((outs, bufs), res[path], "two runs on one path")
        else:
            res[path] = (outs, bufs)
    # fp64 statistics of fp64 features: 1e-10; fp32 features (or buffers) accumulate in fp32: 2e-5;
    # fp16 features: 2e-3 (the official variant accumulates fp16-rounded calibrated features, where
    # the paths may round 1 ulp apart); relative to the largest statistic (shift = μ̃ − μ·scale cancels)
    fdts = {a.dtype for k_, a, _ in steps if k_ != "end_epoch"}
    rtol = 2e-3 if torch.float16 in fdts else 1e-10 if (cfg["dtype"] == F64 and fdts <= {F64}) else 2e-5
    top = max([1.0] + [v.abs().max().item() for v in res["cpu"][1].values()
                       if v.is_floating_point() and v.numel()])
    for k, v in res["cpu"][1].items():
        w = res["cpu_torch"][1][k]
        if v.is_floating_point():
            torch.testing.assert_close(v, w, rtol=rtol, atol=rtol * top, equal_nan=True,
                                       msg=lambda m: f"{k}: {m}")
        else:
            assert torch.equal(v, w), k


@budget(45)
@given(seed=seeds, k=st.sampled_from((1, 2, 3, 7)), d=st.sampled_from((1, 4)),
       ks=st.sampled_from((1, 3, 5)), kernel=st.sampled_from(("gaussian", "triang", "laplace")))
def test_smooth_stats_constants(seed, k, d, ks, kernel):
    """``smooth_stats`` with a sum-normalised window keeps constant statistics constant and never
    modifies its inputs."""
    if k <= (ks - 1) // 2:
        return
    g = torch.Generator().manual_seed(seed)
    c = torch.randn(1, d, generator=g, dtype=F64)
    mean, var = c.expand(k, d).clone(), (c.abs() + 1).expand(k, d).clone()
    win = dirfast.kernel_window(kernel, ks, 2.0, normalize="sum")
    snap = snapshot(mean, var, win)
    sm, sv = dirfast.smooth_stats(mean, var, win)
    assert_unchanged(snap)
    torch.testing.assert_close(sm, mean, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(sv, var, rtol=1e-12, atol=1e-12)
