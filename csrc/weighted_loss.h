// dirfast — weighted (focal) regression losses: element formula + host entry point.
//
// This header is torch-free and is meant to be shared by every backend that implements the op:
// the element formula below (`base_loss`, `focal_modulate`) is written once, marked
// DIRFAST_HOST_DEVICE, so a later CUDA build (nvcc called directly) can include it
// unchanged (`#ifdef __CUDACC__` guard below).
//
// Semantics, per element i, in the element type T (float or double):
//   e = pred[i] - target[i]; a = |e|; sg = sign(e) (sign(0) = 0, sign(NaN) = NaN)
//   mse:   l = e*e,                 dl = 2e
//   l1:    l = a,                   dl = sg
//   huber: a < beta ? (l = 0.5*e*e/beta, dl = e/beta) : (l = a - 0.5*beta, dl = sg)
//   focal (mse/l1 only; k is the sigmoid slope: m = 2*sigmoid(k*a) - 1, computed as tanh):
//     c = k/2; m = tanh(c*a); dm = c*sech^2(c*a)                    (tanh_sech2 below)
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
#include <cstring>
#include <limits>
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

// ---------------------------------------------------------------------------------------------
// Vectorisable exp / log (host only; CUDA uses its own libdevice exp/pow).
//
// Straight-line code (no calls, no branches: selects only, integer work through bit casts) so
// gcc -O3 vectorises loops that call them with plain SSE2 — every step is an IEEE add/mul/div or a
// bit operation, so the scalar, SSE2 and AVX2 versions give identical bits (no FMA: the results do
// not depend on the target as long as contraction is off, -ffp-contract=off). Accuracy, measured
// against a long double reference over sweeps of the whole domain (tests/test_ext_weighted_loss.py
// test_vmath_*, bound 1.1 ulp): exp max 1.00 ulp (float) / 1.05 ulp (double), subnormal results
// included, exp(-inf) = 0, exp(+inf) = +inf, exp(NaN) = NaN; log max 0.83 ulp (float and double)
// for every positive finite x (subnormals included), log(0) = -inf, log(x < 0) = NaN,
// log(+inf) = +inf, log(NaN) = NaN.
//
// exp: n = rint(x/ln2) by the 1.5*2^p shifter trick, r = x - n*ln2 (Cody-Waite, two constants;
// n*ln2_hi is exact), exp(r) = 1 + r + r^2*P(r) on |r| <= ln2/2 (P: float, Cephes expf's degree 5;
// double, a degree-9 Chebyshev fit; both by Estrin's scheme: short dependency chains, which is
// what limits the focal loops' throughput), times 2^n applied as 2^n1 * 2^n2 with
// n1 = rint(n/2), n2 = n - n1 (both normal, so subnormal results are rounded once, correctly).
// log: x = 2^e * f with f in [sqrt(1/2), sqrt(2)) (bit arithmetic, subnormals pre-scaled by
// 2^25 / 2^54), log(f) by a polynomial in f-1 (float: Cephes logf, no division) or in
// s = (f-1)/(f+1) (double: fdlibm e_log.c), plus e*ln2 in two parts.
// ---------------------------------------------------------------------------------------------
#if !defined(__CUDACC__)

#if defined(__GNUC__)
#define DIRFAST_VINLINE inline __attribute__((always_inline))
#else
#define DIRFAST_VINLINE inline
#endif

