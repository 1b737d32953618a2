#include "store/sqlite_storage.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <thread>
#include <type_traits>
#include <variant>

#include "core/error.hpp"
#include "store/sqlite_db.hpp"
#include "store/sqlite_schema.hpp"
#include "store/trial_cursor.hpp"

namespace krill::store {

using hpo::Report;
using hpo::StudyRecord;
using hpo::TrialRecord;
using hpo::TrialState;
using sqlite::kSql;
using sqlite::Sql;
using enum sqlite::Sql;
using sqlite::Statement;
using sqlite::Use;

namespace {

constexpr int kBusyTimeoutMs = 5000;

// What a file holds, before krill uses it.
enum class Contents { Empty, Krill, Foreign };

Contents inspect(const sqlite::Connection& db, std::string& version) {
  // The first read of a file that is not SQLite fails here with SQLITE_NOTADB.
  Statement objects(db, "SELECT count(*) FROM sqlite_master", false);
  objects.step();
  if (objects.int64(0) == 0) return Contents::Empty;
  // Another program may have a `meta` table of its own, with other columns.
  Statement columns(
      db, "SELECT count(*) FROM pragma_table_info('meta') WHERE name IN ('key', 'value')", false);
  columns.step();
  if (columns.int64(0) != 2) return Contents::Foreign;
  Statement meta(db, "SELECT key, value FROM meta WHERE key IN ('program', 'schema_version')",
                 false);
  bool krill = false;
  version = "(none)";
  while (meta.step()) {
    if (meta.text(0) == "program") krill = meta.text(1) == "krill";
    if (meta.text(0) == "schema_version") version = meta.text(1);
  }
  return krill ? Contents::Krill : Contents::Foreign;
}

double real_or_nan(const Statement& s, int col) {
  return s.is_null(col) ? std::numeric_limits<double>::quiet_NaN() : s.real(col);
}

}  // namespace

namespace detail {

struct SqliteDb {
  sqlite::Connection db;
  int batch_depth = 0;                                      // begin_batch() calls not yet ended
  std::array<std::unique_ptr<Statement>, kSqlCount> cache;  // destroyed before db

  explicit SqliteDb(const std::string& file, sqlite::Open open = sqlite::Open::ReadWrite)
      : db(file, open) {}

