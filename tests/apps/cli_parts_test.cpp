// Parts of the krill program tested on their own: the ETA of the progress line, at this run's
// pace (the work done before it, a resumed study's trials, counts in the total but not in the pace:
// a resumed study of 12 trials with 10 done showed "ETA 0.4 s" when about 4 s were left), and the
// reasons `krill show` gives.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "apps/krill/progress.hpp"

namespace {

using krill::cli::eta_seconds;

TEST(Progress, TheEtaIsAtThisRunsPace) {
  EXPECT_DOUBLE_EQ(eta_seconds(2.0, 1, 12, 0).value(), 22.0);  // 2 s a trial, 11 left
  // Resumed with 10 of 12 done: one trial in 2 s, one left: 2 s (not 2 / 11 x 1).
  EXPECT_DOUBLE_EQ(eta_seconds(2.0, 11, 12, 10).value(), 2.0);
  EXPECT_DOUBLE_EQ(eta_seconds(2.0, 12, 12, 10).value(), 0.0);  // done
  // Nothing finished yet in this run: no pace, no estimate (it said 0.0 s).
  EXPECT_FALSE(eta_seconds(5.0, 10, 12, 10));
  EXPECT_FALSE(eta_seconds(5.0, 0, 12, 0));
  // A training resumed at step 500 of 1,000: 100 steps in 1 s, 400 left.
  EXPECT_DOUBLE_EQ(eta_seconds(1.0, 600, 1000, 500).value(), 4.0);
}

}  // namespace

#include "apps/krill/study_summary.hpp"

namespace {

using krill::hpo::TrialRecord;
using krill::hpo::TrialState;

// Why a trial is not Completed, as `krill show` prints it.
TEST(StudySummary, TheReasonOfEachState) {
  TrialRecord t;
  t.state = TrialState::Stopped;
  krill::hpo::DecisionRecord accumulating, stop;
  accumulating.step = 10;
  accumulating.reason = "lcm: accumulating";
  stop.step = 20;
  stop.action = krill::hpo::Action::Stop;
  stop.reason = "lcm: predicts 0.49, rank 83% > 50%: stop";
  stop.prediction = 0.49;
  t.decisions = {accumulating, stop};
  EXPECT_EQ(krill::cli::reason_of(t), "step 20: lcm: predicts 0.49, rank 83% > 50%: stop");
  t.decisions.clear();
  EXPECT_EQ(krill::cli::reason_of(t), "(stopped; no decision stored)");
  t.state = TrialState::Failed;
  t.error = "dropout is 1, expected [0, 1)";
  EXPECT_EQ(krill::cli::reason_of(t), "dropout is 1, expected [0, 1)");
  t.error.clear();
  EXPECT_EQ(krill::cli::reason_of(t), "(no message)");
  t.state = TrialState::Completed;
  EXPECT_EQ(krill::cli::reason_of(t), "");
}

}  // namespace

#include <cstdio>

