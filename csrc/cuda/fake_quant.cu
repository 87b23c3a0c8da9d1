// Fake-quant kernels on CUDA (see razor/fake_quant_cuda.h). Elementwise work is a grid-stride
// loop; the LSQ reductions either walk chunks of one channel's contiguous elements (inner >= 64:
// NCHW activations, per-tensor) with a block reduction and one atomic per chunk, or walk columns
// of the [outer, channels * inner] matrix (channels-last, weights along their last dim) with one
// atomic per thread. Needs only the CUDA runtime, cuda_fp16.h, cuda_bf16.h and CUB, so CI
// compile-checks it without a GPU torch:
//   nvcc -c -std=c++17 -O3 -Werror=all-warnings
//        -gencode arch=compute_90,code=sm_90 -I csrc/include csrc/cuda/fake_quant.cu
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <climits>
#include <cstdint>
#include <cub/block/block_reduce.cuh>

#include "razor/fake_quant_cuda.h"

namespace razor {
namespace cuda {
namespace {

constexpr int kThreads = 256;
// Elements per chunk of the row-wise LSQ reduction: one block, one atomic pair per chunk.
constexpr int64_t kChunk = 8192;
// Below this many elements per channel row the column-wise reduction is used.
constexpr int64_t kMinRowInner = 64;

template <typename T>
__device__ __forceinline__ T int64_limit() {
  return static_cast<T>(9223372036854775808.0);
}

// Loads and stores between the element type and the compute type.
__device__ __forceinline__ float load(const float* p, int64_t i) { return p[i]; }
__device__ __forceinline__ double load(const double* p, int64_t i) { return p[i]; }
__device__ __forceinline__ float load(const __half* p, int64_t i) { return __half2float(p[i]); }
__device__ __forceinline__ float load(const __nv_bfloat16* p, int64_t i) {
  return __bfloat162float(p[i]);
}
__device__ __forceinline__ void store(float* p, int64_t i, float v) { p[i] = v; }
__device__ __forceinline__ void store(double* p, int64_t i, double v) { p[i] = v; }
__device__ __forceinline__ void store(__half* p, int64_t i, float v) { p[i] = __float2half_rn(v); }
__device__ __forceinline__ void store(__nv_bfloat16* p, int64_t i, float v) {
  p[i] = __float2bfloat16_rn(v);
}

__device__ __forceinline__ int64_t channel_of(int64_t e, int64_t channels, int64_t inner) {
  return channels == 1 ? 0 : (e / inner) % channels;
}

unsigned grid_for(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  const int64_t cap = 65535LL * 8;
  return static_cast<unsigned>(blocks < cap ? (blocks > 0 ? blocks : 1) : cap);
}

// ---- forward -------------------------------------------------------------------------------

template <typename Elem, typename T, bool kToMin, bool kFloatProduct>
__global__ void __launch_bounds__(kThreads)
    fake_quantize_kernel(const Elem* __restrict__ x, Elem* __restrict__ out,
                         uint8_t* __restrict__ mask, const T* __restrict__ scale,
                         const T* __restrict__ inv, const T* __restrict__ zp, T qmin, T qmax,
                         int64_t n, int64_t channels, int64_t inner) {
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; e < n;
       e += static_cast<int64_t>(gridDim.x) * kThreads) {
    const int64_t c = channel_of(e, channels, inner);
    const T z = zp[c];
    const T q = nearbyint(load(x, e) * inv[c]) + z;
    const bool keep = kToMin ? (q >= qmin && q < int64_limit<T>()) : q >= qmin;
    T clamped = keep ? q : qmin;
    clamped = clamped <= qmax ? clamped : qmax;
    T value;
    if (kFloatProduct) {
      value = static_cast<T>(static_cast<float>(clamped - z) * static_cast<float>(scale[c]));
    } else {
      value = (clamped - z) * scale[c];
    }
    store(out, e, value);
    if (mask != nullptr) mask[e] = static_cast<uint8_t>(q >= qmin && q <= qmax);
  }
}

template <typename Elem, typename T>
void launch_forward_typed(const void* x, void* out, uint8_t* mask, const FakeQuantParams& p,
                          const ChannelLayout& layout, cudaStream_t stream) {
  const int64_t n = layout.numel();
  const unsigned grid = grid_for(n);
  const Elem* xs = static_cast<const Elem*>(x);
  Elem* os = static_cast<Elem*>(out);
  const T* s = static_cast<const T*>(p.scale);
  const T* v = static_cast<const T*>(p.inv_scale);
  const T* z = static_cast<const T*>(p.zero_point);
  const T qmin = static_cast<T>(p.quant_min), qmax = static_cast<T>(p.quant_max);
  const bool to_min = p.overflow == QuantOverflow::kToQuantMin;
  const bool fp = p.float_product && sizeof(T) == 8;
#define RAZOR_FQ_LAUNCH(K, F)                                                             \
  fake_quantize_kernel<Elem, T, K, F><<<grid, kThreads, 0, stream>>>(                     \
      xs, os, mask, s, v, z, qmin, qmax, n, layout.channels, layout.inner)
  if (to_min && fp) {
    RAZOR_FQ_LAUNCH(true, true);
  } else if (to_min) {
    RAZOR_FQ_LAUNCH(true, false);
  } else if (fp) {
    RAZOR_FQ_LAUNCH(false, true);
  } else {
    RAZOR_FQ_LAUNCH(false, false);
  }
#undef RAZOR_FQ_LAUNCH
}

// ---- backward ------------------------------------------------------------------------------

template <typename Elem, typename T>
__global__ void __launch_bounds__(kThreads)
    masked_grad_kernel(const Elem* __restrict__ grad, const uint8_t* __restrict__ mask,
                       Elem* __restrict__ out, int64_t n) {
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; e < n;
       e += static_cast<int64_t>(gridDim.x) * kThreads) {
    store(out, e, load(grad, e) * static_cast<T>(mask[e]));
  }
}

// ---- LSQ backward --------------------------------------------------------------------------

// torch's per-element LSQ gradients (razor/fake_quant.h; csrc/cpu/fake_quant.cpp).
template <typename T>
__device__ __forceinline__ T lsq_element(T x, T dy, T s, T inv, T zp, T qmin, T qmax, T gf,
                                         T& dscale, T& dzp) {
  const T q = nearbyint(zp + x * inv);
  const bool fits = (q >= qmin) && (q < int64_limit<T>());
  const bool above = fits && (q > qmax);
  const bool inside = fits && (q <= qmax);
  const T xfq = (q - zp) * s;
  dscale = inside ? dy * (xfq - x) * inv * gf : dy * (above ? qmax - zp : qmin - zp) * gf;
  dzp = inside ? T(0) : -dy * s * gf;
  return dy * (inside ? T(1) : T(0));
}

// One block per chunk of kChunk elements of one row (one channel): reduce, one atomic pair.
template <typename Elem, typename T>
__global__ void __launch_bounds__(kThreads)
    lsq_rows_kernel(const Elem* __restrict__ x, const Elem* __restrict__ grad,
                    Elem* __restrict__ grad_x, const T* __restrict__ scale,
                    const T* __restrict__ inv, const T* __restrict__ zp, T qmin, T qmax, T gf,
                    int64_t channels, int64_t inner, int64_t chunks_per_row,
                    double* __restrict__ acc_s, double* __restrict__ acc_z) {
  using BlockReduce = cub::BlockReduce<double, kThreads>;
  __shared__ typename BlockReduce::TempStorage storage;
  const int64_t job = blockIdx.x;
  const int64_t row = job / chunks_per_row;
  const int64_t begin = (job % chunks_per_row) * kChunk;
  const int64_t end = begin + kChunk < inner ? begin + kChunk : inner;
  const int64_t c = row % channels;
  const T s = scale[c], v = inv[c], z = zp[c];
  const int64_t base = row * inner;
  T sum_s = 0, sum_z = 0;
  for (int64_t i = begin + threadIdx.x; i < end; i += kThreads) {
    T ds, dz;
    const T dx = lsq_element<T>(load(x, base + i), load(grad, base + i), s, v, z, qmin, qmax, gf,
                                ds, dz);
    store(grad_x, base + i, dx);
    sum_s += ds;
    sum_z += dz;
  }
  const double total_s = BlockReduce(storage).Sum(static_cast<double>(sum_s));
  __syncthreads();
  const double total_z = BlockReduce(storage).Sum(static_cast<double>(sum_z));
  if (threadIdx.x == 0) {
    atomicAdd(acc_s + c, total_s);
    atomicAdd(acc_z + c, total_z);
  }
}

// x as [outer, width = channels * inner]: thread j of the grid owns column j (channel j / inner)
// over a slab of `rows_per_block` outer rows, one atomic pair per thread and slab.
template <typename Elem, typename T>
__global__ void __launch_bounds__(kThreads)
    lsq_columns_kernel(const Elem* __restrict__ x, const Elem* __restrict__ grad,
                       Elem* __restrict__ grad_x, const T* __restrict__ scale,
                       const T* __restrict__ inv, const T* __restrict__ zp, T qmin, T qmax, T gf,
                       int64_t outer, int64_t inner, int64_t width, int64_t rows_per_block,
                       double* __restrict__ acc_s, double* __restrict__ acc_z) {
  const int64_t j = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (j >= width) return;
  const int64_t c = j / inner;
  const T s = scale[c], v = inv[c], z = zp[c];
  const int64_t row_begin = static_cast<int64_t>(blockIdx.y) * rows_per_block;
  const int64_t row_end = row_begin + rows_per_block < outer ? row_begin + rows_per_block : outer;
  T sum_s = 0, sum_z = 0;
  for (int64_t r = row_begin; r < row_end; ++r) {
    const int64_t e = r * width + j;
    T ds, dz;
    const T dx = lsq_element<T>(load(x, e), load(grad, e), s, v, z, qmin, qmax, gf, ds, dz);
    store(grad_x, e, dx);
    sum_s += ds;
    sum_z += dz;
  }
  atomicAdd(acc_s + c, static_cast<double>(sum_s));
  atomicAdd(acc_z + c, static_cast<double>(sum_z));
}

template <typename Elem, typename T>
cudaError_t launch_lsq_typed(const void* x, const void* grad, void* grad_x, const LsqParams& p,
                             const ChannelLayout& layout, double* acc_s, double* acc_z,
                             cudaStream_t stream) {
  const Elem* xs = static_cast<const Elem*>(x);
  const Elem* gs = static_cast<const Elem*>(grad);
  Elem* gx = static_cast<Elem*>(grad_x);
  const T* s = static_cast<const T*>(p.scale);
  const T* v = static_cast<const T*>(p.inv_scale);
  const T* z = static_cast<const T*>(p.zero_point);
  const T qmin = static_cast<T>(p.quant_min), qmax = static_cast<T>(p.quant_max);
  const T gf = static_cast<T>(p.grad_factor);
  if (layout.inner >= kMinRowInner || layout.channels == 1) {
    const int64_t chunks_per_row = (layout.inner + kChunk - 1) / kChunk;
    const int64_t jobs = layout.rows() * chunks_per_row;
    if (jobs > INT_MAX) return cudaErrorInvalidValue;
    lsq_rows_kernel<Elem, T><<<static_cast<unsigned>(jobs), kThreads, 0, stream>>>(
        xs, gs, gx, s, v, z, qmin, qmax, gf, layout.channels, layout.inner, chunks_per_row,
        acc_s, acc_z);
    return cudaGetLastError();
  }
  const int64_t width = layout.channels * layout.inner;
  const int64_t column_blocks = (width + kThreads - 1) / kThreads;
  // Enough slabs to fill the device, each long enough that its atomics are a small cost.
  int64_t slabs = (layout.outer + 63) / 64;
  if (slabs > 65535) slabs = 65535;
  if (slabs < 1) slabs = 1;
  const int64_t rows_per_block = (layout.outer + slabs - 1) / slabs;
  if (column_blocks > INT_MAX) return cudaErrorInvalidValue;
  const dim3 grid(static_cast<unsigned>(column_blocks), static_cast<unsigned>(slabs));
  lsq_columns_kernel<Elem, T><<<grid, kThreads, 0, stream>>>(
      xs, gs, gx, s, v, z, qmin, qmax, gf, layout.outer, layout.inner, width, rows_per_block,
      acc_s, acc_z);
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_fake_quantize(const void* x, void* out, uint8_t* mask, DType dtype,
                                 const FakeQuantParams& params, const ChannelLayout& layout,
                                 cudaStream_t stream) {
  if (layout.numel() <= 0) return cudaSuccess;
  switch (dtype) {
    case DType::kFloat32:
      launch_forward_typed<float, float>(x, out, mask, params, layout, stream);
      break;
    case DType::kFloat64:
      launch_forward_typed<double, double>(x, out, mask, params, layout, stream);
      break;
    case DType::kBFloat16:
      launch_forward_typed<__nv_bfloat16, float>(x, out, mask, params, layout, stream);
      break;
    case DType::kFloat16:
      launch_forward_typed<__half, float>(x, out, mask, params, layout, stream);
      break;
  }
  return cudaGetLastError();
}

cudaError_t launch_fake_quantize_backward(const void* grad, const uint8_t* mask, void* grad_x,
                                          DType dtype, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  const unsigned grid = grid_for(n);
  switch (dtype) {
    case DType::kFloat32:
      masked_grad_kernel<float, float><<<grid, kThreads, 0, stream>>>(
          static_cast<const float*>(grad), mask, static_cast<float*>(grad_x), n);
      break;
    case DType::kFloat64:
      masked_grad_kernel<double, double><<<grid, kThreads, 0, stream>>>(
          static_cast<const double*>(grad), mask, static_cast<double*>(grad_x), n);
      break;
    case DType::kBFloat16:
      masked_grad_kernel<__nv_bfloat16, float><<<grid, kThreads, 0, stream>>>(
          static_cast<const __nv_bfloat16*>(grad), mask, static_cast<__nv_bfloat16*>(grad_x), n);
      break;
    case DType::kFloat16:
      masked_grad_kernel<__half, float><<<grid, kThreads, 0, stream>>>(
          static_cast<const __half*>(grad), mask, static_cast<__half*>(grad_x), n);
      break;
  }
  return cudaGetLastError();
}

cudaError_t launch_lsq_backward(const void* x, const void* grad, void* grad_x, DType dtype,
                                const LsqParams& params, const ChannelLayout& layout,
                                double* grad_scale_acc, double* grad_zero_point_acc,
                                cudaStream_t stream) {
  if (layout.numel() <= 0) return cudaSuccess;
  switch (dtype) {
    case DType::kFloat32:
      return launch_lsq_typed<float, float>(x, grad, grad_x, params, layout, grad_scale_acc,
                                            grad_zero_point_acc, stream);
    case DType::kFloat64:
      return launch_lsq_typed<double, double>(x, grad, grad_x, params, layout, grad_scale_acc,
                                              grad_zero_point_acc, stream);
    case DType::kBFloat16:
      return launch_lsq_typed<__nv_bfloat16, float>(x, grad, grad_x, params, layout,
                                                    grad_scale_acc, grad_zero_point_acc, stream);
    case DType::kFloat16:
      return launch_lsq_typed<__half, float>(x, grad, grad_x, params, layout, grad_scale_acc,
                                             grad_zero_point_acc, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace cuda
}  // namespace razor
