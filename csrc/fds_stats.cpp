// dirfast — FDS per-bin feature statistics, CPU implementation (see fds_stats.h).
#include "fds_stats.h"
#include "fds_calibrate.h"

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
// CAL (1 or 2): every row is first calibrated in registers, x*scale[k] + shift[k] (fds_calibrate's
// `affine`, bit for bit): CAL == 1 with the row's own table rows `sc[perm[r]]`, `tc[perm[r]]`
// (identity rows point at a ones/zeros row); CAL == 2 with one pair of rows `sc[0]`, `tc[0]` for
// every row of the item (the usual case: a bin's rows share their calibration row).
template <typename T, int CAL>
inline __attribute__((always_inline)) void item_pass_impl(
    const T* __restrict__ x, std::int64_t stride, const std::int64_t* perm, std::int64_t r0,
    std::int64_t r1, std::int64_t d, const T* __restrict__ sh, T* __restrict__ pm,
    T* __restrict__ pq, const T* const* sc, const T* const* tc) {
  std::fill(pm, pm + d, T(0));
  std::fill(pq, pq + d, T(0));
  std::int64_t k = 0;
  std::int64_t r = r0;
  for (; r + 4 <= r1; r += 4) {
    const T* __restrict__ x0 = x + perm[r] * stride;
    const T* __restrict__ x1 = x + perm[r + 1] * stride;
    const T* __restrict__ x2 = x + perm[r + 2] * stride;
    const T* __restrict__ x3 = x + perm[r + 3] * stride;
    const T* __restrict__ s0 = CAL == 1 ? sc[perm[r]] : nullptr;
    const T* __restrict__ s1 = CAL == 1 ? sc[perm[r + 1]] : nullptr;
    const T* __restrict__ s2 = CAL == 1 ? sc[perm[r + 2]] : nullptr;
    const T* __restrict__ s3 = CAL == 1 ? sc[perm[r + 3]] : nullptr;
    const T* __restrict__ t0 = CAL == 1 ? tc[perm[r]] : nullptr;
    const T* __restrict__ t1 = CAL == 1 ? tc[perm[r + 1]] : nullptr;
    const T* __restrict__ t2 = CAL == 1 ? tc[perm[r + 2]] : nullptr;
    const T* __restrict__ t3 = CAL == 1 ? tc[perm[r + 3]] : nullptr;
    const T* __restrict__ su = CAL == 2 ? sc[0] : nullptr;
    const T* __restrict__ tu = CAL == 2 ? tc[0] : nullptr;
    const T n_new = static_cast<T>(k + 4);
    const T wb = T(4) / n_new;
    const T wab = static_cast<T>(k) * T(4) / n_new;
    for (std::int64_t c = 0; c < d; ++c) {
      const T s = sh[c];
      T y0, y1, y2, y3;
      if (CAL == 2) {
        const T sv = su[c], tv = tu[c];
        y0 = fds_calibrate::affine<T>(x0[c], sv, tv) - s;
        y1 = fds_calibrate::affine<T>(x1[c], sv, tv) - s;
        y2 = fds_calibrate::affine<T>(x2[c], sv, tv) - s;
        y3 = fds_calibrate::affine<T>(x3[c], sv, tv) - s;
      } else if (CAL == 1) {
        y0 = fds_calibrate::affine<T>(x0[c], s0[c], t0[c]) - s;
        y1 = fds_calibrate::affine<T>(x1[c], s1[c], t1[c]) - s;
        y2 = fds_calibrate::affine<T>(x2[c], s2[c], t2[c]) - s;
        y3 = fds_calibrate::affine<T>(x3[c], s3[c], t3[c]) - s;
      } else {
        y0 = x0[c] - s, y1 = x1[c] - s, y2 = x2[c] - s, y3 = x3[c] - s;
      }
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
    const T* __restrict__ sr = CAL == 1 ? sc[perm[r]] : CAL == 2 ? sc[0] : nullptr;
    const T* __restrict__ tr = CAL == 1 ? tc[perm[r]] : CAL == 2 ? tc[0] : nullptr;
    ++k;
    const T inv = T(1) / static_cast<T>(k);
    for (std::int64_t c = 0; c < d; ++c) {
      const T y = (CAL ? fds_calibrate::affine<T>(xr[c], sr[c], tr[c]) : xr[c]) - sh[c];
      const T delta = y - pm[c];
      const T m = pm[c] + delta * inv;
      pm[c] = m;
      pq[c] += delta * (y - m);
    }
  }
}

// The row loop compiled twice: baseline x86-64 (SSE2) and AVX2 (no FMA: -ffp-contract=off), picked
// once per process. Every step is an IEEE add/sub/mul, so both give identical bits.
template <typename T, int CAL>
void item_pass_base(const T* x, std::int64_t stride, const std::int64_t* perm, std::int64_t r0,
                    std::int64_t r1, std::int64_t d, const T* sh, T* pm, T* pq, const T* const* sc,
                    const T* const* tc) {
  item_pass_impl<T, CAL>(x, stride, perm, r0, r1, d, sh, pm, pq, sc, tc);
}

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define DIRFAST_FDS_AVX2 1
template <typename T, int CAL>
__attribute__((target("avx2"))) void item_pass_avx2(const T* x, std::int64_t stride,
                                                    const std::int64_t* perm, std::int64_t r0,
                                                    std::int64_t r1, std::int64_t d, const T* sh,
                                                    T* pm, T* pq, const T* const* sc,
                                                    const T* const* tc) {
  item_pass_impl<T, CAL>(x, stride, perm, r0, r1, d, sh, pm, pq, sc, tc);
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

template <typename T, int CAL = 0>
void item_pass(const T* x, std::int64_t stride, const std::int64_t* perm, std::int64_t r0,
               std::int64_t r1, std::int64_t d, const T* sh, T* pm, T* pq,
               const T* const* sc = nullptr, const T* const* tc = nullptr) {
#ifdef DIRFAST_FDS_AVX2
  if (use_avx2()) return item_pass_avx2<T, CAL>(x, stride, perm, r0, r1, d, sh, pm, pq, sc, tc);
#endif
  item_pass_base<T, CAL>(x, stride, perm, r0, r1, d, sh, pm, pq, sc, tc);
}

// Stable counting sort of the rows with 0 <= bins[i] < B: off [B + 1], perm [off[B]].
void counting_sort(const std::int64_t* bins, std::int64_t n, std::int64_t B,
                   std::vector<std::int64_t>& off, std::vector<std::int64_t>& perm) {
  off.assign(static_cast<std::size_t>(B + 1), 0);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t b = bins[i];
    if (b >= 0 && b < B) ++off[b + 1];
  }
  for (std::int64_t b = 0; b < B; ++b) off[b + 1] += off[b];
  perm.assign(static_cast<std::size_t>(off[B]), 0);
  std::vector<std::int64_t> cur(off.begin(), off.end() - 1);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t b = bins[i];
    if (b >= 0 && b < B) perm[cur[b]++] = i;
  }
}

