// The trial lifecycle of a Study (hpo/lease.hpp): trials re-queued with their stored parameters
// (also for samplers that learn from the history), runs that join a study, waiting for the last
// trials of other runs, and studies killed (SIGKILL, on SQLite) once or twice and resumed, with a
// stopper and with two workers; and when a run is gone.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "exec/local_executor.hpp"
#include "hpo/study.hpp"
#include "store/memory_storage.hpp"
#include "store/sqlite_storage.hpp"
#include "store/store_test_util.hpp"

namespace krill::hpo {
namespace {

SearchSpace space() {
  return SearchSpace{{"x", FloatDim{-2.0, 2.0}}, {"width", IntDim{8, 64}}};
}

StudyRecord record(int64_t trials) {
  StudyRecord r;
  r.name = "lease";
  r.direction = Direction::Maximize;
  r.objective = "score";
  r.config = "lease v1";
  r.n_trials = trials;
  return r;
}

// A sampler that learns from the history, as TPE will: its x is the number of finished trials
// it has seen, so re-sampling a number after a resume would give another value.
class HistorySampler final : public Sampler {
 public:
  explicit HistorySampler(std::atomic<int>* calls) : calls_(calls) {}
  std::optional<Params> sample(const SearchSpace&, int64_t number,
                               const std::vector<TrialRecord>& history) override {
    ++*calls_;
    sampled.push_back(number);
    return Params{{"x", static_cast<double>(history.size()) / 10.0}, {"width", int64_t{8}}};
  }
  std::string describe() const override { return "history"; }
  std::vector<int64_t> sampled;

 private:
  std::atomic<int>* calls_;
};

double score(Trial& t) {
  const double x = t.float_param("x");
  for (int step = 10; step <= 40; step += 10) {
    if (!t.report(step, 1.0 - (x - 0.5) * (x - 0.5) * step / 40.0)) break;
  }
  return 1.0 - (x - 0.5) * (x - 0.5);
}

// When a run is gone (hpo/lease.hpp), for a child process in each state it can be in.
TEST(RunIsGone, OnThisHostByItsProcessAndWhenStoppedByItsHeartbeat) {
  const double now = wall_seconds(), grace = 60;
  RunRecord me = this_run();
  me.heartbeat = now - 1000;
  EXPECT_FALSE(run_is_gone(me, now, grace));  // alive on this host: its heartbeat does not matter
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    for (;;) ::pause();
  }
  RunRecord other = me;
  other.pid = child;
  other.pid_start = 0;  // unknown: not compared
  EXPECT_FALSE(run_is_gone(other, now, grace));
  int status = 0;
  ::kill(child, SIGSTOP);
  ASSERT_EQ(::waitpid(child, &status, WUNTRACED), child);
  ASSERT_TRUE(WIFSTOPPED(status));
  EXPECT_TRUE(run_is_gone(other, now, grace));  // stopped and silent past the grace period
  other.heartbeat = now - 10;
  EXPECT_FALSE(run_is_gone(other, now, grace));  // stopped a moment ago
  ::kill(child, SIGCONT);
  ASSERT_EQ(::waitpid(child, &status, WCONTINUED), child);
  other.heartbeat = now - 1000;
  EXPECT_FALSE(run_is_gone(other, now, grace));  // going on again
  other.pid_start = 1;                           // another process's start: the pid was reused
  EXPECT_TRUE(run_is_gone(other, now, grace));
  other.pid_start = 0;
  ::kill(child, SIGKILL);
  siginfo_t info{};
  ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOWAIT), 0);
  EXPECT_TRUE(run_is_gone(other, now, grace));  // a zombie, not yet reaped
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  other.heartbeat = now;
  EXPECT_TRUE(run_is_gone(other, now, grace));  // no such process, whatever its heartbeat
  // On another host, the heartbeat alone.
  other.host = me.host + "-elsewhere";
  other.heartbeat = now - 10;
  EXPECT_FALSE(run_is_gone(other, now, grace));
  other.heartbeat = now - 1000;
  EXPECT_TRUE(run_is_gone(other, now, grace));
}

