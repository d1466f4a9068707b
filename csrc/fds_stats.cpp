// dirfast — FDS per-bin feature statistics, CPU implementation (see fds_stats.h).
#include "fds_stats.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace dirfast {
namespace fds_stats {
namespace {

// Welford over the rows perm[r0..r1) of one bin, shifted by `sh`, into (pm, pq) (d elements each).
// Rows go in tiles of 4: the tile's mean and squared deviations (two passes over registers), then
// Chan's merge into the running (pm, pq) — a quarter of the loads/stores of a per-row Welford update.
// The last (r1 - r0) % 4 rows take per-row Welford updates.
template <typename T>
inline __attribute__((always_inline)) void item_pass_impl(
    const T* __restrict__ x, std::int64_t stride, const std::int64_t* perm, std::int64_t r0,
    std::int64_t r1, std::int64_t d, const T* __restrict__ sh, T* __restrict__ pm,
    T* __restrict__ pq) {
  std::fill(pm, pm + d, T(0));
  std::fill(pq, pq + d, T(0));
  std::int64_t k = 0;
  std::int64_t r = r0;
  for (; r + 4 <= r1; r += 4) {
    const T* __restrict__ x0 = x + perm[r] * stride;
    const T* __restrict__ x1 = x + perm[r + 1] * stride;
    const T* __restrict__ x2 = x + perm[r + 2] * stride;
    const T* __restrict__ x3 = x + perm[r + 3] * stride;
    const T n_new = static_cast<T>(k + 4);
    const T wb = T(4) / n_new;
    const T wab = static_cast<T>(k) * T(4) / n_new;
    for (std::int64_t c = 0; c < d; ++c) {
      const T s = sh[c];
      const T y0 = x0[c] - s, y1 = x1[c] - s, y2 = x2[c] - s, y3 = x3[c] - s;
      const T t = ((y0 + y1) + (y2 + y3)) * T(0.25);
      const T d0 = y0 - t, d1 = y1 - t, d2 = y2 - t, d3 = y3 - t;
      const T q = (d0 * d0 + d1 * d1) + (d2 * d2 + d3 * d3);
      const T delta = t - pm[c];
      pm[c] = pm[c] + delta * wb;
      pq[c] = pq[c] + (q + delta * delta * wab);
    }
    k += 4;
  }
  for (; r < r1; ++r) {
    const T* __restrict__ xr = x + perm[r] * stride;
    ++k;
    const T inv = T(1) / static_cast<T>(k);
    for (std::int64_t c = 0; c < d; ++c) {
      const T y = xr[c] - sh[c];
      const T delta = y - pm[c];
      const T m = pm[c] + delta * inv;
      pm[c] = m;
      pq[c] += delta * (y - m);
    }
  }
}

// The row loop compiled twice: baseline x86-64 (SSE2) and AVX2 (no FMA: -ffp-contract=off), picked
// once per process. Every step is an IEEE add/sub/mul, so both give identical bits.
template <typename T>
void item_pass_base(const T* x, std::int64_t stride, const std::int64_t* perm, std::int64_t r0,
                    std::int64_t r1, std::int64_t d, const T* sh, T* pm, T* pq) {
  item_pass_impl<T>(x, stride, perm, r0, r1, d, sh, pm, pq);
}

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define DIRFAST_FDS_AVX2 1
template <typename T>
__attribute__((target("avx2"))) void item_pass_avx2(const T* x, std::int64_t stride,
                                                    const std::int64_t* perm, std::int64_t r0,
                                                    std::int64_t r1, std::int64_t d, const T* sh,
                                                    T* pm, T* pq) {
  item_pass_impl<T>(x, stride, perm, r0, r1, d, sh, pm, pq);
}
#endif

bool use_avx2() {
#ifdef DIRFAST_FDS_AVX2
  static const bool ok = __builtin_cpu_supports("avx2");
  return ok;
#else
  return false;
#endif
}

template <typename T>
void item_pass(const T* x, std::int64_t stride, const std::int64_t* perm, std::int64_t r0,
               std::int64_t r1, std::int64_t d, const T* sh, T* pm, T* pq) {
#ifdef DIRFAST_FDS_AVX2
  if (use_avx2()) return item_pass_avx2<T>(x, stride, perm, r0, r1, d, sh, pm, pq);
#endif
  item_pass_base<T>(x, stride, perm, r0, r1, d, sh, pm, pq);
}

template <typename T>
void run_impl(const Args& a) {
  const T* x = reinterpret_cast<const T*>(a.x);
  const std::int64_t* bins = reinterpret_cast<const std::int64_t*>(a.bins);
  std::int64_t* count = reinterpret_cast<std::int64_t*>(a.count);
  T* mean = reinterpret_cast<T*>(a.mean);
  T* m2 = reinterpret_cast<T*>(a.m2);
  const std::int64_t n = a.n, d = a.d, B = a.num_bins, stride = a.stride;

  // 1. counting sort (stable) of the valid rows by bin
  std::vector<std::int64_t> off(B + 1, 0);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t b = bins[i];
    if (b >= 0 && b < B) ++off[b + 1];
  }
  for (std::int64_t b = 0; b < B; ++b) off[b + 1] += off[b];
  std::vector<std::int64_t> perm(static_cast<std::size_t>(off[B]));
  {
    std::vector<std::int64_t> cur(off.begin(), off.end() - 1);
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t b = bins[i];
      if (b >= 0 && b < B) perm[cur[b]++] = i;
    }
  }
  // 2. items (b, k) in bin order; first_item[b] = index of (b, 0)
  std::vector<std::int64_t> first_item(B + 1, 0);
  for (std::int64_t b = 0; b < B; ++b) {
    const std::int64_t nb = off[b + 1] - off[b];
    first_item[b + 1] = first_item[b] + (nb + kChunkRows - 1) / kChunkRows;
  }
  const std::int64_t n_items = first_item[B];
  std::vector<std::int64_t> item_bin(static_cast<std::size_t>(n_items));
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t it = first_item[b]; it < first_item[b + 1]; ++it) item_bin[it] = b;
  std::vector<T> pmean(static_cast<std::size_t>(n_items * d)), pm2(static_cast<std::size_t>(n_items * d));

