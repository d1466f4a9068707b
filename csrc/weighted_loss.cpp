// dirfast — weighted (focal) regression losses, CPU implementation (OpenMP + auto-vectorisation).
//
// Layout of the work (see kReduceBlock / kReduceLanes in weighted_loss.h):
//   blocks of kReduceBlock elements are distributed over the OpenMP threads (schedule static);
//   inside a block, chunks of kChunk elements go through two loops:
//     1. the element loop: loads, the loss formula, the grad store and either the `out` store
//        (reduce=false) or a store of scale*w*l into a small on-stack buffer (reduce=true).
//        It has no reduction, so gcc -O3 vectorises it for mse/l1/huber (focal calls exp/pow,
//        which stay scalar: no -ffast-math, results are IEEE);
//     2. the lane loop: adds the buffer into kReduceLanes double accumulators (lane = j % lanes),
//        a lane-wise vector add with no reassociation.
//   Each block writes its double partial; the partials are then added in block order.
#include "weighted_loss.h"

#include <algorithm>
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
  int gamma_mode;
};

template <typename T, int LOSS, bool FOCAL>
inline void element(T p, T t, T w, const Params<T>& prm, T& v, T& g) {
  const T e = p - t;
  T l, dl;
  base_loss<T, LOSS>(e, prm.beta, l, dl);
  if (FOCAL) focal_modulate<T>(e, prm.k, prm.gamma, prm.gamma_mode, l, dl);
  g = prm.scale * w * dl;
  v = prm.scale * w * l;
}

// One block [i0, i1), i1 - i0 <= kReduceBlock. Returns the block's partial sum (0 if !REDUCE).
template <typename T, int LOSS, bool FOCAL, bool WEIGHT, bool REDUCE, bool GRAD>
double run_block(const T* __restrict__ pred, const T* __restrict__ target,
                 const T* __restrict__ weight, T* __restrict__ grad, T* __restrict__ out,
                 std::int64_t i0, std::int64_t i1, const Params<T> prm) {
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
      element<T, LOSS, FOCAL>(p[j], t[j], w, prm, v, gj);
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

template <typename T, int LOSS, bool FOCAL, bool WEIGHT, bool REDUCE, bool GRAD>
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
  prm.gamma_mode = focal_gamma_mode<T>(prm.gamma);

  const std::int64_t n = a.n;
  const std::int64_t nblocks = (n + kReduceBlock - 1) / kReduceBlock;

  if (!REDUCE) {
#pragma omp parallel for schedule(static) if (nblocks > 1)
    for (std::int64_t b = 0; b < nblocks; ++b) {
      const std::int64_t i0 = b * kReduceBlock;
      const std::int64_t i1 = std::min(n, i0 + kReduceBlock);
      run_block<T, LOSS, FOCAL, WEIGHT, false, GRAD>(pred, target, weight, grad, out, i0, i1, prm);
    }
    return 0.0;
  }

  if (nblocks == 1)
    return run_block<T, LOSS, FOCAL, WEIGHT, true, GRAD>(pred, target, weight, grad, out, 0, n, prm);

  std::vector<double> partial(static_cast<std::size_t>(nblocks));  // may throw before the region
  double* part = partial.data();
#pragma omp parallel for schedule(static)
  for (std::int64_t b = 0; b < nblocks; ++b) {
    const std::int64_t i0 = b * kReduceBlock;
    const std::int64_t i1 = std::min(n, i0 + kReduceBlock);
    part[b] = run_block<T, LOSS, FOCAL, WEIGHT, true, GRAD>(pred, target, weight, grad, out, i0, i1, prm);
  }
  double sum = 0.0;
  for (std::int64_t b = 0; b < nblocks; ++b) sum += part[b];
  return sum;
}

template <typename T, int LOSS, bool FOCAL, bool GRAD>
double dispatch_wrg(const FwdArgs& a) {
  if (a.weight) {
    return a.reduce ? run<T, LOSS, FOCAL, true, true, GRAD>(a) : run<T, LOSS, FOCAL, true, false, GRAD>(a);
  }
  return a.reduce ? run<T, LOSS, FOCAL, false, true, GRAD>(a) : run<T, LOSS, FOCAL, false, false, GRAD>(a);
}

// grad == 0: the caller needs no gradient (eval, no_grad): skip its store (a 4-8 B/element write).
template <typename T, int LOSS, bool FOCAL>
double dispatch_wr(const FwdArgs& a) {
  return a.grad ? dispatch_wrg<T, LOSS, FOCAL, true>(a) : dispatch_wrg<T, LOSS, FOCAL, false>(a);
}

template <typename T>
double dispatch(const FwdArgs& a) {
  switch (a.loss) {
    case kMSE: return a.focal ? dispatch_wr<T, kMSE, true>(a) : dispatch_wr<T, kMSE, false>(a);
    case kL1: return a.focal ? dispatch_wr<T, kL1, true>(a) : dispatch_wr<T, kL1, false>(a);
    default: return dispatch_wr<T, kHuber, false>(a);  // validate() rejected focal huber
  }
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

}  // namespace weighted_loss
}  // namespace dirfast
