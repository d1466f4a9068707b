r"""Label bins shared by LDS, FDS and the DIR metrics (docs/conventions.md, "Bins").

A :class:`Bins` is a sorted list of ``K + 1`` float64 edges :math:`e_0 < e_1 < \dots < e_K`, built as
``Bins(start, width, count)`` (:math:`e_k = \mathrm{start} + k\cdot\mathrm{width}`, each edge computed as
such in float64, never as a cumulative sum) or ``Bins(edges=...)``. The bin of a label :math:`y` is

.. math:: \mathrm{index}(y) = \mathrm{searchsorted}(e, y, \mathrm{right{=}True}) - 1
          = \#\{k \ge 0 : e_k \le y\} - 1,

bins are half-open :math:`[e_k, e_{k+1})` except the last, which is closed (:math:`y = e_K` lies in bin
``K − 1``).

**Comparison precision.** A label is compared with the edges *rounded to the label's precision*:
float32 labels (and float16/bfloat16 labels, upcast exactly to float32) against ``float32(e_k)``,
float64 labels against the float64 edges, integer labels (any int dtype, exact up to :math:`2^{53}`)
against the float64 edges. So a float32 label that "is" an edge value lies in the bin that starts there:
``float32(0.7)`` = 0.699999988 is in bin 7 of ``Bins(0, 0.1, 50)`` although the float64 edge
``7·0.1`` = 0.70000000000000007 is larger. These are exactly the float32 edges ``np.histogram(y, 50,
(0, 5))`` uses for float32 ``y`` (the official STS-B-DIR binning), and for integer edges (ages) every
precision agrees with the official ``int(y)``.

**Out of range** (``y < e_0``, ``y > e_K``, ±inf): with ``out_of_range="clamp"`` (default) ``y < e_0`` goes
to bin 0 and ``y > e_K`` to bin ``K − 1``. With ``out_of_range="error"`` such labels raise a
``ValueError`` naming them **when validation is on** (``validate=True`` or ``DIRFAST_VALIDATE=1``);
without validation nothing is checked (no host sync) and they are clamped.

**NaN labels**: with validation on → ``ValueError``. Without validation a NaN lands in the **last bin**
(``K − 1``; a NaN compares false against every edge, as in ``searchsorted``), never an exception.

**Official AgeDB/IMDB-WIKI binning**: :meth:`Bins.official_age` (``K`` unit bins ``[k, k+1)``,
``k = 0..K−1``) reproduces ``min(K−1, int(y))`` for every label the official code accepts
(``y > −1``; ``int()`` truncates toward zero, so ``int(−0.5) = 0`` → bin 0, and clamping also gives bin
0). Labels ``≤ −1`` make the official code fail (``KeyError`` on bin −1); dirfast clamps them into bin
0 (or raises under validation with ``out_of_range="error"``). Labels ``≥ K`` are merged into the last
bin, as officially.

**Speed.** Equal-width bins are indexed arithmetically (no binary search; ``torch.searchsorted`` costs
~40 ns/label on CPU because of branch mispredictions): ``floor`` for integer start and width, else a
float64 quotient guess ``⌊(y − start)/width⌋`` corrected by one exact comparison with each
neighbouring edge (recomputed as ``start + k·width``, rounded to the label's precision), which is exact
because the guess is off by at most one whenever the rounded edges stay at least one ulp apart (checked
once at construction; otherwise, and for ``Bins(edges=...)``, ``torch.searchsorted`` is used).
``backend="reference"`` always uses ``torch.searchsorted`` (the semantics-defining path). Every path
is vectorised, sync-free (validation aside) and runs on any device.

**C++ kernel.** On CPU tensors with ``backend="auto"``/``"cpu"`` and the compiled extension,
:meth:`Bins.index` (and :class:`dirfast.LDS`'s label → weight mapping) run ``dirfast._C.bins_map``: one
pass that reads each label once and writes its id (or its weight) once, OpenMP-parallel for batches of
≥ 32768 labels, with the same rule operation for operation (the same four arithmetic cases, and a
binary search where PyTorch uses ``searchsorted``) — bit-identical to the PyTorch path, which keeps
serving CUDA tensors (no sync), ``"auto"`` without the extension (``backend="cpu"`` then raises and
says how to build it), uint16/32/64 labels and ``torch.compile`` tracing.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Optional, Tuple

import torch

from . import _ext
from ._backend import BACKENDS, default_backend
from ._checks import LabelsLike, as_label_tensor, check_tensor, describe, validation_enabled

__all__ = ["Bins"]

OUT_OF_RANGE = ("clamp", "error")
_LOW_FLOATS = (torch.float16, torch.bfloat16)
_INT_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.uint16,
               torch.uint32, torch.uint64)
#: integer edges below these magnitudes make ``floor`` / integer division exact in float32 / float64
_EXACT_INT = {torch.float32: 2.0 ** 22, torch.float64: 2.0 ** 50}
#: label dtypes the C++ kernel (dirfast._C.bins_map) reads directly; int8/uint8/int16 are widened to
#: int64 first (exact); uint16/uint32/uint64 labels take the PyTorch path
_KERNEL_LABELS = {torch.float32: "float32", torch.float64: "float64", torch.int32: "int32",
                  torch.int64: "int64"}
_KERNEL_WIDEN = (torch.int8, torch.uint8, torch.int16)
_CPU = torch.device("cpu")


def _is_int_dtype(dtype: torch.dtype) -> bool:
    return dtype in _INT_DTYPES


def resolve_torch_backend(backend: Optional[str], device: torch.device, *, op: str,
                          has_cpu_kernel: bool = False) -> str:
    """Backend rule for ops whose fast path is vectorised PyTorch on every device, optionally with a
    C++ kernel for CPU tensors (``has_cpu_kernel``).

    Returns ``"reference"``, ``"torch"`` or ``"cpu"`` (the C++ kernel in ``dirfast._C``).
    ``"auto"`` gives the C++ kernel for CPU tensors when the op has one and the extension is
    available, else the vectorised path (CUDA tensors: always the vectorised path, no sync);
    ``"cpu"`` (CPU tensors only) gives the C++ kernel, and raises the ``dirfast._ext.require`` error
    (how to build it) when the extension is missing; an explicit ``"triton"``/``"cuda"`` raises (the
    op has no such kernel, and the vectorised path already runs on CUDA); the same values coming
    from ``DIRFAST_BACKEND`` fall back to ``"auto"``.
    """
    explicit = backend is not None
    if backend is None:
        backend = default_backend()
    if backend not in BACKENDS:
        raise ValueError(f"{op}: backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "reference":
        return "reference"
    if backend == "cpu":
        if device.type != "cpu":
            raise ValueError(f"{op}: backend='cpu' needs CPU tensors, got tensors on {device}")
        if has_cpu_kernel:
            _ext.require(f"{op} with backend='cpu'")
            return "cpu"
        return "torch"
    if backend in ("triton", "cuda"):
        if explicit:
            raise RuntimeError(
                f"{op} has no {backend} kernel: its vectorised PyTorch path runs on every device "
                "(CPU and CUDA); use backend='auto'")
    if has_cpu_kernel and device.type == "cpu" and _ext.available():
        return "cpu"
    return "torch"


class Bins:
    """Label bins with float64 edges; see the module docstring for the exact rules.

    Args:
        start, width, count: equal-width bins ``[start + k·width, start + (k+1)·width)``,
            ``k = 0..count−1`` (``width > 0``, ``count ≥ 1`` an int).
        edges: instead, ``K + 1 ≥ 2`` strictly increasing finite edges (sequence or 1-D tensor).
        out_of_range: ``"clamp"`` (default) or ``"error"`` (raises under validation, see above).

    Attributes: ``num_bins`` (``K``), ``edges`` (``[K+1]`` float64 CPU tensor, a copy), ``start``,
    ``width``, ``count`` (``None`` for ``Bins(edges=...)``), ``out_of_range``.
    """

    def __init__(self, start: Optional[float] = None, width: Optional[float] = None,
                 count: Optional[int] = None, *, edges: Any = None, out_of_range: str = "clamp"):
        fn = "Bins"
        if out_of_range not in OUT_OF_RANGE:
            raise ValueError(f"{fn}: out_of_range must be one of {OUT_OF_RANGE}, got {out_of_range!r}")
        self.out_of_range = out_of_range
        if edges is not None:
            if start is not None or width is not None or count is not None:
                raise ValueError(f"{fn}: pass either (start, width, count) or edges=, not both "
                                 f"(got start={start!r}, width={width!r}, count={count!r} and edges)")
            if isinstance(edges, torch.Tensor):
                if edges.dim() != 1:
                    raise ValueError(f"{fn}: edges must be 1-D, got {describe(edges)}")
                vals = [float(v) for v in edges.detach().cpu().to(torch.float64).tolist()]
            else:
                try:
                    vals = [float(v) for v in edges]
                except (TypeError, ValueError) as exc:
                    raise TypeError(f"{fn}: edges must be a sequence of real numbers, got {edges!r}") from exc
            if len(vals) < 2:
                raise ValueError(f"{fn}: edges needs at least 2 values (one bin), got {vals!r}")
            if not all(math.isfinite(v) for v in vals):
                raise ValueError(f"{fn}: edges must be finite, got {vals!r}")
            bad = [i for i in range(len(vals) - 1) if not vals[i] < vals[i + 1]]
            if bad:
                i = bad[0]
                raise ValueError(f"{fn}: edges must be strictly increasing, got edges[{i}]={vals[i]!r} "
                                 f">= edges[{i + 1}]={vals[i + 1]!r}")
            self.start = self.width = self.count = None
            self._edges = tuple(vals)
        else:
            if start is None or width is None or count is None:
                raise ValueError(f"{fn}: pass start, width and count (or edges=), got start={start!r}, "
                                 f"width={width!r}, count={count!r}")
            for name, v in (("start", start), ("width", width)):
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    raise ValueError(f"{fn}: {name} must be a finite real number, got {v!r}")
            if not width > 0:
                raise ValueError(f"{fn}: width must be > 0, got {width!r}")
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise ValueError(f"{fn}: count must be an int >= 1, got {count!r}")
            self.start, self.width, self.count = float(start), float(width), int(count)
            # e_k = start + k*width, each computed directly in float64 (k*width rounded, then + start)
            self._edges = tuple(float(v) for v in
                                (torch.arange(count + 1, dtype=torch.float64) * self.width + self.start).tolist())
            if not all(math.isfinite(v) for v in self._edges):
                raise ValueError(f"{fn}: edges overflow float64 (start={start!r}, width={width!r}, count={count!r})")
            if not all(a < b for a, b in zip(self._edges, self._edges[1:])):
                raise ValueError(f"{fn}: width={width!r} is below float64 resolution at start={start!r}: "
                                 "edges are not strictly increasing")
        self._edges64 = torch.tensor(self._edges, dtype=torch.float64)
        e32 = self._edges64.to(torch.float32)
        #: float32 comparison is possible when the float32-rounded edges stay distinct and finite
        self._f32_ok = bool(torch.isfinite(e32).all()) and bool((e32[1:] > e32[:-1]).all())
        self._cache: Dict[Tuple[torch.device, torch.dtype], torch.Tensor] = {}
        # fast-path eligibility, decided once from the edges (metadata, never from labels)
        top = max(abs(self._edges[0]), abs(self._edges[-1]))
        self._int_grid = {}
        self._arith = {}
        for dt in (torch.float32, torch.float64):
            uniform = self.width is not None
            int_grid = (uniform and float(self.start).is_integer() and float(self.width).is_integer()
                        and top <= _EXACT_INT[dt])
            ulp = math.ulp(top) if dt == torch.float64 else float(torch.finfo(torch.float32).eps) * top
            arith = uniform and self.width >= 2.0 * ulp and (dt == torch.float64 or self._f32_ok)
            self._int_grid[dt] = bool(int_grid)
            self._arith[dt] = bool(arith)
        self._kmode = self._kernel_modes()

    def _kernel_modes(self) -> Dict[Tuple[bool, torch.dtype], int]:
        """``{(float labels?, comparison dtype): mode}`` of ``dirfast._C.bins_map`` (csrc/lds.h): the
        same branch :meth:`_ids` takes on the PyTorch path, so both give identical ids."""
        modes = {}
        for is_float in (True, False):
            for cdt in (torch.float32, torch.float64):
                if not self._arith[cdt]:
                    m = 0  # binary search over the edges (any edges)
                elif not is_float and self._int_grid[torch.float64]:
                    m = 1  # integer labels, integer grid
                elif is_float and self._int_grid[cdt] and self.width == 1.0 and self.start >= 0:
                    m = 2  # unit bins from an integer start >= 0 (ages)
                elif is_float and self._int_grid[cdt]:
                    m = 3  # integer start and width
                else:
                    m = 4  # equal-width: float64 guess + exact neighbour-edge comparisons
                modes[(is_float, cdt)] = m
        return modes

    # --------------------------------------------------------------------------------------------
    # constructors / serialisation

    @classmethod
    def official_age(cls, num_bins: int = 121) -> "Bins":
        """The official AgeDB-DIR / IMDB-WIKI-DIR binning ``min(num_bins − 1, int(y))``: ``num_bins``
        unit bins ``[k, k+1)`` starting at 0, labels ``≥ num_bins − 1`` merged into the last bin
        (official ``max_target = 121`` → bins 0..120). Labels in ``(−1, 0)`` go to bin 0 as with
        ``int()``; labels ``≤ −1`` (an error in the official code) are clamped into bin 0."""
        return cls(0.0, 1.0, num_bins, out_of_range="clamp")

    def to_dict(self) -> Dict[str, Any]:
        """Plain-Python description (JSON- and ``state_dict``-friendly); :meth:`from_dict` inverts it."""
        if self.width is not None:
            return {"start": self.start, "width": self.width, "count": self.count,
                    "out_of_range": self.out_of_range}
        return {"edges": list(self._edges), "out_of_range": self.out_of_range}

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "Bins":
        if "edges" in d:
            return cls(edges=d["edges"], out_of_range=d.get("out_of_range", "clamp"))
        return cls(d["start"], d["width"], d["count"], out_of_range=d.get("out_of_range", "clamp"))

    # --------------------------------------------------------------------------------------------
    # properties

    @property
    def num_bins(self) -> int:
        return len(self._edges) - 1

    @property
    def edges(self) -> torch.Tensor:
        """``[K+1]`` float64 CPU tensor (a copy)."""
        return self._edges64.clone()

    def __eq__(self, other) -> bool:
        if not isinstance(other, Bins):
            return NotImplemented
        return self._edges == other._edges and self.out_of_range == other.out_of_range

    def __hash__(self) -> int:
        return hash((self._edges, self.out_of_range))

    def __repr__(self) -> str:
        oor = "" if self.out_of_range == "clamp" else f", out_of_range={self.out_of_range!r}"
        if self.width is not None:
            return f"Bins(start={self.start!r}, width={self.width!r}, count={self.count!r}{oor})"
        e = self._edges
        shown = ", ".join(repr(v) for v in e) if len(e) <= 8 else \
            ", ".join(repr(v) for v in e[:3]) + ", ..., " + ", ".join(repr(v) for v in e[-2:])
        return f"Bins(edges=[{shown}]{oor})"

    # --------------------------------------------------------------------------------------------
    # indexing

    def _edges_on(self, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """The edges in ``dtype`` on ``device``, cached (one small copy per device and dtype)."""
        key = (device, dtype)
        t = self._cache.get(key)
        if t is None:
            t = self._edges64.to(dtype).to(device)
            self._cache[key] = t
        return t

    def _compute_labels(self, y: torch.Tensor, fn: str, name: str) -> Tuple[torch.Tensor, torch.dtype]:
        """``(labels in their comparison dtype, comparison dtype)`` (see "Comparison precision")."""
        check_tensor(name, y, fn=fn)
        if y.dtype in (torch.float32, torch.float64):
            yc = y
        elif y.dtype in _LOW_FLOATS:
            yc = y.to(torch.float32)
        elif _is_int_dtype(y.dtype):
            yc = y  # integer labels: handled exactly (integer arithmetic or float64)
        else:
            raise TypeError(f"{fn}: {name} must be a real floating or integer tensor, got {describe(y)}")
        if y.is_floating_point():
            cdt = torch.float32 if yc.dtype == torch.float32 else torch.float64
            if cdt == torch.float32 and not self._f32_ok:
                raise ValueError(
                    f"{fn}: the edges of {self!r} are not distinct in float32, so float32 {name} cannot be "
                    f"binned by them; pass {name} as float64")
        else:
            cdt = torch.float64
        return yc, cdt

    def _validate(self, yc: torch.Tensor, cdt: torch.dtype, fn: str, name: str) -> None:
        """Value checks (host sync): NaN always an error, out-of-range an error for "error"."""
        flat = yc.detach().reshape(-1)
        if flat.is_floating_point():
            nan = torch.isnan(flat)
            if bool(nan.any()):
                idx = nan.nonzero()[:5].reshape(-1).tolist()
                raise ValueError(f"{fn}: {name} contains NaN (validation on), e.g. at flat indices {idx}")
        if self.out_of_range == "error":
            e = self._edges_on(flat.device, cdt)
            f = flat.to(cdt)
            bad = (f < e[0]) | (f > e[-1])
            if bool(bad.any()):
                idx = bad.nonzero()[:5].reshape(-1)
                raise ValueError(
                    f"{fn}: {name} outside the bins' range [{self._edges[0]!r}, {self._edges[-1]!r}] with "
                    f"out_of_range='error' ({int(bad.sum())} of {flat.numel()}), e.g. values "
                    f"{flat[idx].tolist()} at flat indices {idx.tolist()}")

    def _ids(self, y: torch.Tensor, *, fn: str = "Bins.index", name: str = "y",
             validate: Optional[bool] = None, backend: Optional[str] = None,
             index_dtype: torch.dtype = torch.int64, table: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Bin ids of ``y`` (any shape) as ``index_dtype`` (int64 or int32), same shape as ``y``; with
        ``table`` (``[K]``, on ``y``'s device) ``table[ids]`` instead (``table``'s dtype).

        CPU tensors with ``backend`` ``"auto"``/``"cpu"`` and the compiled extension run the fused
        one-pass kernel ``dirfast._C.bins_map`` (ids, or the gather; bit-identical to the PyTorch
        path below, which serves CUDA tensors, ``"auto"`` without the extension, and the few label
        dtypes the kernel does not read)."""
        yc, cdt = self._compute_labels(y, fn, name)
        if validation_enabled(validate):
            self._validate(yc, cdt, fn, name)
        path = resolve_torch_backend(backend, y.device, op=fn, has_cpu_kernel=True)
        if path == "cpu" and not torch.compiler.is_compiling():
            out = self._kernel(yc, cdt, table)
            if out is not None:  # the kernel writes int64 ids
                return out if table is not None or index_dtype == torch.int64 else out.to(index_dtype)
        ids = self._ids_torch(yc, cdt, path, index_dtype)
        if table is None:
            return ids
        return torch.index_select(table, 0, ids.reshape(-1)).reshape(y.shape)

    def _kernel(self, yc: torch.Tensor, cdt: torch.dtype, table: Optional[torch.Tensor]):
        """The C++ path (``dirfast._C.bins_map``); None if it does not apply (then PyTorch runs)."""
        C = _ext.get()
        if C is None:  # pragma: no cover - resolve_torch_backend checked it
            return None
        if yc.dtype in _KERNEL_WIDEN:
            yc = yc.to(torch.int64)
        lt = _KERNEL_LABELS.get(yc.dtype)
        K = len(self._edges) - 1
        if lt is None or K >= 2 ** 31:
            return None
        yc = yc.contiguous()
        kmode = self.__dict__.get("_kmode")
        if kmode is None:  # a Bins pickled before the kernel existed
            kmode = self._kmode = self._kernel_modes()
        mode = kmode[(yc.is_floating_point(), cdt)]
        eptr = self._edges_on(_CPU, cdt).data_ptr() if mode == 0 else 0
        # empty_like: ~2x cheaper per call than torch.empty(shape, dtype=...); yc is contiguous
        if table is None:
            out = torch.empty_like(yc, dtype=torch.int64)
            tptr, itemsize = 0, 8
        else:
            out = torch.empty_like(yc, dtype=table.dtype)
            tptr, itemsize = table.data_ptr(), table.element_size()
        start, width = (self.start, self.width) if self.width is not None else (0.0, 1.0)
        C.bins_map(lt, yc.data_ptr(), yc.numel(), mode, K, start, width, eptr, tptr, itemsize,
                   out.data_ptr())
        return out

    def _ids_torch(self, yc: torch.Tensor, cdt: torch.dtype, path: str,
                   index_dtype: torch.dtype) -> torch.Tensor:
        """The vectorised PyTorch path (any device; ``path == "reference"``: ``torch.searchsorted``)."""
        K = self.num_bins
        if path == "reference" or not self._arith[cdt]:
            inner = self._edges_on(yc.device, cdt)[1:-1]
            yy = yc if yc.dtype == cdt else yc.to(cdt)
            # searchsorted over the K−1 interior edges = clamp(searchsorted(edges) − 1, 0, K−1); NaN → K−1
            return torch.searchsorted(inner, yy.contiguous(), right=True,
                                      out_int32=index_dtype == torch.int32)
        if not yc.is_floating_point() and self._int_grid[torch.float64]:
            # integer labels, integer edges: exact integer arithmetic (clamped into
            # [start, start + K·width] first, so no int64 label overflows)
            lo = int(self.start)
            k = torch.clamp(yc.to(torch.int64), lo, lo + K * int(self.width))
            if lo != 0:
                k.sub_(lo)
            if self.width != 1.0:
                k = torch.div(k, int(self.width), rounding_mode="floor")
            return k.clamp_(0, K - 1).to(index_dtype)
        if yc.is_floating_point() and self._int_grid[cdt] and self.width == 1.0 and self.start >= 0:
            # unit bins from an integer start >= 0 (ages): clamp into [start, start + K − 1] (NaN → top),
            # then the int conversion truncates, which is floor on non-negative values
            top = self.start + K - 1
            t = torch.nan_to_num(yc, nan=top, posinf=top, neginf=self.start).clamp_(self.start, top)
            ids = t.to(index_dtype)
            return ids.sub_(int(self.start)) if self.start != 0.0 else ids
        if yc.is_floating_point() and self._int_grid[cdt]:
            # integer start and width: bin(y) = bin(floor(y)), and floor(y) − start is exact
            t = torch.floor(yc)
            if self.start != 0.0:
                t.sub_(self.start)
            if self.width != 1.0:
                t.div_(self.width).floor_()
            t.nan_to_num_(nan=K - 1, posinf=K - 1, neginf=0.0).clamp_(0, K - 1)
            return t.to(index_dtype)
        # equal-width bins: guess in float64, then one exact comparison with each neighbouring edge
        # (few fresh buffers: large fresh tensors cost page faults on CPU)
        k = yc.to(torch.float64, copy=True)
        k.sub_(self.start).div_(self.width).floor_()
        k.nan_to_num_(nan=K - 1, posinf=K - 1, neginf=0.0).clamp_(0, K - 1)
        e = torch.mul(k, self.width).add_(self.start)        # lower edge start + k*width, exactly
        ycmp = yc if cdt == torch.float32 else yc.to(torch.float64)
        ec = e.to(torch.float32) if cdt == torch.float32 else e
        below = torch.lt(ycmp, ec)
        torch.add(k, 1.0, out=e).mul_(self.width).add_(self.start)  # upper edge start + (k+1)*width
        if cdt == torch.float32:
            ec.copy_(e)
        k.add_(torch.ge(ycmp, ec)).add_(below, alpha=-1)
        return k.clamp_(0, K - 1).to(index_dtype)

    def index(self, y: torch.Tensor, *, validate: Optional[bool] = None,
              backend: Optional[str] = None) -> torch.Tensor:
        """Bin index of every label.

        Args:
            y: labels, any shape, float16/bfloat16/float32/float64 or an integer dtype, any device.
            validate: value checks (NaN; out-of-range with ``out_of_range="error"``); default
                ``DIRFAST_VALIDATE``. They sync with the host; without them nothing syncs.
            backend: ``"auto"`` (CPU: the C++ kernel when built, else the arithmetic PyTorch path;
                CUDA: the arithmetic PyTorch path), ``"cpu"`` (the C++ kernel; raises if the extension
                is not built) or ``"reference"`` (``torch.searchsorted``).

        Returns:
            int64 tensor of ``y``'s shape and device, values in ``[0, K−1]``.
        """
        return self._ids(y, fn="Bins.index", name="y", validate=validate, backend=backend)

    def counts(self, y: LabelsLike, *, validate: Optional[bool] = None) -> torch.Tensor:
        """Histogram: ``[K]`` int64 on ``y``'s device, ``counts[k] = #{i : index(y_i) = k}``.

        ``y``: labels of any shape as :meth:`index`; also a NumPy array (float16/32/64 or integer) or a
        sequence of numbers (converted once on the CPU; a scalar raises), as training labels come.
        :meth:`index` (a per-batch mapping) stays tensor-only.

        Uses ``torch.bincount``, which synchronises with the host on CUDA (it sizes its output from the
        data); fine for fitting and evaluation, not meant for a training step."""
        y = as_label_tensor("y", y, fn="Bins.counts", ndim=None)
        ids = self._ids(y, fn="Bins.counts", name="y", validate=validate).reshape(-1)
        return torch.bincount(ids, minlength=self.num_bins)
