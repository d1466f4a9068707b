// dirfast — RankSim CPU passes (see ranksim.h).
#include "ranksim.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace dirfast {
namespace ranksim {

DType parse_dtype(const std::string& name, const char* fn) {
  if (name == "float32") return DType::kFloat32;
  if (name == "float64") return DType::kFloat64;
  throw std::invalid_argument(std::string(fn) + ": dtype must be 'float32' or 'float64', got '" +
                              name + "'");
}

namespace {

//: below this many entries a pass runs on the calling thread
constexpr std::int64_t kParallelMin = 1 << 15;

// Order-preserving signed images (IEEE-754): NaN -> max (sorts last, as torch.sort), -0.0 -> +0.0.
inline std::int32_t sord(float v) {
  if (std::isnan(v)) return std::numeric_limits<std::int32_t>::max();
  if (v == 0.0f) return 0;
  std::int32_t i;
  std::memcpy(&i, &v, 4);
  return i >= 0 ? i : (i ^ 0x7fffffff);
}
inline std::int64_t sord(double v) {
  if (std::isnan(v)) return std::numeric_limits<std::int64_t>::max();
  if (v == 0.0) return 0;
  std::int64_t i;
  std::memcpy(&i, &v, 8);
  return i >= 0 ? i : (i ^ std::numeric_limits<std::int64_t>::max());
}
inline std::int64_t pack(float v, std::int64_t j) {
  return std::int64_t((std::uint64_t(std::int64_t(sord(v))) << 32) | std::uint64_t(j));
}
inline std::int64_t pack(double v, std::int64_t) { return sord(v); }

inline bool col_ok(std::int64_t i, std::int64_t j, std::int64_t n, bool self) {
  return j < n && (self || i != j);
}

template <typename T>
void subset_impl(const T* y, std::int64_t b, std::int64_t k, const std::int64_t* perm,
                 std::int64_t* rows, std::int64_t* num_rows) {
  std::vector<std::int64_t> pri(b), order(b);
  for (std::int64_t i = 0; i < b; ++i) pri[i] = i;
  if (perm)
    for (std::int64_t t = 0; t < b; ++t) pri[perm[t]] = t;
  for (std::int64_t i = 0; i < b; ++i) order[i] = i;
  // ascending label (NaN last), ties by priority: torch.sort(stable) of y (of y[perm])
  std::sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t c) {
    const T ya = y[a], yc = y[c];
    const bool na = std::isnan(ya), nc = std::isnan(yc);
    if (na != nc) return nc;
    if (!na && ya != yc) return ya < yc;
    return pri[a] < pri[c];
  });
  std::vector<char> first(b);
  std::int64_t n_unique = 0;
  for (std::int64_t t = 0; t < b; ++t) {
    first[t] = t == 0 || !(y[order[t]] == y[order[t - 1]]);  // NaN != NaN: its own label
    n_unique += first[t];
  }
  std::vector<char> kept(first);
  if (k < b && n_unique > k) {
    std::vector<std::int64_t> p;
    p.reserve(n_unique);
    for (std::int64_t t = 0; t < b; ++t)
      if (first[t]) p.push_back(pri[order[t]]);
    std::nth_element(p.begin(), p.begin() + (k - 1), p.end());
    const std::int64_t thr = p[k - 1];
    for (std::int64_t t = 0; t < b; ++t) kept[t] = first[t] && pri[order[t]] <= thr;
  }
  if (k == b && n_unique == b) {
    for (std::int64_t i = 0; i < k; ++i) rows[i] = i;  // all distinct: batch order (official)
  } else {
    std::int64_t m = 0;
    for (std::int64_t t = 0; t < b && m < k; ++t)
      if (kept[t]) rows[m++] = order[t];
    for (std::int64_t t = 0; t < b && m < k; ++t)
      if (!kept[t]) rows[m++] = order[t];
  }
  *num_rows = std::min(n_unique, k);
}

