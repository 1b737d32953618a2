#include "tune/stored_settings.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "tune/study_file.hpp"

namespace krill::tune {
namespace {

using ::testing::HasSubstr;

std::string error_of(const std::string& config) {
  try {
    read_stored_settings(config);
  } catch (const DataError& e) {
    return e.what();
  }
  return "(no error)";
}

// What `krill tune` stores (StudyFile::canonical(), and the line hpo::Study appends for a rule)
// reads back as the study file gave it, every value exactly.
TEST(StoredSettings, ReadBackWhatTheStudyFileGave) {
  const StudyFile file = parse_study_file(R"(data: "my data/\"idx\"\\"
validation: 0.15
subset: 700
objective: val_loss
seed: 18446744073709551615
sampler: tpe
model:
  hidden: [64, 32]
  activation: tanh
  dropout: 0.30000000000000004
training:
  batch: 16
  lr: 0.1234567890123456
  nesterov: 1
  optimizer: sgd
search:
  momentum: {type: float, low: 0.1, high: 0.9}
trials: 4
)",
                                          "s.yaml");
  const std::string config = file.canonical() + "\nstopping: median(warmup=2)";
  const StoredSettings s = read_stored_settings(config);
  EXPECT_EQ(s.data, file.data);
  EXPECT_EQ(s.data, "my data/\"idx\"\\");
  EXPECT_EQ(s.validation, 0.15);
  EXPECT_EQ(s.subset, 700);
  EXPECT_EQ(s.seed, 18446744073709551615u);
  EXPECT_EQ(s.objective, "val_loss");
  EXPECT_EQ(s.sampler, file.sampler.text());
  EXPECT_EQ(s.fixed, file.fixed);  // kinds and values
  EXPECT_EQ(s.fixed.at("dropout"), hpo::ParamValue{0.30000000000000004});
  EXPECT_EQ(s.fixed.at("hidden"), hpo::ParamValue{std::string("64,32")});
  EXPECT_EQ(s.fixed.at("batch"), hpo::ParamValue{int64_t{16}});
  EXPECT_EQ(s.stopping, "median(warmup=2)");
  EXPECT_EQ(s.pbt, "");
}

TEST(StoredSettings, AMissingOrUnreadableSettingIsNamed) {
  const std::string config =
      parse_study_file("data: mnist\nseed: 4\ntrials: 2\n", "s.yaml").canonical();
  EXPECT_EQ(read_stored_settings(config).seed, 4u);
  const auto without = [&](const std::string& key) {
    const size_t at = config.find("\n" + key + ": ") + 1;
    return config.substr(0, at) + config.substr(config.find('\n', at) + 1);
  };
  EXPECT_THAT(error_of(without("seed")), HasSubstr("no 'seed' line"));
  EXPECT_THAT(error_of(without("validation")), HasSubstr("no 'validation' line"));
  EXPECT_THAT(error_of(""), HasSubstr("no 'data' line"));
  EXPECT_THAT(error_of("a C++ objective's own settings"), HasSubstr("not"));
  std::string bad = config;
  bad.replace(bad.find("seed: 4"), 7, "seed: -4");
  EXPECT_THAT(error_of(bad), HasSubstr("'seed: -4', expected an integer >= 0"));
  EXPECT_THAT(error_of(config + "fixed lr: 0.1x\n"), HasSubstr("'fixed lr: 0.1x'"));
}

TEST(StoredSettings, TrialSeedsAreDerivedFromTheStudySeed) {
  EXPECT_EQ(trial_seed(3, 0), Rng::derive(3, 0));
  EXPECT_EQ(trial_seed(3, 7), Rng::derive(3, 7));
  EXPECT_NE(trial_seed(3, 7), trial_seed(4, 7));
}

}  // namespace
}  // namespace krill::tune
