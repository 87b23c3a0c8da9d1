// Weight-only quantized linear on the CPU (razor/weight_only.h). The packed weight is read once
// per tile of up to four tokens and dequantised in registers:
//   AVX-512, 4 bits: 16 bytes -> 16 int32 lanes (vpmovzxbd); the low nibble indexes a 16-entry
//     table (q - zero) * scale of the group with vpermps (which reads only the index's low 4 bits),
//     the high nibble (a shift by 4) indexes it again; the two halves meet x in its split order.
//   AVX2, and 8 bits: bytes -> int32 -> float, then w = q * scale - zero * scale in one FMA.
//   AVX512_BF16, 4 bits: weight_only_bf16.cpp (the caller chooses it by setting x_bf16).
//   Scalar: everything else (group sizes not a multiple of 32, the tail of a ragged last group).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "razor/isa.h"
#include "razor/weight_only.h"

// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*() (a self-initialised variable), which
// its own -Wmaybe-uninitialized flags once inlined here; the lanes are all overwritten.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace razor {
namespace cpu {
namespace {

constexpr int64_t kChunk = 32;  // columns per vector step
constexpr int kTile = 8;        // tokens sharing one dequantised chunk

inline int nibble_or_byte(const uint8_t* row, int64_t k, int bits) {
  if (bits == 8) return row[k];
  const uint8_t b = row[k >> 1];
  return (k & 1) ? (b >> 4) : (b & 0x0F);
}

// sum over k in [k0, k1) of x[k] * (q[k] - zero), in float.
inline float dot_scalar(const float* x, const uint8_t* row, int bits, int64_t k0, int64_t k1,
                        int zero) {
  float acc = 0.0f;
  for (int64_t k = k0; k < k1; ++k) {
    acc += x[k] * static_cast<float>(nibble_or_byte(row, k, bits) - zero);
  }
  return acc;
}

void rows_scalar(const WeightOnlyCall& c, int64_t begin, int64_t end) {
  const int64_t row_bytes = weight_only_row_bytes(c.k, c.bits);
  const int64_t groups = (c.k + c.group_size - 1) / c.group_size;
  for (int64_t n = begin; n < end; ++n) {
    const uint8_t* row = c.packed + n * row_bytes;
    for (int64_t m = 0; m < c.m; ++m) {
      const float* x = c.x + m * c.k;
      float acc = 0.0f;
      for (int64_t g = 0; g < groups; ++g) {
        const int64_t k0 = g * c.group_size;
        const int64_t k1 = std::min(c.k, k0 + c.group_size);
        acc += c.scales[n * groups + g] * dot_scalar(x, row, c.bits, k0, k1, c.zeros[n * groups + g]);
      }
      c.y[m * c.n + n] = acc;
    }
  }
}

// The scalar part of one group past its last full chunk, for each token of a tile.
inline void group_tail(const WeightOnlyCall& c, const uint8_t* row, int64_t m0, int mt,
                       int64_t k_vec_end, int64_t k1, float scale, int zero, float* tail) {
  if (k_vec_end >= k1) return;
  for (int t = 0; t < mt; ++t) {
    tail[t] += scale * dot_scalar(c.x + (m0 + t) * c.k, row, c.bits, k_vec_end, k1, zero);
  }
}

// ---- AVX-512 ----------------------------------------------------------------------------------

template <int MT>
__attribute__((target("avx512f"))) void tile_int4_avx512(const WeightOnlyCall& c, int64_t n,
                                                         int64_t m0) {
  const int64_t row_bytes = weight_only_row_bytes(c.k, 4);
  const int64_t groups = (c.k + c.group_size - 1) / c.group_size;
  const uint8_t* row = c.packed + n * row_bytes;
  const __m512 iota = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  // [token][chunk parity][low / high nibble]: one token alone gets four independent FMA chains
  // by alternating chunks; more tokens have enough chains without (and need the registers).
  constexpr int P = MT == 1 ? 2 : 1;
  __m512 acc[MT][P][2];
  for (int t = 0; t < MT; ++t)
    for (int p = 0; p < P; ++p) acc[t][p][0] = acc[t][p][1] = _mm512_setzero_ps();
  float tail[kTile] = {};
  for (int64_t g = 0; g < groups; ++g) {
    const float scale = c.scales[n * groups + g];
    const int zero = c.zeros[n * groups + g];
    const __m512 table =
        _mm512_mul_ps(_mm512_sub_ps(iota, _mm512_set1_ps(static_cast<float>(zero))),
                      _mm512_set1_ps(scale));
    const int64_t k0 = g * c.group_size;
    const int64_t k1 = std::min(c.k, k0 + c.group_size);
    const int64_t chunks = (k1 - k0) / kChunk;
    int64_t ch = 0;
    for (; ch < chunks; ++ch) {
      const int64_t k = k0 + ch * kChunk;
      const int p = static_cast<int>(ch & (P - 1));
      const __m512i idx =
          _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k / 2)));
      const __m512 w_lo = _mm512_permutexvar_ps(idx, table);
      const __m512 w_hi = _mm512_permutexvar_ps(_mm512_srli_epi32(idx, 4), table);
      for (int t = 0; t < MT; ++t) {
        const float* xs = c.x_split + (m0 + t) * c.k + k;
        acc[t][p][0] = _mm512_fmadd_ps(w_lo, _mm512_loadu_ps(xs), acc[t][p][0]);
        acc[t][p][1] = _mm512_fmadd_ps(w_hi, _mm512_loadu_ps(xs + 16), acc[t][p][1]);
      }
    }
    group_tail(c, row, m0, MT, k0 + chunks * kChunk, k1, scale, zero, tail);
  }
  for (int t = 0; t < MT; ++t) {
    __m512 sum = _mm512_add_ps(acc[t][0][0], acc[t][0][1]);
    if (P == 2) sum = _mm512_add_ps(sum, _mm512_add_ps(acc[t][P - 1][0], acc[t][P - 1][1]));
    c.y[(m0 + t) * c.n + n] = _mm512_reduce_add_ps(sum) + tail[t];
  }
}

