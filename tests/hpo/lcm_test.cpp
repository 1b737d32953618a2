// Learning Curve Matching on hand-made curves: each rule of the poster's algorithm (DESIGN.md,
// "Learning Curve Matching"; the exact rule is beside LcmOptions in hpo/stopper.hpp) pinned by a
// case whose decision AND prediction would change if the rule were implemented differently.
#include "hpo/stoppers/lcm.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "hpo_test_util.hpp"

namespace krill::hpo {
namespace {

using testing::error_of;
using ::testing::HasSubstr;

using Curve = std::vector<std::pair<int64_t, double>>;  // (step, value)

std::vector<Report> reports_of(const Curve& curve) {
  std::vector<Report> reports;
  for (const auto& [step, value] : curve) reports.emplace_back(step, value);
  return reports;
}

// A completed trial: its value is the last point of its curve, as in krill.
TrialRecord completed(int64_t number, const Curve& curve) {
  TrialRecord t;
  t.number = number;
  t.state = TrialState::Completed;
  t.reports = reports_of(curve);
  t.value = curve.back().second;
  return t;
}

TrialRecord with_state(int64_t number, TrialState state, const Curve& curve) {
  TrialRecord t = completed(number, curve);
  t.state = state;
  return t;
}

TrialRecord running(int64_t number, const Curve& curve) {
  TrialRecord t;
  t.number = number;
  t.state = TrialState::Running;
  t.reports = reports_of(curve);
  return t;
}

// Decides on the running trial's newest report.
StopDecision decide(Stopper& stopper, const std::vector<TrialRecord>& finished,
                    const TrialRecord& trial, Direction direction = Direction::Maximize) {
  const std::vector<TrialRecord> others;
  const StudyView view{direction, finished, others};
  return stopper.decide(view, trial, trial.reports.back());
}

LcmOptions options(int accumulate, double percentile = 50, int k = 1) {
  LcmOptions o;
  o.accumulate = accumulate;
  o.percentile = percentile;
  o.k = k;
  return o;
}

// Three accuracy curves at steps 10, 20, 30: a good one (final 0.9), a middling one (0.7) and a
// bad one (0.4).
std::vector<TrialRecord> good_mid_bad() {
  return {completed(0, {{10, 0.5}, {20, 0.7}, {30, 0.9}}),
          completed(1, {{10, 0.4}, {20, 0.55}, {30, 0.7}}),
          completed(2, {{10, 0.2}, {20, 0.3}, {30, 0.4}})};
}

TEST(Lcm, AccumulatesUntilNTrialsHaveCompleted) {
  auto lcm = make_lcm(options(3));
  std::vector<TrialRecord> finished = good_mid_bad();
  finished.pop_back();  // trial 2 (the bad one) has not finished yet
  // Finished but not complete: these never count, however many there are.
  // (The stopped one matches the running curve exactly: were it in the store, it would predict.)
  finished.push_back(with_state(5, TrialState::Stopped, {{10, 0.21}, {20, 0.29}}));
  finished.push_back(with_state(6, TrialState::Failed, {{10, 0.2}}));
  TrialRecord no_value = completed(7, {{10, 0.2}, {20, 0.3}, {30, 0.4}});
  no_value.value.reset();
  finished.push_back(no_value);

  const TrialRecord bad_shaped = running(9, {{10, 0.21}, {20, 0.29}});
  StopDecision d = decide(*lcm, finished, bad_shaped);
  EXPECT_FALSE(d.stop);
  EXPECT_EQ(d.reason, "lcm: accumulating (2 of 3 complete trials)");
  EXPECT_FALSE(d.prediction.has_value());

  // The third completion ends the accumulation stage: the same curve is now judged (and stopped:
  // it matches the bad curve).
  finished.push_back(good_mid_bad()[2]);
  d = decide(*lcm, finished, bad_shaped);
  EXPECT_TRUE(d.stop) << d.reason;
  ASSERT_TRUE(d.prediction.has_value());
  EXPECT_DOUBLE_EQ(*d.prediction, 0.4);
}

TEST(Lcm, TheNearestCompleteCurvesFinalDecides) {
  auto lcm = make_lcm(options(3, 50));
  const std::vector<TrialRecord> finished = good_mid_bad();

  // Shaped like the bad curve: predicted 0.4, 2 of 3 finals better -> rank 66.67% > 50%.
  StopDecision d = decide(*lcm, finished, running(9, {{10, 0.21}, {20, 0.29}}));
  EXPECT_TRUE(d.stop);
  ASSERT_TRUE(d.prediction.has_value());
  EXPECT_DOUBLE_EQ(*d.prediction, 0.4);
  // distance sqrt(0.01^2 + 0.01^2) = 0.014142...
  EXPECT_EQ(d.reason,
            "lcm: nearest trial 2 (distance 0.01414) predicts 0.4, rank 66.67% > 50%: stop");

  // Shaped like the good curve: predicted 0.9, none better -> rank 0%.
  d = decide(*lcm, finished, running(9, {{10, 0.52}, {20, 0.69}}));
  EXPECT_FALSE(d.stop);
  ASSERT_TRUE(d.prediction.has_value());
  EXPECT_DOUBLE_EQ(*d.prediction, 0.9);
  EXPECT_THAT(d.reason, HasSubstr("nearest trial 0"));
  EXPECT_THAT(d.reason, HasSubstr("rank 0% <= 50%: continue"));

  // Shaped like the middling curve: predicted 0.7, 1 of 3 better -> 33.33%, continues at 50%...
  d = decide(*lcm, finished, running(9, {{10, 0.41}, {20, 0.56}}));
  EXPECT_FALSE(d.stop);
  EXPECT_DOUBLE_EQ(d.prediction.value(), 0.7);
  EXPECT_THAT(d.reason, HasSubstr("rank 33.33% <= 50%: continue"));
  // ...and stops at 30%.
  auto strict = make_lcm(options(3, 30));
  d = decide(*strict, finished, running(9, {{10, 0.41}, {20, 0.56}}));
  EXPECT_TRUE(d.stop);
  EXPECT_DOUBLE_EQ(d.prediction.value(), 0.7);
}

TEST(Lcm, RankMustBeStrictlyWorseThanThePercentile) {
  // Two complete curves, one good, one bad: a bad-shaped curve is predicted the worse of two, a
  // rank of exactly 50%, which is not worse than 50% (stop needs rank > percentile).
  std::vector<TrialRecord> finished = good_mid_bad();
  finished.erase(finished.begin() + 1);
  const TrialRecord bad_shaped = running(9, {{10, 0.21}, {20, 0.29}});

  auto at50 = make_lcm(options(2, 50));
  StopDecision d = decide(*at50, finished, bad_shaped);
  EXPECT_FALSE(d.stop);
  EXPECT_DOUBLE_EQ(d.prediction.value(), 0.4);
  EXPECT_THAT(d.reason, HasSubstr("rank 50% <= 50%: continue"));

  auto at49 = make_lcm(options(2, 49.9));
  d = decide(*at49, finished, bad_shaped);
  EXPECT_TRUE(d.stop);
  EXPECT_DOUBLE_EQ(d.prediction.value(), 0.4);
  EXPECT_THAT(d.reason, HasSubstr("rank 50% > 49.9%: stop"));
}

// Finals 0.9, 0.3, 0.8, 0.7, 0.2; the running curve is nearest to trial 0 (0.9), then trial 1
// (0.3), then the others.
std::vector<TrialRecord> five_curves() {
  return {completed(0, {{10, 0.50}, {20, 0.60}, {30, 0.9}}),
          completed(1, {{10, 0.52}, {20, 0.63}, {30, 0.3}}),
          completed(2, {{10, 0.70}, {20, 0.80}, {30, 0.8}}),
          completed(3, {{10, 0.10}, {20, 0.20}, {30, 0.7}}),
          completed(4, {{10, 0.90}, {20, 0.95}, {30, 0.2}})};
}

TEST(Lcm, KNearestAreAveraged) {
  const std::vector<TrialRecord> finished = five_curves();
  const TrialRecord trial = running(9, {{10, 0.50}, {20, 0.61}});

  // k = 1 (the poster's rule): trial 0's 0.9, the best -> continue.
  auto k1 = make_lcm(options(5, 50, 1));
  StopDecision d = decide(*k1, finished, trial);
  EXPECT_FALSE(d.stop);
  EXPECT_DOUBLE_EQ(d.prediction.value(), 0.9);

  // k = 2: (0.9 + 0.3) / 2 = 0.6; 0.9, 0.8 and 0.7 are better -> rank 60% > 50%: stop.
  auto k2 = make_lcm(options(5, 50, 2));
  d = decide(*k2, finished, trial);
  EXPECT_TRUE(d.stop);
  EXPECT_NEAR(d.prediction.value(), 0.6, 1e-12);
  EXPECT_THAT(d.reason, HasSubstr("nearest trial 0 (distance 0.01), mean of 2 nearest, predicts "
                                  "0.6, rank 60% > 50%: stop"));

  // k larger than the store: capped at the 5 matched, the mean of every final, 0.58.
  auto k10 = make_lcm(options(5, 50, 10));
  d = decide(*k10, finished, trial);
  EXPECT_TRUE(d.stop);
  EXPECT_NEAR(d.prediction.value(), 0.58, 1e-12);
  EXPECT_THAT(d.reason, HasSubstr("mean of 5 nearest"));
}

TEST(Lcm, NormalizeDividesTheDistanceBySqrtOfThePrefixLength) {
  // Four points, each 0.25 away from trial 1 (exact in binary): raw distance sqrt(4 * 0.0625) =
  // 0.5, normalized 0.5 / sqrt(4) = 0.25. The nearest curve and the decision are the same.
  const std::vector<TrialRecord> finished = {
      completed(0, {{1, 0.5}, {2, 0.5}, {3, 0.5}, {4, 0.5}, {5, 0.9}}),
      completed(1, {{1, 0.0}, {2, 0.0}, {3, 0.0}, {4, 0.0}, {5, 0.1}})};
  const TrialRecord trial = running(9, {{1, -0.25}, {2, 0.25}, {3, -0.25}, {4, 0.25}});

  LcmOptions raw = options(2, 40);
  LcmOptions rms = raw;
  rms.normalize = true;
  auto raw_lcm = make_lcm(raw);
  auto rms_lcm = make_lcm(rms);
  const StopDecision a = decide(*raw_lcm, finished, trial);
  const StopDecision b = decide(*rms_lcm, finished, trial);
  EXPECT_EQ(a.reason, "lcm: nearest trial 1 (distance 0.5) predicts 0.1, rank 50% > 40%: stop");
  EXPECT_EQ(b.reason, "lcm: nearest trial 1 (distance 0.25) predicts 0.1, rank 50% > 40%: stop");
  EXPECT_TRUE(a.stop);
  EXPECT_TRUE(b.stop);
  EXPECT_DOUBLE_EQ(a.prediction.value(), 0.1);
  EXPECT_DOUBLE_EQ(b.prediction.value(), 0.1);
}

TEST(Lcm, PercentileHundredNeverStops) {
  auto lcm = make_lcm(options(3, 100));
  const std::vector<TrialRecord> finished = good_mid_bad();
  // Shaped like the worst curve: predicted the worst final, rank 66.67% — never above 100%.
  const StopDecision d = decide(*lcm, finished, running(9, {{10, 0.2}, {20, 0.3}}));
  EXPECT_FALSE(d.stop);
  EXPECT_DOUBLE_EQ(d.prediction.value(), 0.4);
  EXPECT_THAT(d.reason, HasSubstr("rank 66.67% <= 100%: continue"));
}

TEST(Lcm, PercentileZeroStopsAnythingNotPredictedBest) {
  auto lcm = make_lcm(options(3, 0));
  const std::vector<TrialRecord> finished = good_mid_bad();

  StopDecision d = decide(*lcm, finished, running(9, {{10, 0.41}, {20, 0.56}}));  // like the mid
  EXPECT_TRUE(d.stop);
  EXPECT_DOUBLE_EQ(d.prediction.value(), 0.7);
  EXPECT_THAT(d.reason, HasSubstr("rank 33.33% > 0%: stop"));

  d = decide(*lcm, finished, running(9, {{10, 0.5}, {20, 0.7}}));  // like the best
  EXPECT_FALSE(d.stop);
  EXPECT_DOUBLE_EQ(d.prediction.value(), 0.9);
  EXPECT_THAT(d.reason, HasSubstr("rank 0% <= 0%: continue"));

  // A prediction that ties the best final is not beaten by it: it goes on.
  std::vector<TrialRecord> tied = finished;
  tied.push_back(completed(3, {{10, 0.1}, {20, 0.1}, {30, 0.9}}));
  d = decide(*lcm, tied, running(9, {{10, 0.1}, {20, 0.12}}));
  EXPECT_FALSE(d.stop);
  EXPECT_DOUBLE_EQ(d.prediction.value(), 0.9);
  EXPECT_THAT(d.reason, HasSubstr("nearest trial 3"));
}

TEST(Lcm, MinimizeRanksLowerLossesBetter) {
  // Loss curves: good (final 0.5), middling (1.2), bad (2.1).
  const std::vector<TrialRecord> finished = {completed(0, {{10, 2.0}, {20, 1.0}, {30, 0.5}}),
                                             completed(1, {{10, 2.0}, {20, 1.5}, {30, 1.2}}),
                                             completed(2, {{10, 2.3}, {20, 2.2}, {30, 2.1}})};
  auto lcm = make_lcm(options(3, 50));
  const TrialRecord bad_shaped = running(9, {{10, 2.3}, {20, 2.25}});
  const TrialRecord good_shaped = running(9, {{10, 2.0}, {20, 0.9}});

  // The bad loss curve: 0.5 and 1.2 are lower -> 66.67%: stop.
  StopDecision d = decide(*lcm, finished, bad_shaped, Direction::Minimize);
  EXPECT_TRUE(d.stop);
  EXPECT_DOUBLE_EQ(d.prediction.value(), 2.1);
  EXPECT_THAT(d.reason, HasSubstr("nearest trial 2"));
  EXPECT_THAT(d.reason, HasSubstr("rank 66.67% > 50%: stop"));

  d = decide(*lcm, finished, good_shaped, Direction::Minimize);
  EXPECT_FALSE(d.stop);
  EXPECT_DOUBLE_EQ(d.prediction.value(), 0.5);
  EXPECT_THAT(d.reason, HasSubstr("rank 0% <= 50%: continue"));

  // The same curves read as "higher is better" reverse both decisions.
  d = decide(*lcm, finished, bad_shaped, Direction::Maximize);
  EXPECT_FALSE(d.stop);
  EXPECT_DOUBLE_EQ(d.prediction.value(), 2.1);
  d = decide(*lcm, finished, good_shaped, Direction::Maximize);
  EXPECT_TRUE(d.stop);
  EXPECT_DOUBLE_EQ(d.prediction.value(), 0.5);
}

TEST(Lcm, DecidesOnlyAtCheckpoints) {
  LcmOptions o = options(3, 50);
  o.checkpoints = {20, 30};
  auto lcm = make_lcm(o);
  const std::vector<TrialRecord> finished = good_mid_bad();

  StopDecision d = decide(*lcm, finished, running(9, {{10, 0.2}}));
  EXPECT_FALSE(d.stop);
  EXPECT_EQ(d.reason, "lcm: not a checkpoint");
  EXPECT_FALSE(d.prediction.has_value());

  d = decide(*lcm, finished, running(9, {{10, 0.2}, {20, 0.3}}));
  EXPECT_TRUE(d.stop);
  EXPECT_DOUBLE_EQ(d.prediction.value(), 0.4);

  d = decide(*lcm, finished, running(9, {{10, 0.2}, {20, 0.3}, {25, 0.35}}));
  EXPECT_FALSE(d.stop);
  EXPECT_EQ(d.reason, "lcm: not a checkpoint");

  // Without checkpoints, every report is one: step 10 alone is judged.
  auto every = make_lcm(options(3, 50));
  d = decide(*every, finished, running(9, {{10, 0.2}}));
  EXPECT_TRUE(d.stop);
  EXPECT_DOUBLE_EQ(d.prediction.value(), 0.4);
  EXPECT_EQ(d.reason, "lcm: nearest trial 2 (distance 0) predicts 0.4, rank 66.67% > 50%: stop");
}

TEST(Lcm, ThePrefixEndsAtTheReportedStep) {
  auto lcm = make_lcm(options(3, 50));
  const std::vector<TrialRecord> finished = good_mid_bad();
  // Reports after the judged one (step 10) are not part of its prefix: at step 10 the curve
  // matches the bad one exactly; with step 20 (0.7) it would match the good one.
  const TrialRecord trial = running(9, {{10, 0.2}, {20, 0.7}});
  const std::vector<TrialRecord> none;
  const StopDecision d =
      lcm->decide({Direction::Maximize, finished, none}, trial, trial.reports.front());
  EXPECT_TRUE(d.stop);
  EXPECT_DOUBLE_EQ(d.prediction.value(), 0.4);
  EXPECT_THAT(d.reason, HasSubstr("nearest trial 2 (distance 0)"));
}

TEST(Lcm, CurvesWithoutThePrefixStepsAreNotMatched) {
  auto lcm = make_lcm(options(2, 40));
  // Trial 1 is shaped exactly like the running curve but was recorded at other steps: it cannot
  // be matched, so trial 0 (the only curve with steps 10 and 20) is the nearest. Trial 1 still
  // counts among the completed trials for the rank.
  const std::vector<TrialRecord> finished = {completed(0, {{10, 0.5}, {20, 0.7}, {30, 0.6}}),
                                             completed(1, {{5, 0.2}, {15, 0.3}, {30, 0.9}})};
  StopDecision d = decide(*lcm, finished, running(9, {{10, 0.2}, {20, 0.3}}));
  EXPECT_THAT(d.reason, HasSubstr("nearest trial 0"));
  EXPECT_DOUBLE_EQ(d.prediction.value(), 0.6);
  // Trial 1's 0.9 is better than the prediction: rank 1 of 2 = 50% > 40%.
  EXPECT_TRUE(d.stop);
  EXPECT_THAT(d.reason, HasSubstr("rank 50% > 40%: stop"));
}

TEST(Lcm, NoMatchableCurveContinuesWithoutAPrediction) {
  auto lcm = make_lcm(options(2, 0));
  const std::vector<TrialRecord> finished = good_mid_bad();
  const StopDecision d = decide(*lcm, finished, running(9, {{10, 0.2}, {15, 0.3}}));
  EXPECT_FALSE(d.stop);
  EXPECT_FALSE(d.prediction.has_value());
  EXPECT_EQ(d.reason,
            "lcm: no complete curve can be matched (none of the 3 has all 2 steps of this "
            "prefix, up to step 15)");
}

TEST(Lcm, AMatchUsesTheRunningCurvesStepsOnly) {
  // The running curve skipped step 20: it is matched at steps 10 and 30 only, the completed
  // curves' other points play no part (distance to trial 1: |0.41-0.4| and |0.7-0.7| -> 0.01).
  auto lcm = make_lcm(options(3, 50));
  const std::vector<TrialRecord> finished = {
      completed(0, {{10, 0.5}, {20, 0.7}, {30, 0.9}, {40, 0.95}}),
      completed(1, {{10, 0.4}, {20, 0.0}, {30, 0.7}, {40, 0.3}}),
      completed(2, {{10, 0.2}, {20, 0.4}, {30, 0.4}, {40, 0.5}})};
  const StopDecision d = decide(*lcm, finished, running(9, {{10, 0.41}, {30, 0.7}}));
  EXPECT_TRUE(d.stop);
  EXPECT_DOUBLE_EQ(d.prediction.value(), 0.3);
  EXPECT_EQ(d.reason, "lcm: nearest trial 1 (distance 0.01) predicts 0.3, rank 66.67% > 50%: stop");
}

TEST(Lcm, TiesGoToTheLowerTrialNumberWhateverTheOrder) {
  // Trials 3 (final 0.2) and 7 (final 0.9) are both exactly 0.25 from the running curve.
  std::vector<TrialRecord> finished = {completed(7, {{10, 0.75}, {20, 0.9}}),
                                       completed(5, {{10, 0.0}, {20, 0.6}}),
                                       completed(3, {{10, 0.25}, {20, 0.2}})};
  auto lcm = make_lcm(options(3, 50));
  const TrialRecord trial = running(9, {{10, 0.5}});
  const StopDecision first = decide(*lcm, finished, trial);
  EXPECT_TRUE(first.stop);
  EXPECT_DOUBLE_EQ(first.prediction.value(), 0.2);
  EXPECT_EQ(first.reason,
            "lcm: nearest trial 3 (distance 0.25) predicts 0.2, rank 66.67% > 50%: stop");

  // Every order of `finished` gives the same decision.
  std::sort(finished.begin(), finished.end(),
            [](const TrialRecord& a, const TrialRecord& b) { return a.number < b.number; });
  do {
    const StopDecision d = decide(*lcm, finished, trial);
    EXPECT_EQ(d.stop, first.stop);
    EXPECT_EQ(d.reason, first.reason);
    EXPECT_EQ(d.prediction, first.prediction);
  } while (std::next_permutation(
      finished.begin(), finished.end(),
      [](const TrialRecord& a, const TrialRecord& b) { return a.number < b.number; }));
}

// Gives the reports of `t`, in order, the metric `name` (NaN: the report does not carry it).
TrialRecord with_metric(TrialRecord t, const std::string& name, const std::vector<double>& values) {
  for (size_t i = 0; i < values.size() && i < t.reports.size(); ++i) {
    if (!std::isnan(values[i])) t.reports[i].metrics[name] = values[i];
  }
  return t;
}

LcmOptions on_curve(const std::string& curve, int accumulate, double percentile = 50) {
  LcmOptions o = options(accumulate, percentile);
  o.curve = curve;
  return o;
}

constexpr double kNone = std::numeric_limits<double>::quiet_NaN();

// good_mid_bad() with loss curves: the objective (accuracy) and the losses disagree on which
// complete trial the running one resembles.
std::vector<TrialRecord> good_mid_bad_with_losses() {
  std::vector<TrialRecord> t = good_mid_bad();
  t[0] = with_metric(with_metric(t[0], "val_loss", {0.9, 0.5, 0.3}), "train_loss", {1.0, 0.6, 0.4});
  t[1] = with_metric(with_metric(t[1], "val_loss", {1.2, 0.9, 0.8}), "train_loss", {1.1, 0.7, 0.5});
  t[2] = with_metric(with_metric(t[2], "val_loss", {2.0, 1.8, 1.7}), "train_loss", {2.1, 1.9, 1.8});
  return t;
}

TEST(Lcm, MatchingOnALossCurvePredictsTheFinalObjective) {
  const std::vector<TrialRecord> finished = good_mid_bad_with_losses();
  // Its accuracy looks like the bad trial's, its validation loss like the good trial's, its
  // training loss like the middling one's.
  TrialRecord trial = running(9, {{10, 0.21}, {20, 0.29}});
  trial = with_metric(trial, "val_loss", {0.91, 0.49});
  trial = with_metric(trial, "train_loss", {1.1, 0.72});

  // On the objective (the default): nearest is trial 2, predicted 0.4, rank 66.67% -> stop.
  auto by_objective = make_lcm(options(3, 50));
  StopDecision d = decide(*by_objective, finished, trial);
  EXPECT_TRUE(d.stop);
  EXPECT_DOUBLE_EQ(d.prediction.value(), 0.4);
  EXPECT_EQ(d.reason,
            "lcm: nearest trial 2 (distance 0.01414) predicts 0.4, rank 66.67% > 50%: stop");

  // On the validation loss: nearest is trial 0, whose final *objective* (0.9, not its loss 0.3)
  // is the prediction, ranked among the final objectives: rank 0% -> continue.
  auto by_val_loss = make_lcm(on_curve("val_loss", 3, 50));
  d = decide(*by_val_loss, finished, trial);
  EXPECT_FALSE(d.stop);
  EXPECT_DOUBLE_EQ(d.prediction.value(), 0.9);
  EXPECT_EQ(d.reason,
            "lcm: nearest trial 0 (val_loss distance 0.01414) predicts 0.9, rank 0% <= 50%: "
            "continue");

  // On the training loss: nearest is trial 1 (distance 0.02), predicted 0.7, rank 33.33%.
  auto by_train_loss = make_lcm(on_curve("train_loss", 3, 30));
  d = decide(*by_train_loss, finished, trial);
  EXPECT_TRUE(d.stop);
  EXPECT_DOUBLE_EQ(d.prediction.value(), 0.7);
  EXPECT_THAT(d.reason, HasSubstr("nearest trial 1 (train_loss distance 0.02)"));
  EXPECT_THAT(d.reason, HasSubstr("rank 33.33% > 30%: stop"));
}

TEST(Lcm, MatchingOnALossCurveMinimizingRanksLowerObjectivesBetter) {
  // Minimize: the objective is itself a loss; the curve matched is the training loss.
  std::vector<TrialRecord> finished = {completed(0, {{10, 0.9}, {20, 0.5}, {30, 0.3}}),
                                       completed(1, {{10, 1.2}, {20, 0.9}, {30, 0.8}}),
                                       completed(2, {{10, 2.0}, {20, 1.8}, {30, 1.7}})};
  finished[0] = with_metric(finished[0], "train_loss", {2.0, 1.9, 1.8});
  finished[1] = with_metric(finished[1], "train_loss", {1.0, 0.8, 0.7});
  finished[2] = with_metric(finished[2], "train_loss", {0.5, 0.3, 0.2});
  TrialRecord trial = with_metric(running(9, {{10, 0.9}, {20, 0.5}}), "train_loss", {0.5, 0.3});
  auto lcm = make_lcm(on_curve("train_loss", 3, 50));
  const StopDecision d = decide(*lcm, finished, trial, Direction::Minimize);
  // Matched trial 2 exactly by its training loss: its final objective 1.7 is the worst.
  EXPECT_DOUBLE_EQ(d.prediction.value(), 1.7);
  EXPECT_TRUE(d.stop);
  EXPECT_THAT(d.reason, HasSubstr("nearest trial 2 (train_loss distance 0)"));
}

TEST(Lcm, AReportWithoutTheCurvesMetricIsNotJudged) {
  auto lcm = make_lcm(on_curve("val_loss", 3, 0));
  const TrialRecord trial = running(9, {{10, 0.21}, {20, 0.29}});  // no metrics at all
  const StopDecision d = decide(*lcm, good_mid_bad_with_losses(), trial);
  EXPECT_FALSE(d.stop);
  EXPECT_FALSE(d.prediction.has_value());
  EXPECT_EQ(d.reason, "lcm: no val_loss at step 20 of this trial, nothing to match");
}

TEST(Lcm, CompleteCurvesWithoutTheMetricAtAPrefixStepAreNotMatched) {
  std::vector<TrialRecord> finished = good_mid_bad_with_losses();
  // Trial 0 lost its validation loss at step 20: only trials 1 and 2 can be matched; trial 0
  // still counts in the rank (its 0.9 is better than trial 1's 0.7: rank 33.33%).
  finished[0].reports[1].metrics.erase("val_loss");
  TrialRecord trial = with_metric(running(9, {{10, 0.21}, {20, 0.29}}), "val_loss", {0.91, 0.49});
  auto lcm = make_lcm(on_curve("val_loss", 3, 30));
  StopDecision d = decide(*lcm, finished, trial);
  EXPECT_DOUBLE_EQ(d.prediction.value(), 0.7);
  EXPECT_THAT(d.reason, HasSubstr("nearest trial 1 (val_loss distance"));
  EXPECT_TRUE(d.stop);

  // No complete curve carries it: no prediction, and the reason names the curve.
  for (TrialRecord& t : finished) {
    for (Report& r : t.reports) r.metrics.clear();
  }
  d = decide(*lcm, finished, trial);
  EXPECT_FALSE(d.stop);
  EXPECT_FALSE(d.prediction.has_value());
  EXPECT_EQ(d.reason,
            "lcm: no complete val_loss curve can be matched (none of the 3 has all 2 steps of "
            "this prefix, up to step 20)");
}

TEST(Lcm, ARunningStepWithoutTheMetricIsLeftOutOfThePrefix) {
  // The running trial carries no validation loss at step 10: it is matched at step 20 alone,
  // where trial 1 (0.9) is nearest to 0.88 (trials 0 and 2 have 0.5 and 1.8).
  const std::vector<TrialRecord> finished = good_mid_bad_with_losses();
  TrialRecord trial = with_metric(running(9, {{10, 0.5}, {20, 0.7}}), "val_loss", {kNone, 0.88});
  auto lcm = make_lcm(on_curve("val_loss", 3, 50));
  const StopDecision d = decide(*lcm, finished, trial);
  EXPECT_DOUBLE_EQ(d.prediction.value(), 0.7);
  EXPECT_EQ(d.reason,
            "lcm: nearest trial 1 (val_loss distance 0.02) predicts 0.7, rank 33.33% <= 50%: "
            "continue");
}

TEST(Lcm, DescribeIsCanonical) {
  LcmOptions o;
  o.checkpoints = {100, 200};
  EXPECT_EQ(make_lcm(o)->describe(),
            "lcm(accumulate=10, percentile=50, k=1, normalize=false, checkpoints=[100,200])");

  LcmOptions p;
  p.accumulate = 5;
  p.percentile = 37.5;
  p.k = 3;
  p.normalize = true;
  EXPECT_EQ(make_lcm(p)->describe(),
            "lcm(accumulate=5, percentile=37.5, k=3, normalize=true, checkpoints=[])");

  // The curve is named only when it is not the objective (studies made before the option was
  // added keep their description, and resume).
  p.curve = "objective";
  EXPECT_EQ(make_lcm(p)->describe(),
            "lcm(accumulate=5, percentile=37.5, k=3, normalize=true, checkpoints=[])");
  p.curve = "val_loss";
  EXPECT_EQ(make_lcm(p)->describe(),
            "lcm(accumulate=5, percentile=37.5, k=3, normalize=true, checkpoints=[], "
            "curve=val_loss)");
}

TEST(Lcm, InvalidOptionsAreRefused) {
  const auto refused = [](LcmOptions o) { return error_of([&] { make_lcm(o); }); };
  LcmOptions o;

  o = {};
  o.accumulate = 0;
  EXPECT_THAT(refused(o), HasSubstr("accumulate must be at least 1 (got 0)"));
  o.accumulate = -3;
  EXPECT_THAT(refused(o), HasSubstr("(got -3)"));

  o = {};
  o.percentile = -0.5;
  EXPECT_THAT(refused(o), HasSubstr("percentile must be in [0, 100] (got -0.5)"));
  o.percentile = 100.5;
  EXPECT_THAT(refused(o), HasSubstr("(got 100.5)"));
  o.percentile = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THAT(refused(o), HasSubstr("percentile must be in [0, 100]"));

  o = {};
  o.k = 0;
  EXPECT_THAT(refused(o), HasSubstr("k (nearest curves averaged) must be at least 1 (got 0)"));

  o = {};
  o.checkpoints = {0, 100};
  EXPECT_THAT(refused(o), HasSubstr("checkpoints must be positive steps (got 0 at position 0)"));
  o.checkpoints = {100, -5};
  EXPECT_THAT(refused(o), HasSubstr("positive"));
  o.checkpoints = {100, 100};
  EXPECT_THAT(refused(o), HasSubstr("checkpoints must be strictly increasing (got 100 then 100)"));
  o.checkpoints = {200, 100};
  EXPECT_THAT(refused(o), HasSubstr("(got 200 then 100)"));

  o = {};
  o.curve = "";
  EXPECT_THAT(refused(o),
              HasSubstr("curve must be \"objective\" or the name of a reported metric"));

  // The boundaries are accepted.
  o = {};
  o.accumulate = 1;
  o.k = 1;
  o.checkpoints = {1};
  o.percentile = 0;
  EXPECT_NO_THROW(make_lcm(o));
  o.percentile = 100;
  EXPECT_NO_THROW(make_lcm(o));
}

}  // namespace
}  // namespace krill::hpo
