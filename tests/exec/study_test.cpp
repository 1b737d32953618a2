// Study: ask/tell bookkeeping, failures as results, determinism, and resuming from storage
// (finished trials kept, interrupted ones run again, the total exactly as asked).
#include "hpo/study.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <memory>
#include <set>
#include <thread>

#include "exec/local_executor.hpp"
#include "store/memory_storage.hpp"

namespace krill::hpo {
namespace {

using ::testing::HasSubstr;

SearchSpace space() {
  return SearchSpace{
      {"x", FloatDim{-2.0, 2.0}}, {"lr", FloatDim{1e-4, 1e-1, true}}, {"width", IntDim{8, 64}}};
}

StudyRecord record(int64_t trials, const std::string& name = "toy") {
  StudyRecord r;
  r.name = name;
  r.direction = Direction::Maximize;
  r.objective = "score";
  r.config = "toy v1";
  r.n_trials = trials;
  return r;
}

// Maximum 1 at x = 0.5; reports a short curve.
double toy(Trial& t) {
  const double x = t.float_param("x");
  for (int step = 1; step <= 3; ++step) t.report(step, -(x - 0.5) * (x - 0.5) * step / 3.0);
  return 1.0 - (x - 0.5) * (x - 0.5);
}

TEST(Study, RunsTheBudgetAndFindsTheBest) {
  store::MemoryStorage storage;
  Study study(record(25), space(), make_sampler("random", 1), storage);
  study.optimize(toy);
  auto trials = study.trials();
  ASSERT_EQ(trials.size(), 25u);
  double best = -1e9;
  for (size_t i = 0; i < trials.size(); ++i) {
    EXPECT_EQ(trials[i].number, static_cast<int64_t>(i));
    EXPECT_EQ(trials[i].state, TrialState::Completed);
    EXPECT_EQ(trials[i].reports.size(), 3u);
    best = std::max(best, *trials[i].value);
  }
  ASSERT_TRUE(study.best_trial());
  EXPECT_EQ(*study.best_trial()->value, best);
  EXPECT_EQ(study.progress().finished, 25);
  EXPECT_EQ(study.progress().best, best);
}

TEST(Study, FailuresAndDivergenceAreResultsNotCrashes) {
  store::MemoryStorage storage;
  Study study(record(6), space(), make_sampler("random", 2), storage);
  study.optimize([](Trial& t) -> double {
    switch (t.number() % 3) {
      case 0:
        throw std::runtime_error("out of cheese");
      case 1:
        return std::nan("");
      default:
        throw Diverged("loss not finite at iteration 7");
    }
  });
  auto trials = study.trials();
  ASSERT_EQ(trials.size(), 6u);
  EXPECT_EQ(trials[0].state, TrialState::Failed);
  EXPECT_THAT(trials[0].error, HasSubstr("out of cheese"));
  EXPECT_EQ(trials[1].state, TrialState::Diverged);
  EXPECT_EQ(trials[2].state, TrialState::Diverged);
  EXPECT_THAT(trials[2].error, HasSubstr("iteration 7"));
  EXPECT_FALSE(study.best_trial());
  EXPECT_EQ(study.progress().failed, 6);
}

// A trial out of memory says so (std::bad_alloc's what() is only "std::bad_alloc").
TEST(Study, ATrialOutOfMemoryFailsSayingSo) {
  store::MemoryStorage storage;
  Study study(record(1), space(), make_sampler("random", 2), storage);
  study.optimize([](Trial&) -> double { throw std::bad_alloc(); });
  const auto trials = study.trials();
  ASSERT_EQ(trials.size(), 1u);
  EXPECT_EQ(trials[0].state, TrialState::Failed);
  EXPECT_EQ(trials[0].error, "out of memory (std::bad_alloc)");
}

TEST(Study, AFixedSeedProposesTheSameTrials) {
  store::MemoryStorage a, b, c;
  Study sa(record(10), space(), make_sampler("random", 7), a);
  Study sb(record(10), space(), make_sampler("random", 7), b);
  Study sc(record(10), space(), make_sampler("random", 8), c);
  sa.optimize(toy);
  sb.optimize(toy);
  sc.optimize(toy);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(sa.trials()[i].params, sb.trials()[i].params);
    EXPECT_NE(sa.trials()[i].params, sc.trials()[i].params);
  }
}

TEST(Study, ResumesAfterACancelWithExactlyTheBudget) {
  store::MemoryStorage storage;
  std::atomic<bool> cancel{false};
  {
    Study study(record(10), space(), make_sampler("random", 3), storage);
    OptimizeOptions options;
    options.cancel = &cancel;
    options.on_progress = [&](const StudyProgress& p) {
      if (p.finished == 4) cancel = true;
    };
    study.optimize(toy, options);
    EXPECT_EQ(study.trials().size(), 4u);
  }
  Study resumed(record(10), space(), make_sampler("random", 3), storage);
  EXPECT_EQ(resumed.progress().finished, 4);
  resumed.optimize(toy);
  auto trials = resumed.trials();
  ASSERT_EQ(trials.size(), 10u);

  store::MemoryStorage fresh_storage;
  Study fresh(record(10), space(), make_sampler("random", 3), fresh_storage);
  fresh.optimize(toy);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(trials[i].params, fresh.trials()[i].params) << i;
}

TEST(Study, InterruptedTrialsRunAgainWithTheirNumbersAndParams) {
  store::MemoryStorage storage;
  Params first_params;
  {
    Study crashed(record(5), space(), make_sampler("random", 4), storage);
    auto t0 = crashed.ask();
    auto t1 = crashed.ask();
    ASSERT_TRUE(t0 && t1);
    first_params = t0->params;
    crashed.run_trial(std::move(*t1), toy);  // trial 1 finished, trial 0 "was running"
  }
  Study resumed(record(5), space(), make_sampler("random", 4), storage);
  EXPECT_EQ(resumed.progress().finished, 1);
  auto next = resumed.ask();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->number, 0);
  EXPECT_EQ(next->params, first_params);
  resumed.run_trial(std::move(*next), toy);
  resumed.optimize(toy);
  auto trials = resumed.trials();
  ASSERT_EQ(trials.size(), 5u);
  std::set<int64_t> numbers;
  for (const auto& t : trials) {
    numbers.insert(t.number);
    EXPECT_EQ(t.state, TrialState::Completed);
  }
  EXPECT_EQ(numbers, (std::set<int64_t>{0, 1, 2, 3, 4}));
}

