// The `stopping:` section of study files: the rules, their options, and clear errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "tune/study_file.hpp"
#include "tune/trainable.hpp"

namespace krill::tune {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

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

  EXPECT_EQ(lcm.stopping.lcm.curve, "objective");  // the default
  for (const std::string curve : {"objective", "train_loss", "val_loss"}) {
    StudyFile on = parse("  rule: lcm\n  curve: " + curve + "\n");
    EXPECT_EQ(on.stopping.lcm.curve, curve);
    const std::string described = make_stopper(on.stopping)->describe();
    if (curve == "objective") {
      EXPECT_THAT(described, Not(HasSubstr("curve")));  // as before the option: studies resume
    } else {
      EXPECT_THAT(described, HasSubstr(", curve=" + curve + ")"));
    }
  }

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
  EXPECT_EQ(error_of("  rule: lcm\n  curve: loss\n"),
            "s.yaml:8:10: 'curve' is 'loss', expected objective, train_loss or val_loss");
  EXPECT_THAT(error_of("  rule: lcm\n  curve: [val_loss]\n"),
              HasSubstr("s.yaml:8:10: 'curve' is a list, expected objective, train_loss or "
                        "val_loss"));
  EXPECT_THAT(error_of("  rule: median\n  curve: val_loss\n"),
              HasSubstr("s.yaml:8:3: 'curve' is an option of lcm, not median"));
  // At max_resource's line, the same rule as when it equals min_resource (it said "or >=
  // min_resource" at `stopping`).
  EXPECT_EQ(error_of("  rule: asha\n  min_resource: 100\n  max_resource: 50\n"),
            "s.yaml:9:17: 'max_resource' is 50, below the first rung (min_resource 100): asha "
            "would never act, expected 0 (no last rung) or above min_resource");
  // One range, the one that is checked (0.5 was told [1.0, ...], then 1.0 "at least 1.01").
  for (const char* eta : {"0.5", "1.0", "1.005"}) {
    EXPECT_THAT(error_of(std::string("  rule: asha\n  eta: ") + eta + "\n"),
                HasSubstr("s.yaml:8:8: 'eta' is '" + std::string(eta) +
                          "', expected a number in [1.01, 1e+06]"));
  }
  EXPECT_EQ(error_of("  rule: asha\n  eta: 1.01\n"), "(accepted)");
}

TEST(StoppingConfig, AsValidRuleWithAFinalRungOnItsFirstIsRefused) {
  EXPECT_EQ(error_of("  rule: asha\n  min_resource: 100\n  max_resource: 100\n"),
            "s.yaml:9:17: 'max_resource' is 100, the first rung (min_resource 100): asha would "
            "never act, expected 0 (no last rung) or above min_resource");
}

// A rule that can never act, found once the data is known (check_study_data, before krill tune
// opens the database). Fashion-MNIST cut to 10,000 images, 20% held out: 8,000 to train on; with
// batch 64 that is 125 batches per epoch.
const DataShape kData{
    .train = 8000, .validation = 2000, .features = 784, .classes = 10, .image = {1, 28, 28}};

