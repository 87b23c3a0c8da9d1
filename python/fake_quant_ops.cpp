// Schemas of the fake-quant op family and their CPU impls. Elementwise work is split over threads
// with at::parallel_for; the LSQ backward and the observer's min / max reduce into one private
// partial per thread, merged in thread order (deterministic for a given thread count).
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "fake_quant_args.h"
#include "fake_quant_qparams.h"
#include "razor/fake_quant.h"

namespace razor_ext {
namespace {

// Below this many elements one thread is faster than waking the others.
constexpr int64_t kSerialElements = 1 << 16;

template <typename Body>
void parallel_elements(int64_t n, Body body) {
  if (n <= 0) return;
  if (n < kSerialElements || at::get_num_threads() == 1) {
    body(int64_t{0}, n);
    return;
  }
  at::parallel_for(0, n, kSerialElements / 2, body);
}

// Runs body(part, begin, end) over `parts` equal element ranges in parallel.
template <typename Body>
void parallel_parts(int64_t n, int64_t parts, Body body) {
  at::parallel_for(0, parts, 1, [&](int64_t first, int64_t last) {
    for (int64_t p = first; p < last; ++p) body(p, n * p / parts, n * (p + 1) / parts);
  });
}

int64_t parts_for(int64_t n) {
  return n < kSerialElements ? 1 : std::max<int64_t>(1, at::get_num_threads());
}

// ---- fake_quantize ---------------------------------------------------------------------------

template <typename T>
void run_fake_quantize(const QuantInput& in, at::Tensor& out, uint8_t* mask,
                       const at::Tensor& scale, const at::Tensor& zero_point, int64_t quant_min,
                       int64_t quant_max, bool per_channel, razor::DType dtype) {
  const HostQParams<T> p =
      fake_quant_qparams<T>("fake_quantize", scale, zero_point, quant_min, quant_max);
  const razor::FakeQuantParams params =
      kernel_params(p.scale.data(), p.inv_scale.data(), p.zero_point.data(), quant_min,
                    quant_max, per_channel, /*float_product=*/!per_channel);
  const void* x = in.x.const_data_ptr();
  void* o = out.mutable_data_ptr();
  parallel_elements(in.x.numel(), [&](int64_t begin, int64_t end) {
    razor::cpu::fake_quantize_forward(x, o, mask, dtype, params, in.layout, begin, end);
  });
}

std::tuple<at::Tensor, at::Tensor> fake_quantize_cpu(const at::Tensor& x, const at::Tensor& scale,
                                                     const at::Tensor& zero_point,
                                                     int64_t quant_min, int64_t quant_max,
                                                     std::optional<int64_t> axis, bool need_mask) {
  constexpr const char* op = "fake_quantize";
  const razor::DType dtype = check_x(op, x, /*allowed_reduced=*/false);
  check_quant_range(op, quant_min, quant_max);
  const auto dim = check_axis(op, x, axis);
  check_qparam_dtypes(op, scale, zero_point);
  check_qparam_shape(op, "scale", scale, x, dim);
  check_qparam_shape(op, "zero_point", zero_point, x, dim);
  const QuantInput in = quant_input(x, dim);
  at::Tensor out = at::empty_like(in.x);
  at::Tensor mask = need_mask ? at::empty_like(in.x, in.x.options().dtype(at::kBool))
                              : at::empty({0}, in.x.options().dtype(at::kBool));
  uint8_t* m = need_mask ? static_cast<uint8_t*>(mask.mutable_data_ptr()) : nullptr;
  const bool per_channel = dim.has_value();
  if (dtype == razor::DType::kFloat64) {
    run_fake_quantize<double>(in, out, m, scale, zero_point, quant_min, quant_max, per_channel,
                              dtype);
  } else {
    run_fake_quantize<float>(in, out, m, scale, zero_point, quant_min, quant_max, per_channel,
                             dtype);
  }
  return {out, mask};
}

at::Tensor fake_quantize_backward_cpu(const at::Tensor& grad, const at::Tensor& mask) {
  constexpr const char* op = "fake_quantize_backward";
  const razor::DType dtype = check_x(op, grad, /*allowed_reduced=*/false);
  TORCH_CHECK_TYPE(mask.scalar_type() == at::kBool, op, ": mask must be bool, got ",
                   mask.scalar_type());
  TORCH_CHECK_VALUE(grad.sizes() == mask.sizes(), op, ": grad of shape ", grad.sizes(),
                    " does not match mask of shape ", mask.sizes());
  // The kernel pairs elements by memory position: bring grad into mask's layout if it differs.
  const at::Tensor m = mask.is_non_overlapping_and_dense() ? mask : mask.contiguous();
  const at::Tensor g = match_strides(grad, m);
  at::Tensor out = at::empty_like(m, g.options());
  const void* gp = g.const_data_ptr();
  const uint8_t* mp = static_cast<const uint8_t*>(m.const_data_ptr());
  void* op_out = out.mutable_data_ptr();
  parallel_elements(m.numel(), [&](int64_t begin, int64_t end) {
    razor::cpu::fake_quantize_backward(gp, mp, op_out, dtype, begin, end);
  });
  return out;
}

// ---- lsq_fake_quantize -----------------------------------------------------------------------

struct LsqCall {
  razor::DType dtype;
  std::optional<int64_t> dim;
};

LsqCall check_lsq_call(const char* op, const at::Tensor& x, const at::Tensor& scale,
                       const at::Tensor& zero_point, int64_t quant_min, int64_t quant_max,
                       std::optional<int64_t> axis, bool allowed_reduced) {
  const razor::DType dtype = check_x(op, x, allowed_reduced);
  check_quant_range(op, quant_min, quant_max);
  const auto dim = check_axis(op, x, axis);
  check_qparam_dtypes(op, scale, zero_point);
  check_qparam_shape(op, "scale", scale, x, dim);
  check_qparam_shape(op, "zero_point", zero_point, x, dim);
  return {dtype, dim};
}

template <typename T>
void run_lsq_forward(const QuantInput& in, at::Tensor& out, const at::Tensor& scale,
                     const at::Tensor& zero_point, int64_t quant_min, int64_t quant_max,
                     bool per_channel, razor::DType dtype) {
  const HostQParams<T> p = lsq_qparams<T>("lsq_fake_quantize", scale, zero_point, quant_min,
                                          quant_max, LsqZeroPoint::kForward);
  const razor::FakeQuantParams params =
      kernel_params(p.scale.data(), p.inv_scale.data(), p.zero_point.data(), quant_min,
                    quant_max, per_channel, /*float_product=*/false);
  const void* x = in.x.const_data_ptr();
  void* o = out.mutable_data_ptr();
  parallel_elements(in.x.numel(), [&](int64_t begin, int64_t end) {
    razor::cpu::fake_quantize_forward(x, o, nullptr, dtype, params, in.layout, begin, end);
  });
}

at::Tensor lsq_fake_quantize_cpu(const at::Tensor& x, const at::Tensor& scale,
                                 const at::Tensor& zero_point, int64_t quant_min,
                                 int64_t quant_max, std::optional<int64_t> axis,
                                 double grad_factor) {
  constexpr const char* op = "lsq_fake_quantize";
  const LsqCall call = check_lsq_call(op, x, scale, zero_point, quant_min, quant_max, axis, false);
  TORCH_CHECK_VALUE(std::isfinite(grad_factor), op, ": grad_factor must be finite, got ",
                    grad_factor);
  const QuantInput in = quant_input(x, call.dim);
  at::Tensor out = at::empty_like(in.x);
  if (call.dtype == razor::DType::kFloat64) {
    run_lsq_forward<double>(in, out, scale, zero_point, quant_min, quant_max,
                            call.dim.has_value(), call.dtype);
  } else {
    run_lsq_forward<float>(in, out, scale, zero_point, quant_min, quant_max,
                           call.dim.has_value(), call.dtype);
  }
  return out;
}

template <typename T>
void run_lsq_backward(const QuantInput& in, const at::Tensor& grad, at::Tensor& grad_x,
                      const at::Tensor& scale, const at::Tensor& zero_point, int64_t quant_min,
                      int64_t quant_max, bool per_channel, double grad_factor,
                      razor::DType dtype, std::vector<double>& sum_scale,
                      std::vector<double>& sum_zero_point) {
  const HostQParams<T> p = lsq_qparams<T>(
      "lsq_fake_quantize", scale, zero_point, quant_min, quant_max,
      per_channel ? LsqZeroPoint::kForward : LsqZeroPoint::kTensorBackward);
  razor::LsqParams params;
  params.scale = p.scale.data();
  params.inv_scale = p.inv_scale.data();
  params.zero_point = p.zero_point.data();
  params.quant_min = quant_min;
  params.quant_max = quant_max;
  // torch hands grad_factor to its float32 kernel as a float.
  params.grad_factor = sizeof(T) == 4 ? static_cast<double>(static_cast<float>(grad_factor))
                                      : grad_factor;
  const int64_t n = in.x.numel();
  const int64_t channels = in.layout.channels;
  const int64_t parts = parts_for(n);
  std::vector<std::vector<double>> partial_s(static_cast<size_t>(parts)),
      partial_z(static_cast<size_t>(parts));
  const void* x = in.x.const_data_ptr();
  const void* g = grad.const_data_ptr();
  void* gx = grad_x.mutable_data_ptr();
  parallel_parts(n, parts, [&](int64_t part, int64_t begin, int64_t end) {
    std::vector<double>& s = partial_s[static_cast<size_t>(part)];
    std::vector<double>& z = partial_z[static_cast<size_t>(part)];
    s.assign(static_cast<size_t>(channels), 0.0);
    z.assign(static_cast<size_t>(channels), 0.0);
    razor::cpu::lsq_backward(x, g, gx, dtype, params, in.layout, begin, end, s.data(), z.data());
  });
  sum_scale.assign(static_cast<size_t>(channels), 0.0);
  sum_zero_point.assign(static_cast<size_t>(channels), 0.0);
  for (int64_t part = 0; part < parts; ++part) {
    for (int64_t c = 0; c < channels; ++c) {
      sum_scale[static_cast<size_t>(c)] += partial_s[static_cast<size_t>(part)][static_cast<size_t>(c)];
      sum_zero_point[static_cast<size_t>(c)] +=
          partial_z[static_cast<size_t>(part)][static_cast<size_t>(c)];
    }
  }
}

// Per-channel sums as a tensor shaped and typed like the parameter they are the gradient of.
at::Tensor sums_like(const std::vector<double>& sums, const at::Tensor& like) {
  at::Tensor t = at::empty({static_cast<int64_t>(sums.size())}, at::TensorOptions().dtype(at::kDouble));
  std::copy(sums.begin(), sums.end(), t.mutable_data_ptr<double>());
  return t.to(like.options()).reshape(like.sizes());
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> lsq_fake_quantize_backward_cpu(
    const at::Tensor& grad, const at::Tensor& x, const at::Tensor& scale,
    const at::Tensor& zero_point, int64_t quant_min, int64_t quant_max,
    std::optional<int64_t> axis, double grad_factor) {
  constexpr const char* op = "lsq_fake_quantize_backward";
  const LsqCall call = check_lsq_call(op, x, scale, zero_point, quant_min, quant_max, axis, false);
  TORCH_CHECK_VALUE(grad.sizes() == x.sizes(), op, ": grad of shape ", grad.sizes(),
                    " does not match x of shape ", x.sizes());
  TORCH_CHECK_TYPE(grad.scalar_type() == x.scalar_type(), op, ": grad has dtype ",
                   grad.scalar_type(), " but x has ", x.scalar_type());
  const QuantInput in = quant_input(x, call.dim);
  // A channel of size 1 along axis is one channel, whatever the layout says.
  const int64_t channels = call.dim.has_value() ? x.size(*call.dim) : 1;
  const at::Tensor g = match_strides(grad, in.x);
  at::Tensor grad_x = at::empty_like(in.x);
  std::vector<double> sum_s, sum_z;
  if (call.dtype == razor::DType::kFloat64) {
    run_lsq_backward<double>(in, g, grad_x, scale, zero_point, quant_min, quant_max,
                             call.dim.has_value(), grad_factor, call.dtype, sum_s, sum_z);
  } else {
    run_lsq_backward<float>(in, g, grad_x, scale, zero_point, quant_min, quant_max,
                            call.dim.has_value(), grad_factor, call.dtype, sum_s, sum_z);
  }
  if (static_cast<int64_t>(sum_s.size()) != channels) {
    // Empty x or one channel seen as per-tensor: spread the (zero or single) sum over channels.
    const double s = sum_s.empty() ? 0.0 : sum_s[0];
    const double z = sum_z.empty() ? 0.0 : sum_z[0];
    sum_s.assign(static_cast<size_t>(channels), s);
    sum_z.assign(static_cast<size_t>(channels), z);
  }
  return {grad_x, sums_like(sum_s, scale), sums_like(sum_z, zero_point)};
}

// ---- observe_qparams_ ------------------------------------------------------------------------

// torch.ao's MinMax qparams (observer._calculate_qparams), in float32 as torch computes them.
void qparams_from_range(float lo, float hi, int64_t quant_min, int64_t quant_max, bool symmetric,
                        float& scale, float& zero_point) {
  const float min_neg = std::min(lo, 0.0f);
  float max_pos = std::max(hi, 0.0f);
  if (symmetric) {
    max_pos = std::max(-min_neg, max_pos);
    scale = max_pos / (static_cast<float>(quant_max - quant_min) / 2.0f);
    scale = std::max(scale, FLT_EPSILON);
    zero_point = quant_min < 0 ? 0.0f : static_cast<float>((quant_min + quant_max + 1) / 2);
    return;
  }
  scale = (max_pos - min_neg) / static_cast<float>(quant_max - quant_min);
  scale = std::max(scale, FLT_EPSILON);
  zero_point = static_cast<float>(quant_min) - std::nearbyint(min_neg / scale);
  zero_point = std::min(std::max(zero_point, static_cast<float>(quant_min)),
                        static_cast<float>(quant_max));
}

void check_state(const char* op, const char* name, const at::Tensor& t, int64_t channels,
                 const at::Tensor& x, bool floating) {
  TORCH_CHECK_TYPE(t.layout() == at::kStrided, op, ": ", name, " must be a dense tensor");
  TORCH_CHECK_VALUE(t.numel() == channels, op, ": ", name, " must hold ", channels,
                    " element(s) (one per ", channels == 1 ? "tensor" : "channel along axis",
                    "), got shape ", t.sizes());
  TORCH_CHECK_VALUE(t.device() == x.device(), op, ": ", name, " is on ", t.device(),
                    " but x is on ", x.device());
  if (floating) {
    TORCH_CHECK_TYPE(t.scalar_type() == at::kFloat, op, ": ", name, " must be float32, got ",
                     t.scalar_type());
  } else {
    TORCH_CHECK_TYPE(t.scalar_type() == at::kInt || t.scalar_type() == at::kLong ||
                         t.scalar_type() == at::kFloat,
                     op, ": ", name, " must be int32, int64 or float32, got ", t.scalar_type());
  }
}

// Writes `values` (float) into the contiguous-or-not state tensor t.
void write_state(at::Tensor& t, const std::vector<float>& values) {
  at::Tensor v = at::empty({static_cast<int64_t>(values.size())}, at::TensorOptions().dtype(at::kFloat));
  std::copy(values.begin(), values.end(), v.mutable_data_ptr<float>());
  t.copy_(v.reshape(t.sizes()));
}

void observe_qparams_cpu(const at::Tensor& x, at::Tensor& running_min, at::Tensor& running_max,
                         at::Tensor& scale, at::Tensor& zero_point, int64_t quant_min,
                         int64_t quant_max, std::optional<int64_t> axis,
                         double averaging_constant, bool symmetric) {
  constexpr const char* op = "observe_qparams_";
  const razor::DType dtype = check_x(op, x, /*allowed_reduced=*/false);
  check_quant_range(op, quant_min, quant_max);
  const auto dim = check_axis(op, x, axis);
  const int64_t channels = dim.has_value() ? x.size(*dim) : 1;
  check_state(op, "running_min", running_min, channels, x, true);
  check_state(op, "running_max", running_max, channels, x, true);
  check_state(op, "scale", scale, channels, x, true);
  check_state(op, "zero_point", zero_point, channels, x, false);
  TORCH_CHECK_VALUE(averaging_constant > 0.0 && averaging_constant <= 1.0, op,
                    ": averaging_constant must lie in (0, 1], got ", averaging_constant);
  if (x.numel() == 0) return;

  const QuantInput in = quant_input(x, dim);
  const int64_t lanes = in.layout.channels;  // 1 when a single channel is seen per-tensor
  const int64_t n = in.x.numel();
  const int64_t parts = parts_for(n);
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<std::vector<double>> mins(static_cast<size_t>(parts)), maxs(static_cast<size_t>(parts));
  std::vector<std::vector<uint8_t>> bad(static_cast<size_t>(parts));
  const void* xp = in.x.const_data_ptr();
  parallel_parts(n, parts, [&](int64_t part, int64_t begin, int64_t end) {
    const size_t p = static_cast<size_t>(part);
    mins[p].assign(static_cast<size_t>(lanes), inf);
    maxs[p].assign(static_cast<size_t>(lanes), -inf);
    bad[p].assign(static_cast<size_t>(lanes), 0);
    razor::cpu::channel_min_max(xp, dtype, in.layout, begin, end, mins[p].data(), maxs[p].data(),
                                bad[p].data());
  });

  const at::Tensor old_min = running_min.detach().to(at::kCPU).contiguous().reshape({channels});
  const at::Tensor old_max = running_max.detach().to(at::kCPU).contiguous().reshape({channels});
  const float* om = old_min.const_data_ptr<float>();
  const float* oM = old_max.const_data_ptr<float>();
  const float c = static_cast<float>(averaging_constant);
  std::vector<float> new_min(static_cast<size_t>(channels)), new_max(static_cast<size_t>(channels));
  std::vector<float> new_scale(static_cast<size_t>(channels)), new_zp(static_cast<size_t>(channels));
  for (int64_t ch = 0; ch < channels; ++ch) {
    const size_t lane = static_cast<size_t>(lanes == 1 ? 0 : ch);
    double lo = inf, hi = -inf;
    bool nonfinite = false;
    for (int64_t part = 0; part < parts; ++part) {
      const size_t p = static_cast<size_t>(part);
      lo = std::min(lo, mins[p][lane]);
      hi = std::max(hi, maxs[p][lane]);
      nonfinite = nonfinite || bad[p][lane] != 0;
    }
    TORCH_CHECK_VALUE(!nonfinite, op, ": x holds NaN or Inf",
                      dim.has_value() ? " in channel " : "", dim.has_value() ? std::to_string(ch) : "",
                      "; its range cannot be observed");
    const float cur_min = static_cast<float>(lo), cur_max = static_cast<float>(hi);
    const size_t i = static_cast<size_t>(ch);
    // torch.ao's MovingAverage observers: the first observation is taken as it is.
    const bool fresh = std::isinf(om[ch]) && om[ch] > 0 && std::isinf(oM[ch]) && oM[ch] < 0;
    new_min[i] = fresh ? cur_min : om[ch] + c * (cur_min - om[ch]);
    new_max[i] = fresh ? cur_max : oM[ch] + c * (cur_max - oM[ch]);
    qparams_from_range(new_min[i], new_max[i], quant_min, quant_max, symmetric, new_scale[i],
                       new_zp[i]);
  }
  write_state(running_min, new_min);
  write_state(running_max, new_max);
  write_state(scale, new_scale);
  write_state(zero_point, new_zp);
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(razor_ext, m) {
  m.def("fake_quantize(Tensor x, Tensor scale, Tensor zero_point, int quant_min, int quant_max, "
        "int? axis, bool need_mask) -> (Tensor, Tensor)");
  m.def("fake_quantize_backward(Tensor grad, Tensor mask) -> Tensor");
  m.def("lsq_fake_quantize(Tensor x, Tensor scale, Tensor zero_point, int quant_min, "
        "int quant_max, int? axis, float grad_factor) -> Tensor");
  m.def("lsq_fake_quantize_backward(Tensor grad, Tensor x, Tensor scale, Tensor zero_point, "
        "int quant_min, int quant_max, int? axis, float grad_factor) -> (Tensor, Tensor, Tensor)");
  m.def("observe_qparams_(Tensor x, Tensor(a!) running_min, Tensor(b!) running_max, "
        "Tensor(c!) scale, Tensor(d!) zero_point, int quant_min, int quant_max, int? axis, "
        "float averaging_constant, bool symmetric) -> ()");
}

TORCH_LIBRARY_IMPL(razor_ext, CPU, m) {
  m.impl("fake_quantize", &fake_quantize_cpu);
  m.impl("fake_quantize_backward", &fake_quantize_backward_cpu);
  m.impl("lsq_fake_quantize", &lsq_fake_quantize_cpu);
  m.impl("lsq_fake_quantize_backward", &lsq_fake_quantize_backward_cpu);
  m.impl("observe_qparams_", &observe_qparams_cpu);
}

}  // namespace razor_ext
