// ASHA (Li et al., "A System for Massively Parallel Hyperparameter Tuning", MLSys 2020) and
// Hyperband over ASHA brackets, as a stopping rule, on hand-made curves.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "hpo/stopper.hpp"
#include "hpo_test_util.hpp"

namespace krill::hpo {
namespace {

using testing::error_of;
using ::testing::HasSubstr;

using Points = std::vector<std::pair<int64_t, double>>;

// A serial study: one trial at a time reports its points, each decided as it comes; a trial ends
// Stopped at its first stop, Completed otherwise, and joins the finished trials.
struct SerialStudy {
  struct Decided {
    std::vector<TrialRecord> finished;  // the history the decision saw
    TrialRecord trial;                  // the trial, its reports up to the decided one
    StopDecision decision;
  };

  Direction direction = Direction::Maximize;
  std::vector<TrialRecord> finished;
  std::vector<Decided> log;

  // The decisions on trial `number`'s points, up to its first stop.
  std::vector<StopDecision> run(Stopper& stopper, int64_t number, const Points& points) {
    const std::vector<TrialRecord> running;
    TrialRecord trial;
    trial.number = number;
    std::vector<StopDecision> decisions;
    for (const auto& [step, value] : points) {
      trial.reports.emplace_back(step, value);
      decisions.push_back(
          stopper.decide(StudyView{direction, finished, running}, trial, trial.reports.back()));
      log.push_back({finished, trial, decisions.back()});
      if (decisions.back().stop) break;
    }
    trial.state = decisions.back().stop ? TrialState::Stopped : TrialState::Completed;
    finished.push_back(trial);
    return decisions;
  }
  StopDecision last(Stopper& stopper, int64_t number, const Points& points) {
    return run(stopper, number, points).back();
  }
};

std::string continues(const std::string& where, const std::string& rank) {
  return "asha: " + where + ": value " + rank + " go on: continue";
}

TEST(Asha, RungsAreAtMinResourceTimesPowersOfEta) {
  auto stopper = make_asha({.min_resource = 100, .eta = 3});
  SerialStudy study;
  const auto d = study.run(*stopper, 0,
                           {{50, 0.5},
                            {100, 0.5},
                            {250, 0.5},
                            {300, 0.5},
                            {899, 0.5},
                            {900, 0.5},
                            {2699, 0.5},
                            {2700, 0.5}});
  ASSERT_EQ(d.size(), 8u);
  EXPECT_EQ(d[0].reason, "asha: between rungs");
  EXPECT_EQ(d[1].reason, continues("rung 0 (step 100)", "0.5 ranks 1 of 1, top 1"));
  EXPECT_EQ(d[2].reason, "asha: between rungs");
  EXPECT_EQ(d[3].reason, continues("rung 1 (step 300)", "0.5 ranks 1 of 1, top 1"));
  EXPECT_EQ(d[4].reason, "asha: between rungs");
  EXPECT_EQ(d[5].reason, continues("rung 2 (step 900)", "0.5 ranks 1 of 1, top 1"));
  EXPECT_EQ(d[6].reason, "asha: between rungs");
  EXPECT_EQ(d[7].reason, continues("rung 3 (step 2700)", "0.5 ranks 1 of 1, top 1"));
}

TEST(Asha, RungStepsAreRoundedForAFractionalEta) {
  // 10 * 2.5^k = 10, 25, 62.5, 156.25: rungs at 10, 25, 63, 156.
  auto stopper = make_asha({.min_resource = 10, .eta = 2.5});
  SerialStudy study;
  const auto d = study.run(*stopper, 0, {{25, 1}, {62, 1}, {63, 1}, {156, 1}});
  EXPECT_THAT(d[0].reason, HasSubstr("rung 1 (step 25)"));  // rung 0 too, passed on the way
  EXPECT_EQ(d[1].reason, "asha: between rungs");
  EXPECT_THAT(d[2].reason, HasSubstr("rung 2 (step 63)"));
  EXPECT_THAT(d[3].reason, HasSubstr("rung 3 (step 156)"));
}

TEST(Asha, TheFirstTrialAtARungContinues) {
  auto stopper = make_asha({.min_resource = 100, .eta = 3});
  SerialStudy study;
  const StopDecision first = study.last(*stopper, 0, {{100, 0.01}});
  EXPECT_FALSE(first.stop);
  EXPECT_EQ(first.reason, continues("rung 0 (step 100)", "0.01 ranks 1 of 1, top 1"));
  // Trial 1 beats it at rung 0, then is alone (however bad) at rung 1.
  const auto d = study.run(*stopper, 1, {{100, 0.5}, {300, 0.0}});
  EXPECT_FALSE(d[0].stop);
  EXPECT_FALSE(d[1].stop);
  EXPECT_EQ(d[1].reason, continues("rung 1 (step 300)", "0 ranks 1 of 1, top 1"));
}

TEST(Asha, OnlyTheTopThirdAtARungGoesOn) {
  auto stopper = make_asha({.min_resource = 100, .eta = 3});
  SerialStudy study;
  struct Expect {
    double value;
    bool stop;
    std::string rank;
  };
  // keep = max(1, floor(n / 3)): 1 for n = 1..5, 2 for n = 6..8; stopped trials stay recorded.
  const std::vector<Expect> expected = {
      {0.5, false, "0.5 ranks 1 of 1, top 1"},   {0.6, false, "0.6 ranks 1 of 2, top 1"},
      {0.4, true, "0.4 ranks 3 of 3, top 1"},    {0.7, false, "0.7 ranks 1 of 4, top 1"},
      {0.65, true, "0.65 ranks 2 of 5, top 1"},  {0.62, true, "0.62 ranks 3 of 6, top 2"},
      {0.66, false, "0.66 ranks 2 of 7, top 2"},
  };
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE("trial " + std::to_string(i));
    const StopDecision d =
        study.last(*stopper, static_cast<int64_t>(i), {{100, expected[i].value}});
    EXPECT_EQ(d.stop, expected[i].stop);
    EXPECT_EQ(d.reason, "asha: rung 0 (step 100): value " + expected[i].rank +
                            " go on: " + (expected[i].stop ? "stop" : "continue"));
  }
}

TEST(Asha, ReportsBetweenRungsContinue) {
  auto stopper = make_asha({.min_resource = 100, .eta = 3});
  SerialStudy study;
  study.run(*stopper, 0, {{100, 0.9}, {200, 0.9}, {300, 0.9}});
  // Far worse than trial 0 at step 200, but 200 is no rung; at rung 1 it ranks 2 of 2.
  const auto d = study.run(*stopper, 1, {{100, 0.95}, {200, 0.0}, {300, 0.0}});
  ASSERT_EQ(d.size(), 3u);
  EXPECT_FALSE(d[1].stop);
  EXPECT_EQ(d[1].reason, "asha: between rungs");
  EXPECT_TRUE(d[2].stop);
  EXPECT_EQ(d[2].reason, "asha: rung 1 (step 300): value 0 ranks 2 of 2, top 1 go on: stop");
}

TEST(Asha, MinimizeRanksTheLowestValueFirst) {
  auto stopper = make_asha({.min_resource = 100, .eta = 3});
  SerialStudy study;
  study.direction = Direction::Minimize;
  EXPECT_FALSE(study.last(*stopper, 0, {{100, 0.3}}).stop);
  EXPECT_FALSE(study.last(*stopper, 1, {{100, 0.2}}).stop);
  const StopDecision low = study.last(*stopper, 2, {{100, 0.1}});  // maximize: ranks 3, stops
  EXPECT_FALSE(low.stop);
  EXPECT_EQ(low.reason, continues("rung 0 (step 100)", "0.1 ranks 1 of 3, top 1"));
  const StopDecision high = study.last(*stopper, 3, {{100, 0.35}});
  EXPECT_TRUE(high.stop);
  EXPECT_EQ(high.reason, "asha: rung 0 (step 100): value 0.35 ranks 4 of 4, top 1 go on: stop");
}

TEST(Asha, TheRungAtMaxResourceDecidesNothing) {
  const Points leader = {{100, 0.9}, {300, 0.9}, {900, 0.9}};
  const Points late_drop = {{100, 0.95}, {300, 0.95}, {900, 0.1}};
  {
    auto stopper = make_asha({.min_resource = 100, .max_resource = 900, .eta = 3});
    SerialStudy study;
    study.run(*stopper, 0, leader);
    const StopDecision d = study.last(*stopper, 1, late_drop);
    EXPECT_FALSE(d.stop);
    EXPECT_EQ(d.reason, "asha: past the last rung (max_resource 900): continue");
  }
  {  // Below max_resource, 900 is a rung like the others.
    auto stopper = make_asha({.min_resource = 100, .max_resource = 1000, .eta = 3});
    SerialStudy study;
    study.run(*stopper, 0, leader);
    const StopDecision d = study.last(*stopper, 1, late_drop);
    EXPECT_TRUE(d.stop);
    EXPECT_EQ(d.reason, "asha: rung 2 (step 900): value 0.1 ranks 2 of 2, top 1 go on: stop");
  }
}

TEST(Asha, HyperbandPutsTrialNInBracketNModBrackets) {
  // Bracket 0: rungs 100, 300, 900...; bracket 1: rungs 300, 900...; each with its own values.
  auto stopper = make_asha({.min_resource = 100, .eta = 3, .brackets = 2});
  SerialStudy study;
  const auto d0 = study.run(*stopper, 0, {{100, 0.9}, {300, 0.9}});
  EXPECT_EQ(d0[1].reason, continues("bracket 0, rung 1 (step 300)", "0.9 ranks 1 of 1, top 1"));

  const auto d1 = study.run(*stopper, 1, {{100, 0.1}, {300, 0.1}});
  EXPECT_EQ(d1[0].reason, "asha: between rungs");
  EXPECT_FALSE(d1[1].stop);  // not ranked against trial 0's 0.9 at step 300
  EXPECT_EQ(d1[1].reason, continues("bracket 1, rung 0 (step 300)", "0.1 ranks 1 of 1, top 1"));

  const StopDecision d2 = study.last(*stopper, 2, {{100, 0.5}});
  EXPECT_TRUE(d2.stop);
  EXPECT_EQ(d2.reason,
            "asha: bracket 0, rung 0 (step 100): value 0.5 ranks 2 of 2, top 1 go on: stop");

  const auto d3 = study.run(*stopper, 3, {{100, 0.0}, {300, 0.05}});
  EXPECT_FALSE(d3[0].stop);
  EXPECT_TRUE(d3[1].stop);
  EXPECT_EQ(d3[1].reason,
            "asha: bracket 1, rung 0 (step 300): value 0.05 ranks 2 of 2, top 1 go on: stop");

  auto three = make_asha({.min_resource = 100, .eta = 3, .brackets = 3});
  SerialStudy other;
  const auto d5 = other.run(*three, 5, {{300, 0.5}, {900, 0.5}});  // bracket 2: rungs 900, 2700
  EXPECT_EQ(d5[0].reason, "asha: between rungs");
  EXPECT_EQ(d5[1].reason, continues("bracket 2, rung 0 (step 900)", "0.5 ranks 1 of 1, top 1"));
}

TEST(Asha, RunningTrialsCountAtTheRungsTheyReached) {
  auto stopper = make_asha({.min_resource = 100, .eta = 3});
  TrialRecord ahead;  // still running, past rung 1
  ahead.number = 0;
  ahead.reports = {{100, 0.9}, {300, 0.9}};
  const std::vector<TrialRecord> finished;
  const std::vector<TrialRecord> running = {ahead};
  TrialRecord trial;
  trial.number = 1;
  trial.reports = {{100, 0.95}, {300, 0.5}};
  const StopDecision d =
      stopper->decide(StudyView{Direction::Maximize, finished, running}, trial, trial.reports[1]);
  EXPECT_TRUE(d.stop);
  // Rung 1 holds trial 0's 0.9 and this 0.5 (its own 0.95 at rung 0 is folded in, not decided).
  EXPECT_EQ(d.reason, "asha: rung 1 (step 300): value 0.5 ranks 2 of 2, top 1 go on: stop");
}

TEST(Asha, AFreshStopperRebuildsTheRungsFromHistory) {
  // A serial Hyperband study on smooth curves value = q * (1 - exp(-step / 300)); every decision
  // of the long-lived stopper is replayed on a new stopper that sees only the history.
  const AshaOptions options{.min_resource = 100, .eta = 3, .brackets = 2};
  auto stopper = make_asha(options);
  SerialStudy study;
  const std::vector<double> quality = {0.5, 0.9, 0.7, 0.95, 0.3, 0.8, 0.99, 0.6, 0.85, 0.4, 0.97};
  for (size_t i = 0; i < quality.size(); ++i) {
    Points points;
    for (int64_t step = 50; step <= 1000; step += 50) {
      points.emplace_back(step, quality[i] * (1 - std::exp(-static_cast<double>(step) / 300)));
    }
    study.run(*stopper, static_cast<int64_t>(i), points);
  }
  int stops = 0;
  int later_rung_stops = 0;
  for (const auto& entry : study.log) {
    if (entry.decision.stop) ++stops;
    if (entry.decision.stop && entry.decision.reason.find("rung 0") == std::string::npos) {
      ++later_rung_stops;
    }
    auto fresh = make_asha(options);
    const std::vector<TrialRecord> running;
    const StopDecision d = fresh->decide(StudyView{Direction::Maximize, entry.finished, running},
                                         entry.trial, entry.trial.reports.back());
    SCOPED_TRACE("trial " + std::to_string(entry.trial.number) + " at step " +
                 std::to_string(entry.trial.reports.back().step));
    EXPECT_EQ(d.stop, entry.decision.stop);
    EXPECT_EQ(d.reason, entry.decision.reason);
  }
  EXPECT_GE(stops, 3);  // the replay compares real stops, not only continues
  EXPECT_GE(later_rung_stops, 1);
}

TEST(Asha, DescribesItsOptions) {
  EXPECT_EQ(make_asha({})->describe(), "asha(min_resource=100, max_resource=0, eta=3, brackets=1)");
  EXPECT_EQ(
      make_asha({.min_resource = 10, .max_resource = 810, .eta = 2.5, .brackets = 3})->describe(),
      "asha(min_resource=10, max_resource=810, eta=2.5, brackets=3)");
}

TEST(Asha, RefusesInvalidOptions) {
  EXPECT_THAT(error_of([] { make_asha({.min_resource = 0}); }), HasSubstr("min_resource"));
  EXPECT_THAT(error_of([] { make_asha({.eta = 1}); }), HasSubstr("eta must be a number > 1"));
  EXPECT_THAT(error_of([] { make_asha({.eta = 0.5}); }), HasSubstr("eta"));
  EXPECT_THAT(error_of([] { make_asha({.brackets = 0}); }), HasSubstr("brackets"));
  EXPECT_THAT(error_of([] { make_asha({.min_resource = 100, .max_resource = 50}); }),
              HasSubstr("max_resource"));
  EXPECT_NO_THROW(make_asha({.min_resource = 100, .max_resource = 100}));
  EXPECT_NO_THROW(make_asha({.min_resource = 100, .max_resource = 0}));
}

}  // namespace
}  // namespace krill::hpo
