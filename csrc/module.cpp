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

#include "lds.h"
#include "weighted_loss.h"
#include "fds_stats.h"
#include "fds_calibrate.h"
#include "pav.h"
#include "sort_pav.h"
#include "dist_loss.h"
#include "ranksim.h"
#include "balanced_mse.h"
#include "conr.h"

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

void bins_map(const std::string& label_dtype, std::uintptr_t labels, std::int64_t n, int mode,
              std::int64_t num_bins, double start, double width, std::uintptr_t edges,
              std::uintptr_t table, int itemsize, std::uintptr_t out) {
  namespace lds = dirfast::lds;
  lds::MapArgs a;
  a.label_type = lds::parse_label_type(label_dtype.c_str());
  a.labels = labels;
  a.n = n;
  a.mode = mode;
  a.num_bins = num_bins;
  a.start = start;
  a.width = width;
  a.edges = edges;
  a.table = table;
  a.itemsize = itemsize;
  a.out = out;
  lds::validate(a);  // throws std::invalid_argument -> ValueError
  if (n == 0) return;
  // Small batches: releasing/re-acquiring the GIL costs more than the work (~1 ns/label).
  if (n < 4096) {
    lds::map(a);
    return;
  }
  py::gil_scoped_release release;
  lds::map(a);
}

void fds_bin_stats(const std::string& dtype, std::uintptr_t x, std::int64_t stride,
                   std::uintptr_t bins, std::int64_t n, std::int64_t d, std::int64_t num_bins,
                   std::uintptr_t count, std::uintptr_t mean, std::uintptr_t m2) {
  namespace fs = dirfast::fds_stats;
  fs::Args a{fs::parse_dtype(dtype.c_str()), x, stride, bins, n, d, num_bins, count, mean, m2};
  fs::validate(a);  // std::invalid_argument -> ValueError
  py::gil_scoped_release release;
  fs::run(a);
}

void fds_accumulate(const std::string& dtype, std::uintptr_t x, std::int64_t stride,
                    std::uintptr_t keys, std::int64_t n, std::int64_t d, std::int64_t num_bins,
                    std::uintptr_t pcount, std::uintptr_t pmean, std::uintptr_t pm2,
                    std::uintptr_t run_ref, std::uintptr_t tracked, std::int64_t num_run,
                    std::uintptr_t cal, std::uintptr_t scale, std::uintptr_t cshift,
                    std::int64_t num_cal) {
  namespace fs = dirfast::fds_stats;
  fs::AccArgs a{fs::parse_dtype(dtype.c_str()), x, stride, keys, n, d, num_bins, pcount, pmean, pm2,
                run_ref, tracked, num_run, cal, scale, cshift, num_cal};
  fs::validate(a);  // std::invalid_argument -> ValueError
  if (n * d < fs::kAccParallelMinElements) {  // a small batch: the GIL round trip costs more
    fs::accumulate(a);
    return;
  }
  py::gil_scoped_release release;
  fs::accumulate(a);
}

std::int64_t pav_run(const std::string& dtype, int mode, std::uintptr_t x, std::int64_t rows,
                     std::int64_t n, double eps, std::uintptr_t out, std::uintptr_t block_start,
                     std::int64_t chunk, bool grid, int threads) {
  namespace pv = dirfast::pav;
  pv::Args a{pv::parse_dtype(dtype, "pav"), mode, x, rows, n, eps, out, block_start, chunk, grid,
             threads};
  pv::validate(a, "pav");  // std::invalid_argument -> ValueError, GIL held
  if (rows * n < 4096) return pv::run(a);
  py::gil_scoped_release release;
  return pv::run(a);
}