template <typename T>
void keys_impl(const KeyArgs& a) {
  const std::int64_t K = a.k;
  const std::int64_t n = *reinterpret_cast<const std::int64_t*>(a.num_rows);
  const bool self = a.include_self;
  const T* s = reinterpret_cast<const T*>(a.s);
  const std::int64_t* rows = reinterpret_cast<const std::int64_t*>(a.rows);
  std::int64_t* out = reinterpret_cast<std::int64_t*>(a.out);
  const T ninf = -std::numeric_limits<T>::infinity();
  if (a.mode == 0) {
    const T* lab = reinterpret_cast<const T*>(a.labels);
    std::vector<T> y(K);
    for (std::int64_t j = 0; j < K; ++j) y[j] = lab[rows[j]];
#pragma omp parallel for schedule(static) if (2 * K * K >= kParallelMin)
    for (std::int64_t r = 0; r < 2 * K; ++r) {
      std::int64_t* o = out + r * K;
      if (r < K) {
        const T* sr = s + r * K;
        for (std::int64_t j = 0; j < K; ++j) o[j] = pack(col_ok(r, j, n, self) ? sr[j] : ninf, j);
      } else {
        const std::int64_t i = r - K;
        const T yi = y[i];
        for (std::int64_t j = 0; j < K; ++j)
          o[j] = pack(col_ok(i, j, n, self) ? T(-std::abs(yi - y[j])) : ninf, j);
      }
    }
    return;
  }
  const T* d = reinterpret_cast<const T*>(a.d);
  const T* g = reinterpret_cast<const T*>(a.grad);
  const T n_eff = T(std::max<std::int64_t>(n - (self ? 0 : 1), 1));
  const T lam = T(a.lam);
  T g0 = g[0];
  if (a.reduction == 0) g0 = g0 / T(std::max<std::int64_t>(n, 1));
#pragma omp parallel for schedule(static) if (K * K >= kParallelMin)
  for (std::int64_t i = 0; i < K; ++i) {
    const T gi = a.reduction == 2 ? g[rows[i]] : g0;
    const T c = T(gi * T(2)) / n_eff;
    const T* sr = s + i * K;
    const T* dr = d + i * K;
    std::int64_t* o = out + i * K;
    for (std::int64_t j = 0; j < K; ++j) {
      const T key = sr[j] + lam * T(dr[j] * c);
      o[j] = pack(col_ok(i, j, n, self) ? key : ninf, j);
    }
  }
}

template <typename T>
void ranks_fwd_impl(const std::int64_t* sorted, std::int64_t K, std::int64_t n, bool self,
                    int reduction, const std::int64_t* rows, std::int64_t b, T* rz, T* d, T* out) {
  const T n_eff = T(std::max<std::int64_t>(n - (self ? 0 : 1), 1));
  std::vector<T> rowv(K);
#pragma omp parallel if (2 * K * K >= kParallelMin)
  {
  std::vector<T> ry(K);
#pragma omp for schedule(static)
  for (std::int64_t i = 0; i < K; ++i) {
    T* rzr = rz + i * K;
    const std::int64_t* pz = sorted + i * K;
    const std::int64_t* py = sorted + (K + i) * K;
    for (std::int64_t p = 0; p < K; ++p) {
      rzr[pz[p] & 0xffffffff] = T(K - p) / n_eff;
      ry[py[p] & 0xffffffff] = T(K - p) / n_eff;
    }
    T* dr = d + i * K;
    double acc = 0.0;
    const bool vrow = i < n;
    for (std::int64_t j = 0; j < K; ++j) {
      const T dv = (vrow && col_ok(i, j, n, self)) ? T(rzr[j] - ry[j]) : T(0);
      dr[j] = dv;
      acc += double(T(dv * dv));
    }
    rowv[i] = T(T(acc) / n_eff);
  }
  }
  if (reduction == 2) {
    for (std::int64_t t = 0; t < b; ++t) out[t] = T(0);
    for (std::int64_t i = 0; i < K; ++i) out[rows[i]] = rowv[i];
    return;
  }
  double tot = 0.0;
  for (std::int64_t i = 0; i < K; ++i) tot += double(rowv[i]);
  out[0] = reduction == 0 ? T(T(tot) / T(std::max<std::int64_t>(n, 1))) : T(tot);
}

