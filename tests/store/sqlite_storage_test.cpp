// What only the SQLite storage promises: the file persists, a second connection reads while the
// first writes (WAL), the schema is what DESIGN.md says, and a file that is not a krill database
// of this version is refused with a message naming it.
#include "store/sqlite_storage.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "store/memory_storage.hpp"
#include "store/open.hpp"
#include "store/sqlite_db.hpp"
#include "store_test_util.hpp"

namespace krill::store {
namespace {

using hpo::TrialRecord;
using hpo::TrialState;
using testing::expect_same_study;
using testing::expect_same_trial;
using ::testing::HasSubstr;
using testing::sample_study;
using testing::sample_trial;
using testing::TempDb;

// Runs SQL on the file with the plain C API, as another program would; returns the first
// column of the first row ("" when none).
std::string raw_sql(const std::filesystem::path& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  std::string first;
  auto keep_first = [](void* out, int n, char** values, char**) {
    auto* s = static_cast<std::string*>(out);
    if (s->empty() && n > 0 && values[0]) *s = values[0];
    return 0;
  };
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), keep_first, &first, &error), SQLITE_OK)
      << (error ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
  return first;
}

// The message of the DataError that opening `path` throws ("" and a failure when none).
std::string open_error(const std::filesystem::path& path) {
  try {
    SqliteStorage storage(path);
  } catch (const DataError& e) {
    return e.what();
  }
  ADD_FAILURE() << "opening " << path << " did not throw";
  return "";
}

TrialRecord finished_trial(int64_t number) {
  TrialRecord t = sample_trial(number);
  t.reports = {{10, 0.5}, {20, 0.25}};
  t.state = TrialState::Completed;
  t.value = 0.75 + static_cast<double>(number);
  t.attrs = {{"test_accuracy", 0.8}};
  t.finished = t.started + 60;
  return t;
}

void store(hpo::Storage& storage, int64_t study, const TrialRecord& t) {
  storage.start_trial(study, t);
  for (const hpo::Report& r : t.reports) storage.add_report(study, t.number, r);
  storage.finish_trial(study, t);
}

TEST(SqliteStorage, PersistsAcrossReopening) {
  TempDb db;
  hpo::StudyRecord study = sample_study("s");
  {
    SqliteStorage storage(db.path());
    study.id = storage.create_study(study);
    for (int64_t n = 0; n < 3; ++n) store(storage, study.id, finished_trial(n));
    storage.start_trial(study.id, sample_trial(3));  // still running when the process ends
  }
  SqliteStorage storage(db.path());
  ASSERT_EQ(storage.studies().size(), 1u);
  expect_same_study(*storage.find_study("s"), study);
  auto trials = storage.trials(study.id);
  ASSERT_EQ(trials.size(), 4u);
  for (int64_t n = 0; n < 3; ++n) expect_same_trial(trials[n], finished_trial(n));
  expect_same_trial(trials[3], sample_trial(3));
  // The trial left running has no live owner: the next run takes it back, parameters and all.
  storage.add_run(study.id, testing::sample_run("next"));
  auto claim = storage.claim_trial(study.id, testing::claim_request("next", 10));
  ASSERT_TRUE(claim.trial);
  EXPECT_TRUE(claim.requeued);
  EXPECT_EQ(claim.trial->number, 3);
  EXPECT_EQ(claim.trial->params, sample_trial(3).params);
}

// Group commit (Storage::begin_batch, used by the MPI manager): the calls of a batch reach the
// file together when it commits, each call is still all-or-nothing, and a batch left without
// commit leaves nothing.
TEST(SqliteStorage, ABatchCommitsItsCallsTogether) {
  TempDb db;
  SqliteStorage writer(db.path());
  const int64_t id = writer.create_study(sample_study("s"));
  SqliteStorage reader(db.path());
  {
    hpo::StorageBatch batch(writer);
    store(writer, id, finished_trial(0));
    store(writer, id, finished_trial(1));
    EXPECT_EQ(writer.trials(id).size(), 2u);  // the batch sees its own calls
    EXPECT_TRUE(reader.trials(id).empty());   // others see none before the commit
    batch.commit();
  }
  auto trials = reader.trials(id);
  ASSERT_EQ(trials.size(), 2u);
  expect_same_trial(trials[1], finished_trial(1));
}