namespace vmath {

template <typename To, typename From>
DIRFAST_VINLINE To bit_cast(From f) {
  static_assert(sizeof(To) == sizeof(From), "bit_cast: sizes differ");
  To t;
  std::memcpy(&t, &f, sizeof(To));
  return t;
}

DIRFAST_VINLINE float exp(float x) {
  // exp(-104) < 2^-150 rounds to 0, exp(89) > FLT_MAX overflows to inf; NaN passes both clamps.
  x = x < -104.0f ? -104.0f : x;
  x = x > 89.0f ? 89.0f : x;
  const float sh = 12582912.0f;  // 1.5 * 2^23: t = sh + rint(x/ln2)
  const float t = x * 1.44269504088896341f + sh;
  const float nf = t - sh;
  float r = x - nf * 0.693359375f;  // ln2_hi: 9 bits, n*ln2_hi is exact
  r = r - nf * -2.12194440e-4f;     // ln2_lo
  // exp(r) = 1 + r + r^2 * P(r), P: Cephes expf's minimax coefficients, evaluated by Estrin's
  // scheme (short dependency chains; P's rounding is damped by r^2 <= 0.12).
  const float z = r * r;
  const float p01 = 5.0000001201e-1f + 1.6666665459e-1f * r;
  const float p23 = 4.1665795894e-2f + 8.3334519073e-3f * r;
  const float p45 = 1.3981999507e-3f + 1.9875691500e-4f * r;
  float p = (p01 + z * p23) + (z * z) * p45;
  p = (p * z + r) + 1.0f;
  // 2^n = 2^n1 * 2^n2, n1 = rint(n/2): bits(sh + j) << 23 == j << 23 (the low 9 bits of
  // bits(sh) are 0), so the integer parts come straight from the shifter's bits.
  const float t1 = nf * 0.5f + sh;
  const std::uint32_t u = bit_cast<std::uint32_t>(t), u1 = bit_cast<std::uint32_t>(t1);
  const float s1 = bit_cast<float>((u1 << 23) + (127u << 23));
  const float s2 = bit_cast<float>(((u - u1) << 23) + (127u << 23));
  return p * s1 * s2;
}

DIRFAST_VINLINE double exp(double x) {
  // exp(-746) < 2^-1075 rounds to 0, exp(710) > DBL_MAX overflows to inf; NaN passes.
  x = x < -746.0 ? -746.0 : x;
  x = x > 710.0 ? 710.0 : x;
  const double sh = 6755399441055744.0;  // 1.5 * 2^52
  const double t = x * 1.44269504088896338700e+00 + sh;
  const double nf = t - sh;
  double r = x - nf * 6.93147180369123816490e-01;  // ln2_hi (fdlibm): 32 bits, exact product
  r = r - nf * 1.90821492927058770002e-10;         // ln2_lo
  // exp(r) = 1 + r + r^2 * Q(r), Q: degree 9, near-minimax on |r| <= ln2/2 (Chebyshev fit,
  // error of Q ~1e-16, i.e. < 2e-17 relative on exp), evaluated by Estrin's scheme.
  const double z = r * r;
  const double z2 = z * z;
  const double q01 = 0.5000000000000001 + 0.16666666666666669 * r;
  const double q23 = 0.041666666666624164 + 0.008333333333330065 * r;
  const double q45 = 0.0013888888917196719 + 0.00019841269863040545 * r;
  const double q67 = 2.4801521322368692e-05 + 2.7557268480310024e-06 * r;
  const double q89 = 2.7620075879983367e-07 + 2.5100375832561234e-08 * r;
  double p = ((q01 + z * q23) + z2 * (q45 + z * q67)) + (z2 * z2) * q89;
  p = (p * z + r) + 1.0;
  const double t1 = nf * 0.5 + sh;  // low 12 bits of bits(sh) are 0
  const std::uint64_t u = bit_cast<std::uint64_t>(t), u1 = bit_cast<std::uint64_t>(t1);
  const double s1 = bit_cast<double>((u1 << 52) + (std::uint64_t(1023) << 52));
  const double s2 = bit_cast<double>(((u - u1) << 52) + (std::uint64_t(1023) << 52));
  return p * s1 * s2;
}

// log core: x = xs * 2^-eoff with xs positive, normal and finite (no checks, no selects: a
// select here lets gcc's jump threading duplicate the whole body per select arm).
DIRFAST_VINLINE float log_core(float xs, float eoff) {
  const std::uint32_t ix = bit_cast<std::uint32_t>(xs) - 0x3f3504f3u;  // - bits(sqrt(1/2))
  const std::int32_t ei = static_cast<std::int32_t>(ix) >> 23;
  const float f = bit_cast<float>((ix & 0x007fffffu) + 0x3f3504f3u) - 1.0f;  // exact
  const float e = static_cast<float>(ei) - eoff;
  const float z = f * f;
  // Cephes logf's minimax polynomial, by Estrin's scheme.
  const float z2 = z * z;
  const float p01 = 3.3333331174e-1f - 2.4999993993e-1f * f;
  const float p23 = 2.0000714765e-1f - 1.6668057665e-1f * f;
  const float p45 = 1.4249322787e-1f - 1.2420140846e-1f * f;
  const float p67 = 1.1676998740e-1f - 1.1514610310e-1f * f;
  const float p = ((p01 + z * p23) + z2 * (p45 + z * p67)) + (z2 * z2) * 7.0376836292e-2f;
  float y = p * f * z;
  y = y + e * -2.12194440e-4f;
  y = y - 0.5f * z;
  const float r = f + y;
  return r + e * 0.693359375f;
}

DIRFAST_VINLINE double log_core(double xs, double eoff) {
  const std::uint64_t ix = bit_cast<std::uint64_t>(xs) - 0x3fe6a09e667f3bcdull;
  // e = (signed)ix >> 52 without a 64-bit arithmetic shift or int64->double conversion (neither
  // exists before AVX-512): the top 12 bits of ix + 1024*2^52 are e + 1024 in [2, 2049].
  const std::uint64_t eb = (ix + (std::uint64_t(1024) << 52)) >> 52;
  const double e =
      bit_cast<double>(0x4330000000000000ull | eb) - (4503599627370496.0 + 1024.0) - eoff;
  const double f = bit_cast<double>((ix & 0x000fffffffffffffull) + 0x3fe6a09e667f3bcdull) - 1.0;
  const double hfsq = 0.5 * f * f;
  const double s = f / (2.0 + f);
  const double z = s * s;
  const double w = z * z;
  const double t1 = w * (3.999999999940941908e-01 +
                         w * (2.222219843214978396e-01 + w * 1.531383769920937332e-01));
  const double t2 = z * (6.666666666666735130e-01 +
                         w * (2.857142874366239149e-01 +
                              w * (1.818357216161805012e-01 + w * 1.479819860511658591e-01)));
  const double R = t2 + t1;
  return e * 6.93147180369123816490e-01 -
         ((hfsq - (s * (hfsq + R) + e * 1.90821492927058770002e-10)) - f);
}

// Full log: subnormals, 0, negatives, inf and NaN too.
DIRFAST_VINLINE float log(float x) {
  const bool sub = x < 1.17549435e-38f;  // subnormal (and 0, negative: fixed up below)
  float r = log_core(x * (sub ? 33554432.0f : 1.0f), sub ? 25.0f : 0.0f);  // 2^25
  r = x <= 3.40282347e+38f ? r : x + x;  // +inf -> +inf (NaN: below)
  r = x == 0.0f ? -std::numeric_limits<float>::infinity() : r;
  r = x < 0.0f ? std::numeric_limits<float>::quiet_NaN() : r;
  r = x != x ? x : r;
  return r;
}

DIRFAST_VINLINE double log(double x) {
  const bool sub = x < 2.2250738585072014e-308;
  double r = log_core(x * (sub ? 18014398509481984.0 : 1.0), sub ? 54.0 : 0.0);  // 2^54
  r = x <= 1.7976931348623157e+308 ? r : x + x;
  r = x == 0.0 ? -std::numeric_limits<double>::infinity() : r;
  r = x < 0.0 ? std::numeric_limits<double>::quiet_NaN() : r;
  r = x != x ? x : r;
  return r;
}

}  // namespace vmath