TEST(Study, RefusesToResumeWithAnotherSpaceOrSampler) {
  store::MemoryStorage storage;
  Study(record(3), space(), make_sampler("random", 1), storage).optimize(toy);
  SearchSpace other = space();
  other.add("momentum", FloatDim{0.0, 0.9});
  try {
    Study(record(3), other, make_sampler("random", 1), storage);
    ADD_FAILURE() << "accepted a changed space";
  } catch (const InvalidArgument& e) {
    EXPECT_THAT(e.what(), HasSubstr("search space"));
    EXPECT_THAT(e.what(), HasSubstr("momentum"));
  }
  try {
    Study(record(3), space(), make_sampler("random", 2), storage);
    ADD_FAILURE() << "accepted a changed sampler";
  } catch (const InvalidArgument& e) {
    EXPECT_THAT(e.what(), HasSubstr("sampler"));
  }
  StudyRecord more = record(5);
  Study bigger(more, space(), make_sampler("random", 1), storage);  // a larger budget is fine
  bigger.optimize(toy);
  EXPECT_EQ(bigger.trials().size(), 5u);
}

// Samplers fill the dimensions in order (unit coordinate i is dimension i; the grid's last
// dimension varies fastest): the same dimensions in another order are another space, refused
// with the order shown, and the settings' copy of the space is not shown again, escaped.
TEST(Study, RefusesToResumeWithTheDimensionsInAnotherOrder) {
  store::MemoryStorage storage;
  StudyRecord first = record(3);
  first.config = "seed: 1\nspace: \"x: ...\\nlr: ...\"";
  Study(first, space(), make_sampler("random", 1), storage).optimize(toy);
  const SearchSpace reordered{
      {"lr", FloatDim{1e-4, 1e-1, true}}, {"x", FloatDim{-2.0, 2.0}}, {"width", IntDim{8, 64}}};
  StudyRecord again = record(3);
  again.config = "seed: 1\nspace: \"lr: ...\\nx: ...\"";
  try {
    Study(again, reordered, make_sampler("random", 1), storage);
    ADD_FAILURE() << "accepted a reordered space";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(std::string(e.what()),
              "study 'toy' already exists with other settings (search space: the same dimensions "
              "in another order (was: x, lr, width; now: lr, x, width)): use another study name "
              "or storage file to start afresh");
  }
  // A dimension changed and the others reordered: both are said.
  const SearchSpace changed{
      {"width", IntDim{8, 32}}, {"lr", FloatDim{1e-4, 1e-1, true}}, {"x", FloatDim{-2.0, 2.0}}};
  try {
    Study(record(3), changed, make_sampler("random", 1), storage);
    ADD_FAILURE() << "accepted a changed space";
  } catch (const InvalidArgument& e) {
    EXPECT_THAT(e.what(), HasSubstr("-'width: int linear [8, 64]' +'width: int linear [8, 32]', "
                                    "the dimensions both have in another order (was: x, lr; "
                                    "now: lr, x)"));
  }
}

