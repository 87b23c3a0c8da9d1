// Weight-only int4 linear on CPUs with AVX512_BF16 (razor/weight_only.h). A code q in 0..15
// becomes the bf16 number 128 + q by bit operations alone (bits 0x4300 | q: exponent 2^7, q in the
// low mantissa bits), so one vdpbf16ps multiplies 32 codes by 32 bf16 activations exactly and adds
// the products in float32. Per group g of output row n:
//   sum_k x_k (q_k - z_g) = sum_k x_k (128 + q_k) - (128 + z_g) * sum_k x_k,
// where sum_k x_k (x_group_sums) is computed once per token, for all rows. Per 64 codes (32 bytes):
// one vpmovzxbw, a vpternlogd for the low nibbles, a shift and an or for the high ones, then two
// vdpbf16ps per token and x part, against 12 instructions per 64 codes (and a per-group table) in
// the float32 tile of weight_only.cpp. float32 activations are split into bf16 parts (x = hi + lo
// + a remainder below 2^-16 |x|), so the weights stay exact and the activations keep 16 bits.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "razor/isa.h"
#include "razor/simd_dispatch.h"
#include "razor/weight_only.h"

// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*() (a self-initialised variable), which
// its own -Wmaybe-uninitialized flags once inlined here; the lanes are all overwritten.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#define RAZOR_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

namespace razor {
namespace cpu {
namespace {

constexpr int64_t kChunk = 64;  // codes per vector step: 32 bytes, two vdpbf16ps per x part
constexpr int kTile = 8;        // tokens sharing one decoded chunk
constexpr int64_t kXBytes = 32 * 1024;  // x of one token tile and column block (L1-sized)
// Tiles ahead whose weights are prefetched: DRAM latency is several tiles of one-token work.
constexpr int64_t kPrefetchTiles = 2;

bool host_has_avx512_bf16() {
#if RAZOR_X86_DISPATCH
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16") != 0;
  }();
  return has;
#else
  return false;
#endif
}

bool bf16_path_enabled() {
  static const bool on = [] {
    const char* text = std::getenv("RAZOR_EXT_WEIGHT_ONLY_BF16");
    return !(text != nullptr && std::strcmp(text, "0") == 0);
  }();
  return on;
}

// Columns per span: a group, or two groups of 32 sharing one 64-code chunk (its accumulator
// lanes 0-7 hold the first group's columns, 8-15 the second's; see tile_bf16).
inline int64_t span_of(int64_t group_size) { return std::max(group_size, kChunk); }

// Full 64-column chunks of the span starting at k0 (every span but a ragged last one is full).
inline int64_t span_chunks(int64_t k, int64_t k0, int64_t span) {
  return (std::min(k, k0 + span) - k0) / kChunk;
}

// The first column past the vector region; the columns from here to K take the scalar tail.
inline int64_t vector_end(int64_t k, int64_t group_size) {
  const int64_t span = span_of(group_size);
  const int64_t last = (k - 1) / span * span;
  return last + span_chunks(k, last, span) * kChunk;
}

inline uint16_t to_bf16(float v) {
  uint32_t u;
  std::memcpy(&u, &v, sizeof u);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);  // NaN
  u += 0x7FFFu + ((u >> 16) & 1u);  // round to nearest, ties to even
  return static_cast<uint16_t>(u >> 16);
}

inline float from_bf16(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float v;
  std::memcpy(&v, &u, sizeof v);
  return v;
}

// sum_g scales[g] * (128 + zeros[g]) * sums[g]: the offset the biased codes add to one row.
RAZOR_BF16_TARGET float bias_correction(const float* scales, const uint8_t* zeros,
                                        const float* sums, int64_t groups) {
  __m512 acc = _mm512_setzero_ps();
  const __m512 offset = _mm512_set1_ps(128.0f);
  int64_t g = 0;
  for (; g + 16 <= groups; g += 16) {
    const __m512 z = _mm512_add_ps(
        _mm512_cvtepi32_ps(
            _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(zeros + g)))),
        offset);
    acc = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_loadu_ps(scales + g), z), _mm512_loadu_ps(sums + g),
                          acc);
  }
  float r = _mm512_reduce_add_ps(acc);
  for (; g < groups; ++g) r += scales[g] * (128.0f + static_cast<float>(zeros[g])) * sums[g];
  return r;
}

