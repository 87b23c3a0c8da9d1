#include "razor/im2col.h"

#include <algorithm>
#include <vector>

namespace razor {
namespace cpu {
namespace {

// The output columns [first, last) whose input column ow * stride - pad + offset lies in
// [0, width); first == last when none does.
struct ColumnRun {
  int64_t first, last;
};

ColumnRun in_bounds(int64_t out_w, int64_t width, int64_t stride, int64_t pad, int64_t offset) {
  // iw = ow * stride + shift, shift = offset - pad; need 0 <= iw <= width - 1.
  const int64_t shift = offset - pad;
  const int64_t first = shift >= 0 ? 0 : (-shift + stride - 1) / stride;
  const int64_t last_iw = width - 1 - shift;
  const int64_t last = last_iw < 0 ? 0 : last_iw / stride + 1;
  const int64_t lo = std::min(first, out_w);
  return {lo, std::max(lo, std::min(last, out_w))};
}

// Where tap (kh, kw) reads: rows [oh_first, oh_last) and columns `cols` of the output are in
// bounds. In a flat geometry (see flat()) output entry j = oh * width + ow reads input entry
// j + offset, so the rows' in-bounds span is one run [begin, end) of j, with the out-of-bounds
// columns of inner rows inside it.
struct Tap {
  int64_t oh_first, oh_last;
  ColumnRun cols;
  int64_t shift_h, shift_w;  // input row = oh * stride_h + shift_h, column = ow * stride_w + shift_w
  int64_t offset;            // flat geometries: input entry = output entry + offset
  int64_t begin, end;        // flat geometries: the run; begin == end when the tap reads nothing

