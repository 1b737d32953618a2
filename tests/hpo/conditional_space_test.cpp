// Conditional dimensions: activity, sampling through the unit cube, fingerprints, and every
// sampler on a conditional space.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <set>
#include <vector>

#include "core/rng.hpp"
#include "hpo/pbt.hpp"
#include "hpo/sampler.hpp"
#include "hpo/samplers/tpe.hpp"
#include "hpo/search_space.hpp"
#include "hpo_test_util.hpp"
#include "learning_sampler_util.hpp"

namespace krill::hpo {
namespace {

using testing::error_of;
using ::testing::HasSubstr;

Condition is(const std::string& parent, std::vector<ParamValue> values) {
  return Condition{parent, ConditionOp::In, std::move(values)};
}
Condition compares(const std::string& parent, ConditionOp op, int64_t bound) {
  return Condition{parent, op, {bound}};
}

// optimizer: sgd | adam; momentum and nesterov only with sgd; lr always.
SearchSpace optimizer_space() {
  SearchSpace space;
  space.add("lr", FloatDim{1e-4, 0.1, true});
  space.add("momentum", FloatDim{0.5, 0.99}, is("optimizer", {std::string("sgd")}));
  space.add("optimizer", CategoricalDim{{std::string("sgd"), std::string("adam")}});
  space.add("nesterov", IntDim{0, 1}, is("optimizer", {std::string("sgd")}));
  return space;
}

// depth 1..3, width_2 if depth >= 2, width_3 if depth >= 3, act_3 only if width_3 is 64.
SearchSpace depth_space() {
  SearchSpace space;
  space.add("depth", IntDim{1, 3});
  space.add("width_2", IntDim{16, 64}, compares("depth", ConditionOp::Ge, 2));
  space.add("width_3", GridDim{{int64_t{16}, int64_t{64}}}, compares("depth", ConditionOp::Ge, 3));
  space.add("act_3", CategoricalDim{{std::string("relu"), std::string("tanh")}},
            is("width_3", {int64_t{64}}));
  return space;
}

TEST(ConditionalSpace, ActivityFollowsTheParentAndItsParent) {
  const SearchSpace space = depth_space();
  const Params two{{"depth", int64_t{2}}, {"width_2", int64_t{20}}};
  EXPECT_TRUE(space.active("depth", two));
  EXPECT_TRUE(space.active("width_2", two));
  EXPECT_FALSE(space.active("width_3", two));
  // act_3's parent value would match, but its parent is inactive (depth 2).
  EXPECT_FALSE(space.active("act_3", Params{{"depth", int64_t{2}}, {"width_3", int64_t{64}}}));
  EXPECT_TRUE(space.active("act_3", Params{{"depth", int64_t{3}}, {"width_3", int64_t{64}}}));
  EXPECT_FALSE(space.active("act_3", Params{{"depth", int64_t{3}}, {"width_3", int64_t{16}}}));
  EXPECT_FALSE(space.active("width_2", Params{}));  // the parent has no value
  EXPECT_TRUE(space.active(size_t{0}, Params{}));
  EXPECT_THAT(error_of([&] { (void)space.active("nope", two); }), HasSubstr("'nope'"));
}

TEST(ConditionalSpace, ComparisonsOnIntegers) {
  const std::array<std::pair<ConditionOp, std::array<bool, 3>>, 5> cases{{
      {ConditionOp::Ne, {true, false, true}},
      {ConditionOp::Lt, {true, false, false}},
      {ConditionOp::Le, {true, true, false}},
      {ConditionOp::Gt, {false, false, true}},
      {ConditionOp::Ge, {false, true, true}},
  }};
  for (const auto& [op, expected] : cases) {
    const Condition c = compares("depth", op, 2);
    for (int64_t k = 1; k <= 3; ++k) {
      EXPECT_EQ(c.matches(k), expected[static_cast<size_t>(k - 1)]) << c.describe() << " at " << k;
    }
  }
  EXPECT_EQ(compares("depth", ConditionOp::Ge, 3).describe(), "depth >= 3");
  EXPECT_EQ(is("optimizer", {std::string("sgd")}).describe(), "optimizer = sgd");
  EXPECT_EQ(is("depth", {int64_t{2}, int64_t{3}}).describe(), "depth in {2, 3}");
}

TEST(ConditionalSpace, FromUnitLeavesInactiveDimensionsOutAndKeepsActiveValues) {
  const SearchSpace space = optimizer_space();
  Rng rng(7);
  int with_sgd = 0, with_adam = 0;
  for (int i = 0; i < 200; ++i) {
    std::vector<double> u(space.size());
    for (double& x : u) x = rng.uniform();
    const Params p = space.from_unit(u);
    const bool sgd = std::get<std::string>(p.at("optimizer")) == "sgd";
    (sgd ? with_sgd : with_adam)++;
    EXPECT_EQ(p.contains("momentum"), sgd);
    EXPECT_EQ(p.contains("nesterov"), sgd);
    EXPECT_TRUE(p.contains("lr"));
    // The other choice of the parent (its coordinate moved to the other half) changes only the
    // children's presence: lr and, when present, momentum keep their values.
    std::vector<double> flipped = u;
    flipped[2] = u[2] < 0.5 ? u[2] + 0.5 : u[2] - 0.5;
    const Params q = space.from_unit(flipped);
    EXPECT_EQ(q.at("lr"), p.at("lr"));
    EXPECT_NE(q.at("optimizer"), p.at("optimizer"));
    const Params& with = sgd ? p : q;
    const Params& without = sgd ? q : p;
    EXPECT_FALSE(without.contains("momentum"));
    EXPECT_EQ(with.at("momentum"), space.value_from_unit(1, u[1]));
  }
  EXPECT_GT(with_sgd, 60);
  EXPECT_GT(with_adam, 60);
}

TEST(ConditionalSpace, ToUnitAcceptsAbsentInactiveDimensionsAndRequiresActiveOnes) {
  const SearchSpace space = optimizer_space();
  const Params adam{{"lr", 0.1}, {"optimizer", std::string("adam")}};  // 0.1: exact in log space
  const std::vector<double> u = space.to_unit(adam);
  EXPECT_EQ(u[1], SearchSpace::kInactiveUnit);
  EXPECT_EQ(u[3], SearchSpace::kInactiveUnit);
  EXPECT_EQ(space.from_unit(u), adam);  // round trip: the inactive ones stay out
  // A value for an inactive dimension is ignored.
  Params extra = adam;
  extra["momentum"] = 0.7;
  EXPECT_EQ(space.to_unit(extra), u);
  // With sgd, momentum and nesterov are required.
  const Params sgd{{"lr", 0.01}, {"optimizer", std::string("sgd")}, {"nesterov", int64_t{1}}};
  EXPECT_THAT(error_of([&] { (void)space.to_unit(sgd); }), HasSubstr("'momentum': no value"));
  Params full = sgd;
  full["momentum"] = 0.9;
  EXPECT_EQ(space.from_unit(space.to_unit(full)).at("nesterov"), ParamValue{int64_t{1}});
  EXPECT_NEAR(std::get<double>(space.from_unit(space.to_unit(full)).at("momentum")), 0.9, 1e-12);
}

TEST(ConditionalSpace, RefusesBadConditions) {
  const auto error = [](const Dimension& parent, const Condition& c) {
    return error_of([&] {
      SearchSpace space;
      space.add("p", parent);
      space.add("x", FloatDim{0, 1}, c);
    });
  };
  const CategoricalDim choice{{std::string("sgd"), std::string("adam")}};
  EXPECT_THAT(error(choice, is("p", {std::string("sgdd")})),
              HasSubstr("'x': its parent 'p' is never sgdd (it is choice {sgd, adam})"));
  EXPECT_THAT(error(FloatDim{0, 1}, is("p", {0.5})), HasSubstr("float dimension"));
  EXPECT_THAT(error(IntDim{1, 3}, compares("p", ConditionOp::Ge, 9)),
              HasSubstr("its parent 'p' is never >= 9 (it is int [1, 3])"));
  EXPECT_THAT(error(IntDim{1, 3}, is("p", {int64_t{4}})), HasSubstr("is never 4"));
  EXPECT_THAT(error(choice, compares("p", ConditionOp::Ge, 1)), HasSubstr("cannot compare"));
  EXPECT_THAT(error(IntDim{1, 3}, is("p", {int64_t{2}, int64_t{2}})), HasSubstr("listed twice"));
  EXPECT_THAT(error_of([] {
                SearchSpace().add("x", IntDim{0, 1}, is("x", {int64_t{0}}));
              }),
              HasSubstr("its own parent"));
  // A parent declared later is checked when it comes, and the space is left as it was.
  SearchSpace space;
  space.add("x", FloatDim{0, 1}, is("p", {std::string("sgdd")}));
  EXPECT_THAT(error_of([&] { space.add("p", choice); }), HasSubstr("is never sgdd"));
  EXPECT_EQ(space.size(), 1u);
  EXPECT_THAT(error_of([&] { space.check_conditions(); }),
              HasSubstr("its parent 'p' is not a dimension"));
  // A cycle closes with its last dimension.
  SearchSpace cycle;
  cycle.add("a", IntDim{0, 1}, is("b", {int64_t{1}}));
  cycle.add("b", IntDim{0, 1}, is("c", {int64_t{1}}));
  EXPECT_THAT(error_of([&] {
                cycle.add("c", IntDim{0, 1}, is("a", {int64_t{1}}));
              }),
              HasSubstr("cycle: c -> a -> b -> c"));
}

TEST(ConditionalSpace, FingerprintRoundTripsAndOldTextsStillRead) {
  const SearchSpace space = depth_space();
  const std::string text = space.fingerprint();
  EXPECT_THAT(text, HasSubstr("width_2: int linear [16, 64] if depth >= 2"));
  EXPECT_THAT(text, HasSubstr("act_3: categorical {string \"relu\", string \"tanh\"} if width_3 "
                              "in {int 64}"));
  const SearchSpace back = SearchSpace::from_fingerprint(text);
  EXPECT_EQ(back.fingerprint(), text);
  ASSERT_TRUE(back.condition(3));
  EXPECT_EQ(*back.condition(3), *space.condition(3));
  // Every comparison, and a child before its parent.
  for (const char* op : {">=", ">", "<=", "<", "!="}) {
    const std::string t = std::string("w: int linear [1, 8] if \"the depth\" ") + op +
                          " 2\n\"the depth\": int "
                          "linear [1, 3]";
    EXPECT_EQ(SearchSpace::from_fingerprint(t).fingerprint(), t) << op;
  }
  // A fingerprint written before conditions existed.
  const SearchSpace old = SearchSpace::from_fingerprint(
      "lr: float log [0.0001, 0.1]\nbatch: categorical {int 32, int 64}");
  EXPECT_FALSE(old.conditional());
  EXPECT_EQ(old.size(), 2u);
  // Unknown parents, bad conditions.
  EXPECT_THROW(SearchSpace::from_fingerprint("x: int linear [0, 1] if y in {int 1}"), DataError);
  EXPECT_THROW(SearchSpace::from_fingerprint("x: int linear [0, 1] if x ~ 1"), DataError);
  EXPECT_THROW(SearchSpace::from_fingerprint("y: int linear [0, 3]\nx: int linear [0, 1] if y >= "
                                             "9"),
               DataError);
}

TEST(ConditionalSpace, DifferenceNamesAChangedCondition) {
  SearchSpace a = optimizer_space();
  SearchSpace b;
  b.add("lr", FloatDim{1e-4, 0.1, true});
  b.add("momentum", FloatDim{0.5, 0.99});
  b.add("optimizer", CategoricalDim{{std::string("sgd"), std::string("adam")}});
  b.add("nesterov", IntDim{0, 1}, is("optimizer", {std::string("sgd")}));
  EXPECT_EQ(SearchSpace::difference(a, b),
            "'momentum': uniform [0.5, 0.99] if optimizer = sgd -> uniform [0.5, 0.99]");
  EXPECT_EQ(SearchSpace::difference(a, a), "");
}

TEST(ConditionalSpace, RandomAndSobolAreDeterministicAndNeverProposeInactiveDimensions) {
  const SearchSpace space = depth_space();
  for (const char* name : {"random", "sobol"}) {
    auto a = make_sampler(name, 3), b = make_sampler(name, 3);
    std::set<size_t> sizes;
    for (int64_t n = 0; n < 64; ++n) {
      const Params p = *a->sample(space, n, {});
      EXPECT_EQ(p, *b->sample(space, n, {})) << name;
      const int64_t depth = std::get<int64_t>(p.at("depth"));
      EXPECT_EQ(p.contains("width_2"), depth >= 2) << name;
      EXPECT_EQ(p.contains("width_3"), depth >= 3) << name;
      EXPECT_EQ(p.contains("act_3"), depth >= 3 && p.at("width_3") == ParamValue{int64_t{64}});
      EXPECT_NO_THROW((void)space.to_unit(p));
      sizes.insert(p.size());
    }
    EXPECT_EQ(sizes, (std::set<size_t>{1, 2, 3, 4})) << name;
  }
}

TEST(ConditionalSpace, GridListsEachDistinctPointOnce) {
  // kind: a | b; size (grid) only with b: a, (b, 1), (b, 2), (b, 3): 4 points, not 6.
  SearchSpace space;
  space.add("size", GridDim{{int64_t{1}, int64_t{2}, int64_t{3}}}, is("kind", {std::string("b")}));
  space.add("kind", GridDim{{std::string("a"), std::string("b")}});
  space.add("lr", FloatDim{0.01, 0.1}, is("kind", {std::string("a")}));
  ASSERT_EQ(space.grid_size(), 4);
  GridSampler sampler(5);
  std::set<Params> grid_points;
  for (int64_t n = 0; n < 4; ++n) {
    const Params p = *sampler.sample(space, n, {});
    const bool b = p.at("kind") == ParamValue{std::string("b")};
    EXPECT_EQ(p.contains("size"), b);
    EXPECT_EQ(p.contains("lr"), !b);  // a non-grid child of a grid parent
    Params key = p;
    key.erase("lr");
    grid_points.insert(key);
  }
  EXPECT_EQ(grid_points.size(), 4u);
  EXPECT_FALSE(sampler.sample(space, 4, {}));
  // A grid dimension depending on a random draw is refused.
  SearchSpace random_parent;
  random_parent.add("kind", CategoricalDim{{std::string("a"), std::string("b")}});
  random_parent.add("size", GridDim{{int64_t{1}, int64_t{2}}}, is("kind", {std::string("b")}));
  EXPECT_THAT(error_of([&] { (void)random_parent.grid_size(); }),
              HasSubstr("'size': a grid dimension whose condition depends on 'kind'"));
}

// A categorical parent choosing between two sub-functions of its own children: with "a" the
// value is (x - 0.8)^2, with "b" 0.3 + (y - 0.2)^2. The minimum is 0 at a, x = 0.8.
double two_branches(const Params& p) {
  if (std::get<std::string>(p.at("branch")) == "a") {
    EXPECT_FALSE(p.contains("y"));
    const double x = std::get<double>(p.at("x"));
    return (x - 0.8) * (x - 0.8);
  }
  EXPECT_FALSE(p.contains("x"));
  const double y = std::get<double>(p.at("y"));
  return 0.3 + (y - 0.2) * (y - 0.2);
}

SearchSpace branch_space() {
  SearchSpace space;
  space.add("branch", CategoricalDim{{std::string("a"), std::string("b")}});
  space.add("x", FloatDim{0, 1}, is("branch", {std::string("a")}));
  space.add("y", FloatDim{0, 1}, is("branch", {std::string("b")}));
  space.add("z", FloatDim{-1, 1});  // unconditional noise dimension
  return space;
}

TEST(ConditionalSpace, TpeGroupsDimensionsByTheirConditions) {
  const std::vector<std::vector<size_t>> groups = samplers::condition_groups(depth_space());
  ASSERT_EQ(groups.size(), 4u);  // depth | width_2 | width_3 | act_3: parents first
  EXPECT_EQ(groups[0], std::vector<size_t>{0});
  EXPECT_EQ(groups[1], std::vector<size_t>{1});
  EXPECT_EQ(groups[2], std::vector<size_t>{2});
  EXPECT_EQ(groups[3], std::vector<size_t>{3});
  const auto optimizer = samplers::condition_groups(optimizer_space());
  ASSERT_EQ(optimizer.size(), 2u);
  EXPECT_EQ(optimizer[0], (std::vector<size_t>{0, 2}));
  EXPECT_EQ(optimizer[1], (std::vector<size_t>{1, 3}));  // momentum and nesterov together
}

TEST(ConditionalSpace, TpeNeverProposesInactiveDimensionsAndIsDeterministic) {
  const SearchSpace space = depth_space();
  for (const bool multivariate : {true, false}) {
    TpeOptions options;
    options.multivariate = multivariate;
    options.startup = 5;
    const auto objective = [](const Params& p) {
      double v = static_cast<double>(std::get<int64_t>(p.at("depth")));
      if (p.contains("width_2")) v += static_cast<double>(std::get<int64_t>(p.at("width_2"))) / 64;
      if (p.contains("act_3")) v += p.at("act_3") == ParamValue{std::string("tanh")} ? 1 : 0;
      return v;
    };
    std::vector<TrialRecord> h1, h2;
    samplers::TpeSampler a(11, Direction::Maximize, options), b(11, Direction::Maximize, options);
    testing::run_serial(a, space, 0, 40, objective, h1);
    testing::run_serial(b, space, 0, 40, objective, h2);
    for (size_t i = 0; i < h1.size(); ++i) {
      const Params& p = h1[i].params;
      EXPECT_EQ(p, h2[i].params);
      for (size_t d = 0; d < space.size(); ++d) {
        EXPECT_EQ(p.contains(space.dimensions()[d].first), space.active(d, p))
            << "trial " << i << " " << space.dimensions()[d].first;
      }
    }
    // It learned: most late trials have depth 3.
    int deep = 0;
    for (size_t i = 20; i < h1.size(); ++i)
      deep += h1[i].params.at("depth") == ParamValue{int64_t{3}};
    EXPECT_GE(deep, 14) << "multivariate " << multivariate;
  }
}

TEST(ConditionalSpace, TpeBeatsRandomOnTwoBranches) {
  const SearchSpace space = branch_space();
  int wins = 0;
  for (uint64_t seed = 0; seed < 5; ++seed) {
    std::vector<TrialRecord> tpe_history, random_history;
    samplers::TpeSampler tpe(seed, Direction::Minimize);
    RandomSampler random(seed);
    testing::run_serial(tpe, space, 0, 60, two_branches, tpe_history);
    testing::run_serial(random, space, 0, 60, two_branches, random_history);
    const auto best = [](const std::vector<TrialRecord>& h) {
      double b = 1e9;
      for (const auto& t : h) b = std::min(b, *t.value);
      return b;
    };
    wins += best(tpe_history) < best(random_history);
    // TPE's late trials choose the better branch.
    int a = 0;
    for (size_t i = 40; i < tpe_history.size(); ++i) {
      a += tpe_history[i].params.at("branch") == ParamValue{std::string("a")};
    }
    EXPECT_GE(a, 14) << "seed " << seed;
  }
  EXPECT_GE(wins, 4);
}

TEST(ConditionalSpace, EvolutionKeepsActivityConsistent) {
  const SearchSpace space = branch_space();
  SamplerConfig config;
  config.name = "evolution";
  config.direction = Direction::Minimize;
  config.evolution = {.population = 6, .sample = 3};
  auto a = make_sampler(config, 4), b = make_sampler(config, 4);
  std::vector<TrialRecord> h1, h2;
  testing::run_serial(*a, space, 0, 80, two_branches, h1);
  testing::run_serial(*b, space, 0, 80, two_branches, h2);
  int switched = 0;
  for (size_t i = 0; i < h1.size(); ++i) {
    const Params& p = h1[i].params;
    EXPECT_EQ(p, h2[i].params);
    const bool is_a = p.at("branch") == ParamValue{std::string("a")};
    EXPECT_EQ(p.contains("x"), is_a);
    EXPECT_EQ(p.contains("y"), !is_a);
    if (i > 0 && p.at("branch") != h1[i - 1].params.at("branch")) ++switched;
  }
  EXPECT_GT(switched, 0);  // branches did change, each child getting a fresh value
}

TEST(ConditionalSpace, PbtRefusesToEvolveConditionalDimensionsOrTheirParents) {
  SearchSpace space;
  space.add("lr", FloatDim{0.001, 0.1, true});
  space.add("schedule", CategoricalDim{{std::string("step"), std::string("exp")}});
  space.add("gamma", FloatDim{0.9, 1.0}, is("schedule", {std::string("exp")}));
  PbtOptions options;
  options.evolve = {"gamma"};
  EXPECT_THAT(error_of([&] { Pbt(options, space); }),
              HasSubstr("evolve: 'gamma': it is conditional (if schedule = exp)"));
  options.evolve = {"schedule"};
  EXPECT_THAT(error_of([&] { Pbt(options, space); }),
              HasSubstr("evolve: 'schedule': it is the parent of the conditional 'gamma'"));
  options.evolve = {"lr"};
  EXPECT_NO_THROW(Pbt(options, space));
}

}  // namespace
}  // namespace krill::hpo
