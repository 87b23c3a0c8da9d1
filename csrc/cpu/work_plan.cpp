#include "razor/work_plan.h"

#include <algorithm>
#include <stdexcept>

namespace razor {

std::vector<RowChunk> plan_row_chunks(const std::vector<int64_t>& rows,
                                      const std::vector<int64_t>& row_bytes,
                                      int64_t target_bytes) {
  if (rows.size() != row_bytes.size()) {
    throw std::invalid_argument("plan_row_chunks: rows and row_bytes differ in length");
  }
  std::vector<RowChunk> chunks;
  const int64_t target = std::max<int64_t>(target_bytes, 1);
  for (size_t t = 0; t < rows.size(); ++t) {
    if (rows[t] <= 0) continue;
    const int64_t bytes = std::max<int64_t>(row_bytes[t], 1);
    const int64_t rows_per_chunk = std::max<int64_t>(target / bytes, 1);
    for (int64_t begin = 0; begin < rows[t]; begin += rows_per_chunk) {
      chunks.push_back({static_cast<int64_t>(t), begin, std::min(rows[t], begin + rows_per_chunk)});
    }
  }
  return chunks;
}

}  // namespace razor
