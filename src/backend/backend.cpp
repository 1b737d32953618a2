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
