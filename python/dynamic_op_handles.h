// Typed dispatcher handles of the dynamic ops (defined in python/dynamic_ops.cpp), for the kernels
// that call them again from another dispatch key: autograd (dynamic_autograd.cpp) and autocast
// (dynamic_autocast.cpp).
#pragma once

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include <array>
#include <optional>
#include <tuple>

namespace razor_ext {
namespace dynamic_ops {

using OptTensor = std::optional<at::Tensor>;
using Grads = std::tuple<at::Tensor, at::Tensor, at::Tensor>;

using ConvSig = at::Tensor(const at::Tensor&, const at::Tensor&, const OptTensor&,
                           std::optional<int64_t>, at::IntArrayRef, at::IntArrayRef,
                           at::IntArrayRef, int64_t, std::optional<int64_t>, c10::string_view);
using ConvForwardSig = std::tuple<at::Tensor, at::Tensor>(
    const at::Tensor&, const at::Tensor&, const OptTensor&, std::optional<int64_t>,
    at::IntArrayRef, at::IntArrayRef, at::IntArrayRef, int64_t, std::optional<int64_t>,
    c10::string_view);
using ConvBackwardSig = Grads(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                              std::optional<int64_t>, at::IntArrayRef, at::IntArrayRef,
                              at::IntArrayRef, int64_t, std::optional<int64_t>, c10::string_view,
                              std::array<bool, 3>, const OptTensor&);
using LinearSig = at::Tensor(const at::Tensor&, const at::Tensor&, const OptTensor&,
                             std::optional<int64_t>);
using LinearBackwardSig = Grads(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                std::optional<int64_t>, std::array<bool, 3>);

template <typename Sig>
c10::TypedOperatorHandle<Sig> find_op(const char* name) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, "").typed<Sig>();
}

inline const c10::TypedOperatorHandle<ConvSig>& conv2d() {
  static const auto op = find_op<ConvSig>("razor_ext::dynamic_conv2d");
  return op;
}

inline const c10::TypedOperatorHandle<ConvForwardSig>& conv2d_forward() {
  static const auto op = find_op<ConvForwardSig>("razor_ext::_dynamic_conv2d_forward");
  return op;
}

inline const c10::TypedOperatorHandle<ConvBackwardSig>& conv2d_backward() {
  static const auto op = find_op<ConvBackwardSig>("razor_ext::dynamic_conv2d_backward");
  return op;
}

inline const c10::TypedOperatorHandle<LinearSig>& linear() {
  static const auto op = find_op<LinearSig>("razor_ext::dynamic_linear");
  return op;
}

inline const c10::TypedOperatorHandle<LinearBackwardSig>& linear_backward() {
  static const auto op = find_op<LinearBackwardSig>("razor_ext::dynamic_linear_backward");
  return op;
}

}  // namespace dynamic_ops
}  // namespace razor_ext