template <int MT>
__attribute__((target("avx512f"))) void tile_int8_avx512(const WeightOnlyCall& c, int64_t n,
                                                         int64_t m0) {
  const int64_t groups = (c.k + c.group_size - 1) / c.group_size;
  const uint8_t* row = c.packed + n * c.k;
  __m512 acc[MT][2];
  for (int t = 0; t < MT; ++t) acc[t][0] = acc[t][1] = _mm512_setzero_ps();
  float tail[kTile] = {};
  for (int64_t g = 0; g < groups; ++g) {
    const float scale = c.scales[n * groups + g];
    const int zero = c.zeros[n * groups + g];
    const __m512 s = _mm512_set1_ps(scale);
    const __m512 b = _mm512_set1_ps(-static_cast<float>(zero) * scale);
    const int64_t k0 = g * c.group_size;
    const int64_t k1 = std::min(c.k, k0 + c.group_size);
    const int64_t chunks = (k1 - k0) / kChunk;
    for (int64_t ch = 0; ch < chunks; ++ch) {
      const int64_t k = k0 + ch * kChunk;
      for (int h = 0; h < 2; ++h) {
        const __m512i q =
            _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k + 16 * h)));
        const __m512 w = _mm512_fmadd_ps(_mm512_cvtepi32_ps(q), s, b);
        for (int t = 0; t < MT; ++t) {
          acc[t][h] = _mm512_fmadd_ps(w, _mm512_loadu_ps(c.x + (m0 + t) * c.k + k + 16 * h), acc[t][h]);
        }
      }
    }
    group_tail(c, row, m0, MT, k0 + chunks * kChunk, k1, scale, zero, tail);
  }
  for (int t = 0; t < MT; ++t) {
    c.y[(m0 + t) * c.n + n] = _mm512_reduce_add_ps(_mm512_add_ps(acc[t][0], acc[t][1])) + tail[t];
  }
}

// ---- AVX2 -------------------------------------------------------------------------------------

__attribute__((target("avx2,fma"))) inline float hsum_avx2(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 s2 = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}

