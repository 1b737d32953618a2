// The CPU backend's kernels on oneDNN (Debian's libdnnl, OpenMP runtime: it runs on the calling
// thread's OpenMP team, the same `T` threads as OpenBLAS and krill's loops), where
// bench/kernel_choice_bench.cpp measured them faster: convolutions, and the larger GEMMs on one
// thread. Built
// only when CMake finds oneDNN (KRILL_HAVE_ONEDNN); otherwise onednn_stub.cpp declines everything.
//
// Convolution: Tensors stay in krill's layout ([N, C*H*W], NCHW per sample;
// weight [OC, C*k*k], i.e. OIHW): the primitives are created with oneDNN's preferred (blocked)
// layouts, and each operand is reordered from and to krill's layout around the call, which
// kernel_choice_bench measured as still faster than im2col + GEMM (docs/ARCHITECTURE.md, "Kernels
// chosen by measurement").
//
// Primitives depend on the geometry, the batch and the thread count; they are created once per
// combination and kept per calling thread (a study's trials each run on their own thread).
#pragma once

#include <cstdint>

#include "backend/geometry.hpp"

namespace krill::backend {

// Row-major C = alpha op(A) op(B) + beta C (Backend::gemm's contract) on oneDNN's sgemm where it
// was measured faster than OpenBLAS: on one thread, every side at least 16. Returns false, having
// done nothing, otherwise.
bool onednn_gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha,
                 const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                 int64_t ldc);

// Whether oneDNN runs this convolution's forward and parameter gradients (false: no oneDNN in this
// build, an empty batch, or a geometry oneDNN refused).
bool onednn_conv2d_supported(const Conv2dGeometry& g, int64_t batch);
// Whether oneDNN also runs its input gradient: not below 16 input channels, where its blocked
// layout pads the channels to a block of 16 (LeNet's conv1: 10x slower than im2col).
bool onednn_conv2d_data_supported(const Conv2dGeometry& g, int64_t batch);

// y [N, OC*OH*OW] = conv(x [N, C*H*W], w [OC, C*k*k]) + bias [OC]
void onednn_conv2d_forward(const Conv2dGeometry& g, int64_t batch, const float* x, const float* w,
                           const float* bias, float* y);
// Overwrites dw [OC, C*k*k] and db [OC] from x and dy; and dx [N, C*H*W] unless null (only where
// onednn_conv2d_data_supported).
void onednn_conv2d_backward(const Conv2dGeometry& g, int64_t batch, const float* x, const float* dy,
                            const float* w, float* dw, float* db, float* dx);

}  // namespace krill::backend
