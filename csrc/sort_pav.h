// dirfast — fused per-row sort + PAV for short rows on the CPU (soft_sort / soft_rank).
//
// For rows that fit one PAV chunk (n <= 32768) the CPU path sorts and pools each row in one pass
// while it is in L1/L2: per row, the float keys are mapped to order-preserving unsigned integers
// packed with the element index (NaN mapped above +inf, -0.0 onto +0.0, as torch.sort), sorted
// with std::sort (ties by index: the order of the stable torch.sort, dirfast's tie rule), unpacked into x (sorted values) and perm (int64), then the
// PAV of csrc/pav/pav_core.h (pav_any_pair -> identity write, else pav_chunk + pav_chunk_write:
// the same functions and bits as dirfast._C.pav on torch.sort's output).
//   mode 0 (soft sort): out [rows, n] in sorted order, out_i = m_B + (i - c_B)/eps
//   mode 1 (soft rank): out [rows, n] in the ORIGINAL order: out[perm_i] = (c_B + 1) + (x_i - m_B)/eps
// perm [rows, n] int64 (x_i = theta[perm_i]) and block_start [rows, n] int64 (sorted order) are
// what the backward needs. OpenMP over rows.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "pav.h"

namespace dirfast {
namespace pav {

struct SortArgs {
  DType dtype;
  int mode;
  std::uintptr_t theta;        // [rows, n] contiguous, unsorted
  std::int64_t rows, n;
  double eps;
  std::uintptr_t out;          // [rows, n] same dtype
  std::uintptr_t perm;         // int64 [rows, n]
  std::uintptr_t block_start;  // int64 [rows, n]
  int threads;                 // 0 = OpenMP default
};

//: longest row the fused driver takes (one PAV chunk; cpu_auto_chunk(n) == n)
constexpr std::int64_t kSortPavMaxN = 32768;

void validate(const SortArgs& a, const char* fn = "sort_pav");

// Returns the number of rows in which some block has length > 1.
std::int64_t sort_run(const SortArgs& a);

}  // namespace pav
}  // namespace dirfast
