#include "conv_columns.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>

#include "razor/im2col.h"

namespace razor_ext {
namespace {

razor::ColumnGeometry geometry(int64_t samples, int64_t channels, int64_t height, int64_t width,
                               const ColumnArgs& a) {
  razor::ColumnGeometry g;
  g.samples = samples;
  g.channels = channels;
  g.height = height;
  g.width = width;
  g.kernel = a.kernel;
  g.pad_h = a.padding[0];
  g.pad_w = a.padding[1];
  g.stride_h = a.stride[0];
  g.stride_w = a.stride[1];
  g.dilation_h = a.dilation[0];
  g.dilation_w = a.dilation[1];
  g.out_h = a.out_hw[0];
  g.out_w = a.out_hw[1];
  return g;
}

bool own_kernel(const at::Tensor& t) {
  return t.device().is_cpu() &&
         (t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble);
}

// Items (rows or channels) per parallel_for grain so that each holds about ATen's grain size of
// elements: fewer and a thread's start-up outweighs its work.
int64_t grain(int64_t elements_per_item) {
  return std::max<int64_t>(1, at::internal::GRAIN_SIZE / std::max<int64_t>(1, elements_per_item));
}

}  // namespace

at::Tensor im2col_batch(const at::Tensor& input, const ColumnArgs& a) {
  const at::Tensor x = input.contiguous();
  const razor::ColumnGeometry g = geometry(x.size(0), x.size(1), x.size(2), x.size(3), a);
  if (!own_kernel(x)) {
    return at::im2col(x, {a.kernel, a.kernel}, a.dilation, a.padding, a.stride)
        .transpose(0, 1)
        .reshape({g.rows(), g.row_stride()});
  }
  at::Tensor cols = at::empty({g.rows(), g.row_stride()}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "razor_ext::im2col_batch", [&] {
    const scalar_t* src = x.const_data_ptr<scalar_t>();
    scalar_t* dst = cols.mutable_data_ptr<scalar_t>();
    at::parallel_for(0, g.rows(), grain(g.row_stride()), [&](int64_t begin, int64_t end) {
      razor::cpu::im2col_rows(src, dst, g, begin, end);
    });
  });
  return cols;
}

at::Tensor col2im_batch(const at::Tensor& columns, int64_t samples, int64_t height, int64_t width,
                        const ColumnArgs& a) {
  const int64_t kk = a.kernel * a.kernel;
  const razor::ColumnGeometry g = geometry(samples, columns.size(0) / kk, height, width, a);
  TORCH_CHECK(columns.dim() == 2 && columns.size(0) == g.rows() &&
                  columns.size(1) == g.row_stride(),
              "col2im_batch: columns of shape ", columns.sizes(), " do not match ", samples,
              " samples of a ", g.kernel, "x", g.kernel, " kernel over ", height, "x", width);
  if (!own_kernel(columns)) {
    return at::col2im(columns.view({g.rows(), samples, g.columns()}).transpose(0, 1),
                      {height, width}, {a.kernel, a.kernel}, a.dilation, a.padding, a.stride);
  }
  at::Tensor cols = columns.contiguous();  // entries read from the padding may be zeroed in place
  at::Tensor x = at::empty({samples, g.channels, height, width}, cols.options());
  AT_DISPATCH_FLOATING_TYPES(cols.scalar_type(), "razor_ext::col2im_batch", [&] {
    scalar_t* src = cols.mutable_data_ptr<scalar_t>();
    scalar_t* dst = x.mutable_data_ptr<scalar_t>();
    at::parallel_for(0, g.channels, grain(kk * g.row_stride()), [&](int64_t begin, int64_t end) {
      razor::cpu::col2im_channels(src, dst, g, begin, end);
    });
  });
  return x;
}

}  // namespace razor_ext
