// exp() that GCC vectorizes without -ffast-math, for the softmax-type kernels (DESIGN.md section 4).
//
// glibc's expf is a library call per element unless __FAST_MATH__ is defined, and -ffast-math
// assumes there are no NaN or Inf, which logits do hold (-inf masks). These are branch-free
// Cody-Waite range reductions with a polynomial, written only with +, *, compares, selects and
// bit casts so that each RAZOR_VECTOR_VERSIONS version turns a loop of them into SIMD code:
//   exp(x) = 2^n * exp(r),  n = round(x / ln 2),  r = x - n ln 2 in [-ln2/2, ln2/2].
// Edge cases follow std::exp: NaN -> NaN, +inf and overflow -> +inf, -inf and underflow -> +0, and
// results in the subnormal range are produced (2^n is applied as two normal factors, so one
// rounding happens at the end). Accuracy: within 2 ulp of std::exp on normal results (checked by
// tests/csrc/test_kd_kernels.cpp over the whole float range).
#pragma once

#include <cstdint>
#include <cstring>

#include "razor/simd_dispatch.h"

// Versions for the exp-heavy loops: like RAZOR_VECTOR_VERSIONS, but the AVX2 version also gets FMA
// (and the AVX-512 one VL/BW/DQ), i.e. the x86-64-v3 / v4 levels: a polynomial exp is a chain of
// multiply-adds, and GCC's plain "avx2" target does not include FMA.
#define RAZOR_EXP_VERSIONS(name, params, args) \
  RAZOR_ISA_VERSIONS("arch=x86-64-v4", "arch=x86-64-v3", name, params, args)

namespace razor {

RAZOR_INLINE uint32_t float_bits(float v) {
  uint32_t b;
  std::memcpy(&b, &v, sizeof(b));
  return b;
}

RAZOR_INLINE float bits_float(uint32_t b) {
  float v;
  std::memcpy(&v, &b, sizeof(v));
  return v;
}

RAZOR_INLINE uint64_t double_bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof(b));
  return b;
}

RAZOR_INLINE double bits_double(uint64_t b) {
  double v;
  std::memcpy(&v, &b, sizeof(v));
  return v;
}

RAZOR_INLINE float vector_exp(float x) {
  // Past these bounds the result is +inf or 0 whatever the exact input; clamping keeps n small
  // enough for the two exponent factors below. Ternaries (not fminf/fmaxf) keep NaN as NaN and
  // vectorize.
  x = x > 89.0f ? 89.0f : x;
  x = x < -104.0f ? -104.0f : x;
  // Round to nearest by the 1.5 * 2^23 trick: the integer lands in the low mantissa bits.
  constexpr float kMagic = 12582912.0f;
  const float shifted = x * 1.44269504088896341f + kMagic;
  const float n = shifted - kMagic;
  const int32_t ni = static_cast<int32_t>(float_bits(shifted) - float_bits(kMagic));
  // ln 2 split so that n * kLn2Hi is exact for |n| < 2^9.
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  // Minimax polynomial for (exp(r) - 1 - r) / r^2 on [-ln2/2, ln2/2] (Cephes expf).
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float er = (p * (r * r) + r) + 1.0f;
  // 2^n as 2^h * 2^(n-h), h = n/2 (arithmetic shift): both factors normal for n in [-150, 129].
  const int32_t h = ni >> 1;
  const float scale_a = bits_float(static_cast<uint32_t>(h + 127) << 23);
  const float scale_b = bits_float(static_cast<uint32_t>(ni - h + 127) << 23);
  return er * scale_a * scale_b;
}

RAZOR_INLINE double vector_exp(double x) {
  x = x > 710.0 ? 710.0 : x;
  x = x < -746.0 ? -746.0 : x;
  constexpr double kMagic = 6755399441055744.0;  // 1.5 * 2^52
  const double shifted = x * 1.4426950408889634074 + kMagic;
  const double n = shifted - kMagic;
  const int64_t ni = static_cast<int64_t>(double_bits(shifted) - double_bits(kMagic));
  const double r = (x - n * 6.93147180369123816490e-01) - n * 1.90821492927058770002e-10;
  // Taylor series to r^13: truncation error below 2^-60 relative on [-ln2/2, ln2/2].
  double p = 1.0 / 6227020800.0;
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  const double er = (p * (r * r) + r) + 1.0;
  const int64_t h = ni >> 1;
  const double scale_a = bits_double(static_cast<uint64_t>(h + 1023) << 52);
  const double scale_b = bits_double(static_cast<uint64_t>(ni - h + 1023) << 52);
  return er * scale_a * scale_b;
}

}  // namespace razor
