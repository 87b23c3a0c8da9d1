// Fake-quant kernels: affine fake quantization with a 1-byte straight-through mask, the LSQ
// backward with in-kernel scale / zero-point reductions, and the per-channel min/max of an
// observer. Every kernel works on a [begin, end) range of ELEMENTS of a dense tensor seen in
// memory order as [outer, channels, inner] (razor/channel_layout.h): a channels-last activation
// quantized along dim 1 is [N*H*W, C, 1], an NCHW one [N, C, H*W]; per-tensor is channels == 1.
//
// Arithmetic follows torch's CPU kernels to the bit (aten/src/ATen/native/quantized/cpu/kernels/
// QuantizedOpKernels.cpp), so every parameter comes in already converted the way torch converts
// it (scale as float, inv_scale = 1.0f / scale, zero point an integral value of the dtype):
//   q   = nearbyint(x * inv_scale) + zero_point        (round half to even)
//   out = (clamp(q, quant_min, quant_max) - zero_point) * scale
//   mask = quant_min <= q <= quant_max                  (straight-through gradient)
#pragma once

#include <cstdint>

#include "razor/channel_layout.h"

namespace razor {

// What happens to a q that is NaN or beyond int64. torch's per-tensor kernel clamps q as a float
// (NaN -> quant_min, +Inf -> quant_max); its per-channel kernel first casts q to int64, which on
// x86-64 turns NaN, +-Inf and |q| >= 2^63 into INT64_MIN, so all of them land on quant_min.
enum class QuantOverflow : int32_t { kClampAsFloat = 0, kToQuantMin = 1 };

// Per-channel parameters, `channels` entries each, of the element type of x (float for float32
// and reduced types, double for float64). Per-tensor: one entry.
struct FakeQuantParams {
  const void* scale;
  const void* inv_scale;
  const void* zero_point;  // integral values
  int64_t quant_min;       // |quant_min|, |quant_max| <= 2^24: exact in float
  int64_t quant_max;
  QuantOverflow overflow;
  // float64 x only: torch's per-tensor kernel multiplies (q - zero_point) by a float scale in
  // float, so its float64 results carry float rounding; its per-channel kernel works in double.
  bool float_product;
};

// The LSQ backward's parameters. zero_point is the one torch's backward uses (which for
// per-tensor differs from the forward's: trunc(zp + 0.5) instead of round half to even).
struct LsqParams {
  const void* scale;
  const void* inv_scale;
  const void* zero_point;  // integral values
  int64_t quant_min;
  int64_t quant_max;
  double grad_factor;  // used as a value of x's type
};

namespace cpu {

// out[e] = fake_quant(x[e]) and, if mask is not null, mask[e] = 1 inside the clamp range, else 0,
// for e in [begin, end). dtype: kFloat32 or kFloat64.
void fake_quantize_forward(const void* x, void* out, uint8_t* mask, DType dtype,
                           const FakeQuantParams& params, const ChannelLayout& layout,
                           int64_t begin, int64_t end);

// grad_x[e] = grad[e] * (mask[e] ? 1 : 0) (a multiplication, as torch does: NaN * 0 stays NaN).
void fake_quantize_backward(const void* grad, const uint8_t* mask, void* grad_x, DType dtype,
                            int64_t begin, int64_t end);

// LSQ backward for e in [begin, end): grad_x[e], and per channel c
//   grad_scale_acc[c] += sum of d out / d scale * grad,  grad_zero_point_acc[c] likewise,
// both in double (layout.channels entries each, the caller's private partial sums).
void lsq_backward(const void* x, const void* grad, void* grad_x, DType dtype,
                  const LsqParams& params, const ChannelLayout& layout, int64_t begin,
                  int64_t end, double* grad_scale_acc, double* grad_zero_point_acc);

// Per-channel running extremes over [begin, end): mins[c] = min(mins[c], x), likewise maxs,
// ignoring NaN; nonfinite[c] is set to 1 where channel c holds a NaN or an Inf.
void channel_min_max(const void* x, DType dtype, const ChannelLayout& layout, int64_t begin,
                     int64_t end, double* mins, double* maxs, uint8_t* nonfinite);

}  // namespace cpu
}  // namespace razor
