// SearchSpace::from_fingerprint: a stored space read back is the space that was written (same
// dimensions, bounds, scales and values, so the same fingerprint), and text that is not a
// fingerprint is refused with the line and what was expected.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/error.hpp"
#include "hpo/search_space.hpp"

namespace krill::hpo {
namespace {

using ::testing::HasSubstr;

std::string data_error_of(const std::string& text) {
  try {
    SearchSpace::from_fingerprint(text);
  } catch (const DataError& e) {
    return e.what();
  }
  return "<no DataError thrown>";
}

TEST(SearchSpaceText, ReadsBackEveryKind) {
  const SearchSpace written{{"lr", FloatDim{1e-4, 0.1, true}},
                            {"momentum", FloatDim{0, 0.9}},
                            {"width", IntDim{1, 3}},
                            {"batch", IntDim{16, 1024, true}},
                            {"act", CategoricalDim{{"relu", "tanh"}}},
                            {"hidden", GridDim{{int64_t{32}, int64_t{64}, 0.5}}}};
  const SearchSpace read = SearchSpace::from_fingerprint(written.fingerprint());
  EXPECT_EQ(read.fingerprint(), written.fingerprint());
  ASSERT_EQ(read.size(), 6u);
  const auto& lr = std::get<FloatDim>(read.dimensions()[0].second);
  EXPECT_EQ(read.dimensions()[0].first, "lr");
  EXPECT_EQ(lr.low, 1e-4);
  EXPECT_EQ(lr.high, 0.1);
  EXPECT_TRUE(lr.log);
  const auto& batch = std::get<IntDim>(read.dimensions()[3].second);
  EXPECT_EQ(batch.low, 16);
  EXPECT_EQ(batch.high, 1024);
  EXPECT_TRUE(batch.log);
  EXPECT_FALSE(std::get<IntDim>(read.dimensions()[2].second).log);
  const auto& act = std::get<CategoricalDim>(read.dimensions()[4].second);
  EXPECT_EQ(act.choices, (std::vector<ParamValue>{"relu", "tanh"}));
  const auto& hidden = std::get<GridDim>(read.dimensions()[5].second);
  // The types of values are kept: int 32 is not float 32.
  EXPECT_EQ(hidden.values, (std::vector<ParamValue>{int64_t{32}, int64_t{64}, 0.5}));
}

TEST(SearchSpaceText, ReadsBackOddNamesStringsAndNumbers) {
  const double tiny = std::nextafter(1e-300, 1.0);
  const SearchSpace written{
      {"odd: \"name\"\\x", FloatDim{-2.5, std::nextafter(3.0, 4.0)}},
      {"two\nlines", GridDim{{1.5, 2.5}}},
      {"plain.name-1", IntDim{std::numeric_limits<int64_t>::min() / 2, 7}},
      {"tiny", FloatDim{tiny, 1e300, true}},
      {"words", CategoricalDim{{"a, b", "c}", "\"quoted\"", "back\\slash", "new\nline", ""}}},
      {"mixed", CategoricalDim{{int64_t{1}, 1.0, "1", std::numeric_limits<double>::infinity()}}}};
  const SearchSpace read = SearchSpace::from_fingerprint(written.fingerprint());
  EXPECT_EQ(read.fingerprint(), written.fingerprint());
  ASSERT_EQ(read.size(), 6u);
  EXPECT_EQ(read.dimensions()[0].first, "odd: \"name\"\\x");
  EXPECT_EQ(read.dimensions()[1].first, "two\nlines");
  EXPECT_EQ(std::get<FloatDim>(read.dimensions()[3].second).low, tiny);
  EXPECT_EQ(std::get<CategoricalDim>(read.dimensions()[4].second).choices,
            (std::vector<ParamValue>{"a, b", "c}", "\"quoted\"", "back\\slash", "new\nline", ""}));
}

TEST(SearchSpaceText, EmptyTextIsTheEmptySpace) {
  EXPECT_EQ(SearchSpace::from_fingerprint("").size(), 0u);
}

TEST(SearchSpaceText, RefusesTextThatIsNotAFingerprint) {
  EXPECT_THAT(data_error_of("lr: spline [0, 1]"),
              HasSubstr("search space line 1 'lr: spline [0, 1]': expected a kind"));
  EXPECT_THAT(data_error_of("lr: float linear [0, 1]\nx: float cubic [0, 1]"),
              HasSubstr("line 2 'x: float cubic [0, 1]': expected 'log' or 'linear'"));
  EXPECT_THAT(data_error_of("lr: float linear [0, one]"), HasSubstr("expected a float"));
  EXPECT_THAT(data_error_of("lr: float linear [0, 1] and more"),
              HasSubstr("expected ' if ' or the end of the line"));
  EXPECT_THAT(data_error_of("w: int linear [1.5, 3]"), HasSubstr("expected an integer"));
  EXPECT_THAT(data_error_of("a: categorical {string \"relu\""), HasSubstr("expected ', '"));
  EXPECT_THAT(data_error_of("a: categorical {string \"relu}"), HasSubstr("a closing '\"'"));
  EXPECT_THAT(data_error_of("a: categorical {bool true}"), HasSubstr("'float', 'int' or"));
  EXPECT_THAT(data_error_of("no kind at all"), HasSubstr("expected 'name: kind ...'"));
  // Parsed, but not a valid space: the space's own check, with the line.
  EXPECT_THAT(data_error_of("lr: float log [0, 1]"),
              HasSubstr("line 1 'lr: float log [0, 1]': search space: 'lr': a log range"));
  EXPECT_THAT(data_error_of("a: float linear [0, 1]\na: float linear [0, 1]"),
              HasSubstr("duplicate name"));
}

}  // namespace
}  // namespace krill::hpo
