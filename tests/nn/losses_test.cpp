// Losses: values worked out by hand, numerical stability, and finite-difference gradient checks.
#include "nn/losses.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/error.hpp"
#include "grad_check.hpp"

namespace krill::nn {
namespace {

using testing::random_tensor;

// Central differences of loss.forward with respect to each prediction entry.
void expect_loss_gradient_matches(Loss& loss, Tensor pred, const std::vector<int32_t>& labels) {
  loss.forward(pred, labels);
  Tensor analytic = loss.backward();
  const float eps = 1e-2f;
  for (int64_t i = 0; i < pred.numel(); ++i) {
    const float saved = pred[i];
    pred[i] = saved + eps;
    const double up = loss.forward(pred, labels);
    pred[i] = saved - eps;
    const double down = loss.forward(pred, labels);
    pred[i] = saved;
    EXPECT_NEAR((up - down) / (2 * eps), analytic[i], 2e-4) << "entry " << i;
  }
}

TEST(SoftmaxCrossEntropy, HandComputedValue) {
  // -log softmax([1, 2, 3])_2 = log(e + e^2 + e^3) - 3 = log(30.19287485) - 3 = 0.40760596
  // and for label 0: log(30.19287485) - 1 = 2.40760596; mean = 1.40760596.
  SoftmaxCrossEntropy ce;
  Tensor z = Tensor::from({2, 3}, std::vector<float>{1, 2, 3, 1, 2, 3});
  std::vector<int32_t> labels{2, 0};
  EXPECT_NEAR(ce.forward(z, labels), 1.40760596, 1e-6);
  // Gradient of the mean: (softmax - onehot) / 2; softmax([1,2,3]) = [0.09003057, 0.24472847,
  // 0.66524096].
  const Tensor& g = ce.backward();
  EXPECT_NEAR(g[2], (0.66524096 - 1.0) / 2, 1e-6);
  EXPECT_NEAR(g[3], (0.09003057 - 1.0) / 2, 1e-6);
  EXPECT_NEAR(g[4], 0.24472847 / 2, 1e-6);
}

TEST(SoftmaxCrossEntropy, StableForHugeLogits) {
  SoftmaxCrossEntropy ce;
  Tensor z = Tensor::from({1, 2}, std::vector<float>{1000.0f, 0.0f});
  std::vector<int32_t> wrong{1};
  std::vector<int32_t> right{0};
  EXPECT_NEAR(ce.forward(z, wrong), 1000.0, 1e-3);  // not inf: log(0) never taken
  EXPECT_NEAR(ce.forward(z, right), 0.0, 1e-6);
  Tensor neg = Tensor::from({1, 2}, std::vector<float>{-1000.0f, -1000.0f});
  EXPECT_NEAR(ce.forward(neg, right), std::log(2.0), 1e-6);
  for (float g : ce.backward().values()) EXPECT_TRUE(std::isfinite(g));
}

TEST(SoftmaxCrossEntropy, GradientCheck) {
  SoftmaxCrossEntropy ce;
  expect_loss_gradient_matches(ce, random_tensor({4, 5}, 31, -2, 2), {0, 4, 2, 2});
}

TEST(SoftmaxCrossEntropy, RejectsLabelsOutsideTheClasses) {
  SoftmaxCrossEntropy ce;
  Tensor z({2, 3});
  std::vector<int32_t> labels{0, 3};
  EXPECT_THROW(ce.forward(z, labels), InvalidArgument);
}

TEST(MeanSquaredError, HandComputedValueWithOneHotTargets) {
  // pred [[0.5, 0.2], [0.1, 0.9]], labels {1, 1} -> targets [[0, 1], [0, 1]]
  // squared errors 0.25, 0.64, 0.01, 0.01 -> mean 0.2275
  MeanSquaredError mse;
  Tensor p = Tensor::from({2, 2}, std::vector<float>{0.5f, 0.2f, 0.1f, 0.9f});
  std::vector<int32_t> labels{1, 1};
  EXPECT_NEAR(mse.forward(p, labels), 0.2275, 1e-7);
  const Tensor& g = mse.backward();  // 2 (p - t) / 4
  EXPECT_NEAR(g[0], 0.25, 1e-7);
  EXPECT_NEAR(g[1], -0.4, 1e-7);
}

TEST(MeanSquaredError, GradientCheck) {
  MeanSquaredError mse;
  expect_loss_gradient_matches(mse, random_tensor({3, 4}, 41), {0, 3, 1});
}

TEST(MeanSquaredError, RejectsMismatchedTargets) {
  MeanSquaredError mse;
  Tensor p({2, 3}), t({3, 2});
  EXPECT_THROW(mse.forward(p, t), ShapeError);
}

}  // namespace
}  // namespace krill::nn
