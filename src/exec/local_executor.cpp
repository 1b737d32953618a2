#include "exec/local_executor.hpp"

#include <sched.h>

#include <exception>
#include <thread>
#include <vector>

#include "core/error.hpp"

namespace krill::exec {

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
  if (const hpo::Pbt* pbt = study.pbt(); pbt && workers_ < pbt->options().population) {
    throw InvalidArgument("pbt: the population of " + std::to_string(pbt->options().population) +
                          " members trains at once and needs as many workers; this run has " +
                          std::to_string(workers_));
  }
  const std::function<int()> budget = [this, &study] {
    return threads_per_worker(study.local_runs());
  };
  const bool groups = group_ && population_ > 1 && !study.pbt();
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
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(static_cast<size_t>(workers_));
  for (int w = 0; w < workers_; ++w) {
    pool.emplace_back([&, w] {
      try {
        work(w);
      } catch (...) {  // a storage failure, not a trial's: trials' exceptions are results
        errors[static_cast<size_t>(w)] = std::current_exception();
      }
    });
  }
  for (auto& t : pool) t.join();
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
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
    const std::string key = group_->group(pool.front().params);
    if (key.empty()) {
      study.run_trial(std::move(pool.front()), objective, budget);
      held.assign(std::make_move_iterator(pool.begin() + 1), std::make_move_iterator(pool.end()));
      continue;
    }
    std::vector<hpo::TrialRecord> together;
    for (auto& t : pool) {
      if (static_cast<int>(together.size()) < population_ && group_->group(t.params) == key) {
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
