// Shared by the optimizer tests: the golden problem of golden/make_golden.py and helpers to run an
// optimizer on it.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "core/tensor.hpp"
#include "nn/parameter.hpp"
#include "optim/optimizer.hpp"

namespace krill::optim::testing {

// The problem of golden/make_golden.py: w of 5 values and the gradients of 3 steps.
inline constexpr std::array<float, 5> kW0 = {0.5f, -1.25f, 2.0f, 0.0f, -0.75f};
inline constexpr std::array<std::array<float, 5>, 3> kGrads = {{
    {0.1f, -0.2f, 0.3f, -0.4f, 0.5f},
    {-0.3f, 0.25f, 0.05f, 1.5f, -0.6f},
    {0.2f, 0.2f, -0.7f, 0.0f, 0.35f},
}};
// w after each of the 3 steps.
using Trajectory = std::array<std::array<float, 5>, 3>;

inline nn::Parameter make_param(std::string name, Shape shape, std::span<const float> values) {
  nn::Parameter p{std::move(name), Tensor::from(shape, values), Tensor(shape)};
  return p;
}

inline nn::Parameter golden_w() {
  return make_param("w", Shape{5}, kW0);
}

// |actual - expected| <= 1e-6 * max(|expected|, 0.1): relative, with a floor at the scale of the
// steps (~0.1) for values that are the small difference of such float32 numbers (w[3] of Adam
// ends near 0.003 = 0.045 - 0.042; a few float ulps of 0.05 there are ~1e-8).
inline void expect_close(double actual, double expected) {
  EXPECT_NEAR(actual, expected, 1e-6 * std::max(std::abs(expected), 0.1));
}

// Writes each golden gradient into w.grad, steps, and compares w with `expected`.
inline void expect_trajectory(Optimizer& opt, nn::Parameter& w, const Trajectory& expected) {
  for (size_t step = 0; step < kGrads.size(); ++step) {
    std::copy(kGrads[step].begin(), kGrads[step].end(), w.grad.values().begin());
    opt.step();
    for (size_t i = 0; i < kW0.size(); ++i) {
      SCOPED_TRACE("step " + std::to_string(step) + ", w[" + std::to_string(i) + "]");
      expect_close(w.value[static_cast<int64_t>(i)], expected[step][i]);
    }
  }
  EXPECT_EQ(opt.steps(), static_cast<int64_t>(kGrads.size()));
}

// Two parameters of different shapes, with fixed values, for state tests.
inline std::vector<nn::Parameter> two_params() {
  const std::vector<float> w = {0.3f, -0.1f, 0.7f, 1.2f, -0.4f, 0.05f};
  const std::vector<float> b = {0.01f, -0.02f, 0.03f};
  std::vector<nn::Parameter> params;
  params.push_back(make_param("0.weight", Shape{2, 3}, w));
  params.push_back(make_param("0.bias", Shape{3}, b));
  return params;
}

inline std::vector<nn::Parameter*> pointers(std::vector<nn::Parameter>& params) {
  std::vector<nn::Parameter*> out;
  for (auto& p : params) out.push_back(&p);
  return out;
}

// A deterministic gradient for step `step`, different for every element and step.
inline void fill_grads(std::vector<nn::Parameter>& params, int step) {
  int k = 0;
  for (auto& p : params) {
    for (float& g : p.grad.values()) g = static_cast<float>(std::sin(1.3 * step + 0.7 * k++));
  }
}

}  // namespace krill::optim::testing
