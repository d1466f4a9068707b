// dirfast — label → bin index / per-bin value gather, CPU implementation (see lds.h).
//
// The element loop is templated on the label type, the mode and the output kind (int64 index,
// or a 2/4/8-byte table element), compiled twice — baseline x86-64 and target("avx2") (vpgather
// for the table loads, vroundps/pd for floor/trunc; two hand-fused loops for ages as float32 or
// int64 labels with a float32 table), no FMA — and picked per call with the module-wide SIMD level
// (dirfast._C._set_simd_level). Every operation is an IEEE compare/add/mul/div/floor/trunc or an
// integer op, with -ffp-contract=off, so both versions give identical results, and the work is
// split into contiguous per-thread slices with no reduction, so any thread count does too.
#include "lds.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "weighted_loss.h"  // simd_level(): the module-wide instruction-set knob

namespace dirfast {
namespace lds {
namespace {

#if defined(__GNUC__) || defined(__clang__)
#define DIRFAST_LDS_INLINE inline __attribute__((always_inline))
#else
#define DIRFAST_LDS_INLINE inline
#endif

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define DIRFAST_LDS_AVX2 1
#define DIRFAST_LDS_TARGET_AVX2 __attribute__((target("avx2")))
#include <immintrin.h>
#else
#define DIRFAST_LDS_AVX2 0
#endif

// Labels per chunk of the gather loop (an int32 index buffer on the stack, in L1).
constexpr std::int64_t kChunk = 1024;

// Internal mode: integer-grid with unit width (no division), split from kIntGrid at dispatch.
constexpr int kIntGridUnit = 5;

struct Params {
  std::int32_t K;            // number of bins
  double start, width;       // mode 4 (double arithmetic)
  double Km1d;               // K - 1
  float Km1f;
  // modes 1 (int64) and 2/3 (T = float or double)
  std::int64_t s_i, w_i, hi_i;  // start, width, start + K*width as int64
  float s_f, w_f, top_f;         // start, width, start + K - 1 in float (exact: <= 2^22)
  double s_d, w_d, top_d;        // the same in double (exact: <= 2^50)
  // mode 0
  const void* inner;  // the K-1 interior edges (float or double)
  std::int32_t m;     // K - 1
  std::int32_t top_step;  // largest power of two <= m (0 if m == 0)
};

template <typename L>
using CmpT = typename std::conditional<std::is_same<L, float>::value, float, double>::type;

template <typename T>
DIRFAST_LDS_INLINE T clamp_bins(T k, T km1) {
  k = k < T(0) ? T(0) : k;
  return k > km1 ? km1 : k;
}

// Bin index of one label (0 <= result <= K-1). MODE is a compile-time Mode (or kIntGridUnit).
template <typename L, int MODE>
DIRFAST_LDS_INLINE std::int32_t bin_of(L y, const Params& p) {
  using C = CmpT<L>;
  static_assert(MODE != kSearch, "mode 0 runs in block_impl");
  if constexpr (MODE == kIntGrid || MODE == kIntGridUnit) {
    static_assert(std::is_integral<L>::value, "integer-grid mode needs integer labels");
    const std::int64_t v = static_cast<std::int64_t>(y);
    // clamp into [start, start + K*width] first: no overflow for any int64 label
    const std::int64_t c = v < p.s_i ? p.s_i : (v > p.hi_i ? p.hi_i : v);
    std::int64_t k = c - p.s_i;
    if constexpr (MODE == kIntGrid) k = k / p.w_i;  // k >= 0: truncation is floor
    return static_cast<std::int32_t>(k < p.K - 1 ? k : p.K - 1);
  } else if constexpr (MODE == kUnit) {
    static_assert(std::is_floating_point<L>::value, "unit mode needs float labels");
    if constexpr (std::is_same<L, float>::value) {
      float t = y != y ? p.top_f : y;  // NaN -> top; +-inf clamp below
      t = t < p.s_f ? p.s_f : t;
      t = t > p.top_f ? p.top_f : t;
      return static_cast<std::int32_t>(t) - static_cast<std::int32_t>(p.s_i);  // trunc; top < 2^31
    } else {
      double t = y != y ? p.top_d : y;
      t = t < p.s_d ? p.s_d : t;
      t = t > p.top_d ? p.top_d : t;
      return static_cast<std::int32_t>(std::trunc(t) - p.s_d);  // exact: integers <= 2^50
    }
  } else if constexpr (MODE == kFloor) {
    static_assert(std::is_floating_point<L>::value, "floor mode needs float labels");
    using T = L;
    const T s = std::is_same<T, float>::value ? T(p.s_f) : T(p.s_d);
    const T w = std::is_same<T, float>::value ? T(p.w_f) : T(p.w_d);
    const T km1 = std::is_same<T, float>::value ? T(p.Km1f) : T(p.Km1d);
    T t = std::floor(y) - s;
    t = std::floor(t / w);
    t = t != t ? km1 : t;
    return static_cast<std::int32_t>(clamp_bins(t, km1));
  } else {
    static_assert(MODE == kArith, "unknown mode");
    const double yd = static_cast<double>(y);
    double k = std::floor((yd - p.start) / p.width);
    k = k != k ? p.Km1d : k;
    k = clamp_bins(k, p.Km1d);
    const double el = k * p.width + p.start;           // lower edge start + k*width
    const double eu = (k + 1.0) * p.width + p.start;   // upper edge start + (k+1)*width
    const C yc = static_cast<C>(y);
    const C lo = static_cast<C>(el), hi = static_cast<C>(eu);
    k = k + static_cast<double>(yc >= hi) - static_cast<double>(yc < lo);
    return static_cast<std::int32_t>(clamp_bins(k, p.Km1d));
  }
}

// out[j] = tb[idx[j]], j < len: the table loads of the gather loop. Scalar by default (gcc does not
// emit hardware gathers for generic x86-64 tuning); the AVX2 version uses vpgatherdd/vpgatherdq
// for 4- and 8-byte elements (idx is 32-byte aligned). Bit copies either way.
template <typename O>
DIRFAST_LDS_INLINE void gather_scalar(const O* __restrict__ tb, const std::int32_t* __restrict__ idx,
                                      O* __restrict__ out, std::int64_t len) {
  for (std::int64_t j = 0; j < len; ++j) out[j] = tb[idx[j]];
}

#if DIRFAST_LDS_AVX2
template <typename O>
DIRFAST_LDS_TARGET_AVX2 inline void gather_avx2(const O* __restrict__ tb,
                                                const std::int32_t* __restrict__ idx,
                                                O* __restrict__ out, std::int64_t len) {
  std::int64_t j = 0;
  if constexpr (sizeof(O) == 4) {
    for (; j + 16 <= len; j += 16) {
      const __m256i i0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(idx + j));
      const __m256i i1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(idx + j + 8));
      const __m256i v0 = _mm256_i32gather_epi32(reinterpret_cast<const int*>(tb), i0, 4);
      const __m256i v1 = _mm256_i32gather_epi32(reinterpret_cast<const int*>(tb), i1, 4);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + j), v0);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + j + 8), v1);
    }
  } else if constexpr (sizeof(O) == 8) {
    for (; j + 8 <= len; j += 8) {
      const __m128i i0 = _mm_load_si128(reinterpret_cast<const __m128i*>(idx + j));
      const __m128i i1 = _mm_load_si128(reinterpret_cast<const __m128i*>(idx + j + 4));
      const __m256i v0 = _mm256_i32gather_epi64(reinterpret_cast<const long long*>(tb), i0, 8);
      const __m256i v1 = _mm256_i32gather_epi64(reinterpret_cast<const long long*>(tb), i1, 8);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + j), v0);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + j + 4), v1);
    }
  }
  for (; j < len; ++j) out[j] = tb[idx[j]];
}
#endif

