// Conv2d: shapes, a hand-computed example, PyTorch's values, finite-difference gradients and the
// Module contract (buffers reused, gradients overwritten, input gradient skipped on request).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/error.hpp"
#include "grad_check.hpp"
#include "nn/conv2d.hpp"

namespace krill::nn {
namespace {

using testing::expect_gradients_match;
using testing::random_tensor;

std::vector<float> values(const Tensor& t) {
  return {t.values().begin(), t.values().end()};
}

TEST(Conv2d, OutputShapes) {
  Conv2d lenet1({1, 28, 28}, 32, 5);
  EXPECT_EQ(lenet1.output_shape(), (ImageShape{32, 24, 24}));
  Conv2d lenet2({32, 12, 12}, 64, 5);
  EXPECT_EQ(lenet2.output_shape(), (ImageShape{64, 8, 8}));
  // (7 + 2 - 3) / 2 + 1 = 4 rows, (5 + 2 - 3) / 2 + 1 = 3 columns
  Conv2d strided({3, 7, 5}, 4, 3, {.stride = 2, .padding = 1});
  EXPECT_EQ(strided.output_shape(), (ImageShape{4, 4, 3}));
  EXPECT_EQ(strided.input_shape(), (ImageShape{3, 7, 5}));
  EXPECT_EQ(strided.weight().value.shape(), Shape({4, 27}));
  EXPECT_EQ(strided.bias().value.shape(), Shape({4}));
  EXPECT_EQ(strided.weight().grad.shape(), Shape({4, 27}));
  Tensor x = random_tensor({2, 3 * 7 * 5}, 1);
  EXPECT_EQ(strided.forward(x, Mode::Train).shape(), Shape({2, 4 * 4 * 3}));
  EXPECT_EQ(strided.backward(random_tensor({2, 48}, 2)).shape(), x.shape());
  // "Same" padding keeps the size.
  EXPECT_EQ(Conv2d({2, 9, 6}, 2, 3, {.padding = 1}).output_shape(), (ImageShape{2, 9, 6}));
}

TEST(Conv2d, Describe) {
  EXPECT_EQ(Conv2d({1, 28, 28}, 32, 5).describe(),
            "Conv2d(1 -> 32, 5x5) [1, 28, 28] -> [32, 24, 24]");
  EXPECT_EQ(Conv2d({3, 7, 5}, 4, 3, {.stride = 2, .padding = 1}).describe(),
            "Conv2d(3 -> 4, 3x3, stride 2, padding 1) [3, 7, 5] -> [4, 4, 3]");
}

TEST(Conv2d, HandComputed) {
  // x = [[1, 2, 3], [4, 5, 6], [7, 8, 9]], W = [[1, 2], [3, 4]], b = 0.5
  const std::vector<float> image{1, 2, 3, 4, 5, 6, 7, 8, 9};
  Tensor x = Tensor::from({1, 9}, image);
  Conv2d valid({1, 3, 3}, 1, 2);
  valid.weight().value = Tensor::from({1, 4}, std::vector<float>{1, 2, 3, 4});
  valid.bias().value = Tensor::from({1}, std::vector<float>{0.5f});
  const Tensor& y = valid.forward(x, Mode::Eval);
  ASSERT_EQ(y.shape(), Shape({1, 4}));
  EXPECT_FLOAT_EQ(y[0], 1 + 4 + 12 + 20 + 0.5f);   // 37.5
  EXPECT_FLOAT_EQ(y[1], 2 + 6 + 15 + 24 + 0.5f);   // 47.5
  EXPECT_FLOAT_EQ(y[2], 4 + 10 + 21 + 32 + 0.5f);  // 67.5
  EXPECT_FLOAT_EQ(y[3], 5 + 12 + 24 + 36 + 0.5f);  // 77.5
  // dy = 1 everywhere: dW[u, v] = sum of the inputs under tap (u, v); db = 4;
  // dx[h, w] = sum of the weights that touch (h, w).
  Tensor ones({1, 4});
  ones.fill(1.0f);
  const Tensor& dx = valid.backward(ones);
  EXPECT_EQ(values(valid.weight().grad), (std::vector<float>{12, 16, 24, 28}));
  EXPECT_FLOAT_EQ(valid.bias().grad[0], 4.0f);
  EXPECT_EQ(values(dx), (std::vector<float>{1, 3, 2, 4, 10, 6, 3, 7, 4}));

  // Padding 1, stride 2: windows at rows -1..0 and 1..2, columns the same.
  Conv2d padded({1, 3, 3}, 1, 2, {.stride = 2, .padding = 1});
  padded.weight().value = Tensor::from({1, 4}, std::vector<float>{1, 2, 3, 4});
  padded.bias().value = Tensor::from({1}, std::vector<float>{0.5f});
  const Tensor& yp = padded.forward(x, Mode::Eval);
  ASSERT_EQ(yp.shape(), Shape({1, 4}));
  EXPECT_FLOAT_EQ(yp[0], 1 * 4 + 0.5f);          // only x[0,0] under W[1,1]
  EXPECT_FLOAT_EQ(yp[1], 2 * 3 + 3 * 4 + 0.5f);  // x[0,1], x[0,2] under W[1,*]
  EXPECT_FLOAT_EQ(yp[2], 4 * 2 + 7 * 4 + 0.5f);  // x[1,0], x[2,0] under W[*,1]
  EXPECT_FLOAT_EQ(yp[3], 5 * 1 + 6 * 2 + 8 * 3 + 9 * 4 + 0.5f);
}

// Golden values from tests/nn/golden/conv2d_reference.py (PyTorch 1.13.0a0, Debian's
// python3-torch, float64), pasted verbatim. Inputs, weights and the output gradient are the
// script's formulas, rebuilt here.
struct Golden {
  int64_t batch, channels, height, width, out_channels, kernel, stride, padding;
  std::vector<double> y, dx, dw, db;
};

Golden stride2_pad1() {
  // Stride2Pad1: x [2, 2, 5, 4], 3 channels, kernel 3, stride 2, padding 1 -> y [2, 3, 3, 2]
  const std::vector<double> y = {
      0.59375, -1.0625, -0.71875, -0.375, 0.28125, 0.5,     0.84375, -0.25,  -0.28125,
      1,       -0.5,    0.28125,  -0.875, 1.125,   1.28125, 0.40625, 0.125,  0.0625,
      -0.0625, 0.03125, 0.34375,  0.75,   0.0625,  -0.5,    -0.5625, 0.75,   -1.375,
      -0.125,  -0.4375, -0.8125,  1.1875, 0.0625,  0.28125, 0.40625, -0.375, 1.125};
  const std::vector<double> dx = {
      0.46875,  -0.53125, -0.21875, 0.46875,  0.09375,  1.09375,  -0.53125, -0.40625, -0.25,
      0.1875,   0.375,    -0.1875,  0.15625,  -0.9375,  0.1875,   0.90625,  -0.3125,  0.25,
      -0.34375, -0.1875,  -0.28125, 0.375,    -0.25,    -0.125,   0.3125,   -0.96875, 0.28125,
      0.125,    0.4375,   0.3125,   -0.1875,  -0.1875,  -0.40625, 1.0625,   0.21875,  -0.46875,
      -0.15625, -0.40625, 0.53125,  0.40625,  0.375,    -0.4375,  -0.3125,  0.46875,  0.1875,
      1,        -0.4375,  -0.40625, -0.34375, 0.28125,  0.28125,  -0.1875,  -0.40625, -1.03125,
      0.9375,   0.03125,  0.46875,  -0.53125, -0.21875, 0.46875,  -0.1875,  0.28125,  -0.15625,
      -0.21875, 0.21875,  -0.875,   0.1875,   0.21875,  0.53125,  0.21875,  -0.09375, -0.28125,
      -0.28125, 0.9375,   -0.3125,  -0.375,   -0.28125, 0.375,    -0.25,    -0.125};
  const std::vector<double> dw = {
      0.1875,  1.25,    -2.75,  0.5625,  -3.0625, -1.5625, -0.25,   -0.25,   1.5625,
      -1.1875, -1.1875, 1,      0.0625,  2.75,    0.8125,  1.0625,  -0.1875, -1.125,
      -1.5625, -1.25,   0.5,    -1.3125, 1.8125,  1.4375,  0.625,   0.75,    -1.3125,
      0.8125,  1.0625,  2.125,  0.875,   -0.5,    -0.875,  -1.3125, 0.75,    -1.3125,
      -0.25,   -0.25,   1.5625, 0.3125,  1.4375,  0.0625,  -0.25,   0,       -1.125,
      1.0625,  -0.1875, -1.125, -0.0625, -2,      0.0625,  -1.0625, -0.0625, 1.5625};
  const std::vector<double> db = {0.25, -0.75, 0};
  return {2, 2, 5, 4, 3, 3, 2, 1, y, dx, dw, db};
}

Golden stride1_pad0() {
  // Stride1Pad0: x [1, 2, 4, 3], 2 channels, kernel 2, stride 1, padding 0 -> y [1, 2, 3, 2]
  const std::vector<double> y = {0.59375, 0.0625,   -1.0625, -0.90625, 0.03125,  0.53125,
                                 0.84375, -0.34375, 0.78125, 0.28125,  -0.65625, -0.8125};
  const std::vector<double> dx = {0.40625,  -0.34375, 0.46875, 0.09375, 0.25,     -0.34375,
                                  -0.25,    0.3125,   0.0625,  -0.25,   -0.28125, -0.21875,
                                  -0.21875, -0.28125, -0.25,   0.0625,  0.3125,   -0.25,
                                  -0.34375, 0.25,     0.09375, 0.46875, -0.34375, 0.40625};
  const std::vector<double> dw = {0.9375, 1.0625, 0.4375,  -1.5,   -1.5,   0,       0.0625, -1.1875,
                                  1.0625, 0.9375, -1.1875, 0.0625, 0.0625, -0.0625, -1.5,   0.4375};
  const std::vector<double> db = {0.25, -0.25};
  return {1, 2, 4, 3, 2, 2, 1, 0, y, dx, dw, db};
}

// t[i0, i1, i2, i3] = f(i0, i1, i2, i3), row-major over the four indices.
Tensor from_formula(Shape shape, int64_t d0, int64_t d1, int64_t d2, int64_t d3,
                    double (*f)(int64_t, int64_t, int64_t, int64_t)) {
  Tensor t(shape);
  int64_t at = 0;
  for (int64_t a = 0; a < d0; ++a)
    for (int64_t b = 0; b < d1; ++b)
      for (int64_t c = 0; c < d2; ++c)
        for (int64_t d = 0; d < d3; ++d) t[at++] = static_cast<float>(f(a, b, c, d));
  return t;
}

void expect_values(const Tensor& t, const std::vector<double>& expected, const char* what) {
  ASSERT_EQ(t.numel(), static_cast<int64_t>(expected.size())) << what;
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(t[static_cast<int64_t>(i)], expected[i], 1e-5) << what << "[" << i << "]";
  }
}

TEST(Conv2d, MatchesPyTorch) {
  for (const Golden& gold : {stride2_pad1(), stride1_pad0()}) {
    SCOPED_TRACE("stride " + std::to_string(gold.stride) + " padding " +
                 std::to_string(gold.padding));
    Conv2d conv({gold.channels, gold.height, gold.width}, gold.out_channels, gold.kernel,
                {.stride = gold.stride, .padding = gold.padding});
    const ImageShape out = conv.output_shape();
    Tensor x = from_formula(
        {gold.batch, gold.channels * gold.height * gold.width}, gold.batch, gold.channels,
        gold.height, gold.width, [](int64_t n, int64_t c, int64_t h, int64_t w) {
          return static_cast<double>((7 * n + 5 * c + 3 * h + 2 * w) % 11 - 5) / 4;
        });
    conv.weight().value =
        from_formula(conv.weight().value.shape(), gold.out_channels, gold.channels, gold.kernel,
                     gold.kernel, [](int64_t o, int64_t c, int64_t u, int64_t v) {
                       return static_cast<double>((3 * o + 5 * c + 2 * u + 7 * v) % 9 - 4) / 8;
                     });
    for (int64_t o = 0; o < gold.out_channels; ++o)
      conv.bias().value[o] = static_cast<float>(o - 1) / 4;
    Tensor dy = from_formula({gold.batch, out.numel()}, gold.batch, out.channels, out.height,
                             out.width, [](int64_t n, int64_t o, int64_t i, int64_t j) {
                               return static_cast<double>((n + 2 * o + 3 * i + 5 * j) % 7 - 3) / 4;
                             });
    expect_values(conv.forward(x, Mode::Train), gold.y, "y");
    expect_values(conv.backward(dy), gold.dx, "dx");
    expect_values(conv.weight().grad, gold.dw, "dW");
    expect_values(conv.bias().grad, gold.db, "db");
  }
}

TEST(Conv2d, GradientCheck) {
  struct Case {
    ImageShape input;
    int64_t out_channels, kernel;
    Conv2dOptions options;
  };
  const Case cases[] = {
      {{2, 5, 4}, 3, 3, {}},                           // valid, non-square
      {{2, 6, 5}, 3, 3, {.stride = 2, .padding = 1}},  // strided and padded
      {{1, 5, 7}, 2, 2, {.stride = 2, .padding = 1}},  // even kernel, wide image
      {{3, 4, 4}, 2, 1, {}},                           // 1x1: no im2col
      {{1, 4, 5}, 2, 2, {.stride = 3, .padding = 2}},  // padding wider than the kernel
  };
  for (const Case& c : cases) {
    Conv2d conv(c.input, c.out_channels, c.kernel, c.options);
    SCOPED_TRACE(conv.describe());
    Rng rng(3);
    conv.reset(rng);
    expect_gradients_match(conv, random_tensor({3, c.input.numel()}, 7));
  }
}

TEST(Conv2d, WithoutInputGradientReturnsEmptyAndTheSameParameterGradients) {
  auto run = [](bool input_grad) {
    Conv2d conv({2, 6, 5}, 3, 3, {.stride = 2, .padding = 1});
    conv.set_needs_input_grad(input_grad);
    Tensor x = random_tensor({2, 60}, 1);
    conv.forward(x, Mode::Train);
    const Tensor& dx = conv.backward(random_tensor({2, conv.output_shape().numel()}, 2));
    EXPECT_EQ(dx.empty(), !input_grad);
    return std::vector<std::vector<float>>{values(conv.weight().grad), values(conv.bias().grad)};
  };
  EXPECT_EQ(run(false), run(true));
}

TEST(Conv2d, BackwardOverwritesGradientsAndReusesBuffers) {
  Conv2d conv({2, 6, 5}, 3, 3, {.padding = 1});
  Tensor x = random_tensor({4, 60}, 1);
  Tensor dy = random_tensor({4, conv.output_shape().numel()}, 2);
  const float* out = conv.forward(x, Mode::Train).data();
  const float* in_grad = conv.backward(dy).data();
  const Tensor first = conv.weight().grad;
  const Tensor first_bias = conv.bias().grad;
  for (int step = 0; step < 3; ++step) {
    EXPECT_EQ(conv.forward(x, Mode::Train).data(), out);
    EXPECT_EQ(conv.backward(dy).data(), in_grad);
  }
  for (int64_t i = 0; i < first.numel(); ++i) ASSERT_EQ(conv.weight().grad[i], first[i]);
  for (int64_t i = 0; i < first_bias.numel(); ++i) ASSERT_EQ(conv.bias().grad[i], first_bias[i]);
}

TEST(Conv2d, InitialisesWithFanInOfThePatch) {
  Conv2d he({8, 10, 10}, 64, 3);  // fan-in 8 * 3 * 3 = 72
  double sum_sq = 0;
  for (float w : he.weight().value.values()) sum_sq += static_cast<double>(w) * w;
  const double sd = std::sqrt(sum_sq / static_cast<double>(he.weight().value.numel()));
  EXPECT_NEAR(sd, std::sqrt(2.0 / 72.0), 0.05 * std::sqrt(2.0 / 72.0));
  for (float b : he.bias().value.values()) EXPECT_EQ(b, 0.0f);

  Conv2d torch_init({8, 10, 10}, 64, 3, {.init = Init::FanInUniform});
  const float bound = 1.0f / std::sqrt(72.0f);
  for (float w : torch_init.weight().value.values()) ASSERT_LE(std::abs(w), bound);
  double bias_norm = 0;
  for (float b : torch_init.bias().value.values()) {
    ASSERT_LE(std::abs(b), bound);
    bias_norm += std::abs(b);
  }
  EXPECT_GT(bias_norm, 0.0);
}

TEST(Conv2d, RejectsBadArgumentsAndShapes) {
  EXPECT_THROW(Conv2d({1, 4, 4}, 0, 3), InvalidArgument);
  EXPECT_THROW(Conv2d({1, 4, 4}, 2, 0), InvalidArgument);
  EXPECT_THROW(Conv2d({1, 4, 4}, 2, 3, {.stride = 0}), InvalidArgument);
  EXPECT_THROW(Conv2d({1, 4, 4}, 2, 3, {.padding = -1}), InvalidArgument);
  EXPECT_THROW(Conv2d({0, 4, 4}, 2, 3), InvalidArgument);
  EXPECT_THROW(Conv2d({1, 4, 4}, 2, 5), ShapeError);
  EXPECT_NO_THROW(Conv2d({1, 4, 4}, 2, 5, {.padding = 1}));
  Conv2d conv({2, 4, 4}, 2, 3);
  Tensor wrong({3, 31});
  EXPECT_THROW(conv.forward(wrong, Mode::Train), ShapeError);
  Conv2d fresh({2, 4, 4}, 2, 3);
  EXPECT_THROW(fresh.backward(Tensor({3, 8})), Error);
  Tensor x({3, 32});
  conv.forward(x, Mode::Train);
  EXPECT_THROW(conv.backward(Tensor({3, 9})), ShapeError);
}

}  // namespace
}  // namespace krill::nn
