"""Triton kernel of the weighted regression losses: one pass computes the loss and the input gradient.

Fusion and memory: each program reads ``BLOCK`` elements of ``pred``, ``target`` and (``HAS_WEIGHT``)
``weight`` once and writes the gradient ``dL/dpred`` (unless no input needs it; saved for backward,
which only scales it by ``grad_output``) and either one partial sum (``REDUCE``) or the per-element
loss. Partial sums are reduced by ``torch.sum`` in a fixed order: deterministic, no atomics. Minimum
traffic for forward+backward is reading the three inputs and writing the gradient once (16 B/element
in fp32); this kernel moves 16 B/element (12 without weights) + 4 B per ``BLOCK`` partial, and the
backward scale one more read and write of the gradient (8 B/element).

Arithmetic runs in fp32 (fp64 for fp64 inputs). The scalars ``scale`` (1/N for ``mean``, else 1),
``beta``, ``k`` (focal sigmoid slope: β for ``sigmoid``, 2β for ``tanh`` since ``tanh(βa) =
2·sigmoid(2βa) − 1``; the modulator is evaluated as ``tanh(k·a/2)`` by :func:`tanh_sech2`, which
does not cancel for small ``k·a``),
``gamma`` and ``inv_beta`` (1/β) are passed **by value**: fp32 floats, or for fp64 inputs the int64
IEEE-754 bit patterns of the doubles (``dirfast.kernels._launch.fp64_bits``; Triton's JIT would type a
Python float as fp32), rebuilt exactly in the kernel. No scalar tensor, no host-to-device copy. They are
``do_not_specialize``: a new batch size (new ``1/N``) never compiles a new variant. Offsets are int64.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ._launch import cdiv, device_guard, fp64_bits
from ._device import f64 as _f64
from ._registry import DTYPE_NAME, TRITON_DTYPE, KernelConfig, pick, register

LOSS_MSE, LOSS_L1, LOSS_HUBER = 0, 1, 2
NUM_WARPS = 8
# elements per program: 8 per thread (fp32/fp16/bf16), 4 per thread in fp64 so focal fits in registers
BLOCK = {"float16": 2048, "bfloat16": 2048, "float32": 2048, "float64": 1024}


@triton.jit
def tanh_sech2(x):
    """Device helper: ``(tanh x, sech² x)`` for ``x ≥ 0`` (fp32 or fp64), neither by a cancelling
    subtraction (``2σ(2x) − 1`` loses every digit of ``tanh x`` below the dtype's epsilon).

    ``t = e^{−2x}``, ``r = 1/(1 + t)``; ``sech² x = 4t·r²`` (no subtraction); ``tanh x = (1 − t)·r`` for
    ``x ≥ 1/4`` (``1 − t ≥ 0.39``) and the Taylor series ``x + x³·P(x²)`` below (terms to ``x¹⁹`` in
    fp64, ``x⁹`` in fp32; truncation < 0.61 ulp on ``[0, 1/4]``), full relative precision down to the
    subnormals. The same formula as ``tanh_sech2`` in csrc/weighted_loss.h; only ``tl.exp``
    (``tl.math`` has no ``tanh``; libdevice's would be CUDA-only and not in the interpreter's
    numpy). ``x = +inf`` gives ``(1, 0)``, NaN gives NaN."""
    t = tl.exp(-2.0 * x)
    r = 1.0 / (1.0 + t)  # one division (an IEEE division's slow path costs registers)
    sech2 = (4.0 * t) * r * r
    big = (1.0 - t) * r
    z = x * x
    if x.dtype == tl.float64:
        p = -2.3912911424355248e-04 * z + 5.90027440945586e-04
        p = p * z - 1.4558343870513183e-03
        p = p * z + 3.592128036572481e-03
        p = p * z - 8.863235529902197e-03
        p = p * z + 2.1869488536155203e-02
        p = p * z - 5.396825396825397e-02
        p = p * z + 1.3333333333333333e-01
        p = p * z - 3.333333333333333e-01
    else:
        p = 2.1869488536155203e-02 * z - 5.396825396825397e-02
        p = p * z + 1.3333333333333333e-01
        p = p * z - 3.333333333333333e-01
    small = x + x * (z * p)
    return tl.where(x < 0.25, small, big), sech2


#: the scalars passed by value (fp32, or fp64 bit patterns): never specialised on their values
_SCALARS = ["scale", "beta", "k", "gamma", "inv_beta"]


@triton.jit(do_not_specialize=_SCALARS)
def _weighted_loss_fwd_kernel(
    pred_ptr,
    target_ptr,
    weight_ptr,
    out_ptr,
    grad_ptr,
    n,
    scale,
    beta,
    k,
    gamma,
    inv_beta,
    LOSS: tl.constexpr,
    FOCAL: tl.constexpr,
    REDUCE: tl.constexpr,
    HAS_GRAD: tl.constexpr,
    HAS_WEIGHT: tl.constexpr,
    BLOCK: tl.constexpr,
):
    pid = tl.program_id(0).to(tl.int64)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    if pred_ptr.dtype.element_ty == tl.float64:  # fp64: the scalars arrive as bit patterns
        acc_t = tl.float64
        scale = _f64(scale)
        beta = _f64(beta)
        k = _f64(k)
        gamma = _f64(gamma)
        inv_beta = _f64(inv_beta)
    else:
        acc_t = tl.float32

    x = tl.load(pred_ptr + offs, mask=mask, other=0).to(acc_t)
    y = tl.load(target_ptr + offs, mask=mask, other=0).to(acc_t)
    e = x - y
    a = tl.abs(e)
    sg = tl.where(e > 0, 1.0, tl.where(e < 0, -1.0, 0.0)).to(acc_t)
    if LOSS == 0:  # mse
        l = e * e
        dl = 2.0 * e
    elif LOSS == 1:  # l1
        l = a
        dl = sg
    else:  # huber (smooth-L1 form)
        small = a < beta
        # multiply by 1/β: a true division's slow path costs stack on sm_80 for fp16/bf16
        l = tl.where(small, 0.5 * e * e * inv_beta, a - 0.5 * beta)
        dl = tl.where(small, e * inv_beta, sg)
    if FOCAL:
        # m = 2σ(k·a) − 1 = tanh(c·a), c = k/2, without the cancellation; dm/da = c·sech²(c·a)
        c = 0.5 * k
        m, s2 = tanh_sech2(c * a)
        dm = c * s2
        pos = m > 0
        m_safe = tl.where(pos, m, 1.0)
        # m^γ = 2^(γ·log2 m) is off by ~|γ·log2 m| ulp (1e-14 at m = 1e-27): γ = 1 (the default)
        # and γ = 2 are exact selects
        pw = tl.exp2(gamma * tl.log2(m_safe))
        pw = tl.where(gamma == 1.0, m_safe, tl.where(gamma == 2.0, m_safe * m_safe, pw))
        mg = tl.where(pos, pw, tl.where(gamma == 0, 1.0, 0.0))
        dmg = tl.where(pos, gamma * (mg / m_safe) * dm * sg, 0.0)
        dl = dl * mg + l * dmg
        l = l * mg
    if HAS_WEIGHT:
        ws = tl.load(weight_ptr + offs, mask=mask, other=0).to(acc_t) * scale
    else:
        ws = scale
    if HAS_GRAD:
        tl.store(grad_ptr + offs, (ws * dl).to(grad_ptr.dtype.element_ty), mask=mask)
    if REDUCE:
        tl.store(out_ptr + pid, tl.sum(tl.where(mask, ws * l, 0.0), axis=0))
    else:
        tl.store(out_ptr + offs, (ws * l).to(out_ptr.dtype.element_ty), mask=mask)


def scalar_type(dtype: str) -> str:
    """Triton type of the by-value scalars for inputs of ``dtype``: fp32, or i64 bit patterns (fp64)."""
    return "i64" if dtype == "float64" else "fp32"


def _config(dtype: str, loss: int, focal: bool, reduce: bool, has_grad: bool,
            has_weight: bool) -> KernelConfig:
    t = TRITON_DTYPE[dtype]
    acc = "fp64" if dtype == "float64" else "fp32"
    sig = {
        "pred_ptr": f"*{t}",
        "target_ptr": f"*{t}",
        "weight_ptr": f"*{t}",
        "out_ptr": f"*{acc}" if reduce else f"*{t}",
        "grad_ptr": f"*{t}",
        "n": "i64",
    }
    sig.update({name: scalar_type(dtype) for name in _SCALARS})
    sig.update(LOSS="constexpr", FOCAL="constexpr", REDUCE="constexpr", HAS_GRAD="constexpr",
               HAS_WEIGHT="constexpr", BLOCK="constexpr")
    return KernelConfig(
        key=(dtype, loss, focal, reduce, has_grad, has_weight),
        signature=sig,
        constexprs={"LOSS": loss, "FOCAL": focal, "REDUCE": reduce, "HAS_GRAD": has_grad,
                    "HAS_WEIGHT": has_weight, "BLOCK": BLOCK[dtype]},
        num_warps=NUM_WARPS,
    )


register(
    _weighted_loss_fwd_kernel,
    [
        _config(dtype, loss, focal, reduce, has_grad, has_weight)
        for dtype in TRITON_DTYPE
        for loss, focal in ((LOSS_MSE, False), (LOSS_L1, False), (LOSS_HUBER, False),
                            (LOSS_MSE, True), (LOSS_L1, True))
        for reduce in (False, True)
        for has_grad in (False, True)
        for has_weight in (False, True)
    ],
)


def weighted_loss_fwd(pred, target, weight, *, scale: float, beta: float, k: float, gamma: float,
                      loss: int, focal: bool, reduce: bool, need_grad: bool = True):
    """Launch the fused loss+gradient kernel on ``pred``'s device.

    Args:
        pred, target: ``[N]`` contiguous, one floating dtype.
        weight: ``[N]`` contiguous in that dtype, or ``None`` (all 1: the kernel reads no weights).
        scale: ``1/N`` (``mean``) or 1; beta: Huber/focal β > 0; k: focal slope; gamma: focal γ.
            Passed by value (fp32, or fp64 bit patterns for fp64 inputs; ``1/β`` is formed here).
    Returns:
        ``(out, grad)``: ``out`` is ``[cdiv(N, BLOCK)]`` partial sums (``[1]`` for N = 0) in the compute
        dtype (fp32; fp64 for fp64) when ``reduce`` else ``[N]`` per-element losses in the input
        dtype; ``grad`` is ``[N]``, input dtype (``[0]`` and never written when ``need_grad`` is
        False).
    """
    n = pred.numel()
    dtype = DTYPE_NAME[pred.dtype]
    has_weight = weight is not None
    cfg = pick(_weighted_loss_fwd_kernel, (dtype, loss, focal, reduce, need_grad, has_weight))
    grid = (max(cdiv(n, cfg.constexprs["BLOCK"]), 1),)
    grad = torch.empty_like(pred) if need_grad else pred.new_empty(0)
    acc = torch.float64 if pred.dtype == torch.float64 else torch.float32
    out = torch.empty(grid[0], dtype=acc, device=pred.device) if reduce else torch.empty_like(pred)
    values = (scale, beta, k, gamma, 1.0 / beta)
    scalars = [fp64_bits(v) for v in values] if acc == torch.float64 else [float(v) for v in values]
    with device_guard(pred):
        _weighted_loss_fwd_kernel[grid](
            pred, target, weight if has_weight else pred, out, grad if need_grad else pred, n,
            *scalars, num_warps=cfg.num_warps, **cfg.constexprs,
        )
    return out, grad
