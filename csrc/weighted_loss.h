// dirfast — weighted (focal) regression losses: element formula + host entry point.
//
// This header is torch-free and is meant to be shared by every backend that implements the op:
// the element formula below (`base_loss`, `focal_modulate`) is written once, marked
// DIRFAST_HOST_DEVICE, so a later CUDA build (issue 6, nvcc called directly) can include it
// unchanged (`#ifdef __CUDACC__` guard below).
//
// Semantics, per element i, in the element type T (float or double):
//   e = pred[i] - target[i]; a = |e|; sg = sign(e) (sign(0) = 0, sign(NaN) = NaN)
//   mse:   l = e*e,                 dl = 2e
//   l1:    l = a,                   dl = sg
//   huber: a < beta ? (l = 0.5*e*e/beta, dl = e/beta) : (l = a - 0.5*beta, dl = sg)
//   focal (mse/l1 only):
//     s = 1/(1+exp(-k*a)); m = 2s-1; dm = 2*k*s*(1-s)
//     mg  = m > 0 ? pow(m, gamma) : (gamma == 0 ? 1 : 0)
//     dmg = m > 0 ? gamma * pow(m, gamma-1) * dm * sg : 0
//     (l, dl) = (l*mg, dl*mg + l*dmg)
//   w = weight ? weight[i] : 1
//   grad[i] = scale*w*dl;  reduce ? sum += scale*w*l (double) : out[i] = scale*w*l
#pragma once

#include <cstddef>
#include <cstdint>

#if defined(__CUDACC__)
#define DIRFAST_HOST_DEVICE __host__ __device__ __forceinline__
#else
#include <cmath>
#define DIRFAST_HOST_DEVICE inline
#endif

namespace dirfast {
namespace weighted_loss {

enum Loss : int { kMSE = 0, kL1 = 1, kHuber = 2 };

// Deterministic reduction: [0, n) is cut into blocks of kReduceBlock elements (block b covers
// [b*kReduceBlock, (b+1)*kReduceBlock)); each block yields one double partial, computed with
// kReduceLanes independent accumulators (element j of a block goes to lane j % kReduceLanes,
// lanes combined pairwise at the end), and the partials are added sequentially in block order.
// The bits of the sum therefore depend only on the data, n and these two constants — never on
// the number of OpenMP threads or on the SIMD width. Changing either constant changes the bits.
constexpr std::int64_t kReduceBlock = 16384;
constexpr int kReduceLanes = 8;

// sign(e) with sign(+-0) = +0 and sign(NaN) = NaN (e - e is +0 for +-0 and NaN for NaN).
template <typename T>
DIRFAST_HOST_DEVICE T sign_of(T e) {
  return e > T(0) ? T(1) : (e < T(0) ? T(-1) : e - e);
}

// Base loss l(e) and its derivative dl/de. LOSS is a compile-time Loss.
template <typename T, int LOSS>
DIRFAST_HOST_DEVICE void base_loss(T e, T beta, T& l, T& dl) {
  const T a = e < T(0) ? -e : e;  // |e| (NaN stays NaN)
  if (LOSS == kMSE) {
    l = e * e;
    dl = T(2) * e;
  } else if (LOSS == kL1) {
    l = a;
    dl = sign_of(e);
  } else {  // kHuber; written as selects so the loop vectorises (both sides are computed)
    const bool quad = a < beta;
    const T lq = T(0.5) * e * e / beta;
    const T dq = e / beta;
    const T ll = a - T(0.5) * beta;
    const T dlin = sign_of(e);
    l = quad ? lq : ll;
    dl = quad ? dq : dlin;
  }
}

// Focal modulation: (l, dl) <- (l*mg, dl*mg + l*dmg). gamma_mode selects an exact fast path:
// 0 -> gamma == 0, 1 -> gamma == 1, 2 -> gamma == 2, 3 -> general gamma > 0, 4 -> general.
// The fast paths equal the general formula exactly (pow(m,0) = 1, pow(m,1) = m, and pow(m,2)
// vs m*m are both correctly rounded up to glibc's < 1 ulp); mode 3 computes pow(m,gamma) as
// pow(m,gamma-1)*m (one pow instead of two, ~1.5 ulp).
template <typename T>
DIRFAST_HOST_DEVICE int focal_gamma_mode(T gamma) {
  return gamma == T(0) ? 0 : gamma == T(1) ? 1 : gamma == T(2) ? 2 : gamma > T(0) ? 3 : 4;
}

template <typename T>
DIRFAST_HOST_DEVICE void focal_modulate(T e, T k, T gamma, int gamma_mode, T& l, T& dl) {
  using std::exp;
  using std::pow;
  const T a = e < T(0) ? -e : e;
  const T sg = sign_of(e);
  const T s = T(1) / (T(1) + exp(-k * a));
  const T m = T(2) * s - T(1);
  const T dm = T(2) * k * s * (T(1) - s);
  T mg, dmg;
  if (m > T(0)) {
    switch (gamma_mode) {
      case 0: mg = T(1); dmg = T(0); break;
      case 1: mg = m; dmg = dm * sg; break;
      case 2: mg = m * m; dmg = T(2) * m * dm * sg; break;
      case 3: {
        const T pm1 = pow(m, gamma - T(1));
        mg = pm1 * m;
        dmg = gamma * pm1 * dm * sg;
        break;
      }
      default:
        mg = pow(m, gamma);
        dmg = gamma * pow(m, gamma - T(1)) * dm * sg;
        break;
    }
  } else {
    mg = gamma == T(0) ? T(1) : T(0);
    dmg = T(0);
  }
  const T ln = l * mg;
  const T dln = dl * mg + l * dmg;
  l = ln;
  dl = dln;
}

#if !defined(__CUDACC__)

enum class DType : int { kFloat32 = 0, kFloat64 = 1 };

// Host entry point (CPU, OpenMP). Pointers are raw addresses of contiguous buffers of n elements
// of `dtype`; weight == 0 means w = 1; grad == 0 means no gradient is written; out must be 0 when
// reduce is true and non-zero otherwise.
// Outputs (grad, out) must not overlap any other buffer. Throws std::invalid_argument on bad
// arguments (translated to ValueError by the binding) before touching memory; the compute itself
// throws nothing. Returns the double sum of scale*w*l if reduce, else 0.0.
struct FwdArgs {
  DType dtype;
  std::uintptr_t pred, target, weight, grad, out;
  std::int64_t n;
  int loss;
  bool focal, reduce;
  double scale, beta, k, gamma;
};

DType parse_dtype(const char* name);  // "float32" | "float64", else std::invalid_argument
void validate(const FwdArgs& args);   // std::invalid_argument on bad arguments
double fwd(const FwdArgs& args);      // validate(args) must have passed; no exceptions

#endif  // !__CUDACC__

}  // namespace weighted_loss
}  // namespace dirfast
