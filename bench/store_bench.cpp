// Per-trial cost of the study storage: what one trial asks of it (start_trial with 3 params,
// 3 add_report, finish_trial with 2 attrs; five transactions), on SQLite (a temporary file, WAL,
// synchronous=NORMAL) and in memory for comparison; with PostgreSQL (KRILL_HAVE_POSTGRES) also on
// the server that KRILL_BENCH_PG_URL names (skipped when unset; bench/postgres.sh), a fresh study
// each run. Also loading a whole study (trials()) of N finished trials, which `krill show` and a
// resumed study do. Times are per trial.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "hpo/storage.hpp"
#include "store/memory_storage.hpp"
#include "store/sqlite_storage.hpp"
#ifdef KRILL_HAVE_POSTGRES
#include "store/postgres_storage.hpp"
#endif

namespace {

using krill::hpo::Storage;
using krill::hpo::TrialRecord;
using krill::hpo::TrialState;

// A fresh database file under the temporary folder, removed (with its WAL files) afterwards.
class TempFile {
 public:
  TempFile() {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("krill_store_bench_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) +
             ".db");
  }
  ~TempFile() {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm"})
      std::filesystem::remove(path_.string() + suffix, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

enum class Kind { Sqlite, Memory, Postgres };

// The server's URL, or nullptr (the case is skipped).
const char* pg_url() {
  const char* url = std::getenv("KRILL_BENCH_PG_URL");
  return url != nullptr && *url != '\0' ? url : nullptr;
}

std::unique_ptr<Storage> make(Kind kind, const TempFile& file) {
  switch (kind) {
    case Kind::Sqlite:
      return std::make_unique<krill::store::SqliteStorage>(file.path());
    case Kind::Postgres:
#ifdef KRILL_HAVE_POSTGRES
      return std::make_unique<krill::store::PostgresStorage>(pg_url());
#endif
    case Kind::Memory:
      break;
  }
  return std::make_unique<krill::store::MemoryStorage>();
}

// Whether the case can run; else it is marked skipped, with the reason.
bool available(benchmark::State& state, Kind kind) {
  if (kind != Kind::Postgres || pg_url() != nullptr) return true;
  state.SkipWithError("KRILL_BENCH_PG_URL is not set (a postgresql:// URL; bench/postgres.sh)");
  for (auto _ : state) {
  }
  return false;
}

// A study name of its own each time: a server's database outlives the runs.
int64_t make_study(Storage& storage) {
  static int counter = 0;
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  krill::hpo::StudyRecord study;
  study.name = "bench-" + std::to_string(::getpid()) + "-" +
               std::to_string(std::chrono::duration_cast<std::chrono::seconds>(now).count()) + "-" +
               std::to_string(counter++);
  study.objective = "val_accuracy";
  study.n_trials = 1'000'000;
  return storage.create_study(study);
}

void run_trial(Storage& storage, int64_t study, int64_t number) {
  TrialRecord t;
  t.number = number;
  t.params = {{"lr", 0.001 * static_cast<double>(number % 97)},
              {"width", int64_t{256}},
              {"activation", std::string("relu")}};
  t.started = 1717171717.0 + static_cast<double>(number);
  t.worker = 0;
  storage.start_trial(study, t);
  for (int64_t step = 1; step <= 3; ++step) {
    storage.add_report(study, number, {step * 100, 1.0 / static_cast<double>(step)});
  }
  t.state = TrialState::Completed;
  t.value = 0.9;
  t.attrs = {{"test_accuracy", 0.88}, {"iterations", 300}};
  t.finished = t.started + 1;
  storage.finish_trial(study, t);
}

// One iteration is one trial (start + 3 reports + finish): Time is per trial.
void BM_TrialWrite(benchmark::State& state, Kind kind) {
  if (!available(state, kind)) return;
  TempFile file;
  auto storage = make(kind, file);
  const int64_t study = make_study(*storage);
  int64_t number = 0;
  for (auto _ : state) run_trial(*storage, study, number++);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(BM_TrialWrite, sqlite, Kind::Sqlite)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_TrialWrite, memory, Kind::Memory)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
#ifdef KRILL_HAVE_POSTGRES
BENCHMARK_CAPTURE(BM_TrialWrite, postgres, Kind::Postgres)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
#endif

// Loading a study of range(0) finished trials: Time is per load, items_per_second in trials.
void BM_LoadStudy(benchmark::State& state, Kind kind) {
  if (!available(state, kind)) return;
  TempFile file;
  auto storage = make(kind, file);
  const int64_t study = make_study(*storage);
  const int64_t n = state.range(0);
  for (int64_t i = 0; i < n; ++i) run_trial(*storage, study, i);
  for (auto _ : state) {
    auto trials = storage->trials(study);
    benchmark::DoNotOptimize(trials.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK_CAPTURE(BM_LoadStudy, sqlite, Kind::Sqlite)->Arg(10'000)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_LoadStudy, memory, Kind::Memory)->Arg(10'000)->Unit(benchmark::kMillisecond);
#ifdef KRILL_HAVE_POSTGRES
// Filling 10,000 trials on a server takes a while (one fsync'ed commit per call): 1,000 here.
BENCHMARK_CAPTURE(BM_LoadStudy, postgres, Kind::Postgres)
    ->Arg(1'000)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
#endif

}  // namespace

BENCHMARK_MAIN();