#define DIRFAST_FEXP(x) ::dirfast::weighted_loss::vmath::exp(x)
#define DIRFAST_FLOG(x) ::dirfast::weighted_loss::vmath::log(x)
#else
#define DIRFAST_VINLINE DIRFAST_HOST_DEVICE
#define DIRFAST_FEXP(x) exp(x)
#define DIRFAST_FLOG(x) log(x)
#endif  // !__CUDACC__

// tanh(x) and sech^2(x) = 1 - tanh^2(x) for x >= 0 (or NaN), branch-free (selects only, so the focal
// loops still vectorise), neither by a cancelling subtraction:
//   t = exp(-2x); sech^2 = 4t / (1 + t)^2 (no subtraction at all: accurate for every x);
//   tanh = (1 - t) / (1 + t) for x >= 1/4 (1 - t >= 0.39: at most ~2.5x exp's error), and below
//   1/4 the Taylor series x + x^3 P(x^2) (P: the series' coefficients up to x^19 for double, x^9 for
//   float; truncation < 0.61 ulp on [0, 1/4], checked against mpmath), which keeps full relative
//   precision down to the smallest subnormal (2 sigmoid(x) - 1, the former formula, lost every digit
//   below 2^-53: x = 1e-26 gave 0).
// x = +inf gives (1, 0), NaN gives NaN.
template <typename T>
DIRFAST_VINLINE void tanh_sech2(T x, T& th, T& sech2) {
  const T t = DIRFAST_FEXP(T(-2) * x);
  const T op = T(1) + t;
  sech2 = T(4) * t / (op * op);
  const T big = (T(1) - t) / op;
  const T z = x * x;
  T p;
  if (sizeof(T) == sizeof(float)) {
    p = T(2.1869488536155203e-02);
    p = p * z + T(-5.396825396825397e-02);
    p = p * z + T(1.3333333333333333e-01);
    p = p * z + T(-3.333333333333333e-01);
  } else {
    p = T(-2.3912911424355248e-04);
    p = p * z + T(5.90027440945586e-04);
    p = p * z + T(-1.4558343870513183e-03);
    p = p * z + T(3.592128036572481e-03);
    p = p * z + T(-8.863235529902197e-03);
    p = p * z + T(2.1869488536155203e-02);
    p = p * z + T(-5.396825396825397e-02);
    p = p * z + T(1.3333333333333333e-01);
    p = p * z + T(-3.333333333333333e-01);
  }
  const T small = x + x * (z * p);
  th = x < T(0.25) ? small : big;
}

