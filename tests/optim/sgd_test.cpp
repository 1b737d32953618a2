#include "optim/sgd.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "optim_test_util.hpp"

namespace krill::optim {
namespace {

using ::testing::AllOf;
using testing::expect_trajectory;
using testing::golden_w;
using ::testing::HasSubstr;
using testing::Trajectory;

// Golden values: tests/optim/golden/make_golden.py with torch 1.13.0a0 (torch.optim.SGD on w0
// and the 3 gradients of optim_test_util.hpp); w after each step.
constexpr Trajectory kPlain = {{
    {0.49000001, -1.23000002, 1.97000003, 0.0400000028, -0.800000012},
    {0.520000041, -1.255, 1.96500003, -0.109999999, -0.74000001},
    {0.50000006, -1.27499998, 2.03500009, -0.109999999, -0.775000036},
}};
constexpr Trajectory kMomentum = {{
    {0.49000001, -1.23000002, 1.97000003, 0.0400000028, -0.800000012},
    {0.511000037, -1.23699999, 1.93800008, -0.074000001, -0.785000026},
    {0.509900033, -1.26329994, 1.97920012, -0.176599994, -0.806500018},
}};
constexpr Trajectory kNesterov = {{
    {0.481000006, -1.21200001, 1.94299996, 0.0759999976, -0.845000029},
    {0.529900014, -1.24329996, 1.90919995, -0.176600009, -0.771499991},
    {0.50891, -1.28697002, 2.01627994, -0.268940002, -0.82585001},
}};
constexpr Trajectory kMomentumWeightDecay = {{
    {0.489499986, -1.22874999, 1.96800005, 0.0400000028, -0.799250007},
    {0.509560466, -1.23339629, 1.93223202, -0.0740399957, -0.78277576},
    {0.50710535, -1.25634456, 1.96810853, -0.176601946, -0.802166164},
}};

void expect_golden(SgdOptions options, const Trajectory& expected) {
  nn::Parameter w = golden_w();
  Sgd sgd({&w}, options);
  expect_trajectory(sgd, w, expected);
}

TEST(Sgd, MatchesTorchPlain) {
  expect_golden({.lr = 0.1}, kPlain);
}

TEST(Sgd, MatchesTorchMomentum) {
  expect_golden({.lr = 0.1, .momentum = 0.9}, kMomentum);
}

TEST(Sgd, MatchesTorchNesterov) {
  expect_golden({.lr = 0.1, .momentum = 0.9, .nesterov = true}, kNesterov);
}

TEST(Sgd, MatchesTorchMomentumWithWeightDecay) {
  expect_golden({.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01}, kMomentumWeightDecay);
}

TEST(Sgd, UsesTheLearningRateSetBetweenSteps) {
  nn::Parameter w = golden_w();
  Sgd sgd({&w}, {.lr = 0.1});
  sgd.set_lr(0.5);
  EXPECT_EQ(sgd.lr(), 0.5);
  w.grad.fill(1.0f);
  sgd.step();
  EXPECT_FLOAT_EQ(w.value[0], 0.5f - 0.5f);
  EXPECT_FLOAT_EQ(w.value[2], 2.0f - 0.5f);
}

TEST(Sgd, ZeroGradZerosEveryGradient) {
  auto params = testing::two_params();
  Sgd sgd(testing::pointers(params), {});
  testing::fill_grads(params, 1);
  sgd.zero_grad();
  for (const auto& p : params) {
    for (float g : p.grad.values()) EXPECT_EQ(g, 0.0f);
  }
}

TEST(Sgd, ReportsItsOptions) {
  nn::Parameter w = golden_w();
  Sgd sgd({&w}, {.lr = 0.2, .momentum = 0.5, .weight_decay = 0.1, .nesterov = true});
  EXPECT_EQ(sgd.name(), "sgd");
  EXPECT_EQ(sgd.lr(), 0.2);
  EXPECT_EQ(sgd.options().momentum, 0.5);
  EXPECT_EQ(sgd.steps(), 0);
}

void expect_rejected(SgdOptions options, const std::string& message) {
  nn::Parameter w = golden_w();
  try {
    Sgd sgd({&w}, options);
    ADD_FAILURE() << "no exception; expected: " << message;
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(std::string(e.what()), message);
  }
}

TEST(Sgd, RejectsBadOptionsNamingTheOptionAndRange) {
  expect_rejected({.lr = -0.1}, "sgd: lr must be >= 0 and finite, got -0.1");
  expect_rejected({.lr = std::nan("")}, "sgd: lr must be >= 0 and finite, got nan");
  expect_rejected({.lr = HUGE_VAL}, "sgd: lr must be >= 0 and finite, got inf");
  expect_rejected({.momentum = 1.0}, "sgd: momentum must be in [0, 1), got 1");
  expect_rejected({.momentum = -0.5}, "sgd: momentum must be in [0, 1), got -0.5");
  expect_rejected({.weight_decay = -0.01}, "sgd: weight_decay must be >= 0 and finite, got -0.01");
  expect_rejected({.nesterov = true}, "sgd: nesterov needs momentum > 0, got momentum 0");
}

TEST(Sgd, SetLrRejectsBadValuesAndKeepsTheOldOne) {
  nn::Parameter w = golden_w();
  Sgd sgd({&w}, {.lr = 0.1});
  EXPECT_THROW(sgd.set_lr(-1.0), InvalidArgument);
  EXPECT_THROW(sgd.set_lr(std::nan("")), InvalidArgument);
  EXPECT_EQ(sgd.lr(), 0.1);
  sgd.set_lr(0.0);  // a zero rate is allowed (frozen parameters)
  EXPECT_EQ(sgd.lr(), 0.0);
}

TEST(Sgd, RejectsANullParameter) {
  EXPECT_THROW(Sgd({nullptr}, {}), InvalidArgument);
}

TEST(Sgd, StepRejectsAGradientOfAnotherShapeBeforeUpdatingAny) {
  auto params = testing::two_params();
  params[1].grad = Tensor(Shape{4});
  Sgd sgd(testing::pointers(params), {.lr = 0.1});
  params[0].grad.fill(1.0f);
  const Tensor before = params[0].value;
  try {
    sgd.step();
    ADD_FAILURE() << "no exception";
  } catch (const ShapeError& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("sgd"), HasSubstr("'0.bias'"), HasSubstr("[4]")));
  }
  EXPECT_EQ(sgd.steps(), 0);
  for (int64_t i = 0; i < before.numel(); ++i) EXPECT_EQ(params[0].value[i], before[i]);
}

}  // namespace
}  // namespace krill::optim
