"""The CUDA module ``dirfast._C_cuda`` on a machine without a GPU (CI here: nvcc, no driver).

* it is built and importable whenever nvcc is on PATH and DIRFAST_REQUIRE_EXT=1 (make test);
* ``device_count()`` returns 0 without raising; ``cuda_available()`` is False and
  ``require_cuda`` explains why; ``pav`` / ``pav_vjp`` / ``pav_block_mean`` raise a clean
  RuntimeError (not a crash), and bad arguments a ValueError before any CUDA call;
* the built library carries sm_80 and sm_90 machine code and compute_90 PTX, without spills.

What the kernels compute is tested on the CPU twice: through the simulated grid
(tests/test_ext_pav.py), which calls the same csrc/pav/pav_core.h functions in the order of the CUDA
launches, and here by compiling csrc/cuda/pav.cu itself with the host compiler against a small CUDA
stand-in (every CUDA thread a host thread, ``__syncthreads`` a barrier): the kernels' indexing,
barriers, flag and permutation handling, against the grid driver bit for bit.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import dirfast
from dirfast import _ext


def _mod():
    mod = _ext.cuda_module()
    if mod is None:
        if shutil.which("nvcc") and os.environ.get("DIRFAST_REQUIRE_EXT") == "1":
            pytest.fail(f"nvcc is on PATH but dirfast._C_cuda is missing ({_ext.cuda_import_error()})",
                        pytrace=False)
        pytest.skip(f"dirfast._C_cuda not built ({_ext.cuda_import_error()})")
    return mod


def _no_gpu(mod):
    if mod.device_count() > 0:
        pytest.skip("a CUDA device is present: these tests cover the no-GPU behaviour")


def test_built_when_nvcc_present():
    mod = _mod()
    assert mod.__name__ == "dirfast._C_cuda"


def test_device_count_without_gpu():
    mod = _mod()
    c = mod.device_count()
    assert isinstance(c, int) and c >= 0
    _no_gpu(mod)
    assert c == 0
    assert not _ext.cuda_available()
    with pytest.raises(RuntimeError, match="no GPU"):
        _ext.require_cuda("soft_sort")


def test_pav_without_gpu_raises_runtime_error():
    mod = _mod()
    _no_gpu(mod)
    x = np.sort(np.random.default_rng(0).normal(size=(2, 100)))
    out = np.empty_like(x)
    bs = np.empty(x.shape, np.int64)
    flag = np.zeros(1, np.int32)
    ws = np.zeros(mod.pav_workspace_bytes(2, 100, 0) + 256, np.uint8)
    wsp = (ws.ctypes.data + 255) // 256 * 256
    with pytest.raises(RuntimeError, match="no CUDA device"):
        mod.pav("float64", 0, x.ctypes.data, 2, 100, 1.0, out.ctypes.data, bs.ctypes.data, 0,
                flag.ctypes.data, wsp, 0)
    with pytest.raises(RuntimeError, match="no CUDA device"):
        mod.pav_block_mean("float64", x.ctypes.data, bs.ctypes.data, 2, 100, out.ctypes.data,
                           flag.ctypes.data, wsp, 0)
    perm = np.zeros(x.shape, np.int64)
    with pytest.raises(RuntimeError, match="no CUDA device"):
        mod.pav("float64", 1, x.ctypes.data, 2, 100, 1.0, out.ctypes.data, bs.ctypes.data, 0,
                flag.ctypes.data, wsp, 0, perm.ctypes.data)
    for mode in (0, 1):
        with pytest.raises(RuntimeError, match="no CUDA device"):
            mod.pav_vjp("float64", mode, x.ctypes.data, perm.ctypes.data, bs.ctypes.data, 2, 100,
                        0.5, out.ctypes.data, flag.ctypes.data, wsp, 0)


def test_pav_vjp_argument_errors_before_cuda():
    mod = _mod()
    g, o = np.zeros((2, 4)), np.zeros((2, 4))
    bs, perm = np.zeros((2, 4), np.int64), np.zeros((2, 4), np.int64)
    f = np.zeros(1, np.int32)
    base = dict(dtype="float64", mode=1, g=g.ctypes.data, perm=perm.ctypes.data,
                block_start=bs.ctypes.data, rows=2, n=4, eps=1.0, out=o.ctypes.data,
                flag=f.ctypes.data, workspace=4096, stream=0)
    for kw, word in [({"eps": 0.0}, "eps"), ({"eps": float("inf")}, "eps"), ({"mode": 2}, "mode"),
                     ({"n": 0}, "n must"), ({"dtype": "float16"}, "dtype"), ({"flag": 0}, "flag"),
                     ({"workspace": 0}, "workspace"), ({"perm": 0}, "perm"),
                     ({"perm": perm.ctypes.data + 4}, "perm"), ({"block_start": 0}, "block_start"),
                     ({"out": g.ctypes.data}, "overlap")]:
        with pytest.raises(ValueError, match=word):
            mod.pav_vjp(**{**base, **kw})
    with pytest.raises(ValueError, match="perm"):
        mod.pav("float64", 1, g.ctypes.data, 2, 4, 1.0, o.ctypes.data, 0, 0, f.ctypes.data, 4096, 0,
                perm.ctypes.data + 4)
    mod.pav_vjp(**{**base, "rows": 0})  # rows 0: no-op, no device needed


def test_argument_errors_before_cuda():
    mod = _mod()
    x = np.zeros((2, 4))
    o = np.zeros((2, 4))
    f = np.zeros(1, np.int32)
    for kw, word in [({"eps": 0.0}, "eps"), ({"mode": 3}, "mode"), ({"n": 0}, "n must"),
                     ({"dtype": "bfloat16"}, "dtype"), ({"flag": 0}, "flag"),
                     ({"workspace": 0}, "workspace")]:
        a = dict(dtype="float64", mode=0, x=x.ctypes.data, rows=2, n=4, eps=1.0,
                 out=o.ctypes.data, block_start=0, chunk=0, flag=f.ctypes.data, workspace=4096,
                 stream=0)
        a.update(kw)
        with pytest.raises(ValueError, match=word):
            mod.pav(**a)
    mod.pav("float64", 0, x.ctypes.data, 0, 4, 1.0, o.ctypes.data, 0, 0, 0, 0, 0)  # rows 0: no-op


def test_workspace_bytes():
    mod = _mod()
    for rows, n in [(1, 1), (3, 7), (256, 100), (1, 1_000_000)]:
        b = mod.pav_workspace_bytes(rows, n, 0)
        assert b % 256 == 0 and b >= 17 * rows * n
        assert mod.pav_workspace_bytes(rows, n, 7) >= 17 * rows * n
    with pytest.raises(ValueError, match="n must"):
        mod.pav_workspace_bytes(1, 0, 0)


def test_hidden_module_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "dirfast._C_cuda", None)
    assert _ext.cuda_module() is None and not _ext.cuda_available()
    with pytest.raises(RuntimeError, match="DIRFAST_BUILD_CUDA=1"):
        _ext.require_cuda("soft_sort")


def _cuobjdump():
    c = shutil.which("cuobjdump")
    if c:
        return c
    try:
        import triton

        c = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")
        return c if os.path.exists(c) else None
    except Exception:  # noqa: BLE001
        return None


def test_sass_and_ptx_targets():
    mod = _mod()
    tool = _cuobjdump()
    if tool is None:
        pytest.skip("no cuobjdump (neither on PATH nor in the triton wheel)")
    so = mod.__file__
    elf = subprocess.run([tool, "--list-elf", so], capture_output=True, text=True).stdout
    ptx = subprocess.run([tool, "--list-ptx", so], capture_output=True, text=True).stdout
    assert "sm_80.cubin" in elf and "sm_90.cubin" in elf, elf
    assert "sm_90.ptx" in ptx, ptx
    res = subprocess.run([tool, "--dump-resource-usage", so], capture_output=True, text=True).stdout
    stacks = [int(s) for s in re.findall(r"STACK:(\d+)", res)]
    assert stacks and max(stacks) == 0, "register spills in the PAV kernels"


# ------------------------------------------------------------------------------------------------
# the CUDA kernels' own source run on the CPU: csrc/cuda/pav.cu compiled by the host C++ compiler
# against a tiny CUDA stand-in (every CUDA thread a host thread, __syncthreads a std::barrier;
# _launch_stubs.build_pav_sim)


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    from _launch_stubs import build_pav_sim

    lib, why = build_pav_sim(tmp_path_factory.mktemp("pav_sim"))
    if lib is None:
        pytest.skip(why)
    return lib


def _aligned(nbytes):
    buf = np.zeros(nbytes + 256, np.uint8)
    off = (-buf.ctypes.data) % 256
    return buf[off:off + nbytes]


def _ptr(a):
    return 0 if a is None else a.ctypes.data


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", [0, 1], ids=["sort", "rank"])
@pytest.mark.parametrize("rows,n", [(1, 1), (1, 300), (3, 300), (4, 1000), (1, 16_384), (1, 17_000)],
                         ids=["1x1", "1x300", "3x300", "4x1000", "1x16384", "1x17000"])
def test_cuda_kernels_source_on_the_cpu(sim, dtype, mode, rows, n):
    """The kernels of csrc/cuda/pav.cu themselves (one block per row for n <= 16384, the per-step
    launches above), run by host threads: the PAV's values and block starts equal the CPU grid driver
    bit for bit (soft rank: scattered by ``perm``), the flag is set exactly when a row pools (with and
    without the memset of several rows), the launch count is the documented one, and the VJP
    (gather, block mean, epilogue, scatter) equals its numpy form on the driver's block means."""
    from dirfast import _ext

    cpu = _ext.require("the CPU grid driver")
    name = "float32" if dtype == np.float32 else "float64"
    code = 0 if dtype == np.float32 else 1
    rng = np.random.default_rng(rows * n + mode)
    theta = rng.standard_t(1.5, (rows, n)).astype(dtype)
    perm = np.argsort(theta, axis=-1, kind="stable").astype(np.int64)
    x = np.ascontiguousarray(np.take_along_axis(theta, perm, -1))
    for eps in ((1e-9, 0.7, 30.0) if mode == 0 else (1e-9, 0.05, 1e6)):
        want = np.empty_like(x)
        want_bs = np.empty((rows, n), np.int64)
        pooled = cpu.pav(name, mode, x.ctypes.data, rows, n, eps, want.ctypes.data,
                         want_bs.ctypes.data, 0, True, 1)
        ws = _aligned(sim.dirfast_pav_workspace_bytes(rows, n, 0))
        out = np.full_like(x, np.nan)
        bs = np.full((rows, n), -7, np.int64)
        flag = np.array([12345], np.int32)  # garbage: the PAV must set it
        p = perm if mode == 1 else None
        assert sim.dirfast_pav_cuda(code, mode, _ptr(x), rows, n, eps, _ptr(out), _ptr(bs), 0,
                                    _ptr(flag), _ptr(ws), 0, _ptr(p)) == 0
        launches = sim.sim_launches()
        # one kernel (+ the flag's memset when rows > 1); long rows: gap, chunk, one per tree level
        # (chunks of 32 here), last start, scan, write (+ the memset)
        assert launches == (1 if n <= 16384 else 5 + int(np.ceil(np.log2(n / 32)))), launches
        expect = want.copy()
        if mode == 1:
            np.put_along_axis(expect, perm, want, -1)
        tag = f"{name} mode {mode} {rows}x{n} eps {eps}"
        np.testing.assert_array_equal(out.view(np.uint8), expect.view(np.uint8), err_msg=tag)
        np.testing.assert_array_equal(bs, want_bs, err_msg=tag)
        assert int(flag[0]) == (1 if pooled else 0), (tag, flag, pooled)
        # the VJP, both with and without the flag (the identity form) and perm (mode 0)
        g = rng.standard_normal((rows, n)).astype(dtype)
        for f in (int(flag[0]), 0):
            for with_perm in ((True, False) if mode == 0 else (True,)):
                fl = np.array([f], np.int32)
                got = np.full_like(x, np.nan)
                assert sim.dirfast_pav_vjp_cuda(code, mode, _ptr(g), _ptr(perm if with_perm else None),
                                                _ptr(bs), rows, n, eps, _ptr(got), _ptr(fl), _ptr(ws),
                                                0) == 0
                assert sim.sim_launches() == (1 if n <= 16384 else 3)
                v = np.ascontiguousarray(np.take_along_axis(g, perm, -1) if mode == 1 else g)
                if f:
                    m = np.empty_like(v)
                    cpu.pav_block_mean(name, v.ctypes.data, bs.ctypes.data, rows, n, m.ctypes.data,
                                       1, True, 0)
                else:
                    m = v
                val = m if mode == 0 else (v - m) / dtype(eps)
                exp = val.copy()
                if with_perm:
                    np.put_along_axis(exp, perm, val, -1)
                np.testing.assert_array_equal(got.view(np.uint8), exp.view(np.uint8),
                                              err_msg=f"{tag} vjp flag {f} perm {with_perm}")
