// Population Based Training's rule (hpo/pbt.hpp): which members a generation replaces, whom they
// copy, how the hyperparameters are perturbed, and the options it refuses. Hand-made populations;
// the expected quantile sizes follow Ray Tune's PBT (ceil(n * quantile), at most n / 2).
#include "hpo/pbt.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>

#include "core/error.hpp"

namespace krill::hpo {
namespace {

using ::testing::HasSubstr;

SearchSpace lr_space() {
  return SearchSpace{{"lr", FloatDim{1e-4, 1.0, true}},
                     {"momentum", FloatDim{0.0, 0.99, false}},
                     {"width", IntDim{8, 64, false}},
                     {"schedule", CategoricalDim{{std::string("constant"), std::string("step"),
                                                  std::string("exp")}}},
                     {"batch", GridDim{{int64_t{32}, int64_t{64}}}}};
}

Pbt make(PbtOptions o = {}) {
  return Pbt(std::move(o), lr_space());
}

std::vector<PbtMember> population(const std::vector<double>& values) {
  std::vector<PbtMember> out;
  for (size_t i = 0; i < values.size(); ++i) {
    out.push_back({static_cast<int64_t>(i), values[i], true, {{"lr", 0.01 * double(i + 1)}}});
  }
  return out;
}

std::set<int64_t> exploited(const std::vector<DecisionRecord>& d,
                            const std::vector<PbtMember>& members) {
  std::set<int64_t> out;
  size_t next = 0;
  for (const PbtMember& m : members) {
    if (!m.waiting) continue;
    if (d.at(next++).action == Action::Exploit) out.insert(m.number);
  }
  return out;
}

TEST(Pbt, TheLeastFitQuartileCopiesTheMostFit) {
  const Pbt pbt = make({.population = 8, .interval = 100});
  // Values by trial: 7 and 2 are the worst two (maximize), 5 and 0 the best two.
  const auto members = population({0.9, 0.5, 0.1, 0.6, 0.55, 0.95, 0.7, 0.05});
  const auto d = pbt.generation(300, Direction::Maximize, members);
  ASSERT_EQ(d.size(), 8u);
  EXPECT_EQ(exploited(d, members), (std::set<int64_t>{2, 7}));
  for (size_t i = 0; i < d.size(); ++i) {
    EXPECT_EQ(d[i].step, 300);
    if (d[i].action != Action::Exploit) {
      EXPECT_EQ(d[i].donor, -1);
      EXPECT_THAT(d[i].reason, HasSubstr("pbt: rank "));
      continue;
    }
    EXPECT_TRUE(d[i].donor == 5 || d[i].donor == 0) << d[i].donor;
    EXPECT_EQ(d[i].donor_step, 300);
    EXPECT_THAT(d[i].reason, HasSubstr("copies trial " + std::to_string(d[i].donor)));
    // The donor's learning rate times 0.8 or 1.2.
    const double donor_lr = members[static_cast<size_t>(d[i].donor)].params.at("lr").index() == 0
                                ? std::get<double>(members[size_t(d[i].donor)].params.at("lr"))
                                : 0;
    const double lr = std::get<double>(d[i].params.at("lr"));
    const double ratio = lr / donor_lr;
    if (std::abs(ratio - 0.8) > 1e-12 && std::abs(ratio - 1.2) > 1e-12) {
      // resampled (probability 0.25): any value of the range
      EXPECT_GE(lr, 1e-4);
      EXPECT_LE(lr, 1.0);
    }
  }
  // Minimize turns the ranking around: 7 and 2 are now the best, 5 and 0 the worst.
  EXPECT_EQ(exploited(pbt.generation(300, Direction::Minimize, members), members),
            (std::set<int64_t>{0, 5}));
}

TEST(Pbt, QuantileSizesAsRayTune) {
  auto count = [](int n, double q) {
    const Pbt pbt = make({.population = 8, .interval = 10, .quantile = q});
    std::vector<double> v;
    for (int i = 0; i < n; ++i) v.push_back(i);
    const auto members = population(v);
    return exploited(pbt.generation(10, Direction::Maximize, members), members).size();
  };
  EXPECT_EQ(count(4, 0.25), 1u);
  EXPECT_EQ(count(8, 0.25), 2u);
  EXPECT_EQ(count(5, 0.25), 2u);  // ceil(1.25)
  EXPECT_EQ(count(3, 0.5), 1u);   // ceil(1.5) = 2, at most 3 / 2
  EXPECT_EQ(count(2, 0.25), 1u);
  EXPECT_EQ(count(1, 0.25), 0u);  // alone: nobody to copy
}

TEST(Pbt, OnlyWaitingMembersDecideOrDonate) {
  const Pbt pbt = make({.population = 4, .interval = 10});
  auto members = population({0.9, 0.8, 0.2, 0.1});
  members[0].waiting = false;  // the best has finished: it cannot give its state
  const auto d = pbt.generation(10, Direction::Maximize, members);
  ASSERT_EQ(d.size(), 3u);  // one per waiting member
  for (const auto& rec : d) {
    EXPECT_NE(rec.action, Action::Exploit) << "no waiting top member to copy";
  }
  EXPECT_TRUE(exploited(d, members).empty());
  EXPECT_THAT(d.back().reason, HasSubstr("no donor waiting"));
}

TEST(Pbt, NaNRanksLastAndTiesGoToTheLowerNumber) {
  const Pbt pbt = make({.population = 4, .interval = 10});
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto members = population({0.5, nan, 0.5, 0.4});
  EXPECT_EQ(exploited(pbt.generation(10, Direction::Maximize, members), members),
            std::set<int64_t>{1});
  // Trials 0 and 2 tie at 0.5: 0 ranks first and is the donor.
  const auto d = pbt.generation(10, Direction::Minimize, population({0.5, 0.9, 0.5, 0.1}));
  EXPECT_EQ(d[1].action, Action::Exploit);
  EXPECT_EQ(d[1].donor, 3);
  EXPECT_THAT(d[0].reason, HasSubstr("rank 2 of 4"));
  EXPECT_THAT(d[2].reason, HasSubstr("rank 3 of 4"));
}

TEST(Pbt, DecisionsAreDeterministic) {
  const Pbt pbt = make({.population = 8, .interval = 100, .seed = 42});
  const auto members = population({0.9, 0.5, 0.1, 0.6, 0.55, 0.95, 0.7, 0.05});
  const auto a = pbt.generation(200, Direction::Maximize, members);
  const auto b = pbt.generation(200, Direction::Maximize, members);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].donor, b[i].donor);
    EXPECT_EQ(a[i].params, b[i].params);
  }
}