// Work items (b, k) in bin order (chunks of kChunkRows sorted rows of one bin): first_item [B + 1],
// item_bin [n_items].
std::int64_t make_items(const std::vector<std::int64_t>& off, std::int64_t B,
                        std::vector<std::int64_t>& first_item, std::vector<std::int64_t>& item_bin) {
  first_item.assign(static_cast<std::size_t>(B + 1), 0);
  for (std::int64_t b = 0; b < B; ++b) {
    const std::int64_t nb = off[b + 1] - off[b];
    first_item[b + 1] = first_item[b] + (nb + kChunkRows - 1) / kChunkRows;
  }
  const std::int64_t n_items = first_item[B];
  item_bin.assign(static_cast<std::size_t>(n_items), 0);
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t it = first_item[b]; it < first_item[b + 1]; ++it) item_bin[it] = b;
  return n_items;
}

// Chan merge of bin b's item partials (in chunk order) into (mo, qo) (d elements, working dtype).
template <typename T>
void merge_items(const T* pmean, const T* pm2, std::int64_t i0, std::int64_t i1, std::int64_t nb,
                 std::int64_t d, T* __restrict__ mo, T* __restrict__ qo) {
  std::copy(pmean + i0 * d, pmean + (i0 + 1) * d, mo);
  std::copy(pm2 + i0 * d, pm2 + (i0 + 1) * d, qo);
  std::int64_t na = std::min(nb, kChunkRows);
  for (std::int64_t it = i0 + 1; it < i1; ++it) {
    const std::int64_t k = it - i0;
    const std::int64_t nk = std::min(kChunkRows, nb - k * kChunkRows);
    const T ntot = static_cast<T>(na + nk);
    const T wb = static_cast<T>(nk) / ntot;
    const T wab = static_cast<T>(na) * static_cast<T>(nk) / ntot;
    const T* __restrict__ pmb = pmean + it * d;
    const T* __restrict__ pqb = pm2 + it * d;
    for (std::int64_t c = 0; c < d; ++c) {
      const T delta = pmb[c] - mo[c];
      mo[c] = mo[c] + delta * wb;
      qo[c] = qo[c] + pqb[c] + delta * delta * wab;
    }
    na += nk;
  }
}

