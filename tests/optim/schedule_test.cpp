#include "optim/schedule.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/error.hpp"

namespace krill::optim {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// Field-wise equality (the schedule structs have no operator==).
bool same(const Schedule& a, const Schedule& b) {
  if (a.index() != b.index()) return false;
  if (const auto* x = std::get_if<StepDecay>(&a)) {
    const auto& y = std::get<StepDecay>(b);
    return x->every == y.every && x->factor == y.factor;
  }
  if (const auto* x = std::get_if<Exponential>(&a))
    return x->gamma == std::get<Exponential>(b).gamma;
  if (const auto* x = std::get_if<CosineWarmup>(&a)) {
    const auto& y = std::get<CosineWarmup>(b);
    return x->warmup == y.warmup && x->total == y.total && x->min_factor == y.min_factor;
  }
  return true;  // Constant
}

void expect_rel_near(double actual, double expected) {
  EXPECT_NEAR(actual, expected, 1e-6 * std::abs(expected));
}

void expect_rates(const Schedule& s, double base, const std::vector<int64_t>& iterations,
                  const std::vector<double>& expected, int64_t total_iterations = 0) {
  ASSERT_EQ(iterations.size(), expected.size());
  for (size_t k = 0; k < iterations.size(); ++k) {
    SCOPED_TRACE("iteration " + std::to_string(iterations[k]));
    expect_rel_near(learning_rate(s, base, iterations[k], total_iterations), expected[k]);
  }
}

// Golden values: tests/optim/golden/make_golden.py with torch 1.13.0a0, the learning rate of an
// SGD optimizer (base 0.1) after `iteration` scheduler steps.
TEST(Schedule, StepDecayMatchesTorchStepLR) {
  // StepLR(step_size=100, gamma=0.95)
  expect_rates(StepDecay{.every = 100, .factor = 0.95}, 0.1,
               {0, 1, 99, 100, 101, 199, 200, 250, 999, 1000},
               {0.1, 0.1, 0.1, 0.095, 0.095, 0.095, 0.09025, 0.09025, 0.063024941, 0.0598736939});
}

TEST(Schedule, ExponentialMatchesTorchExponentialLR) {
  // ExponentialLR(gamma=0.99)
  expect_rates(Exponential{.gamma = 0.99}, 0.1, {0, 1, 2, 10, 100, 500},
               {0.1, 0.099, 0.09801, 0.0904382075, 0.0366032341, 0.000657048304});
}

// The poster's "dynamic" learning rate: 5% less every 100 iterations.
TEST(Schedule, PosterDecayLosesFivePercentEveryHundredIterations) {
  const Schedule poster = StepDecay{.every = 100, .factor = 0.95};
  const double base = 0.05;
  EXPECT_EQ(learning_rate(poster, base, 0), base);
  EXPECT_EQ(learning_rate(poster, base, 99), base);
  EXPECT_DOUBLE_EQ(learning_rate(poster, base, 100), 0.95 * base);
  EXPECT_DOUBLE_EQ(learning_rate(poster, base, 250), 0.95 * 0.95 * base);
  EXPECT_EQ(to_string(poster), "step:100:0.95");
}

TEST(Schedule, ConstantIsTheBaseRate) {
  for (int64_t i : {0, 1, 1000000}) EXPECT_EQ(learning_rate(Constant{}, 0.3, i), 0.3);
}

// Cosine with warm-up, from the formula of schedule.hpp (values by make_golden.py's math-module
// version of it). warmup 10, total 110, min_factor 0.1, base 0.1:
//   i = 0:   0.1 * 1/10 = 0.01;  i = 4: 0.1 * 5/10 = 0.05;  i = 9: 0.1 * 10/10 = 0.1
//   i = 10:  p = 0    -> 0.1 * (0.1 + 0.9 * (1 + cos 0) / 2)     = 0.1
//   i = 35:  p = 0.25 -> 0.1 * (0.1 + 0.9 * (1 + 0.70710678) / 2) = 0.0868198052
//   i = 60:  p = 0.5  -> 0.1 * (0.1 + 0.9 * (1 + 0) / 2)         = 0.055
//   i = 85:  p = 0.75 -> 0.1 * (0.1 + 0.9 * (1 - 0.70710678) / 2) = 0.0231801948
//   i = 110: p = 1    -> 0.1 * 0.1 = 0.01;  i = 200: p = min(1, 1.9) = 1 -> 0.01
TEST(Schedule, CosineWarmupFollowsTheFormula) {
  const std::vector<int64_t> its = {0, 4, 9, 10, 35, 60, 85, 110, 200};
  const std::vector<double> lr = {0.01,  0.05,         0.1,  0.1, 0.0868198052,
                                  0.055, 0.0231801948, 0.01, 0.01};
  expect_rates(CosineWarmup{.warmup = 10, .total = 110, .min_factor = 0.1}, 0.1, its, lr);
  // The same with the total left to the run's length.
  expect_rates(CosineWarmup{.warmup = 10, .min_factor = 0.1}, 0.1, its, lr, 110);
  // An explicit total wins over the run's length.
  expect_rates(CosineWarmup{.warmup = 10, .total = 110, .min_factor = 0.1}, 0.1, its, lr, 5000);
}

// No warm-up, total 100, min_factor 0: lr_i = 0.1 * (1 + cos(pi i / 100)) / 2, e.g.
//   i = 1: 0.05 * (1 + 0.99950656) = 0.099975328;  i = 50: 0.05;  i = 99: 2.46719817e-05
TEST(Schedule, CosineWithoutWarmupStartsAtTheBaseRate) {
  expect_rates(CosineWarmup{.warmup = 0, .total = 100}, 0.1, {0, 1, 2, 3, 50, 99},
               {0.1, 0.099975328, 0.0999013364, 0.0997780982, 0.05, 2.46719817e-05});
}

TEST(Schedule, CosineNeedsATotal) {
  const Schedule s = CosineWarmup{.warmup = 10};
  EXPECT_NEAR(learning_rate(s, 0.1, 3), 0.04, 1e-15);  // warm-up does not need it
  try {
    learning_rate(s, 0.1, 10);
    ADD_FAILURE() << "no exception";
  } catch (const InvalidArgument& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("cosine:10"), HasSubstr("total")));
  }
}

