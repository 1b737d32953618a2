// The per-trial cost of krill itself: sampler + storage + bookkeeping, with a trivial objective
// that reports three learning-curve points (Optuna's equivalent measured 12 ms a trial with random
// sampling on SQLite, 0.12 ms in memory; see ../shared/baselines/README.md). With PostgreSQL
// (KRILL_HAVE_POSTGRES) also on the server that KRILL_BENCH_PG_URL names (bench/postgres.sh starts
// one), each run on a study of its own; skipped when the variable is unset.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
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

void run_trials(benchmark::State& state, const std::string& storage_path, const char* sampler,
                const std::string& name = "bench") {
  auto storage = store::open_storage(storage_path);
  hpo::StudyRecord record;
  record.name = name;
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

#ifdef KRILL_HAVE_POSTGRES
// On the server of KRILL_BENCH_PG_URL (postgresql://...), a fresh study each run (the benchmark
// library runs a case several times while it sizes the iterations): connecting and creating the
// study are outside the timed loop, as for SQLite.
void BM_TrialPostgres(benchmark::State& state) {
  const char* url = std::getenv("KRILL_BENCH_PG_URL");
  if (url == nullptr || *url == '\0') {
    state.SkipWithError("KRILL_BENCH_PG_URL is not set (a postgresql:// URL; bench/postgres.sh)");
    for (auto _ : state) {
    }
    return;
  }
  static int run = 0;
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const std::string name =
      "bench-" + std::to_string(::getpid()) + "-" +
      std::to_string(std::chrono::duration_cast<std::chrono::seconds>(now).count()) + "-" +
      std::to_string(run++);
  run_trials(state, url, state.range(0) ? "sobol" : "random", name);
}
#endif

// Arg 0: random sampler, 1: Sobol.
BENCHMARK(BM_TrialSqlite)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TrialMemory)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
#ifdef KRILL_HAVE_POSTGRES
// Real time: the server's work is in another process, not this one's CPU time.
BENCHMARK(BM_TrialPostgres)->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMicrosecond);
#endif

}  // namespace

BENCHMARK_MAIN();
