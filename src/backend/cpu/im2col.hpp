// im2col and col2im for one sample: the lowering that turns a convolution into a GEMM
// (Chellapilla et al., "High Performance Convolutional Neural Networks for Document Processing",
// 2006; Caffe's layout). Row (c*k + u)*k + v of the column matrix holds, for every output pixel
// (i, j), the input value under kernel tap (u, v) of channel c: x[c, i*stride - pad + u,
// j*stride - pad + v], or 0 in the padding. Then y[OC, OH*OW] = W[OC, C*k*k] * col.
#pragma once

#include "backend/backend.hpp"
#include "backend/geometry.hpp"

namespace krill::backend {

// x [C, H, W] -> col [C*k*k, OH*OW]
void im2col(const Conv2dGeometry& g, const float* x, float* col);
// The adjoint: x [C, H, W] += the column entries, each added back to the pixel it came from
// (padding entries dropped). The caller zeroes x first for a plain col2im.
void col2im_add(const Conv2dGeometry& g, const float* col, float* x);

// Convolution as im2col + GEMM (on `be`) per sample, with Backend::conv2d_forward's and
// conv2d_backward's contracts: the CPU backend's path where oneDNN is absent or declines, and the
// reference its oneDNN path is tested against.
void im2col_conv2d_forward(Backend& be, const Conv2dGeometry& g, const Tensor& x,
                           const Tensor& weight, const Tensor& bias, Tensor& y, Tensor& workspace);
void im2col_conv2d_backward(Backend& be, const Conv2dGeometry& g, const Tensor& x, const Tensor& dy,
                            const Tensor& weight, Tensor& dweight, Tensor& dbias, Tensor* dx,
                            Tensor& workspace);
// The input gradient alone, dx [N, C*H*W] (sized by the caller) from dy: beside oneDNN's parameter
// gradients where oneDNN's own input gradient is slow (few input channels).
void im2col_conv2d_backward_data(Backend& be, const Conv2dGeometry& g, const Tensor& dy,
                                 const Tensor& weight, Tensor& dx, Tensor& workspace);

}  // namespace krill::backend
