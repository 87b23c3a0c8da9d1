// Argument checks and parameter conversion shared by the CPU and CUDA impls of the fake-quant
// family, so both devices reject bad input with the same messages and convert qparams the way
// torch's own fake-quant ops do (see razor/fake_quant.h).
#pragma once

#include <ATen/ATen.h>

#include <cmath>
#include <optional>
#include <vector>

#include "razor/channel_layout.h"
#include "razor/fake_quant.h"

namespace razor_ext {

// |quant_min|, |quant_max| up to 2^24 keep every integer of the grid exact in float.
constexpr int64_t kQuantLimit = int64_t{1} << 24;

inline void check_quant_range(const char* op, int64_t quant_min, int64_t quant_max) {
  TORCH_CHECK_VALUE(quant_min < quant_max, op, ": quant_min must be less than quant_max, got quant_min=",
                    quant_min, " and quant_max=", quant_max);
  TORCH_CHECK_VALUE(quant_min >= -kQuantLimit && quant_max <= kQuantLimit, op,
                    ": quant_min and quant_max must lie in [-2^24, 2^24] (exact in float32), got [",
                    quant_min, ", ", quant_max, "]");
}

// Returns axis in [0, x.dim()), or nullopt for per-tensor.
inline std::optional<int64_t> check_axis(const char* op, const at::Tensor& x,
                                         std::optional<int64_t> axis) {
  if (!axis.has_value()) return std::nullopt;
  const int64_t dim = x.dim();
  TORCH_CHECK_INDEX(*axis >= -dim && *axis < dim && dim > 0, op, ": axis=", *axis,
                    " is out of range for x of shape ", x.sizes(), ": expected -", dim,
                    " <= axis < ", dim);
  return *axis < 0 ? *axis + dim : *axis;
}

// x: a dense floating tensor. `allowed_reduced` admits bfloat16/float16 (CUDA only).
inline razor::DType check_x(const char* op, const at::Tensor& x, bool allowed_reduced) {
  TORCH_CHECK_TYPE(x.layout() == at::kStrided, op, ": x must be a dense (strided) tensor, got layout ",
                   x.layout());
  switch (x.scalar_type()) {
    case at::kFloat: return razor::DType::kFloat32;
    case at::kDouble: return razor::DType::kFloat64;
    case at::kBFloat16:
      if (allowed_reduced) return razor::DType::kBFloat16;
      break;
    case at::kHalf:
      if (allowed_reduced) return razor::DType::kFloat16;
      break;
    default: break;
  }
  TORCH_CHECK_TYPE(false, op, ": x must be a floating tensor (float32 or float64",
                   allowed_reduced ? ", bfloat16 or float16" : "", " on ", x.device(), "), got ",
                   x.scalar_type());
  return razor::DType::kFloat32;
}

// scale / zero_point: one element per tensor, or a 1-D tensor of x.size(axis) per channel.
inline void check_qparam_shape(const char* op, const char* name, const at::Tensor& t,
                               const at::Tensor& x, std::optional<int64_t> axis) {
  TORCH_CHECK_TYPE(t.layout() == at::kStrided, op, ": ", name, " must be a dense tensor");
  if (!axis.has_value()) {
    TORCH_CHECK_VALUE(t.numel() == 1, op, ": ", name,
                      " must hold one element for per-tensor quantization (axis=None), got shape ",
                      t.sizes());
    return;
  }
  TORCH_CHECK_VALUE(t.dim() == 1 && t.size(0) == x.size(*axis), op, ": ", name,
                    " must be 1-D with x.shape[axis] = ", x.size(*axis), " entries (axis=", *axis,
                    ", x of shape ", x.sizes(), "), got shape ", t.sizes());
}

inline void check_qparam_dtypes(const char* op, const at::Tensor& scale,
                                const at::Tensor& zero_point) {
  TORCH_CHECK_TYPE(at::isFloatingType(scale.scalar_type()), op,
                   ": scale must be a floating tensor, got ", scale.scalar_type());
  TORCH_CHECK_TYPE(at::isFloatingType(zero_point.scalar_type()) ||
                       at::isIntegralType(zero_point.scalar_type(), /*includeBool=*/false),
                   op, ": zero_point must be an integer or floating tensor, got ",
                   zero_point.scalar_type());
}

// x in memory order, and its [outer, channels, inner] view along axis (razor/fake_quant.h). A
// dense tensor in any dim order (channels-last included) is used as it is; others are copied.
struct QuantInput {
  at::Tensor x;
  razor::ChannelLayout layout;
};

inline razor::ChannelLayout memory_layout(const at::Tensor& dense, std::optional<int64_t> axis) {
  const int64_t n = dense.numel();
  if (!axis.has_value() || dense.size(*axis) <= 1 || n == 0) {
    return razor::ChannelLayout{1, 1, n};
  }
  const int64_t channels = dense.size(*axis);
  const int64_t inner = dense.stride(*axis);
  return razor::ChannelLayout{n / (channels * inner), channels, inner};
}

inline QuantInput quant_input(const at::Tensor& x, std::optional<int64_t> axis) {
  at::Tensor dense = x.is_non_overlapping_and_dense() ? x : x.contiguous();
  razor::ChannelLayout layout = memory_layout(dense, axis);
  return {std::move(dense), layout};
}

// `t` laid out exactly like `like` (same sizes and strides): as it is when it already is.
inline at::Tensor match_strides(const at::Tensor& t, const at::Tensor& like) {
  if (t.strides() == like.strides() && t.sizes() == like.sizes()) return t;
  return at::empty_like(like, t.options()).copy_(t);
}

// Per-channel parameters of the kernel, as host vectors of the compute type (float or double).
template <typename T>
struct HostQParams {
  std::vector<T> scale, inv_scale, zero_point;
};

// Scale values a kernel can use: positive and finite (CPU impls read them; see the docs for CUDA).
inline void check_scale_values(const char* op, const float* s, int64_t n) {
  for (int64_t c = 0; c < n; ++c) {
    TORCH_CHECK_VALUE(std::isfinite(s[c]) && s[c] > 0.0f, op,
                      ": scale must be positive and finite, got scale[", c, "] = ", s[c]);
  }
}

inline void check_scale_values(const char* op, const double* s, int64_t n) {
  for (int64_t c = 0; c < n; ++c) {
    TORCH_CHECK_VALUE(std::isfinite(s[c]) && s[c] > 0.0, op,
                      ": scale must be positive and finite, got scale[", c, "] = ", s[c]);
  }
}

}  // namespace razor_ext
