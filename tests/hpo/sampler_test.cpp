#include "hpo/sampler.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <set>
#include <string>
#include <vector>

#include "core/rng.hpp"
#include "hpo_test_util.hpp"

namespace krill::hpo {
namespace {

using testing::error_of;
using ::testing::HasSubstr;

const std::vector<TrialRecord> kNoHistory;

// One dimension of each kind.
SearchSpace mixed_space() {
  return SearchSpace{{"lr", FloatDim{1e-4, 1e-1, true}},
                     {"momentum", FloatDim{0, 0.9}},
                     {"width", IntDim{1, 6}},
                     {"batch", IntDim{16, 1024, true}},
                     {"act", CategoricalDim{{"relu", "tanh", "sigmoid"}}},
                     {"hidden", GridDim{{int64_t{32}, int64_t{64}}}}};
}

// "x0", "x1"... (appended rather than `"x" + to_string(i)`, which trips GCC 12's false -Wrestrict)
std::string coordinate(size_t i) {
  std::string name = "x";
  name += std::to_string(i);
  return name;
}

// `d` dimensions "x0", "x1"... of FloatDim [0, 1], which from_unit maps to u itself.
SearchSpace unit_cube(size_t d) {
  SearchSpace space;
  for (size_t i = 0; i < d; ++i) space.add(coordinate(i), FloatDim{0, 1});
  return space;
}

std::vector<double> unit_values(const Params& p, size_t d) {
  std::vector<double> u;
  for (size_t i = 0; i < d; ++i) u.push_back(std::get<double>(p.at(coordinate(i))));
  return u;
}

void expect_within(const SearchSpace& space, const Params& p) {
  ASSERT_EQ(p.size(), space.size());
  for (const auto& [name, dim] : space.dimensions()) {
    const ParamValue& v = p.at(name);
    if (const auto* f = std::get_if<FloatDim>(&dim)) {
      EXPECT_GE(std::get<double>(v), f->low) << name;
      EXPECT_LE(std::get<double>(v), f->high) << name;
    } else if (const auto* i = std::get_if<IntDim>(&dim)) {
      EXPECT_GE(std::get<int64_t>(v), i->low) << name;
      EXPECT_LE(std::get<int64_t>(v), i->high) << name;
    } else {
      const auto& values = std::holds_alternative<CategoricalDim>(dim)
                               ? std::get<CategoricalDim>(dim).choices
                               : std::get<GridDim>(dim).values;
      EXPECT_NE(std::find(values.begin(), values.end(), v), values.end()) << name;
    }
  }
}

// --- Random ---

TEST(RandomSampler, IsAFunctionOfSeedAndNumber) {
  const SearchSpace space = mixed_space();
  RandomSampler a(1), b(1);
  for (int64_t n = 0; n < 20; ++n)
    EXPECT_EQ(a.sample(space, n, kNoHistory), b.sample(space, n, kNoHistory));
  // Not of the order of calls or of the history.
  std::vector<TrialRecord> history(3);
  EXPECT_EQ(a.sample(space, 7, history), b.sample(space, 7, kNoHistory));
}

TEST(RandomSampler, DrawsUFromTheTrialsOwnStream) {
  // u_i = Rng(derive(seed, number)).uniform(), one draw per dimension in order.
  const SearchSpace space = unit_cube(3);
  RandomSampler sampler(42);
  Rng rng(Rng::derive(42, 5));
  const std::vector<double> expected{rng.uniform(), rng.uniform(), rng.uniform()};
  EXPECT_EQ(unit_values(*sampler.sample(space, 5, kNoHistory), 3), expected);
}

TEST(RandomSampler, SeedsAndNumbersGiveDifferentPoints) {
  const SearchSpace space = unit_cube(2);
  RandomSampler one(1), two(2);
  std::set<std::vector<double>> seen;
  for (int64_t n = 0; n < 50; ++n) {
    EXPECT_TRUE(seen.insert(unit_values(*one.sample(space, n, kNoHistory), 2)).second);
    EXPECT_TRUE(seen.insert(unit_values(*two.sample(space, n, kNoHistory), 2)).second);
  }
}

TEST(RandomSampler, StaysWithinBounds) {
  const SearchSpace space = mixed_space();
  RandomSampler sampler(3);
  for (int64_t n = 0; n < 2000; ++n) expect_within(space, *sampler.sample(space, n, kNoHistory));
}

TEST(RandomSampler, RefusesNegativeNumbers) {
  RandomSampler sampler(0);
  EXPECT_THAT(error_of([&] { sampler.sample(mixed_space(), -1, kNoHistory); }),
              HasSubstr("trial number -1"));
}

// --- Sobol ---

// Golden values: golden/sobol_reference.py, an independent implementation from Joe and Kuo's
// construction notes and direction numbers; the first two dimensions also match J. Burkardt's
// published i4_sobol test output (people.sc.fsu.edu/~jburkardt, sobol_test_output.txt).
TEST(SobolPoint, FirstDimensionIsVanDerCorputInGrayCodeOrder) {
  const std::vector<double> expected{0, 0.5, 0.75, 0.25, 0.375, 0.875, 0.625, 0.125};
  for (size_t n = 0; n < expected.size(); ++n) {
    EXPECT_EQ(sobol_point(1, static_cast<int64_t>(n)), std::vector<double>{expected[n]}) << n;
  }
}

TEST(SobolPoint, TwoDimensionalGoldenValues) {
  const std::vector<std::vector<double>> expected{
      {0, 0},           {0.5, 0.5},       {0.75, 0.25},     {0.25, 0.75},
      {0.375, 0.375},   {0.875, 0.875},   {0.625, 0.125},   {0.125, 0.625},
      {0.1875, 0.3125}, {0.6875, 0.8125}, {0.9375, 0.0625}, {0.4375, 0.5625}};
  for (size_t n = 0; n < expected.size(); ++n) {
    EXPECT_EQ(sobol_point(2, static_cast<int64_t>(n)), expected[n]) << n;
  }
  EXPECT_EQ(sobol_point(2, 100), (std::vector<double>{0.4140625, 0.2578125}));
}

TEST(SobolPoint, FiveDimensionalGoldenValuesAndFarJumps) {
  // `python3 sobol_reference.py 5 8`; the far points are k / 2^20.
  EXPECT_EQ(sobol_point(5, 2), (std::vector<double>{0.75, 0.25, 0.25, 0.25, 0.75}));
  EXPECT_EQ(sobol_point(5, 4), (std::vector<double>{0.375, 0.375, 0.625, 0.875, 0.375}));
  EXPECT_EQ(sobol_point(5, 7), (std::vector<double>{0.125, 0.625, 0.375, 0.125, 0.125}));
  auto scaled = [](std::vector<double> k) {
    for (double& x : k) x *= 0x1p-20;
    return k;
  };
  EXPECT_EQ(sobol_point(5, 777), scaled({726016, 982016, 171008, 287744, 666624}));
  EXPECT_EQ(sobol_point(5, 1000000), scaled({27761, 327071, 868217, 700707, 659197}));
}

TEST(SobolPoint, EdgeCases) {
  EXPECT_TRUE(sobol_point(0, 5).empty());
  EXPECT_THROW(sobol_point(2, -1), InvalidArgument);
  EXPECT_THAT(error_of([] { sobol_point(100000, 1); }), HasSubstr("at most"));
  // Far along the sequence, every value stays in [0, 1).
  for (int64_t n : {int64_t{1} << 40, (int64_t{1} << 53) - 1, int64_t{1} << 62}) {
    for (double x : sobol_point(3, n)) {
      EXPECT_GE(x, 0.0);
      EXPECT_LT(x, 1.0);
    }
  }
}

// The first 2^m points of the first two dimensions form a (0, m, 2)-net in base 2: every
// 2^a x 2^(m-a) box of the unit square holds exactly one of them. (This needs the origin as point
// 0: Boost's own first 256 vectors, which start at 0.5, leave two 16 x 16 cells wrong.)
TEST(SobolPoint, First256PointsFillA16By16GridOncePerCell) {
  for (int shape : {4, 0, 2, 6, 8}) {  // 2^shape columns x 2^(8 - shape) rows
    std::vector<int> cells(256, 0);
    for (int64_t n = 0; n < 256; ++n) {
      const std::vector<double> p = sobol_point(2, n);
      const int col = static_cast<int>(p[0] * (1 << shape));
      const int row = static_cast<int>(p[1] * (1 << (8 - shape)));
      ++cells[static_cast<size_t>(row * (1 << shape) + col)];
    }
    for (size_t c = 0; c < cells.size(); ++c) {
      ASSERT_EQ(cells[c], 1) << "cell " << c << " of the 2^" << shape << " x 2^" << 8 - shape
                             << " grid";
    }
  }
}

TEST(SobolSampler, ShiftsEveryPointByOneSeededRandomVector) {
  // u = frac(sobol + shift), shift_d = Rng(derive(seed, 0x50B01)).uniform() per dimension.
  const SearchSpace space = unit_cube(3);
  SobolSampler sampler(9);
  Rng rng(Rng::derive(9, 0x50B01));
  const std::vector<double> shift{rng.uniform(), rng.uniform(), rng.uniform()};
  EXPECT_EQ(unit_values(*sampler.sample(space, 0, kNoHistory), 3), shift);  // the origin moved
  for (int64_t n : {1, 2, 13, 1000}) {
    std::vector<double> expected = sobol_point(3, n);
    for (size_t d = 0; d < 3; ++d) {
      expected[d] += shift[d];
      if (expected[d] >= 1) expected[d] -= 1;
    }
    EXPECT_EQ(unit_values(*sampler.sample(space, n, kNoHistory), 3), expected) << n;
  }
}

TEST(SobolSampler, IsDeterministicPerSeedAndDiffersBetweenSeeds) {
  const SearchSpace space = mixed_space();
  SobolSampler a(5), b(5), c(6);
  int same_as_other_seed = 0;
  for (int64_t n = 0; n < 32; ++n) {
    const Params p = *a.sample(space, n, kNoHistory);
    EXPECT_EQ(p, *b.sample(space, n, kNoHistory));
    same_as_other_seed += p == *c.sample(space, n, kNoHistory);
    expect_within(space, p);
  }
  EXPECT_EQ(same_as_other_seed, 0);
}

TEST(SobolSampler, RotatedPointsKeepOnePointPerCellInEachDimension) {
  // A shift modulo 1 of 256 points spaced 1/256 apart leaves one in each 1/256 cell.
  const SearchSpace space = unit_cube(2);
  SobolSampler sampler(11);
  std::array<std::vector<int>, 2> cells{std::vector<int>(256), std::vector<int>(256)};
  for (int64_t n = 0; n < 256; ++n) {
    const std::vector<double> u = unit_values(*sampler.sample(space, n, kNoHistory), 2);
    for (size_t d = 0; d < 2; ++d) ++cells[d][static_cast<size_t>(u[d] * 256)];
  }
  for (const auto& c : cells) EXPECT_EQ(std::count(c.begin(), c.end(), 1), 256);
}

TEST(SobolSampler, EmptySpaceGivesEmptyParams) {
  SobolSampler sampler(1);
  const auto p = sampler.sample(SearchSpace(), 3, kNoHistory);
  ASSERT_TRUE(p.has_value());
  EXPECT_TRUE(p->empty());
}

// --- Grid ---

SearchSpace grid_space() {
  return SearchSpace{{"a", GridDim{{int64_t{1}, int64_t{2}, int64_t{3}}}},
                     {"lr", FloatDim{0, 1}},
                     {"b", GridDim{{"x", "y"}}},
                     {"m", FloatDim{0, 1}}};
}

TEST(GridSampler, EnumeratesTheProductInOrderThenStops) {
  const SearchSpace space = grid_space();
  GridSampler sampler(1);
  const std::vector<std::pair<int64_t, std::string>> expected{{1, "x"}, {1, "y"}, {2, "x"},
                                                              {2, "y"}, {3, "x"}, {3, "y"}};
  std::set<std::pair<int64_t, std::string>> seen;
  for (int64_t n = 0; n < 6; ++n) {
    const auto p = sampler.sample(space, n, kNoHistory);
    ASSERT_TRUE(p.has_value()) << n;
    const std::pair<int64_t, std::string> point{std::get<int64_t>(p->at("a")),
                                                std::get<std::string>(p->at("b"))};
    EXPECT_EQ(point, expected[static_cast<size_t>(n)]);
    EXPECT_TRUE(seen.insert(point).second);
    expect_within(space, *p);
  }
  EXPECT_EQ(seen.size(), 6u);
  EXPECT_FALSE(sampler.sample(space, 6, kNoHistory).has_value());
  EXPECT_FALSE(sampler.sample(space, 1000, kNoHistory).has_value());
  EXPECT_THROW(sampler.sample(space, -1, kNoHistory), InvalidArgument);
}

TEST(GridSampler, OtherDimensionsAreDrawnLikeTheRandomSamplerOnlyForThem) {
  // Point n: lr and m are the first two draws of Rng(derive(seed, n)); grid dimensions draw none.
  const SearchSpace space = grid_space();
  GridSampler sampler(4);
  for (int64_t n : {0, 3, 5}) {
    Rng rng(Rng::derive(4, static_cast<uint64_t>(n)));
    const double lr = rng.uniform();
    const double m = rng.uniform();
    const Params p = *sampler.sample(space, n, kNoHistory);
    EXPECT_EQ(std::get<double>(p.at("lr")), lr);
    EXPECT_EQ(std::get<double>(p.at("m")), m);
  }
  // Another seed changes them but not the grid.
  GridSampler other(5);
  const Params p4 = *sampler.sample(space, 2, kNoHistory), p5 = *other.sample(space, 2, kNoHistory);
  EXPECT_EQ(p4.at("a"), p5.at("a"));
  EXPECT_EQ(p4.at("b"), p5.at("b"));
  EXPECT_NE(p4.at("lr"), p5.at("lr"));
}

TEST(GridSampler, WithoutGridDimensionsRunsOnce) {
  const SearchSpace space{{"lr", FloatDim{0, 1}}};
  GridSampler sampler(0);
  EXPECT_TRUE(sampler.sample(space, 0, kNoHistory).has_value());
  EXPECT_FALSE(sampler.sample(space, 1, kNoHistory).has_value());
}

// --- By name ---

TEST(MakeSampler, ByNameWithTheSeedInTheDescription) {
  EXPECT_EQ(make_sampler("random", 1)->describe(), "random(seed=1)");
  EXPECT_EQ(make_sampler("sobol", 1)->describe(), "sobol(seed=1)");
  EXPECT_EQ(make_sampler("grid", 18446744073709551615ULL)->describe(),
            "grid(seed=18446744073709551615)");
  EXPECT_EQ(RandomSampler().describe(), "random(seed=0)");
}

TEST(MakeSampler, UnknownNamesListTheChoices) {
  const std::string msg = error_of([] { make_sampler("bayes", 1); });
  EXPECT_THAT(msg, HasSubstr("'bayes'"));
  EXPECT_THAT(msg, HasSubstr("random, sobol, grid, tpe or evolution"));
}

// The rest of TPE's description with krill's defaults.
#define K                                                                       \
  "gamma=0.15, weights=improvement, bandwidth=neighbours, min_bandwidth=0.03, " \
  "consider_endpoints=false"

TEST(MakeSampler, TheSamplersThatLearnWithTheirOptions) {
  EXPECT_EQ(make_sampler("tpe", 2)->describe(),
            "tpe(seed=2, startup=10, candidates=24, multivariate=true, prior_weight=1, " K ")");
  EXPECT_EQ(make_sampler("evolution", 2)->describe(), "evolution(seed=2, population=20, sample=5)");
  SamplerConfig c;
  c.name = "tpe";
  c.tpe.startup = 4;
  c.tpe.multivariate = false;
  EXPECT_EQ(c.text(), "tpe(startup=4, candidates=24, multivariate=false, prior_weight=1, " K ")");
  EXPECT_EQ(make_sampler(c, 3)->describe(),
            "tpe(seed=3, startup=4, candidates=24, multivariate=false, prior_weight=1, " K ")");
  c.name = "evolution";
  c.evolution.population = 8;
  c.evolution.sample = 9;
  EXPECT_EQ(c.text(), "evolution(population=8, sample=9)");
  EXPECT_THAT(error_of([&] { make_sampler(c, 3); }), HasSubstr("sample 9"));
  c.name = "sobol";
  EXPECT_EQ(c.text(), "sobol");  // as before the options existed: stored studies still resume
}

// Minimizing and maximizing the same objective with the direction flipped are the same study.
TEST(MakeSampler, TheDirectionReachesTheSamplersThatLearn) {
  const SearchSpace space{{"x", FloatDim{0, 1}}};
  for (const char* name : {"tpe", "evolution"}) {
    SCOPED_TRACE(name);
    SamplerConfig lo, hi;
    lo.name = hi.name = name;
    lo.direction = Direction::Minimize;
    hi.direction = Direction::Maximize;
    const auto a = make_sampler(lo, 1), b = make_sampler(hi, 1);
    std::vector<TrialRecord> ha, hb;
    for (int64_t n = 0; n < 40; ++n) {
      TrialRecord t;
      t.number = n;
      t.params = *a->sample(space, n, ha);
      EXPECT_EQ(t.params, *b->sample(space, n, hb)) << n;
      t.state = TrialState::Completed;
      const double x = std::get<double>(t.params.at("x"));
      t.value = x;
      ha.push_back(t);
      t.value = -x;
      hb.push_back(t);
    }
  }
}

}  // namespace
}  // namespace krill::hpo
