"""CPU stand-ins for the GPU launch path, shared by ``test_kernel_signatures.py`` and
``test_device_guard.py`` (and by the launch-path tests of the ops).

* :class:`LaunchStubs` replaces ``run`` of every registered ``@triton.jit`` kernel (what
  ``kernel[grid](...)`` calls) by a recorder — nothing is compiled or launched — records which
  registered config each launcher ``pick``-ed, keeps a fake *current CUDA device* behind the
  ``_exchange_device`` / ``_maybe_exchange_device`` hooks of ``dirfast.kernels._launch`` (starting at
  0), and puts a recording stand-in for ``dirfast._C_cuda`` behind ``dirfast._ext`` (so the ops take
  their ``_C_cuda`` routes, as on a GPU machine with the extension built).
* :func:`fake_cuda` is a ``FakeTensorMode``: tensors created in it with ``device="cuda:1"`` are CUDA
  tensors to every launcher (metadata only, no storage, no GPU needed). Never let autograd see one
  that requires grad: the CPU build of torch aborts the process there. The drivers below call the
  registered ops' real implementations (``CustomOpDef._init_fn``: under a fake mode, calling the op
  itself runs its ``register_fake`` function instead) and the launchers, never ``backward()``.
* ``DRIVERS``: per kernel module, a function that drives every registered config of its kernels
  through the real launchers on fake CUDA tensors of every dtype.
"""

from __future__ import annotations

import contextlib
import importlib
import types
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import torch
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

import dirfast
import dirfast.kernels as kernels_pkg
from dirfast import _ext
from dirfast.kernels import _launch
from dirfast.kernels._registry import REGISTRY

DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def kernel_modules():
    return [importlib.import_module(f"dirfast.kernels.{m}") for m in kernels_pkg.KERNEL_MODULES]


@dataclass
class Launch:
    qualname: str
    fn: Any
    args: Tuple[Any, ...]
    kwargs: Dict[str, Any]
    grid: Any
    device: int  #: the fake current CUDA device at the launch
    key: Optional[Tuple[Any, ...]]  #: the config key the launcher last picked for this kernel


@dataclass
class CudaCall:
    name: str
    device: int
    args: Tuple[Any, ...] = ()  #: the call's positional arguments (sizes, pointers, ...)


@dataclass
class LaunchStubs:
    launches: List[Launch] = field(default_factory=list)
    cuda_calls: List[CudaCall] = field(default_factory=list)
    current: int = 0
    picks: Dict[str, Tuple[Any, ...]] = field(default_factory=dict)
    #: keep each launch's arguments; False records none (no reference to the launch's tensors is
    #: kept, so autograd may adopt a kernel's output as ``.grad`` as it does on a GPU)
    keep_args: bool = True

    def install(self, monkeypatch) -> "LaunchStubs":
        try:
            mods = kernel_modules()  # importing registers every kernel
        except ImportError:  # no triton: the boundary tests need no kernel
            mods = []
        for qual, spec in REGISTRY.items():
            monkeypatch.setattr(spec.fn, "run", self._recorder(qual, spec.fn))
        for mod in mods:
            if hasattr(mod, "pick"):
                monkeypatch.setattr(mod, "pick", self._pick(mod.pick))
        monkeypatch.setattr(_launch, "_exchange_device", self._exchange)
        monkeypatch.setattr(_launch, "_maybe_exchange_device", self._exchange)
        cu = _FakeCudaExt(self)
        monkeypatch.setattr(_ext, "cuda_available", lambda: True)
        monkeypatch.setattr(_ext, "cuda_module", lambda: cu)
        monkeypatch.setattr(_ext, "require_cuda", lambda what=None: cu)
        monkeypatch.setattr(torch.cuda, "current_stream",
                            lambda device=None: types.SimpleNamespace(cuda_stream=0))
        return self

    # torch.cuda._exchange_device semantics: a negative index is a no-op returning -1
    def _exchange(self, index: int) -> int:
        if index < 0:
            return -1
        prev, self.current = self.current, index
        return prev

    def _recorder(self, qual, fn):
        def run(*args, grid, warmup, **kwargs):
            assert not warmup
            if not self.keep_args:
                args, kwargs = (), {}
            self.launches.append(Launch(qual, fn, args, kwargs, grid, self.current,
                                        self.picks.get(qual)))
            return None
        return run

    def _pick(self, real_pick):
        def pick(fn, key):
            self.picks[f"{fn.__module__}.{fn.__name__}"] = key
            return real_pick(fn, key)
        return pick


