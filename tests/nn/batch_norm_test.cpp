// BatchNorm: PyTorch's values, finite-difference gradients in training, evaluation as an affine
// map with the running statistics, the running statistics' updates, its state and the Module
// contract.
#include "nn/batch_norm.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "backend/backend.hpp"
#include "core/error.hpp"
#include "grad_check.hpp"

namespace krill::nn {
namespace {

using testing::expect_gradients_match;
using testing::random_tensor;

std::vector<float> values(const Tensor& t) {
  return {t.values().begin(), t.values().end()};
}

// Golden values from tests/nn/golden/batchnorm_reference.py (PyTorch 1.13.0a0, Debian's
// python3-torch, float64), pasted verbatim. Inputs, gamma, beta and the output gradient are the
// script's formulas, rebuilt here; the running statistics are after training on x, then x2.
struct Golden {
  int64_t batch, channels, height, width;  // height = width = 0: BatchNorm1d on [batch, channels]
  std::vector<double> y, dx, dgamma, dbeta, running_mean, running_var, y_eval;
};

Golden features() {
  // Features: x [4, 3], BatchNorm1d(3)
  const std::vector<double> y = {-0.906528542, 0.14999808,    1.2941765,    0.0126114168,
                                 -1.04998656,  0.00903619122, -0.512611417, 1.04998656,
                                 -1.27610412,  0.406528542,   -0.14999808,  0.972891426};
  const std::vector<double> dx = {-0.0498072373, -0.461993779, 0.599032644, -0.124513384,
                                  -0.0660013055, 0.281903723,  0.124513384, 0.0660013055,
                                  -0.0352251971, 0.0498072373, 0.461993779, -0.84571117};
  const std::vector<double> dgamma = {0.853487105, 0.19999744, -1.54618444};
  const std::vector<double> dbeta = {-1.5, 0.5, 0.75};
  const std::vector<double> running_mean = {-0.05, 0.00541666667, 0.014375};
  const std::vector<double> running_var = {1.08541667, 1.02354167, 1.08543403};
  const std::vector<double> y_eval = {-0.825905209, -0.00401548945, 1.43599531,   0.0139565542,
                                      -0.745336618, 0.476160966,    -0.465964453, 0.551975357,
                                      -0.483673373, 0.37389731,     -0.189345772, 1.19603672};
  return {4, 3, 0, 0, y, dx, dgamma, dbeta, running_mean, running_var, y_eval};
}

Golden images() {
  // Images: x [2, 3, 2, 3], BatchNorm2d(3)
  const std::vector<double> y = {
      -0.905134638, -0.596835985, -0.288537332, -0.442686658, -0.134388005,  0.173910648,
      -0.153944843, 0.373866047,  0.901676936,  0.637771491,  1.16558238,    -1.20956662,
      1.68475336,   -0.941574821, -0.357946337, -0.649760579, -0.0661320954, 0.517496388,
      0.173910648,  0.482209301,  -0.905134638, 0.636358627,  -0.750985311,  -0.442686658,
      -1.20956662,  -0.681755732, -0.153944843, -0.417850287, 0.109960602,   0.637771491,
      0.517496388,  1.10112487,   1.68475336,   1.39293911,   -1.23338906,   -0.649760579};
  const std::vector<double> dx = {
      -0.282253523, 0.40974079,   0.0226898172, 0.062065977,   -0.324984996,  0.367009317,
      -0.28591691,  -0.889063029, 0.355128965,  0.39279658,    -0.210349539,  -0.399151896,
      0.460930257,  -0.343238452, -0.877857997, -0.902362466,  0.605717682,   0.0710981373,
      -0.403737315, 0.288256998,  0.334343783,  -0.0594178153, -0.0133310299, -0.400382003,
      0.128658993,  -0.474487125, 0.769704868,  0.807372483,   0.204226364,   -0.398919754,
      0.654726621,  0.120107076,  -0.414512469, -0.439016938,  0.799514046,   0.264894502};
  const std::vector<double> dgamma = {2.48565789, 1.21689733, -0.863283799};
  const std::vector<double> dbeta = {-0.25, 0.5, -0.5};
  const std::vector<double> running_mean = {-0.0307638889, 0.0297916667, 0.0129861111};
  const std::vector<double> running_var = {1.03104114, 1.0040041, 1.04838963};
  const std::vector<double> y_eval = {
      -0.850368251,  -0.60416153,  -0.357954808,  -0.481058169, -0.234851448,   0.011355274,
      -0.0222990395, 0.351950574,  0.726200188,   0.539075381,  0.913324995,    -0.770798267,
      1.45812299,    -0.739327457, -0.251005136,  -0.495166297, -0.00684397612, 0.481478344,
      0.011355274,   0.257561996,  -0.850368251,  0.380665356,  -0.727264891,   -0.481058169,
      -0.770798267,  -0.396548653, -0.0222990395, -0.209423846, 0.164825767,    0.539075381,
      0.481478344,   0.969800665,  1.45812299,    1.21396183,   -0.983488617,   -0.495166297};
  return {2, 3, 2, 3, y, dx, dgamma, dbeta, running_mean, running_var, y_eval};
}

// t [N, C*H*W] with t[n, c, h, w] = f(n, c, h, w) (h = w = 0 for features)
template <class F>
Tensor from_formula(const Golden& g, F f) {
  const int64_t height = std::max<int64_t>(g.height, 1), width = std::max<int64_t>(g.width, 1);
  Tensor t({g.batch, g.channels * height * width});
  int64_t at = 0;
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t c = 0; c < g.channels; ++c)
      for (int64_t h = 0; h < height; ++h)
        for (int64_t w = 0; w < width; ++w) t[at++] = static_cast<float>(f(n, c, h, w));
  return t;
}

void expect_values(const Tensor& t, const std::vector<double>& expected, const char* what) {
  ASSERT_EQ(t.numel(), static_cast<int64_t>(expected.size())) << what;
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(t[static_cast<int64_t>(i)], expected[i], 2e-5) << what << "[" << i << "]";
  }
}

