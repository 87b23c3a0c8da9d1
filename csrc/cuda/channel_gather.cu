// channel_gather on CUDA: one launch copies the gathered rows of every tensor (see
// razor/channel_ops_cuda.h for the job table). Needs only the CUDA runtime and csrc/include, no
// torch and no GPU to compile, so CI checks it with:
//   nvcc -c -std=c++17 -O3 -Werror=all-warnings
//        -gencode arch=compute_90,code=sm_90 -I csrc/include csrc/cuda/channel_gather.cu
#include <cuda_runtime.h>

#include <climits>
#include <cstdint>

#include "razor/channel_ops_cuda.h"

namespace razor {
namespace cuda {
namespace {

// A block works as groups of `group` threads (a power of two), each group on one row at a time:
// the smallest group that covers a row's words, up to the whole block. Short rows (down to one
// byte) then still give every thread work, and long rows use every thread on each row.
__device__ int row_group_size(int64_t words_per_row) {
  int group = 1;
  while (group < kJobBlockThreads && group < words_per_row) group <<= 1;
  return group;
}

template <typename Word>
__device__ void gather_job_rows(const GatherJob& job, const int64_t* __restrict__ index,
                                int64_t num_index) {
  const int64_t words_per_row = job.row_bytes / static_cast<int64_t>(sizeof(Word));
  const int group = row_group_size(words_per_row);
  const int groups = kJobBlockThreads / group;
  const int lane = static_cast<int>(threadIdx.x) % group;
  const int64_t first_row = job.row_begin + static_cast<int>(threadIdx.x) / group;
  if (first_row >= job.row_end) return;

  // A group's rows advance by `groups`; stepping the (outer, index position) pair instead of
  // dividing every row keeps 64-bit divisions out of the loop.
  int64_t outer = first_row / num_index;
  int64_t position = first_row - outer * num_index;
  const int64_t outer_step = groups / num_index;
  const int64_t position_step = groups - outer_step * num_index;

  const Word* __restrict__ src = static_cast<const Word*>(job.src);
  Word* __restrict__ dst = static_cast<Word*>(job.dst);
  for (int64_t row = first_row; row < job.row_end; row += groups) {
    const Word* from = src + (outer * job.channels + index[position]) * words_per_row;
    Word* to = dst + row * words_per_row;
    int64_t w = lane;
    // Four loads issued before their stores keep more bytes in flight per thread on long rows.
    for (; w + 3 * group < words_per_row; w += 4 * group) {
      const Word a = from[w];
      const Word b = from[w + group];
      const Word c = from[w + 2 * group];
      const Word d = from[w + 3 * group];
      to[w] = a;
      to[w + group] = b;
      to[w + 2 * group] = c;
      to[w + 3 * group] = d;
    }
    for (; w < words_per_row; w += group) to[w] = from[w];
    outer += outer_step;
    position += position_step;
    if (position >= num_index) {
      position -= num_index;
      ++outer;
    }
  }
}

__global__ void __launch_bounds__(kJobBlockThreads)
    channel_gather_kernel(const GatherJob* __restrict__ jobs, const int64_t* __restrict__ index,
                          int64_t num_index) {
  const GatherJob job = jobs[blockIdx.x];
  // Row r starts at base + r * row_bytes, so a word size that divides both bases and row_bytes is
  // aligned for every row of the job (torch allocations are 256-byte aligned; views may not be).
  const uintptr_t alignment = reinterpret_cast<uintptr_t>(job.src) |
                              reinterpret_cast<uintptr_t>(job.dst) |
                              static_cast<uintptr_t>(job.row_bytes);
  if (alignment % 16 == 0) {
    gather_job_rows<uint4>(job, index, num_index);
  } else if (alignment % 8 == 0) {
    gather_job_rows<uint2>(job, index, num_index);
  } else if (alignment % 4 == 0) {
    gather_job_rows<uint32_t>(job, index, num_index);
  } else if (alignment % 2 == 0) {
    gather_job_rows<uint16_t>(job, index, num_index);
  } else {
    gather_job_rows<uint8_t>(job, index, num_index);
  }
}

}  // namespace

cudaError_t launch_channel_gather(const GatherJob* jobs, int64_t num_jobs, const int64_t* index,
                                  int64_t num_index, cudaStream_t stream) {
  if (num_jobs == 0) return cudaSuccess;
  if (num_jobs < 0 || num_jobs > INT_MAX || num_index <= 0) return cudaErrorInvalidValue;
  channel_gather_kernel<<<static_cast<unsigned>(num_jobs), kJobBlockThreads, 0, stream>>>(
      jobs, index, num_index);
  return cudaGetLastError();
}

}  // namespace cuda
}  // namespace razor
