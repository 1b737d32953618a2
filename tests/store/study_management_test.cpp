// Renaming, deleting and copying studies (`krill study`), run against every storage as the
// contract suite is: what a storage must do for them, and hpo::copy_study between any two.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "core/error.hpp"
#include "storage_kinds.hpp"
#include "store/memory_storage.hpp"
#include "store/sqlite_storage.hpp"
#include "store_test_util.hpp"

namespace krill::store {
namespace {

using hpo::StudyRecord;
using hpo::TrialRecord;
using hpo::TrialState;
using testing::claim_request;
using testing::expect_same_trial;
using ::testing::HasSubstr;
using testing::same_bits;
using testing::sample_run;
using testing::sample_study;
using testing::sample_trial;

using testing::Kind;
using testing::kind_name;

// Everything expect_same_trial leaves out: the curve's metrics, the decisions with their
// parameters, the lease's owner and the re-queues.
void expect_same_history(const TrialRecord& a, const TrialRecord& b) {
  SCOPED_TRACE("trial " + std::to_string(a.number));
  expect_same_trial(a, b);
  ASSERT_EQ(a.reports.size(), b.reports.size());
  for (size_t i = 0; i < a.reports.size(); ++i) {
    ASSERT_EQ(a.reports[i].metrics.size(), b.reports[i].metrics.size()) << "report " << i;
    for (const auto& [name, value] : a.reports[i].metrics) {
      ASSERT_TRUE(b.reports[i].metrics.contains(name)) << name;
      EXPECT_TRUE(same_bits(value, b.reports[i].metrics.at(name))) << name;
    }
  }
  ASSERT_EQ(a.decisions.size(), b.decisions.size());
  for (size_t i = 0; i < a.decisions.size(); ++i) {
    const hpo::DecisionRecord &x = a.decisions[i], &y = b.decisions[i];
    EXPECT_EQ(x.step, y.step);
    EXPECT_EQ(x.action, y.action);
    EXPECT_EQ(x.reason, y.reason);
    EXPECT_EQ(x.prediction, y.prediction);
    EXPECT_EQ(x.donor, y.donor);
    EXPECT_EQ(x.donor_step, y.donor_step);
    EXPECT_EQ(x.params, y.params);
  }
  EXPECT_EQ(a.owner, b.owner);
  EXPECT_EQ(a.requeues, b.requeues);
}

// A study with a trial in every state and every kind of history: a curve with metrics (one value
// NaN), attributes, an early stop with its prediction, a PBT exploit with its new parameters, a
// failure, a divergence, a re-queued trial and one still running.
StudyRecord fill_study(hpo::Storage& storage, const std::string& name) {
  StudyRecord study = sample_study(name);
  study.id = storage.create_study(study);
  const int64_t id = study.id;
  storage.add_run(id, sample_run(name + "-run"));

  TrialRecord done = sample_trial(0);
  done.owner = name + "-run";
  storage.start_trial(id, done);
  storage.add_report(id, 0, {50, 0.9, {{"lr", 0.1}, {"train_loss", 1.5}}});
  storage.add_report(id, 0, {100, std::numeric_limits<double>::quiet_NaN(), {{"lr", 0.05}}});
  done.state = TrialState::Completed;
  done.value = 0.25;
  done.attrs = {{"test_accuracy", 0.875}, {"iterations", 100}};
  done.finished = done.started + 12.5;
  storage.finish_trial(id, done);

  TrialRecord stopped = sample_trial(1, 2);
  stopped.requeues = 2;
  storage.start_trial(id, stopped);
  storage.add_report(id, 1, {50, 1.25, {}});
  hpo::DecisionRecord stop;
  stop.step = 50;
  stop.action = hpo::Action::Stop;
  stop.reason = "lcm: nearest trial 0 predicts 1.2, rank 100% > 50%: stop";
  stop.prediction = 1.2;
  storage.add_decision(id, 1, stop);
  stopped.state = TrialState::Stopped;
  stopped.value = 1.25;
  stopped.finished = stopped.started + 3;
  storage.finish_trial(id, stopped);

  TrialRecord member = sample_trial(2);
  storage.start_trial(id, member);
  hpo::DecisionRecord exploit;
  exploit.step = 50;
  exploit.action = hpo::Action::Exploit;
  exploit.reason = "pbt: copies trial 0";
  exploit.donor = 0;
  exploit.donor_step = 50;
  exploit.params = {{"lr", 0.012}, {"width", int64_t{128}}, {"schedule", std::string("step")}};
  storage.add_decision(id, 2, exploit);
  member.state = TrialState::Failed;
  member.error = "dropout is 1.0, expected < 1";
  member.finished = member.started + 1;
  storage.finish_trial(id, member);

  TrialRecord diverged = sample_trial(3);
  storage.start_trial(id, diverged);
  diverged.state = TrialState::Diverged;
  diverged.error = "loss is nan at iteration 7";
  storage.finish_trial(id, diverged);

  TrialRecord running = sample_trial(4, 1);
  running.owner = name + "-run";
  storage.start_trial(id, running);
  storage.add_report(id, 4, {50, 0.5, {{"lr", 0.1}}});
  return study;
}

class StudyManagementTest : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    std::string why;
    storage_ = place_.open(GetParam(), &why);
    if (!storage_) GTEST_SKIP() << why;
  }

