// Backend: the numerical kernels every layer, loss and optimizer runs on, for one device. Layers
// never touch BLAS or loops over raw memory themselves; they call backend(device).<op>(...), so a
// CUDA backend is one more implementation of this interface, and a "population" of same-shaped
// models can use gemm_strided_batched without rewriting the layers.
//
// Conventions: matrices are row-major; `rows x cols` with leading dimension `ld` (elements between
// the starts of two rows). Pointers are device pointers of this backend's device. The image kernels
// take tensors: a batch of images is [N, C*H*W] (NCHW flattened per sample, geometry.hpp), and a
// kernel may resize the `workspace` tensor its layer owns to whatever scratch it needs (on the
// device, reused from step to step).
#pragma once

#include <cstdint>
#include <string>

#include "backend/geometry.hpp"
#include "core/device.hpp"
#include "core/tensor.hpp"

namespace krill::backend {

enum class Transpose { No, Yes };

struct AdamStep {
  float lr, beta1, beta2, eps, weight_decay;
  float one_minus_beta1, one_minus_beta2;    // computed in double: 1 - 0.999f is not 0.001f
  float bias_correction1, bias_correction2;  // 1 - beta^t
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;

  // Threads used by this backend's kernels (BLAS and element-wise), set once per trial.
  virtual void set_threads(int threads) = 0;
  virtual int threads() const = 0;
  // Waits until the work this thread queued has run. A device queues kernels per thread (the CUDA
  // backend: on the thread's own stream), so a thread calls this before another thread reads or
  // writes the tensors that work touches (a population before its PBT members save or load their
  // slices on their own threads). The CPU's ops are done when they return: nothing to wait for.
  virtual void synchronize() {}

  // C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C
  virtual void gemm(Transpose ta, Transpose tb, int64_t m, int64_t n, int64_t k, float alpha,
                    const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                    int64_t ldc) = 0;
  // `count` independent GEMMs, the i-th at a + i*stride_a etc. (population mode).
  virtual void gemm_strided_batched(Transpose ta, Transpose tb, int64_t m, int64_t n, int64_t k,
                                    float alpha, const float* a, int64_t lda, int64_t stride_a,
                                    const float* b, int64_t ldb, int64_t stride_b, float beta,
                                    float* c, int64_t ldc, int64_t stride_c, int64_t count) = 0;

  // y[r, :] = v for every row (initialises C before a GEMM with beta = 1, i.e. adds a bias).
  virtual void broadcast_rows(const float* v, int64_t rows, int64_t cols, float* y) = 0;
  // out[c] = beta * out[c] + sum_r x[r, c]   (bias gradient)
  virtual void column_sums(const float* x, int64_t rows, int64_t cols, float beta, float* out) = 0;

  // Activations. Backward passes take the forward *output* y.
  virtual void relu_forward(const float* x, float* y, int64_t n) = 0;
  virtual void relu_backward(const float* y, const float* dy, float* dx, int64_t n) = 0;
  virtual void sigmoid_forward(const float* x, float* y, int64_t n) = 0;
  virtual void sigmoid_backward(const float* y, const float* dy, float* dx, int64_t n) = 0;
  virtual void tanh_forward(const float* x, float* y, int64_t n) = 0;
  virtual void tanh_backward(const float* y, const float* dy, float* dx, int64_t n) = 0;
  // Inverted dropout: mask[i] = keep ? 1/(1-p) : 0, y = x * mask; mask drawn from `seed`.
  virtual void dropout_forward(const float* x, float* y, float* mask, int64_t n, float p,
                               uint64_t seed) = 0;
  // y = x * mask (dropout backward; also any element-wise product)
  virtual void multiply(const float* x, const float* mask, float* y, int64_t n) = 0;