// Study files wrote the name into the settings (`study: "name"`) before it became the study's key
// alone: a study renamed or copied under another name (`krill study`) keeps the old line, and
// resumes under its new name. Any other setting that differs is still refused.
TEST(Study, ResumesWhenTheStoredSettingsHoldAnotherName) {
  store::MemoryStorage storage;
  StudyRecord before = record(2, "renamed");
  before.config = "study: \"before\"\nseed: 1";
  Study(before, space(), make_sampler("random", 1), storage).optimize(toy);
  StudyRecord now = record(4, "renamed");
  now.config = "seed: 1";
  Study resumed(now, space(), make_sampler("random", 1), storage);
  resumed.optimize(toy);
  EXPECT_EQ(resumed.trials().size(), 4u);
  StudyRecord other = record(4, "renamed");
  other.config = "seed: 2";
  try {
    Study(other, space(), make_sampler("random", 1), storage);
    ADD_FAILURE() << "accepted another seed";
  } catch (const InvalidArgument& e) {
    EXPECT_THAT(e.what(), HasSubstr("settings: -'seed: 1' +'seed: 2'"));
  }
}

// A section added to the settings comes after a blank line (`stopping:`, `pbt:`): the change
// is the section's line, not an empty item besides (it read "+'' +'stopping: median(...)'").
TEST(Study, ASectionAddedIsOneChangeWithoutAnEmptyItem) {
  store::MemoryStorage storage;
  StudyRecord before = record(2, "sections");
  before.config = "seed: 1";
  Study(before, space(), make_sampler("random", 1), storage).optimize(toy);
  StudyRecord now = record(2, "sections");
  now.config = "seed: 1\n\nstopping: median(min_trials=5)";
  try {
    Study(now, space(), make_sampler("random", 1), storage);
    ADD_FAILURE() << "accepted an added stopping rule";
  } catch (const InvalidArgument& e) {
    EXPECT_THAT(e.what(), HasSubstr("(settings: +'stopping: median(min_trials=5)'):"));
  }
}

TEST(Study, GridStopsWhenExhausted) {
  store::MemoryStorage storage;
  SearchSpace grid{{"a", GridDim{{int64_t{1}, int64_t{2}, int64_t{3}}}},
                   {"b", GridDim{{std::string("x"), std::string("y")}}}};
  Study study(record(100), grid, make_sampler("grid", 0), storage);
  study.optimize([](Trial& t) { return static_cast<double>(t.int_param("a")); });
  auto trials = study.trials();
  ASSERT_EQ(trials.size(), 6u);
  std::set<Params> seen;
  for (const auto& t : trials) seen.insert(t.params);
  EXPECT_EQ(seen.size(), 6u);
}

// Stops a trial at its second report when its value is below 0.9; counts the finished trials it
// was shown.
class ThresholdStopper final : public Stopper {
 public:
  StopDecision decide(const StudyView& study, const TrialRecord& trial,
                      const Report& report) override {
    seen_finished = study.finished.size();
    if (trial.reports.size() < 2) return {false, "too early", std::nullopt};
    if (report.value < 0.9) return {true, "below 0.9", report.value};
    return {false, "fine", std::nullopt};
  }
  std::string describe() const override { return "threshold(0.9)"; }
  size_t seen_finished = 0;
};