namespace {

using krill::hpo::Action;

krill::hpo::DecisionRecord decision(int64_t step, std::string reason) {
  krill::hpo::DecisionRecord d;
  d.step = step;
  d.reason = std::move(reason);
  return d;
}

krill::hpo::DecisionRecord exploit(int64_t step, int64_t donor, double lr) {
  krill::hpo::DecisionRecord d = decision(step, "pbt: bottom quantile");
  d.action = Action::Exploit;
  d.donor = donor;
  d.donor_step = step;
  d.params = {{"lr", lr}, {"batch", int64_t{32}}};
  return d;
}

// A PBT member: sampled lr 0.0009; copied trial 0 at step 100 (lr 0.0488), then trial 2 at step
// 300 (lr 0.02); trained to step 400.
TrialRecord pbt_member() {
  TrialRecord t;
  t.number = 1;
  t.state = TrialState::Completed;
  t.value = 0.85;
  t.params = {{"lr", 0.0009}, {"batch", int64_t{32}}};
  t.started = 100;
  t.finished = 110;
  for (int64_t step : {100, 200, 300, 400}) {
    t.reports.emplace_back(step, 0.5, std::map<std::string, double>{{"lr", 0.01}});
  }
  t.decisions = {exploit(100, 0, 0.0488), decision(200, "pbt: rank 2 of 4 at step 200"),
                 exploit(300, 2, 0.02)};
  return t;
}

TEST(StudySummary, APbtMembersScheduleAndExploits) {
  const TrialRecord t = pbt_member();
  EXPECT_EQ(krill::cli::schedule_text(t),
            "steps 0-100 lr=0.0009 (sampled); 100-300 lr=0.0488 (copied trial 0 at step 100); "
            "300-400 lr=0.02 (copied trial 2 at step 300)");
  EXPECT_EQ(krill::cli::exploits_text(t),
            "step 100: copied trial 0 at step 100, now lr=0.0488; "
            "step 300: copied trial 2 at step 300, now lr=0.02");
  TrialRecord plain = t;
  plain.decisions.resize(2);
  plain.decisions[0] = decision(100, "pbt: rank 1 of 4 at step 100");
  EXPECT_EQ(krill::cli::schedule_text(plain), "steps 0-400 batch=32 lr=0.0009 (sampled)");
  EXPECT_EQ(krill::cli::exploits_text(plain), "");
}

std::string summary_of(const std::vector<TrialRecord>& trials, bool all) {
  krill::hpo::StudyRecord study;
  study.name = "pbt-demo";
  study.objective = "val_accuracy";
  study.direction = krill::hpo::Direction::Maximize;
  study.n_trials = static_cast<int64_t>(trials.size());
  ::testing::internal::CaptureStdout();
  krill::cli::print_study_summary(study, trials, 5, all);
  std::fflush(stdout);
  return ::testing::internal::GetCapturedStdout();
}

TEST(StudySummary, APbtStudyShowsTheBestMembersScheduleAndFinalParameters) {
  TrialRecord other = pbt_member();
  other.number = 0;
  other.value = 0.8;
  other.decisions.clear();
  other.params = {{"lr", 0.04}, {"batch", int64_t{32}}};
  // Trial 2 copied trial 0 at step 200: the best weights (trial 1's) went 0 -> 2 -> 1.
  TrialRecord two = other;
  two.number = 2;
  two.value = 0.7;
  two.params = {{"lr", 0.1}, {"batch", int64_t{32}}};
  two.decisions = {exploit(200, 0, 0.05)};
  const std::string out = summary_of({other, pbt_member(), two}, false);
  EXPECT_NE(out.find("PBT: 3 exploits"), std::string::npos) << out;
  EXPECT_NE(out.find("best weights' schedule (the members that trained them): steps 0-200 "
                     "lr=0.04 (trial 0); 200-300 lr=0.05 (trial 2, copied trial 0 at step 200); "
                     "300-400 lr=0.02 (trial 1, copied trial 2 at step 300)\n"),
            std::string::npos)
      << out;
  EXPECT_EQ(krill::cli::weights_path_text({other, pbt_member(), two}, 0),
            "steps 0-400 batch=32 "
            "lr=0.04 (trial 0)");
  // A donor missing from the list ends the walk at the copy.
  EXPECT_EQ(krill::cli::weights_path_text({pbt_member()}, 1),
            "steps 300-400 batch=32 lr=0.02 (trial 1, copied trial 2 at step 300)");
  EXPECT_NE(out.find("best parameters: batch=32 lr=0.02 (final: from its copy of trial 2 at "
                     "step 300)\nsampled at the start: batch=32 lr=0.0009\n"),
            std::string::npos)
      << out;
  // --all: each member's exploits, readably.
  const std::string all = summary_of({other, pbt_member()}, true);
  EXPECT_NE(all.find("batch=32 lr=0.0009; PBT: step 100: copied trial 0 at step 100, now "
                     "lr=0.0488; step 300: copied trial 2 at step 300, now lr=0.02\n"),
            std::string::npos)
      << all;
  // Not a PBT study: no schedule, the parameters as sampled.
  TrialRecord plain = other;
  const std::string no_pbt = summary_of({plain}, false);
  EXPECT_EQ(no_pbt.find("PBT"), std::string::npos) << no_pbt;
  EXPECT_EQ(no_pbt.find("schedule"), std::string::npos) << no_pbt;
  EXPECT_NE(no_pbt.find("best parameters: batch=32 lr=0.04\n"), std::string::npos) << no_pbt;
}

}  // namespace

