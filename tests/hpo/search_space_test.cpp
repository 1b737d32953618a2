#include "hpo/search_space.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <set>
#include <vector>

#include "core/rng.hpp"
#include "hpo_test_util.hpp"

namespace krill::hpo {
namespace {

using testing::error_of;
using ::testing::HasSubstr;

const double kBelowOne = std::nextafter(1.0, 0.0);
const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

// The value of a one-dimensional space at u.
ParamValue at(const Dimension& dim, double u) {
  const SearchSpace space{{"x", dim}};
  const std::array<double, 1> point{u};
  return space.from_unit(point).at("x");
}
double float_at(const FloatDim& dim, double u) {
  return std::get<double>(at(dim, u));
}
int64_t int_at(const IntDim& dim, double u) {
  return std::get<int64_t>(at(dim, u));
}

std::string add_error(const std::string& name, const Dimension& dim) {
  return error_of([&] { SearchSpace().add(name, dim); });
}

// --- Validation ---

TEST(SearchSpace, RefusesInvertedBounds) {
  EXPECT_THAT(add_error("lr", FloatDim{0.1, 0.01}),
              HasSubstr("search space: 'lr': low 0.1 > high 0.01"));
  EXPECT_THAT(add_error("width", IntDim{5, 1}), HasSubstr("search space: 'width': low 5 > high 1"));
}

TEST(SearchSpace, RefusesLogRangesThatReachZero) {
  EXPECT_THAT(add_error("lr", FloatDim{0, 0.1, true}),
              HasSubstr("'lr': a log range needs low > 0, got 0"));
  EXPECT_THAT(add_error("lr", FloatDim{-1, 0.1, true}),
              HasSubstr("'lr': a log range needs low > 0, got -1"));
  EXPECT_THAT(add_error("width", IntDim{0, 8, true}),
              HasSubstr("'width': a log range needs low > 0, got 0"));
  // The same ranges are fine without log.
  EXPECT_NO_THROW(SearchSpace().add("lr", FloatDim{0, 0.1}));
  EXPECT_NO_THROW(SearchSpace().add("width", IntDim{0, 8}));
}

TEST(SearchSpace, RefusesBoundsThatAreNotFinite) {
  for (const FloatDim& dim : {FloatDim{kNaN, 1}, FloatDim{0, kNaN}, FloatDim{0, kInf},
                              FloatDim{-kInf, 0}, FloatDim{kNaN, kNaN, true}}) {
    EXPECT_THAT(add_error("lr", dim), HasSubstr("'lr': bounds must be finite"));
  }
}

TEST(SearchSpace, RefusesEmptyAndNaNValueLists) {
  EXPECT_THAT(add_error("act", CategoricalDim{}),
              HasSubstr("search space: 'act': empty choice list"));
  EXPECT_THAT(add_error("batch", GridDim{}), HasSubstr("search space: 'batch': empty grid list"));
  EXPECT_THAT(add_error("p", CategoricalDim{{0.5, kNaN}}), HasSubstr("'p': a choice value is NaN"));
  EXPECT_THAT(add_error("p", GridDim{{kNaN}}), HasSubstr("'p': a grid value is NaN"));
}

TEST(SearchSpace, RefusesDuplicateGridValues) {
  // The grid promises each point once; an integer 64 and a float 64 are different values.
  EXPECT_THAT(add_error("batch", GridDim{{int64_t{32}, int64_t{64}, int64_t{64}}}),
              HasSubstr("'batch': duplicate grid value 64"));
  EXPECT_NO_THROW(SearchSpace().add("batch", GridDim{{int64_t{64}, 64.0}}));
  // A categorical may repeat a choice to weight it.
  EXPECT_NO_THROW(SearchSpace().add("act", CategoricalDim{{"relu", "relu", "tanh"}}));
}

TEST(SearchSpace, RefusesDuplicateAndEmptyNames) {
  EXPECT_THAT(error_of([] {
                SearchSpace{{"width", IntDim{1, 3}}, {"width", GridDim{{int64_t{1}}}}};
              }),
              HasSubstr("search space: 'width': duplicate name"));
  SearchSpace space{{"width", IntDim{1, 3}}};
  EXPECT_THAT(error_of([&] { space.add("width", FloatDim{}); }),
              HasSubstr("'width': duplicate name"));
  EXPECT_EQ(space.size(), 1u);  // a refused dimension is not added
  EXPECT_THAT(add_error("", FloatDim{}), HasSubstr("a dimension needs a name"));
}

TEST(SearchSpace, AcceptsSingleValueRangesAndKeepsOrder) {
  SearchSpace space;
  space.add("z", FloatDim{0.5, 0.5}).add("a", IntDim{7, 7, true}).add("m", FloatDim{1, 1, true});
  ASSERT_EQ(space.size(), 3u);
  EXPECT_EQ(space.dimensions()[0].first, "z");
  EXPECT_EQ(space.dimensions()[1].first, "a");
  EXPECT_EQ(space.dimensions()[2].first, "m");
  const std::array<double, 3> u{0.3, 0.6, 0.9};
  const Params p = space.from_unit(u);
  EXPECT_EQ(std::get<double>(p.at("z")), 0.5);
  EXPECT_EQ(std::get<int64_t>(p.at("a")), 7);
  EXPECT_EQ(std::get<double>(p.at("m")), 1.0);
}

// --- from_unit ---

TEST(SearchSpace, FromUnitChecksItsInput) {
  const SearchSpace space{{"lr", FloatDim{0, 1}}, {"width", IntDim{1, 3}}};
  const std::array<double, 1> short_u{0.5};
  EXPECT_THAT(error_of([&] { space.from_unit(short_u); }),
              HasSubstr("1 unit coordinates for 2 dimensions"));
  for (double bad : {-0.1, 1.5, kNaN}) {
    const std::array<double, 2> u{0.5, bad};
    EXPECT_THAT(error_of([&] { space.from_unit(u); }), HasSubstr("'width': unit coordinate"));
  }
  EXPECT_TRUE(SearchSpace().from_unit({}).empty());
}

TEST(SearchSpace, UniformFloat) {
  const FloatDim dim{-2, 6};
  EXPECT_EQ(float_at(dim, 0.0), -2.0);
  EXPECT_EQ(float_at(dim, 0.5), 2.0);
  EXPECT_EQ(float_at(dim, 0.25), 0.0);
  EXPECT_LT(float_at(dim, kBelowOne), 6.0);
  EXPECT_NEAR(float_at(dim, kBelowOne), 6.0, 1e-14);
  EXPECT_EQ(float_at(dim, 1.0), 6.0);
  // Wider than the largest double: no overflow to infinity.
  const double big = std::numeric_limits<double>::max();
  EXPECT_EQ(float_at(FloatDim{-big, big}, 0.5), 0.0);
  EXPECT_EQ(float_at(FloatDim{-big, big}, 0.0), -big);
}

TEST(SearchSpace, LogUniformFloat) {
  const FloatDim dim{1e-4, 1e-1, true};
  EXPECT_EQ(float_at(dim, 0.0), 1e-4);
  EXPECT_NEAR(float_at(dim, 0.5), std::sqrt(1e-4 * 1e-1), 1e-15);  // the geometric mean
  EXPECT_NEAR(float_at(dim, 1.0 / 3), 1e-3, 1e-16);                // a decade per third
  EXPECT_LE(float_at(dim, kBelowOne), 1e-1);
  EXPECT_NEAR(float_at(dim, kBelowOne), 1e-1, 1e-14);
  EXPECT_EQ(float_at(dim, 1.0), 1e-1);
  Rng rng(5);
  for (int i = 0; i < 10000; ++i) {
    const double x = float_at(dim, rng.uniform());
    ASSERT_GE(x, 1e-4);
    ASSERT_LE(x, 1e-1);
  }
}

TEST(SearchSpace, UniformInt) {
  const IntDim dim{1, 6};
  EXPECT_EQ(int_at(dim, 0.0), 1);
  EXPECT_EQ(int_at(dim, 0.5), 4);  // floor(1 + 0.5 * 6)
  EXPECT_EQ(int_at(dim, 1.0 / 6 - 1e-12), 1);
  EXPECT_EQ(int_at(dim, 1.0 / 6 + 1e-12), 2);
  EXPECT_EQ(int_at(dim, kBelowOne), 6);
  EXPECT_EQ(int_at(dim, 1.0), 6);
  EXPECT_EQ(int_at(IntDim{-3, 3}, 0.5), 0);
  EXPECT_EQ(int_at(IntDim{5, 5}, 0.7), 5);
}

TEST(SearchSpace, UniformIntOverTheWholeInt64Range) {
  const IntDim dim{std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()};
  EXPECT_EQ(int_at(dim, 0.0), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(int_at(dim, 0.5), 0);
  EXPECT_EQ(int_at(dim, 1.0), std::numeric_limits<int64_t>::max());
  EXPECT_GT(int_at(dim, kBelowOne), std::numeric_limits<int64_t>::max() - 4096);
}

TEST(SearchSpace, UniformIntIsUniform) {
  // Chi-square over 100k draws of a die: 5 degrees of freedom, where 30 has p ~ 1e-5.
  const SearchSpace space{{"die", IntDim{1, 6}}};
  constexpr int kDraws = 100000;
  std::array<int, 6> counts{};
  Rng rng(123);
  for (int i = 0; i < kDraws; ++i) {
    const std::array<double, 1> u{rng.uniform()};
    const int64_t k = std::get<int64_t>(space.from_unit(u).at("die"));
    ASSERT_GE(k, 1);
    ASSERT_LE(k, 6);
    ++counts[static_cast<size_t>(k - 1)];
  }
  double chi2 = 0;
  for (int c : counts) chi2 += (c - kDraws / 6.0) * (c - kDraws / 6.0) / (kDraws / 6.0);
  EXPECT_LT(chi2, 30.0);
}

// Log-int [low, high] is floor(x) with x log-uniform on [low, high + 1): integer k owns the
// u-interval [log(k / low), log((k + 1) / low)) / log((high + 1) / low).
TEST(SearchSpace, LogIntFollowsItsDefinitionAtTheBoundaries) {
  const IntDim dim{1, 8, true};
  const double total = std::log(9.0);
  EXPECT_EQ(int_at(dim, 0.0), 1);
  EXPECT_EQ(int_at(dim, kBelowOne), 8);
  EXPECT_EQ(int_at(dim, 1.0), 8);
  for (int64_t k = 1; k <= 8; ++k) {
    const double start = std::log(static_cast<double>(k)) / total;
    const double end = std::log(static_cast<double>(k + 1)) / total;
    EXPECT_EQ(int_at(dim, start + 1e-9), k) << "just after the start of " << k;
    EXPECT_EQ(int_at(dim, end - 1e-9), k) << "just before the end of " << k;
  }
  // u = 0.5 is x = sqrt(1 * 9) = 3.
  EXPECT_EQ(int_at(dim, 0.5 + 1e-9), 3);
  EXPECT_EQ(int_at(IntDim{10, 1000, true}, 0.0), 10);
  EXPECT_EQ(int_at(IntDim{10, 1000, true}, kBelowOne), 1000);
}

TEST(SearchSpace, LogIntDistribution) {
  // P(k) = log((k + 1) / k) / log(9) for int [1, 8]: chi-square with 7 degrees of freedom over
  // 200k draws, where 35 has p ~ 1e-5.
  const SearchSpace space{{"k", IntDim{1, 8, true}}};
  constexpr int kDraws = 200000;
  std::array<int, 8> counts{};
  Rng rng(99);
  for (int i = 0; i < kDraws; ++i) {
    const std::array<double, 1> u{rng.uniform()};
    ++counts[static_cast<size_t>(std::get<int64_t>(space.from_unit(u).at("k")) - 1)];
  }
  double chi2 = 0;
  for (int k = 1; k <= 8; ++k) {
    const double expected = kDraws * std::log((k + 1.0) / k) / std::log(9.0);
    const double diff = counts[static_cast<size_t>(k - 1)] - expected;
    chi2 += diff * diff / expected;
  }
  EXPECT_LT(chi2, 35.0);
  EXPECT_GT(counts[0], 2 * counts[7]);  // 1 is far more likely than 8 (0.32 vs 0.054)
}

TEST(SearchSpace, ToUnitIsTheInverseOfFromUnit) {
  const SearchSpace space{{"lr", FloatDim{1e-4, 1e-1, true}},
                          {"momentum", FloatDim{0, 0.9}},
                          {"width", IntDim{1, 6}},
                          {"batch", IntDim{16, 1024, true}},
                          {"neg", IntDim{-5, 5}},
                          {"act", CategoricalDim{{"relu", "tanh", "sigmoid"}}},
                          {"hidden", GridDim{{int64_t{32}, int64_t{64}}}},
                          {"one", FloatDim{3, 3}}};
  // Parameters -> u -> the same parameters, for many points (floats to 1e-12, the rest exactly).
  for (int i = 0; i <= 1000; ++i) {
    std::vector<double> u(space.size());
    for (size_t d = 0; d < u.size(); ++d) u[d] = std::fmod(0.618034 * (i + 1) * (d + 1), 1.0);
    if (i == 1000) std::fill(u.begin(), u.end(), 1.0);  // the top ends
    if (i == 0) std::fill(u.begin(), u.end(), 0.0);     // the bottom ends
    const Params p = space.from_unit(u);
    const std::vector<double> back = space.to_unit(p);
    ASSERT_EQ(back.size(), space.size());
    for (double x : back) EXPECT_TRUE(x >= 0 && x <= 1) << x;
    const Params again = space.from_unit(back);
    for (const auto& [name, v] : p) {
      if (const auto* x = std::get_if<double>(&v)) {
        EXPECT_NEAR(std::get<double>(again.at(name)), *x, 1e-12 * std::abs(*x)) << name;
      } else {
        EXPECT_EQ(again.at(name), v) << name << " at point " << i;
      }
    }
  }
}

TEST(SearchSpace, ToUnitValuesByHand) {
  const SearchSpace space{{"f", FloatDim{0, 10}},
                          {"l", FloatDim{1, 100, true}},
                          {"i", IntDim{0, 3}},
                          {"k", IntDim{1, 3, true}},
                          {"c", CategoricalDim{{"a", "b"}}}};
  const std::vector<double> u =
      space.to_unit({{"f", 2.5}, {"l", 10.0}, {"i", int64_t{1}}, {"k", int64_t{1}}, {"c", "b"}});
  EXPECT_DOUBLE_EQ(u[0], 0.25);
  EXPECT_DOUBLE_EQ(u[1], 0.5);      // log 10 is halfway from log 1 to log 100
  EXPECT_DOUBLE_EQ(u[2], 1.5 / 4);  // the middle of [1/4, 2/4)
  EXPECT_DOUBLE_EQ(u[3], 0.5 * std::log(2.0) / std::log(4.0));  // [log 1, log 2) of [0, log 4)
  EXPECT_DOUBLE_EQ(u[4], 0.75);
  // An integer for a float and an integral float for an integer are accepted; extra names ignored.
  EXPECT_EQ(space.to_unit({{"f", int64_t{5}},
                           {"l", 1.0},
                           {"i", 2.0},
                           {"k", int64_t{3}},
                           {"c", "a"},
                           {"other", "x"}})[0],
            0.5);
}

TEST(SearchSpace, ToUnitRefusesValuesTheSpaceCannotHold) {
  const SearchSpace space{{"f", FloatDim{0, 1}}, {"i", IntDim{0, 3}}, {"c", CategoricalDim{{"a"}}}};
  const Params ok{{"f", 0.5}, {"i", int64_t{1}}, {"c", "a"}};
  auto with = [&](const std::string& name, ParamValue v) {
    Params p = ok;
    p[name] = std::move(v);
    return error_of([&] { space.to_unit(p); });
  };
  EXPECT_THAT(with("f", 1.5), HasSubstr("'f': 1.5 is outside [0, 1]"));
  EXPECT_THAT(with("f", "x"), HasSubstr("'f'"));
  EXPECT_THAT(with("i", int64_t{4}), HasSubstr("'i': 4 is outside [0, 3]"));
  EXPECT_THAT(with("i", 1.5), HasSubstr("'i'"));
  EXPECT_THAT(with("c", "b"), HasSubstr("'c': b is not one of its values"));
  Params missing = ok;
  missing.erase("i");
  EXPECT_THAT(error_of([&] { space.to_unit(missing); }), HasSubstr("'i': no value"));
}

TEST(SearchSpace, CategoricalAndGridPickByEqualIntervals) {
  const std::vector<ParamValue> values{int64_t{32}, 0.5, std::string("relu")};
  for (const Dimension& dim : {Dimension{CategoricalDim{values}}, Dimension{GridDim{values}}}) {
    EXPECT_EQ(at(dim, 0.0), values[0]);
    EXPECT_EQ(at(dim, 1.0 / 3 - 1e-12), values[0]);
    EXPECT_EQ(at(dim, 0.5), values[1]);
    EXPECT_EQ(at(dim, 2.0 / 3 + 1e-12), values[2]);
    EXPECT_EQ(at(dim, kBelowOne), values[2]);
    EXPECT_EQ(at(dim, 1.0), values[2]);
  }
}

// --- The grid ---

TEST(SearchSpace, GridWithoutGridDimensionsIsOnePoint) {
  const SearchSpace space{{"lr", FloatDim{0, 1}}};
  EXPECT_EQ(space.grid_size(), 1);
  EXPECT_TRUE(space.grid_point(0).empty());
  EXPECT_EQ(SearchSpace().grid_size(), 1);
}

TEST(SearchSpace, GridEnumeratesInMixedRadixLastDimensionFastest) {
  const SearchSpace space{{"a", GridDim{{int64_t{1}, int64_t{2}}}},
                          {"lr", FloatDim{0, 1}},
                          {"b", GridDim{{"p", "q", "r"}}}};
  ASSERT_EQ(space.grid_size(), 6);
  const std::vector<std::pair<int64_t, std::string>> expected = {{1, "p"}, {1, "q"}, {1, "r"},
                                                                 {2, "p"}, {2, "q"}, {2, "r"}};
  for (int64_t i = 0; i < 6; ++i) {
    const Params p = space.grid_point(i);
    ASSERT_EQ(p.size(), 2u) << "only the grid dimensions";
    EXPECT_EQ(std::get<int64_t>(p.at("a")), expected[static_cast<size_t>(i)].first);
    EXPECT_EQ(std::get<std::string>(p.at("b")), expected[static_cast<size_t>(i)].second);
  }
  EXPECT_THAT(error_of([&] { space.grid_point(6); }), HasSubstr("grid point 6 is outside [0, 6)"));
  EXPECT_THROW(space.grid_point(-1), InvalidArgument);
}

TEST(SearchSpace, GridSizeRefusesToOverflow) {
  SearchSpace space;
  for (int i = 0; i < 62; ++i) {
    std::string name = "g";  // appended: `"g" + to_string(i)` trips GCC 12's false -Wrestrict
    name += std::to_string(i);
    space.add(name, GridDim{{int64_t{0}, int64_t{1}}});
  }
  EXPECT_EQ(space.grid_size(), int64_t{1} << 62);
  EXPECT_EQ(space.grid_point((int64_t{1} << 62) - 1).at("g0"), ParamValue{int64_t{1}});
  space.add("g62", GridDim{{int64_t{0}, int64_t{1}}});  // 2^63 points: one more than int64 holds
  EXPECT_THAT(error_of([&] { space.grid_size(); }), HasSubstr("'g62'"));
  EXPECT_THROW(space.grid_point(0), InvalidArgument);
}

// --- Texts ---

SearchSpace example_space() {
  return SearchSpace{{"lr", FloatDim{1e-4, 1e-1, true}},
                     {"momentum", FloatDim{0, 0.9}},
                     {"width", IntDim{1, 3}},
                     {"batch", IntDim{16, 1024, true}},
                     {"act", CategoricalDim{{"relu", "tanh"}}},
                     {"hidden", GridDim{{int64_t{32}, int64_t{64}, 0.5}}}};
}

TEST(SearchSpace, Describe) {
  EXPECT_EQ(SearchSpace::describe(FloatDim{1e-4, 0.1, true}), "log-uniform [0.0001, 0.1]");
  EXPECT_EQ(SearchSpace::describe(FloatDim{0, 0.9}), "uniform [0, 0.9]");
  EXPECT_EQ(SearchSpace::describe(IntDim{1, 3}), "int [1, 3]");
  EXPECT_EQ(SearchSpace::describe(IntDim{16, 1024, true}), "log-int [16, 1024]");
  EXPECT_EQ(SearchSpace::describe(CategoricalDim{{int64_t{32}, int64_t{64}, int64_t{128}}}),
            "choice {32, 64, 128}");
  EXPECT_EQ(SearchSpace::describe(CategoricalDim{{"relu", "tanh"}}), "choice {relu, tanh}");
  EXPECT_EQ(SearchSpace::describe(GridDim{{int64_t{50}, int64_t{100}}}), "grid {50, 100}");
}

TEST(SearchSpace, FingerprintText) {
  // Stored with every study: a change of this text refuses to resume studies made before it.
  EXPECT_EQ(example_space().fingerprint(),
            "lr: float log [0.0001, 0.1]\n"
            "momentum: float linear [0, 0.9]\n"
            "width: int linear [1, 3]\n"
            "batch: int log [16, 1024]\n"
            "act: categorical {string \"relu\", string \"tanh\"}\n"
            "hidden: grid {int 32, int 64, float 0.5}");
  EXPECT_EQ(SearchSpace().fingerprint(), "");
  EXPECT_EQ(SearchSpace({{"my lr", FloatDim{}}, {"a\"b", CategoricalDim{{"x\ny"}}}}).fingerprint(),
            "\"my lr\": float linear [0, 1]\n\"a\\\"b\": categorical {string \"x\\ny\"}");
}

TEST(SearchSpace, FingerprintsAreEqualForEqualSpaces) {
  EXPECT_EQ(example_space().fingerprint(), example_space().fingerprint());
  const SearchSpace example = example_space();
  SearchSpace built;
  for (const auto& [name, dim] : example.dimensions()) built.add(name, dim);
  EXPECT_EQ(built.fingerprint(), example_space().fingerprint());
}

TEST(SearchSpace, FingerprintsDifferForAnyChange) {
  // Each variant changes one thing of example_space(); all fingerprints must differ.
  using Change = void (*)(std::vector<std::pair<std::string, Dimension>>&);
  const std::vector<std::pair<std::string, Change>> changes = {
      {"float low", [](auto& d) { std::get<FloatDim>(d[0].second).low = 2e-4; }},
      {"float low by one ulp",
       [](auto& d) { std::get<FloatDim>(d[0].second).low = std::nextafter(1e-4, 1.0); }},
      {"float high", [](auto& d) { std::get<FloatDim>(d[1].second).high = 0.99; }},
      {"float log flag", [](auto& d) { std::get<FloatDim>(d[0].second).log = false; }},
      {"int low", [](auto& d) { std::get<IntDim>(d[2].second).low = 2; }},
      {"int high", [](auto& d) { std::get<IntDim>(d[2].second).high = 4; }},
      {"int log flag", [](auto& d) { std::get<IntDim>(d[3].second).log = false; }},
      {"choice value", [](auto& d) { std::get<CategoricalDim>(d[4].second).choices[1] = "gelu"; }},
      {"choice order",
       [](auto& d) {
         auto& c = std::get<CategoricalDim>(d[4].second).choices;
         std::swap(c[0], c[1]);
       }},
      {"choice added",
       [](auto& d) { std::get<CategoricalDim>(d[4].second).choices.push_back("gelu"); }},
      {"grid value type", [](auto& d) { std::get<GridDim>(d[5].second).values[0] = 32.0; }},
      {"grid value", [](auto& d) { std::get<GridDim>(d[5].second).values[2] = 0.25; }},
      {"grid becomes categorical",
       [](auto& d) { d[5].second = CategoricalDim{std::get<GridDim>(d[5].second).values}; }},
      {"float becomes int",
       [](auto& d) {
         d[1].second = IntDim{0, 1};
       }},
      {"name", [](auto& d) { d[0].first = "learning_rate"; }},
      {"order", [](auto& d) { std::swap(d[0], d[1]); }},
      {"dimension removed", [](auto& d) { d.pop_back(); }},
      {"dimension added",
       [](auto& d) {
         d.emplace_back("dropout", FloatDim{0, 0.5});
       }},
  };
  std::set<std::string> seen{example_space().fingerprint()};
  for (const auto& [what, change] : changes) {
    auto dims = example_space().dimensions();
    change(dims);
    SearchSpace changed;
    for (const auto& [name, dim] : dims) changed.add(name, dim);
    EXPECT_TRUE(seen.insert(changed.fingerprint()).second) << what << " kept the fingerprint";
  }
}

TEST(SearchSpace, DifferenceIsEmptyForEqualSpaces) {
  EXPECT_EQ(SearchSpace::difference(example_space(), example_space()), "");
  EXPECT_EQ(SearchSpace::difference(SearchSpace(), SearchSpace()), "");
}

TEST(SearchSpace, DifferenceNamesChangedAddedAndRemovedDimensions) {
  const SearchSpace before{{"lr", FloatDim{1e-4, 0.1, true}}, {"width", IntDim{1, 3}}};
  const SearchSpace after{{"lr", FloatDim{1e-3, 0.1, true}}, {"momentum", FloatDim{0, 0.9}}};
  EXPECT_EQ(SearchSpace::difference(before, after),
            "'lr': log-uniform [0.0001, 0.1] -> log-uniform [0.001, 0.1]; 'momentum' added; "
            "'width' removed");
  EXPECT_EQ(SearchSpace::difference(after, before),
            "'lr': log-uniform [0.001, 0.1] -> log-uniform [0.0001, 0.1]; 'width' added; "
            "'momentum' removed");
}

TEST(SearchSpace, DifferenceShowsTypesWhenOnlyTheyChanged) {
  const SearchSpace ints{{"batch", CategoricalDim{{int64_t{32}, int64_t{64}}}}};
  const SearchSpace floats{{"batch", CategoricalDim{{32.0, 64.0}}}};
  EXPECT_EQ(SearchSpace::difference(ints, floats),
            "'batch': categorical {int 32, int 64} -> categorical {float 32, float 64}");
}

TEST(SearchSpace, DifferenceShowsAChangedOrder) {
  const SearchSpace before{
      {"lr", FloatDim{}}, {"width", IntDim{}}, {"act", CategoricalDim{{"relu"}}}};
  const SearchSpace after{
      {"width", IntDim{}}, {"lr", FloatDim{}}, {"act", CategoricalDim{{"relu"}}}};
  EXPECT_EQ(SearchSpace::difference(before, after), "order lr, width, act -> width, lr, act");
}

}  // namespace
}  // namespace krill::hpo