BatchNorm make(const Golden& g) {
  return g.height > 0 ? BatchNorm(ImageShape{g.channels, g.height, g.width})
                      : BatchNorm(g.channels);
}

TEST(BatchNorm, ShapesAndDescribe) {
  BatchNorm features(16);
  EXPECT_EQ(features.describe(), "BatchNorm1d(16)");
  EXPECT_EQ(features.geometry().spatial, 1);
  BatchNorm images({32, 12, 12});
  EXPECT_EQ(images.describe(), "BatchNorm2d(32) [32, 12, 12]");
  EXPECT_EQ(images.output_shape(), (ImageShape{32, 12, 12}));
  EXPECT_EQ(images.geometry().spatial, 144);
  ASSERT_EQ(images.parameters().size(), 2u);
  EXPECT_EQ(images.gamma().value.shape(), Shape({32}));
  EXPECT_EQ(images.beta().value.shape(), Shape({32}));
  EXPECT_EQ(images.gamma().name, "weight");  // PyTorch's names
  EXPECT_EQ(images.beta().name, "bias");
  // PyTorch's initial values: gamma 1, beta 0, running mean 0, running variance 1.
  for (int64_t c = 0; c < 32; ++c) {
    EXPECT_EQ(images.gamma().value[c], 1.0f);
    EXPECT_EQ(images.beta().value[c], 0.0f);
    EXPECT_EQ(images.running_mean()[c], 0.0f);
    EXPECT_EQ(images.running_var()[c], 1.0f);
  }
  Tensor x = random_tensor({2, 32 * 144}, 1);
  EXPECT_EQ(images.forward(x, Mode::Train).shape(), x.shape());
}

TEST(BatchNorm, MatchesPyTorch) {
  for (const Golden& gold : {features(), images()}) {
    BatchNorm bn = make(gold);
    SCOPED_TRACE(bn.describe());
    for (int64_t c = 0; c < gold.channels; ++c) {
      bn.gamma().value[c] = static_cast<float>(c + 2) / 4;
      bn.beta().value[c] = static_cast<float>(c - 1) / 4;
    }
    Tensor x = from_formula(gold, [](int64_t n, int64_t c, int64_t h, int64_t w) {
      return static_cast<double>((7 * n + 5 * c + 3 * h + 2 * w) % 11 - 5) / 4;
    });
    Tensor x2 = from_formula(gold, [](int64_t n, int64_t c, int64_t h, int64_t w) {
      return static_cast<double>((3 * n + 2 * c + 5 * h + 7 * w) % 13 - 6) / 3;
    });
    Tensor dy = from_formula(gold, [](int64_t n, int64_t c, int64_t h, int64_t w) {
      return static_cast<double>((n + 2 * c + 3 * h + 5 * w) % 7 - 3) / 4;
    });
    expect_values(bn.forward(x, Mode::Train), gold.y, "y");
    expect_values(bn.backward(dy), gold.dx, "dx");
    expect_values(bn.gamma().grad, gold.dgamma, "dgamma");
    expect_values(bn.beta().grad, gold.dbeta, "dbeta");
    bn.forward(x2, Mode::Train);
    expect_values(bn.running_mean(), gold.running_mean, "running mean");
    expect_values(bn.running_var(), gold.running_var, "running variance");
    expect_values(bn.forward(x, Mode::Eval), gold.y_eval, "y (eval)");
  }
}

