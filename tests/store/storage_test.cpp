// The Storage contract, run against every implementation (MemoryStorage, SqliteStorage and
// PostgresStorage on the tests' server), in the spirit of Optuna's StorageSupplier: one suite, a
// factory per implementation (storage_kinds.hpp).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <thread>

#include "core/error.hpp"
#include "hpo/search_space.hpp"
#include "storage_kinds.hpp"
#include "store/memory_storage.hpp"
#include "store/sqlite_storage.hpp"
#include "store_test_util.hpp"

namespace krill::store {
namespace {

using hpo::Report;
using hpo::StudyRecord;
using hpo::TrialRecord;
using hpo::TrialState;
using testing::claim_request;
using ::testing::ElementsAre;
using testing::expect_same_study;
using testing::expect_same_trial;
using ::testing::HasSubstr;
using testing::same_bits;
using testing::sample_run;
using testing::sample_study;
using testing::sample_trial;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

using testing::Kind;

class StorageTest : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    std::string why;
    storage_ = place_.open(GetParam(), &why);
    if (!storage_) GTEST_SKIP() << why;
  }

  testing::TestStorage place_;
  std::unique_ptr<hpo::Storage> storage_;
};

TEST_P(StorageTest, CreatesAndFindsStudies) {
  EXPECT_EQ(storage_->find_study("fmnist"), std::nullopt);
  EXPECT_TRUE(storage_->studies().empty());
  StudyRecord study = sample_study("fmnist");
  study.id = storage_->create_study(study);
  EXPECT_GT(study.id, 0);
  auto found = storage_->find_study("fmnist");
  ASSERT_TRUE(found);
  expect_same_study(*found, study);
  EXPECT_EQ(storage_->find_study("fmnist2"), std::nullopt);
}

TEST_P(StorageTest, DuplicateStudyNameThrows) {
  storage_->create_study(sample_study("a"));
  try {
    storage_->create_study(sample_study("a"));
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_THAT(e.what(), HasSubstr("study 'a' already exists"));
  }
  EXPECT_EQ(storage_->studies().size(), 1u);
}

TEST_P(StorageTest, ListsStudiesInCreationOrder) {
  StudyRecord a = sample_study("zeta"), b = sample_study("alpha");
  b.direction = hpo::Direction::Maximize;
  b.objective = "val_accuracy";
  a.id = storage_->create_study(a);
  b.id = storage_->create_study(b);
  EXPECT_NE(a.id, b.id);
  auto all = storage_->studies();
  ASSERT_EQ(all.size(), 2u);
  expect_same_study(all[0], a);
  expect_same_study(all[1], b);
}

TEST_P(StorageTest, SetsTrialBudget) {
  const int64_t id = storage_->create_study(sample_study("s"));
  storage_->set_trial_budget(id, 500);
  EXPECT_EQ(storage_->find_study("s")->n_trials, 500);
  EXPECT_THROW(storage_->set_trial_budget(id + 100, 1), InvalidArgument);
}

TEST_P(StorageTest, RoundTripsEveryFieldExactly) {
  const int64_t id = storage_->create_study(sample_study("s"));
  TrialRecord t;
  t.number = 7;
  t.params = {{"tenth", 0.1},
              {"tiny", 1e-300},
              {"denormal", 5e-324},
              {"negzero", -0.0},
              {"huge", std::numeric_limits<double>::max()},
              {"inf", -kInf},
              {"two", 2.0},  // an integral float stays a float
              {"imax", std::numeric_limits<int64_t>::max()},
              {"imin", std::numeric_limits<int64_t>::min()},
              {"izero", int64_t{0}},
              {"unicode", std::string("héllo, 世界 🦐")},
              {"empty", std::string()},
              {"numeric_text", std::string("42")}};
  t.started = 1717171800.123456789;
  t.worker = 3;
  storage_->start_trial(id, t);
  t.reports = {{0, 2.302585092994046}, {50, 0.1}, {100, -0.0}};
  for (const Report& r : t.reports) storage_->add_report(id, t.number, r);
  t.state = TrialState::Completed;
  t.value = 0.8765432109876543;
  t.attrs = {{"test_accuracy", 0.87}, {"iterations", 9375}, {"zero", -0.0}};
  t.finished = 1717171900.987654321;
  storage_->finish_trial(id, t);

  auto trials = storage_->trials(id);
  ASSERT_EQ(trials.size(), 1u);
  expect_same_trial(trials[0], t);
  EXPECT_TRUE(std::signbit(std::get<double>(trials[0].params.at("negzero"))));
  EXPECT_TRUE(std::holds_alternative<double>(trials[0].params.at("two")));
  EXPECT_TRUE(std::holds_alternative<std::string>(trials[0].params.at("numeric_text")));
}