// R output rows from n0 by MT tokens from m0, x in P bf16 parts, over the columns [kb0, kb1)
// (whole spans): the first block stores y, later ones add to it, the last adds the bias
// correction and the scalar tail.
template <int R, int MT, int P>
RAZOR_BF16_TARGET void tile_bf16(const WeightOnlyCall& c, int64_t n0, int64_t m0, int64_t kb0,
                                 int64_t kb1) {
  const int64_t row_bytes = weight_only_row_bytes(c.k, 4);
  const int64_t groups = (c.k + c.group_size - 1) / c.group_size;
  const int64_t span = span_of(c.group_size);
  const bool two_groups = c.group_size < kChunk;
  const int64_t plane = c.m * c.x_stride;
  const __m512i low4 = _mm512_set1_epi16(0x000F);
  const __m512i bias = _mm512_set1_epi16(0x4300);
  // Few (row, token) pairs give few dependency chains: split each over even / odd nibbles.
  constexpr int A = R * MT <= 4 ? 2 : 1;
  __m512 total[R][MT];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < MT; ++t) total[r][t] = _mm512_setzero_ps();
  for (int64_t k0 = kb0; k0 < kb1; k0 += span) {
    const int64_t chunks = span_chunks(c.k, k0, span);
    if (chunks == 0) break;  // a ragged last span: all scalar tail
    __m512 acc[R][MT][A];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < MT; ++t)
        for (int a = 0; a < A; ++a) acc[r][t][a] = _mm512_setzero_ps();
    for (int64_t ch = 0; ch < chunks; ++ch) {
      const int64_t k = k0 + ch * kChunk;
      __m512i w_lo[R], w_hi[R];
      for (int r = 0; r < R; ++r) {
        const uint8_t* src = c.packed + (n0 + r) * row_bytes + k / 2;
        // A later tile's rows, at the same column: R short rows are R streams, too many and too
        // short for the hardware prefetcher to ramp up on each (layers larger than L3). Prefetches
        // past the weight's end do not fault.
        if ((ch & 1) == 0) {
          _mm_prefetch(reinterpret_cast<const char*>(src + kPrefetchTiles * R * row_bytes), _MM_HINT_T0);
        }
        const __m512i w = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src)));
        w_lo[r] = _mm512_ternarylogic_epi32(w, low4, bias, 0xEA);  // (w & 0xF) | 0x4300
        w_hi[r] = _mm512_or_si512(_mm512_srli_epi16(w, 4), bias);
      }
      for (int t = 0; t < MT; ++t) {
        for (int p = 0; p < P; ++p) {
          const uint16_t* xp = c.x_bf16 + p * plane + (m0 + t) * c.x_stride + k;
          const __m512bh x_even = (__m512bh)_mm512_loadu_si512(xp);
          const __m512bh x_odd = (__m512bh)_mm512_loadu_si512(xp + 32);
          for (int r = 0; r < R; ++r) {
            acc[r][t][0] = _mm512_dpbf16_ps(acc[r][t][0], (__m512bh)w_lo[r], x_even);
            acc[r][t][A - 1] = _mm512_dpbf16_ps(acc[r][t][A - 1], (__m512bh)w_hi[r], x_odd);
          }
        }
      }
    }
    const int64_t g = k0 / c.group_size;
    for (int r = 0; r < R; ++r) {
      const float* s = c.scales + (n0 + r) * groups + g;
      const __m512 scale = two_groups
                               ? _mm512_mask_blend_ps(0xFF00, _mm512_set1_ps(s[0]), _mm512_set1_ps(s[1]))
                               : _mm512_set1_ps(s[0]);
      for (int t = 0; t < MT; ++t) {
        const __m512 a = A == 2 ? _mm512_add_ps(acc[r][t][0], acc[r][t][A - 1]) : acc[r][t][0];
        total[r][t] = _mm512_fmadd_ps(a, scale, total[r][t]);
      }
    }
  }
  const int64_t tail = vector_end(c.k, c.group_size);
  for (int r = 0; r < R; ++r) {
    const int64_t n = n0 + r;
    const float* scales = c.scales + n * groups;
    const uint8_t* zeros = c.zeros + n * groups;
    const uint8_t* row = c.packed + n * row_bytes;
    for (int t = 0; t < MT; ++t) {
      const int64_t m = m0 + t;
      float y = _mm512_reduce_add_ps(total[r][t]);
      if (kb0 > 0) y += c.y[m * c.n + n];
      if (kb1 == c.k) {
        y -= bias_correction(scales, zeros, c.x_group_sums + m * groups, groups);
        const float* x = c.x + m * c.k;
        for (int64_t k = tail; k < c.k; ++k) {
          const int64_t gk = k / c.group_size;
          const uint8_t b = row[k >> 1];
          const int q = (k & 1) ? (b >> 4) : (b & 0x0F);
          y += scales[gk] * x[k] * static_cast<float>(q - zeros[gk]);
        }
      }
      c.y[m * c.n + n] = y;
    }
  }
}

