// `krill tune`, `show` and `export` as a user runs them, and the crash test: a study killed with
// SIGKILL in the middle and run again ends with exactly N finished trials, none lost, none run
// twice to completion.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "apps/cli_util.hpp"
#include "apps/tune_process_util.hpp"
#include "common/pg_test_server.hpp"
#include "store/open.hpp"

namespace {

namespace fs = std::filesystem;
using krill::testing::run_krill;
using krill::testing::run_krill_stdout_to;
using krill::testing::spawn_tune;
using krill::testing::wait_for_trials;
using ::testing::HasSubstr;

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class TuneCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = krill::testing::fresh_test_folder("krill_tune_test");
    krill::testing::write_synthetic_data(dir_, 2000, 200);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  fs::path write_study(int trials, const std::string& hidden, int iterations) {
    const fs::path file = dir_ / "study.yaml";
    std::ofstream(file) << "study: crash\n"
                        << "data: " << (dir_ / "data").string() << "\n"
                        << "validation: 0.2\n"
                        << "objective: val_accuracy\n"
                        << "trials: " << trials << "\nworkers: 1\nseed: 3\nsampler: random\n"
                        << "model:\n  hidden: \"" << hidden << "\"\n"
                        << "training:\n  batch: 16\n  iterations: " << iterations
                        << "\n  eval_every: " << iterations / 4 << "\n"
                        << "search:\n  lr: {type: float, low: 0.001, high: 0.05, log: true}\n"
                        << "  momentum: {type: float, low: 0.0, high: 0.9}\n";
    return file;
  }

  void expect_stopped_now(const std::function<void(pid_t)>& stop, int exit_code,
                          const std::string& said);
  fs::path dir_;
};

