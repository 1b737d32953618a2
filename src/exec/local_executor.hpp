// LocalExecutor: runs a study's trials on threads of this process, `workers` at a time, each
// trial with `threads_per_worker` compute threads, so that workers x threads never exceeds the
// cores. Work is handed out on request (each worker asks the study for its next trial when it is
// done), so slow and fast trials balance themselves.
#pragma once

#include "hpo/study.hpp"

namespace krill::exec {

struct LocalOptions {
  int workers = 0;             // 0: as many as the cores
  int threads_per_worker = 0;  // 0: cores / workers (at least 1)
};

class LocalExecutor final : public hpo::Executor {
 public:
  explicit LocalExecutor(LocalOptions options = {});
  void run(hpo::Study& study, const hpo::Objective& objective) override;
  int workers() const { return workers_; }
  int threads_per_worker() const { return threads_; }

 private:
  int workers_;
  int threads_;
};

int available_cores();  // the CPUs this process may run on

}  // namespace krill::exec
