// dirfast — CUDA kernels of the PAV behind soft_sort / soft_rank / Dist Loss.
//
// CUDA runtime only (no torch headers). Every kernel calls the DIRFAST_HOST_DEVICE functions of
// csrc/pav/pav_core.h, in the decomposition that the CPU "grid" driver (csrc/pav.cpp, run_grid)
// replays on the CPU in the same order; built with --fmad=false and IEEE division, so the device
// arithmetic is the host's. No kernel depends on the order in which its threads or blocks run:
// chunk threads touch disjoint ranges, seams of one level join disjoint ranges, and the only
// shared write (the flag) stores a constant (or, with one block, the block's own value).
//
// Two shapes of the same decomposition (pav_row_path in pav_core.h picks by row length):
// * rows of n <= kPavRowMax: ONE launch per call, one block of kRowThreads per row. The block
//   tests its row's pairs (__syncthreads_or); a row where no pair merges writes the hard-sort
//   output and returns; a pooling row runs chunk PAV, the seam levels, last starts, the carry
//   scan and the write, __syncthreads between steps (the block state lives in the global
//   workspace, each row its own slice). The VJP is one launch too: pieces, per-block combine,
//   per-element write, with soft rank's gather / epilogue / scatter folded in.
// * longer rows: rows x chunks (chunk PAV, last start, write), rows x seams per level, one block
//   of kScanThreads per row for the carry scan, rows x n for the element-wise kernels: never one
//   thread for a whole long row. Every kernel after the gap check returns at once on *flag == 0,
//   so the pooling path costs only launches when nothing pools (no host sync).
#include <cuda_runtime.h>

#include <cstdint>

#include "../pav/pav_core.h"
#include "pav_cuda.h"