template <typename O, bool AVX2>
DIRFAST_LDS_INLINE void gather(const O* tb, const std::int32_t* idx, O* out, std::int64_t len) {
#if DIRFAST_LDS_AVX2
  if constexpr (AVX2 && sizeof(O) >= 4) {
    gather_avx2<O>(tb, idx, out, len);
    return;
  }
#endif
  gather_scalar<O>(tb, idx, out, len);
}

template <int OUT> struct OutType;                 // OUT = 0: int64 index; else element size
template <> struct OutType<0> { using type = std::int64_t; };
template <> struct OutType<2> { using type = std::uint16_t; };
template <> struct OutType<4> { using type = std::uint32_t; };
template <> struct OutType<8> { using type = std::uint64_t; };

template <typename L, int MODE, int OUT, bool AVX2>
DIRFAST_LDS_INLINE void block_impl(const void* labels, void* out, const void* table,
                                   std::int64_t i0, std::int64_t i1, const Params& p) {
  using O = typename OutType<OUT>::type;
  const L* __restrict__ y = static_cast<const L*>(labels);
  O* __restrict__ o = static_cast<O*>(out);
  const Params q = p;  // local copy: no aliasing with the stores
  if constexpr (MODE == kSearch) {
    // Binary search, breadth-first over a chunk of labels: step s of every label's search, then
    // step s/2, ... The labels' searches are independent, so the loads of one step overlap
    // (a depth-first search per label waits on log2(K) dependent loads).
    using C = CmpT<L>;
    const C* __restrict__ inner = static_cast<const C*>(q.inner);
    const std::int32_t m = q.m;
    alignas(64) std::int32_t buf[kChunk];
    for (std::int64_t c0 = i0; c0 < i1; c0 += kChunk) {
      const std::int64_t len = std::min<std::int64_t>(kChunk, i1 - c0);
      const L* __restrict__ yc = y + c0;
      for (std::int64_t j = 0; j < len; ++j) buf[j] = 0;
      for (std::int32_t step = q.top_step; step > 0; step >>= 1) {
        for (std::int64_t j = 0; j < len; ++j) {
          // count of interior edges e with !(e > y): searchsorted(right=True), NaN -> K-1
          const std::int32_t jn = buf[j] + step;
          const std::int32_t jj = jn <= m ? jn : m;  // keeps the load in bounds
          const bool take = (jn <= m) & !(inner[jj - 1] > static_cast<C>(yc[j]));
          buf[j] = take ? jn : buf[j];
        }
      }
      O* __restrict__ oc = o + c0;
      if constexpr (OUT == 0) {
        for (std::int64_t j = 0; j < len; ++j) oc[j] = static_cast<O>(buf[j]);
      } else {
        gather<O, AVX2>(static_cast<const O*>(table), buf, oc, len);
      }
    }
  } else if constexpr (OUT == 0) {
    (void)table;
    for (std::int64_t i = i0; i < i1; ++i) o[i] = static_cast<O>(bin_of<L, MODE>(y[i], q));
  } else {
    // two loops per chunk: the index loop (branch-free, vectorises) into an L1 buffer, then the
    // table loads (gather(): scalar, or vpgather in the AVX2 version)
    const O* __restrict__ tb = static_cast<const O*>(table);
    alignas(64) std::int32_t buf[kChunk];
    for (std::int64_t c0 = i0; c0 < i1; c0 += kChunk) {
      const std::int64_t len = std::min<std::int64_t>(kChunk, i1 - c0);
      const L* __restrict__ yc = y + c0;
      O* __restrict__ oc = o + c0;
      for (std::int64_t j = 0; j < len; ++j) buf[j] = bin_of<L, MODE>(yc[j], q);
      gather<O, AVX2>(tb, buf, oc, len);
    }
  }
}