class _FakeCudaExt:
    """Stand-in for ``dirfast._C_cuda``: every function records the fake current device and
    returns 1 (a device count, a workspace size in bytes, ...)."""

    def __init__(self, stubs: LaunchStubs):
        self._stubs = stubs

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)

        def call(*args, **kwargs):
            self._stubs.cuda_calls.append(CudaCall(name, self._stubs.current, args))
            return 1
        return call


def _fake_getitem(self, idx):
    """Basic indexing (ints, slices, None, Ellipsis) of a fake tensor through aten view ops: the CPU
    build of torch cannot index a tensor on a CUDA device from Python (its argument parser wants a
    CUDA device guard), while the aten ops themselves run on fake tensors."""
    aten = torch.ops.aten
    idx = idx if isinstance(idx, tuple) else (idx,)
    if any(i is Ellipsis for i in idx):
        k = next(j for j, i in enumerate(idx) if i is Ellipsis)
        used = sum(1 for i in idx if i is not None and i is not Ellipsis)
        idx = idx[:k] + (slice(None),) * (self.dim() - used) + idx[k + 1:]
    out, dim = self, 0
    for i in idx:
        if i is None:
            out = aten.unsqueeze.default(out, dim)
            dim += 1
        elif isinstance(i, slice):
            if i != slice(None):
                out = aten.slice.Tensor(out, dim, i.start, i.stop, 1 if i.step is None else i.step)
            dim += 1
        elif isinstance(i, int) and not isinstance(i, bool):
            out = aten.select.int(out, dim, i)
        else:
            raise TypeError(f"_launch_stubs: fake CUDA tensors support basic indexing only, got {i!r}")
    return out


@contextlib.contextmanager
def fake_cuda():
    """A ``FakeTensorMode`` in which ``torch.*(..., device="cuda:1")`` makes fake CUDA tensors."""
    from torch._subclasses.fake_tensor import FakeTensor

    saved = FakeTensor.__dict__.get("__getitem__")
    FakeTensor.__getitem__ = _fake_getitem
    try:
        with FakeTensorMode(allow_non_fake_inputs=False):
            yield
    finally:
        if saved is None:
            del FakeTensor.__getitem__
        else:
            FakeTensor.__getitem__ = saved


class HostToDeviceCopies(TorchDispatchMode):
    """Records every aten op that reads a CPU tensor and writes a CUDA tensor — a host-to-device
    copy (``torch.tensor(values, device="cuda")``, ``cpu_tensor.to("cuda")``, ``cuda.copy_(cpu)``),
    which on a GPU costs a copy and a stream synchronisation. Python numbers passed to ops
    (``x * 0.5``, ``torch.where(m, x, 0.0)``) are not copies: they arrive as scalars or as
    ``scalar_tensor`` fills made on the device. Enter it inside :func:`fake_cuda`."""

    def __init__(self):
        super().__init__()
        self.copies = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        ins = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        outs = [t for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)]
        if any(t.device.type == "cpu" for t in ins) and any(t.device.type == "cuda" for t in outs):
            self.copies.append(f"{func} {[tuple(t.shape) for t in ins if t.device.type == 'cpu']}")
        return out


def real(op):
    """The Python implementation of a ``torch.library.custom_op`` (its CUDA route for CUDA tensors)."""
    return op._init_fn


# ------------------------------------------------------------------------------------------------
# drivers: every registered config, through the real launchers, on fake CUDA tensors of `device`