  Statement& stmt(Sql id) {
    if (!cache[id]) cache[id] = std::make_unique<Statement>(db, kSql[id]);
    return *cache[id];
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw DataError(db.file() + ": " + what);
  }
  [[noreturn]] void invalid(const std::string& what) const {
    throw InvalidArgument(db.file() + ": " + what);
  }
};

}  // namespace detail

namespace {

// One Storage call: BEGIN (IMMEDIATE for writes, so a writer waits for the lock up front rather
// than failing to upgrade a read), COMMIT by commit(), ROLLBACK when left by an exception. In a
// batch (begin_batch), a SAVEPOINT instead: the call is undone alone when it fails, and committed
// with the batch.
class Transaction {
 public:
  // ROLLBACK is prepared before BEGIN, so that the destructor never has to prepare (or throw).
  Transaction(detail::SqliteDb& impl, bool write)
      : impl_(impl),
        nested_(impl.batch_depth > 0),
        rollback_(impl.stmt(nested_ ? kRollbackTo : kRollback)),
        release_(impl.stmt(kRelease)) {
    impl_.stmt(nested_ ? kSavepoint : write ? kBeginWrite : kBegin).run();
  }
  ~Transaction() {
    if (done_ || sqlite3_get_autocommit(impl_.db.get())) return;
    rollback_.step_code();  // errors ignored: SQLite may have rolled back already
    rollback_.reset();
    if (nested_) {  // ROLLBACK TO keeps the savepoint on the stack
      release_.step_code();
      release_.reset();
    }
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit() {
    impl_.stmt(nested_ ? kRelease : kCommit).run();
    done_ = true;
  }

 private:
  detail::SqliteDb& impl_;
  bool nested_;
  Statement& rollback_;
  Statement& release_;
  bool done_ = false;
};

std::string no_study(int64_t id) {
  return "no study with id " + std::to_string(id);
}
std::string trial_name(int64_t study_id, int64_t number) {
  return "trial " + std::to_string(number) + " of study with id " + std::to_string(study_id);
}

}  // namespace

namespace {

// Why this process may not write `file` (or create it) and create files in `folder` (SQLite's
// -wal, -shm and -journal files); nullopt when it may.
std::optional<std::string> why_not_writable(const std::filesystem::path& file,
                                            const std::filesystem::path& folder) {
  // The effective user's rights (faccessat's AT_EACCESS), as the kernel checks the writes.
  if (::faccessat(AT_FDCWD, folder.c_str(), W_OK, AT_EACCESS) != 0) {
    return "its folder " + folder.string() + " may not be written by this user (" +
           std::strerror(errno) + "), where SQLite writes a database's -wal and -shm files";
  }
  if (::faccessat(AT_FDCWD, file.c_str(), W_OK, AT_EACCESS) != 0 && errno != ENOENT) {
    return "it may not be written by this user (" + std::string(std::strerror(errno)) + ")";
  }
  // Every process that opens a WAL database writes its -shm file, and a writer its -wal file: one
  // left by another user (who read the database from a folder both may write) stops the writes.
  for (const std::string suffix : {"-shm", "-wal"}) {
    const std::string side = file.string() + suffix;
    if (::faccessat(AT_FDCWD, side.c_str(), W_OK, AT_EACCESS) != 0 && errno != ENOENT) {
      return "its " + suffix + " file " + side + " may not be written by this user (" +
             std::strerror(errno) + "), and SQLite's WAL writes it: " +
             (suffix == "-shm"
                  ? "remove it when no process has the database open (SQLite makes it again), "
                    "or have its owner make it writable"
                  : "have its owner make it writable (removing it would lose the changes it "
                    "holds)");
    }
  }
  return std::nullopt;
}

// The schema version written in a file's meta table, checked: DataError when it is not a version
// this krill reads.
int schema_version(const std::string& file, const std::string& text) {
  size_t used = 0;
  int v = -1;
  try {
    v = std::stoi(text, &used);
  } catch (const std::exception&) {
  }
  if (used != text.size() || v < 0 || v > kSchemaVersion) {
    throw DataError(file + ": krill database schema version " + text +
                    ", this krill reads version " + std::to_string(kSchemaVersion) + " and older");
  }
  return v;
}

}  // namespace

SqliteStorage::SqliteStorage(const std::filesystem::path& path, Open open) : path_(path) {
  const std::string file = path.string();
  const std::filesystem::path folder = path.has_parent_path() ? path.parent_path() : ".";
  std::error_code ec;
  if (!std::filesystem::is_directory(folder, ec)) {
    throw DataError(file + ": folder " + folder.string() + " does not exist");
  }
  if (std::filesystem::is_directory(path, ec)) {
    throw DataError(file + ": a folder, expected a study database file (e.g. " +
                    (path / "study.db").string() + ")");
  }
  const auto why_not = why_not_writable(path, folder);
  if (open == Open::ReadOnly || (open == Open::WhereReadOnly && why_not)) {
    open_read_only();
    return;
  }
  if (why_not) throw DataError(file + ": cannot be opened to write: " + *why_not);
  impl_ = std::make_unique<detail::SqliteDb>(file);
  sqlite::Connection& db = impl_->db;
  sqlite3_busy_timeout(db.get(), kBusyTimeoutMs);

  // Look before touching: another program's database is left exactly as it was.
  std::string version;
  db.exec("BEGIN");
  const Contents contents = inspect(db, version);
  db.exec("COMMIT");
  if (contents == Contents::Foreign) {
    throw DataError(file + ": not a krill study database (no krill meta table)");
  }
  if (contents == Contents::Empty && open == Open::WhereReadOnly) {  // a command that reads
    throw DataError(file + ": an empty file, no krill study database yet (krill tune makes one)");
  }
  migrate(contents == Contents::Empty ? "0" : version);
  // WAL is a property of the file (kept once set); the others are per connection. SQLite may
  // refuse the switch to WAL at once (SQLITE_BUSY) without waiting the busy timeout, when another
  // process holds a lock on the new file at that instant (one reading it, or opening it as well):
  // try again until the busy timeout has passed.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(kBusyTimeoutMs);
  for (;;) {
    const int rc = sqlite3_exec(db.get(), "PRAGMA journal_mode = WAL", nullptr, nullptr, nullptr);
    if (rc == SQLITE_OK) break;
    if ((rc & 0xff) != SQLITE_BUSY || std::chrono::steady_clock::now() >= give_up) {
      db.fail(rc, "PRAGMA journal_mode = WAL");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  db.exec("PRAGMA synchronous = NORMAL");
  db.exec("PRAGMA foreign_keys = ON");
}

// Read-only: the file as it is, or as a file nothing writes where SQLite can make no -shm file
// (the constructor's comment in sqlite_storage.hpp).
void SqliteStorage::open_read_only() {
  const std::string file = path_.string();
  const auto read = [&](sqlite::Open open, std::string& version) {
    impl_ = std::make_unique<detail::SqliteDb>(file, open);
    sqlite3_busy_timeout(impl_->db.get(), kBusyTimeoutMs);
    impl_->db.exec("BEGIN");
    const Contents contents = inspect(impl_->db, version);
    impl_->db.exec("COMMIT");
    return contents;
  };
  std::string version;
  Contents contents = Contents::Empty;
  try {
    contents = read(sqlite::Open::ReadOnly, version);
  } catch (const DataError&) {
    // A WAL database needs its -shm file, which SQLite cannot create in a folder it may not
    // write. Without a -wal file the database file holds every change: it is read as a file
    // nothing writes (no -shm, no locks).
    if (!impl_) throw;  // not opened at all (a file this user may not read): SQLite's reason
    const int code = sqlite3_errcode(impl_->db.get()) & 0xff;
    if (code != SQLITE_CANTOPEN && code != SQLITE_READONLY) throw;
    std::error_code ec;
    if (std::filesystem::exists(file + "-journal", ec)) {
      throw DataError(file + ": cannot be read here: " + file + "-journal holds a write that did " +
                      "not end (a krill that died creating the database); open it once as a " +
                      "user who may write it and its folder");
    }
    if (std::filesystem::exists(file + "-wal", ec)) {
      throw DataError(file + ": cannot be read here: its folder may not be written by this " +
                      "user, and its changes in " + file + "-wal need a " + file + "-shm file " +
                      "beside it (SQLite's WAL); read it as a user who may write the folder, " +
                      "or copy the database with its -wal file to a folder you may write");
    }
    contents = read(sqlite::Open::Immutable, version);
  }
  if (contents == Contents::Foreign) {
    throw DataError(file + ": not a krill study database (no krill meta table)");
  }
  if (contents == Contents::Empty) {
    throw DataError(file + ": an empty file, no krill study database yet (and it may not be " +
                    "written by this user, to make it one)");
  }
  if (schema_version(file, version) < kSchemaVersion) {
    throw DataError(file + ": krill database schema version " + version + ", older than this " +
                    "krill's " + std::to_string(kSchemaVersion) + ", and it may not be written " +
                    "by this user to upgrade it: open it once as a user who may write it and " +
                    "its folder (krill show does)");
  }
}

// Applies kMigrations[v], kMigrations[v + 1]... each in its own write transaction that also
// writes the new version; a process that finds the file already migrated by another (they wait
// for each other's BEGIN IMMEDIATE) skips what was done.
void SqliteStorage::migrate(std::string version) {
  const std::string file = path_.string();
  sqlite::Connection& db = impl_->db;
  auto parse = [&](const std::string& text) { return schema_version(file, text); };
  for (int v = parse(version); v < kSchemaVersion; v = parse(version)) {
    db.exec("BEGIN IMMEDIATE");
    try {
      std::string found;  // another process may have migrated the file meanwhile
      if (inspect(db, found) == Contents::Empty) found.assign(1, '0');
      version = found;
      if (parse(version) == v) {
        db.exec(sqlite::kMigrations[static_cast<size_t>(v)]);
        version = std::to_string(v + 1);
        Statement set(db, "UPDATE meta SET value = ?1 WHERE key = 'schema_version'", false);
        set.bind(1, version).run();
      }
      db.exec("COMMIT");
    } catch (...) {
      sqlite3_exec(db.get(), "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }
}

SqliteStorage::~SqliteStorage() = default;

namespace {

StudyRecord read_study(const detail::SqliteDb& impl, const Statement& s) {
  StudyRecord r;
  r.id = s.int64(0);
  r.name = s.text(1);
  try {
    r.direction = hpo::parse_direction(s.text(2));
  } catch (const Error& e) {
    impl.fail("study '" + r.name + "': " + e.what());
  }
  r.objective = s.text(3);
  r.space = s.text(4);
  r.sampler = s.text(5);
  r.config = s.text(6);
  r.n_trials = s.int64(7);
  r.created = s.real(8);
  return r;
}

}  // namespace

std::optional<StudyRecord> SqliteStorage::find_study(const std::string& name) {
  std::lock_guard lock(mutex_);
  Transaction tx(*impl_, false);
  std::optional<StudyRecord> found;
  {
    Use q(impl_->stmt(kFindStudy));
    q->bind(1, name);
    if (q->step()) found = read_study(*impl_, *q);
  }
  tx.commit();
  return found;
}

std::vector<StudyRecord> SqliteStorage::studies() {
  std::lock_guard lock(mutex_);
  Transaction tx(*impl_, false);
  std::vector<StudyRecord> out;
  {
    Use q(impl_->stmt(kListStudies));
    while (q->step()) out.push_back(read_study(*impl_, *q));
  }
  tx.commit();
  return out;
}

int64_t SqliteStorage::create_study(const StudyRecord& study) {
  std::lock_guard lock(mutex_);
  Transaction tx(*impl_, true);
  {
    Use q(impl_->stmt(kInsertStudy));
    q->bind(1, study.name)
        .bind(2, hpo::to_string(study.direction))
        .bind(3, study.objective)
        .bind(4, study.space)
        .bind(5, study.sampler)
        .bind(6, study.config)
        .bind(7, study.n_trials)
        .bind(8, study.created);
    const int rc = q->step_code();
    if (rc == SQLITE_CONSTRAINT_UNIQUE) impl_->invalid("study '" + study.name + "' already exists");
    if (rc != SQLITE_DONE) q->fail(rc);
  }
  const int64_t id = sqlite3_last_insert_rowid(impl_->db.get());
  tx.commit();
  return id;
}

void SqliteStorage::set_trial_budget(int64_t study_id, int64_t n_trials) {
  std::lock_guard lock(mutex_);
  Transaction tx(*impl_, true);
  impl_->stmt(kSetBudget).bind(1, study_id).bind(2, n_trials).run();
  if (impl_->db.changes() == 0) impl_->invalid(no_study(study_id));
  tx.commit();
}

void SqliteStorage::rename_study(int64_t study_id, const std::string& name) {
  std::lock_guard lock(mutex_);
  Transaction tx(*impl_, true);
  {
    Use q(impl_->stmt(kRenameStudy));
    q->bind(1, study_id).bind(2, name);
    const int rc = q->step_code();
    if (rc == SQLITE_CONSTRAINT_UNIQUE) impl_->invalid("study '" + name + "' already exists");
    if (rc != SQLITE_DONE) q->fail(rc);
  }
  if (impl_->db.changes() == 0) impl_->invalid(no_study(study_id));
  tx.commit();
}

void SqliteStorage::delete_study(int64_t study_id) {
  std::lock_guard lock(mutex_);
  Transaction tx(*impl_, true);
  impl_->stmt(kDeleteStudyTrials).bind(1, study_id).run();
  impl_->stmt(kDeleteStudyRuns).bind(1, study_id).run();
  impl_->stmt(kDeleteStudy).bind(1, study_id).run();
  if (impl_->db.changes() == 0) impl_->invalid(no_study(study_id));
  tx.commit();
}

namespace {

// Binds a parameter's kind ("float", "int", "string") at `col` and its value at `col` + 1.
void bind_param(Statement& q, int col, const hpo::ParamValue& value) {
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        const char* kind = std::is_same_v<T, double>    ? "float"
                           : std::is_same_v<T, int64_t> ? "int"
                                                        : "string";
        q.bind(col, kind).bind(col + 1, v);
      },
      value);
}

// Inserts a Running trial and its parameters; the caller holds the write transaction.
void insert_trial(detail::SqliteDb& impl, int64_t study_id, const TrialRecord& trial) {
  {
    Use q(impl.stmt(kInsertTrial));
    q->bind(1, study_id)
        .bind(2, trial.number)
        .bind(3, hpo::to_string(TrialState::Running))
        .bind(4, trial.started)
        .bind(5, trial.worker)
        .bind(6, trial.owner)
        .bind(7, trial.requeues);
    const int rc = q->step_code();
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
      impl.invalid(trial_name(study_id, trial.number) + " already exists");
    }
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) impl.invalid(no_study(study_id));
    if (rc != SQLITE_DONE) q->fail(rc);
  }
  Statement& insert = impl.stmt(kInsertParam);
  for (const auto& [name, value] : trial.params) {
    insert.bind(1, study_id).bind(2, trial.number).bind(3, name);
    bind_param(insert, 4, value);
    insert.run();
  }
}

// Reads a parameter row (name, kind, value at `col`, `col` + 1, `col` + 2) into `params`.
void read_param(const detail::SqliteDb& impl, const Statement& q, int col, int64_t study_id,
                int64_t number, hpo::Params& params) {
  std::string name = q.text(col);
  const std::string kind = q.text(col + 1);
  if (kind == "float") {
    params.emplace(std::move(name), real_or_nan(q, col + 2));
  } else if (kind == "int") {
    params.emplace(std::move(name), q.int64(col + 2));
  } else if (kind == "string") {
    params.emplace(std::move(name), q.text(col + 2));
  } else {
    impl.fail(trial_name(study_id, number) + ": parameter '" + name + "' of unknown kind '" + kind +
              "'");
  }
}

hpo::RunRecord read_run(const Statement& q) {
  hpo::RunRecord r;
  r.id = q.text(0);
  r.host = q.text(1);
  r.pid = q.int64(2);
  r.pid_start = q.int64(3);
  r.started = q.real(4);
  r.heartbeat = q.real(5);
  return r;
}

}  // namespace

void SqliteStorage::add_run(int64_t study_id, const hpo::RunRecord& run) {
  std::lock_guard lock(mutex_);
  Transaction tx(*impl_, true);
  {
    Use q(impl_->stmt(kInsertRun));
    q->bind(1, run.id)
        .bind(2, study_id)
        .bind(3, run.host)
        .bind(4, run.pid)
        .bind(5, run.pid_start)
        .bind(6, run.started)
        .bind(7, run.heartbeat);
    const int rc = q->step_code();
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) impl_->invalid("run " + run.id + " already exists");
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) impl_->invalid(no_study(study_id));
    if (rc != SQLITE_DONE) q->fail(rc);
  }
  tx.commit();
}

bool SqliteStorage::heartbeat(const std::string& run_id, double now) {
  std::lock_guard lock(mutex_);
  Transaction tx(*impl_, true);
  impl_->stmt(kHeartbeat).bind(1, run_id).bind(2, now).run();
  const bool found = impl_->db.changes() > 0;
  tx.commit();
  return found;
}

void SqliteStorage::remove_run(const std::string& run_id) {
  std::lock_guard lock(mutex_);
  Transaction tx(*impl_, true);
  impl_->stmt(kDeleteRun).bind(1, run_id).run();
  tx.commit();
}

std::vector<hpo::RunRecord> SqliteStorage::runs(int64_t study_id) {
  std::lock_guard lock(mutex_);
  Transaction tx(*impl_, false);
  std::vector<hpo::RunRecord> out;
  {
    Use q(impl_->stmt(kSelectRuns));
    q->bind(1, study_id);
    while (q->step()) out.push_back(read_run(*q));
  }
  tx.commit();
  return out;
}

hpo::Claim SqliteStorage::claim_trial(int64_t study_id, const hpo::ClaimRequest& request) {
  std::lock_guard lock(mutex_);
  Transaction tx(*impl_, true);
  hpo::Claim claim;
  {  // Runs that are gone lose their leases.
    std::vector<hpo::RunRecord> runs;
    {
      Use q(impl_->stmt(kSelectRuns));
      q->bind(1, study_id);
      while (q->step()) runs.push_back(read_run(*q));
    }
    for (hpo::RunRecord& run : runs) {
      if (run.id == request.owner || !request.gone || !request.gone(run)) continue;
      impl_->stmt(kDeleteRun).bind(1, run.id).run();
      claim.gone.push_back(std::move(run));
    }
  }
  TrialRecord t;
  t.owner = request.owner;
  t.worker = request.worker;
  t.started = request.started;
  bool found = false;
  {
    Use q(impl_->stmt(kSelectOrphan));
    q->bind(1, study_id);
    if (q->step()) {
      found = true;
      t.number = q->int64(0);
      t.requeues = q->int64(1) + 1;
    }
  }
  // Re-queued with its stored parameters; its curve and decisions start afresh, or are kept
  // (keep_history).
  if (found) {
    {
      Use q(impl_->stmt(kSelectTrialParams));
      q->bind(1, study_id).bind(2, t.number);
      while (q->step()) read_param(*impl_, *q, 0, study_id, t.number, t.params);
    }
    if (request.keep_history) {
      impl_->stmt(kRequeueTrial)
          .bind(1, study_id)
          .bind(2, t.number)
          .bind(3, t.owner)
          .bind(4, t.worker)
          .bind(5, t.started)
          .bind(6, t.requeues)
          .run();
    } else {
      impl_->stmt(kDeleteTrial).bind(1, study_id).bind(2, t.number).run();
      insert_trial(*impl_, study_id, t);
    }
    claim.requeued = true;
    claim.trial = std::move(t);
  }
  int64_t total = 0, running = 0, next = 0;
  auto count = [&] {
    Use q(impl_->stmt(kCountTrials));
    q->bind(1, study_id);
    if (!q->step()) impl_->invalid(no_study(study_id));
    total = q->int64(0);
    running = q->int64(1);
    next = q->int64(2);
  };
  count();
  if (!claim.trial && total < request.budget) {
    std::optional<hpo::Params> params = request.propose ? request.propose(next) : std::nullopt;
    if (params) {
      t.number = next;
      t.params = std::move(*params);
      insert_trial(*impl_, study_id, t);
      claim.trial = std::move(t);
      ++total;
      ++running;
    } else {
      claim.exhausted = true;
    }
  }
  claim.finished = total - running;
  claim.running = running;
  tx.commit();
  return claim;
}

void SqliteStorage::start_trial(int64_t study_id, const TrialRecord& trial) {
  std::lock_guard lock(mutex_);
  Transaction tx(*impl_, true);
  insert_trial(*impl_, study_id, trial);
  tx.commit();
}

// Throws LeaseLost when the trial is owned by another run than `owner` (not empty), and
// InvalidArgument when there is no such trial; in the caller's transaction.
void SqliteStorage::check_owner(int64_t study_id, int64_t number, const std::string& owner) {
  Use q(impl_->stmt(kSelectOwner));
  q->bind(1, study_id).bind(2, number);
  if (!q->step()) impl_->invalid("no " + trial_name(study_id, number));
  if (q->text(0) == owner) return;
  throw hpo::LeaseLost(impl_->db.file() + ": " + trial_name(study_id, number) +
                       " was re-queued to run " + q->text(0) + " (this run, " + owner +
                       ", was taken for gone)");
}

void SqliteStorage::add_report(int64_t study_id, int64_t number, const Report& report,
                               const std::string& owner) {
  std::lock_guard lock(mutex_);
  Transaction tx(*impl_, true);
  if (!owner.empty()) check_owner(study_id, number, owner);
  {
    Use q(impl_->stmt(kUpsertReport));
    q->bind(1, study_id).bind(2, number).bind(3, report.step).bind(4, report.value);
    const int rc = q->step_code();
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) impl_->invalid("no " + trial_name(study_id, number));
    if (rc != SQLITE_DONE) q->fail(rc);
  }
  for (const auto& [name, value] : report.metrics) {
    Use q(impl_->stmt(kUpsertMetric));
    q->bind(1, study_id).bind(2, number).bind(3, report.step).bind(4, name).bind(5, value);
    q->run();
  }
  tx.commit();
}

