// The per-trial cost of krill itself: sampler + storage + bookkeeping, with a trivial objective
// that reports three learning-curve points (Optuna's equivalent measured 12 ms a trial with random
// sampling on SQLite, 0.12 ms in memory; see ../shared/baselines/README.md).
#include <benchmark/benchmark.h>

#include <filesystem>
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

void run_trials(benchmark::State& state, const std::string& storage_path, const char* sampler) {
  auto storage = store::open_storage(storage_path);
  hpo::StudyRecord record;
  record.name = "bench";
  record.objective = "value";
  record.n_trials = int64_t{1} << 40;
  hpo::Study study(record, space(), hpo::make_sampler(sampler, 1), *storage);
  const hpo::Objective objective = [](hpo::Trial& t) {
    const double lr = t.float_param("lr");
    for (int step = 1; step <= 3; ++step) t.report(step * 100, lr * step);
    return lr;
  };
  for (auto _ : state) {
    auto trial = study.ask(0);
    study.run_trial(std::move(*trial), objective);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_TrialSqlite(benchmark::State& state) {
  const auto path = std::filesystem::temp_directory_path() / "krill_study_bench.db";
  std::filesystem::remove(path);
  run_trials(state, path.string(), state.range(0) ? "sobol" : "random");
  std::filesystem::remove(path);
  std::filesystem::remove(path.string() + "-wal");
  std::filesystem::remove(path.string() + "-shm");
}

void BM_TrialMemory(benchmark::State& state) {
  run_trials(state, ":memory:", state.range(0) ? "sobol" : "random");
}

// Arg 0: random sampler, 1: Sobol.
BENCHMARK(BM_TrialSqlite)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TrialMemory)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
