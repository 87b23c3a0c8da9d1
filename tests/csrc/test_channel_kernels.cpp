// Torch-free unit tests of the channel kernels (run by ctest): each result is compared with a
// straightforward loop over the [outer, channels, inner] layout.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "razor/channel_ops.h"
#include "razor/row_copy.h"
#include "razor/scalar_convert.h"
#include "razor/work_plan.h"

#include "expect.h"

namespace {

using razor_test::failures;
using razor_test::lcg;


void test_gather_matches_loop(int64_t outer, int64_t channels, int64_t inner, int64_t elem,
                              razor::cpu::RowStores stores) {
  razor::ChannelLayout layout{outer, channels, inner};
  std::vector<char> src(static_cast<size_t>(layout.numel() * elem));
  uint32_t seed = 7;
  for (auto& b : src) b = static_cast<char>(lcg(seed) >> 24);
  std::vector<int64_t> index = {channels - 1, 0, channels / 2, channels - 1};
  const int64_t k = static_cast<int64_t>(index.size());
  std::vector<char> dst(static_cast<size_t>(outer * k * inner * elem), 0);
  // Two ranges prove the [begin, end) contract: the split point lands mid-outer.
  const int64_t rows = outer * k;
  razor::cpu::channel_gather_rows(src.data(), dst.data(), index.data(), k, layout, elem, 0,
                                  rows / 3, stores);
  razor::cpu::channel_gather_rows(src.data(), dst.data(), index.data(), k, layout, elem,
                                  rows / 3, rows, stores);
  const int64_t row_bytes = inner * elem;
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < k; ++j) {
      EXPECT(std::memcmp(&dst[static_cast<size_t>((o * k + j) * row_bytes)],
                         &src[static_cast<size_t>((o * channels + index[j]) * row_bytes)],
                         static_cast<size_t>(row_bytes)) == 0);
    }
  }
}

// Every length around the 16/32-byte store alignment and the 64/128-byte blocks, at every
// destination misalignment, with bytes on both sides of the copy left untouched.
template <typename Copy>
void test_copy_row(Copy copy) {
  std::vector<char> src(512), dst(600);
  uint32_t seed = 3;
  for (auto& b : src) b = static_cast<char>(lcg(seed) >> 24);
  for (size_t n = 0; n <= 300; ++n) {
    for (size_t offset = 0; offset < 40; ++offset) {
      std::fill(dst.begin(), dst.end(), static_cast<char>(0x5a));
      copy(dst.data() + offset, src.data() + 1, n);
      razor::cpu::finish_streaming_stores();
      EXPECT(std::memcmp(dst.data() + offset, src.data() + 1, n) == 0);
      EXPECT(std::count(dst.begin(), dst.begin() + static_cast<int64_t>(offset), 0x5a) ==
             static_cast<int64_t>(offset));
      EXPECT(std::count(dst.begin() + static_cast<int64_t>(offset + n), dst.end(), 0x5a) ==
             static_cast<int64_t>(dst.size() - offset - n));
    }
  }
}

void test_streaming_policy() {
  using razor::cpu::kMinStreamingRowBytes;
  using razor::cpu::kStreamingOutputBytes;
  EXPECT(razor::cpu::prefer_streaming_stores(kStreamingOutputBytes + 1, kMinStreamingRowBytes));
  EXPECT(!razor::cpu::prefer_streaming_stores(kStreamingOutputBytes, kMinStreamingRowBytes));
  EXPECT(!razor::cpu::prefer_streaming_stores(kStreamingOutputBytes + 1,
                                              kMinStreamingRowBytes - 1));
}

void test_index_range_check() {
  const int64_t index[] = {0, 3, 4, -1};
  EXPECT(razor::cpu::first_index_out_of_range(index, 2, 4) == -1);
  EXPECT(razor::cpu::first_index_out_of_range(index, 3, 4) == 2);
  EXPECT(razor::cpu::first_index_out_of_range(index + 3, 1, 4) == 0);
  EXPECT(razor::cpu::first_index_out_of_range(index, 0, 4) == -1);
}