TEST(Study, AStopperStopsTrialsAndEveryDecisionIsStored) {
  store::MemoryStorage storage;
  auto stopper = std::make_unique<ThresholdStopper>();
  ThresholdStopper* raw = stopper.get();
  Study study(record(8), space(), make_sampler("random", 9), storage, std::move(stopper));
  int stopped_early = 0;
  study.optimize([&](Trial& t) {
    const double x = t.float_param("x");
    const double score = 1.0 - (x - 0.5) * (x - 0.5);  // in [-5.25, 1]
    for (int step = 1; step <= 4; ++step) {
      if (!t.report(step * 10, score)) {
        ++stopped_early;
        return score;
      }
    }
    return score;
  });
  EXPECT_EQ(raw->seen_finished, 7u);  // the last trial saw the 7 before it
  int stopped = 0;
  for (const auto& t : study.trials()) {
    const bool bad = *t.value < 0.9;
    EXPECT_EQ(t.state, bad ? TrialState::Stopped : TrialState::Completed) << t.number;
    ASSERT_EQ(t.decisions.size(), bad ? 2u : 4u) << t.number;
    EXPECT_EQ(t.decisions[0].reason, "too early");
    EXPECT_EQ(t.decisions.back().stops(), bad);
    if (bad) {
      ++stopped;
      EXPECT_EQ(t.reports.size(), 2u);
      EXPECT_EQ(t.decisions.back().prediction, *t.value);
    }
  }
  EXPECT_EQ(stopped, stopped_early);
  EXPECT_GT(stopped, 0);
  // The rule is part of the study's settings: resuming with another rule is refused.
  EXPECT_THROW(Study(record(8), space(), make_sampler("random", 9), storage), InvalidArgument);
}

TEST(Study, AStopperIsNotAskedAtATrialsFinalReport) {
  // The rule would stop every trial below 0.9 from its second report on; trials that report
  // twice, the second time as their last, train their whole length and are Completed.
  store::MemoryStorage storage;
  auto stopper = std::make_unique<ThresholdStopper>();
  Study study(record(6), space(), make_sampler("random", 9), storage, std::move(stopper));
  study.optimize([&](Trial& t) {
    const double x = t.float_param("x");
    const double score = 1.0 - (x - 0.5) * (x - 0.5);
    EXPECT_TRUE(t.report(10, score));
    EXPECT_TRUE(t.report(20, score, {}, /*last=*/true));
    return score;
  });
  int below = 0;
  for (const auto& t : study.trials()) {
    below += *t.value < 0.9;
    EXPECT_EQ(t.state, TrialState::Completed) << t.number;
    EXPECT_EQ(t.reports.size(), 2u) << t.number;
    ASSERT_EQ(t.decisions.size(), 1u) << t.number << ": no decision at the final report";
    EXPECT_EQ(t.decisions[0].step, 10);
  }
  EXPECT_GT(below, 0) << "no trial the rule would have stopped: the test checks nothing";
}

TEST(Study, StoppingDecisionsAreDeterministicForASerialRun) {
  // A toy curve per trial: rises towards 1 - (x - 0.5)^2, reported at 10 steps.
  const Objective curve = [](Trial& t) {
    const double x = t.float_param("x"), final_value = 1.0 - (x - 0.5) * (x - 0.5);
    double v = 0;
    for (int step = 1; step <= 10; ++step) {
      v = final_value * (1.0 - std::exp(-0.4 * step));
      if (!t.report(step * 10, v)) break;
    }
    return v;
  };
  auto run = [&](std::unique_ptr<Stopper> stopper) {
    store::MemoryStorage storage;
    Study study(record(30), space(), make_sampler("random", 11), storage, std::move(stopper));
    study.optimize(curve);
    std::vector<std::string> out;
    for (const auto& t : study.trials()) {
      for (const auto& d : t.decisions) out.push_back(std::to_string(t.number) + " " + d.reason);
    }
    return out;
  };
  for (int rule = 0; rule < 3; ++rule) {
    auto make = [&]() -> std::unique_ptr<Stopper> {
      if (rule == 0) {
        LcmOptions lcm;
        lcm.accumulate = 5;
        lcm.percentile = 50;
        return make_lcm(lcm);
      }
      if (rule == 1) {
        MedianOptions median;
        median.min_trials = 5;
        return make_median(median);
      }
      AshaOptions asha;
      asha.min_resource = 20;
      return make_asha(asha);
    };
    const auto first = run(make()), second = run(make());
    EXPECT_FALSE(first.empty());
    EXPECT_EQ(first, second) << "rule " << rule;
    EXPECT_TRUE(
        std::any_of(first.begin(), first.end(),
                    [](const std::string& r) { return r.find(": stop") != std::string::npos; }))
        << "rule " << rule << " never stopped a trial";
  }
}

