// dirfast — the one PAV (pool adjacent violators) core behind soft_sort / soft_rank.
//
// Torch-free, header-only, every function DIRFAST_HOST_DEVICE: the CPU driver (csrc/pav.cpp) and
// the CUDA kernels (csrc/cuda/pav.cu) call exactly these functions, so the CPU "simulated grid"
// driver reproduces the GPU decomposition operation for operation.
//
// Math (docs/distloss_softsort.md §2.3/2.4/2.7/2.8), per row, x sorted ascending (length n,
// float or double), eps > 0. A block B is a contiguous index range [f, l] with length
// L = l - f + 1 (int64) and sum S = Σ_{i∈B} x_i (double). m_B = S/L, c_B = f + (L-1)/2.
//   mode 0 (soft sort): merge adjacent B1 < B2 iff  m2 - m1 >= (L1 + L2) * (0.5/eps)
//                       value  ŝ_i = m_B + (i - c_B)/eps
//   mode 1 (soft rank): merge adjacent B1 < B2 iff  m2 - m1 <= (L1 + L2) * (0.5*eps)
//                       value  r_i = (c_B + 1) + (x_i - m_B)/eps     (1-based ranks)
// Both are iso_nondecreasing(u) (PAV, ties pool) on u_i = i/eps - x_i (sort) and
// u_i = x_i/eps - (i+1) (rank), written without any O(n/eps) quantity: (i - c_B) and c_B + 1 are
// formed exactly from integers (2(i-f) - (L-1), 2f + L + 1, halved), never i/eps or n/eps.
//
// Block state, per row, in three element-indexed arrays (the workspace, PavWs):
//   oe[j]     int64   at a block's first element: index of its last; at its last: of its first
//                     (a singleton: oe[j] = j); interior entries are stale and never read
//   bsum[j]   double  S of the block, valid at the block's first element
//   is_end[j] uint8   1 iff j is the last element of a block (kept exact for every j)
// All indices are row-relative (0..n-1). A row's work is decomposed as on the GPU:
//   1. chunks [kC, min((k+1)C, n)) solved independently by the stack PAV (pav_chunk);
//   2. a tree of seam merges: level t joins segments of length C·2^t pairwise (pav_seam); seams
//      of one level touch disjoint ranges, so they run in parallel; pooled blocks of a segment
//      are never split in the solution of a longer range, so only the blocks at the seam move;
//   3. expansion: per chunk the last block start (pav_chunk_last_start), an exclusive max-scan
//      over the chunks of a row (the carry-in block start), then per element the value and the
//      block start (pav_chunk_write).
// The fast path (no adjacent pair of singletons satisfies the merge rule: pav_pair_merges false
// for all i) gives singleton blocks; pav_value with f = i, L = 1, m = x_i/1 is then exactly what
// the full PAV writes, so both paths give identical bits.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#ifndef DIRFAST_HOST_DEVICE
#define DIRFAST_HOST_DEVICE __host__ __device__ __forceinline__
#endif
#else
#ifndef DIRFAST_HOST_DEVICE
#define DIRFAST_HOST_DEVICE inline
#endif
#endif

