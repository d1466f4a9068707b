// dirfast — weighted (focal) regression losses, CPU implementation (OpenMP + auto-vectorisation).
//
// Layout of the work (see kReduceBlock / kReduceLanes in weighted_loss.h):
//   blocks of kReduceBlock elements are distributed over the OpenMP threads (schedule static);
//   inside a block, chunks of kChunk elements go through two loops:
//     1. the element loop: loads, the loss formula, the grad store and either the `out` store
//        (reduce=false) or a store of scale*w*l into a small on-stack buffer (reduce=true).
//        It has no reduction and no calls, so gcc -O3 vectorises it for every loss, focal
//        included (vmath::exp / vmath::log in weighted_loss.h, branch-free; the gamma mode is a
//        template parameter; only the gamma < 0 / non-finite fallback calls std::pow);
//     2. the lane loop: adds the buffer into kReduceLanes double accumulators (lane = j % lanes),
//        a lane-wise vector add with no reassociation.
//   Each block writes its double partial; the partials are then added in block order.
// The block kernel is compiled twice, baseline (SSE2) and target("avx2") (no FMA), and picked
// once per call at run time; both give identical bits (see "instruction-set versions" below).
#include "weighted_loss.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace dirfast {
namespace weighted_loss {
namespace {

// Elements per inner chunk (buffer of scale*w*l for the lane loop; fits in L1).
constexpr std::int64_t kChunk = 512;
static_assert(kReduceBlock % kChunk == 0, "a block must be a whole number of chunks");
static_assert(kChunk % kReduceLanes == 0, "a chunk must be a whole number of lane groups");

template <typename T>
struct Params {
  T scale, beta, k, gamma;
};

// FMODE: -1 = no focal modulation, 0..4 = focal with gamma mode FMODE (see focal_modulate).
template <typename T, int LOSS, int FMODE>
DIRFAST_VINLINE void element(T p, T t, T w, const Params<T>& prm, T& v, T& g) {
  const T e = p - t;
  T l, dl;
  base_loss<T, LOSS>(e, prm.beta, l, dl);
  if (FMODE >= 0) focal_modulate<T, (FMODE < 0 ? 0 : FMODE)>(e, prm.k, prm.gamma, l, dl);
  g = prm.scale * w * dl;
  v = prm.scale * w * l;
}

// One block [i0, i1), i1 - i0 <= kReduceBlock. Returns the block's partial sum (0 if !REDUCE).
// Force-inlined into block_base / block_avx2 below, which compile it for their instruction set.
template <typename T, int LOSS, int FMODE, bool WEIGHT, bool REDUCE, bool GRAD>
DIRFAST_VINLINE double block_impl(const T* __restrict__ pred, const T* __restrict__ target,
                                  const T* __restrict__ weight, T* __restrict__ grad,
                                  T* __restrict__ out, std::int64_t i0, std::int64_t i1,
                                  const Params<T> prm) {
  double acc[kReduceLanes];
  for (int q = 0; q < kReduceLanes; ++q) acc[q] = 0.0;
  alignas(64) T buf[kChunk];

  for (std::int64_t c0 = i0; c0 < i1; c0 += kChunk) {
    const std::int64_t len = std::min<std::int64_t>(kChunk, i1 - c0);
    const T* __restrict__ p = pred + c0;
    const T* __restrict__ t = target + c0;
    const T* __restrict__ wp = WEIGHT ? weight + c0 : nullptr;
    T* __restrict__ g = GRAD ? grad + c0 : nullptr;
    T* __restrict__ o = REDUCE ? buf : out + c0;
    for (std::int64_t j = 0; j < len; ++j) {
      const T w = WEIGHT ? wp[j] : T(1);
      T v, gj;
      element<T, LOSS, FMODE>(p[j], t[j], w, prm, v, gj);
      if (GRAD) g[j] = gj;
      o[j] = v;
    }
    if (REDUCE) {
      // Chunks start at multiples of kChunk inside the block, and kChunk % lanes == 0, so
      // element j of the block always lands in lane j % kReduceLanes.
      std::int64_t j = 0;
      for (; j + kReduceLanes <= len; j += kReduceLanes)
        for (int q = 0; q < kReduceLanes; ++q) acc[q] += static_cast<double>(buf[j + q]);
      for (int q = 0; j < len; ++j, ++q) acc[q] += static_cast<double>(buf[j]);
    }
  }
  if (!REDUCE) return 0.0;
  static_assert(kReduceLanes == 8, "the pairwise lane combination below assumes 8 lanes");
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// ------------------------------------------------------------------ instruction-set versions
//
// The block kernel is compiled for the baseline target and, on x86 with gcc/clang, once more
// with target("avx2") (deliberately without "fma": even an explicit request could then not be
// contracted, and -ffp-contract=off keeps the baseline version contraction-free too), so both
// versions perform exactly the same IEEE operations and give bit-identical results.
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define DIRFAST_HAVE_AVX2 1
#define DIRFAST_TARGET_AVX2 __attribute__((target("avx2")))
#else
#define DIRFAST_HAVE_AVX2 0
#endif

template <typename T, int LOSS, int FMODE, bool WEIGHT, bool REDUCE, bool GRAD>
double block_base(const T* pred, const T* target, const T* weight, T* grad, T* out,
                  std::int64_t i0, std::int64_t i1, const Params<T> prm) {
  return block_impl<T, LOSS, FMODE, WEIGHT, REDUCE, GRAD>(pred, target, weight, grad, out, i0, i1, prm);
}

#if DIRFAST_HAVE_AVX2
template <typename T, int LOSS, int FMODE, bool WEIGHT, bool REDUCE, bool GRAD>
DIRFAST_TARGET_AVX2 double block_avx2(const T* pred, const T* target, const T* weight, T* grad,
                                      T* out, std::int64_t i0, std::int64_t i1, const Params<T> prm) {
  return block_impl<T, LOSS, FMODE, WEIGHT, REDUCE, GRAD>(pred, target, weight, grad, out, i0, i1, prm);
}
#endif

int detect_simd_level() {
#if DIRFAST_HAVE_AVX2
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") ? 1 : 0;
#else
  return 0;
#endif
}

int max_level() {
  static const int level = detect_simd_level();
  return level;
}

std::atomic<int>& level_ref() {
  static std::atomic<int> level{max_level()};
  return level;
}

template <typename T, int LOSS, int FMODE, bool WEIGHT, bool REDUCE, bool GRAD>
double run(const FwdArgs& a) {
  const T* pred = reinterpret_cast<const T*>(a.pred);
  const T* target = reinterpret_cast<const T*>(a.target);
  const T* weight = reinterpret_cast<const T*>(a.weight);
  T* grad = reinterpret_cast<T*>(a.grad);
  T* out = reinterpret_cast<T*>(a.out);
  Params<T> prm;
  prm.scale = static_cast<T>(a.scale);
  prm.beta = static_cast<T>(a.beta);
  prm.k = static_cast<T>(a.k);
  prm.gamma = static_cast<T>(a.gamma);

  using BlockFn = double (*)(const T*, const T*, const T*, T*, T*, std::int64_t, std::int64_t,
                             const Params<T>);
  BlockFn block = &block_base<T, LOSS, FMODE, WEIGHT, REDUCE, GRAD>;
#if DIRFAST_HAVE_AVX2
  // Mode 4 (std::pow per element) stays scalar: no AVX2 copy of it.
  if (FMODE != 4 && level_ref().load(std::memory_order_relaxed) >= 1)
    block = &block_avx2<T, LOSS, FMODE, WEIGHT, REDUCE, GRAD>;
#endif

  const std::int64_t n = a.n;
  const std::int64_t nblocks = (n + kReduceBlock - 1) / kReduceBlock;

  if (!REDUCE) {
#pragma omp parallel for schedule(static) if (nblocks > 1)
    for (std::int64_t b = 0; b < nblocks; ++b) {
      const std::int64_t i0 = b * kReduceBlock;
      const std::int64_t i1 = std::min(n, i0 + kReduceBlock);
      block(pred, target, weight, grad, out, i0, i1, prm);
    }
    return 0.0;
  }

  if (nblocks == 1) return block(pred, target, weight, grad, out, 0, n, prm);

  std::vector<double> partial(static_cast<std::size_t>(nblocks));  // may throw before the region
  double* part = partial.data();
#pragma omp parallel for schedule(static)
  for (std::int64_t b = 0; b < nblocks; ++b) {
    const std::int64_t i0 = b * kReduceBlock;
    const std::int64_t i1 = std::min(n, i0 + kReduceBlock);
    part[b] = block(pred, target, weight, grad, out, i0, i1, prm);
  }
  double sum = 0.0;
  for (std::int64_t b = 0; b < nblocks; ++b) sum += part[b];
  return sum;
}

template <typename T, int LOSS, int FMODE, bool GRAD>
double dispatch_wrg(const FwdArgs& a) {
  if (a.weight) {
    return a.reduce ? run<T, LOSS, FMODE, true, true, GRAD>(a) : run<T, LOSS, FMODE, true, false, GRAD>(a);
  }
  return a.reduce ? run<T, LOSS, FMODE, false, true, GRAD>(a) : run<T, LOSS, FMODE, false, false, GRAD>(a);
}

// grad == 0: the caller needs no gradient (eval, no_grad): skip its store (a 4-8 B/element write).
template <typename T, int LOSS, int FMODE>
double dispatch_wr(const FwdArgs& a) {
  return a.grad ? dispatch_wrg<T, LOSS, FMODE, true>(a) : dispatch_wrg<T, LOSS, FMODE, false>(a);
}

template <typename T, int LOSS>
double dispatch_focal(const FwdArgs& a) {
  if (!a.focal) return dispatch_wr<T, LOSS, -1>(a);
  switch (focal_gamma_mode<T>(static_cast<T>(a.gamma))) {
    case 0: return dispatch_wr<T, LOSS, 0>(a);
    case 1: return dispatch_wr<T, LOSS, 1>(a);
    case 2: return dispatch_wr<T, LOSS, 2>(a);
    case 3: return dispatch_wr<T, LOSS, 3>(a);
    default: return dispatch_wr<T, LOSS, 4>(a);
  }
}

template <typename T>
double dispatch(const FwdArgs& a) {
  switch (a.loss) {
    case kMSE: return dispatch_focal<T, kMSE>(a);
    case kL1: return dispatch_focal<T, kL1>(a);
    default: return dispatch_wr<T, kHuber, -1>(a);  // validate() rejected focal huber
  }
}

// vmath test hook (see vmath_apply).
template <typename T, int FN>
DIRFAST_VINLINE void vmath_impl(const T* __restrict__ x, T* __restrict__ y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = FN == 0 ? vmath::exp(x[i]) : vmath::log(x[i]);
}
template <typename T, int FN>
void vmath_base(const T* x, T* y, std::int64_t n) { vmath_impl<T, FN>(x, y, n); }
#if DIRFAST_HAVE_AVX2
template <typename T, int FN>
DIRFAST_TARGET_AVX2 void vmath_avx2(const T* x, T* y, std::int64_t n) { vmath_impl<T, FN>(x, y, n); }
#endif
template <typename T, int FN>
void vmath_run(std::uintptr_t x, std::uintptr_t y, std::int64_t n) {
  const T* xp = reinterpret_cast<const T*>(x);
  T* yp = reinterpret_cast<T*>(y);
#if DIRFAST_HAVE_AVX2
  if (level_ref().load(std::memory_order_relaxed) >= 1) return vmath_avx2<T, FN>(xp, yp, n);
#endif
  vmath_base<T, FN>(xp, yp, n);
}

bool overlaps(std::uintptr_t x, std::uintptr_t y, std::uintptr_t bytes) {
  if (!x || !y) return false;
  return x < y + bytes && y < x + bytes;
}

}  // namespace

DType parse_dtype(const char* name) {
  const std::string s(name ? name : "");
  if (s == "float32") return DType::kFloat32;
  if (s == "float64") return DType::kFloat64;
  throw std::invalid_argument("weighted_loss_fwd: dtype must be 'float32' or 'float64', got '" +
                              s + "'");
}

void validate(const FwdArgs& a) {
  const char* fn = "weighted_loss_fwd: ";
  if (a.n < 0) throw std::invalid_argument(std::string(fn) + "n must be >= 0, got " + std::to_string(a.n));
  if (a.loss != kMSE && a.loss != kL1 && a.loss != kHuber)
    throw std::invalid_argument(std::string(fn) + "loss must be 0 (mse), 1 (l1) or 2 (huber), got " +
                                std::to_string(a.loss));
  if (a.focal && a.loss == kHuber)
    throw std::invalid_argument(std::string(fn) + "focal is only supported with mse (0) and l1 (1), got huber (2)");
  if (a.n == 0) return;  // nothing is touched: pointers may be anything

  const std::size_t esize = a.dtype == DType::kFloat64 ? sizeof(double) : sizeof(float);
  if (static_cast<std::uint64_t>(a.n) >
      static_cast<std::uint64_t>(std::numeric_limits<std::ptrdiff_t>::max()) / esize)
    throw std::invalid_argument(std::string(fn) + "n is too large");
  const std::uintptr_t bytes = static_cast<std::uintptr_t>(a.n) * esize;

  struct Ptr { const char* name; std::uintptr_t v; bool required; };
  const Ptr ptrs[] = {{"pred", a.pred, true},       {"target", a.target, true},
                      {"weight", a.weight, false},  {"grad", a.grad, false},
                      {"out", a.out, !a.reduce}};
  for (const Ptr& p : ptrs) {
    if (p.required && p.v == 0)
      throw std::invalid_argument(std::string(fn) + p.name + " must be a non-null data pointer");
    if (p.v % esize != 0)
      throw std::invalid_argument(std::string(fn) + p.name + " is not aligned to its element size");
    if (p.v > std::numeric_limits<std::uintptr_t>::max() - bytes)
      throw std::invalid_argument(std::string(fn) + p.name + " + n elements overflows the address space");
  }
  if (a.reduce && a.out != 0)
    throw std::invalid_argument(std::string(fn) + "out must be 0 when reduce is true");
  // Outputs must not overlap anything else (inputs may alias each other).
  const Ptr outs[] = {{"grad", a.grad, false}, {"out", a.out, false}};
  for (const Ptr& o : outs) {
    for (const Ptr& p : ptrs) {
      if (p.v == o.v && std::strcmp(p.name, o.name) == 0) continue;
      if (overlaps(o.v, p.v, bytes))
        throw std::invalid_argument(std::string(fn) + o.name + " overlaps " + p.name +
                                    " (outputs must not alias any other buffer)");
    }
  }
}

double fwd(const FwdArgs& a) {
  if (a.n == 0) return 0.0;
  return a.dtype == DType::kFloat64 ? dispatch<double>(a) : dispatch<float>(a);
}

int simd_level() { return level_ref().load(std::memory_order_relaxed); }

int simd_level_max() { return max_level(); }

int set_simd_level(int level) {
  const int eff = level < 0 ? max_level() : std::min(level, max_level());
  level_ref().store(eff, std::memory_order_relaxed);
  return eff;
}

void vmath_apply(int fn, DType dtype, std::uintptr_t x, std::uintptr_t y, std::int64_t n) {
  if (fn != 0 && fn != 1) throw std::invalid_argument("vmath_apply: fn must be 0 (exp) or 1 (log)");
  if (n < 0) throw std::invalid_argument("vmath_apply: n must be >= 0");
  if (n == 0) return;
  if (!x || !y) throw std::invalid_argument("vmath_apply: null pointer");
  if (dtype == DType::kFloat64) {
    fn == 0 ? vmath_run<double, 0>(x, y, n) : vmath_run<double, 1>(x, y, n);
  } else {
    fn == 0 ? vmath_run<float, 0>(x, y, n) : vmath_run<float, 1>(x, y, n);
  }
}

}  // namespace weighted_loss
}  // namespace dirfast