TEST_F(TuneCliTest, TunesShowsAndExports) {
  const fs::path study = write_study(4, "16", 100);
  auto r = run_krill("tune " + study.string() + " --quiet --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("best parameters: lr="));
  EXPECT_THAT(r.output, HasSubstr((dir_ / "crash.db").string()));

  auto show = run_krill("show " + (dir_ / "crash.db").string());
  ASSERT_EQ(show.exit_code, 0) << show.output;
  EXPECT_THAT(show.output, HasSubstr("4 completed"));
  EXPECT_THAT(show.output, HasSubstr("best trial"));
  EXPECT_THAT(show.output, HasSubstr("* best so far"));

  auto csv = run_krill("export " + (dir_ / "crash.db").string() + " --format csv");
  ASSERT_EQ(csv.exit_code, 0) << csv.output;
  // Optuna's trials_dataframe() columns, then krill's own.
  EXPECT_THAT(csv.output,
              ::testing::StartsWith("number,value,datetime_start,datetime_complete,duration,"
                                    "params_lr,params_momentum,user_attrs_iterations,"));
  EXPECT_THAT(csv.output, HasSubstr(",state,reason,worker,requeues\n"));
  EXPECT_THAT(csv.output, ::testing::ContainsRegex(
                              "\n0,[0-9.]+,20[0-9-]+ [0-9:.]+,20[0-9-]+ [0-9:.]+,[0-9.e-]+,"));
  EXPECT_THAT(csv.output, HasSubstr(",completed,,0,0\n"));  // no reason, worker 0, no re-queue
  EXPECT_EQ(std::count(csv.output.begin(), csv.output.end(), '\n'), 5);  // header + 4 trials
  // The curves in long form: 4 points (every 25 of 100 steps) x (value + 4 metrics) x 4 trials.
  auto curves = run_krill("export " + (dir_ / "crash.db").string() + " --curves");
  ASSERT_EQ(curves.exit_code, 0) << curves.output;
  EXPECT_THAT(curves.output, ::testing::StartsWith("number,step,series,value\n0,25,value,"));
  EXPECT_THAT(curves.output, HasSubstr("\n3,100,lr,"));
  EXPECT_EQ(std::count(curves.output.begin(), curves.output.end(), '\n'), 1 + 4 * 5 * 4)
      << curves.output;

  auto json = run_krill("export " + (dir_ / "crash.db").string() + " --format json");
  ASSERT_EQ(json.exit_code, 0) << json.output;
  EXPECT_THAT(json.output, HasSubstr("\"curve\":[[25,"));
  // A write that fails (a full disk: /dev/full) is an error, not a silent success.
  ASSERT_TRUE(fs::exists("/dev/full"))
      << "the full-disk device of Linux, which this test writes to";
  auto full = run_krill("export " + (dir_ / "crash.db").string() + " --format json -o /dev/full");
  EXPECT_EQ(full.exit_code, 2) << full.output;
  EXPECT_THAT(full.output, HasSubstr("/dev/full: write failed"));
  // Every command's standard output too (they exited 0 with the results lost); krill's stderr,
  // where it says so, goes to the pipe.
  const std::string db = (dir_ / "crash.db").string();
  for (const std::string& args : {"show " + db, "show " + db + " --json", "studies " + db,
                                  "best " + db, "best " + db + " --json"}) {
    const auto r = run_krill_stdout_to(args, "/dev/full");
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.output;
    EXPECT_THAT(r.output, HasSubstr("krill: error: standard output: write failed")) << args;
  }

  // The report, like the figures, goes into folders that do not exist yet.
  const fs::path page = dir_ / "new" / "sub" / "report.html";
  auto report = run_krill("report " + (dir_ / "crash.db").string() + " -o " + page.string());
  ASSERT_EQ(report.exit_code, 0) << report.output;
  EXPECT_GT(fs::file_size(page), 1000u);

  // Running it again: nothing left to do, nothing rerun.
  auto again = run_krill("tune " + study.string() + " --quiet --threads 1");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  auto csv2 = run_krill("export " + (dir_ / "crash.db").string() + " --format csv");
  EXPECT_EQ(csv2.output, csv.output);
  // A budget below the trials done: said so (it read "4 of 2 trials done, resuming").
  auto lower = run_krill("tune " + study.string() + " --threads 1 --trials 2");
  ASSERT_EQ(lower.exit_code, 0) << lower.output;
  EXPECT_THAT(lower.output, HasSubstr("(4 trials done, the budget is 2: none to run), "));
  EXPECT_THAT(lower.output, HasSubstr("study 'crash': 4 trials, more than its budget of 2 ("));
  EXPECT_EQ(run_krill("export " + (dir_ / "crash.db").string() + " --format csv").output,
            csv.output);
}

// --storage overrides the study file's storage: another SQLite file, or a PostgreSQL database
// (whose study keeps its best weights in the working folder, named by database).
TEST_F(TuneCliTest, StorageOptionOverridesTheStudyFiles) {
  const fs::path study = write_study(2, "16", 50);
  const fs::path other = dir_ / "other.db";
  auto r = run_krill("tune " + study.string() + " --quiet --threads 1 --storage " + other.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(other));
  EXPECT_FALSE(fs::exists(dir_ / "crash.db")) << "the file's own storage was used";
  EXPECT_EQ(krill::store::open_storage(other)->studies().size(), 1u);

  r = run_krill("tune " + study.string() + " --quiet --storage mysql://me:pw@host/db");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("--storage is 'mysql://me:***@host/db', expected a SQLite file "
                                  "path, sqlite:///path or postgresql://user@host:port/dbname"));
  // The file's storage that cannot be opened is said at its line; --storage's by the option; a
  // folder is said to be one (SQLite: "unable to open database file").
  const std::string missing = (dir_ / "none" / "x.db").string();
  std::ofstream(study, std::ios::app) << "storage: " << missing << "\n";
  r = run_krill("tune " + study.string() + " --quiet --threads 1");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr(study.string() + ":18:10: 'storage': " + missing + ": folder " +
                                  (dir_ / "none").string() + " does not exist"));
  r = run_krill("tune " + study.string() + " --quiet --threads 1 --storage " + dir_.string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("krill: error: " + dir_.string() +
                                  ": a folder, expected a study database file (e.g. " +
                                  (dir_ / "study.db").string() + ")"));

  KRILL_REQUIRE_PG(server);
  krill::testing::PgTempDb db(server);
  const fs::path was = fs::current_path();
  fs::current_path(dir_);
  r = run_krill("tune " + study.string() + " --quiet --threads 1 --storage '" + db.url() + "'");
  fs::current_path(was);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto storage = krill::store::open_storage(db.url());
  ASSERT_EQ(storage->studies().size(), 1u);
  EXPECT_EQ(storage->trials(storage->studies()[0].id).size(), 2u);
  size_t weights = 0;
  for (const auto& e : fs::directory_iterator(dir_)) {
    weights += e.path().filename().string().starts_with(db.name() + ".crash.trial-");
  }
  EXPECT_EQ(weights, 1u) << "the best weights belong in the working folder";
}

