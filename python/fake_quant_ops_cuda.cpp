// CUDA impls of the fake-quant family (schemas and CPU impls: fake_quant_ops.cpp). Nothing here
// synchronizes with the device: qparams are converted with torch ops on the device (the same
// conversions the CPU impl does on the host), value checks (positive finite scale, zero point in
// range, finite observed range) are device-side asserts (at::_assert_async), and the LSQ sums are
// accumulated by the kernel into a small device buffer.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <cfloat>
#include <cmath>
#include <optional>

#include "fake_quant_args.h"
#include "razor/fake_quant_cuda.h"

namespace razor_ext {
namespace {

void check_launch(const char* op, cudaError_t status) {
  TORCH_CHECK(status == cudaSuccess, op, ": CUDA kernel launch failed: ",
              cudaGetErrorString(status));
}

// float for float32 / bfloat16 / float16 x, double for float64 x.
at::ScalarType compute_type(razor::DType dtype) {
  return dtype == razor::DType::kFloat64 ? at::kDouble : at::kFloat;
}

void assert_scale_values(const at::Tensor& s) {
  at::_assert_async(at::all(at::logical_and(at::isfinite(s), s > 0)),
                    "fake quant: scale must be positive and finite");
}

struct DeviceQParams {
  at::Tensor scale, inv_scale, zero_point;  // compute type, one entry per channel
};

// fake_quantize's conversions (fake_quant_qparams.h): float32 scale, inv = 1.0f / scale, zero
// point rounded half to even and required in [quant_min, quant_max].
DeviceQParams fake_quant_device_qparams(const at::Tensor& scale, const at::Tensor& zero_point,
                                        int64_t quant_min, int64_t quant_max,
                                        const at::Tensor& x, razor::DType dtype) {
  const at::Tensor s = scale.detach().to(x.device(), at::kFloat).reshape({-1}).contiguous();
  assert_scale_values(s);
  const at::Tensor z = zero_point.detach().to(x.device(), at::kDouble).reshape({-1}).round();
  at::_assert_async(at::all(at::logical_and(z >= static_cast<double>(quant_min),
                                            z <= static_cast<double>(quant_max))),
                    "fake_quantize: zero_point must lie in [quant_min, quant_max]");
  const at::ScalarType ct = compute_type(dtype);
  return {s.to(ct), at::reciprocal(s).to(ct), z.to(ct).contiguous()};
}

razor::FakeQuantParams kernel_params(const DeviceQParams& p, int64_t quant_min, int64_t quant_max,
                                     bool per_channel, bool float_product) {
  razor::FakeQuantParams out;
  out.scale = p.scale.const_data_ptr();
  out.inv_scale = p.inv_scale.const_data_ptr();
  out.zero_point = p.zero_point.const_data_ptr();
  out.quant_min = quant_min;
  out.quant_max = quant_max;
  out.overflow = per_channel ? razor::QuantOverflow::kToQuantMin
                             : razor::QuantOverflow::kClampAsFloat;
  out.float_product = float_product;
  return out;
}

std::tuple<at::Tensor, at::Tensor> fake_quantize_cuda(const at::Tensor& x, const at::Tensor& scale,
                                                      const at::Tensor& zero_point,
                                                      int64_t quant_min, int64_t quant_max,
                                                      std::optional<int64_t> axis,
                                                      bool need_mask) {
  constexpr const char* op = "fake_quantize";
  const razor::DType dtype = check_x(op, x, /*allowed_reduced=*/true);
  check_quant_range(op, quant_min, quant_max);
  const auto dim = check_axis(op, x, axis);
  check_qparam_dtypes(op, scale, zero_point);
  check_qparam_shape(op, "scale", scale, x, dim);
  check_qparam_shape(op, "zero_point", zero_point, x, dim);
  const c10::cuda::CUDAGuard device_guard(x.device());
  const QuantInput in = quant_input(x, dim);
  at::Tensor out = at::empty_like(in.x);
  at::Tensor mask = need_mask ? at::empty_like(in.x, in.x.options().dtype(at::kBool))
                              : at::empty({0}, in.x.options().dtype(at::kBool));
  if (in.x.numel() == 0) return {out, mask};
  const DeviceQParams p =
      fake_quant_device_qparams(scale, zero_point, quant_min, quant_max, in.x, dtype);
  const bool per_channel = dim.has_value();
  check_launch(op, razor::cuda::launch_fake_quantize(
                       in.x.const_data_ptr(), out.mutable_data_ptr(),
                       need_mask ? static_cast<uint8_t*>(mask.mutable_data_ptr()) : nullptr,
                       dtype, kernel_params(p, quant_min, quant_max, per_channel, !per_channel),
                       in.layout, c10::cuda::getCurrentCUDAStream().stream()));
  return {out, mask};
}

at::Tensor fake_quantize_backward_cuda(const at::Tensor& grad, const at::Tensor& mask) {
  constexpr const char* op = "fake_quantize_backward";
  const razor::DType dtype = check_x(op, grad, /*allowed_reduced=*/true);
  TORCH_CHECK_TYPE(mask.scalar_type() == at::kBool, op, ": mask must be bool, got ",
                   mask.scalar_type());
  TORCH_CHECK_VALUE(grad.sizes() == mask.sizes(), op, ": grad of shape ", grad.sizes(),
                    " does not match mask of shape ", mask.sizes());
  const c10::cuda::CUDAGuard device_guard(grad.device());
  const at::Tensor m = mask.is_non_overlapping_and_dense() ? mask : mask.contiguous();
  const at::Tensor g = match_strides(grad, m);
  at::Tensor out = at::empty_like(m, g.options());
  check_launch(op, razor::cuda::launch_fake_quantize_backward(
                       g.const_data_ptr(), static_cast<const uint8_t*>(m.const_data_ptr()),
                       out.mutable_data_ptr(), dtype, m.numel(),
                       c10::cuda::getCurrentCUDAStream().stream()));
  return out;
}

// lsq_qparams (fake_quant_qparams.h) on the device: scale and zero point in the compute type;
// zero point rounded half to even and clamped, or for the per-tensor backward trunc(clamp(z + 0.5)).
DeviceQParams lsq_device_qparams(const at::Tensor& scale, const at::Tensor& zero_point,
                                 int64_t quant_min, int64_t quant_max, const at::Tensor& x,
                                 razor::DType dtype, bool tensor_backward_rule) {
  const at::ScalarType ct = compute_type(dtype);
  const at::Tensor s = scale.detach().to(x.device(), ct).reshape({-1}).contiguous();
  assert_scale_values(s);
  const at::Tensor z = zero_point.detach().to(x.device(), ct).reshape({-1});
  at::_assert_async(at::all(at::isfinite(z)), "lsq_fake_quantize: zero_point must be finite");
  const double lo = static_cast<double>(quant_min), hi = static_cast<double>(quant_max);
  const at::Tensor zq = tensor_backward_rule ? at::trunc(at::clamp(z + 0.5, lo, hi))
                                             : at::clamp(at::round(z), lo, hi);
  return {s, at::reciprocal(s), zq.contiguous()};
}

at::Tensor lsq_fake_quantize_cuda(const at::Tensor& x, const at::Tensor& scale,
                                  const at::Tensor& zero_point, int64_t quant_min,
                                  int64_t quant_max, std::optional<int64_t> axis,
                                  double grad_factor) {
  constexpr const char* op = "lsq_fake_quantize";
  const razor::DType dtype = check_x(op, x, /*allowed_reduced=*/true);
  check_quant_range(op, quant_min, quant_max);
  const auto dim = check_axis(op, x, axis);
  check_qparam_dtypes(op, scale, zero_point);
  check_qparam_shape(op, "scale", scale, x, dim);
  check_qparam_shape(op, "zero_point", zero_point, x, dim);
  TORCH_CHECK_VALUE(std::isfinite(grad_factor), op, ": grad_factor must be finite, got ",
                    grad_factor);
  const c10::cuda::CUDAGuard device_guard(x.device());
  const QuantInput in = quant_input(x, dim);
  at::Tensor out = at::empty_like(in.x);
  if (in.x.numel() == 0) return out;
  const DeviceQParams p =
      lsq_device_qparams(scale, zero_point, quant_min, quant_max, in.x, dtype, false);
  check_launch(op, razor::cuda::launch_fake_quantize(
                       in.x.const_data_ptr(), out.mutable_data_ptr(), nullptr, dtype,
                       kernel_params(p, quant_min, quant_max, dim.has_value(), false), in.layout,
                       c10::cuda::getCurrentCUDAStream().stream()));
  return out;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> lsq_fake_quantize_backward_cuda(
    const at::Tensor& grad, const at::Tensor& x, const at::Tensor& scale,
    const at::Tensor& zero_point, int64_t quant_min, int64_t quant_max,
    std::optional<int64_t> axis, double grad_factor) {
  constexpr const char* op = "lsq_fake_quantize_backward";
  const razor::DType dtype = check_x(op, x, /*allowed_reduced=*/true);
  check_quant_range(op, quant_min, quant_max);
  const auto dim = check_axis(op, x, axis);
  check_qparam_dtypes(op, scale, zero_point);
  check_qparam_shape(op, "scale", scale, x, dim);
  check_qparam_shape(op, "zero_point", zero_point, x, dim);
  TORCH_CHECK_VALUE(grad.sizes() == x.sizes(), op, ": grad of shape ", grad.sizes(),
                    " does not match x of shape ", x.sizes());
  TORCH_CHECK_TYPE(grad.scalar_type() == x.scalar_type(), op, ": grad has dtype ",
                   grad.scalar_type(), " but x has ", x.scalar_type());
  const c10::cuda::CUDAGuard device_guard(x.device());
  const QuantInput in = quant_input(x, dim);
  const at::Tensor g = match_strides(grad, in.x);
  at::Tensor grad_x = at::empty_like(in.x);
  const int64_t channels = dim.has_value() ? x.size(*dim) : 1;
  // The kernel accumulates per channel of the memory layout (1 when one channel is seen as
  // per-tensor); sums are then spread to the parameter's shape.
  at::Tensor sums = at::zeros({2, in.layout.channels}, in.x.options().dtype(at::kDouble));
  if (in.x.numel() > 0) {
    const DeviceQParams p = lsq_device_qparams(scale, zero_point, quant_min, quant_max, in.x,
                                               dtype, !dim.has_value());
    razor::LsqParams params;
    params.scale = p.scale.const_data_ptr();
    params.inv_scale = p.inv_scale.const_data_ptr();
    params.zero_point = p.zero_point.const_data_ptr();
    params.quant_min = quant_min;
    params.quant_max = quant_max;
    params.grad_factor = dtype == razor::DType::kFloat64
                             ? grad_factor
                             : static_cast<double>(static_cast<float>(grad_factor));
    double* acc = sums.mutable_data_ptr<double>();
    check_launch(op, razor::cuda::launch_lsq_backward(
                         in.x.const_data_ptr(), g.const_data_ptr(), grad_x.mutable_data_ptr(),
                         dtype, params, in.layout, acc, acc + in.layout.channels,
                         c10::cuda::getCurrentCUDAStream().stream()));
  }
  const at::Tensor grad_scale = sums[0].expand({channels}).to(scale.scalar_type()).reshape(scale.sizes());
  const at::Tensor grad_zero_point =
      sums[1].expand({channels}).to(zero_point.scalar_type()).reshape(zero_point.sizes());
  return {grad_x, grad_scale.clone(), grad_zero_point.clone()};
}

// observe_qparams_ on the device with torch ops: per-channel extremes, the moving average and
// torch.ao's qparams (float32), written in place; a NaN/Inf range is a device-side assert.
void observe_qparams_cuda(const at::Tensor& x, at::Tensor& running_min, at::Tensor& running_max,
                          at::Tensor& scale, at::Tensor& zero_point, int64_t quant_min,
                          int64_t quant_max, std::optional<int64_t> axis,
                          double averaging_constant, bool symmetric) {
  constexpr const char* op = "observe_qparams_";
  check_x(op, x, /*allowed_reduced=*/true);
  check_quant_range(op, quant_min, quant_max);
  const auto dim = check_axis(op, x, axis);
  const int64_t channels = dim.has_value() ? x.size(*dim) : 1;
  for (const at::Tensor* t : {&running_min, &running_max, &scale}) {
    TORCH_CHECK_VALUE(t->numel() == channels, op, ": state tensors must hold ", channels,
                      " element(s), got shape ", t->sizes());
    TORCH_CHECK_TYPE(t->scalar_type() == at::kFloat, op, ": state tensors must be float32");
  }
  TORCH_CHECK_VALUE(zero_point.numel() == channels, op, ": zero_point must hold ", channels,
                    " element(s)");
  TORCH_CHECK_VALUE(averaging_constant > 0.0 && averaging_constant <= 1.0, op,
                    ": averaging_constant must lie in (0, 1], got ", averaging_constant);
  if (x.numel() == 0) return;
  const c10::cuda::CUDAGuard device_guard(x.device());
  const at::Tensor rows =
      dim.has_value() ? x.detach().movedim(*dim, 0).reshape({channels, -1}) : x.detach().reshape({1, -1});
  const at::Tensor cur_min = std::get<0>(at::min(rows, 1)).to(at::kFloat);
  const at::Tensor cur_max = std::get<0>(at::max(rows, 1)).to(at::kFloat);
  at::_assert_async(at::all(at::logical_and(at::isfinite(cur_min), at::isfinite(cur_max))),
                    "observe_qparams_: x holds NaN or Inf; its range cannot be observed");
  const at::Tensor old_min = running_min.reshape({channels});
  const at::Tensor old_max = running_max.reshape({channels});
  const at::Tensor fresh = at::logical_and(at::isposinf(old_min), at::isneginf(old_max));
  const at::Tensor new_min =
      at::where(fresh, cur_min, old_min + averaging_constant * (cur_min - old_min));
  const at::Tensor new_max =
      at::where(fresh, cur_max, old_max + averaging_constant * (cur_max - old_max));
  const at::Tensor min_neg = at::clamp_max(new_min, 0.0);
  at::Tensor max_pos = at::clamp_min(new_max, 0.0);
  at::Tensor new_scale, new_zp;
  if (symmetric) {
    max_pos = at::maximum(-min_neg, max_pos);
    new_scale = at::clamp_min(max_pos / (static_cast<double>(quant_max - quant_min) / 2.0),
                              static_cast<double>(FLT_EPSILON));
    const double zp = quant_min < 0 ? 0.0 : static_cast<double>((quant_min + quant_max + 1) / 2);
    new_zp = at::full_like(new_scale, zp);
  } else {
    new_scale = at::clamp_min((max_pos - min_neg) / static_cast<double>(quant_max - quant_min),
                              static_cast<double>(FLT_EPSILON));
    new_zp = at::clamp(static_cast<double>(quant_min) - at::round(min_neg / new_scale),
                       static_cast<double>(quant_min), static_cast<double>(quant_max));
  }
  running_min.copy_(new_min.reshape(running_min.sizes()));
  running_max.copy_(new_max.reshape(running_max.sizes()));
  scale.copy_(new_scale.reshape(scale.sizes()));
  zero_point.copy_(new_zp.reshape(zero_point.sizes()));
}

}  // namespace

TORCH_LIBRARY_IMPL(razor_ext, CUDA, m) {
  m.impl("fake_quantize", &fake_quantize_cuda);
  m.impl("fake_quantize_backward", &fake_quantize_backward_cuda);
  m.impl("lsq_fake_quantize", &lsq_fake_quantize_cuda);
  m.impl("lsq_fake_quantize_backward", &lsq_fake_quantize_backward_cuda);
  m.impl("observe_qparams_", &observe_qparams_cuda);
}

}  // namespace razor_ext