TEST(Schedule, CosineRunLengthWithinTheWarmupEndsAtTheMinimum) {
  // The run's length (5) is shorter than the warm-up: past it, the annealing is over.
  const Schedule s = CosineWarmup{.warmup = 10, .min_factor = 0.5};
  EXPECT_DOUBLE_EQ(learning_rate(s, 0.1, 10, 5), 0.05);
}

TEST(Schedule, LearningRateRejectsInvalidSchedulesAndIterations) {
  EXPECT_THROW(learning_rate(StepDecay{.every = 0}, 0.1, 5), InvalidArgument);
  EXPECT_THROW(learning_rate(Exponential{.gamma = 0.0}, 0.1, 5), InvalidArgument);
  EXPECT_THROW(learning_rate(CosineWarmup{.warmup = -1, .total = 10}, 0.1, 5), InvalidArgument);
  EXPECT_THROW(learning_rate(Constant{}, 0.1, -1), InvalidArgument);
}

TEST(ParseSchedule, ReadsEveryForm) {
  EXPECT_TRUE(std::holds_alternative<Constant>(parse_schedule("constant")));

  const auto step = std::get<StepDecay>(parse_schedule("step:100:0.95"));
  EXPECT_EQ(step.every, 100);
  EXPECT_EQ(step.factor, 0.95);

  EXPECT_EQ(std::get<Exponential>(parse_schedule("exp:0.999")).gamma, 0.999);
  EXPECT_EQ(std::get<Exponential>(parse_schedule("exp:1")).gamma, 1.0);
  EXPECT_EQ(std::get<Exponential>(parse_schedule("exp:9.5e-1")).gamma, 0.95);

  const auto c1 = std::get<CosineWarmup>(parse_schedule("cosine:500"));
  EXPECT_EQ(c1.warmup, 500);
  EXPECT_EQ(c1.total, 0);
  EXPECT_EQ(c1.min_factor, 0.0);
  const auto c2 = std::get<CosineWarmup>(parse_schedule("cosine:0:10000"));
  EXPECT_EQ(c2.warmup, 0);
  EXPECT_EQ(c2.total, 10000);
  const auto c3 = std::get<CosineWarmup>(parse_schedule("cosine:100:0:0.05"));
  EXPECT_EQ(c3.total, 0);
  EXPECT_EQ(c3.min_factor, 0.05);
}