TEST(SqliteStorage, AFailedCallInABatchIsUndoneAlone) {
  TempDb db;
  SqliteStorage storage(db.path());
  const int64_t id = storage.create_study(sample_study("s"));
  {
    hpo::StorageBatch batch(storage);
    storage.start_trial(id, sample_trial(0));
    TrialRecord clash = sample_trial(0);  // the number is taken: refused, nothing of it stored
    clash.params["extra"] = int64_t{1};
    EXPECT_THROW(storage.start_trial(id, clash), InvalidArgument);
    store(storage, id, finished_trial(1));
    batch.commit();
  }
  SqliteStorage other(db.path());
  auto trials = other.trials(id);
  ASSERT_EQ(trials.size(), 2u);
  expect_same_trial(trials[0], sample_trial(0));
  expect_same_trial(trials[1], finished_trial(1));
}

TEST(SqliteStorage, ABatchLeftWithoutCommitLeavesNothing) {
  TempDb db;
  SqliteStorage storage(db.path());
  const int64_t id = storage.create_study(sample_study("s"));
  try {
    hpo::StorageBatch batch(storage);
    store(storage, id, finished_trial(0));
    throw std::runtime_error("the manager failed before its answers were sent");
  } catch (const std::runtime_error&) {
  }
  EXPECT_TRUE(storage.trials(id).empty());
  store(storage, id, finished_trial(1));  // the connection works on, one call per transaction
  EXPECT_EQ(SqliteStorage(db.path()).trials(id).size(), 1u);
}

TEST(SqliteStorage, HasTheVersionedSchemaInWalMode) {
  TempDb db;
  SqliteStorage storage(db.path());
  EXPECT_EQ(raw_sql(db.path(), "SELECT value FROM meta WHERE key = 'program'"), "krill");
  EXPECT_EQ(raw_sql(db.path(), "SELECT value FROM meta WHERE key = 'schema_version'"),
            std::to_string(sqlite::kMigrations.size()));
  EXPECT_EQ(raw_sql(db.path(), "PRAGMA journal_mode"), "wal");
  for (const char* table :
       {"studies", "trials", "params", "attrs", "reports", "report_metrics", "decisions", "runs"}) {
    EXPECT_EQ(raw_sql(db.path(), std::string("SELECT count(*) FROM sqlite_master WHERE "
                                             "type = 'table' AND name = '") +
                                     table + "'"),
              "1")
        << table;
  }
}

TEST(SqliteStorage, StoresParamsInTheirOwnStorageClass) {
  TempDb db;
  SqliteStorage storage(db.path());
  const int64_t id = storage.create_study(sample_study("s"));
  TrialRecord t = sample_trial(0);
  t.params = {{"f", 2.0}, {"i", int64_t{2}}, {"s", std::string("2")}};
  storage.start_trial(id, t);
  auto type_of = [&](const char* name) {
    return raw_sql(db.path(), std::string("SELECT kind || ' ' || typeof(value) FROM params "
                                          "WHERE name = '") +
                                  name + "'");
  };
  EXPECT_EQ(type_of("f"), "float real");
  EXPECT_EQ(type_of("i"), "int integer");
  EXPECT_EQ(type_of("s"), "string text");
}

TEST(SqliteStorage, SecondConnectionReadsWhileFirstWrites) {
  TempDb db;
  SqliteStorage writer(db.path());
  const int64_t id = writer.create_study(sample_study("s"));
  constexpr int kTrials = 200;
  std::atomic<bool> done{false};
  std::thread writing([&] {
    for (int n = 0; n < kTrials; ++n) store(writer, id, finished_trial(n));
    done = true;
  });
  // `krill show` while `krill tune` writes: opening and reading never fail on a lock.
  auto reader = std::make_unique<SqliteStorage>(db.path());
  size_t last = 0;
  int reads = 0;
  bool whole = true;
  while ((!done || last < kTrials) && whole) {
    if (++reads % 20 == 0) reader = std::make_unique<SqliteStorage>(db.path());
    auto trials = reader->trials(id);
    EXPECT_GE(trials.size(), last);
    for (const TrialRecord& t : trials) {
      // A trial is seen whole or not at all: every Storage call is one transaction.
      whole = whole && (t.state == TrialState::Running || t.attrs.size() == 1);
    }
    last = trials.size();
  }
  writing.join();
  EXPECT_TRUE(whole);
  EXPECT_EQ(last, static_cast<size_t>(kTrials));
  EXPECT_GT(reads, 1);
}