template <typename T>
void ranks_bwd_impl(const std::int64_t* sorted, const T* rz, std::int64_t K, std::int64_t n,
                    bool self, double lam, T* G) {
  const T n_eff = T(std::max<std::int64_t>(n - (self ? 0 : 1), 1));
  const T den = T(lam + 1e-8);
#pragma omp parallel if (K * K >= kParallelMin)
  {
  std::vector<T> r2(K);
#pragma omp for schedule(static)
  for (std::int64_t i = 0; i < K; ++i) {
    const std::int64_t* ps = sorted + i * K;
    for (std::int64_t p = 0; p < K; ++p) r2[ps[p] & 0xffffffff] = T(K - p) / n_eff;
    const T* rzr = rz + i * K;
    T* gr = G + i * K;
    const bool vrow = i < n;
    for (std::int64_t j = 0; j < K; ++j)
      gr[j] = (vrow && col_ok(i, j, n, self)) ? T(T(r2[j] - rzr[j]) / den) : T(0);
  }
  }
  // G = gs + gs^T (each pair written by the thread of its smaller index)
#pragma omp parallel for schedule(dynamic, 16) if (K * K >= kParallelMin)
  for (std::int64_t i = 0; i < K; ++i) {
    G[i * K + i] = G[i * K + i] + G[i * K + i];
    for (std::int64_t j = i + 1; j < K; ++j) {
      const T v = G[i * K + j] + G[j * K + i];
      G[i * K + j] = v;
      G[j * K + i] = v;
    }
  }
}

template <typename T>
void unit_bwd_impl(const T* du, const T* unit, const std::int64_t* rows, std::int64_t K,
                   std::int64_t D, std::int64_t b, T* out) {
  std::memset(out, 0, sizeof(T) * std::size_t(b) * std::size_t(D));
#pragma omp parallel for schedule(static) if (K * D >= kParallelMin)
  for (std::int64_t i = 0; i < K; ++i) {
    const T* u = unit + i * (D + 1);
    const T* g = du + i * D;
    const T inv = u[D];
    T* o = out + rows[i] * D;
    if (inv < T(1e12)) {
      double proj = 0.0;
      for (std::int64_t c = 0; c < D; ++c) proj += double(T(u[c] * g[c]));
      const T pr = T(proj);
      for (std::int64_t c = 0; c < D; ++c) o[c] = T(g[c] - T(u[c] * pr)) * inv;
    } else {  // an all-zero row (norm clamped)
      for (std::int64_t c = 0; c < D; ++c) o[c] = g[c] * inv;
    }
  }
}

// Stable LSD radix sort of one row of packed fp32 keys (int64: signed key image << 32 | column,
// columns ascending in the input): 4 passes of 8 bits over the high 32 bits (sign flipped to
// unsigned order), passes whose digit is constant skipped; the stable passes keep the columns of
// equal keys ascending, so the result equals the ascending sort of the packed values.
void radix_row(std::int64_t* a, std::int64_t* tmp, std::int64_t n) {
  std::uint32_t cnt[4][256];
  std::memset(cnt, 0, sizeof(cnt));
  for (std::int64_t i = 0; i < n; ++i) {
    const std::uint32_t k = std::uint32_t(std::uint64_t(a[i]) >> 32) ^ 0x80000000u;
    ++cnt[0][k & 255];
    ++cnt[1][(k >> 8) & 255];
    ++cnt[2][(k >> 16) & 255];
    ++cnt[3][k >> 24];
  }
  std::int64_t* src = a;
  std::int64_t* dst = tmp;
  for (int pass = 0; pass < 4; ++pass) {
    std::uint32_t* c = cnt[pass];
    const std::uint32_t first = (std::uint32_t(std::uint64_t(src[0]) >> 32) ^ 0x80000000u) >>
                                (8 * pass) & 255;
    if (c[first] == std::uint32_t(n)) continue;  // one digit value: nothing moves
    std::uint32_t sum = 0;
    for (int d = 0; d < 256; ++d) {
      const std::uint32_t t = c[d];
      c[d] = sum;
      sum += t;
    }
    for (std::int64_t i = 0; i < n; ++i) {
      const std::uint32_t k = std::uint32_t(std::uint64_t(src[i]) >> 32) ^ 0x80000000u;
      dst[c[(k >> (8 * pass)) & 255]++] = src[i];
    }
    std::swap(src, dst);
  }
  if (src != a) std::memcpy(a, src, sizeof(std::int64_t) * std::size_t(n));
}

}  // namespace

void sort_rows(std::uintptr_t keys, std::int64_t rows, std::int64_t n) {
  if (rows < 0 || n < 1 || n > (std::int64_t(1) << 31))
    throw std::invalid_argument("ranksim_sort_rows: need rows >= 0 and 1 <= n <= 2^31");
  auto* k = reinterpret_cast<std::int64_t*>(keys);
#pragma omp parallel if (rows * n >= kParallelMin)
  {
    std::vector<std::int64_t> tmp(n);
#pragma omp for schedule(static)
    for (std::int64_t r = 0; r < rows; ++r) radix_row(k + r * n, tmp.data(), n);
  }
}

