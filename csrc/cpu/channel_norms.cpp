#include <cmath>
#include <cstring>

#include "razor/channel_ops.h"
#include "razor/scalar_convert.h"
#include "razor/simd_dispatch.h"

namespace razor {
namespace cpu {

namespace {

// Independent float lanes: GCC vectorizes the fixed-size inner loop without reassociating a
// single running sum (which it may not do without -ffast-math).
constexpr int64_t kLanes = 32;
// Float lanes are flushed into a double every block, so long rows keep double-like accuracy.
constexpr int64_t kBlock = 4096;

template <typename Load>
RAZOR_INLINE double row_pow_sum(const void* row, int64_t n, int p, Load load) {
  double total = 0.0;
  for (int64_t block = 0; block < n; block += kBlock) {
    const int64_t block_end = block + kBlock < n ? block + kBlock : n;
    float lanes[kLanes] = {};
    int64_t i = block;
    if (p == 1) {
      for (; i + kLanes <= block_end; i += kLanes) {
        for (int64_t l = 0; l < kLanes; ++l) lanes[l] += std::abs(load(row, i + l));
      }
      for (; i < block_end; ++i) lanes[0] += std::abs(load(row, i));
    } else {
      for (; i + kLanes <= block_end; i += kLanes) {
        for (int64_t l = 0; l < kLanes; ++l) {
          const float v = load(row, i + l);
          lanes[l] += v * v;
        }
      }
      for (; i < block_end; ++i) {
        const float v = load(row, i);
        lanes[0] += v * v;
      }
    }
    float block_sum = 0.0f;
    for (int64_t l = 0; l < kLanes; ++l) block_sum += lanes[l];
    total += block_sum;
  }
  return total;
}

// One element per row (a 1-D tensor, or the last dim): accumulate straight into acc[c], which is
// contiguous in c and so vectorizes across channels.
template <typename Load>
RAZOR_INLINE void column_pow_sums(const void* src, int64_t channels, int p, int64_t begin,
                                  int64_t end, double* acc, Load load) {
  int64_t r = begin;
  while (r < end) {
    const int64_t c0 = r % channels;
    const int64_t stop = (end - r) < (channels - c0) ? end : r + (channels - c0);
    const int64_t base = r - c0;
    if (p == 1) {
      for (int64_t c = c0; c < c0 + (stop - r); ++c) acc[c] += std::abs(load(src, base + c));
    } else {
      for (int64_t c = c0; c < c0 + (stop - r); ++c) {
        const double v = load(src, base + c);
        acc[c] += v * v;
      }
    }
    r = stop;
  }
}

template <typename Load>
RAZOR_INLINE void pow_sums(const void* src, const ChannelLayout& layout, int p, int64_t begin,
                           int64_t end, double* acc, int64_t elem_size, Load load) {
  if (layout.inner == 1) {
    column_pow_sums(src, layout.channels, p, begin, end, acc, load);
    return;
  }
  const char* bytes = static_cast<const char*>(src);
  const int64_t row_bytes = layout.inner * elem_size;
  int64_t c = begin % layout.channels;
  for (int64_t r = begin; r < end; ++r) {
    acc[c] += row_pow_sum(bytes + r * row_bytes, layout.inner, p, load);
    if (++c == layout.channels) c = 0;
  }
}

template <typename T>
RAZOR_INLINE T load_plain(const void* base, int64_t i) {
  T value;
  std::memcpy(&value, static_cast<const char*>(base) + i * static_cast<int64_t>(sizeof(T)),
              sizeof(T));
  return value;
}

RAZOR_INLINE void pow_sums_f32_body(const void* src, const ChannelLayout& layout, int p,
                                    int64_t begin, int64_t end, double* acc) {
  pow_sums(src, layout, p, begin, end, acc, 4,
           [](const void* b, int64_t i) { return load_plain<float>(b, i); });
}
RAZOR_VECTOR_VERSIONS(pow_sums_f32,
                      (const void* src, const ChannelLayout& layout, int p, int64_t begin,
                       int64_t end, double* acc),
                      (src, layout, p, begin, end, acc))

RAZOR_INLINE void pow_sums_bf16_body(const void* src, const ChannelLayout& layout, int p,
                                     int64_t begin, int64_t end, double* acc) {
  pow_sums(src, layout, p, begin, end, acc, 2, [](const void* b, int64_t i) {
    return bfloat16_to_float(load_plain<uint16_t>(b, i));
  });
}
RAZOR_VECTOR_VERSIONS(pow_sums_bf16,
                      (const void* src, const ChannelLayout& layout, int p, int64_t begin,
                       int64_t end, double* acc),
                      (src, layout, p, begin, end, acc))

void pow_sums_f16(const void* src, const ChannelLayout& layout, int p, int64_t begin,
                  int64_t end, double* acc) {
  pow_sums(src, layout, p, begin, end, acc, 2, [](const void* b, int64_t i) {
    return float16_to_float(load_plain<uint16_t>(b, i));
  });
}

// Float64 keeps double arithmetic throughout: its users ask for that precision.
RAZOR_INLINE void pow_sums_f64_body(const void* src, const ChannelLayout& layout, int p,
                                    int64_t begin, int64_t end, double* acc) {
  const double* x = static_cast<const double*>(src);
  int64_t c = begin % layout.channels;
  for (int64_t r = begin; r < end; ++r) {
    const double* row = x + r * layout.inner;
    double lanes[8] = {};
    int64_t i = 0;
    for (; i + 8 <= layout.inner; i += 8) {
      for (int l = 0; l < 8; ++l) lanes[l] += p == 1 ? std::abs(row[i + l]) : row[i + l] * row[i + l];
    }
    for (; i < layout.inner; ++i) lanes[0] += p == 1 ? std::abs(row[i]) : row[i] * row[i];
    double sum = 0.0;
    for (int l = 0; l < 8; ++l) sum += lanes[l];
    acc[c] += sum;
    if (++c == layout.channels) c = 0;
  }
}
RAZOR_VECTOR_VERSIONS(pow_sums_f64,
                      (const void* src, const ChannelLayout& layout, int p, int64_t begin,
                       int64_t end, double* acc),
                      (src, layout, p, begin, end, acc))

}  // namespace

void channel_pow_sums(const void* src, DType dtype, const ChannelLayout& layout, int p,
                      int64_t begin, int64_t end, double* acc) {
  if (begin >= end || layout.channels <= 0) return;
  switch (dtype) {
    case DType::kFloat32: return pow_sums_f32(src, layout, p, begin, end, acc);
    case DType::kFloat64: return pow_sums_f64(src, layout, p, begin, end, acc);
    case DType::kBFloat16: return pow_sums_bf16(src, layout, p, begin, end, acc);
    case DType::kFloat16: return pow_sums_f16(src, layout, p, begin, end, acc);
  }
}

}  // namespace cpu
}  // namespace razor
