#include "hpo/trial.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "hpo_test_util.hpp"

namespace krill::hpo {
namespace {

using testing::error_of;
using ::testing::HasSubstr;

TEST(TrialState, NamesRoundTrip) {
  const std::vector<std::pair<TrialState, std::string>> names = {
      {TrialState::Running, "running"},   {TrialState::Completed, "completed"},
      {TrialState::Stopped, "stopped"},   {TrialState::Failed, "failed"},
      {TrialState::Diverged, "diverged"},
  };
  for (const auto& [state, name] : names) {
    EXPECT_EQ(to_string(state), name);
    EXPECT_EQ(parse_trial_state(name), state);
  }
  EXPECT_FALSE(is_finished(TrialState::Running));
  EXPECT_TRUE(is_finished(TrialState::Diverged));
}

TEST(TrialState, UnknownNamesAreRefused) {
  const std::string msg = error_of([] { parse_trial_state("done"); });
  EXPECT_THAT(msg, HasSubstr("'done'"));
  EXPECT_THAT(msg, HasSubstr("running, completed, stopped, failed or diverged"));
  EXPECT_THROW(parse_trial_state("Running"), InvalidArgument);
}

Params example_params() {
  return {{"lr", 0.01}, {"width", int64_t{64}}, {"act", std::string("relu")}};
}

TEST(Trial, TypedAccess) {
  const Trial trial(3, example_params());
  EXPECT_EQ(trial.number(), 3);
  EXPECT_EQ(trial.params().size(), 3u);
  EXPECT_EQ(trial.float_param("lr"), 0.01);
  EXPECT_EQ(trial.float_param("width"), 64.0);  // an integer is accepted as a float
  EXPECT_EQ(trial.int_param("width"), 64);
  EXPECT_EQ(trial.string_param("act"), "relu");
  EXPECT_TRUE(trial.has("lr"));
  EXPECT_FALSE(trial.has("momentum"));
}

TEST(Trial, MissingParameterNamesTrialAndParameter) {
  const Trial trial(3, example_params());
  for (auto get : {+[](const Trial& t) { t.float_param("momentum"); },
                   +[](const Trial& t) { t.int_param("momentum"); },
                   +[](const Trial& t) { t.string_param("momentum"); }}) {
    const std::string msg = error_of([&] { get(trial); });
    EXPECT_THAT(msg, HasSubstr("trial 3: parameter 'momentum' is missing"));
    EXPECT_THAT(msg, HasSubstr("act, lr, width"));  // what it does have
  }
}

TEST(Trial, WrongTypeNamesBothTypes) {
  const Trial trial(3, example_params());
  EXPECT_THAT(error_of([&] { trial.float_param("act"); }),
              HasSubstr("trial 3: parameter 'act' is a string, not a float"));
  EXPECT_THAT(error_of([&] { trial.int_param("lr"); }),
              HasSubstr("parameter 'lr' is a float, not an integer"));
  EXPECT_THAT(error_of([&] { trial.int_param("act"); }),
              HasSubstr("parameter 'act' is a string, not an integer"));
  EXPECT_THAT(error_of([&] { trial.string_param("width"); }),
              HasSubstr("parameter 'width' is an integer, not a string"));
  EXPECT_THAT(error_of([&] { trial.string_param("lr"); }),
              HasSubstr("parameter 'lr' is a float, not a string"));
}

TEST(Trial, ReportWithoutCallbackNeverStops) {
  Trial trial(0, {});
  EXPECT_FALSE(trial.should_stop());
  EXPECT_TRUE(trial.report(1, 0.5));
  EXPECT_FALSE(trial.should_stop());
}

TEST(Trial, ReportPassesPointsAndRecordsTheStopDecision) {
  std::vector<Report> seen;
  Trial trial(0, {}, [&](const Report& r) {
    seen.push_back(r);
    return r.step < 3;  // the stopper says stop at step 3
  });
  EXPECT_TRUE(trial.report(1, 0.25));
  EXPECT_TRUE(trial.report(2, 0.5));
  EXPECT_FALSE(trial.should_stop());
  EXPECT_FALSE(trial.report(3, 0.75));
  EXPECT_TRUE(trial.should_stop());
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].step, 1);
  EXPECT_EQ(seen[0].value, 0.25);
  EXPECT_EQ(seen[2].step, 3);
  EXPECT_EQ(seen[2].value, 0.75);
}

TEST(Trial, Attributes) {
  Trial trial(0, {});
  EXPECT_TRUE(trial.attrs().empty());
  trial.set_attr("test_accuracy", 0.9);
  trial.set_attr("iterations", 100);
  trial.set_attr("test_accuracy", 0.91);
  EXPECT_EQ(trial.attrs().size(), 2u);
  EXPECT_EQ(trial.attrs().at("test_accuracy"), 0.91);
}

// A trial's compute: its wall time, a population member's share of its pass (each of 4 members
// trained together was charged the whole pass: the study's compute read 4x its run).
TEST(Trial, ComputeIsTheWallTimeOrAPopulationMembersShare) {
  TrialRecord t;
  t.started = 100.0;
  t.finished = 108.0;
  EXPECT_EQ(compute_seconds(t), 8.0);
  t.attrs["population"] = 4;
  EXPECT_EQ(compute_seconds(t), 2.0);
  t.attrs["population"] = 1;
  EXPECT_EQ(compute_seconds(t), 8.0);
  t.finished = 0;  // not finished, or not known
  EXPECT_EQ(compute_seconds(t), 0.0);
}

}  // namespace
}  // namespace krill::hpo
