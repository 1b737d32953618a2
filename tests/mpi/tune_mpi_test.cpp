// Distributed studies as a user runs them: `mpiexec -n N krill tune study.yaml` (rank 0 manages
// the study and its database, ranks 1.. train). The same study run by MPI and locally gives the
// same trials bit for bit; diverged trials, the best weights and the test score are handled as in
// a local run; a worker rank killed with SIGKILL ends the job, and running the same command again
// finishes the study without running any finished trial twice; a job of one rank runs the study
// locally; a bad study file is reported once and creates nothing.
//
// Every job runs in a process group of its own under a watchdog: a test that waits too long kills
// the launcher and every process of the job (found by a variable in their environment, since Open
// MPI puts each rank in a process group of its own) and fails instead of hanging.
#include <dirent.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "apps/cli_util.hpp"
#include "store/open.hpp"

namespace {

namespace fs = std::filesystem;
using krill::hpo::TrialRecord;
using krill::hpo::TrialState;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

constexpr const char* kJobVariable = "KRILL_MPI_TEST_JOB";

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> words;
  std::istringstream in(text);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

// The processes whose environment holds `variable`=`value`, each with its environment.
std::map<pid_t, std::map<std::string, std::string>> processes_with(const std::string& variable,
                                                                   const std::string& value) {
  std::map<pid_t, std::map<std::string, std::string>> found;
  DIR* proc = ::opendir("/proc");
  if (!proc) return found;
  const std::string wanted = variable + "=" + value;
  while (dirent* e = ::readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0' || pid == ::getpid()) continue;
    const std::string environment = read_file(fs::path("/proc") / e->d_name / "environ");
    std::map<std::string, std::string> env;
    bool ours = false;
    for (size_t at = 0; at < environment.size();) {
      size_t stop = environment.find('\0', at);
      if (stop == std::string::npos) stop = environment.size();
      const std::string entry = environment.substr(at, stop - at);
      ours = ours || entry == wanted;
      if (const size_t eq = entry.find('='); eq != std::string::npos) {
        env[entry.substr(0, eq)] = entry.substr(eq + 1);
      }
      at = stop + 1;
    }
    if (ours) {
      // The program it runs (not its name: krill re-executes itself as /proc/self/exe, see
      // apps/krill/openmp_env.cpp, which names it "exe").
      std::error_code ec;
      env["/proc/exe"] = fs::read_symlink(fs::path("/proc") / e->d_name / "exe", ec).string();
      found.emplace(static_cast<pid_t>(pid), std::move(env));
    }
  }
  ::closedir(proc);
  return found;
}

// The MPI rank of a process from its launcher's variables (Open MPI, PMIx, PMI); -1: none.
int rank_of(const std::map<std::string, std::string>& env) {
  for (const char* var : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"}) {
    if (auto it = env.find(var); it != env.end() && !it->second.empty()) {
      return std::stoi(it->second);
    }
  }
  return -1;
}

// One `krill tune` job: `mpiexec -n <ranks> krill tune ...`, or krill alone (ranks 0), in a
// process group of its own, its output in `log`. The destructor kills whatever is left of it.
class Job {
 public:
  Job(int ranks, const fs::path& study, fs::path log, const std::vector<std::string>& extra,
      bool quiet = true)
      : log_(std::move(log)), tag_(log_.string()) {
    std::vector<std::string> args;
    if (ranks > 0) {
      args.push_back(KRILL_MPIEXEC);
      for (auto& w : split_words(KRILL_MPIEXEC_FLAGS)) args.push_back(w);
      // Open MPI refuses to run as root unless told so.
      if (KRILL_MPIEXEC_OPEN_MPI && ::geteuid() == 0) args.push_back("--allow-run-as-root");
      args.insert(args.end(), {"-n", std::to_string(ranks)});
    }
    args.insert(args.end(), {KRILL_BINARY, "tune", study.string(), "--threads", "1"});
    if (quiet) args.push_back("--quiet");
    args.insert(args.end(), extra.begin(), extra.end());
    for (const auto& a : args) command_ += (command_.empty() ? "" : " ") + a;
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);
      ::setenv(kJobVariable, tag_.c_str(), 1);
      const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        ::close(fd);
      }
      ::execv(argv[0], argv.data());
      _exit(127);
    }
    if (pid_ > 0) ::setpgid(pid_, pid_);  // also here: no race with the child's own call
    started_ = Clock::now();
  }
  ~Job() { kill_all(); }
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;

  // Whether the launcher still runs (once it has ended, it is reaped and its code kept).
  bool running() {
    if (code_) return false;
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == 0) return true;
    code_ = r != pid_ ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    ended_ = Clock::now();
    return false;
  }

  // The exit code (or 128 + the signal that ended the launcher), or nullopt when it did not end
  // within `timeout`: then the whole job is killed.
  std::optional<int> wait(std::chrono::seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (running()) {
      if (Clock::now() > deadline) {
        kill_all();
        return std::nullopt;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return code_;
  }

  // SIGKILL to the launcher's process group and to every process of the job.
  void kill_all() {
    if (pid_ <= 0) return;
    if (!code_) ::kill(-pid_, SIGKILL);
    for (int round = 0; round < 3; ++round) {
      const auto left = processes_with(kJobVariable, tag_);
      if (left.empty()) break;
      for (const auto& [pid, env] : left) ::kill(pid, SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!code_) {
      int status = 0;
      if (::waitpid(pid_, &status, 0) == pid_) {
        code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        ended_ = Clock::now();
      }
    }
  }

  // The krill processes of the job, by rank.
  std::map<int, pid_t> ranks() const {
    std::map<int, pid_t> found;
    for (const auto& [pid, env] : processes_with(kJobVariable, tag_)) {
      if (env.at("/proc/exe") == krill_ && rank_of(env) >= 0) found[rank_of(env)] = pid;
    }
    return found;
  }
  // Processes of the job still alive (the launcher is not: it was waited for).
  size_t left() const { return processes_with(kJobVariable, tag_).size(); }

  double seconds() const {
    return std::chrono::duration<double>((code_ ? ended_ : Clock::now()) - started_).count();
  }
  // What a failed assertion prints: the command and its output.
  std::string describe() const {
    return "command: " + command_ + "\n" +
           (code_ ? "exit code " + std::to_string(*code_) : std::string("not ended")) +
           "\n--- output (" + log_.string() + ") ---\n" + read_file(log_) + "--- end of output ---";
  }
  std::string output() const { return read_file(log_); }

 private:
  fs::path log_;
  std::string tag_;  // the value of kJobVariable in the job's processes: unique per job
  std::string command_;
  std::string krill_ = fs::canonical(KRILL_BINARY).string();
  pid_t pid_ = -1;
  std::optional<int> code_;
  Clock::time_point started_, ended_;
};

std::vector<TrialRecord> stored_trials(const fs::path& db) {
  auto storage = krill::store::open_storage(db);
  auto studies = storage->studies();
  if (studies.empty()) return {};
  return storage->trials(studies.at(0).id);
}

std::string describe(const std::vector<TrialRecord>& trials) {
  std::ostringstream s;
  for (const auto& t : trials) {
    s << "  trial " << t.number << " " << krill::hpo::to_string(t.state) << " value "
      << (t.value ? std::to_string(*t.value) : "-") << " worker " << t.worker << " requeues "
      << t.requeues << (t.error.empty() ? "" : " error: " + t.error) << "\n";
  }
  return s.str();
}

class TuneMpiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = krill::testing::fresh_test_folder("krill_mpi_test");
    krill::testing::write_synthetic_data(dir_, 600, 100);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // A study file `<name>.yaml` (database `<name>.db`) on the synthetic data: a network of
  // `hidden` units trained `iterations` steps, the objective the validation loss (values that
  // differ from trial to trial, unlike the accuracy, which is 1 for most), the rest of the file in
  // `rest` (sampler, search).
  fs::path write_study(const std::string& name, const std::string& hidden, int iterations,
                       const std::string& rest) {
    const fs::path file = dir_ / (name + ".yaml");
    std::ofstream(file) << "study: " << name << "\n"
                        << "data: " << (dir_ / "data").string() << "\n"
                        << "validation: 0.2\nobjective: val_loss\nseed: 7\n"
                        << "model:\n  hidden: \"" << hidden << "\"\n"
                        << "training:\n  batch: 16\n  iterations: " << iterations
                        << "\n  eval_every: " << iterations / 4 << "\n"
                        << rest;
    return file;
  }

  std::unique_ptr<Job> start(int ranks, const fs::path& study, const std::string& log,
                             const std::vector<std::string>& extra = {}, bool quiet = true) {
    return std::make_unique<Job>(ranks, study, dir_ / log, extra, quiet);
  }

  fs::path dir_;
};

constexpr auto kTimeout = std::chrono::seconds(120);

// A grid of 6 trials, run locally by 2 worker threads and by 3 worker ranks: the same trials
// (numbers, parameters), the same values and learning curves to the last bit, every one
// Completed; the MPI run's trials were run by ranks 1..3, never by the manager.
TEST_F(TuneMpiTest, AnMpiRunGivesTheSameTrialsAsALocalRun) {
  const std::string grid =
      "sampler: grid\nsearch:\n  lr: {type: grid, values: [0.01, 0.05]}\n"
      "  momentum: {type: grid, values: [0.0, 0.5, 0.9]}\n";
  // Trials of about 0.1 s: long enough for every worker rank to get one.
  const fs::path local = write_study("local", "128,128", 600, grid);
  const fs::path mpi = write_study("mpi", "128,128", 600, grid);

  auto l = start(0, local, "local.log", {"--mpi", "off", "--workers", "2"});
  const auto local_code = l->wait(kTimeout);
  ASSERT_EQ(local_code, 0) << l->describe();
  auto m = start(4, mpi, "mpi.log");
  const auto mpi_code = m->wait(kTimeout);
  ASSERT_EQ(mpi_code, 0) << m->describe();
  std::cout << "[ figures  ] local " << l->seconds() << " s, mpiexec -n 4 " << m->seconds()
            << " s\n";

  const auto one = stored_trials(dir_ / "local.db");
  const auto two = stored_trials(dir_ / "mpi.db");
  ASSERT_EQ(one.size(), 6u) << describe(one);
  ASSERT_EQ(two.size(), 6u) << describe(two) << m->describe();
  std::set<int> ranks;
  std::set<std::string> owners;
  for (size_t i = 0; i < one.size(); ++i) {
    const TrialRecord& a = one[i];
    const TrialRecord& b = two[i];
    SCOPED_TRACE("trial " + std::to_string(a.number));
    EXPECT_EQ(a.number, static_cast<int64_t>(i));
    EXPECT_EQ(b.number, a.number);
    EXPECT_EQ(b.params, a.params);
    EXPECT_EQ(a.state, TrialState::Completed) << a.error;
    EXPECT_EQ(b.state, TrialState::Completed) << b.error;
    ASSERT_TRUE(a.value && b.value);
    EXPECT_EQ(*b.value, *a.value);  // bit for bit: same seed, same data order, one thread
    ASSERT_EQ(b.reports.size(), a.reports.size());
    for (size_t r = 0; r < a.reports.size(); ++r) {
      EXPECT_EQ(b.reports[r].step, a.reports[r].step);
      EXPECT_EQ(b.reports[r].value, a.reports[r].value);
      EXPECT_EQ(b.reports[r].metrics, a.reports[r].metrics);
    }
    auto attrs_a = a.attrs, attrs_b = b.attrs;
    attrs_a.erase("train_seconds");
    attrs_b.erase("train_seconds");
    attrs_a.erase("test_accuracy");  // only the best has them: the same trial in both runs
    attrs_b.erase("test_accuracy");
    attrs_a.erase("test_loss");
    attrs_b.erase("test_loss");
    EXPECT_EQ(attrs_b, attrs_a);
    EXPECT_EQ(b.attrs.contains("test_accuracy"), a.attrs.contains("test_accuracy"));
    EXPECT_GE(b.worker, 1) << "the manager (rank 0) ran a trial";
    EXPECT_LE(b.worker, 3);
    EXPECT_GE(a.worker, 0);
    EXPECT_LE(a.worker, 1);
    ranks.insert(b.worker);
    owners.insert(b.owner);
  }
  EXPECT_GE(ranks.size(), 2u) << "one rank ran every trial:\n" << describe(two);
  EXPECT_EQ(owners.size(), 1u) << "the trials of one MPI job belong to its manager's run";
  // The job left: no run is registered any more.
  auto storage = krill::store::open_storage(dir_ / "mpi.db");
  EXPECT_TRUE(storage->runs(storage->studies().at(0).id).empty());
}

// A grid point whose learning rate makes the loss overflow diverges; the others complete, the
// job exits 0, the best trial is scored on the test set and only its weights are kept.
TEST_F(TuneMpiTest, ADivergedTrialIsStoredAndTheBestIsScoredAndKept) {
  const fs::path study =
      write_study("diverge", "32", 200,
                  "sampler: grid\nsearch:\n  lr: {type: grid, values: [0.01, 0.05, 1.0e+30, "
                  "0.1]}\n");
  auto job = start(3, study, "diverge.log");
  const auto code = job->wait(kTimeout);
  ASSERT_EQ(code, 0) << job->describe();

  const fs::path db = dir_ / "diverge.db";
  const auto trials = stored_trials(db);
  ASSERT_EQ(trials.size(), 4u) << describe(trials) << job->describe();
  const TrialRecord* best = nullptr;
  for (const auto& t : trials) {
    SCOPED_TRACE("trial " + std::to_string(t.number));
    EXPECT_GE(t.worker, 1);
    if (t.number == 2) {  // lr 1e30
      EXPECT_EQ(t.state, TrialState::Diverged);
      EXPECT_THAT(t.error, HasSubstr("loss not finite at iteration"));
      EXPECT_FALSE(t.attrs.contains("test_accuracy"));
      continue;
    }
    EXPECT_EQ(t.state, TrialState::Completed) << t.error;
    ASSERT_TRUE(t.value);
    if (!best || *t.value < *best->value) best = &t;  // val_loss: the lowest
  }
  ASSERT_NE(best, nullptr);
  EXPECT_TRUE(best->attrs.contains("test_accuracy")) << describe(trials);
  EXPECT_TRUE(best->attrs.contains("test_loss"));
  for (const auto& t : trials) {
    if (t.number != best->number) {
      EXPECT_FALSE(t.attrs.contains("test_accuracy")) << t.number;
    }
  }
  std::vector<std::string> checkpoints;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("diverge.db.diverge.trial-")) checkpoints.push_back(name);
  }
  EXPECT_EQ(checkpoints, std::vector<std::string>{"diverge.db.diverge.trial-" +
                                                  std::to_string(best->number) + ".ckpt"})
      << describe(trials);
}

