// Tuning your own C++ function with krill's HPO layer, without its training engine: the objective
// is any function of a Trial that may report a learning curve and returns a value.
//
//   build/examples/custom_objective [study.db]
//
// Minimises the Rosenbrock function over (x, y) with a Sobol sampler, 4 trials at a time, and
// keeps every trial in a SQLite database (run it twice: the second run resumes and finds the study
// already complete).
#include <fmt/core.h>

#include <cmath>

#include "exec/local_executor.hpp"
#include "hpo/study.hpp"
#include "store/open.hpp"

int main(int argc, char** argv) {
  using namespace krill;
  const std::string path = argc > 1 ? argv[1] : "rosenbrock.db";
  auto storage = store::open_storage(path);

  hpo::SearchSpace space{{"x", hpo::FloatDim{-2.0, 2.0}}, {"y", hpo::FloatDim{-1.0, 3.0}}};
  hpo::StudyRecord record;
  record.name = "rosenbrock";
  record.direction = hpo::Direction::Minimize;
  record.objective = "f(x, y)";
  record.n_trials = 256;
  hpo::Study study(record, space, hpo::make_sampler("sobol", 1), *storage);

  exec::LocalExecutor executor({.workers = 4, .threads_per_worker = 1});
  hpo::OptimizeOptions options;
  options.executor = &executor;
  study.optimize(
      [](hpo::Trial& trial) {
        const double x = trial.float_param("x"), y = trial.float_param("y");
        return (1 - x) * (1 - x) + 100 * (y - x * x) * (y - x * x);
      },
      options);

  auto best = study.best_trial();
  fmt::print("{} trials in {}; best f = {:.5f} at {}\n", study.trials().size(), path, *best->value,
             hpo::to_string(best->params));
  return 0;
}
