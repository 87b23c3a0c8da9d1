// CUDA weight-only quantized linear (contract: razor/weight_only_cuda.h).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "razor/weight_only_cuda.h"

namespace razor {
namespace cuda {
namespace {

__device__ __forceinline__ float load_float(const float* p) { return *p; }
__device__ __forceinline__ float load_float(const __half* p) { return __half2float(*p); }
__device__ __forceinline__ float load_float(const __nv_bfloat16* p) { return __bfloat162float(*p); }

__device__ __forceinline__ void store_float(float* p, float v) { *p = v; }
__device__ __forceinline__ void store_float(__half* p, float v) { *p = __float2half_rn(v); }
__device__ __forceinline__ void store_float(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }

template <typename T>
__global__ void __launch_bounds__(kWeightOnlyWarps * 32)
    weight_only_kernel(const T* __restrict__ x, const uint8_t* __restrict__ packed,
                       const float* __restrict__ scales, const uint8_t* __restrict__ zeros,
                       T* __restrict__ y, int64_t m, int64_t n, int64_t k, int64_t group_size,
                       int bits) {
  const int lane = threadIdx.x & 31;
  const int64_t col = static_cast<int64_t>(blockIdx.x) * kWeightOnlyWarps + (threadIdx.x >> 5);
  if (col >= n) return;
  const int64_t row_bytes = bits == 4 ? (k + 1) / 2 : k;
  const int64_t groups = (k + group_size - 1) / group_size;
  const uint8_t* w = packed + col * row_bytes;
  const float* s = scales + col * groups;
  const uint8_t* z = zeros + col * groups;
  for (int64_t row = blockIdx.y; row < m; row += gridDim.y) {
    const T* xr = x + row * k;
    float acc = 0.0f;
    for (int64_t i = lane; i < k; i += 32) {
      const int q = bits == 8 ? w[i] : ((i & 1) ? (w[i >> 1] >> 4) : (w[i >> 1] & 0x0F));
      const int64_t g = i / group_size;
      acc += load_float(xr + i) * (static_cast<float>(q - static_cast<int>(z[g])) * s[g]);
    }
    for (int offset = 16; offset > 0; offset >>= 1) acc += __shfl_down_sync(0xffffffffu, acc, offset);
    if (lane == 0) store_float(y + row * n + col, acc);
  }
}

template <typename T>
cudaError_t launch_typed(const WeightOnlyCudaCall& c, cudaStream_t stream) {
  const dim3 block(kWeightOnlyWarps * 32);
  const int64_t rows = c.m < 65535 ? c.m : 65535;
  const dim3 grid(static_cast<unsigned>((c.n + kWeightOnlyWarps - 1) / kWeightOnlyWarps),
                  static_cast<unsigned>(rows));
  weight_only_kernel<T><<<grid, block, 0, stream>>>(static_cast<const T*>(c.x), c.packed, c.scales,
                                                    c.zeros, static_cast<T*>(c.y), c.m, c.n, c.k,
                                                    c.group_size, c.bits);
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_weight_only_linear(const WeightOnlyCudaCall& call, cudaStream_t stream) {
  if (call.m == 0 || call.n == 0 || call.k == 0) return cudaSuccess;
  switch (call.dtype) {
    case DType::kBFloat16: return launch_typed<__nv_bfloat16>(call, stream);
    case DType::kFloat16: return launch_typed<__half>(call, stream);
    default: return launch_typed<float>(call, stream);
  }
}

}  // namespace cuda
}  // namespace razor
