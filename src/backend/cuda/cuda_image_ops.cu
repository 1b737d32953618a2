// The CUDA backend's image kernels. Convolution is im2col + one cuBLAS GEMM over a chunk of samples
// (not one GEMM per sample, as on the CPU): the chunk's columns side by side, col [C*k*k, n*P]
// (P = OH*OW, sample n's pixels at n*P), so that
//   forward:   Y [OC, n*P] = W [OC, C*k*k] col,  then y[n, o, p] = Y[o, n*P + p] + bias[o]
//   backward:  dyT [OC, n*P] = dy rearranged;  dW (+)= dyT col^T;  dcol = W^T dyT;  dx =
//   col2im(dcol)
// The chunk is as many samples as fit kWorkspaceFloats in the layer's workspace (at least one).
// Pooling and col2im gather (one thread per input pixel, windows in the CPU's order) rather than
// scatter with atomics, so their sums are the CPU's, bit for bit. Batch normalisation: one block
// per channel, sums in double as on the CPU. The population forms (`*_batched`, at the end) do
// all members at once: one im2col over their images, strided-batched GEMMs, and a row of blocks
// per member for the reductions.
#include <algorithm>
#include <cmath>

#include "backend/cuda/cuda_backend.hpp"
#include "backend/cuda/cuda_util.cuh"

