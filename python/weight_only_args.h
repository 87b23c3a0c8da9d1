// Argument checks of weight_only_linear shared by the CPU and CUDA impls, so both devices reject
// bad input with the same messages.
#pragma once

#include <ATen/ATen.h>

namespace razor_ext {

inline void check_weight_only_args(const at::Tensor& x, const at::Tensor& packed,
                                   const at::Tensor& scales, const at::Tensor& zeros,
                                   int64_t group_size, int64_t bits) {
  constexpr const char* op = "weight_only_linear";
  TORCH_CHECK_VALUE(bits == 4 || bits == 8, op, ": bits must be 4 or 8, got ", bits);
  TORCH_CHECK_VALUE(group_size > 0, op, ": group_size must be positive, got ", group_size);
  TORCH_CHECK_TYPE(x.scalar_type() == at::kFloat || x.scalar_type() == at::kBFloat16 ||
                       x.scalar_type() == at::kHalf,
                   op, ": x must be float32, bfloat16 or float16, got ", x.scalar_type());
  TORCH_CHECK_VALUE(x.dim() >= 1, op, ": x must have at least one dim");
  TORCH_CHECK_TYPE(packed.scalar_type() == at::kByte, op, ": packed_weight must be uint8, got ",
                   packed.scalar_type());
  TORCH_CHECK_VALUE(packed.dim() == 2, op, ": packed_weight must be 2-D [N, packed K], got ",
                    packed.sizes());
  const int64_t k = x.size(-1);
  const int64_t n = packed.size(0);
  const int64_t row_bytes = bits == 4 ? (k + 1) / 2 : k;
  TORCH_CHECK_VALUE(packed.size(1) == row_bytes, op, ": packed_weight must be [N, ", row_bytes,
                    "] for K=", k, " at ", bits, " bits, got ", packed.sizes());
  const int64_t groups = (k + group_size - 1) / group_size;
  TORCH_CHECK_TYPE(scales.scalar_type() == at::kFloat, op, ": scales must be float32, got ",
                   scales.scalar_type());
  TORCH_CHECK_VALUE(scales.dim() == 2 && scales.size(0) == n && scales.size(1) == groups, op,
                    ": scales must be [N, ceil(K / group_size)] = [", n, ", ", groups, "], got ",
                    scales.sizes());
  TORCH_CHECK_TYPE(zeros.scalar_type() == at::kByte, op, ": zeros must be uint8, got ",
                   zeros.scalar_type());
  TORCH_CHECK_VALUE(zeros.sizes() == scales.sizes(), op, ": zeros must have the shape of scales ",
                    scales.sizes(), ", got ", zeros.sizes());
  for (const at::Tensor* t : {&packed, &scales, &zeros}) {
    TORCH_CHECK_VALUE(t->device() == x.device(), op,
                      ": x, packed_weight, scales and zeros must be on one device");
  }
}

}  // namespace razor_ext
