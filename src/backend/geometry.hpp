// The shapes of the image kernels (convolution, pooling, batch normalisation) of one sample; the
// batch is the tensors' first dimension. Square kernels, the same stride and padding along both
// axes (as the layers offer); the output size is floor((in + 2 pad - kernel) / stride) + 1,
// PyTorch's rule.
#pragma once

#include <cstdint>

#include "core/image_shape.hpp"

namespace krill::backend {

// Convolution: output channel o at (i, j) is bias[o] + sum over c, u, v of
//   weight[o, (c*k + u)*k + v] * input[c, i*stride - pad + u, j*stride - pad + v]  (0 outside).
struct Conv2dGeometry {
  ImageShape input;
  int64_t out_channels = 0;
  int64_t kernel = 1;
  int64_t stride = 1;
  int64_t padding = 0;

  int64_t out_height() const { return (input.height + 2 * padding - kernel) / stride + 1; }
  int64_t out_width() const { return (input.width + 2 * padding - kernel) / stride + 1; }
  ImageShape output() const { return {out_channels, out_height(), out_width()}; }
  // The length of one im2col column: the input values under one placement of the kernel.
  int64_t patch_size() const { return input.channels * kernel * kernel; }
  // Whether the input fits at least one kernel placement.
  bool fits() const {
    return input.height + 2 * padding >= kernel && input.width + 2 * padding >= kernel;
  }
};

// Pooling: each channel's windows of kernel x kernel, every `stride` pixels, no padding.
struct Pool2dGeometry {
  ImageShape input;
  int64_t kernel = 2;
  int64_t stride = 2;

  int64_t out_height() const { return (input.height - kernel) / stride + 1; }
  int64_t out_width() const { return (input.width - kernel) / stride + 1; }
  ImageShape output() const { return {input.channels, out_height(), out_width()}; }
  bool fits() const { return input.height >= kernel && input.width >= kernel; }
};

// Batch normalisation: a sample [C*S] is C channels of S values each (S = H*W for an image, 1 for a
// row of features); each channel's statistics are taken over its N*S values in the batch.
struct BatchNormGeometry {
  int64_t channels = 0;
  int64_t spatial = 1;    // values of one channel in one sample
  float eps = 1e-5f;      // added to the variance before its square root
  float momentum = 0.1f;  // running = (1 - momentum) * running + momentum * batch statistic

  int64_t sample() const { return channels * spatial; }
};

}  // namespace krill::backend