using BlockFn = void (*)(const void*, void*, const void*, std::int64_t, std::int64_t,
                         const Params&);

template <typename L, int MODE, int OUT>
void block_base(const void* labels, void* out, const void* table, std::int64_t i0,
                std::int64_t i1, const Params& p) {
  block_impl<L, MODE, OUT, false>(labels, out, table, i0, i1, p);
}

#if DIRFAST_LDS_AVX2
template <typename L, int MODE, int OUT>
DIRFAST_LDS_TARGET_AVX2 void block_avx2(const void* labels, void* out, const void* table,
                                        std::int64_t i0, std::int64_t i1, const Params& p) {
  block_impl<L, MODE, OUT, true>(labels, out, table, i0, i1, p);
}
#endif

#if DIRFAST_LDS_AVX2
// Hand-fused AVX2 loops for the two common cases with a 4-byte table (float32 weights): ages as
// float32 labels (unit bins from start >= 0, mode 2) and as int64 labels (integer grid, unit width).
// Index in registers, gather, store: no index buffer. Same operations as bin_of (min/max on
// non-NaN values equal the scalar selects; -0.0 vs 0.0 truncate to the same index).
template <typename L, int MODE, int OUT>
constexpr bool kFused = OUT == 4 && ((std::is_same<L, float>::value && MODE == kUnit) ||
                                     (std::is_same<L, std::int64_t>::value && MODE == kIntGridUnit));

