#include "backend/cpu/im2col.hpp"

#include <algorithm>

namespace krill::backend {

namespace {

// Kernel tap (u, v) reads input column j*stride + offset for output column j; the output columns
// whose input column lies inside [0, width) are [first, last).
struct ValidRange {
  int64_t first, last;
};

ValidRange valid_columns(int64_t offset, int64_t stride, int64_t width, int64_t out_width) {
  const int64_t first = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  const int64_t last = offset > width - 1 ? 0 : (width - 1 - offset) / stride + 1;
  const int64_t lo = std::min(first, out_width);
  return {lo, std::clamp(last, lo, out_width)};
}

// Calls f(row of the column matrix, input row or nullptr in the padding, valid range, offset) for
// every (channel, tap, output row): the loop shared by im2col and its adjoint.
template <class F>
void for_each_tap_row(const Conv2dGeometry& g, F f) {
  const int64_t k = g.kernel, s = g.stride, pad = g.padding;
  const int64_t height = g.input.height, width = g.input.width;
  const int64_t out_h = g.out_height(), out_w = g.out_width();
  for (int64_t c = 0; c < g.input.channels; ++c) {
    for (int64_t u = 0; u < k; ++u) {
      for (int64_t v = 0; v < k; ++v) {
        const int64_t row = (c * k + u) * k + v;
        const int64_t offset = v - pad;
        const ValidRange cols = valid_columns(offset, s, width, out_w);
        for (int64_t i = 0; i < out_h; ++i) {
          const int64_t ih = i * s + u - pad;
          const int64_t in_row = ih >= 0 && ih < height ? (c * height + ih) * width : -1;
          f(row * out_h * out_w + i * out_w, in_row, cols, offset);
        }
      }
    }
  }
}

}  // namespace

void im2col(const Conv2dGeometry& g, const float* x, float* col) {
  const int64_t s = g.stride, out_w = g.out_width();
  for_each_tap_row(g, [=](int64_t out, int64_t in_row, ValidRange cols, int64_t offset) {
    float* dst = col + out;
    if (in_row < 0) {
      std::fill(dst, dst + out_w, 0.0f);
      return;
    }
    std::fill(dst, dst + cols.first, 0.0f);
    const float* src = x + in_row;  // src[j * s + offset] for j in [first, last) is in the row
    if (s == 1) {  // rows are short (8 values in LeNet's second conv): a loop, not a memmove call
      for (int64_t j = cols.first; j < cols.last; ++j) dst[j] = src[j + offset];
    } else {
      for (int64_t j = cols.first; j < cols.last; ++j) dst[j] = src[j * s + offset];
    }
    std::fill(dst + cols.last, dst + out_w, 0.0f);
  });
}

void col2im_add(const Conv2dGeometry& g, const float* col, float* x) {
  const int64_t s = g.stride;
  for_each_tap_row(g, [=](int64_t out, int64_t in_row, ValidRange cols, int64_t offset) {
    if (in_row < 0) return;
    const float* src = col + out;
    float* dst = x + in_row;
    if (s == 1) {
      for (int64_t j = cols.first; j < cols.last; ++j) dst[j + offset] += src[j];
    } else {
      for (int64_t j = cols.first; j < cols.last; ++j) dst[j * s + offset] += src[j];
    }
  });
}

}  // namespace krill::backend