TEST(StudyLease, ARequeuedTrialKeepsItsParametersWithASamplerThatLearns) {
  store::MemoryStorage storage;
  std::atomic<int> calls{0};
  Params first;
  {
    Study crashed(record(4), space(), std::make_unique<HistorySampler>(&calls), storage);
    auto t0 = crashed.ask();
    auto t1 = crashed.ask();
    ASSERT_TRUE(t0 && t1);
    first = t0->params;
    crashed.run_trial(std::move(*t1), score);
  }  // trial 0 was running: its run is gone
  calls = 0;
  auto sampler = std::make_unique<HistorySampler>(&calls);
  HistorySampler* raw = sampler.get();
  Study resumed(record(4), space(), std::move(sampler), storage);
  auto again = resumed.ask();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->number, 0);
  EXPECT_EQ(again->params, first);  // not x = 0.1, which the sampler would now say
  EXPECT_EQ(again->requeues, 1);
  EXPECT_EQ(calls.load(), 0) << "a re-queued trial was sampled again";
  resumed.run_trial(std::move(*again), score);
  resumed.optimize(score);
  EXPECT_EQ(raw->sampled, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(resumed.trials().size(), 4u);
}

TEST(StudyLease, ASecondRunJoinsWithDistinctNumbersAndOneBudget) {
  store::MemoryStorage storage;
  Study a(record(4), space(), make_sampler("random", 1), storage);
  Study b(record(4), space(), make_sampler("random", 1), storage);
  EXPECT_EQ(a.record().id, b.record().id);
  EXPECT_NE(a.run().id, b.run().id);
  EXPECT_EQ(storage.runs(a.record().id).size(), 2u);
  auto t0 = a.ask(), t1 = b.ask(), t2 = a.ask(), t3 = b.ask();
  ASSERT_TRUE(t0 && t1 && t2 && t3);
  EXPECT_EQ(std::set<int64_t>({t0->number, t1->number, t2->number, t3->number}),
            (std::set<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(t1->owner, b.run().id);
  // The same numbers give the same parameters, whichever run samples them.
  store::MemoryStorage alone_storage;
  Study alone(record(4), space(), make_sampler("random", 1), alone_storage);
  std::map<int64_t, Params> alone_params;
  while (auto t = alone.ask()) alone_params[t->number] = t->params;
  for (const auto& t : {*t0, *t1, *t2, *t3}) EXPECT_EQ(t.params, alone_params.at(t.number));
  for (auto& t : {*t0, *t2}) a.run_trial(t, score);
  for (auto& t : {*t1, *t3}) b.run_trial(t, score);
  EXPECT_FALSE(a.ask());  // the budget counts both runs' trials
  EXPECT_FALSE(b.ask());
  EXPECT_EQ(a.progress().finished, 4);  // a counts b's trials too
}

// ask() waits while another run holds the last trials, and takes one back if that run goes.
TEST(StudyLease, AskWaitsForTheLastTrialsOfOtherRunsAndTakesThemBackWhenTheyGo) {
  store::MemoryStorage storage;
  auto a = std::make_unique<Study>(record(2), space(), make_sampler("random", 2), storage);
  Study b(record(2), space(), make_sampler("random", 2), storage);
  auto t0 = a->ask();
  auto t1 = b.ask();
  ASSERT_TRUE(t0 && t1);
  b.run_trial(*t1, score);
  auto waiting = std::async(std::launch::async, [&] { return b.ask(); });
  EXPECT_EQ(waiting.wait_for(std::chrono::milliseconds(700)), std::future_status::timeout)
      << "b gave up while a still held trial 0";
  a.reset();  // a's process ends without finishing trial 0
  auto taken = waiting.get();
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->number, 0);
  EXPECT_EQ(taken->params, t0->params);
  EXPECT_EQ(taken->owner, b.run().id);
  b.run_trial(*taken, score);
  EXPECT_FALSE(b.ask());
  EXPECT_EQ(b.progress().finished, 2);
}

// A run taken for gone (silent past the grace period: stopped, or cut off from the database) whose
// trial another run took: its result is dropped, and its progress says which trial it lost.
TEST(StudyLease, ARunWhoseTrialWasTakenBackSaysItLostIt) {
  store::MemoryStorage storage;
  Study a(record(2), space(), make_sampler("random", 2), storage);
  Study b(record(2), space(), make_sampler("random", 2), storage);
  auto t0 = a.ask();
  ASSERT_TRUE(t0);
  storage.remove_run(a.run().id);  // as a run taken for gone is
  auto taken = b.ask();
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->number, t0->number);
  b.run_trial(*taken, score);
  // a goes on: its next report finds the trial b's, and its attempt ends there.
  int reports = 0;
  a.run_trial(*t0, [&](Trial& t) {
    for (int step = 10; step <= 40; step += 10) {
      ++reports;
      t.report(step, -1.0);
    }
    return -1.0;
  });
  EXPECT_EQ(reports, 1);
  EXPECT_EQ(a.progress().lost_here, std::vector<int64_t>{t0->number});
  EXPECT_EQ(a.progress().finished_here, 0);
  EXPECT_TRUE(b.progress().lost_here.empty());
  const auto trials = storage.trials(a.record().id);
  ASSERT_EQ(trials.size(), 1u);
  EXPECT_EQ(trials[0].owner, b.run().id);  // b's attempt is the one stored, curve and all
  EXPECT_NE(trials[0].value, -1.0);
  for (const Report& r : trials[0].reports) EXPECT_NE(r.value, -1.0) << "at step " << r.step;
}

