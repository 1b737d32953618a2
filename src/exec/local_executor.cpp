#include "exec/local_executor.hpp"

#include <sched.h>

#include <exception>
#include <functional>
#include <map>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "core/error.hpp"

namespace krill::exec {

namespace {

// Runs each job on a thread of its own and waits for all; then rethrows the first exception, a
// storage failure (trials' exceptions are their results, never thrown here). Where a thread cannot
// be started, `on_start_failure` (if any) runs before the wait: a PBT population's members wait
// for each other, and would wait forever for one that never started.
void run_at_once(const std::vector<std::function<void()>>& jobs,
                 const std::function<void()>& on_start_failure = {}) {
  std::vector<std::thread> threads;
  std::vector<std::exception_ptr> errors(jobs.size());
  std::exception_ptr start_error;
  for (size_t i = 0; i < jobs.size(); ++i) {
    try {
      threads.emplace_back([&, i] {
        try {
          jobs[i]();
        } catch (...) {
          errors[i] = std::current_exception();
        }
      });
    } catch (const std::system_error& e) {  // the system has no thread (or memory) left for it
      start_error = std::make_exception_ptr(
          Error("could not start worker thread " + std::to_string(i + 1) + " of " +
                std::to_string(jobs.size()) + " (" + e.what() +
                "): ask for fewer workers (--workers, or `workers:` in the study file)"));
      if (on_start_failure) on_start_failure();
      break;
    }
  }
  // The workers that started take the study's trials; the error is said once they are done.
  for (auto& t : threads) t.join();
  if (start_error) std::rethrow_exception(start_error);
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

}  // namespace

int available_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

LocalExecutor::LocalExecutor(LocalOptions options) {
  if (options.workers < 0 || options.threads_per_worker < 0 || options.cores < 0) {
    throw InvalidArgument("workers, threads per worker and cores must be >= 0 (0: automatic)");
  }
  if (options.population < 1) {
    throw InvalidArgument("population must be >= 1 (1: one trial at a time), got " +
                          std::to_string(options.population));
  }
  population_ = options.population;
  cores_ = options.cores > 0 ? options.cores : available_cores();
  workers_ = options.workers > 0 ? options.workers : cores_;
  fixed_threads_ = options.threads_per_worker > 0;
  threads_ = fixed_threads_ ? options.threads_per_worker : std::max(1, cores_ / workers_);
}

int LocalExecutor::threads_per_worker(int processes) const {
  if (fixed_threads_) return threads_;
  return std::max(1, cores_ / (workers_ * std::max(1, processes)));
}

void LocalExecutor::run(hpo::Study& study, const hpo::Objective& objective) {
  const std::function<int()> budget = [this, &study] {
    return threads_per_worker(study.local_runs());
  };
  const hpo::Pbt* pbt = study.pbt();
  if (pbt && group_ && population_ >= pbt->options().population) {
    run_pbt_groups(study, objective, budget);
    return;
  }
  if (pbt && workers_ < pbt->options().population) {
    throw InvalidArgument("pbt: the population of " + std::to_string(pbt->options().population) +
                          " members trains at once and needs as many workers; this run has " +
                          std::to_string(workers_));
  }
  const bool groups = group_ && population_ > 1;
  auto work = [&](int w) {
    if (groups) {
      run_groups(study, objective, w, budget);
    } else {
      while (auto t = study.ask(w)) study.run_trial(std::move(*t), objective, budget);
    }
  };
  if (workers_ == 1) {
    work(0);
    return;
  }
  std::vector<std::function<void()>> jobs;
  for (int w = 0; w < workers_; ++w) jobs.emplace_back([&work, w] { work(w); });
  // Other trials go on with the workers that started; a population cannot wait for its members
  // that did not.
  run_at_once(jobs, pbt ? std::function<void()>([&study] { study.stop_handing_out(); })
                        : std::function<void()>());
}

// A PBT population, all of whose members train at once: the members are taken together and each
// group of them trains as one population on a thread of its own, each member of no group on its
// own thread (a generation waits for every member, so they must all run at once). Members a
// process that died left behind are taken in the next round.
void LocalExecutor::run_pbt_groups(hpo::Study& study, const hpo::Objective& objective,
                                   const std::function<int()>& budget) {
  while (!study.cancelled()) {
    std::vector<hpo::TrialRecord> members;
    auto first = study.ask(0);
    if (!first) return;
    members.push_back(std::move(*first));
    while (auto next = study.try_ask(0).trial) members.push_back(std::move(*next));
    std::map<std::string, std::vector<hpo::TrialRecord>> groups;
    std::vector<hpo::TrialRecord> alone;
    for (auto& m : members) {
      const std::string key = group_->group(m.number, m.params);
      (key.empty() ? alone : groups[key]).push_back(std::move(m));
    }
    std::vector<std::function<void()>> jobs;
    for (auto& [key, group] : groups) {
      jobs.emplace_back(
          [&, g = std::move(group)]() mutable { study.run_trials(std::move(g), *group_, budget); });
    }
    for (auto& m : alone) {
      jobs.emplace_back(
          [&, t = std::move(m)]() mutable { study.run_trial(std::move(t), objective, budget); });
    }
    run_at_once(jobs);
  }
}

// Takes up to `population` trials (waiting only for the first: ask() blocks while other runs hold
// the last trials, try_ask() does not), and trains the largest group among them and the trials
// held back from earlier rounds together; the others wait for the next round, where they are
// taken first, so a trial is never held back for long. A trial of no group trains alone.
void LocalExecutor::run_groups(hpo::Study& study, const hpo::Objective& objective, int worker,
                               const std::function<int()>& budget) {
  std::vector<hpo::TrialRecord> held;
  while (true) {
    // Cancelled (Ctrl-C): trials held back stay unfinished; they are free for any run once this
    // one ends, as every trial it holds.
    if (study.cancelled()) return;
    std::vector<hpo::TrialRecord> pool = std::move(held);
    held.clear();
    if (pool.empty()) {
      auto first = study.ask(worker);
      if (!first) return;
      pool.push_back(std::move(*first));
    }
    while (static_cast<int>(pool.size()) < population_) {
      auto next = study.try_ask(worker);
      if (!next.trial) break;
      pool.push_back(std::move(*next.trial));
    }
    // The group of the first trial (the longest held) trains now.
    const std::string key = group_->group(pool.front().number, pool.front().params);
    if (key.empty()) {
      study.run_trial(std::move(pool.front()), objective, budget);
      held.assign(std::make_move_iterator(pool.begin() + 1), std::make_move_iterator(pool.end()));
      continue;
    }
    std::vector<hpo::TrialRecord> together;
    for (auto& t : pool) {
      if (static_cast<int>(together.size()) < population_ &&
          group_->group(t.number, t.params) == key) {
        together.push_back(std::move(t));
      } else {
        held.push_back(std::move(t));
      }
    }
    if (together.size() == 1) {
      study.run_trial(std::move(together.front()), objective, budget);
    } else {
      study.run_trials(std::move(together), *group_, budget);
    }
  }
}

}  // namespace krill::exec
