"""Static launch configs of the ConR kernels per architecture family, dtype, precision, role and size
(no ``@triton.jit`` here; importing this module imports neither triton nor CUDA).

``CONFIGS[(family, dtype, precision, role, m_bucket, d_bucket)] -> ConrTiles``:

* ``family``: ``"sm80"`` (sm_80, and sm_86/sm_89/consumer parts: every entry fits their 99 KB of
  shared memory per block, and the ``mma.sync`` tiles run on any later part) or ``"sm90"``
  (Hopper: ``wgmma`` tiles, up to 227 KB); :func:`arch_family`.
* ``dtype``: ``"float16" | "bfloat16" | "float32" | "float64"``; ``precision``: the fp32
  ``input_precision`` (``"ieee" | "tf32" | "tf32x3"``), ``"ieee"`` for every other dtype.
* ``role``: ``"fwd"`` (the forward's main pass, ``_conr_fwd_kernel`` ``STAGE = 1``) or ``"bwd"``
  (``_conr_bwd_kernel``); the entry's ``one_chunk`` / ``one_out`` say which variant the tiles are
  for (held anchor tile, ``dU`` held in registers), and hold only where the bucket's ``D`` fits.
* ``m_bucket``, ``d_bucket``: the least bound of ``M_BUCKETS`` / ``D_BUCKETS`` ≥ ``M`` / ``D``
  (``None``: unbounded).

The values come from the offline sweep (``python -m dirfast.kernels._sweep conr``, see that module:
ahead-of-time compiles of candidate tiles, spill-free ones ranked by a roofline estimate); no
run-time autotuning (it synchronises and would make the results depend on the run's timings). Each
entry is registered with the kernels through :func:`table_configs` and compiled by the AOT tier for
its family's architectures (``tests/aot/test_aot_tensor_cores.py``): no spills, shared memory within
the limit, ``mma``/``wgmma`` in the PTX of fp16/bf16/TF32 entries.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable, Dict, Iterator, List, NamedTuple, Optional, Tuple

from ._registry import KernelConfig


class ConrTiles(NamedTuple):
    """One launch config: tile sizes, warps, stages and the kernel variant they are for.

    ``block_do`` is the backward's output chunk (0 for the forward); ``one_chunk``: the anchor tile
    is held across column tiles (needs ``D ≤ block_d``); ``one_out``: the backward's ``dU`` rows are
    held in registers (needs ``D ≤ block_do``). ``blocks_per_sm``: the resident blocks per SM the AOT
    compile's occupancy estimate gives (registers, shared memory), for sizing a column split; not
    part of the registry key.
    """

    block_m: int
    block_n: int
    block_d: int
    block_do: int
    num_warps: int
    num_stages: int
    one_chunk: bool
    one_out: bool
    blocks_per_sm: int = 1


FAMILIES = ("sm80", "sm90")
#: the architectures each family's entries are meant for (and compiled / checked for)
FAMILY_ARCHS = {"sm80": (80, 86, 89), "sm90": (90,)}
#: shared bytes per block the family's entries may use (sm_86/sm_89 bound the sm80 family)
SHARED_LIMIT = {"sm80": 99 * 1024, "sm90": 227 * 1024}
DTYPES = ("float16", "bfloat16", "float32", "float64")
PRECISIONS = {"float16": ("ieee",), "bfloat16": ("ieee",), "float32": ("ieee", "tf32", "tf32x3"),
              "float64": ("ieee",)}
ROLES = ("fwd", "bwd", "fwd_ml", "bwd_ml")
M_BUCKETS = (1024, None)
D_BUCKETS = (64, 128, 256, 512, None)
#: the roles: the forward's main pass and the backward, for 1-D labels and for ``[M, dl]`` labels
#: (``_ml``: the kernels' ``MULTI`` variant, per-tile label distances, more registers); with the
#: keyword arguments of the kernel module's config builders that select each
ROLE_EXTRAS: Dict[str, Dict[str, object]] = {"fwd": {}, "bwd": {}, "fwd_ml": {"multi": True},
                                             "bwd_ml": {"multi": True}}
#: (dtype, precision) whose entries must have tensor-core instructions in their PTX
TENSOR_CORE = {("float16", "ieee"), ("bfloat16", "ieee"), ("float32", "tf32"), ("float32", "tf32x3")}

_C = ConrTiles
# BEGIN GENERATED TABLE
# Generated on 2026-12-05 on a CPU machine (Triton 3.6.0 AOT compiles for sm_80 / sm_90; no GPU
# timing: spill-free tiles ranked by the sweep's roofline estimate; benchmarks/results/conr_sweep/):
# roles fwd/bwd by `python -m dirfast.kernels._sweep conr --rev 06aaa67` (the column-split kernels;
# 701 compiles, 336 spill-free), roles fwd_ml/bwd_ml by `... conr --ml --rev HEAD` (conr.py of
# 113ba65, [M, dl] labels; 654 compiles, 319 spill-free), then `... conr --from-csv`. Every entry
# compiles without spills with the kernels of 113ba65 (`... conr --check-table`, table_check.csv).
# Per entry: the compile's registers, shared bytes, tensor-core instructions, resident warps per
# SM, and the estimate's bound and ratio to the GEMM floor at the bucket's representative size.
# key: (family, dtype, precision, role, m_bucket, d_bucket) -> _C(block_m, block_n, block_d,
# block_do, num_warps, num_stages, one_chunk, one_out, blocks_per_sm)
CONFIGS: Dict[Tuple[str, str, str, str, Optional[int], Optional[int]], ConrTiles] = {
    ('sm80', 'bfloat16', 'ieee', 'bwd', 1024, 128): _C(16, 16, 128, 128, 8, 1, True, True, 1),
    # bwd_held: 219 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=128: alu-bound, 5.7x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'bwd', 1024, 256): _C(32, 32, 16, 256, 8, 1, False, True, 1),
    # bwd_out: 249 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=256: mem-bound, 3.2x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'bwd', 1024, 512): _C(32, 16, 16, 512, 8, 1, False, True, 1),
    # bwd_out: 253 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=512: mem-bound, 3.6x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'bwd', 1024, 64): _C(16, 16, 64, 64, 8, 1, True, True, 1),
    # bwd_held: 178 regs, 4096 B shared, mma, 8 warps/SM; M=512 D=64: alu-bound, 11.4x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'bwd', 1024, None): _C(32, 64, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed: 230 regs, 4096 B shared, mma, 8 warps/SM; M=512 D=2048: mem-bound, 10.1x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'bwd', None, 128): _C(16, 16, 128, 128, 8, 1, True, True, 1),
    # bwd_held: 219 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=128: alu-bound, 5.6x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'bwd', None, 256): _C(32, 32, 16, 256, 8, 1, False, True, 1),
    # bwd_out: 249 regs, 32768 B shared, mma, 8 warps/SM; M=8192 D=256: mem-bound, 3.3x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'bwd', None, 512): _C(32, 16, 16, 512, 8, 1, False, True, 1),
    # bwd_out: 253 regs, 32768 B shared, mma, 8 warps/SM; M=8192 D=512: mem-bound, 3.7x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'bwd', None, 64): _C(16, 16, 64, 64, 8, 1, True, True, 1),
    # bwd_held: 178 regs, 4096 B shared, mma, 8 warps/SM; M=8192 D=64: alu-bound, 11.3x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'bwd', None, None): _C(32, 64, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed: 230 regs, 4096 B shared, mma, 8 warps/SM; M=8192 D=2048: mem-bound, 9.5x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'bwd_ml', 1024, 128): _C(16, 16, 128, 128, 8, 1, True, True, 1),
    # bwd_held+ml: 197 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=128: alu-bound, 5.7x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'bwd_ml', 1024, 256): _C(32, 32, 16, 256, 8, 1, False, True, 1),
    # bwd_out+ml: 255 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=256: mem-bound, 3.2x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'bwd_ml', 1024, 512): _C(32, 16, 16, 512, 8, 1, False, True, 1),
    # bwd_out+ml: 255 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=512: mem-bound, 3.6x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'bwd_ml', 1024, 64): _C(16, 16, 64, 64, 8, 1, True, True, 2),
    # bwd_held+ml: 128 regs, 4096 B shared, mma, 16 warps/SM; M=512 D=64: alu-bound, 5.6x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'bwd_ml', 1024, None): _C(32, 64, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed+ml: 255 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=2048: mem-bound, 10.1x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'bwd_ml', None, 128): _C(16, 16, 128, 128, 8, 1, True, True, 1),
    # bwd_held+ml: 197 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=128: alu-bound, 5.6x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'bwd_ml', None, 256): _C(32, 32, 16, 256, 8, 1, False, True, 1),
    # bwd_out+ml: 255 regs, 32768 B shared, mma, 8 warps/SM; M=8192 D=256: mem-bound, 3.3x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'bwd_ml', None, 512): _C(32, 16, 16, 512, 8, 1, False, True, 1),
    # bwd_out+ml: 255 regs, 32768 B shared, mma, 8 warps/SM; M=8192 D=512: mem-bound, 3.7x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'bwd_ml', None, 64): _C(16, 16, 64, 64, 8, 1, True, True, 2),
    # bwd_held+ml: 128 regs, 4096 B shared, mma, 16 warps/SM; M=8192 D=64: alu-bound, 5.9x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'bwd_ml', None, None): _C(32, 64, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed+ml: 255 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=2048: mem-bound, 9.5x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'fwd', 1024, 128): _C(128, 16, 128, 0, 8, 1, True, False, 1),
    # fwd_held: 196 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=128: alu-bound, 7.5x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'fwd', 1024, 256): _C(64, 16, 256, 0, 8, 1, True, False, 1),
    # fwd_held: 233 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=256: alu-bound, 3.8x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'fwd', 1024, 512): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 255 regs, 4096 B shared, mma, 8 warps/SM; M=512 D=512: mem-bound, 4.3x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'fwd', 1024, 64): _C(128, 16, 128, 0, 8, 1, True, False, 1),
    # fwd_held: 196 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=64: alu-bound, 15.0x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'fwd', 1024, None): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 255 regs, 4096 B shared, mma, 8 warps/SM; M=512 D=2048: mem-bound, 6.8x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'fwd', None, 128): _C(128, 16, 128, 0, 8, 1, True, False, 1),
    # fwd_held: 196 regs, 32768 B shared, mma, 8 warps/SM; M=8192 D=128: alu-bound, 7.6x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'fwd', None, 256): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 255 regs, 4096 B shared, mma, 8 warps/SM; M=8192 D=256: alu-bound, 4.0x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'fwd', None, 512): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 255 regs, 4096 B shared, mma, 8 warps/SM; M=8192 D=512: mem-bound, 2.7x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'fwd', None, 64): _C(256, 16, 64, 0, 8, 1, True, False, 1),
    # fwd_held: 255 regs, 32768 B shared, mma, 8 warps/SM; M=8192 D=64: alu-bound, 15.2x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'fwd', None, None): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 255 regs, 4096 B shared, mma, 8 warps/SM; M=8192 D=2048: mem-bound, 4.2x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'fwd_ml', 1024, 128): _C(128, 16, 128, 0, 8, 1, True, False, 1),
    # fwd_held+ml: 227 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=128: alu-bound, 7.5x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'fwd_ml', 1024, 256): _C(128, 16, 256, 0, 8, 1, True, False, 1),
    # fwd_held+ml: 252 regs, 65536 B shared, mma, 8 warps/SM; M=512 D=256: alu-bound, 3.8x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'fwd_ml', 1024, 512): _C(32, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 230 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=512: mem-bound, 5.1x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'fwd_ml', 1024, 64): _C(128, 16, 64, 0, 8, 1, True, False, 1),
    # fwd_held+ml: 216 regs, 16384 B shared, mma, 8 warps/SM; M=512 D=64: alu-bound, 15.0x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'fwd_ml', 1024, None): _C(32, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 230 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=2048: mem-bound, 6.8x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'fwd_ml', None, 128): _C(128, 16, 128, 0, 8, 1, True, False, 1),
    # fwd_held+ml: 227 regs, 32768 B shared, mma, 8 warps/SM; M=8192 D=128: alu-bound, 7.6x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'fwd_ml', None, 256): _C(128, 16, 256, 0, 8, 1, True, False, 1),
    # fwd_held+ml: 252 regs, 65536 B shared, mma, 8 warps/SM; M=8192 D=256: alu-bound, 3.8x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'fwd_ml', None, 512): _C(32, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 230 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=512: mem-bound, 4.8x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'fwd_ml', None, 64): _C(128, 16, 64, 0, 8, 1, True, False, 1),
    # fwd_held+ml: 216 regs, 16384 B shared, mma, 8 warps/SM; M=8192 D=64: alu-bound, 15.2x GEMM floor
    ('sm80', 'bfloat16', 'ieee', 'fwd_ml', None, None): _C(32, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 230 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=2048: mem-bound, 6.3x GEMM floor
    ('sm80', 'float16', 'ieee', 'bwd', 1024, 128): _C(16, 16, 128, 128, 8, 1, True, True, 1),
    # bwd_held: 227 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=128: alu-bound, 6.1x GEMM floor
    ('sm80', 'float16', 'ieee', 'bwd', 1024, 256): _C(32, 16, 16, 512, 8, 1, False, True, 1),
    # bwd_out: 255 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=256: mem-bound, 3.6x GEMM floor
    ('sm80', 'float16', 'ieee', 'bwd', 1024, 512): _C(32, 16, 16, 512, 8, 1, False, True, 1),
    # bwd_out: 255 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=512: mem-bound, 3.6x GEMM floor
    ('sm80', 'float16', 'ieee', 'bwd', 1024, 64): _C(16, 16, 64, 64, 8, 1, True, True, 1),
    # bwd_held: 176 regs, 4096 B shared, mma, 8 warps/SM; M=512 D=64: alu-bound, 12.2x GEMM floor
    ('sm80', 'float16', 'ieee', 'bwd', 1024, None): _C(32, 64, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed: 217 regs, 4096 B shared, mma, 8 warps/SM; M=512 D=2048: mem-bound, 10.1x GEMM floor
    ('sm80', 'float16', 'ieee', 'bwd', None, 128): _C(16, 16, 128, 128, 8, 1, True, True, 1),
    # bwd_held: 227 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=128: alu-bound, 6.0x GEMM floor
    ('sm80', 'float16', 'ieee', 'bwd', None, 256): _C(32, 16, 16, 512, 8, 1, False, True, 1),
    # bwd_out: 255 regs, 32768 B shared, mma, 8 warps/SM; M=8192 D=256: mem-bound, 3.8x GEMM floor
    ('sm80', 'float16', 'ieee', 'bwd', None, 512): _C(32, 16, 16, 512, 8, 1, False, True, 1),
    # bwd_out: 255 regs, 32768 B shared, mma, 8 warps/SM; M=8192 D=512: mem-bound, 3.7x GEMM floor
    ('sm80', 'float16', 'ieee', 'bwd', None, 64): _C(16, 16, 64, 64, 8, 1, True, True, 1),
    # bwd_held: 176 regs, 4096 B shared, mma, 8 warps/SM; M=8192 D=64: alu-bound, 12.0x GEMM floor
    ('sm80', 'float16', 'ieee', 'bwd', None, None): _C(32, 64, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed: 217 regs, 4096 B shared, mma, 8 warps/SM; M=8192 D=2048: mem-bound, 9.5x GEMM floor
    ('sm80', 'float16', 'ieee', 'bwd_ml', 1024, 128): _C(16, 16, 128, 128, 8, 1, True, True, 1),
    # bwd_held+ml: 217 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=128: alu-bound, 6.1x GEMM floor
    ('sm80', 'float16', 'ieee', 'bwd_ml', 1024, 256): _C(32, 16, 16, 512, 8, 1, False, True, 1),
    # bwd_out+ml: 255 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=256: mem-bound, 3.6x GEMM floor
    ('sm80', 'float16', 'ieee', 'bwd_ml', 1024, 512): _C(32, 16, 16, 512, 8, 1, False, True, 1),
    # bwd_out+ml: 255 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=512: mem-bound, 3.6x GEMM floor
    ('sm80', 'float16', 'ieee', 'bwd_ml', 1024, 64): _C(16, 16, 64, 64, 8, 1, True, True, 1),
    # bwd_held+ml: 180 regs, 4096 B shared, mma, 8 warps/SM; M=512 D=64: alu-bound, 12.2x GEMM floor
    ('sm80', 'float16', 'ieee', 'bwd_ml', 1024, None): _C(32, 64, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed+ml: 255 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=2048: mem-bound, 10.1x GEMM floor
    ('sm80', 'float16', 'ieee', 'bwd_ml', None, 128): _C(16, 16, 128, 128, 8, 1, True, True, 1),
    # bwd_held+ml: 217 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=128: alu-bound, 6.0x GEMM floor
    ('sm80', 'float16', 'ieee', 'bwd_ml', None, 256): _C(32, 16, 16, 512, 8, 1, False, True, 1),
    # bwd_out+ml: 255 regs, 32768 B shared, mma, 8 warps/SM; M=8192 D=256: mem-bound, 3.8x GEMM floor
    ('sm80', 'float16', 'ieee', 'bwd_ml', None, 512): _C(32, 16, 16, 512, 8, 1, False, True, 1),
    # bwd_out+ml: 255 regs, 32768 B shared, mma, 8 warps/SM; M=8192 D=512: mem-bound, 3.7x GEMM floor
    ('sm80', 'float16', 'ieee', 'bwd_ml', None, 64): _C(16, 16, 64, 64, 8, 1, True, True, 1),
    # bwd_held+ml: 180 regs, 4096 B shared, mma, 8 warps/SM; M=8192 D=64: alu-bound, 12.0x GEMM floor
    ('sm80', 'float16', 'ieee', 'bwd_ml', None, None): _C(32, 64, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed+ml: 255 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=2048: mem-bound, 9.5x GEMM floor
    ('sm80', 'float16', 'ieee', 'fwd', 1024, 128): _C(128, 16, 128, 0, 8, 1, True, False, 1),
    # fwd_held: 196 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=128: alu-bound, 7.5x GEMM floor
    ('sm80', 'float16', 'ieee', 'fwd', 1024, 256): _C(64, 16, 256, 0, 8, 1, True, False, 1),
    # fwd_held: 233 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=256: alu-bound, 3.8x GEMM floor
    ('sm80', 'float16', 'ieee', 'fwd', 1024, 512): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 255 regs, 4096 B shared, mma, 8 warps/SM; M=512 D=512: mem-bound, 4.3x GEMM floor
    ('sm80', 'float16', 'ieee', 'fwd', 1024, 64): _C(128, 16, 128, 0, 8, 1, True, False, 1),
    # fwd_held: 196 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=64: alu-bound, 15.0x GEMM floor
    ('sm80', 'float16', 'ieee', 'fwd', 1024, None): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 255 regs, 4096 B shared, mma, 8 warps/SM; M=512 D=2048: mem-bound, 6.8x GEMM floor
    ('sm80', 'float16', 'ieee', 'fwd', None, 128): _C(128, 16, 128, 0, 8, 1, True, False, 1),
    # fwd_held: 196 regs, 32768 B shared, mma, 8 warps/SM; M=8192 D=128: alu-bound, 7.6x GEMM floor
    ('sm80', 'float16', 'ieee', 'fwd', None, 256): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 255 regs, 4096 B shared, mma, 8 warps/SM; M=8192 D=256: alu-bound, 4.0x GEMM floor
    ('sm80', 'float16', 'ieee', 'fwd', None, 512): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 255 regs, 4096 B shared, mma, 8 warps/SM; M=8192 D=512: mem-bound, 2.7x GEMM floor
    ('sm80', 'float16', 'ieee', 'fwd', None, 64): _C(256, 16, 64, 0, 8, 1, True, False, 1),
    # fwd_held: 255 regs, 32768 B shared, mma, 8 warps/SM; M=8192 D=64: alu-bound, 15.2x GEMM floor
    ('sm80', 'float16', 'ieee', 'fwd', None, None): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 255 regs, 4096 B shared, mma, 8 warps/SM; M=8192 D=2048: mem-bound, 4.2x GEMM floor
    ('sm80', 'float16', 'ieee', 'fwd_ml', 1024, 128): _C(128, 16, 128, 0, 8, 1, True, False, 1),
    # fwd_held+ml: 227 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=128: alu-bound, 7.5x GEMM floor
    ('sm80', 'float16', 'ieee', 'fwd_ml', 1024, 256): _C(128, 16, 256, 0, 8, 1, True, False, 1),
    # fwd_held+ml: 252 regs, 65536 B shared, mma, 8 warps/SM; M=512 D=256: alu-bound, 3.8x GEMM floor
    ('sm80', 'float16', 'ieee', 'fwd_ml', 1024, 512): _C(32, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 230 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=512: mem-bound, 5.1x GEMM floor
    ('sm80', 'float16', 'ieee', 'fwd_ml', 1024, 64): _C(128, 16, 64, 0, 8, 1, True, False, 1),
    # fwd_held+ml: 216 regs, 16384 B shared, mma, 8 warps/SM; M=512 D=64: alu-bound, 15.0x GEMM floor
    ('sm80', 'float16', 'ieee', 'fwd_ml', 1024, None): _C(32, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 230 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=2048: mem-bound, 6.8x GEMM floor
    ('sm80', 'float16', 'ieee', 'fwd_ml', None, 128): _C(128, 16, 128, 0, 8, 1, True, False, 1),
    # fwd_held+ml: 227 regs, 32768 B shared, mma, 8 warps/SM; M=8192 D=128: alu-bound, 7.6x GEMM floor
    ('sm80', 'float16', 'ieee', 'fwd_ml', None, 256): _C(128, 16, 256, 0, 8, 1, True, False, 1),
    # fwd_held+ml: 252 regs, 65536 B shared, mma, 8 warps/SM; M=8192 D=256: alu-bound, 3.8x GEMM floor
    ('sm80', 'float16', 'ieee', 'fwd_ml', None, 512): _C(32, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 230 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=512: mem-bound, 4.8x GEMM floor
    ('sm80', 'float16', 'ieee', 'fwd_ml', None, 64): _C(128, 16, 64, 0, 8, 1, True, False, 1),
    # fwd_held+ml: 216 regs, 16384 B shared, mma, 8 warps/SM; M=8192 D=64: alu-bound, 15.2x GEMM floor
    ('sm80', 'float16', 'ieee', 'fwd_ml', None, None): _C(32, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 230 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=2048: mem-bound, 6.3x GEMM floor
    ('sm80', 'float32', 'ieee', 'bwd', 1024, 128): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed: 126 regs, 2048 B shared, none, 16 warps/SM; M=512 D=128: mma-bound, 1.2x GEMM floor
    ('sm80', 'float32', 'ieee', 'bwd', 1024, 256): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed: 126 regs, 2048 B shared, none, 16 warps/SM; M=512 D=256: mma-bound, 1.1x GEMM floor
    ('sm80', 'float32', 'ieee', 'bwd', 1024, 512): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed: 126 regs, 2048 B shared, none, 16 warps/SM; M=512 D=512: mma-bound, 1.0x GEMM floor
    ('sm80', 'float32', 'ieee', 'bwd', 1024, 64): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed: 126 regs, 2048 B shared, none, 16 warps/SM; M=512 D=64: mma-bound, 1.4x GEMM floor
    ('sm80', 'float32', 'ieee', 'bwd', 1024, None): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed: 126 regs, 2048 B shared, none, 16 warps/SM; M=512 D=2048: mem-bound, 1.3x GEMM floor
    ('sm80', 'float32', 'ieee', 'bwd', None, 128): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed: 126 regs, 2048 B shared, none, 16 warps/SM; M=8192 D=128: mma-bound, 1.2x GEMM floor
    ('sm80', 'float32', 'ieee', 'bwd', None, 256): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed: 126 regs, 2048 B shared, none, 16 warps/SM; M=8192 D=256: mma-bound, 1.1x GEMM floor
    ('sm80', 'float32', 'ieee', 'bwd', None, 512): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed: 126 regs, 2048 B shared, none, 16 warps/SM; M=8192 D=512: mma-bound, 1.1x GEMM floor
    ('sm80', 'float32', 'ieee', 'bwd', None, 64): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed: 126 regs, 2048 B shared, none, 16 warps/SM; M=8192 D=64: mma-bound, 1.4x GEMM floor
    ('sm80', 'float32', 'ieee', 'bwd', None, None): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed: 126 regs, 2048 B shared, none, 16 warps/SM; M=8192 D=2048: mem-bound, 1.3x GEMM floor
    ('sm80', 'float32', 'ieee', 'bwd_ml', 1024, 128): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed+ml: 128 regs, 2048 B shared, none, 16 warps/SM; M=512 D=128: mma-bound, 1.2x GEMM floor
    ('sm80', 'float32', 'ieee', 'bwd_ml', 1024, 256): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed+ml: 128 regs, 2048 B shared, none, 16 warps/SM; M=512 D=256: mma-bound, 1.1x GEMM floor
    ('sm80', 'float32', 'ieee', 'bwd_ml', 1024, 512): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed+ml: 128 regs, 2048 B shared, none, 16 warps/SM; M=512 D=512: mma-bound, 1.0x GEMM floor
    ('sm80', 'float32', 'ieee', 'bwd_ml', 1024, 64): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed+ml: 128 regs, 2048 B shared, none, 16 warps/SM; M=512 D=64: mma-bound, 1.4x GEMM floor
    ('sm80', 'float32', 'ieee', 'bwd_ml', 1024, None): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed+ml: 128 regs, 2048 B shared, none, 16 warps/SM; M=512 D=2048: mem-bound, 1.3x GEMM floor
    ('sm80', 'float32', 'ieee', 'bwd_ml', None, 128): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed+ml: 128 regs, 2048 B shared, none, 16 warps/SM; M=8192 D=128: mma-bound, 1.2x GEMM floor
    ('sm80', 'float32', 'ieee', 'bwd_ml', None, 256): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed+ml: 128 regs, 2048 B shared, none, 16 warps/SM; M=8192 D=256: mma-bound, 1.1x GEMM floor
    ('sm80', 'float32', 'ieee', 'bwd_ml', None, 512): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed+ml: 128 regs, 2048 B shared, none, 16 warps/SM; M=8192 D=512: mma-bound, 1.1x GEMM floor
    ('sm80', 'float32', 'ieee', 'bwd_ml', None, 64): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed+ml: 128 regs, 2048 B shared, none, 16 warps/SM; M=8192 D=64: mma-bound, 1.4x GEMM floor
    ('sm80', 'float32', 'ieee', 'bwd_ml', None, None): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed+ml: 128 regs, 2048 B shared, none, 16 warps/SM; M=8192 D=2048: mem-bound, 1.3x GEMM floor
    ('sm80', 'float32', 'ieee', 'fwd', 1024, 128): _C(16, 16, 128, 0, 8, 1, True, False, 1),
    # fwd_held: 191 regs, 8192 B shared, none, 8 warps/SM; M=512 D=128: mma-bound, 2.5x GEMM floor
    ('sm80', 'float32', 'ieee', 'fwd', 1024, 256): _C(256, 16, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 255 regs, 17408 B shared, none, 8 warps/SM; M=512 D=256: mma-bound, 3.8x GEMM floor
    ('sm80', 'float32', 'ieee', 'fwd', 1024, 512): _C(256, 16, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 255 regs, 17408 B shared, none, 8 warps/SM; M=512 D=512: mma-bound, 3.6x GEMM floor
    ('sm80', 'float32', 'ieee', 'fwd', 1024, 64): _C(64, 16, 64, 0, 8, 1, True, False, 1),
    # fwd_held: 255 regs, 16384 B shared, none, 8 warps/SM; M=512 D=64: mma-bound, 2.9x GEMM floor
    ('sm80', 'float32', 'ieee', 'fwd', 1024, None): _C(256, 16, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 255 regs, 17408 B shared, none, 8 warps/SM; M=512 D=2048: mma-bound, 3.4x GEMM floor
    ('sm80', 'float32', 'ieee', 'fwd', None, 128): _C(16, 16, 128, 0, 8, 1, True, False, 1),
    # fwd_held: 191 regs, 8192 B shared, none, 8 warps/SM; M=8192 D=128: mma-bound, 2.5x GEMM floor
    ('sm80', 'float32', 'ieee', 'fwd', None, 256): _C(256, 16, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 255 regs, 17408 B shared, none, 8 warps/SM; M=8192 D=256: mma-bound, 2.3x GEMM floor
    ('sm80', 'float32', 'ieee', 'fwd', None, 512): _C(256, 16, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 255 regs, 17408 B shared, none, 8 warps/SM; M=8192 D=512: mma-bound, 2.1x GEMM floor
    ('sm80', 'float32', 'ieee', 'fwd', None, 64): _C(256, 16, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 255 regs, 17408 B shared, none, 8 warps/SM; M=8192 D=64: mma-bound, 3.0x GEMM floor
    ('sm80', 'float32', 'ieee', 'fwd', None, None): _C(256, 16, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 255 regs, 17408 B shared, none, 8 warps/SM; M=8192 D=2048: mma-bound, 2.1x GEMM floor
    ('sm80', 'float32', 'ieee', 'fwd_ml', 1024, 128): _C(16, 16, 128, 0, 8, 1, True, False, 1),
    # fwd_held+ml: 192 regs, 8192 B shared, none, 8 warps/SM; M=512 D=128: mma-bound, 2.5x GEMM floor
    ('sm80', 'float32', 'ieee', 'fwd_ml', 1024, 256): _C(256, 16, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 254 regs, 17408 B shared, none, 8 warps/SM; M=512 D=256: mma-bound, 3.8x GEMM floor
    ('sm80', 'float32', 'ieee', 'fwd_ml', 1024, 512): _C(256, 16, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 254 regs, 17408 B shared, none, 8 warps/SM; M=512 D=512: mma-bound, 3.6x GEMM floor
    ('sm80', 'float32', 'ieee', 'fwd_ml', 1024, 64): _C(64, 16, 64, 0, 8, 1, True, False, 1),
    # fwd_held+ml: 253 regs, 16384 B shared, none, 8 warps/SM; M=512 D=64: mma-bound, 2.9x GEMM floor
    ('sm80', 'float32', 'ieee', 'fwd_ml', 1024, None): _C(256, 16, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 254 regs, 17408 B shared, none, 8 warps/SM; M=512 D=2048: mma-bound, 3.4x GEMM floor
    ('sm80', 'float32', 'ieee', 'fwd_ml', None, 128): _C(16, 16, 128, 0, 8, 1, True, False, 1),
    # fwd_held+ml: 192 regs, 8192 B shared, none, 8 warps/SM; M=8192 D=128: mma-bound, 2.5x GEMM floor
    ('sm80', 'float32', 'ieee', 'fwd_ml', None, 256): _C(256, 16, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 254 regs, 17408 B shared, none, 8 warps/SM; M=8192 D=256: mma-bound, 2.3x GEMM floor
    ('sm80', 'float32', 'ieee', 'fwd_ml', None, 512): _C(256, 16, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 254 regs, 17408 B shared, none, 8 warps/SM; M=8192 D=512: mma-bound, 2.1x GEMM floor
    ('sm80', 'float32', 'ieee', 'fwd_ml', None, 64): _C(256, 16, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 254 regs, 17408 B shared, none, 8 warps/SM; M=8192 D=64: mma-bound, 3.0x GEMM floor
    ('sm80', 'float32', 'ieee', 'fwd_ml', None, None): _C(256, 16, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 254 regs, 17408 B shared, none, 8 warps/SM; M=8192 D=2048: mma-bound, 2.1x GEMM floor
    ('sm80', 'float32', 'tf32', 'bwd', 1024, 128): _C(32, 32, 16, 256, 8, 1, False, True, 1),
    # bwd_out: 251 regs, 36864 B shared, mma, 8 warps/SM; M=512 D=128: mem-bound, 3.2x GEMM floor
    ('sm80', 'float32', 'tf32', 'bwd', 1024, 256): _C(32, 32, 16, 256, 8, 1, False, True, 1),
    # bwd_out: 251 regs, 36864 B shared, mma, 8 warps/SM; M=512 D=256: mem-bound, 3.2x GEMM floor
    ('sm80', 'float32', 'tf32', 'bwd', 1024, 512): _C(16, 16, 16, 512, 4, 1, False, True, 2),
    # bwd_out: 255 regs, 33792 B shared, mma, 8 warps/SM; M=512 D=512: mem-bound, 6.1x GEMM floor
    ('sm80', 'float32', 'tf32', 'bwd', 1024, 64): _C(16, 16, 64, 64, 8, 1, True, True, 1),
    # bwd_held: 177 regs, 4096 B shared, mma, 8 warps/SM; M=512 D=64: alu-bound, 5.7x GEMM floor
    ('sm80', 'float32', 'tf32', 'bwd', 1024, None): _C(32, 64, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed: 247 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=2048: mem-bound, 7.9x GEMM floor
    ('sm80', 'float32', 'tf32', 'bwd', None, 128): _C(32, 32, 16, 256, 8, 1, False, True, 1),
    # bwd_out: 251 regs, 36864 B shared, mma, 8 warps/SM; M=8192 D=128: mem-bound, 3.3x GEMM floor
    ('sm80', 'float32', 'tf32', 'bwd', None, 256): _C(32, 32, 16, 256, 8, 1, False, True, 1),
    # bwd_out: 251 regs, 36864 B shared, mma, 8 warps/SM; M=8192 D=256: mem-bound, 3.2x GEMM floor
    ('sm80', 'float32', 'tf32', 'bwd', None, 512): _C(16, 16, 16, 512, 4, 1, False, True, 2),
    # bwd_out: 255 regs, 33792 B shared, mma, 8 warps/SM; M=8192 D=512: mem-bound, 6.4x GEMM floor
    ('sm80', 'float32', 'tf32', 'bwd', None, 64): _C(16, 16, 64, 64, 8, 1, True, True, 1),
    # bwd_held: 177 regs, 4096 B shared, mma, 8 warps/SM; M=8192 D=64: alu-bound, 5.6x GEMM floor
    ('sm80', 'float32', 'tf32', 'bwd', None, None): _C(32, 64, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed: 247 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=2048: mem-bound, 7.4x GEMM floor
    ('sm80', 'float32', 'tf32', 'bwd_ml', 1024, 128): _C(32, 32, 16, 256, 8, 1, False, True, 1),
    # bwd_out+ml: 252 regs, 36864 B shared, mma, 8 warps/SM; M=512 D=128: mem-bound, 3.2x GEMM floor
    ('sm80', 'float32', 'tf32', 'bwd_ml', 1024, 256): _C(32, 32, 16, 256, 8, 1, False, True, 1),
    # bwd_out+ml: 252 regs, 36864 B shared, mma, 8 warps/SM; M=512 D=256: mem-bound, 3.2x GEMM floor
    ('sm80', 'float32', 'tf32', 'bwd_ml', 1024, 512): _C(16, 16, 16, 512, 4, 1, False, True, 2),
    # bwd_out+ml: 255 regs, 33792 B shared, mma, 8 warps/SM; M=512 D=512: mem-bound, 6.1x GEMM floor
    ('sm80', 'float32', 'tf32', 'bwd_ml', 1024, 64): _C(16, 16, 64, 64, 8, 1, True, True, 1),
    # bwd_held+ml: 179 regs, 4096 B shared, mma, 8 warps/SM; M=512 D=64: alu-bound, 5.7x GEMM floor
    ('sm80', 'float32', 'tf32', 'bwd_ml', 1024, None): _C(32, 64, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed+ml: 255 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=2048: mem-bound, 7.9x GEMM floor
    ('sm80', 'float32', 'tf32', 'bwd_ml', None, 128): _C(32, 32, 16, 256, 8, 1, False, True, 1),
    # bwd_out+ml: 252 regs, 36864 B shared, mma, 8 warps/SM; M=8192 D=128: mem-bound, 3.3x GEMM floor
    ('sm80', 'float32', 'tf32', 'bwd_ml', None, 256): _C(32, 32, 16, 256, 8, 1, False, True, 1),
    # bwd_out+ml: 252 regs, 36864 B shared, mma, 8 warps/SM; M=8192 D=256: mem-bound, 3.2x GEMM floor
    ('sm80', 'float32', 'tf32', 'bwd_ml', None, 512): _C(16, 16, 16, 512, 4, 1, False, True, 2),
    # bwd_out+ml: 255 regs, 33792 B shared, mma, 8 warps/SM; M=8192 D=512: mem-bound, 6.4x GEMM floor
    ('sm80', 'float32', 'tf32', 'bwd_ml', None, 64): _C(16, 16, 64, 64, 8, 1, True, True, 1),
    # bwd_held+ml: 179 regs, 4096 B shared, mma, 8 warps/SM; M=8192 D=64: alu-bound, 5.6x GEMM floor
    ('sm80', 'float32', 'tf32', 'bwd_ml', None, None): _C(32, 64, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed+ml: 255 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=2048: mem-bound, 7.4x GEMM floor
    ('sm80', 'float32', 'tf32', 'fwd', 1024, 128): _C(64, 16, 128, 0, 8, 1, True, False, 1),
    # fwd_held: 206 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=128: alu-bound, 3.8x GEMM floor
    ('sm80', 'float32', 'tf32', 'fwd', 1024, 256): _C(32, 16, 256, 0, 8, 1, True, False, 1),
    # fwd_held: 255 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=256: mem-bound, 4.0x GEMM floor
    ('sm80', 'float32', 'tf32', 'fwd', 1024, 512): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 255 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=512: mem-bound, 6.8x GEMM floor
    ('sm80', 'float32', 'tf32', 'fwd', 1024, 64): _C(128, 16, 64, 0, 8, 1, True, False, 1),
    # fwd_held: 195 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=64: alu-bound, 7.5x GEMM floor
    ('sm80', 'float32', 'tf32', 'fwd', 1024, None): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 255 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=2048: mem-bound, 6.8x GEMM floor
    ('sm80', 'float32', 'tf32', 'fwd', None, 128): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 255 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=128: alu-bound, 4.0x GEMM floor
    ('sm80', 'float32', 'tf32', 'fwd', None, 256): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 255 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=256: mem-bound, 2.7x GEMM floor
    ('sm80', 'float32', 'tf32', 'fwd', None, 512): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 255 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=512: mem-bound, 4.2x GEMM floor
    ('sm80', 'float32', 'tf32', 'fwd', None, 64): _C(128, 16, 64, 0, 8, 1, True, False, 1),
    # fwd_held: 195 regs, 32768 B shared, mma, 8 warps/SM; M=8192 D=64: alu-bound, 7.6x GEMM floor
    ('sm80', 'float32', 'tf32', 'fwd', None, None): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 255 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=2048: mem-bound, 4.2x GEMM floor
    ('sm80', 'float32', 'tf32', 'fwd_ml', 1024, 128): _C(64, 16, 128, 0, 8, 1, True, False, 1),
    # fwd_held+ml: 243 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=128: alu-bound, 3.8x GEMM floor
    ('sm80', 'float32', 'tf32', 'fwd_ml', 1024, 256): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 224 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=256: mem-bound, 3.1x GEMM floor
    ('sm80', 'float32', 'tf32', 'fwd_ml', 1024, 512): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 224 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=512: mem-bound, 6.2x GEMM floor
    ('sm80', 'float32', 'tf32', 'fwd_ml', 1024, 64): _C(128, 16, 64, 0, 8, 1, True, False, 1),
    # fwd_held+ml: 226 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=64: alu-bound, 7.5x GEMM floor
    ('sm80', 'float32', 'tf32', 'fwd_ml', 1024, None): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 224 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=2048: mem-bound, 6.2x GEMM floor
    ('sm80', 'float32', 'tf32', 'fwd_ml', None, 128): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 224 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=128: alu-bound, 4.0x GEMM floor
    ('sm80', 'float32', 'tf32', 'fwd_ml', None, 256): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 224 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=256: mem-bound, 3.2x GEMM floor
    ('sm80', 'float32', 'tf32', 'fwd_ml', None, 512): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 224 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=512: mem-bound, 6.3x GEMM floor
    ('sm80', 'float32', 'tf32', 'fwd_ml', None, 64): _C(128, 16, 64, 0, 8, 1, True, False, 1),
    # fwd_held+ml: 226 regs, 32768 B shared, mma, 8 warps/SM; M=8192 D=64: alu-bound, 7.6x GEMM floor
    ('sm80', 'float32', 'tf32', 'fwd_ml', None, None): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 224 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=2048: mem-bound, 6.3x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'bwd', 1024, 128): _C(32, 16, 16, 256, 8, 1, False, True, 1),
    # bwd_out: 244 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=128: mma-bound, 9.0x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'bwd', 1024, 256): _C(32, 16, 16, 256, 8, 1, False, True, 1),
    # bwd_out: 244 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=256: mma-bound, 6.0x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'bwd', 1024, 512): _C(16, 16, 16, 512, 8, 1, False, True, 1),
    # bwd_out: 197 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=512: mem-bound, 6.1x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'bwd', 1024, 64): _C(16, 16, 64, 64, 8, 1, True, True, 1),
    # bwd_held: 236 regs, 4096 B shared, mma, 8 warps/SM; M=512 D=64: mma-bound, 6.1x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'bwd', 1024, None): _C(16, 16, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed: 164 regs, 2048 B shared, mma, 8 warps/SM; M=512 D=2048: mem-bound, 20.3x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'bwd', None, 128): _C(32, 16, 16, 256, 8, 1, False, True, 1),
    # bwd_out: 244 regs, 32768 B shared, mma, 8 warps/SM; M=8192 D=128: mma-bound, 9.5x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'bwd', None, 256): _C(32, 16, 16, 256, 8, 1, False, True, 1),
    # bwd_out: 244 regs, 32768 B shared, mma, 8 warps/SM; M=8192 D=256: mma-bound, 6.3x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'bwd', None, 512): _C(16, 16, 16, 512, 8, 1, False, True, 1),
    # bwd_out: 197 regs, 32768 B shared, mma, 8 warps/SM; M=8192 D=512: mem-bound, 6.1x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'bwd', None, 64): _C(16, 16, 64, 64, 8, 1, True, True, 1),
    # bwd_held: 236 regs, 4096 B shared, mma, 8 warps/SM; M=8192 D=64: mma-bound, 6.0x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'bwd', None, None): _C(16, 16, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed: 164 regs, 2048 B shared, mma, 8 warps/SM; M=8192 D=2048: mem-bound, 20.1x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'bwd_ml', 1024, 128): _C(32, 16, 16, 256, 8, 1, False, True, 1),
    # bwd_out+ml: 252 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=128: mma-bound, 9.0x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'bwd_ml', 1024, 256): _C(32, 16, 16, 256, 8, 1, False, True, 1),
    # bwd_out+ml: 252 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=256: mma-bound, 6.0x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'bwd_ml', 1024, 512): _C(16, 16, 16, 512, 8, 1, False, True, 1),
    # bwd_out+ml: 203 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=512: mem-bound, 6.1x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'bwd_ml', 1024, 64): _C(16, 16, 64, 64, 8, 1, True, True, 1),
    # bwd_held+ml: 240 regs, 4096 B shared, mma, 8 warps/SM; M=512 D=64: mma-bound, 6.1x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'bwd_ml', 1024, None): _C(16, 16, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed+ml: 171 regs, 2048 B shared, mma, 8 warps/SM; M=512 D=2048: mem-bound, 20.3x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'bwd_ml', None, 128): _C(32, 16, 16, 256, 8, 1, False, True, 1),
    # bwd_out+ml: 252 regs, 32768 B shared, mma, 8 warps/SM; M=8192 D=128: mma-bound, 9.5x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'bwd_ml', None, 256): _C(32, 16, 16, 256, 8, 1, False, True, 1),
    # bwd_out+ml: 252 regs, 32768 B shared, mma, 8 warps/SM; M=8192 D=256: mma-bound, 6.3x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'bwd_ml', None, 512): _C(16, 16, 16, 512, 8, 1, False, True, 1),
    # bwd_out+ml: 203 regs, 32768 B shared, mma, 8 warps/SM; M=8192 D=512: mem-bound, 6.1x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'bwd_ml', None, 64): _C(16, 16, 64, 64, 8, 1, True, True, 1),
    # bwd_held+ml: 240 regs, 4096 B shared, mma, 8 warps/SM; M=8192 D=64: mma-bound, 6.0x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'bwd_ml', None, None): _C(16, 16, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed+ml: 171 regs, 2048 B shared, mma, 8 warps/SM; M=8192 D=2048: mem-bound, 20.1x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'fwd', 1024, 128): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 255 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=128: mma-bound, 10.1x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'fwd', 1024, 256): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 255 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=256: mma-bound, 10.1x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'fwd', 1024, 512): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 255 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=512: mma-bound, 10.1x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'fwd', 1024, 64): _C(128, 16, 64, 0, 8, 1, True, False, 1),
    # fwd_held: 255 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=64: alu-bound, 7.5x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'fwd', 1024, None): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 255 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=2048: mma-bound, 10.1x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'fwd', None, 128): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 255 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=128: mma-bound, 6.1x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'fwd', None, 256): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 255 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=256: mma-bound, 6.1x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'fwd', None, 512): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 255 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=512: mma-bound, 6.1x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'fwd', None, 64): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 255 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=64: alu-bound, 7.6x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'fwd', None, None): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 255 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=2048: mma-bound, 6.1x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'fwd_ml', 1024, 128): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 240 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=128: mma-bound, 6.2x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'fwd_ml', 1024, 256): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 240 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=256: mma-bound, 6.2x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'fwd_ml', 1024, 512): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 240 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=512: mem-bound, 6.2x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'fwd_ml', 1024, 64): _C(128, 16, 64, 0, 8, 1, True, False, 1),
    # fwd_held+ml: 240 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=64: alu-bound, 7.5x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'fwd_ml', 1024, None): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 240 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=2048: mem-bound, 6.2x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'fwd_ml', None, 128): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 240 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=128: mma-bound, 6.3x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'fwd_ml', None, 256): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 240 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=256: mma-bound, 6.3x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'fwd_ml', None, 512): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 240 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=512: mem-bound, 6.3x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'fwd_ml', None, 64): _C(128, 16, 64, 0, 8, 1, True, False, 1),
    # fwd_held+ml: 240 regs, 32768 B shared, mma, 8 warps/SM; M=8192 D=64: alu-bound, 7.6x GEMM floor
    ('sm80', 'float32', 'tf32x3', 'fwd_ml', None, None): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 240 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=2048: mem-bound, 6.3x GEMM floor
    ('sm80', 'float64', 'ieee', 'bwd', 1024, 128): _C(32, 32, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed: 254 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=128: mma-bound, 2.1x GEMM floor
    ('sm80', 'float64', 'ieee', 'bwd', 1024, 256): _C(16, 16, 16, 256, 4, 1, False, True, 2),
    # bwd_out: 255 regs, 34816 B shared, mma, 8 warps/SM; M=512 D=256: mma-bound, 2.0x GEMM floor
    ('sm80', 'float64', 'ieee', 'bwd', 1024, 512): _C(16, 16, 16, 512, 8, 1, False, True, 1),
    # bwd_out: 245 regs, 67584 B shared, mma, 8 warps/SM; M=512 D=512: mma-bound, 2.0x GEMM floor
    ('sm80', 'float64', 'ieee', 'bwd', 1024, 64): _C(16, 16, 64, 64, 8, 1, True, True, 1),
    # bwd_held: 255 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=64: alu-bound, 2.7x GEMM floor
    ('sm80', 'float64', 'ieee', 'bwd', 1024, None): _C(32, 32, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed: 254 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=2048: mem-bound, 2.6x GEMM floor
    ('sm80', 'float64', 'ieee', 'bwd', None, 128): _C(32, 32, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed: 254 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=128: mma-bound, 2.1x GEMM floor
    ('sm80', 'float64', 'ieee', 'bwd', None, 256): _C(32, 32, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed: 254 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=256: mma-bound, 2.1x GEMM floor
    ('sm80', 'float64', 'ieee', 'bwd', None, 512): _C(16, 16, 16, 512, 8, 1, False, True, 1),
    # bwd_out: 245 regs, 67584 B shared, mma, 8 warps/SM; M=8192 D=512: mma-bound, 2.0x GEMM floor
    ('sm80', 'float64', 'ieee', 'bwd', None, 64): _C(16, 16, 64, 64, 8, 1, True, True, 1),
    # bwd_held: 255 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=64: alu-bound, 2.7x GEMM floor
    ('sm80', 'float64', 'ieee', 'bwd', None, None): _C(32, 32, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed: 254 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=2048: mem-bound, 2.6x GEMM floor
    ('sm80', 'float64', 'ieee', 'bwd_ml', 1024, 128): _C(32, 32, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed+ml: 253 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=128: mma-bound, 2.1x GEMM floor
    ('sm80', 'float64', 'ieee', 'bwd_ml', 1024, 256): _C(16, 16, 16, 256, 4, 1, False, True, 2),
    # bwd_out+ml: 254 regs, 34816 B shared, mma, 8 warps/SM; M=512 D=256: mma-bound, 2.0x GEMM floor
    ('sm80', 'float64', 'ieee', 'bwd_ml', 1024, 512): _C(16, 16, 16, 512, 8, 1, False, True, 1),
    # bwd_out+ml: 241 regs, 67584 B shared, mma, 8 warps/SM; M=512 D=512: mma-bound, 2.0x GEMM floor
    ('sm80', 'float64', 'ieee', 'bwd_ml', 1024, 64): _C(16, 16, 64, 64, 4, 1, True, True, 2),
    # bwd_held+ml: 255 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=64: alu-bound, 2.7x GEMM floor
    ('sm80', 'float64', 'ieee', 'bwd_ml', 1024, None): _C(32, 32, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed+ml: 253 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=2048: mem-bound, 2.6x GEMM floor
    ('sm80', 'float64', 'ieee', 'bwd_ml', None, 128): _C(32, 32, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed+ml: 253 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=128: mma-bound, 2.1x GEMM floor
    ('sm80', 'float64', 'ieee', 'bwd_ml', None, 256): _C(16, 16, 16, 256, 8, 1, False, True, 1),
    # bwd_out+ml: 241 regs, 34816 B shared, mma, 8 warps/SM; M=8192 D=256: mma-bound, 2.0x GEMM floor
    ('sm80', 'float64', 'ieee', 'bwd_ml', None, 512): _C(16, 16, 16, 512, 8, 1, False, True, 1),
    # bwd_out+ml: 241 regs, 67584 B shared, mma, 8 warps/SM; M=8192 D=512: mma-bound, 2.0x GEMM floor
    ('sm80', 'float64', 'ieee', 'bwd_ml', None, 64): _C(16, 16, 64, 64, 8, 1, True, True, 1),
    # bwd_held+ml: 254 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=64: alu-bound, 2.7x GEMM floor
    ('sm80', 'float64', 'ieee', 'bwd_ml', None, None): _C(32, 32, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed+ml: 253 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=2048: mem-bound, 2.6x GEMM floor
    ('sm80', 'float64', 'ieee', 'fwd', 1024, 128): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 238 regs, 12288 B shared, mma, 8 warps/SM; M=512 D=128: mma-bound, 2.1x GEMM floor
    ('sm80', 'float64', 'ieee', 'fwd', 1024, 256): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 238 regs, 12288 B shared, mma, 8 warps/SM; M=512 D=256: mma-bound, 2.1x GEMM floor
    ('sm80', 'float64', 'ieee', 'fwd', 1024, 512): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 238 regs, 12288 B shared, mma, 8 warps/SM; M=512 D=512: mma-bound, 2.1x GEMM floor
    ('sm80', 'float64', 'ieee', 'fwd', 1024, 64): _C(64, 16, 64, 0, 8, 1, True, False, 1),
    # fwd_held: 254 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=64: alu-bound, 3.1x GEMM floor
    ('sm80', 'float64', 'ieee', 'fwd', 1024, None): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 238 regs, 12288 B shared, mma, 8 warps/SM; M=512 D=2048: mma-bound, 2.1x GEMM floor
    ('sm80', 'float64', 'ieee', 'fwd', None, 128): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 238 regs, 12288 B shared, mma, 8 warps/SM; M=8192 D=128: mma-bound, 2.1x GEMM floor
    ('sm80', 'float64', 'ieee', 'fwd', None, 256): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 238 regs, 12288 B shared, mma, 8 warps/SM; M=8192 D=256: mma-bound, 2.1x GEMM floor
    ('sm80', 'float64', 'ieee', 'fwd', None, 512): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 238 regs, 12288 B shared, mma, 8 warps/SM; M=8192 D=512: mma-bound, 2.1x GEMM floor
    ('sm80', 'float64', 'ieee', 'fwd', None, 64): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 238 regs, 12288 B shared, mma, 8 warps/SM; M=8192 D=64: alu-bound, 3.3x GEMM floor
    ('sm80', 'float64', 'ieee', 'fwd', None, None): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 238 regs, 12288 B shared, mma, 8 warps/SM; M=8192 D=2048: mma-bound, 2.1x GEMM floor
    ('sm80', 'float64', 'ieee', 'fwd_ml', 1024, 128): _C(32, 16, 128, 0, 8, 1, True, False, 1),
    # fwd_held+ml: 255 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=128: mma-bound, 2.0x GEMM floor
    ('sm80', 'float64', 'ieee', 'fwd_ml', 1024, 256): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 255 regs, 16384 B shared, mma, 8 warps/SM; M=512 D=256: mma-bound, 2.1x GEMM floor
    ('sm80', 'float64', 'ieee', 'fwd_ml', 1024, 512): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 255 regs, 16384 B shared, mma, 8 warps/SM; M=512 D=512: mma-bound, 2.1x GEMM floor
    ('sm80', 'float64', 'ieee', 'fwd_ml', 1024, 64): _C(64, 16, 64, 0, 8, 1, True, False, 1),
    # fwd_held+ml: 255 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=64: alu-bound, 3.1x GEMM floor
    ('sm80', 'float64', 'ieee', 'fwd_ml', 1024, None): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 255 regs, 16384 B shared, mma, 8 warps/SM; M=512 D=2048: mma-bound, 2.1x GEMM floor
    ('sm80', 'float64', 'ieee', 'fwd_ml', None, 128): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 255 regs, 16384 B shared, mma, 8 warps/SM; M=8192 D=128: mma-bound, 2.1x GEMM floor
    ('sm80', 'float64', 'ieee', 'fwd_ml', None, 256): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 255 regs, 16384 B shared, mma, 8 warps/SM; M=8192 D=256: mma-bound, 2.1x GEMM floor
    ('sm80', 'float64', 'ieee', 'fwd_ml', None, 512): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 255 regs, 16384 B shared, mma, 8 warps/SM; M=8192 D=512: mma-bound, 2.1x GEMM floor
    ('sm80', 'float64', 'ieee', 'fwd_ml', None, 64): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 255 regs, 16384 B shared, mma, 8 warps/SM; M=8192 D=64: alu-bound, 3.3x GEMM floor
    ('sm80', 'float64', 'ieee', 'fwd_ml', None, None): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 255 regs, 16384 B shared, mma, 8 warps/SM; M=8192 D=2048: mma-bound, 2.1x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'bwd', 1024, 128): _C(64, 16, 128, 128, 8, 1, True, True, 1),
    # bwd_held: 240 regs, 32768 B shared, wgmma, 8 warps/SM; M=512 D=128: alu-bound, 5.8x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'bwd', 1024, 256): _C(64, 16, 16, 256, 8, 1, False, True, 1),
    # bwd_out: 255 regs, 65536 B shared, wgmma, 8 warps/SM; M=512 D=256: mem-bound, 4.8x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'bwd', 1024, 512): _C(32, 32, 16, 512, 8, 1, False, True, 1),
    # bwd_out: 254 regs, 34816 B shared, mma, 8 warps/SM; M=512 D=512: mem-bound, 6.3x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'bwd', 1024, 64): _C(64, 16, 64, 64, 8, 1, True, True, 1),
    # bwd_held: 245 regs, 16384 B shared, wgmma, 8 warps/SM; M=512 D=64: alu-bound, 11.6x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'bwd', 1024, None): _C(32, 128, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed: 254 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=2048: mem-bound, 26.9x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'bwd', None, 128): _C(64, 16, 128, 128, 8, 1, True, True, 1),
    # bwd_held: 240 regs, 32768 B shared, wgmma, 8 warps/SM; M=8192 D=128: alu-bound, 5.8x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'bwd', None, 256): _C(64, 16, 16, 256, 8, 1, False, True, 1),
    # bwd_out: 255 regs, 65536 B shared, wgmma, 8 warps/SM; M=8192 D=256: mem-bound, 4.8x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'bwd', None, 512): _C(32, 32, 16, 512, 8, 1, False, True, 1),
    # bwd_out: 254 regs, 34816 B shared, mma, 8 warps/SM; M=8192 D=512: mem-bound, 6.3x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'bwd', None, 64): _C(32, 128, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed: 254 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=64: alu-bound, 11.6x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'bwd', None, None): _C(32, 128, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed: 254 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=2048: mem-bound, 13.4x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'bwd_ml', 1024, 128): _C(32, 16, 128, 128, 4, 1, True, True, 2),
    # bwd_held+ml: 255 regs, 16384 B shared, mma, 8 warps/SM; M=512 D=128: alu-bound, 5.8x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'bwd_ml', 1024, 256): _C(64, 16, 16, 256, 8, 1, False, True, 1),
    # bwd_out+ml: 255 regs, 65536 B shared, wgmma, 8 warps/SM; M=512 D=256: mem-bound, 4.8x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'bwd_ml', 1024, 512): _C(32, 16, 16, 512, 8, 1, False, True, 1),
    # bwd_out+ml: 248 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=512: mem-bound, 7.3x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'bwd_ml', 1024, 64): _C(64, 16, 64, 64, 8, 1, True, True, 1),
    # bwd_held+ml: 225 regs, 16384 B shared, wgmma, 8 warps/SM; M=512 D=64: alu-bound, 11.6x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'bwd_ml', 1024, None): _C(32, 64, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed+ml: 250 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=2048: mem-bound, 18.6x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'bwd_ml', None, 128): _C(32, 16, 128, 128, 4, 1, True, True, 2),
    # bwd_held+ml: 255 regs, 16384 B shared, mma, 8 warps/SM; M=8192 D=128: alu-bound, 5.8x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'bwd_ml', None, 256): _C(64, 16, 16, 256, 8, 1, False, True, 1),
    # bwd_out+ml: 255 regs, 65536 B shared, wgmma, 8 warps/SM; M=8192 D=256: mem-bound, 4.8x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'bwd_ml', None, 512): _C(32, 16, 16, 512, 8, 1, False, True, 1),
    # bwd_out+ml: 248 regs, 32768 B shared, mma, 8 warps/SM; M=8192 D=512: mem-bound, 7.3x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'bwd_ml', None, 64): _C(64, 16, 64, 64, 8, 1, True, True, 1),
    # bwd_held+ml: 225 regs, 16384 B shared, wgmma, 8 warps/SM; M=8192 D=64: alu-bound, 11.6x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'bwd_ml', None, None): _C(32, 64, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed+ml: 250 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=2048: mem-bound, 18.6x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'fwd', 1024, 128): _C(128, 16, 128, 0, 8, 1, True, False, 1),
    # fwd_held: 157 regs, 36864 B shared, wgmma, 8 warps/SM; M=512 D=128: alu-bound, 7.7x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'fwd', 1024, 256): _C(128, 16, 256, 0, 8, 1, True, False, 1),
    # fwd_held: 195 regs, 73728 B shared, wgmma, 8 warps/SM; M=512 D=256: alu-bound, 3.9x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'fwd', 1024, 512): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 198 regs, 4096 B shared, wgmma, 8 warps/SM; M=512 D=512: mem-bound, 10.4x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'fwd', 1024, 64): _C(128, 16, 128, 0, 8, 1, True, False, 1),
    # fwd_held: 157 regs, 36864 B shared, wgmma, 8 warps/SM; M=512 D=64: alu-bound, 15.5x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'fwd', 1024, None): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 198 regs, 4096 B shared, wgmma, 8 warps/SM; M=512 D=2048: mem-bound, 16.5x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'fwd', None, 128): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 198 regs, 4096 B shared, wgmma, 8 warps/SM; M=8192 D=128: alu-bound, 7.7x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'fwd', None, 256): _C(128, 16, 256, 0, 8, 1, True, False, 1),
    # fwd_held: 195 regs, 73728 B shared, wgmma, 8 warps/SM; M=8192 D=256: alu-bound, 3.9x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'fwd', None, 512): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 198 regs, 4096 B shared, wgmma, 8 warps/SM; M=8192 D=512: mem-bound, 5.2x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'fwd', None, 64): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 198 regs, 4096 B shared, wgmma, 8 warps/SM; M=8192 D=64: alu-bound, 15.5x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'fwd', None, None): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 198 regs, 4096 B shared, wgmma, 8 warps/SM; M=8192 D=2048: mem-bound, 8.3x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'fwd_ml', 1024, 128): _C(128, 16, 128, 0, 8, 1, True, False, 1),
    # fwd_held+ml: 185 regs, 40960 B shared, wgmma, 8 warps/SM; M=512 D=128: alu-bound, 7.7x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'fwd_ml', 1024, 256): _C(128, 16, 256, 0, 8, 1, True, False, 1),
    # fwd_held+ml: 188 regs, 73728 B shared, wgmma, 8 warps/SM; M=512 D=256: alu-bound, 3.9x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'fwd_ml', 1024, 512): _C(32, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 222 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=512: mem-bound, 9.4x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'fwd_ml', 1024, 64): _C(32, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 222 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=64: alu-bound, 15.5x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'fwd_ml', 1024, None): _C(32, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 222 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=2048: mem-bound, 12.4x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'fwd_ml', None, 128): _C(128, 16, 128, 0, 4, 1, True, False, 2),
    # fwd_held+ml: 255 regs, 40960 B shared, wgmma, 8 warps/SM; M=8192 D=128: alu-bound, 7.7x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'fwd_ml', None, 256): _C(128, 16, 256, 0, 8, 1, True, False, 1),
    # fwd_held+ml: 188 regs, 73728 B shared, wgmma, 8 warps/SM; M=8192 D=256: alu-bound, 3.9x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'fwd_ml', None, 512): _C(32, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 222 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=512: mem-bound, 9.4x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'fwd_ml', None, 64): _C(32, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 222 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=64: alu-bound, 15.5x GEMM floor
    ('sm90', 'bfloat16', 'ieee', 'fwd_ml', None, None): _C(32, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 222 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=2048: mem-bound, 12.4x GEMM floor
    ('sm90', 'float16', 'ieee', 'bwd', 1024, 128): _C(32, 32, 16, 512, 8, 1, False, True, 1),
    # bwd_out: 254 regs, 34816 B shared, mma, 8 warps/SM; M=512 D=128: mma-bound, 8.6x GEMM floor
    ('sm90', 'float16', 'ieee', 'bwd', 1024, 256): _C(32, 32, 16, 512, 8, 1, False, True, 1),
    # bwd_out: 254 regs, 34816 B shared, mma, 8 warps/SM; M=512 D=256: mem-bound, 6.4x GEMM floor
    ('sm90', 'float16', 'ieee', 'bwd', 1024, 512): _C(32, 32, 16, 512, 8, 1, False, True, 1),
    # bwd_out: 254 regs, 34816 B shared, mma, 8 warps/SM; M=512 D=512: mem-bound, 6.3x GEMM floor
    ('sm90', 'float16', 'ieee', 'bwd', 1024, 64): _C(64, 16, 64, 64, 8, 1, True, True, 1),
    # bwd_held: 228 regs, 16384 B shared, wgmma, 8 warps/SM; M=512 D=64: alu-bound, 12.4x GEMM floor
    ('sm90', 'float16', 'ieee', 'bwd', 1024, None): _C(32, 128, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed: 254 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=2048: mem-bound, 26.9x GEMM floor
    ('sm90', 'float16', 'ieee', 'bwd', None, 128): _C(32, 32, 16, 512, 8, 1, False, True, 1),
    # bwd_out: 254 regs, 34816 B shared, mma, 8 warps/SM; M=8192 D=128: mma-bound, 8.6x GEMM floor
    ('sm90', 'float16', 'ieee', 'bwd', None, 256): _C(32, 32, 16, 512, 8, 1, False, True, 1),
    # bwd_out: 254 regs, 34816 B shared, mma, 8 warps/SM; M=8192 D=256: mem-bound, 6.4x GEMM floor
    ('sm90', 'float16', 'ieee', 'bwd', None, 512): _C(32, 32, 16, 512, 8, 1, False, True, 1),
    # bwd_out: 254 regs, 34816 B shared, mma, 8 warps/SM; M=8192 D=512: mem-bound, 6.3x GEMM floor
    ('sm90', 'float16', 'ieee', 'bwd', None, 64): _C(32, 128, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed: 254 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=64: alu-bound, 12.4x GEMM floor
    ('sm90', 'float16', 'ieee', 'bwd', None, None): _C(32, 128, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed: 254 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=2048: mem-bound, 13.4x GEMM floor
    ('sm90', 'float16', 'ieee', 'bwd_ml', 1024, 128): _C(32, 16, 128, 128, 8, 1, True, True, 1),
    # bwd_held+ml: 251 regs, 16384 B shared, mma, 8 warps/SM; M=512 D=128: alu-bound, 6.2x GEMM floor
    ('sm90', 'float16', 'ieee', 'bwd_ml', 1024, 256): _C(32, 16, 16, 512, 8, 1, False, True, 1),
    # bwd_out+ml: 241 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=256: mem-bound, 7.4x GEMM floor
    ('sm90', 'float16', 'ieee', 'bwd_ml', 1024, 512): _C(32, 16, 16, 512, 8, 1, False, True, 1),
    # bwd_out+ml: 241 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=512: mem-bound, 7.3x GEMM floor
    ('sm90', 'float16', 'ieee', 'bwd_ml', 1024, 64): _C(64, 16, 64, 64, 8, 1, True, True, 1),
    # bwd_held+ml: 243 regs, 16384 B shared, wgmma, 8 warps/SM; M=512 D=64: alu-bound, 12.4x GEMM floor
    ('sm90', 'float16', 'ieee', 'bwd_ml', 1024, None): _C(32, 64, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed+ml: 227 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=2048: mem-bound, 18.6x GEMM floor
    ('sm90', 'float16', 'ieee', 'bwd_ml', None, 128): _C(32, 16, 128, 128, 8, 1, True, True, 1),
    # bwd_held+ml: 251 regs, 16384 B shared, mma, 8 warps/SM; M=8192 D=128: alu-bound, 6.2x GEMM floor
    ('sm90', 'float16', 'ieee', 'bwd_ml', None, 256): _C(32, 16, 16, 512, 8, 1, False, True, 1),
    # bwd_out+ml: 241 regs, 32768 B shared, mma, 8 warps/SM; M=8192 D=256: mem-bound, 7.4x GEMM floor
    ('sm90', 'float16', 'ieee', 'bwd_ml', None, 512): _C(32, 16, 16, 512, 8, 1, False, True, 1),
    # bwd_out+ml: 241 regs, 32768 B shared, mma, 8 warps/SM; M=8192 D=512: mem-bound, 7.3x GEMM floor
    ('sm90', 'float16', 'ieee', 'bwd_ml', None, 64): _C(64, 16, 64, 64, 8, 1, True, True, 1),
    # bwd_held+ml: 243 regs, 16384 B shared, wgmma, 8 warps/SM; M=8192 D=64: alu-bound, 12.4x GEMM floor
    ('sm90', 'float16', 'ieee', 'bwd_ml', None, None): _C(32, 64, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed+ml: 227 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=2048: mem-bound, 18.6x GEMM floor
    ('sm90', 'float16', 'ieee', 'fwd', 1024, 128): _C(128, 16, 128, 0, 8, 1, True, False, 1),
    # fwd_held: 157 regs, 36864 B shared, wgmma, 8 warps/SM; M=512 D=128: alu-bound, 7.7x GEMM floor
    ('sm90', 'float16', 'ieee', 'fwd', 1024, 256): _C(128, 16, 256, 0, 8, 1, True, False, 1),
    # fwd_held: 195 regs, 73728 B shared, wgmma, 8 warps/SM; M=512 D=256: alu-bound, 3.9x GEMM floor
    ('sm90', 'float16', 'ieee', 'fwd', 1024, 512): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 198 regs, 4096 B shared, wgmma, 8 warps/SM; M=512 D=512: mem-bound, 10.4x GEMM floor
    ('sm90', 'float16', 'ieee', 'fwd', 1024, 64): _C(128, 16, 128, 0, 8, 1, True, False, 1),
    # fwd_held: 157 regs, 36864 B shared, wgmma, 8 warps/SM; M=512 D=64: alu-bound, 15.5x GEMM floor
    ('sm90', 'float16', 'ieee', 'fwd', 1024, None): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 198 regs, 4096 B shared, wgmma, 8 warps/SM; M=512 D=2048: mem-bound, 16.5x GEMM floor
    ('sm90', 'float16', 'ieee', 'fwd', None, 128): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 198 regs, 4096 B shared, wgmma, 8 warps/SM; M=8192 D=128: alu-bound, 7.7x GEMM floor
    ('sm90', 'float16', 'ieee', 'fwd', None, 256): _C(128, 16, 256, 0, 8, 1, True, False, 1),
    # fwd_held: 195 regs, 73728 B shared, wgmma, 8 warps/SM; M=8192 D=256: alu-bound, 3.9x GEMM floor
    ('sm90', 'float16', 'ieee', 'fwd', None, 512): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 198 regs, 4096 B shared, wgmma, 8 warps/SM; M=8192 D=512: mem-bound, 5.2x GEMM floor
    ('sm90', 'float16', 'ieee', 'fwd', None, 64): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 198 regs, 4096 B shared, wgmma, 8 warps/SM; M=8192 D=64: alu-bound, 15.5x GEMM floor
    ('sm90', 'float16', 'ieee', 'fwd', None, None): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 198 regs, 4096 B shared, wgmma, 8 warps/SM; M=8192 D=2048: mem-bound, 8.3x GEMM floor
    ('sm90', 'float16', 'ieee', 'fwd_ml', 1024, 128): _C(128, 16, 128, 0, 8, 1, True, False, 1),
    # fwd_held+ml: 185 regs, 40960 B shared, wgmma, 8 warps/SM; M=512 D=128: alu-bound, 7.7x GEMM floor
    ('sm90', 'float16', 'ieee', 'fwd_ml', 1024, 256): _C(128, 16, 256, 0, 8, 1, True, False, 1),
    # fwd_held+ml: 188 regs, 73728 B shared, wgmma, 8 warps/SM; M=512 D=256: alu-bound, 3.9x GEMM floor
    ('sm90', 'float16', 'ieee', 'fwd_ml', 1024, 512): _C(32, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 222 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=512: mem-bound, 9.4x GEMM floor
    ('sm90', 'float16', 'ieee', 'fwd_ml', 1024, 64): _C(32, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 222 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=64: alu-bound, 15.5x GEMM floor
    ('sm90', 'float16', 'ieee', 'fwd_ml', 1024, None): _C(32, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 222 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=2048: mem-bound, 12.4x GEMM floor
    ('sm90', 'float16', 'ieee', 'fwd_ml', None, 128): _C(128, 16, 128, 0, 4, 1, True, False, 2),
    # fwd_held+ml: 255 regs, 40960 B shared, wgmma, 8 warps/SM; M=8192 D=128: alu-bound, 7.7x GEMM floor
    ('sm90', 'float16', 'ieee', 'fwd_ml', None, 256): _C(128, 16, 256, 0, 8, 1, True, False, 1),
    # fwd_held+ml: 188 regs, 73728 B shared, wgmma, 8 warps/SM; M=8192 D=256: alu-bound, 3.9x GEMM floor
    ('sm90', 'float16', 'ieee', 'fwd_ml', None, 512): _C(32, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 222 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=512: mem-bound, 9.4x GEMM floor
    ('sm90', 'float16', 'ieee', 'fwd_ml', None, 64): _C(32, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 222 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=64: alu-bound, 15.5x GEMM floor
    ('sm90', 'float16', 'ieee', 'fwd_ml', None, None): _C(32, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 222 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=2048: mem-bound, 12.4x GEMM floor
    ('sm90', 'float32', 'ieee', 'bwd', 1024, 128): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed: 96 regs, 2048 B shared, none, 16 warps/SM; M=512 D=128: mem-bound, 1.8x GEMM floor
    ('sm90', 'float32', 'ieee', 'bwd', 1024, 256): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed: 96 regs, 2048 B shared, none, 16 warps/SM; M=512 D=256: mem-bound, 1.8x GEMM floor
    ('sm90', 'float32', 'ieee', 'bwd', 1024, 512): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed: 96 regs, 2048 B shared, none, 16 warps/SM; M=512 D=512: mem-bound, 1.8x GEMM floor
    ('sm90', 'float32', 'ieee', 'bwd', 1024, 64): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed: 96 regs, 2048 B shared, none, 16 warps/SM; M=512 D=64: mem-bound, 1.9x GEMM floor
    ('sm90', 'float32', 'ieee', 'bwd', 1024, None): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed: 96 regs, 2048 B shared, none, 16 warps/SM; M=512 D=2048: mem-bound, 2.6x GEMM floor
    ('sm90', 'float32', 'ieee', 'bwd', None, 128): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed: 96 regs, 2048 B shared, none, 16 warps/SM; M=8192 D=128: mem-bound, 1.8x GEMM floor
    ('sm90', 'float32', 'ieee', 'bwd', None, 256): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed: 96 regs, 2048 B shared, none, 16 warps/SM; M=8192 D=256: mem-bound, 1.8x GEMM floor
    ('sm90', 'float32', 'ieee', 'bwd', None, 512): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed: 96 regs, 2048 B shared, none, 16 warps/SM; M=8192 D=512: mem-bound, 1.8x GEMM floor
    ('sm90', 'float32', 'ieee', 'bwd', None, 64): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed: 96 regs, 2048 B shared, none, 16 warps/SM; M=8192 D=64: mem-bound, 1.9x GEMM floor
    ('sm90', 'float32', 'ieee', 'bwd', None, None): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed: 96 regs, 2048 B shared, none, 16 warps/SM; M=8192 D=2048: mem-bound, 2.6x GEMM floor
    ('sm90', 'float32', 'ieee', 'bwd_ml', 1024, 128): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed+ml: 120 regs, 2048 B shared, none, 16 warps/SM; M=512 D=128: mem-bound, 1.8x GEMM floor
    ('sm90', 'float32', 'ieee', 'bwd_ml', 1024, 256): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed+ml: 120 regs, 2048 B shared, none, 16 warps/SM; M=512 D=256: mem-bound, 1.8x GEMM floor
    ('sm90', 'float32', 'ieee', 'bwd_ml', 1024, 512): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed+ml: 120 regs, 2048 B shared, none, 16 warps/SM; M=512 D=512: mem-bound, 1.8x GEMM floor
    ('sm90', 'float32', 'ieee', 'bwd_ml', 1024, 64): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed+ml: 120 regs, 2048 B shared, none, 16 warps/SM; M=512 D=64: mem-bound, 1.9x GEMM floor
    ('sm90', 'float32', 'ieee', 'bwd_ml', 1024, None): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed+ml: 120 regs, 2048 B shared, none, 16 warps/SM; M=512 D=2048: mem-bound, 2.6x GEMM floor
    ('sm90', 'float32', 'ieee', 'bwd_ml', None, 128): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed+ml: 120 regs, 2048 B shared, none, 16 warps/SM; M=8192 D=128: mem-bound, 1.8x GEMM floor
    ('sm90', 'float32', 'ieee', 'bwd_ml', None, 256): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed+ml: 120 regs, 2048 B shared, none, 16 warps/SM; M=8192 D=256: mem-bound, 1.8x GEMM floor
    ('sm90', 'float32', 'ieee', 'bwd_ml', None, 512): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed+ml: 120 regs, 2048 B shared, none, 16 warps/SM; M=8192 D=512: mem-bound, 1.8x GEMM floor
    ('sm90', 'float32', 'ieee', 'bwd_ml', None, 64): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed+ml: 120 regs, 2048 B shared, none, 16 warps/SM; M=8192 D=64: mem-bound, 1.9x GEMM floor
    ('sm90', 'float32', 'ieee', 'bwd_ml', None, None): _C(16, 16, 16, 32, 8, 1, False, False, 2),
    # bwd_streamed+ml: 120 regs, 2048 B shared, none, 16 warps/SM; M=8192 D=2048: mem-bound, 2.6x GEMM floor
    ('sm90', 'float32', 'ieee', 'fwd', 1024, 128): _C(16, 16, 128, 0, 8, 1, True, False, 1),
    # fwd_held: 188 regs, 8192 B shared, none, 8 warps/SM; M=512 D=128: mma-bound, 2.5x GEMM floor
    ('sm90', 'float32', 'ieee', 'fwd', 1024, 256): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 238 regs, 10240 B shared, none, 8 warps/SM; M=512 D=256: mma-bound, 4.6x GEMM floor
    ('sm90', 'float32', 'ieee', 'fwd', 1024, 512): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 238 regs, 10240 B shared, none, 8 warps/SM; M=512 D=512: mma-bound, 4.4x GEMM floor
    ('sm90', 'float32', 'ieee', 'fwd', 1024, 64): _C(64, 16, 64, 0, 8, 1, True, False, 1),
    # fwd_held: 255 regs, 16384 B shared, none, 8 warps/SM; M=512 D=64: mma-bound, 3.0x GEMM floor
    ('sm90', 'float32', 'ieee', 'fwd', 1024, None): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 238 regs, 10240 B shared, none, 8 warps/SM; M=512 D=2048: mma-bound, 4.2x GEMM floor
    ('sm90', 'float32', 'ieee', 'fwd', None, 128): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 238 regs, 10240 B shared, none, 8 warps/SM; M=8192 D=128: mma-bound, 2.5x GEMM floor
    ('sm90', 'float32', 'ieee', 'fwd', None, 256): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 238 regs, 10240 B shared, none, 8 warps/SM; M=8192 D=256: mma-bound, 2.3x GEMM floor
    ('sm90', 'float32', 'ieee', 'fwd', None, 512): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 238 regs, 10240 B shared, none, 8 warps/SM; M=8192 D=512: mma-bound, 2.2x GEMM floor
    ('sm90', 'float32', 'ieee', 'fwd', None, 64): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 238 regs, 10240 B shared, none, 8 warps/SM; M=8192 D=64: mma-bound, 3.0x GEMM floor
    ('sm90', 'float32', 'ieee', 'fwd', None, None): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 238 regs, 10240 B shared, none, 8 warps/SM; M=8192 D=2048: mma-bound, 2.1x GEMM floor
    ('sm90', 'float32', 'ieee', 'fwd_ml', 1024, 128): _C(16, 16, 128, 0, 8, 1, True, False, 1),
    # fwd_held+ml: 179 regs, 8192 B shared, none, 8 warps/SM; M=512 D=128: mma-bound, 2.5x GEMM floor
    ('sm90', 'float32', 'ieee', 'fwd_ml', 1024, 256): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 253 regs, 16384 B shared, none, 8 warps/SM; M=512 D=256: mma-bound, 4.6x GEMM floor
    ('sm90', 'float32', 'ieee', 'fwd_ml', 1024, 512): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 253 regs, 16384 B shared, none, 8 warps/SM; M=512 D=512: mma-bound, 4.4x GEMM floor
    ('sm90', 'float32', 'ieee', 'fwd_ml', 1024, 64): _C(64, 16, 64, 0, 8, 1, True, False, 1),
    # fwd_held+ml: 220 regs, 16384 B shared, none, 8 warps/SM; M=512 D=64: mma-bound, 3.0x GEMM floor
    ('sm90', 'float32', 'ieee', 'fwd_ml', 1024, None): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 253 regs, 16384 B shared, none, 8 warps/SM; M=512 D=2048: mma-bound, 4.2x GEMM floor
    ('sm90', 'float32', 'ieee', 'fwd_ml', None, 128): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 253 regs, 16384 B shared, none, 8 warps/SM; M=8192 D=128: mma-bound, 2.5x GEMM floor
    ('sm90', 'float32', 'ieee', 'fwd_ml', None, 256): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 253 regs, 16384 B shared, none, 8 warps/SM; M=8192 D=256: mma-bound, 2.3x GEMM floor
    ('sm90', 'float32', 'ieee', 'fwd_ml', None, 512): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 253 regs, 16384 B shared, none, 8 warps/SM; M=8192 D=512: mma-bound, 2.2x GEMM floor
    ('sm90', 'float32', 'ieee', 'fwd_ml', None, 64): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 253 regs, 16384 B shared, none, 8 warps/SM; M=8192 D=64: mma-bound, 3.0x GEMM floor
    ('sm90', 'float32', 'ieee', 'fwd_ml', None, None): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 253 regs, 16384 B shared, none, 8 warps/SM; M=8192 D=2048: mma-bound, 2.1x GEMM floor
    ('sm90', 'float32', 'tf32', 'bwd', 1024, 128): _C(32, 32, 16, 256, 8, 1, False, True, 1),
    # bwd_out: 239 regs, 36864 B shared, mma, 8 warps/SM; M=512 D=128: mem-bound, 6.4x GEMM floor
    ('sm90', 'float32', 'tf32', 'bwd', 1024, 256): _C(32, 32, 16, 256, 8, 1, False, True, 1),
    # bwd_out: 239 regs, 36864 B shared, mma, 8 warps/SM; M=512 D=256: mem-bound, 6.3x GEMM floor
    ('sm90', 'float32', 'tf32', 'bwd', 1024, 512): _C(32, 32, 16, 512, 8, 1, False, True, 1),
    # bwd_out: 254 regs, 69632 B shared, mma, 8 warps/SM; M=512 D=512: mem-bound, 6.2x GEMM floor
    ('sm90', 'float32', 'tf32', 'bwd', 1024, 64): _C(64, 16, 64, 64, 8, 1, True, True, 1),
    # bwd_held: 234 regs, 20480 B shared, wgmma, 8 warps/SM; M=512 D=64: alu-bound, 5.8x GEMM floor
    ('sm90', 'float32', 'tf32', 'bwd', 1024, None): _C(64, 64, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed: 233 regs, 16384 B shared, wgmma, 8 warps/SM; M=512 D=2048: mem-bound, 20.6x GEMM floor
    ('sm90', 'float32', 'tf32', 'bwd', None, 128): _C(32, 32, 16, 256, 8, 1, False, True, 1),
    # bwd_out: 239 regs, 36864 B shared, mma, 8 warps/SM; M=8192 D=128: mem-bound, 6.4x GEMM floor
    ('sm90', 'float32', 'tf32', 'bwd', None, 256): _C(32, 32, 16, 256, 8, 1, False, True, 1),
    # bwd_out: 239 regs, 36864 B shared, mma, 8 warps/SM; M=8192 D=256: mem-bound, 6.3x GEMM floor
    ('sm90', 'float32', 'tf32', 'bwd', None, 512): _C(32, 32, 16, 512, 8, 1, False, True, 1),
    # bwd_out: 254 regs, 69632 B shared, mma, 8 warps/SM; M=8192 D=512: mem-bound, 6.2x GEMM floor
    ('sm90', 'float32', 'tf32', 'bwd', None, 64): _C(64, 16, 64, 64, 8, 1, True, True, 1),
    # bwd_held: 234 regs, 20480 B shared, wgmma, 8 warps/SM; M=8192 D=64: alu-bound, 5.8x GEMM floor
    ('sm90', 'float32', 'tf32', 'bwd', None, None): _C(64, 64, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed: 233 regs, 16384 B shared, wgmma, 8 warps/SM; M=8192 D=2048: mem-bound, 10.3x GEMM floor
    ('sm90', 'float32', 'tf32', 'bwd_ml', 1024, 128): _C(32, 32, 16, 256, 8, 1, False, True, 1),
    # bwd_out+ml: 248 regs, 36864 B shared, mma, 8 warps/SM; M=512 D=128: mem-bound, 6.4x GEMM floor
    ('sm90', 'float32', 'tf32', 'bwd_ml', 1024, 256): _C(32, 32, 16, 256, 8, 1, False, True, 1),
    # bwd_out+ml: 248 regs, 36864 B shared, mma, 8 warps/SM; M=512 D=256: mem-bound, 6.3x GEMM floor
    ('sm90', 'float32', 'tf32', 'bwd_ml', 1024, 512): _C(16, 16, 16, 512, 4, 1, False, True, 2),
    # bwd_out+ml: 251 regs, 33792 B shared, mma, 8 warps/SM; M=512 D=512: mem-bound, 12.5x GEMM floor
    ('sm90', 'float32', 'tf32', 'bwd_ml', 1024, 64): _C(64, 16, 64, 64, 8, 1, True, True, 1),
    # bwd_held+ml: 249 regs, 20480 B shared, wgmma, 8 warps/SM; M=512 D=64: alu-bound, 5.8x GEMM floor
    ('sm90', 'float32', 'tf32', 'bwd_ml', 1024, None): _C(32, 64, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed+ml: 245 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=2048: mem-bound, 14.5x GEMM floor
    ('sm90', 'float32', 'tf32', 'bwd_ml', None, 128): _C(32, 32, 16, 256, 8, 1, False, True, 1),
    # bwd_out+ml: 248 regs, 36864 B shared, mma, 8 warps/SM; M=8192 D=128: mem-bound, 6.4x GEMM floor
    ('sm90', 'float32', 'tf32', 'bwd_ml', None, 256): _C(32, 32, 16, 256, 8, 1, False, True, 1),
    # bwd_out+ml: 248 regs, 36864 B shared, mma, 8 warps/SM; M=8192 D=256: mem-bound, 6.3x GEMM floor
    ('sm90', 'float32', 'tf32', 'bwd_ml', None, 512): _C(16, 16, 16, 512, 4, 1, False, True, 2),
    # bwd_out+ml: 251 regs, 33792 B shared, mma, 8 warps/SM; M=8192 D=512: mem-bound, 12.5x GEMM floor
    ('sm90', 'float32', 'tf32', 'bwd_ml', None, 64): _C(64, 16, 64, 64, 8, 1, True, True, 1),
    # bwd_held+ml: 249 regs, 20480 B shared, wgmma, 8 warps/SM; M=8192 D=64: alu-bound, 5.8x GEMM floor
    ('sm90', 'float32', 'tf32', 'bwd_ml', None, None): _C(32, 64, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed+ml: 245 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=2048: mem-bound, 14.5x GEMM floor
    ('sm90', 'float32', 'tf32', 'fwd', 1024, 128): _C(128, 16, 128, 0, 8, 1, True, False, 1),
    # fwd_held: 166 regs, 73728 B shared, wgmma, 8 warps/SM; M=512 D=128: alu-bound, 3.9x GEMM floor
    ('sm90', 'float32', 'tf32', 'fwd', 1024, 256): _C(64, 16, 256, 0, 4, 1, True, False, 2),
    # fwd_held: 202 regs, 81920 B shared, wgmma, 8 warps/SM; M=512 D=256: mem-bound, 4.2x GEMM floor
    ('sm90', 'float32', 'tf32', 'fwd', 1024, 512): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 252 regs, 8192 B shared, wgmma, 8 warps/SM; M=512 D=512: mem-bound, 16.5x GEMM floor
    ('sm90', 'float32', 'tf32', 'fwd', 1024, 64): _C(128, 16, 128, 0, 8, 1, True, False, 1),
    # fwd_held: 166 regs, 73728 B shared, wgmma, 8 warps/SM; M=512 D=64: alu-bound, 7.7x GEMM floor
    ('sm90', 'float32', 'tf32', 'fwd', 1024, None): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 252 regs, 8192 B shared, wgmma, 8 warps/SM; M=512 D=2048: mem-bound, 16.5x GEMM floor
    ('sm90', 'float32', 'tf32', 'fwd', None, 128): _C(128, 16, 128, 0, 8, 1, True, False, 1),
    # fwd_held: 166 regs, 73728 B shared, wgmma, 8 warps/SM; M=8192 D=128: alu-bound, 3.9x GEMM floor
    ('sm90', 'float32', 'tf32', 'fwd', None, 256): _C(64, 16, 256, 0, 4, 1, True, False, 2),
    # fwd_held: 202 regs, 81920 B shared, wgmma, 8 warps/SM; M=8192 D=256: mem-bound, 4.2x GEMM floor
    ('sm90', 'float32', 'tf32', 'fwd', None, 512): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 252 regs, 8192 B shared, wgmma, 8 warps/SM; M=8192 D=512: mem-bound, 8.3x GEMM floor
    ('sm90', 'float32', 'tf32', 'fwd', None, 64): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 252 regs, 8192 B shared, wgmma, 8 warps/SM; M=8192 D=64: alu-bound, 7.7x GEMM floor
    ('sm90', 'float32', 'tf32', 'fwd', None, None): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 252 regs, 8192 B shared, wgmma, 8 warps/SM; M=8192 D=2048: mem-bound, 8.3x GEMM floor
    ('sm90', 'float32', 'tf32', 'fwd_ml', 1024, 128): _C(128, 16, 128, 0, 8, 1, True, False, 1),
    # fwd_held+ml: 184 regs, 73728 B shared, wgmma, 8 warps/SM; M=512 D=128: alu-bound, 3.9x GEMM floor
    ('sm90', 'float32', 'tf32', 'fwd_ml', 1024, 256): _C(64, 16, 256, 0, 4, 1, True, False, 2),
    # fwd_held+ml: 195 regs, 81920 B shared, wgmma, 8 warps/SM; M=512 D=256: mem-bound, 4.2x GEMM floor
    ('sm90', 'float32', 'tf32', 'fwd_ml', 1024, 512): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 252 regs, 16384 B shared, wgmma, 8 warps/SM; M=512 D=512: mem-bound, 20.6x GEMM floor
    ('sm90', 'float32', 'tf32', 'fwd_ml', 1024, 64): _C(128, 16, 128, 0, 8, 1, True, False, 1),
    # fwd_held+ml: 184 regs, 73728 B shared, wgmma, 8 warps/SM; M=512 D=64: alu-bound, 7.7x GEMM floor
    ('sm90', 'float32', 'tf32', 'fwd_ml', 1024, None): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 252 regs, 16384 B shared, wgmma, 8 warps/SM; M=512 D=2048: mem-bound, 20.6x GEMM floor
    ('sm90', 'float32', 'tf32', 'fwd_ml', None, 128): _C(128, 16, 128, 0, 4, 1, True, False, 2),
    # fwd_held+ml: 255 regs, 73728 B shared, wgmma, 8 warps/SM; M=8192 D=128: alu-bound, 3.9x GEMM floor
    ('sm90', 'float32', 'tf32', 'fwd_ml', None, 256): _C(64, 16, 256, 0, 4, 1, True, False, 2),
    # fwd_held+ml: 195 regs, 81920 B shared, wgmma, 8 warps/SM; M=8192 D=256: mem-bound, 4.2x GEMM floor
    ('sm90', 'float32', 'tf32', 'fwd_ml', None, 512): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 252 regs, 16384 B shared, wgmma, 8 warps/SM; M=8192 D=512: mem-bound, 10.3x GEMM floor
    ('sm90', 'float32', 'tf32', 'fwd_ml', None, 64): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 252 regs, 16384 B shared, wgmma, 8 warps/SM; M=8192 D=64: alu-bound, 7.7x GEMM floor
    ('sm90', 'float32', 'tf32', 'fwd_ml', None, None): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 252 regs, 16384 B shared, wgmma, 8 warps/SM; M=8192 D=2048: mem-bound, 10.3x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'bwd', 1024, 128): _C(32, 16, 16, 256, 8, 1, False, True, 1),
    # bwd_out: 244 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=128: mma-bound, 15.5x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'bwd', 1024, 256): _C(32, 16, 16, 256, 8, 1, False, True, 1),
    # bwd_out: 244 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=256: mma-bound, 10.3x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'bwd', 1024, 512): _C(16, 16, 16, 512, 8, 1, False, True, 1),
    # bwd_out: 201 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=512: mem-bound, 12.5x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'bwd', 1024, 64): _C(16, 16, 64, 64, 4, 1, True, True, 2),
    # bwd_held: 249 regs, 4096 B shared, mma, 8 warps/SM; M=512 D=64: mem-bound, 11.2x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'bwd', 1024, None): _C(16, 16, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed: 157 regs, 2048 B shared, mma, 8 warps/SM; M=512 D=2048: mem-bound, 41.3x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'bwd', None, 128): _C(32, 16, 16, 256, 8, 1, False, True, 1),
    # bwd_out: 244 regs, 32768 B shared, mma, 8 warps/SM; M=8192 D=128: mma-bound, 15.5x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'bwd', None, 256): _C(32, 16, 16, 256, 8, 1, False, True, 1),
    # bwd_out: 244 regs, 32768 B shared, mma, 8 warps/SM; M=8192 D=256: mma-bound, 10.3x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'bwd', None, 512): _C(16, 16, 16, 512, 8, 1, False, True, 1),
    # bwd_out: 201 regs, 32768 B shared, mma, 8 warps/SM; M=8192 D=512: mem-bound, 12.5x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'bwd', None, 64): _C(16, 16, 64, 64, 4, 1, True, True, 2),
    # bwd_held: 249 regs, 4096 B shared, mma, 8 warps/SM; M=8192 D=64: mem-bound, 11.2x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'bwd', None, None): _C(16, 16, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed: 157 regs, 2048 B shared, mma, 8 warps/SM; M=8192 D=2048: mem-bound, 41.3x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'bwd_ml', 1024, 128): _C(32, 16, 16, 256, 8, 1, False, True, 1),
    # bwd_out+ml: 246 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=128: mma-bound, 15.5x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'bwd_ml', 1024, 256): _C(32, 16, 16, 256, 8, 1, False, True, 1),
    # bwd_out+ml: 246 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=256: mma-bound, 10.3x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'bwd_ml', 1024, 512): _C(16, 16, 16, 512, 8, 1, False, True, 1),
    # bwd_out+ml: 207 regs, 32768 B shared, mma, 8 warps/SM; M=512 D=512: mem-bound, 12.5x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'bwd_ml', 1024, 64): _C(16, 16, 64, 64, 4, 1, True, True, 2),
    # bwd_held+ml: 247 regs, 4096 B shared, mma, 8 warps/SM; M=512 D=64: mem-bound, 11.2x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'bwd_ml', 1024, None): _C(16, 16, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed+ml: 160 regs, 2048 B shared, mma, 8 warps/SM; M=512 D=2048: mem-bound, 41.3x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'bwd_ml', None, 128): _C(32, 16, 16, 256, 8, 1, False, True, 1),
    # bwd_out+ml: 246 regs, 32768 B shared, mma, 8 warps/SM; M=8192 D=128: mma-bound, 15.5x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'bwd_ml', None, 256): _C(32, 16, 16, 256, 8, 1, False, True, 1),
    # bwd_out+ml: 246 regs, 32768 B shared, mma, 8 warps/SM; M=8192 D=256: mma-bound, 10.3x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'bwd_ml', None, 512): _C(16, 16, 16, 512, 8, 1, False, True, 1),
    # bwd_out+ml: 207 regs, 32768 B shared, mma, 8 warps/SM; M=8192 D=512: mem-bound, 12.5x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'bwd_ml', None, 64): _C(16, 16, 64, 64, 4, 1, True, True, 2),
    # bwd_held+ml: 247 regs, 4096 B shared, mma, 8 warps/SM; M=8192 D=64: mem-bound, 11.2x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'bwd_ml', None, None): _C(16, 16, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed+ml: 160 regs, 2048 B shared, mma, 8 warps/SM; M=8192 D=2048: mem-bound, 41.3x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'fwd', 1024, 128): _C(64, 16, 128, 0, 8, 1, True, False, 1),
    # fwd_held: 255 regs, 32768 B shared, wgmma, 8 warps/SM; M=512 D=128: mma-bound, 6.2x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'fwd', 1024, 256): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 254 regs, 8192 B shared, wgmma, 8 warps/SM; M=512 D=256: mma-bound, 12.4x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'fwd', 1024, 512): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 254 regs, 8192 B shared, wgmma, 8 warps/SM; M=512 D=512: mem-bound, 16.5x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'fwd', 1024, 64): _C(128, 16, 64, 0, 8, 1, True, False, 1),
    # fwd_held: 231 regs, 32768 B shared, wgmma, 8 warps/SM; M=512 D=64: alu-bound, 7.7x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'fwd', 1024, None): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 254 regs, 8192 B shared, wgmma, 8 warps/SM; M=512 D=2048: mem-bound, 16.5x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'fwd', None, 128): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 254 regs, 8192 B shared, wgmma, 8 warps/SM; M=8192 D=128: mma-bound, 6.2x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'fwd', None, 256): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 254 regs, 8192 B shared, wgmma, 8 warps/SM; M=8192 D=256: mma-bound, 6.2x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'fwd', None, 512): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 254 regs, 8192 B shared, wgmma, 8 warps/SM; M=8192 D=512: mem-bound, 8.3x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'fwd', None, 64): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 254 regs, 8192 B shared, wgmma, 8 warps/SM; M=8192 D=64: alu-bound, 7.7x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'fwd', None, None): _C(64, 64, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 254 regs, 8192 B shared, wgmma, 8 warps/SM; M=8192 D=2048: mem-bound, 8.3x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'fwd_ml', 1024, 128): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 254 regs, 16384 B shared, wgmma, 8 warps/SM; M=512 D=128: mma-bound, 12.4x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'fwd_ml', 1024, 256): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 254 regs, 16384 B shared, wgmma, 8 warps/SM; M=512 D=256: mem-bound, 20.7x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'fwd_ml', 1024, 512): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 254 regs, 16384 B shared, wgmma, 8 warps/SM; M=512 D=512: mem-bound, 20.6x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'fwd_ml', 1024, 64): _C(128, 16, 64, 0, 8, 1, True, False, 1),
    # fwd_held+ml: 251 regs, 32768 B shared, wgmma, 8 warps/SM; M=512 D=64: alu-bound, 7.7x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'fwd_ml', 1024, None): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 254 regs, 16384 B shared, wgmma, 8 warps/SM; M=512 D=2048: mem-bound, 20.6x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'fwd_ml', None, 128): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 254 regs, 16384 B shared, wgmma, 8 warps/SM; M=8192 D=128: mma-bound, 6.2x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'fwd_ml', None, 256): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 254 regs, 16384 B shared, wgmma, 8 warps/SM; M=8192 D=256: mem-bound, 10.3x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'fwd_ml', None, 512): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 254 regs, 16384 B shared, wgmma, 8 warps/SM; M=8192 D=512: mem-bound, 10.3x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'fwd_ml', None, 64): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 254 regs, 16384 B shared, wgmma, 8 warps/SM; M=8192 D=64: alu-bound, 7.7x GEMM floor
    ('sm90', 'float32', 'tf32x3', 'fwd_ml', None, None): _C(128, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 254 regs, 16384 B shared, wgmma, 8 warps/SM; M=8192 D=2048: mem-bound, 10.3x GEMM floor
    ('sm90', 'float64', 'ieee', 'bwd', 1024, 128): _C(16, 16, 16, 256, 4, 1, False, True, 2),
    # bwd_out: 255 regs, 34816 B shared, mma, 8 warps/SM; M=512 D=128: mem-bound, 3.2x GEMM floor
    ('sm90', 'float64', 'ieee', 'bwd', 1024, 256): _C(16, 16, 16, 256, 4, 1, False, True, 2),
    # bwd_out: 255 regs, 34816 B shared, mma, 8 warps/SM; M=512 D=256: mem-bound, 3.2x GEMM floor
    ('sm90', 'float64', 'ieee', 'bwd', 1024, 512): _C(16, 16, 16, 512, 8, 1, False, True, 1),
    # bwd_out: 253 regs, 67584 B shared, mma, 8 warps/SM; M=512 D=512: mem-bound, 3.1x GEMM floor
    ('sm90', 'float64', 'ieee', 'bwd', 1024, 64): _C(32, 32, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed: 252 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=64: mem-bound, 3.7x GEMM floor
    ('sm90', 'float64', 'ieee', 'bwd', 1024, None): _C(32, 32, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed: 252 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=2048: mem-bound, 5.2x GEMM floor
    ('sm90', 'float64', 'ieee', 'bwd', None, 128): _C(16, 16, 16, 256, 4, 1, False, True, 2),
    # bwd_out: 255 regs, 34816 B shared, mma, 8 warps/SM; M=8192 D=128: mem-bound, 3.2x GEMM floor
    ('sm90', 'float64', 'ieee', 'bwd', None, 256): _C(16, 16, 16, 256, 4, 1, False, True, 2),
    # bwd_out: 255 regs, 34816 B shared, mma, 8 warps/SM; M=8192 D=256: mem-bound, 3.2x GEMM floor
    ('sm90', 'float64', 'ieee', 'bwd', None, 512): _C(16, 16, 16, 512, 8, 1, False, True, 1),
    # bwd_out: 253 regs, 67584 B shared, mma, 8 warps/SM; M=8192 D=512: mem-bound, 3.1x GEMM floor
    ('sm90', 'float64', 'ieee', 'bwd', None, 64): _C(32, 32, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed: 252 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=64: mem-bound, 3.7x GEMM floor
    ('sm90', 'float64', 'ieee', 'bwd', None, None): _C(32, 32, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed: 252 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=2048: mem-bound, 5.2x GEMM floor
    ('sm90', 'float64', 'ieee', 'bwd_ml', 1024, 128): _C(16, 16, 16, 256, 8, 1, False, True, 1),
    # bwd_out+ml: 254 regs, 34816 B shared, mma, 8 warps/SM; M=512 D=128: mem-bound, 3.2x GEMM floor
    ('sm90', 'float64', 'ieee', 'bwd_ml', 1024, 256): _C(16, 16, 16, 256, 8, 1, False, True, 1),
    # bwd_out+ml: 254 regs, 34816 B shared, mma, 8 warps/SM; M=512 D=256: mem-bound, 3.2x GEMM floor
    ('sm90', 'float64', 'ieee', 'bwd_ml', 1024, 512): _C(16, 16, 16, 512, 8, 1, False, True, 1),
    # bwd_out+ml: 252 regs, 67584 B shared, mma, 8 warps/SM; M=512 D=512: mem-bound, 3.1x GEMM floor
    ('sm90', 'float64', 'ieee', 'bwd_ml', 1024, 64): _C(16, 16, 64, 64, 4, 1, True, True, 2),
    # bwd_held+ml: 255 regs, 8192 B shared, mma, 8 warps/SM; M=512 D=64: mem-bound, 2.8x GEMM floor
    ('sm90', 'float64', 'ieee', 'bwd_ml', 1024, None): _C(16, 64, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed+ml: 255 regs, 16384 B shared, mma, 8 warps/SM; M=512 D=2048: mem-bound, 5.7x GEMM floor
    ('sm90', 'float64', 'ieee', 'bwd_ml', None, 128): _C(16, 16, 16, 256, 8, 1, False, True, 1),
    # bwd_out+ml: 254 regs, 34816 B shared, mma, 8 warps/SM; M=8192 D=128: mem-bound, 3.2x GEMM floor
    ('sm90', 'float64', 'ieee', 'bwd_ml', None, 256): _C(16, 16, 16, 256, 8, 1, False, True, 1),
    # bwd_out+ml: 254 regs, 34816 B shared, mma, 8 warps/SM; M=8192 D=256: mem-bound, 3.2x GEMM floor
    ('sm90', 'float64', 'ieee', 'bwd_ml', None, 512): _C(16, 16, 16, 512, 8, 1, False, True, 1),
    # bwd_out+ml: 252 regs, 67584 B shared, mma, 8 warps/SM; M=8192 D=512: mem-bound, 3.1x GEMM floor
    ('sm90', 'float64', 'ieee', 'bwd_ml', None, 64): _C(16, 16, 64, 64, 4, 1, True, True, 2),
    # bwd_held+ml: 255 regs, 8192 B shared, mma, 8 warps/SM; M=8192 D=64: mem-bound, 2.8x GEMM floor
    ('sm90', 'float64', 'ieee', 'bwd_ml', None, None): _C(16, 64, 16, 32, 8, 1, False, False, 1),
    # bwd_streamed+ml: 255 regs, 16384 B shared, mma, 8 warps/SM; M=8192 D=2048: mem-bound, 5.7x GEMM floor
    ('sm90', 'float64', 'ieee', 'fwd', 1024, 128): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 240 regs, 12288 B shared, mma, 8 warps/SM; M=512 D=128: mma-bound, 2.1x GEMM floor
    ('sm90', 'float64', 'ieee', 'fwd', 1024, 256): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 240 regs, 12288 B shared, mma, 8 warps/SM; M=512 D=256: mem-bound, 3.1x GEMM floor
    ('sm90', 'float64', 'ieee', 'fwd', 1024, 512): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 240 regs, 12288 B shared, mma, 8 warps/SM; M=512 D=512: mem-bound, 3.1x GEMM floor
    ('sm90', 'float64', 'ieee', 'fwd', 1024, 64): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 240 regs, 12288 B shared, mma, 8 warps/SM; M=512 D=64: alu-bound, 3.2x GEMM floor
    ('sm90', 'float64', 'ieee', 'fwd', 1024, None): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 240 regs, 12288 B shared, mma, 8 warps/SM; M=512 D=2048: mem-bound, 3.1x GEMM floor
    ('sm90', 'float64', 'ieee', 'fwd', None, 128): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 240 regs, 12288 B shared, mma, 8 warps/SM; M=8192 D=128: mma-bound, 2.1x GEMM floor
    ('sm90', 'float64', 'ieee', 'fwd', None, 256): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 240 regs, 12288 B shared, mma, 8 warps/SM; M=8192 D=256: mem-bound, 3.1x GEMM floor
    ('sm90', 'float64', 'ieee', 'fwd', None, 512): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 240 regs, 12288 B shared, mma, 8 warps/SM; M=8192 D=512: mem-bound, 3.1x GEMM floor
    ('sm90', 'float64', 'ieee', 'fwd', None, 64): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 240 regs, 12288 B shared, mma, 8 warps/SM; M=8192 D=64: alu-bound, 3.2x GEMM floor
    ('sm90', 'float64', 'ieee', 'fwd', None, None): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed: 240 regs, 12288 B shared, mma, 8 warps/SM; M=8192 D=2048: mem-bound, 3.1x GEMM floor
    ('sm90', 'float64', 'ieee', 'fwd_ml', 1024, 128): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 255 regs, 16384 B shared, mma, 8 warps/SM; M=512 D=128: mma-bound, 2.1x GEMM floor
    ('sm90', 'float64', 'ieee', 'fwd_ml', 1024, 256): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 255 regs, 16384 B shared, mma, 8 warps/SM; M=512 D=256: mem-bound, 3.1x GEMM floor
    ('sm90', 'float64', 'ieee', 'fwd_ml', 1024, 512): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 255 regs, 16384 B shared, mma, 8 warps/SM; M=512 D=512: mem-bound, 3.1x GEMM floor
    ('sm90', 'float64', 'ieee', 'fwd_ml', 1024, 64): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 255 regs, 16384 B shared, mma, 8 warps/SM; M=512 D=64: alu-bound, 3.2x GEMM floor
    ('sm90', 'float64', 'ieee', 'fwd_ml', 1024, None): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 255 regs, 16384 B shared, mma, 8 warps/SM; M=512 D=2048: mem-bound, 3.1x GEMM floor
    ('sm90', 'float64', 'ieee', 'fwd_ml', None, 128): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 255 regs, 16384 B shared, mma, 8 warps/SM; M=8192 D=128: mma-bound, 2.1x GEMM floor
    ('sm90', 'float64', 'ieee', 'fwd_ml', None, 256): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 255 regs, 16384 B shared, mma, 8 warps/SM; M=8192 D=256: mem-bound, 3.1x GEMM floor
    ('sm90', 'float64', 'ieee', 'fwd_ml', None, 512): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 255 regs, 16384 B shared, mma, 8 warps/SM; M=8192 D=512: mem-bound, 3.1x GEMM floor
    ('sm90', 'float64', 'ieee', 'fwd_ml', None, 64): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 255 regs, 16384 B shared, mma, 8 warps/SM; M=8192 D=64: alu-bound, 3.2x GEMM floor
    ('sm90', 'float64', 'ieee', 'fwd_ml', None, None): _C(64, 32, 16, 0, 8, 1, False, False, 1),
    # fwd_streamed+ml: 255 regs, 16384 B shared, mma, 8 warps/SM; M=8192 D=2048: mem-bound, 3.1x GEMM floor
}
# END GENERATED TABLE


def _bucket(x: int, bounds) -> Optional[int]:
    for b in bounds:
        if b is None or x <= b:
            return b
    raise AssertionError(bounds)


def conr_tiles(arch: str, dtype: str, precision: str, role: str, m: int, d: int) -> ConrTiles:
    """The table's entry for a launch of ``role`` on ``[m, d]`` features of ``dtype`` (``precision``
    is normalised to ``"ieee"`` for every dtype but fp32) on an ``arch`` family GPU."""
    if dtype != "float32":
        precision = "ieee"
    key = (arch, dtype, precision, role, _bucket(m, M_BUCKETS), _bucket(d, D_BUCKETS))
    try:
        return CONFIGS[key]
    except KeyError:
        raise KeyError(f"internal error: no ConR config for {key} in dirfast/kernels/conr_table.py; "
                       "re-run `python -m dirfast.kernels._sweep conr`") from None


@functools.lru_cache(maxsize=None)
def _family_of_index(index: int) -> str:
    import torch

    try:
        major, _ = torch.cuda.get_device_capability(index)
    except (AssertionError, RuntimeError):  # a CPU build of torch (fake CUDA tensors in the tests)
        return "sm80"
    # Hopper: wgmma tiles; every other part (Ampere, Ada, Blackwell) takes the sm80 family's
    # mma.sync tiles, which fit 99 KB of shared memory
    return "sm90" if major == 9 else "sm80"


def arch_family(device) -> str:
    """``"sm90"`` on a Hopper GPU, else ``"sm80"`` (CPU tensors under the interpreter included);
    the capability is read once per device index (cached)."""
    import torch

    dev = torch.device(device)
    if dev.type != "cuda":
        return "sm80"
    return _family_of_index(dev.index if dev.index is not None else torch.cuda.current_device())


def split_for(m: int, block_m: int, block_n: int, slots: int) -> int:
    """The column split ``s`` (programs ``cdiv(m, block_m)·s``, each over ``cdiv(m, block_n)/s``
    column tiles) that best fills ``slots`` resident programs (``SMs × blocks_per_sm``): the
    smallest ``s ≤ min(cdiv(m, block_n), 4·cdiv(slots, rows))`` maximising the wave utilisation
    ``rows·s / (cdiv(rows·s, slots)·slots)``."""
    rows = max(-(-m // block_m), 1)
    best, best_u = 1, 0.0
    for s in range(1, min(-(-m // block_n), 4 * -(-slots // rows)) + 1):
        p = rows * s
        u = p / (-(-p // slots) * slots)
        if u > best_u + 1e-9:
            best, best_u = s, u
    return best


def table_key(base_key: Tuple, family: str, tiles: ConrTiles) -> Tuple:
    """The registry key of a table config: the kernel module's own key for the variant (dtype,
    precision, ``PUSH_EXP``, ``ONE_CHUNK`` [, ``ONE_OUT``]) + the family and the tiles."""
    return tuple(base_key) + (family,) + tuple(tiles[:6])


def with_tiles(base: Callable[..., KernelConfig], family: str, dtype: str, precision: str,
               role: str, push_exp: bool, tiles: ConrTiles, **extra) -> KernelConfig:
    """The config ``base`` (the kernel module's builder: ``_fwd_config(dtype, precision, push_exp,
    one_chunk)`` or ``_bwd_config(..., one_chunk, one_out)``) builds for the variant, with the
    table's tiles, warps and stages, the family's architectures and the tensor-core promise.
    Raises if the kernel's constexprs no longer have the tiles' names (the table and the kernel
    disagree: re-run the sweep). ``extra``: further keyword arguments of ``base`` (a kernel
    variant the key records, e.g. ``multi=True``)."""
    cfg = base(dtype, precision, push_exp, tiles.one_chunk, **extra) if role.startswith("fwd") else \
        base(dtype, precision, push_exp, tiles.one_chunk, tiles.one_out, **extra)
    names = {"BLOCK_M": tiles.block_m, "BLOCK_N": tiles.block_n, "BLOCK_D": tiles.block_d}
    if role.startswith("bwd"):
        names["BLOCK_DO"] = tiles.block_do
    missing = sorted(set(names) - set(cfg.constexprs))
    if missing:
        raise ValueError(f"ConR {role} kernel has no constexpr {missing}: the table no longer "
                         "matches the kernel's signature")
    return dataclasses.replace(
        cfg, key=table_key(cfg.key, family, tiles), constexprs={**cfg.constexprs, **names},
        num_warps=tiles.num_warps, num_stages=tiles.num_stages,
        tensor_cores=(dtype, precision) in TENSOR_CORE, archs=FAMILY_ARCHS[family])


def entries() -> Iterator[Tuple[Tuple, ConrTiles]]:
    return iter(sorted(CONFIGS.items(), key=lambda kv: str(kv[0])))


def table_configs(fwd_base: Callable[..., KernelConfig], bwd_base: Callable[..., KernelConfig],
                  push_exp=(True, False), roles=ROLES) -> Tuple[List[KernelConfig], List[KernelConfig]]:
    """The entries of ``roles`` as registry configs ``(forward, backward)``, once per distinct
    (family, variant, tiles) and per ``PUSH_EXP`` value, each built with its role's
    ``ROLE_EXTRAS``; the kernel module registers them (``register(_conr_fwd_kernel, fwd)``,
    ``register(_conr_bwd_kernel, bwd)``)."""
    out: Dict[str, Dict[Tuple, KernelConfig]] = {"fwd": {}, "bwd": {}}
    for (family, dtype, precision, role, _, _), tiles in entries():
        if role not in roles:
            continue
        kern = role.split("_")[0]
        for px in push_exp:
            cfg = with_tiles(fwd_base if kern == "fwd" else bwd_base, family, dtype, precision,
                             role, px, tiles, **ROLE_EXTRAS[role])
            out[kern][cfg.key] = cfg
    return list(out["fwd"].values()), list(out["bwd"].values())