// Members trained together (as a population is), round after round; each leaves when a report
// says stop, and `between` runs before each round after the first.
class Together final : public GroupObjective {
 public:
  std::function<void(int64_t step)> between;
  std::map<int64_t, int> reports;  // by trial number
  std::string group(int64_t, const Params&) const override { return "all"; }
  void run(const std::vector<Trial*>& trials, const Finish& finish) override {
    std::vector<char> active(trials.size(), 1);
    for (int64_t step = 10; step <= 40; step += 10) {
      if (step > 10 && between) between(step);
      for (size_t i = 0; i < trials.size(); ++i) {
        if (!active[i]) continue;
        ++reports[trials[i]->number()];
        if (!trials[i]->report(step, 0.5)) {
          active[i] = 0;
          finish(i, 0.5);
        }
      }
    }
    for (size_t i = 0; i < trials.size(); ++i) {
      if (active[i]) finish(i, 1.0);
    }
  }
};

// A member of a population whose trial another run took back leaves at its next report (a throw
// would have ended the whole population); the others train to their end and are stored.
TEST(StudyLease, APopulationsMemberAnotherRunTookBackLeavesAndTheOthersTrainOn) {
  store::MemoryStorage storage;
  Study a(record(2), space(), make_sampler("random", 2), storage);
  Study b(record(2), space(), make_sampler("random", 2), storage);
  auto t0 = a.ask();
  auto t1 = a.ask();
  ASSERT_TRUE(t0 && t1);
  Together together;
  together.between = [&](int64_t step) {
    if (step != 20) return;
    storage.remove_run(a.run().id);  // as a run taken for gone is
    auto taken = b.ask();            // the lowest-numbered trial: t0
    ASSERT_TRUE(taken);
    ASSERT_EQ(taken->number, t0->number);
    b.run_trial(*taken, score);
  };
  a.run_trials({*t0, *t1}, together, [] { return 1; });
  EXPECT_EQ(together.reports[t0->number], 2);  // step 20's report was refused: it left there
  EXPECT_EQ(together.reports[t1->number], 4);
  EXPECT_EQ(a.progress().lost_here, std::vector<int64_t>{t0->number});
  EXPECT_EQ(a.progress().finished_here, 1);
  const auto trials = storage.trials(a.record().id);
  ASSERT_EQ(trials.size(), 2u);
  for (const TrialRecord& t : trials) {
    if (t.number == t0->number) {
      EXPECT_EQ(t.owner, b.run().id);  // b's attempt, curve and all
      for (const Report& r : t.reports) EXPECT_NE(r.value, 0.5) << "at step " << r.step;
    } else {
      EXPECT_EQ(t.state, TrialState::Completed);
      EXPECT_EQ(t.value, 1.0);
      EXPECT_EQ(t.reports.size(), 4u);
    }
  }
}

