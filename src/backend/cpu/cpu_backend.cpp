#include "backend/cpu/cpu_backend.hpp"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "backend/cpu/onednn.hpp"
#include "backend/cpu/parallel.hpp"
#include "core/error.hpp"
#include "core/pixels.hpp"
#include "core/rng.hpp"

namespace krill::backend {

namespace {

CBLAS_TRANSPOSE cblas(Transpose t) {
  return t == Transpose::Yes ? CblasTrans : CblasNoTrans;
}

template <class F>
void for_each_index(int64_t n, F f) {
  if (n >= kParallelMin && tl_threads > 1) {
#pragma omp parallel for schedule(static) num_threads(tl_threads)
    for (int64_t i = 0; i < n; ++i) f(i);
  } else {
    for (int64_t i = 0; i < n; ++i) f(i);
  }
}

}  // namespace

thread_local int tl_threads = 1;

CpuBackend::CpuBackend() {
  set_threads(1);
}

void CpuBackend::set_threads(int threads) {
  if (threads < 1)
    throw InvalidArgument("threads must be at least 1, got " + std::to_string(threads));
  tl_threads = threads;
  threads_ = threads;
  omp_set_num_threads(threads);
  openblas_set_num_threads(threads);
}

void CpuBackend::gemm(Transpose ta, Transpose tb, int64_t m, int64_t n, int64_t k, float alpha,
                      const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
                      float* c, int64_t ldc) {
  if (onednn_gemm(ta == Transpose::Yes, tb == Transpose::Yes, m, n, k, alpha, a, lda, b, ldb, beta,
                  c, ldc)) {
    return;
  }
  cblas_sgemm(CblasRowMajor, cblas(ta), cblas(tb), static_cast<blasint>(m), static_cast<blasint>(n),
              static_cast<blasint>(k), alpha, a, static_cast<blasint>(lda), b,
              static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

void CpuBackend::gemm_strided_batched(Transpose ta, Transpose tb, int64_t m, int64_t n, int64_t k,
                                      float alpha, const float* a, int64_t lda, int64_t stride_a,
                                      const float* b, int64_t ldb, int64_t stride_b, float beta,
                                      float* c, int64_t ldc, int64_t stride_c, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    gemm(ta, tb, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b, ldb, beta,
         c + i * stride_c, ldc);
  }
}

void CpuBackend::broadcast_rows(const float* v, int64_t rows, int64_t cols, float* y) {
  for (int64_t r = 0; r < rows; ++r) std::copy(v, v + cols, y + r * cols);
}

void CpuBackend::column_sums(const float* x, int64_t rows, int64_t cols, float beta, float* out) {
  if (beta == 0.0f) {
    std::fill(out, out + cols, 0.0f);
  } else if (beta != 1.0f) {
    for (int64_t c = 0; c < cols; ++c) out[c] *= beta;
  }
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * cols;
    for (int64_t c = 0; c < cols; ++c) out[c] += row[c];
  }
}

void CpuBackend::relu_forward(const float* x, float* y, int64_t n) {
  for_each_index(n, [=](int64_t i) { y[i] = x[i] > 0.0f ? x[i] : 0.0f; });
}

void CpuBackend::relu_backward(const float* y, const float* dy, float* dx, int64_t n) {
  // dy[i] loaded unconditionally: a load under the condition keeps GCC from vectorising.
  for_each_index(n, [=](int64_t i) {
    const float g = dy[i];
    dx[i] = y[i] > 0.0f ? g : 0.0f;
  });
}

void CpuBackend::sigmoid_forward(const float* x, float* y, int64_t n) {
  for_each_index(n, [=](int64_t i) { y[i] = 1.0f / (1.0f + std::exp(-x[i])); });
}

void CpuBackend::sigmoid_backward(const float* y, const float* dy, float* dx, int64_t n) {
  for_each_index(n, [=](int64_t i) { dx[i] = dy[i] * y[i] * (1.0f - y[i]); });
}

void CpuBackend::tanh_forward(const float* x, float* y, int64_t n) {
  for_each_index(n, [=](int64_t i) { y[i] = std::tanh(x[i]); });
}

void CpuBackend::tanh_backward(const float* y, const float* dy, float* dx, int64_t n) {
  for_each_index(n, [=](int64_t i) { dx[i] = dy[i] * (1.0f - y[i] * y[i]); });
}

void CpuBackend::dropout_forward(const float* x, float* y, float* mask, int64_t n, float p,
                                 uint64_t seed) {
  Rng rng(seed);
  const float keep_scale = 1.0f / (1.0f - p);
  for (int64_t i = 0; i < n; ++i) {
    mask[i] = rng.uniform() >= p ? keep_scale : 0.0f;
    y[i] = x[i] * mask[i];
  }
}

void CpuBackend::multiply(const float* x, const float* mask, float* y, int64_t n) {
  for_each_index(n, [=](int64_t i) { y[i] = x[i] * mask[i]; });
}

double CpuBackend::softmax_cross_entropy(const float* logits, const int32_t* labels, int64_t rows,
                                         int64_t cols, float* probs) {
  double total = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* z = logits + r * cols;
    float* p = probs + r * cols;
    float max = -std::numeric_limits<float>::infinity();
    for (int64_t c = 0; c < cols; ++c) max = std::max(max, z[c]);
    float sum = 0.0f;
    for (int64_t c = 0; c < cols; ++c) {
      p[c] = std::exp(z[c] - max);
      sum += p[c];
    }
    const float inv = 1.0f / sum;
    for (int64_t c = 0; c < cols; ++c) p[c] *= inv;
    // -log softmax(z)_y = log(sum) + max - z_y, exact even when p_y underflows to 0.
    total += static_cast<double>(std::log(sum)) + static_cast<double>(max - z[labels[r]]);
  }
  return total;
}

