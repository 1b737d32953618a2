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
  const auto budget = [this, &study] { return threads_per_worker(study.local_runs()); };
  if (workers_ == 1) {
    while (auto t = study.ask(0)) study.run_trial(std::move(*t), objective, budget);
    return;
  }
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(static_cast<size_t>(workers_));
  for (int w = 0; w < workers_; ++w) {
    pool.emplace_back([&, w] {
      try {
        while (auto t = study.ask(w)) study.run_trial(std::move(*t), objective, budget);
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

}  // namespace krill::exec
