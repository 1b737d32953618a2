// The CPU backend's batch normalisation: one channel at a time (its N*S values are N runs of S
// contiguous floats), channels split over OpenMP threads when the batch repays a team. Sums are
// taken in double and each channel is summed by one thread in one order, so results do not depend
// on the thread count.
#include <cmath>

#include "backend/cpu/cpu_backend.hpp"
#include "backend/cpu/parallel.hpp"

namespace krill::backend {

namespace {

// f(run) for each of channel c's N runs of S values in a [N, C*S] tensor's data.
template <class F>
void for_each_run(const BatchNormGeometry& g, int64_t batch, int64_t c, F f) {
  for (int64_t n = 0; n < batch; ++n) f(n * g.sample() + c * g.spatial);
}

}  // namespace

// Per channel: mean, biased variance (two passes, double), inv_std; y = x * scale + shift with
// scale = gamma inv_std, shift = beta - mean scale; running statistics updated.
void CpuBackend::batch_norm_forward_train(const BatchNormGeometry& g, const Tensor& x,
                                          const Tensor& gamma, const Tensor& beta, Tensor& y,
                                          Tensor& mean, Tensor& inv_std, Tensor& running_mean,
                                          Tensor& running_var) {
  const int64_t batch = x.dim(0), s = g.spatial;
  const auto count = static_cast<double>(batch * s);
  const double momentum = g.momentum;
  for_each_item(g.channels, team_size(g.channels, x.numel()), [&](int, int64_t c) {
    double sum = 0.0;
    for_each_run(g, batch, c, [&](int64_t at) {
      for (int64_t i = 0; i < s; ++i) sum += x[at + i];
    });
    const double mu = sum / count;
    double squares = 0.0;
    for_each_run(g, batch, c, [&](int64_t at) {
      for (int64_t i = 0; i < s; ++i) {
        const double d = x[at + i] - mu;
        squares += d * d;
      }
    });
    const double variance = squares / count;
    const double istd = 1.0 / std::sqrt(variance + g.eps);
    mean[c] = static_cast<float>(mu);
    inv_std[c] = static_cast<float>(istd);
    const double scale = gamma[c] * istd;
    const auto scale_f = static_cast<float>(scale);
    const auto shift_f = static_cast<float>(beta[c] - mu * scale);
    for_each_run(g, batch, c, [&](int64_t at) {
      const float* in = x.data() + at;
      float* out = y.data() + at;
      for (int64_t i = 0; i < s; ++i) out[i] = in[i] * scale_f + shift_f;
    });
    running_mean[c] = static_cast<float>((1.0 - momentum) * running_mean[c] + momentum * mu);
    running_var[c] = static_cast<float>((1.0 - momentum) * running_var[c] +
                                        momentum * variance * count / (count - 1.0));
  });
}

void CpuBackend::batch_norm_forward_eval(const BatchNormGeometry& g, const Tensor& x,
                                         const Tensor& gamma, const Tensor& beta,
                                         const Tensor& running_mean, const Tensor& running_var,
                                         Tensor& y) {
  const int64_t batch = x.dim(0), s = g.spatial;
  for_each_item(g.channels, team_size(g.channels, x.numel()), [&](int, int64_t c) {
    const double scale = gamma[c] / std::sqrt(static_cast<double>(running_var[c]) + g.eps);
    const auto scale_f = static_cast<float>(scale);
    const auto shift_f = static_cast<float>(beta[c] - running_mean[c] * scale);
    for_each_run(g, batch, c, [&](int64_t at) {
      const float* in = x.data() + at;
      float* out = y.data() + at;
      for (int64_t i = 0; i < s; ++i) out[i] = in[i] * scale_f + shift_f;
    });
  });
}

// Per channel: dbeta = sum dy, dgamma = sum dy xhat; dx = gamma inv_std (dy - dbeta/M - xhat
// dgamma/M)
void CpuBackend::batch_norm_backward(const BatchNormGeometry& g, const Tensor& x, const Tensor& dy,
                                     const Tensor& gamma, const Tensor& mean, const Tensor& inv_std,
                                     Tensor& dgamma, Tensor& dbeta, Tensor* dx) {
  const int64_t batch = x.dim(0), s = g.spatial;
  const auto count = static_cast<double>(batch * s);
  for_each_item(g.channels, team_size(g.channels, x.numel()), [&](int, int64_t c) {
    const double mu = mean[c], istd = inv_std[c];
    double sum_dy = 0.0, sum_dy_xhat = 0.0;
    for_each_run(g, batch, c, [&](int64_t at) {
      for (int64_t i = 0; i < s; ++i) {
        sum_dy += dy[at + i];
        sum_dy_xhat += dy[at + i] * ((x[at + i] - mu) * istd);
      }
    });
    dbeta[c] = static_cast<float>(sum_dy);
    dgamma[c] = static_cast<float>(sum_dy_xhat);
    if (!dx) return;
    const auto scale = static_cast<float>(gamma[c] * istd);
    const auto mean_dy = static_cast<float>(sum_dy / count);
    const auto mean_dy_xhat = static_cast<float>(sum_dy_xhat / count);
    const auto mu_f = static_cast<float>(mu), istd_f = static_cast<float>(istd);
    for_each_run(g, batch, c, [&](int64_t at) {
      const float* in = x.data() + at;
      const float* grad_out = dy.data() + at;
      float* grad_in = dx->data() + at;
      for (int64_t i = 0; i < s; ++i) {
        const float xhat = (in[i] - mu_f) * istd_f;
        grad_in[i] = scale * (grad_out[i] - mean_dy - xhat * mean_dy_xhat);
      }
    });
  });
}

}  // namespace krill::backend
