// Channel-group kernels: gather channels by index (physical pruning) and per-channel Lp sums
// (importance). Every kernel works on a [begin, end) range of rows of one ChannelLayout, so callers
// choose the parallelism (at::parallel_for on CPU, one CUDA block per RowChunk on GPU).
#pragma once

#include <cstdint>

#include "razor/channel_layout.h"
#include "razor/row_copy.h"

namespace razor {
namespace cpu {

// Returns the position of the first entry of index[0, n) outside [0, channels), or -1 if none.
int64_t first_index_out_of_range(const int64_t* index, int64_t n, int64_t channels);

// Gathered row r = o * num_index + k (r in [begin, end)) is a copy of source row
// o * layout.channels + index[k]; rows are layout.inner elements of elem_size bytes.
// dst has layout [outer, num_index, inner]. Indices must already be validated. `stores` applies
// to rows of more than 16 bytes; shorter ones are single moves through the cache.
void channel_gather_rows(const void* src, void* dst, const int64_t* index, int64_t num_index,
                         const ChannelLayout& layout, int64_t elem_size, int64_t begin,
                         int64_t end, RowStores stores);

// For every source row r = o * channels + c in [begin, end): acc[c] += sum_i |x[r, i]|^p,
// p in {1, 2}. Accumulates in double; acc has layout.channels entries.
void channel_pow_sums(const void* src, DType dtype, const ChannelLayout& layout, int p,
                      int64_t begin, int64_t end, double* acc);

}  // namespace cpu
}  // namespace razor