template <typename L, int MODE, int OUT>
DIRFAST_LDS_TARGET_AVX2 void block_fused_avx2(const void* labels, void* out, const void* table,
                                              std::int64_t i0, std::int64_t i1, const Params& p) {
  const Params q = p;
  const L* __restrict__ y = static_cast<const L*>(labels);
  std::uint32_t* __restrict__ o = static_cast<std::uint32_t*>(out);
  const int* tb = static_cast<const int*>(table);
  std::int64_t i = i0;
  if constexpr (std::is_same<L, float>::value) {
    const __m256 s = _mm256_set1_ps(q.s_f), top = _mm256_set1_ps(q.top_f);
    const __m256i si = _mm256_set1_epi32(static_cast<std::int32_t>(q.s_i));
    for (; i + 8 <= i1; i += 8) {
      const __m256 v = _mm256_loadu_ps(y + i);
      __m256 t = _mm256_blendv_ps(v, top, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));  // NaN -> top
      t = _mm256_min_ps(_mm256_max_ps(t, s), top);
      const __m256i k = _mm256_sub_epi32(_mm256_cvttps_epi32(t), si);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + i), _mm256_i32gather_epi32(tb, k, 4));
    }
  } else {
    const __m256i lo = _mm256_set1_epi64x(q.s_i), hi = _mm256_set1_epi64x(q.s_i + q.K - 1);
    for (; i + 4 <= i1; i += 4) {
      __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y + i));
      v = _mm256_blendv_epi8(v, lo, _mm256_cmpgt_epi64(lo, v));
      v = _mm256_blendv_epi8(v, hi, _mm256_cmpgt_epi64(v, hi));
      const __m256i k = _mm256_sub_epi64(v, lo);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o + i), _mm256_i64gather_epi32(tb, k, 4));
    }
  }
  const std::uint32_t* tu = static_cast<const std::uint32_t*>(table);
  for (; i < i1; ++i) o[i] = tu[bin_of<L, MODE>(y[i], q)];
}
#endif

template <typename L, int MODE, int OUT>
BlockFn pick_block() {
#if DIRFAST_LDS_AVX2
  if (weighted_loss::simd_level() >= 1) {
    if constexpr (kFused<L, MODE, OUT>) return &block_fused_avx2<L, MODE, OUT>;
    return &block_avx2<L, MODE, OUT>;
  }
#endif
  return &block_base<L, MODE, OUT>;
}

template <typename L, int MODE>
BlockFn pick_out(int out_kind) {
  switch (out_kind) {
    case 2: return pick_block<L, MODE, 2>();
    case 4: return pick_block<L, MODE, 4>();
    case 8: return pick_block<L, MODE, 8>();
    default: return pick_block<L, MODE, 0>();
  }
}

template <typename L>
BlockFn pick_mode(int mode, int out_kind) {
  if constexpr (std::is_floating_point<L>::value) {
    switch (mode) {
      case kSearch: return pick_out<L, kSearch>(out_kind);
      case kUnit: return pick_out<L, kUnit>(out_kind);
      case kFloor: return pick_out<L, kFloor>(out_kind);
      default: return pick_out<L, kArith>(out_kind);
    }
  } else {
    switch (mode) {
      case kSearch: return pick_out<L, kSearch>(out_kind);
      case kIntGrid: return pick_out<L, kIntGrid>(out_kind);
      case kIntGridUnit: return pick_out<L, kIntGridUnit>(out_kind);
      default: return pick_out<L, kArith>(out_kind);
    }
  }
}

