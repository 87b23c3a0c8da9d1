// Splitting the rows of many tensors into chunks of similar byte size, so that one parallel loop
// (CPU threads) or one launch (CUDA blocks, one chunk each) covers every tensor evenly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace razor {

// Rows [row_begin, row_end) of tensor `tensor`.
struct RowChunk {
  int64_t tensor;
  int64_t row_begin;
  int64_t row_end;
};

// Chunks in tensor and row order, grouped into `parts` runs of consecutive chunks that hold
// equal bytes to within one row: part p is chunks [part_begin[p], part_begin[p + 1]). Splitting
// by bytes, not by chunk count, matters when big and tiny tensors are mixed: a conv weight and
// its BN statistics make chunks of 256 KiB and of 256 bytes.
struct RowPlan {
  std::vector<RowChunk> chunks;
  std::vector<size_t> part_begin;  // parts + 1 entries; part_begin.back() == chunks.size()
};

// rows[i] rows of row_bytes[i] bytes each for tensor i. A chunk holds at least one row and, where
// rows are small, about `target_bytes` (less where a part ends). Tensors without rows produce no
// chunk. parts >= 1; a part may be empty when one row outweighs a whole part.
RowPlan plan_row_work(const std::vector<int64_t>& rows, const std::vector<int64_t>& row_bytes,
                      int64_t target_bytes, int64_t parts);

// The chunks of plan_row_work with one part: for a launch that balances chunks by itself.
std::vector<RowChunk> plan_row_chunks(const std::vector<int64_t>& rows,
                                      const std::vector<int64_t>& row_bytes,
                                      int64_t target_bytes);

}  // namespace razor