TEST_F(TuneCliTest, AConditionalSpaceTunesShowsAndExportsAbsentParameters) {
  const fs::path file = dir_ / "cond.yaml";
  std::ofstream(file) << "study: cond\ndata: " << (dir_ / "data").string()
                      << "\nvalidation: 0.2\ntrials: 8\nworkers: 1\nseed: 5\nsampler: tpe\n"
                      << "model: {hidden: \"16\"}\n"
                      << "training: {batch: 16, iterations: 40}\n"
                      << "search:\n"
                      << "  optimizer: {type: categorical, choices: [sgd, adam]}\n"
                      << "  momentum: {type: float, low: 0.5, high: 0.9, when: {optimizer: sgd}}\n"
                      << "  lr: {type: float, low: 0.001, high: 0.05, log: true}\n";
  auto r = run_krill("tune " + file.string() + " --quiet --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto show = run_krill("show " + (dir_ / "cond.db").string() + " --all");
  ASSERT_EQ(show.exit_code, 0) << show.output;
  EXPECT_THAT(show.output, HasSubstr("8 completed"));
  auto csv = run_krill("export " + (dir_ / "cond.db").string() + " --format csv");
  ASSERT_EQ(csv.exit_code, 0) << csv.output;
  ASSERT_THAT(csv.output, HasSubstr("params_lr,params_momentum,params_optimizer,"));
  // Each row: an empty momentum cell exactly when the optimizer is adam.
  int adam = 0, sgd = 0;
  std::istringstream rows(csv.output);
  std::string row;
  std::getline(rows, row);
  while (std::getline(rows, row)) {
    if (row.find(",adam,") != std::string::npos) {
      ++adam;
      EXPECT_THAT(row, ::testing::ContainsRegex(",[0-9.e-]+,,adam,")) << row;
    } else {
      ++sgd;
      EXPECT_THAT(row, ::testing::ContainsRegex(",[0-9.e-]+,0\\.[5-9][0-9]*,sgd,")) << row;
    }
  }
  EXPECT_GT(adam, 0);
  EXPECT_GT(sgd, 0);
  EXPECT_EQ(adam + sgd, 8);
  // krill show says which are absent.
  EXPECT_THAT(show.output, HasSubstr("optimizer=adam (absent: momentum)"));
  // Resuming with another condition is refused, naming it.
  std::string text = read_file(file);
  text.replace(text.find("{optimizer: sgd}"), 16, "{optimizer: adam}");
  std::ofstream(file) << text;
  auto resumed = run_krill("tune " + file.string() + " --quiet --threads 1");
  EXPECT_NE(resumed.exit_code, 0);
  EXPECT_THAT(resumed.output, HasSubstr("if optimizer in {string \"adam\"}"));
}

TEST_F(TuneCliTest, KilledWithSigkillThenResumedEndsWithExactlyNTrials) {
  constexpr int kTrials = 12;
  const fs::path study = write_study(kTrials, "256,256", 1500);
  const fs::path db = dir_ / "crash.db";
  const pid_t pid = spawn_tune(study);
  ASSERT_GE(pid, 0);
  // Kill it once at least 3 trials are finished, while another is running.
  std::map<int64_t, double> finished_before;
  wait_for_trials(db, 3, /*finished_only=*/true);
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "krill tune finished before it could be killed";

  {
    auto storage = krill::store::open_storage(db);
    auto id = storage->studies().at(0).id;
    for (const auto& t : storage->trials(id)) {
      if (t.state != krill::hpo::TrialState::Running) finished_before[t.number] = t.finished;
    }
  }
  ASSERT_GE(finished_before.size(), 3u);
  ASSERT_LT(finished_before.size(), static_cast<size_t>(kTrials));

  auto resumed = run_krill("tune " + study.string() + " --quiet --threads 1");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;

  auto storage = krill::store::open_storage(db);
  auto trials = storage->trials(storage->studies().at(0).id);
  ASSERT_EQ(trials.size(), static_cast<size_t>(kTrials));
  std::set<int64_t> numbers;
  for (const auto& t : trials) {
    EXPECT_EQ(t.state, krill::hpo::TrialState::Completed)
        << "trial " << t.number << ": " << t.error;
    numbers.insert(t.number);
    auto before = finished_before.find(t.number);
    if (before != finished_before.end()) {
      EXPECT_EQ(t.finished, before->second) << "trial " << t.number << " ran twice";
    }
  }
  EXPECT_EQ(numbers.size(), static_cast<size_t>(kTrials));
  EXPECT_EQ(*numbers.rbegin(), kTrials - 1);
}

TEST_F(TuneCliTest, CtrlCStopsCleanlyAndTheNextRunResumes) {
  constexpr int kTrials = 10;
  const fs::path study = write_study(kTrials, "256,256", 1500);
  const fs::path db = dir_ / "crash.db";
  const fs::path log = dir_ / "tune.log";
  const pid_t pid = spawn_tune(study, log);
  ASSERT_GE(pid, 0);
  const bool started = wait_for_trials(db, 1, /*finished_only=*/false);
  ASSERT_TRUE(started);
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);  // interrupted, after the running trial finished
  {
    const std::string out = read_file(log);
    // The first Ctrl-C is answered at once, before the running trial ends.
    EXPECT_THAT(out, HasSubstr("stopping: the running trials finish first (Ctrl-C again")) << out;
    EXPECT_THAT(out, HasSubstr("interrupted; run the same command again to resume")) << out;
    EXPECT_LT(out.find("stopping:"), out.find("interrupted;")) << out;
  }
  {
    auto storage = krill::store::open_storage(db);
    auto trials = storage->trials(storage->studies().at(0).id);
    ASSERT_FALSE(trials.empty());
    ASSERT_LT(trials.size(), static_cast<size_t>(kTrials));
    for (const auto& t : trials) EXPECT_NE(t.state, krill::hpo::TrialState::Running);
  }
  auto resumed = run_krill("tune " + study.string() + " --quiet --threads 1");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  auto storage = krill::store::open_storage(db);
  EXPECT_EQ(storage->trials(storage->studies().at(0).id).size(), static_cast<size_t>(kTrials));
}