TEST(LocalExecutor, RunsTrialsOnWorkersEachOnce) {
  store::MemoryStorage storage;
  Study study(record(40), space(), make_sampler("sobol", 5), storage);
  exec::LocalExecutor executor({.workers = 4, .threads_per_worker = 1});
  std::atomic<int> concurrent{0}, peak{0};
  OptimizeOptions options;
  options.executor = &executor;
  study.optimize(
      [&](Trial& t) {
        const int now = ++concurrent;
        int p = peak.load();
        while (now > p && !peak.compare_exchange_weak(p, now)) {
        }
        EXPECT_EQ(t.threads(), 1);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        --concurrent;
        return toy(t);
      },
      options);
  auto trials = study.trials();
  ASSERT_EQ(trials.size(), 40u);
  std::set<int64_t> numbers;
  std::set<int> workers;
  for (const auto& t : trials) {
    numbers.insert(t.number);
    workers.insert(t.worker);
    EXPECT_EQ(t.state, TrialState::Completed);
  }
  EXPECT_EQ(numbers.size(), 40u);
  EXPECT_GT(peak.load(), 1);
  EXPECT_LE(peak.load(), 4);
  EXPECT_GT(workers.size(), 1u);
}

TEST(LocalExecutor, SplitsTheCoresBetweenWorkersAndProcesses) {
  exec::LocalExecutor one({.workers = 1});
  EXPECT_EQ(one.threads_per_worker(), exec::available_cores());
  exec::LocalExecutor many({.workers = exec::available_cores() * 2});
  EXPECT_EQ(many.threads_per_worker(), 1);
  exec::LocalExecutor two({.workers = 2, .cores = 8});
  EXPECT_EQ(two.workers(), 2);
  EXPECT_EQ(two.threads_per_worker(), 4);
  EXPECT_EQ(two.threads_per_worker(1), 4);
  EXPECT_EQ(two.threads_per_worker(2), 2);  // two processes of the study on this host
  EXPECT_EQ(two.threads_per_worker(3), 1);  // 8 / 6, rounded down
  EXPECT_EQ(two.threads_per_worker(5), 1);  // never below one
  exec::LocalExecutor fixed({.workers = 2, .threads_per_worker = 3, .cores = 8});
  EXPECT_EQ(fixed.threads_per_worker(4), 3);  // as the user asked
  exec::LocalExecutor automatic({.cores = 6});
  EXPECT_EQ(automatic.workers(), 6);
  EXPECT_THROW(exec::LocalExecutor({.cores = -1}), InvalidArgument);
}

// A second process (here a second Study, a run of its own) joining on this host narrows the
// trials already running: the objective sees its share change at its next report.
TEST(LocalExecutor, ARunningTrialNarrowsWhenAnotherRunJoinsOnThisHost) {
  store::MemoryStorage storage;
  Study first(record(1), space(), make_sampler("random", 1), storage);
  exec::LocalExecutor executor({.workers = 1, .cores = 4});
  std::unique_ptr<Study> second;
  int before = 0, after = 0;
  OptimizeOptions options;
  options.executor = &executor;
  first.optimize(
      [&](Trial& t) {
        before = t.threads();
        second = std::make_unique<Study>(record(1), space(), make_sampler("random", 1), storage);
        std::this_thread::sleep_for(std::chrono::milliseconds(300));  // past the 0.25 s refresh
        t.report(1, 0.5);
        after = t.threads();
        return 0.5;
      },
      options);
  EXPECT_EQ(before, 4);
  EXPECT_EQ(after, 2);
  EXPECT_EQ(first.local_runs(), 2);
  // A run on another host is not sharing these cores.
  RunRecord remote = this_run();
  remote.host = "elsewhere";
  storage.add_run(first.record().id, remote);
  second.reset();
  Study third(record(1), space(), make_sampler("random", 1), storage);
  EXPECT_FALSE(third.ask());         // the study is done; asking looked at the runs
  EXPECT_EQ(third.local_runs(), 2);  // itself and `first`
}

// The best of equal values is the lowest-numbered trial, whatever order they finish in: the
// training objective keeps that trial's weights (tune/trainable.hpp relies on it).
TEST(Study, TheBestOfEqualValuesIsTheLowestNumber) {
  store::MemoryStorage storage;
  Study study(record(3), space(), make_sampler("random", 1), storage);
  auto t0 = study.ask(), t1 = study.ask(), t2 = study.ask();
  ASSERT_TRUE(t0 && t1 && t2);
  study.run_trial(*t2, [](Trial&) { return 0.75; });
  study.run_trial(*t1, [](Trial&) { return 0.75; });
  study.run_trial(*t0, [](Trial&) { return 0.5; });
  ASSERT_TRUE(study.best_trial());
  EXPECT_EQ(study.best_trial()->number, 1);
}

}  // namespace
}  // namespace krill::hpo