void SqliteStorage::add_decision(int64_t study_id, int64_t number,
                                 const hpo::DecisionRecord& decision, const std::string& owner) {
  std::lock_guard lock(mutex_);
  Transaction tx(*impl_, true);
  if (!owner.empty()) check_owner(study_id, number, owner);
  const bool exploit = decision.action == hpo::Action::Exploit;
  {
    Use q(impl_->stmt(kUpsertDecision));
    q->bind(1, study_id).bind(2, number).bind(3, decision.step);
    q->bind(4, hpo::to_string(decision.action));
    q->bind(5, std::string_view(decision.reason)).bind(6, decision.prediction);
    if (exploit) {
      q->bind(7, decision.donor).bind(8, decision.donor_step);
    } else {
      q->bind(7, std::nullopt).bind(8, std::nullopt);
    }
    const int rc = q->step_code();
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) impl_->invalid("no " + trial_name(study_id, number));
    if (rc != SQLITE_DONE) q->fail(rc);
  }
  impl_->stmt(kDeleteDecisionParams).bind(1, study_id).bind(2, number).bind(3, decision.step).run();
  if (exploit) {
    Statement& insert = impl_->stmt(kInsertDecisionParam);
    for (const auto& [name, value] : decision.params) {
      insert.bind(1, study_id).bind(2, number).bind(3, decision.step).bind(4, name);
      bind_param(insert, 5, value);
      insert.run();
    }
  }
  tx.commit();
}

