// The manager's throughput under MPI (issue: 10,000 hand-outs a second on SQLite, so that 10,000
// ranks running 1-second trials never wait on it). Rank 0 manages a study on SQLite (or in
// memory), every other rank runs a trivial objective that makes `--reports` reports per trial;
// rank 0 prints trials handed out per second, and the workers' mean round trip of a report (send
// it, get the manager's decision). Run by bench/mpi.sh:
//
//   mpiexec -n 4 build/bench/krill_mpi_manager_bench --trials 20000 --reports 0 --batch 64
#include <fmt/core.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <numeric>

#include "exec/mpi/manager.hpp"
#include "exec/mpi/mpi_transport.hpp"
#include "exec/mpi/worker.hpp"
#include "store/open.hpp"

using namespace krill;

int main(int argc, char** argv) {
  int64_t trials = 20000;
  int reports = 0;
  int batch = 64;
  std::string storage_kind = "sqlite";
  CLI::App app{"krill's MPI manager throughput"};
  app.add_option("--trials", trials, "trials in the study")->capture_default_str();
  app.add_option("--reports", reports, "reports per trial (each a round trip)")
      ->capture_default_str();
  app.add_option("--batch", batch, "messages per group commit (1: a transaction each)")
      ->capture_default_str();
  app.add_option("--storage", storage_kind, "sqlite or memory")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  exec::mpi::MpiSession mpi;
  exec::mpi::MpiTransport transport(mpi);
  using Clock = std::chrono::steady_clock;
  if (mpi.rank() != 0) {
    double round_trips = 0;
    int64_t count = 0;
    const hpo::Objective objective = [&](hpo::Trial& t) {
      const double x = t.float_param("x");
      for (int r = 1; r <= reports; ++r) {
        const auto start = Clock::now();
        t.report(r, x * r);
        round_trips += std::chrono::duration<double>(Clock::now() - start).count();
        ++count;
      }
      return x;
    };
    exec::mpi::run_worker(transport, objective);
    double sums[2] = {round_trips, static_cast<double>(count)}, total[2] = {0, 0};
    MPI_Reduce(sums, total, 2, MPI_DOUBLE, MPI_SUM, 0, mpi.comm());
    return 0;
  }
  const auto path = std::filesystem::temp_directory_path() /
                    ("krill_mpi_bench_" + std::to_string(::getpid()) + ".db");
  {
    auto storage = store::open_storage(storage_kind == "memory" ? ":memory:" : path.string());
    hpo::StudyRecord record;
    record.name = "bench";
    record.objective = "value";
    record.n_trials = trials;
    hpo::Study study(record, hpo::SearchSpace{{"x", hpo::FloatDim{0.0, 1.0}}},
                     hpo::make_sampler("random", 1), *storage);
    exec::mpi::MpiExecutor executor(transport, {.batch = batch});
    hpo::OptimizeOptions options;
    options.executor = &executor;
    const auto start = Clock::now();
    study.optimize([](hpo::Trial&) { return 0.0; }, options);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    double mine[2] = {0, 0}, total[2] = {0, 0};
    MPI_Reduce(mine, total, 2, MPI_DOUBLE, MPI_SUM, 0, mpi.comm());
    const auto& s = executor.stats();
    fmt::print(
        "ranks {} batch {:2} reports/trial {}: {:.0f} hand-outs/s ({} in {:.2f} s); manager busy "
        "{:.0f}% = {:.1f} µs per trial (capacity {:.0f} trials/s); {:.1f} messages per commit; "
        "report round trip {}\n",
        mpi.size(), batch, reports, static_cast<double>(s.handed_out) / seconds, s.handed_out,
        seconds, 100 * s.busy_seconds / seconds,
        s.busy_seconds / static_cast<double>(s.handed_out) * 1e6,
        static_cast<double>(s.handed_out) / s.busy_seconds,
        static_cast<double>(s.messages) / static_cast<double>(std::max<int64_t>(1, s.batches)),
        total[1] > 0 ? fmt::format("{:.1f} µs", total[0] / total[1] * 1e6) : std::string("-"));
  }
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::filesystem::remove(path.string() + suffix);
  }
  return 0;
}