namespace {

using dirfast::pav::PavWs;
namespace pv = dirfast::pav;

constexpr int kThreads = 256;
constexpr int kScanThreads = 256;  // = kScanThreads in csrc/pav.cpp (grid driver)
constexpr int kRowThreads = 256;   // = kRowThreads in csrc/pav.cpp (grid driver)

inline std::int64_t align256(std::int64_t b) { return (b + 255) / 256 * 256; }

struct Layout {
  std::int64_t C, nc;
  std::int64_t off_oe, off_bsum, off_carry, off_end, total;      // pav
  std::int64_t off_psum, off_pcnt, total_bm;                    // block mean
};

Layout layout(std::int64_t rows, std::int64_t n, std::int64_t chunk) {
  Layout L;
  L.C = chunk > 0 ? (chunk < n ? chunk : n) : pv::pav_gpu_auto_chunk(rows, n);
  L.nc = pv::pav_num_chunks(n, L.C);
  const std::int64_t e = rows * n;
  L.off_oe = 0;
  L.off_bsum = align256(L.off_oe + 8 * e);
  L.off_carry = align256(L.off_bsum + 8 * e);
  L.off_end = align256(L.off_carry + 8 * rows * L.nc);
  L.total = align256(L.off_end + e);
  L.off_psum = 0;
  L.off_pcnt = align256(8 * e);
  L.total_bm = align256(L.off_pcnt + 8 * e);
  return L;
}

__device__ __forceinline__ PavWs row_ws(char* ws, const Layout& L, std::int64_t n,
                                        std::int64_t r) {
  return PavWs{reinterpret_cast<std::int64_t*>(ws + L.off_oe) + r * n,
               reinterpret_cast<double*>(ws + L.off_bsum) + r * n,
               reinterpret_cast<std::uint8_t*>(ws + L.off_end) + r * n};
}

__device__ __forceinline__ std::int64_t gtid() {
  return std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
}

unsigned grid_for(std::int64_t count) {
  std::int64_t b = (count + kThreads - 1) / kThreads;
  if (b < 1) b = 1;
  if (b > 0x7fffffff) b = 0x7fffffff;
  return unsigned(b);
}

// 1. identity output + flag.
template <typename T>
__global__ void k_gap(const T* __restrict__ X, std::int64_t rows, std::int64_t n, double eps,
                      double half, int mode, T* __restrict__ OUT, std::int64_t* BS,
                      const std::int64_t* PERM, std::int32_t* flag) {
  const std::int64_t total = rows * n;
  for (std::int64_t t = gtid(); t < total; t += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t r = rows == 1 ? 0 : t / n, i = t - r * n;  // no 64-bit divide for one row
    const T* x = X + r * n;
    pv::pav_identity_write(x, i, i + 1, eps, mode, OUT + r * n, BS ? BS + r * n : nullptr,
                           PERM ? PERM + r * n : nullptr);
    if (i + 1 < n && pv::pav_pair_merges(x[i], x[i + 1], half, mode)) *flag = 1;
  }
}

// 2. chunk PAV, one thread per (row, chunk).
template <typename T>
__global__ void k_chunk(const T* __restrict__ X, std::int64_t rows, std::int64_t n, Layout L,
                        double half, int mode, char* ws, const std::int32_t* flag) {
  if (*flag == 0) return;
  const std::int64_t t = gtid();
  if (t >= rows * L.nc) return;
  const std::int64_t r = t / L.nc, k = t - r * L.nc;
  const std::int64_t lo = k * L.C, hi = lo + L.C < n ? lo + L.C : n;
  pv::pav_chunk(X + r * n, lo, hi, half, mode, row_ws(ws, L, n, r));
}

// 3. seams of tree level `level`, one thread per (row, seam).
__global__ void k_seam(std::int64_t rows, std::int64_t n, Layout L, int level, std::int64_t ns,
                       double half, int mode, char* ws, const std::int32_t* flag) {
  if (*flag == 0) return;
  const std::int64_t t = gtid();
  if (t >= rows * ns) return;
  const std::int64_t r = t / ns, j = t - r * ns;
  std::int64_t a, m, b;
  pv::pav_seam_range(n, L.C, level, j, a, m, b);
  pv::pav_seam(a, m, b, half, mode, row_ws(ws, L, n, r));
}

// 4a. last block start per (row, chunk).
__global__ void k_last_start(std::int64_t rows, std::int64_t n, Layout L, char* ws,
                             const std::int32_t* flag) {
  if (*flag == 0) return;
  const std::int64_t t = gtid();
  if (t >= rows * L.nc) return;
  const std::int64_t r = t / L.nc, k = t - r * L.nc;
  const std::int64_t lo = k * L.C, hi = lo + L.C < n ? lo + L.C : n;
  reinterpret_cast<std::int64_t*>(ws + L.off_carry)[t] =
      pv::pav_chunk_last_start(lo, hi, row_ws(ws, L, n, r).is_end);
}

// 4b. exclusive max-scan of a row's carries: one block of kScanThreads per row; thread th owns
// a contiguous piece of `per` carries (reduce, scan of the piece maxima, scan-apply).
__global__ void k_scan(std::int64_t n, Layout L, char* ws, const std::int32_t* flag) {
  if (*flag == 0) return;
  __shared__ std::int64_t part[kScanThreads];
  const std::int64_t r = blockIdx.x;
  std::int64_t* c = reinterpret_cast<std::int64_t*>(ws + L.off_carry) + r * L.nc;
  const std::int64_t per = (L.nc + kScanThreads - 1) / kScanThreads;
  const std::int64_t th = threadIdx.x;
  std::int64_t lo = th * per;
  lo = lo < L.nc ? lo : L.nc;
  const std::int64_t hi = lo + per < L.nc ? lo + per : L.nc;
  part[th] = pv::pav_reduce_max(c + lo, hi - lo, -1);
  __syncthreads();
  if (th == 0) pv::pav_scan_max(part, kScanThreads, 0);
  __syncthreads();
  pv::pav_scan_max(c + lo, hi - lo, part[th]);
}

// 4c. values and block starts per (row, chunk).
template <typename T>
__global__ void k_write(const T* __restrict__ X, std::int64_t rows, std::int64_t n, Layout L,
                        double eps, int mode, char* ws, T* OUT, std::int64_t* BS,
                        const std::int64_t* PERM, const std::int32_t* flag) {
  if (*flag == 0) return;
  const std::int64_t t = gtid();
  if (t >= rows * L.nc) return;
  const std::int64_t r = t / L.nc, k = t - r * L.nc;
  const std::int64_t lo = k * L.C, hi = lo + L.C < n ? lo + L.C : n;
  const std::int64_t carry = reinterpret_cast<const std::int64_t*>(ws + L.off_carry)[t];
  pv::pav_chunk_write(X + r * n, lo, hi, carry, eps, mode, row_ws(ws, L, n, r), OUT + r * n,
                      BS ? BS + r * n : nullptr, PERM ? PERM + r * n : nullptr);
}

// VJP (block mean), long rows: pieces per (row, chunk); combine per block start; write per
// element. The summand of sorted position i is v_i = G[i] (mode 0) or G[PERM[i]] (mode 1: the
// incoming gradient is in the original order); the result of i goes to OUT[PERM[i]] when PERM is
// given (else OUT[i]): soft sort's T(mean), soft rank's (v_i - T(mean))/T(eps).
template <typename T>
__global__ void k_bm_pieces(const T* G, const std::int64_t* BS, const std::int64_t* PERM,
                            std::int64_t rows, std::int64_t n, Layout L, int mode, char* ws,
                            const std::int32_t* flag) {
  if (*flag == 0) return;
  const std::int64_t t = gtid();
  if (t >= rows * L.nc) return;
  const std::int64_t r = t / L.nc, k = t - r * L.nc;
  const std::int64_t lo = k * L.C, hi = lo + L.C < n ? lo + L.C : n;
  pv::pav_bm_pieces(G + r * n, BS + r * n, lo, hi,
                    reinterpret_cast<double*>(ws + L.off_psum) + r * n,
                    reinterpret_cast<std::int64_t*>(ws + L.off_pcnt) + r * n,
                    mode == pv::kRank ? PERM + r * n : nullptr);
}

__global__ void k_bm_block(const std::int64_t* BS, std::int64_t rows, std::int64_t n, Layout L,
                           char* ws, const std::int32_t* flag) {
  if (*flag == 0) return;
  const std::int64_t total = rows * n;
  for (std::int64_t t = gtid(); t < total; t += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t r = rows == 1 ? 0 : t / n, i = t - r * n;  // no 64-bit divide for one row
    if (BS[t] != i) continue;
    pv::pav_bm_block(BS + r * n, i, n, L.C, reinterpret_cast<double*>(ws + L.off_psum) + r * n,
                     reinterpret_cast<const std::int64_t*>(ws + L.off_pcnt) + r * n);
  }
}

template <typename T>
__global__ void k_bm_write(const T* G, const std::int64_t* BS, const std::int64_t* PERM,
                           std::int64_t rows, std::int64_t n, Layout L, double eps, int mode,
                           const char* ws, T* OUT, const std::int32_t* flag) {
  const bool pooled = *flag != 0;
  const std::int64_t total = rows * n;
  const double* psum = reinterpret_cast<const double*>(ws + L.off_psum);
  for (std::int64_t t = gtid(); t < total; t += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t r = rows == 1 ? 0 : t / n, base = r * n;
    const std::int64_t p = PERM ? PERM[t] : t - base;  // row-local
    const T v = G[mode == pv::kRank ? base + p : t];
    const std::int64_t dst = base + p;
    if (!pooled) {
      OUT[dst] = pv::pav_vjp_identity(v, eps, mode);
      continue;
    }
    OUT[dst] = pv::pav_vjp_value(v, psum[base + pv::pav_clamp_index(BS[t], n)], eps, mode);
  }
}

// ---- one block per row (n <= kPavRowMax) ------------------------------------------------------

// The whole PAV of a row: pair test, then the identity write or every step of the decomposition
// with __syncthreads between them. Flag: rows == 1 (one block) stores 0 or 1 itself (no memset);
// more rows: memset to 0 before the launch, a pooling row stores 1.
template <typename T>
__global__ void __launch_bounds__(kRowThreads, 1)
    k_row_pav(const T* __restrict__ X, std::int64_t rows, std::int64_t n, Layout L, double eps,
              double half, int mode, T* OUT, std::int64_t* BS, const std::int64_t* PERM,
              std::int32_t* flag, char* ws) {
  __shared__ std::int64_t part[kRowThreads];
  const std::int64_t r = blockIdx.x;
  const int th = threadIdx.x;
  const T* x = X + r * n;
  T* out = OUT + r * n;
  std::int64_t* bs = BS ? BS + r * n : nullptr;
  const std::int64_t* perm = PERM ? PERM + r * n : nullptr;
  int local = 0;
  for (std::int64_t i = th; i + 1 < n; i += kRowThreads)
    local |= int(pv::pav_pair_merges(x[i], x[i + 1], half, mode));
  const bool any = __syncthreads_or(local) != 0;
  if (th == 0 && (rows == 1 || any)) *flag = any ? 1 : 0;
  if (!any) {
    for (std::int64_t i = th; i < n; i += kRowThreads)
      pv::pav_identity_write(x, i, i + 1, eps, mode, out, bs, perm);
    return;
  }
  const PavWs w = row_ws(ws, L, n, r);
  const std::int64_t C = L.C, nc = L.nc;
  for (std::int64_t k = th; k < nc; k += kRowThreads)
    pv::pav_chunk(x, k * C, k * C + C < n ? k * C + C : n, half, mode, w);
  __syncthreads();
  const int levels = pv::pav_num_levels(n, C);
  for (int lv = 0; lv < levels; ++lv) {
    const std::int64_t ns = pv::pav_num_seams(n, C, lv);
    for (std::int64_t j = th; j < ns; j += kRowThreads) {
      std::int64_t a, m, b;
      pv::pav_seam_range(n, C, lv, j, a, m, b);
      pv::pav_seam(a, m, b, half, mode, w);
    }
    __syncthreads();
  }
  std::int64_t* carry = reinterpret_cast<std::int64_t*>(ws + L.off_carry) + r * nc;
  for (std::int64_t k = th; k < nc; k += kRowThreads)
    carry[k] = pv::pav_chunk_last_start(k * C, k * C + C < n ? k * C + C : n, w.is_end);
  __syncthreads();
  // exclusive max-scan of the carries (as k_scan): thread th owns a contiguous piece
  const std::int64_t per = (nc + kRowThreads - 1) / kRowThreads;
  const std::int64_t plo = std::int64_t(th) * per < nc ? std::int64_t(th) * per : nc;
  const std::int64_t phi = plo + per < nc ? plo + per : nc;
  part[th] = pv::pav_reduce_max(carry + plo, phi - plo, -1);
  __syncthreads();
  if (th == 0) pv::pav_scan_max(part, kRowThreads, 0);
  __syncthreads();
  pv::pav_scan_max(carry + plo, phi - plo, part[th]);
  __syncthreads();
  for (std::int64_t k = th; k < nc; k += kRowThreads)
    pv::pav_chunk_write(x, k * C, k * C + C < n ? k * C + C : n, carry[k], eps, mode, w, out, bs,
                        perm);
}

// The VJP of a row (k_bm_* in one launch): *flag == 0: the identity form; else pieces per chunk,
// per-block combine, per-element write (the same calls and summation order as k_bm_*).
template <typename T>
__global__ void __launch_bounds__(kRowThreads, 1)
    k_row_vjp(const T* G, const std::int64_t* BS, const std::int64_t* PERM, std::int64_t n,
              Layout L, double eps, int mode, T* OUT, const std::int32_t* flag, char* ws) {
  const std::int64_t r = blockIdx.x;
  const int th = threadIdx.x;
  const T* g = G + r * n;
  const std::int64_t* bs = BS + r * n;
  const std::int64_t* perm = PERM ? PERM + r * n : nullptr;
  const std::int64_t* gperm = mode == pv::kRank ? perm : nullptr;  // summands gathered
  T* out = OUT + r * n;
  if (*flag == 0) {
    for (std::int64_t i = th; i < n; i += kRowThreads) {
      const std::int64_t p = perm ? perm[i] : i;
      out[p] = pv::pav_vjp_identity(g[gperm ? p : i], eps, mode);
    }
    return;
  }
  double* psum = reinterpret_cast<double*>(ws + L.off_psum) + r * n;
  std::int64_t* pcnt = reinterpret_cast<std::int64_t*>(ws + L.off_pcnt) + r * n;
  const std::int64_t C = L.C;
  for (std::int64_t k = th; k < L.nc; k += kRowThreads)
    pv::pav_bm_pieces(g, bs, k * C, k * C + C < n ? k * C + C : n, psum, pcnt, gperm);
  __syncthreads();
  for (std::int64_t i = th; i < n; i += kRowThreads)
    if (bs[i] == i) pv::pav_bm_block(bs, i, n, C, psum, pcnt);
  __syncthreads();
  for (std::int64_t i = th; i < n; i += kRowThreads) {
    const std::int64_t p = perm ? perm[i] : i;
    out[p] = pv::pav_vjp_value(g[gperm ? p : i], psum[pv::pav_clamp_index(bs[i], n)], eps, mode);
  }
}

unsigned elem_grid(std::int64_t total) {
  std::int64_t b = (total + kThreads - 1) / kThreads;
  if (b > 65536) b = 65536;  // grid-stride beyond this
  if (b < 1) b = 1;
  return unsigned(b);
}

#define DIRFAST_LAUNCH_CHECK()                 \
  do {                                         \
    const cudaError_t e_ = cudaGetLastError(); \
    if (e_ != cudaSuccess) return int(e_);     \
  } while (0)

template <typename T>
int pav_impl(int mode, const T* x, std::int64_t rows, std::int64_t n, double eps, T* out,
             std::int64_t* bs, const std::int64_t* perm, std::int64_t chunk, std::int32_t* flag,
             char* ws, cudaStream_t st) {
  const Layout L = layout(rows, n, chunk);
  const double half = pv::pav_half(eps, mode);
  if (pv::pav_row_path(n)) {
    if (rows > 1) {  // one block stores the flag itself
      const cudaError_t e = cudaMemsetAsync(flag, 0, sizeof(std::int32_t), st);
      if (e != cudaSuccess) return int(e);
    }
    k_row_pav<T><<<unsigned(rows), kRowThreads, 0, st>>>(x, rows, n, L, eps, half, mode, out, bs,
                                                          perm, flag, ws);
    DIRFAST_LAUNCH_CHECK();
    return 0;
  }
  cudaError_t e = cudaMemsetAsync(flag, 0, sizeof(std::int32_t), st);
  if (e != cudaSuccess) return int(e);
  k_gap<T><<<elem_grid(rows * n), kThreads, 0, st>>>(x, rows, n, eps, half, mode, out, bs, perm,
                                                      flag);
  DIRFAST_LAUNCH_CHECK();
  const unsigned gc = grid_for(rows * L.nc);
  k_chunk<T><<<gc, kThreads, 0, st>>>(x, rows, n, L, half, mode, ws, flag);
  DIRFAST_LAUNCH_CHECK();
  const int levels = pv::pav_num_levels(n, L.C);
  for (int lv = 0; lv < levels; ++lv) {
    const std::int64_t ns = pv::pav_num_seams(n, L.C, lv);
    k_seam<<<grid_for(rows * ns), kThreads, 0, st>>>(rows, n, L, lv, ns, half, mode, ws, flag);
    DIRFAST_LAUNCH_CHECK();
  }
  k_last_start<<<gc, kThreads, 0, st>>>(rows, n, L, ws, flag);
  DIRFAST_LAUNCH_CHECK();
  k_scan<<<unsigned(rows), kScanThreads, 0, st>>>(n, L, ws, flag);
  DIRFAST_LAUNCH_CHECK();
  k_write<T><<<gc, kThreads, 0, st>>>(x, rows, n, L, eps, mode, ws, out, bs, perm, flag);
  DIRFAST_LAUNCH_CHECK();
  return 0;
}

template <typename T>
int vjp_impl(int mode, const T* g, const std::int64_t* perm, const std::int64_t* bs,
             std::int64_t rows, std::int64_t n, double eps, T* out, const std::int32_t* flag,
             char* ws, cudaStream_t st) {
  const Layout L = layout(rows, n, 0);
  if (pv::pav_row_path(n)) {
    k_row_vjp<T><<<unsigned(rows), kRowThreads, 0, st>>>(g, bs, perm, n, L, eps, mode, out, flag,
                                                          ws);
    DIRFAST_LAUNCH_CHECK();
    return 0;
  }
  k_bm_pieces<T><<<grid_for(rows * L.nc), kThreads, 0, st>>>(g, bs, perm, rows, n, L, mode, ws,
                                                              flag);
  DIRFAST_LAUNCH_CHECK();
  k_bm_block<<<elem_grid(rows * n), kThreads, 0, st>>>(bs, rows, n, L, ws, flag);
  DIRFAST_LAUNCH_CHECK();
  k_bm_write<T><<<elem_grid(rows * n), kThreads, 0, st>>>(g, bs, perm, rows, n, L, eps, mode, ws,
                                                           out, flag);
  DIRFAST_LAUNCH_CHECK();
  return 0;
}

}  // namespace

