// dirfast — FDS calibration (whitening + recolouring) as a per-(bin, dimension) affine map.
//
// Torch-free. Semantics (docs/lds_fds.md §2.5; scale/shift come from dirfast.fds_scale_shift):
//   forward  (shift != 0): out[i, j] = z[i, j] * scale[k, j] + shift[k, j]   with k = idx[i]
//   backward (shift == 0): out[i, j] = z[i, j] * scale[k, j]                 (z = grad_output)
//   rows with k < 0 or k >= b are copied unchanged (bit for bit).
// Element type T = float or double (fp16/bf16 are converted to float by the Python layer); the
// arithmetic is one multiply and one add in T, no FMA (-ffp-contract=off), so the result does not
// depend on the instruction set or the number of threads.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define DIRFAST_HOST_DEVICE __host__ __device__ __forceinline__
#else
#ifndef DIRFAST_HOST_DEVICE
#define DIRFAST_HOST_DEVICE inline
#endif
#endif

namespace dirfast {
namespace fds_calibrate {

// One element of the map (shared by every backend that includes this header).
template <typename T>
DIRFAST_HOST_DEVICE T affine(T z, T s, T t) {
  return z * s + t;
}

#if !defined(__CUDACC__)

struct Args {
  bool f64 = false;                 // element type of z/scale/shift/out: float (false), double (true)
  bool idx64 = true;                // bin index type: int64 (true) or int32 (false)
  std::uintptr_t z = 0;             // [n, d] contiguous (features, or grad_output for backward)
  std::uintptr_t idx = 0;           // [n]
  std::uintptr_t scale = 0;         // [b, d] contiguous
  std::uintptr_t shift = 0;         // [b, d] contiguous, or 0 for the backward (no shift)
  std::uintptr_t out = 0;           // [n, d] contiguous, must not overlap any input
  std::int64_t n = 0, d = 0, b = 0;
};

// Rows x dims above which the loop over rows runs on the OpenMP threads.
constexpr std::int64_t kParallelMinElements = 32768;

void validate(const Args& a);  // std::invalid_argument on bad arguments
void run(const Args& a);       // validate(a) must have passed; no exceptions

#endif  // !__CUDACC__

}  // namespace fds_calibrate
}  // namespace dirfast
