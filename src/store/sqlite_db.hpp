// A thin RAII layer over the SQLite C API, internal to src/store (SqliteStorage is its only user):
// a Connection, a Statement with typed bind/column helpers, and every SQLite error turned into a
// krill::DataError naming the database file. Header-only because it is small and has one user.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace krill::store::sqlite {

// Throws DataError "<file>: <doing>: <SQLite's message>", or "<file>: not a SQLite database".
[[noreturn]] inline void fail(sqlite3* db, int rc, const std::string& file,
                              std::string_view doing) {
  if ((rc & 0xff) == SQLITE_NOTADB) throw DataError(file + ": not a SQLite database");
  std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  throw DataError(file + ": " + std::string(doing) + ": " + message);
}

// How a Connection opens its file: to read and write (created when missing), to read only, or to
// read only a file that nothing writes (SQLite's immutable=1: no locks, no -shm file, which a
// WAL database otherwise needs created beside it, in a folder that may not be writable).
enum class Open { ReadWrite, ReadOnly, Immutable };

// "file:///a%3Fb/c.db?immutable=1": a path as a URI (RFC 3986: '?', '#' and '%' escaped; an
// absolute path after an empty authority, so that "//x" is not read as a host).
inline std::string immutable_uri(const std::string& file) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string uri = file.starts_with('/') ? "file://" : "file:";
  for (const char c : file) {
    if (c == '?' || c == '#' || c == '%') {
      uri += '%';
      uri += kHex[static_cast<unsigned char>(c) >> 4];
      uri += kHex[static_cast<unsigned char>(c) & 15];
    } else {
      uri += c;
    }
  }
  return uri + "?immutable=1";
}

class Connection {
 public:
  // Opens `file` (ReadWrite: creates it when missing; its folder must exist, SQLite creates the
  // file lazily).
  explicit Connection(const std::string& file, Open open = Open::ReadWrite) : file_(file) {
    int flags = SQLITE_OPEN_NOMUTEX;
    if (open == Open::ReadWrite) flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (open != Open::ReadWrite) flags |= SQLITE_OPEN_READONLY;
    if (open == Open::Immutable) flags |= SQLITE_OPEN_URI;
    const std::string name = open == Open::Immutable ? immutable_uri(file) : file;
    int rc = sqlite3_open_v2(name.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) {
      std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
      sqlite3_close_v2(db_);
      throw DataError(file + ": cannot open: " + message);
    }
    sqlite3_extended_result_codes(db_, 1);
  }
  ~Connection() { sqlite3_close_v2(db_); }  // deferred until the last statement is finalized
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* get() const { return db_; }
  const std::string& file() const { return file_; }
  [[noreturn]] void fail(int rc, std::string_view doing) const {
    sqlite::fail(db_, rc, file_, doing);
  }
  // Runs one or more statements that return no rows needed here.
  void exec(const char* sql) const {
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) fail(rc, sql);
  }
  int64_t changes() const { return sqlite3_changes64(db_); }

 private:
  std::string file_;
  sqlite3* db_ = nullptr;
};

// A prepared statement. Bind indexes are 1-based, column indexes 0-based (as in SQLite).
class Statement {
 public:
  Statement(const Connection& conn, std::string_view sql, bool persistent = true) : conn_(conn) {
    int rc = sqlite3_prepare_v3(conn.get(), sql.data(), static_cast<int>(sql.size()),
                                persistent ? SQLITE_PREPARE_PERSISTENT : 0, &stmt_, nullptr);
    if (rc != SQLITE_OK) conn.fail(rc, sql);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int i, int64_t v) { return check(sqlite3_bind_int64(stmt_, i, v)); }
  Statement& bind(int i, int v) { return check(sqlite3_bind_int(stmt_, i, v)); }
  // NaN is bound as NULL (SQLite has no NaN).
  Statement& bind(int i, double v) { return check(sqlite3_bind_double(stmt_, i, v)); }
  Statement& bind(int i, std::optional<double> v) {
    return v ? bind(i, *v) : check(sqlite3_bind_null(stmt_, i));
  }
  Statement& bind(int i, std::string_view v) {
    return check(sqlite3_bind_text64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  }
  Statement& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
  Statement& bind(int i, const char* v) { return bind(i, std::string_view(v)); }

  // Steps once: true when a row is ready, false when done. Throws on errors.
  bool step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(rc);
  }
  // Steps once and returns SQLite's code (for callers that tell constraint failures apart).
  int step_code() { return sqlite3_step(stmt_); }
  // Runs a statement that returns no rows, then resets it.
  void run() {
    step();
    reset();
  }
  // Ready for the next use: bindings cleared. Errors were reported by step().
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  [[noreturn]] void fail(int rc) {
    std::string sql = sqlite3_sql(stmt_);
    sqlite3_reset(stmt_);
    conn_.fail(rc, sql);
  }

  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  double real(int col) const { return sqlite3_column_double(stmt_, col); }
  std::string text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col))) : "";
  }

 private:
  Statement& check(int rc) {
    if (rc != SQLITE_OK) fail(rc);
    return *this;
  }
  const Connection& conn_;
  sqlite3_stmt* stmt_ = nullptr;
};

// Uses a cached statement and resets it (clearing its bindings) when the scope ends, so that a
// statement never holds a read snapshot or stale bindings between Storage calls.
class Use {
 public:
  explicit Use(Statement& s) : s_(s) {}
  ~Use() { s_.reset(); }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
  Statement* operator->() { return &s_; }
  Statement& operator*() { return s_; }

 private:
  Statement& s_;
};

}  // namespace krill::store::sqlite