template <typename T>
void run_impl(const Args& a) {
  const T* x = reinterpret_cast<const T*>(a.x);
  const std::int64_t* bins = reinterpret_cast<const std::int64_t*>(a.bins);
  std::int64_t* count = reinterpret_cast<std::int64_t*>(a.count);
  T* mean = reinterpret_cast<T*>(a.mean);
  T* m2 = reinterpret_cast<T*>(a.m2);
  const std::int64_t n = a.n, d = a.d, B = a.num_bins, stride = a.stride;

  // 1. counting sort (stable) of the valid rows by bin; 2. items (b, k) in bin order
  std::vector<std::int64_t> off, perm, first_item, item_bin;
  counting_sort(bins, n, B, off, perm);
  const std::int64_t n_items = make_items(off, B, first_item, item_bin);
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
      merge_items<T>(pmean.data(), pm2.data(), first_item[b], first_item[b + 1], nb, d, mo, qo);
      const T* __restrict__ sh = x + perm[off[b]] * stride;
      for (std::int64_t c = 0; c < d; ++c) mo[c] += sh[c];
    }
  }
}

// The FDS module's accumulation (see AccArgs): reference rows, optional calibration in registers,
// statistics of x' - ref[b], and the fp64 Chan merge into the epoch's partial statistics, in place.
template <typename T>
void acc_impl(const AccArgs& a) {
  const T* x = reinterpret_cast<const T*>(a.x);
  const std::int64_t* keys = reinterpret_cast<const std::int64_t*>(a.keys);
  const std::int64_t n = a.n, d = a.d, B = a.num_bins, stride = a.stride;
  std::int64_t* pcount = reinterpret_cast<std::int64_t*>(a.pcount);
  double* pmean_g = reinterpret_cast<double*>(a.pmean);
  double* pm2_g = reinterpret_cast<double*>(a.pm2);
  const T* run_ref = reinterpret_cast<const T*>(a.run_ref);
  const std::int64_t* tracked = reinterpret_cast<const std::int64_t*>(a.tracked);
  const bool cal = a.cal != 0;
  const std::int64_t* cal_ids = reinterpret_cast<const std::int64_t*>(a.cal);
  const T* scale = reinterpret_cast<const T*>(a.scale);
  const T* cshift = reinterpret_cast<const T*>(a.cshift);

  std::vector<std::int64_t> off, perm, first_item, item_bin;
  counting_sort(keys, n, B, off, perm);
  const std::int64_t n_items = make_items(off, B, first_item, item_bin);
  // per-row calibration table rows (identity rows: ones / zeros)
  std::vector<T> ident_s, ident_t;
  std::vector<const T*> sc, tc;
  if (cal) {
    ident_s.assign(static_cast<std::size_t>(d), T(1));
    ident_t.assign(static_cast<std::size_t>(d), T(0));
    sc.assign(static_cast<std::size_t>(n), ident_s.data());
    tc.assign(static_cast<std::size_t>(n), ident_t.data());
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t k = cal_ids[i];
      if (k >= 0 && k < a.num_cal) {
        sc[i] = scale + k * d;
        tc[i] = cshift + k * d;
      }
    }
  }
  std::vector<T> ref(static_cast<std::size_t>(B * d));
  std::vector<T> pmean(static_cast<std::size_t>(n_items * d)), pm2(static_cast<std::size_t>(n_items * d));
  // a training batch of a small model: a fork/join costs more than the work (same result: every
  // item and bin is computed by one thread in a fixed order either way)
  const bool par = n * d >= kAccParallelMinElements;