void SqliteStorage::finish_trial(int64_t study_id, const TrialRecord& trial) {
  std::lock_guard lock(mutex_);
  Transaction tx(*impl_, true);
  impl_->stmt(kFinishTrial)
      .bind(1, study_id)
      .bind(2, trial.number)
      .bind(3, hpo::to_string(trial.state))
      .bind(4, trial.value)  // NaN binds as NULL: no value
      .bind(5, trial.error)
      .bind(6, trial.finished)
      .bind(7, trial.owner)
      .run();
  if (impl_->db.changes() == 0) check_owner(study_id, trial.number, trial.owner);
  impl_->stmt(kDeleteAttrs).bind(1, study_id).bind(2, trial.number).run();
  Statement& insert = impl_->stmt(kInsertAttr);
  for (const auto& [key, value] : trial.attrs) {
    insert.bind(1, study_id).bind(2, trial.number).bind(3, key).bind(4, value).run();
  }
  tx.commit();
}

std::vector<TrialRecord> SqliteStorage::trials(int64_t study_id) {
  std::lock_guard lock(mutex_);
  Transaction tx(*impl_, false);  // one snapshot for the four queries
  std::vector<TrialRecord> out;
  {
    Use q(impl_->stmt(kSelectTrials));
    q->bind(1, study_id);
    while (q->step()) {
      TrialRecord& t = out.emplace_back();
      t.number = q->int64(0);
      try {
        t.state = hpo::parse_trial_state(q->text(1));
      } catch (const Error& e) {
        impl_->fail(trial_name(study_id, t.number) + ": " + e.what());
      }
      if (!q->is_null(2)) t.value = q->real(2);
      t.error = q->text(3);
      t.started = q->real(4);
      t.finished = q->real(5);
      t.worker = static_cast<int>(q->int64(6));
      t.owner = q->text(7);
      t.requeues = q->int64(8);
    }
  }
  if (!out.empty()) {
    Use q(impl_->stmt(kSelectParams));
    q->bind(1, study_id);
    TrialCursor cursor(out);
    while (q->step()) {
      if (TrialRecord* t = cursor.find(q->int64(0))) {
        read_param(*impl_, *q, 1, study_id, t->number, t->params);
      }
    }
  }
  if (!out.empty()) {
    Use q(impl_->stmt(kSelectAttrs));
    q->bind(1, study_id);
    TrialCursor cursor(out);
    while (q->step()) {
      if (TrialRecord* t = cursor.find(q->int64(0))) t->attrs[q->text(1)] = real_or_nan(*q, 2);
    }
  }
  if (!out.empty()) {
    Use q(impl_->stmt(kSelectReports));
    q->bind(1, study_id);
    TrialCursor cursor(out);
    while (q->step()) {
      if (TrialRecord* t = cursor.find(q->int64(0))) {
        t->reports.push_back({q->int64(1), real_or_nan(*q, 2), {}});
      }
    }
  }
  if (!out.empty()) {
    Use q(impl_->stmt(kSelectDecisions));
    q->bind(1, study_id);
    TrialCursor cursor(out);
    while (q->step()) {
      if (TrialRecord* t = cursor.find(q->int64(0))) {
        hpo::DecisionRecord d;
        d.step = q->int64(1);
        try {
          d.action = hpo::parse_action(q->text(2));
        } catch (const Error& e) {
          impl_->fail(trial_name(study_id, t->number) + ": " + e.what());
        }
        d.reason = q->text(3);
        const double p = real_or_nan(*q, 4);
        if (!std::isnan(p)) d.prediction = p;
        if (!q->is_null(5)) d.donor = q->int64(5);
        if (!q->is_null(6)) d.donor_step = q->int64(6);
        t->decisions.push_back(std::move(d));
      }
    }
  }
  if (!out.empty()) {
    Use q(impl_->stmt(kSelectDecisionParams));
    q->bind(1, study_id);
    TrialCursor cursor(out);
    while (q->step()) {
      TrialRecord* t = cursor.find(q->int64(0));
      if (!t) continue;
      const int64_t step = q->int64(1);
      auto it =
          std::lower_bound(t->decisions.begin(), t->decisions.end(), step,
                           [](const hpo::DecisionRecord& d, int64_t s) { return d.step < s; });
      if (it != t->decisions.end() && it->step == step) {
        read_param(*impl_, *q, 2, study_id, t->number, it->params);
      }
    }
  }
  if (!out.empty()) {
    Use q(impl_->stmt(kSelectMetrics));
    q->bind(1, study_id);
    TrialCursor cursor(out);
    while (q->step()) {
      TrialRecord* t = cursor.find(q->int64(0));
      if (!t) continue;
      const int64_t step = q->int64(1);
      auto it = std::lower_bound(t->reports.begin(), t->reports.end(), step,
                                 [](const Report& r, int64_t s) { return r.step < s; });
      if (it != t->reports.end() && it->step == step) it->metrics[q->text(2)] = real_or_nan(*q, 3);
    }
  }
  tx.commit();
  return out;
}

