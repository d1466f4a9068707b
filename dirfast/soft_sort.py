"""Differentiable soft sort and soft rank (L2; Blondel et al., ICML 2020), torchsort-compatible and
exact in fp32: :func:`soft_sort`, :func:`soft_rank` (and ``dirfast.nn.SoftSort`` / ``SoftRank``).

    >>> dirfast.soft_sort(torch.tensor([[8., 0, 5, 3, 2, 1, 6, 7, 9]]), eps=1.0)
    tensor([[0.5556, 1.5556, 2.5556, 3.5556, 4.5556, 5.5556, 6.5556, 7.5556, 8.5556]])

Semantics, equations and the fp32-stable centred form: :mod:`dirfast.reference.soft_sort`; paths
and backward: :mod:`dirfast.ops.soft_sort`.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor

from ._checks import check_finite_values, check_float, check_tensor, describe, validation_enabled
from .ops.soft_sort import EAGER, resolve_path, soft_rank_op, soft_sort_op
from .reference.soft_sort import MODE_RANK, MODE_SORT, soft_rank_ref, soft_sort_ref

__all__ = ["soft_sort", "soft_rank", "SoftSort", "SoftRank"]

DEFAULT_EPS = 1.0


def _resolve_eps(fn: str, eps, regularization_strength) -> float:
    if eps is None and regularization_strength is None:
        return DEFAULT_EPS
    for name, v in (("eps", eps), ("regularization_strength", regularization_strength)):
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TypeError(f"{fn}: {name} must be a real number, got {type(v).__name__} {v!r}")
        if not math.isfinite(v) or v <= 0:
            raise ValueError(f"{fn}: {name} must be a finite number > 0, got {v!r}")
    if eps is not None and regularization_strength is not None and float(eps) != float(
            regularization_strength):
        raise ValueError(
            f"{fn}: eps={eps!r} and regularization_strength={regularization_strength!r} disagree; "
            "regularization_strength is torchsort's name for eps: pass only one of them")
    return float(eps if eps is not None else regularization_strength)


def _prepare(fn: str, x, dim: int):
    """Checks and the ``[rows, n]`` layout. Returns ``(rows, undo)`` where ``undo`` maps the op's
    ``[rows, n]`` output back to ``x``'s shape."""
    check_tensor("x", x, fn=fn)
    check_float("x", x, fn=fn)
    if x.dim() not in (1, 2):
        raise ValueError(f"{fn}: x must be [n] (one row) or [batch, n] (sorted along dim), got "
                         f"{describe(x)}")
    if x.numel() == 0:
        raise ValueError(f"{fn}: x must not be empty, got {describe(x)}")
    if isinstance(dim, bool) or not isinstance(dim, int) or not -x.dim() <= dim < x.dim():
        raise ValueError(f"{fn}: dim must be an int in [{-x.dim()}, {x.dim() - 1}] for {describe(x)}, "
                         f"got {dim!r}")
    dim = dim % x.dim()
    if x.dim() == 1:
        return x[None, :], lambda y: y[0]
    if dim == 1 and x.shape[1] == 1 and x.shape[0] > 1:
        raise ValueError(
            f"{fn}: x has shape {tuple(x.shape)}: with dim=-1 this sorts {x.shape[0]} rows of length 1, "
            "which returns the input unchanged (torchsort's silent no-op). To sort the column pass "
            "dim=0 (or a 1-D tensor of shape [N]).")
    if dim == 0:
        return x.t(), lambda y: y.t()
    return x, lambda y: y


def _soft(fn: str, mode: int, x, eps, dim, regularization, regularization_strength, backend,
          validate) -> Tensor:
    if regularization != "l2":
        raise ValueError(f"{fn}: regularization must be 'l2' (the only one dirfast implements; "
                         f"torchsort's 'kl' is not supported), got {regularization!r}")
    eps = _resolve_eps(fn, eps, regularization_strength)
    rows, undo = _prepare(fn, x, dim)
    if validation_enabled(validate):
        check_finite_values(fn, x=x)
    path = resolve_path(fn, backend, x.device)
    if path == "reference":
        ref = soft_sort_ref if mode == MODE_SORT else soft_rank_ref
        return undo(ref(rows, eps))
    rows = rows.contiguous()
    if torch.compiler.is_compiling():
        op = soft_sort_op if mode == MODE_SORT else soft_rank_op
        out = op(rows, eps, path)[0]
    else:
        out = EAGER[mode].apply(rows, (eps, path))
    return undo(out)