// A process killed with SIGKILL loses nothing that a Storage call had returned from.
TEST(SqliteStorage, KeepsWhatWasStoredWhenTheProcessIsKilled) {
  TempDb db;
  int64_t id = 0;
  {
    SqliteStorage storage(db.path());
    id = storage.create_study(sample_study("s"));
  }
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // stores trials until killed, telling the parent each one it has stored
    ::close(pipe_fds[0]);
    try {
      SqliteStorage storage(db.path());
      for (int64_t n = 0;; ++n) {
        store(storage, id, finished_trial(n));
        storage.start_trial(id, sample_trial(n + 1'000'000));  // left running
        if (::write(pipe_fds[1], &n, sizeof n) != sizeof n) ::_exit(1);
      }
    } catch (...) {
      ::_exit(1);
    }
  }
  ::close(pipe_fds[1]);
  int64_t acknowledged = -1, n = 0;
  while (acknowledged < 30 && ::read(pipe_fds[0], &n, sizeof n) == sizeof n) acknowledged = n;
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  while (::read(pipe_fds[0], &n, sizeof n) == sizeof n) acknowledged = n;
  ::close(pipe_fds[0]);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the writer ended by itself";
  ASSERT_GE(acknowledged, 30);

  SqliteStorage storage(db.path());
  std::map<int64_t, TrialRecord> stored;
  for (TrialRecord& t : storage.trials(id)) stored[t.number] = std::move(t);
  for (int64_t k = 0; k <= acknowledged; ++k) {
    ASSERT_TRUE(stored.contains(k)) << k;
    expect_same_trial(stored[k], finished_trial(k));
    ASSERT_TRUE(stored.contains(k + 1'000'000)) << k;
  }
  size_t interrupted = 0;
  for (const auto& [number, t] : stored) interrupted += t.state == TrialState::Running;
  EXPECT_GE(interrupted, static_cast<size_t>(acknowledged + 1));
}

TEST(SqliteStorage, WritersOnTwoConnectionsWaitForEachOther) {
  TempDb db;
  SqliteStorage first(db.path());
  SqliteStorage second(db.path());
  const int64_t id = first.create_study(sample_study("s"));
  std::thread a([&] {
    for (int n = 0; n < 100; n += 2) store(first, id, finished_trial(n));
  });
  std::thread b([&] {
    for (int n = 1; n < 100; n += 2) store(second, id, finished_trial(n));
  });
  a.join();
  b.join();
  EXPECT_EQ(first.trials(id).size(), 100u);
}

TEST(SqliteStorage, EmptyFileGetsTheSchema) {
  TempDb db;
  std::ofstream(db.path()).close();
  SqliteStorage storage(db.path());
  EXPECT_TRUE(storage.studies().empty());
  EXPECT_EQ(raw_sql(db.path(), "SELECT value FROM meta WHERE key = 'program'"), "krill");
}

TEST(SqliteStorage, RefusesAnotherSchemaVersion) {
  TempDb db;
  { SqliteStorage storage(db.path()); }
  raw_sql(db.path(), "UPDATE meta SET value = '7' WHERE key = 'schema_version'");
  EXPECT_EQ(open_error(db.path()), db.path().string() +
                                       ": krill database schema version 7, this krill reads "
                                       "version 4 and older");
  raw_sql(db.path(), "UPDATE meta SET value = 'two' WHERE key = 'schema_version'");
  EXPECT_THAT(open_error(db.path()), HasSubstr("schema version two, this krill reads"));
}