  testing::TestStorage place_;
  std::unique_ptr<hpo::Storage> storage_;
};

TEST_P(StudyManagementTest, RenameKeepsTheStudyItsTrialsAndRuns) {
  const StudyRecord a = fill_study(*storage_, "a");
  const StudyRecord b = fill_study(*storage_, "b");
  const auto trials = storage_->trials(a.id);
  storage_->rename_study(a.id, "c");
  EXPECT_EQ(storage_->find_study("a"), std::nullopt);
  const auto c = storage_->find_study("c");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->id, a.id);
  EXPECT_EQ(c->config, a.config);
  EXPECT_EQ(c->created, a.created);
  const auto after = storage_->trials(c->id);
  ASSERT_EQ(after.size(), trials.size());
  for (size_t i = 0; i < trials.size(); ++i) expect_same_history(after[i], trials[i]);
  EXPECT_EQ(storage_->runs(c->id).size(), 1u);
  ASSERT_EQ(storage_->studies().size(), 2u);
  EXPECT_EQ(storage_->studies()[0].name, "c");  // in creation order still
}

TEST_P(StudyManagementTest, RenameRefusesATakenNameAndAMissingStudy) {
  const int64_t a = storage_->create_study(sample_study("a"));
  storage_->create_study(sample_study("b"));
  try {
    storage_->rename_study(a, "b");
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_THAT(e.what(), HasSubstr("study 'b' already exists"));
  }
  EXPECT_TRUE(storage_->find_study("a"));
  EXPECT_THROW(storage_->rename_study(a + 100, "z"), InvalidArgument);
  EXPECT_EQ(storage_->find_study("z"), std::nullopt);
}

