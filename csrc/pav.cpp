// dirfast — PAV CPU drivers (see pav.h): direct OpenMP driver and the simulated CUDA grid.
#include "pav.h"

#include <algorithm>
#include <cstring>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "pav/pav_core.h"

namespace dirfast {
namespace pav {
namespace {

// Grow-only scratch owned by one thread (OpenMP workers are persistent, so this is reused across
// calls and the pages are touched once).
struct Scratch {
  std::vector<std::int64_t> oe;
  std::vector<double> bsum;
  std::vector<std::uint8_t> is_end;
  std::vector<std::int64_t> carry;
  PavWs get(std::size_t n) {
    if (oe.size() < n) {
      oe.resize(n);
      bsum.resize(n);
      is_end.resize(n);
    }
    return PavWs{oe.data(), bsum.data(), is_end.data()};
  }
};

Scratch& thread_scratch() {
  static thread_local Scratch s;
  return s;
}

int resolve_threads(int threads) {
#ifdef _OPENMP
  return threads > 0 ? threads : omp_get_max_threads();
#else
  (void)threads;
  return 1;
#endif
}

// Below this many elements per call a single thread does all the work (fork/join costs more).
constexpr std::int64_t kParallelMin = 16384;

template <typename T>
std::int64_t run_direct(const Args& a) {
  const T* X = reinterpret_cast<const T*>(a.x);
  T* OUT = reinterpret_cast<T*>(a.out);
  std::int64_t* BS = reinterpret_cast<std::int64_t*>(a.block_start);
  const std::int64_t n = a.n, rows = a.rows;
  const double eps = a.eps, half = pav_half(eps, a.mode);
  const int mode = a.mode;
  const std::int64_t C = a.chunk > 0 ? std::min(a.chunk, n) : cpu_auto_chunk(n);
  const std::int64_t nc = pav_num_chunks(n, C);
  int nt = resolve_threads(a.threads);
  if (rows * n < kParallelMin) nt = 1;
  std::int64_t pooled = 0;

  if (nc == 1) {
    // Whole rows per thread: check, then either the identity pass or chunk PAV + write.
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) reduction(+ : pooled) if (nt > 1)
    for (std::int64_t r = 0; r < rows; ++r) {
      const T* x = X + r * n;
      T* out = OUT + r * n;
      std::int64_t* bs = BS ? BS + r * n : nullptr;
      if (!pav_any_pair(x, 0, n, n, half, mode)) {
        pav_identity_write(x, 0, n, eps, mode, out, bs);
        continue;
      }
      ++pooled;
      PavWs ws = thread_scratch().get(std::size_t(n));
      pav_chunk(x, 0, n, half, mode, ws);
      pav_chunk_write(x, 0, n, std::int64_t(0), eps, mode, ws, out, bs);
    }
    return pooled;
  }