std::int64_t sort_pav_run(const std::string& dtype, int mode, std::uintptr_t theta,
                          std::int64_t rows, std::int64_t n, double eps, std::uintptr_t out,
                          std::uintptr_t perm, std::uintptr_t block_start, int threads) {
  namespace pv = dirfast::pav;
  pv::SortArgs a{pv::parse_dtype(dtype, "sort_pav"), mode, theta, rows, n, eps, out, perm,
                 block_start, threads};
  pv::validate(a, "sort_pav");  // std::invalid_argument -> ValueError, GIL held
  if (rows * n < 4096) return pv::sort_run(a);
  py::gil_scoped_release release;
  return pv::sort_run(a);
}

void pav_block_mean(const std::string& dtype, std::uintptr_t g, std::uintptr_t block_start,
                    std::int64_t rows, std::int64_t n, std::uintptr_t out, int threads,
                    bool grid, std::int64_t chunk) {
  namespace pv = dirfast::pav;
  pv::MeanArgs a{pv::parse_dtype(dtype, "pav_block_mean"), g, block_start, rows, n, out};
  pv::validate(a, "pav_block_mean");
  if (threads < 0)
    throw std::invalid_argument("pav_block_mean: threads must be >= 0, got " + std::to_string(threads));
  if (chunk < 0)
    throw std::invalid_argument("pav_block_mean: chunk must be >= 0, got " + std::to_string(chunk));
  py::gil_scoped_release release;
  if (grid)
    pv::block_mean_grid(a, chunk);
  else
    pv::block_mean(a, threads);
}

py::tuple dist_loss_pass(const std::string& dtype, int mode, std::uintptr_t x, std::uintptr_t perm,
                         std::uintptr_t y, std::uintptr_t q, std::uintptr_t w, std::uintptr_t gx,
                         std::uintptr_t grad, std::int64_t n, int loss, int weighting, double lam_s,
                         double scale, double thresh, double beta, double k, double gamma) {
  namespace dl = dirfast::dist_loss;
  dl::Args a{dl::parse_dtype(dtype), mode, x, perm, y, q, w, gx, grad, n, loss, weighting,
             lam_s, scale, thresh, beta, k, gamma};
  dl::validate(a);  // std::invalid_argument -> ValueError, GIL held
  dl::Result r;
  {
    py::gil_scoped_release release;
    r = dl::run(a);
  }
  return py::make_tuple(r.dist, r.samp, r.hit);
}

// RankSim (csrc/ranksim.h): small passes; the GIL is released only for large K.
void ranksim_subset(const std::string& dtype, std::uintptr_t labels, std::int64_t b, std::int64_t k,
                    std::uintptr_t perm, std::uintptr_t rows, std::uintptr_t num_rows) {
  namespace rs = dirfast::ranksim;
  const rs::DType dt = rs::parse_dtype(dtype, "ranksim_subset");
  if (b < 4096) return rs::subset(dt, labels, b, k, perm, rows, num_rows);
  py::gil_scoped_release release;
  rs::subset(dt, labels, b, k, perm, rows, num_rows);
}

void ranksim_keys(const std::string& dtype, int mode, std::uintptr_t s, std::uintptr_t labels,
                  std::uintptr_t rows, std::uintptr_t num_rows, std::uintptr_t d,
                  std::uintptr_t grad, int reduction, std::int64_t k, bool include_self,
                  double lam, std::uintptr_t out) {
  namespace rs = dirfast::ranksim;
  rs::KeyArgs a{rs::parse_dtype(dtype, "ranksim_keys"), mode, s, labels, rows, num_rows, d, grad,
                reduction, k, include_self, lam, out};
  if (k * k < 16384) return rs::keys(a);
  py::gil_scoped_release release;
  rs::keys(a);
}

void ranksim_ranks_fwd(const std::string& dtype, std::uintptr_t sorted, std::int64_t k,
                       std::uintptr_t num_rows, bool include_self, int reduction,
                       std::uintptr_t rows, std::int64_t b, std::uintptr_t rz_out,
                       std::uintptr_t d_out, std::uintptr_t out) {
  namespace rs = dirfast::ranksim;
  const rs::DType dt = rs::parse_dtype(dtype, "ranksim_ranks_fwd");
  if (k * k < 16384)
    return rs::ranks_fwd(dt, sorted, k, num_rows, include_self, reduction, rows, b, rz_out, d_out, out);
  py::gil_scoped_release release;
  rs::ranks_fwd(dt, sorted, k, num_rows, include_self, reduction, rows, b, rz_out, d_out, out);
}

