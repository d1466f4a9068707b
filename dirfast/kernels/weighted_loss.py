"""Triton kernel of the weighted regression losses: one pass computes the loss and the input gradient.

Fusion and memory: each program reads ``BLOCK`` elements of ``pred``, ``target`` and ``weight`` once
and writes the gradient ``dL/dpred`` (unless no input needs it; saved for backward, which only scales it by ``grad_output``) and
either one partial sum (``REDUCE``) or the per-element loss. Partial sums are reduced by ``torch.sum``
in a fixed order: deterministic, no atomics. Minimum traffic for forward+backward is reading the three
inputs and writing the gradient once (16 B/element in fp32); this kernel moves 16 B/element + 4 B per
``BLOCK`` partial, and the backward scale one more read and write of the gradient (8 B/element).

Arithmetic runs in fp32 (fp64 for fp64 inputs): the compute dtype is the dtype of ``params``, a small
tensor ``[scale, beta, k, gamma, 1/beta]`` (``scale`` = 1/N for ``mean``, else 1; ``k`` = focal slope, β for
``sigmoid`` and 2β for ``tanh`` since ``tanh(βa) = 2·sigmoid(2βa) − 1``). Offsets are int64.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ._registry import TRITON_DTYPE, KernelConfig, pick, register

LOSS_MSE, LOSS_L1, LOSS_HUBER = 0, 1, 2
NUM_WARPS = 8
# elements per program: 8 per thread (fp32/fp16/bf16), 4 per thread in fp64 so focal fits in registers
BLOCK = {"float16": 2048, "bfloat16": 2048, "float32": 2048, "float64": 1024}


@triton.jit
def _weighted_loss_fwd_kernel(
    pred_ptr,
    target_ptr,
    weight_ptr,
    params_ptr,
    out_ptr,
    grad_ptr,
    n,
    w_stride,
    LOSS: tl.constexpr,
    FOCAL: tl.constexpr,
    REDUCE: tl.constexpr,
    HAS_GRAD: tl.constexpr,
    BLOCK: tl.constexpr,
):
    pid = tl.program_id(0).to(tl.int64)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    acc_t = params_ptr.dtype.element_ty
    scale = tl.load(params_ptr)
    beta = tl.load(params_ptr + 1)
    k = tl.load(params_ptr + 2)
    gamma = tl.load(params_ptr + 3)
    inv_beta = tl.load(params_ptr + 4)

    x = tl.load(pred_ptr + offs, mask=mask, other=0).to(acc_t)
    y = tl.load(target_ptr + offs, mask=mask, other=0).to(acc_t)
    w = tl.load(weight_ptr + offs * w_stride, mask=mask, other=0).to(acc_t)
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
        s = 1.0 / (1.0 + tl.exp(-k * a))
        m = 2.0 * s - 1.0
        dm = 2.0 * k * s * (1.0 - s)
        pos = m > 0
        m_safe = tl.where(pos, m, 1.0)
        mg = tl.where(pos, tl.exp2(gamma * tl.log2(m_safe)), tl.where(gamma == 0, 1.0, 0.0))
        dmg = tl.where(pos, gamma * (mg / m_safe) * dm * sg, 0.0)
        dl = dl * mg + l * dmg
        l = l * mg
    ws = w * scale
    if HAS_GRAD:
        tl.store(grad_ptr + offs, (ws * dl).to(grad_ptr.dtype.element_ty), mask=mask)
    if REDUCE:
        tl.store(out_ptr + pid, tl.sum(tl.where(mask, ws * l, 0.0), axis=0))
    else:
        tl.store(out_ptr + offs, (ws * l).to(out_ptr.dtype.element_ty), mask=mask)


def _config(dtype: str, loss: int, focal: bool, reduce: bool, has_grad: bool) -> KernelConfig:
    t = TRITON_DTYPE[dtype]
    acc = "fp64" if dtype == "float64" else "fp32"
    return KernelConfig(
        key=(dtype, loss, focal, reduce, has_grad),
        signature={
            "pred_ptr": f"*{t}",
            "target_ptr": f"*{t}",
            "weight_ptr": f"*{t}",
            "params_ptr": f"*{acc}",
            "out_ptr": f"*{acc}" if reduce else f"*{t}",
            "grad_ptr": f"*{t}",
            "n": "i64",
            "w_stride": "i64",
            "LOSS": "constexpr",
            "FOCAL": "constexpr",
            "REDUCE": "constexpr",
            "HAS_GRAD": "constexpr",
            "BLOCK": "constexpr",
        },
        constexprs={"LOSS": loss, "FOCAL": focal, "REDUCE": reduce, "HAS_GRAD": has_grad,
                    "BLOCK": BLOCK[dtype]},
        num_warps=NUM_WARPS,
    )


register(
    _weighted_loss_fwd_kernel,
    [
        _config(dtype, loss, focal, reduce, has_grad)
        for dtype in TRITON_DTYPE
        for loss, focal in ((LOSS_MSE, False), (LOSS_L1, False), (LOSS_HUBER, False),
                            (LOSS_MSE, True), (LOSS_L1, True))
        for reduce in (False, True)
        for has_grad in (False, True)
    ],
)


def weighted_loss_fwd(pred, target, weight, params, *, loss: int, focal: bool, reduce: bool,
                      need_grad: bool = True):
    """Launch the fused loss+gradient kernel.

    Args:
        pred, target: ``[N]`` contiguous, one floating dtype.
        weight: ``[N]`` contiguous in that dtype, or a one-element tensor read with stride 0.
        params: ``[5]`` fp32 (fp64 for fp64 inputs) ``[scale, beta, k, gamma, 1/beta]`` on the same device.
    Returns:
        ``(out, grad)``: ``out`` is ``[cdiv(N, BLOCK)]`` partial sums in the compute dtype when
        ``reduce`` else ``[N]`` per-element losses in the input dtype; ``grad`` is ``[N]``, input dtype
        (``[0]`` and never written when ``need_grad`` is False).
    """
    n = pred.numel()
    cfg = pick(_weighted_loss_fwd_kernel,
               (str(pred.dtype).split(".")[-1], loss, focal, reduce, need_grad))
    grid = (max(triton.cdiv(n, cfg.constexprs["BLOCK"]), 1),)
    grad = torch.empty_like(pred) if need_grad else pred.new_empty(0)
    out = torch.empty(grid[0], dtype=params.dtype, device=pred.device) if reduce else torch.empty_like(pred)
    w_stride = 1 if weight.numel() == n and n > 1 else 0
    _weighted_loss_fwd_kernel[grid](
        pred, target, weight, params, out, grad if need_grad else pred, n, w_stride,
        num_warps=cfg.num_warps, **cfg.constexprs,
    )
    return out, grad
