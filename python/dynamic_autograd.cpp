// Autograd for dynamic_conv2d / dynamic_linear, in C++ (as torchvision registers its ops' autograd).
//
// Why not torch.library.register_autograd like the other ops: a dynamic op runs once per layer per
// step, and a Python autograd layer costs ~75 us each way per call, carrying the call from C++
// into Python and back (measured on the 512ch 7x7 layer at batch 1: forward 445 us against 369 us
// straight to the kernel, backward 1027 us against 951 us). Here the forward redispatches below
// autograd and the node calls the *_backward op through the dispatcher, so torch.compile traces
// both ops through their fake impls (razor_ext/ops/dynamic_conv.py) as before. torch.func
// transforms refuse C++ autograd nodes; razor_ext/ops/dynamic_functorch.py takes a Python route
// there.
//
// When autograd records a dynamic_conv2d call, the forward runs _dynamic_conv2d_forward, which
// also returns what the backward would otherwise redo (python/dynamic_ops.cpp, Forward).
//
// The *_backward ops get an autograd kernel too, so that differentiating a gradient (create_graph)
// is a clear error when that second backward runs, never a silent zero.
#include <ATen/ATen.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include <array>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "dynamic_op_handles.h"

namespace razor_ext {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;
using dynamic_ops::Grads;
using dynamic_ops::OptTensor;

// ---- the ops, called below autograd ----------------------------------------------------------

at::Tensor conv_below(const at::Tensor& input, const at::Tensor& weight, const OptTensor& bias,
                      std::optional<int64_t> out_channels, at::IntArrayRef stride,
                      at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
                      std::optional<int64_t> kernel_size, c10::string_view algorithm) {
  at::AutoDispatchBelowADInplaceOrView below;
  return dynamic_ops::conv2d().call(input, weight, bias, out_channels, stride, padding, dilation,
                                    groups, kernel_size, algorithm);
}

std::tuple<at::Tensor, at::Tensor> conv_forward_below(
    const at::Tensor& input, const at::Tensor& weight, const OptTensor& bias,
    std::optional<int64_t> out_channels, at::IntArrayRef stride, at::IntArrayRef padding,
    at::IntArrayRef dilation, int64_t groups, std::optional<int64_t> kernel_size,
    c10::string_view algorithm) {
  at::AutoDispatchBelowADInplaceOrView below;
  return dynamic_ops::conv2d_forward().call(input, weight, bias, out_channels, stride, padding,
                                            dilation, groups, kernel_size, algorithm);
}

Grads conv_backward_below(const at::Tensor& grad_output, const at::Tensor& input,
                          const at::Tensor& weight, std::optional<int64_t> out_channels,
                          at::IntArrayRef stride, at::IntArrayRef padding,
                          at::IntArrayRef dilation, int64_t groups,
                          std::optional<int64_t> kernel_size, c10::string_view algorithm,
                          std::array<bool, 3> output_mask, const OptTensor& saved) {
  at::AutoDispatchBelowADInplaceOrView below;
  return dynamic_ops::conv2d_backward().call(grad_output, input, weight, out_channels, stride,
                                             padding, dilation, groups, kernel_size, algorithm,
                                             output_mask, saved);
}

at::Tensor linear_below(const at::Tensor& input, const at::Tensor& weight, const OptTensor& bias,
                        std::optional<int64_t> out_features) {
  at::AutoDispatchBelowADInplaceOrView below;
  return dynamic_ops::linear().call(input, weight, bias, out_features);
}

Grads linear_backward_below(const at::Tensor& grad_output, const at::Tensor& input,
                            const at::Tensor& weight, std::optional<int64_t> out_features,
                            std::array<bool, 3> output_mask) {
  at::AutoDispatchBelowADInplaceOrView below;
  return dynamic_ops::linear_backward().call(grad_output, input, weight, out_features,
                                             output_mask);
}

// ---- autograd ------------------------------------------------------------------------------

bool defined(const OptTensor& t) { return t.has_value() && t->defined(); }

// Whether autograd records a call on these tensors. When it does not, the kernel is called
// straight away: nothing is kept, and no C++ node meets torch.func (which refuses them).
// Forward-mode AD is not supported: a dual tensor is refused here rather than losing its tangent.
bool records(const char* op, std::initializer_list<const at::Tensor*> tensors) {
  for (const at::Tensor* t : tensors) {
    TORCH_CHECK(t == nullptr || !t->defined() || !t->_fw_grad(/*level=*/0).defined(), op,
                ": forward-mode AD (dual tensors, torch.autograd.forward_ad) is not supported");
  }
  if (!at::GradMode::is_enabled()) return false;
  for (const at::Tensor* t : tensors) {
    if (t != nullptr && t->defined() && t->requires_grad()) return true;
  }
  return false;
}

const at::Tensor* maybe(const OptTensor& t) { return defined(t) ? &*t : nullptr; }

// Which of (input, weight, bias) this backward pass needs: the autograd edges are the tensor
// arguments that were given, in order, so bias is edge 2 only when there is one.
std::array<bool, 3> wanted_grads(AutogradContext* ctx, bool has_bias) {
  return {ctx->needs_input_grad(0), ctx->needs_input_grad(1),
          has_bias && ctx->needs_input_grad(2)};
}

// The op's gradients in the argument order autograd expects: (input, weight, bias) then one
// undefined entry per non-tensor argument; a gradient not wanted is undefined.
variable_list with_options(const Grads& grads, std::array<bool, 3> wanted, size_t options) {
  const auto& [gi, gw, gb] = grads;
  variable_list out{wanted[0] ? gi : at::Tensor(), wanted[1] ? gw : at::Tensor(),
                    wanted[2] ? gb : at::Tensor()};
  out.resize(3 + options);
  return out;
}

// The gradient of a *_backward op is not provided: its node, which runs only when a gradient is
// itself differentiated, raises.
[[noreturn]] void no_double_backward(const char* name) {
  TORCH_CHECK(false, name, ": differentiating the gradient of a dynamic op (double backward, "
              "create_graph=True) is not supported");
}

class DynamicConv2dBackwardFunction
    : public torch::autograd::Function<DynamicConv2dBackwardFunction> {
 public:
  static variable_list forward(AutogradContext* /*ctx*/, const at::Tensor& grad_output,
                               const at::Tensor& input, const at::Tensor& weight,
                               std::optional<int64_t> out_channels, std::vector<int64_t> stride,
                               std::vector<int64_t> padding, std::vector<int64_t> dilation,
                               int64_t groups, std::optional<int64_t> kernel_size,
                               std::string algorithm, std::array<bool, 3> output_mask,
                               const OptTensor& saved) {
    const auto [gi, gw, gb] =
        conv_backward_below(grad_output, input, weight, out_channels, stride, padding, dilation,
                            groups, kernel_size, algorithm, output_mask, saved);
    return {gi, gw, gb};
  }

  static variable_list backward(AutogradContext* /*ctx*/, variable_list /*grads*/) {
    no_double_backward("razor_ext::dynamic_conv2d_backward");
  }
};

class DynamicLinearBackwardFunction
    : public torch::autograd::Function<DynamicLinearBackwardFunction> {
 public:
  static variable_list forward(AutogradContext* /*ctx*/, const at::Tensor& grad_output,
                               const at::Tensor& input, const at::Tensor& weight,
                               std::optional<int64_t> out_features,
                               std::array<bool, 3> output_mask) {
    const auto [gi, gw, gb] =
        linear_backward_below(grad_output, input, weight, out_features, output_mask);
    return {gi, gw, gb};
  }

  static variable_list backward(AutogradContext* /*ctx*/, variable_list /*grads*/) {
    no_double_backward("razor_ext::dynamic_linear_backward");
  }
};

Grads as_grads(const variable_list& v) { return {v[0], v[1], v[2]}; }

// The backward ops' autograd kernels, which the forward ops' nodes call: with create_graph
// their results get a node that refuses a second backward.
Grads dynamic_conv2d_backward_autograd(const at::Tensor& grad_output, const at::Tensor& input,
                                       const at::Tensor& weight,
                                       std::optional<int64_t> out_channels,
                                       at::IntArrayRef stride, at::IntArrayRef padding,
                                       at::IntArrayRef dilation, int64_t groups,
                                       std::optional<int64_t> kernel_size,
                                       c10::string_view algorithm,
                                       std::array<bool, 3> output_mask, const OptTensor& saved) {
  if (!records("razor_ext::dynamic_conv2d_backward",
               {&grad_output, &input, &weight, maybe(saved)})) {
    return conv_backward_below(grad_output, input, weight, out_channels, stride, padding,
                               dilation, groups, kernel_size, algorithm, output_mask, saved);
  }
  return as_grads(DynamicConv2dBackwardFunction::apply(
      grad_output, input, weight, out_channels, stride.vec(), padding.vec(), dilation.vec(),
      groups, kernel_size, std::string(algorithm), output_mask, saved));
}

Grads dynamic_linear_backward_autograd(const at::Tensor& grad_output, const at::Tensor& input,
                                       const at::Tensor& weight,
                                       std::optional<int64_t> out_features,
                                       std::array<bool, 3> output_mask) {
  if (!records("razor_ext::dynamic_linear_backward", {&grad_output, &input, &weight})) {
    return linear_backward_below(grad_output, input, weight, out_features, output_mask);
  }
  return as_grads(DynamicLinearBackwardFunction::apply(grad_output, input, weight, out_features,
                                                       output_mask));
}

class DynamicConv2dFunction : public torch::autograd::Function<DynamicConv2dFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& input,
                            const at::Tensor& weight, const OptTensor& bias,
                            std::optional<int64_t> out_channels, std::vector<int64_t> stride,
                            std::vector<int64_t> padding, std::vector<int64_t> dilation,
                            int64_t groups, std::optional<int64_t> kernel_size,
                            std::string algorithm) {
    auto [output, kept] = conv_forward_below(input, weight, bias, out_channels, stride, padding,
                                             dilation, groups, kernel_size, algorithm);
    ctx->save_for_backward({input, weight, kept});
    ctx->saved_data["has_bias"] = defined(bias);
    ctx->saved_data["out_channels"] = out_channels;
    ctx->saved_data["stride"] = stride;
    ctx->saved_data["padding"] = padding;
    ctx->saved_data["dilation"] = dilation;
    ctx->saved_data["groups"] = groups;
    ctx->saved_data["kernel_size"] = kernel_size;
    ctx->saved_data["algorithm"] = algorithm;
    return output;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto& data = ctx->saved_data;
    const auto wanted = wanted_grads(ctx, data.at("has_bias").toBool());
    // Through the backward op's autograd kernel: with create_graph its result gets a node that
    // refuses a second backward, rather than no node (a silent constant).
    const Grads grads = dynamic_conv2d_backward_autograd(
        grad_outputs[0], saved[0], saved[1], data.at("out_channels").toOptional<int64_t>(),
        data.at("stride").toIntVector(), data.at("padding").toIntVector(),
        data.at("dilation").toIntVector(), data.at("groups").toInt(),
        data.at("kernel_size").toOptional<int64_t>(), data.at("algorithm").toStringRef(), wanted,
        saved[2]);
    return with_options(grads, wanted, 7);
  }
};

