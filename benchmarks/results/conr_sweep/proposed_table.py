# produced by `python -m dirfast.kernels._sweep conr --from-csv` on 2026-12-05 (no GPU: AOT compiles + roofline)
# key: (family, dtype, precision, role, m_bucket, d_bucket) -> _C(block_m, block_n, block_d, block_do, num_warps, num_stages, one_chunk, one_out, blocks_per_sm)
CONFIGS = {
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
