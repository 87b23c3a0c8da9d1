// CUDA kernel of weight_only_linear (layout and maths of razor/weight_only.h). One warp per output
// column and token: the lanes stride along K (coalesced reads of x, bytes of the packed row read
// by lane pairs), dequantise each code in a register, accumulate in float and reduce with warp
// shuffles. Activations and output are float32, bfloat16 or float16 (no conversion pass).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "razor/channel_layout.h"  // DType

namespace razor {
namespace cuda {

constexpr int kWeightOnlyWarps = 8;  // output columns per block

struct WeightOnlyCudaCall {
  const void* x;          // [m, k] of dtype, device
  const uint8_t* packed;  // [n, row_bytes], device
  const float* scales;    // [n, groups], device
  const uint8_t* zeros;   // [n, groups], device
  void* y;                // [m, n] of dtype, device
  DType dtype;            // kFloat32, kBFloat16 or kFloat16
  int64_t m = 0;
  int64_t n = 0;
  int64_t k = 0;
  int64_t group_size = 0;
  int bits = 4;
};

// Enqueues nothing when m, n or k is 0. Returns cudaGetLastError() of the launch.
cudaError_t launch_weight_only_linear(const WeightOnlyCudaCall& call, cudaStream_t stream);

}  // namespace cuda
}  // namespace razor