bool is_float_label(LabelType t) { return t == LabelType::kFloat32 || t == LabelType::kFloat64; }

std::size_t label_size(LabelType t) {
  return (t == LabelType::kFloat32 || t == LabelType::kInt32) ? 4 : 8;
}

constexpr double kTwo50 = 1125899906842624.0;  // 2^50

bool is_int_value(double v) { return std::isfinite(v) && std::floor(v) == v; }

bool overlaps(std::uintptr_t x, std::uintptr_t xbytes, std::uintptr_t y, std::uintptr_t ybytes) {
  if (!x || !y) return false;
  return x < y + ybytes && y < x + xbytes;
}

}  // namespace

LabelType parse_label_type(const char* name) {
  const std::string s(name ? name : "");
  if (s == "float32") return LabelType::kFloat32;
  if (s == "float64") return LabelType::kFloat64;
  if (s == "int32") return LabelType::kInt32;
  if (s == "int64") return LabelType::kInt64;
  throw std::invalid_argument("bins_map: label_dtype must be 'float32', 'float64', 'int32' or 'int64', got '" +
                              s + "'");
}

void validate(const MapArgs& a) {
  const std::string fn = "bins_map: ";
  auto fail = [&](const std::string& msg) { throw std::invalid_argument(fn + msg); };
  if (a.n < 0) fail("n must be >= 0, got " + std::to_string(a.n));
  if (a.num_bins < 1 || a.num_bins > std::numeric_limits<std::int32_t>::max())
    fail("num_bins must be in [1, 2^31 - 1], got " + std::to_string(a.num_bins));
  const bool fl = is_float_label(a.label_type);
  if (a.mode < kSearch || a.mode > kArith) fail("mode must be 0..4, got " + std::to_string(a.mode));
  if (a.mode == kIntGrid && fl) fail("mode 1 (integer grid) needs integer labels");
  if ((a.mode == kUnit || a.mode == kFloor) && !fl)
    fail("modes 2 and 3 need float labels, got mode " + std::to_string(a.mode));
  if (a.mode != kSearch) {
    if (!std::isfinite(a.start) || !std::isfinite(a.width) || !(a.width > 0))
      fail("start must be finite and width finite and > 0");
    if (a.mode != kArith) {
      const double top = a.start + static_cast<double>(a.num_bins) * a.width;
      if (!is_int_value(a.start) || !is_int_value(a.width) || std::fabs(a.start) > kTwo50 ||
          std::fabs(top) > kTwo50)
        fail("modes 1-3 need integer start and width with |start|, |start + K*width| <= 2^50");
      if (a.mode == kUnit) {
        if (a.width != 1.0 || a.start < 0) fail("mode 2 needs width == 1 and start >= 0");
        if (a.label_type == LabelType::kFloat32 && a.start + a.num_bins > 2147483647.0)
          fail("mode 2 with float32 labels needs start + K <= 2^31 - 1");
      }
    }
  }
  if (a.table) {
    if (a.itemsize != 2 && a.itemsize != 4 && a.itemsize != 8)
      fail("itemsize must be 2, 4 or 8 with a table, got " + std::to_string(a.itemsize));
  } else if (a.itemsize != 8) {
    fail("itemsize must be 8 (int64 index) without a table, got " + std::to_string(a.itemsize));
  }
  if (a.n == 0) return;  // nothing is touched
  const std::size_t ls = label_size(a.label_type);
  const std::size_t os = static_cast<std::size_t>(a.itemsize);
  if (static_cast<std::uint64_t>(a.n) >
      static_cast<std::uint64_t>(std::numeric_limits<std::ptrdiff_t>::max()) / 8)
    fail("n is too large");
  const std::uintptr_t lbytes = static_cast<std::uintptr_t>(a.n) * ls;
  const std::uintptr_t obytes = static_cast<std::uintptr_t>(a.n) * os;
  if (!a.labels) fail("labels must be a non-null data pointer");
  if (!a.out) fail("out must be a non-null data pointer");
  if (a.labels % ls) fail("labels is not aligned to its element size");
  if (a.out % os) fail("out is not aligned to its element size");
  if (a.labels > std::numeric_limits<std::uintptr_t>::max() - lbytes ||
      a.out > std::numeric_limits<std::uintptr_t>::max() - obytes)
    fail("a buffer of n elements overflows the address space");
  const std::uintptr_t tbytes = static_cast<std::uintptr_t>(a.num_bins) * os;
  if (a.table && a.table % os) fail("table is not aligned to its element size");
  std::uintptr_t ebytes = 0;
  if (a.mode == kSearch) {
    const std::size_t es = a.label_type == LabelType::kFloat32 ? 4 : 8;
    if (!a.edges) fail("mode 0 needs the edges (a non-null data pointer)");
    if (a.edges % es) fail("edges is not aligned to its element size");
    ebytes = static_cast<std::uintptr_t>(a.num_bins + 1) * es;
  }
  if (overlaps(a.out, obytes, a.labels, lbytes)) fail("out overlaps labels");
  if (overlaps(a.out, obytes, a.table, tbytes)) fail("out overlaps table");
  if (a.mode == kSearch && overlaps(a.out, obytes, a.edges, ebytes)) fail("out overlaps edges");
}

