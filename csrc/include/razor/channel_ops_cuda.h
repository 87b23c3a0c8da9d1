// CUDA kernels of the channel op family. Launch count, not bandwidth, is what limits these ops on a
// GPU (hundreds of small tensors per call), so each op covers ALL its tensors with one launch:
// the host splits every tensor's rows into RowChunks (razor/work_plan.h), writes one job per chunk
// into a job table, copies that table to the device, and the kernel runs one block per job.
//
// Job tables are arrays of the plain structs below, identical in host (g++) and device (nvcc)
// code: only 8-byte members, checked by the static_asserts. They live in device memory that stays
// valid until the launch has run on `stream` (stream order is enough: copy the table on the same
// stream first). Every launcher only enqueues work and returns cudaGetLastError() of its launches.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "razor/channel_layout.h"

namespace razor {
namespace cuda {

// Threads per block of the job kernels (one block per job).
constexpr int kJobBlockThreads = 256;

// Gathered rows [row_begin, row_end) of one tensor. Gathered row r = o * num_index + k is a copy
// of source row o * channels + index[k]; both tensors are contiguous, rows are row_bytes long.
struct GatherJob {
  const void* src;    // [outer, channels, inner] of any dtype
  void* dst;          // [outer, num_index, inner], same dtype
  int64_t channels;   // source channels (the size of the gathered dim)
  int64_t row_bytes;  // inner * element size
  int64_t row_begin;
  int64_t row_end;
};
static_assert(sizeof(GatherJob) == 48, "GatherJob must have the same layout on host and device");

// For jobs[0, num_jobs): copies the job's rows. index (device, num_index entries) must already be
// validated against every job's channels. Uses 16-byte moves where src, dst and row_bytes allow,
// else 8/4/2/1. Enqueues nothing when num_jobs == 0.
cudaError_t launch_channel_gather(const GatherJob* jobs, int64_t num_jobs, const int64_t* index,
                                  int64_t num_index, cudaStream_t stream);

// Source rows [row_begin, row_end) of one tensor seen as [outer, channels, inner]; row
// r = o * channels + c belongs to channel c.
struct NormJob {
  const void* src;  // contiguous, of the launch's dtype
  int64_t tensor;   // which row of pow_sums this tensor accumulates into
  int64_t inner;    // elements per row
  int64_t row_begin;
  int64_t row_end;
};
static_assert(sizeof(NormJob) == 40, "NormJob must have the same layout on host and device");

// Per-channel norms of num_tensors tensors sharing `channels` and `dtype`:
//   out[c] = sum_t (p == 1 ? s[t][c] : sqrt(s[t][c])),  s[t][c] = sum of |x|^p over channel c of t.
// pow_sums is device scratch of num_tensors * channels doubles (zeroed here, then accumulated with
// atomics by one launch over all jobs); out has `channels` entries, double when dtype is kFloat64
// and float otherwise. Tensors without jobs (no elements) contribute zeros. p must be 1 or 2.
cudaError_t launch_channel_norms(const NormJob* jobs, int64_t num_jobs, DType dtype, int p,
                                 int64_t num_tensors, int64_t channels, double* pow_sums, void* out,
                                 cudaStream_t stream);

}  // namespace cuda
}  // namespace razor