#pragma omp parallel if (par)
  {
    // 1. the reference row of every bin with rows: this epoch's partial mean, else the running mean
    // of a tracked bin, else the bin's first (calibrated) row in this call; rounded to T
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t b = 0; b < B; ++b) {
      if (off[b + 1] == off[b]) continue;
      T* __restrict__ rb = ref.data() + b * d;
      if (pcount[b] > 0) {
        const double* pm = pmean_g + b * d;
        for (std::int64_t c = 0; c < d; ++c) rb[c] = static_cast<T>(pm[c]);
      } else if (b < a.num_run && tracked[b] > 0) {
        std::copy(run_ref + b * d, run_ref + (b + 1) * d, rb);
      } else {
        const std::int64_t i = perm[off[b]];
        const T* __restrict__ xr = x + i * stride;
        if (cal) {
          const T* __restrict__ s = sc[i];
          const T* __restrict__ t = tc[i];
          for (std::int64_t c = 0; c < d; ++c) rb[c] = fds_calibrate::affine<T>(xr[c], s[c], t[c]);
        } else {
          std::copy(xr, xr + d, rb);
        }
      }
    }
    // 2. items
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t it = 0; it < n_items; ++it) {
      const std::int64_t b = item_bin[it];
      const std::int64_t k = it - first_item[b];
      const std::int64_t r0 = off[b] + k * kChunkRows;
      const std::int64_t r1 = std::min(r0 + kChunkRows, off[b + 1]);
      const T* sh = ref.data() + b * d;
      T* pmi = pmean.data() + it * d;
      T* pqi = pm2.data() + it * d;
      if (cal) {
        // one calibration row for the whole item (the usual case) or one per row
        const T* s_0 = sc[perm[r0]];
        const T* t_0 = tc[perm[r0]];
        bool uniform = true;
        for (std::int64_t r = r0 + 1; r < r1 && uniform; ++r) uniform = sc[perm[r]] == s_0;
        if (uniform) {
          const T* su[1] = {s_0};
          const T* tu[1] = {t_0};
          item_pass<T, 2>(x, stride, perm.data(), r0, r1, d, sh, pmi, pqi, su, tu);
        } else {
          item_pass<T, 1>(x, stride, perm.data(), r0, r1, d, sh, pmi, pqi, sc.data(), tc.data());
        }
      } else {
        item_pass<T, 0>(x, stride, perm.data(), r0, r1, d, sh, pmi, pqi);
      }
    }
    // 3. per bin: merge the items (T), then the fp64 Chan merge into the partials
    //    (BinStats.merge: delta = mb - ma, mean = ma + delta*(nb/n), M2 = qa + qb + delta^2*(na*nb/n);
    //    an empty side is exact)
    std::vector<T> mo(static_cast<std::size_t>(d)), qo(static_cast<std::size_t>(d));
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t b = 0; b < B; ++b) {
      const std::int64_t nb = off[b + 1] - off[b];
      if (nb == 0) continue;
      merge_items<T>(pmean.data(), pm2.data(), first_item[b], first_item[b + 1], nb, d, mo.data(),
                     qo.data());
      const T* __restrict__ rb = ref.data() + b * d;
      double* __restrict__ gm = pmean_g + b * d;
      double* __restrict__ gq = pm2_g + b * d;
      const std::int64_t na_i = pcount[b];
      if (na_i == 0) {
        for (std::int64_t c = 0; c < d; ++c) {
          gm[c] = static_cast<double>(mo[c]) + static_cast<double>(rb[c]);
          gq[c] = static_cast<double>(qo[c]);
        }
      } else {
        const double na = static_cast<double>(na_i), nbd = static_cast<double>(nb);
        const double ntot = na + nbd;
        const double wb = nbd / ntot;
        const double wab = na * nbd / ntot;
        for (std::int64_t c = 0; c < d; ++c) {
          const double mb = static_cast<double>(mo[c]) + static_cast<double>(rb[c]);
          const double delta = mb - gm[c];
          const double qa = gq[c];
          gm[c] = gm[c] + delta * wb;
          gq[c] = qa + static_cast<double>(qo[c]) + delta * delta * wab;
        }
      }
      pcount[b] = na_i + nb;
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

void validate(const AccArgs& a) {
  const std::size_t es = a.dtype == DType::kFloat64 ? 8 : 4;
  const std::string fn = "fds_accumulate: ";
  if (a.n < 0) throw std::invalid_argument(fn + "n must be >= 0, got " + std::to_string(a.n));
  if (a.d < 1) throw std::invalid_argument(fn + "d must be >= 1, got " + std::to_string(a.d));
  if (a.num_bins < 1) throw std::invalid_argument(fn + "num_bins must be >= 1, got " + std::to_string(a.num_bins));
  if (a.stride < 0) throw std::invalid_argument(fn + "stride must be >= 0, got " + std::to_string(a.stride));
  if (a.num_run < 0 || a.num_cal < 0)
    throw std::invalid_argument(fn + "num_run and num_cal must be >= 0");
  struct P { const char* name; std::uintptr_t p; std::size_t align; bool needed; };
  const bool cal = a.cal != 0;
  const P ptrs[] = {{"x", a.x, es, a.n > 0}, {"keys", a.keys, 8, a.n > 0},
                    {"pcount", a.pcount, 8, true}, {"pmean", a.pmean, 8, true}, {"pm2", a.pm2, 8, true},
                    {"run_ref", a.run_ref, es, a.num_run > 0}, {"tracked", a.tracked, 8, a.num_run > 0},
                    {"cal", a.cal, 8, false}, {"scale", a.scale, es, cal && a.num_cal > 0},
                    {"cshift", a.cshift, es, cal && a.num_cal > 0}};
  for (const P& p : ptrs) {
    if (p.needed && p.p == 0) throw std::invalid_argument(fn + "null pointer " + p.name);
    if (p.p % p.align != 0) throw std::invalid_argument(fn + "misaligned pointer " + p.name);
  }
}

void accumulate(const AccArgs& a) {
  if (a.n == 0) return;
  if (a.dtype == DType::kFloat64)
    acc_impl<double>(a);
  else
    acc_impl<float>(a);
}

}  // namespace fds_stats
}  // namespace dirfast