// A Ctrl-C in the study's last trial: the trial finishes, and the study is complete: nothing to
// resume (it said to run the command again).
TEST_F(TuneCliTest, CtrlCInTheLastTrialSaysTheStudyIsComplete) {
  const fs::path study = write_study(1, "256,256", 12000);  // the Ctrl-C comes first
  const fs::path db = dir_ / "crash.db";
  const fs::path log = dir_ / "tune.log";
  const pid_t pid = spawn_tune(study, log);
  ASSERT_GE(pid, 0);
  ASSERT_TRUE(wait_for_trials(db, 1, /*finished_only=*/false));
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);  // interrupted all the same
  const std::string out = read_file(log);
  EXPECT_THAT(out, HasSubstr("stopping: the running trials finish first")) << out;
  EXPECT_THAT(out, HasSubstr("interrupted, but every trial had finished: the study is complete"))
      << out;
  EXPECT_THAT(out, ::testing::Not(HasSubstr("to resume"))) << out;
  auto storage = krill::store::open_storage(db);
  const auto trials = storage->trials(storage->studies().at(0).id);
  ASSERT_EQ(trials.size(), 1u);
  EXPECT_EQ(trials[0].state, krill::hpo::TrialState::Completed);
}

// Stops a `krill tune` in its first trial by `stop(pid)`, which must stop it now (exit
// `exit_code`, saying `said`), leaving the running trial to the next run, which runs it again.
void TuneCliTest::expect_stopped_now(const std::function<void(pid_t)>& stop, int exit_code,
                                     const std::string& said) {
  constexpr int kTrials = 3;
  const fs::path study = write_study(kTrials, "256,256", 20000);  // seconds: the stop comes first
  const fs::path db = dir_ / "crash.db";
  const fs::path log = dir_ / "tune.log";
  const pid_t pid = spawn_tune(study, log);
  ASSERT_GE(pid, 0);
  ASSERT_TRUE(wait_for_trials(db, 1, /*finished_only=*/false));
  stop(pid);
  int status = 0;
  waitpid(pid, &status, 0);  // at once: the running trial is not waited for
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status) << "\n"
                                 << read_file(log);
  EXPECT_EQ(WEXITSTATUS(status), exit_code);
  {
    const std::string out = read_file(log);
    EXPECT_THAT(out, HasSubstr(said)) << out;
  }
  krill::hpo::TrialRecord abandoned;
  {
    auto storage = krill::store::open_storage(db);
    const auto id = storage->studies().at(0).id;
    const auto trials = storage->trials(id);
    ASSERT_EQ(trials.size(), 1u);
    abandoned = trials.front();
    EXPECT_EQ(abandoned.state, krill::hpo::TrialState::Running);
    // Marked: its run left the study, so the trial is an orphan for any process, on any host.
    EXPECT_TRUE(storage->runs(id).empty());
  }
  // The next run takes the abandoned trial first, with its parameters.
  auto resumed = run_krill("tune " + study.string() + " --quiet --threads 1 --trials 1");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  auto storage = krill::store::open_storage(db);
  const auto trials = storage->trials(storage->studies().at(0).id);
  ASSERT_EQ(trials.size(), 1u);
  EXPECT_EQ(trials.front().number, abandoned.number);
  EXPECT_EQ(trials.front().params, abandoned.params);
  EXPECT_EQ(trials.front().requeues, abandoned.requeues + 1);
  EXPECT_EQ(trials.front().state, krill::hpo::TrialState::Completed);
}