void ranksim_ranks_bwd(const std::string& dtype, std::uintptr_t sorted, std::uintptr_t rz,
                       std::int64_t k, std::uintptr_t num_rows, bool include_self, double lam,
                       std::uintptr_t g_out) {
  namespace rs = dirfast::ranksim;
  const rs::DType dt = rs::parse_dtype(dtype, "ranksim_ranks_bwd");
  if (k * k < 16384) return rs::ranks_bwd(dt, sorted, rz, k, num_rows, include_self, lam, g_out);
  py::gil_scoped_release release;
  rs::ranks_bwd(dt, sorted, rz, k, num_rows, include_self, lam, g_out);
}

void ranksim_sort_rows(std::uintptr_t keys, std::int64_t rows, std::int64_t n) {
  namespace rs = dirfast::ranksim;
  if (rows * n < 16384) return rs::sort_rows(keys, rows, n);
  py::gil_scoped_release release;
  rs::sort_rows(keys, rows, n);
}

void ranksim_unit_bwd(const std::string& dtype, std::uintptr_t du, std::uintptr_t unit,
                      std::uintptr_t rows, std::int64_t k, std::int64_t d, std::int64_t b,
                      std::uintptr_t out) {
  namespace rs = dirfast::ranksim;
  const rs::DType dt = rs::parse_dtype(dtype, "ranksim_unit_bwd");
  if (b * d < 65536) return rs::unit_bwd(dt, du, unit, rows, k, d, b, out);
  py::gil_scoped_release release;
  rs::unit_bwd(dt, du, unit, rows, k, d, b, out);
}

// Balanced MSE 1-D (csrc/balanced_mse.h).
void bmse_fwd(const std::string& dtype, int kind, int reduction, bool is_sigma, std::uintptr_t pred,
              std::uintptr_t target, std::uintptr_t noise, std::uintptr_t centers,
              std::uintptr_t cvar, std::uintptr_t weights, std::int64_t b, std::int64_t k,
              std::uintptr_t stats, std::uintptr_t out, std::uintptr_t dvtot) {
  namespace bm = dirfast::balanced_mse;
  bm::FwdArgs a{bm::parse_dtype(dtype, "bmse_fwd"), kind, reduction, is_sigma, pred, target, noise,
                centers, cvar, weights, b, k, stats, out, dvtot};
  const std::int64_t work = b * (kind == 0 ? b : k);
  if (work < 65536) return bm::fwd(a);
  py::gil_scoped_release release;
  bm::fwd(a);
}

void bmse_bwd(const std::string& dtype, int kind, int reduction, bool is_sigma,
              std::uintptr_t grad_out, std::uintptr_t pred, std::uintptr_t target,
              std::uintptr_t noise, std::uintptr_t stats, std::uintptr_t dvtot, std::int64_t b,
              std::uintptr_t gp, std::uintptr_t gt, std::uintptr_t gv) {
  namespace bm = dirfast::balanced_mse;
  bm::BwdArgs a{bm::parse_dtype(dtype, "bmse_bwd"), kind, reduction, is_sigma, grad_out, pred,
                target, noise, stats, dvtot, b, gp, gt, gv};
  bm::bwd(a);
}

