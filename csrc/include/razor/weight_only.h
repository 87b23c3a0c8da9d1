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

// Output columns n in [begin, end) for every row of x.
void weight_only_linear_rows(const WeightOnlyCall& call, int64_t begin, int64_t end);

}  // namespace cpu
}  // namespace razor
