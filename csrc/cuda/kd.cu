// KD reductions on CUDA (razor/kd_cuda.h): kd_kl_div, dkd_loss and (through kd_kl_div) cwd_loss.
// Needs only the CUDA runtime, cuda_fp16.h and cuda_bf16.h plus csrc/include, no torch and no GPU
// to compile, so CI checks it with:
//   nvcc -c -std=c++17 -O3 -Werror=all-warnings
//        -gencode arch=compute_90,code=sm_90 -I csrc/include csrc/cuda/kd.cu
// Not measured on a GPU yet.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "razor/kd_cuda.h"
#include "razor/kd_row_math.h"

namespace razor {
namespace cuda {
namespace {

constexpr int kWarpSize = 32;
constexpr int kWarps = kKdBlockThreads / kWarpSize;

__device__ __forceinline__ float load_acc(const float* p, int64_t i) { return p[i]; }
__device__ __forceinline__ double load_acc(const double* p, int64_t i) { return p[i]; }
__device__ __forceinline__ float load_acc(const __half* p, int64_t i) { return __half2float(p[i]); }
__device__ __forceinline__ float load_acc(const __nv_bfloat16* p, int64_t i) {
  return __bfloat162float(p[i]);
}

__device__ __forceinline__ void store_acc(float* p, int64_t i, float v) { p[i] = v; }
__device__ __forceinline__ void store_acc(double* p, int64_t i, double v) { p[i] = v; }
__device__ __forceinline__ void store_acc(__half* p, int64_t i, float v) { p[i] = __float2half(v); }
__device__ __forceinline__ void store_acc(__nv_bfloat16* p, int64_t i, float v) {
  p[i] = __float2bfloat16(v);
}

__device__ __forceinline__ float exp_acc(float x) { return __expf(x); }
__device__ __forceinline__ double exp_acc(double x) { return exp(x); }

// One softmax's online state: max, sum of exp(x - max); for the teacher also the cross term
// sum exp(t' - max) (t' - s').
template <typename Acc>
struct Online {
  Acc max_t, sum_t, cross, max_s, sum_s;
};

// exp(from - to) for rescaling a state kept against `from` to `to` >= from; a state that has
// only seen -inf (from == -inf) holds sums of zeros, scaled by 0 (NaNs in it stay NaN).
template <typename Acc>
__device__ __forceinline__ Acc rescale(Acc from, Acc to) {
  return from == -INFINITY ? Acc(0) : exp_acc(from - to);
}

template <typename Acc>
__device__ __forceinline__ void add_element(Online<Acc>& st, Acc tt, Acc ss) {
  if (tt > st.max_t) {
    const Acc f = rescale(st.max_t, tt);
    st.sum_t *= f;
    st.cross *= f;
    st.max_t = tt;
  }
  // An element at -inf adds 0 (and exp(-inf - -inf) would be NaN).
  const Acc et = tt == -INFINITY ? Acc(0) : exp_acc(tt - st.max_t);
  st.sum_t += et;
  st.cross += et > Acc(0) ? et * (tt - ss) : ss * Acc(0);  // torch's 0 * log q convention
  if (ss > st.max_s) {
    st.sum_s *= rescale(st.max_s, ss);
    st.max_s = ss;
  }
  st.sum_s += ss == -INFINITY ? Acc(0) : exp_acc(ss - st.max_s);
  // NaN: comparisons are false, and exp(NaN - max) = NaN enters the sums.
}

template <typename Acc>
__device__ __forceinline__ Online<Acc> merge(const Online<Acc>& a, const Online<Acc>& b) {
  Online<Acc> r;
  r.max_t = a.max_t > b.max_t ? a.max_t : b.max_t;
  const Acc fa = rescale(a.max_t, r.max_t), fb = rescale(b.max_t, r.max_t);
  r.sum_t = a.sum_t * fa + b.sum_t * fb;
  r.cross = a.cross * fa + b.cross * fb;
  r.max_s = a.max_s > b.max_s ? a.max_s : b.max_s;
  r.sum_s = a.sum_s * rescale(a.max_s, r.max_s) + b.sum_s * rescale(b.max_s, r.max_s);
  return r;
}

template <typename Acc>
__device__ __forceinline__ Online<Acc> shuffle_down(const Online<Acc>& s, int offset) {
  Online<Acc> o;
  o.max_t = __shfl_down_sync(0xffffffffu, s.max_t, offset);
  o.sum_t = __shfl_down_sync(0xffffffffu, s.sum_t, offset);
  o.cross = __shfl_down_sync(0xffffffffu, s.cross, offset);
  o.max_s = __shfl_down_sync(0xffffffffu, s.max_s, offset);
  o.sum_s = __shfl_down_sync(0xffffffffu, s.sum_s, offset);
  return o;
}

// Per-row results broadcast to the block for the gradient pass.
template <typename Acc>
struct RowShared {
  KdRowResult<Acc> result;
};

template <typename Elem, typename Acc>
__global__ void __launch_bounds__(kKdBlockThreads)
    kd_rows_kernel(const Elem* __restrict__ student, const Elem* __restrict__ teacher,
                   int64_t classes, Acc inv_tau, const int64_t* __restrict__ target, Acc alpha,
                   Acc beta, Acc grad_scale, Elem* __restrict__ grad_s, Elem* __restrict__ grad_t,
                   double* __restrict__ row_loss) {
  __shared__ Online<Acc> warp_states[kWarps];
  __shared__ RowShared<Acc> shared;
  const int64_t row = blockIdx.x;
  const Elem* s = student + row * classes;
  const Elem* t = teacher + row * classes;
  const int64_t y = target != nullptr ? target[row] : -1;

  Online<Acc> st{Acc(-INFINITY), Acc(0), Acc(0), Acc(-INFINITY), Acc(0)};
  for (int64_t i = threadIdx.x; i < classes; i += kKdBlockThreads) {
    if (i == y) continue;  // DKD: the target class is outside both softmaxes
    add_element(st, load_acc(t, i) * inv_tau, load_acc(s, i) * inv_tau);
  }
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) st = merge(st, shuffle_down(st, offset));
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  if (lane == 0) warp_states[warp] = st;
  __syncthreads();
  if (threadIdx.x == 0) {
    Online<Acc> all = warp_states[0];
    for (int w = 1; w < kWarps; ++w) all = merge(all, warp_states[w]);
    KdRowStats<Acc> stats{all.max_t, all.sum_t, all.max_s, all.sum_s, all.cross,
                          all.max_t - all.max_s};
    const bool has_target = y >= 0;
    const Acc target_t = has_target ? load_acc(t, y) * inv_tau : Acc(0);
    const Acc target_s = has_target ? load_acc(s, y) * inv_tau : Acc(0);
    shared.result = kd_row_result<Acc>(stats, has_target ? classes - 1 : classes, has_target,
                                       target_t, target_s, alpha, beta);
    row_loss[row] = static_cast<double>(shared.result.loss);
  }
  if (grad_s == nullptr && grad_t == nullptr) return;
  __syncthreads();
  const KdRowResult<Acc> r = shared.result;
  Elem* gs = grad_s != nullptr ? grad_s + row * classes : nullptr;
  Elem* gt = grad_t != nullptr ? grad_t + row * classes : nullptr;
  for (int64_t i = threadIdx.x; i < classes; i += kKdBlockThreads) {
    if (i == y) {
      if (gs != nullptr) store_acc(gs, i, grad_scale * r.target_g_s);
      if (gt != nullptr) store_acc(gt, i, grad_scale * r.target_g_t);
      continue;
    }
    const Acc lp = load_acc(t, i) * inv_tau - r.lse_t;
    const Acc lq = load_acc(s, i) * inv_tau - r.lse_s;
    const Acc p = exp_acc(lp);
    if (gs != nullptr) {
      const Acc q = exp_acc(lq);
      store_acc(gs, i, grad_scale * (beta * (q - p) + r.k_s * q));
    }
    if (gt != nullptr) {
      store_acc(gt, i, p > Acc(0) ? grad_scale * p * (beta * (lp - lq) + r.k_t) : Acc(0));
    }
  }
}

template <typename Elem, typename Acc>
cudaError_t launch_typed(const KdCall& call, int64_t rows, double* row_loss, cudaStream_t stream) {
  kd_rows_kernel<Elem, Acc><<<static_cast<unsigned>(rows), kKdBlockThreads, 0, stream>>>(
      static_cast<const Elem*>(call.student), static_cast<const Elem*>(call.teacher),
      call.classes, static_cast<Acc>(call.inv_tau), call.target, static_cast<Acc>(call.alpha),
      static_cast<Acc>(call.beta), static_cast<Acc>(call.grad_scale),
      static_cast<Elem*>(call.grad_student), static_cast<Elem*>(call.grad_teacher), row_loss);
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_kd_rows(const KdCall& call, int64_t rows, double* row_loss,
                           cudaStream_t stream) {
  if (rows <= 0 || call.classes <= 0) return cudaSuccess;
  switch (call.dtype) {
    case DType::kFloat32: return launch_typed<float, float>(call, rows, row_loss, stream);
    case DType::kFloat64: return launch_typed<double, double>(call, rows, row_loss, stream);
    case DType::kBFloat16:
      return launch_typed<__nv_bfloat16, float>(call, rows, row_loss, stream);
    case DType::kFloat16: return launch_typed<__half, float>(call, rows, row_loss, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace cuda
}  // namespace razor
