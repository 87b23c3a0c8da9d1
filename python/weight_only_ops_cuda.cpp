// CUDA impl of weight_only_linear (schema and CPU impl: weight_only_ops.cpp; checks:
// weight_only_args.h). The kernel reads float32 / bfloat16 / float16 activations directly and
// writes the output in the same dtype (razor/weight_only_cuda.h). Built only where torch has CUDA.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <vector>

#include "razor/weight_only_cuda.h"
#include "weight_only_args.h"

namespace razor_ext {
namespace {

at::Tensor weight_only_linear_cuda(const at::Tensor& x, const at::Tensor& packed_weight,
                                   const at::Tensor& scales, const at::Tensor& zeros,
                                   int64_t group_size, int64_t bits) {
  check_weight_only_args(x, packed_weight, scales, zeros, group_size, bits);
  const c10::cuda::CUDAGuard guard(x.device());
  const int64_t k = x.size(-1);
  const int64_t n = packed_weight.size(0);
  const at::Tensor xc = x.reshape({-1, k}).contiguous();
  const int64_t m = xc.size(0);
  std::vector<int64_t> out_shape(x.sizes().begin(), x.sizes().end());
  out_shape.back() = n;
  at::Tensor y = k == 0 ? at::zeros({m, n}, xc.options()) : at::empty({m, n}, xc.options());
  const at::Tensor w = packed_weight.contiguous();
  const at::Tensor s = scales.contiguous();
  const at::Tensor z = zeros.contiguous();
  const razor::DType dtype = x.scalar_type() == at::kBFloat16 ? razor::DType::kBFloat16
                             : x.scalar_type() == at::kHalf   ? razor::DType::kFloat16
                                                              : razor::DType::kFloat32;
  razor::cuda::WeightOnlyCudaCall call{xc.const_data_ptr(), w.const_data_ptr<uint8_t>(),
                                       s.const_data_ptr<float>(), z.const_data_ptr<uint8_t>(),
                                       y.mutable_data_ptr(), dtype, m, n, k, group_size,
                                       static_cast<int>(bits)};
  const cudaError_t status =
      razor::cuda::launch_weight_only_linear(call, c10::cuda::getCurrentCUDAStream().stream());
  TORCH_CHECK(status == cudaSuccess, "weight_only_linear: CUDA kernel launch failed: ",
              cudaGetErrorString(status));
  return y.reshape(out_shape);
}

}  // namespace

TORCH_LIBRARY_IMPL(razor_ext, CUDA, m) { m.impl("weight_only_linear", &weight_only_linear_cuda); }

}  // namespace razor_ext
