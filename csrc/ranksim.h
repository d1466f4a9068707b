// dirfast — RankSim CPU passes. Torch-free; raw pointers from the Python layer
// (dirfast/ops/ranksim.py), which runs the two GEMMs (torch.mm), the feature normalisation
// (torch, bit-identical to F.normalize) and the row sorts (NumPy's vectorised integer sort).
//
// Layout (K = static subset size, n = *num_rows <= K valid rows/columns, element type T):
//   column mask  C_ij = j < n && (include_self || i != j),  entry mask W_ij = C_ij && i < n,
//   n_eff = max(n - (include_self ? 0 : 1), 1).
//
//   subset     : the unique-label subset of dirfast.ranksim._subset (rows int64 [K], num_rows
//                int64 [1]); labels [B] T, optional random permutation perm int64 [B] (priority =
//                position in perm, else the row index).
//   keys       : packed sort keys int64 [R, K] of masked rows (masked entries: -inf): for float the
//                order-preserving signed int32 image of the key << 32 | column (distinct keys: an
//                ascending integer sort gives the stable order, ties by index), for double the
//                order-preserving signed int64 image (to be argsorted stably). NaN sorts last, -0.0
//                as +0.0 (torch.sort). mode 0: R = 2K, rows [0, K) = S, rows [K, 2K) = -|y_i - y_j|
//                (y = labels[rows]); mode 1 (backward): R = K, S + lam * d * (2 g_i / n_eff).
//   ranks_fwd  : from the sorted rows (column index = low 32 bits of each entry): r = (K - pos)/n_eff,
//                rz -> rz_out, d = W ? rz - ry : 0 -> d_out, loss (reduction 0 mean, 1 sum, 2 none
//                [B]) -> out.
//   ranks_bwd  : G = gs + gs^T, gs = W ? (r' - rz) / (lam + 1e-8) : 0  (the blackbox dL/dS).
//   unit_bwd   : dL/dx of x -> x / max(|x|, 1e-12) from du = G u, scattered into out [B, D] (zero
//                outside the subset).
// OpenMP over rows for large K; deterministic (sums in double in element order).
#pragma once

#include <cstdint>
#include <string>

namespace dirfast {
namespace ranksim {

enum class DType : int { kFloat32 = 0, kFloat64 = 1 };

DType parse_dtype(const std::string& name, const char* fn);

void subset(DType dt, std::uintptr_t labels, std::int64_t b, std::int64_t k, std::uintptr_t perm,
            std::uintptr_t rows, std::uintptr_t num_rows);

struct KeyArgs {
  DType dtype;
  int mode;               // 0 forward (S and labels), 1 backward (perturbed S)
  std::uintptr_t s;       // [K, K] T
  std::uintptr_t labels;  // [B] T (mode 0)
  std::uintptr_t rows;    // [K] int64
  std::uintptr_t num_rows;  // [1] int64
  std::uintptr_t d;       // [K, K] T (mode 1)
  std::uintptr_t grad;    // T: [1] (reduction 0, 1) or [B] (2) (mode 1)
  int reduction;          // 0 mean, 1 sum, 2 none
  std::int64_t k;
  bool include_self;
  double lam;
  std::uintptr_t out;     // int64 [R, K]
};
void keys(const KeyArgs& a);

void ranks_fwd(DType dt, std::uintptr_t sorted, std::int64_t k, std::uintptr_t num_rows,
               bool include_self, int reduction, std::uintptr_t rows, std::int64_t b,
               std::uintptr_t rz_out, std::uintptr_t d_out, std::uintptr_t out);

void ranks_bwd(DType dt, std::uintptr_t sorted, std::uintptr_t rz, std::int64_t k,
               std::uintptr_t num_rows, bool include_self, double lam, std::uintptr_t g_out);

// Sorts each row of packed fp32 keys (int64 [rows, n], the format of keys()) ascending in place:
// a stable LSD radix sort on the key bits (faster than NumPy's sort for rows longer than ~256).
void sort_rows(std::uintptr_t keys, std::int64_t rows, std::int64_t n);

void unit_bwd(DType dt, std::uintptr_t du, std::uintptr_t unit, std::uintptr_t rows,
              std::int64_t k, std::int64_t d, std::int64_t b, std::uintptr_t out);

}  // namespace ranksim
}  // namespace dirfast
