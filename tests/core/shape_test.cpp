#include "core/shape.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace krill {
namespace {

TEST(Shape, NumelIsTheProductOfTheDimensions) {
  EXPECT_EQ(Shape({2, 3}).numel(), 6);
  EXPECT_EQ(Shape({2, 3, 4}).numel(), 24);
  EXPECT_EQ(Shape({7}).numel(), 7);
  EXPECT_EQ(Shape({32, 784}).numel(), 32 * 784);
  EXPECT_EQ(Shape(std::vector<int64_t>{5, 1, 9}).numel(), 45);
}

TEST(Shape, AZeroDimensionMakesNumelZero) {
  EXPECT_EQ(Shape({0}).numel(), 0);
  EXPECT_EQ(Shape({4, 0, 3}).numel(), 0);
}

TEST(Shape, RankAndDimensions) {
  Shape s{2, 3, 4};
  EXPECT_EQ(s.rank(), 3);
  EXPECT_EQ(s[0], 2);
  EXPECT_EQ(s[1], 3);
  EXPECT_EQ(s[2], 4);
  EXPECT_EQ(s.dims(), (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(Shape().rank(), 0);
}

TEST(Shape, ToString) {
  EXPECT_EQ(Shape({2, 3}).to_string(), "[2, 3]");
  EXPECT_EQ(Shape({32, 784}).to_string(), "[32, 784]");
  EXPECT_EQ(Shape({5}).to_string(), "[5]");
  EXPECT_EQ(Shape({1, 0, 7}).to_string(), "[1, 0, 7]");
  EXPECT_EQ(Shape().to_string(), "[]");
}

TEST(Shape, NegativeDimensionThrowsShapeError) {
  EXPECT_THROW(Shape({2, -1}), ShapeError);
  EXPECT_THROW(Shape({-3}), ShapeError);
  EXPECT_THROW(Shape(std::vector<int64_t>{4, 5, -7}), ShapeError);
}

TEST(Shape, NegativeDimensionMessageShowsTheShape) {
  try {
    Shape s{2, -1};
    FAIL() << "expected ShapeError, got " << s.to_string();
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("[2, -1]"), std::string::npos) << e.what();
  }
}

TEST(Shape, ShapeErrorIsAKrillError) {
  EXPECT_THROW(Shape({-1}), Error);
}

TEST(Shape, Equality) {
  EXPECT_EQ(Shape({2, 3}), Shape({2, 3}));
  EXPECT_EQ(Shape(std::vector<int64_t>{2, 3}), Shape({2, 3}));
  EXPECT_FALSE(Shape({2, 3}) == Shape({3, 2}));
  EXPECT_FALSE(Shape({6}) == Shape({2, 3}));  // same numel, different shape
  EXPECT_FALSE(Shape({2, 3}) == Shape({2, 3, 1}));
  EXPECT_EQ(Shape(), Shape());
  EXPECT_NE(Shape(), Shape({1}));
}

}  // namespace
}  // namespace krill
