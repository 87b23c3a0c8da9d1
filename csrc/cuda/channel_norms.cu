// channel_norms on CUDA: one launch accumulates sum |x|^p per (tensor, channel) over every tensor
// (see razor/channel_ops_cuda.h for the job table), a second tiny one turns those into norms.
// Needs only the CUDA runtime, cuda_fp16.h and cuda_bf16.h plus csrc/include, no torch and no GPU
// to compile, so CI checks it with:
//   nvcc -c -std=c++17 -O3 -Werror=all-warnings
//        -gencode arch=compute_90,code=sm_90 -I csrc/include csrc/cuda/channel_norms.cu
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <climits>
#include <cstdint>

#include "razor/channel_ops_cuda.h"

namespace razor {
namespace cuda {
namespace {

constexpr int kWarpSize = 32;
constexpr int kFinalizeThreads = 256;

__device__ double as_double(float v) { return v; }
__device__ double as_double(double v) { return v; }
__device__ double as_double(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ double as_double(__half v) { return __half2float(v); }

template <int kP, typename Elem>
__device__ double pow_term(Elem x) {
  const double v = as_double(x);
  return kP == 1 ? fabs(v) : v * v;
}

// A block works as groups of `group` threads (a power of two), each group on one row at a time:
// the smallest group that covers a row, up to the whole block, so short rows still give every
// thread work and long rows use every thread on each row.
__device__ int row_group_size(int64_t row_elements) {
  int group = 1;
  while (group < kJobBlockThreads && group < row_elements) group <<= 1;
  return group;
}

// Sum over the lanes of one warp-sized (or smaller) slice of a group; the result lands in the
// slice's first lane. Only the group's own lanes take part, as other groups of the warp may have
// left their loop already.
__device__ double reduce_over_group_slice(double sum, int group) {
  const int width = group < kWarpSize ? group : kWarpSize;
  const unsigned lane_in_warp = threadIdx.x % kWarpSize;
  const unsigned slice_mask =
      width == kWarpSize ? 0xffffffffu
                         : ((1u << width) - 1u) << (lane_in_warp / width * width);
  for (int offset = width / 2; offset > 0; offset /= 2) {
    sum += __shfl_down_sync(slice_mask, sum, offset, width);
  }
  return sum;
}

template <typename Elem, int kP>
__global__ void __launch_bounds__(kJobBlockThreads)
    channel_pow_sums_kernel(const NormJob* __restrict__ jobs, int64_t channels,
                            double* __restrict__ pow_sums) {
  const NormJob job = jobs[blockIdx.x];
  const int group = row_group_size(job.inner);
  const int groups = kJobBlockThreads / group;
  const int group_id = static_cast<int>(threadIdx.x) / group;
  const int lane = static_cast<int>(threadIdx.x) % group;
  // Rows `stride` apart share a channel, so a group sums all rows of one channel in this job
  // before a single atomic: with one element per row (inner == 1) that saves most atomics.
  const int64_t stride = channels <= groups ? channels * (groups / channels) : channels;
  const Elem* __restrict__ src = static_cast<const Elem*>(job.src);
  double* acc = pow_sums + job.tensor * channels;

  const int64_t residue_end = job.row_begin + stride < job.row_end ? job.row_begin + stride
                                                                   : job.row_end;
  for (int64_t first_row = job.row_begin + group_id; first_row < residue_end;
       first_row += groups) {
    double sum = 0.0;
    for (int64_t row = first_row; row < job.row_end; row += stride) {
      const Elem* x = src + row * job.inner;
      int64_t i = lane;
      // Four loads issued before they are summed keep more bytes in flight on long rows.
      for (; i + 3 * group < job.inner; i += 4 * group) {
        const Elem a = x[i];
        const Elem b = x[i + group];
        const Elem c = x[i + 2 * group];
        const Elem d = x[i + 3 * group];
        sum += (pow_term<kP>(a) + pow_term<kP>(b)) + (pow_term<kP>(c) + pow_term<kP>(d));
      }
      for (; i < job.inner; i += group) sum += pow_term<kP>(x[i]);
    }
    sum = reduce_over_group_slice(sum, group);
    // One atomic per warp slice that read anything (slices past the row's end hold zero).
    if (lane % kWarpSize == 0 && lane < job.inner) atomicAdd(acc + first_row % channels, sum);
  }
}

template <typename Out>
__global__ void __launch_bounds__(kFinalizeThreads)
    channel_norms_finalize_kernel(const double* __restrict__ pow_sums, int64_t num_tensors,
                                  int64_t channels, int p, Out* __restrict__ out) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kFinalizeThreads + threadIdx.x;
  if (c >= channels) return;
  // Tensors in order, as the CPU impl adds them.
  double total = 0.0;
  for (int64_t t = 0; t < num_tensors; ++t) {
    const double s = pow_sums[t * channels + c];
    total += p == 1 ? s : sqrt(s);
  }
  out[c] = static_cast<Out>(total);
}

template <typename Elem>
void launch_pow_sums(const NormJob* jobs, int64_t num_jobs, int p, int64_t channels,
                     double* pow_sums, cudaStream_t stream) {
  const unsigned blocks = static_cast<unsigned>(num_jobs);
  if (p == 1) {
    channel_pow_sums_kernel<Elem, 1>
        <<<blocks, kJobBlockThreads, 0, stream>>>(jobs, channels, pow_sums);
  } else {
    channel_pow_sums_kernel<Elem, 2>
        <<<blocks, kJobBlockThreads, 0, stream>>>(jobs, channels, pow_sums);
  }
}

}  // namespace

cudaError_t launch_channel_norms(const NormJob* jobs, int64_t num_jobs, DType dtype, int p,
                                 int64_t num_tensors, int64_t channels, double* pow_sums, void* out,
                                 cudaStream_t stream) {
  const int64_t finalize_blocks = (channels + kFinalizeThreads - 1) / kFinalizeThreads;
  if ((p != 1 && p != 2) || num_jobs < 0 || num_jobs > INT_MAX || num_tensors < 0 ||
      channels < 0 || finalize_blocks > INT_MAX) {
    return cudaErrorInvalidValue;
  }
  if (channels == 0) return cudaSuccess;
  const cudaError_t cleared = cudaMemsetAsync(
      pow_sums, 0, static_cast<size_t>(num_tensors * channels) * sizeof(double), stream);
  if (cleared != cudaSuccess) return cleared;

  if (num_jobs > 0) {
    switch (dtype) {
      case DType::kFloat32:
        launch_pow_sums<float>(jobs, num_jobs, p, channels, pow_sums, stream);
        break;
      case DType::kFloat64:
        launch_pow_sums<double>(jobs, num_jobs, p, channels, pow_sums, stream);
        break;
      case DType::kBFloat16:
        launch_pow_sums<__nv_bfloat16>(jobs, num_jobs, p, channels, pow_sums, stream);
        break;
      case DType::kFloat16:
        launch_pow_sums<__half>(jobs, num_jobs, p, channels, pow_sums, stream);
        break;
    }
    const cudaError_t launched = cudaGetLastError();
    if (launched != cudaSuccess) return launched;
  }

  const unsigned blocks = static_cast<unsigned>(finalize_blocks);
  if (dtype == DType::kFloat64) {
    channel_norms_finalize_kernel<double><<<blocks, kFinalizeThreads, 0, stream>>>(
        pow_sums, num_tensors, channels, p, static_cast<double*>(out));
  } else {
    channel_norms_finalize_kernel<float><<<blocks, kFinalizeThreads, 0, stream>>>(
        pow_sums, num_tensors, channels, p, static_cast<float*>(out));
  }
  return cudaGetLastError();
}

}  // namespace cuda
}  // namespace razor
