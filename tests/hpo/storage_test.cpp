#include "hpo/storage.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "hpo_test_util.hpp"

namespace krill::hpo {
namespace {

using testing::error_of;
using ::testing::HasSubstr;

TEST(Direction, NamesRoundTrip) {
  EXPECT_EQ(to_string(Direction::Minimize), "minimize");
  EXPECT_EQ(to_string(Direction::Maximize), "maximize");
  EXPECT_EQ(parse_direction("minimize"), Direction::Minimize);
  EXPECT_EQ(parse_direction("maximize"), Direction::Maximize);
}

TEST(Direction, UnknownNamesAreRefused) {
  for (const char* bad : {"", "max", "Maximize", "minimise"}) {
    const std::string msg = error_of([&] { parse_direction(bad); });
    std::string quoted = "'";
    quoted += bad;
    EXPECT_THAT(msg, HasSubstr(quoted + "'"));
    EXPECT_THAT(msg, HasSubstr("minimize or maximize"));
  }
}

}  // namespace
}  // namespace krill::hpo