TEST_P(StorageTest, ConditionalSpacesKeepTheirConditionAndEachTrialItsOwnParameters) {
  // A conditional space's trials hold different parameters: an inactive one is absent, and
  // stays absent (not an empty or a default value) when read back.
  hpo::SearchSpace space;
  space.add("optimizer", hpo::CategoricalDim{{std::string("sgd"), std::string("adam")}});
  space.add("momentum", hpo::FloatDim{0.5, 0.99},
            hpo::Condition{"optimizer", hpo::ConditionOp::In, {std::string("sgd")}});
  StudyRecord study = sample_study("s");
  study.space = space.fingerprint();
  const int64_t id = storage_->create_study(study);
  TrialRecord sgd = sample_trial(0), adam = sample_trial(1);
  sgd.params = {{"optimizer", std::string("sgd")}, {"momentum", 0.9}};
  adam.params = {{"optimizer", std::string("adam")}};
  for (TrialRecord* t : {&sgd, &adam}) {
    storage_->start_trial(id, *t);
    t->state = TrialState::Completed;
    t->value = 0.5;
    t->finished = t->started + 1;
    storage_->finish_trial(id, *t);
  }
  const auto trials = storage_->trials(id);
  ASSERT_EQ(trials.size(), 2u);
  expect_same_trial(trials[0], sgd);
  expect_same_trial(trials[1], adam);
  EXPECT_FALSE(trials[1].params.contains("momentum"));
  EXPECT_EQ(trials[1].params.size(), 1u);
  const auto stored = storage_->find_study("s");
  ASSERT_TRUE(stored);
  EXPECT_EQ(hpo::SearchSpace::from_fingerprint(stored->space).fingerprint(), space.fingerprint());
  EXPECT_TRUE(hpo::SearchSpace::from_fingerprint(stored->space).condition(1).has_value());
}

TEST_P(StorageTest, StartedTrialIsRunningWithoutResults) {
  const int64_t id = storage_->create_study(sample_study("s"));
  TrialRecord t = sample_trial(0);
  t.state = TrialState::Completed;  // start_trial stores only what a starting trial has
  t.value = 1.0;
  t.attrs["x"] = 1;
  t.error = "nope";
  storage_->start_trial(id, t);
  auto trials = storage_->trials(id);
  ASSERT_EQ(trials.size(), 1u);
  EXPECT_EQ(trials[0].state, TrialState::Running);
  EXPECT_FALSE(trials[0].value);
  EXPECT_TRUE(trials[0].attrs.empty());
  EXPECT_EQ(trials[0].error, "");
  EXPECT_EQ(trials[0].worker, 0);
  EXPECT_EQ(trials[0].params.size(), 3u);
}

