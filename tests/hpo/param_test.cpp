#include "hpo/param.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>
#include <charconv>
#include <cmath>
#include <limits>

#include "core/rng.hpp"
#include "hpo_test_util.hpp"

namespace krill::hpo {
namespace {

using testing::error_of;
using ::testing::HasSubstr;

TEST(Param, DoublesPrintInTheirShortestForm) {
  EXPECT_EQ(to_string(ParamValue{0.01}), "0.01");
  EXPECT_EQ(to_string(ParamValue{0.0001}), "0.0001");  // not the shorter "1e-04"
  EXPECT_EQ(to_string(ParamValue{0.1 + 0.2}), "0.30000000000000004");
  EXPECT_EQ(to_string(ParamValue{-2.5}), "-2.5");
  EXPECT_EQ(to_string(ParamValue{0.0}), "0");
  EXPECT_EQ(to_string(ParamValue{1.0}), "1");
  EXPECT_EQ(to_string(ParamValue{1e6}), "1000000");
  EXPECT_EQ(to_string(ParamValue{1e-7}), "1e-07");
  EXPECT_EQ(to_string(ParamValue{3e20}), "3e+20");
}

TEST(Param, DoublesRoundTrip) {
  // Doubles from every magnitude (random bit patterns, skipping NaN and infinity) read back equal.
  Rng rng(7);
  int checked = 0;
  while (checked < 20000) {
    const double x = std::bit_cast<double>(rng.next_u64());
    if (!std::isfinite(x)) continue;
    const std::string text = to_string(ParamValue{x});
    double back = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), back);
    ASSERT_EQ(ec, std::errc()) << text;
    ASSERT_EQ(end, text.data() + text.size()) << text;
    ASSERT_EQ(back, x) << text;
    ++checked;
  }
}

TEST(Param, IntegersAndStrings) {
  EXPECT_EQ(to_string(ParamValue{int64_t{64}}), "64");
  EXPECT_EQ(to_string(ParamValue{int64_t{-3}}), "-3");
  EXPECT_EQ(to_string(ParamValue{std::numeric_limits<int64_t>::min()}), "-9223372036854775808");
  EXPECT_EQ(to_string(ParamValue{std::string("relu")}), "relu");  // unquoted
}

TEST(Param, ParamsPrintInNameOrder) {
  Params p;
  p["c"] = std::string("relu");
  p["a"] = int64_t{1};
  p["b"] = 0.01;
  EXPECT_EQ(to_string(p), "a=1 b=0.01 c=relu");
  EXPECT_EQ(to_string(Params{}), "");
}

TEST(Param, AsDouble) {
  EXPECT_EQ(as_double(ParamValue{0.25}, "lr"), 0.25);
  EXPECT_EQ(as_double(ParamValue{int64_t{64}}, "width"), 64.0);
  const std::string msg = error_of([] { as_double(ParamValue{std::string("relu")}, "act"); });
  EXPECT_THAT(msg, HasSubstr("'act'"));
  EXPECT_THAT(msg, HasSubstr("string"));
}

}  // namespace
}  // namespace krill::hpo
