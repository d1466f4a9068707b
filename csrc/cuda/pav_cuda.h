// dirfast — CUDA PAV entry points (csrc/cuda/pav.cu), C ABI, no CUDA or torch headers needed.
//
// Every function returns 0 on success or a cudaError_t code (> 0; text: dirfast_cuda_error_string)
// or -1 for a bad argument; nothing is thrown across this boundary. All work is enqueued on
// `stream` (a cudaStream_t as an integer; 0 = legacy default stream); nothing synchronises.
//
// Buffers are device pointers. Layouts: x, out, g: [rows, n] contiguous (dtype 0 = float32,
// 1 = float64); block_start: int64 [rows, n] (may be 0 in dirfast_pav_cuda: not written);
// flag: one int32; workspace: dirfast_pav_workspace_bytes(rows, n, chunk) bytes, 256-aligned.
#pragma once

#include <cstdint>

extern "C" {

// Number of visible devices; any cudaGetDeviceCount error (no driver: 35) gives 0.
int dirfast_cuda_device_count();

const char* dirfast_cuda_error_string(int code);

// Scratch bytes needed by dirfast_pav_cuda and dirfast_pav_block_mean_cuda for these sizes
// (chunk 0 = automatic, the same rule as the kernels).
std::int64_t dirfast_pav_workspace_bytes(std::int64_t rows, std::int64_t n, std::int64_t chunk);

// Rows of n <= kPavRowMax (csrc/pav/pav_core.h): ONE kernel, one block per row (pair test, then
// the identity write or the whole PAV); the flag is zeroed by a memset first when rows > 1 (one
// block stores 0 or 1 itself). Longer rows: flag <- 0 (memset); gap kernel (identity output and
// block_start = i for every element, flag <- 1 if some adjacent pair satisfies the merge rule);
// then chunk PAV (one thread per (row, chunk)), one seam launch per tree level (one thread per
// (row, seam)), last-start per (row, chunk), scan (one block per row), write per (row, chunk):
// each of these returns at once when *flag == 0. Afterwards *flag != 0 iff some row pooled.
// perm (may be null): [rows, n] int64 row-local permutation; the value of sorted position i is
// written to out[perm_i] (soft rank's scatter to the original order) instead of out[i];
// block_start stays in sorted order.
int dirfast_pav_cuda(int dtype, int mode, const void* x, std::int64_t rows, std::int64_t n,
                     double eps, void* out, std::int64_t* block_start, std::int64_t chunk,
                     std::int32_t* flag, void* workspace, std::uintptr_t stream,
                     const std::int64_t* perm);

// The VJP of the PAV output from the forward's block_start and flag. With v_i = g_i (mode 0) or
// g[perm_i] (mode 1: g in the original order) and m_i the fp64 mean of v over i's block:
// out[p_i] = T(m_i) (mode 0) or (v_i - T(m_i))/T(eps) (mode 1), p_i = perm_i when perm is given
// (required in mode 1) else i. *flag == 0 (all singletons): m_i = v_i exactly. Rows of
// n <= kPavRowMax: one kernel (one block per row); longer rows: pieces per chunk, per-block
// combine, per-element write. No memset.
int dirfast_pav_vjp_cuda(int dtype, int mode, const void* g, const std::int64_t* perm,
                         const std::int64_t* block_start, std::int64_t rows, std::int64_t n,
                         double eps, void* out, const std::int32_t* flag, void* workspace,
                         std::uintptr_t stream);

// out[i] = mean of g over i's block (= dirfast_pav_vjp_cuda, mode 0, no perm). flag: the
// forward's flag (0 = all blocks singletons: out = g).
int dirfast_pav_block_mean_cuda(int dtype, const void* g, const std::int64_t* block_start,
                                std::int64_t rows, std::int64_t n, void* out,
                                const std::int32_t* flag, void* workspace, std::uintptr_t stream);
}
