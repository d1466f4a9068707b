r"""LDS: label distribution smoothing weights (Yang et al., ICML 2021; docs/lds_fds.md §1).

Fit once on the training labels, then map any batch of labels to per-sample weights::

    lds = dirfast.LDS(dirfast.Bins.official_age(121), reweight="sqrt_inv").fit(train_labels)
    w = lds(batch_labels)                        # [B] float32, on batch_labels' device
    loss = dirfast.l1(pred, batch_labels, w)

Equations (see :mod:`dirfast.reference.lds`): counts :math:`c_k` over the bins, :math:`v = \sqrt c`
(``sqrt_inv``) or :math:`\mathrm{clip}(c, 5, 1000)` (``inverse``), :math:`\tilde v = v * w` (1-D
convolution with the peak-normalised window, zero padding) if ``lds``, per-bin weight
:math:`W_k = N\,\tilde v_k^{-1} / \sum_j c_j \tilde v_j^{-1}` — so the weights average to exactly 1 over
the training set.

**Fit** (:meth:`LDS.fit`): one histogram (``Bins`` indexing + ``bincount``) plus ``O(K·ks)`` work on
the ``[K]`` bin arrays in float64 on the CPU (fitting is not a hot path: it syncs, and always checks
its input: empty or non-finite training labels raise; out-of-range labels raise with
``Bins(out_of_range="error")``).
**Mapping** (:meth:`LDS.forward` / :meth:`LDS.weights_for`): bin ids (arithmetic, see
:class:`dirfast.Bins`) and one gather from a ``[K]`` table cached on the labels' device — no host sync
(validation aside), no Python loop, any device. On CPU with the compiled extension both are one fused
C++ pass (``dirfast._C.bins_map``: each label read once, its weight written once, OpenMP for large
batches), bit-identical to the PyTorch path.

Variants: ``"default"`` computes the bin weights in float64 (then casts to ``dtype``);
``"official"`` reproduces the official code: with ``inverse`` + LDS the smoothed counts are truncated to
integers before ``1/v`` (the official ``convolve1d`` runs on int64 counts); weights are float32 values;
labels in bins without smoothed training mass get ``inf`` (official ``1/0``). On the AgeDB-DIR train
split (ks=5, σ=2) inverse+LDS gives ``[0.42729, 34.39699]`` officially vs ``[0.4287, 33.1416]`` by
default.

**Empty bins** (bins whose smoothed value is 0, e.g. ``sqrt_inv`` without LDS; training labels never
fall there, validation/test labels can): ``empty_bins="nearest"`` (default) gives them the weight of
the nearest bin that has one (ties → lower bin); ``"inf"`` (official default) keeps ``1/0 = inf``;
``"error"`` keeps ``inf`` and, under validation, raises when a label falls there.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import torch

from ._backend import triton_available
from ._checks import (LabelsLike, as_label_tensor, check_finite_values, check_tensor, describe,
                      validation_enabled)
from .bins import Bins, resolve_torch_backend
from .ops._common import kernels
from .reference.lds import (REWEIGHTS, VARIANTS, bin_weights_ref, check_ks_sigma,
                            kernel_window, lds_weights_ref)

__all__ = ["LDS", "lds_weights", "kernel_window"]

EMPTY_BINS = ("nearest", "inf", "error")
_WEIGHT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _check_labels(name: str, y, *, fn: str) -> torch.Tensor:
    check_tensor(name, y, fn=fn)
    if y.dim() not in (1, 2) or (y.dim() == 2 and y.shape[1] != 1):
        raise ValueError(f"{fn}: {name} must have shape [B] or [B, 1], got {describe(y)}")
    if y.dtype == torch.bool or y.is_complex():
        raise TypeError(f"{fn}: {name} must be a real floating or integer tensor, got {describe(y)}")
    return y


class LDS(torch.nn.Module):
    r"""Label-distribution-smoothing weights, fitted once, applied to any batch of labels.

    Args:
        bins: :class:`dirfast.Bins` over the labels (official AgeDB/IMDB: ``Bins.official_age(121)``).
        reweight: ``"sqrt_inv"`` (default), ``"inverse"`` or ``"none"`` (all weights 1).
        lds: smooth the (sqrt/clipped) counts with the kernel window (needs ``reweight != "none"``).
        kernel, ks, sigma: window (``"gaussian"|"triang"|"laplace"``, odd ``ks ≥ 1``, ``sigma > 0``);
            defaults gaussian, 5, 2 (paper/README).
        clip: ``(lo, hi)`` on the counts for ``"inverse"`` only; official AgeDB/IMDB ``(5, 1000)``;
            ``None`` disables it (STS-B-DIR). Ignored by ``"sqrt_inv"`` (as officially).
        variant: ``"default"`` or ``"official"`` (module docstring).
        empty_bins: ``"nearest" | "inf" | "error"``; default ``"nearest"``, ``"inf"`` if official.
        dtype: dtype of the returned weights (float32 default; float64 for an fp64 pipeline).

    Buffers (``state_dict``; round-trip exact, config travels as extra state):
        ``counts`` ``[K]`` float64 training counts; ``smoothed`` ``[K]`` float64 :math:`\tilde v`;
        ``bin_weights`` ``[K]`` float64 :math:`W` (per-bin weights, official: float32 values);
        ``num_train`` int64 scalar ``N`` (0 = not fitted).
    """

    def __init__(self, bins: Bins, *, reweight: str = "sqrt_inv", lds: bool = True,
                 kernel: str = "gaussian", ks: int = 5, sigma: float = 2.0,
                 clip: Optional[Tuple[float, float]] = (5, 1000), variant: str = "default",
                 empty_bins: Optional[str] = None, dtype: torch.dtype = torch.float32):
        super().__init__()
        self._configure(dict(bins=bins, reweight=reweight, lds=lds, kernel=kernel, ks=ks, sigma=sigma,
                             clip=clip, variant=variant, empty_bins=empty_bins, dtype=dtype))
        K = self.bins.num_bins
        f64 = torch.float64
        self.register_buffer("counts", torch.zeros(K, dtype=f64))
        self.register_buffer("smoothed", torch.zeros(K, dtype=f64))
        self.register_buffer("bin_weights", torch.ones(K, dtype=f64))
        self.register_buffer("num_train", torch.zeros((), dtype=torch.int64))
        self._fitted = False
        self._tables: Dict[Tuple[torch.device, torch.dtype], Tuple[Any, torch.Tensor]] = {}

    # --------------------------------------------------------------------------------------------
    # configuration

    def _configure(self, cfg: Dict[str, Any]) -> None:
        fn = "LDS"
        bins = cfg["bins"]
        if not isinstance(bins, Bins):
            raise TypeError(f"{fn}: bins must be a dirfast.Bins, got {type(bins).__name__}")
        if cfg["reweight"] not in REWEIGHTS:
            raise ValueError(f"{fn}: reweight must be one of {REWEIGHTS}, got {cfg['reweight']!r}")
        if not isinstance(cfg["lds"], bool):
            raise TypeError(f"{fn}: lds must be a bool, got {cfg['lds']!r}")
        if cfg["lds"] and cfg["reweight"] == "none":
            raise ValueError(f"{fn}: lds=True needs reweight='inverse' or 'sqrt_inv', got reweight='none' "
                             "(pass lds=False for unit weights)")
        ks, sigma = check_ks_sigma(cfg["ks"], cfg["sigma"], cfg["kernel"], fn=fn)
        clip = cfg["clip"]
        if clip is not None:
            try:
                lo, hi = (float(clip[0]), float(clip[1]))
                ok = len(clip) == 2
            except (TypeError, ValueError, IndexError):
                ok = False
            if not ok or not (0.0 <= lo <= hi < float("inf")):
                raise ValueError(f"{fn}: clip must be None or (lo, hi) with 0 <= lo <= hi finite, got {clip!r}")
            clip = (clip[0], clip[1])
        if cfg["variant"] not in VARIANTS:
            raise ValueError(f"{fn}: variant must be one of {VARIANTS}, got {cfg['variant']!r}")
        empty = cfg["empty_bins"]
        if empty is None:
            empty = "inf" if cfg["variant"] == "official" else "nearest"
        if empty not in EMPTY_BINS:
            raise ValueError(f"{fn}: empty_bins must be one of {EMPTY_BINS}, got {empty!r}")
        if cfg["dtype"] not in _WEIGHT_DTYPES:
            raise TypeError(f"{fn}: dtype must be a floating dtype, got {cfg['dtype']!r}")
        if hasattr(self, "bins") and bins.num_bins != self.bins.num_bins:
            raise ValueError(f"{fn}: cannot change the number of bins from {self.bins.num_bins} to "
                             f"{bins.num_bins} (buffers are [K]); create a new LDS")
        self.bins, self.reweight, self.lds = bins, cfg["reweight"], cfg["lds"]
        self.kernel, self.ks, self.sigma, self.clip = cfg["kernel"], ks, sigma, clip
        self.variant, self.empty_bins, self.dtype = cfg["variant"], empty, cfg["dtype"]

    def config(self) -> Dict[str, Any]:
        """Plain-Python configuration (``bins`` as :meth:`Bins.to_dict`)."""
        return {"bins": self.bins.to_dict(), "reweight": self.reweight, "lds": self.lds,
                "kernel": self.kernel, "ks": self.ks, "sigma": self.sigma,
                "clip": None if self.clip is None else list(self.clip), "variant": self.variant,
                "empty_bins": self.empty_bins, "dtype": str(self.dtype).split(".")[-1]}

    def get_extra_state(self) -> Dict[str, Any]:
        return {"config": self.config(), "fitted": self._fitted}

    def set_extra_state(self, state: Dict[str, Any]) -> None:
        cfg = dict(state["config"])
        cfg["bins"] = Bins.from_dict(cfg["bins"])
        cfg["dtype"] = getattr(torch, cfg["dtype"])
        cfg["clip"] = None if cfg["clip"] is None else tuple(cfg["clip"])
        if cfg["bins"].num_bins != self.bins.num_bins:
            return  # load_state_dict reports the buffers' size mismatch (RuntimeError)
        self._configure(cfg)
        self._fitted = bool(state["fitted"])
        self._tables.clear()

    def window(self) -> torch.Tensor:
        """The peak-normalised ``[ks]`` float64 smoothing window."""
        return kernel_window(self.kernel, self.ks, self.sigma, normalize="peak")

    @property
    def fitted(self) -> bool:
        return self._fitted

    def extra_repr(self) -> str:
        return (f"{self.bins!r}, reweight={self.reweight!r}, lds={self.lds}, kernel={self.kernel!r}, "
                f"ks={self.ks}, sigma={self.sigma}, clip={self.clip}, variant={self.variant!r}, "
                f"empty_bins={self.empty_bins!r}, dtype={self.dtype}, fitted={self._fitted}")

    # --------------------------------------------------------------------------------------------
    # fit

    @torch.no_grad()
    def fit(self, train_labels: LabelsLike) -> "LDS":
        """Fit on the training labels (``[N]`` or ``[N, 1]``, float or int, any device; N ≥ 1).

        ``train_labels`` accepts a tensor, a NumPy array (float16/32/64 or integer dtype) or a sequence
        of numbers (a list of floats, or of ``[y]`` rows for ``[N, 1]``), converted once on the CPU
        without copying (bool, complex, object or string data raise ``TypeError``, a scalar
        ``ValueError``). The per-batch mapping ``lds(labels)`` stays tensor-only.

        Always checks values (syncs): empty → ``ValueError``; NaN/inf → ``ValueError``; labels outside
        the bins with ``out_of_range="error"`` → ``ValueError``. Returns ``self``.
        """
        fn = "LDS.fit"
        train_labels = as_label_tensor("train_labels", train_labels, fn=fn, column=True)
        _check_labels("train_labels", train_labels, fn=fn)
        if train_labels.numel() == 0:
            raise ValueError(f"{fn}: train_labels is empty ({describe(train_labels)}); LDS needs at least "
                             "one training label")
        if train_labels.is_floating_point():
            check_finite_values(fn, train_labels=train_labels)
        ids = self.bins._ids(train_labels, fn=fn, name="train_labels", validate=True).reshape(-1)
        counts = torch.bincount(ids, minlength=self.bins.num_bins).cpu()
        smoothed, w = bin_weights_ref(counts, reweight=self.reweight, lds=self.lds, kernel=self.kernel,
                                      ks=self.ks, sigma=self.sigma, clip=self.clip, variant=self.variant,
                                      empty_bins=self.empty_bins)
        self.counts.copy_(counts)
        self.smoothed.copy_(smoothed)
        self.bin_weights.copy_(w)
        self.num_train.fill_(train_labels.numel())
        self._fitted = True
        self._tables.clear()
        return self

    # --------------------------------------------------------------------------------------------
    # mapping

    def _table(self, device: torch.device, dtype: Optional[torch.dtype] = None) -> torch.Tensor:
        """``bin_weights`` in ``dtype`` (default ``self.dtype``) on ``device``, cached per device and
        dtype (rebuilt when the buffer is replaced or modified in place). Under ``torch.compile``
        the cast is traced into the graph instead (dynamo cannot key a cache on ``data_ptr``): one
        [K] cast per call."""
        dtype = self.dtype if dtype is None else dtype
        bw = self.bin_weights
        if torch.compiler.is_compiling():
            return bw.to(device=device, dtype=dtype)
        key = (bw.device, bw.data_ptr(), bw._version)
        hit = self._tables.get((device, dtype))
        if hit is not None and hit[0] == key:
            return hit[1]
        t = bw.to(dtype).to(device).contiguous()
        self._tables = {d: v for d, v in self._tables.items() if v[0] == key}
        self._tables[(device, dtype)] = (key, t)
        return t

    def forward(self, labels: torch.Tensor, *, validate: Optional[bool] = None,
                backend: Optional[str] = None) -> torch.Tensor:
        """Per-sample weights :math:`W_{b(y_i)}`.

        Args:
            labels: ``[B]`` or ``[B, 1]``, float or int, any device.
            validate: value checks (NaN labels; out-of-range with ``out_of_range="error"``; labels in
                empty bins with ``empty_bins="error"``); default ``DIRFAST_VALIDATE``.
            backend: ``"auto"`` (CPU tensors: the fused C++ kernel of ``dirfast._C`` when built, else
                vectorised PyTorch; CUDA tensors: one Triton kernel, label → bin → weight, for
                float32/float64 labels when triton is installed and nothing is validated — plus a
                cast for float64 labels with float32 weights —, else vectorised PyTorch; the same
                weights bit for bit), ``"cpu"`` (the C++ kernel;
                raises if the extension is not built) or ``"reference"`` (``torch.searchsorted``
                binning + ``index_select``).

        Returns:
            weights, ``labels``' shape, ``self.dtype``, on ``labels``' device; no autograd graph.
        """
        fn = "LDS"
        if not self._fitted:
            raise RuntimeError(f"{fn}: not fitted; call .fit(train_labels) first (or load a fitted state_dict)")
        _check_labels("labels", labels, fn=fn)
        if self._triton_map_ok(labels, validate, backend):
            # CUDA: label -> bin -> table[bin] in one Triton launch (dirfast.kernels.lds)
            lds_map = kernels("lds").lds_map
            cdt = labels.dtype
            inner = self.bins._edges_on(labels.device, cdt)[1:-1]
            if cdt == torch.float64 and self.dtype != torch.float64:
                # fp64 labels compare in fp64 and the kernel keeps one dtype (no fp32 in an fp64
                # kernel): gather from the fp64 table, round once (the same value as the fp32
                # table's entry): 2 launches
                return lds_map(labels, inner, self._table(labels.device, cdt)).to(self.dtype)
            return lds_map(labels, inner, self._table(labels.device))
        # CPU + dirfast._C: one fused pass (label -> bin -> table[bin]), see Bins._ids. Otherwise bin
        # ids, then index_select: int32 ids for float labels (half the bytes of int64: a fresh 8 MB
        # tensor per 1M labels costs page faults on CPU); integer labels keep int64 (their ids are
        # computed in int64 anyway)
        out = self.bins._ids(labels, fn=fn, name="labels", validate=validate, backend=backend,
                             index_dtype=torch.int32 if labels.is_floating_point() else torch.int64,
                             table=self._table(labels.device))
        if self.empty_bins == "error" and validation_enabled(validate):
            bad = ~torch.isfinite(out)
            if bool(bad.any()):
                idx = bad.reshape(-1).nonzero()[:5].reshape(-1)
                raise ValueError(
                    f"{fn}: labels fall in bins without (smoothed) training mass, where the weight is 1/0 "
                    f"(empty_bins='error'): values {labels.reshape(-1)[idx].tolist()} at flat indices "
                    f"{idx.tolist()}")
        return out

    def _triton_map_ok(self, labels: torch.Tensor, validate: Optional[bool],
                       backend: Optional[str]) -> bool:
        """The one-launch Triton map applies: CUDA float32/float64 labels, an fp32/fp64 table,
        ``backend`` resolving to the vectorised path (``"auto"``), triton installed, no value checks
        to run (they sync anyway), not under ``torch.compile`` (which traces the PyTorch path)."""
        if labels.device.type != "cuda" or labels.dtype not in (torch.float32, torch.float64):
            return False
        if self.dtype not in (torch.float32, torch.float64) or torch.compiler.is_compiling():
            return False
        if labels.dtype == torch.float32 and not self.bins._f32_ok:
            return False  # Bins raises its own error on the PyTorch path
        if self.empty_bins == "error" or validation_enabled(validate):
            return False
        if resolve_torch_backend(backend, labels.device, op="LDS", has_cpu_kernel=True) != "torch":
            return False
        return triton_available()

    def weights_for(self, labels: torch.Tensor, *, validate: Optional[bool] = None,
                    backend: Optional[str] = None) -> torch.Tensor:
        """Alias of ``self(labels)``."""
        return self.forward(labels, validate=validate, backend=backend)


def lds_weights(train_labels: LabelsLike, bins: Bins, labels: Optional[LabelsLike] = None, *,
                reweight: str = "sqrt_inv", lds: bool = True, kernel: str = "gaussian", ks: int = 5,
                sigma: float = 2.0, clip: Optional[Tuple[float, float]] = (5, 1000),
                variant: str = "default", empty_bins: Optional[str] = None,
                dtype: torch.dtype = torch.float32, validate: Optional[bool] = None,
                backend: Optional[str] = None) -> torch.Tensor:
    """Functional LDS: fit on ``train_labels`` and return the weights of ``labels``.

    Args:
        train_labels: ``[N]`` or ``[N, 1]`` (float or int), N ≥ 1: a tensor, a NumPy array or a
            sequence of numbers (converted once on the CPU, as :meth:`LDS.fit`).
        bins: :class:`dirfast.Bins`.
        labels: ``[B]`` or ``[B, 1]`` labels to weight (a tensor, a NumPy array or a sequence, as
            ``train_labels``); default ``train_labels`` (then the result has mean 1).
        Other arguments as :class:`LDS`. ``backend="reference"`` runs
        :func:`dirfast.reference.lds_weights_ref` (fp64 oracle, then cast to ``dtype``).

    Returns:
        ``labels``' shape, ``dtype``, device (CPU for NumPy/sequence ``labels``).
    """
    train_labels = as_label_tensor("train_labels", train_labels, fn="lds_weights", column=True)
    if labels is not None:
        labels = as_label_tensor("labels", labels, fn="lds_weights", column=True)
    kw = dict(reweight=reweight, lds=lds, kernel=kernel, ks=ks, sigma=sigma, clip=clip, variant=variant,
              empty_bins=empty_bins)
    model = LDS(bins, dtype=dtype, **kw)
    target = train_labels if labels is None else labels
    if backend == "reference":
        model.fit(train_labels)  # checks, same errors as the fast path
        _check_labels("labels", target, fn="lds_weights")
        if validation_enabled(validate):
            bins._validate(*bins._compute_labels(target, "lds_weights", "labels"), "lds_weights", "labels")
        return lds_weights_ref(train_labels, bins, target, dtype=dtype, **kw)
    return model.fit(train_labels)(target, validate=validate, backend=backend)
