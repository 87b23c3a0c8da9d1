// Copying one row of bytes, with stores that either go through the cache (the output is used
// soon, or is small) or bypass it. A gather too large for the cache is bandwidth-bound, and there
// a cached store first reads each destination line from DRAM only to overwrite it; streaming
// (non-temporal) stores skip that read and leave the cache to the data still to be read.
#pragma once

#include <cstddef>
#include <cstdint>

namespace razor {
namespace cpu {

enum class RowStores { kCached, kStreaming };

// Gathers whose output exceeds this many bytes in all use RowStores::kStreaming for rows of at
// least kMinStreamingRowBytes. 2 MiB is a server core's L2: an output larger than that leaves the
// writing core's cache anyway. Measured on the ResNet-50 benchmark (AMD EPYC, 2 threads), moving
// the threshold from 8 MiB to 2 MiB took 3-7% off the whole gather; 0 gained nothing more.
constexpr int64_t kStreamingOutputBytes = int64_t{2} << 20;
// Shorter rows would mostly be unaligned head and tail, written with cached stores anyway.
constexpr int64_t kMinStreamingRowBytes = 256;
// How much of the next row prefetch_row_head asks for: 16 cache lines measured best for rows of
// 0.5-18 KiB (AMD EPYC, benchmarks/RESULTS.md); a whole row competes with the current one.
constexpr size_t kPrefetchRowBytes = 1024;

// Whether a gather producing `output_bytes` in all, in rows of `row_bytes`, should stream.
bool prefer_streaming_stores(int64_t output_bytes, int64_t row_bytes);

// Copies n bytes from src to dst (non-overlapping). kStreaming uses non-temporal stores where
// the CPU has them (x86-64: AVX2 or SSE2, chosen at run time) and falls back to memcpy elsewhere;
// a thread that streamed must call finish_streaming_stores() before others read what it wrote.
void copy_row(void* dst, const void* src, size_t n, RowStores stores);

// Asks the cache for the start of a row that will be copied next. Streamed gathers are bound by
// reads; the hardware prefetcher follows a row once it is under way, but not the jump to the
// next row, whose first lines would otherwise arrive late.
void prefetch_row_head(const void* src, size_t n);

// Orders this thread's streaming stores before its later stores (an sfence on x86-64).
void finish_streaming_stores();

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// The two x86-64 streaming copies copy_row chooses between, named so that the tests can run the
// one this CPU would not choose. stream_row_avx2 needs a CPU with AVX2.
void stream_row_avx2(char* dst, const char* src, size_t n);
void stream_row_sse2(char* dst, const char* src, size_t n);
#define RAZOR_HAS_STREAMING_STORES 1
#endif

}  // namespace cpu
}  // namespace razor
