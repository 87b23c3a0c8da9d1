// Fake-quant CPU kernels. Every element loop is branch-free (ternary clamps, std::nearbyint) so
// GCC vectorizes it in each RAZOR_VECTOR_VERSIONS version; flags that change the arithmetic are
// template parameters, chosen once per call outside the loops. Built (CMakeLists.txt) with
// -fno-trapping-math: selects between values that may raise FP flags (Inf * 0) are if-converted
// only then, else the LSQ loop vectorizes for AVX-512 alone; nothing reads the FP flags, so
// results do not change. And with -ffp-contract=off: torch builds its kernels so, and a fused
// multiply-add in `zp + x * inv` or `(q - zp) * scale - x` would round differently from them.
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "razor/fake_quant.h"
#include "razor/simd_dispatch.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define RAZOR_HAS_AVX512_FAKE_QUANT 1
#include <immintrin.h>
#else
#define RAZOR_HAS_AVX512_FAKE_QUANT 0
#endif

namespace razor {
namespace cpu {

namespace {

// The walk() bodies below must be compiled inside each vector clone: a lambda GCC declines to
// inline is compiled once, for the baseline ISA, where nearbyint does not vectorize.
#if defined(__GNUC__)
#define RAZOR_LAMBDA_INLINE __attribute__((always_inline))
#else
#define RAZOR_LAMBDA_INLINE
#endif

// 2^63: a rounded q at or above it does not fit int64 (see QuantOverflow).
template <typename T>
constexpr T kInt64Limit = static_cast<T>(9223372036854775808.0);

// Calls run(c, e0, e1) for maximal runs [e0, e1) of elements in channel c when a channel's
// elements are contiguous (inner > 1, or one channel), and cols(c0, e0, e1) for runs of
// consecutive channels c0, c0 + 1, ... when each element is its own channel (inner == 1).
template <typename Run, typename Cols>
RAZOR_INLINE void walk(const ChannelLayout& layout, int64_t begin, int64_t end, Run run,
                       Cols cols) {
  int64_t e = begin;
  if (layout.inner == 1 && layout.channels > 1) {
    while (e < end) {
      const int64_t c0 = e % layout.channels;
      const int64_t stop = end - e < layout.channels - c0 ? end : e + (layout.channels - c0);
      cols(c0, e, stop);
      e = stop;
    }
    return;
  }
  while (e < end) {
    const int64_t row = e / layout.inner;
    const int64_t stop = end < (row + 1) * layout.inner ? end : (row + 1) * layout.inner;
    run(row % layout.channels, e, stop);
    e = stop;
  }
}

// ---- fake_quantize forward -----------------------------------------------------------------

template <typename T, bool kToMin, bool kFloatProduct>
RAZOR_INLINE T fake_quant_value(T x, T scale, T inv, T zp, T qmin, T qmax, T& q) {
  q = std::nearbyint(x * inv) + zp;
  const bool keep = kToMin ? (q >= qmin && q < kInt64Limit<T>) : q >= qmin;
  T c = keep ? q : qmin;
  c = c <= qmax ? c : qmax;
  if (kFloatProduct) {
    return static_cast<T>(static_cast<float>(c - zp) * static_cast<float>(scale));
  }
  return (c - zp) * scale;
}

template <typename T, bool kMask, bool kToMin, bool kFloatProduct>
RAZOR_INLINE void forward_body(const T* x, T* out, uint8_t* mask, const FakeQuantParams& p,
                               const ChannelLayout& layout, int64_t begin, int64_t end) {
  const T* scale = static_cast<const T*>(p.scale);
  const T* inv = static_cast<const T*>(p.inv_scale);
  const T* zp = static_cast<const T*>(p.zero_point);
  const T qmin = static_cast<T>(p.quant_min);
  const T qmax = static_cast<T>(p.quant_max);
  walk(
      layout, begin, end,
      [&](int64_t c, int64_t e0, int64_t e1) RAZOR_LAMBDA_INLINE {
        const T s = scale[c], v = inv[c], z = zp[c];
        for (int64_t e = e0; e < e1; ++e) {
          T q;
          out[e] = fake_quant_value<T, kToMin, kFloatProduct>(x[e], s, v, z, qmin, qmax, q);
          if (kMask) mask[e] = static_cast<uint8_t>((q >= qmin) & (q <= qmax));
        }
      },
      [&](int64_t c0, int64_t e0, int64_t e1) RAZOR_LAMBDA_INLINE {
        const int64_t shift = c0 - e0;
        for (int64_t e = e0; e < e1; ++e) {
          T q;
          out[e] = fake_quant_value<T, kToMin, kFloatProduct>(
              x[e], scale[e + shift], inv[e + shift], zp[e + shift], qmin, qmax, q);
          if (kMask) mask[e] = static_cast<uint8_t>((q >= qmin) & (q <= qmax));
        }
      });
}

template <typename T>
RAZOR_INLINE void forward_dispatch(const void* x, void* out, uint8_t* mask,
                                   const FakeQuantParams& p, const ChannelLayout& layout,
                                   int64_t begin, int64_t end) {
  const T* xs = static_cast<const T*>(x);
  T* os = static_cast<T*>(out);
  const bool to_min = p.overflow == QuantOverflow::kToQuantMin;
  const bool fp = p.float_product && sizeof(T) == 8;
#define RAZOR_FQ_CASE(M, K, F)                                                    \
  if ((mask != nullptr) == M && to_min == K && fp == F) {                         \
    return forward_body<T, M, K, F>(xs, os, mask, p, layout, begin, end);         \
  }
  RAZOR_FQ_CASE(true, false, false)
  RAZOR_FQ_CASE(false, false, false)
  RAZOR_FQ_CASE(true, true, false)
  RAZOR_FQ_CASE(false, true, false)
  if (sizeof(T) == 8) {
    RAZOR_FQ_CASE(true, false, true)
    RAZOR_FQ_CASE(false, false, true)
    RAZOR_FQ_CASE(true, true, true)
    RAZOR_FQ_CASE(false, true, true)
  }
#undef RAZOR_FQ_CASE
}

RAZOR_INLINE void forward_f32_body(const void* x, void* out, uint8_t* mask,
                                   const FakeQuantParams& p, const ChannelLayout& layout,
                                   int64_t begin, int64_t end) {
  forward_dispatch<float>(x, out, mask, p, layout, begin, end);
}
RAZOR_VECTOR_VERSIONS(forward_f32,
                      (const void* x, void* out, uint8_t* mask, const FakeQuantParams& p,
                       const ChannelLayout& layout, int64_t begin, int64_t end),
                      (x, out, mask, p, layout, begin, end))

RAZOR_INLINE void forward_f64_body(const void* x, void* out, uint8_t* mask,
                                   const FakeQuantParams& p, const ChannelLayout& layout,
                                   int64_t begin, int64_t end) {
  forward_dispatch<double>(x, out, mask, p, layout, begin, end);
}
RAZOR_VECTOR_VERSIONS(forward_f64,
                      (const void* x, void* out, uint8_t* mask, const FakeQuantParams& p,
                       const ChannelLayout& layout, int64_t begin, int64_t end),
                      (x, out, mask, p, layout, begin, end))

// ---- fake_quantize backward ----------------------------------------------------------------

template <typename T>
RAZOR_INLINE void masked_grad(const T* grad, const uint8_t* mask, T* out, int64_t begin,
                              int64_t end) {
  // mask holds 0 or 1: the conversion is the select, without control flow.
  for (int64_t e = begin; e < end; ++e) out[e] = grad[e] * static_cast<T>(mask[e]);
}

RAZOR_INLINE void masked_grad_f32_body(const void* grad, const uint8_t* mask, void* out,
                                       int64_t begin, int64_t end) {
  masked_grad(static_cast<const float*>(grad), mask, static_cast<float*>(out), begin, end);
}
RAZOR_VECTOR_VERSIONS(masked_grad_f32,
                      (const void* grad, const uint8_t* mask, void* out, int64_t begin,
                       int64_t end),
                      (grad, mask, out, begin, end))

RAZOR_INLINE void masked_grad_f64_body(const void* grad, const uint8_t* mask, void* out,
                                       int64_t begin, int64_t end) {
  masked_grad(static_cast<const double*>(grad), mask, static_cast<double*>(out), begin, end);
}
RAZOR_VECTOR_VERSIONS(masked_grad_f64,
                      (const void* grad, const uint8_t* mask, void* out, int64_t begin,
                       int64_t end),
                      (grad, mask, out, begin, end))

// ---- LSQ backward --------------------------------------------------------------------------

// Independent partial sums, so GCC vectorizes the reduction without reassociating one sum.
constexpr int64_t kLanes = 16;
// Lanes flush into the double accumulators every block, so long runs keep double-like accuracy.
constexpr int64_t kBlock = 1024;

// torch's per-element LSQ gradients (fake_quantize_learnable_*_grad_kernel_cpu). Its q is
// int64(nearbyint(zp + x * inv)), so a q that is NaN or beyond int64 counts as below quant_min.
template <typename T, bool kUnitFactor>
RAZOR_INLINE T lsq_element(T x, T dy, T scale, T inv, T zp, T qmin, T qmax, T gf, T& dscale,
                           T& dzp) {
  // t * 1 == t exactly, so a grad_factor of 1 (the default) skips its three multiplications.
  const auto times_gf = [gf](T t) RAZOR_LAMBDA_INLINE { return kUnitFactor ? t : t * gf; };
  const T q = std::nearbyint(zp + x * inv);
  // Bitwise, not short-circuit, logic: no branches for the vectorizer to if-convert.
  const bool fits = (q >= qmin) & (q < kInt64Limit<T>);
  const bool above = fits & (q > qmax);
  const bool inside = fits & (q <= qmax);
  // Inside the range the clamped q is q itself, the only case where out - x is used.
  const T xfq = (q - zp) * scale;
  const T inside_ds = times_gf(dy * (xfq - x) * inv);
  const T outside_ds = times_gf(dy * (above ? qmax - zp : qmin - zp));
  dscale = inside ? inside_ds : outside_ds;
  dzp = inside ? T(0) : times_gf(-dy * scale);
  return dy * (inside ? T(1) : T(0));
}

template <typename T, bool kUnitFactor>
RAZOR_INLINE void lsq_terms(const T* __restrict__ x, const T* __restrict__ grad,
                            T* __restrict__ grad_x, int64_t n, T s, T v, T z, T qmin, T qmax,
                            T gf, T* __restrict__ terms_s, T* __restrict__ terms_z) {
  for (int64_t i = 0; i < n; ++i) {
    grad_x[i] = lsq_element<T, kUnitFactor>(x[i], grad[i], s, v, z, qmin, qmax, gf, terms_s[i],
                                            terms_z[i]);
  }
}

// Sum of n values in kLanes independent partial sums (vectorizes without reassociation).
template <typename T>
RAZOR_INLINE double lane_sum(const T* __restrict__ values, int64_t n) {
  T lanes[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int64_t l = 0; l < kLanes; ++l) lanes[l] += values[i + l];
  }
  for (; i < n; ++i) lanes[0] += values[i];
  T total = 0;
  for (int64_t l = 0; l < kLanes; ++l) total += lanes[l];
  return static_cast<double>(total);
}

template <typename T>
RAZOR_INLINE void lsq_body(const T* x, const T* grad, T* grad_x, const LsqParams& p,
                           const ChannelLayout& layout, int64_t begin, int64_t end, double* acc_s,
                           double* acc_z) {
  const T* scale = static_cast<const T*>(p.scale);
  const T* inv = static_cast<const T*>(p.inv_scale);
  const T* zp = static_cast<const T*>(p.zero_point);
  const T qmin = static_cast<T>(p.quant_min);
  const T qmax = static_cast<T>(p.quant_max);
  const T gf = static_cast<T>(p.grad_factor);
  walk(
      layout, begin, end,
      [&](int64_t c, int64_t e0, int64_t e1) RAZOR_LAMBDA_INLINE {
        const T s = scale[c], v = inv[c], z = zp[c];
        double total_s = 0.0, total_z = 0.0;
        // Per block: an elementwise pass writes the per-element terms to a small buffer that
        // stays in L1, then a lane-wise pass sums it. One loop doing both keeps its lanes in
        // memory and measured 2.5x slower than a multiply.
        T terms_s[kBlock];
        T terms_z[kBlock];
        for (int64_t block = e0; block < e1; block += kBlock) {
          const int64_t count = e1 - block < kBlock ? e1 - block : kBlock;
          if (gf == T(1)) {
            lsq_terms<T, true>(x + block, grad + block, grad_x + block, count, s, v, z, qmin,
                               qmax, gf, terms_s, terms_z);
          } else {
            lsq_terms<T, false>(x + block, grad + block, grad_x + block, count, s, v, z, qmin,
                                qmax, gf, terms_s, terms_z);
          }
          total_s += lane_sum(terms_s, count);
          total_z += lane_sum(terms_z, count);
        }
        acc_s[c] += total_s;
        acc_z[c] += total_z;
      },
      [&](int64_t c0, int64_t e0, int64_t e1) RAZOR_LAMBDA_INLINE {
        const int64_t shift = c0 - e0;
        for (int64_t e = e0; e < e1; ++e) {
          const int64_t c = e + shift;
          T ds, dz;
          grad_x[e] = lsq_element<T, false>(x[e], grad[e], scale[c], inv[c], zp[c], qmin, qmax,
                                            gf, ds, dz);
          acc_s[c] += ds;
          acc_z[c] += dz;
        }
      });
}

RAZOR_INLINE void lsq_f32_body(const void* x, const void* grad, void* grad_x, const LsqParams& p,
                               const ChannelLayout& layout, int64_t begin, int64_t end,
                               double* acc_s, double* acc_z) {
  lsq_body(static_cast<const float*>(x), static_cast<const float*>(grad),
           static_cast<float*>(grad_x), p, layout, begin, end, acc_s, acc_z);
}
RAZOR_VECTOR_VERSIONS(lsq_f32,
                      (const void* x, const void* grad, void* grad_x, const LsqParams& p,
                       const ChannelLayout& layout, int64_t begin, int64_t end, double* acc_s,
                       double* acc_z),
                      (x, grad, grad_x, p, layout, begin, end, acc_s, acc_z))

RAZOR_INLINE void lsq_f64_body(const void* x, const void* grad, void* grad_x, const LsqParams& p,
                               const ChannelLayout& layout, int64_t begin, int64_t end,
                               double* acc_s, double* acc_z) {
  lsq_body(static_cast<const double*>(x), static_cast<const double*>(grad),
           static_cast<double*>(grad_x), p, layout, begin, end, acc_s, acc_z);
}
RAZOR_VECTOR_VERSIONS(lsq_f64,
                      (const void* x, const void* grad, void* grad_x, const LsqParams& p,
                       const ChannelLayout& layout, int64_t begin, int64_t end, double* acc_s,
                       double* acc_z),
                      (x, grad, grad_x, p, layout, begin, end, acc_s, acc_z))

// ---- observer min / max ----------------------------------------------------------------------

template <typename T>
RAZOR_INLINE void min_max_body(const T* x, const ChannelLayout& layout, int64_t begin, int64_t end,
                               double* mins, double* maxs, uint8_t* nonfinite) {
  walk(
      layout, begin, end,
      [&](int64_t c, int64_t e0, int64_t e1) RAZOR_LAMBDA_INLINE {
        T lo[kLanes], hi[kLanes], bad[kLanes];
        for (int64_t l = 0; l < kLanes; ++l) {
          lo[l] = static_cast<T>(mins[c]);
          hi[l] = static_cast<T>(maxs[c]);
          bad[l] = 0;
        }
        int64_t e = e0;
        for (; e + kLanes <= e1; e += kLanes) {
          for (int64_t l = 0; l < kLanes; ++l) {
            const T v = x[e + l];
            lo[l] = v < lo[l] ? v : lo[l];
            hi[l] = v > hi[l] ? v : hi[l];
            bad[l] += v - v;  // NaN for NaN and +-Inf, else 0
          }
        }
        for (; e < e1; ++e) {
          const T v = x[e];
          lo[0] = v < lo[0] ? v : lo[0];
          hi[0] = v > hi[0] ? v : hi[0];
          bad[0] += v - v;
        }
        T b = 0;
        for (int64_t l = 0; l < kLanes; ++l) {
          mins[c] = lo[l] < mins[c] ? lo[l] : mins[c];
          maxs[c] = hi[l] > maxs[c] ? hi[l] : maxs[c];
          b += bad[l];
        }
        if (b != b) nonfinite[c] = 1;
      },
      [&](int64_t c0, int64_t e0, int64_t e1) RAZOR_LAMBDA_INLINE {
        const int64_t shift = c0 - e0;
        for (int64_t e = e0; e < e1; ++e) {
          const int64_t c = e + shift;
          const double v = x[e];
          mins[c] = v < mins[c] ? v : mins[c];
          maxs[c] = v > maxs[c] ? v : maxs[c];
          nonfinite[c] = (v - v == 0.0) ? nonfinite[c] : uint8_t{1};
        }
      });
}

RAZOR_INLINE void min_max_f32_body(const void* x, const ChannelLayout& layout, int64_t begin,
                                   int64_t end, double* mins, double* maxs, uint8_t* nonfinite) {
  min_max_body(static_cast<const float*>(x), layout, begin, end, mins, maxs, nonfinite);
}
RAZOR_VECTOR_VERSIONS(min_max_f32,
                      (const void* x, const ChannelLayout& layout, int64_t begin, int64_t end,
                       double* mins, double* maxs, uint8_t* nonfinite),
                      (x, layout, begin, end, mins, maxs, nonfinite))

RAZOR_INLINE void min_max_f64_body(const void* x, const ChannelLayout& layout, int64_t begin,
                                   int64_t end, double* mins, double* maxs, uint8_t* nonfinite) {
  min_max_body(static_cast<const double*>(x), layout, begin, end, mins, maxs, nonfinite);
}
RAZOR_VECTOR_VERSIONS(min_max_f64,
                      (const void* x, const ChannelLayout& layout, int64_t begin, int64_t end,
                       double* mins, double* maxs, uint8_t* nonfinite),
                      (x, layout, begin, end, mins, maxs, nonfinite))

// ---- float32 fake_quantize with AVX-512 intrinsics -------------------------------------------
// The auto-vectorized clones keep the in-range test in 256-bit blends and pack it to bytes with
// several shuffles; on an AVX-512 host whose cache holds the tensors, that made the mask-writing
// forward ~30% slower than one without the mask. Here the tests are mask registers and the
// mask bytes one down-convert. Same arithmetic, in the same order, as fake_quant_value (no FMA:
// this file is built with -ffp-contract=off).
#if RAZOR_HAS_AVX512_FAKE_QUANT

// Elements [0, n) of one run; kPerLane: a channel per element (scale[e]...), else one channel.
template <bool kMask, bool kToMin, bool kPerLane>
__attribute__((target("avx512f"))) void forward_run_avx512(
    const float* __restrict__ x, float* __restrict__ out, uint8_t* __restrict__ mask,
    const float* scale, const float* inv, const float* zp, float qmin, float qmax, int64_t n) {
  const __m512 lo = _mm512_set1_ps(qmin), hi = _mm512_set1_ps(qmax);
  const __m512 limit = _mm512_set1_ps(kInt64Limit<float>);
  const __m512i one = _mm512_set1_epi32(1);
  const __m512 s1 = _mm512_set1_ps(*scale), v1 = _mm512_set1_ps(*inv), z1 = _mm512_set1_ps(*zp);
  for (int64_t e = 0; e < n; e += 16) {
    const __mmask16 tail = n - e >= 16 ? static_cast<__mmask16>(0xFFFF)
                                       : static_cast<__mmask16>((1u << (n - e)) - 1u);
    const __m512 s = kPerLane ? _mm512_maskz_loadu_ps(tail, scale + e) : s1;
    const __m512 v = kPerLane ? _mm512_maskz_loadu_ps(tail, inv + e) : v1;
    const __m512 z = kPerLane ? _mm512_maskz_loadu_ps(tail, zp + e) : z1;
    const __m512 xv = _mm512_maskz_loadu_ps(tail, x + e);
    // The zero-masking form: GCC 12's plain one warns (-Wmaybe-uninitialized).
    const __m512 q = _mm512_add_ps(
        _mm512_maskz_roundscale_ps(static_cast<__mmask16>(0xFFFF), _mm512_mul_ps(xv, v),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC),
        z);
    const __mmask16 ge = _mm512_cmp_ps_mask(q, lo, _CMP_GE_OQ);
    const __mmask16 keep =
        kToMin ? static_cast<__mmask16>(ge & _mm512_cmp_ps_mask(q, limit, _CMP_LT_OQ)) : ge;
    __m512 c = _mm512_mask_blend_ps(keep, lo, q);
    c = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(c, hi, _CMP_LE_OQ), hi, c);
    _mm512_mask_storeu_ps(out + e, tail, _mm512_mul_ps(_mm512_sub_ps(c, z), s));
    if (kMask) {
      const __mmask16 inside = static_cast<__mmask16>(ge & _mm512_cmp_ps_mask(q, hi, _CMP_LE_OQ));
      const __m512i bytes = _mm512_maskz_mov_epi32(inside, one);
      if (n - e >= 16) {  // the masked down-converting store is several times slower
        _mm_storeu_si128(reinterpret_cast<__m128i*>(mask + e),
                         _mm512_maskz_cvtepi32_epi8(static_cast<__mmask16>(0xFFFF), bytes));
      } else {
        _mm512_mask_cvtepi32_storeu_epi8(mask + e, tail, bytes);
      }
    }
  }
}

template <bool kMask, bool kToMin>
void forward_f32_avx512(const float* x, float* out, uint8_t* mask, const FakeQuantParams& p,
                        const ChannelLayout& layout, int64_t begin, int64_t end) {
  const float* scale = static_cast<const float*>(p.scale);
  const float* inv = static_cast<const float*>(p.inv_scale);
  const float* zp = static_cast<const float*>(p.zero_point);
  const float qmin = static_cast<float>(p.quant_min), qmax = static_cast<float>(p.quant_max);
  walk(
      layout, begin, end,
      [&](int64_t c, int64_t e0, int64_t e1) {
        forward_run_avx512<kMask, kToMin, false>(x + e0, out + e0, kMask ? mask + e0 : nullptr,
                                                 scale + c, inv + c, zp + c, qmin, qmax, e1 - e0);
      },
      [&](int64_t c0, int64_t e0, int64_t e1) {
        forward_run_avx512<kMask, kToMin, true>(x + e0, out + e0, kMask ? mask + e0 : nullptr,
                                                scale + c0, inv + c0, zp + c0, qmin, qmax,
                                                e1 - e0);
      });
}

// 16 mask bytes (0 or 1) as floats. The zero-masking forms: GCC 12's plain conversions warn
// (-Wmaybe-uninitialized).
__attribute__((target("avx512f"))) inline __m512 mask_flags(__m128i bytes) {
  const __mmask16 all = static_cast<__mmask16>(0xFFFF);
  return _mm512_maskz_cvtepi32_ps(all, _mm512_maskz_cvtepu8_epi32(all, bytes));
}

__attribute__((target("avx512f"))) void masked_grad_f32_avx512(
    const float* __restrict__ grad, const uint8_t* __restrict__ mask, float* __restrict__ out,
    int64_t begin, int64_t end) {
  int64_t e = begin;
  for (; e + 16 <= end; e += 16) {
    const __m512 flags = mask_flags(_mm_loadu_si128(reinterpret_cast<const __m128i*>(mask + e)));
    _mm512_storeu_ps(out + e, _mm512_mul_ps(_mm512_loadu_ps(grad + e), flags));
  }
  if (e < end) {  // byte loads under a mask need AVX512BW: copy the short tail instead
    alignas(16) uint8_t last[16] = {};
    std::memcpy(last, mask + e, static_cast<size_t>(end - e));
    const __mmask16 tail = static_cast<__mmask16>((1u << (end - e)) - 1u);
    const __m512 flags = mask_flags(_mm_load_si128(reinterpret_cast<const __m128i*>(last)));
    _mm512_mask_storeu_ps(out + e, tail, _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, grad + e), flags));
  }
}

