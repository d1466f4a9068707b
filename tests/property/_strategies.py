"""Shared strategies and checks of the property tier.

Every property draws a *case* (a dict of tensors and arguments, built by a ``@st.composite``
strategy) and a CPU path (``"cpu"`` = the C++ kernel of ``dirfast._C``, ``"cpu_torch"`` = vectorised
PyTorch, as ``tests/_paths.py``), so a reproducer is an ``@example(case=dict(...), path="cpu")``.

* shapes: 0, 1, small primes, sizes around the kernels' chunk boundaries and a few "large" ones
  that fit the CI budget (:func:`sizes`);
* dtypes: fp64/fp32 everywhere, fp16/bf16 where the op takes them;
* strides (:func:`vector`, :func:`matrix`): contiguous, sliced (stride 2, storage offset), expanded
  (stride 0: every element tied), transposed, unfolded (rows that overlap in memory);
* values (:func:`values`): normal, ties (a few dyadic values), huge and tiny magnitudes per dtype,
  a large offset (mean/std 1e4).

Checks: :func:`check_close` (docs/conventions.md tolerances: fp64 1e-10, fp32 1e-5, fp16/bf16 2× the
same-precision reference + atol), :func:`snapshot`/:func:`assert_unchanged` (no input mutated),
:func:`assert_bitwise` (two calls bit-identical), :func:`check_double_backward` (a gradient with a
graph that ``gradgradcheck`` accepts, or a clear error — never a gradient without a graph),
:func:`raises_naming` (bad input: ``ValueError``/``TypeError`` naming the argument).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
from unittest import mock

import torch
from hypothesis import settings
from hypothesis import strategies as st

import dirfast
from dirfast import _ext
from dirfast.testing import assert_close_verbose, assert_low_precision_close

from _paths import require_ext

F64, F32, F16, BF16 = torch.float64, torch.float32, torch.float16, torch.bfloat16
LOW = (F16, BF16)
PATHS = ("cpu", "cpu_torch")

# ------------------------------------------------------------------------------------------------
# budgets (profiles: conftest.py)

#: multiplier of every test's budget under the long profile (``make fuzz``; conftest.py)
LONG_FACTOR = 30


def budget(n: int) -> settings:
    """``@budget(n)``: ``n`` generated examples under the ``ci`` (and ``generated``) profile,
    ``LONG_FACTOR·n`` under ``long``."""
    long = os.environ.get("HYPOTHESIS_PROFILE", "ci") == "long"
    return settings(max_examples=n * LONG_FACTOR if long else n)


# ------------------------------------------------------------------------------------------------
# paths


@contextlib.contextmanager
def on_path(path: str):
    """Run CPU path ``path`` inside the block; yields the ``backend=`` value that selects it."""
    if path == "cpu":
        require_ext()
        yield "cpu"
        return
    assert path == "cpu_torch", path
    with mock.patch.object(_ext, "available", lambda: False):
        assert dirfast.resolve_backend("auto", torch.device("cpu"), op="t") == "cpu_torch"
        yield "auto"


paths = st.sampled_from(PATHS)

# ------------------------------------------------------------------------------------------------
# shapes, dtypes, values

PRIMES = (2, 3, 5, 7, 13, 31, 61, 127, 257, 1021)


def sizes(max_size: int = 300, *, min_size: int = 0, large=()) -> st.SearchStrategy[int]:
    """0, 1, primes, any size up to ``max_size`` and the listed ``large`` sizes (rarely)."""
    special = [n for n in (0, 1) + PRIMES if min_size <= n <= max_size]
    parts = [st.sampled_from(special), st.integers(min_size, max_size)]
    if large:
        parts.append(st.sampled_from(tuple(large)))
    return st.one_of(*parts)


def dtypes(low: bool = True) -> st.SearchStrategy[torch.dtype]:
    return st.sampled_from((F64, F32, F16, BF16) if low else (F64, F32))


VALUE_KINDS = ("normal", "ties", "huge", "tiny", "offset", "mixed")
#: magnitudes per dtype: squares and sums of a few thousand stay finite and normal
BIG = {F64: 1e100, F32: 1e15, BF16: 1e15, F16: 4.0}
SMALL = {F64: 1e-100, F32: 1e-15, BF16: 1e-15, F16: 1e-2}


def values(g: torch.Generator, n: int, kind: str, dtype: torch.dtype, scale: float = 3.0) -> torch.Tensor:
    """``[n]`` float64 values exactly representable in ``dtype``."""
    r = torch.randn(n, generator=g, dtype=F64)
    if kind == "normal":
        v = r * scale
    elif kind == "ties":
        v = torch.randint(-2, 3, (n,), generator=g).to(F64) * 0.5
    elif kind == "huge":
        v = r * BIG[dtype]
    elif kind == "tiny":
        v = r * SMALL[dtype]
    elif kind == "offset":
        v = 1e4 + r if dtype in (F64, F32) else 100 + r
    elif kind == "mixed":  # magnitudes spread over many decades
        k = 3 if dtype == F16 else 6
        e = torch.randint(-k, k + 1, (n,), generator=g).to(F64)
        v = r * torch.pow(10.0, e)
    else:
        raise ValueError(kind)
    return v.to(dtype).to(F64)


def value_kinds(*exclude: str) -> st.SearchStrategy[str]:
    return st.sampled_from(tuple(k for k in VALUE_KINDS if k not in exclude))


seeds = st.integers(0, 2**31 - 1)

# ------------------------------------------------------------------------------------------------
# layouts

VEC_LAYOUTS = ("contiguous", "sliced", "expanded", "column_sliced")
MAT_LAYOUTS = ("contiguous", "transposed", "sliced", "expanded_rows", "expanded_cols", "unfolded")


def vector(v: torch.Tensor, dtype: torch.dtype, layout: str, *, column: bool = False) -> torch.Tensor:
    """``v [n]`` (float64 values) as a ``[n]`` (or ``[n, 1]`` if ``column``) tensor of ``dtype`` in
    ``layout``; ``"expanded"`` repeats ``v[0]`` (stride 0: every element tied)."""
    n = v.numel()
    x = v.to(dtype)
    if layout == "contiguous":
        t = x.clone()
    elif layout == "sliced":  # stride 2, storage offset 1
        buf = torch.full((2 * n + 1,), -7.0, dtype=dtype)
        buf[1::2] = x
        t = buf[1::2]
    elif layout == "column_sliced":  # a column of an [n, 3] buffer: stride 3
        buf = torch.full((n, 3), -7.0, dtype=dtype)
        buf[:, 1] = x
        t = buf[:, 1]
    elif layout == "expanded":
        t = (x[:1] if n else torch.zeros(1, dtype=dtype)).expand(n)
    else:
        raise ValueError(layout)
    return t.unsqueeze(1) if column else t


def matrix(g: torch.Generator, n: int, d: int, dtype: torch.dtype, kind: str, layout: str) -> torch.Tensor:
    """``[n, d]`` tensor of ``dtype`` in ``layout`` with ``kind`` values; ``"unfolded"`` rows overlap
    in memory (row stride < d), ``"expanded_*"`` have a stride-0 dimension."""
    if layout == "contiguous":
        return values(g, n * d, kind, dtype).to(dtype).reshape(n, d)
    if layout == "transposed":
        return values(g, n * d, kind, dtype).to(dtype).reshape(d, n).t()
    if layout == "sliced":
        buf = torch.full((2 * n + 1, d + 3), -7.0, dtype=dtype)
        buf[1::2, 2:d + 2] = values(g, n * d, kind, dtype).to(dtype).reshape(n, d)
        return buf[1::2, 2:d + 2]
    if layout == "expanded_rows":
        return values(g, d, kind, dtype).to(dtype).reshape(1, d).expand(n, d)
    if layout == "expanded_cols":
        return values(g, n, kind, dtype).to(dtype).reshape(n, 1).expand(n, d)
    if layout == "unfolded":
        if n == 0:
            return torch.zeros(0, d, dtype=dtype)
        step = 1 + int(torch.randint(0, d, (1,), generator=g)) if d > 1 else 1  # 1..d
        step = min(step, d)
        flat = values(g, (n - 1) * step + d, kind, dtype).to(dtype)
        return flat.unfold(0, d, step)
    raise ValueError(layout)


def bin_ids(g, n, num_bins, mode, dtype=torch.int64, sliced=False):
    """``[n]`` bin ids in ``[0, num_bins)``; ``mode`` adds ties (one bin, the last bin), ids < 0
    (ignored / identity rows), ids >= num_bins (rejected under validation), sorted ids; ``sliced``
    gives a stride-2 view."""
    if mode == "one_bin":
        b = torch.full((n,), int(torch.randint(0, num_bins, (1,), generator=g)), dtype=torch.int64)
    elif mode == "last_bin":
        b = torch.full((n,), num_bins - 1, dtype=torch.int64)
    else:
        b = torch.randint(0, num_bins, (n,), generator=g)
        if mode == "negatives":
            b = torch.where(torch.rand(n, generator=g) < 0.3, -1 - torch.randint(0, 3, (n,), generator=g), b)
        elif mode == "out_of_range":
            b = torch.where(torch.rand(n, generator=g) < 0.3, num_bins + torch.randint(0, 3, (n,), generator=g), b)
        elif mode == "sorted":
            b = b.sort().values
    b = b.to(dtype)
    if sliced:
        buf = torch.full((2 * n + 1,), 12345, dtype=dtype)
        buf[1::2] = b
        b = buf[1::2]
    return b


# ------------------------------------------------------------------------------------------------
# checks

RTOL = {F64: 1e-10, F32: 1e-5}


def tiny_atol(dtype: torch.dtype) -> float:
    return 1e3 * torch.finfo(dtype).tiny


def check_close(actual, oracle, *, tag: str, dtype=None, baseline=None, scale=None, atol=None,
                rtol=None):
    """docs/conventions.md: fp64 1e-10, fp32 1e-5 relative (``scale="max"``: relative to the largest
    value, for gradients); fp16/bf16: ≤ 2× the error of ``baseline`` (the reference run in the same
    low precision) + one unit of the dtype (:func:`dirfast.testing.assert_low_precision_close`)."""
    dtype = dtype or actual.dtype
    if actual.is_floating_point() and actual.dtype in LOW and oracle.numel():
        # values beyond the dtype's range: the right answer is ±inf there
        over = oracle.detach().double().abs() > torch.finfo(actual.dtype).max
        if bool(over.any()):
            a64 = actual.detach().double()
            assert bool((a64[over] == oracle.double()[over].sign() * float("inf")).all()), \
                f"[{tag}] out of {actual.dtype}'s range: expected ±inf, got {a64[over][:4].tolist()}"
            keep = ~over
            actual, oracle = actual[keep], oracle[keep]
            baseline = None if baseline is None else baseline[keep]
            if not oracle.numel():
                return
    if dtype in LOW:
        assert baseline is not None, "low precision needs the same-precision reference"
        # one unit at the largest value + a few units of the subnormal spacing (+ a given atol)
        fi = torch.finfo(actual.dtype)
        o = oracle.detach().double()
        o = o[~torch.isnan(o)]
        top = o.abs().max().item() if o.numel() else 0.0
        atol = fi.eps * top + 4 * fi.tiny * fi.eps + (atol or 0.0)
        assert_low_precision_close(actual, baseline, oracle, tag=tag, atol=atol)
        return
    assert_close_verbose(actual.to(F64) if actual.dtype != F64 else actual, oracle.to(F64), tag=tag,
                         rtol=RTOL[dtype] if rtol is None else rtol,
                         atol=tiny_atol(dtype) if atol is None else atol, scale=scale)


def snapshot(*objs):
    """Copies of every tensor in ``objs`` (nested in dicts/lists too) with their version counters."""
    out = []

    def walk(o):
        if isinstance(o, torch.Tensor):
            out.append((o, o.detach().clone(), o._version))
        elif isinstance(o, dict):
            for v in o.values():
                walk(v)
        elif isinstance(o, (list, tuple)):
            for v in o:
                walk(v)

    for o in objs:
        walk(o)
    return out


def _bits(t: torch.Tensor) -> torch.Tensor:
    t = torch.empty(t.shape, dtype=t.dtype).copy_(t.detach()).reshape(-1)  # fresh standard strides
    return t.view(torch.uint8) if t.is_floating_point() else t


def assert_unchanged(snap, what="input"):
    for t, copy, version in snap:
        assert t._version == version, f"{what} was written in place (version {version} -> {t._version})"
        assert torch.equal(_bits(t), _bits(copy)), f"{what} values changed"


def assert_bitwise(a, b, tag="result"):
    """Two results (tensors, or nested dicts/lists/tuples/dataclasses of them) bit for bit equal."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.shape == b.shape and a.dtype == b.dtype, tag
        assert torch.equal(_bits(a), _bits(b)), f"[{tag}] two calls differ bitwise"
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), tag
        for k in a:
            assert_bitwise(a[k], b[k], f"{tag}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), tag
        for i, (x, y) in enumerate(zip(a, b)):
            assert_bitwise(x, y, f"{tag}[{i}]")
    elif hasattr(a, "__dataclass_fields__"):
        for k in a.__dataclass_fields__:
            assert_bitwise(getattr(a, k), getattr(b, k), f"{tag}.{k}")
    elif isinstance(a, float):
        assert (math.isnan(a) and math.isnan(b)) or a == b, f"[{tag}] {a!r} != {b!r}"
    else:
        assert a == b, f"[{tag}] {a!r} != {b!r}"


#: what a clear "double backward is not supported" error says
DOUBLE_BACKWARD_ERROR = re.compile(
    r"double[- ]backward|create_graph|second[- ]order|higher[- ]order|twice differentiable", re.I)


def cotangent(out: torch.Tensor) -> torch.Tensor:
    """A fixed cotangent for ``out``: ``0.5 + (k mod 8)/8``, exact in every dtype (so the fast path's
    fp16/bf16 cotangent is the fp64 oracle's)."""
    k = torch.arange(out.numel(), dtype=F64)
    return (0.5 + torch.remainder(k, 8) / 8).reshape(out.shape).to(out.dtype)


def _grads(fn, inputs, create_graph):
    out = fn(*inputs)
    v = cotangent(out)
    return torch.autograd.grad(out, inputs, v, create_graph=create_graph, allow_unused=True)


def check_double_backward(fn, inputs, *, ref, tag: str, gradgrad: bool = True) -> str:
    """``fn(*inputs)`` (fp64 leaves requiring grad) -> a tensor; ``ref`` the same function through the
    reference. Either the gradient taken with ``create_graph=True`` has a graph wherever the
    reference's has one and ``gradgradcheck`` accepts it (``"works"``), or the first or second
    backward raises an error that says double backward is unsupported (``"raises"``); a gradient
    without a graph (a gradient penalty that silently does nothing) fails."""
    ref_inputs = [x.detach().clone().requires_grad_(True) for x in inputs]
    want = [g is not None and g.requires_grad for g in _grads(ref, ref_inputs, True)]
    try:
        grads = _grads(fn, inputs, True)
        for g, w in zip(grads, want):
            if w:
                assert g is not None and g.requires_grad and g.grad_fn is not None, (
                    f"[{tag}] gradient computed with create_graph=True has no graph (the reference's "
                    "has one): a gradient penalty on it silently does nothing")
        live = [g for g in grads if g is not None and g.requires_grad]
        if live:
            s = sum((g * torch.cos(torch.arange(g.numel(), dtype=g.dtype).reshape(g.shape))).sum()
                    for g in live)
            torch.autograd.grad(s, inputs, allow_unused=True)
    except (RuntimeError, NotImplementedError) as exc:
        assert DOUBLE_BACKWARD_ERROR.search(str(exc)), (
            f"[{tag}] double backward raised an error that does not say double backward is "
            f"unsupported: {type(exc).__name__}: {exc}")
        return "raises"
    if gradgrad:
        assert torch.autograd.gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-4), tag
    return "works"


def raises_naming(fn, name: str, kinds=(ValueError, TypeError)):
    """``fn()`` raises one of ``kinds`` whose message names ``name``."""
    try:
        fn()
    except kinds as exc:
        assert name in str(exc), f"error for bad {name!r} does not name it: {type(exc).__name__}: {exc}"
        return exc
    except Exception as exc:  # noqa: BLE001 - the property is about the kind of error
        raise AssertionError(f"bad {name!r}: expected ValueError/TypeError naming it, got "
                             f"{type(exc).__name__}: {exc}") from exc
    raise AssertionError(f"bad {name!r} was accepted silently")


def grad_of(fn, *inputs, v=None):
    """``(out, grads)`` of ``fn(*inputs)`` for a fixed cotangent ``v`` (default: :func:`cotangent`)."""
    leaves = [x.detach().clone().requires_grad_(True) for x in inputs]
    out = fn(*leaves)
    if v is None:
        v = cotangent(out)
    grads = torch.autograd.grad(out, leaves, v, allow_unused=True)
    return out.detach(), [None if g is None else g.detach() for g in grads]
