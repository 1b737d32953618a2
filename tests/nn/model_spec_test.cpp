#include "nn/model_spec.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "core/error.hpp"

namespace krill::nn {
namespace {

using ::testing::HasSubstr;

TEST(ModelSpec, ParsesMlpWidths) {
  ModelSpec s = parse_model_spec("mlp:512,256");
  EXPECT_EQ(s.hidden, (std::vector<int64_t>{512, 256}));
  EXPECT_EQ(s.to_string(), "mlp:512,256");
  EXPECT_TRUE(parse_model_spec("linear").hidden.empty());
}

TEST(ModelSpec, RejectsBadSpecsWithTheSpecInTheMessage) {
  for (const char* bad :
       {"mlp:", "mlp:0", "mlp:-5", "mlp:12a", "mlp:64,", "resnet", "mlp:,4", "cnn", ""}) {
    try {
      parse_model_spec(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const InvalidArgument& e) {
      EXPECT_THAT(e.what(), HasSubstr(std::string("'") + bad + "'"));
      EXPECT_THAT(e.what(), HasSubstr("expected mlp:"));
    }
  }
}

TEST(ModelSpec, BuildsTheLayersAndIsSeeded) {
  ModelSpec s = parse_model_spec("mlp:8,4");
  s.dropout = 0.1f;
  auto a = build_model(s, 12, 3, 7);
  EXPECT_EQ(a->size(), 7u);  // Dense ReLU Dropout Dense ReLU Dropout Dense
  EXPECT_EQ(a->parameter_count(), 12 * 8 + 8 + 8 * 4 + 4 + 4 * 3 + 3);
  auto b = build_model(s, 12, 3, 7);
  auto c = build_model(s, 12, 3, 8);
  auto pa = a->parameters(), pb = b->parameters(), pc = c->parameters();
  EXPECT_EQ(pa[0]->value.values()[5], pb[0]->value.values()[5]);
  EXPECT_NE(pa[0]->value.values()[5], pc[0]->value.values()[5]);
}

TEST(Init, HeHasTheExpectedSpread) {
  Tensor w({256, 512}), b({256});
  Rng rng(1);
  initialize(Init::He, w, b, rng);
  double sum2 = 0;
  for (float v : w.values()) sum2 += static_cast<double>(v) * v;
  // Var = 2 / fan_in = 2 / 512; 131072 samples estimate it within ~1%.
  EXPECT_NEAR(sum2 / w.numel(), 2.0 / 512, 0.05 * 2.0 / 512);
  for (float v : b.values()) EXPECT_EQ(v, 0.0f);
}

// Mean and mean square of the values of a tensor.
std::pair<double, double> moments(const Tensor& t) {
  double sum = 0, sum2 = 0;
  for (float v : t.values()) sum += v, sum2 += static_cast<double>(v) * v;
  return {sum / static_cast<double>(t.numel()), sum2 / static_cast<double>(t.numel())};
}

// Weights (and biases) spread uniformly over [-a, a]: all inside, reaching close to both ends,
// with mean 0 and mean square a^2 / 3.
void expect_uniform(const Tensor& t, double a, const char* what) {
  float lo = 0, hi = 0;
  for (float v : t.values()) {
    EXPECT_LE(std::abs(v), a) << what;
    lo = std::min(lo, v), hi = std::max(hi, v);
  }
  EXPECT_LT(lo, -0.9 * a) << what;
  EXPECT_GT(hi, 0.9 * a) << what;
  const auto [mean, square] = moments(t);
  // The sample mean square of n uniform values has a relative sd of sqrt(4/5 / n) (0.9% for
  // n = 10000); 5% is beyond 5 sd. The mean has sd a / sqrt(3 n).
  EXPECT_NEAR(square, a * a / 3, 0.05 * a * a / 3) << what;
  EXPECT_NEAR(mean, 0.0, 5 * a / std::sqrt(3.0 * static_cast<double>(t.numel()))) << what;
}

TEST(Init, TorchDefaultIsBoundedByOneOverSqrtFanIn) {
  Tensor w({100, 100}), b({100});
  Rng rng(2);
  initialize(Init::FanInUniform, w, b, rng);
  expect_uniform(w, 0.1, "weights");  // 1 / sqrt(100)
  float lo = 0, hi = 0;               // 100 biases, drawn from the same interval
  for (float v : b.values()) {
    EXPECT_LE(std::abs(v), 0.1f);
    lo = std::min(lo, v), hi = std::max(hi, v);
  }
  EXPECT_GT(hi - lo, 0.1f);
}

TEST(Init, GlorotIsUniformOverSqrtSixOverFanInPlusFanOut) {
  Tensor w({50, 200}), b({50});
  b.fill(1.0f);
  Rng rng(3);
  initialize(Init::Glorot, w, b, rng);
  expect_uniform(w, std::sqrt(6.0 / 250.0), "weights");
  for (float v : b.values()) EXPECT_EQ(v, 0.0f);
}

}  // namespace
}  // namespace krill::nn