TEST(Pbt, ExplorePerturbsWithinTheSpace) {
  const Pbt pbt = make({.population = 4,
                        .interval = 10,
                        .factors = {0.5, 3.0},
                        .resample = 0,
                        .evolve = {"lr", "momentum", "width", "schedule"}});
  const Params start{{"lr", 0.5},
                     {"momentum", 0.9},
                     {"width", int64_t{40}},
                     {"schedule", std::string("constant")},
                     {"other", std::string("kept")}};
  std::set<double> lrs;
  for (uint64_t s = 0; s < 50; ++s) {
    const Params p = pbt.explore(start, s);
    const double lr = std::get<double>(p.at("lr"));
    lrs.insert(lr);
    EXPECT_TRUE(lr == 0.25 || lr == 1.0) << lr;  // 0.5 x 3 = 1.5 is clipped to the high end
    const double m = std::get<double>(p.at("momentum"));
    EXPECT_TRUE(std::abs(m - 0.45) < 1e-12 || m == 0.99) << m;
    const int64_t w = std::get<int64_t>(p.at("width"));
    EXPECT_TRUE(w == 20 || w == 64) << w;
    // A choice moves to a neighbour: from the first, only the second.
    EXPECT_EQ(std::get<std::string>(p.at("schedule")), "step");
    EXPECT_EQ(std::get<std::string>(p.at("other")), "kept");
  }
  EXPECT_EQ(lrs.size(), 2u) << "both factors are drawn";

  const Pbt resampling = make({.population = 4, .interval = 10, .resample = 1});
  std::set<double> drawn;
  for (uint64_t s = 0; s < 20; ++s) {
    const double lr = std::get<double>(resampling.explore({{"lr", 0.5}}, s).at("lr"));
    EXPECT_GE(lr, 1e-4);
    EXPECT_LE(lr, 1.0);
    drawn.insert(lr);
  }
  EXPECT_GT(drawn.size(), 15u);
}

TEST(Pbt, RefusesOptionsNamingThem) {
  auto error = [](PbtOptions o) {
    try {
      make(std::move(o));
    } catch (const InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_THAT(error({.population = 1}), HasSubstr("population must be >= 2, got 1"));
  EXPECT_THAT(error({.interval = 0}), HasSubstr("interval must be >= 1"));
  EXPECT_THAT(error({.quantile = 0.75}), HasSubstr("quantile must be in (0, 0.5], got 0.75"));
  EXPECT_THAT(error({.quantile = 0}), HasSubstr("quantile"));
  EXPECT_THAT(error({.factors = {}}), HasSubstr("factors"));
  EXPECT_THAT(error({.factors = {1.2, -1}}), HasSubstr("-1 is not > 0"));
  EXPECT_THAT(error({.resample = 1.5}), HasSubstr("resample must be in [0, 1]"));
  EXPECT_THAT(error({.evolve = {"dropout"}}),
              HasSubstr("'dropout' is not a dimension of the search space (it has: lr, momentum"));
  EXPECT_THAT(error({.evolve = {"batch"}}), HasSubstr("'batch' is a grid dimension"));
  EXPECT_THAT(error({.evolve = {}}), HasSubstr("evolve"));
  EXPECT_THAT(make({.population = 4, .interval = 50}).describe(),
              HasSubstr("pbt(population=4, interval=50, quantile=0.25, factors=0.8/1.2"));
}

TEST(Pbt, DecidesAtMultiplesOfTheIntervalButNotTheLastReport) {
  const Pbt pbt = make({.population = 4, .interval = 100});
  Report r(200, 0.5);
  EXPECT_TRUE(pbt.decides_at(r));
  r.last = true;
  EXPECT_FALSE(pbt.decides_at(r));
  EXPECT_FALSE(pbt.decides_at(Report(150, 0.5)));
  EXPECT_FALSE(pbt.decides_at(Report(0, 0.5)));
}

}  // namespace
}  // namespace krill::hpo
