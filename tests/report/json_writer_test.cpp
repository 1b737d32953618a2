// JsonWriter (report/json_writer.hpp): the JSON of krill show --json, export and the report.
// Strings are escaped as RFC 8259 requires, and its text is UTF-8 whatever bytes a string held (a
// study name or an error naming a file in Latin-1 made invalid JSON).
#include "report/json_writer.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "report/json_reader.hpp"

namespace krill::report {
namespace {

TEST(JsonWriter, EscapesStringsAndKeepsUtf8) {
  JsonWriter w;
  w.begin_object();
  w.field("s", std::string("q\"\\\n\t</script>\x01 é \xf0\x9f\x98\x80"));
  w.end_object();
  EXPECT_EQ(w.str(), "{\"s\":\"q\\\"\\\\\\n\\t\\u003c/script>\\u0001 é \xf0\x9f\x98\x80\"}");
  EXPECT_EQ(krill::testing::parse_json(w.str())["s"].string,
            "q\"\\\n\t</script>\x01 é \xf0\x9f\x98\x80");
}

TEST(JsonWriter, BytesThatAreNotUtf8BecomeTheReplacementCharacter) {
  JsonWriter w;
  w.begin_array();
  w.value(std::string("bad\xffname"));
  w.value(std::string("caf\xe9 ok \xc3\xa9"));  // Latin-1's é, then UTF-8's
  w.value(std::string("\xed\xa0\x80"));         // a surrogate: three bytes, each replaced
  w.value(std::string("cut \xe2\x82"));         // a truncated sequence at the end
  w.end_array();
  EXPECT_EQ(w.str(),
            "[\"bad\\ufffdname\",\"caf\\ufffd ok \xc3\xa9\",\"\\ufffd\\ufffd\\ufffd\","
            "\"cut \\ufffd\\ufffd\"]");
}

TEST(JsonWriter, NumbersThatJsonCannotHoldAreNull) {
  JsonWriter w;
  w.begin_array();
  w.value(std::numeric_limits<double>::quiet_NaN());
  w.value(-std::numeric_limits<double>::infinity());
  w.value(0.25);
  w.value(int64_t{-3});
  w.end_array();
  EXPECT_EQ(w.str(), "[null,null,0.25,-3]");
}

}  // namespace
}  // namespace krill::report
