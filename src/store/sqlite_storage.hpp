// SqliteStorage: the Storage of real studies, one SQLite file (schema in sqlite_storage.cpp).
// WAL mode with synchronous=NORMAL: every Storage call is one transaction, committed before it
// returns, so a killed process loses nothing it was told was stored; readers (`krill show`) read
// while `krill tune` writes, and wait up to a few seconds (busy_timeout) rather than fail on a
// lock. One object may be used from several threads (a mutex serialises the calls); statements
// are prepared once per connection, so a trial's start + reports + finish costs tens of
// microseconds. The SQLite headers stay out of this file (pimpl).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "hpo/storage.hpp"
#include "store/sqlite_schema.hpp"

namespace krill::store {

namespace detail {
struct SqliteDb;  // the connection and its prepared statements (sqlite_storage.cpp)
}  // namespace detail

// The layout of the tables, stored in the `meta` table: the number of migrations
// (sqlite_schema.hpp). An older file is migrated when opened; a newer one is refused.
inline constexpr int kSchemaVersion = static_cast<int>(sqlite::kMigrations.size());

class SqliteStorage final : public hpo::Storage {
 public:
  // How a SqliteStorage opens its file: ReadWrite as a writer does; ReadOnly to read, without
  // the schema's creation, migration or the switch to WAL (a write fails); WhereReadOnly as
  // ReadOnly where this process may not write the file, its folder or its -shm or -wal file
  // (another user's study, a read-only mount), else as ReadWrite, but an empty file is refused, not
  // made a database (for `krill show`, `export`, `report`).
  enum class Open { ReadWrite, ReadOnly, WhereReadOnly };

  // Opens `path`, creating the file and the schema when it is missing or empty, and migrating
  // the file of an older krill. Throws DataError naming the file when its folder does not exist,
  // or it is not a SQLite database, or not a krill one, or one of a newer schema version, or this
  // process may not write it, its folder (where SQLite keeps a WAL database's -wal and -shm) or
  // its -wal or -shm file.
  //
  // Read-only, the file is read as a file nothing writes (no -shm file, no locks) when SQLite
  // cannot create the -shm file a WAL database needs and no -wal file is there (nothing not yet
  // in the database). Throws DataError as above, and when the file is missing or empty, of an
  // older schema (neither can be read without writing), or its -wal file cannot be read.
  explicit SqliteStorage(const std::filesystem::path& path, Open open = Open::ReadWrite);
  ~SqliteStorage() override;
  SqliteStorage(const SqliteStorage&) = delete;
  SqliteStorage& operator=(const SqliteStorage&) = delete;

  const std::filesystem::path& path() const { return path_; }

  std::optional<hpo::StudyRecord> find_study(const std::string& name) override;
  std::vector<hpo::StudyRecord> studies() override;
  // Throws InvalidArgument when the name is taken.
  int64_t create_study(const hpo::StudyRecord& study) override;
  void set_trial_budget(int64_t study_id, int64_t n_trials) override;
  void rename_study(int64_t study_id, const std::string& name) override;
  // One write transaction; the trials' rows go by ON DELETE CASCADE.
  void delete_study(int64_t study_id) override;

  // Throws InvalidArgument when the study is missing or the run id taken.
  void add_run(int64_t study_id, const hpo::RunRecord& run) override;
  bool heartbeat(const std::string& run_id, double now) override;
  void remove_run(const std::string& run_id) override;
  std::vector<hpo::RunRecord> runs(int64_t study_id) override;
  // One write transaction (BEGIN IMMEDIATE): two processes never take the same number.
  hpo::Claim claim_trial(int64_t study_id, const hpo::ClaimRequest& request) override;
  // Stores number, params, started, worker and owner, as Running. Throws InvalidArgument when the
  // study is missing or the number taken.
  void start_trial(int64_t study_id, const hpo::TrialRecord& trial) override;
  // A repeated step replaces the value stored for it.
  // Storage's forms without an owner, beside the overrides below.
  using hpo::Storage::add_decision;
  using hpo::Storage::add_report;
  void add_report(int64_t study_id, int64_t number, const hpo::Report& report,
                  const std::string& owner) override;
  void add_decision(int64_t study_id, int64_t number, const hpo::DecisionRecord& decision,
                    const std::string& owner) override;
  // Stores state, value, error, attrs (replacing earlier ones) and finished. A NaN value is
  // stored as no value (SQLite has no NaN); NaN reports, attrs and float params round-trip.
  void finish_trial(int64_t study_id, const hpo::TrialRecord& trial) override;

  // Loaded with one query per table for the whole study.
  std::vector<hpo::TrialRecord> trials(int64_t study_id) override;

  // One write transaction (BEGIN IMMEDIATE) for the batch; each call in it is a savepoint.
  // Batches nest: the outermost one commits.
  void begin_batch() override;
  void commit_batch() override;
  void end_batch() noexcept override;

 private:
  void end_rollback() noexcept;       // mutex_ held
  void migrate(std::string version);  // from `version` to kSchemaVersion (constructor only)
  void open_read_only();
  // LeaseLost when `owner` does not hold the trial; in the caller's transaction.
  void check_owner(int64_t study_id, int64_t number, const std::string& owner);

  std::filesystem::path path_;
  std::mutex mutex_;
  std::unique_ptr<detail::SqliteDb> impl_;
};

}  // namespace krill::store
