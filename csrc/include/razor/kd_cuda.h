// CUDA kernel of the KD reductions (contract of razor/kd.h, math of razor/kd_row_math.h). One
// block per row: each thread folds its strided share of the row into an online (max, sum, cross)
// state, the block merges the states, then the same threads write the row's gradients. Float32,
// bfloat16 and float16 accumulate in float; float64 in double.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "razor/kd.h"

namespace razor {
namespace cuda {

constexpr int kKdBlockThreads = 256;

// All pointers in `call` are device pointers (target: validated, in [0, classes)). row_loss:
// device array of `rows` doubles, written for every row. Enqueues nothing when rows == 0 or
// classes == 0. Returns cudaGetLastError() of the launch.
cudaError_t launch_kd_rows(const KdCall& call, int64_t rows, double* row_loss,
                           cudaStream_t stream);

}  // namespace cuda
}  // namespace razor
