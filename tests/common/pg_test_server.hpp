// The PostgreSQL server of the tests. CTest's fixture `pg` (tests/CMakeLists.txt) starts one
// throwaway server per build folder with scripts/pg-test-server.sh before the tests of the suites
// that need it, and stops it afterwards; its address is in server.env at a path fixed at build
// time (KRILL_TEST_PG_ENV). A test takes it with KRILL_REQUIRE_PG(server), which skips the test,
// saying why, when there is no server: no postgresql package (the fixture then says so), a build
// without libpq, or the test program run outside ctest. Each test works in a database of its own
// (PgTempDb), so tests may run in parallel on the one server; a test that stops or restarts a
// server runs its own (PgPrivateServer, KRILL_REQUIRE_PG_PRIVATE).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>

#ifdef KRILL_HAVE_POSTGRES
#include <libpq-fe.h>
#endif

namespace krill::testing {

struct PgServer {
  std::string host;  // the folder of the server's Unix socket
  int port = 0;
  std::string user, password, bindir, data, script;

  // Over the Unix socket (trust: no password): postgresql://krill@/DB?host=SOCKDIR&port=PORT
  std::string url(const std::string& db) const;
  // Over TCP to 127.0.0.1 (scram-sha-256): postgresql://krill:PW@127.0.0.1:PORT/DB
  std::string tcp_url(const std::string& db, const std::string& password) const;
};

namespace pg_detail {

// Percent-encodes what a libpq URI does not take as is (the socket folder, a password).
inline std::string uri_encode(const std::string& s, bool keep_slash) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
        (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// KEY=VALUE lines (server.env).
inline std::map<std::string, std::string> read_env_file(const std::filesystem::path& path) {
  std::map<std::string, std::string> kv;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return kv;
}

inline std::string script_path() {
#ifdef KRILL_PG_SERVER_SCRIPT
  return KRILL_PG_SERVER_SCRIPT;
#else
  return "";
#endif
}

// The server a server.env describes; nullopt and *why when it is missing or incomplete.
inline std::optional<PgServer> from_env_file(const std::filesystem::path& env, std::string* why) {
  std::error_code ec;
  if (!std::filesystem::exists(env, ec)) {
    auto unavailable = env.parent_path() / "unavailable";
    std::ifstream in(unavailable);
    std::string reason;
    if (in && std::getline(in, reason) && !reason.empty()) {
      if (why) *why = "no PostgreSQL server for the tests: " + reason;
    } else if (why) {
      *why = "no PostgreSQL server for the tests: " + env.string() +
             " does not exist; ctest starts one (its fixture pg_server_start runs "
             "scripts/pg-test-server.sh start " +
             env.parent_path().string() +
             "), or run that command before this test program and `stop` after it";
    }
    return std::nullopt;
  }
  auto kv = read_env_file(env);
  for (const char* key : {"PGTEST_HOST", "PGTEST_PORT", "PGTEST_USER", "PGTEST_PASSWORD"}) {
    if (kv[key].empty()) {
      if (why) *why = env.string() + " lacks " + key;
      return std::nullopt;
    }
  }
  PgServer s;
  s.host = kv["PGTEST_HOST"];
  s.port = std::stoi(kv["PGTEST_PORT"]);
  s.user = kv["PGTEST_USER"];
  s.password = kv["PGTEST_PASSWORD"];
  s.bindir = kv["PGTEST_BINDIR"];
  s.data = kv["PGTEST_DATA"];
  s.script = script_path();
  return s;
}

inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// Runs `script CMD DIR`, its output (stdout and stderr) into *output; the exit status.
inline int run_script(const std::string& script, const std::string& cmd, const std::string& dir,
                      std::string* output) {
  std::string line = shell_quote(script) + " " + cmd + " " + shell_quote(dir) + " 2>&1";
  FILE* p = ::popen(line.c_str(), "r");
  if (!p) throw std::runtime_error("cannot run " + line);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) {
    if (output) output->append(buf, n);
  }
  int status = ::pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status)
                           : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

}  // namespace pg_detail

inline std::string PgServer::url(const std::string& db) const {
  return "postgresql://" + user + "@/" + db + "?host=" + pg_detail::uri_encode(host, true) +
         "&port=" + std::to_string(port);
}

inline std::string PgServer::tcp_url(const std::string& db, const std::string& pw) const {
  return "postgresql://" + user + ":" + pg_detail::uri_encode(pw, false) +
         "@127.0.0.1:" + std::to_string(port) + "/" + db;
}

// The server of the ctest fixture; nullopt and *why when it is not running (no postgresql
// package, no libpq in the build, test program run outside ctest).
inline std::optional<PgServer> pg_test_server(std::string* why) {
#ifndef KRILL_HAVE_POSTGRES
  if (why) {
    *why =
        "krill's tests were built without libpq, so without PostgreSQL (apt-get install "
        "libpq-dev, or scripts/install-deps.sh, then configure again)";
  }
  return std::nullopt;
#elif !defined(KRILL_TEST_PG_ENV)
  if (why) *why = "this test program was built without KRILL_TEST_PG_ENV (tests/CMakeLists.txt)";
  return std::nullopt;
#else
  return pg_detail::from_env_file(KRILL_TEST_PG_ENV, why);
#endif
}

#ifdef KRILL_HAVE_POSTGRES

// A libpq connection that throws std::runtime_error (with libpq's message) on failure.
class PgConnection {
 public:
  explicit PgConnection(const std::string& url) : conn_(PQconnectdb(url.c_str())) {
    if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
      std::string msg = conn_ ? PQerrorMessage(conn_) : "out of memory";
      if (conn_) PQfinish(conn_);
      throw std::runtime_error("cannot connect to " + url + ": " + msg);
    }
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
  }
  ~PgConnection() { PQfinish(conn_); }
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;
  PGconn* get() const { return conn_; }