class DynamicLinearFunction : public torch::autograd::Function<DynamicLinearFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& input,
                            const at::Tensor& weight, const OptTensor& bias,
                            std::optional<int64_t> out_features) {
    ctx->save_for_backward({input, weight});
    ctx->saved_data["has_bias"] = defined(bias);
    ctx->saved_data["out_features"] = out_features;
    return linear_below(input, weight, bias, out_features);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto& data = ctx->saved_data;
    const auto wanted = wanted_grads(ctx, data.at("has_bias").toBool());
    const Grads grads = dynamic_linear_backward_autograd(
        grad_outputs[0], saved[0], saved[1], data.at("out_features").toOptional<int64_t>(), wanted);
    return with_options(grads, wanted, 1);
  }
};

// ---- the Autograd kernels --------------------------------------------------------------------

at::Tensor dynamic_conv2d_autograd(const at::Tensor& input, const at::Tensor& weight,
                                   const OptTensor& bias, std::optional<int64_t> out_channels,
                                   at::IntArrayRef stride, at::IntArrayRef padding,
                                   at::IntArrayRef dilation, int64_t groups,
                                   std::optional<int64_t> kernel_size,
                                   c10::string_view algorithm) {
  if (!records("razor_ext::dynamic_conv2d", {&input, &weight, maybe(bias)})) {
    return conv_below(input, weight, bias, out_channels, stride, padding, dilation, groups,
                      kernel_size, algorithm);
  }
  return DynamicConv2dFunction::apply(input, weight, bias, out_channels, stride.vec(),
                                      padding.vec(), dilation.vec(), groups, kernel_size,
                                      std::string(algorithm));
}

