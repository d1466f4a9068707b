// dirfast — FDS per-bin feature statistics (count, mean, M2), CPU implementation. Torch-free.
//
// Semantics (dirfast/reference/fds_stats.py): for x [n, d] (any row stride >= 0 — rows may overlap,
// e.g. 0 for an expanded row or 1 for an unfolded signal: x is only read —, unit column stride) and
// bin ids [n] (int64), every bin b in [0, num_bins) gets count[b] = #rows with id b,
// mean[b, :] and m2[b, :] = sum of squared deviations from mean[b, :] (0, 0 for an empty bin).
// Rows with id < 0 or id >= num_bins are ignored.
//
// Algorithm (deterministic, independent of the number of threads):
//   1. counting sort of the row ids by bin (stable, serial, O(n + num_bins));
//   2. work items (bin b, chunk k): sorted rows [off[b] + k*kChunkRows, ...) of one bin, at most
//      kChunkRows rows; items run in parallel (OpenMP, any schedule: each item is computed by one
//      thread in a fixed order), each a pass over its rows in tiles of 4 (tile mean and squared deviations,
//      merged with Chan's formula; per-row Welford for the last < 4 rows), whole rows (contiguous reads),
//      on features shifted by the bin's first sorted row (y = x - x[first], removes the
//      cancellation of large means), into its own partial (mean, M2) row;
//   3. per bin (parallel over bins), the partials are merged in chunk order with Chan et al.'s
//      formula and the shift is added back to the mean.
// Memory: partials of (n / kChunkRows + num_bins) x d x 2 elements, the permutation (n int64).
#pragma once

#include <cstdint>

namespace dirfast {
namespace fds_stats {

constexpr std::int64_t kChunkRows = 256;
// rows x dims below which the accumulation runs on the calling thread (no OpenMP fork/join)
constexpr std::int64_t kAccParallelMinElements = 32768;

enum class DType : int { kFloat32 = 0, kFloat64 = 1 };

struct Args {
  DType dtype;
  std::uintptr_t x;      // [n, d] elements of dtype, row stride `stride` (elements)
  std::int64_t stride;   // >= 0 (rows may overlap: < d, or 0 for an expanded row)
  std::uintptr_t bins;   // [n] int64
  std::int64_t n, d, num_bins;
  std::uintptr_t count;  // [num_bins] int64 (out)
  std::uintptr_t mean;   // [num_bins, d] dtype (out, contiguous)
  std::uintptr_t m2;     // [num_bins, d] dtype (out, contiguous)
};

// The FDS module's accumulation into this epoch's partial statistics (dirfast.nn.FDS.accumulate),
// one call: rows with 0 <= keys[i] < num_bins are grouped by key (counting sort, as above); every bin
// b with rows gets a reference row ref[b] in T (pmean[b] rounded to T if pcount[b] > 0, else
// run_ref[b] if b < num_run and tracked[b] > 0, else its first row in this call); the rows, first
// calibrated in registers when `cal` != 0 (x*scale[k] + cshift[k] for 0 <= k = cal[i] < num_cal,
// identity otherwise: fds_calibrate's arithmetic), are shifted by ref[b] and reduced as above (items of
// kChunkRows rows, Chan merge in T); then (count, mean = mean_T + ref, M2) is Chan-merged in fp64 into
// (pcount, pmean, pm2) in place (BinStats.merge's formula; bins without rows untouched).
// Deterministic and independent of the number of threads.
struct AccArgs {
  DType dtype;             // element type T of x, run_ref, scale, cshift
  std::uintptr_t x;        // [n, d], row stride `stride`, unit column stride
  std::int64_t stride;
  std::uintptr_t keys;     // [n] int64
  std::int64_t n, d, num_bins;
  std::uintptr_t pcount;   // [num_bins] int64 (in/out)
  std::uintptr_t pmean;    // [num_bins, d] float64 contiguous (in/out)
  std::uintptr_t pm2;      // [num_bins, d] float64 contiguous (in/out)
  std::uintptr_t run_ref;  // [num_run, d] T contiguous
  std::uintptr_t tracked;  // [num_run] int64
  std::int64_t num_run;
  std::uintptr_t cal;      // [n] int64 calibration ids, or 0 (no calibration)
  std::uintptr_t scale;    // [num_cal, d] T contiguous
  std::uintptr_t cshift;   // [num_cal, d] T contiguous
  std::int64_t num_cal;
};

DType parse_dtype(const char* name);  // "float32" | "float64", else std::invalid_argument
void validate(const Args& a);         // std::invalid_argument on bad arguments
void run(const Args& a);              // validate(a) must have passed; throws only std::bad_alloc
void validate(const AccArgs& a);      // std::invalid_argument on bad arguments
void accumulate(const AccArgs& a);    // validate(a) must have passed; throws only std::bad_alloc

}  // namespace fds_stats
}  // namespace dirfast