def soft_sort(x: Tensor, eps: Optional[float] = None, dim: int = -1, regularization: str = "l2",
              regularization_strength: Optional[float] = None, backend: Optional[str] = None,
              validate: Optional[bool] = None) -> Tensor:
    r"""Soft sort (ascending) of ``x`` along ``dim``; returns the soft-sorted values **in sorted
    order**, shape and dtype of ``x`` (torchsort's ``soft_sort``).

    With ``x_i`` the sorted row (0-based ``i``) and the PAV blocks ``B`` (adjacent blocks merge iff
    ``m₂ − m₁ ≥ (|B₁|+|B₂|)/(2·eps)``, ``m`` = block mean): ``ŝ_i = m_B + (i − c_B)/eps``, ``c_B`` the
    block's mean index. Properties: ``Σŝ = Σx`` per row; ``ŝ`` is **exactly the hard sort when every
    gap of the sorted row is < 1/eps**; eps is in the units of ``x`` (``soft_sort(c·x, eps) =
    c·soft_sort(x, c·eps)``): smaller eps → harder. Gradient: ``∂L/∂x_{perm_i} = mean_{j∈B(i)} g_j``.

    Ties: every backend sorts stably (equal values, ``-0.0 == +0.0``, keep their order; NaN last), so
    ``perm`` — and with it the gradient at tied values — is the same on every backend and device.

    Args:
        x: ``[n]`` (one row) or ``[batch, n]``, float16/bfloat16/float32/float64, not empty. A
            ``[N, 1]`` column with the default ``dim`` raises (it would sort N rows of length 1, a
            silent no-op in torchsort): pass ``dim=0``.
        eps: regularisation strength > 0 (default 1.0); ``regularization_strength`` is torchsort's
            name for it (give one, or both equal).
        dim: ``-1``/``1`` (rows, torchsort's layout) or ``0`` (columns).
        regularization: ``"l2"`` only.
        backend: ``None``/``"auto"``/``"cpu"``/``"triton"``/``"cuda"``/``"reference"`` (see
            :mod:`dirfast.ops.soft_sort` for the paths).
        validate: NaN/inf check (host sync), on with ``DIRFAST_VALIDATE=1``.

    Arithmetic: fp32 with fp64 block sums (fp64 for fp64 input); fp16/bf16 are computed in fp32 and
    cast back. Error in fp32 ~1e-5 of the values' scale at any ``n/eps`` (the textbook form used by
    torchsort subtracts two numbers of size ``n/eps``: ~1 year at n = 262,144, eps = 0.01).
    Not autocast-registered: runs in the dtype ``x`` arrives in. ``x`` is never modified.

    Double backward: supported on every backend (``create_graph=True`` computes the VJP with
    differentiable torch ops from the saved permutation and blocks: a graph back to the incoming
    gradient; the second derivative in ``x`` is 0 between kinks, the map being piecewise linear).
    Under ``torch.compile`` torch has no double backward (``backward()`` raises its error;
    ``autograd.grad(..., allow_unused=True)`` may return None): take gradient penalties eagerly.

    NaN/inf with validation off: NaN sorts last and its output is NaN; ``±inf`` opens a gap
    ≥ 1/eps and pools with its neighbours into an infinite block (the row's outputs become ±inf or
    NaN); the gradient stays a block mean of the incoming one.
    """
    return _soft("dirfast.soft_sort", MODE_SORT, x, eps, dim, regularization,
                 regularization_strength, backend, validate)


def soft_rank(x: Tensor, eps: Optional[float] = None, dim: int = -1, regularization: str = "l2",
              regularization_strength: Optional[float] = None, backend: Optional[str] = None,
              validate: Optional[bool] = None) -> Tensor:
    r"""Soft rank (ascending, ranks 1..n) of ``x`` along ``dim``, in ``x``'s original order, shape and
    dtype of ``x`` (torchsort's ``soft_rank``).

    Blocks merge iff ``m₂ − m₁ ≤ eps·(|B₁|+|B₂|)/2``; ``rank[perm_i] = (c_B + 1) + (x_i − m_B)/eps``
    (``perm`` of the stable sort).
    Exactly the hard ranks when every gap of the sorted row is > eps (tied values share their mean
    rank). Gradient: ``∂L/∂x_{perm_i} = (g̃_i − mean_{j∈B(i)} g̃_j)/eps`` with ``g̃_i = g_{perm_i}``.
    Arguments, arithmetic and double backward as :func:`soft_sort`.

    NaN/inf with validation off: a NaN or ``±inf`` element's rank is NaN (it sorts last / first and
    forms its own block); the other elements' ranks stay finite.
    """
    return _soft("dirfast.soft_rank", MODE_RANK, x, eps, dim, regularization,
                 regularization_strength, backend, validate)


class SoftSort(torch.nn.Module):
    """Module form of :func:`soft_sort`: ``SoftSort(eps=1.0, dim=-1, backend=None)(x)`` (double
    backward and NaN/inf as the functional)."""

    def __init__(self, eps: Optional[float] = None, dim: int = -1, *,
                 regularization_strength: Optional[float] = None, backend: Optional[str] = None,
                 validate: Optional[bool] = None):
        super().__init__()
        self.eps = _resolve_eps("dirfast.nn.SoftSort", eps, regularization_strength)
        self.dim, self.backend, self.validate = dim, backend, validate

    def forward(self, x: Tensor) -> Tensor:
        return soft_sort(x, self.eps, self.dim, backend=self.backend, validate=self.validate)

    def extra_repr(self) -> str:
        return f"eps={self.eps}, dim={self.dim}"


class SoftRank(SoftSort):
    """Module form of :func:`soft_rank`: ``SoftRank(eps=1.0, dim=-1, backend=None)(x)``."""

    def __init__(self, eps: Optional[float] = None, dim: int = -1, *,
                 regularization_strength: Optional[float] = None, backend: Optional[str] = None,
                 validate: Optional[bool] = None):
        super().__init__(eps, dim, regularization_strength=regularization_strength, backend=backend,
                         validate=validate)
        self.eps = _resolve_eps("dirfast.nn.SoftRank", eps, regularization_strength)

    def forward(self, x: Tensor) -> Tensor:
        return soft_rank(x, self.eps, self.dim, backend=self.backend, validate=self.validate)