def _t(*shape, dtype=torch.float32, device="cuda:1"):
    return torch.randn(*shape, dtype=dtype, device=device)


def drive_weighted_loss(device="cuda:1", dtypes=DTYPES):
    from dirfast.ops.weighted_loss import LOSS_CODES, weighted_loss_op

    for dtype in dtypes:
        for n in (1000, 3):
            pred, target = _t(n, dtype=dtype, device=device), _t(n, dtype=dtype, device=device)
            for weight in (None, _t(n, dtype=dtype, device=device).abs()):
                for loss in LOSS_CODES:
                    for reduction in ("mean", "sum", "none"):
                        for need_grad in (False, True):
                            real(weighted_loss_op)(pred, target, weight, loss, 0.3, 1.0, "tanh",
                                                   reduction, "triton", need_grad)


def drive_conr(device="cuda:1", dtypes=DTYPES):
    from dirfast.ops.conr import conr_bwd, conr_op

    m = 50
    for dtype in dtypes:
        backends = ["triton"] + (["triton_tf32", "triton_tf32x3"] if dtype == torch.float32 else [])
        # labels/predictions in another dtype than the features (the H200 fp64 case: fp32 labels)
        ldt = torch.float32 if dtype == torch.float64 else torch.float64
        y, yh = _t(m, dtype=ldt, device=device), _t(m, dtype=ldt, device=device)
        a = _t(m, dtype=dtype, device=device).abs()
        for d in (8, 300):  # anchor tile held / streamed in D chunks, both kernels
            z = _t(m, d, dtype=dtype, device=device)
            for backend in backends:
                for pushing, keep_self, weights in (("exp", False, None), ("linear", True, a)):
                    args = (0.7, 0.07, 0.01, pushing, keep_self)
                    _, _, stats = real(conr_op)(z, y, yh, weights, *args, False, False, "mean",
                                                "l1", "paper", backend)
                    real(conr_bwd)(torch.ones((), dtype=dtype, device=device), z, y, yh, weights,
                                   stats, *args, "l1", backend)


def drive_fds_calibrate(device="cuda:1", dtypes=DTYPES):
    from dirfast.ops.fds_calibrate import fds_calibrate_bwd, fds_calibrate_op

    nb = 7
    for dtype in dtypes:
        acc = torch.float64 if dtype == torch.float64 else torch.float32
        for d in (8, 40, 300):  # every BLOCK_D
            z = _t(d, 33, dtype=dtype, device=device).t()  # [33, d], transposed strides
            for idx_dtype in (torch.int64, torch.int32):
                idx = torch.randint(-1, nb + 1, (33,), dtype=idx_dtype, device=device)
                scale, shift = _t(nb, d, dtype=acc, device=device), _t(nb, d, dtype=acc, device=device)
                real(fds_calibrate_op)(z, idx, scale, shift, "triton")
                real(fds_calibrate_bwd)(z, idx, scale, "triton")


def drive_fds_stats(device="cuda:1", dtypes=DTYPES):
    from dirfast.ops.fds_stats import fds_bin_stats_op

    for dtype in dtypes:
        for d in (8, 100):  # narrow / wide tiles
            x = _t(600, d + 3, dtype=dtype, device=device).narrow(1, 0, d)  # row stride != D
            for idx_dtype in (torch.int64, torch.int32):
                idx = torch.randint(-1, 12, (600,), dtype=idx_dtype, device=device)
                real(fds_bin_stats_op)(x, idx, 10, "triton")
    # the FDS module's accumulation (reference shift, calibration, Chan merge into the partials)
    from dirfast.ops.fds_stats import fds_accumulate_op

    for dtype in dtypes:
        acc = torch.float64 if dtype == torch.float64 else torch.float32
        for d in (8, 100):
            x = _t(600, d + 3, dtype=dtype, device=device).narrow(1, 0, d)
            keys = torch.randint(0, 12, (600,), device=device)
            parts = (torch.zeros(12, dtype=torch.int64, device=device),
                     torch.zeros(12, d, dtype=torch.float64, device=device),
                     torch.zeros(12, d, dtype=torch.float64, device=device))
            run = (_t(10, d, dtype=acc, device=device), torch.zeros(10, dtype=torch.int64, device=device))
            for cal in (None, torch.randint(-1, 11, (600,), device=device)):
                tables = (None, None) if cal is None else (_t(10, d, dtype=acc, device=device),
                                                           _t(10, d, dtype=acc, device=device))
                real(fds_accumulate_op)(x, keys, cal, *tables, *run, *parts, "triton")
    # the FDS module's bin-id kernel (float32 / float64 labels against edges of their dtype)
    from dirfast.kernels.fds_stats import fds_bin_ids_fwd

    for dtype in (torch.float32, torch.float64):
        fds_bin_ids_fwd(_t(300, dtype=dtype, device=device), _t(12, dtype=dtype, device=device))


