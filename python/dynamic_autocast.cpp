// torch.autocast (mixed precision) for dynamic_conv2d / dynamic_linear: like ATen's conv2d and
// linear, they run in the autocast dtype (bfloat16 on CPU, float16 on CUDA by default). Without
// these kernels a supernet under autocast fails at its first dynamic layer, whose input arrives
// in the lower precision while its weight is float32. The casts are ordinary autograd ops, so the
// float32 weight still gets a float32 gradient; autocast's cache casts a leaf weight once per
// autocast region.
#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/library.h>

#include <optional>

#include "dynamic_op_handles.h"

namespace razor_ext {
namespace {

using dynamic_ops::OptTensor;

// Calls `op` below this device's autocast key with input, weight and bias in the autocast dtype.
template <c10::DeviceType kDevice, typename Sig, typename... Options>
at::Tensor call_in_autocast_dtype(const c10::TypedOperatorHandle<Sig>& op, const at::Tensor& input,
                                  const at::Tensor& weight, const OptTensor& bias,
                                  Options... options) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(
      at::autocast::get_autocast_dispatch_key_from_device_type(kDevice));
  const auto dtype = at::autocast::get_lower_precision_fp_from_device_type(kDevice);
  return op.call(at::autocast::cached_cast(dtype, input, kDevice),
                 at::autocast::cached_cast(dtype, weight, kDevice),
                 at::autocast::cached_cast(dtype, bias, kDevice), options...);
}

template <c10::DeviceType kDevice>
at::Tensor dynamic_conv2d_autocast(const at::Tensor& input, const at::Tensor& weight,
                                   const OptTensor& bias, std::optional<int64_t> out_channels,
                                   at::IntArrayRef stride, at::IntArrayRef padding,
                                   at::IntArrayRef dilation, int64_t groups,
                                   std::optional<int64_t> kernel_size,
                                   c10::string_view algorithm) {
  return call_in_autocast_dtype<kDevice>(dynamic_ops::conv2d(), input, weight, bias, out_channels,
                                         stride, padding, dilation, groups, kernel_size,
                                         algorithm);
}

template <c10::DeviceType kDevice>
at::Tensor dynamic_linear_autocast(const at::Tensor& input, const at::Tensor& weight,
                                   const OptTensor& bias, std::optional<int64_t> out_features) {
  return call_in_autocast_dtype<kDevice>(dynamic_ops::linear(), input, weight, bias,
                                         out_features);
}

}  // namespace

TORCH_LIBRARY_IMPL(razor_ext, AutocastCPU, m) {
  m.impl("dynamic_conv2d", &dynamic_conv2d_autocast<c10::DeviceType::CPU>);
  m.impl("dynamic_linear", &dynamic_linear_autocast<c10::DeviceType::CPU>);
}

TORCH_LIBRARY_IMPL(razor_ext, AutocastCUDA, m) {
  m.impl("dynamic_conv2d", &dynamic_conv2d_autocast<c10::DeviceType::CUDA>);
  m.impl("dynamic_linear", &dynamic_linear_autocast<c10::DeviceType::CUDA>);
}

}  // namespace razor_ext
