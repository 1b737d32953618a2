#include "hpo/samplers/evolution.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "hpo/samplers/history.hpp"
#include "hpo_test_util.hpp"
#include "learning_sampler_util.hpp"

namespace krill::hpo {
namespace {

using samplers::EvolutionSampler;
using testing::error_of;
using ::testing::HasSubstr;
using testing::run_serial;

SearchSpace mixed_space() {
  return SearchSpace{{"lr", FloatDim{1e-4, 1e-1, true}},
                     {"momentum", FloatDim{0, 0.9}},
                     {"width", IntDim{1, 3}},
                     {"batch", IntDim{16, 1024, true}},
                     {"act", CategoricalDim{{"relu", "tanh"}}},
                     {"hidden", GridDim{{int64_t{32}, int64_t{64}, int64_t{128}}}},
                     {"fixed", FloatDim{0.5, 0.5}}};
}

double loss(const Params& p) {
  const double lr = std::log10(std::get<double>(p.at("lr"))) + 2;
  return lr * lr + std::abs(std::get<double>(p.at("momentum")) - 0.5) +
         static_cast<double>(std::get<int64_t>(p.at("width"))) +
         (std::get<std::string>(p.at("act")) == "tanh" ? 0 : 1);
}

size_t differences(const Params& a, const Params& b) {
  size_t n = 0;
  for (const auto& [name, v] : a) n += b.at(name) != v;
  return n;
}

EvolutionOptions options(int64_t population, int64_t sample) {
  EvolutionOptions o;
  o.population = population;
  o.sample = sample;
  return o;
}

TEST(EvolutionSampler, DescribesItsOptions) {
  EXPECT_EQ(EvolutionSampler(1, Direction::Minimize).describe(),
            "evolution(seed=1, population=20, sample=5)");
  EXPECT_EQ(EvolutionSampler(3, Direction::Maximize, options(50, 10)).describe(),
            "evolution(seed=3, population=50, sample=10)");
}

TEST(EvolutionSampler, RefusesASampleLargerThanThePopulation) {
  EXPECT_THAT(error_of([] { EvolutionSampler(1, Direction::Minimize, options(4, 5)); }),
              HasSubstr("sample 5, expected 1 to the population (4)"));
  EXPECT_THAT(error_of([] { EvolutionSampler(1, Direction::Minimize, options(0, 1)); }),
              HasSubstr("population 0"));
  EXPECT_THAT(error_of([] { EvolutionSampler(1, Direction::Minimize, options(4, 0)); }),
              HasSubstr("sample 0"));
}

TEST(EvolutionSampler, IsTheRandomSamplerUntilThePopulationHasFinished) {
  const SearchSpace space = mixed_space();
  EvolutionSampler evolution(5, Direction::Minimize, options(10, 3));
  RandomSampler random(5);
  std::vector<TrialRecord> history;
  run_serial(evolution, space, 0, 10, loss, history);
  for (int64_t n = 0; n < 10; ++n) {
    EXPECT_EQ(history[static_cast<size_t>(n)].params, *random.sample(space, n, {})) << n;
  }
  // Failed trials do not count: with one of the ten failed, trial 10 is still random.
  std::vector<TrialRecord> one_failed = history;
  one_failed[4].state = TrialState::Failed;
  EXPECT_EQ(*evolution.sample(space, 10, one_failed), *random.sample(space, 10, {}));
}

// After P finished trials each proposal is a member of the last P with exactly one dimension
// changed, and that member can be the best of a sample of S: no more than P - S members of the
// population rank before it.
TEST(EvolutionSampler, MutatesOneDimensionOfTheBestOfASample) {
  for (const auto& [p, s] : std::vector<std::pair<int64_t, int64_t>>{{20, 5}, {8, 8}, {6, 1}}) {
    SCOPED_TRACE("P=" + std::to_string(p) + " S=" + std::to_string(s));
    const SearchSpace space = mixed_space();
    EvolutionSampler evolution(2, Direction::Minimize, options(p, s));
    std::vector<TrialRecord> history;
    run_serial(evolution, space, 0, p + 60, loss, history);
    for (size_t n = static_cast<size_t>(p); n < history.size(); ++n) {
      const std::vector<TrialRecord> population(history.begin() + static_cast<ptrdiff_t>(n) - p,
                                                history.begin() + static_cast<ptrdiff_t>(n));
      const Params& child = history[n].params;
      EXPECT_EQ(child.at("fixed"), ParamValue{0.5});
      EXPECT_NO_THROW(space.to_unit(child));
      bool found = false;
      for (const TrialRecord& parent : population) {
        if (differences(parent.params, child) != 1) continue;
        size_t better = 0;
        for (const TrialRecord& m : population) better += *m.value < *parent.value;
        found = found || better <= static_cast<size_t>(p - s);
      }
      EXPECT_TRUE(found) << "trial " << n << ": " << to_string(child);
    }
  }
}

TEST(EvolutionSampler, ImprovesOnRandom) {
  const SearchSpace space{{"x", FloatDim{-10, 10}}, {"y", FloatDim{-10, 10}}};
  const auto f = [](const Params& p) {
    const double x = std::get<double>(p.at("x")) - 3, y = std::get<double>(p.at("y")) + 1;
    return x * x + y * y;
  };
  EvolutionSampler evolution(1, Direction::Minimize);
  RandomSampler random(1);
  std::vector<TrialRecord> a, b;
  run_serial(evolution, space, 0, 200, f, a);
  run_serial(random, space, 0, 200, f, b);
  std::vector<double> late_a, late_b;
  for (size_t n = 150; n < 200; ++n) late_a.push_back(*a[n].value), late_b.push_back(*b[n].value);
  EXPECT_LT(testing::median(late_a), 0.35 * testing::median(late_b));  // measured: 15 vs 73
}

TEST(EvolutionSampler, MaximizesWhenAsked) {
  // Population = sample: the parent is always the best of the last P.
  const SearchSpace space{{"c", CategoricalDim{{"a", "b", "c", "d"}}}, {"x", FloatDim{0, 1}}};
  EvolutionSampler evolution(4, Direction::Maximize, options(5, 5));
  std::vector<TrialRecord> history;
  run_serial(
      evolution, space, 0, 40, [](const Params& p) { return std::get<double>(p.at("x")); },
      history);
  for (size_t n = 5; n < history.size(); ++n) {
    double best = -1;
    const TrialRecord* parent = nullptr;
    for (size_t m = n - 5; m < n; ++m) {
      if (*history[m].value > best) best = *history[m].value, parent = &history[m];
    }
    EXPECT_EQ(differences(parent->params, history[n].params), 1u) << n;
  }
}

TEST(EvolutionSampler, AResumedStudyGoesOnAsItWouldHave) {
  const SearchSpace space = mixed_space();
  EvolutionSampler serial(8, Direction::Minimize, options(10, 3));
  std::vector<TrialRecord> history;
  run_serial(serial, space, 0, 50, loss, history);

  EvolutionSampler resumed_sampler(8, Direction::Minimize, options(10, 3));
  std::vector<TrialRecord> resumed(history.begin(), history.begin() + 30);
  std::reverse(resumed.begin(), resumed.end());
  run_serial(resumed_sampler, space, 30, 50, loss, resumed);
  for (size_t n = 30; n < 50; ++n) EXPECT_EQ(resumed[n].params, history[n].params) << n;
  // Later trials in the history change nothing.
  EXPECT_EQ(*resumed_sampler.sample(space, 20, history), history[20].params);
}

// --- What the learning samplers take from the history ---

TrialRecord trial(int64_t number, TrialState state, std::optional<double> value,
                  std::vector<Report> reports = {}) {
  TrialRecord t;
  t.number = number;
  t.params = {{"x", 0.5}};
  t.state = state;
  t.value = value;
  t.reports = std::move(reports);
  return t;
}

std::vector<int64_t> numbers(const std::vector<const TrialRecord*>& trials) {
  std::vector<int64_t> out;
  for (const TrialRecord* t : trials) out.push_back(t->number);
  return out;
}

TEST(LearningSamplerHistory, UsesFinishedTrialsBelowTheNumberSortedByNumber) {
  const SearchSpace space{{"x", FloatDim{0, 1}}};
  std::vector<TrialRecord> history{
      trial(5, TrialState::Completed, 0.1),         trial(2, TrialState::Stopped, 0.3),
      trial(7, TrialState::Completed, 0.2),  // not below 6
      trial(1, TrialState::Failed, std::nullopt),   trial(3, TrialState::Running, std::nullopt),
      trial(0, TrialState::Diverged, std::nullopt), trial(4, TrialState::Completed, 0.4)};
  TrialRecord outside = trial(6, TrialState::Completed, 0.0);
  outside.number = 4;
  outside.params = {{"x", 2.0}};  // not a value of the space: not used
  history.push_back(outside);
  EXPECT_EQ(numbers(samplers::usable_trials(history, 6, space)),
            (std::vector<int64_t>{0, 2, 4, 5}));
}

TEST(LearningSamplerHistory, RanksCompletedThenStoppedThenDiverged) {
  const std::vector<TrialRecord> t{
      trial(0, TrialState::Diverged, std::nullopt),
      trial(1, TrialState::Stopped, 0.9, {{100, 0.5}, {200, 0.9}}),
      trial(2, TrialState::Completed, 0.4),
      trial(3, TrialState::Stopped, 0.1, {{100, 0.1}}),
      trial(4, TrialState::Completed, 0.6),
      trial(5, TrialState::Stopped, 0.7, {{100, 0.3}, {200, 0.7}}),
      trial(6, TrialState::Completed, 0.4),
  };
  std::vector<const TrialRecord*> all;
  for (const TrialRecord& r : t) all.push_back(&r);
  // Maximize: completed by value (ties by number), then stopped by the step they reached, then
  // by their last value, then diverged.
  EXPECT_EQ(numbers(samplers::ranked(all, Direction::Maximize)),
            (std::vector<int64_t>{4, 2, 6, 1, 5, 3, 0}));
  EXPECT_EQ(numbers(samplers::ranked(all, Direction::Minimize)),
            (std::vector<int64_t>{2, 6, 4, 5, 1, 3, 0}));
}

}  // namespace
}  // namespace krill::hpo
