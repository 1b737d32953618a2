// The median stopping rule (Golovin et al., "Google Vizier", KDD 2017) on hand-made curves.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "hpo/stopper.hpp"
#include "hpo_test_util.hpp"

namespace krill::hpo {
namespace {

using testing::error_of;
using ::testing::HasSubstr;

TrialRecord curve(int64_t number, TrialState state,
                  const std::vector<std::pair<int64_t, double>>& points) {
  TrialRecord t;
  t.number = number;
  t.state = state;
  for (const auto& [step, value] : points) t.reports.emplace_back(step, value);
  return t;
}

// Completed trials whose curves are flat at `values` from step 100 to 300.
std::vector<TrialRecord> flat_completed(const std::vector<double>& values) {
  std::vector<TrialRecord> out;
  for (double v : values) {
    out.push_back(curve(static_cast<int64_t>(out.size()), TrialState::Completed,
                        {{100, v}, {200, v}, {300, v}}));
  }
  return out;
}

StopDecision decide(Stopper& stopper, Direction direction, const std::vector<TrialRecord>& finished,
                    const std::vector<std::pair<int64_t, double>>& points) {
  const std::vector<TrialRecord> running;
  const TrialRecord trial = curve(99, TrialState::Running, points);
  return stopper.decide(StudyView{direction, finished, running}, trial, trial.reports.back());
}

// Seven completed curves whose running averages up to step 300 are 0.5, 0.6, 0.65, 0.7, 0.8,
// 0.85 and 0.9 (median 0.7), plus trials the rule must leave out.
std::vector<TrialRecord> seven_curves() {
  std::vector<TrialRecord> f;
  f.push_back(curve(0, TrialState::Completed, {{100, 0.3}, {200, 0.5}, {300, 0.7}, {400, 0.99}}));
  f.push_back(curve(1, TrialState::Completed, {{100, 0.6}, {200, 0.6}, {300, 0.6}}));
  f.push_back(curve(2, TrialState::Completed, {{100, 0.5}, {200, 0.7}, {300, 0.9}}));
  f.push_back(curve(3, TrialState::Completed, {{100, 0.6}, {300, 0.7}}));
  f.push_back(curve(4, TrialState::Completed, {{100, 0.8}, {200, 0.8}, {300, 0.8}}));
  f.push_back(curve(5, TrialState::Completed, {{100, 0.85}, {200, 0.85}, {300, 0.85}}));
  f.push_back(curve(6, TrialState::Completed, {{100, 0.9}, {200, 0.9}, {300, 0.9}}));
  // Not completed: left out of the median (with it, 8 averages and a median of 0.675).
  f.push_back(curve(7, TrialState::Stopped, {{100, 0.1}, {200, 0.1}, {300, 0.1}}));
  // Completed, but no report by step 300: counted as completed, no running average.
  f.push_back(curve(8, TrialState::Completed, {{400, 0.1}, {500, 0.1}}));
  return f;
}

TEST(MedianStopping, NothingStopsBeforeMinTrialsCompleted) {
  auto stopper = make_median({.min_trials = 5});
  const auto four = flat_completed({0.8, 0.8, 0.8, 0.8});
  const StopDecision early = decide(*stopper, Direction::Maximize, four, {{100, 0.1}});
  EXPECT_FALSE(early.stop);
  EXPECT_EQ(early.reason, "median: 4 completed trials, 5 needed: continue");
  EXPECT_FALSE(early.prediction.has_value());

  const auto five = flat_completed({0.8, 0.8, 0.8, 0.8, 0.8});
  const StopDecision then = decide(*stopper, Direction::Maximize, five, {{100, 0.1}});
  EXPECT_TRUE(then.stop);
  EXPECT_EQ(then.reason, "median: best 0.1 < median 0.8 of 5 running averages at step 100: stop");
}

TEST(MedianStopping, NothingStopsBeforeTheGraceStep) {
  auto stopper = make_median({.min_trials = 1, .grace = 200});
  const auto done = flat_completed({0.8, 0.8});
  const StopDecision early = decide(*stopper, Direction::Maximize, done, {{100, 0.1}});
  EXPECT_FALSE(early.stop);
  EXPECT_EQ(early.reason, "median: step 100 < grace 200: continue");
  const StopDecision at = decide(*stopper, Direction::Maximize, done, {{100, 0.1}, {200, 0.1}});
  EXPECT_TRUE(at.stop);
  EXPECT_THAT(at.reason, HasSubstr("at step 200: stop"));
}

TEST(MedianStopping, ABadCurveStopsAgainstTheMedianOfRunningAverages) {
  auto stopper = make_median({.min_trials = 5});
  const StopDecision d =
      decide(*stopper, Direction::Maximize, seven_curves(), {{100, 0.5}, {200, 0.61}, {300, 0.6}});
  EXPECT_TRUE(d.stop);
  EXPECT_EQ(d.reason, "median: best 0.61 < median 0.7 of 7 running averages at step 300: stop");
}

TEST(MedianStopping, AGoodCurveContinues) {
  auto stopper = make_median({.min_trials = 5});
  const StopDecision d =
      decide(*stopper, Direction::Maximize, seven_curves(), {{100, 0.5}, {200, 0.72}, {300, 0.6}});
  EXPECT_FALSE(d.stop);
  EXPECT_EQ(d.reason,
            "median: best 0.72 >= median 0.7 of 7 running averages at step 300: continue");
  // Equal to the median is not strictly worse (values exact in binary).
  const auto five = flat_completed({0.5, 0.75, 1.0, 0.25, 0.875});
  const StopDecision tie = decide(*stopper, Direction::Maximize, five, {{300, 0.75}});
  EXPECT_FALSE(tie.stop);
  EXPECT_THAT(tie.reason, HasSubstr("best 0.75 >= median 0.75 of 5"));
}

TEST(MedianStopping, TheMedianIsTakenAtTheTrialsStep) {
  // At step 100 the running averages are 0.3, 0.6, 0.5, 0.6, 0.8, 0.85, 0.9: median 0.6 (trial 8
  // has none yet), so 0.61 goes on where at step 300 it stopped.
  auto stopper = make_median({.min_trials = 5});
  const StopDecision d = decide(*stopper, Direction::Maximize, seven_curves(), {{100, 0.61}});
  EXPECT_FALSE(d.stop);
  EXPECT_EQ(d.reason,
            "median: best 0.61 >= median 0.6 of 7 running averages at step 100: continue");
}

TEST(MedianStopping, AnEvenCountTakesTheMeanOfTheTwoMiddleValues) {
  auto stopper = make_median({.min_trials = 6});
  const auto six = flat_completed({0.2, 0.4, 0.6, 0.8, 0.9, 1.0});  // median (0.6 + 0.8) / 2
  const StopDecision below = decide(*stopper, Direction::Maximize, six, {{200, 0.69}});
  EXPECT_TRUE(below.stop);
  EXPECT_EQ(below.reason, "median: best 0.69 < median 0.7 of 6 running averages at step 200: stop");
  const StopDecision above = decide(*stopper, Direction::Maximize, six, {{200, 0.71}});
  EXPECT_FALSE(above.stop);
  EXPECT_THAT(above.reason, HasSubstr("best 0.71 >= median 0.7 of 6"));
}

TEST(MedianStopping, MinimizeComparesTheLowestValue) {
  auto stopper = make_median({.min_trials = 5});
  const auto losses = flat_completed({0.1, 0.2, 0.3, 0.4, 0.5});
  const StopDecision bad = decide(*stopper, Direction::Minimize, losses, {{100, 0.5}, {200, 0.35}});
  EXPECT_TRUE(bad.stop);
  EXPECT_EQ(bad.reason, "median: best 0.35 > median 0.3 of 5 running averages at step 200: stop");
  const StopDecision good =
      decide(*stopper, Direction::Minimize, losses, {{100, 0.5}, {200, 0.25}});
  EXPECT_FALSE(good.stop);
  EXPECT_EQ(good.reason,
            "median: best 0.25 <= median 0.3 of 5 running averages at step 200: continue");
}

TEST(MedianStopping, DescribesItsOptions) {
  EXPECT_EQ(make_median({})->describe(), "median(min_trials=5, grace=0)");
  EXPECT_EQ(make_median({.min_trials = 3, .grace = 400})->describe(),
            "median(min_trials=3, grace=400)");
}

TEST(MedianStopping, RefusesInvalidOptions) {
  EXPECT_THAT(error_of([] { make_median({.min_trials = -1}); }), HasSubstr("min_trials"));
  EXPECT_THAT(error_of([] { make_median({.grace = -5}); }), HasSubstr("grace"));
}

}  // namespace
}  // namespace krill::hpo
