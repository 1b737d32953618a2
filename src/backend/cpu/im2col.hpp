// im2col and col2im for one sample: the lowering that turns a convolution into a GEMM
// (Chellapilla et al., "High Performance Convolutional Neural Networks for Document Processing",
// 2006; Caffe's layout). Row (c*k + u)*k + v of the column matrix holds, for every output pixel
// (i, j), the input value under kernel tap (u, v) of channel c: x[c, i*stride - pad + u,
// j*stride - pad + v], or 0 in the padding. Then y[OC, OH*OW] = W[OC, C*k*k] * col.
#pragma once

#include "backend/geometry.hpp"

namespace krill::backend {

// x [C, H, W] -> col [C*k*k, OH*OW]
void im2col(const Conv2dGeometry& g, const float* x, float* col);
// The adjoint: x [C, H, W] += the column entries, each added back to the pixel it came from
// (padding entries dropped). The caller zeroes x first for a plain col2im.
void col2im_add(const Conv2dGeometry& g, const float* col, float* x);

}  // namespace krill::backend