// The hand-written AVX-512 loops run only on the avx512 path (RAZOR_EXT_ISA=avx2 or scalar runs
// the compiled versions instead; the tests check every path on AVX-512 hosts).
bool use_avx512() { return active_isa() == Isa::kAvx512; }

#endif  // RAZOR_HAS_AVX512_FAKE_QUANT

}  // namespace

void fake_quantize_forward(const void* x, void* out, uint8_t* mask, DType dtype,
                           const FakeQuantParams& params, const ChannelLayout& layout,
                           int64_t begin, int64_t end) {
  if (begin >= end) return;
  if (dtype == DType::kFloat64) return forward_f64(x, out, mask, params, layout, begin, end);
#if RAZOR_HAS_AVX512_FAKE_QUANT
  if (use_avx512()) {
    const float* xs = static_cast<const float*>(x);
    float* os = static_cast<float*>(out);
    const bool to_min = params.overflow == QuantOverflow::kToQuantMin;
    if (mask != nullptr && to_min) return forward_f32_avx512<true, true>(xs, os, mask, params, layout, begin, end);
    if (mask != nullptr) return forward_f32_avx512<true, false>(xs, os, mask, params, layout, begin, end);
    if (to_min) return forward_f32_avx512<false, true>(xs, os, mask, params, layout, begin, end);
    return forward_f32_avx512<false, false>(xs, os, mask, params, layout, begin, end);
  }
#endif
  forward_f32(x, out, mask, params, layout, begin, end);
}