  // Long rows: one row at a time. The chunks are grouped into `nseg` contiguous segments of
  // 2^s chunks (the subtrees of tree level s, nseg >= threads when possible); a thread owns
  // whole segments and runs their chunk PAVs and seams of levels < s in tree order with no
  // barrier (a seam reads only the state of its own range, so any order that finishes both
  // halves first gives the same bits as level-by-level); levels >= s are shared, one barrier
  // each. Barriers: pooled ~ 4 + (levels - s); unpooled 1 (check fused with the identity
  // write of the segments without a merging pair; a pooled row overwrites them).
  Scratch& sc = thread_scratch();
  PavWs ws = sc.get(std::size_t(n));
  if (sc.carry.size() < std::size_t(nc)) sc.carry.resize(std::size_t(nc));
  std::int64_t* carry = sc.carry.data();
  const int levels = pav_num_levels(n, C);
  int s = 0;
  while (s < levels && pav_num_chunks(nc, std::int64_t(1) << (s + 1)) >= nt) ++s;
  const std::int64_t seg_chunks = std::int64_t(1) << s;
  const std::int64_t nseg = pav_num_chunks(nc, seg_chunks);
  const std::int64_t segC = C * seg_chunks;  // elements per segment (the last may be shorter)
  for (std::int64_t r = 0; r < rows; ++r) {
    const T* x = X + r * n;
    T* out = OUT + r * n;
    std::int64_t* bs = BS ? BS + r * n : nullptr;
    int any = 0;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
#pragma omp for schedule(static) reduction(| : any)
      for (std::int64_t g = 0; g < nseg; ++g) {
        const std::int64_t lo = g * segC, hi = std::min(n, lo + segC);
        const bool local = pav_any_pair(x, lo, hi, n, half, mode);
        any |= int(local);
        // No pair here: write the singleton output now (overwritten if another segment pools).
        if (!local) pav_identity_write(x, lo, hi, eps, mode, out, bs);
      }
      if (any) {
#pragma omp for schedule(static)
        for (std::int64_t g = 0; g < nseg; ++g) {
          const std::int64_t k0 = g * seg_chunks, k1 = std::min(nc, k0 + seg_chunks);
          for (std::int64_t k = k0; k < k1; ++k)
            pav_chunk(x, k * C, std::min(n, (k + 1) * C), half, mode, ws);
          for (int t = 0; t < s; ++t) {  // seams of level t inside segment g
            const std::int64_t per = seg_chunks >> (t + 1);  // seams of level t per segment
            const std::int64_t ns = pav_num_seams(n, C, t);
            for (std::int64_t j = g * per; j < std::min(ns, (g + 1) * per); ++j) {
              std::int64_t s0, s1, s2;
              pav_seam_range(n, C, t, j, s0, s1, s2);
              pav_seam(s0, s1, s2, half, mode, ws);
            }
          }
        }
        for (int t = s; t < levels; ++t) {
          const std::int64_t ns = pav_num_seams(n, C, t);
#pragma omp for schedule(static)
          for (std::int64_t j = 0; j < ns; ++j) {
            std::int64_t s0, s1, s2;
            pav_seam_range(n, C, t, j, s0, s1, s2);
            pav_seam(s0, s1, s2, half, mode, ws);
          }
        }
#pragma omp for schedule(static)
        for (std::int64_t k = 0; k < nc; ++k)
          carry[k] = pav_chunk_last_start(k * C, std::min(n, (k + 1) * C), ws.is_end);
#pragma omp for schedule(static)
        for (std::int64_t g = 0; g < nseg; ++g) {
          const std::int64_t k0 = g * seg_chunks, k1 = std::min(nc, k0 + seg_chunks);
          // carry-in of chunk k0 = max of the last starts of chunks 0..k0-1 (recomputed per
          // segment: O(nc) reads, no shared scan and no extra barrier); max is exact.
          std::int64_t run = pav_reduce_max(carry, k0, 0);
          for (std::int64_t k = k0; k < k1; ++k) {
            const std::int64_t v = carry[k];
            pav_chunk_write(x, k * C, std::min(n, (k + 1) * C), run, eps, mode, ws, out, bs);
            run = v > run ? v : run;
          }
        }
      }
    }
    pooled += any ? 1 : 0;
  }
  return pooled;
}

// Threads of a simulated CUDA launch: `count` independent calls of fn(t), spread over the OpenMP
// threads (a result that depended on their order would be a race on the GPU too).
template <typename F>
void launch(std::int64_t count, int nt, F&& fn) {
#pragma omp parallel for num_threads(nt) schedule(dynamic, 16) if (nt > 1 && count >= 512)
  for (std::int64_t t = 0; t < count; ++t) fn(t);
}

// Threads per row of the scan kernel and of the one-block-per-row kernels (csrc/cuda/pav.cu:
// kScanThreads, kRowThreads).
constexpr std::int64_t kScanThreads = 256;
constexpr std::int64_t kRowThreads = 256;

// The exclusive max-scan of a row's nc carries by `threads` threads, each owning a contiguous
// piece (reduce, scan of the piece maxima, scan-apply): k_scan and the scan step of k_row_pav.
inline void scan_pieces(std::int64_t* c, std::int64_t nc, std::int64_t threads) {
  std::vector<std::int64_t> part(static_cast<std::size_t>(threads));
  const std::int64_t per = (nc + threads - 1) / threads;
  for (std::int64_t th = 0; th < threads; ++th) {
    const std::int64_t lo = std::min(nc, th * per), hi = std::min(nc, lo + per);
    part[std::size_t(th)] = pav_reduce_max(c + lo, hi - lo, -1);
  }
  pav_scan_max(part.data(), threads, 0);
  for (std::int64_t th = 0; th < threads; ++th) {
    const std::int64_t lo = std::min(nc, th * per), hi = std::min(nc, lo + per);
    pav_scan_max(c + lo, hi - lo, part[std::size_t(th)]);
  }
}

// k_row_pav (rows of n <= kPavRowMax): one simulated block per row; each step a loop over the
// block's threads' work items in order, the end of a loop a __syncthreads.
template <typename T>
std::int64_t run_grid_rows(const Args& a, std::int64_t C) {
  const T* X = reinterpret_cast<const T*>(a.x);
  T* OUT = reinterpret_cast<T*>(a.out);
  std::int64_t* BS = reinterpret_cast<std::int64_t*>(a.block_start);
  const std::int64_t n = a.n, rows = a.rows;
  const double eps = a.eps, half = pav_half(eps, a.mode);
  const int mode = a.mode;
  const std::int64_t nc = pav_num_chunks(n, C);
  const int nt = resolve_threads(a.threads);
  std::int64_t pooled = 0;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) reduction(+ : pooled) \
    if (nt > 1 && rows * n >= kParallelMin)
  for (std::int64_t r = 0; r < rows; ++r) {  // block r
    const T* x = X + r * n;
    T* out = OUT + r * n;
    std::int64_t* bs = BS ? BS + r * n : nullptr;
    bool any = false;  // __syncthreads_or of the pair tests
    for (std::int64_t i = 0; i + 1 < n; ++i) any |= pav_pair_merges(x[i], x[i + 1], half, mode);
    if (!any) {
      for (std::int64_t i = 0; i < n; ++i) pav_identity_write(x, i, i + 1, eps, mode, out, bs);
      continue;
    }
    ++pooled;
    // the row's slice of the device workspace (here: this thread's scratch)
    Scratch& sc = thread_scratch();
    const PavWs ws = sc.get(static_cast<std::size_t>(n));
    if (sc.carry.size() < static_cast<std::size_t>(nc)) sc.carry.resize(static_cast<std::size_t>(nc));
    std::int64_t* carry = sc.carry.data();
    for (std::int64_t k = 0; k < nc; ++k) pav_chunk(x, k * C, std::min(n, (k + 1) * C), half, mode, ws);
    const int levels = pav_num_levels(n, C);
    for (int lv = 0; lv < levels; ++lv) {
      const std::int64_t ns = pav_num_seams(n, C, lv);
      for (std::int64_t j = 0; j < ns; ++j) {
        std::int64_t s0, s1, s2;
        pav_seam_range(n, C, lv, j, s0, s1, s2);
        pav_seam(s0, s1, s2, half, mode, ws);
      }
    }
    for (std::int64_t k = 0; k < nc; ++k)
      carry[k] = pav_chunk_last_start(k * C, std::min(n, (k + 1) * C), ws.is_end);
    scan_pieces(carry, nc, kRowThreads);
    for (std::int64_t k = 0; k < nc; ++k)
      pav_chunk_write(x, k * C, std::min(n, (k + 1) * C), carry[k], eps, mode, ws, out, bs);
  }
  return pooled;
}

