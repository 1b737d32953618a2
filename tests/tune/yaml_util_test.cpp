#include "tune/yaml_util.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace krill::tune::yaml {
namespace {

TEST(YamlUtil, EditDistance) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("trails", "trials"), 2u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("abc", ""), 3u);
}

TEST(YamlUtil, SuggestsTheNearestKnownKey) {
  const std::vector<std::string> known{"lr", "momentum", "batch", "decay_every", "trials"};
  EXPECT_EQ(suggest("trails", known), "trials");
  EXPECT_EQ(suggest("momentun", known), "momentum");
  EXPECT_EQ(suggest("Decay-Every", known), "decay_every");  // case and '-' ignored
  EXPECT_EQ(suggest("learning_rate", known), "lr");         // initials
  EXPECT_EQ(suggest("batch_size", known), "batch");         // a word of the key
  EXPECT_EQ(suggest("colour", known), std::nullopt);
  EXPECT_EQ(suggest("x", {}), std::nullopt);
}

TEST(YamlUtil, ParsesScalarsByTheirWholeText) {
  EXPECT_EQ(parse_int("42"), 42);
  EXPECT_EQ(parse_int("-3"), -3);
  EXPECT_EQ(parse_int("+3"), 3);
  EXPECT_EQ(parse_int("3.0"), std::nullopt);
  EXPECT_EQ(parse_int("0x10"), std::nullopt);
  EXPECT_EQ(parse_int("+-3"), std::nullopt);
  EXPECT_EQ(parse_int("99999999999999999999"), std::nullopt);
  EXPECT_EQ(parse_uint("-1"), std::nullopt);
  EXPECT_EQ(parse_number("1e-4"), 1e-4);
  EXPECT_EQ(parse_number(".5"), 0.5);
  EXPECT_EQ(parse_number("-2"), -2.0);
  EXPECT_EQ(parse_number(".inf"), std::nullopt);
  EXPECT_EQ(parse_number("nan"), std::nullopt);
  EXPECT_EQ(parse_number("1e999"), std::nullopt);
  EXPECT_EQ(parse_number("0.1abc"), std::nullopt);
  EXPECT_EQ(parse_bool("True"), true);
  EXPECT_EQ(parse_bool("off"), false);
  EXPECT_EQ(parse_bool("1"), std::nullopt);
}

TEST(YamlUtil, FormatsDoublesShortestAndExact) {
  EXPECT_EQ(format_double(0.1), "0.1");
  EXPECT_EQ(format_double(1.0), "1.0");
  EXPECT_EQ(format_double(1e-5), "1e-05");
  EXPECT_EQ(format_double(0.1 + 0.2), "0.30000000000000004");
}

TEST(YamlUtil, DescribesNodesForMessages) {
  const YAML::Node node = YAML::Load("{a: abc, b: \"32\", c: [1], d: {x: 1}, e: , f: []}");
  EXPECT_EQ(describe(node["a"]), "'abc'");
  EXPECT_EQ(describe(node["b"]), "the string \"32\"");
  EXPECT_EQ(describe(node["c"]), "a list");
  EXPECT_EQ(describe(node["d"]), "a map");
  EXPECT_EQ(describe(node["e"]), "empty");
  EXPECT_EQ(describe(node["f"]), "an empty list");
  EXPECT_EQ(one_of(std::vector<std::string>{"a", "b", "c"}), "a, b or c");
}

}  // namespace
}  // namespace krill::tune::yaml