TEST_P(StorageTest, ReportsAreOrderedByStepAndReplaced) {
  const int64_t id = storage_->create_study(sample_study("s"));
  storage_->start_trial(id, sample_trial(0));
  storage_->add_report(id, 0, {30, 0.3});
  storage_->add_report(id, 0, {10, 0.1});
  storage_->add_report(id, 0, {20, 0.2});
  storage_->add_report(id, 0, {10, 0.15});  // replaces step 10
  auto reports = storage_->trials(id).at(0).reports;
  ASSERT_EQ(reports.size(), 3u);
  EXPECT_EQ(reports[0].step, 10);
  EXPECT_EQ(reports[0].value, 0.15);
  EXPECT_EQ(reports[1].step, 20);
  EXPECT_EQ(reports[2].step, 30);
}

TEST_P(StorageTest, TrialsAreOrderedByNumberAndKeptPerStudy) {
  const int64_t a = storage_->create_study(sample_study("a"));
  const int64_t b = storage_->create_study(sample_study("b"));
  for (int64_t n : {5, 2, 9}) storage_->start_trial(a, sample_trial(n));
  storage_->start_trial(b, sample_trial(2));  // the same number in another study
  storage_->add_report(b, 2, {1, 1.0});
  std::vector<int64_t> numbers;
  for (const TrialRecord& t : storage_->trials(a)) {
    numbers.push_back(t.number);
    expect_same_trial(t, sample_trial(t.number));
  }
  EXPECT_THAT(numbers, ElementsAre(2, 5, 9));
  EXPECT_EQ(storage_->trials(b).size(), 1u);
  EXPECT_TRUE(storage_->trials(a)[0].reports.empty());
  EXPECT_TRUE(storage_->trials(a + b + 100).empty());
}

TEST_P(StorageTest, FinishReplacesAttrs) {
  const int64_t id = storage_->create_study(sample_study("s"));
  TrialRecord t = sample_trial(0);
  storage_->start_trial(id, t);
  t.state = TrialState::Completed;
  t.attrs = {{"a", 1}, {"b", 2}};
  storage_->finish_trial(id, t);
  t.attrs = {{"c", 3}};
  storage_->finish_trial(id, t);
  EXPECT_EQ(storage_->trials(id).at(0).attrs, (std::map<std::string, double>{{"c", 3}}));
}

TEST_P(StorageTest, ReportMetricsRoundTripAndAreReplacedWithTheirStep) {
  const int64_t id = storage_->create_study(sample_study("s"));
  storage_->start_trial(id, sample_trial(0));
  storage_->add_report(id, 0, {100, 0.5, {{"lr", 0.01}, {"train_loss", 1.5}}});
  storage_->add_report(id, 0, {200, 0.6, {{"lr", 0.0095}}});
  storage_->add_report(id, 0, {300, 0.7, {}});
  auto reports = storage_->trials(id).at(0).reports;
  ASSERT_EQ(reports.size(), 3u);
  EXPECT_EQ(reports[0].metrics, (std::map<std::string, double>{{"lr", 0.01}, {"train_loss", 1.5}}));
  EXPECT_EQ(reports[1].metrics, (std::map<std::string, double>{{"lr", 0.0095}}));
  EXPECT_TRUE(reports[2].metrics.empty());
  storage_->add_report(id, 0, {200, 0.65, {{"lr", 0.009}}});
  EXPECT_EQ(storage_->trials(id).at(0).reports[1].metrics.at("lr"), 0.009);
  // An interrupted trial (no live owner) re-queued takes its metrics with it.
  storage_->add_run(id, sample_run("me"));
  auto claim = storage_->claim_trial(id, claim_request("me", 1));
  ASSERT_TRUE(claim.trial && claim.requeued);
  EXPECT_TRUE(storage_->trials(id).at(0).reports.empty());
}

