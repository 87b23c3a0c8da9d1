// The gradient of a supernet layer's FULL weight around its active block. dynamic_conv2d and
// dynamic_linear hand autograd the full weight's gradient, zero outside the block the layer ran
// on. Seen as a row-major matrix (rows, row_bytes) - (O, I*K*K) for a conv weight, (O, I) for a
// linear one - that block is the leading block_bytes of each of the leading block_rows rows.
//
// Written row by row in one pass, each byte of the full gradient is stored once: ATen's zero_ of
// the two regions outside the block and copy_ of the block into it are three passes, and on
// ResNet-50's 512-channel 3x3 layer at half width they cost ~75 us more than one (9.4 MB).
//
// Bytes, not values: an all-zero byte pattern is +0.0 in every IEEE float type, so one kernel
// serves float32, float64, bfloat16 and float16.
#pragma once

#include <cstdint>

namespace razor {

struct BlockLayout {
  int64_t rows = 0, row_bytes = 0;          // the full gradient, contiguous
  int64_t block_rows = 0, block_bytes = 0;  // its block: at most rows, at most row_bytes
};

namespace cpu {

// Rows [begin, end) of `full`. A block row r < block_rows starts with row r of `block` (contiguous
// rows of block_bytes), or keeps what it holds there when `block` is null (a GEMM wrote the block
// in place), and is zero after it; a row past the block is all zero.
void embed_block_rows(const void* block, void* full, const BlockLayout& layout, int64_t begin,
                      int64_t end);

// The first row of part `part` of `parts` (0 <= part <= parts; part == parts gives `rows`) when
// the rows are split into contiguous ranges that move about the same bytes: a block row reads and
// writes its block_bytes and zeroes the rest when `copies_block`, else only zeroes the rest. At
// half width an even split by rows gives one thread 1.5x (copying) or 2x (zeroing) the bytes of
// the other.
int64_t balanced_row_split(const BlockLayout& layout, bool copies_block, int64_t part,
                           int64_t parts);

}  // namespace cpu
}  // namespace razor