// Output rows [begin, end), R at a time, for the MT tokens from m0.
// Rows per tile: one token reads each row once, so four rows share its x loads; more tokens
// already reuse each decoded chunk, and fewer rows keep their accumulators in registers.
template <int MT>
constexpr int rows_per_tile() {
  return MT == 1 ? 4 : MT <= 4 ? 2 : 1;
}

// Output rows [begin, end) for the MT tokens from m0, columns [kb0, kb1).
template <int MT, int P>
void rows_tile(const WeightOnlyCall& c, int64_t begin, int64_t end, int64_t m0, int64_t kb0,
               int64_t kb1) {
  constexpr int R = rows_per_tile<MT>();
  int64_t n = begin;
  for (; n + R <= end; n += R) tile_bf16<R, MT, P>(c, n, m0, kb0, kb1);
  for (; n < end; ++n) tile_bf16<1, MT, P>(c, n, m0, kb0, kb1);
}

template <int P>
void rows_parts(const WeightOnlyCall& c, int64_t begin, int64_t end) {
  // Blocks of columns small enough that one token tile's x stays in L1 while every row passes
  // (16 float32 tokens are 256 KiB of bf16 parts over K = 4096, re-read for every row).
  const int64_t span = span_of(c.group_size);
  const int64_t x_bytes_per_column = std::min<int64_t>(c.m, P == 1 ? kTile : 4) * 2 * P;
  const int64_t block = std::max(span, kXBytes / x_bytes_per_column / span * span);
  for (int64_t kb0 = 0; kb0 < c.k; kb0 += block) {
    const int64_t kb1 = std::min(c.k, kb0 + block);
    int64_t m0 = 0;
    // Two or three x parts: tiles of four tokens keep every accumulator in registers.
    if constexpr (P == 1) {
      for (; m0 + kTile <= c.m; m0 += kTile) rows_tile<kTile, P>(c, begin, end, m0, kb0, kb1);
    }
    for (; m0 + 4 <= c.m; m0 += 4) rows_tile<4, P>(c, begin, end, m0, kb0, kb1);
    switch (c.m - m0) {
      case 3: rows_tile<3, P>(c, begin, end, m0, kb0, kb1); break;
      case 2: rows_tile<2, P>(c, begin, end, m0, kb0, kb1); break;
      case 1: rows_tile<1, P>(c, begin, end, m0, kb0, kb1); break;
      default: break;
    }
  }
}

}  // namespace

bool weight_only_wants_bf16(int64_t group_size, int bits) {
  return bits == 4 && (group_size == 32 || (group_size > 0 && group_size % kChunk == 0)) &&
         active_isa() == Isa::kAvx512 && host_has_avx512_bf16() && bf16_path_enabled();
}

int64_t weight_only_bf16_stride(int64_t k) { return (k + 31) / 32 * 32 + 32; }

void weight_only_prepare_bf16(const float* x, int64_t m, int64_t k, int64_t group_size, int parts,
                              uint16_t* x_bf16, float* group_sums) {
  const int64_t groups = (k + group_size - 1) / group_size;
  const int64_t span = span_of(group_size);
  const int64_t stride = weight_only_bf16_stride(k);
  std::vector<double> sums(static_cast<size_t>(groups));
  for (int64_t r = 0; r < m; ++r) {
    const float* src = x + r * k;
    std::fill(sums.begin(), sums.end(), 0.0);
    for (int64_t k0 = 0; k0 < k; k0 += span) {
      const int64_t vec_end = k0 + span_chunks(k, k0, span) * kChunk;
      for (int64_t col = k0; col < std::min(k, k0 + span); ++col) {
        int64_t pos = col;
        if (col < vec_end) {
          const int64_t off = (col - k0) % kChunk;
          pos = col - off + (off & 1) * (kChunk / 2) + off / 2;
        }
        float rest = src[col];
        double sum = 0.0;
        for (int p = 0; p < parts; ++p) {
          const uint16_t h = to_bf16(rest);
          x_bf16[(p * m + r) * stride + pos] = h;
          // Exact: rest and its bf16 rounding are within a factor of two of each other.
          rest -= from_bf16(h);
          sum += from_bf16(h);
        }
        if (col < vec_end) sums[static_cast<size_t>(col / group_size)] += sum;
      }
    }
    for (int64_t g = 0; g < groups; ++g) group_sums[r * groups + g] = static_cast<float>(sums[static_cast<size_t>(g)]);
  }
}

void weight_only_bf16_rows(const WeightOnlyCall& c, int64_t begin, int64_t end) {
  switch (c.x_parts) {
    case 1: return rows_parts<1>(c, begin, end);
    case 2: return rows_parts<2>(c, begin, end);
    default: return rows_parts<3>(c, begin, end);
  }
}

}  // namespace cpu
}  // namespace razor
