// Gradient checks of every layer against finite differences, and the forward values they must
// produce.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "grad_check.hpp"
#include "nn/activations.hpp"
#include "nn/batch_norm.hpp"
#include "nn/dense.hpp"
#include "nn/dropout.hpp"
#include "nn/sequential.hpp"

namespace krill::nn {
namespace {

using testing::expect_gradients_match;
using testing::random_tensor;

TEST(Dense, ForwardIsXWTransposedPlusBias) {
  Dense d(3, 2);
  // W = [[1, 2, 3], [4, 5, 6]], b = [0.5, -1]; x = [[1, 0, -1], [2, 1, 0]]
  d.weight().value = Tensor::from({2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6});
  d.bias().value = Tensor::from({2}, std::vector<float>{0.5f, -1.0f});
  Tensor x = Tensor::from({2, 3}, std::vector<float>{1, 0, -1, 2, 1, 0});
  const Tensor& y = d.forward(x, Mode::Eval);
  ASSERT_EQ(y.shape(), Shape({2, 2}));
  EXPECT_FLOAT_EQ(y[0], 1 - 3 + 0.5f);  // -1.5
  EXPECT_FLOAT_EQ(y[1], 4 - 6 - 1.0f);  // -3
  EXPECT_FLOAT_EQ(y[2], 2 + 2 + 0.5f);  // 4.5
  EXPECT_FLOAT_EQ(y[3], 8 + 5 - 1.0f);  // 12
}

TEST(Dense, GradientCheck) {
  Dense d(5, 4);
  Rng rng(3);
  d.reset(rng);
  expect_gradients_match(d, random_tensor({3, 5}, 7));
}

TEST(Dense, WithoutInputGradientReturnsEmptyButStillFillsWeights) {
  Dense d(4, 3);
  d.set_needs_input_grad(false);
  Tensor x = random_tensor({2, 4}, 1);
  d.forward(x, Mode::Train);
  const Tensor& gx = d.backward(random_tensor({2, 3}, 2));
  EXPECT_TRUE(gx.empty());
  double norm = 0;
  for (float g : d.weight().grad.values()) norm += std::abs(g);
  EXPECT_GT(norm, 0.0);
}

TEST(Dense, RejectsWrongInputWidth) {
  Dense d(4, 3);
  Tensor x({2, 5});
  EXPECT_THROW(d.forward(x, Mode::Eval), ShapeError);
}

TEST(Activations, ForwardValues) {
  Tensor x = Tensor::from({1, 3}, std::vector<float>{-2.0f, 0.0f, 1.5f});
  Relu relu;
  Sigmoid sigmoid;
  Tanh tanh_layer;
  const Tensor& r = relu.forward(x, Mode::Eval);
  EXPECT_FLOAT_EQ(r[0], 0.0f);
  EXPECT_FLOAT_EQ(r[2], 1.5f);
  const Tensor& s = sigmoid.forward(x, Mode::Eval);
  EXPECT_NEAR(s[0], 1.0 / (1.0 + std::exp(2.0)), 1e-7);
  EXPECT_FLOAT_EQ(s[1], 0.5f);
  const Tensor& t = tanh_layer.forward(x, Mode::Eval);
  EXPECT_NEAR(t[2], std::tanh(1.5), 1e-7);
}

TEST(Activations, GradientChecks) {
  // Inputs kept away from 0, where ReLU has no derivative.
  Tensor x = random_tensor({4, 6}, 11, 0.05f, 1.0f);
  for (int64_t i = 0; i < x.numel(); i += 2) x[i] = -x[i];
  Relu relu;
  expect_gradients_match(relu, x, 2e-3, 1e-3f);
  Sigmoid sigmoid;
  expect_gradients_match(sigmoid, random_tensor({4, 6}, 12, -3, 3));
  Tanh tanh_layer;
  expect_gradients_match(tanh_layer, random_tensor({4, 6}, 13, -2, 2));
}

TEST(Dropout, EvalIsIdentityAndTrainScalesKeptInputs) {
  Dropout drop(0.25f);
  Rng rng(5);
  drop.reset(rng);
  Tensor x = random_tensor({50, 40}, 3, 0.5f, 1.0f);
  const Tensor& e = drop.forward(x, Mode::Eval);
  for (int64_t i = 0; i < x.numel(); ++i) ASSERT_EQ(e[i], x[i]);
  const Tensor& y = drop.forward(x, Mode::Train);
  int64_t zeros = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    if (y[i] == 0.0f) {
      ++zeros;
    } else {
      ASSERT_FLOAT_EQ(y[i], x[i] / 0.75f);
    }
  }
  // 2000 Bernoulli(0.25) draws: 500 expected, sd ~19.4; 5 sd either side.
  EXPECT_NEAR(static_cast<double>(zeros), 500.0, 97.0);
}

TEST(Dropout, GradientFollowsTheMask) {
  Dropout drop(0.5f);
  Rng rng(8);
  drop.reset(rng);
  Tensor x = random_tensor({3, 4}, 9);
  Tensor y = drop.forward(x, Mode::Train);
  Tensor ones({3, 4});
  ones.fill(1.0f);
  const Tensor& g = drop.backward(ones);
  for (int64_t i = 0; i < x.numel(); ++i) EXPECT_FLOAT_EQ(g[i], y[i] == 0.0f ? 0.0f : 2.0f);
}

TEST(Dropout, StateIsTheMaskStreamSoALoadedCopyDrawsTheSameMasks) {
  Dropout drop(0.5f);
  Rng rng(8);
  drop.reset(rng);
  Tensor x = random_tensor({4, 10}, 9);
  drop.forward(x, Mode::Train);  // the stream moves on
  BinaryWriter state;
  drop.save_state(state);
  const Tensor next = drop.forward(x, Mode::Train);

  Dropout resumed(0.5f);
  Rng other(99);
  resumed.reset(other);
  BinaryReader in(state.buffer(), "state");
  resumed.load_state(in);
  EXPECT_EQ(in.remaining(), 0u);
  const Tensor& y = resumed.forward(x, Mode::Train);
  for (int64_t i = 0; i < x.numel(); ++i) ASSERT_EQ(y[i], next[i]) << i;

  // Bytes that are no generator's state are refused.
  BinaryWriter zeros;
  for (int i = 0; i < 4; ++i) zeros.u64(0);
  zeros.f64(0.0);
  zeros.u8(0);
  BinaryReader bad(zeros.buffer(), "state");
  EXPECT_THROW(resumed.load_state(bad), DataError);
  EXPECT_FALSE(resumed.requires_state());
}

TEST(Dropout, RejectsBadProbability) {
  EXPECT_THROW(Dropout(1.0f), InvalidArgument);
  EXPECT_THROW(Dropout(-0.1f), InvalidArgument);
}

TEST(Sequential, GradientCheckThroughAStack) {
  Sequential net{Dense(6, 5), Tanh(), Dense(5, 4), Sigmoid(), Dense(4, 3)};
  net.set_needs_input_grad(true);
  Rng rng(21);
  net.reset(rng);
  expect_gradients_match(net, random_tensor({3, 6}, 22));
}

TEST(Sequential, NamesParametersByPosition) {
  Sequential net{Dense(4, 3), Relu(), Dense(3, 2)};
  auto params = net.parameters();
  ASSERT_EQ(params.size(), 4u);
  EXPECT_EQ(params[0]->name, "0.weight");
  EXPECT_EQ(params[1]->name, "0.bias");
  EXPECT_EQ(params[2]->name, "2.weight");
  EXPECT_EQ(net.parameter_count(), 4 * 3 + 3 + 3 * 2 + 2);
}

TEST(Sequential, TopLevelSkipsTheInputGradient) {
  // The same net and batch, by default and when asked for the input gradient: only that gradient
  // is skipped; every parameter's gradient is computed, and the same.
  auto run = [](bool input_grad) {
    Sequential net{Dense(4, 3), Relu(), Dense(3, 2)};
    if (input_grad) net.set_needs_input_grad(true);
    Rng rng(6);
    net.reset(rng);
    Tensor x = random_tensor({2, 4}, 4);
    net.forward(x, Mode::Train);
    const Tensor& gx = net.backward(random_tensor({2, 2}, 5));
    std::vector<std::vector<float>> grads = {{gx.values().begin(), gx.values().end()}};
    for (Parameter* p : net.parameters())
      grads.emplace_back(p->grad.values().begin(), p->grad.values().end());
    return grads;
  };
  const auto skipped = run(false), full = run(true);
  EXPECT_TRUE(skipped[0].empty());
  EXPECT_EQ(full[0].size(), 8u);  // 2 x 4
  ASSERT_EQ(skipped.size(), 5u);
  ASSERT_EQ(full.size(), 5u);
  for (size_t i = 1; i < skipped.size(); ++i) {
    EXPECT_EQ(skipped[i], full[i]) << "parameter " << i - 1;
  }
  double first_layer = 0;
  for (float g : skipped[1]) first_layer += std::abs(g);
  EXPECT_GT(first_layer, 0.0);  // the first layer's weights still get their gradient
}

TEST(Sequential, SavesItsModulesStatesInOrderAndNamesOneThatDoesNotFit) {
  auto make = [] {
    auto net =
        std::make_unique<Sequential>(Dense(4, 3), BatchNorm(3), Relu(), Dropout(0.5f), Dense(3, 2));
    Rng rng(6);
    net->reset(rng);
    return net;
  };
  auto net = make();
  EXPECT_TRUE(net->requires_state());
  EXPECT_FALSE(Sequential(Dense(4, 3), Dropout(0.5f)).requires_state());
  Tensor x = random_tensor({5, 4}, 4);
  net->forward(x, Mode::Train);  // moves the statistics and the mask stream
  BinaryWriter state;
  net->save_state(state);
  const std::vector<float> next = [&] {
    const Tensor& y = net->forward(x, Mode::Train);
    return std::vector<float>(y.values().begin(), y.values().end());
  }();

  auto resumed = make();
  BinaryReader in(state.buffer(), "ckpt");
  resumed->load_state(in);
  EXPECT_EQ(in.remaining(), 0u);
  const Tensor& y = resumed->forward(x, Mode::Train);
  EXPECT_EQ(std::vector<float>(y.values().begin(), y.values().end()), next);

  // Another architecture: the state of a BatchNorm(4) where the model has BatchNorm(3).
  Sequential other(Dense(4, 4), BatchNorm(4), Relu(), Dropout(0.5f), Dense(4, 2));
  BinaryWriter other_state;
  other.save_state(other_state);
  BinaryReader wrong(other_state.buffer(), "ckpt");
  try {
    resumed->load_state(wrong);
    ADD_FAILURE() << "loaded the state of another architecture";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("ckpt, module 1 (BatchNorm1d(3))"), std::string::npos)
        << e.what();
  }
  Sequential shorter(Dense(4, 3), BatchNorm(3));
  BinaryReader fewer(state.buffer(), "ckpt");
  EXPECT_THROW(shorter.load_state(fewer), DataError);
}

}  // namespace
}  // namespace krill::nn