void CpuBackend::softmax_cross_entropy_backward(const float* probs, const int32_t* labels,
                                                int64_t rows, int64_t cols, float scale,
                                                float* dlogits) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) dlogits[r * cols + c] = scale * probs[r * cols + c];
    dlogits[r * cols + labels[r]] -= scale;
  }
}

double CpuBackend::squared_error(const float* pred, const float* target, int64_t n, float* diff) {
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    diff[i] = pred[i] - target[i];
    total += static_cast<double>(diff[i]) * diff[i];
  }
  return total;
}

void CpuBackend::scale(const float* x, float alpha, float* y, int64_t n) {
  for_each_index(n, [=](int64_t i) { y[i] = alpha * x[i]; });
}

void CpuBackend::gather_images(const uint8_t* pixels, const int64_t* rows, int64_t count,
                               int64_t features, float* out) {
  for (int64_t r = 0; r < count; ++r) {
    pixels_to_floats(pixels + rows[r] * features, features, out + r * features);
  }
}

int64_t CpuBackend::count_correct(const float* scores, const int32_t* labels, int64_t rows,
                                  int64_t cols) {
  int64_t correct = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* s = scores + r * cols;
    int64_t best = std::max_element(s, s + cols) - s;
    correct += best == labels[r];
  }
  return correct;
}

void CpuBackend::sgd_update(float* w, const float* grad, float* velocity, int64_t n, float lr,
                            float momentum, float weight_decay, bool nesterov) {
  if (momentum == 0.0f) {
    for_each_index(n, [=](int64_t i) { w[i] -= lr * (grad[i] + weight_decay * w[i]); });
  } else if (nesterov) {
    for_each_index(n, [=](int64_t i) {
      float g = grad[i] + weight_decay * w[i];
      velocity[i] = momentum * velocity[i] + g;
      w[i] -= lr * (g + momentum * velocity[i]);
    });
  } else {
    for_each_index(n, [=](int64_t i) {
      float g = grad[i] + weight_decay * w[i];
      velocity[i] = momentum * velocity[i] + g;
      w[i] -= lr * velocity[i];
    });
  }
}

void CpuBackend::adam_update(float* w, const float* grad, float* m, float* v, int64_t n,
                             const AdamStep& s) {
  const float step_size = s.lr / s.bias_correction1;
  const float inv_sqrt_bc2 = 1.0f / std::sqrt(s.bias_correction2);
  for_each_index(n, [=](int64_t i) {
    float g = grad[i] + s.weight_decay * w[i];
    m[i] = s.beta1 * m[i] + s.one_minus_beta1 * g;
    v[i] = s.beta2 * v[i] + s.one_minus_beta2 * g * g;
    w[i] -= step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_bc2 + s.eps);
  });
}

}  // namespace krill::backend
