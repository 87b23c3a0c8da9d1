// CUDA launchers of the fake-quant family (CPU contract and arithmetic: razor/fake_quant.h).
// x is a dense tensor seen in memory order as [outer, channels, inner]; per-channel parameter
// arrays live in device memory, float for float32 / bfloat16 / float16 x (which compute in float)
// and double for float64 x. Every launcher only enqueues work on `stream` and returns
// cudaGetLastError() of its launches; nothing waits for the device.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "razor/channel_layout.h"
#include "razor/fake_quant.h"

namespace razor {
namespace cuda {

// out[e] and, if mask is not null, mask[e] for every e of x (n = layout.numel()).
cudaError_t launch_fake_quantize(const void* x, void* out, uint8_t* mask, DType dtype,
                                 const FakeQuantParams& params, const ChannelLayout& layout,
                                 cudaStream_t stream);

// grad_x[e] = grad[e] * mask[e] for e in [0, n).
cudaError_t launch_fake_quantize_backward(const void* grad, const uint8_t* mask, void* grad_x,
                                          DType dtype, int64_t n, cudaStream_t stream);

// LSQ backward: grad_x, and the per-channel sums of the scale and zero-point gradients added
// (atomically, in double) into grad_scale_acc / grad_zero_point_acc, layout.channels entries
// each, which the caller zeroes first. No full-size temporaries: each block reduces its elements
// and adds one partial per channel it touched.
cudaError_t launch_lsq_backward(const void* x, const void* grad, void* grad_x, DType dtype,
                                const LsqParams& params, const ChannelLayout& layout,
                                double* grad_scale_acc, double* grad_zero_point_acc,
                                cudaStream_t stream);

}  // namespace cuda
}  // namespace razor
