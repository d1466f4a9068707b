"""The registered signature of every Triton kernel config is what Triton's JIT really compiles.

The ahead-of-time tier (``tests/aot``) compiles each config from its *registered* signature; a GPU
runs what the JIT derives from the Python arguments the launcher passes. They diverged once: the
registry said ``fp64`` for ConR's ``w``, ``1/τ``, ``e`` while the JIT types every Python ``float`` as
``fp32`` (``triton.runtime.jit.mangle_type(0.1) == "fp32"``), so the fp64 path rounded them (1e-9 loss
error on an H200, invisible to the interpreter and to the AOT tier).

Method (CPU only, no interpreter, nothing compiled): every kernel's ``run`` is stubbed
(``_launch_stubs.LaunchStubs``) and its real launcher is driven on fake CUDA tensors
(``FakeTensorMode``) of every dtype, through every registered config (``_launch_stubs.DRIVERS``). For
each recorded launch, the config the launcher ``pick``-ed is compared with the launch:

* every non-constexpr argument is typed as Triton's JIT types it — the parameter's annotation if it
  has one, else ``triton.runtime.jit.mangle_type(value, specialize=not do_not_specialize)``;
* **pointers and floats must equal the registered type exactly** (``*fp64`` vs ``*fp32``, ``fp32``
  vs ``fp64``/``i64``);
* **integers**: the JIT picks ``i32`` or ``i64`` by value, and (unless the parameter is
  ``do_not_specialize``) turns the value 1 into a ``constexpr``; for a registered ``i32``/``i64`` the
  test accepts that class — the value must be a Python ``int`` (not a bool, not a float, not a
  tensor), typed ``i32``/``i64``, or ``constexpr`` only for the value 1 — and does not require the
  width to match (fp64 scalars travel as int64 bit patterns: ``i64`` except 0.0 and tiny denormals);
* constexpr arguments must be passed as constexprs with exactly the registered values, and the
  launch options (``num_warps``, ``num_stages``) must be the registered ones.

Every registered config must be launched by some driver: a config that no launcher picks, or a
kernel module without a driver, fails. The other engineers' kernels (soft sort, Dist Loss) are
checked the same way.
"""

import pytest
import torch

pytest.importorskip("triton", reason="the launch-path tests stub Triton kernels (make test installs it)")
from triton.runtime.jit import mangle_type  # noqa: E402

import dirfast.kernels as kernels_pkg
from dirfast.kernels._registry import REGISTRY

from _launch_stubs import DRIVERS, HostToDeviceCopies, LaunchStubs, fake_cuda

pytestmark = pytest.mark.filterwarnings("ignore:Accessing the data pointer of FakeTensor")

