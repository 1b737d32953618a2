// The CPU backend: GEMM on OpenBLAS (cblas), element-wise kernels as plain loops that the compiler
// vectorises, split over OpenMP threads only when an array is big enough to repay the fork. The
// image kernels (convolution by im2col + GEMM, pooling) are in cpu_image_ops.cpp, batch
// normalisation in cpu_batch_norm.cpp.
#pragma once

#include "backend/backend.hpp"

namespace krill::backend {

class CpuBackend final : public Backend {
 public:
  CpuBackend();
  Device device() const override { return Device::Cpu; }
  void set_threads(int threads) override;
  int threads() const override { return threads_; }

  void gemm(Transpose ta, Transpose tb, int64_t m, int64_t n, int64_t k, float alpha,
            const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
            int64_t ldc) override;
  void gemm_strided_batched(Transpose ta, Transpose tb, int64_t m, int64_t n, int64_t k,
                            float alpha, const float* a, int64_t lda, int64_t stride_a,
                            const float* b, int64_t ldb, int64_t stride_b, float beta, float* c,
                            int64_t ldc, int64_t stride_c, int64_t count) override;
  void broadcast_rows(const float* v, int64_t rows, int64_t cols, float* y) override;
  void column_sums(const float* x, int64_t rows, int64_t cols, float beta, float* out) override;
  void relu_forward(const float* x, float* y, int64_t n) override;
  void relu_backward(const float* y, const float* dy, float* dx, int64_t n) override;
  void sigmoid_forward(const float* x, float* y, int64_t n) override;
  void sigmoid_backward(const float* y, const float* dy, float* dx, int64_t n) override;
  void tanh_forward(const float* x, float* y, int64_t n) override;
  void tanh_backward(const float* y, const float* dy, float* dx, int64_t n) override;
  void dropout_forward(const float* x, float* y, float* mask, int64_t n, float p,
                       uint64_t seed) override;
  void multiply(const float* x, const float* mask, float* y, int64_t n) override;
  double softmax_cross_entropy(const float* logits, const int32_t* labels, int64_t rows,
                               int64_t cols, float* probs) override;
  void softmax_cross_entropy_backward(const float* probs, const int32_t* labels, int64_t rows,
                                      int64_t cols, float scale, float* dlogits) override;
  double squared_error(const float* pred, const float* target, int64_t n, float* diff) override;
  void scale(const float* x, float alpha, float* y, int64_t n) override;
  void gather_images(const uint8_t* pixels, const int64_t* rows, int64_t count, int64_t features,
                     float* out) override;
  int64_t count_correct(const float* scores, const int32_t* labels, int64_t rows,
                        int64_t cols) override;
  void conv2d_forward(const Conv2dGeometry& g, const Tensor& x, const Tensor& weight,
                      const Tensor& bias, Tensor& y, Tensor& workspace) override;
  void conv2d_backward(const Conv2dGeometry& g, const Tensor& x, const Tensor& dy,
                       const Tensor& weight, Tensor& dweight, Tensor& dbias, Tensor* dx,
                       Tensor& workspace) override;
  void max_pool2d_forward(const Pool2dGeometry& g, const Tensor& x, Tensor& y,
                          Tensor& argmax) override;
  void max_pool2d_backward(const Pool2dGeometry& g, const Tensor& dy, const Tensor& argmax,
                           Tensor& dx) override;
  void avg_pool2d_forward(const Pool2dGeometry& g, const Tensor& x, Tensor& y) override;
  void avg_pool2d_backward(const Pool2dGeometry& g, const Tensor& dy, Tensor& dx) override;
  void batch_norm_forward_train(const BatchNormGeometry& g, const Tensor& x, const Tensor& gamma,
                                const Tensor& beta, Tensor& y, Tensor& mean, Tensor& inv_std,
                                Tensor& running_mean, Tensor& running_var) override;
  void batch_norm_forward_eval(const BatchNormGeometry& g, const Tensor& x, const Tensor& gamma,
                               const Tensor& beta, const Tensor& running_mean,
                               const Tensor& running_var, Tensor& y) override;
  void batch_norm_backward(const BatchNormGeometry& g, const Tensor& x, const Tensor& dy,
                           const Tensor& gamma, const Tensor& mean, const Tensor& inv_std,
                           Tensor& dgamma, Tensor& dbeta, Tensor* dx) override;
  void sgd_update(float* w, const float* grad, float* velocity, int64_t n, float lr, float momentum,
                  float weight_decay, bool nesterov) override;
  void adam_update(float* w, const float* grad, float* m, float* v, int64_t n,
                   const AdamStep& step) override;

 private:
  int threads_ = 1;
};

}  // namespace krill::backend