// ConR streaming row passes, 1-D labels (csrc/conr.h); the GIL is released only for large tiles.
void conr_rows_fwd(const std::string& dtype, std::uintptr_t s, std::int64_t ld_s, std::uintptr_t y,
                   std::uintptr_t yh, std::uintptr_t loga, std::int64_t row0, std::int64_t rows,
                   std::int64_t m, double w, double e, bool push_exp, bool keep_self,
                   std::uintptr_t lse, std::uintptr_t sps, std::uintptr_t npos, std::uintptr_t nneg) {
  namespace cr = dirfast::conr;
  cr::FwdArgs a{{cr::parse_dtype(dtype, "conr_rows_fwd"), s, ld_s, y, yh, loga, row0, rows, w, e,
                 push_exp, keep_self},
                m, lse, sps, npos, nneg};
  if (rows * m < 16384) return cr::rows_fwd(a);
  py::gil_scoped_release release;
  cr::rows_fwd(a);
}

void conr_rows_bwd(const std::string& dtype, std::uintptr_t s, std::int64_t ld_s, std::uintptr_t y,
                   std::uintptr_t yh, std::uintptr_t loga, std::uintptr_t logd, std::uintptr_t q,
                   std::uintptr_t g, std::int64_t row0, std::int64_t rows, std::int64_t col0,
                   std::int64_t ncols, double w, double e, bool push_exp, bool keep_self) {
  namespace cr = dirfast::conr;
  cr::BwdArgs a{{cr::parse_dtype(dtype, "conr_rows_bwd"), s, ld_s, y, yh, loga, row0, rows, w, e,
                 push_exp, keep_self},
                logd, q, g, col0, ncols};
  if (rows * ncols < 16384) return cr::rows_bwd(a);
  py::gil_scoped_release release;
  cr::rows_bwd(a);
}

void conr_epilogue(const std::string& dtype, std::uintptr_t lse, std::uintptr_t sps,
                   std::uintptr_t npos, std::uintptr_t nneg, std::uintptr_t loga, std::int64_t m,
                   bool phantom, bool official, bool weight_final, int reduction,
                   std::uintptr_t out, std::uintptr_t nvalid, std::uintptr_t stats) {
  namespace cr = dirfast::conr;
  cr::EpiArgs a{cr::parse_dtype(dtype, "conr_epilogue"), lse, sps, npos, nneg, loga, m, phantom,
                official, weight_final, reduction, out, nvalid, stats};
  cr::epilogue(a);
}

void conr_normalize(const std::string& dtype, std::uintptr_t z, std::int64_t ld_z, std::int64_t m,
                    std::int64_t d, std::uintptr_t u, std::uintptr_t norms, std::uintptr_t inv) {
  namespace cr = dirfast::conr;
  const cr::DType dt = cr::parse_dtype(dtype, "conr_normalize");
  if (m * d < 65536) return cr::normalize(dt, z, ld_z, m, d, u, norms, inv);
  py::gil_scoped_release release;
  cr::normalize(dt, z, ld_z, m, d, u, norms, inv);
}

