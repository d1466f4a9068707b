// dirfast._C_cuda — torch-free pybind11 module around the CUDA kernels of csrc/cuda/*.cu.
//
// Compiled by the host C++ compiler (no CUDA headers: the C ABI of pav_cuda.h) and linked with
// the nvcc-built objects and the static CUDA runtime. Importing it needs neither a GPU nor a
// driver; calls raise RuntimeError when no device is usable or a CUDA call fails, ValueError on
// bad arguments (the checks of csrc/pav.h, shared with dirfast._C.pav).
#include <pybind11/pybind11.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "cuda/pav_cuda.h"
#include "pav.h"

namespace py = pybind11;

namespace {

void check(int code, const char* what) {
  if (code == 0) return;
  throw std::runtime_error(std::string("dirfast._C_cuda.") + what + ": CUDA error " +
                           std::to_string(code) + " (" + dirfast_cuda_error_string(code) + ")");
}

void require_device(const char* what) {
  if (dirfast_cuda_device_count() <= 0)
    throw std::runtime_error(std::string("dirfast._C_cuda.") + what +
                             ": no CUDA device is available (cudaGetDeviceCount failed or "
                             "returned 0: no GPU or no driver)");
}

void pav(const std::string& dtype, int mode, std::uintptr_t x, std::int64_t rows, std::int64_t n,
         double eps, std::uintptr_t out, std::uintptr_t block_start, std::int64_t chunk,
         std::uintptr_t flag, std::uintptr_t workspace, std::uintptr_t stream,
         std::uintptr_t perm) {
  namespace pv = dirfast::pav;
  pv::Args a{pv::parse_dtype(dtype, "pav"), mode, x, rows, n, eps, out, block_start, chunk,
             false, 0};
  pv::validate(a, "pav");
  if (rows == 0) return;
  if (flag == 0 || flag % 4) throw std::invalid_argument("pav: flag must be a non-null int32 pointer");
  if (workspace == 0 || workspace % 256)
    throw std::invalid_argument("pav: workspace must be a non-null 256-byte aligned pointer");
  if (perm % 8) throw std::invalid_argument("pav: perm must be 0 or an 8-byte aligned pointer");
  require_device("pav");
  int code;
  {
    py::gil_scoped_release release;
    code = dirfast_pav_cuda(a.dtype == pv::DType::kFloat32 ? 0 : 1, mode,
                            reinterpret_cast<const void*>(x), rows, n, eps,
                            reinterpret_cast<void*>(out),
                            reinterpret_cast<std::int64_t*>(block_start), chunk,
                            reinterpret_cast<std::int32_t*>(flag),
                            reinterpret_cast<void*>(workspace), stream,
                            reinterpret_cast<const std::int64_t*>(perm));
  }
  check(code, "pav");
}

void pav_vjp(const std::string& dtype, int mode, std::uintptr_t g, std::uintptr_t perm,
             std::uintptr_t block_start, std::int64_t rows, std::int64_t n, double eps,
             std::uintptr_t out, std::uintptr_t flag, std::uintptr_t workspace,
             std::uintptr_t stream) {
  namespace pv = dirfast::pav;
  pv::MeanArgs a{pv::parse_dtype(dtype, "pav_vjp"), g, block_start, rows, n, out};
  pv::validate(a, "pav_vjp");
  if (mode != 0 && mode != 1)
    throw std::invalid_argument("pav_vjp: mode must be 0 (soft sort) or 1 (soft rank), got " +
                                std::to_string(mode));
  if (!(eps > 0.0) || !std::isfinite(eps))
    throw std::invalid_argument("pav_vjp: eps must be > 0 and finite, got " + std::to_string(eps));
  if (rows == 0) return;
  if (perm % 8 || (mode == 1 && perm == 0))
    throw std::invalid_argument(
        "pav_vjp: perm must be an 8-byte aligned pointer (0 allowed in mode 0 only)");
  if (flag == 0 || flag % 4)
    throw std::invalid_argument("pav_vjp: flag must be a non-null int32 pointer");
  if (workspace == 0 || workspace % 256)
    throw std::invalid_argument("pav_vjp: workspace must be a non-null 256-byte aligned pointer");
  require_device("pav_vjp");
  int code;
  {
    py::gil_scoped_release release;
    code = dirfast_pav_vjp_cuda(a.dtype == pv::DType::kFloat32 ? 0 : 1, mode,
                                reinterpret_cast<const void*>(g),
                                reinterpret_cast<const std::int64_t*>(perm),
                                reinterpret_cast<const std::int64_t*>(block_start), rows, n, eps,
                                reinterpret_cast<void*>(out),
                                reinterpret_cast<const std::int32_t*>(flag),
                                reinterpret_cast<void*>(workspace), stream);
  }
  check(code, "pav_vjp");
}

void pav_block_mean(const std::string& dtype, std::uintptr_t g, std::uintptr_t block_start,
                    std::int64_t rows, std::int64_t n, std::uintptr_t out, std::uintptr_t flag,
                    std::uintptr_t workspace, std::uintptr_t stream) {
  namespace pv = dirfast::pav;
  pv::MeanArgs a{pv::parse_dtype(dtype, "pav_block_mean"), g, block_start, rows, n, out};
  pv::validate(a, "pav_block_mean");
  if (rows == 0) return;
  if (flag == 0 || flag % 4)
    throw std::invalid_argument("pav_block_mean: flag must be a non-null int32 pointer");
  if (workspace == 0 || workspace % 256)
    throw std::invalid_argument(
        "pav_block_mean: workspace must be a non-null 256-byte aligned pointer");
  require_device("pav_block_mean");
  int code;
  {
    py::gil_scoped_release release;
    code = dirfast_pav_block_mean_cuda(a.dtype == pv::DType::kFloat32 ? 0 : 1,
                                       reinterpret_cast<const void*>(g),
                                       reinterpret_cast<const std::int64_t*>(block_start), rows,
                                       n, reinterpret_cast<void*>(out),
                                       reinterpret_cast<const std::int32_t*>(flag),
                                       reinterpret_cast<void*>(workspace), stream);
  }
  check(code, "pav_block_mean");
}

std::int64_t workspace_bytes(std::int64_t rows, std::int64_t n, std::int64_t chunk) {
  if (rows < 0) throw std::invalid_argument("pav_workspace_bytes: rows must be >= 0, got " + std::to_string(rows));
  if (n < 1) throw std::invalid_argument("pav_workspace_bytes: n must be >= 1, got " + std::to_string(n));
  if (chunk < 0) throw std::invalid_argument("pav_workspace_bytes: chunk must be >= 0, got " + std::to_string(chunk));
  return dirfast_pav_workspace_bytes(rows, n, chunk);
}

}  // namespace

