"""Tolerance helpers implementing docs/conventions.md ("Tolerances"), shared by tests and benchmarks.

* fp64: rtol 1e-10; fp32: rtol 1e-5 on values and on gradients scaled by the largest gradient;
* fp16/bf16: the fast path's error against an fp64 oracle must be ≤ 2× the error of the reference run
  in the same low precision, plus a small atol (:func:`assert_low_precision_close`).

On failure the message starts with a tag and lists the first mismatching indices with both values.
"""

from __future__ import annotations

from typing import Optional

import torch

RTOL = {torch.float64: 1e-10, torch.float32: 1e-5, torch.float16: 1e-2, torch.bfloat16: 2e-2}


def _report(tag: str, actual: torch.Tensor, expected: torch.Tensor, bad: torch.Tensor, limit: str,
            max_show: int = 8) -> str:
    idx = bad.reshape(-1).nonzero().reshape(-1)[:max_show]
    a, e = actual.reshape(-1), expected.reshape(-1)
    rows = [f"  [{i}] actual={a[i].item()!r} expected={e[i].item()!r}" for i in idx.tolist()]
    unravel = [tuple(int(v) for v in torch.unravel_index(i, actual.shape)) if actual.dim() else ()
               for i in idx]
    return (f"[{tag}] {int(bad.sum())}/{bad.numel()} elements outside {limit}; first at "
            f"{unravel}:\n" + "\n".join(rows))


def assert_close_verbose(actual: torch.Tensor, expected: torch.Tensor, *, tag: str,
                         rtol: Optional[float] = None, atol: float = 0.0, scale: Optional[str] = None):
    """``|actual − expected| ≤ atol + rtol·ref`` elementwise, compared in fp64.

    ``ref`` is ``|expected|`` (``scale=None``) or ``max|expected|`` (``scale="max"``: relative to the
    largest value, the convention for gradients). ``rtol`` defaults to the table for ``actual``'s dtype.
    Shapes must match exactly. NaNs must sit at the same places.
    """
    if actual.shape != expected.shape:
        raise AssertionError(f"[{tag}] shape {tuple(actual.shape)} != expected {tuple(expected.shape)}")
    if rtol is None:
        rtol = RTOL[actual.dtype]
    a = actual.detach().to(torch.float64).cpu()
    e = expected.detach().to(torch.float64).cpu()
    nan_a, nan_e = torch.isnan(a), torch.isnan(e)
    if not torch.equal(nan_a, nan_e):
        raise AssertionError(_report(tag, a, e, nan_a != nan_e, "NaN pattern"))
    ref = e.abs()
    if scale == "max":
        ref = torch.full_like(e, ref[~nan_e].max().item() if (~nan_e).any() else 0.0)
    same_inf = torch.isinf(e) & (a == e)
    bad = ~((a - e).abs() <= atol + rtol * ref) & ~nan_e & ~same_inf
    if bad.any():
        raise AssertionError(_report(tag, a, e, bad, f"atol={atol:g} + rtol={rtol:g}·{scale or '|ref|'}"))


def max_error(actual: torch.Tensor, oracle: torch.Tensor) -> float:
    return (actual.detach().double().cpu() - oracle.detach().double().cpu()).abs().max().item() \
        if actual.numel() else 0.0


def assert_low_precision_close(actual: torch.Tensor, baseline: torch.Tensor, oracle: torch.Tensor, *,
                               tag: str, atol: Optional[float] = None, factor: float = 2.0):
    """flash-attn's rule: ``max|actual − oracle| ≤ factor·max|baseline − oracle| + atol``.

    ``atol`` defaults to one unit of ``actual``'s dtype at the largest oracle value
    (``finfo.eps · max|oracle|``): with few elements the baseline can be lucky and exact, while a
    fast path that rounds once more (e.g. a saved gradient scaled by ``grad_output``) is 1 ulp off.

    ``baseline`` is the reference computed in the same low precision as ``actual``; ``oracle`` the
    fp64 reference. Where the baseline itself is non-finite or off by more than 1e-2 relative, fall back
    to fixed tolerances against the oracle (rtol 1e-2, scaled by the largest value).
    """
    err = max_error(actual, oracle)
    base_err = max_error(baseline, oracle)
    top = oracle.detach().double().abs().max().item() if oracle.numel() else 0.0
    if atol is None:
        atol = torch.finfo(actual.dtype).eps * top
    if not torch.isfinite(baseline).all() or base_err > 1e-2 * max(top, 1e-30):
        assert_close_verbose(actual.to(torch.float64), oracle.to(torch.float64), tag=tag, rtol=1e-2,
                             atol=atol, scale="max")
        return
    if not err <= factor * base_err + atol:
        bad = (actual.double() - oracle.double()).abs() > factor * base_err + atol
        raise AssertionError(
            _report(tag, actual.double(), oracle.double(), bad,
                    f"{factor}×(baseline error {base_err:.3g}) + atol {atol:g}")
            + f"\n  kernel max error {err:.3g}"
        )