// Focal modulation: (l, dl) <- (l*mg, dl*mg + l*dmg). GMODE (a compile-time focal_gamma_mode,
// dispatched once per call) selects an exact fast path:
//   0 -> gamma == 0: mg = 1, dmg = 0 (no exp at all);
//   1 -> gamma == 1: mg = m, dmg = dm*sg;
//   2 -> gamma == 2: mg = m*m, dmg = 2*m*dm*sg;
//   3 -> general finite gamma > 0: pm1 = m^(gamma-1) = exp((gamma-1)*log(m)), mg = pm1*m,
//        dmg = gamma*pm1*dm*sg;
//   4 -> anything else (gamma < 0, inf, NaN: not reachable from the Python API): std::pow.
// Modes 0-3 are branch-free (selects) and call only the vectorisable vmath::exp / vmath::log, so
// the element loop vectorises. Modes 0-2 equal the general formula up to exp's rounding; mode 3's
// pow(m, gamma-1) has a relative error of about |(gamma-1)*log(m)| ulp (large only where m, and
// so the loss, is tiny).
template <typename T>
DIRFAST_HOST_DEVICE int focal_gamma_mode(T gamma) {
  return gamma == T(0) ? 0
         : gamma == T(1) ? 1
         : gamma == T(2) ? 2
         : (gamma > T(0) && gamma - gamma == T(0)) ? 3
                                                    : 4;
}

template <typename T, int GMODE>
DIRFAST_VINLINE void focal_modulate(T e, T k, T gamma, T& l, T& dl) {
  const T a = e < T(0) ? -e : e;
  const T sg = sign_of(e);
  T mg, dmg;
  if (GMODE == 0) {
    // m > 0 ? pow(m, 0) : 1 -- both 1 (also for NaN m); no exp needed.
    mg = T(1);
    dmg = T(0);
  } else {
    // m = 2 sigmoid(k a) - 1 = tanh(c a), c = k/2 (see tanh_sech2); dm/da = c sech^2(c a)
    const T c = T(0.5) * k;
    T m, s2;
    tanh_sech2(c * a, m, s2);
    const T dm = c * s2;
    const bool pos = m > T(0);
    T mgp, dmgp;
    if (GMODE == 1) {
      mgp = m;
      dmgp = dm * sg;
    } else if (GMODE == 2) {
      mgp = m * m;
      dmgp = T(2) * m * dm * sg;
    } else if (GMODE == 3) {
      // m = tanh(c a) may be subnormal: the full log (subnormals pre-scaled); lanes with m <= 0
      // get log(1) and are discarded below.
      const T mp = pos ? m : T(1);
      const T pm1 = DIRFAST_FEXP((gamma - T(1)) * DIRFAST_FLOG(mp));
      mgp = pm1 * m;
      dmgp = gamma * pm1 * dm * sg;
    } else {
      using std::pow;
      mgp = pos ? pow(m, gamma) : T(0);
      dmgp = pos ? gamma * pow(m, gamma - T(1)) * dm * sg : T(0);
    }
    mg = pos ? mgp : (gamma == T(0) ? T(1) : T(0));
    dmg = pos ? dmgp : T(0);
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

// Instruction set of the element loops. The loops are compiled twice: baseline x86-64 (SSE2) and
// AVX2 (gcc `target("avx2")`, no FMA); the AVX2 version is used when the CPU supports it. Both give
// bit-identical results (IEEE add/mul/div/compare/bit ops only, no contraction), which the tests
// check by switching levels. simd_level(): 0 = baseline, 1 = AVX2. set_simd_level(level) selects
// min(level, best supported) for all later calls in the process (a testing/debugging knob) and
// returns the level in effect; a negative level restores the default (best supported).
int simd_level();
int simd_level_max();
int set_simd_level(int level);

// Test hook: y[i] = vmath::exp(x[i]) (fn == 0) or vmath::log(x[i]) (fn == 1) for n contiguous
// elements of `dtype`, with the current simd level (the same inlined code as the focal loss).
void vmath_apply(int fn, DType dtype, std::uintptr_t x, std::uintptr_t y, std::int64_t n);

#endif  // !__CUDACC__

}  // namespace weighted_loss
}  // namespace dirfast