TEST_F(TuneCliTest, ASecondCtrlCStopsNowAndTheNextRunReRunsTheAbandonedTrial) {
  expect_stopped_now(
      [](pid_t pid) {
        kill(pid, SIGINT);
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        kill(pid, SIGINT);
      },
      130, "stopping now: the running trials are left for the next run");
}

// timeout(1), Slurm and systemd send SIGTERM, then SIGKILL after a grace period: one SIGTERM
// stops now (128 + 15), as a second Ctrl-C does.
TEST_F(TuneCliTest, SigtermStopsNowAndTheNextRunReRunsTheAbandonedTrial) {
  expect_stopped_now([](pid_t pid) { kill(pid, SIGTERM); }, 143,
                     "terminated (SIGTERM): stopping now; the running trials are left for the "
                     "next run");
}

TEST_F(TuneCliTest, ABadStudyFileIsOneLineWithItsPosition) {
  const fs::path file = dir_ / "bad.yaml";
  std::ofstream(file) << "study: bad\ndata: fashion-mnist\ntrials: 3\nsearch:\n"
                      << "  learning_rate: {type: float, low: 0.1, high: 0.01}\n";
  auto r = run_krill("tune " + file.string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("bad.yaml:5:3: unknown key 'learning_rate', did you mean 'lr'?"));
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

// Values that pass every check can still make every trial fail (here, a learning rate that makes
// the loss overflow at once): the run says so and exits non-zero, with the first error.
TEST_F(TuneCliTest, ARunWhoseEveryTrialFailedExitsNonZeroWithTheFirstError) {
  const fs::path file = dir_ / "diverge.yaml";
  std::ofstream(file) << "study: diverge\ndata: " << (dir_ / "data").string()
                      << "\ntrials: 2\nworkers: 1\ntraining:\n  iterations: 20\n"
                      << "search:\n  lr: {type: choice, values: [1.0e+30, 2.0e+30]}\n";
  auto r = run_krill("tune " + file.string() + " --quiet --threads 1");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output,
              HasSubstr("krill: error: all 2 trials of this run failed or diverged; the first: "
                        "trial 0: loss not finite at iteration"));
  // The summary says why (an all-failed study used to show nothing but "no completed trial").
  EXPECT_THAT(r.output, HasSubstr("trial 0 diverged: loss not finite at iteration")) << r.output;
  EXPECT_THAT(r.output, HasSubstr("trial 1 diverged: loss not finite at iteration")) << r.output;
  // A later run with nothing left to do has failed nothing: it exits 0.
  auto again = run_krill("tune " + file.string() + " --quiet --threads 1");
  EXPECT_EQ(again.exit_code, 0) << again.output;
  // krill show --all lists every trial with its state and reason.
  auto all = run_krill("show " + (dir_ / "diverge.db").string() + " --all");
  EXPECT_EQ(all.exit_code, 0) << all.output;
  EXPECT_THAT(all.output, HasSubstr("why it stopped or failed")) << all.output;
  EXPECT_THAT(all.output, ::testing::ContainsRegex("1  diverged .*lr=[12]e\\+30; loss not finite"))
      << all.output;
  // ... and the export, in its reason column.
  auto csv = run_krill("export " + (dir_ / "diverge.db").string());
  EXPECT_THAT(csv.output, HasSubstr(",diverged,loss not finite at iteration")) << csv.output;
  // ... and krill studies counts them as diverged, not failed.
  auto studies = run_krill("studies " + (dir_ / "diverge.db").string());
  EXPECT_THAT(studies.output, HasSubstr(" diverged ")) << studies.output;
  EXPECT_THAT(studies.output, ::testing::ContainsRegex("\n\\S+ +maximize +2 +0 +0 +0 +2 +0 +2 "))
      << studies.output;
}

