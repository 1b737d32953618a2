// MaxPool2d and AvgPool2d: shapes, hand-computed windows, where the gradient goes, and
// finite-difference checks (the kernels against direct loops are in tests/backend).
#include <gtest/gtest.h>

#include <span>
#include <vector>

#include "core/error.hpp"
#include "grad_check.hpp"
#include "nn/pool2d.hpp"

namespace krill::nn {
namespace {

using testing::expect_gradients_match;
using testing::random_tensor;

std::vector<float> values(const Tensor& t) {
  return {t.values().begin(), t.values().end()};
}

// Distinct values at least 0.1 apart, so that a finite-difference step of 0.01 never changes which
// input is a window's maximum.
Tensor distinct_tensor(Shape shape, uint64_t seed) {
  Tensor t(shape);
  std::vector<int64_t> order(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  Rng rng(seed);
  rng.shuffle(std::span<int64_t>(order));
  for (int64_t i = 0; i < t.numel(); ++i)
    t[i] = 0.1f * static_cast<float>(order[static_cast<size_t>(i)]) - 1.0f;
  return t;
}

TEST(Pool2d, OutputShapesAndStrideDefaultingToTheKernel) {
  MaxPool2d lenet({32, 24, 24}, 2);
  EXPECT_EQ(lenet.output_shape(), (ImageShape{32, 12, 12}));
  EXPECT_EQ(lenet.geometry().stride, 2);
  EXPECT_EQ(lenet.input_shape(), (ImageShape{32, 24, 24}));
  // (5 - 3) / 2 + 1 = 2 rows, (7 - 3) / 2 + 1 = 3 columns
  AvgPool2d overlapping({2, 5, 7}, 3, 2);
  EXPECT_EQ(overlapping.output_shape(), (ImageShape{2, 2, 3}));
  // Sizes the window does not divide: the last row and column are left out.
  EXPECT_EQ(MaxPool2d({1, 5, 5}, 2).output_shape(), (ImageShape{1, 2, 2}));
  Tensor x = random_tensor({3, 2 * 5 * 7}, 1);
  EXPECT_EQ(overlapping.forward(x, Mode::Train).shape(), Shape({3, 12}));
  EXPECT_EQ(overlapping.backward(random_tensor({3, 12}, 2)).shape(), x.shape());
}

TEST(Pool2d, Describe) {
  EXPECT_EQ(MaxPool2d({32, 24, 24}, 2).describe(), "MaxPool2d(2) [32, 24, 24] -> [32, 12, 12]");
  EXPECT_EQ(AvgPool2d({2, 5, 7}, 3, 2).describe(), "AvgPool2d(3, stride 2) [2, 5, 7] -> [2, 2, 3]");
}

TEST(MaxPool2d, HandComputed) {
  // One 4x4 channel, 2x2 windows:
  //   1 5 | 2 0        -> 5 4
  //   3 2 | 4 1           9 8
  //   ----+----
  //   9 0 | 6 8
  //   7 1 | 5 2
  MaxPool2d pool({1, 4, 4}, 2);
  Tensor x =
      Tensor::from({1, 16}, std::vector<float>{1, 5, 2, 0, 3, 2, 4, 1, 9, 0, 6, 8, 7, 1, 5, 2});
  EXPECT_EQ(values(pool.forward(x, Mode::Train)), (std::vector<float>{5, 4, 9, 8}));
  Tensor dy = Tensor::from({1, 4}, std::vector<float>{10, 20, 30, 40});
  EXPECT_EQ(values(pool.backward(dy)),
            (std::vector<float>{0, 10, 0, 0, 0, 0, 20, 0, 30, 0, 0, 40, 0, 0, 0, 0}));
}

TEST(MaxPool2d, OverlappingWindowsAddTheirGradients) {
  // 2x2 windows every pixel over a 3x3 channel whose centre is the maximum: all four windows pick
  // it, so it receives the sum of their gradients.
  MaxPool2d pool({1, 3, 3}, 2, 1);
  Tensor x = Tensor::from({1, 9}, std::vector<float>{1, 2, 3, 4, 9, 5, 6, 7, 8});
  EXPECT_EQ(values(pool.forward(x, Mode::Train)), (std::vector<float>{9, 9, 9, 9}));
  Tensor dy = Tensor::from({1, 4}, std::vector<float>{1, 2, 3, 4});
  EXPECT_EQ(values(pool.backward(dy)), (std::vector<float>{0, 0, 0, 0, 10, 0, 0, 0, 0}));
}

TEST(MaxPool2d, TiesGoToTheFirstMaximum) {
  MaxPool2d pool({1, 2, 2}, 2);
  Tensor x = Tensor::from({1, 4}, std::vector<float>{3, 7, 7, 7});
  pool.forward(x, Mode::Train);
  EXPECT_EQ(values(pool.backward(Tensor::from({1, 1}, std::vector<float>{1}))),
            (std::vector<float>{0, 1, 0, 0}));
}

TEST(AvgPool2d, HandComputed) {
  // Two channels of 2x4, 2x2 windows; the second channel, then the second sample, stay apart.
  AvgPool2d pool({2, 2, 4}, 2);
  Tensor x =
      Tensor::from({2, 16}, std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 0,  0, 4,  4, 0, 4,  4, 4,
                                               2, 2, 2, 2, 2, 2, 2, 2, -1, 1, -1, 1, 1, -1, 1, 3});
  EXPECT_EQ(values(pool.forward(x, Mode::Train)),
            (std::vector<float>{3.5f, 5.5f, 1, 4, 2, 2, 0, 1}));
  Tensor dy = Tensor::from({2, 4}, std::vector<float>{4, 8, 0, 4, 0, 0, -4, 12});
  EXPECT_EQ(values(pool.backward(dy)),
            (std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2, 0,  0,  1, 1, 0,  0,  1, 1,
                                0, 0, 0, 0, 0, 0, 0, 0, -1, -1, 3, 3, -1, -1, 3, 3}));
}

TEST(Pool2d, GradientChecks) {
  struct Case {
    ImageShape input;
    int64_t kernel, stride;
  };
  const Case cases[] = {
      {{2, 4, 6}, 2, 2},  // tiling, non-square
      {{2, 7, 5}, 3, 2},  // overlapping, sizes not divided
      {{1, 6, 5}, 2, 3},  // gaps between windows
  };
  for (const Case& c : cases) {
    MaxPool2d max_pool(c.input, c.kernel, c.stride);
    SCOPED_TRACE(max_pool.describe());
    expect_gradients_match(max_pool, distinct_tensor({3, c.input.numel()}, 5));
    AvgPool2d avg_pool(c.input, c.kernel, c.stride);
    expect_gradients_match(avg_pool, random_tensor({3, c.input.numel()}, 6));
  }
}

TEST(Pool2d, WithoutInputGradientReturnsEmpty) {
  MaxPool2d max_pool({2, 4, 4}, 2);
  AvgPool2d avg_pool({2, 4, 4}, 2);
  Tensor x = random_tensor({2, 32}, 1);
  for (Pool2dLayer* pool : std::initializer_list<Pool2dLayer*>{&max_pool, &avg_pool}) {
    pool->set_needs_input_grad(false);
    pool->forward(x, Mode::Train);
    EXPECT_TRUE(pool->backward(random_tensor({2, 8}, 2)).empty()) << pool->describe();
  }
}

TEST(Pool2d, ReusesItsBuffers) {
  MaxPool2d pool({3, 6, 6}, 2);
  Tensor x = random_tensor({4, 108}, 1);
  Tensor dy = random_tensor({4, 27}, 2);
  const float* out = pool.forward(x, Mode::Train).data();
  const float* in_grad = pool.backward(dy).data();
  for (int step = 0; step < 3; ++step) {
    EXPECT_EQ(pool.forward(x, Mode::Train).data(), out);
    EXPECT_EQ(pool.backward(dy).data(), in_grad);
  }
}

TEST(Pool2d, RejectsBadArgumentsAndShapes) {
  EXPECT_THROW(MaxPool2d({1, 4, 4}, 0), InvalidArgument);
  EXPECT_THROW(AvgPool2d({1, 4, 4}, 2, 0), InvalidArgument);
  EXPECT_THROW(MaxPool2d({1, 0, 4}, 2), InvalidArgument);
  EXPECT_THROW(MaxPool2d({1, 4, 3}, 4), ShapeError);
  MaxPool2d pool({2, 4, 4}, 2);
  Tensor wrong({3, 31});
  EXPECT_THROW(pool.forward(wrong, Mode::Train), ShapeError);
  AvgPool2d fresh({2, 4, 4}, 2);
  EXPECT_THROW(fresh.backward(Tensor({3, 8})), Error);
}

}  // namespace
}  // namespace krill::nn
