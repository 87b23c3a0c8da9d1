#include "razor/row_copy.h"

#include <cstring>

#include "razor/isa.h"

#if defined(RAZOR_HAS_STREAMING_STORES)
#include <immintrin.h>
#endif

namespace razor {
namespace cpu {

bool prefer_streaming_stores(int64_t output_bytes, int64_t row_bytes) {
  return output_bytes > kStreamingOutputBytes && row_bytes >= kMinStreamingRowBytes;
}

void prefetch_row_head(const void* src, size_t n) {
  const char* p = static_cast<const char*>(src);
  const size_t bytes = n < kPrefetchRowBytes ? n : kPrefetchRowBytes;
  for (size_t offset = 0; offset < bytes; offset += 64) __builtin_prefetch(p + offset);
}

#if defined(RAZOR_HAS_STREAMING_STORES)
namespace {

// Non-temporal stores need an aligned destination: the unaligned head and the tail shorter than
// one block are copied with ordinary stores.
size_t cached_head(const char* dst, size_t n, size_t alignment) {
  const size_t misalignment = reinterpret_cast<uintptr_t>(dst) & (alignment - 1);
  const size_t head = misalignment == 0 ? 0 : alignment - misalignment;
  return head < n ? head : n;
}

}  // namespace

__attribute__((target("avx2"))) void stream_row_avx2(char* dst, const char* src, size_t n) {
  size_t i = cached_head(dst, n, 32);
  std::memcpy(dst, src, i);
  for (; i + 128 <= n; i += 128) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 32));
    const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 64));
    const __m256i d = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 96));
    _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + i), a);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + i + 32), b);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + i + 64), c);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + i + 96), d);
  }
  std::memcpy(dst + i, src + i, n - i);
}

void stream_row_sse2(char* dst, const char* src, size_t n) {
  size_t i = cached_head(dst, n, 16);
  std::memcpy(dst, src, i);
  for (; i + 64 <= n; i += 64) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 16));
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 32));
    const __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 48));
    _mm_stream_si128(reinterpret_cast<__m128i*>(dst + i), a);
    _mm_stream_si128(reinterpret_cast<__m128i*>(dst + i + 16), b);
    _mm_stream_si128(reinterpret_cast<__m128i*>(dst + i + 32), c);
    _mm_stream_si128(reinterpret_cast<__m128i*>(dst + i + 48), d);
  }
  std::memcpy(dst + i, src + i, n - i);
}

namespace {

using StreamRow = void (*)(char*, const char*, size_t);

StreamRow pick_stream_row() {
  // AVX2 stores on the avx2 and avx512 paths (razor/isa.h), SSE2 on the scalar one.
  return static_cast<int>(active_isa()) >= static_cast<int>(Isa::kAvx2) ? stream_row_avx2
                                                                         : stream_row_sse2;
}

const StreamRow stream_row = pick_stream_row();

}  // namespace

void copy_row(void* dst, const void* src, size_t n, RowStores stores) {
  if (stores == RowStores::kStreaming) {
    stream_row(static_cast<char*>(dst), static_cast<const char*>(src), n);
  } else {
    std::memcpy(dst, src, n);
  }
}

void finish_streaming_stores() { _mm_sfence(); }

#else

void copy_row(void* dst, const void* src, size_t n, RowStores) { std::memcpy(dst, src, n); }

void finish_streaming_stores() {}

#endif

}  // namespace cpu
}  // namespace razor
