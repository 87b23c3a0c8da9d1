// Torch-free unit tests of razor::cpu::embed_block_rows (run by ctest): every byte of the full
// tensor against the definition - block rows start with the block's row (or keep what they held,
// with no block) and are zero after it, later rows are all zero - over block sizes from empty to
// the whole tensor, split into row ranges by balanced_row_split as threads split them. The full
// tensor starts as garbage, so a byte left unwritten fails. And that balanced_row_split's ranges
// tile the rows in order and move equal bytes to within one row.
#include <cstdint>
#include <cstdio>
#include <vector>

#include "razor/block_embed.h"

#include "expect.h"

namespace {

using razor::BlockLayout;
using razor_test::failures;
using razor_test::lcg;

std::vector<unsigned char> noise(int64_t n, uint32_t seed) {
  std::vector<unsigned char> v(static_cast<size_t>(n));
  for (auto& b : v) b = static_cast<unsigned char>(lcg(seed) >> 24 | 1);  // never 0
  return v;
}

// Bytes that rows [begin, end) move: what balanced_row_split balances.
int64_t bytes_moved(const BlockLayout& l, bool with_block, int64_t begin, int64_t end) {
  int64_t bytes = 0;
  for (int64_t r = begin; r < end; ++r) {
    if (r >= l.block_rows) bytes += l.row_bytes;
    else bytes += with_block ? l.row_bytes + l.block_bytes : l.row_bytes - l.block_bytes;
  }
  return bytes;
}

// balanced_row_split's `parts` ranges: from row 0 to `rows`, in order, each moving its share of
// the bytes to within the costliest row.
void check_split(const BlockLayout& l, bool with_block, int64_t parts) {
  EXPECT(razor::cpu::balanced_row_split(l, with_block, 0, parts) == 0);
  EXPECT(razor::cpu::balanced_row_split(l, with_block, parts, parts) == l.rows);
  const int64_t row_cost = with_block ? l.row_bytes + l.block_bytes : l.row_bytes;
  const int64_t total = bytes_moved(l, with_block, 0, l.rows);
  for (int64_t part = 0; part < parts; ++part) {
    const int64_t begin = razor::cpu::balanced_row_split(l, with_block, part, parts);
    const int64_t end = razor::cpu::balanced_row_split(l, with_block, part + 1, parts);
    EXPECT(begin <= end);
    // |bytes - total / parts| <= row_cost, in integers
    const int64_t off = bytes_moved(l, with_block, begin, end) * parts - total;
    if ((off < 0 ? -off : off) > row_cost * parts) {
      std::fprintf(stderr, "rows %lld, part %lld of %lld: rows %lld-%lld, %lld bytes off x%lld\n",
                   static_cast<long long>(l.rows), static_cast<long long>(part),
                   static_cast<long long>(parts), static_cast<long long>(begin),
                   static_cast<long long>(end), static_cast<long long>(off),
                   static_cast<long long>(parts));
      EXPECT(false);
    }
  }
}

// Runs the kernel over `splits` row ranges and checks every byte of `full`.
void check(int64_t rows, int64_t row_bytes, int64_t block_rows, int64_t block_bytes,
           bool with_block, int64_t splits) {
  const BlockLayout layout{rows, row_bytes, block_rows, block_bytes};
  check_split(layout, with_block, splits);
  const std::vector<unsigned char> block = noise(block_rows * block_bytes, 7u);
  const std::vector<unsigned char> before = noise(rows * row_bytes, 11u);
  std::vector<unsigned char> full = before;
  for (int64_t part = 0; part < splits; ++part) {
    razor::cpu::embed_block_rows(with_block ? block.data() : nullptr, full.data(), layout,
                                 razor::cpu::balanced_row_split(layout, with_block, part, splits),
                                 razor::cpu::balanced_row_split(layout, with_block, part + 1,
                                                                splits));
  }
  int64_t wrong = 0;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t b = 0; b < row_bytes; ++b) {
      const size_t at = static_cast<size_t>(r * row_bytes + b);
      unsigned char expected = 0;
      if (r < block_rows && b < block_bytes) {
        expected = with_block ? block[static_cast<size_t>(r * block_bytes + b)] : before[at];
      }
      wrong += full[at] != expected;
    }
  }
  if (wrong != 0) {
    std::fprintf(stderr, "rows %lld x %lld bytes, block %lld x %lld, with_block %d, %lld splits: "
                 "%lld wrong bytes\n", static_cast<long long>(rows),
                 static_cast<long long>(row_bytes), static_cast<long long>(block_rows),
                 static_cast<long long>(block_bytes), with_block ? 1 : 0,
                 static_cast<long long>(splits), static_cast<long long>(wrong));
  }
  EXPECT(wrong == 0);
}

}  // namespace

int main() {
  // (rows, row_bytes, block_rows, block_bytes): a conv weight at half width (float, 3x3), a
  // linear one, odd sizes, the whole tensor, an empty block, a block of full rows, no rows.
  const int64_t shapes[][4] = {
      {16, 8 * 9 * 4, 8, 4 * 9 * 4}, {12, 10 * 4, 6, 5 * 4}, {7, 13, 3, 5},
      {5, 24, 5, 24},               {6, 20, 0, 0},          {6, 20, 3, 0},
      {6, 20, 0, 8},                {6, 20, 6, 20},         {9, 20, 4, 20},
      {0, 20, 0, 4},                {1, 1, 1, 1},           {3, 2, 2, 1},
  };
  for (const auto& s : shapes) {
    for (const bool with_block : {true, false}) {
      for (const int64_t splits : {1, 2, 3, 64}) check(s[0], s[1], s[2], s[3], with_block, splits);
    }
  }
  // ResNet-50's 512-channel 3x3 weight at half width, split between 2 threads: copying, the
  // block rows move 3/5 of the bytes, so the first part ends at row 213 of 512, not 256;
  // zeroing around a block in place, they move 1/3, so it ends at row 320.
  const BlockLayout conv{512, 512 * 9 * 4, 256, 256 * 9 * 4};
  EXPECT(razor::cpu::balanced_row_split(conv, true, 1, 2) == 213);
  EXPECT(razor::cpu::balanced_row_split(conv, false, 1, 2) == 320);
  check_split(conv, true, 2);
  check_split(conv, false, 16);
  if (failures != 0) std::fprintf(stderr, "%d failures\n", failures);
  return failures == 0 ? 0 : 1;
}
