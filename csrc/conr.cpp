// dirfast — ConR row passes of the streaming CPU path (see conr.h).
#include "conr.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "weighted_loss.h"  // vmath::exp / vmath::log, simd_level()

namespace dirfast {
namespace conr {

DType parse_dtype(const std::string& name, const char* fn) {
  if (name == "float32") return DType::kFloat32;
  if (name == "float64") return DType::kFloat64;
  throw std::invalid_argument(std::string(fn) + ": dtype must be 'float32' or 'float64', got '" +
                              name + "'");
}

namespace {

namespace vm = ::dirfast::weighted_loss::vmath;
constexpr int kLanes = 8;
//: below this many tile elements a pass runs on the calling thread
constexpr std::int64_t kParallelMin = 1 << 15;

template <typename T>
struct Prm {
  T* s;
  std::int64_t ld;
  const T* y;
  const T* yh;
  const T* loga;
  std::int64_t row0;
  T w, e;
  bool keep_self;
  // fwd
  std::int64_t m;
  T *lse, *sps, *npos, *nneg;
  // bwd
  const T *logd, *q, *g;
  std::int64_t col0, ncols;
};

template <typename T>
DIRFAST_VINLINE T absv(T x) {
  return x < T(0) ? -x : x;  // NaN stays NaN
}

// The logit A_ij of one entry and its masks (conr.h). LOGA: add log a_i on negatives (fwd only;
// the bwd adds log a of each side separately).
template <typename T, bool EXP>
DIRFAST_VINLINE T logit(T s, T dy, bool p, bool n, T e) {
  T push;
  if (EXP)
    push = dy * e + s;
  else
    push = vm::log(dy * e) + s;
  const T a = n ? push : -std::numeric_limits<T>::infinity();
  return p ? s : a;
}

// buf: 2*M scratch (logits, then s on positives / 0).
template <typename T, bool EXP, bool LOGA>
DIRFAST_VINLINE void fwd_impl(const Prm<T> q, std::int64_t r0, std::int64_t r1,
                              T* __restrict__ buf) {
  const std::int64_t M = q.m;
  const T* __restrict__ y = q.y;
  const T* __restrict__ yh = q.yh;
  T* __restrict__ pbuf = buf + M;
  const T w = q.w, e = q.e;
  const T ninf = -std::numeric_limits<T>::infinity();
  auto tree = [](const double* v) {
    return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
  };
  for (std::int64_t r = r0; r < r1; ++r) {
    const std::int64_t i = q.row0 + r;
    const T* __restrict__ s = q.s + r * q.ld;
    const T yi = y[i], yhi = yh[i];
    const T lai = LOGA ? q.loga[i] : T(0);
    const std::int64_t self = q.keep_self ? -1 : i;
    // pass 1 (a plain loop: vectorised): logits, s on positives, counts
    std::int32_t np = 0, nn = 0;  // M < 2^31 (checked)
    for (std::int64_t j = 0; j < M; ++j) {
      const T sj = s[j];
      const T dy = absv(yi - y[j]);
      const bool p = (dy <= w) & (j != self);
      const bool n = (dy > w) & (absv(yhi - yh[j]) <= w);
      T a = logit<T, EXP>(sj, dy, p, n, e);
      if (LOGA) a = n ? a + lai : a;
      buf[j] = a;
      pbuf[j] = p ? sj : T(0);
      np += p ? 1 : 0;
      nn += n ? 1 : 0;
    }
    // pass 2: row max of the logits and sum of s over positives (lanes, fixed order)
    T mxl[kLanes];
    double sp[kLanes];
    for (int l = 0; l < kLanes; ++l) {
      mxl[l] = ninf;
      sp[l] = 0.0;
    }
    std::int64_t j = 0;
    for (; j + kLanes <= M; j += kLanes)
      for (int l = 0; l < kLanes; ++l) {
        mxl[l] = buf[j + l] > mxl[l] ? buf[j + l] : mxl[l];
        sp[l] += double(pbuf[j + l]);
      }
    for (int l = 0; j < M; ++j, ++l) {
      mxl[l] = buf[j] > mxl[l] ? buf[j] : mxl[l];
      sp[l] += double(pbuf[j]);
    }
    T mx = mxl[0];
    for (int l = 1; l < kLanes; ++l) mx = mxl[l] > mx ? mxl[l] : mx;
    if (!std::isfinite(mx)) mx = T(0);
    // pass 3: sum of exp(A - mx) (excluded entries: exp(-inf) = 0)
    double z[kLanes];
    for (int l = 0; l < kLanes; ++l) z[l] = 0.0;
    for (j = 0; j + kLanes <= M; j += kLanes)
      for (int l = 0; l < kLanes; ++l) z[l] += double(vm::exp(buf[j + l] - mx));
    for (int l = 0; j < M; ++j, ++l) z[l] += double(vm::exp(buf[j] - mx));
    q.lse[i] = T(std::log(T(tree(z)))) + mx;
    q.sps[i] = T(tree(sp));
    q.npos[i] = T(np);
    q.nneg[i] = T(nn);
  }
}

template <typename T, bool EXP, bool LOGA>
DIRFAST_VINLINE void bwd_impl(const Prm<T> q, std::int64_t r0, std::int64_t r1) {
  const std::int64_t C = q.ncols, c0 = q.col0;
  const T* __restrict__ yc = q.y + c0;
  const T* __restrict__ yhc = q.yh + c0;
  const T* __restrict__ ldc = q.logd + c0;
  const T* __restrict__ qc = q.q + c0;
  const T* __restrict__ gc = q.g + c0;
  const T* __restrict__ lac = LOGA ? q.loga + c0 : nullptr;
  const T w = q.w, e = q.e;
  for (std::int64_t r = r0; r < r1; ++r) {
    const std::int64_t i = q.row0 + r;
    T* __restrict__ s = q.s + r * q.ld;
    const T yi = q.y[i], yhi = q.yh[i], ldi = q.logd[i], qi = q.q[i], gi = q.g[i];
    const T lai = LOGA ? q.loga[i] : T(0);
    // column c is j = c0 + c: the diagonal j == i is column i - c0 (none if out of the tile)
    const std::int64_t self = q.keep_self ? -1 : i - c0;
    for (std::int64_t c = 0; c < C; ++c) {
      const T sj = s[c];
      const T dy = absv(yi - yc[c]);
      const bool p = (dy <= w) & (c != self);
      const bool n = (dy > w) & (absv(yhi - yhc[c]) <= w);
      const T a = logit<T, EXP>(sj, dy, p, n, e);
      T ar = a - ldi;
      T ac = a - ldc[c];
      if (LOGA) {
        ar = n ? ar + lai : ar;
        ac = n ? ac + lac[c] : ac;
      }
      const T pf = p ? T(1) : T(0);
      const T hr = (vm::exp(ar) - pf * qi) * gi;
      const T hc = (vm::exp(ac) - pf * qc[c]) * gc[c];
      s[c] = hr + hc;
    }
  }
}

template <typename T, bool EXP, bool LOGA>
void fwd_base(const Prm<T> q, std::int64_t r0, std::int64_t r1, T* buf) {
  fwd_impl<T, EXP, LOGA>(q, r0, r1, buf);
}
template <typename T, bool EXP, bool LOGA>
void bwd_base(const Prm<T> q, std::int64_t r0, std::int64_t r1, T*) {
  bwd_impl<T, EXP, LOGA>(q, r0, r1);
}
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define DIRFAST_CONR_AVX2 1
template <typename T, bool EXP, bool LOGA>
__attribute__((target("avx2"))) void fwd_avx2(const Prm<T> q, std::int64_t r0, std::int64_t r1,
                                              T* buf) {
  fwd_impl<T, EXP, LOGA>(q, r0, r1, buf);
}
template <typename T, bool EXP, bool LOGA>
__attribute__((target("avx2"))) void bwd_avx2(const Prm<T> q, std::int64_t r0, std::int64_t r1,
                                              T*) {
  bwd_impl<T, EXP, LOGA>(q, r0, r1);
}
#else
#define DIRFAST_CONR_AVX2 0
#endif

template <typename T>
using RowFn = void (*)(const Prm<T>, std::int64_t, std::int64_t, T*);

template <typename T, bool FWD, bool EXP, bool LOGA>
RowFn<T> pick() {
#if DIRFAST_CONR_AVX2
  if (::dirfast::weighted_loss::simd_level() >= 1)
    return FWD ? &fwd_avx2<T, EXP, LOGA> : &bwd_avx2<T, EXP, LOGA>;
#endif
  return FWD ? &fwd_base<T, EXP, LOGA> : &bwd_base<T, EXP, LOGA>;
}

template <typename T, bool FWD>
RowFn<T> pick(bool push_exp, bool loga) {
  if (push_exp) return loga ? pick<T, FWD, true, true>() : pick<T, FWD, true, false>();
  return loga ? pick<T, FWD, false, true>() : pick<T, FWD, false, false>();
}

// rows [0, rows) of the tile in blocks, OpenMP over blocks when the tile is large; buf_len: scratch
// elements per thread (0 = none).
template <typename T>
void run_rows(RowFn<T> fn, const Prm<T>& q, std::int64_t rows, std::int64_t cols,
              std::int64_t buf_len) {
  if (rows <= 0) return;
  constexpr std::int64_t kRows = 4;
#pragma omp parallel if (rows * cols >= kParallelMin)
  {
    std::vector<T> buf(std::max<std::int64_t>(buf_len, 1));
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t r0 = 0; r0 < rows; r0 += kRows)
      fn(q, r0, std::min(rows, r0 + kRows), buf.data());
  }
}

template <typename T>
Prm<T> common(const Common& c) {
  Prm<T> q{};
  q.s = reinterpret_cast<T*>(c.s);
  q.ld = c.ld_s;
  q.y = reinterpret_cast<const T*>(c.y);
  q.yh = reinterpret_cast<const T*>(c.yh);
  q.loga = reinterpret_cast<const T*>(c.loga);
  q.row0 = c.row0;
  q.w = T(c.w);
  q.e = T(c.e);
  q.keep_self = c.keep_self;
  return q;
}

template <typename T>
void fwd_t(const FwdArgs& a) {
  Prm<T> q = common<T>(a.c);
  q.m = a.m;
  q.lse = reinterpret_cast<T*>(a.lse);
  q.sps = reinterpret_cast<T*>(a.sps);
  q.npos = reinterpret_cast<T*>(a.npos);
  q.nneg = reinterpret_cast<T*>(a.nneg);
  run_rows<T>(pick<T, true>(a.c.push_exp, a.c.loga != 0), q, a.c.rows, a.m, 2 * a.m);
}

template <typename T>
void bwd_t(const BwdArgs& a) {
  Prm<T> q = common<T>(a.c);
  q.logd = reinterpret_cast<const T*>(a.logd);
  q.q = reinterpret_cast<const T*>(a.q);
  q.g = reinterpret_cast<const T*>(a.g);
  q.col0 = a.col0;
  q.ncols = a.ncols;
  run_rows<T>(pick<T, false>(a.c.push_exp, a.c.loga != 0), q, a.c.rows, a.ncols, 0);
}

// torch.logaddexp(a, b) of ATen's CPU kernel: equal infinities give a, else
// max + log1p(exp(-|a-b|)).
template <typename T>
T logaddexp(T a, T b) {
  if (std::isinf(a) && a == b) return a;
  const T mx = std::max(a, b);
  return mx + std::log1p(std::exp(-std::abs(a - b)));
}

template <typename T>
void epilogue_t(const EpiArgs& a) {
  const std::int64_t M = a.m;
  const T* lse = reinterpret_cast<const T*>(a.lse);
  const T* sps = reinterpret_cast<const T*>(a.sps);
  const T* npos = reinterpret_cast<const T*>(a.npos);
  const T* nneg = reinterpret_cast<const T*>(a.nneg);
  const T* loga = reinterpret_cast<const T*>(a.loga);
  T* out = reinterpret_cast<T*>(a.out);
  T* st = reinterpret_cast<T*>(a.stats);
  const bool fin = a.weight_final && loga != nullptr;
  std::int64_t nvalid = 0;
  double total = 0.0;
  // pass 1: row losses (into stats[2] as scratch), valid count, sum
  for (std::int64_t i = 0; i < M; ++i) {
    const T np = npos[i];
    const T logd = a.phantom ? logaddexp(lse[i], T(std::log(T(M) - np))) : lse[i];
    const bool hasneg = nneg[i] > T(0);
    const bool valid = (np > T(0)) && hasneg;
    T ell;
    if (a.official)
      ell = (logd - sps[i] / np) * (hasneg ? T(1) : T(0));
    else
      ell = valid ? logd - sps[i] / std::max(np, T(1)) : T(0);
    if (fin) ell = ell * T(std::exp(loga[i]));
    nvalid += valid ? 1 : 0;
    const bool active = a.official ? hasneg : valid;
    st[i] = active ? logd : std::numeric_limits<T>::infinity();
    st[M + i] = active ? T(1) / np : T(0);
    st[2 * M + i] = ell;
    total += double(ell);
  }
  T scale = T(1);
  if (a.reduction == 0)
    scale = T(1.0 / double(std::max<std::int64_t>(M, 1)));
  else if (a.reduction == 3)
    scale = T(1) / T(std::max<std::int64_t>(nvalid, 1));
  if (a.reduction == 2) {
    for (std::int64_t i = 0; i < M; ++i) out[i] = st[2 * M + i];
  } else {
    out[0] = a.reduction == 1 ? T(total) : T(total) * scale;
  }
  // pass 2: g = active * scale [* a]
  for (std::int64_t i = 0; i < M; ++i) {
    const bool hasneg = nneg[i] > T(0);
    const bool active = a.official ? hasneg : (npos[i] > T(0)) && hasneg;
    T g = active ? scale : T(0);
    if (fin) g = g * T(std::exp(loga[i]));
    st[2 * M + i] = g;
  }
  *reinterpret_cast<std::int64_t*>(a.nvalid) = nvalid;
}

template <typename T>
void normalize_t(const T* z, std::int64_t ld, std::int64_t M, std::int64_t D, T* u, T* norms,
                 T* inv) {
#pragma omp parallel for schedule(static) if (M * D >= (1 << 16))
  for (std::int64_t i = 0; i < M; ++i) {
    const T* zi = z + i * ld;
    double acc[kLanes] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
    std::int64_t k = 0;
    for (; k + kLanes <= D; k += kLanes)
      for (int l = 0; l < kLanes; ++l) acc[l] += double(zi[k + l]) * double(zi[k + l]);
    for (int l = 0; k < D; ++k, ++l) acc[l] += double(zi[k]) * double(zi[k]);
    const double ss =
        ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    const T nrm = T(std::sqrt(ss));
    const T iv = T(1) / std::max(nrm, T(1e-12));
    norms[i] = nrm;
    inv[i] = iv;
    T* ui = u + i * D;
    for (k = 0; k < D; ++k) ui[k] = zi[k] * iv;
  }
}

template <typename T>
void norm_bwd_t(const T* du, const T* u, const T* norms, const T* inv, std::int64_t M,
                std::int64_t D, T* dz) {
#pragma omp parallel for schedule(static) if (M * D >= (1 << 16))
  for (std::int64_t i = 0; i < M; ++i) {
    const T* dui = du + i * D;
    const T* ui = u + i * D;
    double acc[kLanes] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
    std::int64_t k = 0;
    for (; k + kLanes <= D; k += kLanes)
      for (int l = 0; l < kLanes; ++l) acc[l] += double(ui[k + l] * dui[k + l]);
    for (int l = 0; k < D; ++k, ++l) acc[l] += double(ui[k] * dui[k]);
    const T proj =
        T(((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])));
    const bool big = norms[i] > T(1e-12);
    const T iv = inv[i];
    T* dzi = dz + i * D;
    for (k = 0; k < D; ++k) dzi[k] = (big ? dui[k] - ui[k] * proj : dui[k]) * iv;
  }
}

void check_common(const Common& c, const char* fn) {
  if (c.s == 0 || c.y == 0 || c.yh == 0)
    throw std::invalid_argument(std::string(fn) + ": s, y and yh must be non-null");
  if (c.row0 < 0 || c.rows < 0)
    throw std::invalid_argument(std::string(fn) + ": need row0 >= 0 and rows >= 0");
}

}  // namespace