namespace dirfast {
namespace pav {

enum Mode : int { kSort = 0, kRank = 1 };

// Per-row workspace pointers (row-relative indexing, n entries each).
struct PavWs {
  std::int64_t* oe;
  double* bsum;
  std::uint8_t* is_end;
};

// The merge-rule constant: 0.5/eps (sort) or 0.5*eps (rank). Computed once per call, so every
// path (fast check, chunk, seam) compares against the same double.
DIRFAST_HOST_DEVICE double pav_half(double eps, int mode) {
  return mode == kSort ? 0.5 / eps : 0.5 * eps;
}

// Merge rule for adjacent blocks (S1, L1) < (S2, L2). NaN compares false: never merges.
// Block mean S/L; a singleton skips the (exact) division by 1: same bits, no divide.
DIRFAST_HOST_DEVICE double pav_mean(double S, std::int64_t L) {
  return L == 1 ? S : S / double(L);
}

DIRFAST_HOST_DEVICE bool pav_merges(double S1, std::int64_t L1, double S2, std::int64_t L2,
                                    double half, int mode) {
  const double d = pav_mean(S2, L2) - pav_mean(S1, L1);
  const double t = double(L1 + L2) * half;
  return mode == kSort ? (d >= t) : (d <= t);
}

// The rule on two singletons x_i, x_{i+1} (exactly pav_merges(x_i, 1, x_{i+1}, 1)).
template <typename T>
DIRFAST_HOST_DEVICE bool pav_pair_merges(T a, T b, double half, int mode) {
  return pav_merges(double(a), 1, double(b), 1, half, mode);
}

// Output of element i (row index) in the block [f, f+L) with mean m (= S/L), element value xi.
DIRFAST_HOST_DEVICE double pav_value(double xi, std::int64_t i, std::int64_t f, std::int64_t L,
                                     double m, double eps, int mode) {
  // Singletons: d = i - c_B = 0 and 0/eps = +0; x_i - m is +0 or NaN and (+0 or NaN)/eps is
  // itself, so the division is skipped with identical bits.
  if (L == 1) return mode == kSort ? m + 0.0 : double(i + 1) + (xi - m);
  if (mode == kSort) {
    const double d = double(2 * (i - f) - (L - 1)) * 0.5;  // i - c_B, exact
    return m + d / eps;
  }
  const double c1 = double(2 * f + L + 1) * 0.5;  // c_B + 1, exact
  return c1 + (xi - m) / eps;
}

// Stack PAV over [lo, hi) of one row: writes oe / bsum / is_end for the blocks of the chunk.
// Amortised O(hi - lo); blocks never cross lo or hi.
template <typename T>
DIRFAST_HOST_DEVICE void pav_chunk(const T* x, std::int64_t lo, std::int64_t hi, double half,
                                   int mode, PavWs ws) {
  for (std::int64_t i = lo; i < hi; ++i) {
    std::int64_t f = i;
    double S = double(x[i]);
    while (f > lo) {
      const std::int64_t pl = f - 1;
      const std::int64_t pf = ws.oe[pl];
      const double Sp = ws.bsum[pf];
      if (!pav_merges(Sp, pl - pf + 1, S, i - f + 1, half, mode)) break;
      ws.is_end[pl] = 0;
      S = Sp + S;
      f = pf;
    }
    ws.oe[f] = i;
    ws.oe[i] = f;
    ws.bsum[f] = S;
    ws.is_end[i] = 1;
  }
}

// Merge the solved segments [a, m) and [m, b) (a < m < b): pool the two blocks at the seam while
// the rule holds, then keep testing the grown block against its left neighbour (first) and its
// right neighbour until neither merges. Other adjacent pairs are unchanged and already satisfy
// the rule's negation, so the result is the PAV solution of [a, b). O(#merges).
DIRFAST_HOST_DEVICE void pav_seam(std::int64_t a, std::int64_t m, std::int64_t b, double half,
                                  int mode, PavWs ws) {
  const std::int64_t ll = m - 1;
  const std::int64_t lf = ws.oe[ll];
  const std::int64_t rl = ws.oe[m];
  const double S1 = ws.bsum[lf];
  const double S2 = ws.bsum[m];
  if (!pav_merges(S1, ll - lf + 1, S2, rl - m + 1, half, mode)) return;
  ws.is_end[ll] = 0;
  std::int64_t f = lf, l = rl;
  double S = S1 + S2;
  for (;;) {
    if (f > a) {
      const std::int64_t pl = f - 1;
      const std::int64_t pf = ws.oe[pl];
      const double Sp = ws.bsum[pf];
      if (pav_merges(Sp, pl - pf + 1, S, l - f + 1, half, mode)) {
        ws.is_end[pl] = 0;
        S = Sp + S;
        f = pf;
        continue;
      }
    }
    if (l + 1 < b) {
      const std::int64_t nf = l + 1;
      const std::int64_t nl = ws.oe[nf];
      const double Sn = ws.bsum[nf];
      if (pav_merges(S, l - f + 1, Sn, nl - nf + 1, half, mode)) {
        ws.is_end[l] = 0;
        S = S + Sn;
        l = nl;
        continue;
      }
    }
    break;
  }
  ws.oe[f] = l;
  ws.oe[l] = f;
  ws.bsum[f] = S;
}

// Tree geometry: number of seam levels and seams of a level for n elements in chunks of C.
DIRFAST_HOST_DEVICE std::int64_t pav_num_chunks(std::int64_t n, std::int64_t C) {
  return (n + C - 1) / C;
}
DIRFAST_HOST_DEVICE int pav_num_levels(std::int64_t n, std::int64_t C) {
  int t = 0;
  for (std::int64_t seg = C; seg < n; seg *= 2) ++t;
  return t;
}
// Seams of level t: j = 0 .. count-1 join [a, m) and [m, b) with seg = C·2^t, a = 2j·seg,
// m = a + seg, b = min(a + 2·seg, n); count = number of odd-indexed segments.
DIRFAST_HOST_DEVICE std::int64_t pav_num_seams(std::int64_t n, std::int64_t C, int t) {
  const std::int64_t seg = C << t;
  return ((n + seg - 1) / seg) / 2;
}
DIRFAST_HOST_DEVICE void pav_seam_range(std::int64_t n, std::int64_t C, int t, std::int64_t j,
                                        std::int64_t& a, std::int64_t& m, std::int64_t& b) {
  const std::int64_t seg = C << t;
  a = 2 * j * seg;
  m = a + seg;
  b = a + 2 * seg < n ? a + 2 * seg : n;
}

// Expansion step 1: the largest block start in [lo, hi) (a start: j == 0 or is_end[j-1]),
// or -1 if the whole chunk continues a block begun earlier.
DIRFAST_HOST_DEVICE std::int64_t pav_chunk_last_start(std::int64_t lo, std::int64_t hi,
                                                      const std::uint8_t* is_end) {
  for (std::int64_t j = hi - 1; j >= lo; --j)
    if (j == 0 || is_end[j - 1]) return j;
  return -1;
}

// Expansion step 2 (sequential piece): carry[k] <- max(init, carry[0..k-1]) for k in [0, cnt);
// returns the running max including carry[cnt-1]. The max is exact, so splitting a row's chunk
// list into pieces (the GPU does) gives the same result.
DIRFAST_HOST_DEVICE std::int64_t pav_scan_max(std::int64_t* carry, std::int64_t cnt,
                                              std::int64_t init) {
  std::int64_t run = init;
  for (std::int64_t k = 0; k < cnt; ++k) {
    const std::int64_t v = carry[k];
    carry[k] = run;
    run = v > run ? v : run;
  }
  return run;
}
DIRFAST_HOST_DEVICE std::int64_t pav_reduce_max(const std::int64_t* carry, std::int64_t cnt,
                                                std::int64_t init) {
  std::int64_t run = init;
  for (std::int64_t k = 0; k < cnt; ++k) run = carry[k] > run ? carry[k] : run;
  return run;
}

// Expansion step 3: values and block starts of [lo, hi); `start` = the block start in force at
// lo (the carry-in; ignored when lo is itself a start). block_start may be null. perm (null or
// the row's permutation, x_i = theta[perm_i]): the value of i goes to out[perm_i] instead of
// out[i] (soft rank's scatter back to the original order; block_start stays in sorted order).
template <typename T>
DIRFAST_HOST_DEVICE void pav_chunk_write(const T* x, std::int64_t lo, std::int64_t hi,
                                         std::int64_t start, double eps, int mode, PavWs ws,
                                         T* out, std::int64_t* block_start,
                                         const std::int64_t* perm = nullptr) {
  std::int64_t f = -1, L = 1;
  double m = 0.0;
  for (std::int64_t i = lo; i < hi; ++i) {
    if (i == 0 || ws.is_end[i - 1]) start = i;
    if (start != f) {
      f = start;
      L = ws.oe[f] - f + 1;
      m = pav_mean(ws.bsum[f], L);
    }
    out[perm ? perm[i] : i] = T(pav_value(double(x[i]), i, f, L, m, eps, mode));
    if (block_start) block_start[i] = f;
  }
}

// Fast path (all singletons) for [lo, hi): identical bits to pav_chunk_write on singleton blocks.
// perm as in pav_chunk_write.
template <typename T>
DIRFAST_HOST_DEVICE void pav_identity_write(const T* x, std::int64_t lo, std::int64_t hi,
                                            double eps, int mode, T* out,
                                            std::int64_t* block_start,
                                            const std::int64_t* perm = nullptr) {
  for (std::int64_t i = lo; i < hi; ++i) {
    const double xi = double(x[i]);
    out[perm ? perm[i] : i] = T(pav_value(xi, i, i, 1, xi, eps, mode));
    if (block_start) block_start[i] = i;
  }
}

// Does any pair (i, i+1), lo <= i < min(hi, n-1), satisfy the merge rule?
template <typename T>
DIRFAST_HOST_DEVICE bool pav_any_pair(const T* x, std::int64_t lo, std::int64_t hi,
                                      std::int64_t n, double half, int mode) {
  const std::int64_t e = hi < n - 1 ? hi : n - 1;
  bool any = false;
  for (std::int64_t i = lo; i < e; ++i) any |= pav_pair_merges(x[i], x[i + 1], half, mode);
  return any;
}

// ---- block mean (L2 isotonic VJP): out[i] = mean of g over i's block ---------------------------
// Chunked form (GPU, and the CPU grid driver): a piece is the part of a block inside one chunk.
// Step 1 (per chunk [lo, hi)): psum[p] = Σ g, pcnt[p] = count over each piece starting at p.
// perm (null or the row's permutation): the summand of i is g[perm_i] (soft rank's gather of the
// incoming gradient into sorted order) instead of g[i].
template <typename T>
DIRFAST_HOST_DEVICE void pav_bm_pieces(const T* g, const std::int64_t* bs, std::int64_t lo,
                                       std::int64_t hi, double* psum, std::int64_t* pcnt,
                                       const std::int64_t* perm = nullptr) {
  std::int64_t p = lo;
  double s = 0.0;
  for (std::int64_t i = lo; i < hi; ++i) {
    if (i > lo && bs[i] != bs[i - 1]) {
      psum[p] = s;
      pcnt[p] = i - p;
      p = i;
      s = 0.0;
    }
    s += double(g[perm ? perm[i] : i]);
  }
  psum[p] = s;
  pcnt[p] = hi - p;
}
// Step 2 (per block start f, bs[f] == f): add the pieces of the block (at f and at every chunk
// boundary inside it, in order) and store the mean in psum[f].
DIRFAST_HOST_DEVICE void pav_bm_block(const std::int64_t* bs, std::int64_t f, std::int64_t n,
                                      std::int64_t C, double* psum, const std::int64_t* pcnt) {
  double s = psum[f];
  std::int64_t cnt = pcnt[f];
  for (std::int64_t b = (f / C + 1) * C; b < n && bs[b] == f; b += C) {
    s += psum[b];
    cnt += pcnt[b];
  }
  psum[f] = s / double(cnt);
}
// Step 3 (per element): out[i] = psum[bs[i]] (bs clamped into [0, n-1] for memory safety).
DIRFAST_HOST_DEVICE std::int64_t pav_clamp_index(std::int64_t v, std::int64_t n) {
  return v < 0 ? 0 : (v >= n ? n - 1 : v);
}
// The VJP of element i from its block mean `mean` (double, as psum holds it) and its summand
// v = g_i (mode 0) or g[perm_i] (mode 1), in T: soft sort T(mean); soft rank (v - T(mean))/T(eps)
// (the order and roundings of the CPU paths' `(g - bm) / eps` in T).
template <typename T>
DIRFAST_HOST_DEVICE T pav_vjp_value(T v, double mean, double eps, int mode) {
  if (mode == kSort) return T(mean);
  const T d = v - T(mean);
  return d / T(eps);
}
// The same when nothing pooled (every block a singleton, mean = v exactly): v, or (v - v)/eps
// (0, or NaN for a non-finite v, as the pooled formula gives).
template <typename T>
DIRFAST_HOST_DEVICE T pav_vjp_identity(T v, double eps, int mode) {
  if (mode == kSort) return v;
  const T d = v - v;
  return d / T(eps);
}

// Rows up to this length run as one CUDA block per row (csrc/cuda/pav.cu: k_row_pav,
// k_row_vjp; every step of the decomposition below in one launch, __syncthreads between steps);
// longer rows take one launch per step (chunk PAV, each tree level, expansion). The CPU grid
// driver (csrc/pav.cpp) follows the same rule. The arithmetic is the same either way.
constexpr std::int64_t kPavRowMax = 16384;
DIRFAST_HOST_DEVICE bool pav_row_path(std::int64_t n) { return n <= kPavRowMax; }

// Default chunk length of the GPU decomposition (also the CPU grid driver's chunk = 0): a power
// of two in [32, 1024] giving at least ~64k chunk threads, capped by n.
DIRFAST_HOST_DEVICE std::int64_t pav_gpu_auto_chunk(std::int64_t rows, std::int64_t n) {
  std::int64_t C = 1024;
  while (C > 32 && rows * ((n + C - 1) / C) < 65536) C /= 2;
  return C < n ? C : (n > 0 ? n : 1);
}

}  // namespace pav
}  // namespace dirfast
