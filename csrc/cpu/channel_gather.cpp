#include <cstring>

#include "razor/channel_ops.h"
#include "razor/row_copy.h"

namespace razor {
namespace cpu {

int64_t first_index_out_of_range(const int64_t* index, int64_t n, int64_t channels) {
  for (int64_t k = 0; k < n; ++k) {
    if (index[k] < 0 || index[k] >= channels) return k;
  }
  return -1;
}

namespace {

// Short rows: a copy of compile-time size becomes a plain move instead of a memcpy call (memcpy
// rather than a typed load keeps unaligned byte tensors well defined).
template <int64_t kRowBytes>
void gather_fixed(const char* src, char* dst, const int64_t* index, int64_t num_index,
                  int64_t channels, int64_t begin, int64_t end) {
  int64_t o = begin / num_index;
  int64_t k = begin % num_index;
  for (int64_t r = begin; r < end; ++r) {
    std::memcpy(dst + r * kRowBytes, src + (o * channels + index[k]) * kRowBytes, kRowBytes);
    if (++k == num_index) {
      k = 0;
      ++o;
    }
  }
}

void gather_bytes(const char* src, char* dst, const int64_t* index, int64_t num_index,
                  int64_t channels, int64_t row_bytes, int64_t begin, int64_t end,
                  RowStores stores) {
  const size_t bytes = static_cast<size_t>(row_bytes);
  int64_t o = begin / num_index;
  int64_t k = begin % num_index;
  const char* next = src + (o * channels + index[k]) * row_bytes;
  for (int64_t r = begin; r < end; ++r) {
    const char* from = next;
    if (++k == num_index) {
      k = 0;
      ++o;
    }
    if (r + 1 < end) {
      next = src + (o * channels + index[k]) * row_bytes;
      if (stores == RowStores::kStreaming) prefetch_row_head(next, bytes);
    }
    copy_row(dst + r * row_bytes, from, bytes, stores);
  }
  if (stores == RowStores::kStreaming) finish_streaming_stores();
}

}  // namespace

void channel_gather_rows(const void* src, void* dst, const int64_t* index, int64_t num_index,
                         const ChannelLayout& layout, int64_t elem_size, int64_t begin,
                         int64_t end, RowStores stores) {
  if (begin >= end || num_index <= 0) return;
  const int64_t row_bytes = layout.inner * elem_size;
  const char* from = static_cast<const char*>(src);
  char* to = static_cast<char*>(dst);
  const int64_t channels = layout.channels;
  switch (row_bytes) {
    case 1: return gather_fixed<1>(from, to, index, num_index, channels, begin, end);
    case 2: return gather_fixed<2>(from, to, index, num_index, channels, begin, end);
    case 4: return gather_fixed<4>(from, to, index, num_index, channels, begin, end);
    case 8: return gather_fixed<8>(from, to, index, num_index, channels, begin, end);
    case 16: return gather_fixed<16>(from, to, index, num_index, channels, begin, end);
    default:
      return gather_bytes(from, to, index, num_index, channels, row_bytes, begin, end, stores);
  }
}

}  // namespace cpu
}  // namespace razor