TEST_P(StudyManagementTest, DeleteRemovesTheStudyWithItsTrialsAndRunsAndNothingElse) {
  const StudyRecord a = fill_study(*storage_, "a");
  const StudyRecord b = fill_study(*storage_, "b");
  const auto b_trials = storage_->trials(b.id);
  storage_->delete_study(a.id);

  EXPECT_EQ(storage_->find_study("a"), std::nullopt);
  ASSERT_EQ(storage_->studies().size(), 1u);
  EXPECT_EQ(storage_->studies()[0].name, "b");
  EXPECT_TRUE(storage_->trials(a.id).empty());
  EXPECT_TRUE(storage_->runs(a.id).empty());
  EXPECT_FALSE(storage_->heartbeat("a-run", 1e9)) << "the deleted study's run is gone";
  const auto after = storage_->trials(b.id);
  ASSERT_EQ(after.size(), b_trials.size());
  for (size_t i = 0; i < after.size(); ++i) expect_same_history(after[i], b_trials[i]);
  EXPECT_TRUE(storage_->heartbeat("b-run", 1e9));

  EXPECT_THROW(storage_->delete_study(a.id), InvalidArgument);
  // The name is free again, and the new study starts empty (even if it gets the old id).
  const int64_t again = storage_->create_study(sample_study("a"));
  EXPECT_TRUE(storage_->trials(again).empty());
  const auto claim = storage_->claim_trial(again, claim_request("me", 5));
  ASSERT_TRUE(claim.trial);
  EXPECT_EQ(claim.trial->number, 0);
  EXPECT_FALSE(claim.requeued);
  EXPECT_EQ(claim.finished, 0);
  EXPECT_EQ(claim.running, 1);
}

INSTANTIATE_TEST_SUITE_P(Storages, StudyManagementTest,
                         ::testing::Values(Kind::Memory, Kind::Sqlite, Kind::Postgres),
                         [](const auto& info) { return kind_name(info.param); });

// hpo::copy_study from one storage into another, for every pair of implementations.
class CopyStudyTest : public ::testing::TestWithParam<std::tuple<Kind, Kind>> {
 protected:
  void SetUp() override {
    std::string why;
    from_ = from_place_.open(std::get<0>(GetParam()), &why);
    if (from_) to_ = to_place_.open(std::get<1>(GetParam()), &why);
    if (!from_ || !to_) GTEST_SKIP() << why;
  }

  testing::TestStorage from_place_, to_place_;
  std::unique_ptr<hpo::Storage> from_, to_;
};

TEST_P(CopyStudyTest, CopiesEveryTrialWithItsWholeHistory) {
  fill_study(*from_, "other");
  const StudyRecord study = fill_study(*from_, "s");
  to_->create_study(sample_study("already-there"));

  const int64_t id = hpo::copy_study(*from_, study, *to_, "s-copy");
  const auto copy = to_->find_study("s-copy");
  ASSERT_TRUE(copy);
  EXPECT_EQ(copy->id, id);
  StudyRecord expected = study;
  expected.id = id;
  expected.name = "s-copy";
  testing::expect_same_study(*copy, expected);

  const auto original = from_->trials(study.id);
  const auto copied = to_->trials(id);
  ASSERT_EQ(copied.size(), original.size());
  for (size_t i = 0; i < copied.size(); ++i) expect_same_history(copied[i], original[i]);
  EXPECT_TRUE(to_->runs(id).empty()) << "runs are processes of the source, not copied";
  EXPECT_EQ(from_->trials(study.id).size(), 5u) << "the source is left as it was";

  // The running trial's run is not in the destination: a study resumed there re-queues it, with
  // its parameters, and then asks for new trials within the budget.
  to_->add_run(id, sample_run("me"));
  const auto claim = to_->claim_trial(id, claim_request("me", 6));
  ASSERT_TRUE(claim.trial);
  EXPECT_TRUE(claim.requeued);
  EXPECT_EQ(claim.trial->number, 4);
  EXPECT_EQ(claim.trial->params, original[4].params);
  EXPECT_EQ(claim.finished, 4);
  const auto next = to_->claim_trial(id, claim_request("me", 6));
  ASSERT_TRUE(next.trial);
  EXPECT_EQ(next.trial->number, 5);
}

TEST_P(CopyStudyTest, RefusesANameTheDestinationHasAndChangesNothing) {
  const StudyRecord study = fill_study(*from_, "s");
  const StudyRecord there = fill_study(*to_, "s");
  const auto before = to_->trials(there.id);
  try {
    hpo::copy_study(*from_, study, *to_, "s");
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_THAT(e.what(), HasSubstr("study 's' already exists"));
  }
  ASSERT_EQ(to_->studies().size(), 1u);
  const auto after = to_->trials(there.id);
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) expect_same_history(after[i], before[i]);
}

