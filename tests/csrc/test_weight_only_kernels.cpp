// Torch-free unit tests of the weight-only linear kernel (run by ctest): every path (the AVX-512 /
// AVX2 vector tiles this CPU picks, and the scalar path) against a double-precision loop over the
// dequantised weight, for int4 and int8, group sizes 32/64/128 and odd ones, ragged last groups,
// odd K, and token counts that leave every tile remainder; and the AVX512_BF16 path where the CPU
// has it, with x in one, two and three bf16 parts.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "razor/weight_only.h"

#include "expect.h"

namespace {

using razor_test::failures;
using razor_test::lcg;

// parts > 0: the AVX512_BF16 path with x in that many bf16 parts (skipped without the CPU feature).
void check_case(int64_t m, int64_t n, int64_t k, int64_t group_size, int bits, bool split,
                int parts = 0) {
  if (parts > 0 && !razor::cpu::weight_only_wants_bf16(group_size, bits)) return;
  uint32_t state = static_cast<uint32_t>(m * 131 + n * 17 + k * 7 + group_size + bits);
  const int64_t row_bytes = razor::cpu::weight_only_row_bytes(k, bits);
  const int64_t groups = (k + group_size - 1) / group_size;
  const int levels = 1 << bits;
  std::vector<int> q(static_cast<size_t>(n * k));
  std::vector<uint8_t> packed(static_cast<size_t>(n * row_bytes), 0);
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t c = 0; c < k; ++c) {
      const int v = static_cast<int>(lcg(state) % static_cast<uint32_t>(levels));
      q[r * k + c] = v;
      if (bits == 8) {
        packed[r * row_bytes + c] = static_cast<uint8_t>(v);
      } else {
        packed[r * row_bytes + c / 2] |= static_cast<uint8_t>(c % 2 ? v << 4 : v);
      }
    }
  }
  std::vector<float> scales(static_cast<size_t>(n * groups));
  std::vector<uint8_t> zeros(static_cast<size_t>(n * groups));
  for (size_t i = 0; i < scales.size(); ++i) {
    scales[i] = 0.01f + static_cast<float>(lcg(state) % 1000) * 1e-4f;
    zeros[i] = static_cast<uint8_t>(lcg(state) % static_cast<uint32_t>(levels));
  }
  std::vector<float> x(static_cast<size_t>(m * k));
  for (float& v : x) v = static_cast<float>(lcg(state) % 2001) / 1000.0f - 1.0f;
  std::vector<float> x_split(x.size());
  razor::cpu::weight_only_split_x(x.data(), m, k, x_split.data());
  std::vector<float> y(static_cast<size_t>(m * n), -7.0f);
  razor::WeightOnlyCall call{x.data(), packed.data(), scales.data(), zeros.data(), y.data(),
                             m, n, k, group_size, bits};
  const bool use_split = split && razor::cpu::weight_only_wants_split(group_size, bits);
  if (use_split) call.x_split = x_split.data();
  const int64_t stride = razor::cpu::weight_only_bf16_stride(k);
  std::vector<uint16_t> x_bf16(static_cast<size_t>(parts * m * stride));
  std::vector<float> group_sums(static_cast<size_t>(m * groups));
  if (parts > 0) {
    razor::cpu::weight_only_prepare_bf16(x.data(), m, k, group_size, parts, x_bf16.data(),
                                         group_sums.data());
    call.x_bf16 = x_bf16.data();
    call.x_parts = parts;
    call.x_stride = stride;
    call.x_group_sums = group_sums.data();
  }
  // One bf16 part rounds x to 8 bits; two keep 16, three all of a float.
  const double tolerance = parts == 1 ? 4e-3 : parts == 2 ? 2e-5 : 1e-5;
  // Two ranges, as two threads would split the columns.
  razor::cpu::weight_only_linear_rows(call, 0, n / 2);
  razor::cpu::weight_only_linear_rows(call, n / 2, n);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t r = 0; r < n; ++r) {
      double want = 0.0, magnitude = 0.0;
      for (int64_t c = 0; c < k; ++c) {
        const int64_t g = r * groups + c / group_size;
        const double w = (q[r * k + c] - zeros[g]) * static_cast<double>(scales[g]);
        want += w * x[i * k + c];
        magnitude += std::fabs(w * x[i * k + c]);
      }
      const double got = y[i * n + r];
      if (!(std::fabs(got - want) <= tolerance * magnitude + 1e-6)) {
        std::fprintf(stderr, "m=%ld n=%ld k=%ld gs=%ld bits=%d split=%d parts=%d [%ld,%ld]: %g vs %g\n",
                     static_cast<long>(m), static_cast<long>(n), static_cast<long>(k),
                     static_cast<long>(group_size), bits, use_split ? 1 : 0, parts, static_cast<long>(i),
                     static_cast<long>(r), got, want);
        ++failures;
        return;
      }
    }
  }
}

void test_split_layout() {
  std::vector<float> x(70);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
  std::vector<float> s(70);
  razor::cpu::weight_only_split_x(x.data(), 1, 70, s.data());
  EXPECT(s[0] == 0.0f && s[1] == 2.0f && s[15] == 30.0f && s[16] == 1.0f && s[31] == 31.0f);
  EXPECT(s[32] == 32.0f && s[48] == 33.0f && s[64] == 64.0f && s[69] == 69.0f);
}

}  // namespace

int main() {
  test_split_layout();
  for (int bits : {4, 8}) {
    for (int64_t gs : {32, 64, 128, 48, 7}) {
      for (int64_t k : {64, 100, 257, 384}) {
        for (int64_t m : {1, 2, 3, 4, 5, 9, 15}) {
          for (bool split : {true, false}) check_case(m, 13, k, gs, bits, split);
        }
      }
    }
  }
  // The bf16 path: group sizes 32 (two groups per chunk) and multiples of 64, ragged last groups,
  // K below one chunk, every token tile, column blocks (16 tokens, K = 2304), row remainders.
  for (int parts : {1, 2, 3}) {
    for (int64_t gs : {32, 64, 128, 256}) {
      for (int64_t k : {40, 64, 100, 257, 384, 2304}) {
        for (int64_t m : {1, 2, 3, 4, 5, 9, 16}) check_case(m, 13, k, gs, 4, false, parts);
      }
    }
  }
  if (failures) std::fprintf(stderr, "%d failure(s)\n", failures);
  return failures ? 1 : 0;
}
