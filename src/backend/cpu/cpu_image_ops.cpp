// The CPU backend's image kernels: convolution on oneDNN where the build has it and it takes the
// geometry (onednn.hpp), else as im2col + OpenBLAS GEMM, one sample at a time; pooling as
// plain loops. Samples (for convolution) and channels (for pooling) are split over
// OpenMP threads when the batch holds enough work to repay the fork; inside such a team each GEMM
// runs on one thread (OpenBLAS's OpenMP build does not nest), which suits the small per-sample
// products (LeNet's are 32x576x25 and 64x64x800) better than splitting each one.
#include <algorithm>
#include <cmath>

#include "backend/cpu/cpu_backend.hpp"
#include "backend/cpu/im2col.hpp"
#include "backend/cpu/onednn.hpp"
#include "backend/cpu/parallel.hpp"

namespace krill::backend {

namespace {

// A 1x1 kernel with stride 1 and no padding reads every pixel once: the input is its own column
// matrix.
bool is_pointwise(const Conv2dGeometry& g) {
  return g.kernel == 1 && g.stride == 1 && g.padding == 0;
}

// dx_n = col2im(W^T dy_n): one sample's input gradient; `dcol` [C*k*k, P] is scratch (unused
// when pointwise: the product is dx_n itself).
void sample_input_grad(Backend& be, const Conv2dGeometry& g, const float* w, const float* dyn,
                       float* dxn, float* dcol) {
  const int64_t patch = g.patch_size(), pixels = g.out_height() * g.out_width();
  if (is_pointwise(g)) {
    be.gemm(Transpose::Yes, Transpose::No, patch, pixels, g.out_channels, 1.0f, w, patch, dyn,
            pixels, 0.0f, dxn, pixels);
    return;
  }
  be.gemm(Transpose::Yes, Transpose::No, patch, pixels, g.out_channels, 1.0f, w, patch, dyn, pixels,
          0.0f, dcol, pixels);
  std::fill_n(dxn, g.input.numel(), 0.0f);
  col2im_add(g, dcol, dxn);
}

}  // namespace

void CpuBackend::conv2d_forward(const Conv2dGeometry& g, const Tensor& x, const Tensor& weight,
                                const Tensor& bias, Tensor& y, Tensor& workspace) {
  const int64_t batch = x.dim(0);
  if (onednn_conv2d_supported(g, batch)) {
    onednn_conv2d_forward(g, batch, x.data(), weight.data(), bias.data(), y.data());
  } else {
    im2col_conv2d_forward(*this, g, x, weight, bias, y, workspace);
  }
}

// oneDNN takes the parameter gradients wherever it takes the geometry, so they are the same numbers
// whether or not the input gradient is wanted; the input gradient is oneDNN's too from 16 input
// channels, im2col's below.
void CpuBackend::conv2d_backward(const Conv2dGeometry& g, const Tensor& x, const Tensor& dy,
                                 const Tensor& weight, Tensor& dweight, Tensor& dbias, Tensor* dx,
                                 Tensor& workspace) {
  const int64_t batch = x.dim(0);
  if (!onednn_conv2d_supported(g, batch)) {
    im2col_conv2d_backward(*this, g, x, dy, weight, dweight, dbias, dx, workspace);
    return;
  }
  const bool data_on_onednn = dx && onednn_conv2d_data_supported(g, batch);
  onednn_conv2d_backward(g, batch, x.data(), dy.data(), weight.data(), dweight.data(), dbias.data(),
                         data_on_onednn ? dx->data() : nullptr);
  if (dx && !data_on_onednn) im2col_conv2d_backward_data(*this, g, dy, weight, *dx, workspace);
}

// Per sample n:  col = im2col(x_n) [C*k*k, P];  y_n [OC, P] = bias (per row) + W [OC, C*k*k] col
void im2col_conv2d_forward(Backend& be, const Conv2dGeometry& g, const Tensor& x,
                           const Tensor& weight, const Tensor& bias, Tensor& y, Tensor& workspace) {
  const int64_t batch = x.dim(0), in_size = g.input.numel(), patch = g.patch_size();
  const int64_t out_channels = g.out_channels, pixels = g.out_height() * g.out_width();
  const bool pointwise = is_pointwise(g);
  const int team = team_size(batch, batch * patch * pixels);
  if (!pointwise) workspace.resize({team, patch * pixels});
  const float* w = weight.data();
  const float* b = bias.data();
  for_each_item(batch, team, [&](int thread, int64_t n) {
    const float* xn = x.data() + n * in_size;
    float* yn = y.data() + n * out_channels * pixels;
    for (int64_t o = 0; o < out_channels; ++o) std::fill_n(yn + o * pixels, pixels, b[o]);
    const float* col = xn;
    if (!pointwise) {
      float* scratch = workspace.data() + thread * patch * pixels;
      im2col(g, xn, scratch);
      col = scratch;
    }
    be.gemm(Transpose::No, Transpose::No, out_channels, pixels, patch, 1.0f, w, patch, col, pixels,
            1.0f, yn, pixels);
  });
}

// Per sample n (col = im2col(x_n) recomputed, cheaper in memory than keeping the batch's):
//   dW [OC, C*k*k] += dy_n [OC, P] col^T;  db += row sums of dy_n;
//   dx_n = col2im(W^T dy_n [C*k*k, P])
// With a team, each thread sums its samples' dW and db apart and the partial sums are added in
// thread order.
void im2col_conv2d_backward(Backend& be, const Conv2dGeometry& g, const Tensor& x, const Tensor& dy,
                            const Tensor& weight, Tensor& dweight, Tensor& dbias, Tensor* dx,
                            Tensor& workspace) {
  const int64_t batch = x.dim(0), in_size = g.input.numel(), patch = g.patch_size();
  const int64_t out_channels = g.out_channels, pixels = g.out_height() * g.out_width();
  const bool pointwise = is_pointwise(g);
  if (batch == 0) {  // no sample to overwrite the gradients with
    dweight.zero();
    dbias.zero();
    return;
  }
  const int team = team_size(batch, batch * patch * pixels);
  // Per thread: col and dcol [patch * pixels] (not when pointwise), and with a team its partial
  // dW [OC * patch] and db [OC].
  const int64_t columns = pointwise ? 0 : 2 * patch * pixels;
  const int64_t partials = team > 1 ? out_channels * patch + out_channels : 0;
  const int64_t per_thread = columns + partials;
  workspace.resize({team, per_thread});
  for (int t = 0; t < team && partials > 0; ++t) {
    std::fill_n(workspace.data() + t * per_thread + columns, partials, 0.0f);
  }
  const float* w = weight.data();
  for_each_item(batch, team, [&](int thread, int64_t n) {
    float* scratch = workspace.data() + thread * per_thread;
    float* dw = team > 1 ? scratch + columns : dweight.data();
    float* db = team > 1 ? dw + out_channels * patch : dbias.data();
    const bool accumulate = team > 1 || n > 0;  // else overwrite (and ignore a NaN left there)
    const float beta = accumulate ? 1.0f : 0.0f;
    const float* xn = x.data() + n * in_size;
    const float* dyn = dy.data() + n * out_channels * pixels;
    const float* col = xn;
    if (!pointwise) {
      im2col(g, xn, scratch);
      col = scratch;
    }
    be.gemm(Transpose::No, Transpose::Yes, out_channels, patch, pixels, 1.0f, dyn, pixels, col,
            pixels, beta, dw, patch);
    for (int64_t o = 0; o < out_channels; ++o) {
      const float* row = dyn + o * pixels;
      float sum = 0.0f;
      for (int64_t p = 0; p < pixels; ++p) sum += row[p];
      db[o] = accumulate ? db[o] + sum : sum;
    }
    if (dx) {
      sample_input_grad(be, g, w, dyn, dx->data() + n * in_size,
                        pointwise ? nullptr : scratch + patch * pixels);
    }
  });
  if (team > 1) {
    float* dw = dweight.data();
    float* db = dbias.data();
    std::fill_n(dw, out_channels * patch, 0.0f);
    std::fill_n(db, out_channels, 0.0f);
    for (int t = 0; t < team; ++t) {
      const float* partial = workspace.data() + t * per_thread + columns;
      for (int64_t i = 0; i < out_channels * patch; ++i) dw[i] += partial[i];
      for (int64_t o = 0; o < out_channels; ++o) db[o] += partial[out_channels * patch + o];
    }
  }
}

// Per sample n:  dx_n = col2im(W^T dy_n)  (the input gradient alone)
void im2col_conv2d_backward_data(Backend& be, const Conv2dGeometry& g, const Tensor& dy,
                                 const Tensor& weight, Tensor& dx, Tensor& workspace) {
  const int64_t batch = dy.dim(0), in_size = g.input.numel(), patch = g.patch_size();
  const int64_t out_channels = g.out_channels, pixels = g.out_height() * g.out_width();
  const bool pointwise = is_pointwise(g);
  const int team = team_size(batch, batch * patch * pixels);
  if (!pointwise) workspace.resize({team, patch * pixels});
  const float* w = weight.data();
  for_each_item(batch, team, [&](int thread, int64_t n) {
    sample_input_grad(be, g, w, dy.data() + n * out_channels * pixels, dx.data() + n * in_size,
                      pointwise ? nullptr : workspace.data() + thread * patch * pixels);
  });
}

// Pooling works on planes: sample n's channel c is plane n*C + c, of H*W inputs and OH*OW outputs.
// Max pooling records each window's argmax as its offset u*W + v from the window's first input (a
// small integer, exact as a float).
void CpuBackend::max_pool2d_forward(const Pool2dGeometry& g, const Tensor& x, Tensor& y,
                                    Tensor& argmax) {
  const int64_t width = g.input.width, k = g.kernel, s = g.stride;
  const int64_t out_h = g.out_height(), out_w = g.out_width();
  const int64_t in_plane = g.input.plane(), out_plane = out_h * out_w;
  const int64_t planes = x.dim(0) * g.input.channels;
  for_each_item(planes, team_size(planes, x.numel()), [&](int, int64_t plane) {
    const float* in = x.data() + plane * in_plane;
    // Tap by tap over a whole output row, with branch-free selects the compiler can vectorise:
    // the row's maxima so far in y, their offsets in argmax.
    for (int64_t i = 0; i < out_h; ++i) {
      float* __restrict best = y.data() + plane * out_plane + i * out_w;
      float* __restrict best_offset = argmax.data() + plane * out_plane + i * out_w;
      const float* __restrict first = in + i * s * width;
      for (int64_t j = 0; j < out_w; ++j) {
        best[j] = first[j * s];
        best_offset[j] = 0.0f;
      }
      for (int64_t tap = 1; tap < k * k; ++tap) {
        const float* __restrict row = first + (tap / k) * width + tap % k;
        const auto offset = static_cast<float>((tap / k) * width + tap % k);
        for (int64_t j = 0; j < out_w; ++j) {
          const float value = row[j * s], current = best[j], current_offset = best_offset[j];
          // NaN wins, as in PyTorch: a NaN input makes a NaN output, not a silent max.
          const bool take = (value > current) | ((value != value) & (current == current));
          best[j] = take ? value : current;
          best_offset[j] = take ? offset : current_offset;
        }
      }
    }
  });
}

void CpuBackend::max_pool2d_backward(const Pool2dGeometry& g, const Tensor& dy,
                                     const Tensor& argmax, Tensor& dx) {
  const int64_t width = g.input.width, s = g.stride;
  const int64_t out_h = g.out_height(), out_w = g.out_width();
  const int64_t in_plane = g.input.plane(), out_plane = out_h * out_w;
  const int64_t planes = dy.dim(0) * g.input.channels;
  for_each_item(planes, team_size(planes, dx.numel()), [&](int, int64_t plane) {
    float* grad_in = dx.data() + plane * in_plane;
    const float* grad_out = dy.data() + plane * out_plane;
    const float* offset = argmax.data() + plane * out_plane;
    std::fill_n(grad_in, in_plane, 0.0f);
    for (int64_t i = 0; i < out_h; ++i) {
      for (int64_t j = 0; j < out_w; ++j) {
        const auto at = i * s * width + j * s + static_cast<int64_t>(offset[i * out_w + j]);
        grad_in[at] += grad_out[i * out_w + j];
      }
    }
  });
}

void CpuBackend::avg_pool2d_forward(const Pool2dGeometry& g, const Tensor& x, Tensor& y) {
  const int64_t width = g.input.width, k = g.kernel, s = g.stride;
  const int64_t out_h = g.out_height(), out_w = g.out_width();
  const int64_t in_plane = g.input.plane(), out_plane = out_h * out_w;
  const int64_t planes = x.dim(0) * g.input.channels;
  const float inv_area = 1.0f / static_cast<float>(k * k);
  for_each_item(planes, team_size(planes, x.numel()), [&](int, int64_t plane) {
    const float* in = x.data() + plane * in_plane;
    float* out = y.data() + plane * out_plane;
    for (int64_t i = 0; i < out_h; ++i) {
      for (int64_t j = 0; j < out_w; ++j) {
        float sum = 0.0f;
        for (int64_t u = 0; u < k; ++u) {
          const float* row = in + (i * s + u) * width + j * s;
          for (int64_t v = 0; v < k; ++v) sum += row[v];
        }
        out[i * out_w + j] = sum * inv_area;
      }
    }
  });
}

void CpuBackend::avg_pool2d_backward(const Pool2dGeometry& g, const Tensor& dy, Tensor& dx) {
  const int64_t width = g.input.width, k = g.kernel, s = g.stride;
  const int64_t out_h = g.out_height(), out_w = g.out_width();
  const int64_t in_plane = g.input.plane(), out_plane = out_h * out_w;
  const int64_t planes = dy.dim(0) * g.input.channels;
  const float inv_area = 1.0f / static_cast<float>(k * k);
  for_each_item(planes, team_size(planes, dx.numel()), [&](int, int64_t plane) {
    float* grad_in = dx.data() + plane * in_plane;
    const float* grad_out = dy.data() + plane * out_plane;
    std::fill_n(grad_in, in_plane, 0.0f);
    for (int64_t i = 0; i < out_h; ++i) {
      for (int64_t j = 0; j < out_w; ++j) {
        const float share = grad_out[i * out_w + j] * inv_area;
        for (int64_t u = 0; u < k; ++u) {
          float* row = grad_in + (i * s + u) * width + j * s;
          for (int64_t v = 0; v < k; ++v) row[v] += share;
        }
      }
    }
  });
}

}  // namespace krill::backend
