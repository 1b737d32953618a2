// PostgresStorage: a study on a PostgreSQL server, for many processes on many hosts without MPI
// (a Slurm job array, a few workstations), through libpq. The same contract as SqliteStorage
// (hpo/storage.hpp): every call is one transaction, committed before it returns; claims are
// serialised per study (an advisory lock held by the claim's transaction), so processes on
// different hosts take distinct numbers within one budget and re-queue the trials of runs that
// are gone. The schema is a list of migrations of its own (postgres_schema.hpp), in the tables of
// the URL's database (the connection's search_path, `public` by default).
//
// A lost connection (a server restart, a network cut) is taken up again: the call reconnects,
// waiting up to `reconnect_seconds`, and runs again from its start, unless the connection went
// while its COMMIT was under way and the call is not safe to repeat (a claim, a new study or run):
// then it throws DataError, and the caller fails its trial. The libpq headers stay out of this
// file (pimpl). Credentials never leave it: errors name the URL with its password masked
// (hpo::display_location), and a password may come from PGPASSFILE / ~/.pgpass as libpq reads it.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "hpo/storage.hpp"

namespace krill::store {

namespace detail {
struct PgDb;  // the connection, its prepared statements and batch depth (postgres_storage.cpp)
}  // namespace detail

struct PostgresOptions {
  double reconnect_seconds = 60;  // how long a call waits for a lost server to come back
  double connect_timeout = 10;    // seconds, for each attempt to connect
};

class PostgresStorage final : public hpo::Storage {
 public:
  // Connects to `url` (postgresql://user[:password]@host[:port]/dbname[?key=value...], any
  // libpq connection URI), creating the schema in an empty database and migrating one of an
  // older krill. Throws DataError, one line naming the URL (password masked), when the server
  // cannot be reached or refuses the login, or the database is another program's (tables but no
  // krill meta table) or of a newer schema version.
  explicit PostgresStorage(const std::string& url, PostgresOptions options = {});
  ~PostgresStorage() override;
  PostgresStorage(const PostgresStorage&) = delete;
  PostgresStorage& operator=(const PostgresStorage&) = delete;

  // The URL with its password masked: what errors and logs show.
  const std::string& location() const { return location_; }

  std::optional<hpo::StudyRecord> find_study(const std::string& name) override;
  std::vector<hpo::StudyRecord> studies() override;
  int64_t create_study(const hpo::StudyRecord& study) override;
  void set_trial_budget(int64_t study_id, int64_t n_trials) override;
  void rename_study(int64_t study_id, const std::string& name) override;
  void delete_study(int64_t study_id) override;

  void add_run(int64_t study_id, const hpo::RunRecord& run) override;
  bool heartbeat(const std::string& run_id, double now) override;
  void remove_run(const std::string& run_id) override;
  std::vector<hpo::RunRecord> runs(int64_t study_id) override;
  // One transaction holding the study's claim lock: claims of every process take turns.
  hpo::Claim claim_trial(int64_t study_id, const hpo::ClaimRequest& request) override;
  void start_trial(int64_t study_id, const hpo::TrialRecord& trial) override;
  // Storage's forms without an owner, beside the overrides below.
  using hpo::Storage::add_decision;
  using hpo::Storage::add_report;
  void add_report(int64_t study_id, int64_t number, const hpo::Report& report,
                  const std::string& owner) override;
  void add_decision(int64_t study_id, int64_t number, const hpo::DecisionRecord& decision,
                    const std::string& owner) override;
  // A NaN value is stored as no value, as SQLite does; NaN reports, attrs and params round-trip.
  void finish_trial(int64_t study_id, const hpo::TrialRecord& trial) override;
  std::vector<hpo::TrialRecord> trials(int64_t study_id) override;

  // One transaction for the batch; each call in it is a savepoint. Batches nest. A connection
  // lost inside a batch fails the batch (nothing of it is stored).
  void begin_batch() override;
  void commit_batch() override;
  void end_batch() noexcept override;

 private:
  [[noreturn]] void refuse_unowned(int64_t study_id, int64_t number, const std::string& owner);
  void migrate();

  std::string location_;
  std::mutex mutex_;
  std::unique_ptr<detail::PgDb> impl_;
};

}  // namespace krill::store