TEST_P(StorageTest, RunsAreRegisteredRenewedAndRemoved) {
  const int64_t id = storage_->create_study(sample_study("s"));
  const int64_t other = storage_->create_study(sample_study("other"));
  hpo::RunRecord a = sample_run("a"), b = sample_run("b"), c = sample_run("c");
  b.started += 1;
  storage_->add_run(id, b);
  storage_->add_run(id, a);
  storage_->add_run(other, c);
  EXPECT_THROW(storage_->add_run(id, a), InvalidArgument);
  EXPECT_THROW(storage_->add_run(id + 100, sample_run("d")), InvalidArgument);
  auto runs = storage_->runs(id);
  ASSERT_EQ(runs.size(), 2u);  // by start time
  EXPECT_EQ(runs[0].id, "a");
  EXPECT_EQ(runs[0].host, "live-host");
  EXPECT_EQ(runs[0].pid, 4242);
  EXPECT_EQ(runs[0].pid_start, 77);
  EXPECT_TRUE(same_bits(runs[0].started, a.started));
  EXPECT_EQ(runs[1].id, "b");
  EXPECT_TRUE(storage_->heartbeat("a", 1717172000.125));
  EXPECT_TRUE(same_bits(storage_->runs(id)[0].heartbeat, 1717172000.125));
  storage_->remove_run("a");
  EXPECT_FALSE(storage_->heartbeat("a", 1717172001));  // removed: its leases are gone
  ASSERT_EQ(storage_->runs(id).size(), 1u);
  EXPECT_EQ(storage_->runs(other).size(), 1u);
}

TEST_P(StorageTest, ClaimHandsOutNewNumbersWithinTheBudget) {
  const int64_t id = storage_->create_study(sample_study("s"));
  storage_->add_run(id, sample_run("me"));
  for (int64_t n = 0; n < 3; ++n) {
    auto claim = storage_->claim_trial(id, claim_request("me", 3));
    ASSERT_TRUE(claim.trial);
    EXPECT_FALSE(claim.requeued);
    EXPECT_EQ(claim.trial->number, n);
    EXPECT_EQ(claim.trial->owner, "me");
    EXPECT_EQ(claim.running, n + 1);
    EXPECT_EQ(claim.finished, 0);
  }
  auto full = storage_->claim_trial(id, claim_request("me", 3));
  EXPECT_FALSE(full.trial);
  EXPECT_FALSE(full.exhausted);
  EXPECT_EQ(full.running, 3);
  TrialRecord t = storage_->trials(id).at(1);
  t.state = TrialState::Completed;
  t.value = 0.5;
  storage_->finish_trial(id, t);
  full = storage_->claim_trial(id, claim_request("me", 3));
  EXPECT_FALSE(full.trial);  // the budget counts trials in every state
  EXPECT_EQ(full.finished, 1);
  EXPECT_EQ(full.running, 2);
  // A sampler with nothing more to give.
  auto request = claim_request("me", 10);
  request.propose = [](int64_t) { return std::optional<hpo::Params>(); };
  auto exhausted = storage_->claim_trial(id, request);
  EXPECT_FALSE(exhausted.trial);
  EXPECT_TRUE(exhausted.exhausted);
  // Stored as claimed: the owner, worker, start time and the proposed parameters.
  auto stored = storage_->trials(id);
  ASSERT_EQ(stored.size(), 3u);
  TrialRecord expected = sample_trial(2, 1);
  expected.started = claim_request("me", 3).started;
  expect_same_trial(stored[2], expected);
  EXPECT_EQ(stored[2].owner, "me");
  EXPECT_EQ(stored[2].requeues, 0);
}

