// Splitting the rows of many tensors into chunks of similar byte size, so that one parallel loop
// (CPU threads) or one launch (CUDA blocks, one chunk each) covers every tensor evenly.
#pragma once

#include <cstdint>
#include <vector>

namespace razor {

// Rows [row_begin, row_end) of tensor `tensor`.
struct RowChunk {
  int64_t tensor;
  int64_t row_begin;
  int64_t row_end;
};

// rows[i] rows of row_bytes[i] bytes each for tensor i. A chunk holds at least one row and, where
// rows are small, about `target_bytes`. Tensors without rows produce no chunk.
std::vector<RowChunk> plan_row_chunks(const std::vector<int64_t>& rows,
                                      const std::vector<int64_t>& row_bytes,
                                      int64_t target_bytes);

}  // namespace razor