void rows_fwd(const FwdArgs& a) {
  check_common(a.c, "conr_rows_fwd");
  if (a.m < 0 || a.m >= (std::int64_t(1) << 31) || a.c.ld_s < a.m)
    throw std::invalid_argument("conr_rows_fwd: need 0 <= m < 2^31 and ldS >= m");
  if (a.lse == 0 || a.sps == 0 || a.npos == 0 || a.nneg == 0)
    throw std::invalid_argument("conr_rows_fwd: lse, sps, npos and nneg must be non-null");
  if (a.c.dtype == DType::kFloat32)
    fwd_t<float>(a);
  else
    fwd_t<double>(a);
}

void rows_bwd(const BwdArgs& a) {
  check_common(a.c, "conr_rows_bwd");
  if (a.col0 < 0 || a.ncols < 0 || a.c.ld_s < a.ncols)
    throw std::invalid_argument("conr_rows_bwd: need col0 >= 0, ncols >= 0 and ldS >= ncols");
  if (a.logd == 0 || a.q == 0 || a.g == 0)
    throw std::invalid_argument("conr_rows_bwd: logd, q and g must be non-null");
  if (a.c.dtype == DType::kFloat32)
    bwd_t<float>(a);
  else
    bwd_t<double>(a);
}

void epilogue(const EpiArgs& a) {
  if (a.reduction < 0 || a.reduction > 3)
    throw std::invalid_argument("conr_epilogue: reduction must be 0 (mean), 1 (sum), 2 (none) or "
                                "3 (valid_anchors)");
  if (a.m < 0) throw std::invalid_argument("conr_epilogue: need m >= 0");
  if (a.dtype == DType::kFloat32)
    epilogue_t<float>(a);
  else
    epilogue_t<double>(a);
}