template <typename T>
std::int64_t run_grid(const Args& a) {
  const T* X = reinterpret_cast<const T*>(a.x);
  T* OUT = reinterpret_cast<T*>(a.out);
  std::int64_t* BS = reinterpret_cast<std::int64_t*>(a.block_start);
  const std::int64_t n = a.n, rows = a.rows;
  const double eps = a.eps, half = pav_half(eps, a.mode);
  const int mode = a.mode;
  const std::int64_t C = a.chunk > 0 ? std::min(a.chunk, n) : pav_gpu_auto_chunk(rows, n);
  if (pav_row_path(n)) return run_grid_rows<T>(a, C);
  const std::int64_t nc = pav_num_chunks(n, C);
  const int nt = resolve_threads(a.threads);
  // Long rows (one launch per step). Device workspace: rows x n block state, rows x nc carries.
  std::vector<std::int64_t> oe(std::size_t(rows * n));
  std::vector<double> bsum(std::size_t(rows * n));
  std::vector<std::uint8_t> is_end(std::size_t(rows * n));
  std::vector<std::int64_t> carry(std::size_t(rows * nc));
  auto ws_of = [&](std::int64_t r) {
    return PavWs{oe.data() + r * n, bsum.data() + r * n, is_end.data() + r * n};
  };
  // Launch 1 (gap kernel): identity output per element, device flag = any pair merges.
  // (The per-row count is the return value of the CPU API only; the GPU keeps one flag.)
  std::vector<std::uint8_t> row_pooled(std::size_t(rows), 0);
  launch(rows * n, nt, [&](std::int64_t t) {
    const std::int64_t r = t / n, i = t % n;
    const T* x = X + r * n;
    pav_identity_write(x, i, i + 1, eps, mode, OUT + r * n, BS ? BS + r * n : nullptr);
    if (i + 1 < n && pav_pair_merges(x[i], x[i + 1], half, mode))
      __atomic_store_n(&row_pooled[std::size_t(r)], std::uint8_t(1), __ATOMIC_RELAXED);
  });
  std::int64_t pooled = 0;
  for (auto v : row_pooled) pooled += v;
  const bool flag = pooled > 0;
  if (!flag) return 0;  // every later kernel returns at once on *flag == 0
  // Launch 2: chunk PAV, one thread per (row, chunk).
  launch(rows * nc, nt, [&](std::int64_t t) {
    const std::int64_t r = t / nc, k = t % nc;
    pav_chunk(X + r * n, k * C, std::min(n, (k + 1) * C), half, mode, ws_of(r));
  });
  // Launches 3..: one per tree level, one thread per (row, seam).
  const int levels = pav_num_levels(n, C);
  for (int lv = 0; lv < levels; ++lv) {
    const std::int64_t ns = pav_num_seams(n, C, lv);
    launch(rows * ns, nt, [&](std::int64_t t) {
      const std::int64_t r = t / ns, j = t % ns;
      std::int64_t s0, s1, s2;
      pav_seam_range(n, C, lv, j, s0, s1, s2);
      pav_seam(s0, s1, s2, half, mode, ws_of(r));
    });
  }
  // Expansion: last start per (row, chunk); per-row scan (kScanThreads threads per row, each a
  // contiguous piece of the carries: reduce, exclusive scan of the piece maxima, scan-apply);
  // per (row, chunk) write.
  launch(rows * nc, nt, [&](std::int64_t t) {
    const std::int64_t r = t / nc, k = t % nc;
    carry[std::size_t(t)] =
        pav_chunk_last_start(k * C, std::min(n, (k + 1) * C), is_end.data() + r * n);
  });
  launch(rows, nt, [&](std::int64_t r) { scan_pieces(carry.data() + r * nc, nc, kScanThreads); });
  launch(rows * nc, nt, [&](std::int64_t t) {
    const std::int64_t r = t / nc, k = t % nc;
    pav_chunk_write(X + r * n, k * C, std::min(n, (k + 1) * C), carry[std::size_t(t)], eps, mode,
                    ws_of(r), OUT + r * n, BS ? BS + r * n : nullptr);
  });
  return pooled;
}

