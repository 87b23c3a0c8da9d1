// Converting scale / zero_point tensors into the kernels' per-channel parameters, exactly as
// torch's fake-quant ops convert them (ATen/native/quantized/FakeQuant*.cpp), on the host. Shared
// by the CPU and CUDA impls; the CUDA impl copies the result to the device.
#pragma once

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "fake_quant_args.h"

namespace razor_ext {

template <typename T>
at::ScalarType scalar_type_of() {
  return sizeof(T) == 8 ? at::kDouble : at::kFloat;
}

// zero_point as double values on the host, checked finite.
inline std::vector<double> host_zero_points(const char* op, const at::Tensor& zero_point) {
  const at::Tensor z = zero_point.detach().to(at::kCPU, at::kDouble).contiguous();
  const double* zp = z.const_data_ptr<double>();
  std::vector<double> values(zp, zp + z.numel());
  for (size_t c = 0; c < values.size(); ++c) {
    TORCH_CHECK_VALUE(std::isfinite(values[c]), op, ": zero_point must be finite, got zero_point[",
                      c, "] = ", values[c]);
  }
  return values;
}

// fake_quantize: torch uses scale as float32 (also for float64 x) and inv_scale = 1.0f / scale.
// A floating zero point is rounded half to even first; it must then lie in [quant_min, quant_max].
template <typename T>
HostQParams<T> fake_quant_qparams(const char* op, const at::Tensor& scale,
                                  const at::Tensor& zero_point, int64_t quant_min,
                                  int64_t quant_max) {
  const at::Tensor s = scale.detach().to(at::kCPU, at::kFloat).contiguous();
  const int64_t n = s.numel();
  const float* sp = s.const_data_ptr<float>();
  check_scale_values(op, sp, n);
  const std::vector<double> zp = host_zero_points(op, zero_point);
  HostQParams<T> p;
  for (int64_t c = 0; c < n; ++c) {
    const double z = std::nearbyint(zp[static_cast<size_t>(c)]);
    TORCH_CHECK_VALUE(z >= static_cast<double>(quant_min) && z <= static_cast<double>(quant_max),
                      op, ": zero_point must lie in [quant_min, quant_max] = [", quant_min, ", ",
                      quant_max, "], got zero_point[", c, "] = ", zp[static_cast<size_t>(c)]);
    p.scale.push_back(static_cast<T>(sp[c]));
    p.inv_scale.push_back(static_cast<T>(1.0f / sp[c]));
    p.zero_point.push_back(static_cast<T>(z));
  }
  return p;
}

// Which zero point an LSQ pass uses. torch's forward rounds half to even and clamps; its
// per-tensor backward takes trunc(clamp(zp + 0.5)) instead, its per-channel backward the forward's.
enum class LsqZeroPoint { kForward, kTensorBackward };

// lsq_fake_quantize: float32 x computes like torch (float scale, inv_scale = 1.0f / scale, float
// grad_factor); float64 x, which torch's learnable ops do not support, computes in double. A
// learnable zero point may leave [quant_min, quant_max] while training: it is clamped, as torch
// clamps it.
template <typename T>
HostQParams<T> lsq_qparams(const char* op, const at::Tensor& scale, const at::Tensor& zero_point,
                           int64_t quant_min, int64_t quant_max, LsqZeroPoint rule) {
  const at::Tensor s = scale.detach().to(at::kCPU, scalar_type_of<T>()).contiguous();
  const int64_t n = s.numel();
  const T* sp = s.const_data_ptr<T>();
  check_scale_values(op, sp, n);
  const at::Tensor z = zero_point.detach().to(at::kCPU, scalar_type_of<T>()).contiguous();
  const T* zp = z.const_data_ptr<T>();
  const T qmin = static_cast<T>(quant_min), qmax = static_cast<T>(quant_max);
  HostQParams<T> p;
  for (int64_t c = 0; c < n; ++c) {
    TORCH_CHECK_VALUE(std::isfinite(zp[c]), op, ": zero_point must be finite, got zero_point[", c,
                      "] = ", zp[c]);
    T q = rule == LsqZeroPoint::kForward ? std::nearbyint(zp[c]) : zp[c] + T(0.5);
    q = std::min(std::max(q, qmin), qmax);
    p.scale.push_back(sp[c]);
    p.inv_scale.push_back(T(1) / sp[c]);
    p.zero_point.push_back(std::trunc(q));
  }
  return p;
}

// The kernel's view of host (or device) parameter arrays.
inline razor::FakeQuantParams kernel_params(const void* scale, const void* inv, const void* zp,
                                            int64_t quant_min, int64_t quant_max,
                                            bool per_channel, bool float_product) {
  razor::FakeQuantParams out;
  out.scale = scale;
  out.inv_scale = inv;
  out.zero_point = zp;
  out.quant_min = quant_min;
  out.quant_max = quant_max;
  out.overflow = per_channel ? razor::QuantOverflow::kToQuantMin
                             : razor::QuantOverflow::kClampAsFloat;
  out.float_product = float_product;
  return out;
}

}  // namespace razor_ext
