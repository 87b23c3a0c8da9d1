// Schema and CPU impl of weight_only_linear (razor/weight_only.h): a linear layer whose weight is
// held as packed int4 / int8 codes with group-wise scales and integer zero points. Activations of
// any float dtype are converted to float32 for the kernel (M x K, small next to the weight) and the
// result back to the activations' dtype.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

#include "razor/weight_only.h"
#include "weight_only_args.h"

namespace razor_ext {
namespace {

// Output columns per parallel_for grain: a 4096-wide int4 row is 2 KiB of weights.
constexpr int64_t kGrainBytes = 32 * 1024;
// bf16 parts of float32 activations on the AVX512_BF16 path: 2 keep 16 significant bits.
constexpr int kFloatParts = 2;

at::Tensor weight_only_linear_cpu(const at::Tensor& x, const at::Tensor& packed_weight,
                                  const at::Tensor& scales, const at::Tensor& zeros,
                                  int64_t group_size, int64_t bits) {
  check_weight_only_args(x, packed_weight, scales, zeros, group_size, bits);
  const int64_t k = x.size(-1);
  const int64_t n = packed_weight.size(0);
  const at::Tensor xf = x.reshape({-1, k}).to(at::kFloat).contiguous();
  const int64_t m = xf.size(0);
  std::vector<int64_t> out_shape(x.sizes().begin(), x.sizes().end());
  out_shape.back() = n;
  at::Tensor y = at::empty({m, n}, xf.options());
  if (m > 0 && n > 0) {
    if (k == 0) {
      y.zero_();
    } else {
      const at::Tensor w = packed_weight.contiguous();
      const at::Tensor s = scales.contiguous();
      const at::Tensor z = zeros.contiguous();
      at::Tensor split, x_bf16, group_sums;
      razor::WeightOnlyCall call{xf.const_data_ptr<float>(), w.const_data_ptr<uint8_t>(),
                                 s.const_data_ptr<float>(), z.const_data_ptr<uint8_t>(),
                                 y.mutable_data_ptr<float>(), m, n, k, group_size,
                                 static_cast<int>(bits)};
      if (razor::cpu::weight_only_wants_bf16(group_size, static_cast<int>(bits))) {
        // bfloat16 activations are one bf16 part exactly; float16 ones two; float32 ones keep
        // kFloatParts parts (razor/weight_only.h).
        const int parts = x.scalar_type() == at::kBFloat16 ? 1
                          : x.scalar_type() == at::kHalf   ? 2
                                                           : kFloatParts;
        const int64_t groups = (k + group_size - 1) / group_size;
        const int64_t stride = razor::cpu::weight_only_bf16_stride(k);
        x_bf16 = at::empty({parts, m, stride}, xf.options().dtype(at::kBFloat16));
        group_sums = at::empty({m, groups}, xf.options());
        uint16_t* bits16 = reinterpret_cast<uint16_t*>(x_bf16.mutable_data_ptr<at::BFloat16>());
        razor::cpu::weight_only_prepare_bf16(xf.const_data_ptr<float>(), m, k, group_size, parts,
                                             bits16, group_sums.mutable_data_ptr<float>());
        call.x_bf16 = bits16;
        call.x_parts = parts;
        call.x_stride = stride;
        call.x_group_sums = group_sums.const_data_ptr<float>();
      } else if (razor::cpu::weight_only_wants_split(group_size, static_cast<int>(bits))) {
        split = at::empty_like(xf);
        razor::cpu::weight_only_split_x(xf.const_data_ptr<float>(), m, k,
                                        split.mutable_data_ptr<float>());
        call.x_split = split.const_data_ptr<float>();
      }
      const int64_t row_bytes = std::max<int64_t>(1, w.size(1) * std::min<int64_t>(m, 8));
      const int64_t grain = std::max<int64_t>(1, kGrainBytes / row_bytes);
      at::parallel_for(0, n, grain, [&](int64_t begin, int64_t end) {
        razor::cpu::weight_only_linear_rows(call, begin, end);
      });
    }
  }
  return y.to(x.scalar_type()).reshape(out_shape);
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(razor_ext, m) {
  m.def(
      "weight_only_linear(Tensor x, Tensor packed_weight, Tensor scales, Tensor zeros, "
      "int group_size, int bits) -> Tensor");
}

TORCH_LIBRARY_IMPL(razor_ext, CPU, m) { m.impl("weight_only_linear", &weight_only_linear_cpu); }

}  // namespace razor_ext