extern "C" {

int dirfast_cuda_device_count() {
  int c = 0;
  if (cudaGetDeviceCount(&c) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky-free error state
    return 0;
  }
  return c;
}

const char* dirfast_cuda_error_string(int code) {
  if (code == -1) return "invalid argument";
  return cudaGetErrorString(cudaError_t(code));
}

std::int64_t dirfast_pav_workspace_bytes(std::int64_t rows, std::int64_t n, std::int64_t chunk) {
  if (rows <= 0 || n <= 0 || chunk < 0) return 0;
  const Layout L = layout(rows, n, chunk);
  const Layout B = layout(rows, n, 0);
  return L.total > B.total_bm ? L.total : B.total_bm;
}

int dirfast_pav_cuda(int dtype, int mode, const void* x, std::int64_t rows, std::int64_t n,
                     double eps, void* out, std::int64_t* block_start, std::int64_t chunk,
                     std::int32_t* flag, void* workspace, std::uintptr_t stream,
                     const std::int64_t* perm) {
  if (rows == 0) return 0;
  if (rows < 0 || n < 1 || chunk < 0 || !x || !out || !flag || !workspace ||
      (mode != 0 && mode != 1) || rows > 0x7fffffff)
    return -1;
  cudaStream_t st = reinterpret_cast<cudaStream_t>(stream);
  char* ws = static_cast<char*>(workspace);
  if (dtype == 0)
    return pav_impl<float>(mode, static_cast<const float*>(x), rows, n, eps,
                           static_cast<float*>(out), block_start, perm, chunk, flag, ws, st);
  if (dtype == 1)
    return pav_impl<double>(mode, static_cast<const double*>(x), rows, n, eps,
                            static_cast<double*>(out), block_start, perm, chunk, flag, ws, st);
  return -1;
}

int dirfast_pav_vjp_cuda(int dtype, int mode, const void* g, const std::int64_t* perm,
                         const std::int64_t* block_start, std::int64_t rows, std::int64_t n,
                         double eps, void* out, const std::int32_t* flag, void* workspace,
                         std::uintptr_t stream) {
  if (rows == 0) return 0;
  if (rows < 0 || n < 1 || !g || !block_start || !out || !flag || !workspace ||
      (mode != 0 && mode != 1) || (mode == 1 && !perm) || rows > 0x7fffffff)
    return -1;
  cudaStream_t st = reinterpret_cast<cudaStream_t>(stream);
  char* ws = static_cast<char*>(workspace);
  if (dtype == 0)
    return vjp_impl<float>(mode, static_cast<const float*>(g), perm, block_start, rows, n, eps,
                           static_cast<float*>(out), flag, ws, st);
  if (dtype == 1)
    return vjp_impl<double>(mode, static_cast<const double*>(g), perm, block_start, rows, n, eps,
                            static_cast<double*>(out), flag, ws, st);
  return -1;
}

int dirfast_pav_block_mean_cuda(int dtype, const void* g, const std::int64_t* block_start,
                                std::int64_t rows, std::int64_t n, void* out,
                                const std::int32_t* flag, void* workspace,
                                std::uintptr_t stream) {
  return dirfast_pav_vjp_cuda(dtype, 0, g, nullptr, block_start, rows, n, 1.0, out, flag,
                              workspace, stream);
}

}  // extern "C"
