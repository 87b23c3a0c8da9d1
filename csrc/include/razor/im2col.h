// im2col / col2im, the column matrix of a K x K convolution: row r = (c * K + kh) * K + kw holds,
// for every output pixel (oh, ow), the input value the kernel tap (kh, kw) of channel c reads
// there (0 in the padding). A GEMM with the weight seen as (O, C*K*K) is then the convolution
// (dynamic_conv2d's gemm path, docs/dynamic_kernels.md).
//
// ATen has both (at::im2col / at::col2im), but its CPU loops are serial within a sample and test
// every element's bounds: on ResNet-50's 7x7 and 14x14 layers at batch 1 they cost as much as a
// GEMM. These split rows (im2col) or channels (col2im) among threads, compute each tap's bounds
// once per call, and move a row's in-bounds run (in stride-1 same-width geometries, a tap's
// whole span of rows) in one piece.
#pragma once

#include <cstdint>

namespace razor {

// A batch of `samples` inputs (samples, channels, height, width), contiguous, and a square
// kernel's geometry. The batch's column matrix is (rows(), samples * columns()), contiguous:
// sample s's columns of row r are [s * columns(), (s + 1) * columns()), so one GEMM with the
// weight seen as (O, rows()) convolves the whole batch.
struct ColumnGeometry {
  int64_t samples = 1;
  int64_t channels = 0, height = 0, width = 0;
  int64_t kernel = 1;
  int64_t pad_h = 0, pad_w = 0, stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
  int64_t out_h = 0, out_w = 0;  // (height + 2 * pad_h - dilation_h * (kernel - 1) - 1) / stride_h + 1

  int64_t rows() const { return channels * kernel * kernel; }
  int64_t columns() const { return out_h * out_w; }  // per sample
  int64_t row_stride() const { return samples * columns(); }
};

namespace cpu {

// Rows [row_begin, row_end) of the batch `x`'s column matrix `cols`, every sample's part.
// T: float or double.
template <typename T>
void im2col_rows(const T* x, T* cols, const ColumnGeometry& g, int64_t row_begin, int64_t row_end);

// Channels [c_begin, c_end) of every sample of `x` set to the sum, over every column entry that
// im2col would take from a pixel, of that entry of `cols` (the adjoint of im2col: the input
// gradient from the columns' gradient). Taps are summed in row order, as at::col2im does.
// Entries of those channels' rows that im2col fills from the padding may be set to zero on the
// way (they carry no gradient; zeroed, they let a tap's rows be added as one run).
template <typename T>
void col2im_channels(T* cols, T* x, const ColumnGeometry& g, int64_t c_begin, int64_t c_end);

}  // namespace cpu
}  // namespace razor
