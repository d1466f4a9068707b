// dirfast — Dist Loss fused CPU passes. Torch-free; raw pointers from the Python layer
// (dirfast/ops/dist_loss.py), which also runs torch.sort and the PAV (dirfast._C.pav).
//
// Inputs are in sorted order i = 0..n-1 with k = perm[i] (x_i = p[k], x sorted ascending), element
// type T (float or double), arithmetic in T, sums in double in element order (deterministic):
//
//   mode 0 (fused, soft sort assumed to be the hard sort):
//     dist += w'_i l(x_i - q_i);  samp += w_k l(x_i - y_k)
//     grad[k] = lam_s w'_i l'(x_i - q_i) + scale w_k l'(x_i - y_k)      (if grad != 0)
//     hit |= x_{i+1} - x_i >= thresh                                      (gap test of the soft sort)
//   mode 1 (pooled distance term, from the PAV output s = s_hat):
//     dist += w'_i l(s_i - q_i);  gs[i] = lam_s w'_i l'(s_i - q_i)
//   mode 2 (pooled gradient, gx = block mean of gs):
//     grad[k] = gx_i + scale w_k l'(x_i - y_k)
//
// w' = 1 (weighting 0, or no weights), w_k (1, by rank) or w_i (2, positional, official).
// l: 0 squared error, 1 L1, 2 Huber (beta), 3 focal L1 |d| (2 sigmoid(k|d|) - 1)^gamma, the modulator
// computed as tanh(k|d|/2) (the same function without the cancellation for small k|d|).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace dirfast {
namespace dist_loss {

enum class DType : int { kFloat32 = 0, kFloat64 = 1 };

inline DType parse_dtype(const std::string& name) {
  if (name == "float32") return DType::kFloat32;
  if (name == "float64") return DType::kFloat64;
  throw std::invalid_argument("dist_loss_pass: dtype must be 'float32' or 'float64', got '" + name +
                              "'");
}

struct Args {
  DType dtype;
  int mode;          // 0 fused, 1 pooled distance, 2 pooled gradient
  std::uintptr_t x;  // [n] sorted values (mode 0, 2) or s_hat (mode 1)
  std::uintptr_t perm;  // [n] int64
  std::uintptr_t y;     // [n] targets, batch order (mode 0, 2)
  std::uintptr_t q;     // [n] pseudo-labels, sorted (mode 0, 1)
  std::uintptr_t w;     // [n] weights, batch order, or 0
  std::uintptr_t gx;    // mode 1: gs out [n]; mode 2: block means in [n]
  std::uintptr_t grad;  // [n] out (mode 0: 0 = not written; mode 2: required)
  std::int64_t n;
  int loss, weighting;
  double lam_s, scale, thresh, beta, k, gamma;
};

struct Result {
  double dist = 0.0, samp = 0.0;
  bool hit = false;
};

void validate(const Args& a);
Result run(const Args& a);

}  // namespace dist_loss
}  // namespace dirfast
