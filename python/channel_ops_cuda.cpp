// CUDA impls of the channel op family (schemas and CPU impls: channel_ops.cpp). Each op plans
// RowChunks over all its tensors on the host, ships one job per chunk to the device in a single
// async copy, and covers every tensor with one kernel launch: with hundreds of small tensors per
// call, launches (not bytes) are what a loop of per-tensor torch ops pays for.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <vector>

#include "channel_args.h"
#include "razor/channel_ops_cuda.h"
#include "razor/work_plan.h"

namespace razor_ext {
namespace {

// Small enough that one ResNet-sized call yields a few waves of blocks for load balance, large
// enough that the job table (48 bytes per chunk) stays tiny next to the data it describes.
constexpr int64_t kChunkBytes = 32 * 1024;

// Writes one job per chunk straight into pinned host memory and copies the table to `device` on
// the current stream. The copy records itself with torch's caching host allocator, which keeps the
// pinned buffer from being reused until the copy has run, so nothing here waits for it.
template <typename Job, typename MakeJob>
at::Tensor upload_job_table(const std::vector<razor::RowChunk>& chunks, const at::Device& device,
                            MakeJob make_job) {
  at::Tensor host = at::empty({static_cast<int64_t>(chunks.size() * sizeof(Job))},
                              at::TensorOptions().dtype(at::kByte).pinned_memory(true));
  Job* jobs = static_cast<Job*>(host.mutable_data_ptr());
  for (size_t j = 0; j < chunks.size(); ++j) jobs[j] = make_job(chunks[j]);
  return host.to(at::TensorOptions().dtype(at::kByte).device(device), /*non_blocking=*/true);
}

void check_launch(const char* op, cudaError_t status) {
  TORCH_CHECK(status == cudaSuccess, op, ": CUDA kernel launch failed: ",
              cudaGetErrorString(status));
}

// The CPU impl's range check and message, read from the device with one sync: min and max land in
// one two-element buffer so a single copy brings both back. Only a bad index pays for more.
void check_index_in_range(const char* op, const at::Tensor& index, int64_t channels,
                          int64_t bound, int64_t bound_dim) {
  at::Tensor extremes = at::empty({2}, index.options());
  at::Tensor min = extremes[0];
  at::Tensor max = extremes[1];
  at::aminmax_out(min, max, index);
  const at::Tensor host = extremes.cpu();
  const int64_t* host_extremes = host.const_data_ptr<int64_t>();
  if (host_extremes[0] >= 0 && host_extremes[1] < channels) return;
  const at::Tensor bad_positions = at::nonzero(at::logical_or(index < 0, index >= channels));
  const int64_t bad = bad_positions[0][0].item<int64_t>();
  TORCH_CHECK_INDEX(false, op, ": index[", bad, "] = ", index[bad].item<int64_t>(),
                    " is out of range for tensors[", bound, "] with ", channels,
                    " channels along dim ", bound_dim);
}

std::vector<at::Tensor> channel_gather_cuda(at::TensorList tensors, const at::Tensor& index,
                                            at::IntArrayRef dims) {
  constexpr const char* op = "channel_gather";
  const auto layouts = check_channel_operands(op, tensors, dims);
  check_gather_index(op, tensors, index);
  // Reached only with a CUDA index: either there are no tensors, or the checks put them with it.
  const c10::cuda::CUDAGuard device_guard(index.device());
  const at::Tensor idx = index.contiguous();
  const int64_t count = idx.numel();
  const int64_t bound = fewest_channels(layouts);
  if (bound >= 0 && count > 0) {
    check_index_in_range(op, idx, layouts[bound].channels, bound, dims[bound]);
  }

  const RowWork work = gather_row_work(tensors, layouts, count);
  std::vector<at::Tensor> outputs;
  for (size_t i = 0; i < tensors.size(); ++i) {
    outputs.push_back(at::empty(gathered_shape(tensors[i], dims[i], count), tensors[i].options()));
  }
  const auto chunks = razor::plan_row_chunks(work.rows, work.row_bytes, kChunkBytes);
  if (chunks.empty()) return outputs;

  const at::Tensor jobs = upload_job_table<razor::cuda::GatherJob>(
      chunks, idx.device(), [&](const razor::RowChunk& chunk) {
        const size_t t = static_cast<size_t>(chunk.tensor);
        return razor::cuda::GatherJob{work.sources[t].const_data_ptr(),
                                      outputs[t].mutable_data_ptr(), layouts[t].channels,
                                      work.row_bytes[t], chunk.row_begin, chunk.row_end};
      });
  check_launch(op, razor::cuda::launch_channel_gather(
                       static_cast<const razor::cuda::GatherJob*>(jobs.const_data_ptr()),
                       static_cast<int64_t>(chunks.size()), idx.const_data_ptr<int64_t>(), count,
                       c10::cuda::getCurrentCUDAStream().stream()));
  return outputs;
}

at::Tensor channel_norms_cuda(at::TensorList tensors, at::IntArrayRef dims, int64_t p) {
  constexpr const char* op = "channel_norms";
  const NormCall call = check_norm_call(op, tensors, dims, p);
  const razor::DType dtype = call.dtype;
  const std::vector<razor::ChannelLayout>& layouts = call.layouts;
  const int64_t channels = call.channels;
  const c10::cuda::CUDAGuard device_guard(tensors[0].device());
  const int64_t num_tensors = static_cast<int64_t>(tensors.size());

  const RowWork work = reduce_row_work(tensors, layouts);
  const auto chunks = razor::plan_row_chunks(work.rows, work.row_bytes, kChunkBytes);

  const at::TensorOptions options = tensors[0].options();
  at::Tensor out = at::empty({channels}, options.dtype(norm_output_dtype(dtype)));
  if (channels == 0) return out;
  at::Tensor pow_sums = at::empty({num_tensors, channels}, options.dtype(at::kDouble));
  at::Tensor jobs;
  if (!chunks.empty()) {
    jobs = upload_job_table<razor::cuda::NormJob>(
        chunks, tensors[0].device(), [&](const razor::RowChunk& chunk) {
          const size_t t = static_cast<size_t>(chunk.tensor);
          return razor::cuda::NormJob{work.sources[t].const_data_ptr(), chunk.tensor,
                                      layouts[t].inner, chunk.row_begin, chunk.row_end};
        });
  }
  check_launch(op, razor::cuda::launch_channel_norms(
                       jobs.defined() ? static_cast<const razor::cuda::NormJob*>(
                                            jobs.const_data_ptr())
                                      : nullptr,
                       static_cast<int64_t>(chunks.size()), dtype, static_cast<int>(p),
                       num_tensors, channels, pow_sums.mutable_data_ptr<double>(),
                       out.mutable_data_ptr(), c10::cuda::getCurrentCUDAStream().stream()));
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(razor_ext, CUDA, m) {
  m.impl("channel_gather", &channel_gather_cuda);
  m.impl("channel_norms", &channel_norms_cuda);
}

}  // namespace razor_ext
