// Finite-difference gradient checks. The scalar objective is L = sum(forward(x) * R) for a fixed
// random R, so dL/d(output) = R is what backward receives; every input and parameter entry is
// perturbed by +-eps (central differences) and compared with the analytic gradient.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "core/rng.hpp"
#include "core/tensor.hpp"
#include "nn/module.hpp"

namespace krill::nn::testing {

inline Tensor random_tensor(Shape shape, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  Tensor t(shape);
  Rng rng(seed);
  for (float& v : t.values()) v = rng.uniform(lo, hi);
  return t;
}

inline double weighted_sum(const Tensor& y, const Tensor& r) {
  double s = 0.0;
  for (int64_t i = 0; i < y.numel(); ++i) s += static_cast<double>(y[i]) * r[i];
  return s;
}

// Max relative error |num - ana| / max(1, |num|, |ana|) over all checked entries.
inline void expect_gradients_match(Module& m, Tensor x, double tol = 2e-3, float eps = 1e-2f,
                                   bool check_input = true) {
  const Tensor& y0 = m.forward(x, Mode::Train);
  Tensor r = random_tensor(y0.shape(), 99);
  Tensor grad_x = m.backward(r);
  std::vector<Tensor> grad_params;
  for (Parameter* p : m.parameters()) grad_params.push_back(p->grad);

  auto objective = [&] { return weighted_sum(m.forward(x, Mode::Train), r); };
  auto check = [&](Tensor& values, const Tensor& analytic, const std::string& what) {
    ASSERT_EQ(values.numel(), analytic.numel()) << what;
    for (int64_t i = 0; i < values.numel(); ++i) {
      const float saved = values[i];
      values[i] = saved + eps;
      const double up = objective();
      values[i] = saved - eps;
      const double down = objective();
      values[i] = saved;
      const double numeric = (up - down) / (2.0 * eps);
      const double a = analytic[i];
      const double scale = std::max({1.0, std::abs(numeric), std::abs(a)});
      ASSERT_LE(std::abs(numeric - a) / scale, tol)
          << what << "[" << i << "]: numeric " << numeric << " vs analytic " << a;
    }
  };
  if (check_input) check(x, grad_x, "input");
  auto params = m.parameters();
  for (size_t k = 0; k < params.size(); ++k)
    check(params[k]->value, grad_params[k], params[k]->name);
}

}  // namespace krill::nn::testing