// A grid with fewer points than the budget: the study ends with the grid, and says so (it
// showed "3 trials of 5" and, resumed, did nothing without a word).
TEST_F(TuneCliTest, AGridSmallerThanTheBudgetSaysTheStudyIsComplete) {
  const fs::path file = dir_ / "grid.yaml";
  std::ofstream(file) << "study: grid\ndata: " << (dir_ / "data").string()
                      << "\ntrials: 5\nworkers: 1\nsampler: grid\ntraining:\n  iterations: 10\n"
                      << "search:\n  lr: {type: grid, values: [0.01, 0.02, 0.03]}\n";
  const std::string said =
      "krill tune: the grid sampler has no more trials to propose (3 in the study, below the "
      "budget of 5): the study is complete";
  for (int run = 0; run < 2; ++run) {  // and again when resumed
    auto r = run_krill("tune " + file.string() + " --quiet --threads 1");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_THAT(r.output, HasSubstr(said)) << "run " << run;
  }
  // A budget the grid fills says nothing of it.
  auto three = run_krill("tune " + file.string() + " --quiet --threads 1 --trials 3");
  EXPECT_THAT(three.output, ::testing::Not(HasSubstr("no more trials to propose")));
}

// The test set scores the study's best trial only: a best of an earlier run that a later run's
// trial supersedes gives up its test score (both kept one, read as two bests).
TEST_F(TuneCliTest, ASupersededBestGivesUpItsTestScore) {
  const fs::path file = dir_ / "best.yaml";
  std::ofstream(file) << "study: best\ndata: " << (dir_ / "data").string()
                      << "\ntrials: 2\nworkers: 1\nsampler: grid\ntraining:\n  iterations: 60\n"
                      << "search:\n  lr: {type: grid, values: [0.0001, 0.05]}\n";
  ASSERT_EQ(run_krill("tune " + file.string() + " --quiet --threads 1 --trials 1").exit_code, 0);
  ASSERT_EQ(run_krill("tune " + file.string() + " --quiet --threads 1").exit_code, 0);
  auto storage = krill::store::open_storage(dir_ / "best.db");
  const auto trials = storage->trials(storage->find_study("best")->id);
  ASSERT_EQ(trials.size(), 2u);
  ASSERT_GT(*trials[1].value, *trials[0].value) << "the later trial is not the better one";
  EXPECT_FALSE(trials[0].attrs.contains("test_accuracy"));
  EXPECT_FALSE(trials[0].attrs.contains("test_loss"));
  EXPECT_TRUE(trials[1].attrs.contains("test_accuracy"));
  EXPECT_TRUE(trials[0].attrs.contains("val_accuracy"));  // its other results stay
}

