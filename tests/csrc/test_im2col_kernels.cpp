// Torch-free unit tests of razor::cpu::im2col_rows / col2im_channels (run by ctest): against a
// per-element loop of the definition over paddings, strides, dilations, kernels larger than the
// input and odd shapes; one sample and batches laid out as one matrix, split into row / channel
// ranges as threads would split them.
#include <cstdint>
#include <cstdio>
#include <vector>

#include "razor/im2col.h"

#include "expect.h"

namespace {

using razor::ColumnGeometry;
using razor_test::failures;
using razor_test::lcg;

ColumnGeometry geometry(int64_t c, int64_t h, int64_t w, int64_t k, int64_t ph, int64_t pw,
                        int64_t sh, int64_t sw, int64_t dh, int64_t dw) {
  ColumnGeometry g;
  g.channels = c;
  g.height = h;
  g.width = w;
  g.kernel = k;
  g.pad_h = ph;
  g.pad_w = pw;
  g.stride_h = sh;
  g.stride_w = sw;
  g.dilation_h = dh;
  g.dilation_w = dw;
  g.out_h = (h + 2 * ph - dh * (k - 1) - 1) / sh + 1;
  g.out_w = (w + 2 * pw - dw * (k - 1) - 1) / sw + 1;
  return g;
}

// The input index column entry (r, oh, ow) reads, or -1 in the padding.
int64_t source(const ColumnGeometry& g, int64_t r, int64_t oh, int64_t ow) {
  const int64_t c = r / (g.kernel * g.kernel), kh = (r / g.kernel) % g.kernel, kw = r % g.kernel;
  const int64_t ih = oh * g.stride_h - g.pad_h + kh * g.dilation_h;
  const int64_t iw = ow * g.stride_w - g.pad_w + kw * g.dilation_w;
  if (ih < 0 || ih >= g.height || iw < 0 || iw >= g.width) return -1;
  return (c * g.height + ih) * g.width + iw;
}

template <typename T>
std::vector<T> random_values(int64_t n, uint32_t& state) {
  std::vector<T> v(static_cast<size_t>(n));
  for (T& x : v) x = static_cast<T>(static_cast<int32_t>(lcg(state) >> 8) % 2001 - 1000) / T(64);
  return v;
}

// A batch of `samples` samples, rows / channels split into `parts` ranges as threads would split
// them.
template <typename T>
void check(ColumnGeometry g, int64_t parts, int64_t samples) {
  g.samples = samples;
  uint32_t state = 12345;
  const int64_t numel = g.channels * g.height * g.width, ncols = g.columns();
  const int64_t row_stride = g.row_stride();
  EXPECT(row_stride == samples * ncols);
  const std::vector<T> x = random_values<T>(samples * numel, state);
  std::vector<T> dcols = random_values<T>(g.rows() * row_stride, state);
  const std::vector<T> dcols_in = dcols;  // col2im may zero the entries read from the padding
  const auto at = [&](int64_t r, int64_t s, int64_t oh, int64_t ow) {
    return static_cast<size_t>(r * row_stride + s * ncols + oh * g.out_w + ow);
  };

  // The outputs start as garbage to catch entries left unwritten.
  std::vector<T> cols(static_cast<size_t>(g.rows() * row_stride), T(-7));
  std::vector<T> dx(static_cast<size_t>(samples * numel), T(-7));
  for (int64_t p = 0; p < parts; ++p) {
    razor::cpu::im2col_rows(x.data(), cols.data(), g, g.rows() * p / parts,
                            g.rows() * (p + 1) / parts);
    razor::cpu::col2im_channels(dcols.data(), dx.data(), g, g.channels * p / parts,
                                g.channels * (p + 1) / parts);
  }
  // col2im by its definition: a pixel gathers every column entry that reads it, in row order
  // (exact here: the values are multiples of 1/64 and few taps meet, so nothing rounds).
  std::vector<T> want(static_cast<size_t>(samples * numel), T(0));
  for (int64_t s = 0; s < samples; ++s) {
    for (int64_t r = 0; r < g.rows(); ++r) {
      for (int64_t oh = 0; oh < g.out_h; ++oh) {
        for (int64_t ow = 0; ow < g.out_w; ++ow) {
          const int64_t src = source(g, r, oh, ow);
          EXPECT(cols[at(r, s, oh, ow)] == (src < 0 ? T(0) : x[static_cast<size_t>(s * numel + src)]));
          if (src >= 0) want[static_cast<size_t>(s * numel + src)] += dcols_in[at(r, s, oh, ow)];
          EXPECT(dcols[at(r, s, oh, ow)] == dcols_in[at(r, s, oh, ow)] ||
                 (src < 0 && dcols[at(r, s, oh, ow)] == T(0)));
        }
      }
    }
  }
  for (size_t i = 0; i < want.size(); ++i) EXPECT(dx[i] == want[i]);
}

template <typename T>
void check_all() {
  // channels, height, width, kernel, pad (h, w), stride (h, w), dilation (h, w)
  check<T>(geometry(3, 7, 7, 3, 1, 1, 1, 1, 1, 1), 1, 1);
  check<T>(geometry(5, 7, 9, 3, 1, 1, 1, 1, 1, 1), 3, 2);
  check<T>(geometry(4, 14, 14, 3, 1, 1, 2, 2, 1, 1), 2, 3);      // strided
  check<T>(geometry(2, 11, 8, 5, 2, 1, 1, 3, 1, 1), 2, 1);       // different pads and strides
  check<T>(geometry(3, 9, 10, 3, 2, 2, 1, 1, 2, 2), 4, 2);       // dilated
  check<T>(geometry(2, 6, 5, 7, 3, 3, 1, 1, 1, 1), 1, 3);        // kernel larger than the input
  check<T>(geometry(1, 5, 5, 3, 4, 4, 1, 1, 1, 1), 2, 1);        // padding wider than a tap reaches
  check<T>(geometry(3, 1, 1, 3, 1, 1, 1, 1, 1, 1), 3, 2);        // 1x1 input
  check<T>(geometry(6, 8, 8, 1, 0, 0, 1, 1, 1, 1), 4, 3);        // pointwise
  check<T>(geometry(2, 13, 4, 3, 0, 0, 3, 1, 1, 1), 2, 1);       // no padding, odd stride
  check<T>(geometry(7, 3, 17, 5, 2, 2, 2, 3, 1, 2), 5, 2);       // wide, every option at once
  check<T>(geometry(2, 6, 7, 3, 0, 1, 1, 1, 1, 1), 2, 3);        // same width, fewer rows
}

}  // namespace

int main() {
  check_all<float>();
  check_all<double>();
  if (failures != 0) {
    std::fprintf(stderr, "%d expectation(s) failed\n", failures);
    return 1;
  }
  std::printf("im2col kernels: all passed\n");
  return 0;
}
