// Autograd for dynamic_conv2d / dynamic_linear, in C++ (as torchvision registers its ops' autograd).
//
// Why not torch.library.register_autograd like the other ops: a dynamic op runs once per layer per
// step, and a Python autograd layer costs ~75 us each way per call, carrying the call from C++
// into Python and back (measured on the 512ch 7x7 layer at batch 1: forward 445 us against 369 us
// straight to the kernel, backward 1027 us against 951 us). Here the forward redispatches below
// autograd and the node calls the *_backward op through the dispatcher, so torch.compile traces
// both ops through their fake impls (razor_ext/ops/dynamic_conv.py) as before.
//
// The *_backward ops get an autograd kernel too, so that differentiating a gradient (create_graph)
// is a clear error when that second backward runs, never a silent zero.
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include <array>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace razor_ext {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;
using Grads = std::tuple<at::Tensor, at::Tensor, at::Tensor>;

using ConvSig = at::Tensor(const at::Tensor&, const at::Tensor&, const std::optional<at::Tensor>&,
                           std::optional<int64_t>, at::IntArrayRef, at::IntArrayRef,
                           at::IntArrayRef, int64_t, std::optional<int64_t>, c10::string_view);
using ConvForwardSig = std::tuple<at::Tensor, at::Tensor>(
    const at::Tensor&, const at::Tensor&, const std::optional<at::Tensor>&, std::optional<int64_t>,
    at::IntArrayRef, at::IntArrayRef, at::IntArrayRef, int64_t, std::optional<int64_t>,
    c10::string_view);
using ConvBackwardSig = Grads(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                              std::optional<int64_t>, at::IntArrayRef, at::IntArrayRef,
                              at::IntArrayRef, int64_t, std::optional<int64_t>, c10::string_view,
                              std::array<bool, 3>, const std::optional<at::Tensor>&);
using LinearSig = at::Tensor(const at::Tensor&, const at::Tensor&, const std::optional<at::Tensor>&,
                             std::optional<int64_t>);
using LinearBackwardSig = Grads(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                std::optional<int64_t>, std::array<bool, 3>);

template <typename Sig>
c10::TypedOperatorHandle<Sig> find_op(const char* name) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, "").typed<Sig>();
}

bool defined(const std::optional<at::Tensor>& t) { return t.has_value() && t->defined(); }

// Whether autograd records this call; when it does not, the forward need not keep anything.
bool records(const at::Tensor& input, const at::Tensor& weight,
             const std::optional<at::Tensor>& bias) {
  return at::GradMode::is_enabled() &&
         (input.requires_grad() || weight.requires_grad() || (defined(bias) && bias->requires_grad()));
}

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

class DynamicConv2dFunction : public torch::autograd::Function<DynamicConv2dFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& input,
                            const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                            std::optional<int64_t> out_channels, std::vector<int64_t> stride,
                            std::vector<int64_t> padding, std::vector<int64_t> dilation,
                            int64_t groups, std::optional<int64_t> kernel_size,
                            std::string algorithm) {
    ctx->saved_data["has_bias"] = defined(bias);
    ctx->saved_data["out_channels"] = out_channels;
    ctx->saved_data["stride"] = stride;
    ctx->saved_data["padding"] = padding;
    ctx->saved_data["dilation"] = dilation;
    ctx->saved_data["groups"] = groups;
    ctx->saved_data["kernel_size"] = kernel_size;
    ctx->saved_data["algorithm"] = algorithm;
    at::AutoDispatchBelowADInplaceOrView below;
    static const auto op = find_op<ConvForwardSig>("razor_ext::_dynamic_conv2d_forward");
    auto [output, kept] = op.call(input, weight, bias, out_channels, stride, padding, dilation,
                                  groups, kernel_size, algorithm);
    ctx->save_for_backward({input, weight, kept});
    return output;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto& data = ctx->saved_data;
    const auto wanted = wanted_grads(ctx, data.at("has_bias").toBool());
    static const auto op = find_op<ConvBackwardSig>("razor_ext::dynamic_conv2d_backward");
    const Grads grads =
        op.call(grad_outputs[0], saved[0], saved[1], data.at("out_channels").toOptional<int64_t>(),
                data.at("stride").toIntVector(), data.at("padding").toIntVector(),
                data.at("dilation").toIntVector(), data.at("groups").toInt(),
                data.at("kernel_size").toOptional<int64_t>(), data.at("algorithm").toStringRef(),
                wanted, saved[2]);
    return with_options(grads, wanted, 7);
  }
};

class DynamicLinearFunction : public torch::autograd::Function<DynamicLinearFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& input,
                            const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                            std::optional<int64_t> out_features) {
    ctx->save_for_backward({input, weight});
    ctx->saved_data["has_bias"] = defined(bias);
    ctx->saved_data["out_features"] = out_features;
    at::AutoDispatchBelowADInplaceOrView below;
    static const auto op = find_op<LinearSig>("razor_ext::dynamic_linear");
    return op.call(input, weight, bias, out_features);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto& data = ctx->saved_data;
    const auto wanted = wanted_grads(ctx, data.at("has_bias").toBool());
    static const auto op = find_op<LinearBackwardSig>("razor_ext::dynamic_linear_backward");
    const Grads grads = op.call(grad_outputs[0], saved[0], saved[1],
                                data.at("out_features").toOptional<int64_t>(), wanted);
    return with_options(grads, wanted, 1);
  }
};

// The gradient of a *_backward op is not provided: its forward redispatches, and its backward,
// which runs only when a gradient is itself differentiated, raises.
constexpr char kConvBackward[] = "razor_ext::dynamic_conv2d_backward";
constexpr char kLinearBackward[] = "razor_ext::dynamic_linear_backward";