PYBIND11_MODULE(_C_cuda, m) {
  m.doc() =
      "dirfast._C_cuda: torch-free CUDA kernels (CUDA runtime, static). Ops take raw device "
      "pointers and a stream handle; use the Python wrappers in dirfast.";
  m.def("device_count", &dirfast_cuda_device_count,
        "Number of visible CUDA devices; 0 when cudaGetDeviceCount fails (no GPU / no driver).");
  m.def("pav_workspace_bytes", &workspace_bytes, py::arg("rows"), py::arg("n"),
        py::arg("chunk") = 0,
        "Bytes of device scratch (256-byte aligned) that pav and pav_block_mean need.");
  m.def("pav", &pav, py::arg("dtype"), py::arg("mode"), py::arg("x"), py::arg("rows"),
        py::arg("n"), py::arg("eps"), py::arg("out"), py::arg("block_start"), py::arg("chunk"),
        py::arg("flag"), py::arg("workspace"), py::arg("stream"), py::arg("perm") = 0,
        R"doc(
CUDA twin of ``dirfast._C.pav`` (same math and arguments, device pointers), enqueued on ``stream``
(cudaStream_t as int, e.g. ``torch.cuda.current_stream().cuda_stream``), no host sync. Rows of
n <= 16384: one kernel (one block per row), plus a memset of the flag when rows > 1; longer rows:
one launch per step of the chunked decomposition. ``flag``: one device int32, afterwards nonzero
iff some adjacent pair of some row satisfies the merge rule (the pooling steps return at once when
it is 0); keep it for ``pav_vjp`` / ``pav_block_mean``. ``perm``: 0, or an int64 [rows, n]
row-local permutation: the value of sorted position i goes to ``out[perm_i]`` (soft rank's
scatter to the original order).
``workspace``: ``pav_workspace_bytes(rows, n, chunk)`` device bytes, 256-aligned. ``chunk``: 0 =
automatic (a power of two in [32, 1024]). Returns None (the per-row pooled count of the CPU API
would need a sync). RuntimeError without a usable device or on a CUDA error; ValueError on bad
arguments.
)doc");
  m.def("pav_vjp", &pav_vjp, py::arg("dtype"), py::arg("mode"), py::arg("g"), py::arg("perm"),
        py::arg("block_start"), py::arg("rows"), py::arg("n"), py::arg("eps"), py::arg("out"),
        py::arg("flag"), py::arg("workspace"), py::arg("stream"),
        R"doc(
The VJP of ``pav``'s output from its ``block_start`` and ``flag``, with the permutation folded in:
``v_i = g_i`` (mode 0, sorted order) or ``g[perm_i]`` (mode 1, ``g`` in the original order), ``m_i``
the fp64 mean of ``v`` over i's block; ``out[p_i] = m_i`` (mode 0) or ``(v_i - m_i)/eps`` (mode 1,
in the dtype), ``p_i = perm_i`` when ``perm`` is given (required in mode 1) else ``i``. One kernel
for rows of n <= 16384, three for longer rows. ``workspace``: ``pav_workspace_bytes(rows, n)``.
RuntimeError without a device or on a CUDA error; ValueError on bad arguments.
)doc");
  m.def("pav_block_mean", &pav_block_mean, py::arg("dtype"), py::arg("g"),
        py::arg("block_start"), py::arg("rows"), py::arg("n"), py::arg("out"), py::arg("flag"),
        py::arg("workspace"), py::arg("stream"),
        R"doc(
CUDA twin of ``dirfast._C.pav_block_mean``: ``out[i]`` = mean of ``g`` over i's block. ``flag``:
the forward's flag (0: every block is a singleton and ``out = g``). ``workspace``: at least
``pav_workspace_bytes(rows, n)`` device bytes. RuntimeError without a device or on a CUDA error.
)doc");
}
