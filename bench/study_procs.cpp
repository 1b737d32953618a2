// N processes on one study: each runs this program, which creates the study or joins it (through
// hpo::Study, as `krill tune` does: a run of its own, trials claimed by claim_trial), and runs the
// trivial objective of study_bench.cpp (random sampling over lr, momentum, weight_decay; three
// reports) until the study holds its budget of finished trials. bench/postgres.sh launches P of
// them at once and times them from launch to the last exit; `check` then verifies the study.
//
//   krill_study_procs run STORAGE [--study NAME] [--budget N] [--worker I]
//       prints {"worker":I,"trials":<run here>,"seconds":<from open to done>}
//   krill_study_procs check STORAGE [--study NAME] [--budget N]
//       prints {"trials":..,"completed":..,"distinct":..,"ok":true|false}; exit 1 when not ok
//       (ok: exactly the budget of trials, all Completed, numbers 0..budget-1 each once)
//
// STORAGE: a SQLite file or a postgresql:// URL (store::open_storage).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <set>
#include <string>

#include "hpo/study.hpp"
#include "store/open.hpp"

namespace {

using namespace krill;

hpo::SearchSpace space() {
  return hpo::SearchSpace{{"lr", hpo::FloatDim{1e-3, 0.5, true}},
                          {"momentum", hpo::FloatDim{0.0, 0.95}},
                          {"weight_decay", hpo::FloatDim{1e-6, 1e-2, true}}};
}

int usage() {
  std::fprintf(stderr,
               "usage: krill_study_procs run|check STORAGE [--study NAME] [--budget N] "
               "[--worker I]\n");
  return 2;
}

int run(const std::string& storage_path, const std::string& name, int64_t budget, int worker) {
  const auto t0 = std::chrono::steady_clock::now();
  auto storage = store::open_storage(storage_path);
  hpo::StudyRecord record;
  record.name = name;
  record.objective = "value";
  record.n_trials = budget;
  hpo::Study study(record, space(), hpo::make_sampler("random", 1), *storage);
  const hpo::Objective objective = [](hpo::Trial& t) {
    const double lr = t.float_param("lr");
    for (int step = 1; step <= 3; ++step) t.report(step * 100, lr * step);
    return lr;
  };
  int64_t here = 0;
  while (auto trial = study.ask(worker)) {
    study.run_trial(std::move(*trial), objective);
    ++here;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("{\"worker\":%d,\"trials\":%lld,\"seconds\":%.6f}\n", worker,
              static_cast<long long>(here), seconds);
  return 0;
}

int check(const std::string& storage_path, const std::string& name, int64_t budget) {
  auto storage = store::open_storage(storage_path);
  const auto study = storage->find_study(name);
  if (!study) {
    std::fprintf(stderr, "krill_study_procs: no study '%s'\n", name.c_str());
    return 1;
  }
  const auto trials = storage->trials(study->id);
  std::set<int64_t> numbers;
  int64_t completed = 0;
  bool in_range = true;
  for (const auto& t : trials) {
    numbers.insert(t.number);
    if (t.state == hpo::TrialState::Completed) ++completed;
    if (t.number < 0 || t.number >= budget) in_range = false;
  }
  const auto n = static_cast<int64_t>(trials.size());
  const auto distinct = static_cast<int64_t>(numbers.size());
  const bool ok = n == budget && completed == budget && distinct == budget && in_range;
  std::printf("{\"trials\":%lld,\"completed\":%lld,\"distinct\":%lld,\"ok\":%s}\n",
              static_cast<long long>(n), static_cast<long long>(completed),
              static_cast<long long>(distinct), ok ? "true" : "false");
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage();
  const std::string command = argv[1];
  const std::string storage = argv[2];
  std::string name = "procs";
  int64_t budget = 2000;
  int worker = 0;
  for (int i = 3; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) return usage();
    if (arg == "--study") {
      name = argv[++i];
    } else if (arg == "--budget") {
      budget = std::atoll(argv[++i]);
    } else if (arg == "--worker") {
      worker = std::atoi(argv[++i]);
    } else {
      return usage();
    }
  }
  try {
    if (command == "run") return run(storage, name, budget, worker);
    if (command == "check") return check(storage, name, budget);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "krill_study_procs: %s\n", e.what());
    return 1;
  }
  return usage();
}
