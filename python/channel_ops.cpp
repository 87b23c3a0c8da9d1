// Schemas of the channel op family and their CPU impls. Work is split into RowChunks across all
// tensors and the chunks into one part of equal bytes per thread, so one at::parallel_for keeps
// every thread busy whatever the mix of tensor sizes.
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cmath>
#include <map>
#include <mutex>

#include "channel_args.h"
#include "razor/channel_ops.h"
#include "razor/huge_pages.h"
#include "razor/work_plan.h"

namespace razor_ext {
namespace {

// Chunks of about 256 KiB: threads are balanced by the plan's parts, so this only sets how much
// work each call into a csrc/ kernel does.
constexpr int64_t kChunkBytes = 256 * 1024;
// Below this many bytes in all, threads cost more than they save.
constexpr int64_t kSerialBytes = 512 * 1024;

// Plans the rows into one part per thread, of equal bytes, and runs
// body(chunks, chunk_begin, chunk_end) once per part, in parallel; small totals run as one part.
template <typename Body>
void run_row_plan(const RowWork& work, Body body) {
  const int64_t parts = work.total_bytes < kSerialBytes ? 1 : at::get_num_threads();
  const razor::RowPlan plan = razor::plan_row_work(work.rows, work.row_bytes, kChunkBytes, parts);
  const auto run_parts = [&](int64_t first, int64_t last) {
    body(plan.chunks, static_cast<int64_t>(plan.part_begin[static_cast<size_t>(first)]),
         static_cast<int64_t>(plan.part_begin[static_cast<size_t>(last)]));
  };
  if (parts == 1) {
    run_parts(0, 1);
  } else {
    at::parallel_for(0, parts, 1, run_parts);
  }
}

std::vector<at::Tensor> channel_gather_cpu(at::TensorList tensors, const at::Tensor& index,
                                           at::IntArrayRef dims) {
  constexpr const char* op = "channel_gather";
  const auto layouts = check_channel_operands(op, tensors, dims);
  check_gather_index(op, tensors, index);
  const at::Tensor idx = index.contiguous();
  const int64_t count = idx.numel();
  const int64_t bound = fewest_channels(layouts);
  if (bound >= 0) {
    const int64_t* ip = idx.data_ptr<int64_t>();
    const int64_t bad = razor::cpu::first_index_out_of_range(ip, count, layouts[bound].channels);
    TORCH_CHECK_INDEX(bad < 0, op, ": index[", bad, "] = ", bad < 0 ? 0 : ip[bad],
                      " is out of range for tensors[", bound, "] with ", layouts[bound].channels,
                      " channels along dim ", bound < 0 ? 0 : dims[bound]);
  }

  const RowWork work = gather_row_work(tensors, layouts, count);
  std::vector<at::Tensor> outputs;
  std::vector<razor::cpu::RowStores> stores;
  for (size_t i = 0; i < tensors.size(); ++i) {
    outputs.push_back(at::empty(gathered_shape(tensors[i], dims[i], count), tensors[i].options()));
    // before the first write: a large output's page faults cost more than its copying
    razor::cpu::advise_huge_pages(outputs.back().mutable_data_ptr(), outputs.back().nbytes());
    stores.push_back(razor::cpu::prefer_streaming_stores(work.total_bytes, work.row_bytes[i])
                         ? razor::cpu::RowStores::kStreaming
                         : razor::cpu::RowStores::kCached);
  }
  const int64_t* ip = idx.data_ptr<int64_t>();
  run_row_plan(work, [&](const auto& chunks, int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const razor::RowChunk& chunk = chunks[static_cast<size_t>(c)];
      const size_t t = static_cast<size_t>(chunk.tensor);
      razor::cpu::channel_gather_rows(work.sources[t].const_data_ptr(),
                                      outputs[t].mutable_data_ptr(), ip, count, layouts[t],
                                      work.sources[t].element_size(), chunk.row_begin,
                                      chunk.row_end, stores[t]);
    }
  });
  return outputs;
}

at::Tensor channel_norms_cpu(at::TensorList tensors, at::IntArrayRef dims, int64_t p) {
  constexpr const char* op = "channel_norms";
  const NormCall call = check_norm_call(op, tensors, dims, p);
  const razor::DType dtype = call.dtype;
  const std::vector<razor::ChannelLayout>& layouts = call.layouts;
  const int64_t channels = call.channels;
  const int64_t num_tensors = static_cast<int64_t>(tensors.size());

  const RowWork work = reduce_row_work(tensors, layouts);

  // Each part sums |x|^p per (tensor, channel) privately; partials are merged in chunk order so
  // the result does not depend on thread timing.
  std::map<int64_t, std::vector<double>> partials;
  std::mutex partials_mutex;
  run_row_plan(work, [&](const auto& chunks, int64_t begin, int64_t end) {
    std::vector<double> acc(static_cast<size_t>(num_tensors * channels), 0.0);
    for (int64_t c = begin; c < end; ++c) {
      const razor::RowChunk& chunk = chunks[static_cast<size_t>(c)];
      const size_t t = static_cast<size_t>(chunk.tensor);
      razor::cpu::channel_pow_sums(work.sources[t].const_data_ptr(), dtype, layouts[t],
                                   static_cast<int>(p), chunk.row_begin, chunk.row_end,
                                   acc.data() + chunk.tensor * channels);
    }
    std::lock_guard<std::mutex> lock(partials_mutex);
    partials.emplace(begin, std::move(acc));
  });

  std::vector<double> sums(static_cast<size_t>(num_tensors * channels), 0.0);
  for (const auto& entry : partials) {
    for (size_t k = 0; k < sums.size(); ++k) sums[k] += entry.second[k];
  }
  at::Tensor out = at::zeros({channels}, tensors[0].options().dtype(at::kDouble));
  double* o = out.data_ptr<double>();
  for (int64_t t = 0; t < num_tensors; ++t) {
    for (int64_t c = 0; c < channels; ++c) {
      const double s = sums[static_cast<size_t>(t * channels + c)];
      o[c] += p == 1 ? s : std::sqrt(s);
    }
  }
  return out.to(norm_output_dtype(dtype));
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(razor_ext, m) {
  m.def("channel_gather(Tensor[] tensors, Tensor index, int[] dims) -> Tensor[]");
  m.def("channel_norms(Tensor[] tensors, int[] dims, int p) -> Tensor");
}

TORCH_LIBRARY_IMPL(razor_ext, CPU, m) {
  m.impl("channel_gather", &channel_gather_cpu);
  m.impl("channel_norms", &channel_norms_cpu);
}

}  // namespace razor_ext
