// dirfast — label → bin index (dirfast.Bins) and label → per-bin value gather (dirfast.LDS), CPU.
//
// One pass over the labels: each label is read once, its bin index k in [0, K-1] computed in
// registers, and either k (int64) or table[k] (a bit copy of a 2-, 4- or 8-byte element) written
// once. Torch-free: raw data pointers of contiguous buffers.
//
// The index rule is dirfast.Bins' (see dirfast/bins.py): index(y) = #{k >= 1, k <= K-1 : !(e_k > y)}
// over the interior edges e_1..e_{K-1} rounded to the comparison type C (float for float32
// labels, double for float64 and integer labels), i.e. clamp(searchsorted(e, y, right) - 1, 0,
// K-1); NaN -> K-1, -inf -> 0, +inf -> K-1. The modes reproduce, operation for operation, the
// arithmetic paths of the PyTorch implementation (Bins._ids), which are exact:
//   0 kSearch  binary search over the K-1 interior edges (`edges` = the K+1 edges in C);
//              any labels, any edges.
//   1 kIntGrid integer labels, integer start/width (|.| <= 2^50): int64 arithmetic
//              (saturating: no overflow for any int64 label).
//   2 kUnit    float labels, width 1, integer start >= 0 (ages): NaN -> top, clamp y to
//              [start, top = start + K - 1], trunc, minus start (in T).
//   3 kFloor   float labels, integer start/width: floor(floor(y) - start) / width), NaN -> K-1,
//              clamp (all in T).
//   4 kArith   equal-width bins: k = floor((double(y) - start) / width) (NaN -> K-1, clamp), then
//              one exact comparison with each neighbouring edge start + k*width and
//              start + (k+1)*width (double mul then add, rounded to C): k += (y >= upper) -
//              (y < lower), clamp.
// Which mode is valid for which Bins is decided by the Python layer (Bins._kernel_mode); the
// kernel checks only what it needs to stay memory-safe and well-defined.
#pragma once

#include <cstdint>

namespace dirfast {
namespace lds {

enum Mode : int { kSearch = 0, kIntGrid = 1, kUnit = 2, kFloor = 3, kArith = 4 };
enum class LabelType : int { kFloat32 = 0, kFloat64 = 1, kInt32 = 2, kInt64 = 3 };

// Below this many labels the work runs on the calling thread (an OpenMP fork/join costs more
// than the ~n ns of work; measured on a 2-core machine, see benchmarks/bench_lds.py).
constexpr std::int64_t kParallelMin = 32768;

struct MapArgs {
  LabelType label_type;
  std::uintptr_t labels;  // n contiguous labels
  std::int64_t n;
  int mode;
  std::int64_t num_bins;  // K >= 1, < 2^31
  double start, width;    // equal-width bins (modes 1-4); ignored by mode 0
  std::uintptr_t edges;   // mode 0: K+1 edges in C (float32 labels: float, else double); else 0 ok
  std::uintptr_t table;   // 0: write the index (int64); else K elements of `itemsize` bytes
  int itemsize;           // table != 0: 2, 4 or 8 (the output's element size); table == 0: 8
  std::uintptr_t out;     // n contiguous outputs
};

LabelType parse_label_type(const char* name);  // "float32" | "float64" | "int32" | "int64"
void validate(const MapArgs& args);            // std::invalid_argument on bad arguments
void map(const MapArgs& args);                 // validate(args) must have passed; no exceptions

}  // namespace lds
}  // namespace dirfast