namespace krill::backend {

namespace {

using cuda::for_each_index;
using cuda::kMaxGridY;
using cuda::kThreadsPerBlock;

constexpr int64_t kWorkspaceFloats = int64_t{1} << 26;  // 256 MiB of convolution scratch at most

__device__ inline int64_t smaller(int64_t a, int64_t b) {
  return a < b ? a : b;
}

int64_t chunk_samples(int64_t batch, int64_t floats_per_sample) {
  return std::clamp<int64_t>(kWorkspaceFloats / std::max<int64_t>(floats_per_sample, 1), 1,
                             std::max<int64_t>(batch, 1));
}

// col [C*k*k, count*P] from `count` samples of x (im2col.hpp's rows; 0 in the padding).
void im2col_chunk(const Conv2dGeometry& g, const float* x, int64_t count, float* col) {
  const int64_t k = g.kernel, s = g.stride, pad = g.padding;
  const int64_t height = g.input.height, width = g.input.width, in_size = g.input.numel();
  const int64_t out_w = g.out_width(), pixels = g.out_height() * out_w, cols = count * pixels;
  for_each_index(
      g.patch_size() * cols,
      [=] __device__(int64_t idx) {
        const int64_t row = idx / cols, at = idx % cols;
        const int64_t n = at / pixels, pixel = at % pixels;
        const int64_t c = row / (k * k), u = row / k % k, v = row % k;
        const int64_t ih = pixel / out_w * s - pad + u, iw = pixel % out_w * s - pad + v;
        const bool inside = ih >= 0 && ih < height && iw >= 0 && iw < width;
        col[idx] = inside ? x[n * in_size + (c * height + ih) * width + iw] : 0.0f;
      },
      "im2col");
}

// dx = col2im(dcol) for `count` samples: each input pixel sums the column entries that read it,
// taps (u, v) in increasing order as the CPU's col2im_add adds them.
void col2im_chunk(const Conv2dGeometry& g, const float* dcol, int64_t count, float* dx) {
  const int64_t k = g.kernel, s = g.stride, pad = g.padding;
  const int64_t height = g.input.height, width = g.input.width, in_size = g.input.numel();
  const int64_t out_h = g.out_height(), out_w = g.out_width(), pixels = out_h * out_w;
  const int64_t cols = count * pixels;
  for_each_index(
      count * in_size,
      [=] __device__(int64_t idx) {
        const int64_t n = idx / in_size, rest = idx % in_size;
        const int64_t c = rest / (height * width), h = rest / width % height, w = rest % width;
        float sum = 0.0f;
        for (int64_t u = 0; u < k; ++u) {
          const int64_t ti = h + pad - u;
          if (ti < 0 || ti % s != 0 || ti / s >= out_h) continue;
          for (int64_t v = 0; v < k; ++v) {
            const int64_t tj = w + pad - v;
            if (tj < 0 || tj % s != 0 || tj / s >= out_w) continue;
            sum += dcol[((c * k + u) * k + v) * cols + n * pixels + ti / s * out_w + tj / s];
          }
        }
        dx[idx] = sum;
      },
      "col2im");
}

// dbias[o] = the sum over samples, in order, of each sample's sum of dy[n, o, :] (the CPU's
// order): one block per output channel, a thread per sample, thread 0 adding the samples. A
// population launches a row of blocks per member (blockIdx.y; its `batch` samples and biases).
__global__ void conv_bias_grad_kernel(const float* dy, int64_t batch, int64_t out_channels,
                                      int64_t pixels, float* dbias) {
  __shared__ float sample_sums[kThreadsPerBlock];
  const int64_t o = blockIdx.x;
  dy += static_cast<int64_t>(blockIdx.y) * batch * out_channels * pixels;
  dbias += static_cast<int64_t>(blockIdx.y) * out_channels;
  float total = 0.0f;
  for (int64_t base = 0; base < batch; base += blockDim.x) {
    const int64_t n = base + threadIdx.x;
    if (n < batch) {
      const float* row = dy + (n * out_channels + o) * pixels;
      float sum = 0.0f;
      for (int64_t p = 0; p < pixels; ++p) sum += row[p];
      sample_sums[threadIdx.x] = sum;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      for (int64_t i = 0; i < smaller(blockDim.x, batch - base); ++i) {
        total = base + i == 0 ? sample_sums[i] : total + sample_sums[i];
      }
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) dbias[o] = total;
}

// Per channel c of x [N, C*S] (blockIdx.x = c): the batch's mean and biased variance in double,
// then y, mean, inv_std and the running statistics, by cpu_batch_norm.cpp's formulas. A
// population launches a row of blocks per member (blockIdx.y: its N rows and C statistics).
__global__ void batch_norm_train_kernel(BatchNormGeometry g, int64_t batch, const float* x,
                                        const float* gamma, const float* beta, float* y,
                                        float* mean, float* inv_std, float* running_mean,
                                        float* running_var) {
  const int64_t c = blockIdx.x, s = g.spatial,
                stride = g.channels * g.spatial;  // g.sample(), a host function
  const int64_t member = blockIdx.y, rows_at = member * batch * stride, at_c = member * g.channels;
  x += rows_at;
  y += rows_at;
  gamma += at_c;
  beta += at_c;
  mean += at_c;
  inv_std += at_c;
  running_mean += at_c;
  running_var += at_c;
  const int64_t values = batch * s;
  const auto count = static_cast<double>(values);
  auto at = [=](int64_t m) { return m / s * stride + c * s + m % s; };
  double sum = 0.0;
  for (int64_t m = threadIdx.x; m < values; m += blockDim.x) sum += x[at(m)];
  const double mu = cuda::block_sum(sum) / count;
  double squares = 0.0;
  for (int64_t m = threadIdx.x; m < values; m += blockDim.x) {
    const double d = x[at(m)] - mu;
    squares += d * d;
  }
  const double variance = cuda::block_sum(squares) / count;
  const double istd = 1.0 / sqrt(variance + g.eps);
  const double scale = gamma[c] * istd;
  const auto scale_f = static_cast<float>(scale);
  const auto shift_f = static_cast<float>(beta[c] - mu * scale);
  for (int64_t m = threadIdx.x; m < values; m += blockDim.x)
    y[at(m)] = x[at(m)] * scale_f + shift_f;
  if (threadIdx.x == 0) {
    const double momentum = g.momentum;
    mean[c] = static_cast<float>(mu);
    inv_std[c] = static_cast<float>(istd);
    running_mean[c] = static_cast<float>((1.0 - momentum) * running_mean[c] + momentum * mu);
    running_var[c] = static_cast<float>((1.0 - momentum) * running_var[c] +
                                        momentum * variance * count / (count - 1.0));
  }
}

// Per channel: dbeta = sum dy, dgamma = sum dy xhat (double); dx = gamma inv_std (dy - dbeta/M -
// xhat dgamma/M) in float, as on the CPU. Members by blockIdx.y, as the training forward.
__global__ void batch_norm_backward_kernel(BatchNormGeometry g, int64_t batch, const float* x,
                                           const float* dy, const float* gamma, const float* mean,
                                           const float* inv_std, float* dgamma, float* dbeta,
                                           float* dx) {
  const int64_t c = blockIdx.x, s = g.spatial,
                stride = g.channels * g.spatial;  // g.sample(), a host function
  const int64_t member = blockIdx.y, rows_at = member * batch * stride, at_c = member * g.channels;
  x += rows_at;
  dy += rows_at;
  if (dx) dx += rows_at;
  gamma += at_c;
  mean += at_c;
  inv_std += at_c;
  dgamma += at_c;
  dbeta += at_c;
  const int64_t values = batch * s;
  const auto count = static_cast<double>(values);
  auto at = [=](int64_t m) { return m / s * stride + c * s + m % s; };
  const double mu = mean[c], istd = inv_std[c];
  double sum_dy = 0.0, sum_dy_xhat = 0.0;
  for (int64_t m = threadIdx.x; m < values; m += blockDim.x) {
    sum_dy += dy[at(m)];
    sum_dy_xhat += dy[at(m)] * ((x[at(m)] - mu) * istd);
  }
  sum_dy = cuda::block_sum(sum_dy);
  sum_dy_xhat = cuda::block_sum(sum_dy_xhat);
  if (threadIdx.x == 0) {
    dbeta[c] = static_cast<float>(sum_dy);
    dgamma[c] = static_cast<float>(sum_dy_xhat);
  }
  if (!dx) return;
  const auto scale = static_cast<float>(gamma[c] * istd);
  const auto mean_dy = static_cast<float>(sum_dy / count);
  const auto mean_dy_xhat = static_cast<float>(sum_dy_xhat / count);
  const auto mu_f = static_cast<float>(mu), istd_f = static_cast<float>(istd);
  for (int64_t m = threadIdx.x; m < values; m += blockDim.x) {
    const float xhat = (x[at(m)] - mu_f) * istd_f;
    dx[at(m)] = scale * (dy[at(m)] - mean_dy - xhat * mean_dy_xhat);
  }
}

// A grid of `blocks` blocks for each of `members` (blockIdx.y; at most kMaxGridY members: larger
// populations go member by member).
dim3 member_grid(int64_t blocks, int64_t members) {
  return dim3(static_cast<unsigned>(blocks), static_cast<unsigned>(members));
}

// Batch norm in evaluation for `members` of `rows` rows each (x shared: the same rows for all).
void batch_norm_eval(const BatchNormGeometry& g, const float* in, bool x_shared, int64_t members,
                     int64_t rows, const float* scale_by, const float* shift_by, const float* mean,
                     const float* var, float* out) {
  const int64_t channels = g.channels, s = g.spatial, member_values = rows * g.sample();
  const double eps = g.eps;
  for_each_index(
      members * member_values,
      [=] __device__(int64_t i) {
        const int64_t p = i / member_values, own = i % member_values;
        const int64_t c = own / s % channels, at = p * channels + c;
        const double scale = scale_by[at] / sqrt(static_cast<double>(var[at]) + eps);
        const auto scale_f = static_cast<float>(scale);
        const auto shift_f = static_cast<float>(shift_by[at] - mean[at] * scale);
        out[i] = in[x_shared ? own : i] * scale_f + shift_f;
      },
      "batch_norm_forward_eval");
}

}  // namespace

void CudaBackend::conv2d_forward(const Conv2dGeometry& g, const Tensor& x, const Tensor& weight,
                                 const Tensor& bias, Tensor& y, Tensor& workspace) {
  const int64_t batch = x.dim(0), in_size = g.input.numel(), patch = g.patch_size();
  const int64_t out_channels = g.out_channels, pixels = g.out_height() * g.out_width();
  if (batch == 0 || pixels == 0) return;
  const int64_t chunk = chunk_samples(batch, (patch + out_channels) * pixels);
  workspace.resize({chunk * (patch + out_channels) * pixels}, Device::Cuda);
  float* col = workspace.data();
  float* product = col + chunk * patch * pixels;
  const float* b = bias.data();
  for (int64_t first = 0; first < batch; first += chunk) {
    const int64_t count = std::min(chunk, batch - first), cols = count * pixels;
    im2col_chunk(g, x.data() + first * in_size, count, col);
    gemm(Transpose::No, Transpose::No, out_channels, cols, patch, 1.0f, weight.data(), patch, col,
         cols, 0.0f, product, cols);
    float* out = y.data() + first * out_channels * pixels;
    for_each_index(
        count * out_channels * pixels,
        [=] __device__(int64_t idx) {
          const int64_t n = idx / (out_channels * pixels), o = idx / pixels % out_channels;
          out[idx] = product[o * cols + n * pixels + idx % pixels] + b[o];
        },
        "conv2d_forward bias");
  }
}

void CudaBackend::conv2d_backward(const Conv2dGeometry& g, const Tensor& x, const Tensor& dy,
                                  const Tensor& weight, Tensor& dweight, Tensor& dbias, Tensor* dx,
                                  Tensor& workspace) {
  const int64_t batch = x.dim(0), in_size = g.input.numel(), patch = g.patch_size();
  const int64_t out_channels = g.out_channels, pixels = g.out_height() * g.out_width();
  if (batch == 0 || pixels == 0) {  // no sample to overwrite the gradients with
    dweight.zero();
    dbias.zero();
    if (dx) dx->zero();  // as the CPU's: no output pixel takes from an input
    return;
  }
  conv_bias_grad_kernel<<<static_cast<unsigned>(out_channels), kThreadsPerBlock, 0,
                          cuda::stream()>>>(dy.data(), batch, out_channels, pixels, dbias.data());
  KRILL_CUDA_CHECK_LAUNCH("conv2d_backward bias");
  // Per sample: col and dyT, and dcol when dx is wanted.
  const int64_t per_sample = ((dx ? 2 : 1) * patch + out_channels) * pixels;
  const int64_t chunk = chunk_samples(batch, per_sample);
  workspace.resize({chunk * per_sample}, Device::Cuda);
  float* col = workspace.data();
  float* dy_t = col + chunk * patch * pixels;
  float* dcol = dy_t + chunk * out_channels * pixels;
  for (int64_t first = 0; first < batch; first += chunk) {
    const int64_t count = std::min(chunk, batch - first), cols = count * pixels;
    im2col_chunk(g, x.data() + first * in_size, count, col);
    const float* grad_out = dy.data() + first * out_channels * pixels;
    for_each_index(
        out_channels * cols,
        [=] __device__(int64_t idx) {
          const int64_t o = idx / cols, n = idx % cols / pixels;
          dy_t[idx] = grad_out[(n * out_channels + o) * pixels + idx % pixels];
        },
        "conv2d_backward dy");
    gemm(Transpose::No, Transpose::Yes, out_channels, patch, cols, 1.0f, dy_t, cols, col, cols,
         first == 0 ? 0.0f : 1.0f, dweight.data(), patch);
    if (dx) {
      gemm(Transpose::Yes, Transpose::No, patch, cols, out_channels, 1.0f, weight.data(), patch,
           dy_t, cols, 0.0f, dcol, cols);
      col2im_chunk(g, dcol, count, dx->data() + first * in_size);
    }
  }
}

// Pooling: plane = n*C + c, of H*W inputs and OH*OW outputs.
void CudaBackend::max_pool2d_forward(const Pool2dGeometry& g, const Tensor& x, Tensor& y,
                                     Tensor& argmax) {
  const int64_t width = g.input.width, k = g.kernel, s = g.stride;
  const int64_t out_w = g.out_width(), in_plane = g.input.plane();
  const int64_t out_plane = g.out_height() * out_w;
  const float* in = x.data();
  float* out = y.data();
  float* offsets = argmax.data();
  for_each_index(
      x.dim(0) * g.input.channels * out_plane,
      [=] __device__(int64_t idx) {
        const int64_t plane = idx / out_plane, i = idx % out_plane / out_w, j = idx % out_w;
        const float* first = in + plane * in_plane + i * s * width + j * s;
        float best = first[0], best_offset = 0.0f;
        for (int64_t tap = 1; tap < k * k; ++tap) {
          const int64_t offset = tap / k * width + tap % k;
          const float value = first[offset];
          // NaN wins, as on the CPU (and in PyTorch).
          if (value > best || (value != value && best == best)) {
            best = value;
            best_offset = static_cast<float>(offset);
          }
        }
        out[idx] = best;
        offsets[idx] = best_offset;
      },
      "max_pool2d_forward");
}

// Each input pixel sums dy over the windows (i, j increasing, the CPU's order) whose argmax it is.
void CudaBackend::max_pool2d_backward(const Pool2dGeometry& g, const Tensor& dy,
                                      const Tensor& argmax, Tensor& dx) {
  const int64_t width = g.input.width, k = g.kernel, s = g.stride;
  const int64_t out_h = g.out_height(), out_w = g.out_width(), in_plane = g.input.plane();
  const int64_t out_plane = out_h * out_w;
  const float* grad_out = dy.data();
  const float* offsets = argmax.data();
  float* grad_in = dx.data();
  for_each_index(
      dy.dim(0) * g.input.channels * in_plane,
      [=] __device__(int64_t idx) {
        const int64_t plane = idx / in_plane, h = idx % in_plane / width, w = idx % width;
        const int64_t i_first = h < k ? 0 : (h - k + s) / s, i_last = smaller(h / s, out_h - 1);
        const int64_t j_first = w < k ? 0 : (w - k + s) / s, j_last = smaller(w / s, out_w - 1);
        float sum = 0.0f;
        for (int64_t i = i_first; i <= i_last; ++i) {
          for (int64_t j = j_first; j <= j_last; ++j) {
            const int64_t at = plane * out_plane + i * out_w + j;
            if (static_cast<int64_t>(offsets[at]) == (h - i * s) * width + (w - j * s)) {
              sum += grad_out[at];
            }
          }
        }
        grad_in[idx] = sum;
      },
      "max_pool2d_backward");
}

void CudaBackend::avg_pool2d_forward(const Pool2dGeometry& g, const Tensor& x, Tensor& y) {
  const int64_t width = g.input.width, k = g.kernel, s = g.stride;
  const int64_t out_w = g.out_width(), in_plane = g.input.plane();
  const int64_t out_plane = g.out_height() * out_w;
  const float inv_area = 1.0f / static_cast<float>(k * k);
  const float* in = x.data();
  float* out = y.data();
  for_each_index(
      x.dim(0) * g.input.channels * out_plane,
      [=] __device__(int64_t idx) {
        const int64_t plane = idx / out_plane, i = idx % out_plane / out_w, j = idx % out_w;
        const float* first = in + plane * in_plane + i * s * width + j * s;
        float sum = 0.0f;
        for (int64_t u = 0; u < k; ++u) {
          for (int64_t v = 0; v < k; ++v) sum += first[u * width + v];
        }
        out[idx] = sum * inv_area;
      },
      "avg_pool2d_forward");
}

void CudaBackend::avg_pool2d_backward(const Pool2dGeometry& g, const Tensor& dy, Tensor& dx) {
  const int64_t width = g.input.width, k = g.kernel, s = g.stride;
  const int64_t out_h = g.out_height(), out_w = g.out_width(), in_plane = g.input.plane();
  const int64_t out_plane = out_h * out_w;
  const float inv_area = 1.0f / static_cast<float>(k * k);
  const float* grad_out = dy.data();
  float* grad_in = dx.data();
  for_each_index(
      dy.dim(0) * g.input.channels * in_plane,
      [=] __device__(int64_t idx) {
        const int64_t plane = idx / in_plane, h = idx % in_plane / width, w = idx % width;
        const int64_t i_first = h < k ? 0 : (h - k + s) / s, i_last = smaller(h / s, out_h - 1);
        const int64_t j_first = w < k ? 0 : (w - k + s) / s, j_last = smaller(w / s, out_w - 1);
        float sum = 0.0f;
        for (int64_t i = i_first; i <= i_last; ++i) {
          for (int64_t j = j_first; j <= j_last; ++j) {
            sum += grad_out[plane * out_plane + i * out_w + j] * inv_area;
          }
        }
        grad_in[idx] = sum;
      },
      "avg_pool2d_backward");
}

void CudaBackend::batch_norm_forward_train(const BatchNormGeometry& g, const Tensor& x,
                                           const Tensor& gamma, const Tensor& beta, Tensor& y,
                                           Tensor& mean, Tensor& inv_std, Tensor& running_mean,
                                           Tensor& running_var) {
  if (g.channels == 0) return;
  batch_norm_train_kernel<<<static_cast<unsigned>(g.channels), kThreadsPerBlock, 0,
                            cuda::stream()>>>(g, x.dim(0), x.data(), gamma.data(), beta.data(),
                                              y.data(), mean.data(), inv_std.data(),
                                              running_mean.data(), running_var.data());
  KRILL_CUDA_CHECK_LAUNCH("batch_norm_forward_train");
}

void CudaBackend::batch_norm_forward_eval(const BatchNormGeometry& g, const Tensor& x,
                                          const Tensor& gamma, const Tensor& beta,
                                          const Tensor& running_mean, const Tensor& running_var,
                                          Tensor& y) {
  batch_norm_eval(g, x.data(), false, 1, x.dim(0), gamma.data(), beta.data(), running_mean.data(),
                  running_var.data(), y.data());
}

void CudaBackend::batch_norm_backward(const BatchNormGeometry& g, const Tensor& x, const Tensor& dy,
                                      const Tensor& gamma, const Tensor& mean,
                                      const Tensor& inv_std, Tensor& dgamma, Tensor& dbeta,
                                      Tensor* dx) {
  if (g.channels == 0) return;
  batch_norm_backward_kernel<<<static_cast<unsigned>(g.channels), kThreadsPerBlock, 0,
                               cuda::stream()>>>(g, x.dim(0), x.data(), dy.data(), gamma.data(),
                                                 mean.data(), inv_std.data(), dgamma.data(),
                                                 dbeta.data(), dx ? dx->data() : nullptr);
  KRILL_CUDA_CHECK_LAUNCH("batch_norm_backward");
}

// The population forms: members side by side. Convolution: one im2col over a chunk of members'
// images (or once, of the shared rows), then each product one strided-batched GEMM over the
// members (member p's weights against its own columns), and one kernel for the biases. Batch norm:
// a row of blocks per member. A member too large for the workspace alone goes member by member.
void CudaBackend::conv2d_forward_batched(const Conv2dGeometry& g, const float* x, bool x_shared,
                                         const float* weight, const float* bias, int64_t members,
                                         int64_t rows, float* y, Tensor& workspace) {
  const int64_t in_size = g.input.numel(), patch = g.patch_size(), oc = g.out_channels;
  const int64_t pixels = g.out_height() * g.out_width(), member_cols = rows * pixels;
  if (members == 0 || member_cols == 0) return;
  const int64_t shared_floats = x_shared ? patch * member_cols : 0;
  const int64_t per_member = (x_shared ? 0 : patch * member_cols) + oc * member_cols;
  if (shared_floats + per_member > kWorkspaceFloats) {
    Backend::conv2d_forward_batched(g, x, x_shared, weight, bias, members, rows, y, workspace);
    return;
  }
  const int64_t chunk =
      std::clamp<int64_t>((kWorkspaceFloats - shared_floats) / per_member, 1, members);
  workspace.resize({shared_floats + chunk * per_member}, Device::Cuda);
  float* col = workspace.data();
  float* product = col + (x_shared ? shared_floats : chunk * patch * member_cols);
  if (x_shared) im2col_chunk(g, x, rows, col);
  for (int64_t first = 0; first < members; first += chunk) {
    const int64_t count = std::min(chunk, members - first), cols = count * member_cols;
    if (!x_shared) im2col_chunk(g, x + first * rows * in_size, count * rows, col);
    // Y_p [OC, rows*P] = W_p col_p, in product [OC, cols], member p's columns at p*rows*P.
    gemm_strided_batched(Transpose::No, Transpose::No, oc, member_cols, patch, 1.0f,
                         weight + first * oc * patch, patch, oc * patch, col,
                         x_shared ? member_cols : cols, x_shared ? 0 : member_cols, 0.0f, product,
                         cols, member_cols, count);
    float* out = y + first * rows * oc * pixels;
    const float* b = bias + first * oc;
    for_each_index(
        count * rows * oc * pixels,
        [=] __device__(int64_t idx) {
          const int64_t n = idx / (oc * pixels), o = idx / pixels % oc;
          out[idx] = product[o * cols + n * pixels + idx % pixels] + b[n / rows * oc + o];
        },
        "conv2d_forward_batched bias");
  }
}

void CudaBackend::conv2d_backward_batched(const Conv2dGeometry& g, const float* x, const float* dy,
                                          const float* weight, int64_t members, int64_t rows,
                                          float* dweight, float* dbias, float* dx,
                                          Tensor& workspace) {
  const int64_t in_size = g.input.numel(), patch = g.patch_size(), oc = g.out_channels;
  const int64_t pixels = g.out_height() * g.out_width(), member_cols = rows * pixels;
  const int64_t per_member = ((dx ? 2 : 1) * patch + oc) * member_cols;
  if (members == 0) return;
  // No sample, a member too large for the workspace, or more members than a grid's rows.
  if (member_cols == 0 || per_member > kWorkspaceFloats || members > kMaxGridY) {
    Backend::conv2d_backward_batched(g, x, dy, weight, members, rows, dweight, dbias, dx,
                                     workspace);
    return;
  }
  conv_bias_grad_kernel<<<member_grid(oc, members), kThreadsPerBlock, 0, cuda::stream()>>>(
      dy, rows, oc, pixels, dbias);
  KRILL_CUDA_CHECK_LAUNCH("conv2d_backward_batched bias");
  const int64_t chunk = std::clamp<int64_t>(kWorkspaceFloats / per_member, 1, members);
  workspace.resize({chunk * per_member}, Device::Cuda);
  float* col = workspace.data();
  float* dy_t = col + chunk * patch * member_cols;
  float* dcol = dy_t + chunk * oc * member_cols;
  for (int64_t first = 0; first < members; first += chunk) {
    const int64_t count = std::min(chunk, members - first), cols = count * member_cols;
    im2col_chunk(g, x + first * rows * in_size, count * rows, col);
    const float* grad_out = dy + first * rows * oc * pixels;
    for_each_index(
        oc * cols,
        [=] __device__(int64_t idx) {
          const int64_t o = idx / cols, n = idx % cols / pixels;
          dy_t[idx] = grad_out[(n * oc + o) * pixels + idx % pixels];
        },
        "conv2d_backward_batched dy");
    // dW_p [OC, patch] = dyT_p col_p^T;  dcol_p = W_p^T dyT_p (member p's columns at p*rows*P).
    gemm_strided_batched(Transpose::No, Transpose::Yes, oc, patch, member_cols, 1.0f, dy_t, cols,
                         member_cols, col, cols, member_cols, 0.0f, dweight + first * oc * patch,
                         patch, oc * patch, count);
    if (dx) {
      gemm_strided_batched(Transpose::Yes, Transpose::No, patch, member_cols, oc, 1.0f,
                           weight + first * oc * patch, patch, oc * patch, dy_t, cols, member_cols,
                           0.0f, dcol, cols, member_cols, count);
      col2im_chunk(g, dcol, count * rows, dx + first * rows * in_size);
    }
  }
}

void CudaBackend::batch_norm_forward_train_batched(const BatchNormGeometry& g, const float* x,
                                                   const float* gamma, const float* beta,
                                                   int64_t members, int64_t rows, float* y,
                                                   float* mean, float* inv_std, float* running_mean,
                                                   float* running_var) {
  if (g.channels == 0 || members == 0) return;
  if (members > kMaxGridY) {
    Backend::batch_norm_forward_train_batched(g, x, gamma, beta, members, rows, y, mean, inv_std,
                                              running_mean, running_var);
    return;
  }
  batch_norm_train_kernel<<<member_grid(g.channels, members), kThreadsPerBlock, 0,
                            cuda::stream()>>>(g, rows, x, gamma, beta, y, mean, inv_std,
                                              running_mean, running_var);
  KRILL_CUDA_CHECK_LAUNCH("batch_norm_forward_train_batched");
}

void CudaBackend::batch_norm_forward_eval_batched(const BatchNormGeometry& g, const float* x,
                                                  bool x_shared, const float* gamma,
                                                  const float* beta, const float* running_mean,
                                                  const float* running_var, int64_t members,
                                                  int64_t rows, float* y) {
  batch_norm_eval(g, x, x_shared, members, rows, gamma, beta, running_mean, running_var, y);
}

void CudaBackend::batch_norm_backward_batched(const BatchNormGeometry& g, const float* x,
                                              const float* dy, const float* gamma,
                                              const float* mean, const float* inv_std,
                                              int64_t members, int64_t rows, float* dgamma,
                                              float* dbeta, float* dx) {
  if (g.channels == 0 || members == 0) return;
  if (members > kMaxGridY) {
    Backend::batch_norm_backward_batched(g, x, dy, gamma, mean, inv_std, members, rows, dgamma,
                                         dbeta, dx);
    return;
  }
  batch_norm_backward_kernel<<<member_grid(g.channels, members), kThreadsPerBlock, 0,
                               cuda::stream()>>>(g, rows, x, dy, gamma, mean, inv_std, dgamma,
                                                 dbeta, dx);
  KRILL_CUDA_CHECK_LAUNCH("batch_norm_backward_batched");
}

}  // namespace krill::backend