TEST(BatchNorm, RunningStatisticsAfterTwoSteps) {
  // One feature. Step 1, x = {1, 3}: mean 2, unbiased variance 2, so running mean
  // 0.9 * 0 + 0.1 * 2 = 0.2 and running variance 0.9 * 1 + 0.1 * 2 = 1.1.
  // Step 2, x = {0, 4}: mean 2, unbiased variance 8: 0.9 * 0.2 + 0.2 = 0.38, 0.9 * 1.1 + 0.8
  // = 1.79.
  BatchNorm bn(1);
  Tensor first = Tensor::from({2, 1}, std::vector<float>{1, 3});
  bn.forward(first, Mode::Train);
  EXPECT_FLOAT_EQ(bn.running_mean()[0], 0.2f);
  EXPECT_FLOAT_EQ(bn.running_var()[0], 1.1f);
  Tensor second = Tensor::from({2, 1}, std::vector<float>{0, 4});
  const Tensor& y = bn.forward(second, Mode::Train);
  EXPECT_FLOAT_EQ(bn.running_mean()[0], 0.38f);
  EXPECT_FLOAT_EQ(bn.running_var()[0], 1.79f);
  // Normalised with the biased variance (4): (0 - 2) / sqrt(4 + 1e-5).
  EXPECT_NEAR(y[0], -2.0 / std::sqrt(4.0 + 1e-5), 1e-6);
  EXPECT_NEAR(y[1], 2.0 / std::sqrt(4.0 + 1e-5), 1e-6);

  // A custom momentum; an evaluation forward leaves the statistics alone.
  BatchNorm slow(1, {.momentum = 0.5f});
  slow.forward(first, Mode::Train);
  slow.forward(second, Mode::Eval);
  EXPECT_FLOAT_EQ(slow.running_mean()[0], 1.0f);
  EXPECT_FLOAT_EQ(slow.running_var()[0], 1.5f);
}

TEST(BatchNorm, EvalIsAnAffineMapWithTheRunningStatistics) {
  BatchNorm bn({3, 2, 2});
  Rng rng(4);
  for (int64_t c = 0; c < 3; ++c) {
    bn.gamma().value[c] = rng.uniform(0.5f, 2.0f);
    bn.beta().value[c] = rng.uniform(-1.0f, 1.0f);
  }
  for (uint64_t step = 0; step < 3; ++step) {
    Tensor batch = random_tensor({5, 12}, 10 + step, -2.0f, 3.0f);
    bn.forward(batch, Mode::Train);
  }
  const std::vector<float> mean = values(bn.running_mean()), var = values(bn.running_var());
  Tensor x = random_tensor({4, 12}, 20);
  const Tensor& y = bn.forward(x, Mode::Eval);
  for (int64_t n = 0; n < 4; ++n) {
    for (int64_t c = 0; c < 3; ++c) {
      const double scale = bn.gamma().value[c] / std::sqrt(static_cast<double>(var[c]) + 1e-5);
      for (int64_t p = 0; p < 4; ++p) {
        const int64_t i = n * 12 + c * 4 + p;
        EXPECT_NEAR(y[i], scale * (x[i] - mean[c]) + bn.beta().value[c], 1e-5) << i;
      }
    }
  }
  // A single sample is fine in evaluation, and gives the same values as in a batch.
  Tensor one =
      Tensor::from({1, 12}, std::vector<float>(x.values().begin(), x.values().begin() + 12));
  const std::vector<float> expected(y.values().begin(), y.values().begin() + 12);
  EXPECT_EQ(values(bn.forward(one, Mode::Eval)), expected);
  EXPECT_EQ(values(bn.running_mean()), mean);
  EXPECT_EQ(values(bn.running_var()), var);
}

TEST(BatchNorm, GradientCheckInTraining) {
  for (bool images : {false, true}) {
    BatchNorm bn = images ? BatchNorm(ImageShape{2, 3, 2}) : BatchNorm(4);
    SCOPED_TRACE(bn.describe());
    Rng rng(3);
    for (int64_t c = 0; c < bn.geometry().channels; ++c) {
      bn.gamma().value[c] = rng.uniform(0.5f, 1.5f);
      bn.beta().value[c] = rng.uniform(-0.5f, 0.5f);
    }
    expect_gradients_match(bn, random_tensor({5, bn.geometry().sample()}, 7, -2.0f, 2.0f), 2e-3,
                           1e-2f);
  }
}