def drive_soft_sort(device="cuda:1", dtypes=DTYPES):
    """The Triton prep kernel and the soft-rank backward epilogue (the path of a GPU without
    ``dirfast._C_cuda``) through their launchers, and the ops' ``_C_cuda`` route (forward and
    backward ops) for every dtype."""
    from dirfast.kernels.soft_sort import (MODE_RANK, MODE_SORT, soft_rank_bwd_epilogue,
                                           soft_sort_prep)
    from dirfast.ops.soft_sort import soft_rank_bwd, soft_rank_op, soft_sort_bwd, soft_sort_op

    for dtype in dtypes:
        acc = torch.float64 if dtype == torch.float64 else torch.float32
        for mode in (MODE_SORT, MODE_RANK):
            soft_sort_prep(_t(3, 100, dtype=acc, device=device), 0.5, mode)
        gt = _t(3, 100, dtype=acc, device=device)
        soft_rank_bwd_epilogue(gt, gt, torch.sort(gt, dim=-1)[1], 0.5)
        theta = _t(3, 100, dtype=dtype, device=device)
        for fwd, bwd in ((soft_sort_op, soft_sort_bwd), (soft_rank_op, soft_rank_bwd)):
            out, perm, bs, flag = real(fwd)(theta, 0.5, "triton")
            real(bwd)(torch.ones_like(out), perm, bs, flag, 0.5, "triton", dtype)


def drive_dist_loss(device="cuda:1", dtypes=DTYPES):
    """The public ``dist_loss`` (its ``_C_cuda`` route reaches every kernel: the pooling kernels are
    always launched and exit on a device flag; the gradient rewrite there also reduces the loss),
    and the gradient rewrite without the loss reduction (the route of a GPU without ``_C_cuda``,
    which reads the flag on the host) through its launcher."""
    from dirfast.kernels import dist_loss as K
    from dirfast.ops.dist_loss import LOSS_CODES

    for dtype in dtypes:
        n = 700
        p, y = _t(n, dtype=dtype, device=device), _t(n, dtype=dtype, device=device)
        q = torch.sort(_t(n, dtype=dtype, device=device))[0]
        w = _t(n, dtype=dtype, device=device).abs()
        for loss in ("l1", "l2", "huber", "focal_l1"):
            dirfast.dist_loss(p, y, q, None, loss=loss, backend="triton", validate=False)
            for weighting in ("none", "by_rank", "official"):
                dirfast.dist_loss(p, y, q, w, loss=loss, dist_weighting=weighting,
                                  backend="triton", validate=False)
    for dtype in (torch.float32, torch.float64):
        n = 700
        x, perm = torch.sort(_t(n, dtype=dtype, device=device))
        sc = K.scalars(dtype, n, "mean", 1.0, 0.5, 1.0, 1.0)
        flag = torch.zeros(1, dtype=torch.int32, device=device)
        for loss in LOSS_CODES.values():
            for w in (None, x.abs()):
                K.pooled_grad(x, perm, x, w, x, sc, torch.empty_like(x), flag, loss=loss)