// The MPI manager's run, taken for gone, answers a worker's report of a trial another run took
// with a stop (the worker's attempt ends there), stores nothing of it, and drops its result.
TEST(StudyLease, TheMpiManagerTellsAWorkerToStopATrialItsRunLost) {
  store::MemoryStorage storage;
  Study a(record(1), space(), make_sampler("random", 1), storage);
  Study b(record(1), space(), make_sampler("random", 1), storage);
  auto t0 = a.ask();
  ASSERT_TRUE(t0);
  EXPECT_FALSE(a.submit(t0->number, Report(10, 0.25)).at(0).decision.stops());
  storage.remove_run(a.run().id);
  auto taken = b.ask();
  ASSERT_TRUE(taken);
  const auto released = a.submit(t0->number, Report(20, 0.5));
  ASSERT_EQ(released.size(), 1u);
  EXPECT_EQ(released[0].number, t0->number);
  EXPECT_TRUE(released[0].decision.stops());
  EXPECT_THAT(released[0].decision.reason, ::testing::HasSubstr("taken back by another run"));
  TrialRecord result = *t0;
  settle(result, Outcome::Returned, 0.5, "", true);
  a.tell(result);
  EXPECT_EQ(a.progress().lost_here, std::vector<int64_t>{t0->number});
  const auto trials = storage.trials(a.record().id);
  ASSERT_EQ(trials.size(), 1u);
  EXPECT_EQ(trials[0].owner, b.run().id);
  EXPECT_EQ(trials[0].state, TrialState::Running);
  ASSERT_EQ(trials[0].reports.size(), 0u);  // a's step 10 went with the lease; step 20 refused
}

// A child process that runs `body` on its own storage connection and is expected to kill itself.
template <class Body>
void run_child_expecting_sigkill(Body body) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    try {
      body();
    } catch (...) {
      ::_exit(3);
    }
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the child did not die as planned (exit " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1)
      << ")";
}

// The objective of the killed-and-resumed studies: reports a curve; `attempt` marks its values
// (and its x), so that rows of an earlier attempt are told apart; dies at `die_at` (number, step).
struct Curves {
  double attempt = 0;
  int64_t die_number = -1, die_step = -1;
  double operator()(Trial& t) const {
    const double x = t.float_param("x");
    const double final_value = 1.0 - (x - 0.5) * (x - 0.5) + attempt;
    for (int64_t step = 10; step <= 60; step += 10) {
      if (t.number() == die_number && step == die_step) ::raise(SIGKILL);
      if (!t.report(step, final_value * static_cast<double>(step) / 60.0)) {
        return final_value * static_cast<double>(step) / 60.0;
      }
    }
    return final_value;
  }
};

std::unique_ptr<Stopper> median() {
  return make_median({.min_trials = 2, .grace = 20});
}

TEST(StudyLease, KilledWithAStopperOnSqliteThenResumedDropsTheLostAttemptsDecisions) {
  store::testing::TempDb db;
  constexpr int64_t kTrials = 8;
  run_child_expecting_sigkill([&] {
    store::SqliteStorage storage(db.path());
    Study study(record(kTrials), space(), make_sampler("random", 5), storage, median());
    study.optimize(Curves{.attempt = 1000, .die_number = 4, .die_step = 50});
  });
  std::map<int64_t, TrialRecord> before;
  {
    store::SqliteStorage storage(db.path());
    for (auto& t : storage.trials(1)) before[t.number] = t;
  }
  ASSERT_EQ(before.size(), 5u);
  const TrialRecord& lost = before.at(4);
  ASSERT_EQ(lost.state, TrialState::Running);
  ASSERT_EQ(lost.reports.size(), 4u);    // steps 10..40 stored before it died
  ASSERT_FALSE(lost.decisions.empty());  // and the median rule's decisions
  for (int64_t n = 0; n < 4; ++n) ASSERT_NE(before.at(n).state, TrialState::Running);
  EXPECT_FALSE(before.at(3).decisions.empty());  // decisions are written and read back

  store::SqliteStorage storage(db.path());
  Study resumed(record(kTrials), space(), make_sampler("random", 5), storage, median());
  resumed.optimize(Curves{.attempt = 0});
  auto after = resumed.trials();
  ASSERT_EQ(after.size(), static_cast<size_t>(kTrials));
  for (int64_t n = 0; n < 4; ++n) {  // finished before: untouched
    const TrialRecord& t = after[static_cast<size_t>(n)];
    EXPECT_EQ(t.finished, before.at(n).finished);
    EXPECT_EQ(t.decisions.size(), before.at(n).decisions.size());
    EXPECT_EQ(t.requeues, 0);
  }
  const TrialRecord& again = after[4];
  EXPECT_EQ(again.requeues, 1);
  EXPECT_EQ(again.params, lost.params);
  EXPECT_NE(again.state, TrialState::Running);
  for (const Report& r : again.reports) EXPECT_LT(r.value, 50) << "a report of the lost attempt";
  // Its decisions are the new attempt's: one per report, none left from the first.
  ASSERT_EQ(again.decisions.size(), again.reports.size());
  for (size_t i = 0; i < again.reports.size(); ++i) {
    EXPECT_EQ(again.decisions[i].step, again.reports[i].step);
  }
  for (const auto& t : after) EXPECT_NE(t.state, TrialState::Running);
}