  // Runs a statement (or several), throwing on an error.
  void exec(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    ExecStatusType st = PQresultStatus(r);
    std::string msg = PQresultErrorMessage(r);
    PQclear(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      throw std::runtime_error(sql + ": " + msg);
    }
  }
  // The first column of the first row; nullopt for no row or NULL.
  std::optional<std::string> scalar(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
      std::string msg = PQresultErrorMessage(r);
      PQclear(r);
      throw std::runtime_error(sql + ": " + msg);
    }
    std::optional<std::string> v;
    if (PQntuples(r) > 0 && PQnfields(r) > 0 && !PQgetisnull(r, 0, 0)) v = PQgetvalue(r, 0, 0);
    PQclear(r);
    return v;
  }

 private:
  PGconn* conn_;
};

// A fresh, uniquely named database on the server (created through the maintenance database
// `postgres`), dropped on destruction with whatever connections it still has.
class PgTempDb {
 public:
  explicit PgTempDb(const PgServer& server) : server_(server) {
    static std::atomic<int> counter{0};
    std::random_device rd;
    name_ = "krill_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" +
            std::to_string(rd() % 1000000);
    PgConnection(server_.url("postgres")).exec("CREATE DATABASE \"" + name_ + "\"");
  }
  ~PgTempDb() {
    try {
      PgConnection(server_.url("postgres"))
          .exec("DROP DATABASE IF EXISTS \"" + name_ + "\" WITH (FORCE)");
    } catch (const std::exception& e) {
      std::fprintf(stderr, "PgTempDb: cannot drop database %s: %s\n", name_.c_str(), e.what());
    }
  }
  PgTempDb(const PgTempDb&) = delete;
  PgTempDb& operator=(const PgTempDb&) = delete;
  const std::string& name() const { return name_; }
  std::string url() const { return server_.url(name_); }
  std::string tcp_url() const { return server_.tcp_url(name_, server_.password); }

 private:
  PgServer server_;
  std::string name_;
};

#endif  // KRILL_HAVE_POSTGRES

// A server of one test's own (scripts/pg-test-server.sh on a folder of its own under /tmp), for a
// test that stops or restarts it: the fixture's server is shared by tests running in parallel.
class PgPrivateServer {
 public:
  // The started server; nullptr and *why when there can be none (no libpq in the build, no
  // postgresql package). A server that fails to start throws std::runtime_error with the
  // script's output.
  static std::unique_ptr<PgPrivateServer> start(std::string* why) {
#ifndef KRILL_HAVE_POSTGRES
    if (why) {
      *why =
          "krill's tests were built without libpq, so without PostgreSQL (apt-get install "
          "libpq-dev, or scripts/install-deps.sh, then configure again)";
    }
    return nullptr;
#else
    std::string script = pg_detail::script_path();
    if (script.empty()) {
      if (why) *why = "this test program was built without KRILL_PG_SERVER_SCRIPT";
      return nullptr;
    }
    std::string tmpl = (std::filesystem::temp_directory_path() / "krill-pgpriv-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp " + tmpl + " failed");
    std::unique_ptr<PgPrivateServer> p(new PgPrivateServer(script, tmpl));
    std::string out;
    int rc = pg_detail::run_script(script, "start", p->dir_, &out);
    if (rc != 0) throw std::runtime_error(script + " start " + p->dir_ + " failed:\n" + out);
    auto s = pg_detail::from_env_file(std::filesystem::path(p->dir_) / "server.env", why);
    if (!s) return nullptr;  // no postgresql package: the script said why (DIR/unavailable)
    p->server_ = *s;
    return p;
#endif
  }
  ~PgPrivateServer() {
    std::string out;
    if (pg_detail::run_script(script_, "stop", dir_, &out) != 0) {
      std::fprintf(stderr, "PgPrivateServer: %s stop %s failed:\n%s\n", script_.c_str(),
                   dir_.c_str(), out.c_str());
    }
  }
  PgPrivateServer(const PgPrivateServer&) = delete;
  PgPrivateServer& operator=(const PgPrivateServer&) = delete;

  const PgServer& server() const {
    return server_;
  }
  const std::string& dir() const {
    return dir_;
  }
  // Restarts the server (pg_ctl restart -m fast): same port, data and password; connections
  // are cut. Throws std::runtime_error when it does not come back.
  void restart() {
    std::string out;
    if (pg_detail::run_script(script_, "restart", dir_, &out) != 0) {
      throw std::runtime_error(script_ + " restart " + dir_ + " failed:\n" + out);
    }
  }

 private:
  PgPrivateServer(std::string script, std::string dir)
      : script_(std::move(script)), dir_(std::move(dir)) {}
  std::string script_, dir_;
  PgServer server_;
};

}  // namespace krill::testing

// Declares `const krill::testing::PgServer& var`, the fixture's server, or skips the test saying
// why there is none.
#define KRILL_REQUIRE_PG(var)                                                  \
  std::string var##_pg_why_;                                                   \
  const auto var##_pg_opt_ = ::krill::testing::pg_test_server(&var##_pg_why_); \
  if (!var##_pg_opt_) GTEST_SKIP() << var##_pg_why_;                           \
  const ::krill::testing::PgServer& var = *var##_pg_opt_

// Declares `std::unique_ptr<krill::testing::PgPrivateServer> var`, a server of the test's own,
// or skips the test saying why there can be none.
#define KRILL_REQUIRE_PG_PRIVATE(var)                                  \
  std::string var##_pg_why_;                                           \
  auto var = ::krill::testing::PgPrivateServer::start(&var##_pg_why_); \
  if (!var) GTEST_SKIP() << var##_pg_why_