// A database as an older krill left it: the first `version` migrations, nothing else.
void make_database_of_version(const std::filesystem::path& path, size_t version) {
  for (size_t v = 0; v < version; ++v) raw_sql(path, sqlite::kMigrations[v]);
  raw_sql(path,
          "UPDATE meta SET value = '" + std::to_string(version) + "' WHERE key = 'schema_version'");
}

TEST(SqliteStorage, MigratesAVersion1Database) {
  TempDb db;
  make_database_of_version(db.path(), 1);
  raw_sql(db.path(),
          "INSERT INTO studies VALUES (1, 'old', 'maximize', 'val_accuracy', 'space', 'random', "
          "'cfg', 5, 1.5);"
          "INSERT INTO trials VALUES (1, 0, 'completed', 0.75, '', 10.0, 20.0, 0);"
          "INSERT INTO reports VALUES (1, 0, 10, 0.5);");
  SqliteStorage storage(db.path());
  EXPECT_EQ(raw_sql(db.path(), "SELECT value FROM meta WHERE key = 'schema_version'"), "4");
  ASSERT_EQ(storage.trials(1).size(), 1u);
  EXPECT_EQ(storage.trials(1)[0].reports.at(0).value, 0.5);
  storage.add_report(1, 0, {20, 0.6, {{"lr", 0.1}}});
  EXPECT_EQ(storage.trials(1)[0].reports.at(1).metrics.at("lr"), 0.1);
}

// Version 2 is what krill wrote before leases (the release before this one): a database with
// every kind of row, one trial finished and one left running by a process that died, is migrated
// in place; nothing is lost, the running trial is re-queued with its parameters, and deleting a
// trial now takes every row that belongs to it.
TEST(SqliteStorage, MigratesAVersion2DatabaseWithEveryKindOfRow) {
  TempDb db;
  make_database_of_version(db.path(), 2);
  raw_sql(db.path(),
          "INSERT INTO studies VALUES (1, 'v2', 'minimize', 'val_loss', 'space', 'random', "
          "'cfg', 4, 1.5);"
          "INSERT INTO trials VALUES (1, 0, 'completed', -0.0, '', 10.0, 20.0, 0);"
          "INSERT INTO trials VALUES (1, 1, 'running', NULL, '', 11.0, 0, 1);"
          "INSERT INTO params VALUES (1, 0, 'lr', 'float', 0.01), (1, 0, 'act', 'string', 'relu'),"
          " (1, 1, 'lr', 'float', 0.02), (1, 1, 'width', 'int', 64);"
          "INSERT INTO attrs VALUES (1, 0, 'test_accuracy', 0.875);"
          "INSERT INTO reports VALUES (1, 0, 10, 0.5), (1, 1, 10, 0.25);"
          "INSERT INTO report_metrics VALUES (1, 0, 10, 'lr', 0.01), (1, 1, 10, 'lr', 0.02);"
          "INSERT INTO decisions VALUES (1, 0, 10, 'continue', 'rank 1 of 1', 0.5),"
          " (1, 1, 10, 'continue', 'rank 2 of 2', 0.75);");
  SqliteStorage storage(db.path());
  EXPECT_EQ(raw_sql(db.path(), "SELECT value FROM meta WHERE key = 'schema_version'"), "4");
  EXPECT_EQ(raw_sql(db.path(), "PRAGMA foreign_key_check"), "");
  auto trials = storage.trials(1);
  ASSERT_EQ(trials.size(), 2u);
  const TrialRecord& done = trials[0];
  EXPECT_EQ(done.state, TrialState::Completed);
  EXPECT_TRUE(testing::same_bits(*done.value, -0.0));
  EXPECT_EQ(done.params, (hpo::Params{{"lr", 0.01}, {"act", std::string("relu")}}));
  EXPECT_EQ(done.attrs.at("test_accuracy"), 0.875);
  ASSERT_EQ(done.reports.size(), 1u);
  EXPECT_EQ(done.reports[0].metrics.at("lr"), 0.01);
  ASSERT_EQ(done.decisions.size(), 1u);
  EXPECT_EQ(done.decisions[0].reason, "rank 1 of 1");
  EXPECT_EQ(done.owner, "");
  EXPECT_EQ(trials[1].state, TrialState::Running);

  storage.add_run(1, testing::sample_run("new"));
  auto claim = storage.claim_trial(1, testing::claim_request("new", 4));
  ASSERT_TRUE(claim.trial);
  EXPECT_TRUE(claim.requeued);
  EXPECT_EQ(claim.trial->number, 1);
  EXPECT_EQ(claim.trial->params, (hpo::Params{{"lr", 0.02}, {"width", int64_t{64}}}));
  for (const char* table : {"reports", "report_metrics", "decisions"}) {
    EXPECT_EQ(
        raw_sql(db.path(), std::string("SELECT count(*) FROM ") + table + " WHERE number = 1"), "0")
        << table;
  }
  // One DELETE of a trial row takes all of its rows (ON DELETE CASCADE), as raw SQL would.
  raw_sql(db.path(), "PRAGMA foreign_keys = ON; DELETE FROM trials WHERE number = 0");
  for (const char* table : {"params", "attrs", "reports", "report_metrics", "decisions"}) {
    EXPECT_EQ(
        raw_sql(db.path(), std::string("SELECT count(*) FROM ") + table + " WHERE number = 0"), "0")
        << table;
  }
}