void test_pow_sums_f32(int64_t outer, int64_t channels, int64_t inner, int p) {
  razor::ChannelLayout layout{outer, channels, inner};
  std::vector<float> x(static_cast<size_t>(layout.numel()));
  uint32_t seed = 11;
  for (auto& v : x) v = (static_cast<float>(lcg(seed) >> 8) / 16777216.0f) * 2.0f - 1.0f;
  std::vector<double> expected(static_cast<size_t>(channels), 0.0), got(expected);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t i = 0; i < inner; ++i) {
        const double v = x[static_cast<size_t>((o * channels + c) * inner + i)];
        expected[static_cast<size_t>(c)] += p == 1 ? std::fabs(v) : v * v;
      }
  const int64_t rows = layout.rows();
  razor::cpu::channel_pow_sums(x.data(), razor::DType::kFloat32, layout, p, 0, rows / 2, got.data());
  razor::cpu::channel_pow_sums(x.data(), razor::DType::kFloat32, layout, p, rows / 2, rows, got.data());
  for (int64_t c = 0; c < channels; ++c) {
    const double e = expected[static_cast<size_t>(c)];
    EXPECT(std::fabs(got[static_cast<size_t>(c)] - e) <= 1e-5 * (1.0 + e));
  }
}

void test_pow_sums_propagates_nan_and_inf() {
  razor::ChannelLayout layout{1, 2, 40};
  std::vector<float> x(80, 1.0f);
  x[3] = NAN;
  x[45] = -INFINITY;
  std::vector<double> acc(2, 0.0);
  razor::cpu::channel_pow_sums(x.data(), razor::DType::kFloat32, layout, 1, 0, 2, acc.data());
  EXPECT(std::isnan(acc[0]));
  EXPECT(std::isinf(acc[1]) && acc[1] > 0);
}

void test_reduced_precision_loads() {
  EXPECT(razor::bfloat16_to_float(0x3f80) == 1.0f);
  EXPECT(razor::bfloat16_to_float(0xc040) == -3.0f);
  EXPECT(razor::float16_to_float(0x3c00) == 1.0f);
  EXPECT(razor::float16_to_float(0xc500) == -5.0f);
  EXPECT(razor::float16_to_float(0x0001) == std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT(std::isinf(razor::float16_to_float(0x7c00)));
  EXPECT(std::isnan(razor::float16_to_float(0x7e00)));
  const uint16_t half_values[] = {0x3c00, 0xbc00, 0x4000};  // 1, -1, 2
  razor::ChannelLayout layout{1, 1, 3};
  double acc = 0.0;
  razor::cpu::channel_pow_sums(half_values, razor::DType::kFloat16, layout, 2, 0, 1, &acc);
  EXPECT(acc == 6.0);
}

void test_work_plan_covers_every_row_once() {
  const std::vector<int64_t> rows = {10, 0, 3, 1000};
  const std::vector<int64_t> row_bytes = {100, 8, 1000000, 4};
  const auto chunks = razor::plan_row_chunks(rows, row_bytes, 1024);
  std::vector<int64_t> covered(rows.size(), 0);
  int64_t previous_end = 0, previous_tensor = -1;
  for (const auto& chunk : chunks) {
    EXPECT(chunk.row_begin < chunk.row_end);
    if (chunk.tensor == previous_tensor) EXPECT(chunk.row_begin == previous_end);
    covered[static_cast<size_t>(chunk.tensor)] += chunk.row_end - chunk.row_begin;
    previous_tensor = chunk.tensor;
    previous_end = chunk.row_end;
  }
  for (size_t t = 0; t < rows.size(); ++t) EXPECT(covered[t] == rows[t]);
  EXPECT(chunks.size() == 1 + 3 + 4);  // 10 rows of 100 B in 1 chunk; 3 huge rows; 1000 x 4 B
}

// Every row once, in tensor and row order, and each part within one row of an equal share.
void test_work_plan_balances_parts(const std::vector<int64_t>& rows,
                                   const std::vector<int64_t>& row_bytes, int64_t parts) {
  const razor::RowPlan plan = razor::plan_row_work(rows, row_bytes, 4096, parts);
  EXPECT(plan.part_begin.size() == static_cast<size_t>(parts) + 1);
  EXPECT(plan.part_begin.front() == 0 && plan.part_begin.back() == plan.chunks.size());
  int64_t total = 0, largest_row = 0;
  for (size_t t = 0; t < rows.size(); ++t) {
    total += rows[t] * row_bytes[t];
    if (rows[t] > 0) largest_row = std::max(largest_row, row_bytes[t]);
  }
  int64_t tensor = 0, next_row = 0;
  for (int64_t p = 0; p < parts; ++p) {
    const size_t first = plan.part_begin[static_cast<size_t>(p)];
    const size_t last = plan.part_begin[static_cast<size_t>(p) + 1];
    EXPECT(first <= last);
    int64_t bytes = 0;
    for (size_t c = first; c < last; ++c) {
      const razor::RowChunk& chunk = plan.chunks[c];
      while (tensor < static_cast<int64_t>(rows.size()) && next_row == rows[tensor]) {
        ++tensor;
        next_row = 0;
      }
      EXPECT(chunk.tensor == tensor && chunk.row_begin == next_row && chunk.row_end > next_row);
      next_row = chunk.row_end;
      bytes += (chunk.row_end - chunk.row_begin) * row_bytes[static_cast<size_t>(chunk.tensor)];
    }
    EXPECT(std::llabs(bytes - total / parts) <= largest_row + parts);
  }
  while (tensor < static_cast<int64_t>(rows.size()) && next_row == rows[tensor]) {
    ++tensor;
    next_row = 0;
  }
  EXPECT(tensor == static_cast<int64_t>(rows.size()));  // nothing left uncovered
}

}  // namespace