def drive_balanced_mse(device="cuda:1", dtypes=DTYPES):
    """The registered op's Triton route for every kind, dtype, reduction, σ/variance input and
    gradient request, and the official GAI/BNI (fp64 accumulation) route."""
    from dirfast.ops.balanced_mse import acc_dtype, balanced_mse_bwd, balanced_mse_op

    n, k = 70, 9
    for dtype in dtypes:
        p, y = _t(n, 1, dtype=dtype, device=device), _t(n, 1, dtype=dtype, device=device)
        for kind in ("bmc", "gai", "bni"):
            for variant in ("default", "official") if kind != "bmc" else ("default",):
                acc = acc_dtype(dtype, kind, variant)
                c = None if kind == "bmc" else _t(k, 1, dtype=acc, device=device)
                cv = _t(k, 1, dtype=acc, device=device).abs() if kind == "gai" else None
                w = None if kind == "bmc" else _t(k, dtype=acc, device=device).abs()
                for reduction, is_sigma in (("mean", False), ("none", True), ("sum", False)):
                    noise = _t(1, dtype=acc, device=device).abs().reshape(())
                    out, stats, dvtot = real(balanced_mse_op)(p, y, noise, c, cv, w, kind,
                                                              reduction, variant, is_sigma,
                                                              "triton")
                    for needs in ((True, True, True), (True, False, False)):
                        real(balanced_mse_bwd)(torch.ones_like(out), p, y, noise, c, cv, w, stats,
                                               dvtot, kind, reduction, variant, is_sigma, *needs,
                                               "triton")


def fake_cuda_state(module, device="cuda:1"):
    """Give a module built on the CPU (a fitted ``LDS``, an ``FDS``) fake tensors on ``device`` in
    place of its buffers and parameters, and its ``Bins`` the device edges they cache: shapes and
    dtypes only (fake tensors hold no values), made on the device without a host copy."""
    from dirfast.bins import Bins

    for mod in module.modules():
        for k, v in list(mod._buffers.items()):
            if v is not None:
                mod._buffers[k] = torch.empty(v.shape, dtype=v.dtype, device=device)
        for k, v in list(mod._parameters.items()):
            if v is not None:
                mod._parameters[k] = torch.nn.Parameter(torch.empty(v.shape, dtype=v.dtype, device=device),
                                                         requires_grad=v.requires_grad)
        for v in list(vars(mod).values()):
            if isinstance(v, Bins):
                for dt in (torch.float32, torch.float64):
                    v._cache[(torch.device(device), dt)] = torch.empty(
                        v._edges64.shape, dtype=dt, device=device)
    return module


def drive_lds(device="cuda:1", dtypes=DTYPES):
    """The LDS map kernel through ``LDS.forward`` (fp32/fp64 labels x fp32/fp64 tables)."""
    from torch.utils._python_dispatch import _disable_current_modes

    with _disable_current_modes():  # fit on real CPU labels, then move the module's state
        ldss = {dt: dirfast.LDS(dirfast.Bins(0, 1, 121), dtype=dt).fit(torch.arange(121.0))
                for dt in (torch.float32, torch.float64)}
    for lds in ldss.values():
        fake_cuda_state(lds, device)
        for dtype in dtypes:
            if dtype in (torch.float32, torch.float64):
                lds(_t(300, dtype=dtype, device=device), validate=False)


def drive_ranksim(device="cuda:1", dtypes=DTYPES):
    """RankSim's Triton route: the subset kernel through ``ranksim_subset`` (every label dtype,
    ``K = B`` and ``K < B``) and the registered op's forward and blackbox backward (every feature
    dtype, reduction, diagonal rule, ``K = B`` and ``K < B``)."""
    from dirfast.ops.ranksim import ranksim_bwd, ranksim_op

    b, d = 37, 5
    for dtype in dtypes:
        y = _t(b, dtype=dtype, device=device)
        dirfast.ranksim_subset(y)
        dirfast.ranksim_subset(y, max_unique=8)
        z = _t(b, d, dtype=dtype, device=device)
        y32 = _t(b, dtype=torch.float32, device=device)
        for reduction, include_self, k in (("mean", False, b), ("sum", True, 8), ("none", False, 8)):
            rows = torch.empty(k, dtype=torch.int64, device=device)
            num = torch.empty((), dtype=torch.int64, device=device)
            out, saved, unit = real(ranksim_op)(z, y32, rows, num, 2.0, reduction, include_self,
                                                "triton")
            real(ranksim_bwd)(torch.ones_like(out), z, rows, num, saved, unit, 2.0, reduction,
                              include_self, "triton")