#pragma omp parallel
  {
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t it = 0; it < n_items; ++it) {
      const std::int64_t b = item_bin[it];
      const std::int64_t k = it - first_item[b];
      const std::int64_t r0 = off[b] + k * kChunkRows;
      const std::int64_t r1 = std::min(r0 + kChunkRows, off[b + 1]);
      const T* sh = x + perm[off[b]] * stride;
      item_pass<T>(x, stride, perm.data(), r0, r1, d, sh, pmean.data() + it * d, pm2.data() + it * d);
    }
    // 3. merge per bin in chunk order, add the shift back
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t b = 0; b < B; ++b) {
      const std::int64_t nb = off[b + 1] - off[b];
      count[b] = nb;
      T* __restrict__ mo = mean + b * d;
      T* __restrict__ qo = m2 + b * d;
      if (nb == 0) {
        std::fill(mo, mo + d, T(0));
        std::fill(qo, qo + d, T(0));
        continue;
      }
      const std::int64_t i0 = first_item[b];
      std::copy(pmean.data() + i0 * d, pmean.data() + (i0 + 1) * d, mo);
      std::copy(pm2.data() + i0 * d, pm2.data() + (i0 + 1) * d, qo);
      std::int64_t na = std::min(nb, kChunkRows);
      for (std::int64_t it = i0 + 1; it < first_item[b + 1]; ++it) {
        const std::int64_t k = it - i0;
        const std::int64_t nk = std::min(kChunkRows, nb - k * kChunkRows);
        const T ntot = static_cast<T>(na + nk);
        const T wb = static_cast<T>(nk) / ntot;
        const T wab = static_cast<T>(na) * static_cast<T>(nk) / ntot;
        const T* __restrict__ pmb = pmean.data() + it * d;
        const T* __restrict__ pqb = pm2.data() + it * d;
        for (std::int64_t c = 0; c < d; ++c) {
          const T delta = pmb[c] - mo[c];
          mo[c] = mo[c] + delta * wb;
          qo[c] = qo[c] + pqb[c] + delta * delta * wab;
        }
        na += nk;
      }
      const T* __restrict__ sh = x + perm[off[b]] * stride;
      for (std::int64_t c = 0; c < d; ++c) mo[c] += sh[c];
    }
  }
}

}  // namespace

DType parse_dtype(const char* name) {
  const std::string s(name);
  if (s == "float32") return DType::kFloat32;
  if (s == "float64") return DType::kFloat64;
  throw std::invalid_argument("fds_bin_stats: dtype must be 'float32' or 'float64', got '" + s + "'");
}

void validate(const Args& a) {
  const std::size_t es = a.dtype == DType::kFloat64 ? 8 : 4;
  if (a.n < 0) throw std::invalid_argument("fds_bin_stats: n must be >= 0, got " + std::to_string(a.n));
  if (a.d < 1) throw std::invalid_argument("fds_bin_stats: d must be >= 1, got " + std::to_string(a.d));
  if (a.num_bins < 1)
    throw std::invalid_argument("fds_bin_stats: num_bins must be >= 1, got " + std::to_string(a.num_bins));
  // any row stride >= 0: rows may overlap (expand: 0, unfold: 1..d-1); x is only read
  if (a.stride < 0)
    throw std::invalid_argument("fds_bin_stats: stride must be >= 0, got " + std::to_string(a.stride));
  struct P { const char* name; std::uintptr_t p; std::size_t align; bool needed; };
  const P ptrs[] = {{"x", a.x, es, a.n > 0}, {"bins", a.bins, 8, a.n > 0}, {"count", a.count, 8, true},
                    {"mean", a.mean, es, true}, {"m2", a.m2, es, true}};
  for (const P& p : ptrs) {
    if (p.needed && p.p == 0) throw std::invalid_argument(std::string("fds_bin_stats: null pointer ") + p.name);
    if (p.p % p.align != 0)
      throw std::invalid_argument(std::string("fds_bin_stats: misaligned pointer ") + p.name);
  }
}

void run(const Args& a) {
  if (a.dtype == DType::kFloat64)
    run_impl<double>(a);
  else
    run_impl<float>(a);
}

}  // namespace fds_stats
}  // namespace dirfast