void fake_quantize_backward(const void* grad, const uint8_t* mask, void* grad_x, DType dtype,
                            int64_t begin, int64_t end) {
  if (begin >= end) return;
  if (dtype == DType::kFloat64) return masked_grad_f64(grad, mask, grad_x, begin, end);
#if RAZOR_HAS_AVX512_FAKE_QUANT
  if (use_avx512()) {
    return masked_grad_f32_avx512(static_cast<const float*>(grad), mask,
                                  static_cast<float*>(grad_x), begin, end);
  }
#endif
  masked_grad_f32(grad, mask, grad_x, begin, end);
}

void lsq_backward(const void* x, const void* grad, void* grad_x, DType dtype,
                  const LsqParams& params, const ChannelLayout& layout, int64_t begin,
                  int64_t end, double* grad_scale_acc, double* grad_zero_point_acc) {
  if (begin >= end) return;
  if (dtype == DType::kFloat64) {
    return lsq_f64(x, grad, grad_x, params, layout, begin, end, grad_scale_acc,
                   grad_zero_point_acc);
  }
  lsq_f32(x, grad, grad_x, params, layout, begin, end, grad_scale_acc, grad_zero_point_acc);
}

void channel_min_max(const void* x, DType dtype, const ChannelLayout& layout, int64_t begin,
                     int64_t end, double* mins, double* maxs, uint8_t* nonfinite) {
  if (begin >= end) return;
  if (dtype == DType::kFloat64) return min_max_f64(x, layout, begin, end, mins, maxs, nonfinite);
  min_max_f32(x, layout, begin, end, mins, maxs, nonfinite);
}

}  // namespace cpu
}  // namespace razor
