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

}  // namespace cpu
}  // namespace razor
