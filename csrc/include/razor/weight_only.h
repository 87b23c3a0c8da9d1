// Weight-only quantized linear (GPTQ / RTN weights): y[m, n] = sum_k x[m, k] * w[n, k] with
// w[n, k] = (q[n, k] - zero[n, g]) * scale[n, g], g = k / group_size, never materialised as floats.
//
// Packed layout (the one onnxruntime's MatMulNBits reads for 4 bits, so export is a reshape):
//   bits == 4: uint8 [N, ceil(K / 2)], element k of row n in byte k / 2, low nibble for even k;
//   bits == 8: uint8 [N, K], one byte per element.
// q is unsigned, in [0, 2^bits - 1]; zero is a uint8 [N, G] integer zero point; scale float32 [N, G],
// G = ceil(K / group_size). Activations arrive as float32 (the binding converts other dtypes).
#pragma once

#include <cstdint>

namespace razor {

struct WeightOnlyCall {
  const float* x;        // [M, K] row-major, float32
  const uint8_t* packed;  // [N, row_bytes]
  const float* scales;   // [N, G]
  const uint8_t* zeros;  // [N, G]
  float* y;              // [M, N] row-major
  int64_t m = 0;
  int64_t n = 0;
  int64_t k = 0;
  int64_t group_size = 0;
  int bits = 4;
  // The activations reordered per 32-column chunk as [even columns, odd columns] (see
  // weight_only_permute_x), so that the low and high nibbles of 16 bytes meet their x in lane
  // order. Only read by the 4-bit vector path; nullptr selects the scalar path.
  const float* x_split = nullptr;
  // The bf16 path (weight_only_bf16.cpp, 4 bits, AVX512_BF16): x as `x_parts` bf16 arrays
  // [x_parts, M, x_stride] whose sum is x (one part for bf16 activations, two for float16 / float32),
  // each in the pair order of weight_only_prepare_bf16; x_group_sums [M, G] the sum of those
  // parts over the columns the vector loop covers in each group. nullptr selects the other paths.
  const uint16_t* x_bf16 = nullptr;
  int x_parts = 0;
  int64_t x_stride = 0;  // weight_only_bf16_stride(k): rows K * 2 bytes apart share L1 sets
  const float* x_group_sums = nullptr;
};

namespace cpu {

// Bytes of one packed row.
int64_t weight_only_row_bytes(int64_t k, int bits);

// Whether weight_only_linear_rows will read x_split for this shape (4 bits, group_size a multiple
// of 32, an AVX-512 or AVX2 CPU); if so the caller fills it with weight_only_split_x first.
bool weight_only_wants_split(int64_t group_size, int bits);

// x_split[m, c*32 + j] = x[m, c*32 + 2j] and x_split[m, c*32 + 16 + j] = x[m, c*32 + 2j + 1] for
// every full chunk c of 32 columns; columns past the last full chunk are copied unchanged.
void weight_only_split_x(const float* x, int64_t m, int64_t k, float* x_split);

// Whether weight_only_linear_rows will read x_bf16 for this shape: 4 bits, group_size 32 or a
// multiple of 64, the AVX-512 level active (razor/isa.h), a CPU with AVX512_BF16, and the
// environment variable RAZOR_EXT_WEIGHT_ONLY_BF16 not "0" (read once; the tests use it to run
// the float32 AVX-512 tile on hosts that have AVX512_BF16). The caller then fills x_bf16 and
// x_group_sums with weight_only_prepare_bf16.
bool weight_only_wants_bf16(int64_t group_size, int bits);

// The CPU path weight_only_linear_rows takes for this shape: "avx512_bf16", "avx512", "avx2" or
// "scalar" (for tests and benchmark reports).
const char* weight_only_path(int64_t group_size, int bits);

// Elements between tokens in x_bf16: K padded so that the rows of a tile of tokens (and the
// parts) fall in different L1 sets; 4 KiB-multiple strides made 8 tokens thrash one set.
int64_t weight_only_bf16_stride(int64_t k);

// Splits x [M, K] (float32) into `parts` (1 to 3) bf16 arrays x_bf16 [parts, M, stride]
// (stride = weight_only_bf16_stride(K); the padding is left unwritten), rounding to
// nearest: part p holds what parts 0..p-1 left over, so one part is bf16(x), two parts keep at
// least 16 significant bits of x (exact for float16 and bfloat16 values) and three parts all 24
// of a normal float. The vector region is, for every span of max(group_size, 64) columns from
// column 0, its full 64-column chunks; within chunk c0, column c0 + 2j goes to position c0 + j
// and column c0 + 2j + 1 to c0 + 32 + j (other columns stay in place), so that a byte's low and high
// nibbles meet their x in bf16 pair order. group_sums [M, G] receives, per group, the float sum of
// the parts over the group's vector columns (0 where the group has none).
void weight_only_prepare_bf16(const float* x, int64_t m, int64_t k, int64_t group_size, int parts,
                              uint16_t* x_bf16, float* group_sums);

// The bf16 path alone (weight_only_linear_rows takes it when call.x_bf16 is set); needs a CPU
// with AVX512_BF16.
void weight_only_bf16_rows(const WeightOnlyCall& call, int64_t begin, int64_t end);

// Output columns n in [begin, end) for every row of x.
void weight_only_linear_rows(const WeightOnlyCall& call, int64_t begin, int64_t end);

}  // namespace cpu
}  // namespace razor