void SqliteStorage::begin_batch() {
  std::lock_guard lock(mutex_);
  if (impl_->batch_depth == 0) impl_->stmt(kBeginWrite).run();
  ++impl_->batch_depth;
}

void SqliteStorage::commit_batch() {
  std::lock_guard lock(mutex_);
  if (impl_->batch_depth == 0) throw InvalidArgument(path_.string() + ": commit without a batch");
  if (--impl_->batch_depth > 0) return;
  if (sqlite3_get_autocommit(impl_->db.get())) {  // SQLite rolled the batch back (a full disk)
    impl_->fail("a batch of changes was rolled back by SQLite");
  }
  try {
    impl_->stmt(kCommit).run();
  } catch (...) {
    end_rollback();
    throw;
  }
}

void SqliteStorage::end_batch() noexcept {
  std::lock_guard lock(mutex_);
  if (impl_->batch_depth == 0) return;
  if (--impl_->batch_depth == 0) end_rollback();
}

void SqliteStorage::end_rollback() noexcept {
  if (sqlite3_get_autocommit(impl_->db.get())) return;
  try {
    Statement& rollback = impl_->stmt(kRollback);
    rollback.step_code();
    rollback.reset();
  } catch (...) {  // nothing more can be done: the connection closes with the transaction open
  }
}

}  // namespace krill::store
