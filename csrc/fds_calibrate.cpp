// dirfast — FDS calibration, CPU implementation (OpenMP over rows, auto-vectorised over D).
//
// One pass: each row reads its bin id, then streams z, scale[k], shift[k] and writes out with a
// plain loop gcc -O3 vectorises (restrict pointers, no calls, no branches). Identity rows
// (k < 0 or k >= b) are a memcpy. Rows are split statically over the threads; every element is
// computed independently, so results are bit-identical for any number of threads.
#include "fds_calibrate.h"

#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace dirfast {
namespace fds_calibrate {
namespace {

template <typename T, typename I, bool SHIFT>
void kernel(const T* __restrict__ z, const I* __restrict__ idx, const T* __restrict__ scale,
            const T* __restrict__ shift, T* __restrict__ out, std::int64_t n, std::int64_t d,
            std::int64_t nb) {
  const bool par = n > 1 && n * d >= kParallelMinElements;
#pragma omp parallel for schedule(static) if (par)
  for (std::int64_t i = 0; i < n; ++i) {
    const T* __restrict__ zi = z + i * d;
    T* __restrict__ oi = out + i * d;
    const std::int64_t k = static_cast<std::int64_t>(idx[i]);
    if (k < 0 || k >= nb) {
      std::memcpy(oi, zi, static_cast<std::size_t>(d) * sizeof(T));
      continue;
    }
    const T* __restrict__ s = scale + k * d;
    if (SHIFT) {
      const T* __restrict__ t = shift + k * d;
      for (std::int64_t j = 0; j < d; ++j) oi[j] = affine<T>(zi[j], s[j], t[j]);
    } else {
      for (std::int64_t j = 0; j < d; ++j) oi[j] = zi[j] * s[j];
    }
  }
}

template <typename T, typename I>
void dispatch_shift(const Args& a) {
  const T* z = reinterpret_cast<const T*>(a.z);
  const I* idx = reinterpret_cast<const I*>(a.idx);
  const T* s = reinterpret_cast<const T*>(a.scale);
  T* o = reinterpret_cast<T*>(a.out);
  if (a.shift != 0) {
    kernel<T, I, true>(z, idx, s, reinterpret_cast<const T*>(a.shift), o, a.n, a.d, a.b);
  } else {
    kernel<T, I, false>(z, idx, s, nullptr, o, a.n, a.d, a.b);
  }
}

template <typename T>
void dispatch_idx(const Args& a) {
  if (a.idx64) {
    dispatch_shift<T, std::int64_t>(a);
  } else {
    dispatch_shift<T, std::int32_t>(a);
  }
}

void check_ptr(const char* name, std::uintptr_t p, std::size_t align, std::int64_t count,
               std::size_t elem, bool nullable) {
  const std::string fn = "fds_calibrate: ";
  if (p == 0) {
    if (nullable || count == 0) return;
    throw std::invalid_argument(fn + name + " must be a non-null data pointer");
  }
  if (p % align != 0) throw std::invalid_argument(fn + name + " is not aligned to its element size");
  const std::uintptr_t bytes = static_cast<std::uintptr_t>(count) * elem;
  if (p > std::numeric_limits<std::uintptr_t>::max() - bytes)
    throw std::invalid_argument(fn + name + " + its elements overflow the address space");
}

}  // namespace

void validate(const Args& a) {
  const std::string fn = "fds_calibrate: ";
  if (a.n < 0 || a.d < 0 || a.b < 0)
    throw std::invalid_argument(fn + "n, d, b must be >= 0, got " + std::to_string(a.n) + ", " +
                                std::to_string(a.d) + ", " + std::to_string(a.b));
  const std::int64_t lim = std::numeric_limits<std::int64_t>::max() / 8;
  if ((a.d > 0 && (a.n > lim / a.d || a.b > lim / a.d)))
    throw std::invalid_argument(fn + "n*d or b*d is too large");
  const std::size_t es = a.f64 ? sizeof(double) : sizeof(float);
  const std::size_t is = a.idx64 ? sizeof(std::int64_t) : sizeof(std::int32_t);
  if (a.n == 0 || a.d == 0) return;  // nothing is read or written
  check_ptr("z", a.z, es, a.n * a.d, es, false);
  check_ptr("idx", a.idx, is, a.n, is, false);
  check_ptr("scale", a.scale, es, a.b * a.d, es, a.b == 0);
  check_ptr("shift", a.shift, es, a.b * a.d, es, true);
  check_ptr("out", a.out, es, a.n * a.d, es, false);
  if (a.out == a.z) throw std::invalid_argument(fn + "out must not alias z (the op is out of place)");
}

void run(const Args& a) {
  if (a.n == 0 || a.d == 0) return;
  if (a.f64) {
    dispatch_idx<double>(a);
  } else {
    dispatch_idx<float>(a);
  }
}

}  // namespace fds_calibrate
}  // namespace dirfast