TEST(BatchNorm, WithoutInputGradientReturnsEmptyAndOverwritesParameterGradients) {
  auto run = [](bool input_grad) {
    BatchNorm bn({2, 3, 3});
    bn.set_needs_input_grad(input_grad);
    Tensor x = random_tensor({3, 18}, 1);
    Tensor dy = random_tensor({3, 18}, 2);
    for (int repeat = 0; repeat < 2; ++repeat) {  // a second step must not add to the first's
      bn.forward(x, Mode::Train);
      EXPECT_EQ(bn.backward(dy).empty(), !input_grad);
    }
    return std::vector<std::vector<float>>{values(bn.gamma().grad), values(bn.beta().grad)};
  };
  const auto once = [] {
    BatchNorm bn({2, 3, 3});
    Tensor x = random_tensor({3, 18}, 1);
    bn.forward(x, Mode::Train);
    bn.backward(random_tensor({3, 18}, 2));
    return std::vector<std::vector<float>>{values(bn.gamma().grad), values(bn.beta().grad)};
  }();
  EXPECT_EQ(run(false), once);
  EXPECT_EQ(run(true), once);
}

TEST(BatchNorm, SameResultsOnAnyThreadCount) {
  // 16 channels of 64 values, batch 64: above the threshold where channels go to a team.
  auto run = [](int threads) {
    backend::backend(Device::Cpu).set_threads(threads);
    BatchNorm bn({16, 8, 8});
    Tensor x = random_tensor({64, 1024}, 5);
    std::vector<float> out = values(bn.forward(x, Mode::Train));
    const std::vector<float> dx = values(bn.backward(random_tensor({64, 1024}, 6)));
    out.insert(out.end(), dx.begin(), dx.end());
    const Tensor* more[] = {&bn.gamma().grad, &bn.running_mean(), &bn.running_var()};
    for (const Tensor* t : more) out.insert(out.end(), t->values().begin(), t->values().end());
    return out;
  };
  const auto one = run(1);
  EXPECT_EQ(run(2), one);
  backend::backend(Device::Cpu).set_threads(1);
}

TEST(BatchNorm, StateRoundTripsAndBadStateIsRefused) {
  BatchNorm trained(3);
  Tensor x = random_tensor({6, 3}, 1, -3.0f, 3.0f);
  trained.forward(x, Mode::Train);
  EXPECT_TRUE(trained.requires_state());
  BinaryWriter out;
  trained.save_state(out);

  BatchNorm fresh(3);
  BinaryReader in(out.buffer(), "state");
  fresh.load_state(in);
  EXPECT_EQ(in.remaining(), 0u);
  EXPECT_EQ(values(fresh.running_mean()), values(trained.running_mean()));
  EXPECT_EQ(values(fresh.running_var()), values(trained.running_var()));

  BatchNorm wider(4);
  BinaryReader wrong(out.buffer(), "state");
  EXPECT_THROW(wider.load_state(wrong), DataError);
  EXPECT_EQ(values(wider.running_mean()), std::vector<float>(4, 0.0f));
  BinaryWriter negative;
  negative.tensor(Tensor::from({3}, std::vector<float>{0, 0, 0}));
  negative.tensor(Tensor::from({3}, std::vector<float>{1, -1, 1}));
  BinaryReader bad(negative.buffer(), "state");
  try {
    fresh.load_state(bad);
    ADD_FAILURE() << "accepted a negative variance";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("channel 1"), std::string::npos) << e.what();
  }
  EXPECT_EQ(values(fresh.running_mean()), values(trained.running_mean()));
}

TEST(BatchNorm, RejectsBadArgumentsAndShapes) {
  EXPECT_THROW(BatchNorm(0), InvalidArgument);
  EXPECT_THROW(BatchNorm(ImageShape{2, 0, 3}), InvalidArgument);
  EXPECT_THROW(BatchNorm(3, {.momentum = 1.5f}), InvalidArgument);
  EXPECT_THROW(BatchNorm(3, {.eps = 0.0f}), InvalidArgument);
  BatchNorm bn({2, 2, 2});
  Tensor wrong = random_tensor({3, 7}, 1);
  EXPECT_THROW(bn.forward(wrong, Mode::Train), ShapeError);
  // One value a channel has no variance in training (PyTorch refuses it too); evaluation is fine.
  BatchNorm features(3);
  Tensor single = random_tensor({1, 3}, 2);
  EXPECT_THROW(features.forward(single, Mode::Train), ShapeError);
  EXPECT_NO_THROW(features.forward(single, Mode::Eval));
  // backward needs the batch statistics of a training forward.
  EXPECT_THROW(features.backward(random_tensor({1, 3}, 3)), Error);
  Tensor x = random_tensor({4, 3}, 4);
  features.forward(x, Mode::Train);
  EXPECT_THROW(features.backward(random_tensor({2, 3}, 5)), ShapeError);
}

}  // namespace
}  // namespace krill::nn
