// dirfast — fused per-row sort + PAV (see sort_pav.h).
#include "sort_pav.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "pav/pav_core.h"

namespace dirfast {
namespace pav {
namespace {

// Order-preserving unsigned keys (IEEE-754: flip all bits of negatives, the sign bit of
// positives); every NaN maps to the maximum, so NaNs sort last as in torch.sort, and -0.0 maps to
// +0.0's key (they compare equal, so the index decides, as in torch.sort(stable=True)).
inline std::uint32_t ordered_key(float v) {
  if (std::isnan(v)) return 0xffffffffu;
  if (v == 0.0f) return 0x80000000u;
  std::uint32_t u;
  std::memcpy(&u, &v, 4);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
inline std::uint64_t ordered_key(double v) {
  if (std::isnan(v)) return ~std::uint64_t(0);
  if (v == 0.0) return std::uint64_t(1) << 63;
  std::uint64_t u;
  std::memcpy(&u, &v, 8);
  return (u & (std::uint64_t(1) << 63)) ? ~u : (u | (std::uint64_t(1) << 63));
}

struct Key64 {  // fp64 key + index (ties by index)
  std::uint64_t k;
  std::int64_t i;
  bool operator<(const Key64& o) const { return k < o.k || (k == o.k && i < o.i); }
};

template <typename T>
struct RowScratch {
  std::vector<std::uint64_t> k32;  // float: key << 32 | index
  std::vector<Key64> k64;          // double
  std::vector<T> x, tmp;
  std::vector<std::int64_t> oe;
  std::vector<double> bsum;
  std::vector<std::uint8_t> is_end;
  void reserve(std::size_t n) {
    if (x.size() >= n) return;
    x.resize(n);
    tmp.resize(n);
    oe.resize(n);
    bsum.resize(n);
    is_end.resize(n);
    if (sizeof(T) == 4) k32.resize(n); else k64.resize(n);
  }
};

template <typename T>
RowScratch<T>& row_scratch() {
  static thread_local RowScratch<T> s;
  return s;
}

// Sorts row `th` into sc.x / perm: ascending, ties by index — the stable order of
// torch.sort(stable=True), dirfast's tie rule (every key is distinct, so std::sort gives it).
inline void sort_row(const float* th, std::int64_t n, RowScratch<float>& sc, std::int64_t* perm) {
  std::uint64_t* k = sc.k32.data();
  for (std::int64_t i = 0; i < n; ++i) k[i] = (std::uint64_t(ordered_key(th[i])) << 32) | std::uint64_t(i);
  std::sort(k, k + n);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t j = std::int64_t(k[i] & 0xffffffffu);
    perm[i] = j;
    sc.x[i] = th[j];
  }
}
inline void sort_row(const double* th, std::int64_t n, RowScratch<double>& sc, std::int64_t* perm) {
  Key64* k = sc.k64.data();
  for (std::int64_t i = 0; i < n; ++i) k[i] = Key64{ordered_key(th[i]), i};
  std::sort(k, k + n);
  for (std::int64_t i = 0; i < n; ++i) {
    perm[i] = k[i].i;
    sc.x[i] = th[k[i].i];
  }
}

template <typename T>
std::int64_t sort_run_impl(const SortArgs& a) {
  const T* TH = reinterpret_cast<const T*>(a.theta);
  T* OUT = reinterpret_cast<T*>(a.out);
  std::int64_t* PERM = reinterpret_cast<std::int64_t*>(a.perm);
  std::int64_t* BS = reinterpret_cast<std::int64_t*>(a.block_start);
  const std::int64_t n = a.n, rows = a.rows;
  const double eps = a.eps, half = pav_half(eps, a.mode);
  const int mode = a.mode;
#ifdef _OPENMP
  int nt = a.threads > 0 ? a.threads : omp_get_max_threads();
#else
  int nt = 1;
#endif
  // sorting costs ~15-20 ns per element: worth a fork/join from ~16k elements and two rows
  if (rows * n < 16384 || rows < 2) nt = 1;
  std::int64_t pooled = 0;
#pragma omp parallel for num_threads(nt) schedule(static) reduction(+ : pooled) if (nt > 1)
  for (std::int64_t r = 0; r < rows; ++r) {
    RowScratch<T>& sc = row_scratch<T>();
    sc.reserve(std::size_t(n));
    std::int64_t* perm = PERM + r * n;
    std::int64_t* bs = BS + r * n;
    sort_row(TH + r * n, n, sc, perm);
    const T* x = sc.x.data();
    // soft sort writes in sorted order straight into out; soft rank via tmp, then scattered back
    T* o = mode == kSort ? OUT + r * n : sc.tmp.data();
    if (!pav_any_pair(x, 0, n, n, half, mode)) {
      pav_identity_write(x, 0, n, eps, mode, o, bs);
    } else {
      ++pooled;
      PavWs ws{sc.oe.data(), sc.bsum.data(), sc.is_end.data()};
      pav_chunk(x, 0, n, half, mode, ws);
      pav_chunk_write(x, 0, n, std::int64_t(0), eps, mode, ws, o, bs);
    }
    if (mode != kSort) {
      T* out = OUT + r * n;
      for (std::int64_t i = 0; i < n; ++i) out[perm[i]] = o[i];
    }
  }
  return pooled;
}

}  // namespace

void validate(const SortArgs& a, const char* fn) {
  const std::string f(fn);
  if (a.mode != 0 && a.mode != 1)
    throw std::invalid_argument(f + ": mode must be 0 (soft sort) or 1 (soft rank), got " +
                                std::to_string(a.mode));
  if (a.n < 1 || a.n > kSortPavMaxN)
    throw std::invalid_argument(f + ": n must be in [1, " + std::to_string(kSortPavMaxN) +
                                "], got " + std::to_string(a.n));
  if (a.rows < 0)
    throw std::invalid_argument(f + ": rows must be >= 0, got " + std::to_string(a.rows));
  if (!(a.eps > 0.0) || !std::isfinite(a.eps))
    throw std::invalid_argument(f + ": eps must be > 0 and finite, got " + std::to_string(a.eps));
  if (a.threads < 0)
    throw std::invalid_argument(f + ": threads must be >= 0 (0 = default), got " +
                                std::to_string(a.threads));
  if (a.rows == 0) return;
  const std::size_t isz = a.dtype == DType::kFloat32 ? 4 : 8;
  if (a.theta == 0 || a.theta % isz)
    throw std::invalid_argument(f + ": theta must be a non-null aligned pointer");
  if (a.out == 0 || a.out % isz)
    throw std::invalid_argument(f + ": out must be a non-null aligned pointer");
  if (a.perm == 0 || a.perm % 8 || a.block_start == 0 || a.block_start % 8)
    throw std::invalid_argument(f + ": perm and block_start must be non-null 8-byte aligned pointers");
  const std::uintptr_t bytes = std::uintptr_t(a.rows * a.n) * isz;
  if (a.out < a.theta + bytes && a.theta < a.out + bytes)
    throw std::invalid_argument(f + ": out must not overlap theta");
}

std::int64_t sort_run(const SortArgs& a) {
  if (a.rows == 0) return 0;
  return a.dtype == DType::kFloat32 ? sort_run_impl<float>(a) : sort_run_impl<double>(a);
}

}  // namespace pav
}  // namespace dirfast
