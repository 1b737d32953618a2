#include "tune_command.hpp"

#include <fmt/core.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <thread>

#include "backend/backend.hpp"
#include "core/error.hpp"
#include "exec/local_executor.hpp"
#include "exec/mpi/launch.hpp"
#include "exec/mpi/manager.hpp"
#include "exec/mpi/worker.hpp"
#ifdef KRILL_HAVE_MPI
#include "exec/mpi/mpi_transport.hpp"
#endif
#include "progress.hpp"
#include "signals.hpp"
#include "store/open.hpp"
#include "study_choice.hpp"
#include "study_summary.hpp"
#include "tune/study_file.hpp"
#include "tune/study_files.hpp"
#include "tune/trainable.hpp"
#include "tune/yaml_util.hpp"

namespace krill::cli {

namespace {

struct TuneArgs {
  std::string file;
  std::optional<std::string> study;    // given: overrides the study file's name
  std::optional<int64_t> trials;       // given: overrides the study file's
  std::optional<std::string> storage;  // given: overrides the study file's `storage:`
  std::optional<int> workers;
  int threads = 0;
  std::optional<std::string> device;
  std::optional<std::string> population;
  std::string mpi = "auto";
  bool quiet = false;
};

std::atomic<bool> g_cancel{false};
std::atomic<int> g_interrupts{0};
std::atomic<int> g_exit_code{130};  // 128 + the signal: 130 for Ctrl-C, 143 for SIGTERM

// Runs on krill's signal thread (signals.hpp), not in a signal handler.
void on_interrupt(int signal) {
  // The database holds every finished trial (each is committed as it ends). The first Ctrl-C lets
  // the running trials finish; the second stops now: the ticker thread marks this run's running
  // trials abandoned (optimize_and_report) and quits, and the next run re-runs them with their
  // parameters; a third quits at once, whatever that thread is doing.
  if (signal == SIGTERM) {
    // timeout(1), Slurm at a job's time limit and systemd send SIGTERM and then, a grace period
    // later, SIGKILL: waiting for the running trials could take all of it (or forever). So it
    // stops now, as a second Ctrl-C does, and the next run re-runs the running trials.
    g_exit_code.store(143);
    g_cancel.store(true);
    if (g_interrupts.exchange(2) >= 2) std::_Exit(143);
    fmt::print(stderr,
               "\nkrill tune: terminated (SIGTERM): stopping now; the running trials are left for "
               "the next run, which re-runs them with their parameters\n");
    return;
  }
  const int n = g_interrupts.fetch_add(1);
  if (n >= 2) std::_Exit(g_exit_code.load());
  g_cancel.store(true);
  fmt::print(stderr, "{}",
             n == 0 ? "\nkrill tune: stopping: the running trials finish first (Ctrl-C again to "
                      "stop now; the next run re-runs them)\n"
                    : "\nkrill tune: stopping now: the running trials are left for the next run, "
                      "which re-runs them with their parameters\n");
}

// The study file with the command line's overrides, and its data, checked: a study that cannot
// run leaves nothing behind (no database is created or opened before this).
struct Prepared {
  tune::StudyFile file;
  std::shared_ptr<const tune::StudyData> data;
};

// `with_train` false (the MPI manager): the test set alone, the data checks left to the workers.
// `under_mpi`: each worker rank trains one trial at a time, so the workers and populations of a
// local run are not checked (nor used).
Prepared prepare(const TuneArgs& a, bool with_train = true, bool under_mpi = false) {
  tune::StudyFile file = tune::load_study_file(a.file);
  // An option given takes effect or is refused.
  if (a.study) {
    if (const std::string problem = tune::study_name_problem(*a.study); !problem.empty()) {
      throw InvalidArgument("--study is " + problem + ", expected " + tune::kStudyNameRule);
    }
    file.name =
        *a.study;  // the storage stays the file's: one file, several studies in one database
  }
  if (a.storage) file.storage = database_location(*a.storage, "--storage");
  if (a.trials) {
    if (*a.trials < 1) {
      throw InvalidArgument("--trials is " + std::to_string(*a.trials) +
                            ", expected an integer >= 1");
    }
    file.trials = *a.trials;
  }
  if (a.workers) {
    if (*a.workers < 1) {
      throw InvalidArgument("--workers is " + std::to_string(*a.workers) +
                            ", expected an integer >= 1 (or no --workers: as many as the cores "
                            "allow)");
    }
    file.workers = *a.workers;
  }
  if (a.device) file.device = parse_device(*a.device, "--device");
  if (file.device != Device::Cpu) {  // before the database is opened
    if (auto why = backend::device_problem(file.device); !why.empty()) {
      throw InvalidArgument(
          (a.device ? "--device " + *a.device : file.where("device") + "'device' is cuda") + ": " +
          why);
    }
  }
  if (a.population) {
    if (*a.population == "auto") {
      file.population = 0;
    } else {
      const auto n = tune::yaml::parse_uint(*a.population);
      if (!n || *n < 1 || *n > static_cast<uint64_t>(tune::kMaxPopulation)) {
        throw InvalidArgument("--population is '" + *a.population +
                              "', expected auto or an integer from 1 to " +
                              std::to_string(tune::kMaxPopulation));
      }
      file.population = static_cast<int>(*n);
    }
  }
  // auto: populations where they pay (measured: on a GPU, not on the CPU); one worker feeds the
  // GPU with them unless told otherwise.
  if (file.population == 0) file.population = file.device == Device::Cuda ? 64 : 1;
  if (file.population > 1 && file.device == Device::Cuda && file.workers == 0) file.workers = 1;
  // A PBT population trains as populations when they can hold it all; otherwise one member per
  // worker.
  const bool pbt_in_populations =
      file.pbt && file.population > 1 && file.population >= file.pbt->options.population;
  if (file.pbt && file.population > 1 && !pbt_in_populations && !under_mpi) {
    throw InvalidArgument(
        (a.population
             ? "--population " + *a.population
             : file.where("population") + "'population' is " + std::to_string(file.population)) +
        ", but the PBT population of " + std::to_string(file.pbt->options.population) +
        " trains at once, expected 1 (a member per worker) or at least " +
        std::to_string(file.pbt->options.population));
  }
  // OpenMP cannot start tens of thousands of threads (libgomp fails, or crashes): a bound far
  // above any machine's cores.
  if (a.threads < 0 || a.threads > 1024) {
    throw InvalidArgument("--threads is " + std::to_string(a.threads) +
                          ", expected an integer from 1 to 1024 (or 0: cores / workers)");
  }
  if (file.pbt) {  // the population trains at once: one worker per member
    const int64_t population = file.pbt->options.population;
    if (a.trials && *a.trials != population) {
      throw InvalidArgument("--trials is " + std::to_string(*a.trials) + ", but " +
                            file.path.string() +
                            " is a PBT study whose trials are its population (" +
                            std::to_string(population) + "), expected no --trials");
    }
    if (file.workers == 0) file.workers = pbt_in_populations ? 1 : static_cast<int>(population);
    if (!pbt_in_populations && file.workers < population && !under_mpi) {
      throw InvalidArgument(
          (a.workers ? std::string("--workers") : file.where("workers") + "'workers'") + " is " +
          std::to_string(file.workers) + ", but the PBT population of " +
          std::to_string(population) + " trains at once, expected at least " +
          std::to_string(population) + " (a member per worker), or --population at least " +
          std::to_string(population) + " (the members trained together)");
    }
  }
  auto data = tune::load_study_data(file, with_train);
  if (with_train) tune::check_study_data(file, tune::shape_of(*data));
  return {std::move(file), std::move(data)};
}

std::unique_ptr<hpo::Study> open_study(const tune::StudyFile& file, hpo::Storage& storage) {
  hpo::StudyRecord record;
  record.name = file.name;
  record.direction = file.direction;
  record.objective = file.objective;
  record.config = file.canonical();
  record.n_trials = file.trials;
  return std::make_unique<hpo::Study>(record, file.space,
                                      hpo::make_sampler(file.sampler, file.seed), storage,
                                      tune::make_stopper(file.stopping), hpo::LeaseOptions{},
                                      tune::make_pbt(file.pbt, file.space, file.seed));
}

// "3 of 10 trials done", or, where a lower budget (--trials) leaves nothing to run, "10 trials
// done, the budget is 5: none to run" (was "10 of 5 trials done").
std::string trials_done(int64_t finished, int64_t total) {
  if (finished > total) {
    return fmt::format("{} trials done, the budget is {}: none to run", finished, total);
  }
  return fmt::format("{} of {} trials done", finished, total);
}

// ", joining 2 other processes", ", resuming" or "": what the study held when this run began.
std::string study_state(hpo::Study& study, int64_t finished) {
  size_t others = 0;  // live processes on this study besides this one
  for (const auto& run : study.storage().runs(study.record().id)) {
    others += run.id != study.run().id &&
              !hpo::run_is_gone(run, hpo::wall_seconds(), hpo::LeaseOptions{}.grace);
  }
  return others > 0 ? fmt::format(", joining {} other process{}", others, others == 1 ? "" : "es")
         // Trials held but none finished: a run killed before its first trial ended (a PBT
         // population resumes its members from their states).
         : finished < study.record().n_trials && (finished > 0 || !study.trials().empty())
             ? ", resuming"
             : "";
}

// The best weights go beside the database, named by study (none for an in-memory study).
std::filesystem::path checkpoint_prefix(const tune::StudyFile& file) {
  return tune::study_files_prefix(file.storage, file.name);
}

// The best weights of an earlier krill, named by database alone (`<storage>.trial-<N>.ckpt`), are
// this study's when the database holds it alone: they take its names.
void adopt_unnamed_checkpoints(hpo::Study& study, const tune::TrainingObjective& objective,
                               const tune::StudyFile& file) {
  if (checkpoint_prefix(file).empty()) return;
  const auto unnamed = tune::unnamed_checkpoints(file.storage);
  if (unnamed.empty() || study.storage().studies().size() != 1) return;
  for (const auto& [path, number] : unnamed) {
    std::error_code ec;
    if (!std::filesystem::exists(objective.checkpoint_of(number), ec)) {
      std::filesystem::rename(path, objective.checkpoint_of(number), ec);
    }
  }
}

// Removes the best-weights files of the study's finished trials but the best. Processes that
// join a study each keep the checkpoint of their own best, and a run that ended abruptly may
// leave one behind: the study's best is one of them. A running trial's may yet be the best, and
// stays. The best and the states come from one snapshot: a trial another process finishes
// meanwhile is Running in it, and keeps its file.
void remove_superseded_checkpoints(hpo::Study& study, const tune::TrainingObjective& objective,
                                   const tune::StudyFile& file) {
  if (checkpoint_prefix(file).empty()) return;
  const auto snapshot = study.trials();
  const auto best = study.best_of(snapshot);
  for (const auto& t : snapshot) {
    if (t.state != hpo::TrialState::Running && (!best || t.number != best->number)) {
      std::error_code ec;
      std::filesystem::remove(objective.checkpoint_of(t.number), ec);
    }
  }
}

// Runs the study on `executor` with a progress bar, Ctrl-C handling and the best weights beside
// the database; then scores the best trial on the test set, prints the summary and returns the
// exit code. `objective` has the checkpoint prefix.
int optimize_and_report(hpo::Study& study, hpo::Executor& executor,
                        tune::TrainingObjective& objective, const tune::StudyFile& file,
                        bool quiet) {
  adopt_unnamed_checkpoints(study, objective, file);
  remove_superseded_checkpoints(study, objective, file);  // what an earlier run left
  Progress progress("tune", quiet, study.progress().finished);
  hpo::OptimizeOptions options;
  options.executor = &executor;
  options.cancel = &g_cancel;
  const auto draw = [&](const hpo::StudyProgress& p) {
    const auto steps = objective.running_steps();  // none on the MPI manager: workers train
    progress.update(
        p.finished, p.total,
        fmt::format("running {}{} failed/diverged {} best {}", p.running,
                    steps.planned > 0 ? fmt::format(" ({:.0f}% of their steps)",
                                                    100.0 * static_cast<double>(steps.done) /
                                                        static_cast<double>(steps.planned))
                                      : "",
                    p.failed, p.best ? fmt::format("{:.4f}", *p.best) : "-"));
  };
  options.on_progress = draw;
  {
    const ScopedStopHandler interrupts(on_interrupt);
    // The line moves while trials run, not only when one ends: redrawn every second until
    // optimize() returns (also by an exception: the jthread is stopped and joined).
    std::jthread ticker([&](std::stop_token stop) {
      // It also acts on a second Ctrl-C: this run leaves the study's runs, so that its running
      // trials are orphans that any process (the next run, or one already joined, on any host)
      // re-queues at once with their parameters, instead of after the lease's grace period.
      std::mutex m;
      std::condition_variable_any tick;
      std::unique_lock lock(m);
      auto last_draw = std::chrono::steady_clock::now();
      while (!tick.wait_for(lock, stop, std::chrono::milliseconds(50), [] { return false; })) {
        if (stop.stop_requested()) return;
        if (g_interrupts.load() >= 2) {
          try {
            study.storage().remove_run(study.run().id);
          } catch (const std::exception&) {  // the heartbeat stops: the lease's grace frees them
          }
          std::_Exit(g_exit_code.load());
        }
        if (std::chrono::steady_clock::now() - last_draw >= std::chrono::seconds(1)) {
          last_draw = std::chrono::steady_clock::now();
          draw(study.progress());
        }
      }
    });
    study.optimize(objective.objective(), options);
  }
  remove_superseded_checkpoints(study, objective, file);
  progress.finish();

  // The test set scores the best trial only, once, from its saved weights.
  if (auto best = study.best_trial(); best && !best->attrs.contains("test_accuracy")) {
    if (auto test = objective.test_best(*best)) {
      best->attrs["test_accuracy"] = test->accuracy;
      best->attrs["test_loss"] = test->loss;
      study.storage().finish_trial(study.record().id, *best);
      // An earlier run's best, now superseded, gives up its test score: the study has one, its
      // best's (two test accuracies read as two bests, and its weights are gone).
      for (hpo::TrialRecord& t : study.trials()) {
        if (t.number == best->number || !t.attrs.contains("test_accuracy")) continue;
        t.attrs.erase("test_accuracy");
        t.attrs.erase("test_loss");
        study.storage().finish_trial(study.record().id, t);
      }
    }
  }

  print_study_summary(study.record(), study.trials(), 5);
  fmt::print("database: {}\n", hpo::display_location(file.storage.string()));
  if (auto best = study.best_trial();
      best && std::filesystem::exists(objective.checkpoint_of(best->number))) {
    fmt::print("best weights: {}\n", objective.checkpoint_of(best->number).string());
  }
  // "4 trials" and "trials 0, 1, 2, 3", in number order (they are kept in the order they ended).
  const auto counted = [](const std::vector<int64_t>& numbers, const char* noun) {
    return fmt::format("{} {}{}", numbers.size(), noun, numbers.size() == 1 ? "" : "s");
  };
  const auto named = [](std::vector<int64_t> numbers) {
    std::sort(numbers.begin(), numbers.end());
    return fmt::format("{} {}", numbers.size() == 1 ? "trial" : "trials", fmt::join(numbers, ", "));
  };
  const hpo::StudyProgress ended = study.progress();
  if (!ended.lost_here.empty()) {
    fmt::print(stderr,
               "krill tune: {} of this process ({}) taken back by another process while this one "
               "was silent for over {:.0f} s (stopped, or cut off from the database): run there, "
               "this process's result dropped\n",
               counted(ended.lost_here, "trial"), named(ended.lost_here),
               hpo::LeaseOptions{}.grace);
  }
  if (ended.exhausted && ended.finished < ended.total && !g_cancel.load()) {
    fmt::print(stderr,
               "krill tune: the {} sampler has no more trials to propose ({} in the study, below "
               "the budget of {}): the study is complete\n",
               file.sampler.name, study.trials().size(), ended.total);
  }
  if (!ended.left_here.empty()) {
    fmt::print(stderr,
               "krill tune: the population stopped with them: {} ({}) left running in the "
               "database, to resume from their saved states once this process has ended\n",
               counted(ended.left_here, "member"), named(ended.left_here));
  }
  if (g_cancel.load()) {
    // The trials that were running when Ctrl-C came may have been the study's last.
    const bool complete = ended.finished >= ended.total;
    fmt::print(stderr, "krill tune: {}\n",
               complete ? "interrupted, but every trial had finished: the study is complete"
                        : "interrupted; run the same command again to resume");
    return g_exit_code.load();
  }
  // A run whose every trial failed is a broken set-up, not a result: say so, and why.
  if (const auto p = study.progress(); p.finished_here > 0 && p.failed_here == p.finished_here) {
    // A Diverged trial counts here too (a NaN loss): the message says which kinds there were.
    fmt::print(stderr,
               "krill: error: all {} trials of this run failed or diverged; the first: {}\n",
               p.finished_here, p.first_error);
    return 1;
  }
  return 0;
}

tune::TrainingObjective make_objective(hpo::Study& study, const Prepared& p) {
  const auto stored_best = study.best_trial();
  return tune::TrainingObjective(p.file, p.data, checkpoint_prefix(p.file),
                                 stored_best ? stored_best->value : std::nullopt,
                                 stored_best ? stored_best->number : -1);
}

// The study's database; where the study file names it, an error is said at that line.
std::unique_ptr<hpo::Storage> open_study_storage(const tune::StudyFile& file, const TuneArgs& a) {
  try {
    return store::open_storage(file.storage);
  } catch (const DataError& e) {
    if (a.storage || !file.positions.contains("storage")) throw;
    throw DataError(file.where("storage") + "'storage': " + e.what());
  }
}

int run_local(const TuneArgs& a) {
  const Prepared p = prepare(a);
  auto storage = open_study_storage(p.file, a);
  auto study = open_study(p.file, *storage);
  const auto before = study->progress();
  exec::LocalExecutor executor({.workers = p.file.workers,
                                .threads_per_worker = a.threads,
                                .population = p.file.population});
  if (!a.quiet) {
    fmt::print(
        stderr, "krill tune: study '{}' in {} ({}{}), {} worker{} x {} thread{}{}\n", p.file.name,
        hpo::display_location(p.file.storage.string()), trials_done(before.finished, before.total),
        study_state(*study, before.finished), executor.workers(),
        executor.workers() == 1 ? "" : "s", executor.threads_per_worker(),
        executor.threads_per_worker() == 1 ? "" : "s",
        (p.file.device == Device::Cpu ? "" : ", on " + std::string(to_string(p.file.device))) +
            (p.file.population > 1 ? fmt::format(", populations of up to {}", p.file.population)
                                   : std::string()));
  }
  tune::TrainingObjective objective = make_objective(*study, p);
  executor.set_group_objective(&objective);
  return optimize_and_report(*study, executor, objective, p.file, a.quiet);
}

#ifdef KRILL_HAVE_MPI
// The compute threads of a trial on this worker rank: --threads, or the cores the launcher bound
// the rank to, or else the node's cores shared by the worker ranks on it (rank 0, the manager,
// mostly sleeps: it does not count).
int worker_threads(const exec::mpi::MpiSession& mpi, int threads) {
  if (threads > 0) return threads;
  const int cores = exec::available_cores();
  if (cores < static_cast<int>(std::thread::hardware_concurrency())) return cores;
  const int workers_here = mpi.ranks_on_node() - (mpi.manager_on_node() ? 1 : 0);
  return std::max(1, cores / std::max(1, workers_here));
}

int run_mpi(const TuneArgs& a) {
  exec::mpi::MpiSession mpi;
  if (mpi.size() == 1) {  // mpirun -np 1: nobody to hand trials to
    if (!a.quiet) fmt::print(stderr, "krill tune: one MPI rank: running the study here\n");
    return run_local(a);
  }
  // Every rank reads the study file; the workers load the data (once per rank, shared by its
  // threads) and check the study against it; rank 0, which trains nothing, reads the test set
  // alone (to score the best trial at the end). Then rank 0 opens the study (a changed setting, a
  // missing folder). At each step the ranks agree: an error is printed once, by the lowest rank
  // that has it, every rank stops, and nothing is created.
  const auto agree = [&](const std::function<void()>& step) {
    std::string error;
    try {
      step();
    } catch (const std::exception& e) {  // any: a rank that left now would hang the others
      error = e.what();
    }
    const int first = mpi.first_failed(!error.empty());
    if (first >= 0 && mpi.rank() == first) {
      fmt::print(stderr, "krill: error: {}{}\n", first == 0 ? "" : fmt::format("rank {}: ", first),
                 error);
    }
    return first < 0;
  };
  std::optional<Prepared> p;
  std::unique_ptr<hpo::Storage> storage;
  std::unique_ptr<hpo::Study> study;
  if (!agree([&] {
        if (a.population && *a.population != "1" && *a.population != "auto") {
          throw InvalidArgument(
              "--population " + *a.population +
              ": under MPI each worker rank trains one trial at a time "
              "(populations train in one process), expected no --population, 1 or auto");
        }
        p = prepare(a, /*with_train=*/mpi.rank() != 0, /*under_mpi=*/true);
        // What a job of this size cannot do, before anything is created.
        if (p->file.pbt) {
          const auto problem =
              exec::mpi::pbt_ranks_problem(mpi.size(), p->file.pbt->options.population);
          if (!problem.empty()) throw InvalidArgument(problem);
        }
      })) {
    return 2;
  }
  if (mpi.rank() == 0 && p->file.population > 1 && p->file.positions.contains("population") &&
      !a.population && !a.quiet) {
    fmt::print(stderr,
               "krill tune: {}'population' is not used under MPI: each worker rank trains one "
               "trial at a time\n",
               p->file.where("population"));
  }
  if (!agree([&] {
        if (mpi.rank() != 0) return;
        storage = open_study_storage(p->file, a);
        study = open_study(p->file, *storage);
      })) {
    return 2;
  }
  const int threads = worker_threads(mpi, a.threads);
  // From here a rank that fails ends the job (MPI_Abort): the others would wait for it forever.
  // The database holds every finished trial; the same command resumes the study.
  try {
    exec::mpi::MpiTransport transport(mpi);
    if (mpi.rank() != 0) {
      tune::TrainingObjective objective(p->file, p->data, "", std::nullopt);
      objective.keep_weights_in_memory();
      exec::mpi::run_worker(transport, objective.objective(),
                            {.threads = threads, .take_weights = [&](int64_t n, bool wanted) {
                               return objective.take_weights(n, wanted);
                             }});
      return 0;
    }
    const auto before = study->progress();
    if (!a.quiet) {
      fmt::print(stderr,
                 "krill tune: study '{}' in {} ({}{}), MPI: rank 0 manages, "
                 "{} worker rank{} x {} thread{}\n",
                 p->file.name, hpo::display_location(p->file.storage.string()),
                 trials_done(before.finished, before.total), study_state(*study, before.finished),
                 mpi.size() - 1, mpi.size() == 2 ? "" : "s", threads, threads == 1 ? "" : "s");
    }
    tune::TrainingObjective objective = make_objective(*study, *p);
    struct Keeper final : exec::mpi::WeightsKeeper {
      tune::TrainingObjective& o;
      explicit Keeper(tune::TrainingObjective& o) : o(o) {}
      bool wants(int64_t n, double v) override { return o.wants_weights(n, v); }
      void keep(int64_t n, double v, std::span<const uint8_t> b) override {
        o.keep_weights(n, v, b);
      }
    } keeper(objective);
    exec::mpi::MpiExecutor executor(transport, {.weights = &keeper});
    return optimize_and_report(*study, executor, objective, p->file, a.quiet);
  } catch (const std::exception& e) {
    fmt::print(stderr, "krill: error: rank {}: {}\n", mpi.rank(), e.what());
    mpi.abort(mpi.rank() == 0 ? 2 : 70);
  }
}
#endif

int run_tune(const TuneArgs& a) {
  const std::string marker = exec::mpi::mpi_launch_marker();
  const bool mpi = a.mpi == "on" || (a.mpi == "auto" && !marker.empty());
  if (!mpi) return run_local(a);
#ifdef KRILL_HAVE_MPI
  return run_mpi(a);
#else
  throw InvalidArgument(
      "this krill was built without MPI, but " +
      (a.mpi == "on" ? std::string("--mpi on was given")
                     : "it was started by an MPI launcher (" + marker + ")") +
      ": install an MPI library (scripts/install-deps.sh installs Open MPI) and rebuild, or pass "
      "--mpi off to run every process as a separate process joining the study");
#endif
}
}  // namespace

void add_tune_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<TuneArgs>();
  CLI::App* cmd = app.add_subcommand("tune", "Run or resume the study of a study file (YAML)");
  cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cmd->add_option("study_file", args->file, "the study file (see docs/STUDY-FILE.md)")->required();
  cmd->add_option("--study", args->study,
                  "run the study of this name instead of the file's `study:` (same database: one "
                  "file can run several studies)");
  cmd->add_option("--storage", args->storage,
                  "override the study file's storage: a SQLite file, or a PostgreSQL database "
                  "(postgresql://user@host:port/dbname; a password is best kept in ~/.pgpass)");
  cmd->add_option("--trials", args->trials,
                  "override the study file's number of trials (an integer >= 1)");
  cmd->add_option("--workers", args->workers,
                  "override the study file's workers (an integer >= 1)");
  cmd->add_option("--device", args->device,
                  "override the study file's device: cpu, or cuda (a build with CUDA and a GPU)");
  cmd->add_option("--population", args->population,
                  "override the study file's population: trials of one architecture trained "
                  "together in batched kernels, up to N at a time (1: one at a time; auto: 64 on "
                  "cuda, 1 on the CPU, where it does not pay; a PBT study needs 1 or at least its "
                  "population; under MPI only 1 or auto, as each worker rank trains one trial at a "
                  "time)");
  cmd->add_option("--threads", args->threads,
                  "threads per trial (default 0: cores / workers / krill processes of the study "
                  "on this machine, re-evaluated as they come and go); lower it when other jobs "
                  "share the cores");
  cmd->add_option("--mpi", args->mpi,
                  "auto: a distributed study when started by mpirun/mpiexec/srun (rank 0 "
                  "manages, the other ranks train); on: always (error if built without MPI); "
                  "off: never (each process joins the study on its own)")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  cmd->add_flag("--quiet,-q", args->quiet, "no progress output");
  cmd->callback([args, &exit_code] { exit_code = run_tune(*args); });
}

}  // namespace krill::cli
