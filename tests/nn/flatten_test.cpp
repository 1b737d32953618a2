// Flatten: values pass through; the shape a model builder sees changes from [C, H, W] to C*H*W.
// Also a small convolutional network, checked end to end against finite differences.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "grad_check.hpp"
#include "nn/activations.hpp"
#include "nn/conv2d.hpp"
#include "nn/dense.hpp"
#include "nn/flatten.hpp"
#include "nn/pool2d.hpp"
#include "nn/sequential.hpp"

namespace krill::nn {
namespace {

using testing::expect_gradients_match;
using testing::random_tensor;

TEST(Flatten, PassesValuesThroughAndReportsItsShape) {
  Flatten flatten({64, 4, 4});
  EXPECT_EQ(flatten.features(), 1024);
  EXPECT_EQ(flatten.output_shape(), (ImageShape{1024, 1, 1}));
  EXPECT_EQ(flatten.describe(), "Flatten([64, 4, 4] -> 1024)");
  Tensor x = random_tensor({2, 1024}, 1);
  const Tensor& y = flatten.forward(x, Mode::Train);
  EXPECT_EQ(&y, &x);
  Tensor dy = random_tensor({2, 1024}, 2);
  EXPECT_EQ(&flatten.backward(dy), &dy);
  flatten.set_needs_input_grad(false);
  EXPECT_TRUE(flatten.backward(dy).empty());
}

TEST(Flatten, RejectsBadShapes) {
  EXPECT_THROW(Flatten({0, 4, 4}), InvalidArgument);
  Flatten flatten({2, 3, 3});
  Tensor wrong({2, 17});
  EXPECT_THROW(flatten.forward(wrong, Mode::Eval), ShapeError);
}

TEST(ConvNet, ShapesChainAndGradientsCheckThroughTheStack) {
  // A LeNet in miniature, each layer's input shape taken from the previous one's output shape.
  // Tanh rather than ReLU: no kink for a finite difference to straddle.
  Conv2d conv({1, 8, 7}, 3, 3, {.padding = 1});
  MaxPool2d pool(conv.output_shape(), 2);
  Conv2d conv2(pool.output_shape(), 2, 2, {.stride = 1});
  AvgPool2d avg(conv2.output_shape(), 2, 1);
  Flatten flatten(avg.output_shape());
  EXPECT_EQ(pool.output_shape(), (ImageShape{3, 4, 3}));
  EXPECT_EQ(avg.output_shape(), (ImageShape{2, 2, 1}));
  Sequential net{std::move(conv), Tanh(),         std::move(pool),    std::move(conv2),
                 Sigmoid(),       std::move(avg), std::move(flatten), Dense(4, 3)};
  net.set_needs_input_grad(true);
  Rng rng(5);
  net.reset(rng);
  expect_gradients_match(net, random_tensor({2, 56}, 6), 2e-3, 1e-3f);
}

}  // namespace
}  // namespace krill::nn