template <typename T>
void block_mean_range(const T* g, const std::int64_t* bs, std::int64_t lo, std::int64_t hi,
                      T* out) {
  // [lo, hi) starts and ends at block boundaries.
  std::int64_t i = lo;
  while (i < hi) {
    std::int64_t e = i + 1;
    double s = double(g[i]);
    while (e < hi && bs[e] == bs[i]) s += double(g[e++]);
    const T v = T(s / double(e - i));
    for (std::int64_t j = i; j < e; ++j) out[j] = v;
    i = e;
  }
}

template <typename T>
void block_mean_impl(const MeanArgs& a, int threads) {
  const T* G = reinterpret_cast<const T*>(a.g);
  const std::int64_t* BS = reinterpret_cast<const std::int64_t*>(a.block_start);
  T* OUT = reinterpret_cast<T*>(a.out);
  const std::int64_t n = a.n, rows = a.rows;
  int nt = resolve_threads(threads);
  if (rows * n < kParallelMin) nt = 1;
  if (rows >= nt || n < kParallelMin) {
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (std::int64_t r = 0; r < rows; ++r)
      block_mean_range(G + r * n, BS + r * n, 0, n, OUT + r * n);
    return;
  }
  // Few long rows: each thread takes the blocks that start in its slice of the row.
  for (std::int64_t r = 0; r < rows; ++r) {
    const T* g = G + r * n;
    const std::int64_t* bs = BS + r * n;
    T* out = OUT + r * n;
#pragma omp parallel num_threads(nt)
    {
#ifdef _OPENMP
      const int th = omp_get_thread_num(), cnt = omp_get_num_threads();
#else
      const int th = 0, cnt = 1;
#endif
      auto boundary = [&](std::int64_t p) {  // first block start >= p
        if (p <= 0) return std::int64_t(0);
        while (p < n && bs[p] == bs[p - 1]) ++p;
        return p;
      };
      const std::int64_t lo = boundary(n * th / cnt), hi = boundary(n * (th + 1) / cnt);
      if (lo < hi) block_mean_range(g, bs, lo, hi, out);
    }
  }
}

