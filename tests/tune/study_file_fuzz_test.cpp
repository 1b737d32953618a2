// Study files found by fuzz/study_file_fuzzer.cpp, kept as regression tests: each was a hang or a
// crash, and must now be a one-line error at its position.
#include <gtest/gtest.h>

#include <string>

#include "core/error.hpp"
#include "tune/study_file.hpp"

namespace krill::tune {
namespace {

std::string error_of(const std::string& yaml) {
  try {
    parse_study_file(yaml, "fuzz.yaml");
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "(no error)";
}

// yaml-cpp 0.7's YAML::LoadAll looped forever, allocating, on a ',' it could not place at the top
// level (jbeder/yaml-cpp#1040): `krill tune` hung on a study file with a stray comma. The first
// input is the fuzzer's (83 bytes), the others the shortest forms of it.
TEST(StudyFileFuzz, StrayCommaIsASyntaxErrorNotAHang) {
  const char* fuzzer_input =
      "# k.\nst  # Debiamh: 0.95} 4  6\n, 128]}shion-mn    0  # Debiamh: 0.95} 4  6\n, 128]}\n";
  EXPECT_EQ(error_of(fuzzer_input).rfind("fuzz.yaml:3:1: YAML syntax error: unexpected ','", 0), 0u)
      << error_of(fuzzer_input);
  EXPECT_EQ(error_of(","), "fuzz.yaml:1:1: YAML syntax error: unexpected ',', expected a value");
  EXPECT_EQ(error_of("data: mnist\n---\n,\n"),
            "fuzz.yaml:3:1: YAML syntax error: unexpected ',', expected a value");
}

}  // namespace
}  // namespace krill::tune