INSTANTIATE_TEST_SUITE_P(
    StoragePairs, CopyStudyTest,
    ::testing::Combine(::testing::Values(Kind::Memory, Kind::Sqlite, Kind::Postgres),
                       ::testing::Values(Kind::Memory, Kind::Sqlite, Kind::Postgres)),
    [](const auto& info) {
      return kind_name(std::get<0>(info.param)) + "To" + kind_name(std::get<1>(info.param));
    });

// Within one storage, under another name: the two studies are independent afterwards.
TEST_P(StudyManagementTest, CopiesWithinOneStorageUnderAnotherName) {
  const StudyRecord study = fill_study(*storage_, "s");
  const int64_t id = hpo::copy_study(*storage_, study, *storage_, "t");
  EXPECT_NE(id, study.id);
  storage_->delete_study(study.id);
  const auto copied = storage_->trials(id);
  ASSERT_EQ(copied.size(), 5u);
  EXPECT_EQ(copied[2].decisions.at(0).params.at("lr"), hpo::ParamValue(0.012));
  EXPECT_THROW(hpo::copy_study(*storage_, *storage_->find_study("t"), *storage_, "t"),
               InvalidArgument);
}

// A source whose trials a destination refuses half-way: two trials with one number (no real
// storage holds that, which is the point: the second start_trial fails after the study and the
// first trial were written).
class BrokenSource final : public hpo::Storage {
 public:
  std::vector<TrialRecord> trials(int64_t) override { return {sample_trial(0), sample_trial(0)}; }

  std::optional<StudyRecord> find_study(const std::string&) override { return unused(); }
  std::vector<StudyRecord> studies() override { unused(); }
  int64_t create_study(const StudyRecord&) override { unused(); }
  void set_trial_budget(int64_t, int64_t) override { unused(); }
  void rename_study(int64_t, const std::string&) override { unused(); }
  void delete_study(int64_t) override { unused(); }
  void add_run(int64_t, const hpo::RunRecord&) override { unused(); }
  bool heartbeat(const std::string&, double) override { unused(); }
  void remove_run(const std::string&) override { unused(); }
  std::vector<hpo::RunRecord> runs(int64_t) override { unused(); }
  hpo::Claim claim_trial(int64_t, const hpo::ClaimRequest&) override { unused(); }
  void start_trial(int64_t, const TrialRecord&) override { unused(); }
  void add_report(int64_t, int64_t, const hpo::Report&, const std::string&) override { unused(); }
  void add_decision(int64_t, int64_t, const hpo::DecisionRecord&, const std::string&) override {
    unused();
  }
  void finish_trial(int64_t, const TrialRecord&) override { unused(); }

 private:
  [[noreturn]] static std::optional<StudyRecord> unused() {
    throw std::logic_error("copy_study reads trials() alone");
  }
};

// A storage with transactions (SQLite, PostgreSQL): a copy that fails half-way leaves nothing in
// the destination (one batch).
class TransactionalCopyTest : public ::testing::TestWithParam<Kind> {};

TEST_P(TransactionalCopyTest, ACopyThatFailsHalfWayLeavesNothing) {
  testing::TestStorage place;
  std::string why;
  auto to = place.open(GetParam(), &why);
  if (!to) GTEST_SKIP() << why;
  BrokenSource from;
  StudyRecord study = sample_study("s");
  study.id = 1;
  EXPECT_THROW(hpo::copy_study(from, study, *to, "s"), InvalidArgument);
  EXPECT_TRUE(to->studies().empty());
  // The storage works on: the name is free.
  EXPECT_NO_THROW(to->create_study(sample_study("s")));
}

INSTANTIATE_TEST_SUITE_P(Storages, TransactionalCopyTest,
                         ::testing::Values(Kind::Sqlite, Kind::Postgres),
                         [](const auto& info) { return kind_name(info.param); });

}  // namespace
}  // namespace krill::store