TEST(ParseSchedule, ToStringRoundTrips) {
  const std::vector<Schedule> schedules = {
      Constant{},
      StepDecay{.every = 100, .factor = 0.95},
      StepDecay{.every = 1, .factor = 1.0},
      StepDecay{.every = 7, .factor = 0.1 + 0.2},  // 0.30000000000000004
      Exponential{.gamma = 0.999},
      Exponential{.gamma = 1e-5},
      CosineWarmup{},
      CosineWarmup{.warmup = 100},
      CosineWarmup{.warmup = 100, .total = 1000},
      CosineWarmup{.warmup = 0, .total = 0, .min_factor = 0.1},
      CosineWarmup{.warmup = 10, .total = 20, .min_factor = 1.0},
  };
  for (const Schedule& s : schedules) {
    const std::string text = to_string(s);
    SCOPED_TRACE(text);
    EXPECT_TRUE(same(parse_schedule(text), s));
    EXPECT_EQ(to_string(parse_schedule(text)), text);
  }
  EXPECT_EQ(to_string(CosineWarmup{.warmup = 100}), "cosine:100");
  EXPECT_EQ(to_string(CosineWarmup{.warmup = 100, .total = 1000}), "cosine:100:1000");
  EXPECT_EQ(to_string(CosineWarmup{.warmup = 5, .min_factor = 0.5}), "cosine:5:0:0.5");
  EXPECT_EQ(to_string(Exponential{.gamma = 0.999}), "exp:0.999");
}

TEST(ParseSchedule, RejectsBadSpecsQuotingThemAndListingTheForms) {
  const char* bad[] = {
      "",                     // nothing
      "linear",               // unknown kind
      "Step:100:0.95",        // kinds are lower case
      "constant:1",           // constant takes nothing
      "constant:",            //
      "step",                 // missing fields
      "step:100",             //
      "step:100:0.95:1",      // too many
      "step:0:0.95",          // every <= 0
      "step:-5:0.95",         //
      "step:100:0",           // factor <= 0
      "step:100:-0.5",        //
      "step:100:1.5",         // factor > 1
      "step:100:abc",         // not a number
      "step:100:0.95x",       // trailing junk
      "step:100.0:0.95",      // every is an integer
      "step:1e2:0.95",        //
      "step: 100:0.95",       // no spaces
      "step:+100:0.95",       // no signs
      "step:100:",            // empty field
      "exp",                  //
      "exp:0",                // gamma <= 0
      "exp:1.01",             // gamma > 1
      "exp:nan",              //
      "exp:inf",              //
      "exp:0.9:",             // trailing field
      "cosine",               //
      "cosine:-1",            // warmup < 0
      "cosine:ten",           //
      "cosine:10:5",          // total not past the warm-up
      "cosine:10:10",         //
      "cosine:10:-1",         //
      "cosine:10:100:1.5",    // min_factor > 1
      "cosine:10:100:-0.1",   // min_factor < 0
      "cosine:10:100:0.1:3",  // too many
      "cosine:10:100:0.1 ",   // trailing space
  };
  for (const char* spec : bad) {
    SCOPED_TRACE(spec);
    try {
      parse_schedule(spec);
      ADD_FAILURE() << "accepted";
    } catch (const InvalidArgument& e) {
      EXPECT_THAT(e.what(),
                  AllOf(HasSubstr("'" + std::string(spec) + "'"), HasSubstr("step:EVERY:FACTOR"),
                        HasSubstr("cosine:WARMUP[:TOTAL[:MIN_FACTOR]]")));
    }
  }
}

TEST(ParseSchedule, SaysWhatIsWrong) {
  auto message = [](const char* spec) {
    try {
      parse_schedule(spec);
    } catch (const InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_THAT(message("step:0:0.95"), HasSubstr("EVERY must be > 0, got 0"));
  EXPECT_THAT(message("step:100:1.5"), HasSubstr("FACTOR must be in (0, 1], got 1.5"));
  EXPECT_THAT(message("exp:0"), HasSubstr("GAMMA must be in (0, 1], got 0"));
  EXPECT_THAT(message("cosine:-1"), HasSubstr("WARMUP must be >= 0, got -1"));
  EXPECT_THAT(message("cosine:1:100:2"), HasSubstr("MIN_FACTOR must be in [0, 1], got 2"));
  EXPECT_THAT(message("step:100:0.95x"), HasSubstr("FACTOR '0.95x' is not a number"));
  EXPECT_THAT(message("step:1e2:0.95"), HasSubstr("EVERY '1e2' is not an integer"));
  EXPECT_THAT(message("linear"), HasSubstr("unknown schedule 'linear'"));
  EXPECT_THAT(message("step:100"), HasSubstr("'step' is written step:EVERY:FACTOR"));
}

}  // namespace
}  // namespace krill::optim
