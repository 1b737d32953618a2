// Parts of the krill program tested on their own: the ETA of the progress line, at this run's
// pace (the work done before it, a resumed study's trials, counts in the total but not in the pace:
// a resumed study of 12 trials with 10 done showed "ETA 0.4 s" when about 4 s were left), and the
// reasons `krill show` gives.
#include <gtest/gtest.h>

#include "apps/krill/progress.hpp"

namespace {

using krill::cli::eta_seconds;

TEST(Progress, TheEtaIsAtThisRunsPace) {
  EXPECT_DOUBLE_EQ(eta_seconds(2.0, 1, 12, 0), 22.0);  // 2 s a trial, 11 left
  // Resumed with 10 of 12 done: one trial in 2 s, one left: 2 s (not 2 / 11 x 1).
  EXPECT_DOUBLE_EQ(eta_seconds(2.0, 11, 12, 10), 2.0);
  EXPECT_DOUBLE_EQ(eta_seconds(2.0, 12, 12, 10), 0.0);  // done
  EXPECT_DOUBLE_EQ(eta_seconds(5.0, 10, 12, 10), 0.0);  // nothing finished yet in this run
  // A training resumed at step 500 of 1,000: 100 steps in 1 s, 400 left.
  EXPECT_DOUBLE_EQ(eta_seconds(1.0, 600, 1000, 500), 4.0);
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
  t.decisions = {{.step = 10, .reason = "lcm: accumulating"},
                 {.step = 20,
                  .action = krill::hpo::Action::Stop,
                  .reason = "lcm: predicts 0.49, rank 83% > 50%: stop",
                  .prediction = 0.49}};
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
