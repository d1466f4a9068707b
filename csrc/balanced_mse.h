// dirfast — Balanced MSE (BMC / BNI / GAI) CPU passes for 1-D targets. Torch-free; raw
// pointers from dirfast/ops/balanced_mse.py (path "cpu"). Same formulas as the PyTorch path
// (_chunk_1d) and the Triton kernels, per row i over the K components j, element type T:
//
//   v = is_sigma ? noise^2 : noise,  iv = 1/v,  dy = p_i - y_i,  mse = dy*dy * (iv/2)
//   BMC (kind 0): c = y (K = B), logit_j = -(p_i - c_j)^2 * (iv/2)
//   BNI (kind 1): logit_j = log w_j - (p_i - c_j)^2 * (iv/2)
//   GAI (kind 2): s_j = cvar_j + v, logit_j = log w_j - log(s_j)/2 - (p_i - c_j)^2 / (2 s_j)
//   mx = max_j logit (0 if not finite), e_j = exp(logit_j - mx), z = sum e, lse = mx + log z
//   BMC/BNI: ell = mse + lse, gp = (E[c] - y_i) * iv, gv = (-mse + (iv/2) E[(p - c)^2]) * iv
//   GAI:     ell = mse + log(v)/2 + lse, gp = dy*iv - E[t], gv = -mse*iv + iv/2 + E[t^2/2 - 1/(2s)],
//            t_j = (p_i - c_j)/s_j
//   stats [4, B] = (ell, gv, lse, gp); reduction 0 mean / 1 sum: out = 2v * sum(ell) (/B),
//   dvtot = 2v * sum(gv) (/B); 2 none: out [B] = 2v * ell, dvtot = 0.
// exp is vmath::exp of weighted_loss.h (<= 1 ulp, vectorised: baseline SSE2 and an AVX2 copy, as
// the weighted losses); sums in double (8 lanes, fixed order: deterministic for any thread count).
// Nothing B x B is stored: O(K) scratch per thread. OpenMP over rows.
//
// bwd (1-D, dtypes all T): g_i = grad_out(_i) * 2v (/B for the mean); gp = stats[3] * g;
// gt (BNI/GAI only: BMC's target gradient is a column pass, left to the PyTorch path) =
// -(p - y) * iv * g; gv = (none ? sum_i g_i stats[1, i] : grad_out * dvtot) (* 2 sigma).
#pragma once

#include <cstdint>
#include <string>

namespace dirfast {
namespace balanced_mse {

enum class DType : int { kFloat32 = 0, kFloat64 = 1 };
DType parse_dtype(const std::string& name, const char* fn);

struct FwdArgs {
  DType dtype;
  int kind;               // 0 BMC, 1 BNI, 2 GAI
  int reduction;          // 0 mean, 1 sum, 2 none
  bool is_sigma;
  std::uintptr_t pred, target, noise;  // [B], [B], [1]
  std::uintptr_t centers, cvar, weights;  // [K] (0 for BMC; cvar GAI only)
  std::int64_t b, k;
  std::uintptr_t stats, out, dvtot;  // [4, B], [1] or [B], [1]
};
void fwd(const FwdArgs& a);

struct BwdArgs {
  DType dtype;
  int kind, reduction;
  bool is_sigma;
  std::uintptr_t grad_out, pred, target, noise, stats, dvtot;
  std::int64_t b;
  std::uintptr_t gp, gt, gv;  // outputs, 0 = not needed
};
void bwd(const BwdArgs& a);

}  // namespace balanced_mse
}  // namespace dirfast