  // Softmax cross-entropy over rows of `logits`, numerically stable (max subtracted, log-sum-exp).
  // Writes the probabilities and returns the summed (not averaged) loss; labels in [0, cols).
  virtual double softmax_cross_entropy(const float* logits, const int32_t* labels, int64_t rows,
                                       int64_t cols, float* probs) = 0;
  // dlogits = scale * (probs - onehot(labels))
  virtual void softmax_cross_entropy_backward(const float* probs, const int32_t* labels,
                                              int64_t rows, int64_t cols, float scale,
                                              float* dlogits) = 0;
  // Returns sum((pred - target)^2); diff = pred - target.
  virtual double squared_error(const float* pred, const float* target, int64_t n, float* diff) = 0;
  // y = alpha * x
  virtual void scale(const float* x, float alpha, float* y, int64_t n) = 0;
  // A batch from images kept on this device (train::DeviceImages): row r of out [count, features]
  // is image rows[r] of `pixels` (uint8, `features` per image, image i at pixels + i * features)
  // as floats, core/pixels.hpp's conversion (data::Dataset::gather's), so the same bits. `rows`
  // is host memory, as labels are (a device backend copies it); out is this device's.
  virtual void gather_images(const uint8_t* pixels, const int64_t* rows, int64_t count,
                             int64_t features, float* out) = 0;
  // Row-wise argmax; counts rows whose argmax equals the label.
  virtual int64_t count_correct(const float* scores, const int32_t* labels, int64_t rows,
                                int64_t cols) = 0;

  // Convolution (geometry.hpp). x [N, C*H*W], weight [OC, C*k*k], bias [OC]; y [N, OC*OH*OW]
  // sized by the caller. The CPU does it as im2col + GEMM per sample.
  virtual void conv2d_forward(const Conv2dGeometry& g, const Tensor& x, const Tensor& weight,
                              const Tensor& bias, Tensor& y, Tensor& workspace) = 0;
  // From dy [N, OC*OH*OW] and the forward's x: overwrites dweight [OC, C*k*k] and dbias [OC], and
  // dx [N, C*H*W] (sized by the caller) unless dx is null.
  virtual void conv2d_backward(const Conv2dGeometry& g, const Tensor& x, const Tensor& dy,
                               const Tensor& weight, Tensor& dweight, Tensor& dbias, Tensor* dx,
                               Tensor& workspace) = 0;
  // Max pooling: y [N, C*OH*OW]; argmax (same shape) receives where each window's first maximum
  // is, as its offset u*W + v from the window's first input (a float: exact below 2^24).
  virtual void max_pool2d_forward(const Pool2dGeometry& g, const Tensor& x, Tensor& y,
                                  Tensor& argmax) = 0;
  // dx = 0, then dx at each window's argmax += dy.
  virtual void max_pool2d_backward(const Pool2dGeometry& g, const Tensor& dy, const Tensor& argmax,
                                   Tensor& dx) = 0;
  // Average pooling: y = the mean of each window; dx: each window's dy / k^2 to its k^2 inputs.
  virtual void avg_pool2d_forward(const Pool2dGeometry& g, const Tensor& x, Tensor& y) = 0;
  virtual void avg_pool2d_backward(const Pool2dGeometry& g, const Tensor& dy, Tensor& dx) = 0;

  // Batch normalisation (geometry.hpp), per channel c over its M = N*S values of x [N, C*S]; gamma,
  // beta and every statistic are [C]. Training (M > 1): the batch's mean and inv_std =
  // 1/sqrt(biased variance + eps) are written for the backward pass, y = gamma (x - mean) inv_std +
  // beta, and the running statistics move towards the batch's, the variance's unbiased (* M/(M-1)),
  // as PyTorch's nn.BatchNorm1d/2d do.
  virtual void batch_norm_forward_train(const BatchNormGeometry& g, const Tensor& x,
                                        const Tensor& gamma, const Tensor& beta, Tensor& y,
                                        Tensor& mean, Tensor& inv_std, Tensor& running_mean,
                                        Tensor& running_var) = 0;
  // Evaluation: y = gamma (x - running_mean) / sqrt(running_var + eps) + beta.
  virtual void batch_norm_forward_eval(const BatchNormGeometry& g, const Tensor& x,
                                       const Tensor& gamma, const Tensor& beta,
                                       const Tensor& running_mean, const Tensor& running_var,
                                       Tensor& y) = 0;
  // The training forward's backward, from its x, mean and inv_std (xhat = (x - mean) inv_std):
  // overwrites dbeta = sum dy, dgamma = sum dy xhat and, unless dx is null,
  // dx = gamma inv_std (dy - dbeta / M - xhat dgamma / M).
  virtual void batch_norm_backward(const BatchNormGeometry& g, const Tensor& x, const Tensor& dy,
                                   const Tensor& gamma, const Tensor& mean, const Tensor& inv_std,
                                   Tensor& dgamma, Tensor& dbeta, Tensor* dx) = 0;