INT_TYPES = {"i1", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64"}
TRITON_DEFAULT_NUM_STAGES = 3  # CUDAOptions.num_stages, used when a launcher passes none


def jit_view(launch):
    """``(signature, constexprs, options, bound arguments)`` the JIT derives from a recorded launch."""
    fn = launch.fn
    names = list(fn.arg_names)
    assert len(launch.args) <= len(names), f"{launch.qualname}: too many positional arguments"
    bound = dict(zip(names, launch.args))
    options = {}
    for k, v in launch.kwargs.items():
        if k in names:
            assert k not in bound, f"{launch.qualname}: {k} passed twice"
            bound[k] = v
        else:
            options[k] = v
    sig, constexprs = {}, {}
    for kp in fn.params:
        if kp.name not in bound:
            assert kp.has_default, f"{launch.qualname}: argument {kp.name} missing"
            bound[kp.name] = kp.default
        v = bound[kp.name]
        if kp.is_constexpr:
            sig[kp.name] = "constexpr"
            constexprs[kp.name] = v
        elif kp.annotation_type:
            sig[kp.name] = kp.annotation_type
        else:
            sig[kp.name] = mangle_type(v, specialize=not kp.do_not_specialize)
    return sig, constexprs, options, bound


def check_launch(launch):
    spec = REGISTRY[launch.qualname]
    assert launch.key is not None, f"{launch.qualname} launched without pick()"
    cfg = spec.configs[launch.key]
    sig, constexprs, options, bound = jit_view(launch)
    where = f"{spec.name} config {launch.key}"
    assert set(sig) == set(cfg.signature), (where, sorted(sig), sorted(cfg.signature))
    bad = []
    for name, reg in cfg.signature.items():
        got, value = sig[name], bound[name]
        if reg == "constexpr":
            if got != "constexpr":
                bad.append(f"{name}: registered constexpr, the kernel parameter is not")
            elif constexprs[name] != cfg.constexprs[name]:
                bad.append(f"{name}: constexpr {constexprs[name]!r} launched, "
                           f"{cfg.constexprs[name]!r} registered")
        elif reg in INT_TYPES:
            is_int = isinstance(value, int) and not isinstance(value, bool)
            ok = is_int and (got in ("i32", "i64") or (got == "constexpr" and value == 1))
            if not ok:
                bad.append(f"{name}: registered {reg}, launched {type(value).__name__} {value!r} "
                           f"(JIT type {got})")
        elif got != reg:
            bad.append(f"{name}: registered {reg}, JIT type {got} (value {type(value).__name__})")
    if options.get("num_warps", 4) != cfg.num_warps:
        bad.append(f"num_warps {options.get('num_warps')} launched, {cfg.num_warps} registered")
    if options.get("num_stages", TRITON_DEFAULT_NUM_STAGES) != cfg.num_stages:
        bad.append(f"num_stages {options.get('num_stages')} launched, {cfg.num_stages} registered")
    assert not bad, f"{where}: the registry does not say what the JIT compiles:\n  " + "\n  ".join(bad)


#: a feature width inside each D bucket of the ConR launch table
_D_OF_BUCKET = {64: 40, 128: 100, 256: 200, 512: 400, None: 600}


def drive_conr_table(monkeypatch, device="cuda:1"):
    """Every entry of ConR's launch table (:mod:`dirfast.kernels.conr_table`) through the real
    launchers: the GPU family forced (``arch_family``), ``[M, D]`` inside the entry's buckets, the
    table's tiles forced over the small-M plan (``small=False``), both pushing kinds, the backward
    for every row and for leading anchors (its ``COL_ONLY`` twin)."""
    import dirfast.kernels.conr as k
    from dirfast.kernels.conr_table import CONFIGS

    kw = dict(w=0.7, temperature=0.07, e=0.01, keep_self=False)
    done, family_of = set(), k.arch_family
    for family, dt, prec, role, mb, db in CONFIGS:
        key = (family, dt, prec, role.endswith("_ml"), mb, db)
        if key in done:  # one launch pair serves the fwd and bwd entries of a bucket
            continue
        done.add(key)
        monkeypatch.setattr(k, "arch_family", lambda dev, f=family: f)
        dtype = getattr(torch, dt)
        acc = torch.float64 if dtype == torch.float64 else torch.float32
        m, d = (50 if mb is not None else 1100), _D_OF_BUCKET[db]
        shape = (m, 3) if role.endswith("_ml") else (m,)
        y = torch.randn(*shape, dtype=acc, device=device)
        yh = torch.randn(*shape, dtype=acc, device=device)
        z = torch.randn(m, d, dtype=dtype, device=device)
        go = torch.ones((), dtype=dtype, device=device)
        for push in (True, False):
            _, _, st = k.conr_fwd(z, y, yh, None, push_exp=push, phantom=False, official=False,
                                  weight_final=False, reduction="mean", precision=prec, norm="l1",
                                  small=False, **kw)
            for na in (None, m // 2):  # every row; leading anchors (the COL_ONLY twin)
                k.conr_bwd(z, y, yh, st, go, push_exp=push, precision=prec, norm="l1",
                           small=False, anchors=na, **kw)
    monkeypatch.setattr(k, "arch_family", family_of)


def drive_conr_plans(device="cuda:1"):
    """ConR's launch plans beyond what the shared driver's M = 50 reaches: the launchers driven
    directly with the column split forced off (``split=1``) and on (``split=3``: the merge stage and
    the backward's reduce kernel), with the default and the small-M tiles (streamed D, 1-D
    labels), 1-D and ``[M, 3]`` labels (``"l2"``), every dtype, fp32 input precision and pushing
    kind."""
    import dirfast.kernels.conr as k

    m = 50
    kw = dict(w=0.7, temperature=0.07, e=0.01, keep_self=False)
    for dtype in k.DTYPES:
        acc = torch.float64 if dtype == torch.float64 else torch.float32
        go = torch.ones((), dtype=dtype, device=device)
        for shape in ((m,), (m, 3)):
            y = torch.randn(*shape, dtype=acc, device=device)
            yh = torch.randn(*shape, dtype=acc, device=device)
            for d in (8, 300):
                z = torch.randn(m, d, dtype=dtype, device=device)
                plans = [(1, None), (3, None)]
                if d == 300 and len(shape) == 1:
                    plans += [(1, True), (3, True)]
                for prec in (k.PRECISIONS if dtype == torch.float32 else ("ieee",)):
                    for push in (True, False):
                        for split, small in plans:
                            _, _, st = k.conr_fwd(z, y, yh, None, push_exp=push, phantom=False,
                                                  official=False, weight_final=False,
                                                  reduction="mean", precision=prec, norm="l2",
                                                  split=split, small=small, **kw)
                            for na in (None, m // 2):  # + the COL_ONLY twin
                                k.conr_bwd(z, y, yh, st, go, push_exp=push, precision=prec,
                                           norm="l2", split=split, small=small, anchors=na, **kw)


def test_every_kernel_module_has_a_driver():
    assert set(DRIVERS) == set(kernels_pkg.KERNEL_MODULES)


@pytest.mark.parametrize("module", kernels_pkg.KERNEL_MODULES)
def test_registered_signature_is_what_the_jit_compiles(monkeypatch, module):
    stubs = LaunchStubs().install(monkeypatch)
    with fake_cuda():
        DRIVERS[module]()
        if module == "conr":
            drive_conr_plans()
            drive_conr_table(monkeypatch)
    prefix = f"dirfast.kernels.{module}."
    launches = [ln for ln in stubs.launches if ln.qualname.startswith(prefix)]
    assert launches, f"the {module} driver launched nothing"
    seen = {}
    for ln in launches:
        check_launch(ln)
        seen.setdefault(ln.qualname, set()).add(ln.key)
    missing = {q: sorted(set(spec.configs) - seen.get(q, set()), key=str)
               for q, spec in REGISTRY.items() if q.startswith(prefix)}
    missing = {q: keys for q, keys in missing.items() if keys}
    assert not missing, f"registered configs no launcher picked (dead, or the driver misses them): {missing}"


def test_fp64_scalars_travel_as_bit_patterns(monkeypatch):
    """The H200 finding itself: ConR's and the weighted losses' fp64 kernels receive their float
    scalars as the int64 bit patterns of the exact doubles (no float argument at all)."""
    import struct

    from dirfast.kernels.conr import _SCALARS as CONR_SCALARS
    from dirfast.kernels.weighted_loss import _SCALARS as WL_SCALARS

    stubs = LaunchStubs().install(monkeypatch)
    with fake_cuda():
        DRIVERS["conr"](dtypes=(torch.float64,))
        DRIVERS["weighted_loss"](dtypes=(torch.float64,))
    as_double = lambda bits: struct.unpack("<d", struct.pack("<q", bits))[0]
    seen = set()
    for ln in stubs.launches:
        _, _, _, bound = jit_view(ln)
        floats = {k: v for k, v in bound.items() if isinstance(v, float)}
        assert not floats, f"{ln.qualname} fp64 launch got Python floats {floats}"
        if "conr" in ln.qualname:
            # (the backward's reduce kernel takes 1/τ only)
            want = dict(zip(CONR_SCALARS[:3], (0.7, 1.0 / 0.07, 0.01)))
            got = {k: as_double(bound[k]) for k in want if k in bound}
            assert "inv_tau" in got and got == {k: want[k] for k in got}, got
            seen.add("conr")
        else:
            got = {k: as_double(bound[k]) for k in WL_SCALARS}
            assert got["beta"] == 0.3 and got["k"] == 0.6 and got["inv_beta"] == 1.0 / 0.3, got
            assert got["scale"] in (1.0, 1.0 / 1000, 1.0 / 3), got
            seen.add("weighted_loss")
    assert seen == {"conr", "weighted_loss"}


@pytest.mark.parametrize("module", kernels_pkg.KERNEL_MODULES)
def test_launch_path_copies_nothing_from_the_host(monkeypatch, module):
    """Scalars go to the kernels by value: no launch path builds a device tensor from host data
    (the weighted losses once built ``torch.tensor([1/N, β, ...], device=cuda)``, cached per value, so
    every new batch size paid a host-to-device copy and a stream sync). Every aten op the drivers
    run on fake CUDA tensors is watched for a CPU-to-CUDA copy (``HostToDeviceCopies``); the
    scalar arguments of the launches are Python numbers (checked above)."""
    LaunchStubs().install(monkeypatch)
    with fake_cuda():
        with HostToDeviceCopies() as h2d:
            DRIVERS[module]()
    assert not h2d.copies, f"host-to-device copies in the {module} launch path: {h2d.copies[:5]}"


def test_host_to_device_detector_sees_a_copy():
    with fake_cuda():
        x = torch.empty(3, device="cuda:1")
        with HostToDeviceCopies() as h2d:
            torch.where(x > 0, x, 0.0) * 0.5  # scalars: no copy
            assert h2d.copies == []
            torch.tensor([0.5, 2.0], device="cuda:1")
            torch.zeros(2).to("cuda:1")
    assert len(h2d.copies) == 2, h2d.copies