#include "apps/krill/command_line.hpp"

namespace {

using krill::cli::integer_error;
using krill::cli::parse_error_message;
using krill::cli::read_integers_strictly;
using krill::cli::unknown_word;
using ::testing::HasSubstr;

// A command line shaped as krill's: commands, a command with commands of its own, options.
struct Commands {
  CLI::App app{"test"};
  int64_t batch = 0;
  uint64_t seed = 0;
  int port = 0;
  int threads = 0;
  std::string file;
  Commands() {
    CLI::App* train = app.add_subcommand("train", "");
    train->add_option("--batch", batch, "");
    train->add_option("--seed", seed, "");
    train->add_option("file", file, "");
    train->add_option("--study", file, "");
    train->add_option("--port", port, "")->check(CLI::Range(0, 65535));
    train->add_option("--threads", threads, "");
    CLI::App* study = app.add_subcommand("study", "");
    study->add_subcommand("rename", "")->add_option("names", file, "");
    study->add_subcommand("delete", "");
    read_integers_strictly(app);
  }
  std::optional<std::string> unknown(std::vector<std::string> args) {
    return unknown_word(app, args);
  }
};

TEST(CommandLine, AMisspelledCommandIsNamedWithTheNearestOne) {
  Commands c;
  const auto top = c.unknown({"trian", "--batch", "3"});
  ASSERT_TRUE(top);
  EXPECT_THAT(*top, HasSubstr("unknown command 'trian' of `krill`, did you mean 'train'?"));
  EXPECT_THAT(*top, HasSubstr("the commands: train or study"));
  const auto nested = c.unknown({"study", "renme", "a", "b"});
  ASSERT_TRUE(nested);
  EXPECT_THAT(*nested, HasSubstr("unknown command 'renme' of `krill study`, did you mean "
                                 "'rename'?"));
  const auto none = c.unknown({"study"});
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, "`krill study` needs a command: rename or delete (see krill study --help)");
  const auto far = c.unknown({"xyzzy"});
  ASSERT_TRUE(far);
  EXPECT_THAT(*far, ::testing::Not(HasSubstr("did you mean")));
  EXPECT_THAT(*far, HasSubstr("unknown command 'xyzzy'"));
}

TEST(CommandLine, AMisspelledOptionIsNamedWithTheNearestOneOfItsCommand) {
  Commands c;
  const auto e = c.unknown({"train", "--bacth=4", "f"});
  ASSERT_TRUE(e);
  EXPECT_THAT(*e, HasSubstr("unknown option '--bacth' of `krill train`, did you mean '--batch'?"));
  // An option of another command is unknown here.
  const auto other = c.unknown({"study", "--seed", "1"});
  ASSERT_TRUE(other);
  EXPECT_THAT(*other, HasSubstr("unknown option '--seed' of `krill study`"));
}

TEST(CommandLine, KnownWordsValuesAndPositionalsAreLeftToTheParser) {
  Commands c;
  EXPECT_THAT(c.unknown({}).value_or(""), HasSubstr("`krill` needs a command: train or study"));
  EXPECT_FALSE(c.unknown({"train", "--batch", "-3", "--seed=2", "trian.yaml"}));
  EXPECT_FALSE(c.unknown({"train", "--", "--not-an-option"}));
  // An option's value that looks like an option is its value.
  EXPECT_FALSE(c.unknown({"train", "--study", "--odd-name", "f"}));
  EXPECT_TRUE(c.unknown({"train", "--study=x", "--odd-name"}));
  EXPECT_FALSE(c.unknown({"study", "rename", "old", "new"}));
  EXPECT_FALSE(c.unknown({"--help"}));
  EXPECT_FALSE(c.unknown({"study", "--help"}));
  EXPECT_FALSE(c.unknown({"train", "-h"}));
}

