#include "razor/work_plan.h"

#include <algorithm>
#include <stdexcept>

namespace razor {

RowPlan plan_row_work(const std::vector<int64_t>& rows, const std::vector<int64_t>& row_bytes,
                      int64_t target_bytes, int64_t parts) {
  if (rows.size() != row_bytes.size()) {
    throw std::invalid_argument("plan_row_work: rows and row_bytes differ in length");
  }
  if (parts < 1) throw std::invalid_argument("plan_row_work: parts must be at least 1");
  const int64_t target = std::max<int64_t>(target_bytes, 1);
  int64_t total = 0;
  for (size_t t = 0; t < rows.size(); ++t) {
    if (rows[t] > 0) total += rows[t] * std::max<int64_t>(row_bytes[t], 1);
  }
  // Where part p ends, in bytes from the start of the first tensor (long double: total * p
  // would overflow int64 for very large totals and thread counts).
  const auto part_end = [&](int64_t p) {
    return static_cast<int64_t>(static_cast<long double>(total) * static_cast<long double>(p + 1) /
                                static_cast<long double>(parts));
  };

  RowPlan plan;
  plan.part_begin.push_back(0);
  int64_t part = 0;
  int64_t offset = 0;
  for (size_t t = 0; t < rows.size(); ++t) {
    const int64_t bytes = std::max<int64_t>(row_bytes[t], 1);
    const int64_t rows_per_chunk = std::max<int64_t>(target / bytes, 1);
    for (int64_t begin = 0; begin < rows[t];) {
      int64_t count = std::min(rows[t] - begin, rows_per_chunk);
      if (part + 1 < parts) {
        const int64_t rows_to_part_end = (part_end(part) - offset + bytes - 1) / bytes;
        count = std::min(count, std::max<int64_t>(rows_to_part_end, 1));
      }
      plan.chunks.push_back({static_cast<int64_t>(t), begin, begin + count});
      begin += count;
      offset += count * bytes;
      while (part + 1 < parts && offset >= part_end(part)) {
        ++part;
        plan.part_begin.push_back(plan.chunks.size());
      }
    }
  }
  while (plan.part_begin.size() < static_cast<size_t>(parts) + 1) {
    plan.part_begin.push_back(plan.chunks.size());
  }
  return plan;
}

std::vector<RowChunk> plan_row_chunks(const std::vector<int64_t>& rows,
                                      const std::vector<int64_t>& row_bytes,
                                      int64_t target_bytes) {
  return plan_row_work(rows, row_bytes, target_bytes, 1).chunks;
}

}  // namespace razor