// Two workers: the trials interrupted are not the last numbers (a slow trial and a fast one),
// and the resumed study is killed again while it runs the re-queued ones. The final resume ends
// with exactly the budget, each number once, each with its first parameters.
TEST(StudyLease, TwoWorkersKilledTwiceLoseNothing) {
  store::testing::TempDb db;
  constexpr int64_t kTrials = 10;
  std::map<int64_t, Params> first;
  run_child_expecting_sigkill([&] {
    store::SqliteStorage storage(db.path());
    Study study(record(kTrials), space(), make_sampler("random", 6), storage);
    exec::LocalExecutor executor({.workers = 2, .threads_per_worker = 1});
    std::atomic<int> started{0};
    OptimizeOptions options;
    options.executor = &executor;
    study.optimize(
        [&](Trial& t) {
          // Trial 1 waits for trial 5 to start: when 5 dies, 1 and 5 are both running, and
          // 2, 3, 4 have finished: the interrupted numbers are 1 and 5, not the last two.
          ++started;
          if (t.number() == 1) {
            while (started.load() < 5) std::this_thread::sleep_for(std::chrono::milliseconds(1));
            std::this_thread::sleep_for(std::chrono::seconds(30));
          }
          if (t.number() == 5) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            ::raise(SIGKILL);
          }
          return Curves{.attempt = 100}(t);
        },
        options);
  });
  {
    store::SqliteStorage storage(db.path());
    std::set<int64_t> running;
    for (auto& t : storage.trials(1)) {
      first[t.number] = t.params;
      if (t.state == TrialState::Running) running.insert(t.number);
    }
    ASSERT_EQ(running, (std::set<int64_t>{1, 5}));
    ASSERT_EQ(first.size(), 6u);
  }
  // The second process dies while it runs the re-queued trial 5 (trial 1 finished first).
  run_child_expecting_sigkill([&] {
    store::SqliteStorage storage(db.path());
    Study study(record(kTrials), space(), make_sampler("random", 6), storage);
    study.optimize(Curves{.attempt = 0, .die_number = 5, .die_step = 30});
  });
  store::SqliteStorage storage(db.path());
  {
    auto trials = storage.trials(1);
    ASSERT_EQ(trials.size(), 6u);
    EXPECT_EQ(trials[1].state, TrialState::Completed);
    EXPECT_EQ(trials[5].state, TrialState::Running);
  }
  Study resumed(record(kTrials), space(), make_sampler("random", 6), storage);
  exec::LocalExecutor executor({.workers = 2, .threads_per_worker = 1});
  OptimizeOptions options;
  options.executor = &executor;
  resumed.optimize(Curves{.attempt = 0}, options);
  auto trials = resumed.trials();
  ASSERT_EQ(trials.size(), static_cast<size_t>(kTrials));
  for (int64_t n = 0; n < kTrials; ++n) {
    const TrialRecord& t = trials[static_cast<size_t>(n)];
    EXPECT_EQ(t.number, n);
    EXPECT_EQ(t.state, TrialState::Completed) << n << ": " << t.error;
    if (first.contains(n)) {
      EXPECT_EQ(t.params, first.at(n)) << n;
    }
  }
  EXPECT_EQ(trials[1].requeues, 1);
  EXPECT_EQ(trials[5].requeues, 2);
  // The two killed processes' runs were found gone and removed: only this one is left.
  auto runs = storage.runs(1);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].id, resumed.run().id);
}

}  // namespace
}  // namespace krill::hpo
