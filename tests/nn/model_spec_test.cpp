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
      EXPECT_THAT(e.what(), HasSubstr("or mlp:W1,W2,... or linear"));
    }
  }
}

TEST(ModelSpec, ParsesAListOfLayers) {
  const ModelSpec s = parse_model_spec(
      " conv:32:5, relu,maxpool:2,conv:64:3:2:1,batchnorm,tanh,avgpool:3:2,flatten,dropout:0.25,"
      "dense:100,sigmoid,dense:10");
  ASSERT_TRUE(s.is_list);
  ASSERT_EQ(s.list.size(), 12u);
  EXPECT_EQ(s.list[0], (LayerSpec{.kind = LayerKind::Conv, .size = 32, .kernel = 5, .stride = 1}));
  EXPECT_EQ(s.list[2], (LayerSpec{.kind = LayerKind::MaxPool, .kernel = 2, .stride = 2}));
  EXPECT_EQ(
      s.list[3],
      (LayerSpec{.kind = LayerKind::Conv, .size = 64, .kernel = 3, .stride = 2, .padding = 1}));
  EXPECT_EQ(s.list[6], (LayerSpec{.kind = LayerKind::AvgPool, .kernel = 3, .stride = 2}));
  EXPECT_EQ(s.list[8].kind, LayerKind::Dropout);
  EXPECT_FLOAT_EQ(s.list[8].p, 0.25f);
  EXPECT_EQ(s.list[10],
            (LayerSpec{.kind = LayerKind::Activation, .activation = Activation::Sigmoid}));
  // The canonical text reads back to the same spec, defaults left out.
  EXPECT_EQ(s.to_string(),
            "conv:32:5,relu,maxpool:2,conv:64:3:2:1,batchnorm,tanh,avgpool:3:2,flatten,"
            "dropout:0.25,dense:100,sigmoid,dense:10");
  EXPECT_EQ(parse_model_spec(s.to_string()).list, s.list);
}

TEST(ModelSpec, ErrorsNameTheLayerAndWhatWasExpected) {
  const auto error = [](const char* spec) -> std::string {
    try {
      parse_model_spec(spec);
    } catch (const InvalidArgument& e) {
      return e.what();
    }
    return "(accepted)";
  };
  EXPECT_THAT(error("conv:32:5,relu,maxpol:2"), HasSubstr("layer 3 'maxpol:2' is not a layer"));
  EXPECT_THAT(error("conv:32"), HasSubstr("layer 1 'conv:32' takes conv:FILTERS:KERNEL"));
  EXPECT_THAT(error("dense:0"), HasSubstr("layer 1 'dense:0': width 0 is outside [1, 1048576]"));
  EXPECT_THAT(error("dense:10,dropout:1"),
              HasSubstr("layer 2 'dropout:1': the rate '1' is not a number in [0, 1)"));
  EXPECT_THAT(error("relu:2"), HasSubstr("layer 1 'relu:2' takes relu alone"));
  EXPECT_THAT(error("dense:10,,relu"), HasSubstr("layer 2 is empty"));
  EXPECT_THAT(error("conv:8:x"), HasSubstr("kernel 'x' is not an integer"));
  EXPECT_THAT(error("conv:8:3:1:-1"), HasSubstr("padding -1 is outside [0, 1024]"));
}

TEST(ModelSpec, InfersShapesAndCountsParameters) {
  // The LeNet-like network of ../shared/baselines/torch_train.py --model cnn.
  const ModelSpec lenet =
      parse_model_spec("conv:32:5,relu,maxpool:2,conv:64:5,relu,maxpool:2,flatten,dense:10");
  const auto shapes = infer_shapes(lenet, {1, 28, 28}, 10);
  ASSERT_EQ(shapes.size(), 8u);
  EXPECT_EQ(shapes[0].out, (ImageShape{32, 24, 24}));
  EXPECT_EQ(shapes[2].out, (ImageShape{32, 12, 12}));
  EXPECT_EQ(shapes[3].out, (ImageShape{64, 8, 8}));
  EXPECT_EQ(shapes[5].out, (ImageShape{64, 4, 4}));
  EXPECT_TRUE(shapes[5].image_out);
  EXPECT_FALSE(shapes[6].image_out);
  EXPECT_EQ(shapes[6].out.numel(), 1024);
  // PyTorch's count for the same network: sum(p.numel() for p in model.parameters()).
  EXPECT_EQ(parameter_count(shapes), (32 * 25 + 32) + (64 * 32 * 25 + 64) + (1024 * 10 + 10));
  const auto padded =
      infer_shapes(parse_model_spec("conv:4:3:2:1,batchnorm,flatten,dense:3"), {3, 7, 5}, 3);
  EXPECT_EQ(padded[0].out, (ImageShape{4, 4, 3}));  // (7 + 2 - 3) / 2 + 1, (5 + 2 - 3) / 2 + 1
  EXPECT_EQ(padded[1].parameters, 8);               // a scale and a shift per channel
}