std::string never_acts(const std::string& training, const std::string& stopping,
                       int64_t trials = 20, const DataShape& data = kData) {
  try {
    StudyFile file = parse_study_file("study: s\ndata: fashion-mnist\ntrials: 20\ntraining:\n" +
                                          training + "stopping:\n" + stopping,
                                      "s.yaml");
    file.trials = trials;  // as krill tune --trials sets it
    check_study_data(file, data);
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(StoppingConfig, LcmCheckpointsNoTrialReportsAtAreRefused) {
  // One point per epoch of 125 batches, 2 epochs: steps 125 and 250.
  const std::string two_epochs = "  batch: 64\n  epochs: 2\n";
  EXPECT_EQ(never_acts(two_epochs, "  rule: lcm\n  accumulate: 5\n  checkpoints: [100, 200]\n"),
            "s.yaml:10:16: checkpoints 100 and 200 are never reached before a trial's last step "
            "(no rule stops a trial that has trained its whole length), so lcm would never act: "
            "trials report at steps 125 and 250 (one per epoch of 125 batches, the last at step "
            "250), expected checkpoints among these steps, before the last");
  EXPECT_EQ(never_acts(two_epochs, "  rule: lcm\n  accumulate: 5\n  checkpoints: [125, 200]\n"),
            "s.yaml:10:16: checkpoint 200 is never reached before a trial's last step (no rule "
            "stops a trial that has trained its whole length): trials report at steps 125 and 250 "
            "(one per epoch of 125 batches, the last at step 250), expected checkpoints among "
            "these steps, before the last");
  // 250 is every trial's last step: its report is the trial's result, not a point to stop at.
  EXPECT_THAT(never_acts(two_epochs, "  rule: lcm\n  accumulate: 5\n  checkpoints: [125, 250]\n"),
              HasSubstr("checkpoint 250 is never reached before a trial's last step"));
  EXPECT_EQ(never_acts(two_epochs, "  rule: lcm\n  accumulate: 5\n  checkpoints: [125]\n"),
            "(accepted)");
  // eval_every 50 up to 250: 50, 100, ..., 250.
  EXPECT_EQ(never_acts(two_epochs + "  eval_every: 50\n",
                       "  rule: lcm\n  accumulate: 5\n  checkpoints: [100, 200]\n"),
            "(accepted)");
  EXPECT_EQ(never_acts("  iterations: 500\n  eval_every: 25\n",
                       "  rule: lcm\n  accumulate: 5\n  checkpoints: [110, 200, 600]\n"),
            "s.yaml:10:16: checkpoints 110 and 600 are never reached before a trial's last step "
            "(no rule stops a trial that has trained its whole length): trials report at steps "
            "25, 50, 75, ..., 500 (every 25 iterations, the last at step 500), expected "
            "checkpoints among these steps, before the last");
}

TEST(StoppingConfig, ACheckpointSomeConfigurationReachesIsKept) {
  const std::string file =
      "study: s\ndata: fashion-mnist\ntrials: 20\ntraining:\n  iterations: 300\n"
      "search:\n  eval_every: {type: choice, values: [40, 60]}\n"
      "stopping:\n  rule: lcm\n  accumulate: 5\n  checkpoints: [%s]\n";
  const auto check = [&](const std::string& checkpoints) -> std::string {
    std::string text = file;
    text.replace(text.find("%s"), 2, checkpoints);
    try {
      check_study_data(parse_study_file(text, "s.yaml"), kData);
    } catch (const InvalidArgument& e) {
      return e.what();
    }
    return "(accepted)";
  };
  EXPECT_EQ(check("40, 60, 280"), "(accepted)");  // each reached by one eval_every
  EXPECT_THAT(check("40, 60, 300"),               // 300: every trial's last step
              HasSubstr("checkpoint 300 is never reached before a trial's last step"));
  EXPECT_EQ(check("50"),
            "s.yaml:11:16: checkpoint 50 is never reached before a trial's last step (no rule "
            "stops a trial that has trained its whole length), so lcm would never act: trials "
            "report every 40 to 60 iterations and at their last step, 300, expected checkpoints "
            "among these steps, before the last");
}

TEST(StoppingConfig, RulesWaitingForMoreTrialsThanTheStudyHasAreRefused) {
  const std::string training = "  batch: 64\n";
  EXPECT_EQ(never_acts(training, "  rule: lcm\n", 8),
            "s.yaml:7:9: 'accumulate' is 10 (the default) and the study has 8 trials: lcm decides "
            "once that many trials are complete, so it would never act, expected accumulate below "
            "the number of trials");
  EXPECT_EQ(never_acts(training, "  rule: lcm\n  accumulate: 5\n", 5),
            "s.yaml:8:15: 'accumulate' is 5 and the study has 5 trials: lcm decides once that "
            "many trials are complete, so it would never act, expected accumulate below the number "
            "of trials");
  EXPECT_EQ(never_acts(training + "  epochs: 2\n", "  rule: lcm\n  accumulate: 5\n", 6),
            "(accepted)");
  EXPECT_EQ(never_acts(training, "  rule: median\n  min_trials: 3\n", 2),
            "s.yaml:8:15: 'min_trials' is 3 and the study has 2 trials: the median rule decides "
            "once that many trials are complete, so it would never act, expected min_trials below "
            "the number of trials");
  EXPECT_EQ(never_acts(training, "  rule: asha\n  min_resource: 10\n", 1),
            "s.yaml:7:9: the study has 1 trial: asha compares trials at its rungs, so it would "
            "never act, expected at least 2 trials");
  EXPECT_EQ(never_acts(training, "  rule: hyperband\n  min_resource: 10\n", 3),
            "s.yaml:7:9: 'brackets' is 3 (the default) and the study has 3 trials: hyperband "
            "compares the trials of a bracket at its rungs, so it would never act, expected more "
            "trials than brackets");
}

TEST(StoppingConfig, RulesStartingAfterTheLastStepAreRefused) {
  EXPECT_EQ(never_acts("  iterations: 500\n  eval_every: 100\n", "  rule: median\n  grace: 1000\n"),
            "s.yaml:9:10: 'grace' is 1000: the median rule decides from that step on, before a "
            "trial's last step, and trials report at steps 100, 200, 300, ..., 500 (every 100 "
            "iterations, the last at step 500), so it would never act, expected grace <= 400");
  // Step 500 is the last: the trial's result, no rule decides there.
  EXPECT_THAT(
      never_acts("  iterations: 500\n  eval_every: 100\n", "  rule: median\n  grace: 500\n"),
      HasSubstr("expected grace <= 400"));
  EXPECT_EQ(never_acts("  iterations: 500\n  eval_every: 100\n", "  rule: median\n  grace: 400\n"),
            "(accepted)");
  // asha's default first rung is step 100; two epochs of 64 batches of 125 report at 64 and at
  // their last step, 128.
  EXPECT_EQ(never_acts("  batch: 125\n  epochs: 2\n", "  rule: asha\n"),
            "s.yaml:8:9: 'min_resource' is 100 (the default): asha's first rung is at that step, "
            "a rung decides before a trial's last step, and trials report at steps 64 and 128 "
            "(one per epoch of 64 batches, the last at step 128), so it would never act, expected "
            "min_resource <= 64");
  EXPECT_EQ(never_acts("  batch: 125\n  epochs: 3\n", "  rule: asha\n"), "(accepted)");
}

TEST(StoppingConfig, RulesOfTrialsThatReportOnlyAtTheirLastStepAreRefused) {
  // One epoch of 64 batches of 125 and no eval_every: a single point, the trial's result.
  EXPECT_EQ(never_acts("  batch: 125\n", "  rule: median\n  min_trials: 3\n"),
            "s.yaml:7:9: trials report at step 64 (one per epoch of 64 batches, the last at step "
            "64): only at their last step, where no rule stops a trial (it has trained its whole "
            "length), so median would never act, expected eval_every below the last step or more "
            "than one epoch");
  EXPECT_EQ(never_acts("  batch: 125\n  eval_every: 32\n", "  rule: median\n  min_trials: 3\n"),
            "(accepted)");
}

TEST(StoppingConfig, TooManyConfigurationsToListSkipsTheStepChecks) {
  // 1000 batches x 1000 epochs is more than the 100,000 configurations the check lists.
  StudyFile file = parse_study_file(
      "data: fashion-mnist\ntrials: 20\nsearch:\n  batch: {type: int, low: 1, high: 1000}\n"
      "  epochs: {type: int, low: 1, high: 1000}\n"
      "stopping:\n  rule: lcm\n  accumulate: 5\n  checkpoints: [1]\n",
      "s.yaml");
  EXPECT_EQ(report_steps(file, kData.train), std::nullopt);
  EXPECT_NO_THROW(check_study_data(file, kData));
}

}  // namespace
}  // namespace krill::tune
