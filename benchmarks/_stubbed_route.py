"""The GPU route of dirfast's ops on real CPU tensors, every kernel launch a no-op: host time only.

For ``python -m benchmarks.bench_host_overhead --route gpu-stubbed`` (and its test): what a call of an
op costs the host on its CUDA code path — argument checks, backend resolution, allocations, the
custom-op / ``autograd.Function`` wiring, the launchers' Python (config ``pick``, grid arithmetic,
scalar packing, ``device_guard``) — with the kernels themselves replaced by no-ops, so that no GPU is
needed. Inside :meth:`StubbedRoute.gpu` (a context entered around each timed call):

* :func:`dirfast.resolve_backend` answers for CPU tensors what it answers for CUDA tensors: the
  backend module's ``_resolve`` (called on a cache miss only) is handed ``cuda:0`` instead of ``cpu``,
  and ``_backend.cuda_ext_available`` is swapped for another function object for the duration, so the
  resolution cache (keyed on that object among others) keeps the two answers apart — the steady state
  is the real cached lookup;
* ``dirfast._C_cuda`` is a stand-in behind ``dirfast._ext`` (``_ext._current_cuda``): one device, every
  function a no-op returning 1 (a device count, a workspace size) — so the ops with a CUDA C++ kernel
  (soft sort, Dist Loss) take their ``_C_cuda`` route through the real ``_ext.cuda_available`` /
  ``require_cuda``;
* ``Tensor.is_cuda`` reads True (the ops' ``x.is_cuda and _ext.cuda_available()`` route tests).

Installed once for the process (:meth:`StubbedRoute.install`, undone by :meth:`StubbedRoute.uninstall`)
and harmless outside the context:

* every registered ``@triton.jit`` kernel's ``run`` (what ``kernel[grid](...)`` calls) is a no-op —
  nothing is compiled or launched; ``JITFunction.__getitem__``'s own lambda still runs;
* ``device_guard`` in every ``dirfast`` module that imported it returns the real
  ``_launch._DeviceGuard`` for device 0 (as for a ``cuda:0`` tensor: CPU tensors would get the
  no-op guard), whose ``_exchange_device`` / ``_maybe_exchange_device`` hooks are cheap Python
  stand-ins for torch's C primitives;
* ``torch.cuda.current_stream`` returns one preallocated object with ``cuda_stream = 0`` (what a CPU
  build of torch can give; a CUDA build reads the raw stream in C), ``torch.cuda.current_device``
  returns 0.

Not faked: the device of a tensor. Code that tests ``t.device.type == "cuda"`` still sees ``"cpu"``:
the LDS map's one-launch decision (``LDS._triton_map_ok``) — :func:`as_cuda_view` lets a benchmark
hand that check a metadata view that reports ``cuda:0`` —, ConR's ``arch_family`` (the CPU answer
``"sm80"`` without reading the capability: cached per device on a GPU, so the same steady state) and
its autocast query (``"cpu"`` instead of ``"cuda"``: the same two calls). FakeTensorMode is not
used: it makes every torch op far slower than the real CPU op, which would swamp the host time.

What this measures, and what it cannot: the torch ops on the route (casts, ``torch.empty``, the
``torch.sort`` of soft sort and Dist Loss, small reductions) **run for real on the CPU tensors**, so
their CPU cost — the dispatcher plus a few nanoseconds of arithmetic at the benchmark's tiny sizes —
is included; on a GPU the same op costs the dispatcher plus a kernel launch (a CUDA launch takes
~2–5 µs of host time, more than a CPU op of this size), and the stubbed Triton ``run`` costs nothing
here while the real one (argument binding, cache key, launch) costs several microseconds per
launch. Neither launch cost is knowable on this machine: the figures are a lower bound on the GPU
route's host time — exactly the Python around the launches — not a GPU measurement.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import types
from typing import Any, Callable, Dict, List, Tuple

import torch

#: one fake CUDA device for resolution and metadata views
CUDA0 = torch.device("cuda", 0)


def _noop_run(*args, grid=None, warmup=False, **kwargs):  # the stand-in of JITFunction.run
    return None


def _noop(*args, **kwargs):  # every dirfast._C_cuda function: returns 1 (a device count, bytes)
    return 1


class _CudaExt(types.ModuleType):
    """Stand-in for ``dirfast._C_cuda``: known functions are plain no-ops in the module dict (one
    attribute lookup, as on the real module); any other name gets the same no-op on first use."""

    FUNCTIONS = ("device_count", "pav", "pav_vjp", "pav_block_mean", "pav_workspace_bytes")

    def __init__(self):
        super().__init__("dirfast._C_cuda")
        for name in self.FUNCTIONS:
            setattr(self, name, _noop)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        setattr(self, name, _noop)
        return _noop


class _CudaView:
    """Metadata of a CPU tensor as seen on ``cuda:0``: ``device``, ``dtype``, ``shape``, ``dim()``,
    ``numel()``, ``is_cuda`` (for route checks that only read metadata)."""

    __slots__ = ("_t", "dtype", "shape")
    device = CUDA0
    is_cuda = True

    def __init__(self, t: torch.Tensor):
        self._t, self.dtype, self.shape = t, t.dtype, t.shape

    def dim(self) -> int:
        return self._t.dim()

    def numel(self) -> int:
        return self._t.numel()


def as_cuda_view(t: torch.Tensor) -> _CudaView:
    """A metadata view of ``t`` that reports device ``cuda:0`` (see the module docstring)."""
    return _CudaView(t)


class _State:
    __slots__ = ("on",)

    def __init__(self):
        self.on = False


class StubbedRoute:
    """Install with :meth:`install`; time a call as ``with route.gpu(): fn()``; count what a call
    would launch with :meth:`count`; undo everything with :meth:`uninstall`."""

    def __init__(self):
        self._saved: List[Tuple[Any, str, Any, bool]] = []  # (obj, name, old value, had own attr)
        self._state = _State()
        self._installed = False
        self._cuda = _CudaExt()
        self._specs: List[Tuple[str, Any]] = []

    # --------------------------------------------------------------------------------------------
    # install / uninstall

    def _set(self, obj, name: str, value) -> None:
        had = name in getattr(obj, "__dict__", {})
        self._saved.append((obj, name, getattr(obj, name, None), had))
        setattr(obj, name, value)

    def install(self) -> "StubbedRoute":
        if self._installed:
            return self
        import dirfast  # noqa: F401 - the package first (kernel modules import it)
        import dirfast.kernels as kernels_pkg
        from dirfast import _backend, _ext
        from dirfast.kernels import _launch
        from dirfast.kernels._registry import REGISTRY

        for m in kernels_pkg.KERNEL_MODULES:  # importing registers every kernel
            importlib.import_module(f"dirfast.kernels.{m}")
        # the launchers' and ops' modules, so their device_guard names exist before we swap them
        for m in ("weighted_loss", "fds_calibrate", "fds_stats", "conr", "soft_sort", "dist_loss",
                  "balanced_mse", "ranksim"):
            importlib.import_module(f"dirfast.ops.{m}")
        state = self._state

        # 1. kernel launches: no-ops
        self._specs = sorted(REGISTRY.items())
        for _, spec in self._specs:
            self._set(spec.fn, "run", _noop_run)

        # 2. the device guard: the real guard object for device 0, cheap exchange hooks
        guard_cls, real_guard = _launch._DeviceGuard, _launch.device_guard

        def device_guard(t):
            index = t.device.index  # the real guard's metadata read (CPU: None)
            return guard_cls(0 if index is None else index)

        self._set(_launch, "_exchange_device", lambda index: -1 if index < 0 else 0)
        self._set(_launch, "_maybe_exchange_device", lambda index: -1 if index < 0 else 0)
        for name, mod in list(sys.modules.items()):  # the importers (not _launch itself)
            if (name.startswith("dirfast.") and mod is not None and mod is not _launch
                    and getattr(mod, "device_guard", None) is real_guard):
                self._set(mod, "device_guard", device_guard)

        # 3. backend resolution (cache misses only) and the dirfast._C_cuda stand-in, inside gpu()
        real_resolve = _backend._resolve

        def _resolve(backend, device, **kw):
            if state.on and device.type == "cpu":
                device = CUDA0
            return real_resolve(backend, device, **kw)

        self._set(_backend, "_resolve", _resolve)
        real_current_cuda = _ext._current_cuda
        cuda = self._cuda
        self._set(_ext, "_current_cuda", lambda: cuda if state.on else real_current_cuda())
        self._cea_off = _backend.cuda_ext_available
        self._cea_on = lambda: _ext.cuda_available()  # another object: another cache key

        # 4. Tensor.is_cuda: True inside gpu()
        base_is_cuda = torch._C.TensorBase.is_cuda.__get__
        self._set(torch.Tensor, "is_cuda",
                  property(lambda t: True if state.on else base_is_cuda(t)))

        # 5. torch.cuda queries a launcher may make on the route
        stream = types.SimpleNamespace(cuda_stream=0)
        self._set(torch.cuda, "current_stream", lambda device=None: stream)
        self._set(torch.cuda, "current_device", lambda: 0)

        _backend.clear_dispatch_cache()
        self._backend = _backend
        self._installed = True
        return self

    def uninstall(self) -> None:
        if not self._installed:
            return
        for obj, name, old, had in reversed(self._saved):
            if had or obj is torch.cuda or isinstance(obj, types.ModuleType):
                setattr(obj, name, old)
            else:
                delattr(obj, name)
        self._saved.clear()
        self._backend.clear_dispatch_cache()
        self._installed = False

    # --------------------------------------------------------------------------------------------
    # use

    @contextlib.contextmanager
    def gpu(self):
        """The GPU route for CPU tensors inside the block (two attribute stores in and out)."""
        self._state.on = True
        self._backend.cuda_ext_available = self._cea_on
        try:
            yield
        finally:
            self._state.on = False
            self._backend.cuda_ext_available = self._cea_off

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` run on the GPU route (the toggle is part of the timed call: ~0.25 µs)."""
        state, backend, on, off = self._state, self._backend, self._cea_on, self._cea_off

        def call(*args, **kwargs):
            state.on = True
            backend.cuda_ext_available = on
            try:
                return fn(*args, **kwargs)
            finally:
                state.on = False
                backend.cuda_ext_available = off

        return call

    def count(self, fn: Callable[[], Any]) -> Dict[str, int]:
        """Run ``fn()`` once with counting stand-ins: ``{"triton": launches, "cuda": _C_cuda calls
        (device_count and pav_workspace_bytes excluded), <kernel name>: launches, ...}``. For checks
        that a case really takes its GPU route (not timed)."""
        counts: Dict[str, int] = {"triton": 0, "cuda": 0}
        saved_runs = []
        for qual, spec in self._specs:
            saved_runs.append((spec.fn, spec.fn.run))
            name = qual.rsplit(".", 1)[-1]

            def run(*args, grid=None, warmup=False, _name=name, **kwargs):
                counts["triton"] += 1
                counts[_name] = counts.get(_name, 0) + 1

            spec.fn.run = run
        cuda = self._cuda
        saved_cuda = dict(cuda.__dict__)

        def cuda_fn(name):
            def f(*args, **kwargs):
                if name not in ("device_count", "pav_workspace_bytes"):
                    counts["cuda"] += 1
                    counts[f"_C_cuda.{name}"] = counts.get(f"_C_cuda.{name}", 0) + 1
                return 1
            return f

        for name in list(saved_cuda):
            if not name.startswith("__"):
                setattr(cuda, name, cuda_fn(name))
        try:
            fn()
        finally:
            for f, r in saved_runs:
                f.run = r
            for name, v in saved_cuda.items():
                if not name.startswith("__"):
                    setattr(cuda, name, v)
        return counts
