// The Storage contract, run against every implementation (MemoryStorage and SqliteStorage), in
// the spirit of Optuna's StorageSupplier: one suite, a factory per implementation.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <thread>

#include "core/error.hpp"
#include "store/memory_storage.hpp"
#include "store/sqlite_storage.hpp"
#include "store_test_util.hpp"

namespace krill::store {
namespace {

using hpo::Report;
using hpo::StudyRecord;
using hpo::TrialRecord;
using hpo::TrialState;
using ::testing::ElementsAre;
using testing::expect_same_study;
using testing::expect_same_trial;
using ::testing::HasSubstr;
using testing::same_bits;
using testing::sample_study;
using testing::sample_trial;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

enum class Kind { Memory, Sqlite };

class StorageTest : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    if (GetParam() == Kind::Memory) {
      storage_ = std::make_unique<MemoryStorage>();
    } else {
      storage_ = std::make_unique<SqliteStorage>(db_.path());
    }
  }

  testing::TempDb db_;
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
  // An interrupted trial takes its metrics with it.
  EXPECT_THAT(storage_->take_interrupted(id), ElementsAre(0));
  storage_->start_trial(id, sample_trial(0));
  EXPECT_TRUE(storage_->trials(id).at(0).reports.empty());
}

TEST_P(StorageTest, TakeInterruptedRemovesRunningTrials) {
  const int64_t id = storage_->create_study(sample_study("s"));
  const int64_t other = storage_->create_study(sample_study("other"));
  storage_->start_trial(other, sample_trial(0));  // running, but in another study
  for (int64_t n = 0; n < 5; ++n) {
    storage_->start_trial(id, sample_trial(n));
    storage_->add_report(id, n, {1, 0.5});
  }
  for (int64_t n : {1, 3}) {
    TrialRecord t = sample_trial(n);
    t.state = n == 1 ? TrialState::Completed : TrialState::Failed;
    t.value = n == 1 ? std::optional<double>(0.9) : std::nullopt;
    t.attrs["iterations"] = 10;
    storage_->finish_trial(id, t);
  }
  EXPECT_THAT(storage_->take_interrupted(id), ElementsAre(0, 2, 4));
  auto left = storage_->trials(id);
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].number, 1);
  EXPECT_EQ(left[1].number, 3);
  EXPECT_EQ(left[0].reports.size(), 1u);
  EXPECT_EQ(left[1].attrs.size(), 1u);
  EXPECT_TRUE(storage_->take_interrupted(id).empty());
  EXPECT_EQ(storage_->trials(other).size(), 1u);
  // A taken trial runs again under its number, with nothing left of the first run.
  storage_->start_trial(id, sample_trial(2));
  auto again = storage_->trials(id);
  ASSERT_EQ(again.size(), 3u);
  expect_same_trial(again[1], sample_trial(2));
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
  EXPECT_TRUE(storage_->take_interrupted(id + 100).empty());
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

INSTANTIATE_TEST_SUITE_P(Storages, StorageTest, ::testing::Values(Kind::Memory, Kind::Sqlite),
                         [](const auto& info) {
                           return info.param == Kind::Memory ? "Memory" : "Sqlite";
                         });

}  // namespace
}  // namespace krill::store
