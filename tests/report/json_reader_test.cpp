// The tests' JSON reader (json_reader.hpp): it must read what to_json writes and refuse broken
// text, or the report tests that rely on it could pass on a broken page.
#include "report/json_reader.hpp"

#include <gtest/gtest.h>

namespace krill::testing {
namespace {

TEST(JsonReader, ReadsNestedValuesAndEscapes) {
  const Json j = parse_json(
      R"( {"a": [1, -2.5e3, true, false, null], "s": "q\"\\\/\n\u003c\u00e9\ud83d\ude00",)"
      R"( "o": {}, "e": []} )");
  ASSERT_EQ(j["a"].array.size(), 5u);
  EXPECT_EQ(j["a"][0].number, 1);
  EXPECT_EQ(j["a"][1].number, -2500);
  EXPECT_TRUE(j["a"][2].boolean);
  EXPECT_EQ(j["a"][3].type, Json::Type::Bool);
  EXPECT_FALSE(j["a"][3].boolean);
  EXPECT_TRUE(j["a"][4].is_null());
  EXPECT_EQ(j["s"].string, "q\"\\/\n<\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ(j["o"].type, Json::Type::Object);
  EXPECT_TRUE(j["e"].array.empty());
  EXPECT_TRUE(j.has("o"));
  EXPECT_FALSE(j.has("x"));
  EXPECT_THROW(j["x"], std::runtime_error);
}

TEST(JsonReader, RefusesBrokenText) {
  for (const char* bad :
       {"", "{", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "[1 2]", "\"open", "\"tab\there\"", "01x", "-",
        "1.", "nul", "{\"a\":1}}", "[\"\\x\"]", "{'a':1}", "[1]\n[2]"}) {
    EXPECT_THROW(parse_json(bad), std::runtime_error) << bad;
  }
}

}  // namespace
}  // namespace krill::testing
