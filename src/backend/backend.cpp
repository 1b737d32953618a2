#include "backend/backend.hpp"

#include "backend/cpu/cpu_backend.hpp"
#include "core/error.hpp"

#ifdef KRILL_HAVE_CUDA
#include "backend/cuda/cuda_backend.hpp"
#endif

namespace krill::backend {

Backend& backend(Device device) {
  static CpuBackend cpu;
  if (device == Device::Cpu) return cpu;
#ifdef KRILL_HAVE_CUDA
  return cuda_backend();
#else
  throw Error(
      "the CUDA backend is not built into this krill: rebuild on a machine with "
      "/usr/local/cuda (CMake detects it), or use the CPU");
#endif
}

std::string device_problem(Device device) {
  try {
    backend(device);
    return "";
  } catch (const Error& e) {
    return e.what();
  }
}

void Backend::broadcast_rows_batched(const float* v, int64_t members, int64_t rows, int64_t cols,
                                     float* y) {
  for (int64_t p = 0; p < members; ++p)
    broadcast_rows(v + p * cols, rows, cols, y + p * rows * cols);
}

void Backend::column_sums_batched(const float* x, int64_t members, int64_t rows, int64_t cols,
                                  float beta, float* out) {
  for (int64_t p = 0; p < members; ++p) {
    column_sums(x + p * rows * cols, rows, cols, beta, out + p * cols);
  }
}

void Backend::softmax_cross_entropy_batched(const float* logits, const int32_t* labels,
                                            int64_t members, int64_t rows, int64_t cols,
                                            float* probs, double* losses) {
  for (int64_t p = 0; p < members; ++p) {
    losses[p] = softmax_cross_entropy(logits + p * rows * cols, labels + p * rows, rows, cols,
                                      probs + p * rows * cols);
  }
}

namespace {

// Member p's part of a population array, as a tensor of `shape` (its size per member).
Tensor part(float* base, int64_t p, Shape shape, Device device) {
  const int64_t n = shape.numel();
  return Tensor::view(base + p * n, std::move(shape), device);
}
const Tensor part(const float* base, int64_t p, Shape shape, Device device) {
  const int64_t n = shape.numel();
  return Tensor::view(base + p * n, std::move(shape), device);
}

}  // namespace

void Backend::conv2d_forward_batched(const Conv2dGeometry& g, const float* x, bool x_shared,
                                     const float* weight, const float* bias, int64_t members,
                                     int64_t rows, float* y, Tensor& workspace) {
  const Device d = device();
  const int64_t in = g.input.numel(), out = g.output().numel();
  const int64_t oc = g.out_channels, patch = g.patch_size();
  for (int64_t p = 0; p < members; ++p) {
    Tensor yp = part(y, p, {rows, out}, d);
    conv2d_forward(g, part(x, x_shared ? 0 : p, {rows, in}, d), part(weight, p, {oc, patch}, d),
                   part(bias, p, {oc}, d), yp, workspace);
  }
}

void Backend::conv2d_backward_batched(const Conv2dGeometry& g, const float* x, const float* dy,
                                      const float* weight, int64_t members, int64_t rows,
                                      float* dweight, float* dbias, float* dx, Tensor& workspace) {
  const Device d = device();
  const int64_t in = g.input.numel(), out = g.output().numel();
  const int64_t oc = g.out_channels, patch = g.patch_size();
  for (int64_t p = 0; p < members; ++p) {
    Tensor dw = part(dweight, p, {oc, patch}, d);
    Tensor db = part(dbias, p, {oc}, d);
    Tensor dxp = dx ? part(dx, p, {rows, in}, d) : Tensor();
    conv2d_backward(g, part(x, p, {rows, in}, d), part(dy, p, {rows, out}, d),
                    part(weight, p, {oc, patch}, d), dw, db, dx ? &dxp : nullptr, workspace);
  }
}

void Backend::batch_norm_forward_train_batched(const BatchNormGeometry& g, const float* x,
                                               const float* gamma, const float* beta,
                                               int64_t members, int64_t rows, float* y, float* mean,
                                               float* inv_std, float* running_mean,
                                               float* running_var) {
  const Device d = device();
  const int64_t n = g.sample(), c = g.channels;
  for (int64_t p = 0; p < members; ++p) {
    Tensor yp = part(y, p, {rows, n}, d);
    Tensor mp = part(mean, p, {c}, d), ip = part(inv_std, p, {c}, d);
    Tensor rm = part(running_mean, p, {c}, d), rv = part(running_var, p, {c}, d);
    batch_norm_forward_train(g, part(x, p, {rows, n}, d), part(gamma, p, {c}, d),
                             part(beta, p, {c}, d), yp, mp, ip, rm, rv);
  }
}

void Backend::batch_norm_forward_eval_batched(const BatchNormGeometry& g, const float* x,
                                              bool x_shared, const float* gamma, const float* beta,
                                              const float* running_mean, const float* running_var,
                                              int64_t members, int64_t rows, float* y) {
  const Device d = device();
  const int64_t n = g.sample(), c = g.channels;
  for (int64_t p = 0; p < members; ++p) {
    Tensor yp = part(y, p, {rows, n}, d);
    batch_norm_forward_eval(g, part(x, x_shared ? 0 : p, {rows, n}, d), part(gamma, p, {c}, d),
                            part(beta, p, {c}, d), part(running_mean, p, {c}, d),
                            part(running_var, p, {c}, d), yp);
  }
}

void Backend::batch_norm_backward_batched(const BatchNormGeometry& g, const float* x,
                                          const float* dy, const float* gamma, const float* mean,
                                          const float* inv_std, int64_t members, int64_t rows,
                                          float* dgamma, float* dbeta, float* dx) {
  const Device d = device();
  const int64_t n = g.sample(), c = g.channels;
  for (int64_t p = 0; p < members; ++p) {
    Tensor dg = part(dgamma, p, {c}, d), db = part(dbeta, p, {c}, d);
    Tensor dxp = dx ? part(dx, p, {rows, n}, d) : Tensor();
    batch_norm_backward(g, part(x, p, {rows, n}, d), part(dy, p, {rows, n}, d),
                        part(gamma, p, {c}, d), part(mean, p, {c}, d), part(inv_std, p, {c}, d), dg,
                        db, dx ? &dxp : nullptr);
  }
}

void Backend::count_correct_batched(const float* scores, const int32_t* labels, int64_t members,
                                    int64_t rows, int64_t cols, int64_t* correct) {
  for (int64_t p = 0; p < members; ++p) {
    correct[p] = count_correct(scores + p * rows * cols, labels + p * rows, rows, cols);
  }
}

void Backend::sgd_update_batched(float* w, const float* grad, float* velocity, int64_t members,
                                 int64_t n, const float* lr, const float* momentum,
                                 const float* weight_decay, bool nesterov) {
  for (int64_t p = 0; p < members; ++p) {
    sgd_update(w + p * n, grad + p * n, velocity ? velocity + p * n : nullptr, n, lr[p],
               momentum[p], weight_decay[p], nesterov);
  }
}

void Backend::adam_update_batched(float* w, const float* grad, float* m, float* v, int64_t members,
                                  int64_t n, const AdamStep& step, const float* lr,
                                  const float* weight_decay) {
  for (int64_t p = 0; p < members; ++p) {
    AdamStep s = step;
    s.lr = lr[p];
    s.weight_decay = weight_decay[p];
    adam_update(w + p * n, grad + p * n, m + p * n, v + p * n, n, s);
  }
}

}  // namespace krill::backend