  bool empty() const { return oh_first >= oh_last || cols.first == cols.last; }
};

// Stride 1 and as many output columns as input columns (a "same" padded conv, what ResNet-style
// 3x3 layers are): an output row and the input row it reads are equally long, so a tap's rows
// form one contiguous run in both. Taps then move ~out_h * width values at a time instead of
// rows of `width`, which on 7x7 and 14x14 planes is most of the cost.
bool flat(const ColumnGeometry& g) {
  return g.stride_h == 1 && g.stride_w == 1 && g.out_w == g.width;
}

Tap tap_of(const ColumnGeometry& g, int64_t kh, int64_t kw) {
  Tap t;
  t.shift_h = kh * g.dilation_h - g.pad_h;
  // ih = oh * stride_h + shift_h in [0, height).
  const ColumnRun rows = in_bounds(g.out_h, g.height, g.stride_h, g.pad_h, kh * g.dilation_h);
  t.oh_first = rows.first;
  t.oh_last = rows.last;
  t.cols = in_bounds(g.out_w, g.width, g.stride_w, g.pad_w, kw * g.dilation_w);
  t.shift_w = kw * g.dilation_w - g.pad_w;
  t.offset = t.shift_h * g.width + t.shift_w;
  t.begin = t.end = 0;
  if (!t.empty()) {
    t.begin = t.oh_first * g.out_w + t.cols.first;
    t.end = (t.oh_last - 1) * g.out_w + t.cols.last;
  }
  return t;
}

// Every tap's bounds, computed once per call: they take integer divisions, which per row would
// cost as much as moving a 7x7 plane's row.
std::vector<Tap> all_taps(const ColumnGeometry& g) {
  std::vector<Tap> taps;
  taps.reserve(static_cast<size_t>(g.kernel * g.kernel));
  for (int64_t kh = 0; kh < g.kernel; ++kh) {
    for (int64_t kw = 0; kw < g.kernel; ++kw) taps.push_back(tap_of(g, kh, kw));
  }
  return taps;
}

template <typename T>
void zero(T* p, int64_t n) {
  for (int64_t i = 0; i < n; ++i) p[i] = T(0);
}

// The out-of-bounds columns of the tap's in-bounds rows.
template <typename T>
void zero_outside_columns(T* row0, const Tap& t, int64_t out_w) {
  for (int64_t oh = t.oh_first; oh < t.oh_last; ++oh) {
    T* row = row0 + oh * out_w;
    zero(row, t.cols.first);
    zero(row + t.cols.last, out_w - t.cols.last);
  }
}

template <typename T>
void im2col_row_flat(const T* src_plane, T* dst, const ColumnGeometry& g, const Tap& t) {
  const int64_t n = g.columns();
  if (t.empty()) {
    zero(dst, n);
    return;
  }
  zero(dst, t.begin);
  const T* __restrict src = src_plane + t.offset + t.begin;  // in bounds: the run's first read
  T* __restrict out = dst + t.begin;
  for (int64_t j = 0; j < t.end - t.begin; ++j) out[j] = src[j];
  zero(dst + t.end, n - t.end);
  zero_outside_columns(dst, t, g.out_w);
}

template <typename T>
void im2col_row_strided(const T* src_plane, T* dst, const ColumnGeometry& g, const Tap& t) {
  for (int64_t oh = 0; oh < g.out_h; ++oh, dst += g.out_w) {
    if (oh < t.oh_first || oh >= t.oh_last || t.empty()) {
      zero(dst, g.out_w);
      continue;
    }
    const T* src = src_plane + (oh * g.stride_h + t.shift_h) * g.width;
    zero(dst, t.cols.first);
    for (int64_t ow = t.cols.first; ow < t.cols.last; ++ow) {
      dst[ow] = src[ow * g.stride_w + t.shift_w];
    }
    zero(dst + t.cols.last, g.out_w - t.cols.last);
  }
}

// dst_plane += the tap's columns `src` (one sample's part of a column-matrix row).
template <typename T>
void col2im_add_tap(T* src, T* dst_plane, const ColumnGeometry& g, const Tap& t, bool is_flat) {
  if (is_flat) {
    // Entries read from the padding carry no gradient: zeroed, the run adds them harmlessly to
    // the neighbouring row's edge pixel.
    zero_outside_columns(src, t, g.out_w);
    T* __restrict d = dst_plane + t.offset + t.begin;
    const T* __restrict s = src + t.begin;
    for (int64_t j = 0; j < t.end - t.begin; ++j) d[j] += s[j];
    return;
  }
  for (int64_t oh = t.oh_first; oh < t.oh_last; ++oh) {
    T* dst = dst_plane + (oh * g.stride_h + t.shift_h) * g.width;
    const T* row = src + oh * g.out_w;
    for (int64_t ow = t.cols.first; ow < t.cols.last; ++ow) {
      dst[ow * g.stride_w + t.shift_w] += row[ow];
    }
  }
}

}  // namespace

template <typename T>
void im2col_rows(const T* x, T* cols, const ColumnGeometry& g, int64_t row_begin,
                 int64_t row_end) {
  const int64_t kk = g.kernel * g.kernel, plane = g.height * g.width;
  const int64_t sample = g.channels * plane, ncols = g.columns(), row_stride = g.row_stride();
  const bool is_flat = flat(g);
  const std::vector<Tap> taps = all_taps(g);
  int64_t c = row_begin / kk, tap = row_begin % kk;
  for (int64_t r = row_begin; r < row_end; ++r) {
    const Tap& t = taps[static_cast<size_t>(tap)];
    // The samples' parts of row r are adjacent: the row is written front to back.
    for (int64_t s = 0; s < g.samples; ++s) {
      const T* src_plane = x + s * sample + c * plane;
      T* dst = cols + r * row_stride + s * ncols;
      if (is_flat) {
        im2col_row_flat(src_plane, dst, g, t);
      } else {
        im2col_row_strided(src_plane, dst, g, t);
      }
    }
    if (++tap == kk) {
      tap = 0;
      ++c;
    }
  }
}

template <typename T>
void col2im_channels(T* cols, T* x, const ColumnGeometry& g, int64_t c_begin, int64_t c_end) {
  const int64_t kk = g.kernel * g.kernel, plane = g.height * g.width;
  const int64_t sample = g.channels * plane, ncols = g.columns(), row_stride = g.row_stride();
  const bool is_flat = flat(g);
  const std::vector<Tap> taps = all_taps(g);
  for (int64_t c = c_begin; c < c_end; ++c) {
    for (int64_t s = 0; s < g.samples; ++s) zero(x + s * sample + c * plane, plane);
    for (int64_t tap = 0; tap < kk; ++tap) {
      const Tap& t = taps[static_cast<size_t>(tap)];
      if (t.empty()) continue;
      T* row = cols + (c * kk + tap) * row_stride;
      for (int64_t s = 0; s < g.samples; ++s) {
        col2im_add_tap(row + s * ncols, x + s * sample + c * plane, g, t, is_flat);
      }
    }
  }
}

template void im2col_rows<float>(const float*, float*, const ColumnGeometry&, int64_t, int64_t);
template void im2col_rows<double>(const double*, double*, const ColumnGeometry&, int64_t, int64_t);
template void col2im_channels<float>(float*, float*, const ColumnGeometry&, int64_t, int64_t);
template void col2im_channels<double>(double*, double*, const ColumnGeometry&, int64_t, int64_t);

}  // namespace cpu
}  // namespace razor