void conr_norm_bwd(const std::string& dtype, std::uintptr_t du, std::uintptr_t u,
                   std::uintptr_t norms, std::uintptr_t inv, std::int64_t m, std::int64_t d,
                   std::uintptr_t dz) {
  namespace cr = dirfast::conr;
  const cr::DType dt = cr::parse_dtype(dtype, "conr_norm_bwd");
  if (m * d < 65536) return cr::norm_bwd(dt, du, u, norms, inv, m, d, dz);
  py::gil_scoped_release release;
  cr::norm_bwd(dt, du, u, norms, inv, m, d, dz);
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

  m.attr("BINS_PARALLEL_MIN") = dirfast::lds::kParallelMin;
  m.def("bins_map", &bins_map, py::arg("label_dtype"), py::arg("labels"), py::arg("n"),
        py::arg("mode"), py::arg("num_bins"), py::arg("start"), py::arg("width"), py::arg("edges"),
        py::arg("table"), py::arg("itemsize"), py::arg("out"),
        R"doc(
Label -> bin index (``table == 0``: int64 ``out``) or label -> ``table[bin]`` (a bit copy of a
2/4/8-byte element, ``itemsize``) in one pass (dirfast.Bins / dirfast.LDS on CPU).

``labels``: ``n`` contiguous ``label_dtype`` values ("float32", "float64", "int32", "int64").
``mode``: 0 = binary search over the ``num_bins - 1`` interior ``edges`` (``edges``: the K+1 edges,
float32 for float32 labels, else float64); 1 = integer labels on an integer grid; 2 = float labels,
unit bins from an integer ``start >= 0``; 3 = float labels, integer start/width; 4 = equal-width
bins (float64 guess + exact edge comparisons). Index rule and modes: csrc/lds.h; which mode
applies to which bins is decided by ``dirfast.Bins._kernel_mode``. Runs on the OpenMP threads
for ``n >= BINS_PARALLEL_MIN``; results do not depend on the thread count or SIMD level. Raises
ValueError on bad arguments (unknown dtype, invalid mode, null/misaligned/overlapping pointers).
The GIL is released for large ``n``.
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

  m.def(
      "fds_calibrate",
      [](const std::string& dtype, const std::string& idx_dtype, std::uintptr_t z,
         std::uintptr_t idx, std::uintptr_t scale, std::uintptr_t shift, std::uintptr_t out,
         std::int64_t n, std::int64_t d, std::int64_t b) {
        namespace fc = dirfast::fds_calibrate;
        fc::Args a;
        if (dtype != "float32" && dtype != "float64")
          throw std::invalid_argument("fds_calibrate: dtype must be 'float32' or 'float64', got '" + dtype + "'");
        if (idx_dtype != "int64" && idx_dtype != "int32")
          throw std::invalid_argument("fds_calibrate: idx_dtype must be 'int64' or 'int32', got '" + idx_dtype + "'");
        a.f64 = dtype == "float64";
        a.idx64 = idx_dtype == "int64";
        a.z = z; a.idx = idx; a.scale = scale; a.shift = shift; a.out = out;
        a.n = n; a.d = d; a.b = b;
        fc::validate(a);  // std::invalid_argument -> ValueError, GIL held
        py::gil_scoped_release release;
        fc::run(a);
      },
      py::arg("dtype"), py::arg("idx_dtype"), py::arg("z"), py::arg("idx"), py::arg("scale"),
      py::arg("shift"), py::arg("out"), py::arg("n"), py::arg("d"), py::arg("b"),
      R"doc(
FDS calibration on raw pointers of contiguous buffers: ``out[i] = z[i]*scale[k] + shift[k]`` with
``k = idx[i]`` (rows ``[d]``; ``scale``/``shift`` are ``[b, d]``); ``shift == 0`` gives the backward
``out[i] = z[i]*scale[k]``. Rows with ``k < 0`` or ``k >= b`` are copied unchanged. ``dtype``:
"float32"/"float64" (z, scale, shift, out); ``idx_dtype``: "int64"/"int32". OpenMP over rows, GIL
released; ``out`` must not overlap an input. Raises ValueError on bad arguments.
)doc");

  m.def("fds_accumulate", &fds_accumulate, py::arg("dtype"), py::arg("x"), py::arg("stride"),
        py::arg("keys"), py::arg("n"), py::arg("d"), py::arg("num_bins"), py::arg("pcount"),
        py::arg("pmean"), py::arg("pm2"), py::arg("run_ref"), py::arg("tracked"),
        py::arg("num_run"), py::arg("cal"), py::arg("scale"), py::arg("cshift"), py::arg("num_cal"),
        R"doc(
The FDS module's accumulation (dirfast.nn.FDS): per-bin statistics of x ([n, d] of ``dtype``, row
stride ``stride``) grouped by ``keys`` ([n] int64, rows outside [0, num_bins) ignored), optionally
calibrated in registers (``cal`` [n] int64 ids into ``scale``/``cshift`` [num_cal, d], 0 = none),
computed on rows shifted by a per-bin reference (the partial mean, else ``run_ref`` of a tracked bin,
else the bin's first row) and Chan-merged in float64 into ``pcount`` [num_bins] int64 and
``pmean``/``pm2`` [num_bins, d] float64, in place. Pointers are data_ptr() integers.
)doc");
  m.def("fds_bin_stats", &fds_bin_stats, py::arg("dtype"), py::arg("x"), py::arg("stride"),
        py::arg("bins"), py::arg("n"), py::arg("d"), py::arg("num_bins"), py::arg("count"),
        py::arg("mean"), py::arg("m2"),
        R"doc(
FDS per-bin feature statistics: count [num_bins] int64, mean and m2 (sum of squared deviations)
[num_bins, d] of element type ``dtype`` ("float32"/"float64"; contiguous outputs) over the rows of
``x`` ([n, d], row stride ``stride`` elements, unit column stride) grouped by ``bins`` ([n] int64;
ids outside [0, num_bins) ignored). Deterministic for any number of threads (counting sort, Welford
over fixed chunks of 256 rows of one bin on features shifted by the bin's first row, Chan merge in
chunk order). GIL released. Raises ValueError on bad arguments.
)doc");

  m.def("pav", &pav_run, py::arg("dtype"), py::arg("mode"), py::arg("x"), py::arg("rows"),
        py::arg("n"), py::arg("eps"), py::arg("out"), py::arg("block_start") = 0,
        py::arg("chunk") = 0, py::arg("grid") = false, py::arg("threads") = 0,
        R"doc(
Isotonic regression (PAV, L2) behind soft_sort (``mode=0``) and soft_rank (``mode=1``).

``x``: raw pointer to ``[rows, n]`` contiguous rows of ``dtype`` ("float32"/"float64"), each sorted
ascending. Per row, blocks B of the PAV solution (merge adjacent B1 < B2 iff
``m2 - m1 >= (L1+L2)/(2 eps)`` for sort, ``m2 - m1 <= eps (L1+L2)/2`` for rank; m = block mean of x,
L = length, sums in float64) give ``out`` (``[rows, n]``, same dtype, must not overlap x):
sort ``out_i = m_B + (i - c_B)/eps``, rank ``out_i = (c_B + 1) + (x_i - m_B)/eps`` with c_B the
mean 0-based index of B (1-based ranks). ``block_start`` (int64 ``[rows, n]``, 0 = not written)
receives the row index of the first element of i's block. ``chunk``: chunk length of the
parallel decomposition (0 = automatic: one chunk up to n = 32768, else ~n/32); ``grid``: run the
CUDA decomposition simulated on the CPU (chunk 0 = the GPU's automatic chunk); ``threads``: OpenMP
threads (0 = default). For a given chunk both drivers return identical bits for any thread count.
Returns the number of rows in which some block has length > 1. Raises ValueError on bad
arguments. The GIL is released.
)doc");
  m.def("sort_pav", &sort_pav_run, py::arg("dtype"), py::arg("mode"), py::arg("theta"),
        py::arg("rows"), py::arg("n"), py::arg("eps"), py::arg("out"), py::arg("perm"),
        py::arg("block_start"), py::arg("threads") = 0,
        R"doc(
Fused sort + PAV of short rows (``1 <= n <= 32768``): per row, sort ``theta`` (``[rows, n]``
contiguous ``dtype``, unsorted; ascending, NaN last, ties by index) into ``perm`` (int64
``[rows, n]``, ``x_i = theta[perm_i]``), then the PAV of ``pav`` on the sorted row: ``out``
(``[rows, n]``, same dtype) gets the soft sort in sorted order (``mode=0``) or the soft ranks in the
original order (``mode=1``), ``block_start`` (int64 ``[rows, n]``, sorted order) the block starts.
Same values and blocks as ``pav`` on the sorted rows. OpenMP over rows (``threads``, 0 = default).
Returns the number of rows in which some block has length > 1. The GIL is released.
)doc");
  m.def("pav_block_mean", &pav_block_mean, py::arg("dtype"), py::arg("g"),
        py::arg("block_start"), py::arg("rows"), py::arg("n"), py::arg("out"),
        py::arg("threads") = 0, py::arg("grid") = false, py::arg("chunk") = 0,
        R"doc(
L2 isotonic VJP: ``out[i] = mean of g over i's block`` (blocks = maximal runs of equal
``block_start``, as written by ``pav``). ``g``, ``out``: ``[rows, n]`` contiguous ``dtype``
("float32"/"float64"), distinct buffers; ``block_start``: int64 ``[rows, n]``. Sums in float64 in
element order. ``threads``: OpenMP threads (0 = default); ``grid`` (testing): the CUDA kernels'
decomposition (pieces per chunk of ``chunk`` elements, 0 = GPU automatic) simulated on the CPU.
Raises ValueError on bad arguments. The GIL is released.
)doc");

  m.def("dist_loss_pass", &dist_loss_pass, py::arg("dtype"), py::arg("mode"), py::arg("x"),
        py::arg("perm"), py::arg("y"), py::arg("q"), py::arg("w"), py::arg("gx"), py::arg("grad"),
        py::arg("n"), py::arg("loss"), py::arg("weighting"), py::arg("lam_s"), py::arg("scale"),
        py::arg("thresh"), py::arg("beta"), py::arg("k"), py::arg("gamma"),
        R"doc(
Dist Loss fused CPU pass over sorted positions (csrc/dist_loss.h): ``mode`` 0 = distance + sample
terms, gradient scattered by ``perm`` and the soft-sort gap test; 1 = distance term and g_s from the
PAV output (``x`` = s_hat, ``gx`` receives g_s); 2 = gradient from block means ``gx``. Raw pointers to
contiguous ``dtype`` ("float32"/"float64") arrays (perm int64; w, grad may be 0). Serial, sums in
float64 in element order. Returns ``(dist_sum, samp_sum, hit)``. Raises ValueError on bad arguments.
)doc");
  m.def("ranksim_subset", &ranksim_subset, py::arg("dtype"), py::arg("labels"), py::arg("b"),
        py::arg("k"), py::arg("perm"), py::arg("rows"), py::arg("num_rows"),
        "RankSim unique-label subset (csrc/ranksim.h); raw pointers, perm may be 0.");
  m.def("ranksim_keys", &ranksim_keys, py::arg("dtype"), py::arg("mode"), py::arg("s"),
        py::arg("labels"), py::arg("rows"), py::arg("num_rows"), py::arg("d"), py::arg("grad"),
        py::arg("reduction"), py::arg("k"), py::arg("include_self"), py::arg("lam"), py::arg("out"),
        "RankSim packed row-sort keys (mode 0 forward [2K, K], 1 backward [K, K]); csrc/ranksim.h.");
  m.def("ranksim_ranks_fwd", &ranksim_ranks_fwd, py::arg("dtype"), py::arg("sorted"), py::arg("k"),
        py::arg("num_rows"), py::arg("include_self"), py::arg("reduction"), py::arg("rows"),
        py::arg("b"), py::arg("rz_out"), py::arg("d_out"), py::arg("out"),
        "RankSim ranks, differences and loss from the sorted keys; csrc/ranksim.h.");
  m.def("ranksim_ranks_bwd", &ranksim_ranks_bwd, py::arg("dtype"), py::arg("sorted"),
        py::arg("rz"), py::arg("k"), py::arg("num_rows"), py::arg("include_self"), py::arg("lam"),
        py::arg("g_out"), "RankSim blackbox dL/dS, symmetrised (G = gs + gs^T); csrc/ranksim.h.");
  m.def("ranksim_sort_rows", &ranksim_sort_rows, py::arg("keys"), py::arg("rows"), py::arg("n"),
        "RankSim: stable radix sort of each row of packed fp32 keys, in place; csrc/ranksim.h.");
  m.def("ranksim_unit_bwd", &ranksim_unit_bwd, py::arg("dtype"), py::arg("du"), py::arg("unit"),
        py::arg("rows"), py::arg("k"), py::arg("d"), py::arg("b"), py::arg("out"),
        "RankSim normalisation backward scattered into [B, D]; csrc/ranksim.h.");
  m.def("bmse_fwd", &bmse_fwd, py::arg("dtype"), py::arg("kind"), py::arg("reduction"),
        py::arg("is_sigma"), py::arg("pred"), py::arg("target"), py::arg("noise"),
        py::arg("centers"), py::arg("cvar"), py::arg("weights"), py::arg("b"), py::arg("k"),
        py::arg("stats"), py::arg("out"), py::arg("dvtot"),
        "Balanced MSE 1-D forward row statistics + reduction (csrc/balanced_mse.h); raw pointers.");
  m.def("bmse_bwd", &bmse_bwd, py::arg("dtype"), py::arg("kind"), py::arg("reduction"),
        py::arg("is_sigma"), py::arg("grad_out"), py::arg("pred"), py::arg("target"),
        py::arg("noise"), py::arg("stats"), py::arg("dvtot"), py::arg("b"), py::arg("gp"),
        py::arg("gt"), py::arg("gv"),
        "Balanced MSE 1-D backward from the forward's statistics (csrc/balanced_mse.h).");
  m.def("conr_rows_fwd", &conr_rows_fwd, py::arg("dtype"), py::arg("s"), py::arg("ldS"),
        py::arg("y"), py::arg("yh"), py::arg("loga"), py::arg("row0"), py::arg("rows"), py::arg("m"),
        py::arg("w"), py::arg("e"), py::arg("push_exp"), py::arg("keep_self"), py::arg("lse"),
        py::arg("sps"), py::arg("npos"), py::arg("nneg"),
        "ConR forward row statistics (lse, sum of positive s, |P|, |N|) of similarity rows, 1-D "
        "labels (csrc/conr.h); raw pointers, loga may be 0.");
  m.def("conr_rows_bwd", &conr_rows_bwd, py::arg("dtype"), py::arg("s"), py::arg("ldS"),
        py::arg("y"), py::arg("yh"), py::arg("loga"), py::arg("logd"), py::arg("q"), py::arg("g"),
        py::arg("row0"), py::arg("rows"), py::arg("col0"), py::arg("ncols"), py::arg("w"),
        py::arg("e"), py::arg("push_exp"), py::arg("keep_self"),
        "ConR backward: overwrite a similarity tile with H = G + G^T (csrc/conr.h).");
  m.def("conr_epilogue", &conr_epilogue, py::arg("dtype"), py::arg("lse"), py::arg("sps"),
        py::arg("npos"), py::arg("nneg"), py::arg("loga"), py::arg("m"), py::arg("phantom"),
        py::arg("official"), py::arg("weight_final"), py::arg("reduction"), py::arg("out"),
        py::arg("nvalid"), py::arg("stats"),
        "ConR O(M) forward epilogue: loss, valid count, saved stats [3, M] (csrc/conr.h).");
  m.def("conr_normalize", &conr_normalize, py::arg("dtype"), py::arg("z"), py::arg("ldz"),
        py::arg("m"), py::arg("d"), py::arg("u"), py::arg("norms"), py::arg("inv"),
        "ConR row L2 normalisation u = z / max(|z|, 1e-12) with norms and inverses (csrc/conr.h).");
  m.def("conr_norm_bwd", &conr_norm_bwd, py::arg("dtype"), py::arg("du"), py::arg("u"),
        py::arg("norms"), py::arg("inv"), py::arg("m"), py::arg("d"), py::arg("dz"),
        "ConR backward through the row L2 normalisation (csrc/conr.h); dz may alias du.");
  m.def("num_threads", &num_threads,
        "Maximum number of OpenMP threads used by dirfast._C (omp_get_max_threads()).");
  m.def("set_num_threads", &set_num_threads, py::arg("n"),
        "Set the number of OpenMP threads used by dirfast._C (omp_set_num_threads; applies to "
        "calls made from the calling thread).");
  m.def("has_openmp", &has_openmp, "Whether dirfast._C was compiled with OpenMP.");
}
