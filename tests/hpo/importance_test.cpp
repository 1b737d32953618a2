// PED-ANOVA importances: Optuna's numbers on the same trials (golden/ped_anova_reference.py), the
// order of importance on functions whose important parameters are known, log dimensions measured
// in their log space, and the cases with nothing to measure.
#include "hpo/importance.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "core/rng.hpp"
#include "hpo_test_util.hpp"

namespace krill::hpo {
namespace {

using testing::error_of;
using ::testing::HasSubstr;

TrialRecord completed(int64_t number, Params params, double value) {
  TrialRecord t;
  t.number = number;
  t.params = std::move(params);
  t.state = TrialState::Completed;
  t.value = value;
  return t;
}

std::map<std::string, double> by_name(const Importances& result) {
  std::map<std::string, double> out;
  for (const auto& p : result.params) out[p.name] = p.importance;
  return out;
}

// The trials of golden/ped_anova_reference.py: unit values by integer arithmetic and one
// division, so that Python and C++ hold the same doubles.
const SearchSpace kGoldenSpace{{"x", FloatDim{0, 1}},
                               {"lr", FloatDim{1e-4, 1, true}},
                               {"width", IntDim{1, 8}},
                               {"units", IntDim{1, 1000, true}},
                               {"act", CategoricalDim{{"relu", "tanh", "gelu"}}},
                               {"z", FloatDim{0, 1}}};

std::vector<TrialRecord> golden_trials(int n, double sign) {
  const std::vector<std::string> acts{"relu", "tanh", "gelu"};
  std::vector<TrialRecord> out;
  for (int i = 0; i < n; ++i) {
    const double x = ((i * 37) % 101 + 0.5) / 101;
    const double b = ((i * 53) % 97 + 0.5) / 97;
    const int64_t width = 1 + (i * 5) % 8, units = 1 + (i * 131) % 1000;
    const std::string act = acts[static_cast<size_t>((i / 2 + i * i) % 3)];
    const double value = 4.0 * (x - 0.3) * (x - 0.3) + 0.2 * (b - 0.5) * (b - 0.5) +
                         0.02 * static_cast<double>(std::abs(width - 4)) +
                         (act == "tanh" ? 0.5 : 0.0) + 0.001 * static_cast<double>(units) / 1000;
    out.push_back(completed(i,
                            {{"x", x},
                             {"lr", std::pow(10.0, -4.0 + 4.0 * b)},
                             {"width", width},
                             {"units", units},
                             {"act", act},
                             {"z", ((i * 71) % 89 + 0.5) / 89}},
                            sign * value));
  }
  return out;
}

void expect_importances(const Importances& result,
                        const std::vector<std::pair<std::string, double>>& expected) {
  ASSERT_EQ(result.params.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(result.params[i].name, expected[i].first) << "rank " << i;
    EXPECT_NEAR(result.params[i].importance, expected[i].second, 1e-9) << expected[i].first;
  }
}

TEST(PedAnova, MatchesOptunaWithItsDefaults) {
  // `python3 golden/ped_anova_reference.py`, case "60 trials, minimize, defaults".
  const auto result = ped_anova(kGoldenSpace, golden_trials(60, 1), Direction::Minimize);
  EXPECT_EQ(result.trials, 60u);
  EXPECT_EQ(result.top_trials, 6u);
  expect_importances(result, {{"x", 0.6207225248112181},
                              {"width", 0.2236078214668869},
                              {"units", 0.06727376122377259},
                              {"lr", 0.040094845666812304},
                              {"act", 0.037792733082926286},
                              {"z", 0.010508313748383813}});
}

TEST(PedAnova, MatchesOptunaWithOtherQuantilesWhenMaximizing) {
  // Case "60 trials, maximize, target 0.2, region 0.5".
  const auto result = ped_anova(kGoldenSpace, golden_trials(60, -1), Direction::Maximize,
                                {.target_quantile = 0.2, .region_quantile = 0.5});
  EXPECT_EQ(result.top_trials, 12u);
  expect_importances(result, {{"x", 0.442148534380959},
                              {"units", 0.20556048852206435},
                              {"width", 0.1533966461196971},
                              {"lr", 0.11477338733106625},
                              {"z", 0.0794139368807996},
                              {"act", 0.004707006765413702}});
}

TEST(PedAnova, MatchesOptunaOnAFewTrials) {
  // Case "7 trials, minimize, defaults": one top trial.
  const auto result = ped_anova(kGoldenSpace, golden_trials(7, 1), Direction::Minimize);
  EXPECT_EQ(result.top_trials, 1u);
  expect_importances(result, {{"z", 0.3275136853093612},
                              {"lr", 0.2956495992794163},
                              {"x", 0.28524446844189727},
                              {"width", 0.04841064405800018},
                              {"units", 0.042806700578857396},
                              {"act", 0.0003749023324677059}});
}

// value = f(x) strongly, g(y) a little, z not at all.
std::vector<TrialRecord> known_trials(int n, uint64_t seed) {
  Rng rng(seed);
  std::vector<TrialRecord> out;
  for (int i = 0; i < n; ++i) {
    const double x = rng.uniform(), y = rng.uniform(), z = rng.uniform();
    const double value = 10 * (x - 0.2) * (x - 0.2) + 0.5 * (y - 0.5) * (y - 0.5);
    out.push_back(completed(i, {{"x", x}, {"y", y}, {"z", z}}, value));
  }
  return out;
}

TEST(PedAnova, RanksAStrongParameterOverAWeakOneOverAnIrrelevantOne) {
  const SearchSpace space{{"z", FloatDim{0, 1}}, {"y", FloatDim{0, 1}}, {"x", FloatDim{0, 1}}};
  for (const uint64_t seed : {1, 2, 3}) {
    const auto result = ped_anova(space, known_trials(300, seed), Direction::Minimize);
    auto imp = by_name(result);
    EXPECT_EQ(result.params[0].name, "x") << "seed " << seed;
    EXPECT_GT(imp["x"], 0.6) << "seed " << seed;
    EXPECT_GT(imp["y"], imp["z"]) << "seed " << seed;
    EXPECT_LT(imp["z"], 0.05) << "seed " << seed;
    EXPECT_NEAR(imp["x"] + imp["y"] + imp["z"], 1.0, 1e-12);
  }
}

TEST(PedAnova, MeasuresAConditionalDimensionOnTheTrialsWhereItIsActive) {
  // branch a: the value is x alone; branch b: a constant. y exists only in branch b and does not
  // matter there; x exists only in branch a and decides the value.
  SearchSpace space;
  space.add("branch", CategoricalDim{{std::string("a"), std::string("b")}});
  space.add("x", FloatDim{0, 1}, Condition{"branch", ConditionOp::In, {std::string("a")}});
  space.add("y", FloatDim{0, 1}, Condition{"branch", ConditionOp::In, {std::string("b")}});
  Rng rng(3);
  std::vector<TrialRecord> trials;
  size_t in_a = 0;
  for (int i = 0; i < 200; ++i) {
    const bool a = rng.uniform() < 0.5;
    const double u = rng.uniform();
    if (a) {
      ++in_a;
      trials.push_back(
          completed(i, {{"branch", std::string("a")}, {"x", u}}, (u - 0.3) * (u - 0.3)));
    } else {
      trials.push_back(completed(i, {{"branch", std::string("b")}, {"y", u}}, 0.2));
    }
  }
  const Importances result = ped_anova(space, trials, Direction::Minimize);
  EXPECT_EQ(result.trials, 200u);  // every trial is used: an absent dimension is not missing
  std::map<std::string, size_t> measured_on;
  for (const auto& p : result.params) measured_on[p.name] = p.trials;
  EXPECT_EQ(measured_on["branch"], 200u);
  EXPECT_EQ(measured_on["x"], in_a);
  EXPECT_EQ(measured_on["y"], 200u - in_a);
  auto imp = by_name(result);
  EXPECT_GT(imp["x"], 0.3);
  EXPECT_GT(imp["x"], 5 * imp["y"]);
  // A trial lacking an active dimension is still not used.
  trials.push_back(completed(500, {{"branch", std::string("a")}}, 0.0));
  EXPECT_EQ(ped_anova(space, trials, Direction::Minimize).trials, 200u);
}

TEST(PedAnova, IsDeterministicAndIndependentOfTrialOrder) {
  const SearchSpace space{{"z", FloatDim{0, 1}}, {"y", FloatDim{0, 1}}, {"x", FloatDim{0, 1}}};
  auto trials = known_trials(120, 7);
  const auto first = ped_anova(space, trials, Direction::Minimize);
  std::reverse(trials.begin(), trials.end());
  const auto reversed = ped_anova(space, trials, Direction::Minimize);
  ASSERT_EQ(first.params.size(), reversed.params.size());
  for (size_t i = 0; i < first.params.size(); ++i) {
    EXPECT_EQ(first.params[i].name, reversed.params[i].name);
    EXPECT_EQ(first.params[i].importance, reversed.params[i].importance);
  }
}

TEST(PedAnova, MeasuresALogDimensionInItsLogSpace) {
  // The good learning rates are one decade of five, [1e-3, 1e-2]: a thin sliver of the linear
  // range (1% of it), most of the log range's mass. Read linearly, every sample of either set
  // would fall in the grid's first point and the top trials would look like all the others.
  const SearchSpace space{{"lr", FloatDim{1e-5, 1, true}}, {"noise", FloatDim{0, 1}}};
  Rng rng(11);
  std::vector<TrialRecord> trials;
  for (int i = 0; i < 200; ++i) {
    const double e = -5 + 5 * rng.uniform(), noise = rng.uniform();
    const double lr = std::pow(10.0, e);
    trials.push_back(completed(i, {{"lr", lr}, {"noise", noise}}, (e + 2.5) * (e + 2.5)));
  }
  auto imp = by_name(ped_anova(space, trials, Direction::Minimize));
  EXPECT_GT(imp["lr"], 0.9);
  EXPECT_LT(imp["noise"], 0.1);
}

TEST(PedAnova, TreatsChoicesAsCategories) {
  // The best choice is the middle one of three: no order is assumed, only the value matters.
  const SearchSpace space{{"act", CategoricalDim{{"relu", "tanh", "gelu"}}},
                          {"batch", GridDim{{int64_t{32}, int64_t{64}, int64_t{128}}}}};
  Rng rng(5);
  std::vector<TrialRecord> trials;
  const std::vector<std::string> acts{"relu", "tanh", "gelu"};
  const std::vector<int64_t> batches{32, 64, 128};
  for (int i = 0; i < 90; ++i) {
    const auto& act = acts[rng.below(3)];
    const int64_t batch = batches[rng.below(3)];
    const double value = (act == "tanh" ? 1.0 : 0.0) + 0.01 * rng.uniform();
    trials.push_back(completed(i, {{"act", act}, {"batch", batch}}, value));
  }
  auto imp = by_name(ped_anova(space, trials, Direction::Maximize));
  // The top 9 trials are all "tanh"; "batch" gets only what sampling noise among them gives.
  EXPECT_GT(imp["act"], 0.75);
  EXPECT_LT(imp["batch"], imp["act"] / 3);
}

TEST(PedAnova, UsesCompletedTrialsWithValidParametersOnly) {
  const SearchSpace space{{"x", FloatDim{0, 1}}, {"y", FloatDim{0, 1}}};
  std::vector<TrialRecord> trials;
  for (int i = 0; i < 40; ++i) {
    const double x = (i + 0.5) / 40, y = ((i * 7) % 40 + 0.5) / 40;
    trials.push_back(completed(i, {{"x", x}, {"y", y}}, x));
  }
  const auto base = ped_anova(space, trials, Direction::Minimize);
  // Trials in other states, without a finite value, or with a parameter missing, out of range or
  // of the wrong type change nothing.
  auto more = trials;
  auto add = [&](TrialState state, Params params, std::optional<double> value) {
    TrialRecord t = completed(static_cast<int64_t>(more.size()), std::move(params), 0);
    t.state = state;
    t.value = value;
    more.push_back(t);
  };
  add(TrialState::Stopped, {{"x", 0.99}, {"y", 0.5}}, -5.0);
  add(TrialState::Failed, {{"x", 0.99}, {"y", 0.5}}, std::nullopt);
  add(TrialState::Diverged, {{"x", 0.99}, {"y", 0.5}}, std::nullopt);
  add(TrialState::Running, {{"x", 0.99}, {"y", 0.5}}, -5.0);
  add(TrialState::Completed, {{"x", 0.99}, {"y", 0.5}}, std::nan(""));
  add(TrialState::Completed, {{"x", 0.99}}, -5.0);
  add(TrialState::Completed, {{"x", "high"}, {"y", 0.5}}, -5.0);
  const auto same = ped_anova(space, more, Direction::Minimize);
  EXPECT_EQ(same.trials, 40u);
  ASSERT_EQ(same.params.size(), base.params.size());
  for (size_t i = 0; i < base.params.size(); ++i) {
    EXPECT_EQ(same.params[i].name, base.params[i].name);
    EXPECT_EQ(same.params[i].importance, base.params[i].importance);
  }
}

TEST(PedAnova, NothingToMeasureGivesZeros) {
  const SearchSpace space{{"x", FloatDim{0, 1}}, {"fixed", FloatDim{0.5, 0.5}}};
  for (const int n : {0, 1}) {
    std::vector<TrialRecord> trials;
    for (int i = 0; i < n; ++i) trials.push_back(completed(i, {{"x", 0.3}, {"fixed", 0.5}}, 1));
    const auto result = ped_anova(space, trials, Direction::Minimize);
    EXPECT_EQ(result.trials, static_cast<size_t>(n));
    ASSERT_EQ(result.params.size(), 2u);
    EXPECT_EQ(result.params[0].importance, 0.0);
    EXPECT_EQ(result.params[1].importance, 0.0);
  }
  // A dimension with one value cannot matter; the other takes it all.
  std::vector<TrialRecord> trials;
  for (int i = 0; i < 30; ++i) {
    const double x = (i + 0.5) / 30;
    trials.push_back(completed(i, {{"x", x}, {"fixed", 0.5}}, x));
  }
  auto imp = by_name(ped_anova(space, trials, Direction::Minimize));
  EXPECT_EQ(imp["fixed"], 0.0);
  EXPECT_EQ(imp["x"], 1.0);
  EXPECT_TRUE(ped_anova(SearchSpace{}, trials, Direction::Minimize).params.empty());
}

TEST(PedAnova, RefusesOptionsOutOfRange) {
  const SearchSpace space{{"x", FloatDim{0, 1}}};
  EXPECT_THAT(error_of([&] {
                ped_anova(space, {}, Direction::Minimize,
                          {.target_quantile = 0.5, .region_quantile = 0.5});
              }),
              HasSubstr("expected 0 < target quantile < region quantile <= 1"));
  EXPECT_THAT(error_of([&] { ped_anova(space, {}, Direction::Minimize, {.target_quantile = 0}); }),
              HasSubstr("target quantile"));
  EXPECT_THAT(error_of([&] { ped_anova(space, {}, Direction::Minimize, {.grid_steps = 1}); }),
              HasSubstr("grid steps >= 2"));
}

}  // namespace
}  // namespace krill::hpo
