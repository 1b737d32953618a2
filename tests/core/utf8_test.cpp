// UTF-8 as RFC 3629 defines it (core/utf8.hpp), case by case from its table of well-formed
// sequences: what a study name must be and what JSON output holds.
#include "core/utf8.hpp"

#include <gtest/gtest.h>

#include <string>

namespace krill {
namespace {

TEST(Utf8, WellFormedSequencesAndTheirLengths) {
  EXPECT_EQ(utf8_sequence("a"), 1u);
  EXPECT_EQ(utf8_sequence("\xc3\xa9x"), 2u);         // é, then more text
  EXPECT_EQ(utf8_sequence("\xe2\x82\xac"), 3u);      // €
  EXPECT_EQ(utf8_sequence("\xf0\x9f\x98\x80"), 4u);  // U+1F600
  EXPECT_EQ(utf8_sequence("\xf4\x8f\xbf\xbf"), 4u);  // U+10FFFF, the last code point
  EXPECT_EQ(utf8_sequence("\xed\x9f\xbf"), 3u);      // U+D7FF, just below the surrogates
  EXPECT_EQ(utf8_sequence(std::string_view("\0", 1)), 1u);
  EXPECT_TRUE(is_utf8(""));
  EXPECT_TRUE(is_utf8("ünï-cödé \xf0\x9f\x98\x80"));
}

TEST(Utf8, IllFormedSequencesAreNone) {
  for (const char* bad : {
           "\x80",              // a continuation byte alone
           "\xff",              // never in UTF-8
           "\xc0\xaf",          // overlong '/'
           "\xc1\xbf",          // overlong
           "\xe0\x80\xaf",      // overlong '/' in three bytes
           "\xf0\x8f\xbf\xbf",  // overlong in four bytes
           "\xed\xa0\x80",      // U+D800, a surrogate
           "\xf4\x90\x80\x80",  // U+110000, past the last code point
           "\xf5\x80\x80\x80",  // a lead byte past 0xf4
           "\xc3",              // truncated
           "\xe2\x82",          // truncated
           "\xe2\x28\xa1",      // a second byte that is no continuation
       }) {
    EXPECT_EQ(utf8_sequence(bad), 0u) << ::testing::PrintToString(std::string(bad));
    EXPECT_FALSE(is_utf8(std::string("ok ") + bad)) << ::testing::PrintToString(std::string(bad));
  }
  EXPECT_FALSE(is_utf8("bad\xffname"));  // Latin-1's ÿ
  EXPECT_FALSE(is_utf8("caf\xe9"));      // Latin-1's é
}

}  // namespace
}  // namespace krill
