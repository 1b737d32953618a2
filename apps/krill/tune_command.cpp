#include "tune_command.hpp"

#include <fmt/core.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "core/error.hpp"
#include "exec/local_executor.hpp"
#include "progress.hpp"
#include "store/open.hpp"
#include "study_summary.hpp"
#include "tune/study_file.hpp"
#include "tune/trainable.hpp"

namespace krill::cli {

namespace {

struct TuneArgs {
  std::string file;
  std::optional<int64_t> trials;  // given: overrides the study file's
  std::optional<int> workers;
  int threads = 0;
  bool quiet = false;
};

std::atomic<bool> g_cancel{false};
std::atomic<int> g_interrupts{0};

extern "C" void on_interrupt(int) {
  // The database holds every finished trial (each is committed as it ends); a second Ctrl-C quits
  // at once, and the trials that were running are run again when the study resumes.
  if (g_interrupts.fetch_add(1) >= 1) std::_Exit(130);
  g_cancel.store(true);
}

int run_tune(const TuneArgs& a) {
  tune::StudyFile file = tune::load_study_file(a.file);
  // An option given takes effect or is refused.
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
  if (a.threads < 0) {
    throw InvalidArgument("--threads is " + std::to_string(a.threads) +
                          ", expected an integer >= 1 (or 0: cores / workers)");
  }
  // Whatever can be checked is, before the database is created or opened: a study that cannot
  // run leaves nothing behind.
  auto data = tune::load_study_data(file);
  tune::check_study_data(file, tune::shape_of(*data));

  auto storage = store::open_storage(file.storage);
  hpo::StudyRecord record;
  record.name = file.name;
  record.direction = file.direction;
  record.objective = file.objective;
  record.config = file.canonical();
  record.n_trials = file.trials;
  hpo::Study study(record, file.space, hpo::make_sampler(file.sampler, file.seed), *storage,
                   tune::make_stopper(file.stopping));
  const auto before = study.progress();
  exec::LocalExecutor executor({.workers = file.workers, .threads_per_worker = a.threads});
  if (!a.quiet) {
    size_t others = 0;  // live processes on this study besides this one
    for (const auto& run : storage->runs(study.record().id)) {
      others += run.id != study.run().id &&
                !hpo::run_is_gone(run, hpo::wall_seconds(), hpo::LeaseOptions{}.grace);
    }
    fmt::print(
        stderr, "krill tune: study '{}' in {} ({} of {} trials done{}), {} workers x {} threads\n",
        file.name, file.storage.string(), before.finished, before.total,
        others > 0 ? fmt::format(", joining {} other process{}", others, others == 1 ? "" : "es")
        : before.finished > 0 ? ", resuming"
                              : "",
        executor.workers(), executor.threads_per_worker());
  }

  Progress progress("tune", a.quiet);
  hpo::OptimizeOptions options;
  options.executor = &executor;
  options.cancel = &g_cancel;
  options.on_progress = [&](const hpo::StudyProgress& p) {
    progress.update(p.finished, p.total,
                    fmt::format("running {} failed {} best {}", p.running, p.failed,
                                p.best ? fmt::format("{:.4f}", *p.best) : "-"));
  };
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  const auto stored_best = study.best_trial();
  // Best weights beside the database (none for an in-memory study).
  const std::filesystem::path prefix = file.storage == ":memory:" ? "" : file.storage;
  tune::TrainingObjective objective(file, data, prefix,
                                    stored_best ? stored_best->value : std::nullopt,
                                    stored_best ? stored_best->number : -1);
  study.optimize(objective.objective(), options);
  // Joined processes each keep the checkpoint of their own best: the study's best is one of
  // them. Remove the others' of finished trials (a running trial's may yet be the best). The
  // best and the states come from one snapshot: a trial another process finishes meanwhile is
  // Running in it, and keeps its file.
  if (!prefix.empty()) {
    const auto snapshot = study.trials();
    const auto best = study.best_of(snapshot);
    for (const auto& t : snapshot) {
      if (t.state != hpo::TrialState::Running && (!best || t.number != best->number)) {
        std::error_code ec;
        std::filesystem::remove(objective.checkpoint_of(t.number), ec);
      }
    }
  }
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  progress.finish();

  // The test set scores the best trial only, once, from its saved weights.
  if (auto best = study.best_trial(); best && !best->attrs.contains("test_accuracy")) {
    if (auto test = objective.test_best(*best)) {
      best->attrs["test_accuracy"] = test->accuracy;
      best->attrs["test_loss"] = test->loss;
      storage->finish_trial(study.record().id, *best);
    }
  }

  print_study_summary(study.record(), study.trials(), 5);
  fmt::print("database: {}\n", file.storage.string());
  if (auto best = study.best_trial();
      best && std::filesystem::exists(objective.checkpoint_of(best->number))) {
    fmt::print("best weights: {}\n", objective.checkpoint_of(best->number).string());
  }
  if (g_cancel.load()) {
    fmt::print(stderr, "krill tune: interrupted; run the same command again to resume\n");
    return 130;
  }
  // A run whose every trial failed is a broken set-up, not a result: say so, and why.
  if (const auto p = study.progress(); p.finished_here > 0 && p.failed_here == p.finished_here) {
    fmt::print(stderr, "krill: error: all {} trials of this run failed; the first: {}\n",
               p.finished_here, p.first_error);
    return 1;
  }
  return 0;
}

}  // namespace

void add_tune_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<TuneArgs>();
  CLI::App* cmd = app.add_subcommand("tune", "Run or resume the study of a study file (YAML)");
  cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cmd->add_option("study", args->file, "the study file (see docs/STUDY-FILE.md)")->required();
  cmd->add_option("--trials", args->trials,
                  "override the study file's number of trials (an integer >= 1)");
  cmd->add_option("--workers", args->workers,
                  "override the study file's workers (an integer >= 1)");
  cmd->add_option("--threads", args->threads,
                  "threads per trial (default 0: cores / workers / krill processes of the study "
                  "on this machine, re-evaluated as they come and go); lower it when other jobs "
                  "share the cores");
  cmd->add_flag("--quiet,-q", args->quiet, "no progress output");
  cmd->callback([args, &exit_code] { exit_code = run_tune(*args); });
}

}  // namespace krill::cli