int main() {
  for (auto stores : {razor::cpu::RowStores::kCached, razor::cpu::RowStores::kStreaming}) {
    for (int64_t elem : {1, 2, 4, 8}) {
      test_gather_matches_loop(3, 5, 1, elem, stores);
      test_gather_matches_loop(2, 7, 3, elem, stores);
      test_gather_matches_loop(1, 9, 4, elem, stores);
      test_gather_matches_loop(2, 5, 67, elem, stores);  // rows of 67-536 bytes: head, blocks, tail
    }
    test_gather_matches_loop(4, 6, 33, 4, stores);
    test_copy_row([stores](char* dst, const char* src, size_t n) {
      razor::cpu::copy_row(dst, src, n, stores);
    });
  }
#if defined(RAZOR_HAS_STREAMING_STORES)
  test_copy_row(razor::cpu::stream_row_sse2);
  if (__builtin_cpu_supports("avx2")) test_copy_row(razor::cpu::stream_row_avx2);
#endif
  test_streaming_policy();
  test_index_range_check();
  for (int p : {1, 2}) {
    test_pow_sums_f32(1, 5, 1, p);
    test_pow_sums_f32(7, 3, 1, p);
    test_pow_sums_f32(2, 4, 9, p);
    test_pow_sums_f32(1, 3, 10000, p);  // longer than one accumulation block
    test_pow_sums_f32(3, 2, 67, p);
  }
  test_pow_sums_propagates_nan_and_inf();
  test_reduced_precision_loads();
  test_work_plan_covers_every_row_once();
  // A ResNet-like mix: big conv weights among BN vectors of 4-byte rows.
  const std::vector<int64_t> mixed_rows = {128, 64, 64, 64, 64, 256, 512, 64, 64, 3, 0, 1000};
  const std::vector<int64_t> mixed_bytes = {2304, 4, 4, 4, 4, 18432, 1024, 4, 4, 7, 100, 8};
  for (int64_t parts : {1, 2, 3, 7, 64}) test_work_plan_balances_parts(mixed_rows, mixed_bytes, parts);
  test_work_plan_balances_parts({1, 1}, {1000000, 1}, 4);  // one row outweighs every part
  test_work_plan_balances_parts({}, {}, 3);
  if (failures != 0) {
    std::fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  std::printf("all channel kernel checks passed\n");
  return 0;
}