// PBT's exploit decisions are the population's lineage: the donor, its step and every kind of
// new parameter come back as stored; a later decision at the same step replaces them all.
TEST_P(StorageTest, ExploitDecisionsKeepTheirDonorAndParameters) {
  const int64_t id = storage_->create_study(sample_study("pbt"));
  storage_->start_trial(id, sample_trial(0));
  storage_->start_trial(id, sample_trial(1));
  hpo::DecisionRecord keep;
  keep.step = 100;
  keep.reason = "pbt: rank 1 of 2 at step 100";
  storage_->add_decision(id, 0, keep);
  hpo::DecisionRecord exploit;
  exploit.step = 100;
  exploit.action = hpo::Action::Exploit;
  exploit.reason = "pbt: rank 2 of 2 at step 100 (bottom 1): copies trial 0 (rank 1)";
  exploit.donor = 0;
  exploit.donor_step = 100;
  exploit.params = {{"lr", 0.012},
                    {"momentum", -0.0},
                    {"decay_every", int64_t{50}},
                    {"schedule", std::string("step")}};
  storage_->add_decision(id, 1, exploit);
  hpo::DecisionRecord stop;
  stop.step = 200;
  stop.action = hpo::Action::Stop;
  stop.reason = "asha";
  stop.prediction = 0.5;
  storage_->add_decision(id, 1, stop);

  auto trials = storage_->trials(id);
  ASSERT_EQ(trials[0].decisions.size(), 1u);
  EXPECT_EQ(trials[0].decisions[0].action, hpo::Action::Continue);
  EXPECT_EQ(trials[0].decisions[0].donor, -1);
  EXPECT_TRUE(trials[0].decisions[0].params.empty());
  ASSERT_EQ(trials[1].decisions.size(), 2u);
  const hpo::DecisionRecord& got = trials[1].decisions[0];
  EXPECT_EQ(got.action, hpo::Action::Exploit);
  EXPECT_EQ(got.reason, exploit.reason);
  EXPECT_EQ(got.donor, 0);
  EXPECT_EQ(got.donor_step, 100);
  EXPECT_EQ(got.params, exploit.params);
  EXPECT_TRUE(std::signbit(std::get<double>(got.params.at("momentum"))));
  EXPECT_EQ(trials[1].decisions[1].action, hpo::Action::Stop);
  EXPECT_EQ(trials[1].decisions[1].prediction, 0.5);

  // Decided again at step 100 (a resumed member): the new decision replaces the old and its
  // parameters.
  hpo::DecisionRecord again = exploit;
  again.donor = 1;
  again.params = {{"lr", 0.02}};
  storage_->add_decision(id, 1, again);
  EXPECT_EQ(storage_->trials(id)[1].decisions[0].params, again.params);
  EXPECT_EQ(storage_->trials(id)[1].decisions[0].donor, 1);
  storage_->add_decision(id, 1, keep);
  EXPECT_TRUE(storage_->trials(id)[1].decisions[0].params.empty());
  EXPECT_EQ(storage_->trials(id)[1].decisions[0].donor, -1);
}

// A PBT member re-queued from a gone run keeps its curve and its lineage: it resumes from its
// saved state.
TEST_P(StorageTest, ARequeueThatKeepsHistoryKeepsTheCurveAndDecisions) {
  const int64_t id = storage_->create_study(sample_study("keep"));
  storage_->add_run(id, sample_run("dead", "gone-host"));
  storage_->add_run(id, sample_run("me"));
  TrialRecord t = sample_trial(0);
  t.owner = "dead";
  storage_->start_trial(id, t);
  storage_->add_report(id, 0, {100, 0.5, {{"lr", 0.1}}});
  hpo::DecisionRecord exploit;
  exploit.step = 100;
  exploit.action = hpo::Action::Exploit;
  exploit.donor = 3;
  exploit.donor_step = 100;
  exploit.params = {{"lr", 0.2}};
  storage_->add_decision(id, 0, exploit);

  auto request = claim_request("me", 1);
  request.keep_history = true;
  auto claim = storage_->claim_trial(id, request);
  ASSERT_TRUE(claim.trial);
  EXPECT_TRUE(claim.requeued);
  EXPECT_EQ(claim.trial->params, t.params);
  const TrialRecord stored = storage_->trials(id).at(0);
  EXPECT_EQ(stored.owner, "me");
  EXPECT_EQ(stored.requeues, 1);
  EXPECT_EQ(stored.started, request.started);
  ASSERT_EQ(stored.reports.size(), 1u);
  EXPECT_EQ(stored.reports[0].metrics.at("lr"), 0.1);
  ASSERT_EQ(stored.decisions.size(), 1u);
  EXPECT_EQ(stored.decisions[0].params, exploit.params);
  EXPECT_EQ(stored.state, TrialState::Running);
}

