#include "block_grad.h"

#include <ATen/Parallel.h>

#include <algorithm>

#include "razor/block_embed.h"

namespace razor_ext {
namespace {

int64_t row_elements(const at::Tensor& full) {
  return full.size(0) == 0 ? 0 : full.numel() / full.size(0);
}

// `full` as (rows, row elements).
at::Tensor as_rows(const at::Tensor& full) { return full.view({full.size(0), row_elements(full)}); }

void run_kernel(const at::Tensor* block, at::Tensor& full, int64_t block_rows,
                int64_t block_cols) {
  const int64_t cols = row_elements(full), bytes = full.element_size();
  razor::BlockLayout layout;
  layout.rows = full.size(0);
  layout.row_bytes = cols * bytes;
  layout.block_rows = block_rows;
  layout.block_bytes = block_cols * bytes;
  const void* src = block == nullptr ? nullptr : block->const_data_ptr();
  void* dst = full.mutable_data_ptr();
  // One part per thread, each moving about the same bytes (see balanced_row_split), and none of
  // fewer rows than hold ATen's grain size of elements.
  const int64_t grain_rows =
      std::max<int64_t>(1, at::internal::GRAIN_SIZE / std::max<int64_t>(1, cols));
  const int64_t parts =
      std::clamp<int64_t>(layout.rows / grain_rows, 1, std::max(1, at::get_num_threads()));
  at::parallel_for(0, parts, 1, [&](int64_t first, int64_t last) {
    for (int64_t part = first; part < last; ++part) {
      razor::cpu::embed_block_rows(
          src, dst, layout, razor::cpu::balanced_row_split(layout, src != nullptr, part, parts),
          razor::cpu::balanced_row_split(layout, src != nullptr, part + 1, parts));
    }
  });
}

void check_block(const char* fn, const at::Tensor& full, int64_t block_rows, int64_t block_cols) {
  TORCH_CHECK(full.dim() >= 1 && block_rows >= 0 && block_rows <= full.size(0) &&
                  block_cols >= 0 && block_cols <= row_elements(full),
              fn, ": a block of ", block_rows, " x ", block_cols,
              " does not fit a tensor of shape ", full.sizes());
}

}  // namespace

at::Tensor embed_block(const at::Tensor& block, const at::Tensor& like, int64_t block_rows,
                       int64_t block_cols) {
  at::Tensor full = at::empty(like.sizes(), like.options());
  check_block("embed_block", full, block_rows, block_cols);
  TORCH_CHECK(block.numel() == block_rows * block_cols, "embed_block: block has ", block.numel(),
              " elements, not ", block_rows, " x ", block_cols);
  if (!full.device().is_cpu()) {
    zero_outside_block(full, block_rows, block_cols);
    as_rows(full).narrow(0, 0, block_rows).narrow(1, 0, block_cols)
        .copy_(block.reshape({block_rows, block_cols}));
    return full;
  }
  const at::Tensor src = block.to(full.scalar_type()).contiguous();
  run_kernel(&src, full, block_rows, block_cols);
  return full;
}

void zero_outside_block(at::Tensor& full, int64_t block_rows, int64_t block_cols) {
  check_block("zero_outside_block", full, block_rows, block_cols);
  TORCH_CHECK(full.is_contiguous(), "zero_outside_block: the full tensor must be contiguous");
  if (!full.device().is_cpu()) {
    at::Tensor rows = as_rows(full);
    rows.narrow(0, block_rows, rows.size(0) - block_rows).zero_();
    rows.narrow(0, 0, block_rows).narrow(1, block_cols, rows.size(1) - block_cols).zero_();
    return;
  }
  run_kernel(nullptr, full, block_rows, block_cols);
}

}  // namespace razor_ext