TEST(ModelSpec, ShapeErrorsNameTheLayer) {
  const auto error = [](const char* spec, int classes = 10) -> std::string {
    try {
      infer_shapes(parse_model_spec(spec), {1, 28, 28}, classes);
    } catch (const ShapeError& e) {
      return e.what();
    }
    return "(accepted)";
  };
  EXPECT_THAT(error("dense:64,relu,dense:10"),
              HasSubstr("layer 1 'dense:64' takes flat features, gets an image [1, 28, 28]: put "
                        "flatten before it"));
  EXPECT_THAT(error("flatten,conv:8:3,flatten,dense:10"),
              HasSubstr("layer 2 'conv:8:3' takes images, gets 784 flat features"));
  EXPECT_THAT(error("conv:8:5,maxpool:2,conv:8:5,maxpool:2,conv:8:5,flatten,dense:10"),
              HasSubstr("layer 5 'conv:8:5' has a 5x5 window, larger than its input [8, 4, 4]"));
  EXPECT_THAT(error("conv:8:3,flatten,dense:8"),
              HasSubstr("layer 3 'dense:8' ends the model with 8 flat features, expected 10 "
                        "outputs, one per class"));
  // More outputs than classes: labels below 12 (as PyTorch's cross-entropy takes them).
  EXPECT_EQ(error("conv:8:3,flatten,dense:12"), "(accepted)");
  EXPECT_EQ(parse_model_spec("conv:8:3,flatten,dense:12").outputs(10), 12);
  EXPECT_EQ(parse_model_spec("conv:8:3,flatten,dense:8").outputs(10), 10);
  EXPECT_EQ(parse_model_spec("mlp:64").outputs(3), 3);
  EXPECT_EQ(parse_model_spec("flatten,dense:12,relu").outputs(10), 10);
  EXPECT_THAT(error("conv:10:28"), HasSubstr("ends the model with an image [10, 1, 1]"));
  EXPECT_EQ(error("conv:8:3:1:1,maxpool:28,flatten,dense:10"), "(accepted)");  // 28x28 kept
}

TEST(ModelSpec, BuildsALayerListThatTrains) {
  const ModelSpec s = parse_model_spec("conv:4:3,relu,maxpool:2,flatten,dropout:0.1,dense:3");
  auto net = build_model(s, ImageShape{2, 6, 6}, 3, 5);
  // Conv, ReLU, MaxPool, Dropout, Dense: flatten is shape bookkeeping, not a module.
  EXPECT_EQ(net->size(), 5u);
  EXPECT_EQ(net->parameter_count(), (4 * 2 * 9 + 4) + (4 * 2 * 2 * 3 + 3));
  Tensor x({7, 72});
  for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = static_cast<float>(i % 11) / 11.0f;
  const Tensor& y = net->forward(x, Mode::Train);
  EXPECT_EQ(y.shape(), (Shape{7, 3}));
  Tensor dy({7, 3});
  dy.fill(1.0f);
  const Tensor& dx = net->backward(dy);
  EXPECT_EQ(dx.numel(), 0);  // nothing before the first conv learns
  EXPECT_GT(std::abs((*net)[0].parameters()[0]->grad.data()[0]) +
                std::abs((*net)[0].parameters()[1]->grad.data()[0]),
            0.0f);
}

TEST(ModelSpec, DropoutStreamsSaveAndLoadApart) {
  auto net = build_model(parse_model_spec("flatten,dense:16,relu,dropout:0.5,dense:3"),
                         ImageShape{1, 2, 4}, 3, 11);
  Tensor x({4, 8});
  x.fill(1.0f);
  BinaryWriter streams;
  net->save_streams(streams);
  const auto values = [&] {
    const auto v = net->forward(x, Mode::Train).values();
    return std::vector<float>(v.begin(), v.end());
  };
  const std::vector<float> first = values();
  EXPECT_NE(values(), first);  // the next masks
  BinaryReader in(streams.buffer(), "streams");
  net->load_streams(in);
  EXPECT_EQ(values(), first);  // the masks drawn again from the saved point
}

TEST(ModelSpec, InitialisationFollowsTheActivationAfterEachLayer) {
  // He (normal, sd sqrt(2 / fan_in)) before a ReLU, Glorot (uniform, bounded) before a tanh and
  // for the output layer.
  auto net = build_model(parse_model_spec("flatten,dense:400,relu,dense:400,tanh,dense:10"),
                         ImageShape{1, 20, 20}, 10, 3);
  const auto params = net->parameters();  // weight, bias of each dense
  const Tensor& he = params[0]->value;
  const Tensor& glorot = params[2]->value;
  double m2 = 0;
  float max_glorot = 0;
  for (float v : he.values()) m2 += static_cast<double>(v) * v;
  for (float v : glorot.values()) max_glorot = std::max(max_glorot, std::abs(v));
  EXPECT_NEAR(m2 / he.numel(), 2.0 / 400, 0.1 * 2.0 / 400);
  EXPECT_LE(max_glorot, std::sqrt(6.0 / 800) + 1e-6);
  EXPECT_GT(max_glorot, 0.9 * std::sqrt(6.0 / 800));
}

TEST(ModelSpec, TheShorthandIsAFlattenedMlp) {
  ModelSpec s = parse_model_spec("mlp:8,4");
  s.dropout = 0.5f;
  s.activation = Activation::Tanh;
  const auto layers = s.layers(3);
  std::string text;
  for (const auto& l : layers) text += l.to_string() + " ";
  EXPECT_EQ(text, "flatten dense:8 tanh dropout:0.5 dense:4 tanh dropout:0.5 dense:3 ");
  // Built for images or flat inputs alike, with the same weights from the same seed.
  auto a = build_model(s, ImageShape{1, 3, 4}, 3, 9);
  auto b = build_model(s, 12, 3, 9);
  EXPECT_EQ(a->parameters()[0]->value.values()[3], b->parameters()[0]->value.values()[3]);
  EXPECT_EQ(a->parameters()[0]->name, "0.weight");  // names as before flatten existed
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