void map(const MapArgs& a) {
  if (a.n == 0) return;
  Params p{};
  p.K = static_cast<std::int32_t>(a.num_bins);
  p.Km1d = static_cast<double>(a.num_bins - 1);
  p.Km1f = static_cast<float>(a.num_bins - 1);
  p.start = a.start;
  p.width = a.width;
  int mode = a.mode;
  if (mode >= kIntGrid && mode <= kFloor) {
    p.s_i = static_cast<std::int64_t>(a.start);
    p.w_i = static_cast<std::int64_t>(a.width);
    p.hi_i = p.s_i + static_cast<std::int64_t>(a.num_bins) * p.w_i;
    p.s_d = a.start;
    p.w_d = a.width;
    p.top_d = a.start + static_cast<double>(a.num_bins - 1);  // mode 2 only (width 1)
    p.s_f = static_cast<float>(a.start);
    p.w_f = static_cast<float>(a.width);
    p.top_f = static_cast<float>(p.top_d);
    if (mode == kIntGrid && p.w_i == 1) mode = kIntGridUnit;
  }
  if (mode == kSearch) {
    const bool f32 = a.label_type == LabelType::kFloat32;
    p.inner = reinterpret_cast<const char*>(a.edges) + (f32 ? sizeof(float) : sizeof(double));
    p.m = static_cast<std::int32_t>(a.num_bins - 1);
    std::int32_t s = 1;
    while (static_cast<std::int64_t>(s) * 2 <= p.m) s *= 2;
    p.top_step = p.m > 0 ? s : 0;
  }
  const int out_kind = a.table ? a.itemsize : 0;
  BlockFn block = nullptr;
  switch (a.label_type) {
    case LabelType::kFloat32: block = pick_mode<float>(mode, out_kind); break;
    case LabelType::kFloat64: block = pick_mode<double>(mode, out_kind); break;
    case LabelType::kInt32: block = pick_mode<std::int32_t>(mode, out_kind); break;
    case LabelType::kInt64: block = pick_mode<std::int64_t>(mode, out_kind); break;
  }
  const void* labels = reinterpret_cast<const void*>(a.labels);
  void* out = reinterpret_cast<void*>(a.out);
  const void* table = reinterpret_cast<const void*>(a.table);
  const std::int64_t n = a.n;
#ifdef _OPENMP
  if (n >= kParallelMin && omp_get_max_threads() > 1) {
#pragma omp parallel
    {
      const std::int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
      // contiguous slices, multiples of 64 elements (whole cache lines of output)
      const std::int64_t per = ((n + nt - 1) / nt + 63) / 64 * 64;
      const std::int64_t i0 = std::min(n, t * per), i1 = std::min(n, i0 + per);
      if (i0 < i1) block(labels, out, table, i0, i1, p);
    }
    return;
  }
#endif
  block(labels, out, table, 0, n, p);
}

}  // namespace lds
}  // namespace dirfast