TEST(CommandLine, IntegersAreDecimalAndInTheirTypesRange) {
  EXPECT_EQ(integer_error("0", true), "");
  EXPECT_EQ(integer_error("18446744073709551615", true), "");   // 2^64 - 1
  EXPECT_EQ(integer_error("-9223372036854775808", false), "");  // -2^63
  EXPECT_THAT(integer_error("18446744073709551616", true),
              HasSubstr("'18446744073709551616' is out of range, expected an integer from 0 to "
                        "18446744073709551615"));
  EXPECT_THAT(integer_error("9223372036854775808", false), HasSubstr("is out of range"));
  for (const char* bad : {"-1", "0x10", "1e3", "", " 1", "1.5", "+3", "12abc"}) {
    EXPECT_THAT(integer_error(bad, true), HasSubstr("is not a decimal integer")) << bad;
  }
  EXPECT_THAT(integer_error("0x10", false),
              HasSubstr("expected an integer from -9223372036854775808 to 9223372036854775807"));
}

TEST(CommandLine, IntegerOptionsReadDecimalsStrictly) {
  const auto parse = [](std::vector<std::string> args) {
    auto c = std::make_unique<Commands>();
    std::reverse(args.begin(), args.end());  // CLI11 takes them last first
    c->app.parse(args);
    return c;
  };
  // Leading zeros are decimal, not octal (CLI11 alone reads "010" as 8).
  EXPECT_EQ(parse({"train", "--batch", "010"})->batch, 10);
  EXPECT_EQ(parse({"train", "--batch", "-010"})->batch, -10);
  // Also an option with a validator of its own (its type name is "INT:INT in [0 - 65535]").
  EXPECT_EQ(parse({"train", "--port", "010"})->port, 10);
  EXPECT_THROW(parse({"train", "--port", "0x10"}), CLI::ValidationError);
  EXPECT_EQ(parse({"train", "--seed", "18446744073709551615"})->seed, 18446744073709551615u);
  // CLI11 alone: 2^64 - 1 for -1, the largest value for one too large.
  EXPECT_THROW(parse({"train", "--seed", "-1"}), CLI::ValidationError);
  EXPECT_THROW(parse({"train", "--seed", "99999999999999999999999"}), CLI::ValidationError);
  EXPECT_THROW(parse({"train", "--batch", "0x10"}), CLI::ValidationError);
  try {
    parse({"train", "--seed", "-1"});
    ADD_FAILURE() << "--seed -1 was read";
  } catch (const CLI::ValidationError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("--seed: '-1' is not a decimal integer"));
  }
}

TEST(CommandLine, AnIntegerOutsideItsOptionsRangeIsNamedWithIt) {
  const auto error = [](std::vector<std::string> args) -> std::string {
    Commands c;
    std::reverse(args.begin(), args.end());
    try {
      c.app.parse(args);
    } catch (const CLI::ParseError& e) {
      return parse_error_message(e);
    }
    return "";
  };
  // A CLI::Range's bounds are the range named (was the 64-bit one).
  EXPECT_THAT(error({"train", "--port", "0x10"}),
              HasSubstr("'0x10' is not a decimal integer, expected an integer from 0 to 65535"));
  EXPECT_THAT(error({"train", "--port", "70000"}), HasSubstr("70000"));
  // In the 64-bit range but not an int's: CLI11 said "Could not convert: --threads = ...".
  EXPECT_EQ(error({"train", "--threads", "99999999999"}),
            "--threads: '99999999999' is too large for this option");
  EXPECT_EQ(error({"train", "--threads", "-99999999999"}),
            "--threads: '-99999999999' is too small for this option");
  EXPECT_EQ(error({"train", "--threads", "2147483647"}), "");
  // Other parse errors keep CLI11's words.
  EXPECT_THAT(error({"train", "--batch"}), HasSubstr("--batch"));
}

}  // namespace