TEST_P(StorageTest, ClaimRequeuesTheTrialsOfGoneRunsWithTheirParameters) {
  const int64_t id = storage_->create_study(sample_study("s"));
  const int64_t other = storage_->create_study(sample_study("other"));
  storage_->add_run(id, sample_run("dead", "gone-host"));
  storage_->add_run(id, sample_run("alive"));
  storage_->add_run(id, sample_run("me"));
  storage_->start_trial(other, sample_trial(0));  // running without an owner, in another study
  for (int64_t n = 0; n < 6; ++n) {
    TrialRecord t = sample_trial(n);
    t.owner = n == 4 ? "alive" : "dead";
    storage_->start_trial(id, t);
    storage_->add_report(id, n, {1, 0.5, {{"lr", 0.1}}});
    hpo::DecisionRecord d;
    d.step = 1;
    d.reason = "rank 1 of 2";
    d.prediction = 0.5;
    storage_->add_decision(id, n, d);
  }
  for (int64_t n : {1, 3}) {
    TrialRecord t = sample_trial(n);
    t.state = n == 1 ? TrialState::Completed : TrialState::Failed;
    t.value = n == 1 ? std::optional<double>(0.9) : std::nullopt;
    t.attrs["iterations"] = 10;
    storage_->finish_trial(id, t);
  }
  // Trials 0, 2 and 5 were the dead run's: re-queued in order, with their own parameters (not
  // the proposal's), their curves, metrics and decisions dropped; trial 4's owner is alive.
  for (int64_t n : {0, 2, 5}) {
    auto request = claim_request("me", 6);
    request.propose = [](int64_t) -> std::optional<hpo::Params> {
      ADD_FAILURE() << "a re-queued trial must not be sampled again";
      return std::nullopt;
    };
    auto claim = storage_->claim_trial(id, request);
    ASSERT_TRUE(claim.trial);
    EXPECT_TRUE(claim.requeued);
    EXPECT_EQ(claim.trial->number, n);
    EXPECT_EQ(claim.trial->owner, "me");
    EXPECT_EQ(claim.trial->requeues, 1);
    EXPECT_EQ(claim.gone.size(), n == 0 ? 1u : 0u);  // the dead run is removed by the first
    TrialRecord stored = storage_->trials(id).at(static_cast<size_t>(n));
    TrialRecord expected = sample_trial(n, 1);
    expected.started = request.started;
    expect_same_trial(stored, expected);
    EXPECT_TRUE(stored.decisions.empty());
    EXPECT_EQ(stored.requeues, 1);
  }
  EXPECT_EQ(storage_->runs(id).size(), 2u);
  auto none = storage_->claim_trial(id, claim_request("me", 6));
  EXPECT_FALSE(none.trial);
  EXPECT_EQ(none.finished, 2);
  EXPECT_EQ(none.running, 4);
  // Finished trials keep everything.
  auto left = storage_->trials(id);
  EXPECT_EQ(left[1].reports.size(), 1u);
  EXPECT_EQ(left[1].decisions.size(), 1u);
  EXPECT_EQ(left[3].attrs.size(), 1u);
  EXPECT_EQ(left[4].reports.size(), 1u);
  EXPECT_EQ(left[4].owner, "alive");
  EXPECT_EQ(storage_->trials(other).at(0).requeues, 0);  // another study's orphan is its own
  // The run that held a trial before the re-queue can no longer finish it.
  TrialRecord late = sample_trial(0);
  late.owner = "dead";
  late.state = TrialState::Completed;
  late.value = 1.0;
  late.attrs["test_accuracy"] = 0.5;
  EXPECT_THROW(storage_->finish_trial(id, late), hpo::LeaseLost);
  EXPECT_EQ(storage_->trials(id).at(0).state, TrialState::Running);
  EXPECT_TRUE(storage_->trials(id).at(0).attrs.empty()) << "a lost lease stores nothing";
  // Nor a report or a decision of it: the new attempt's curve is its own.
  EXPECT_THROW(storage_->add_report(id, 0, {10, 0.5, {{"lr", 0.1}}}, "dead"), hpo::LeaseLost);
  hpo::DecisionRecord exploit;
  exploit.step = 10;
  exploit.action = hpo::Action::Exploit;
  exploit.reason = "r";
  exploit.donor = 1;
  exploit.donor_step = 10;
  exploit.params = {{"x", 0.5}};
  EXPECT_THROW(storage_->add_decision(id, 0, exploit, "dead"), hpo::LeaseLost);
  EXPECT_TRUE(storage_->trials(id).at(0).reports.empty());
  EXPECT_TRUE(storage_->trials(id).at(0).decisions.empty());
  // The owner's, or one that names no owner (copy_study), are stored; of no trial, refused.
  storage_->add_report(id, 0, {10, 0.5, {{"lr", 0.1}}}, "me");
  storage_->add_report(id, 0, {20, 0.25});
  storage_->add_decision(id, 0, exploit, "me");
  const TrialRecord reported = storage_->trials(id).at(0);
  ASSERT_EQ(reported.reports.size(), 2u);
  EXPECT_EQ(reported.reports[0].metrics.at("lr"), 0.1);
  ASSERT_EQ(reported.decisions.size(), 1u);
  EXPECT_EQ(reported.decisions[0].params.at("x"), hpo::ParamValue{0.5});
  EXPECT_THROW(storage_->add_report(id, 99, {10, 0.5}, "me"), InvalidArgument);
  EXPECT_THROW(storage_->add_decision(id, 99, exploit, "me"), InvalidArgument);
  late.owner = "me";
  storage_->finish_trial(id, late);
  EXPECT_EQ(storage_->trials(id).at(0).value, 1.0);
  EXPECT_EQ(storage_->trials(id).at(0).attrs.at("test_accuracy"), 0.5);
}