// Two processes opening an old file at once: one migrates, the other waits and finds it done.
TEST(SqliteStorage, TwoConnectionsMigrateOnce) {
  TempDb db;
  make_database_of_version(db.path(), 1);
  std::vector<std::thread> openers;
  std::atomic<int> failures{0};
  for (int i = 0; i < 2; ++i) {
    openers.emplace_back([&] {
      try {
        SqliteStorage storage(db.path());
      } catch (const std::exception&) {
        ++failures;
      }
    });
  }
  for (auto& t : openers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(raw_sql(db.path(), "SELECT value FROM meta WHERE key = 'schema_version'"), "4");
  EXPECT_EQ(raw_sql(db.path(), "SELECT count(*) FROM sqlite_master WHERE name = 'runs'"), "1");
}

TEST(SqliteStorage, RefusesAnotherProgramsDatabase) {
  TempDb db;
  raw_sql(db.path(), "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)");
  const std::string expected =
      db.path().string() + ": not a krill study database (no krill meta table)";
  EXPECT_EQ(open_error(db.path()), expected);
  // Left as it was: still in its own journal mode, no krill tables added.
  EXPECT_EQ(raw_sql(db.path(), "PRAGMA journal_mode"), "delete");
  EXPECT_EQ(raw_sql(db.path(), "SELECT count(*) FROM sqlite_master"), "1");
  // A `meta` table of its own does not make it a krill database.
  raw_sql(db.path(),
          "CREATE TABLE meta (key TEXT, value TEXT); "
          "INSERT INTO meta VALUES ('program', 'other')");
  EXPECT_EQ(open_error(db.path()), expected);
  raw_sql(db.path(), "DROP TABLE meta; CREATE TABLE meta (id INTEGER, blob BLOB)");
  EXPECT_EQ(open_error(db.path()), expected);
}

TEST(SqliteStorage, RefusesAFileThatIsNotSqlite) {
  for (size_t size : {size_t{10}, size_t{100}, size_t{5000}}) {
    TempDb db;
    {
      std::ofstream out(db.path(), std::ios::binary);
      for (size_t i = 0; i < size; ++i) out.put(static_cast<char>("not a database\n"[i % 15]));
    }
    EXPECT_EQ(open_error(db.path()), db.path().string() + ": not a SQLite database") << size;
    EXPECT_EQ(std::filesystem::file_size(db.path()), size);  // untouched
  }
}

TEST(SqliteStorage, RefusesAMissingFolderWithoutCreatingIt) {
  TempDb db;
  const std::filesystem::path folder = db.path().string() + "_missing";
  const std::filesystem::path path = folder / "study.db";
  const std::string message = open_error(path);
  EXPECT_THAT(message, HasSubstr(path.string()));
  EXPECT_THAT(message, HasSubstr("folder " + folder.string() + " does not exist"));
  EXPECT_FALSE(std::filesystem::exists(folder));
}

// A reader of a file it may not write (another user's study, a read-only mount): read-only, it
// reads what a writer stored, changes nothing, and a write fails naming the file.
std::string file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

hpo::StudyRecord stored_study(const std::filesystem::path& path) {
  hpo::StudyRecord study = sample_study("s");
  SqliteStorage storage(path);
  study.id = storage.create_study(study);
  for (int64_t n = 0; n < 2; ++n) store(storage, study.id, finished_trial(n));
  return study;
}

TEST(SqliteStorage, ReadOnlyReadsWhatWasStoredAndChangesNothing) {
  TempDb db;
  const hpo::StudyRecord study = stored_study(db.path());
  ASSERT_FALSE(std::filesystem::exists(db.path().string() + "-wal"));  // the writer checkpointed
  const std::string before = file_bytes(db.path());
  {
    SqliteStorage reader(db.path(), SqliteStorage::Open::ReadOnly);
    ASSERT_EQ(reader.studies().size(), 1u);
    expect_same_study(*reader.find_study("s"), study);
    const auto trials = reader.trials(study.id);
    ASSERT_EQ(trials.size(), 2u);
    for (int64_t n = 0; n < 2; ++n) expect_same_trial(trials[n], finished_trial(n));
    try {
      reader.create_study(sample_study("t"));
      ADD_FAILURE() << "a read-only storage wrote";
    } catch (const DataError& e) {
      EXPECT_THAT(e.what(), HasSubstr(db.path().string()));
      EXPECT_THAT(e.what(), HasSubstr("readonly"));
    }
  }
  EXPECT_EQ(file_bytes(db.path()), before);
}

// Runs `read` where file modes apply: in this process when it is not root; as root, which writes
// any file, in a child process that became uid 65534 (nobody). Returns what `read` returns.
std::string run_where_modes_apply(const std::function<std::string()>& read) {
  std::string result;
  if (::geteuid() != 0) {
    result = read();
  } else {
    int out[2];
    EXPECT_EQ(::pipe(out), 0);
    const pid_t child = ::fork();
    if (child == 0) {
      ::close(out[0]);
      const std::string r = ::setgid(65534) == 0 && ::setuid(65534) == 0
                                ? read()
                                : std::string("could not become uid 65534");
      [[maybe_unused]] const auto n = ::write(out[1], r.data(), r.size());
      ::_exit(0);
    }
    ::close(out[1]);
    char buffer[4096];
    for (ssize_t n; (n = ::read(out[0], buffer, sizeof buffer)) > 0;) result.append(buffer, n);
    ::close(out[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  return result;
}

// Runs `read` as a user who may not write `folder` (mode 0555). Returns what `read` returns.
std::string read_without_write_access(const std::filesystem::path& folder,
                                      const std::function<std::string()>& read) {
  namespace fs = std::filesystem;
  fs::permissions(folder, fs::perms::owner_write | fs::perms::group_write | fs::perms::others_write,
                  fs::perm_options::remove);
  std::string result = run_where_modes_apply(read);
  fs::permissions(folder, fs::perms::owner_write, fs::perm_options::add);
  return result;
}

// As `krill show` opens a database (Open::WhereReadOnly): the trials' values, or the error.
std::string read_as_show_does(const std::filesystem::path& path, bool try_a_write = false) {
  try {
    SqliteStorage reader(path, SqliteStorage::Open::WhereReadOnly);
    std::string values;
    for (const auto& t : reader.trials(reader.studies().at(0).id)) {
      values += std::to_string(*t.value) + " ";
    }
    if (try_a_write) reader.create_study(sample_study("t"));
    return values;
  } catch (const DataError& e) {
    return std::string("DataError: ") + e.what();
  }
}

// Another user's study (or one on a read-only mount): read where SQLite cannot create the -shm
// file a WAL database needs beside it. With no -wal file, the database file holds every change and
// is read as a file nothing writes, its path written as a URI ('?', '#' and '%' escaped).
TEST(SqliteStorage, AReaderReadsAStudyItMayNotWrite) {
  EXPECT_EQ(sqlite::immutable_uri("/a?b#c%d/s.db"), "file:///a%3Fb%23c%25d/s.db?immutable=1");
  EXPECT_EQ(sqlite::immutable_uri("//a/s.db"), "file:////a/s.db?immutable=1");  // not host "a"
  EXPECT_EQ(sqlite::immutable_uri("s.db"), "file:s.db?immutable=1");
  TempDb base;
  const std::filesystem::path folder = base.path().string() + "_odd ?#%25 name";
  std::filesystem::create_directory(folder);
  const std::filesystem::path path = folder / "study.db";
  stored_study(path);
  ASSERT_FALSE(std::filesystem::exists(path.string() + "-wal"));  // the writer checkpointed
  const std::string before = file_bytes(path);
  const std::string expected = std::to_string(*finished_trial(0).value) + " " +
                               std::to_string(*finished_trial(1).value) + " ";
  EXPECT_EQ(read_without_write_access(folder, [&] { return read_as_show_does(path); }), expected);
  const std::string write =
      read_without_write_access(folder, [&] { return read_as_show_does(path, true); });
  EXPECT_THAT(write, HasSubstr("DataError: " + path.string()));
  EXPECT_THAT(write, HasSubstr("readonly"));
  EXPECT_EQ(file_bytes(path), before);
  EXPECT_FALSE(std::filesystem::exists(path.string() + "-shm"));
  // A writer there is told why it cannot write, before it starts.
  const std::string writer = read_without_write_access(folder, [&] {
    try {
      SqliteStorage storage(path);
      return std::string("opened to write");
    } catch (const DataError& e) {
      return std::string(e.what());
    }
  });
  EXPECT_THAT(writer, HasSubstr(path.string() + ": cannot be opened to write: its folder " +
                                folder.string() + " may not be written by this user"));
  // A file this user may not read either: SQLite's reason, not a crash.
  std::filesystem::permissions(path, std::filesystem::perms::none);
  EXPECT_THAT(read_without_write_access(folder, [&] { return read_as_show_does(path); }),
              HasSubstr("DataError: " + path.string() + ": cannot open"));
  std::filesystem::remove_all(folder);
}

// A study being written: the reader uses the writer's -shm file, read-only, and reads what the
// writer stored in the -wal file too. A -wal file without its -shm file (copied away, or left by a
// writer that died) cannot be read without writing: refused, saying what to do, not read without
// the changes it holds.
TEST(SqliteStorage, AReaderReadsAStudyBeingWrittenAndRefusesAWalItCannotRead) {
  namespace fs = std::filesystem;
  TempDb base;
  const fs::path live = base.path().string() + "_live", copy = base.path().string() + "_copy";
  fs::create_directory(live);
  fs::create_directory(copy);
  hpo::StudyRecord study = sample_study("s");
  {
    SqliteStorage writer(live / "study.db");
    study.id = writer.create_study(study);
    store(writer, study.id, finished_trial(0));
    ASSERT_TRUE(fs::exists(live / "study.db-wal"));
    ASSERT_TRUE(fs::exists(live / "study.db-shm"));
    EXPECT_EQ(read_without_write_access(live, [&] { return read_as_show_does(live / "study.db"); }),
              std::to_string(*finished_trial(0).value) + " ");
    for (const char* file : {"study.db", "study.db-wal"}) fs::copy_file(live / file, copy / file);
  }
  const std::string refused =
      read_without_write_access(copy, [&] { return read_as_show_does(copy / "study.db"); });
  EXPECT_THAT(refused,
              HasSubstr("DataError: " + (copy / "study.db").string() + ": cannot be read here"));
  EXPECT_THAT(refused, HasSubstr("copy the database with its -wal file to a folder you may write"));
  fs::remove_all(live);
  fs::remove_all(copy);
}

// A -shm (or -wal) file this user may not write, though the database and its folder may be
// written (left by another user who read the database from a folder both may write): a writer is
// told which file and what to do before it starts, not "attempt to write a readonly database" at
// its first write; a reader reads the study.
TEST(SqliteStorage, AWriterIsToldOfASharedMemoryFileItMayNotWrite) {
  namespace fs = std::filesystem;
  TempDb base;
  const fs::path folder = base.path().string() + "_shared";
  fs::create_directory(folder);
  const fs::path path = folder / "study.db";
  stored_study(path);
  ASSERT_FALSE(fs::exists(path.string() + "-shm"));  // the writer's connection is closed
  fs::permissions(folder, fs::perms::all);
  fs::permissions(path, fs::perms::all & ~(fs::perms::owner_exec | fs::perms::group_exec |
                                           fs::perms::others_exec));
  for (const char* suffix : {"-shm", "-wal"}) {
    const fs::path side = path.string() + suffix;
    std::ofstream(side).close();
    fs::permissions(side, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
    const std::string writer = run_where_modes_apply([&] {
      try {
        SqliteStorage storage(path);
        return std::string("opened to write");
      } catch (const DataError& e) {
        return std::string(e.what());
      }
    });
    EXPECT_THAT(writer, HasSubstr(path.string() + ": cannot be opened to write: its " + suffix +
                                  " file " + side.string() + " may not be written by this user"));
    const std::string expected = std::to_string(*finished_trial(0).value) + " " +
                                 std::to_string(*finished_trial(1).value) + " ";
    EXPECT_EQ(run_where_modes_apply([&] { return read_as_show_does(path); }), expected) << suffix;
    fs::remove(side);
  }
  fs::remove_all(folder);
}

// What cannot be read without writing it: an empty file, an older schema.
TEST(SqliteStorage, ReadOnlyRefusesWhatOnlyAWriterCanRead) {
  TempDb empty;
  std::ofstream(empty.path()).close();
  try {
    SqliteStorage reader(empty.path(), SqliteStorage::Open::ReadOnly);
    ADD_FAILURE() << "read an empty file";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr(empty.path().string() + ": an empty file"));
  }
  EXPECT_EQ(std::filesystem::file_size(empty.path()), 0u);
  TempDb old;
  make_database_of_version(old.path(), 2);
  try {
    SqliteStorage reader(old.path(), SqliteStorage::Open::ReadOnly);
    ADD_FAILURE() << "read an older schema";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("schema version 2, older than this krill's 4"));
  }
  EXPECT_EQ(raw_sql(old.path(), "SELECT value FROM meta WHERE key = 'schema_version'"), "2");
}

// Where this process may write, a reader opens as a writer does: an older schema is upgraded
// (what ReadOnly's error asks for). An empty file is not made a database by a command that reads.
TEST(SqliteStorage, WhereReadOnlyOpensAWritableFileAsAWriter) {
  TempDb old;
  make_database_of_version(old.path(), 2);
  {
    SqliteStorage storage(old.path(), SqliteStorage::Open::WhereReadOnly);
    EXPECT_TRUE(storage.studies().empty());
  }
  EXPECT_EQ(raw_sql(old.path(), "SELECT value FROM meta WHERE key = 'schema_version'"),
            std::to_string(kSchemaVersion));
  TempDb empty;
  std::ofstream(empty.path()).close();
  try {
    SqliteStorage reader(empty.path(), SqliteStorage::Open::WhereReadOnly);
    ADD_FAILURE() << "read an empty file";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()), empty.path().string() +
                                         ": an empty file, no krill study database yet (krill "
                                         "tune makes one)");
  }
  EXPECT_EQ(std::filesystem::file_size(empty.path()), 0u);
}

TEST(OpenStorage, MemoryOrSqliteByPath) {
  TempDb db;
  EXPECT_NE(dynamic_cast<MemoryStorage*>(open_storage(":memory:").get()), nullptr);
  EXPECT_NE(dynamic_cast<SqliteStorage*>(open_storage(db.path()).get()), nullptr);
  EXPECT_TRUE(std::filesystem::exists(db.path()));
}

}  // namespace
}  // namespace krill::store