DRIVERS = {
    "ranksim": drive_ranksim,
    "weighted_loss": drive_weighted_loss,
    "fds_calibrate": drive_fds_calibrate,
    "fds_stats": drive_fds_stats,
    "conr": drive_conr,
    "soft_sort": drive_soft_sort,
    "dist_loss": drive_dist_loss,
    "balanced_mse": drive_balanced_mse,
    "lds": drive_lds,
}


# ------------------------------------------------------------------------------------------------
# the public boundary on CUDA tensors: the same clear errors as on CPU


def tensor_factory(device):
    """``T(*shape, dtype=torch.float32, device=device)``: random floats, or small ints for int dtypes."""
    def T(*shape, dtype=torch.float32, device=device):
        if dtype.is_floating_point:
            return torch.randn(*shape, dtype=dtype, device=device)
        return torch.randint(0, 3, shape, dtype=dtype, device=device)
    return T


def _error_of(call):
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - the error itself is the result
        return type(exc), str(exc)
    return None


def same_error_on_cuda(monkeypatch, case):
    """``case(T)`` makes a bad call with tensors from ``T`` (:func:`tensor_factory`). It must raise on
    CPU tensors, and raise the same exception type with the same message (its device names read
    ``cuda:1`` for ``cpu``) on fake ``cuda:1`` tensors, before anything is launched."""
    cpu = _error_of(lambda: case(tensor_factory("cpu")))
    assert cpu is not None, "the case raises nothing on CPU tensors"
    stubs = LaunchStubs().install(monkeypatch)
    with fake_cuda():
        cuda = _error_of(lambda: case(tensor_factory("cuda:1")))
    assert cuda is not None, f"CPU tensors raise {cpu[0].__name__}: {cpu[1]}; cuda:1 tensors raise nothing"
    assert (cuda[0], cuda[1].replace("cuda:1", "cpu")) == cpu, (cpu, cuda)
    assert not stubs.launches and not stubs.cuda_calls
    return cuda


def device_mismatch_error(monkeypatch, case):
    """``case(T)`` calls with tensors on ``cuda:1`` except the ones it puts on another device;
    returns the error message (it must be a ``ValueError`` raised before any launch)."""
    stubs = LaunchStubs().install(monkeypatch)
    with fake_cuda():
        err = _error_of(lambda: case(tensor_factory("cuda:1")))
    assert err is not None and err[0] is ValueError, err
    assert not stubs.launches and not stubs.cuda_calls
    return err[1]


class KernelStub:
    """Stands in for a ``@triton.jit`` kernel (same registry name): records each launch's grid and
    arguments, runs nothing."""

    def __init__(self, fn):
        self.__name__, self.__module__ = fn.__name__, fn.__module__
        self.launches = []

    def __getitem__(self, grid):
        return lambda *args, **kw: self.launches.append((tuple(grid), args, kw))


def assert_cuda_grid(grid):
    assert 1 <= len(grid) <= 3 and all(isinstance(v, int) and v >= 1 for v in grid), grid
    assert grid[0] <= 2**31 - 1 and all(v <= 65535 for v in grid[1:]), grid


def one_fake_cuda_device(monkeypatch):
    """``dirfast._C_cuda`` reports one device (a call dynamo skips, as the real pybind one), and
    dynamo starts clean: the set-up of the compile-on-fake-CUDA tests."""
    from types import SimpleNamespace

    import dirfast

    monkeypatch.setattr(dirfast._ext, "_current_cuda",
                        lambda: SimpleNamespace(device_count=torch.compiler.disable(lambda: 1)))
    torch._dynamo.reset()


