// dirfast — Dist Loss fused CPU passes (see dist_loss.h). One serial loop per pass: the gathers
// y[perm_i], w[perm_i] and the scatter grad[perm_i] are random accesses that do not vectorise, a
// pass over 64k elements takes ~0.2 ms, and a serial loop pays no OpenMP barrier (which costs
// milliseconds on an oversubscribed machine); torch.sort before it dominates.
#include "dist_loss.h"

#include "weighted_loss.h"  // tanh_sech2: the focal modulator

#include <cmath>

namespace dirfast {
namespace dist_loss {

namespace {

template <typename T>
inline T sign_of(T d) {
  return d > T(0) ? T(1) : (d < T(0) ? T(-1) : d - d);  // sign(0) = 0, sign(NaN) = NaN
}

template <typename T, int LOSS>
inline void loss_grad(T d, T beta, T inv_beta, T k, T gamma, T& l, T& dl) {
  const T a = std::fabs(d);
  const T sg = sign_of(d);
  if (LOSS == 0) {
    l = d * d;
    dl = T(2) * d;
  } else if (LOSS == 1) {
    l = a;
    dl = sg;
  } else if (LOSS == 2) {
    if (a < beta) {
      l = T(0.5) * d * d * inv_beta;
      dl = d * inv_beta;
    } else {
      l = a - T(0.5) * beta;
      dl = sg;
    }
  } else {
    // m = 2 sigmoid(k a) - 1 = tanh(c a), c = k/2: the cancellation-free form shared with the
    // weighted losses (weighted_loss.h tanh_sech2); dm/da = c sech^2(c a)
    const T c = T(0.5) * k;
    T m, s2;
    weighted_loss::tanh_sech2(c * a, m, s2);
    const T dm = c * s2;
    T mg, dmg;
    if (m > T(0)) {
      mg = std::pow(m, gamma);
      dmg = gamma * (mg / m) * dm * sg;
    } else {
      mg = gamma == T(0) ? T(1) : T(0);
      dmg = T(0);
    }
    l = a * mg;
    dl = sg * mg + a * dmg;
  }
}

template <typename T, int LOSS>
Result run_t(const Args& a) {
  const T* x = reinterpret_cast<const T*>(a.x);
  const std::int64_t* perm = reinterpret_cast<const std::int64_t*>(a.perm);
  const T* y = reinterpret_cast<const T*>(a.y);
  const T* q = reinterpret_cast<const T*>(a.q);
  const T* w = reinterpret_cast<const T*>(a.w);
  T* gx = reinterpret_cast<T*>(a.gx);
  T* grad = reinterpret_cast<T*>(a.grad);
  const T lam_s = T(a.lam_s), scale = T(a.scale), thresh = T(a.thresh), beta = T(a.beta);
  const T inv_beta = T(1.0 / a.beta), k = T(a.k), gamma = T(a.gamma);
  const int wmode = w ? a.weighting : 0;
  const std::int64_t n = a.n;
  Result r;
  double dist = 0.0, samp = 0.0;
  bool hit = false;
  if (a.mode == 0) {
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t kk = perm[i];
      const T xi = x[i];
      T ld, dld, ls, dls;
      loss_grad<T, LOSS>(xi - q[i], beta, inv_beta, k, gamma, ld, dld);
      loss_grad<T, LOSS>(xi - y[kk], beta, inv_beta, k, gamma, ls, dls);
      if (w) {
        const T wk = w[kk];
        ls *= wk;
        dls *= wk;
        const T wd = wmode == 1 ? wk : (wmode == 2 ? w[i] : T(1));
        ld *= wd;
        dld *= wd;
      }
      dist += double(ld);
      samp += double(ls);
      if (grad) grad[kk] = lam_s * dld + scale * dls;
      if (i + 1 < n && x[i + 1] - xi >= thresh) hit = true;
    }
  } else if (a.mode == 1) {
    for (std::int64_t i = 0; i < n; ++i) {
      T ld, dld;
      loss_grad<T, LOSS>(x[i] - q[i], beta, inv_beta, k, gamma, ld, dld);
      if (w && wmode != 0) {
        const T wd = wmode == 1 ? w[perm[i]] : w[i];
        ld *= wd;
        dld *= wd;
      }
      dist += double(ld);
      gx[i] = lam_s * dld;
    }
  } else {
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t kk = perm[i];
      T ls, dls;
      loss_grad<T, LOSS>(x[i] - y[kk], beta, inv_beta, k, gamma, ls, dls);
      if (w) dls *= w[kk];
      grad[kk] = gx[i] + scale * dls;
    }
  }
  r.dist = dist;
  r.samp = samp;
  r.hit = hit;
  return r;
}

template <typename T>
Result dispatch_loss(const Args& a) {
  switch (a.loss) {
    case 0: return run_t<T, 0>(a);
    case 1: return run_t<T, 1>(a);
    case 2: return run_t<T, 2>(a);
    default: return run_t<T, 3>(a);
  }
}

}  // namespace

void validate(const Args& a) {
  const std::string f("dist_loss_pass");
  if (a.mode < 0 || a.mode > 2)
    throw std::invalid_argument(f + ": mode must be 0, 1 or 2, got " + std::to_string(a.mode));
  if (a.loss < 0 || a.loss > 3)
    throw std::invalid_argument(f + ": loss must be 0..3, got " + std::to_string(a.loss));
  if (a.weighting < 0 || a.weighting > 2)
    throw std::invalid_argument(f + ": weighting must be 0..2, got " + std::to_string(a.weighting));
  if (a.n < 0) throw std::invalid_argument(f + ": n must be >= 0");
  if (!(a.beta > 0.0)) throw std::invalid_argument(f + ": beta must be > 0");
  if (a.n == 0) return;
  const std::uintptr_t isz = a.dtype == DType::kFloat32 ? 4 : 8;
  auto need = [&](std::uintptr_t p, const char* name, std::uintptr_t al) {
    if (p == 0 || p % al)
      throw std::invalid_argument(f + ": " + name + " must be a non-null aligned pointer");
  };
  need(a.x, "x", isz);
  need(a.perm, "perm", 8);
  if (a.mode != 1) need(a.y, "y", isz);
  if (a.mode != 2) need(a.q, "q", isz);
  if (a.mode != 0) need(a.gx, "gx", isz);
  if (a.mode == 2) need(a.grad, "grad", isz);
  if (a.w % isz || a.grad % isz) throw std::invalid_argument(f + ": w/grad must be aligned");
}

Result run(const Args& a) {
  if (a.n == 0) return Result();
  return a.dtype == DType::kFloat32 ? dispatch_loss<float>(a) : dispatch_loss<double>(a);
}

}  // namespace dist_loss
}  // namespace dirfast