void normalize(DType dtype, std::uintptr_t z, std::int64_t ld_z, std::int64_t m, std::int64_t d,
               std::uintptr_t u, std::uintptr_t norms, std::uintptr_t inv) {
  if (m < 0 || d < 1 || ld_z < d)
    throw std::invalid_argument("conr_normalize: need m >= 0, d >= 1 and ldz >= d");
  if (dtype == DType::kFloat32)
    normalize_t<float>(reinterpret_cast<const float*>(z), ld_z, m, d, reinterpret_cast<float*>(u),
                       reinterpret_cast<float*>(norms), reinterpret_cast<float*>(inv));
  else
    normalize_t<double>(reinterpret_cast<const double*>(z), ld_z, m, d,
                        reinterpret_cast<double*>(u), reinterpret_cast<double*>(norms),
                        reinterpret_cast<double*>(inv));
}

void norm_bwd(DType dtype, std::uintptr_t du, std::uintptr_t u, std::uintptr_t norms,
              std::uintptr_t inv, std::int64_t m, std::int64_t d, std::uintptr_t dz) {
  if (m < 0 || d < 1) throw std::invalid_argument("conr_norm_bwd: need m >= 0 and d >= 1");
  if (dtype == DType::kFloat32)
    norm_bwd_t<float>(reinterpret_cast<const float*>(du), reinterpret_cast<const float*>(u),
                      reinterpret_cast<const float*>(norms), reinterpret_cast<const float*>(inv),
                      m, d, reinterpret_cast<float*>(dz));
  else
    norm_bwd_t<double>(reinterpret_cast<const double*>(du), reinterpret_cast<const double*>(u),
                       reinterpret_cast<const double*>(norms),
                       reinterpret_cast<const double*>(inv), m, d, reinterpret_cast<double*>(dz));
}

}  // namespace conr
}  // namespace dirfast