# ------------------------------------------------------------------------------------------------
# the CUDA kernels' own source on the CPU: csrc/cuda/pav.cu compiled by the host C++ compiler against
# a tiny CUDA stand-in (tests/test_ext_cuda.py; the ops' _C_cuda route in test_soft_sort.py and the
# Dist Loss interpreter tests)

SIM_RUNTIME = r"""
#pragma once
// Host stand-in for what csrc/cuda/pav.cu uses of CUDA: each block's threads run as real host
// threads (a pool of blockDim threads per launch, blocks one after another), __syncthreads is a
// std::barrier of the block, __shared__ memory a static (one block runs at a time).
#include <atomic>
#include <barrier>
#include <cstddef>
#include <cstring>
#include <thread>
#include <vector>
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
struct dim3 { unsigned x = 1, y = 1, z = 1; };
inline thread_local dim3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;
typedef void* cudaStream_t;
enum cudaError_t { cudaSuccess = 0 };
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
inline const char* cudaGetErrorString(cudaError_t) { return "simulated"; }
inline cudaError_t cudaGetDeviceCount(int* c) { *c = 1; return cudaSuccess; }
inline cudaError_t cudaMemsetAsync(void* p, int v, std::size_t n, cudaStream_t) {
  std::memset(p, v, n);
  return cudaSuccess;
}
namespace sim {
inline std::barrier<>* bar = nullptr;
inline std::atomic<int> any{0};
inline std::atomic<long> launches{0};
}  // namespace sim
inline void __syncthreads() { sim::bar->arrive_and_wait(); }
inline int __syncthreads_or(int v) {
  if (v) sim::any.store(1);
  sim::bar->arrive_and_wait();
  return sim::any.load();
}
template <typename K, typename... A>
void sim_launch(unsigned grid, unsigned block, K kernel, A... args) {
  ++sim::launches;
  gridDim = dim3{grid, 1, 1};
  blockDim = dim3{block, 1, 1};
  std::barrier<> start(block + 1), done(block + 1);
  unsigned cur = 0;
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < block; ++t)
    pool.emplace_back([&, t] {
      for (;;) {
        start.arrive_and_wait();
        if (cur == grid) return;
        threadIdx = dim3{t, 1, 1};
        blockIdx = dim3{cur, 1, 1};
        kernel(args...);
        sim::bar->arrive_and_drop();  // a finished thread leaves the block's barrier
        done.arrive_and_wait();
      }
    });
  for (unsigned b = 0; b < grid; ++b) {
    std::barrier<> bar(block);
    sim::bar = &bar;
    sim::any = 0;
    cur = b;
    start.arrive_and_wait();
    done.arrive_and_wait();
  }
  cur = grid;
  start.arrive_and_wait();
  for (auto& th : pool) th.join();
}
extern "C" long sim_launches() { return sim::launches.exchange(0); }
"""


