// The full weight's gradient around its active block, for dynamic_ops.cpp: `full` seen as
// (size(0), numel / size(0)) and the block as its leading block_cols of its leading block_rows.
// On the CPU one threaded pass of razor's kernel (csrc/cpu/block_embed.cpp); elsewhere ATen's
// zero_ and copy_.
#pragma once

#include <ATen/ATen.h>

namespace razor_ext {

// A new tensor shaped like `like` (dtype and device too) holding `block` ((block_rows,
// block_cols), or any shape of that many elements) in its block and zeros elsewhere.
at::Tensor embed_block(const at::Tensor& block, const at::Tensor& like, int64_t block_rows,
                       int64_t block_cols);

// Zeroes `full` (contiguous) outside its block, leaving the block as it is.
void zero_outside_block(at::Tensor& full, int64_t block_rows, int64_t block_cols);

}  // namespace razor_ext