TEST_P(StorageTest, ConcurrentClaimsNeverShareANumberAndKeepTheBudget) {
  const int64_t id = storage_->create_study(sample_study("s"));
  constexpr int kThreads = 4;
  constexpr int64_t kBudget = 60;
  for (int w = 0; w < kThreads; ++w) storage_->add_run(id, sample_run("r" + std::to_string(w)));
  std::vector<std::vector<int64_t>> taken(kThreads);
  std::vector<std::thread> threads;
  for (int w = 0; w < kThreads; ++w) {
    threads.emplace_back([&, w] {
      const std::string owner = "r" + std::to_string(w);
      while (auto claim = storage_->claim_trial(id, claim_request(owner, kBudget)).trial) {
        claim->state = TrialState::Completed;
        claim->value = 1.0;
        storage_->finish_trial(id, *claim);
        taken[static_cast<size_t>(w)].push_back(claim->number);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::vector<int64_t> all;
  for (const auto& numbers : taken) all.insert(all.end(), numbers.begin(), numbers.end());
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), static_cast<size_t>(kBudget));
  for (int64_t n = 0; n < kBudget; ++n) EXPECT_EQ(all[static_cast<size_t>(n)], n);
  EXPECT_EQ(storage_->trials(id).size(), static_cast<size_t>(kBudget));
}

TEST_P(StorageTest, NanAndInfinityDoNotCrash) {
  const int64_t id = storage_->create_study(sample_study("s"));
  TrialRecord t = sample_trial(0);
  t.params["nan"] = kNaN;
  storage_->start_trial(id, t);
  storage_->add_report(id, 0, {1, kInf});
  storage_->add_report(id, 0, {2, kNaN});
  t.state = TrialState::Diverged;
  t.value = kNaN;  // stored as no value
  t.error = "loss is NaN at iteration 2";
  t.attrs = {{"nan", kNaN}, {"inf", kInf}};
  storage_->finish_trial(id, t);
  TrialRecord got = storage_->trials(id).at(0);
  EXPECT_EQ(got.state, TrialState::Diverged);
  EXPECT_FALSE(got.value);
  EXPECT_EQ(got.error, "loss is NaN at iteration 2");
  EXPECT_TRUE(std::isnan(std::get<double>(got.params.at("nan"))));
  ASSERT_EQ(got.reports.size(), 2u);
  EXPECT_EQ(got.reports[0].value, kInf);
  EXPECT_TRUE(std::isnan(got.reports[1].value));
  EXPECT_TRUE(std::isnan(got.attrs.at("nan")));
  EXPECT_EQ(got.attrs.at("inf"), kInf);

  t.value = -kInf;  // infinities are values
  storage_->finish_trial(id, t);
  EXPECT_EQ(storage_->trials(id).at(0).value, -kInf);
}

TEST_P(StorageTest, MisuseThrowsInvalidArgument) {
  const int64_t id = storage_->create_study(sample_study("s"));
  EXPECT_THROW(storage_->start_trial(id + 100, sample_trial(0)), InvalidArgument);
  storage_->start_trial(id, sample_trial(0));
  EXPECT_THROW(storage_->start_trial(id, sample_trial(0)), InvalidArgument);
  EXPECT_THROW(storage_->add_report(id, 1, {1, 1.0}), InvalidArgument);
  EXPECT_THROW(storage_->finish_trial(id, sample_trial(1)), InvalidArgument);
  EXPECT_THROW(storage_->claim_trial(id + 100, claim_request("me", 5)), InvalidArgument);
  // Nothing of the failed calls was stored, and the storage still works.
  auto trials = storage_->trials(id);
  ASSERT_EQ(trials.size(), 1u);
  expect_same_trial(trials[0], sample_trial(0));
  storage_->add_report(id, 0, {1, 1.0});
}

TEST_P(StorageTest, ConcurrentWritersLoseNothing) {
  const int64_t id = storage_->create_study(sample_study("s"));
  constexpr int kThreads = 4, kPerThread = 50;
  std::vector<std::thread> threads;
  for (int w = 0; w < kThreads; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kPerThread; ++i) {
        TrialRecord t = sample_trial(w * kPerThread + i, w);
        storage_->start_trial(id, t);
        for (int64_t step = 1; step <= 3; ++step) {
          storage_->add_report(id, t.number, {step, 1.0 / static_cast<double>(step)});
        }
        t.state = TrialState::Completed;
        t.value = static_cast<double>(t.number);
        t.attrs["worker"] = w;
        storage_->finish_trial(id, t);
        if (i % 10 == 0) storage_->trials(id);  // readers between the writes
      }
    });
  }
  for (auto& t : threads) t.join();
  auto trials = storage_->trials(id);
  ASSERT_EQ(trials.size(), static_cast<size_t>(kThreads * kPerThread));
  for (size_t i = 0; i < trials.size(); ++i) {
    const TrialRecord& t = trials[i];
    EXPECT_EQ(t.number, static_cast<int64_t>(i));
    EXPECT_EQ(t.state, TrialState::Completed);
    EXPECT_EQ(t.value, static_cast<double>(i));
    EXPECT_EQ(t.reports.size(), 3u);
    EXPECT_EQ(t.params.size(), 3u);
    EXPECT_EQ(t.worker, static_cast<int>(i) / kPerThread);
  }
}

INSTANTIATE_TEST_SUITE_P(Storages, StorageTest,
                         ::testing::Values(Kind::Memory, Kind::Sqlite, Kind::Postgres),
                         [](const auto& info) { return testing::kind_name(info.param); });

}  // namespace
}  // namespace krill::store
