// The manager/worker protocol of distributed studies, run on threads over a LocalNetwork (no MPI
// needed): rank 0 runs the Manager on a real Study, ranks 1.. run run_worker. Every trial is
// handed out once and stored with the state the manager classifies; reports and stop decisions
// round-trip; the best trial's weights reach the manager; workers wait for trials that other
// processes hold; a rank that breaks the protocol gets a ProtocolError, not undefined behaviour.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "exec/mpi/manager.hpp"
#include "exec/mpi/worker.hpp"
#include "hpo/study.hpp"
#include "store/memory_storage.hpp"
#include "store/sqlite_storage.hpp"

namespace krill::exec::mpi {
namespace {

using hpo::TrialState;

hpo::SearchSpace space() {
  return hpo::SearchSpace{{"x", hpo::FloatDim{-2.0, 2.0}}};
}

hpo::StudyRecord record(int64_t trials, const std::string& config = "mpi v1") {
  hpo::StudyRecord r;
  r.name = "mpi";
  r.direction = hpo::Direction::Maximize;
  r.objective = "score";
  r.config = config;
  r.n_trials = trials;
  return r;
}

std::unique_ptr<hpo::Study> make_study(hpo::Storage& storage, int64_t trials,
                                       std::unique_ptr<hpo::Stopper> stopper = nullptr) {
  return std::make_unique<hpo::Study>(record(trials), space(), hpo::make_sampler("random", 7),
                                      storage, std::move(stopper));
}

// Runs a study with `ranks` ranks (rank 0 manages) and `objective` on every worker; returns the
// manager's stats. Worker failures (exceptions out of run_worker) fail the test.
struct Cluster {
  ManagerStats stats;
  std::vector<WorkerStats> workers;
};
Cluster run_cluster(hpo::Study& study, int ranks, const hpo::Objective& objective,
                    ManagerOptions options = {}, WorkerOptions worker_options = {}) {
  LocalNetwork net(ranks);
  std::vector<std::future<WorkerStats>> futures;
  for (int r = 1; r < ranks; ++r) {
    futures.push_back(std::async(std::launch::async, [&, r] {
      return run_worker(net.endpoint(r), objective, worker_options);
    }));
  }
  MpiExecutor executor(net.endpoint(0), options);
  hpo::OptimizeOptions optimize;
  optimize.executor = &executor;
  study.optimize(objective, optimize);
  Cluster c;
  c.stats = executor.stats();
  for (auto& f : futures) c.workers.push_back(f.get());
  return c;
}

double quadratic(hpo::Trial& t) {
  const double x = t.float_param("x");
  for (int step = 1; step <= 3; ++step) t.report(step, -x * x * step / 3.0, {{"lr", 0.1 * step}});
  t.set_attr("x_seen", x);
  return -x * x;
}

TEST(MpiManager, HandsOutEveryTrialOnceAndStoresTheResults) {
  store::MemoryStorage storage;
  auto study = make_study(storage, 20);
  const Cluster c = run_cluster(*study, 4, quadratic);
  const auto trials = study->trials();
  ASSERT_EQ(trials.size(), 20u);
  int64_t trained = 0;
  for (const auto& w : c.workers) trained += w.trials;
  EXPECT_EQ(trained, 20);
  EXPECT_EQ(c.stats.handed_out, 20);
  EXPECT_EQ(c.stats.results, 20);
  EXPECT_EQ(c.stats.reports, 60);
  for (size_t i = 0; i < trials.size(); ++i) {
    const auto& t = trials[i];
    EXPECT_EQ(t.number, static_cast<int64_t>(i));
    EXPECT_EQ(t.state, TrialState::Completed);
    const double x = std::get<double>(t.params.at("x"));
    ASSERT_TRUE(t.value);
    EXPECT_EQ(*t.value, -x * x);  // the worker's value, unchanged by the trip
    EXPECT_EQ(t.attrs.at("x_seen"), x);
    ASSERT_EQ(t.reports.size(), 3u);
    EXPECT_EQ(t.reports[2].metrics.at("lr"), 0.1 * 3);
    EXPECT_GE(t.worker, 1);  // the rank that trained it; rank 0 only manages
    EXPECT_LE(t.worker, 3);
    EXPECT_GE(t.finished, t.started);
  }
}

TEST(MpiManager, ClassifiesFailedAndDivergedTrialsAndGoesOn) {
  store::MemoryStorage storage;
  auto study = make_study(storage, 8);
  run_cluster(*study, 3, [](hpo::Trial& t) -> double {
    switch (t.number() % 4) {
      case 0:
        throw std::runtime_error("out of memory at layer 2");
      case 1:
        throw hpo::Diverged("loss not finite at iteration 7");
      case 2:
        return std::nan("");
      default:
        return 0.5;
    }
  });
  const auto trials = study->trials();
  ASSERT_EQ(trials.size(), 8u);
  for (const auto& t : trials) {
    switch (t.number % 4) {
      case 0:
        EXPECT_EQ(t.state, TrialState::Failed);
        EXPECT_EQ(t.error, "out of memory at layer 2");
        break;
      case 1:
        EXPECT_EQ(t.state, TrialState::Diverged);
        EXPECT_EQ(t.error, "loss not finite at iteration 7");
        break;
      case 2:
        EXPECT_EQ(t.state, TrialState::Diverged);
        EXPECT_THAT(t.error, ::testing::HasSubstr("returned nan"));
        EXPECT_FALSE(t.value);
        break;
      default:
        EXPECT_EQ(t.state, TrialState::Completed);
        EXPECT_EQ(t.value, 0.5);
    }
  }
  const auto p = study->progress();
  EXPECT_EQ(p.failed_here, 6);
  EXPECT_THAT(p.first_error, ::testing::HasSubstr("trial "));
}

// Stops every trial whose x is negative at its second report.
class SignStopper final : public hpo::Stopper {
 public:
  hpo::StopDecision decide(const hpo::StudyView&, const hpo::TrialRecord& trial,
                           const hpo::Report& report) override {
    const double x = std::get<double>(trial.params.at("x"));
    hpo::StopDecision d;
    if (report.step >= 2 && x < 0) {
      d.stop = true;
      d.reason = "x < 0 at step " + std::to_string(report.step);
    }
    return d;
  }
  std::string describe() const override { return "sign"; }
};

TEST(MpiManager, StopDecisionsReachTheWorkerAndStoppedTrialsAreStopped) {
  store::MemoryStorage storage;
  auto study = make_study(storage, 12, std::make_unique<SignStopper>());
  std::mutex m;
  std::map<int64_t, int64_t> last_step;  // what the workers' objectives saw
  run_cluster(*study, 3, [&](hpo::Trial& t) {
    int64_t step = 0;
    for (step = 1; step <= 4; ++step) {
      if (!t.report(step, static_cast<double>(step))) break;
    }
    std::lock_guard lock(m);
    last_step[t.number()] = step;
    return 1.0;
  });
  for (const auto& t : study->trials()) {
    const bool negative = std::get<double>(t.params.at("x")) < 0;
    EXPECT_EQ(t.state, negative ? TrialState::Stopped : TrialState::Completed) << t.number;
    EXPECT_EQ(last_step[t.number], negative ? 2 : 5) << t.number;
    ASSERT_EQ(t.decisions.size(), negative ? 2u : 4u) << t.number;
    EXPECT_EQ(t.decisions.back().stops(), negative);
    if (negative) {
      EXPECT_EQ(t.decisions.back().reason, "x < 0 at step 2");
    }
  }
}

class FakeKeeper final : public WeightsKeeper {
 public:
  bool wants(int64_t trial, double value) override {
    std::lock_guard lock(m);
    asked.push_back(trial);
    return !best || value > best->second;
  }
  void keep(int64_t trial, double value, std::span<const uint8_t> bytes) override {
    std::lock_guard lock(m);
    if (best && value <= best->second) return;
    best = {trial, value};
    kept[trial] = std::vector<uint8_t>(bytes.begin(), bytes.end());
  }
  std::mutex m;
  std::vector<int64_t> asked;
  std::optional<std::pair<int64_t, double>> best;
  std::map<int64_t, std::vector<uint8_t>> kept;
};

TEST(MpiManager, TheBestTrialsWeightsReachTheManager) {
  store::MemoryStorage storage;
  auto study = make_study(storage, 16);
  FakeKeeper keeper;
  std::atomic<int> taken{0}, wanted{0};
  WorkerOptions wo;
  wo.take_weights = [&](int64_t n, bool want) {
    ++taken;
    wanted += want;
    return std::vector<uint8_t>{static_cast<uint8_t>(n), 0xAB};
  };
  run_cluster(
      *study, 3,
      [](hpo::Trial& t) -> double {
        if (t.number() == 5) throw std::runtime_error("no weights for a failed trial");
        return quadratic(t);
      },
      {.weights = &keeper}, wo);
  EXPECT_EQ(taken.load(), 16);  // taken after every trial, kept or dropped
  // Asked for each new best; kept when still the best on arrival (a better trial's weights may
  // arrive first from another worker).
  EXPECT_GE(wanted.load(), static_cast<int>(keeper.kept.size()));
  EXPECT_GE(keeper.kept.size(), 1u);
  // Asked for Completed trials only.
  EXPECT_EQ(std::count(keeper.asked.begin(), keeper.asked.end(), 5), 0);
  EXPECT_EQ(keeper.asked.size(), 15u);
  const auto best = study->best_trial();
  ASSERT_TRUE(best && keeper.best);
  EXPECT_EQ(keeper.best->first, best->number);
  EXPECT_EQ(keeper.kept.at(best->number),
            (std::vector<uint8_t>{static_cast<uint8_t>(best->number), 0xAB}));
}

TEST(MpiManager, WorkersWaitForTrialsOfOtherProcessesThenShutDown) {
  store::MemoryStorage storage;
  auto other = make_study(storage, 3);  // another process of the same study
  auto held = other->ask(0);
  ASSERT_TRUE(held);
  auto study = make_study(storage, 3);
  std::promise<void> started;
  auto release = std::async(std::launch::async, [&] {
    // The other process finishes its trial while the cluster's workers wait.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    other->run_trial(std::move(*held), [](hpo::Trial&) { return 2.0; });
  });
  const auto t0 = std::chrono::steady_clock::now();
  ManagerOptions mo;
  mo.poll_seconds = 0.01;
  const Cluster c = run_cluster(*study, 4, quadratic, mo);
  release.get();
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(waited, 0.29);  // the workers did not quit while the other trial ran
  EXPECT_EQ(c.stats.handed_out, 2);
  const auto trials = study->trials();
  ASSERT_EQ(trials.size(), 3u);
  for (const auto& t : trials) EXPECT_NE(t.state, TrialState::Running);
}

TEST(MpiManager, ACancelledStudyShutsTheWorkersDownAfterTheirTrials) {
  store::MemoryStorage storage;
  auto study = make_study(storage, 1000);
  std::atomic<bool> cancel{false};
  LocalNetwork net(3);
  std::atomic<int> ran{0};
  const hpo::Objective objective = [&](hpo::Trial&) {
    if (++ran == 5) cancel = true;
    return 1.0;
  };
  auto w1 = std::async(std::launch::async, [&] { return run_worker(net.endpoint(1), objective); });
  auto w2 = std::async(std::launch::async, [&] { return run_worker(net.endpoint(2), objective); });
  MpiExecutor executor(net.endpoint(0));
  hpo::OptimizeOptions options;
  options.executor = &executor;
  options.cancel = &cancel;
  study->optimize(objective, options);
  const int64_t trained = w1.get().trials + w2.get().trials;
  EXPECT_GE(trained, 5);
  EXPECT_LE(trained, 6);  // the trial running on the other worker finishes
  for (const auto& t : study->trials()) EXPECT_EQ(t.state, TrialState::Completed);
}

TEST(MpiManager, GroupCommitOnSqliteGivesTheSameStudyAsOneTransactionPerMessage) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("krill_mpi_batch_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::vector<std::vector<hpo::TrialRecord>> results;
  for (int batch : {1, 64}) {
    store::SqliteStorage storage(dir / ("b" + std::to_string(batch) + ".db"));
    auto study = make_study(storage, 30);
    const Cluster c = run_cluster(*study, 5, quadratic, {.batch = batch});
    if (batch == 1) {
      EXPECT_GE(c.stats.batches, 30 * 5);  // an Ask, 3 reports and a result per trial
    }
    results.push_back(study->trials());
  }
  ASSERT_EQ(results[0].size(), 30u);
  ASSERT_EQ(results[1].size(), 30u);
  for (size_t i = 0; i < 30; ++i) {
    EXPECT_EQ(results[0][i].params, results[1][i].params);
    EXPECT_EQ(results[0][i].value, results[1][i].value);
    EXPECT_EQ(results[0][i].reports.size(), results[1][i].reports.size());
  }
  std::filesystem::remove_all(dir);
}

// A rank that sends what the protocol does not allow at that moment.
void expect_protocol_error(const std::vector<Message>& from_rank1, const std::string& expected) {
  store::MemoryStorage storage;
  auto study = make_study(storage, 5);
  LocalNetwork net(2);
  for (const Message& m : from_rank1) send_message(net.endpoint(1), 0, m);
  MpiExecutor executor(net.endpoint(0));
  hpo::OptimizeOptions options;
  options.executor = &executor;
  try {
    study->optimize(quadratic, options);
    FAIL() << "expected a ProtocolError with '" << expected << "'";
  } catch (const ProtocolError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("rank 1")) << e.what();
    EXPECT_THAT(e.what(), ::testing::HasSubstr(expected)) << e.what();
  }
}

TEST(MpiManager, RefusesMessagesTheProtocolDoesNotAllow) {
  expect_protocol_error({ReportMsg{0, 1, 0.5, {}}}, "which it does not run");
  expect_protocol_error({Result{3, Outcome::Returned, 0.5, "", {}}}, "which it does not run");
  expect_protocol_error({Ask{}, Ask{}}, "while it runs trial 0");
  expect_protocol_error({Ask{}, ReportMsg{1, 1, 0.5, {}}}, "it runs trial 0");
  expect_protocol_error({Weights{0, {1, 2}}}, "were not asked for");
  expect_protocol_error({Shutdown{}}, "only a manager sends it");
  expect_protocol_error({mpi::Run{0, {}}}, "only a manager sends it");
}

TEST(MpiManager, RefusesBytesThatAreNoMessage) {
  store::MemoryStorage storage;
  auto study = make_study(storage, 5);
  LocalNetwork net(2);
  net.endpoint(1).send(0, {'K', 'M', 99, 0});
  MpiExecutor executor(net.endpoint(0));
  hpo::OptimizeOptions options;
  options.executor = &executor;
  EXPECT_THROW(study->optimize(quadratic, options), ProtocolError);
}

TEST(MpiManager, NeedsAWorker) {
  store::MemoryStorage storage;
  auto study = make_study(storage, 5);
  LocalNetwork net(1);
  EXPECT_THROW(Manager(*study, net.endpoint(0)), InvalidArgument);
}

// The manager's Continue for a trial's report at `step`.
Decision go_on(int64_t trial, int64_t step) {
  Decision d;
  d.trial = trial;
  d.step = step;
  return d;
}

TEST(MpiWorker, RefusesAnswersTheProtocolDoesNotAllow) {
  const auto run = [](std::vector<Message> answers, const std::string& expected) {
    LocalNetwork net(2);
    for (const Message& m : answers) send_message(net.endpoint(0), 1, m);
    try {
      run_worker(net.endpoint(1), quadratic);
      FAIL() << "expected a ProtocolError with '" << expected << "'";
    } catch (const ProtocolError& e) {
      EXPECT_THAT(e.what(), ::testing::HasSubstr(expected)) << e.what();
    }
  };
  run({go_on(0, 1)}, "answered Ask with Decision");
  run({mpi::Run{4, {{"x", 0.5}}}, ResultAck{4, false}},
      "answered a report with ResultAck, expected Decision or Give");
  run({mpi::Run{4, {{"x", 0.5}}}, go_on(5, 1)}, "decided for trial 5");
  hpo::Params p{{"x", 0.5}};
  run({mpi::Run{4, p}, go_on(4, 1), go_on(4, 2), go_on(4, 3), ResultAck{9, false}},
      "acknowledged trial 9");
}

TEST(MpiWorker, AParameterOfTheWrongTypeIsAFailedTrialNotACrash) {
  store::MemoryStorage storage;
  LocalNetwork net(2);
  send_message(net.endpoint(0), 1, mpi::Run{0, {{"x", std::string("oops")}}});
  send_message(net.endpoint(0), 1, ResultAck{0, false});
  send_message(net.endpoint(0), 1, Shutdown{});
  const WorkerStats s = run_worker(net.endpoint(1), quadratic);
  EXPECT_EQ(s.trials, 1);
  // Ask, Result, Ask went to the manager.
  auto ask = receive_message(net.endpoint(0), 1);
  auto result = receive_message(net.endpoint(0), 1);
  ASSERT_TRUE(ask && result);
  const auto* r = std::get_if<Result>(&result->message);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->outcome, Outcome::Threw);
  EXPECT_THAT(r->error, ::testing::HasSubstr("x"));
}

}  // namespace
}  // namespace krill::exec::mpi