// The test: a worker rank killed with SIGKILL in the middle of a study ends the job (the
// launcher takes the other ranks down); the same command run again finishes the study: every
// trial finished once, those finished before the kill untouched (same value, same finish time),
// those that were running re-queued and run again.
TEST_F(TuneMpiTest, AKilledWorkerRankEndsTheJobAndTheSameCommandResumes) {
  constexpr int kTrials = 16;
  const fs::path study = write_study(
      "kill", "256,256", 1500,
      "trials: " + std::to_string(kTrials) +
          "\nsampler: random\nsearch:\n  lr: {type: float, low: 0.001, high: 0.05, log: true}\n"
          "  momentum: {type: float, low: 0.0, high: 0.9}\n");
  const fs::path db = dir_ / "kill.db";

  auto job = start(3, study, "kill-1.log");
  // Wait for 2 finished trials and one running.
  std::vector<TrialRecord> seen;
  const auto deadline = Clock::now() + kTimeout;
  bool ready = false;
  while (!ready && Clock::now() < deadline && job->running()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (!fs::exists(db)) continue;
    try {
      seen = stored_trials(db);
    } catch (const std::exception&) {  // the schema may be half-created at this instant
      continue;
    }
    int finished = 0, running = 0;
    for (const auto& t : seen) (t.state == TrialState::Running ? running : finished) += 1;
    ready = finished >= 2 && running >= 1;
    if (finished >= kTrials) break;
  }
  ASSERT_TRUE(ready) << "the study never had 2 finished trials and one running"
                     << (job->running() ? "" : " (the job ended first)") << ":\n"
                     << describe(seen) << job->describe();

  // The victim: the rank of a running trial (rank 0 manages, it never runs one).
  int rank = 1;
  for (const auto& t : seen) {
    if (t.state == TrialState::Running) rank = t.worker;
  }
  const auto ranks = job->ranks();
  ASSERT_EQ(ranks.size(), 3u) << describe(seen) << job->describe();
  ASSERT_GE(rank, 1) << describe(seen);
  ASSERT_TRUE(ranks.contains(rank)) << rank << "\n" << job->describe();
  const pid_t victim = ranks.at(rank);
  const auto kill_time = Clock::now();
  ASSERT_EQ(::kill(victim, SIGKILL), 0);

  const auto code = job->wait(std::chrono::seconds(60));
  ASSERT_TRUE(code) << "the launcher did not end the job within 60 s of a rank's death\n"
                    << job->describe();
  const double to_end = std::chrono::duration<double>(Clock::now() - kill_time).count();
  EXPECT_NE(*code, 0) << job->describe();
  // The other ranks went with it (give them a moment to be reaped).
  for (int i = 0; i < 100 && job->left() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(job->left(), 0u) << "processes of the killed job outlived its launcher";
  const std::string first_output = job->output();
  job.reset();

  // What the killed job left: its finished trials, final, and those it was running.
  const auto before = stored_trials(db);
  std::map<int64_t, TrialRecord> finished_before;
  std::set<int64_t> running_before;
  for (const auto& t : before) {
    if (t.state == TrialState::Running) {
      running_before.insert(t.number);
    } else {
      finished_before.emplace(t.number, t);
    }
  }
  EXPECT_GE(finished_before.size(), 2u) << describe(before);
  EXPECT_LT(finished_before.size(), static_cast<size_t>(kTrials)) << describe(before);
  EXPECT_GE(running_before.size(), 1u) << "no trial was running when the job died:\n"
                                       << describe(before);

  auto again = start(3, study, "kill-2.log");
  const auto again_code = again->wait(kTimeout);
  ASSERT_EQ(again_code, 0) << again->describe();
  std::cout << "[ figures  ] killed rank " << rank << " (pid " << victim << ") after "
            << finished_before.size() << " finished and " << running_before.size()
            << " running; launcher exit code " << *code << ", " << to_end
            << " s after the kill; resumed in " << again->seconds() << " s\n";

  const auto after = stored_trials(db);
  ASSERT_EQ(after.size(), static_cast<size_t>(kTrials)) << describe(after);
  for (size_t i = 0; i < after.size(); ++i) {
    const TrialRecord& t = after[i];
    SCOPED_TRACE("trial " + std::to_string(t.number));
    EXPECT_EQ(t.number, static_cast<int64_t>(i));
    EXPECT_EQ(t.state, TrialState::Completed) << t.error;
    EXPECT_GE(t.worker, 1);
    if (auto it = finished_before.find(t.number); it != finished_before.end()) {
      // Not run again: the very same result.
      EXPECT_EQ(t.value, it->second.value);
      EXPECT_EQ(t.finished, it->second.finished);
      EXPECT_EQ(t.owner, it->second.owner);
      EXPECT_EQ(t.requeues, 0);
    } else if (running_before.contains(t.number)) {
      EXPECT_GE(t.requeues, 1) << "a trial running when the job died was not re-queued";
      EXPECT_EQ(t.params, std::find_if(before.begin(), before.end(), [&](const TrialRecord& r) {
                            return r.number == t.number;
                          })->params);
    } else {
      EXPECT_EQ(t.requeues, 0);
    }
  }
  EXPECT_THAT(again->output(), ::testing::Not(HasSubstr("krill: error"))) << first_output;
}

// PBT over MPI: a population of 4 on 4 worker ranks gives the same members, values, curves and
// lineage as on 4 threads (the states go from rank to rank), with exploits at each generation.
TEST_F(TuneMpiTest, APbtPopulationGivesTheSameLineageAsLocally) {
  const std::string pbt =
      "search:\n  lr: {type: float, low: 0.001, high: 0.3, log: true}\n"
      "pbt:\n  population: 4\n  interval: 200\n";
  const fs::path local = write_study("pbt-local", "64", 800, pbt);
  const fs::path mpi = write_study("pbt-mpi", "64", 800, pbt);
  auto l = start(0, local, "pbt-local.log", {"--mpi", "off"});
  ASSERT_EQ(l->wait(kTimeout), 0) << l->describe();
  auto m = start(5, mpi, "pbt-mpi.log");
  ASSERT_EQ(m->wait(kTimeout), 0) << m->describe();

  const auto one = stored_trials(dir_ / "pbt-local.db");
  const auto two = stored_trials(dir_ / "pbt-mpi.db");
  ASSERT_EQ(one.size(), 4u) << describe(one);
  ASSERT_EQ(two.size(), 4u) << describe(two) << m->describe();
  int exploits = 0;
  std::set<int> ranks;
  for (size_t i = 0; i < one.size(); ++i) {
    SCOPED_TRACE("trial " + std::to_string(i));
    const TrialRecord& a = one[i];
    const TrialRecord& b = two[i];
    EXPECT_EQ(a.state, TrialState::Completed) << a.error;
    EXPECT_EQ(b.state, TrialState::Completed) << b.error;
    EXPECT_EQ(b.params, a.params);
    EXPECT_EQ(b.value, a.value);
    ASSERT_EQ(b.reports.size(), a.reports.size());
    for (size_t r = 0; r < a.reports.size(); ++r) {
      EXPECT_EQ(b.reports[r].value, a.reports[r].value);
      EXPECT_EQ(b.reports[r].metrics, a.reports[r].metrics);
    }
    ASSERT_EQ(a.decisions.size(), 3u) << "generations at steps 200, 400 and 600";
    ASSERT_EQ(b.decisions.size(), a.decisions.size());
    for (size_t d = 0; d < a.decisions.size(); ++d) {
      EXPECT_EQ(b.decisions[d].step, a.decisions[d].step);
      EXPECT_EQ(b.decisions[d].action, a.decisions[d].action);
      EXPECT_EQ(b.decisions[d].donor, a.decisions[d].donor);
      EXPECT_EQ(b.decisions[d].donor_step, a.decisions[d].donor_step);
      EXPECT_EQ(b.decisions[d].params, a.decisions[d].params);
      exploits += b.decisions[d].action == krill::hpo::Action::Exploit;
    }
    ranks.insert(b.worker);
  }
  EXPECT_EQ(exploits, 3) << "one member of four replaced at each generation";
  EXPECT_EQ(ranks, (std::set<int>{1, 2, 3, 4})) << "one member per worker rank";
  for (const auto& e : fs::directory_iterator(dir_)) {
    EXPECT_FALSE(e.path().string().ends_with(".state")) << e.path() << " outlived its member";
  }
  // Fewer worker ranks than members: refused once, before anything is created (it was refused
  // by rank 0's manager, after the database was made and the run registered).
  auto few = start(3, write_study("pbt-few", "64", 800, pbt), "pbt-few.log");
  const auto code = few->wait(kTimeout);
  ASSERT_TRUE(code) << few->describe();
  EXPECT_EQ(*code, 2) << few->describe();
  EXPECT_THAT(few->output(), HasSubstr("krill: error: pbt: the population of 4 members trains at "
                                       "once, one per worker rank; this job has 2"))
      << few->describe();
  EXPECT_FALSE(fs::exists(dir_ / "pbt-few.db")) << few->describe();
  // --population: populations train in one process, not under MPI (it was ignored).
  auto grouped = start(3, write_study("grouped", "16", 100, "trials: 2\n"), "grouped.log",
                       {"--population", "4"});
  const auto grouped_code = grouped->wait(kTimeout);
  ASSERT_TRUE(grouped_code) << grouped->describe();
  EXPECT_EQ(*grouped_code, 2) << grouped->describe();
  EXPECT_THAT(grouped->output(), HasSubstr("--population 4: under MPI each worker rank trains one "
                                           "trial at a time"))
      << grouped->describe();
  EXPECT_FALSE(fs::exists(dir_ / "grouped.db"));
  // A study file's population, which a local run checks against the PBT's, is not used under
  // MPI: the ranks are what is refused (it was told to raise a population MPI does not use).
  auto file_population =
      start(3, write_study("pbt-pop2", "64", 800, pbt + "population: 2\n"), "pbt-pop2.log");
  const auto file_code = file_population->wait(kTimeout);
  ASSERT_TRUE(file_code) << file_population->describe();
  EXPECT_EQ(*file_code, 2) << file_population->describe();
  EXPECT_THAT(file_population->output(), HasSubstr("one per worker rank; this job has 2"))
      << file_population->describe();
  EXPECT_THAT(file_population->output(), ::testing::Not(HasSubstr("'population' is 2")))
      << file_population->describe();
}

// A PBT job killed after its first generation: the same command resumes every member from the
// state it saved there (re-queued with its curve and lineage kept), and the population finishes.
TEST_F(TuneMpiTest, AKilledPbtJobResumesItsMembers) {
  const fs::path study =
      write_study("pbt-kill", "256,256", 4000,
                  "search:\n  lr: {type: float, low: 0.001, high: 0.05, log: true}\n"
                  "pbt:\n  population: 4\n  interval: 1000\n");
  const fs::path db = dir_ / "pbt-kill.db";
  auto job = start(5, study, "pbt-kill-1.log");
  const auto deadline = Clock::now() + kTimeout;
  auto saved = [&] {  // members' states after the first generation (each saves step 0 first)
    int n = 0;
    for (const auto& e : fs::directory_iterator(dir_)) {
      n += e.path().string().ends_with(".step-1000.state");
    }
    return n;
  };
  while (saved() < 4 && Clock::now() < deadline && job->running()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(saved(), 4) << "the members never saved their first generation\n" << job->describe();
  job->kill_all();
  const auto before = stored_trials(db);
  job.reset();
  std::map<int64_t, TrialRecord> at_kill;
  for (const auto& t : before) at_kill.emplace(t.number, t);
  ASSERT_EQ(at_kill.size(), 4u) << describe(before);

  auto again = start(5, study, "pbt-kill-2.log");
  ASSERT_EQ(again->wait(kTimeout), 0) << again->describe();
  const auto after = stored_trials(db);
  ASSERT_EQ(after.size(), 4u);
  for (const TrialRecord& t : after) {
    SCOPED_TRACE("trial " + std::to_string(t.number));
    const TrialRecord& was = at_kill.at(t.number);
    EXPECT_EQ(t.state, TrialState::Completed) << t.error;
    if (was.state != TrialState::Running) continue;
    EXPECT_EQ(t.requeues, 1);
    // The lineage decided before the kill is kept (a generation decided again replaces its own).
    ASSERT_FALSE(was.decisions.empty()) << "killed before the first generation was stored";
    EXPECT_EQ(t.decisions.front().step, 1000);
    EXPECT_EQ(t.decisions.size(), 3u);
    ASSERT_EQ(t.reports.size(), 4u);
    EXPECT_EQ(t.reports.front().step, 1000);
    EXPECT_EQ(t.reports.front().value, was.reports.front().value);
    // Trained on from its saved generation, not from the start.
    ASSERT_TRUE(t.attrs.contains("resumed_step")) << "member trained again from step 0";
    EXPECT_GE(t.attrs.at("resumed_step"), 1000);
    EXPECT_EQ(static_cast<int64_t>(t.attrs.at("resumed_step")) % 1000, 0);
  }
  for (const auto& e : fs::directory_iterator(dir_)) {
    EXPECT_FALSE(e.path().string().ends_with(".state")) << e.path() << " outlived its member";
  }
}

// mpiexec -n 1: nobody to hand trials to; the study runs here, as without MPI.
TEST_F(TuneMpiTest, AJobOfOneRankRunsTheStudyLocally) {
  const fs::path study = write_study("single", "16", 100,
                                     "trials: 3\nworkers: 1\nsampler: random\nsearch:\n"
                                     "  lr: {type: float, low: 0.001, high: 0.05, log: true}\n");
  auto job = start(1, study, "single.log", {}, /*quiet=*/false);
  const auto code = job->wait(kTimeout);
  ASSERT_EQ(code, 0) << job->describe();
  EXPECT_THAT(job->output(), HasSubstr("one MPI rank: running the study here"));
  const auto trials = stored_trials(dir_ / "single.db");
  ASSERT_EQ(trials.size(), 3u) << describe(trials);
  for (const auto& t : trials) {
    EXPECT_EQ(t.state, TrialState::Completed) << t.error;
    EXPECT_EQ(t.worker, 0);  // the local executor's one worker
  }
}

// Every rank reads the study file: a mistake is printed once (by rank 0), every rank exits 2,
// and nothing is created.
TEST_F(TuneMpiTest, ABadStudyFileIsReportedOnceAndCreatesNothing) {
  const fs::path study =
      write_study("bad", "16", 100,
                  "trials: 3\nsampler: random\nsearch:\n  learning_rate: {type: float, low: "
                  "0.001, high: 0.05}\n");
  auto job = start(3, study, "bad.log");
  const auto code = job->wait(kTimeout);
  ASSERT_TRUE(code) << job->describe();
  EXPECT_EQ(*code, 2) << job->describe();
  const std::string out = job->output();
  size_t errors = 0;
  for (size_t at = out.find("krill: error:"); at != std::string::npos;
       at = out.find("krill: error:", at + 1)) {
    ++errors;
  }
  EXPECT_EQ(errors, 1u) << job->describe();
  EXPECT_THAT(out, HasSubstr("bad.yaml:15:3: unknown key 'learning_rate', did you mean 'lr'?"))
      << job->describe();
  EXPECT_THAT(out, ::testing::Not(HasSubstr("krill: error: rank"))) << job->describe();
  EXPECT_FALSE(fs::exists(dir_ / "bad.db"));
}

}  // namespace
