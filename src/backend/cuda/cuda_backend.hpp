// The CUDA backend: GEMM on cuBLAS (FP32, no TF32: results stay comparable with the CPU's),
// element-wise, loss, optimizer and image kernels of its own (cuda_elementwise.cu,
// cuda_image_ops.cu), convolution as im2col + one cuBLAS GEMM per batch. A plain C++ header (no
// CUDA types), so that C++ code can name the class; only a build with KRILL_HAVE_CUDA defines it.
//
// Threads: trials run on several host threads at once, each calling this one object. Every call
// runs on the calling thread's default stream (cudaStreamPerThread) with that thread's own cuBLAS
// handle and scratch memory, so the threads never wait for each other's work; within a thread
// the calls are ordered as they were made. Kernels are asynchronous: what returns a value (the
// losses, count_correct) and the allocator's copies wait for the thread's stream, and only for
// it: a thread hands tensors its kernels wrote to another thread after synchronize().
//
// Host memory the ops take: labels (and the population ops' per-member arrays, and
// gather_images' rows) may be host or device memory; they are copied to the thread's scratch
// before the launch, host arrays through pinned memory, so that the copy does not wait for the
// work queued before it.
#pragma once

#include "backend/backend.hpp"

namespace krill::backend {

// Loads cuBLAS, which the backend opens when it starts rather than at link time (it costs a
// process 0.8 s and 230 MB to load): "" when it is loaded, else why not, naming where it looked.
// Needs no GPU.
std::string cublas_problem();

class CudaBackend final : public Backend {
 public:
  // Throws krill::Error when no CUDA device can be used (no GPU, no driver); registers the CUDA
  // allocator (core/device.hpp) otherwise.
  CudaBackend();
  Device device() const override { return Device::Cuda; }
  // One GPU per process: the thread count of a trial does not apply; threads() is 1.
  void set_threads(int threads) override;
  int threads() const override { return 1; }
  void synchronize() override;

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
  // The mask comes from a counter-based hash of (seed, i), not from the CPU's Rng: the same seed
  // gives the same mask on every CUDA run, but not the CPU's mask. Both keep each value with
  // probability 1 - p, independently, and scale it by 1 / (1 - p).
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
  void conv2d_forward_batched(const Conv2dGeometry& g, const float* x, bool x_shared,
                              const float* weight, const float* bias, int64_t members, int64_t rows,
                              float* y, Tensor& workspace) override;
  void conv2d_backward_batched(const Conv2dGeometry& g, const float* x, const float* dy,
                               const float* weight, int64_t members, int64_t rows, float* dweight,
                               float* dbias, float* dx, Tensor& workspace) override;
  void batch_norm_forward_train_batched(const BatchNormGeometry& g, const float* x,
                                        const float* gamma, const float* beta, int64_t members,
                                        int64_t rows, float* y, float* mean, float* inv_std,
                                        float* running_mean, float* running_var) override;
  void batch_norm_forward_eval_batched(const BatchNormGeometry& g, const float* x, bool x_shared,
                                       const float* gamma, const float* beta,
                                       const float* running_mean, const float* running_var,
                                       int64_t members, int64_t rows, float* y) override;
  void batch_norm_backward_batched(const BatchNormGeometry& g, const float* x, const float* dy,
                                   const float* gamma, const float* mean, const float* inv_std,
                                   int64_t members, int64_t rows, float* dgamma, float* dbeta,
                                   float* dx) override;
  void sgd_update(float* w, const float* grad, float* velocity, int64_t n, float lr, float momentum,
                  float weight_decay, bool nesterov) override;
  void adam_update(float* w, const float* grad, float* m, float* v, int64_t n,
                   const AdamStep& step) override;

  // The population ops in one launch each (the per-member host arrays copied once).
  void broadcast_rows_batched(const float* v, int64_t members, int64_t rows, int64_t cols,
                              float* y) override;
  void column_sums_batched(const float* x, int64_t members, int64_t rows, int64_t cols, float beta,
                           float* out) override;
  void softmax_cross_entropy_batched(const float* logits, const int32_t* labels, int64_t members,
                                     int64_t rows, int64_t cols, float* probs,
                                     double* losses) override;
  void count_correct_batched(const float* scores, const int32_t* labels, int64_t members,
                             int64_t rows, int64_t cols, int64_t* correct) override;
  void sgd_update_batched(float* w, const float* grad, float* velocity, int64_t members, int64_t n,
                          const float* lr, const float* momentum, const float* weight_decay,
                          bool nesterov) override;
  void adam_update_batched(float* w, const float* grad, float* m, float* v, int64_t members,
                           int64_t n, const AdamStep& step, const float* lr,
                           const float* weight_decay) override;
};

// The process's CUDA backend, made on first use; throws krill::Error (and tries again on the next
// call) when no device can be used.
CudaBackend& cuda_backend();

}  // namespace krill::backend