// 4 bits: each 8-byte quarter of a chunk holds 8 even and 8 odd columns.
template <int MT>
__attribute__((target("avx2,fma"))) void tile_avx2(const WeightOnlyCall& c, int64_t n, int64_t m0) {
  const int64_t row_bytes = weight_only_row_bytes(c.k, c.bits);
  const int64_t groups = (c.k + c.group_size - 1) / c.group_size;
  const uint8_t* row = c.packed + n * row_bytes;
  const __m256i low4 = _mm256_set1_epi32(0x0F);
  __m256 acc[MT][2];
  for (int t = 0; t < MT; ++t) acc[t][0] = acc[t][1] = _mm256_setzero_ps();
  float tail[kTile] = {};
  for (int64_t g = 0; g < groups; ++g) {
    const float scale = c.scales[n * groups + g];
    const int zero = c.zeros[n * groups + g];
    const __m256 s = _mm256_set1_ps(scale);
    const __m256 b = _mm256_set1_ps(-static_cast<float>(zero) * scale);
    const int64_t k0 = g * c.group_size;
    const int64_t k1 = std::min(c.k, k0 + c.group_size);
    const int64_t chunks = (k1 - k0) / kChunk;
    for (int64_t ch = 0; ch < chunks; ++ch) {
      const int64_t k = k0 + ch * kChunk;
      if (c.bits == 4) {
        for (int h = 0; h < 2; ++h) {
          const __m256i q = _mm256_cvtepu8_epi32(
              _mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + k / 2 + 8 * h)));
          const __m256 w_lo = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_and_si256(q, low4)), s, b);
          const __m256 w_hi = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(q, 4)), s, b);
          for (int t = 0; t < MT; ++t) {
            const float* xs = c.x_split + (m0 + t) * c.k + k + 8 * h;
            acc[t][0] = _mm256_fmadd_ps(w_lo, _mm256_loadu_ps(xs), acc[t][0]);
            acc[t][1] = _mm256_fmadd_ps(w_hi, _mm256_loadu_ps(xs + 16), acc[t][1]);
          }
        }
      } else {
        for (int h = 0; h < 4; ++h) {
          const __m256i q = _mm256_cvtepu8_epi32(
              _mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + k + 8 * h)));
          const __m256 w = _mm256_fmadd_ps(_mm256_cvtepi32_ps(q), s, b);
          for (int t = 0; t < MT; ++t) {
            acc[t][h & 1] = _mm256_fmadd_ps(w, _mm256_loadu_ps(c.x + (m0 + t) * c.k + k + 8 * h),
                                            acc[t][h & 1]);
          }
        }
      }
    }
    group_tail(c, row, m0, MT, k0 + chunks * kChunk, k1, scale, zero, tail);
  }
  for (int t = 0; t < MT; ++t) {
    c.y[(m0 + t) * c.n + n] = hsum_avx2(_mm256_add_ps(acc[t][0], acc[t][1])) + tail[t];
  }
}

// The path follows razor::active_isa(): the CPU's widest, or RAZOR_EXT_ISA's narrower choice,
// so the tests run the AVX-512, AVX2 and scalar tiles on one host as for every other kernel.
Isa best_isa() { return razor::active_isa(); }

template <int MT>
void tile(const WeightOnlyCall& c, Isa isa, int64_t n, int64_t m0) {
  if (isa == Isa::kAvx512) {
    if (c.bits == 4) return tile_int4_avx512<MT>(c, n, m0);
    return tile_int8_avx512<MT>(c, n, m0);
  }
  tile_avx2<MT>(c, n, m0);
}

}  // namespace

int64_t weight_only_row_bytes(int64_t k, int bits) { return bits == 4 ? (k + 1) / 2 : k; }

bool weight_only_wants_split(int64_t group_size, int bits) {
  return bits == 4 && group_size % kChunk == 0 && best_isa() != Isa::kScalar;
}

void weight_only_split_x(const float* x, int64_t m, int64_t k, float* x_split) {
  const int64_t full = k / kChunk * kChunk;
  for (int64_t r = 0; r < m; ++r) {
    const float* src = x + r * k;
    float* dst = x_split + r * k;
    for (int64_t c0 = 0; c0 < full; c0 += kChunk) {
      for (int64_t j = 0; j < kChunk / 2; ++j) {
        dst[c0 + j] = src[c0 + 2 * j];
        dst[c0 + kChunk / 2 + j] = src[c0 + 2 * j + 1];
      }
    }
    std::memcpy(dst + full, src + full, static_cast<size_t>(k - full) * sizeof(float));
  }
}

const char* weight_only_path(int64_t group_size, int bits) {
  if (weight_only_wants_bf16(group_size, bits)) return "avx512_bf16";
  if (group_size % kChunk != 0) return "scalar";
  return isa_name(best_isa());
}

void weight_only_linear_rows(const WeightOnlyCall& c, int64_t begin, int64_t end) {
  if (c.x_bf16 != nullptr) return weight_only_bf16_rows(c, begin, end);
  const Isa isa = best_isa();
  const bool vector = isa != Isa::kScalar && c.group_size % kChunk == 0 &&
                      (c.bits == 8 || c.x_split != nullptr);
  if (!vector) return rows_scalar(c, begin, end);
  for (int64_t n = begin; n < end; ++n) {
    int64_t m0 = 0;
    for (; m0 + kTile <= c.m; m0 += kTile) tile<kTile>(c, isa, n, m0);
    const int64_t rest = c.m - m0;
    if (rest >= 4) {
      tile<4>(c, isa, n, m0);
      m0 += 4;
    }
    switch (c.m - m0) {
      case 3: tile<3>(c, isa, n, m0); break;
      case 2: tile<2>(c, isa, n, m0); break;
      case 1: tile<1>(c, isa, n, m0); break;
      default: break;
    }
  }
}

}  // namespace cpu
}  // namespace razor
