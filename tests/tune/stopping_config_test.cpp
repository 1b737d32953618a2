// The `stopping:` section of study files: the rules, their options, and clear errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "tune/study_file.hpp"

namespace krill::tune {
namespace {

using ::testing::HasSubstr;

const char* kBase =
    "study: s\ndata: fashion-mnist\ntrials: 4\n"
    "search:\n  lr: {type: float, low: 0.001, high: 0.1, log: true}\n";

StudyFile parse(const std::string& stopping) {
  return parse_study_file(std::string(kBase) + "stopping:\n" + stopping, "s.yaml");
}

std::string error_of(const std::string& stopping) {
  try {
    parse(stopping);
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(StoppingConfig, DefaultIsNone) {
  StudyFile f = parse_study_file(kBase, "s.yaml");
  EXPECT_EQ(f.stopping.rule, "none");
  EXPECT_EQ(make_stopper(f.stopping), nullptr);
}

TEST(StoppingConfig, ReadsEachRule) {
  StudyFile lcm = parse(
      "  rule: lcm\n  accumulate: 7\n  percentile: 40\n  k: 2\n  normalize: true\n"
      "  checkpoints: [100, 300]\n");
  EXPECT_EQ(lcm.stopping.lcm.accumulate, 7);
  EXPECT_EQ(lcm.stopping.lcm.percentile, 40);
  EXPECT_EQ(lcm.stopping.lcm.checkpoints, (std::vector<int64_t>{100, 300}));
  EXPECT_THAT(make_stopper(lcm.stopping)->describe(), HasSubstr("lcm(accumulate=7"));

  StudyFile median = parse("  rule: median\n  min_trials: 3\n  grace: 200\n");
  EXPECT_EQ(median.stopping.median.min_trials, 3);
  EXPECT_EQ(median.stopping.median.grace, 200);

  StudyFile hyperband = parse("  rule: hyperband\n  min_resource: 50\n  eta: 2\n");
  EXPECT_EQ(hyperband.stopping.asha.brackets, 3);  // hyperband's default
  EXPECT_EQ(hyperband.stopping.asha.min_resource, 50);
  EXPECT_THAT(make_stopper(hyperband.stopping)->describe(), HasSubstr("brackets=3"));
}

TEST(StoppingConfig, ErrorsSayWhereAndWhat) {
  EXPECT_THAT(error_of("  rule: lcm\n  eta: 3\n"),
              HasSubstr("s.yaml:8:3: 'eta' is an option of asha or hyperband, not lcm"));
  EXPECT_THAT(error_of("  rule: early\n"), HasSubstr("s.yaml:7:9: 'rule' is 'early', expected"));
  EXPECT_THAT(error_of("  accumulate: 3\n"), HasSubstr("missing key 'rule'"));
  EXPECT_THAT(error_of("  rule: lcm\n  percentil: 40\n"), HasSubstr("did you mean 'percentile'?"));
  EXPECT_THAT(error_of("  rule: lcm\n  percentile: 140\n"),
              HasSubstr("expected a number in [0.0, 100.0]"));
  EXPECT_THAT(error_of("  rule: lcm\n  checkpoints: [300, 100]\n"), HasSubstr("increasing"));
  EXPECT_THAT(error_of("  rule: asha\n  min_resource: 100\n  max_resource: 50\n"),
              HasSubstr("stopping:"));
}

}  // namespace
}  // namespace krill::tune