variable_list no_double_backward(const char* name) {
  TORCH_CHECK(false, name, ": differentiating the gradient of a dynamic op (double backward, "
              "create_graph=True) is not supported");
  return {};
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
                               const std::optional<at::Tensor>& saved) {
    at::AutoDispatchBelowADInplaceOrView below;
    static const auto op = find_op<ConvBackwardSig>(kConvBackward);
    const auto [gi, gw, gb] = op.call(grad_output, input, weight, out_channels, stride, padding,
                                      dilation, groups, kernel_size, algorithm, output_mask,
                                      saved);
    return {gi, gw, gb};
  }

  static variable_list backward(AutogradContext* /*ctx*/, variable_list /*grads*/) {
    return no_double_backward(kConvBackward);
  }
};

class DynamicLinearBackwardFunction
    : public torch::autograd::Function<DynamicLinearBackwardFunction> {
 public:
  static variable_list forward(AutogradContext* /*ctx*/, const at::Tensor& grad_output,
                               const at::Tensor& input, const at::Tensor& weight,
                               std::optional<int64_t> out_features,
                               std::array<bool, 3> output_mask) {
    at::AutoDispatchBelowADInplaceOrView below;
    static const auto op = find_op<LinearBackwardSig>(kLinearBackward);
    const auto [gi, gw, gb] = op.call(grad_output, input, weight, out_features, output_mask);
    return {gi, gw, gb};
  }

  static variable_list backward(AutogradContext* /*ctx*/, variable_list /*grads*/) {
    return no_double_backward(kLinearBackward);
  }
};

Grads as_grads(const variable_list& v) { return {v[0], v[1], v[2]}; }

at::Tensor dynamic_conv2d_autograd(const at::Tensor& input, const at::Tensor& weight,
                                   const std::optional<at::Tensor>& bias,
                                   std::optional<int64_t> out_channels, at::IntArrayRef stride,
                                   at::IntArrayRef padding, at::IntArrayRef dilation,
                                   int64_t groups, std::optional<int64_t> kernel_size,
                                   c10::string_view algorithm) {
  if (!records(input, weight, bias)) {
    at::AutoDispatchBelowADInplaceOrView below;
    static const auto op = find_op<ConvSig>("razor_ext::dynamic_conv2d");
    return op.call(input, weight, bias, out_channels, stride, padding, dilation, groups,
                   kernel_size, algorithm);
  }
  return DynamicConv2dFunction::apply(input, weight, bias, out_channels, stride.vec(),
                                      padding.vec(), dilation.vec(), groups, kernel_size,
                                      std::string(algorithm));
}

// The internal forward of dynamic_conv2d's autograd runs below autograd; called directly on
// tensors that require grad it would record nothing, so it refuses.
std::tuple<at::Tensor, at::Tensor> dynamic_conv2d_forward_autograd(
    const at::Tensor& input, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
    std::optional<int64_t> out_channels, at::IntArrayRef stride, at::IntArrayRef padding,
    at::IntArrayRef dilation, int64_t groups, std::optional<int64_t> kernel_size,
    c10::string_view algorithm) {
  TORCH_CHECK(!records(input, weight, bias), "razor_ext::_dynamic_conv2d_forward is the internal "
              "forward of dynamic_conv2d and has no gradient; call dynamic_conv2d");
  at::AutoDispatchBelowADInplaceOrView below;
  static const auto op = find_op<ConvForwardSig>("razor_ext::_dynamic_conv2d_forward");
  return op.call(input, weight, bias, out_channels, stride, padding, dilation, groups,
                 kernel_size, algorithm);
}

Grads dynamic_conv2d_backward_autograd(const at::Tensor& grad_output, const at::Tensor& input,
                                       const at::Tensor& weight,
                                       std::optional<int64_t> out_channels,
                                       at::IntArrayRef stride, at::IntArrayRef padding,
                                       at::IntArrayRef dilation, int64_t groups,
                                       std::optional<int64_t> kernel_size,
                                       c10::string_view algorithm,
                                       std::array<bool, 3> output_mask,
                                       const std::optional<at::Tensor>& saved) {
  return as_grads(DynamicConv2dBackwardFunction::apply(
      grad_output, input, weight, out_channels, stride.vec(), padding.vec(), dilation.vec(),
      groups, kernel_size, std::string(algorithm), output_mask, saved));
}

at::Tensor dynamic_linear_autograd(const at::Tensor& input, const at::Tensor& weight,
                                   const std::optional<at::Tensor>& bias,
                                   std::optional<int64_t> out_features) {
  return DynamicLinearFunction::apply(input, weight, bias, out_features);
}

Grads dynamic_linear_backward_autograd(const at::Tensor& grad_output, const at::Tensor& input,
                                       const at::Tensor& weight,
                                       std::optional<int64_t> out_features,
                                       std::array<bool, 3> output_mask) {
  return as_grads(DynamicLinearBackwardFunction::apply(grad_output, input, weight, out_features,
                                                       output_mask));
}

}  // namespace

TORCH_LIBRARY_IMPL(razor_ext, Autograd, m) {
  m.impl("dynamic_conv2d", &dynamic_conv2d_autograd);
  m.impl("dynamic_conv2d_backward", &dynamic_conv2d_backward_autograd);
  m.impl("_dynamic_conv2d_forward", &dynamic_conv2d_forward_autograd);
  m.impl("dynamic_linear", &dynamic_linear_autograd);
  m.impl("dynamic_linear_backward", &dynamic_linear_backward_autograd);
}

}  // namespace razor_ext
