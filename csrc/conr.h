// dirfast — ConR row passes of the streaming CPU path, 1-D labels (docs/conr_ranksim_bmse.md §1.3,
// §1.10). Torch-free; raw pointers from dirfast/ops/conr.py (_conr_fwd_stream / _conr_bwd_stream),
// which computes the similarity rows with torch.mm and hands them here. Element type T = float
// or double (the accumulation dtype); every array is T, contiguous, indexed by the global row /
// column (y, yh, loga, logd, q, g, lse, sps, npos, nneg are [M]); s is a row-major tile with row
// stride ldS. The formulas are those of the PyTorch chunk code (_masks, _exponent, _row_lse,
// _conr_bwd_stream), in the same order of operations, with w and e rounded to T first:
//
//   dy = |y_i - y_j|,  P_ij = dy <= w  (and j != i unless keep_self),
//   N_ij = dy > w  and  |yh_i - yh_j| <= w          (NaN labels compare false: neither P nor N)
//   A_ij = s_ij on P;  ((dy*e) + s_ij) [+ log a_i]  (push_exp)  or  (log(dy*e) + s_ij) [+ log a_i]
//          (linear) on N;  -inf elsewhere
//
// fwd (rows i = row0 .. row0+rows-1, s[r*ldS + j] for j < m):
//   mx = max_j A_ij (0 when not finite),  lse_i = mx + log sum_j exp(A_ij - mx)
//   (-inf for a row without a term; +inf when a logit is +inf; NaN when one is NaN),
//   sps_i = sum_{j in P_i} s_ij,  npos_i = |P_i|,  nneg_i = |N_i|.
//   Three passes over the row: (1) logits and s on positives into a 2*m per-thread scratch,
//   counts in int32 (one plain loop, vectorised); (2) max and sum of s over P; (3) sum of
//   exp(A - mx). Sums in double (8 lanes, fixed order: deterministic for any thread count),
//   rounded to T once. Needs m < 2^31.
//
// bwd (tile rows i = row0 + r, columns j = col0 + c, c < ncols; s overwritten in place):
//   ar = (A_ij - logd_i) [+ log a_i on N],  ac = (A_ij - logd_j) [+ log a_j on N]
//   (A without log a)
//   h_ij = (exp(ar) - P_ij*q_i)*g_i + (exp(ac) - P_ij*q_j)*g_j        (= G_ij + G_ji, §1.3)
//
// epilogue (O(M), _fwd_epilogue): from lse, sps, npos, nneg (and loga when weight_final):
//   logd = phantom ? logaddexp(lse, log(m - npos)) : lse; valid = npos > 0 and nneg > 0;
//   official: ell = (logd - sps/npos) * [nneg > 0], active = nneg > 0;
//   paper:    ell = valid ? logd - sps/max(npos, 1) : 0, active = valid;
//   ell *= a (weight_final and loga);  reduction 0 mean (/m), 1 sum, 2 none ([M] rows),
//   3 valid_anchors (/max(#valid, 1));  stats [3, M] = (active ? logd : +inf, active ? 1/npos : 0,
//   active * scale [* a]);  out: [1] (reductions, sum in double in row order) or [M] (none);
//   nvalid: one int64.
// normalize (O(M*D), _prepare): norms_i = sqrt(sum_k z_ik^2) (sum in double), inv_i =
//   1/max(norms_i, 1e-12), u_ik = z_ik * inv_i;  z row stride ld_z, u [M, D] contiguous.
// norm_bwd (O(M*D), _norm_bwd): proj_i = sum_k u_ik du_ik (double);
//   dz_ik = (norms_i > 1e-12 ? du_ik - u_ik*proj_i : du_ik) * inv_i   (dz may alias du).
// exp/log are vmath::exp/log of weighted_loss.h (<= 1.1 ulp, vectorised: baseline SSE2 and an
// AVX2 copy). OpenMP over rows.
#pragma once

#include <cstdint>
#include <string>

namespace dirfast {
namespace conr {

enum class DType : int { kFloat32 = 0, kFloat64 = 1 };
DType parse_dtype(const std::string& name, const char* fn);

struct Common {
  DType dtype;
  std::uintptr_t s;      // tile, row stride ld_s
  std::int64_t ld_s;
  std::uintptr_t y, yh, loga;  // [M]; loga 0 = no weights
  std::int64_t row0, rows;
  double w, e;
  bool push_exp, keep_self;
};

struct FwdArgs {
  Common c;
  std::int64_t m;                          // columns 0 .. m-1
  std::uintptr_t lse, sps, npos, nneg;     // [M] outputs, written at rows row0 .. row0+rows-1
};
void rows_fwd(const FwdArgs& a);

struct BwdArgs {
  Common c;
  std::uintptr_t logd, q, g;  // [M] saved statistics (g already times the incoming gradient)
  std::int64_t col0, ncols;
};
void rows_bwd(const BwdArgs& a);

struct EpiArgs {
  DType dtype;
  std::uintptr_t lse, sps, npos, nneg, loga;  // [M] inputs; loga 0 = no weights
  std::int64_t m;
  bool phantom, official, weight_final;
  int reduction;               // 0 mean, 1 sum, 2 none, 3 valid_anchors
  std::uintptr_t out;          // [1] or [M] (none), T
  std::uintptr_t nvalid;       // [1] int64
  std::uintptr_t stats;        // [3, M] T
};
void epilogue(const EpiArgs& a);

void normalize(DType dtype, std::uintptr_t z, std::int64_t ld_z, std::int64_t m, std::int64_t d,
               std::uintptr_t u, std::uintptr_t norms, std::uintptr_t inv);
void norm_bwd(DType dtype, std::uintptr_t du, std::uintptr_t u, std::uintptr_t norms,
              std::uintptr_t inv, std::int64_t m, std::int64_t d, std::uintptr_t dz);

}  // namespace conr
}  // namespace dirfast
