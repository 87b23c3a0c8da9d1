// The column matrix of dynamic_conv2d's gemm path for a whole batch, laid out so that one GEMM
// convolves the batch: im2col (N, C, H, W) -> (C*K*K, N*L), sample s in columns [s*L, (s+1)*L),
// L = H_out*W_out; and its adjoint col2im. On the CPU in float32 / float64 they run razor's
// kernels (csrc/cpu/im2col.cpp) over threads; elsewhere at::im2col / at::col2im and a transpose.
#pragma once

#include <ATen/ATen.h>

#include <array>

namespace razor_ext {

// A square kernel's geometry and the output size it gives (dynamic_ops.cpp's ConvPlan has both).
struct ColumnArgs {
  int64_t kernel = 1;
  std::array<int64_t, 2> stride{1, 1}, padding{0, 0}, dilation{1, 1}, out_hw{0, 0};
};

// input (N, C, H, W) -> (C*K*K, N*L).
at::Tensor im2col_batch(const at::Tensor& input, const ColumnArgs& args);

// columns (C*K*K, N*L) -> (N, C, height, width), contiguous. A contiguous float CPU `columns` is
// scratch to it: entries that im2col would fill from the padding may be zeroed.
at::Tensor col2im_batch(const at::Tensor& columns, int64_t samples, int64_t height, int64_t width,
                        const ColumnArgs& args);

}  // namespace razor_ext
