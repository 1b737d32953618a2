#include "optim/adam.hpp"

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "optim_test_util.hpp"

namespace krill::optim {
namespace {

using testing::expect_trajectory;
using testing::golden_w;
using testing::Trajectory;

// Golden values: tests/optim/golden/make_golden.py with torch 1.13.0a0 (torch.optim.Adam on w0
// and the 3 gradients of optim_test_util.hpp); w after each step.
constexpr Trajectory kDefaults = {{
    {0.499000013, -1.24899995, 1.99899995, 0.000999999931, -0.750999987},
    {0.499494195, -1.24916267, 1.99821663, 0.000453533372, -0.750857055},
    {0.49947542, -1.24960792, 1.9985615, 3.1113188e-05, -0.75101763},
}};
constexpr Trajectory kLr01 = {{
    {0.400000006, -1.14999998, 1.89999998, 0.100000001, -0.849999964},
    {0.449418992, -1.16627324, 1.82166719, 0.0453533493, -0.835705459},
    {0.447540224, -1.21080184, 1.85615706, 0.00311133265, -0.851762414},
}};
constexpr Trajectory kLr01WeightDecay01 = {{
    {0.400000036, -1.14999998, 1.89999998, 0.100000001, -0.850000024},
    {0.430992395, -1.11668265, 1.80738413, 0.0452150777, -0.822072506},
    {0.409385204, -1.10726964, 1.79882574, 0.00268134475, -0.821737111},
}};

void expect_golden(AdamOptions options, const Trajectory& expected) {
  nn::Parameter w = golden_w();
  Adam adam({&w}, options);
  expect_trajectory(adam, w, expected);
}

TEST(Adam, MatchesTorchDefaults) {
  expect_golden({}, kDefaults);
}

TEST(Adam, MatchesTorchLargerLearningRate) {
  expect_golden({.lr = 0.1}, kLr01);
}

TEST(Adam, MatchesTorchWeightDecay) {
  expect_golden({.lr = 0.1, .weight_decay = 0.1}, kLr01WeightDecay01);
}

TEST(Adam, ReportsItsOptions) {
  nn::Parameter w = golden_w();
  Adam adam({&w}, {.lr = 0.01, .beta1 = 0.8});
  EXPECT_EQ(adam.name(), "adam");
  EXPECT_EQ(adam.lr(), 0.01);
  EXPECT_EQ(adam.options().beta1, 0.8);
  EXPECT_EQ(adam.options().beta2, 0.999);
}

void expect_rejected(AdamOptions options, const std::string& message) {
  nn::Parameter w = golden_w();
  try {
    Adam adam({&w}, options);
    ADD_FAILURE() << "no exception; expected: " << message;
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(std::string(e.what()), message);
  }
}

TEST(Adam, RejectsBadOptionsNamingTheOptionAndRange) {
  expect_rejected({.lr = -0.001}, "adam: lr must be >= 0 and finite, got -0.001");
  expect_rejected({.beta1 = 1.0}, "adam: beta1 must be in [0, 1), got 1");
  expect_rejected({.beta1 = -0.1}, "adam: beta1 must be in [0, 1), got -0.1");
  expect_rejected({.beta2 = 1.5}, "adam: beta2 must be in [0, 1), got 1.5");
  expect_rejected({.eps = 0.0}, "adam: eps must be > 0 and finite, got 0");
  expect_rejected({.weight_decay = -1.0}, "adam: weight_decay must be >= 0 and finite, got -1");
}

TEST(Adam, SetLrRejectsBadValues) {
  nn::Parameter w = golden_w();
  Adam adam({&w}, {});
  try {
    adam.set_lr(-0.5);
    ADD_FAILURE() << "set_lr(-0.5) did not throw";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(std::string(e.what()), "adam: lr must be >= 0 and finite, got -0.5");
  }
  EXPECT_EQ(adam.lr(), 0.001);
}

TEST(Adam, ZeroGradZerosEveryGradient) {
  auto params = testing::two_params();
  Adam adam(testing::pointers(params), {});
  testing::fill_grads(params, 2);
  adam.zero_grad();
  for (const auto& p : params) {
    for (float g : p.grad.values()) EXPECT_EQ(g, 0.0f);
  }
}

TEST(Adam, StepRejectsAGradientOfAnotherShape) {
  nn::Parameter w = golden_w();
  w.grad = Tensor(Shape{5, 1});
  Adam adam({&w}, {});
  EXPECT_THROW(adam.step(), ShapeError);
}

}  // namespace
}  // namespace krill::optim
