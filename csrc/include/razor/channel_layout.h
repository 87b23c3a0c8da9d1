// The view every channel kernel works on: a contiguous tensor seen as [outer, channels, inner].
// A tensor of shape (s0, ..., s{n-1}) split at channel dim d has outer = s0*...*s{d-1},
// channels = s{d}, inner = s{d+1}*...*s{n-1}. Row r = o * channels + c holds `inner` elements.
#pragma once

#include <cstdint>

namespace razor {

// Element types the numeric kernels read. Byte-moving kernels (gather) need only the size.
enum class DType : int32_t { kFloat32 = 0, kFloat64 = 1, kBFloat16 = 2, kFloat16 = 3 };

struct ChannelLayout {
  int64_t outer = 1;
  int64_t channels = 0;
  int64_t inner = 1;

  int64_t rows() const { return outer * channels; }
  int64_t numel() const { return outer * channels * inner; }
};

}  // namespace razor
