// dirfast._C — torch-free pybind11 module with the CPU (OpenMP) kernels.
//
// Every op takes raw data pointers (Python ints, e.g. torch `tensor.data_ptr()`) so the module
// links against neither torch nor numpy; the Python layer (dirfast/ops, dirfast/_ext.py) is
// responsible for contiguity, dtypes and devices. Arguments are validated with the GIL held and
// raise ValueError; the compute runs with the GIL released.
#include <pybind11/pybind11.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "weighted_loss.h"

namespace py = pybind11;

namespace {

double weighted_loss_fwd(const std::string& dtype, std::uintptr_t pred, std::uintptr_t target,
                         std::uintptr_t weight, std::uintptr_t grad, std::uintptr_t out,
                         std::int64_t n, int loss, bool focal, bool reduce, double scale,
                         double beta, double k, double gamma) {
  namespace wl = dirfast::weighted_loss;
  wl::FwdArgs a;
  a.dtype = wl::parse_dtype(dtype.c_str());
  a.pred = pred;
  a.target = target;
  a.weight = weight;
  a.grad = grad;
  a.out = out;
  a.n = n;
  a.loss = loss;
  a.focal = focal;
  a.reduce = reduce;
  a.scale = scale;
  a.beta = beta;
  a.k = k;
  a.gamma = gamma;
  wl::validate(a);  // throws std::invalid_argument -> ValueError
  if (n == 0) return 0.0;
  py::gil_scoped_release release;
  return wl::fwd(a);
}

int num_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("set_num_threads: n must be >= 1, got " + std::to_string(n));
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
}

bool has_openmp() {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() =
      "dirfast._C: torch-free CPU kernels (C++17, OpenMP). Ops take raw data pointers of "
      "contiguous buffers; use the Python wrappers in dirfast rather than calling these directly.";

  m.attr("REDUCE_BLOCK") = dirfast::weighted_loss::kReduceBlock;
  m.attr("REDUCE_LANES") = dirfast::weighted_loss::kReduceLanes;

  m.def("weighted_loss_fwd", &weighted_loss_fwd, py::arg("dtype"), py::arg("pred"),
        py::arg("target"), py::arg("weight"), py::arg("grad"), py::arg("out"), py::arg("n"),
        py::arg("loss"), py::arg("focal"), py::arg("reduce"), py::arg("scale"), py::arg("beta"),
        py::arg("k"), py::arg("gamma"),
        R"doc(
Weighted (focal) regression loss forward + gradient in one pass over memory.

Pointers are raw data pointers (ints) of contiguous buffers of ``n`` elements, all of element type
``dtype`` ("float32" or "float64"). ``weight == 0`` means unit weights. ``grad`` (0: not written) receives
``scale*w*dl/de``. If ``reduce`` is true, ``out`` must be 0 and the function returns the float64
sum of ``scale*w*l`` (bit-identical for any number of threads: blocks of ``REDUCE_BLOCK``
elements, ``REDUCE_LANES`` lane accumulators per block, partials added in block order); otherwise
``out`` receives ``scale*w*l`` per element and 0.0 is returned. ``loss``: 0 = mse, 1 = l1,
2 = huber (threshold ``beta``). ``focal`` (mse/l1 only) multiplies l by ``m**gamma`` with
``m = 2*sigmoid(k*|e|) - 1``. Element math runs in the element type. Outputs must not overlap any
other buffer. Raises ValueError on bad arguments (unknown dtype, focal with huber, null or
misaligned pointers, n < 0). The GIL is released during the computation.
)doc");

  m.def("simd_level", &dirfast::weighted_loss::simd_level,
        "Instruction set used by the element loops: 0 = baseline x86-64 (SSE2), 1 = AVX2.");
  m.def("simd_level_max", &dirfast::weighted_loss::simd_level_max,
        "Best instruction-set level supported by this CPU (see simd_level).");
  m.def("_set_simd_level", &dirfast::weighted_loss::set_simd_level, py::arg("level"),
        "Testing knob: use min(level, simd_level_max()) from now on (negative: the default, the "
        "best supported); returns the level in effect. All levels give bit-identical results.");
  m.def(
      "_vmath",
      [](const std::string& fn, const std::string& dtype, std::uintptr_t x, std::uintptr_t y,
         std::int64_t n) {
        namespace wl = dirfast::weighted_loss;
        int code = fn == "exp" ? 0 : fn == "log" ? 1 : -1;
        if (code < 0) throw std::invalid_argument("_vmath: fn must be 'exp' or 'log', got '" + fn + "'");
        const wl::DType dt = wl::parse_dtype(dtype.c_str());
        wl::vmath_apply(code, dt, x, y, n);
      },
      py::arg("fn"), py::arg("dtype"), py::arg("x"), py::arg("y"), py::arg("n"),
      "Testing hook: y[i] = exp(x[i]) or log(x[i]) with the kernel's vectorisable exp/log "
      "(raw pointers to n contiguous float32/float64 elements; y must not overlap x).");

  m.def("num_threads", &num_threads,
        "Maximum number of OpenMP threads used by dirfast._C (omp_get_max_threads()).");
  m.def("set_num_threads", &set_num_threads, py::arg("n"),
        "Set the number of OpenMP threads used by dirfast._C (omp_set_num_threads; applies to "
        "calls made from the calling thread).");
  m.def("has_openmp", &has_openmp, "Whether dirfast._C was compiled with OpenMP.");
}
