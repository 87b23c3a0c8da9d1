// dynamic_conv2d / dynamic_linear: run the active sub-weight of a supernet layer (leading output and
// input channels, a centred kernel crop) without copying it out of the full weight first, and give
// the full weight its gradient (zeros outside the active block).
//
// Composed of ATen calls and razor's im2col / col2im (conv_columns.h, ATen's on other devices), so
// the same code serves every device (registered for CPU and CUDA below; CUDA is not measured). Two
// paths, chosen by shape (see choose_path):
//   gemm: im2col of the active input, the batch's columns side by side, and one GEMM with the
//         weight sub-block read in place through its leading-dimension stride (a (O, I*K*K)
//         matrix's rows [:o], columns [:i*K*K]); backward GEMMs write the weight gradient straight
//         into the full gradient's sub-block. 1x1 kernels skip im2col: one batched GEMM.
//   conv: at::convolution on the strided sub-weight view (the backend packs it as it would a
//         contiguous weight); backward embeds the sub-block gradient into the full one.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "block_grad.h"
#include "conv_columns.h"

namespace razor_ext {
namespace {

using Grads = std::tuple<at::Tensor, at::Tensor, at::Tensor>;

// Path choice, from measurements of forward + backward with autograd on ResNet-50-like layers at
// 50% width against the static conv of the sub-shape (Intel Xeon AVX-512, 2 threads;
// benchmarks/test_bench_dynamic_conv.py, RESULTS.md):
// - a k x k kernel (k > 1) pays off on gemm while a call has few output pixels (N * H_out *
//   W_out): 49 columns (512ch 7x7, batch 1) 1.00x against 1.34x on conv, 98 (batch 2) 1.05x
//   against 1.26x, 196 (256ch 14x14, batch 1) 0.95x against 1.20x. At 392 (512ch 7x7, batch 8)
//   the two tie when the roles run back to back, but in the benchmark's round robin, where other
//   work runs between calls, gemm measured 1.17-1.19x against conv's 1.11-1.13x; at 588 and
//   784 the conv path wins outright. MKL's GEMM, which needs im2col and col2im around it, loses to
//   the backend's conv once a call has a few hundred columns;
// - a 1x1 stride-1 kernel needs no im2col, and its GEMMs beat the backend's 1x1 conv from batch 1
//   to 32 on 64ch 56x56 (0.58x-1.34x of the static conv, against 1.05x-1.48x on conv).
constexpr int64_t kGemmMaxColumns = 200;

void check_float(const char* op, const char* name, const at::Tensor& t) {
  TORCH_CHECK_TYPE(t.layout() == at::kStrided, op, ": ", name, " must be a dense (strided) tensor");
  const auto dtype = t.scalar_type();
  TORCH_CHECK_TYPE(dtype == at::kFloat || dtype == at::kDouble || dtype == at::kBFloat16 ||
                       dtype == at::kHalf,
                   op, ": ", name, " must be float32, float64, bfloat16 or float16, got ", dtype);
}

void check_like(const char* op, const char* name, const at::Tensor& t, const at::Tensor& input) {
  check_float(op, name, t);
  TORCH_CHECK_TYPE(t.scalar_type() == input.scalar_type(), op, ": ", name, " has dtype ",
                   t.scalar_type(), " but input has ", input.scalar_type());
  TORCH_CHECK_VALUE(t.device() == input.device(), op, ": ", name, " is on ", t.device(),
                    " but input is on ", input.device());
}

// ---- conv ------------------------------------------------------------------------------------

struct ConvPlan {
  int64_t O = 0, I = 0, K = 0;  // full weight: (O, I, K, K)
  int64_t o = 0, i = 0, k = 0;  // active out / in channels, active kernel
  int64_t k0 = 0;               // first row/column of the centred kernel crop
  int64_t groups = 1;           // 1, or i (depthwise: weight[:i, :1])
  std::array<int64_t, 2> stride{}, padding{}, dilation{}, out_hw{};
  bool full_kernel() const { return k == K; }
};

std::array<int64_t, 2> pair(const char* op, const char* name, at::IntArrayRef v, int64_t least) {
  TORCH_CHECK_VALUE(v.size() == 2, op, ": ", name, " must have 2 values, got ", v.size());
  for (int64_t x : v) {
    TORCH_CHECK_VALUE(x >= least, op, ": ", name, " must be 2 values >= ", least, ", got ", v);
  }
  return {v[0], v[1]};
}

ConvPlan plan_conv(const at::Tensor& input, const at::Tensor& weight,
                   const std::optional<at::Tensor>& bias, std::optional<int64_t> out_channels,
                   at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation,
                   int64_t groups, std::optional<int64_t> kernel_size) {
  constexpr const char* op = "dynamic_conv2d";
  check_float(op, "input", input);
  check_like(op, "weight", weight, input);
  TORCH_CHECK_VALUE(input.dim() == 4, op, ": input must be 4-D (N, C, H, W), got ", input.dim(),
                    "-D");
  TORCH_CHECK_VALUE(weight.dim() == 4 && weight.size(2) == weight.size(3), op,
                    ": weight must be 4-D (O, I/groups, K, K) with a square kernel, got shape ",
                    weight.sizes());
  ConvPlan p;
  p.O = weight.size(0);
  p.I = weight.size(1);
  p.K = weight.size(2);
  p.i = input.size(1);
  TORCH_CHECK_VALUE(p.i >= 1, op, ": input must have at least 1 channel");
  if (bias.has_value()) {
    check_like(op, "bias", *bias, input);
    TORCH_CHECK_VALUE(bias->dim() == 1 && bias->size(0) == p.O, op, ": bias must have shape (",
                      p.O, ",) to match weight, got ", bias->sizes());
  }
  if (groups == 1) {
    TORCH_CHECK_VALUE(p.i <= p.I, op, ": input has ", p.i, " channels but weight has only ", p.I,
                      " input channels");
    p.o = out_channels.value_or(p.O);
  } else {
    TORCH_CHECK_VALUE(groups == p.i, op, ": groups must be 1 or equal to input channels (",
                      p.i, ", depthwise), got ", groups);
    TORCH_CHECK_VALUE(p.I == 1, op, ": a depthwise call needs weight of shape (O, 1, K, K), got ",
                      weight.sizes());
    TORCH_CHECK_VALUE(p.i <= p.O, op, ": input has ", p.i, " channels but depthwise weight has only ",
                      p.O);
    p.o = out_channels.value_or(p.i);
    TORCH_CHECK_VALUE(p.o == p.i, op, ": depthwise out_channels must equal input channels (", p.i,
                      "), got ", p.o);
    p.groups = groups;
  }
  TORCH_CHECK_VALUE(p.o >= 1 && p.o <= p.O, op, ": out_channels must be in [1, ", p.O,
                    "] (weight rows), got ", p.o);
  p.k = kernel_size.value_or(p.K);
  TORCH_CHECK_VALUE(p.k >= 1 && p.k <= p.K, op, ": kernel_size must be in [1, ", p.K,
                    "] (weight's kernel), got ", p.k);
  TORCH_CHECK_VALUE(p.k == p.K || (p.k % 2 == 1 && p.K % 2 == 1), op,
                    ": a centre-cropped kernel_size must be odd, as the weight's kernel (", p.K,
                    "), got ", p.k);
  p.k0 = (p.K - p.k) / 2;
  p.stride = pair(op, "stride", stride, 1);
  p.padding = pair(op, "padding", padding, 0);
  p.dilation = pair(op, "dilation", dilation, 1);
  for (int d = 0; d < 2; ++d) {
    const int64_t extent = p.dilation[d] * (p.k - 1) + 1;
    const int64_t padded = input.size(2 + d) + 2 * p.padding[d];
    TORCH_CHECK_VALUE(padded >= extent, op, ": input ", input.sizes(), " padded by ", padding,
                      " is smaller than the dilated kernel (", extent, ")");
    p.out_hw[d] = (padded - extent) / p.stride[d] + 1;
  }
  return p;
}

at::Tensor active_weight(const at::Tensor& weight, const ConvPlan& p) {
  return weight.narrow(0, 0, p.o)
      .narrow(1, 0, p.groups == 1 ? p.i : 1)
      .narrow(2, p.k0, p.k)
      .narrow(3, p.k0, p.k);
}

// The (o, i*K*K) sub-matrix of the weight seen as (O, I*K*K): no copy.
at::Tensor weight_matrix(const at::Tensor& weight, const ConvPlan& p) {
  const int64_t kk = p.K * p.K;
  return weight.view({p.O, p.I * kk}).narrow(0, 0, p.o).narrow(1, 0, p.i * kk);
}

bool pointwise(const ConvPlan& p) {
  return p.K == 1 && p.stride[0] == 1 && p.stride[1] == 1 && p.padding[0] == 0 &&
         p.padding[1] == 0;
}

enum class Path { kGemm, kConv };

Path choose_path(c10::string_view algorithm, const at::Tensor& input, const at::Tensor& weight,
                 const ConvPlan& p) {
  const bool gemm_ok = p.groups == 1 && p.full_kernel() && weight.is_contiguous();
  if (algorithm == "conv") return Path::kConv;
  if (algorithm == "gemm") {
    TORCH_CHECK_VALUE(gemm_ok, "dynamic_conv2d: algorithm 'gemm' needs groups=1, the full kernel "
                      "and a contiguous weight");
    return Path::kGemm;
  }
  TORCH_CHECK_VALUE(algorithm == "auto", "dynamic_conv2d: algorithm must be 'auto', 'gemm' or "
                    "'conv', got '", std::string(algorithm), "'");
  // All input channels and the full kernel: weight[:o] is contiguous, the static conv itself.
  // bfloat16 / float16 (autocast): the backend's conv accumulates in float32, col2im would not.
  const bool full_precision =
      input.scalar_type() == at::kFloat || input.scalar_type() == at::kDouble;
  if (!gemm_ok || p.i == p.I || !full_precision) return Path::kConv;
  if (pointwise(p)) return Path::kGemm;
  return input.size(0) * p.out_hw[0] * p.out_hw[1] <= kGemmMaxColumns ? Path::kGemm : Path::kConv;
}

// im2col of the whole batch (N, C, H, W) -> (C*K*K, N*L). (1x1 stride-1 kernels need none: the
// input is its own column matrix.)
ColumnArgs column_args(const ConvPlan& p) {
  return {p.K, p.stride, p.padding, p.dilation, p.out_hw};
}

at::Tensor columns(const at::Tensor& x, const ConvPlan& p) {
  return im2col_batch(x, column_args(p));
}

// What a forward keeps for its backward (the second output of _dynamic_conv2d_forward; the fake
// impl in razor_ext/ops/dynamic_conv.py, kept_shape, gives the same shapes):
//   gemm path, k x k kernel: the im2col columns (i*K*K, N*L), so the backward does not redo them;
//   conv path, active weight not contiguous in place: its contiguous copy (o, i or 1, k, k), which
//   the backward hands to the backend instead of copying the block again;
//   otherwise nothing, a (0,) tensor.
struct Forward {
  at::Tensor output, kept;
};

// Weight-gradient partial products of a 1x1 conv are held for at most this many values at a time.
constexpr int64_t kPointwiseGradValues = int64_t{1} << 22;

// (o, N*L) with sample s in columns [s*L, (s+1)*L), the GEMM's layout -> (N, o, L), and back.
// Batch 1 needs no copy.
at::Tensor samples_first(const at::Tensor& m, int64_t n) {
  return m.view({m.size(0), n, m.size(1) / n}).transpose(0, 1);
}

at::Tensor channels_first(const at::Tensor& g3) {
  return g3.size(0) == 1 ? g3.view({g3.size(1), g3.size(2)})
                         : g3.transpose(0, 1).reshape({g3.size(1), g3.size(0) * g3.size(2)});
}

Forward conv_forward_gemm(const at::Tensor& input, const at::Tensor& weight,
                          const std::optional<at::Tensor>& bias, const ConvPlan& p) {
  const at::Tensor x = input.contiguous();
  const int64_t n = x.size(0), cols = p.out_hw[0] * p.out_hw[1];
  at::Tensor out = at::empty({n, p.o, p.out_hw[0], p.out_hw[1]}, x.options());
  const at::Tensor w = weight_matrix(weight, p);
  at::Tensor out3 = out.view({n, p.o, cols});
  at::Tensor kept = x.new_empty({0});
  if (pointwise(p)) {
    // The input is its own column matrix, sample by sample: one batched GEMM (the weight
    // broadcast with a zero batch stride), one parallel region instead of one per sample.
    at::bmm_out(out3, w.expand({n, w.size(0), w.size(1)}), x.view({n, p.i, cols}));
  } else {
    // The batch's columns side by side: one GEMM (o, i*K*K) x (i*K*K, N*L) for the whole batch,
    // far faster than N small ones.
    kept = columns(x, p);
    if (n == 1) {
      at::Tensor out2 = out.view({p.o, cols});
      at::mm_out(out2, w, kept);
    } else {
      out3.copy_(samples_first(at::mm(w, kept), n));
    }
  }
  if (bias.has_value()) out3.add_(bias->narrow(0, 0, p.o).view({1, p.o, 1}));
  return {out, kept};
}

Forward conv_forward_conv(const at::Tensor& input, const at::Tensor& weight,
                          const std::optional<at::Tensor>& bias, const ConvPlan& p) {
  std::optional<at::Tensor> b;
  if (bias.has_value()) b = bias->narrow(0, 0, p.o);
  const at::Tensor view = active_weight(weight, p);
  // The backend would copy a strided view itself (oneDNN packs from a contiguous weight); copying
  // here lets the backward reuse the copy.
  const at::Tensor block = view.is_contiguous() ? view : view.contiguous();
  // Contiguous whatever the backend picked (channels-last input gives a channels-last output):
  // the fake impl promises contiguous outputs to torch.compile.
  at::Tensor out = at::convolution(input, block, b, p.stride, p.padding, p.dilation, false, {0, 0},
                                   p.groups)
                       .contiguous();
  return {out, view.is_contiguous() ? input.new_empty({0}) : block};
}

Forward conv_forward(const at::Tensor& input, const at::Tensor& weight,
                     const std::optional<at::Tensor>& bias, std::optional<int64_t> out_channels,
                     at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation,
                     int64_t groups, std::optional<int64_t> kernel_size,
                     c10::string_view algorithm) {
  const ConvPlan p = plan_conv(input, weight, bias, out_channels, stride, padding, dilation, groups,
                               kernel_size);
  const Path path = choose_path(algorithm, input, weight, p);
  if (input.size(0) == 0) {
    return {input.new_empty({0, p.o, p.out_hw[0], p.out_hw[1]}), input.new_empty({0})};
  }
  return path == Path::kGemm ? conv_forward_gemm(input, weight, bias, p)
                             : conv_forward_conv(input, weight, bias, p);
}

at::Tensor dynamic_conv2d(const at::Tensor& input, const at::Tensor& weight,
                          const std::optional<at::Tensor>& bias, std::optional<int64_t> out_channels,
                          at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation,
                          int64_t groups, std::optional<int64_t> kernel_size,
                          c10::string_view algorithm) {
  return conv_forward(input, weight, bias, out_channels, stride, padding, dilation, groups,
                      kernel_size, algorithm)
      .output;
}

std::tuple<at::Tensor, at::Tensor> dynamic_conv2d_forward(
    const at::Tensor& input, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
    std::optional<int64_t> out_channels, at::IntArrayRef stride, at::IntArrayRef padding,
    at::IntArrayRef dilation, int64_t groups, std::optional<int64_t> kernel_size,
    c10::string_view algorithm) {
  Forward f = conv_forward(input, weight, bias, out_channels, stride, padding, dilation, groups,
                           kernel_size, algorithm);
  return {f.output, f.kept};
}

// The columns of a full-kernel active block in the weight seen as (O, I*K*K).
int64_t block_columns(const ConvPlan& p) { return (p.groups == 1 ? p.i : 1) * p.K * p.K; }

at::Tensor full_bias_grad(const at::Tensor& grad_out, const ConvPlan& p) {
  at::Tensor g = at::zeros({p.O}, grad_out.options());
  at::Tensor block = g.narrow(0, 0, p.o);
  at::sum_out(block, grad_out, {0, 2, 3});
  return g;
}

Grads conv_backward_gemm(const at::Tensor& grad_out, const at::Tensor& input,
                         const at::Tensor& weight, const at::Tensor& kept, const ConvPlan& p,
                         std::array<bool, 3> mask) {
  const at::Tensor x = input.contiguous();
  const int64_t n = x.size(0), cols = p.out_hw[0] * p.out_hw[1];
  const at::Tensor g3 = grad_out.contiguous().view({n, p.o, cols});
  const at::Tensor w = weight_matrix(weight, p);
  // k x k kernels: the gradient in the GEMMs' (o, N*L) layout, shared by both products.
  const at::Tensor g2 = pointwise(p) ? at::Tensor() : channels_first(g3);
  at::Tensor grad_input, grad_weight, grad_bias;
  if (mask[0]) {
    if (pointwise(p)) {
      const at::Tensor wt = w.t();
      grad_input = at::bmm(wt.expand({n, wt.size(0), wt.size(1)}), g3).view(x.sizes());
    } else {
      grad_input = col2im_batch(at::mm(w.t(), g2), n, x.size(2), x.size(3), column_args(p));
    }
  }
  if (mask[1]) {
    grad_weight = at::empty(weight.sizes(), weight.options());
    at::Tensor gw = weight_matrix(grad_weight, p);
    const at::Tensor c = pointwise(p) ? x.view({n, p.i, cols})
                         : kept.numel() > 0 ? kept
                                            : columns(x, p);
    if (pointwise(p)) {
      // sum_s g[s] @ x[s]^T, a batched GEMM per chunk of samples, summed into the block.
      const int64_t chunk = std::max<int64_t>(1, kPointwiseGradValues / (p.o * p.i));
      for (int64_t s = 0; s < n; s += chunk) {
        const int64_t len = std::min(chunk, n - s);
        const at::Tensor part =
            at::bmm(g3.narrow(0, s, len), c.narrow(0, s, len).transpose(1, 2)).sum(0);
        if (s == 0) {
          gw.copy_(part);
        } else {
          gw.add_(part);
        }
      }
    } else {
      // One GEMM over the batch, (o, N*L) x (N*L, i*K*K), written straight into the full
      // gradient's block.
      at::mm_out(gw, g2, c.t());
    }
    zero_outside_block(grad_weight, p.o, block_columns(p));
  }
  if (mask[2]) grad_bias = full_bias_grad(grad_out, p);
  return {grad_input, grad_weight, grad_bias};
}

Grads conv_backward_conv(const at::Tensor& grad_out, const at::Tensor& input,
                         const at::Tensor& weight, const at::Tensor& kept, const ConvPlan& p,
                         std::array<bool, 3> mask) {
  auto [grad_input, gw, gb] = at::convolution_backward(
      grad_out, input, kept.numel() > 0 ? kept : active_weight(weight, p), std::nullopt,
      p.stride, p.padding, p.dilation, false, {0, 0}, p.groups, {mask[0], mask[1], false});
  at::Tensor grad_weight, grad_bias;
  if (mask[0]) grad_input = grad_input.contiguous();
  if (mask[1]) {
    if (p.full_kernel()) {
      grad_weight = embed_block(gw, weight, p.o, block_columns(p));
    } else {
      // A cropped kernel's block is not one run per row; it is small, so zeros + copy_.
      grad_weight = at::zeros(weight.sizes(), weight.options());
      active_weight(grad_weight, p).copy_(gw);
    }
  }
  if (mask[2]) grad_bias = full_bias_grad(grad_out, p);
  return {grad_input, grad_weight, grad_bias};
}

// The shape of what the forward keeps (see Forward).
std::vector<int64_t> kept_shape(const at::Tensor& input, const at::Tensor& weight, const ConvPlan& p,
                                Path path) {
  if (input.size(0) == 0) return {0};
  if (path == Path::kGemm) {
    if (pointwise(p)) return {0};
    return {p.i * p.K * p.K, input.size(0) * p.out_hw[0] * p.out_hw[1]};
  }
  if (active_weight(weight, p).is_contiguous()) return {0};
  return {p.o, p.groups == 1 ? p.i : 1, p.k, p.k};
}

// Gradients for (input, full weight, full bias); one not asked for in output_mask is an empty
// (0,) tensor (the schema has no optional outputs). `saved` is the second output of
// _dynamic_conv2d_forward for the same arguments, or None to recompute it.
Grads dynamic_conv2d_backward(const at::Tensor& grad_output, const at::Tensor& input,
                              const at::Tensor& weight, std::optional<int64_t> out_channels,
                              at::IntArrayRef stride, at::IntArrayRef padding,
                              at::IntArrayRef dilation, int64_t groups,
                              std::optional<int64_t> kernel_size, c10::string_view algorithm,
                              std::array<bool, 3> output_mask,
                              const std::optional<at::Tensor>& saved) {
  constexpr const char* op = "dynamic_conv2d_backward";
  const ConvPlan p = plan_conv(input, weight, std::nullopt, out_channels, stride, padding,
                               dilation, groups, kernel_size);
  check_like(op, "grad_output", grad_output, input);
  const std::vector<int64_t> out_shape{input.size(0), p.o, p.out_hw[0], p.out_hw[1]};
  TORCH_CHECK_VALUE(grad_output.sizes() == at::IntArrayRef(out_shape), op,
                    ": grad_output must have the output's shape ", out_shape, ", got ",
                    grad_output.sizes());
  const Path path = choose_path(algorithm, input, weight, p);
  at::Tensor kept = input.new_empty({0});
  if (saved.has_value() && saved->defined()) {
    check_like(op, "saved", *saved, input);
    const std::vector<int64_t> expected = kept_shape(input, weight, p, path);
    TORCH_CHECK_VALUE(saved->sizes() == at::IntArrayRef(expected), op, ": saved must be what "
                      "_dynamic_conv2d_forward kept for these arguments, of shape ", expected,
                      ", got ", saved->sizes());
    kept = *saved;
  }
  Grads grads;
  if (input.size(0) == 0) {
    auto& [gi, gw, gb] = grads;
    if (output_mask[0]) gi = at::zeros_like(input);
    if (output_mask[1]) gw = at::zeros_like(weight);
    if (output_mask[2]) gb = at::zeros({p.O}, input.options());
  } else if (path == Path::kGemm) {
    grads = conv_backward_gemm(grad_output, input, weight, kept, p, output_mask);
  } else {
    grads = conv_backward_conv(grad_output, input, weight, kept, p, output_mask);
  }
  auto& [gi, gw, gb] = grads;
  for (at::Tensor* t : {&gi, &gw, &gb}) {
    if (!t->defined()) *t = input.new_empty({0});
  }
  return grads;
}

// ---- linear ----------------------------------------------------------------------------------

struct LinearPlan {
  int64_t O = 0, I = 0, o = 0, i = 0;
};

LinearPlan plan_linear(const at::Tensor& input, const at::Tensor& weight,
                       const std::optional<at::Tensor>& bias, std::optional<int64_t> out_features) {
  constexpr const char* op = "dynamic_linear";
  check_float(op, "input", input);
  check_like(op, "weight", weight, input);
  TORCH_CHECK_VALUE(input.dim() >= 1, op, ": input must have at least 1 dim (..., in_features)");
  TORCH_CHECK_VALUE(weight.dim() == 2, op, ": weight must be 2-D (out_features, in_features), got ",
                    weight.sizes());
  LinearPlan p{weight.size(0), weight.size(1), 0, input.size(-1)};
  TORCH_CHECK_VALUE(p.i >= 1 && p.i <= p.I, op, ": input has ", p.i,
                    " features but weight has in_features ", p.I, " (need 1..", p.I, ")");
  p.o = out_features.value_or(p.O);
  TORCH_CHECK_VALUE(p.o >= 1 && p.o <= p.O, op, ": out_features must be in [1, ", p.O,
                    "] (weight rows), got ", p.o);
  if (bias.has_value()) {
    check_like(op, "bias", *bias, input);
    TORCH_CHECK_VALUE(bias->dim() == 1 && bias->size(0) == p.O, op, ": bias must have shape (",
                      p.O, ",) to match weight, got ", bias->sizes());
  }
  return p;
}

std::vector<int64_t> with_last(at::IntArrayRef shape, int64_t last) {
  std::vector<int64_t> out(shape.begin(), shape.end());
  out.back() = last;
  return out;
}

at::Tensor dynamic_linear(const at::Tensor& input, const at::Tensor& weight,
                          const std::optional<at::Tensor>& bias,
                          std::optional<int64_t> out_features) {
  const LinearPlan p = plan_linear(input, weight, bias, out_features);
  // weight[:o, :i].t() has strides (1, I): BLAS reads it in place as a transposed matrix.
  const at::Tensor wt = weight.narrow(0, 0, p.o).narrow(1, 0, p.i).t();
  const at::Tensor x = input.reshape({-1, p.i});
  const at::Tensor y = bias.has_value() ? at::addmm(bias->narrow(0, 0, p.o), x, wt) : at::mm(x, wt);
  return y.view(with_last(input.sizes(), p.o));
}

Grads dynamic_linear_backward(const at::Tensor& grad_output, const at::Tensor& input,
                              const at::Tensor& weight, std::optional<int64_t> out_features,
                              std::array<bool, 3> output_mask) {
  constexpr const char* op = "dynamic_linear_backward";
  const LinearPlan p = plan_linear(input, weight, std::nullopt, out_features);
  check_like(op, "grad_output", grad_output, input);
  TORCH_CHECK_VALUE(grad_output.sizes() == at::IntArrayRef(with_last(input.sizes(), p.o)), op,
                    ": grad_output must have the output's shape, got ", grad_output.sizes());
  const at::Tensor g = grad_output.reshape({-1, p.o});
  const at::Tensor w = weight.narrow(0, 0, p.o).narrow(1, 0, p.i);
  at::Tensor gi, gw, gb;
  if (output_mask[0]) gi = at::mm(g, w).view(input.sizes());
  if (output_mask[1]) {
    gw = at::empty(weight.sizes(), weight.options());
    at::Tensor block = gw.narrow(0, 0, p.o).narrow(1, 0, p.i);
    at::mm_out(block, g.t(), input.reshape({-1, p.i}));
    zero_outside_block(gw, p.o, p.i);
  }
  if (output_mask[2]) {
    gb = at::zeros({p.O}, grad_output.options());
    at::Tensor block = gb.narrow(0, 0, p.o);
    at::sum_out(block, g, {0});
  }
  for (at::Tensor* t : {&gi, &gw, &gb}) {
    if (!t->defined()) *t = input.new_empty({0});
  }
  return {gi, gw, gb};
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(razor_ext, m) {
  m.def(
      "dynamic_conv2d(Tensor input, Tensor weight, Tensor? bias, int? out_channels, int[2] stride, "
      "int[2] padding, int[2] dilation, int groups, int? kernel_size, str algorithm) -> Tensor");
  m.def(
      "dynamic_conv2d_backward(Tensor grad_output, Tensor input, Tensor weight, int? out_channels, "
      "int[2] stride, int[2] padding, int[2] dilation, int groups, int? kernel_size, "
      "str algorithm, bool[3] output_mask, Tensor? saved=None) -> (Tensor, Tensor, Tensor)");
  // dynamic_conv2d for autograd: the output and what the backward reuses (see Forward).
  m.def(
      "_dynamic_conv2d_forward(Tensor input, Tensor weight, Tensor? bias, int? out_channels, "
      "int[2] stride, int[2] padding, int[2] dilation, int groups, int? kernel_size, "
      "str algorithm) -> (Tensor, Tensor)");
  m.def("dynamic_linear(Tensor input, Tensor weight, Tensor? bias, int? out_features) -> Tensor");
  m.def(
      "dynamic_linear_backward(Tensor grad_output, Tensor input, Tensor weight, int? out_features, "
      "bool[3] output_mask) -> (Tensor, Tensor, Tensor)");
}

// Pure ATen: the same functions serve both devices (registering the CUDA key needs no CUDA build).
TORCH_LIBRARY_IMPL(razor_ext, CPU, m) {
  m.impl("dynamic_conv2d", &dynamic_conv2d);
  m.impl("dynamic_conv2d_backward", &dynamic_conv2d_backward);
  m.impl("_dynamic_conv2d_forward", &dynamic_conv2d_forward);
  m.impl("dynamic_linear", &dynamic_linear);
  m.impl("dynamic_linear_backward", &dynamic_linear_backward);
}

TORCH_LIBRARY_IMPL(razor_ext, CUDA, m) {
  m.impl("dynamic_conv2d", &dynamic_conv2d);
  m.impl("dynamic_conv2d_backward", &dynamic_conv2d_backward);
  m.impl("_dynamic_conv2d_forward", &dynamic_conv2d_forward);
  m.impl("dynamic_linear", &dynamic_linear);
  m.impl("dynamic_linear_backward", &dynamic_linear_backward);
}

}  // namespace razor_ext
