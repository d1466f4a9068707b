// dirfast — Balanced MSE CPU passes (see balanced_mse.h).
#include "balanced_mse.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "weighted_loss.h"  // vmath::exp, simd_level()

namespace dirfast {
namespace balanced_mse {

DType parse_dtype(const std::string& name, const char* fn) {
  if (name == "float32") return DType::kFloat32;
  if (name == "float64") return DType::kFloat64;
  throw std::invalid_argument(std::string(fn) + ": dtype must be 'float32' or 'float64', got '" +
                              name + "'");
}

namespace {

namespace vm = ::dirfast::weighted_loss::vmath;
constexpr int kLanes = 8;
//: below this many (row, component) pairs the pass runs on the calling thread
constexpr std::int64_t kParallelMin = 1 << 16;

template <typename T>
struct Prm {
  const T* p;
  const T* y;
  const T* c;      // centres [K]
  const T* a;      // BNI: log w; GAI: log w - log(s)/2
  const T* inv_s;  // GAI: 1/(cvar + v)
  T iv, h, half_log_v;
  std::int64_t b, k;
  T* st;
};

// Rows [i0, i1); buf: K scratch. Force-inlined into the baseline and AVX2 copies below.
template <typename T, int KIND>
DIRFAST_VINLINE void rows_impl(const Prm<T> q, std::int64_t i0, std::int64_t i1, T* __restrict__ buf) {
  const std::int64_t K = q.k;
  const T* __restrict__ c = q.c;
  const T* __restrict__ a = q.a;
  const T* __restrict__ inv_s = q.inv_s;
  for (std::int64_t i = i0; i < i1; ++i) {
    const T pi = q.p[i];
    for (std::int64_t j = 0; j < K; ++j) {
      const T d = pi - c[j];
      T l;
      if (KIND == 2) {
        const T t = d * inv_s[j];
        l = a[j] - (T(0.5) * d) * t;
      } else {
        l = (d * d) * q.h;
        if (KIND == 1) l = l + a[j];
      }
      buf[j] = l;
    }
    T m[kLanes];
    for (int l = 0; l < kLanes; ++l) m[l] = -std::numeric_limits<T>::infinity();
    std::int64_t j = 0;
    for (; j + kLanes <= K; j += kLanes)
      for (int l = 0; l < kLanes; ++l) m[l] = buf[j + l] > m[l] ? buf[j + l] : m[l];
    for (int l = 0; j < K; ++j, ++l) m[l] = buf[j] > m[l] ? buf[j] : m[l];
    T mx = m[0];
    for (int l = 1; l < kLanes; ++l) mx = m[l] > mx ? m[l] : mx;
    if (!std::isfinite(mx)) mx = T(0);
    for (j = 0; j < K; ++j) buf[j] = vm::exp(buf[j] - mx);
    double z[kLanes], s1[kLanes], s2[kLanes];
    for (int l = 0; l < kLanes; ++l) z[l] = s1[l] = s2[l] = 0.0;
    auto acc = [&](std::int64_t jj, int l) {
      const T e = buf[jj];
      const T d = pi - c[jj];
      z[l] += double(e);
      if (KIND == 2) {
        const T t = d * inv_s[jj];
        s1[l] += double(e * t);
        s2[l] += double(e * ((T(0.5) * t) * t - T(0.5) * inv_s[jj]));
      } else {
        s1[l] += double(e * c[jj]);
        s2[l] += double(e * (d * d));
      }
    };
    for (j = 0; j + kLanes <= K; j += kLanes)
      for (int l = 0; l < kLanes; ++l) acc(j + l, l);
    for (int l = 0; j < K; ++j, ++l) acc(j, l);
    const double Z = ((z[0] + z[1]) + (z[2] + z[3])) + ((z[4] + z[5]) + (z[6] + z[7]));
    const double S1 = ((s1[0] + s1[1]) + (s1[2] + s1[3])) + ((s1[4] + s1[5]) + (s1[6] + s1[7]));
    const double S2 = ((s2[0] + s2[1]) + (s2[2] + s2[3])) + ((s2[4] + s2[5]) + (s2[6] + s2[7]));
    const T lse = mx + T(std::log(T(Z)));
    const T dy = pi - q.y[i];
    const T mse = (dy * dy) * (T(0.5) * q.iv);
    T ell, gp, gv;
    if (KIND == 2) {
      ell = (mse + q.half_log_v) + lse;
      gp = dy * q.iv - T(S1 / Z);
      gv = (-mse * q.iv + T(0.5) * q.iv) + T(S2 / Z);
    } else {
      ell = mse + lse;
      gp = (T(S1 / Z) - q.y[i]) * q.iv;
      gv = (-mse + (T(0.5) * q.iv) * T(S2 / Z)) * q.iv;
    }
    q.st[i] = ell;
    q.st[q.b + i] = gv;
    q.st[2 * q.b + i] = lse;
    q.st[3 * q.b + i] = gp;
  }
}

template <typename T, int KIND>
void rows_base(const Prm<T> q, std::int64_t i0, std::int64_t i1, T* buf) {
  rows_impl<T, KIND>(q, i0, i1, buf);
}
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define DIRFAST_BMSE_AVX2 1
template <typename T, int KIND>
__attribute__((target("avx2"))) void rows_avx2(const Prm<T> q, std::int64_t i0, std::int64_t i1,
                                               T* buf) {
  rows_impl<T, KIND>(q, i0, i1, buf);
}
#else
#define DIRFAST_BMSE_AVX2 0
#endif

template <typename T, int KIND>
void fwd_kind(const FwdArgs& a, Prm<T>& q) {
  using Fn = void (*)(const Prm<T>, std::int64_t, std::int64_t, T*);
  Fn fn = &rows_base<T, KIND>;
#if DIRFAST_BMSE_AVX2
  if (::dirfast::weighted_loss::simd_level() >= 1) fn = &rows_avx2<T, KIND>;
#endif
  const std::int64_t B = q.b, K = q.k;
  constexpr std::int64_t kRows = 16;
#pragma omp parallel if (B * K >= kParallelMin)
  {
    std::vector<T> buf(std::max<std::int64_t>(K, 1));
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t i0 = 0; i0 < B; i0 += kRows) fn(q, i0, std::min(B, i0 + kRows), buf.data());
  }
  (void)a;
}

template <typename T>
void fwd_t(const FwdArgs& a) {
  Prm<T> q;
  q.p = reinterpret_cast<const T*>(a.pred);
  q.y = reinterpret_cast<const T*>(a.target);
  const T n = *reinterpret_cast<const T*>(a.noise);
  const T v = a.is_sigma ? n * n : n;
  q.iv = T(1) / v;
  q.h = T(-0.5) * q.iv;
  q.half_log_v = T(0.5) * T(std::log(v));
  q.b = a.b;
  q.st = reinterpret_cast<T*>(a.stats);
  std::vector<T> lw, invs;
  if (a.kind == 0) {
    q.c = q.y;
    q.k = a.b;
    q.a = nullptr;
    q.inv_s = nullptr;
  } else {
    q.c = reinterpret_cast<const T*>(a.centers);
    q.k = a.k;
    const T* w = reinterpret_cast<const T*>(a.weights);
    lw.resize(a.k);
    if (a.kind == 1) {
      for (std::int64_t j = 0; j < a.k; ++j) lw[j] = T(std::log(w[j]));
      q.inv_s = nullptr;
    } else {
      const T* cv = reinterpret_cast<const T*>(a.cvar);
      invs.resize(a.k);
      for (std::int64_t j = 0; j < a.k; ++j) {
        const T s = cv[j] + v;
        invs[j] = T(1) / s;
        lw[j] = T(std::log(w[j])) - T(0.5) * T(std::log(s));
      }
      q.inv_s = invs.data();
    }
    q.a = lw.data();
  }
  if (a.kind == 0)
    fwd_kind<T, 0>(a, q);
  else if (a.kind == 1)
    fwd_kind<T, 1>(a, q);
  else
    fwd_kind<T, 2>(a, q);
  T* out = reinterpret_cast<T*>(a.out);
  T* dv = reinterpret_cast<T*>(a.dvtot);
  const T scale = T(2) * v;
  if (a.reduction == 2) {
    for (std::int64_t i = 0; i < a.b; ++i) out[i] = q.st[i] * scale;
    *dv = T(0);
    return;
  }
  double se = 0.0, sv = 0.0;
  for (std::int64_t i = 0; i < a.b; ++i) {
    se += double(q.st[i]);
    sv += double(q.st[a.b + i]);
  }
  const T norm = a.reduction == 0 ? scale / T(std::max<std::int64_t>(a.b, 1)) : scale;
  *out = T(se) * norm;
  *dv = T(sv) * norm;
}

template <typename T>
void bwd_t(const BwdArgs& a) {
  const T* go = reinterpret_cast<const T*>(a.grad_out);
  const T* p = reinterpret_cast<const T*>(a.pred);
  const T* y = reinterpret_cast<const T*>(a.target);
  const T n = *reinterpret_cast<const T*>(a.noise);
  const T v = a.is_sigma ? n * n : n;
  const T* st = reinterpret_cast<const T*>(a.stats);
  const std::int64_t B = a.b;
  const bool none = a.reduction == 2;
  const T two_v = T(2) * v;
  auto g_of = [&](std::int64_t i) {
    T g = (none ? go[i] : go[0]) * two_v;
    if (a.reduction == 0) g = g / T(std::max<std::int64_t>(B, 1));
    return g;
  };
  T* gp = reinterpret_cast<T*>(a.gp);
  T* gt = reinterpret_cast<T*>(a.gt);
  if (gp)
    for (std::int64_t i = 0; i < B; ++i) gp[i] = st[3 * B + i] * g_of(i);
  if (gt)
    for (std::int64_t i = 0; i < B; ++i) gt[i] = (-(p[i] - y[i]) / v) * g_of(i);
  if (a.gv) {
    T gv;
    if (none) {
      double s = 0.0;
      for (std::int64_t i = 0; i < B; ++i) s += double(g_of(i) * st[B + i]);
      gv = T(s);
    } else {
      gv = go[0] * *reinterpret_cast<const T*>(a.dvtot);
    }
    if (a.is_sigma) gv = gv * (T(2) * n);
    *reinterpret_cast<T*>(a.gv) = gv;
  }
}

}  // namespace

void fwd(const FwdArgs& a) {
  if (a.kind < 0 || a.kind > 2) throw std::invalid_argument("bmse_fwd: kind must be 0, 1 or 2");
  if (a.reduction < 0 || a.reduction > 2)
    throw std::invalid_argument("bmse_fwd: reduction must be 0, 1 or 2");
  if (a.b < 1 || (a.kind != 0 && a.k < 1))
    throw std::invalid_argument("bmse_fwd: need B >= 1 and K >= 1");
  if (a.dtype == DType::kFloat32)
    fwd_t<float>(a);
  else
    fwd_t<double>(a);
}

void bwd(const BwdArgs& a) {
  if (a.reduction < 0 || a.reduction > 2)
    throw std::invalid_argument("bmse_bwd: reduction must be 0, 1 or 2");
  if (a.b < 1) throw std::invalid_argument("bmse_bwd: need B >= 1");
  if (a.dtype == DType::kFloat32)
    bwd_t<float>(a);
  else
    bwd_t<double>(a);
}

}  // namespace balanced_mse
}  // namespace dirfast