  // Optimizer updates, fused (one pass over the parameter).
  // SGD with momentum mu, dampening 0, weight decay wd (PyTorch's torch.optim.SGD semantics):
  //   g = grad + wd*w; v = mu*v + g; w -= lr * (nesterov ? g + mu*v : v)   (v unused if mu == 0)
  virtual void sgd_update(float* w, const float* grad, float* velocity, int64_t n, float lr,
                          float momentum, float weight_decay, bool nesterov) = 0;
  // Adam (torch.optim.Adam semantics, L2 weight decay added to the gradient).
  virtual void adam_update(float* w, const float* grad, float* m, float* v, int64_t n,
                           const AdamStep& step) = 0;

  // Population ops (train/population.hpp): `members` models of one architecture, member p's
  // operand at base + p * (its size), each with its own hyperparameters. Labels and the
  // per-member arrays (lr, momentum, ...; losses and counts out) are host memory: they come from
  // the loader and the trainer, and a device backend copies them. The defaults loop over the
  // members with the single ops above; a backend overrides them where one launch pays.
  //
  // y [P, rows, cols]: y[p, r, :] = v[p, :]   (v [P, cols])
  virtual void broadcast_rows_batched(const float* v, int64_t members, int64_t rows, int64_t cols,
                                      float* y);
  // out [P, cols] = beta * out + the column sums of each member's x [rows, cols]
  virtual void column_sums_batched(const float* x, int64_t members, int64_t rows, int64_t cols,
                                   float beta, float* out);
  // Per member: probs and losses[p] = the summed loss of its rows (labels [P * rows]).
  virtual void softmax_cross_entropy_batched(const float* logits, const int32_t* labels,
                                             int64_t members, int64_t rows, int64_t cols,
                                             float* probs, double* losses);
  // correct[p] = member p's rows whose argmax is the label.
  virtual void count_correct_batched(const float* scores, const int32_t* labels, int64_t members,
                                     int64_t rows, int64_t cols, int64_t* correct);
  // sgd_update of each member's n values with its lr, momentum and weight decay.
  virtual void sgd_update_batched(float* w, const float* grad, float* velocity, int64_t members,
                                  int64_t n, const float* lr, const float* momentum,
                                  const float* weight_decay, bool nesterov);
  // adam_update of each member's n values; step.lr and step.weight_decay are replaced by the
  // member's lr[p] and weight_decay[p].
  virtual void adam_update_batched(float* w, const float* grad, float* m, float* v, int64_t members,
                                   int64_t n, const AdamStep& step, const float* lr,
                                   const float* weight_decay);

  // The image ops of a population, as the single ops above for each member: member p's rows
  // p*rows .. p*rows+rows-1 of x, y, dy and dx (device memory), its weight, bias, gamma, beta and
  // statistics at p times their size (weight + p*OC*C*k*k, bias + p*OC, gamma + p*C, ...). A
  // shared x (`x_shared`, the forward ops) is [rows, ...], the same rows for every member (an
  // evaluation batch). dx may be null (no input gradient). The defaults call the single op once
  // per member on Tensor views of its slices (the CPU's: each member computes exactly as its solo
  // model); the CUDA backend launches each for all members at once.
  virtual void conv2d_forward_batched(const Conv2dGeometry& g, const float* x, bool x_shared,
                                      const float* weight, const float* bias, int64_t members,
                                      int64_t rows, float* y, Tensor& workspace);
  virtual void conv2d_backward_batched(const Conv2dGeometry& g, const float* x, const float* dy,
                                       const float* weight, int64_t members, int64_t rows,
                                       float* dweight, float* dbias, float* dx, Tensor& workspace);
  virtual void batch_norm_forward_train_batched(const BatchNormGeometry& g, const float* x,
                                                const float* gamma, const float* beta,
                                                int64_t members, int64_t rows, float* y,
                                                float* mean, float* inv_std, float* running_mean,
                                                float* running_var);
  virtual void batch_norm_forward_eval_batched(const BatchNormGeometry& g, const float* x,
                                               bool x_shared, const float* gamma, const float* beta,
                                               const float* running_mean, const float* running_var,
                                               int64_t members, int64_t rows, float* y);
  virtual void batch_norm_backward_batched(const BatchNormGeometry& g, const float* x,
                                           const float* dy, const float* gamma, const float* mean,
                                           const float* inv_std, int64_t members, int64_t rows,
                                           float* dgamma, float* dbeta, float* dx);
};

// The backend of a device. Throws krill::Error naming what is missing when the device's backend
// was not built, or its device cannot be used (no GPU, no driver).
Backend& backend(Device device);
// "" when backend(device) can be had, else why not (one line, for an error message).
std::string device_problem(Device device);

}  // namespace krill::backend