void subset(DType dt, std::uintptr_t labels, std::int64_t b, std::int64_t k, std::uintptr_t perm,
            std::uintptr_t rows, std::uintptr_t num_rows) {
  if (b < 1 || k < 1 || k > b)
    throw std::invalid_argument("ranksim_subset: need 1 <= k <= b, got b = " + std::to_string(b) +
                                ", k = " + std::to_string(k));
  auto* pr = reinterpret_cast<const std::int64_t*>(perm);
  auto* ro = reinterpret_cast<std::int64_t*>(rows);
  auto* no = reinterpret_cast<std::int64_t*>(num_rows);
  if (dt == DType::kFloat32)
    subset_impl(reinterpret_cast<const float*>(labels), b, k, pr, ro, no);
  else
    subset_impl(reinterpret_cast<const double*>(labels), b, k, pr, ro, no);
}

void keys(const KeyArgs& a) {
  if (a.k < 1) throw std::invalid_argument("ranksim_keys: k must be >= 1");
  if (a.mode != 0 && a.mode != 1) throw std::invalid_argument("ranksim_keys: mode must be 0 or 1");
  if (a.reduction < 0 || a.reduction > 2)
    throw std::invalid_argument("ranksim_keys: reduction must be 0, 1 or 2");
  if (a.dtype == DType::kFloat32)
    keys_impl<float>(a);
  else
    keys_impl<double>(a);
}

void ranks_fwd(DType dt, std::uintptr_t sorted, std::int64_t k, std::uintptr_t num_rows,
               bool include_self, int reduction, std::uintptr_t rows, std::int64_t b,
               std::uintptr_t rz_out, std::uintptr_t d_out, std::uintptr_t out) {
  if (k < 1 || b < k) throw std::invalid_argument("ranksim_ranks_fwd: need 1 <= k <= b");
  if (reduction < 0 || reduction > 2)
    throw std::invalid_argument("ranksim_ranks_fwd: reduction must be 0, 1 or 2");
  const std::int64_t n = *reinterpret_cast<const std::int64_t*>(num_rows);
  auto* so = reinterpret_cast<const std::int64_t*>(sorted);
  auto* ro = reinterpret_cast<const std::int64_t*>(rows);
  if (dt == DType::kFloat32)
    ranks_fwd_impl(so, k, n, include_self, reduction, ro, b, reinterpret_cast<float*>(rz_out),
                   reinterpret_cast<float*>(d_out), reinterpret_cast<float*>(out));
  else
    ranks_fwd_impl(so, k, n, include_self, reduction, ro, b, reinterpret_cast<double*>(rz_out),
                   reinterpret_cast<double*>(d_out), reinterpret_cast<double*>(out));
}

void ranks_bwd(DType dt, std::uintptr_t sorted, std::uintptr_t rz, std::int64_t k,
               std::uintptr_t num_rows, bool include_self, double lam, std::uintptr_t g_out) {
  if (k < 1) throw std::invalid_argument("ranksim_ranks_bwd: k must be >= 1");
  const std::int64_t n = *reinterpret_cast<const std::int64_t*>(num_rows);
  auto* so = reinterpret_cast<const std::int64_t*>(sorted);
  if (dt == DType::kFloat32)
    ranks_bwd_impl(so, reinterpret_cast<const float*>(rz), k, n, include_self, lam,
                   reinterpret_cast<float*>(g_out));
  else
    ranks_bwd_impl(so, reinterpret_cast<const double*>(rz), k, n, include_self, lam,
                   reinterpret_cast<double*>(g_out));
}

void unit_bwd(DType dt, std::uintptr_t du, std::uintptr_t unit, std::uintptr_t rows,
              std::int64_t k, std::int64_t d, std::int64_t b, std::uintptr_t out) {
  if (k < 1 || d < 1 || b < k) throw std::invalid_argument("ranksim_unit_bwd: need 1 <= k <= b, d >= 1");
  auto* ro = reinterpret_cast<const std::int64_t*>(rows);
  if (dt == DType::kFloat32)
    unit_bwd_impl(reinterpret_cast<const float*>(du), reinterpret_cast<const float*>(unit), ro, k,
                  d, b, reinterpret_cast<float*>(out));
  else
    unit_bwd_impl(reinterpret_cast<const double*>(du), reinterpret_cast<const double*>(unit), ro,
                  k, d, b, reinterpret_cast<double*>(out));
}

}  // namespace ranksim
}  // namespace dirfast