// The internal forward has no gradient: called directly on tensors that require grad it would
// record nothing, so it refuses.
std::tuple<at::Tensor, at::Tensor> dynamic_conv2d_forward_autograd(
    const at::Tensor& input, const at::Tensor& weight, const OptTensor& bias,
    std::optional<int64_t> out_channels, at::IntArrayRef stride, at::IntArrayRef padding,
    at::IntArrayRef dilation, int64_t groups, std::optional<int64_t> kernel_size,
    c10::string_view algorithm) {
  TORCH_CHECK(!records("razor_ext::_dynamic_conv2d_forward", {&input, &weight, maybe(bias)}),
              "razor_ext::_dynamic_conv2d_forward is "
              "the internal forward of dynamic_conv2d and has no gradient; call dynamic_conv2d");
  return conv_forward_below(input, weight, bias, out_channels, stride, padding, dilation, groups,
                            kernel_size, algorithm);
}

at::Tensor dynamic_linear_autograd(const at::Tensor& input, const at::Tensor& weight,
                                   const OptTensor& bias, std::optional<int64_t> out_features) {
  if (!records("razor_ext::dynamic_linear", {&input, &weight, maybe(bias)})) {
    return linear_below(input, weight, bias, out_features);
  }
  return DynamicLinearFunction::apply(input, weight, bias, out_features);
}

}  // namespace

TORCH_LIBRARY_IMPL(razor_ext, Autograd, m) {
  m.impl("dynamic_conv2d", &dynamic_conv2d_autograd);
  m.impl("_dynamic_conv2d_forward", &dynamic_conv2d_forward_autograd);
  m.impl("dynamic_conv2d_backward", &dynamic_conv2d_backward_autograd);
  m.impl("dynamic_linear", &dynamic_linear_autograd);
  m.impl("dynamic_linear_backward", &dynamic_linear_backward_autograd);
}

}  // namespace razor_ext
