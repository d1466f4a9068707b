// dirfast — PAV (isotonic regression) for soft_sort / soft_rank, CPU entry points.
//
// Rows are contiguous, sorted ascending, [rows, n] of float32 or float64. For each row the
// output (same dtype, [rows, n]) is the centred per-block form of csrc/pav/pav_core.h:
//   mode 0 (soft sort): out_i = m_B + (i - c_B)/eps
//   mode 1 (soft rank): out_i = (c_B + 1) + (x_i - m_B)/eps
// and block_start[i] (int64, [rows, n], optional) is the row index of the first element of i's
// block (what the backward needs: block_mean(g)[i] = mean of g over the block of i).
//
// Drivers (all call the same pav_core.h functions; see pav.cpp):
//   direct (grid = false): per row, a fast check (no pair merges -> singleton output in one pass);
//       rows of one chunk run whole per OpenMP thread; longer rows are chunked and the chunks,
//       seams of a tree level, and expansion steps are spread over the OpenMP threads.
//   grid (grid = true): the CUDA decomposition simulated on the CPU, one call per chunk / seam /
//       expansion step in the order of the GPU launches (csrc/cuda/pav.cu).
// For the same chunk length both drivers give identical bits, for any thread count.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <cmath>

namespace dirfast {
namespace pav {

enum class DType : int { kFloat32 = 0, kFloat64 = 1 };

inline DType parse_dtype(const std::string& name, const char* fn) {
  if (name == "float32") return DType::kFloat32;
  if (name == "float64") return DType::kFloat64;
  throw std::invalid_argument(std::string(fn) + ": dtype must be 'float32' or 'float64', got '" +
                              name + "'");
}

struct Args {
  DType dtype;
  int mode;                   // 0 soft sort, 1 soft rank
  std::uintptr_t x;           // [rows, n] contiguous, rows sorted ascending
  std::int64_t rows, n;
  double eps;
  std::uintptr_t out;         // [rows, n], same dtype, must not overlap x
  std::uintptr_t block_start; // int64 [rows, n] or 0 (not written)
  std::int64_t chunk;         // 0 = automatic
  bool grid;
  int threads;                // 0 = OpenMP default
};

// Argument checks shared by dirfast._C.pav and dirfast._C_cuda.pav (std::invalid_argument ->
// ValueError). Pointers are only checked for null-ness / alignment (rows*n == 0 needs none).
inline void validate(const Args& a, const char* fn = "pav") {
  const std::string f(fn);
  if (a.mode != 0 && a.mode != 1)
    throw std::invalid_argument(f + ": mode must be 0 (soft sort) or 1 (soft rank), got " +
                                std::to_string(a.mode));
  if (a.n < 1) throw std::invalid_argument(f + ": n must be >= 1, got " + std::to_string(a.n));
  if (a.rows < 0)
    throw std::invalid_argument(f + ": rows must be >= 0, got " + std::to_string(a.rows));
  if (!(a.eps > 0.0) || !std::isfinite(a.eps))
    throw std::invalid_argument(f + ": eps must be > 0 and finite, got " + std::to_string(a.eps));
  if (a.chunk < 0)
    throw std::invalid_argument(f + ": chunk must be >= 0 (0 = automatic), got " +
                                std::to_string(a.chunk));
  if (a.threads < 0)
    throw std::invalid_argument(f + ": threads must be >= 0 (0 = default), got " +
                                std::to_string(a.threads));
  if (a.rows > 0 && a.n > (std::int64_t(1) << 52) / a.rows)
    throw std::invalid_argument(f + ": rows*n too large");
  if (a.rows == 0) return;
  const std::size_t isz = a.dtype == DType::kFloat32 ? 4 : 8;
  if (a.x == 0 || a.x % isz) throw std::invalid_argument(f + ": x must be a non-null aligned pointer");
  if (a.out == 0 || a.out % isz)
    throw std::invalid_argument(f + ": out must be a non-null aligned pointer");
  if (a.block_start % 8) throw std::invalid_argument(f + ": block_start must be 8-byte aligned");
  const std::uintptr_t bytes = std::uintptr_t(a.rows * a.n) * isz;
  if (a.out < a.x + bytes && a.x < a.out + bytes)
    throw std::invalid_argument(f + ": out must not overlap x");
}

struct MeanArgs {
  DType dtype;
  std::uintptr_t g;            // [rows, n]
  std::uintptr_t block_start;  // int64 [rows, n] (from pav)
  std::int64_t rows, n;
  std::uintptr_t out;          // [rows, n], distinct from g
};

inline void validate(const MeanArgs& a, const char* fn = "pav_block_mean") {
  const std::string f(fn);
  if (a.n < 1) throw std::invalid_argument(f + ": n must be >= 1, got " + std::to_string(a.n));
  if (a.rows < 0)
    throw std::invalid_argument(f + ": rows must be >= 0, got " + std::to_string(a.rows));
  if (a.rows > 0 && a.n > (std::int64_t(1) << 52) / a.rows)
    throw std::invalid_argument(f + ": rows*n too large");
  if (a.rows == 0) return;
  const std::size_t isz = a.dtype == DType::kFloat32 ? 4 : 8;
  if (a.g == 0 || a.g % isz) throw std::invalid_argument(f + ": g must be a non-null aligned pointer");
  if (a.out == 0 || a.out % isz)
    throw std::invalid_argument(f + ": out must be a non-null aligned pointer");
  if (a.block_start == 0 || a.block_start % 8)
    throw std::invalid_argument(f + ": block_start must be a non-null 8-byte aligned pointer");
  const std::uintptr_t bytes = std::uintptr_t(a.rows * a.n) * isz;
  if (a.out < a.g + bytes && a.g < a.out + bytes)
    throw std::invalid_argument(f + ": out must not overlap g");
}

// CPU automatic chunk length: depends on n only (so results never depend on the thread count):
// n <= 32768 -> one chunk; else ~n/32 rounded up to a multiple of 64, at least 16384.
std::int64_t cpu_auto_chunk(std::int64_t n);

// Runs PAV; validate(a) must have passed. Returns the number of rows with a block of length > 1.
std::int64_t run(const Args& a);

// out[i] = mean of g over i's block (blocks = maximal runs of equal block_start), fp64 sums in
// element order. OpenMP over rows, or over block-aligned ranges of one long row.
void block_mean(const MeanArgs& a, int threads);
// The same through the GPU decomposition (pieces per chunk, per-block combine, per-element
// write), simulated on the CPU; chunk = 0: the GPU's automatic chunk.
void block_mean_grid(const MeanArgs& a, std::int64_t chunk);

}  // namespace pav
}  // namespace dirfast
