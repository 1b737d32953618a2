#include "nn/model_spec.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

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

TEST(Init, TorchDefaultIsBoundedByOneOverSqrtFanIn) {
  Tensor w({10, 100}), b({10});
  Rng rng(2);
  initialize(Init::FanInUniform, w, b, rng);
  for (float v : w.values()) EXPECT_LE(std::abs(v), 0.1f);
  for (float v : b.values()) EXPECT_LE(std::abs(v), 0.1f);
}

}  // namespace
}  // namespace krill::nn