def build_pav_sim(directory):
    """``csrc/cuda/pav.cu`` (its kernels and C entry points, unchanged) compiled for the host with
    :data:`SIM_RUNTIME` into ``directory``; every ``kernel<<<grid, block, 0, st>>>(args)`` becomes
    ``sim_launch(grid, block, kernel, args)``. Returns ``(ctypes library, None)`` or
    ``(None, why)`` without a C++20 host compiler."""
    import ctypes
    import os
    import pathlib
    import re
    import shutil
    import subprocess

    cxx = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if cxx is None:
        return None, "no host C++ compiler to run the CUDA kernels' source on the CPU"
    root = pathlib.Path(__file__).resolve().parents[1] / "csrc"
    src = (root / "cuda" / "pav.cu").read_text()
    src = src.replace('#include "../pav/pav_core.h"', f'#include "{root / "pav" / "pav_core.h"}"')
    src = src.replace('#include "pav_cuda.h"', f'#include "{root / "cuda" / "pav_cuda.h"}"')
    src, count = re.subn(r"(\w+(?:<\w+>)?)<<<([^,<>]+), (\w+), 0, st>>>\(", r"sim_launch(\2, \3, \1, ",
                         src)
    assert count >= 10 and "<<<" not in src, count
    d = pathlib.Path(directory)
    (d / "cuda_runtime.h").write_text(SIM_RUNTIME)
    (d / "pav_sim.cpp").write_text(src)
    lib = d / "pav_sim.so"
    r = subprocess.run([cxx, "-std=c++20", "-O1", "-ffp-contract=off", "-fPIC", "-shared", "-pthread",
                        f"-I{d}", str(d / "pav_sim.cpp"), "-o", str(lib)], capture_output=True,
                       text=True)
    if r.returncode != 0 and "barrier" in r.stderr:
        return None, f"the host compiler has no C++20 <barrier>: {r.stderr[-300:]}"
    assert r.returncode == 0, r.stderr[-3000:]
    so = ctypes.CDLL(str(lib))
    i64, vp, dbl = ctypes.c_int64, ctypes.c_void_p, ctypes.c_double
    so.dirfast_pav_cuda.argtypes = [ctypes.c_int, ctypes.c_int, vp, i64, i64, dbl, vp, vp, i64, vp, vp,
                                    ctypes.c_size_t, vp]
    so.dirfast_pav_vjp_cuda.argtypes = [ctypes.c_int, ctypes.c_int, vp, vp, vp, i64, i64, dbl, vp, vp,
                                        vp, ctypes.c_size_t]
    so.dirfast_pav_block_mean_cuda.argtypes = [ctypes.c_int, vp, vp, i64, i64, vp, vp, vp,
                                               ctypes.c_size_t]
    so.dirfast_pav_workspace_bytes.argtypes = [i64, i64, i64]
    so.dirfast_pav_workspace_bytes.restype = i64
    so.sim_launches.restype = ctypes.c_long
    return so, None


class SimCudaPav:
    """``dirfast._C_cuda``'s PAV API (``pav``, ``pav_vjp``, ``pav_block_mean``,
    ``pav_workspace_bytes``, ``device_count``) on CPU pointers, served by the kernels of
    csrc/cuda/pav.cu run on host threads (:func:`build_pav_sim`). Records the calls and the kernel
    launches each made."""

    def __init__(self, lib):
        self.lib = lib
        self.calls = []
        self.launches = []
        lib.sim_launches()

    def _done(self, name, rc):
        assert rc == 0, (name, rc)
        self.calls.append(name)
        self.launches.append(int(self.lib.sim_launches()))

    @staticmethod
    def _code(dtype):
        return {"float32": 0, "float64": 1}[dtype]

    def device_count(self):
        return 1

    def pav_workspace_bytes(self, rows, n, chunk=0):
        return int(self.lib.dirfast_pav_workspace_bytes(rows, n, chunk))

    def pav(self, dtype, mode, x, rows, n, eps, out, block_start, chunk, flag, workspace, stream,
            perm=0):
        self._done("pav", self.lib.dirfast_pav_cuda(self._code(dtype), mode, x, rows, n, eps, out,
                                                     block_start or None, chunk, flag, workspace, 0,
                                                     perm or None))

    def pav_vjp(self, dtype, mode, g, perm, block_start, rows, n, eps, out, flag, workspace, stream):
        self._done("pav_vjp", self.lib.dirfast_pav_vjp_cuda(self._code(dtype), mode, g, perm or None,
                                                            block_start, rows, n, eps, out, flag,
                                                            workspace, 0))

    def pav_block_mean(self, dtype, g, block_start, rows, n, out, flag, workspace, stream):
        self._done("pav_block_mean", self.lib.dirfast_pav_block_mean_cuda(
            self._code(dtype), g, block_start, rows, n, out, flag, workspace, 0))