template <typename T>
void block_mean_grid_impl(const MeanArgs& a, std::int64_t chunk) {
  const T* G = reinterpret_cast<const T*>(a.g);
  const std::int64_t* BS = reinterpret_cast<const std::int64_t*>(a.block_start);
  T* OUT = reinterpret_cast<T*>(a.out);
  const std::int64_t n = a.n, rows = a.rows;
  const std::int64_t C = chunk > 0 ? std::min(chunk, n) : pav_gpu_auto_chunk(rows, n);
  const std::int64_t nc = pav_num_chunks(n, C);
  std::vector<double> psum(std::size_t(rows * n));
  std::vector<std::int64_t> pcnt(std::size_t(rows * n));
  // k_bm_pieces, k_bm_block, k_bm_write (long rows) or the same three steps inside k_row_vjp (one
  // block per row, n <= kPavRowMax): the same calls in the same summation order either way.
  for (std::int64_t t = 0; t < rows * nc; ++t) {  // kernel 1: pieces per (row, chunk)
    const std::int64_t r = t / nc, k = t % nc;
    pav_bm_pieces(G + r * n, BS + r * n, k * C, std::min(n, (k + 1) * C), psum.data() + r * n,
                  pcnt.data() + r * n);
  }
  for (std::int64_t t = 0; t < rows * n; ++t) {  // kernel 2: per block start
    const std::int64_t r = t / n, i = t % n;
    if (BS[t] == i) pav_bm_block(BS + r * n, i, n, C, psum.data() + r * n, pcnt.data() + r * n);
  }
  for (std::int64_t t = 0; t < rows * n; ++t) {  // kernel 3: per element
    const std::int64_t r = t / n;
    OUT[t] = T(psum[std::size_t(r * n + pav_clamp_index(BS[t], n))]);
  }
}

}  // namespace

std::int64_t cpu_auto_chunk(std::int64_t n) {
  if (n <= 32768) return n;
  std::int64_t c = (n + 31) / 32;
  c = (c + 63) / 64 * 64;
  return std::max<std::int64_t>(c, 16384);
}

std::int64_t run(const Args& a) {
  if (a.rows == 0) return 0;
  if (a.dtype == DType::kFloat32) return a.grid ? run_grid<float>(a) : run_direct<float>(a);
  return a.grid ? run_grid<double>(a) : run_direct<double>(a);
}

void block_mean(const MeanArgs& a, int threads) {
  if (a.rows == 0) return;
  if (a.dtype == DType::kFloat32)
    block_mean_impl<float>(a, threads);
  else
    block_mean_impl<double>(a, threads);
}

void block_mean_grid(const MeanArgs& a, std::int64_t chunk) {
  if (a.rows == 0) return;
  if (a.dtype == DType::kFloat32)
    block_mean_grid_impl<float>(a, chunk);
  else
    block_mean_grid_impl<double>(a, chunk);
}

}  // namespace pav
}  // namespace dirfast