// Two studies in one database: `krill studies` lists them, `show --study` picks one.
TEST_F(TuneCliTest, StudiesListsTheStudiesOfADatabase) {
  const fs::path first = write_study(3, "8", 20);
  const fs::path second = dir_ / "second.yaml";
  {
    std::ifstream in(first);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    text.replace(text.find("study: crash"), 12, "study: other\nstorage: crash.db\n");
    text.replace(text.find("trials: 3"), 9, "trials: 2");
    std::ofstream(second) << text;
  }
  ASSERT_EQ(run_krill("tune " + first.string() + " -q --threads 1").exit_code, 0);
  auto r = run_krill("tune " + second.string() + " -q --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string db = (dir_ / "crash.db").string();
  auto studies = run_krill("studies " + db);
  ASSERT_EQ(studies.exit_code, 0) << studies.output;
  EXPECT_THAT(studies.output, HasSubstr("last activity"));
  EXPECT_THAT(studies.output, ::testing::ContainsRegex("\ncrash +maximize +3 +3 +0 +0 +0 +0 +3 "));
  EXPECT_THAT(studies.output, ::testing::ContainsRegex("\nother +maximize +2 +2 +0 +0 +0 +0 +2 "));
  auto one = run_krill("show " + db + " --study other");
  ASSERT_EQ(one.exit_code, 0) << one.output;
  EXPECT_THAT(one.output, HasSubstr("study 'other': 2 trials of 2"));
  EXPECT_THAT(one.output, ::testing::Not(HasSubstr("study 'crash'")));
  auto none = run_krill("show " + db + " --study nope");
  EXPECT_EQ(none.exit_code, 2) << none.output;
  EXPECT_THAT(none.output, HasSubstr("no study 'nope' in " + db + " (it holds: crash, other)"));
}

TEST_F(TuneCliTest, ShowListsTheProcessesWorkingOnAStudy) {
  const fs::path study = write_study(6, "256,256", 1500);
  const fs::path db = dir_ / "crash.db";
  const pid_t pid = spawn_tune(study);
  ASSERT_TRUE(wait_for_trials(db, 1, /*finished_only=*/false));
  auto show = run_krill("show " + db.string());
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  EXPECT_THAT(show.output, HasSubstr("processes:\n"));
  EXPECT_THAT(show.output, HasSubstr(":" + std::to_string(pid) + "  run "));
  EXPECT_THAT(show.output, HasSubstr("  live  heartbeat "));
  EXPECT_THAT(show.output, HasSubstr("running 1 (trials "));
  // Killed: the next look says so.
  auto after = run_krill("show " + db.string());
  EXPECT_THAT(after.output, HasSubstr("  gone  heartbeat ")) << after.output;
}

TEST_F(TuneCliTest, ShowOfAMissingDatabaseIsAClearError) {
  auto r = run_krill("show " + (dir_ / "nope.db").string());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("nope.db: no such study database"));
}

}  // namespace

namespace {

// Asking for MPI: a krill built with it runs the study (a singleton MPI job of one rank runs it in
// that process); one built without it says so, before it creates a database, instead of running
// N copies of the study unaware of each other under a launcher. (Stage 1 of scripts/test.sh has
// MPI, the sanitizer stages do not: both branches run in CI.)
TEST_F(TuneCliTest, AskingForMpiRunsWithItOrSaysItIsMissing) {
  const fs::path study = write_study(2, "8", 20);
  const auto r = run_krill("tune " + study.string() + " --mpi on --threads 1");
#ifdef KRILL_BINARY_HAS_MPI
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("one MPI rank")) << r.output;
  EXPECT_TRUE(fs::exists(dir_ / "crash.db"));
#else
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("built without MPI")) << r.output;
  EXPECT_THAT(r.output, HasSubstr("--mpi on was given")) << r.output;
  EXPECT_FALSE(fs::exists(dir_ / "crash.db"));
  // Under a launcher (recognised by its environment), likewise; --mpi off runs it as a plain
  // process.
  ::setenv("OMPI_COMM_WORLD_SIZE", "4", 1);
  const auto launched = run_krill("tune " + study.string() + " --threads 1 -q");
  const auto off = run_krill("tune " + study.string() + " --threads 1 -q --mpi off");
  ::unsetenv("OMPI_COMM_WORLD_SIZE");
  EXPECT_EQ(launched.exit_code, 2) << launched.output;
  EXPECT_THAT(launched.output, HasSubstr("MPI launcher (OMPI_COMM_WORLD_SIZE=4)"))
      << launched.output;
  EXPECT_EQ(off.exit_code, 0) << off.output;
  EXPECT_TRUE(fs::exists(dir_ / "crash.db"));
#endif
  const auto bad = run_krill("tune " + study.string() + " --mpi sometimes");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("--mpi")) << bad.output;
}

}  // namespace
