// The storages the contract suites run against: in memory, a SQLite file, and a database on the
// tests' PostgreSQL server (tests/common/pg_test_server.hpp). One factory, so that every suite
// parameterised by Kind runs unchanged against each; a PostgreSQL case skips, saying why, where
// there is no server (no postgresql package, a build without libpq, a test program run outside
// ctest).
#pragma once

#include <memory>
#include <string>

#include "common/pg_test_server.hpp"
#include "hpo/storage.hpp"
#include "store/memory_storage.hpp"
#include "store/open.hpp"
#include "store/sqlite_storage.hpp"
#include "store_test_util.hpp"

namespace krill::store::testing {

enum class Kind { Memory, Sqlite, Postgres };

inline std::string kind_name(Kind kind) {
  return kind == Kind::Memory ? "Memory" : kind == Kind::Sqlite ? "Sqlite" : "Postgres";
}

// Where one test's storage lives: a temporary file, or a fresh database dropped afterwards.
class TestStorage {
 public:
  // Opens a storage of `kind` (each call a new connection to the same place, for the file and
  // the server); nullptr and *why when there is no server for a PostgreSQL one.
  std::unique_ptr<hpo::Storage> open(Kind kind, std::string* why) {
    if (kind == Kind::Memory) return std::make_unique<MemoryStorage>();
    if (kind == Kind::Sqlite) return std::make_unique<SqliteStorage>(file_.path());
#ifdef KRILL_HAVE_POSTGRES
    if (!pg_) {
      const auto server = krill::testing::pg_test_server(why);
      if (!server) return nullptr;
      pg_ = std::make_unique<krill::testing::PgTempDb>(*server);
    }
    return store::open_storage(pg_->url());
#else
    *why = "krill was built without libpq: no PostgreSQL storage to test";
    return nullptr;
#endif
  }
  // The location open_storage() takes: the file's path or the database's URL ("" before open).
  std::string location(Kind kind) const {
    if (kind == Kind::Sqlite) return file_.path().string();
#ifdef KRILL_HAVE_POSTGRES
    if (kind == Kind::Postgres && pg_) return pg_->url();
#endif
    return kind == Kind::Memory ? ":memory:" : "";
  }

 private:
  TempDb file_;
#ifdef KRILL_HAVE_POSTGRES
  std::unique_ptr<krill::testing::PgTempDb> pg_;
#endif
};

}  // namespace krill::store::testing
