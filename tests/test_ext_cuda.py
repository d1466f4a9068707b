"""The CUDA module ``dirfast._C_cuda`` on a machine without a GPU (CI here: nvcc, no driver).

* it is built and importable whenever nvcc is on PATH and DIRFAST_REQUIRE_EXT=1 (make test);
* ``device_count()`` returns 0 without raising; ``cuda_available()`` is False and
  ``require_cuda`` explains why; ``pav`` / ``pav_vjp`` / ``pav_block_mean`` raise a clean
  RuntimeError (not a crash), and bad arguments a ValueError before any CUDA call;
* the built library carries sm_80 and sm_90 machine code and compute_90 PTX, without spills.

What the kernels compute is tested on the CPU through the simulated grid (tests/test_ext_pav.py),
which calls the same csrc/pav/pav_core.h functions in the order of the CUDA launches.
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
