#include "razor/block_embed.h"

#include <cstring>

namespace razor {
namespace cpu {

void embed_block_rows(const void* block, void* full, const BlockLayout& layout, int64_t begin,
                      int64_t end) {
  const char* src = static_cast<const char*>(block);
  char* dst = static_cast<char*>(full);
  const size_t row_bytes = static_cast<size_t>(layout.row_bytes);
  const size_t block_bytes = static_cast<size_t>(layout.block_bytes);
  for (int64_t r = begin; r < end; ++r) {
    char* row = dst + r * layout.row_bytes;
    if (r >= layout.block_rows) {
      std::memset(row, 0, row_bytes);
      continue;
    }
    if (src != nullptr) std::memcpy(row, src + r * layout.block_bytes, block_bytes);
    std::memset(row + block_bytes, 0, row_bytes - block_bytes);
  }
}

int64_t balanced_row_split(const BlockLayout& layout, bool copies_block, int64_t part,
                           int64_t parts) {
  if (parts <= 0 || part <= 0) return 0;
  if (part >= parts) return layout.rows;
  // A block row copies its block (a read and a write of block_bytes) and zeroes the rest, or,
  // with the block already in place, only zeroes the rest.
  const int64_t block_row_cost =
      copies_block ? layout.row_bytes + layout.block_bytes : layout.row_bytes - layout.block_bytes;
  const int64_t block_cost = layout.block_rows * block_row_cost;
  const int64_t total = block_cost + (layout.rows - layout.block_rows) * layout.row_bytes;
  if (total <= 0) return layout.rows * part / parts;  // zero-byte rows: any split is balanced
  // The cost at the split; long double keeps total * part exact enough past int64's range.
  const int64_t cost = static_cast<int64_t>(static_cast<long double>(total) * part / parts);
  if (cost <= block_cost) return block_row_cost == 0 ? 0 : cost / block_row_cost;
  return layout.block_rows + (cost - block_cost) / layout.row_bytes;
}

}  // namespace cpu
}  // namespace razor
