// Layer templates (tune/model_template.hpp): `{name}` takes a trial's value, `[ ... ]` groups are
// dropped when a name in them has no value (an inactive conditional dimension).
#include "tune/model_template.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.hpp"

namespace krill::tune {
namespace {

using ::testing::HasSubstr;

std::string error_of(const std::string& layers, const hpo::Params& params = {}) {
  try {
    expand_layers(layers, params);
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(ModelTemplate, ListsItsNamesOnceInOrder) {
  EXPECT_EQ(template_names("conv:{f}:{k},relu,[conv:{f2}:{k},relu,[dense:{w}]],dense:10"),
            (std::vector<std::string>{"f", "k", "f2", "w"}));
  EXPECT_TRUE(template_names("conv:32:5,relu,flatten,dense:10").empty());
  // Those every trial needs: outside the groups.
  EXPECT_EQ(required_template_names("conv:{f}:{k},relu,[conv:{f2}:{k},relu,[dense:{w}]],dense:10"),
            (std::vector<std::string>{"f", "k"}));
  EXPECT_TRUE(required_template_names("[dense:{w}],dense:10").empty());
}

TEST(ModelTemplate, FillsInValuesOfEveryKind) {
  const hpo::Params p{{"f", int64_t{16}}, {"p", 0.25}, {"act", std::string("tanh")}};
  EXPECT_EQ(expand_layers("conv:{f}:3,{act},flatten,dropout:{p},dense:10", p),
            "conv:16:3,tanh,flatten,dropout:0.25,dense:10");
  EXPECT_EQ(expand_layers("mlp:512,256", {}), "mlp:512,256");  // no template: unchanged
}

TEST(ModelTemplate, GroupsAreKeptOrDroppedWithTheirParameters) {
  const std::string layers =
      "flatten,dense:{w1},relu,[dense:{w2},relu,[dense:{w3},relu]],[dropout:0.5],dense:10";
  EXPECT_EQ(expand_layers(layers, {{"w1", int64_t{64}}}),
            "flatten,dense:64,relu,dropout:0.5,dense:10");
  EXPECT_EQ(expand_layers(layers, {{"w1", int64_t{64}}, {"w2", int64_t{32}}}),
            "flatten,dense:64,relu,dense:32,relu,dropout:0.5,dense:10");
  EXPECT_EQ(expand_layers(layers, {{"w1", int64_t{64}}, {"w2", int64_t{32}}, {"w3", int64_t{8}}}),
            "flatten,dense:64,relu,dense:32,relu,dense:8,relu,dropout:0.5,dense:10");
  // A nested group's parameter makes its outer group optional too: w3 without w2 drops both.
  EXPECT_EQ(expand_layers(layers, {{"w1", int64_t{64}}, {"w3", int64_t{8}}}),
            "flatten,dense:64,relu,dropout:0.5,dense:10");
}

TEST(ModelTemplate, ErrorsQuoteTheTemplate) {
  EXPECT_THAT(error_of("dense:{w},relu,dense:10"),
              AllOf(HasSubstr("layers 'dense:{w},relu,dense:10'"),
                    HasSubstr("'{w}' has no value in this trial"), HasSubstr("[ ]")));
  EXPECT_THAT(error_of("dense:{w,relu"), HasSubstr("'{' at character 7 is never closed"));
  EXPECT_THAT(error_of("dense:w},relu"), HasSubstr("'}' at character 8 closes no '{'"));
  EXPECT_THAT(error_of("[dense:8,relu,dense:10"), HasSubstr("a '[' is never closed"));
  EXPECT_THAT(error_of("dense:8],relu"), HasSubstr("']' at character 8 closes no '['"));
  EXPECT_THAT(error_of("dense:{},relu"), HasSubstr("'{}' at character 7 is not a parameter name"));
  EXPECT_THAT(error_of("dense:{a b},relu"), HasSubstr("is not a parameter name"));
  EXPECT_THAT(error_of("[dense:8]x,relu"), HasSubstr("'x' at character 10 follows a group"));
  EXPECT_THAT(error_of("dense:[8]"), HasSubstr("'[' at character 7 inside a layer"));
}

}  // namespace
}  // namespace krill::tune
