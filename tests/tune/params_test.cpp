// The rules of the training parameters (tune/params.hpp): what each accepts, said the same way to
// a study file, a trial and `krill train`, and the model-size limit counted without allocating.
#include "tune/params.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/error.hpp"
#include "tune/trainable.hpp"

namespace krill::tune {
namespace {

std::string error_of(const hpo::Params& params) {
  try {
    make_config(params);
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "(accepted)";
}

const ParamInfo& info(const std::string& name) {
  const ParamInfo* p = find_training_param(name);
  EXPECT_NE(p, nullptr) << name;
  return *p;
}

TEST(Params, SayWhatTheyAccept) {
  EXPECT_EQ(expected_value(info("lr")), "a number > 0");
  EXPECT_EQ(expected_value(info("momentum")), "a number in [0, 1)");
  EXPECT_EQ(expected_value(info("weight_decay")), "a number >= 0");
  EXPECT_EQ(expected_value(info("nesterov")), "0 or 1");
  EXPECT_EQ(expected_value(info("optimizer")), "sgd or adam");
  EXPECT_EQ(expected_value(info("batch")), "an integer >= 1");
  EXPECT_EQ(expected_value(info("epochs")), "an integer >= 1");
  EXPECT_EQ(expected_value(info("iterations")), "an integer >= 0");
  EXPECT_EQ(expected_value(info("eval_every")), "an integer >= 1");
  EXPECT_EQ(expected_value(info("schedule")), "constant, step, exp or cosine");
  EXPECT_EQ(expected_value(info("decay_every")), "an integer >= 1");
  EXPECT_EQ(expected_value(info("decay_factor")), "a number in (0, 1]");
  EXPECT_EQ(expected_value(info("gamma")), "a number in (0, 1]");
  EXPECT_EQ(expected_value(info("warmup")), "an integer >= 0");
  EXPECT_EQ(expected_value(info("min_factor")), "a number in [0, 1]");
  EXPECT_EQ(expected_value(info("hidden")),
            "widths from 1 to 1048576, such as \"512,256\" or [512, 256]");
  EXPECT_EQ(expected_value(info("width")), "an integer from 1 to 1048576");
  EXPECT_EQ(expected_value(info("depth")), "an integer from 0 to 64");
  EXPECT_EQ(expected_value(info("activation")), "relu, sigmoid or tanh");
  EXPECT_EQ(expected_value(info("dropout")), "a number in [0, 1)");
  EXPECT_EQ(expected_value(info("init")), "he, glorot or torch");
}

TEST(Params, BoundsAreExactAtBothEnds) {
  EXPECT_FALSE(allowed(info("dropout"), 1.0));
  EXPECT_TRUE(allowed(info("dropout"), 0.0));
  EXPECT_TRUE(allowed(info("dropout"), 0.999));
  EXPECT_FALSE(allowed(info("lr"), 0.0));
  EXPECT_TRUE(allowed(info("lr"), 1e-12));
  EXPECT_FALSE(allowed(info("decay_factor"), 0.0));
  EXPECT_TRUE(allowed(info("decay_factor"), 1.0));
  EXPECT_FALSE(allowed(info("batch"), int64_t{0}));
  EXPECT_TRUE(allowed(info("batch"), int64_t{1}));
  EXPECT_TRUE(allowed(info("batch"), 32.0));   // a whole double, as a stored trial may hold it
  EXPECT_FALSE(allowed(info("batch"), 32.5));  // not an integer
  EXPECT_TRUE(allowed(info("width"), int64_t{1} << 20));
  EXPECT_FALSE(allowed(info("width"), (int64_t{1} << 20) + 1));
  EXPECT_FALSE(allowed(info("depth"), int64_t{65}));
  EXPECT_FALSE(allowed(info("lr"), std::numeric_limits<double>::infinity()));
  EXPECT_FALSE(allowed(info("lr"), std::numeric_limits<double>::quiet_NaN()));
  EXPECT_FALSE(allowed(info("lr"), std::string("0.1")));  // a string for a number
  EXPECT_TRUE(allowed(info("hidden"), std::string("512,256")));
  EXPECT_FALSE(allowed(info("hidden"), std::string("512,0")));
  EXPECT_FALSE(allowed(info("hidden"), std::string("4000000000")));
  EXPECT_FALSE(allowed(info("hidden"), std::string("512,,256")));
  EXPECT_FALSE(allowed(info("optimizer"), std::string("rmsprop")));
}

TEST(Params, ParsesWidths) {
  EXPECT_EQ(parse_widths("512, 256"), (std::vector<int64_t>{512, 256}));
  EXPECT_EQ(parse_widths("64"), (std::vector<int64_t>{64}));
  EXPECT_EQ(parse_widths("0,-3"), (std::vector<int64_t>{0, -3}));  // parsed; allowed() refuses
  EXPECT_EQ(parse_widths(""), std::nullopt);
  EXPECT_EQ(parse_widths("512,"), std::nullopt);
  EXPECT_EQ(parse_widths("wide"), std::nullopt);
}

TEST(Params, ATrialAppliesTheRulesOfTheStudyFile) {
  EXPECT_EQ(error_of({{"batch", int64_t{0}}}), "parameter 'batch' is 0, expected an integer >= 1");
  EXPECT_EQ(error_of({{"iterations", int64_t{-4}}}),
            "parameter 'iterations' is -4, expected an integer >= 0");
  EXPECT_EQ(error_of({{"dropout", 1.0}}), "parameter 'dropout' is 1, expected a number in [0, 1)");
  EXPECT_EQ(error_of({{"lr", 0.0}}), "parameter 'lr' is 0, expected a number > 0");
  EXPECT_EQ(error_of({{"eval_every", int64_t{0}}}),
            "parameter 'eval_every' is 0, expected an integer >= 1");
  EXPECT_EQ(error_of({{"hidden", std::string("4000000000")}}),
            "parameter 'hidden' is '4000000000', expected widths from 1 to 1048576, such as "
            "\"512,256\" or [512, 256]");
  EXPECT_EQ(error_of({{"optimizer", std::string("rmsprop")}}),
            "parameter 'optimizer' is 'rmsprop', expected sgd or adam");
  // A name that is not a training parameter is the study's own (a template's, a condition's
  // parent): the study file checked it; the configuration leaves it alone.
  EXPECT_EQ(error_of({{"n_layers", int64_t{3}}}), "(accepted)");
  EXPECT_EQ(error_of({{"batch", int64_t{64}}, {"hidden", std::string("128, 64")}}), "(accepted)");

  const TrialConfig c = make_config({{"hidden", std::string("128,64")},
                                     {"batch", 64.0},
                                     {"eval_every", int64_t{25}},
                                     {"optimizer", std::string("adam")}});
  EXPECT_EQ(c.model.hidden, (std::vector<int64_t>{128, 64}));
  EXPECT_EQ(c.train.batch, 64);
  EXPECT_EQ(c.train.eval_every, 25);
  EXPECT_EQ(c.optimizer, "adam");
  EXPECT_DOUBLE_EQ(c.adam.lr, 0.001);
}

TEST(Params, LayersGiveTheModelWithTheTemplateFilledIn) {
  const TrialConfig c =
      make_config({{"layers", std::string("conv:{filters}:5,relu,[conv:{more}:3,relu],maxpool:2,"
                                          "flatten,dropout:{dropout},dense:10")},
                   {"filters", int64_t{8}},
                   {"dropout", 0.25}});
  EXPECT_TRUE(c.model.is_list);
  EXPECT_EQ(c.model.to_string(), "conv:8:5,relu,maxpool:2,flatten,dropout:0.25,dense:10");
  const TrialConfig d = make_config({{"layers", std::string("mlp:64,32")},
                                     {"activation", std::string("tanh")},
                                     {"dropout", 0.5}});
  EXPECT_FALSE(d.model.is_list);  // the shorthand keeps its activation and dropout options
  EXPECT_EQ(d.model.hidden, (std::vector<int64_t>{64, 32}));
  EXPECT_EQ(d.model.activation, nn::Activation::Tanh);
  EXPECT_FLOAT_EQ(d.model.dropout, 0.5f);

  EXPECT_THAT(error_of({{"layers", std::string("dense:64,relu,dense:10")}, {"depth", int64_t{2}}}),
              ::testing::HasSubstr("parameter 'depth' is set beside 'layers'"));
  EXPECT_THAT(error_of({{"layers", std::string("dense:64,relu,dense:10")},
                        {"activation", std::string("tanh")}}),
              ::testing::HasSubstr("lists its activations and dropout as layers"));
  EXPECT_THAT(
      error_of({{"layers", std::string("dense:{width},relu,dense:10")}, {"width", int64_t{0}}}),
      ::testing::HasSubstr("parameter 'width' is 0, expected an integer from 1"));
  EXPECT_THAT(error_of({{"layers", std::string("dense:{w},relu,dense:10")}}),
              ::testing::HasSubstr("'{w}' has no value in this trial"));
  EXPECT_THAT(error_of({{"layers", std::string("conv:32:5,rleu,dense:10")}}),
              ::testing::HasSubstr("layer 2 'rleu' is not a layer"));
}

TEST(Params, ModelProblemsNameTheLayerOrTheSize) {
  const auto model = [](const std::string& layers) {
    return make_config({{"layers", layers}}).model;
  };
  const ImageShape mnist{1, 28, 28};
  EXPECT_EQ(model_problem(model("conv:32:5,relu,maxpool:2,flatten,dense:10"), mnist, 10), "");
  EXPECT_THAT(
      model_problem(model("conv:8:5,maxpool:2,conv:8:5,maxpool:2,conv:8:5,flatten,dense:10"), mnist,
                    10),
      ::testing::HasSubstr("layer 5 'conv:8:5' has a 5x5 window, larger than its input "
                           "[8, 4, 4]"));
  EXPECT_THAT(model_problem(model("flatten,dense:1048576,dense:1048576,dense:10"), mnist, 10),
              ::testing::HasSubstr("layers flatten,dense:1048576,dense:1048576,dense:10 make a "
                                   "model of 1100346294282 parameters for images [1, 28, 28] and "
                                   "10 classes"));
  EXPECT_THAT(model_problem(model("mlp:1000000,1000000"), mnist, 10),
              ::testing::HasSubstr("hidden widths 1000000,1000000 make a model of"));
}

TEST(Params, KrillTrainSaysItTheSameWay) {
  try {
    require_allowed("momentum", 1.5, "--momentum");
    FAIL() << "no error";
  } catch (const InvalidArgument& e) {
    EXPECT_STREQ(e.what(), "--momentum is 1.5, expected a number in [0, 1)");
  }
}

TEST(Params, CountsTheModelWithoutBuildingIt) {
  // 784 -> 512 -> 256 -> 10: 784*512+512 + 512*256+256 + 256*10+10.
  EXPECT_EQ(mlp_parameters(std::vector<int64_t>{512, 256}, 784, 10), 535818);
  EXPECT_EQ(mlp_parameters(std::vector<int64_t>{}, 784, 10), 7850);  // softmax regression
  EXPECT_EQ(model_size_problem(std::vector<int64_t>{512, 256}, 784, 10), "");
  // 784 -> 2^20 -> 10 is 833 M parameters, under the limit; two such layers are not.
  EXPECT_EQ(model_size_problem(std::vector<int64_t>{1 << 20}, 784, 10), "");
  EXPECT_EQ(
      model_size_problem(std::vector<int64_t>{1000000, 1000000}, 784, 10),
      "a model of 1000796000010 parameters for 784 inputs and 10 classes (3728 GiB of float32 "
      "weights), expected at most 1073741824 parameters (4 GiB)");
  // Widths no rule would let through overflow int64 on the way; the count saturates.
  const std::vector<int64_t> huge{int64_t{1} << 40, int64_t{1} << 40};
  EXPECT_EQ(mlp_parameters(huge, 784, 10), std::numeric_limits<int64_t>::max());
  EXPECT_THAT(model_size_problem(huge, 784, 10),
              ::testing::StartsWith("a model of 2^63 or more parameters for 784 inputs"));
}

}  // namespace
}  // namespace krill::tune
