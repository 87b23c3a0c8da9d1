// Argument checks and layouts shared by the CPU and CUDA impls of the channel op family, so both
// devices reject bad input with the same messages.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "razor/channel_layout.h"

namespace razor_ext {

inline razor::ChannelLayout channel_layout(const at::Tensor& t, int64_t dim) {
  razor::ChannelLayout layout;
  layout.channels = t.size(dim);
  for (int64_t d = 0; d < dim; ++d) layout.outer *= t.size(d);
  for (int64_t d = dim + 1; d < t.dim(); ++d) layout.inner *= t.size(d);
  return layout;
}

// Checks tensors[i] / dims[i] pairs (lengths, dims in range, strided, one device) and returns the
// layout of each tensor split at its channel dim.
inline std::vector<razor::ChannelLayout> check_channel_operands(const char* op,
                                                                at::TensorList tensors,
                                                                at::IntArrayRef dims) {
  TORCH_CHECK_VALUE(tensors.size() == dims.size(), op,
                    ": tensors and dims must have the same length, got ", tensors.size(),
                    " tensors and ", dims.size(), " dims");
  std::vector<razor::ChannelLayout> layouts;
  layouts.reserve(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const at::Tensor& t = tensors[i];
    TORCH_CHECK_VALUE(t.defined(), op, ": tensors[", i, "] is undefined");
    TORCH_CHECK_TYPE(t.layout() == at::kStrided, op, ": tensors[", i,
                     "] must be a dense (strided) tensor, got layout ", t.layout());
    TORCH_CHECK_VALUE(dims[i] >= 0 && dims[i] < t.dim(), op, ": dims[", i, "] = ", dims[i],
                      " is invalid for tensors[", i, "] of shape ", t.sizes(),
                      ": expected 0 <= dims[", i, "] < ", t.dim(),
                      " (negative dims are not accepted)");
    TORCH_CHECK_VALUE(t.device() == tensors[0].device(), op, ": tensors[", i, "] is on ",
                      t.device(), " but tensors[0] is on ", tensors[0].device(),
                      "; all tensors must be on one device");
    layouts.push_back(channel_layout(t, dims[i]));
  }
  return layouts;
}

inline void check_gather_index(const char* op, at::TensorList tensors, const at::Tensor& index) {
  TORCH_CHECK_TYPE(index.scalar_type() == at::kLong, op, ": index must be an int64 tensor, got ",
                   index.scalar_type());
  TORCH_CHECK_VALUE(index.dim() == 1, op, ": index must be 1-D, got shape ", index.sizes());
  if (!tensors.empty()) {
    TORCH_CHECK_VALUE(index.device() == tensors[0].device(), op, ": index is on ", index.device(),
                      " but tensors[0] is on ", tensors[0].device(),
                      "; index and tensors must be on one device");
  }
}

// The tensor with the fewest channels bounds every index: returns its position, or -1 if none.
inline int64_t fewest_channels(const std::vector<razor::ChannelLayout>& layouts) {
  int64_t best = -1;
  for (size_t i = 0; i < layouts.size(); ++i) {
    if (best < 0 || layouts[i].channels < layouts[best].channels) best = static_cast<int64_t>(i);
  }
  return best;
}

inline razor::DType norm_dtype(const char* op, at::TensorList tensors) {
  TORCH_CHECK_VALUE(!tensors.empty(), op, ": tensors must hold at least one tensor");
  const at::ScalarType st = tensors[0].scalar_type();
  for (size_t i = 1; i < tensors.size(); ++i) {
    TORCH_CHECK_TYPE(tensors[i].scalar_type() == st, op, ": tensors[", i, "] has dtype ",
                     tensors[i].scalar_type(), " but tensors[0] has ", st,
                     "; all tensors must share one dtype");
  }
  switch (st) {
    case at::kFloat: return razor::DType::kFloat32;
    case at::kDouble: return razor::DType::kFloat64;
    case at::kBFloat16: return razor::DType::kBFloat16;
    case at::kHalf: return razor::DType::kFloat16;
    default:
      TORCH_CHECK_TYPE(false, op,
                       ": tensors must be float32, float64, bfloat16 or float16, got ", st);
  }
}

// What a checked channel_norms call works with.
struct NormCall {
  razor::DType dtype;
  std::vector<razor::ChannelLayout> layouts;
  int64_t channels;  // shared by every tensor
};

// All of channel_norms' argument checks: one float dtype, the operands, p, and one channel count.
inline NormCall check_norm_call(const char* op, at::TensorList tensors, at::IntArrayRef dims,
                                int64_t p) {
  const razor::DType dtype = norm_dtype(op, tensors);
  std::vector<razor::ChannelLayout> layouts = check_channel_operands(op, tensors, dims);
  TORCH_CHECK_VALUE(p == 1 || p == 2, op, ": p must be 1 or 2, got ", p);
  for (size_t i = 1; i < layouts.size(); ++i) {
    TORCH_CHECK_VALUE(layouts[i].channels == layouts[0].channels, op, ": tensors[", i, "] has ",
                      layouts[i].channels, " channels along its dim but tensors[0] has ",
                      layouts[0].channels, "; a channel group must agree on the channel count");
  }
  const int64_t channels = layouts[0].channels;
  return {dtype, std::move(layouts), channels};
}

// Norms of float64 inputs stay float64; every other dtype reports float32.
inline at::ScalarType norm_output_dtype(razor::DType dtype) {
  return dtype == razor::DType::kFloat64 ? at::kDouble : at::kFloat;
}

// The contiguous inputs of a channel op and the rows of bytes each adds to the work plan
// (razor/work_plan.h). Rows without bytes add none: no chunk, thread or CUDA job is spent on them.
struct RowWork {
  std::vector<at::Tensor> sources;
  std::vector<int64_t> rows;
  std::vector<int64_t> row_bytes;
  int64_t total_bytes = 0;
};

// rows_of(i) is the number of rows the kernel walks for tensors[i].
template <typename RowsOf>
RowWork row_work(at::TensorList tensors, const std::vector<razor::ChannelLayout>& layouts,
                 RowsOf rows_of) {
  RowWork work;
  for (size_t i = 0; i < tensors.size(); ++i) {
    work.sources.push_back(tensors[i].contiguous());
    work.row_bytes.push_back(layouts[i].inner * tensors[i].element_size());
    work.rows.push_back(work.row_bytes.back() > 0 ? rows_of(i) : 0);
    work.total_bytes += work.rows.back() * work.row_bytes.back();
  }
  return work;
}

// A gather walks its output rows: `count` of every outer slice.
inline RowWork gather_row_work(at::TensorList tensors,
                               const std::vector<razor::ChannelLayout>& layouts, int64_t count) {
  return row_work(tensors, layouts, [&](size_t i) { return layouts[i].outer * count; });
}

// A per-channel reduction walks every source row.
inline RowWork reduce_row_work(at::TensorList tensors,
                               const std::vector<razor::ChannelLayout>& layouts) {
  return row_work(tensors, layouts, [&](size_t i) { return layouts[i].rows(); });
}

inline std::vector<int64_t> gathered_shape(const at::Tensor& t, int64_t dim, int64_t count) {
  std::vector<int64_t> shape(t.sizes().begin(), t.sizes().end());
  shape[dim] = count;
  return shape;
}

}  // namespace razor_ext
