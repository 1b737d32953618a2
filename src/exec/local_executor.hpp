// LocalExecutor: runs a study's trials on threads of this process, `workers` at a time, each
// trial with `threads_per_worker` compute threads, so that workers x threads never exceeds the
// cores. Work is handed out on request (each worker asks the study for its next trial when it is
// done), so slow and fast trials balance themselves.
//
// Processes that join one study on one host share its cores: with threads_per_worker 0 a trial
// may use cores / (workers x processes of the study on this host) threads, at least 1, asked
// again at each of its reports, so that a second process joining makes the first one's trials
// narrower instead of oversubscribing the cores (OpenMP threads spin at barriers: two processes
// of 2 threads on 2 cores ran 20x slower; docs/BENCHMARKS.md).
#pragma once

#include <functional>

#include "hpo/study.hpp"

namespace krill::exec {

struct LocalOptions {
  int workers = 0;             // 0: as many as the cores
  int threads_per_worker = 0;  // 0: cores / workers / processes of the study here (at least 1)
  int cores = 0;               // 0: the CPUs this process may run on
  // Population mode: with a group objective (set_group_objective), each worker takes up to this
  // many trials at a time and trains those of one group together. 1: one trial at a time. A PBT
  // study whose population fits takes all its members at once, each group as one population on
  // a thread of its own (no workers needed per member).
  int population = 1;
};

class LocalExecutor final : public hpo::Executor {
 public:
  explicit LocalExecutor(LocalOptions options = {});
  void run(hpo::Study& study, const hpo::Objective& objective) override;
  // The objective that trains groups of trials (not owned; nullptr: none). Used when
  // LocalOptions::population > 1 (for a PBT study: at least its population).
  void set_group_objective(hpo::GroupObjective* group) { group_ = group; }
  int population() const { return population_; }
  int workers() const { return workers_; }
  // The threads of a trial when this process is alone on the host (or as fixed by the options).
  int threads_per_worker() const { return threads_; }
  // ... and when `processes` processes of the study share the host.
  int threads_per_worker(int processes) const;

 private:
  // One worker's loop in population mode.
  void run_groups(hpo::Study& study, const hpo::Objective& objective, int worker,
                  const std::function<int()>& budget);
  void run_pbt_groups(hpo::Study& study, const hpo::Objective& objective,
                      const std::function<int()>& budget);

  hpo::GroupObjective* group_ = nullptr;
  int population_;
  int workers_;
  int threads_;
  int cores_;
  bool fixed_threads_;
};

int available_cores();  // the CPUs this process may run on

}  // namespace krill::exec
