#include "store/postgres_storage.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <thread>
#include <type_traits>
#include <utility>
#include <variant>

#include "core/error.hpp"
#include "store/postgres_schema.hpp"
#include "store/trial_cursor.hpp"

namespace krill::store {

using hpo::Report;
using hpo::StudyRecord;
using hpo::TrialRecord;
using hpo::TrialState;
using postgres::kSql;
using postgres::Sql;
using enum postgres::Sql;

namespace {

inline constexpr int kSchemaVersion = static_cast<int>(postgres::kMigrations.size());

// libpq's messages span lines ("...failed: Connection refused\n\tIs the server running...");
// krill's errors are one line.
std::string one_line(const char* message) {
  std::string out;
  bool space = false;
  for (const char* c = message ? message : ""; *c; ++c) {
    if (*c == '\n' || *c == '\t' || *c == '\r' || *c == ' ') {
      space = !out.empty();
    } else {
      if (space) out += ' ';
      space = false;
      out += *c;
    }
  }
  // The severity is not news to the user ("...failed: FATAL: password authentication failed").
  for (const std::string severity : {"FATAL: ", "ERROR: "}) {
    for (size_t at; (at = out.find(severity)) != std::string::npos;) out.erase(at, severity.size());
  }
  return out;
}

// A statement the server refused (SQLSTATE: its class and condition, e.g. 23505 unique_violation).
class PgError : public DataError {
 public:
  PgError(const std::string& what, std::string sqlstate)
      : DataError(what), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  std::string sqlstate_;
};

// The connection went (a server restart, a network cut) during a call; during_commit: while its
// COMMIT was under way, so the change may or may not have been stored.
class ConnectionLost : public DataError {
 public:
  ConnectionLost(const std::string& what, bool during_commit)
      : DataError(what), during_commit_(during_commit) {}
  bool during_commit() const { return during_commit_; }

 private:
  bool during_commit_;
};

// A statement's parameter as the text the server reads (or NULL).
struct Arg {
  std::string text;
  bool null = false;

  Arg(std::nullopt_t) : null(true) {}            // NOLINT(google-explicit-constructor)
  Arg(const std::string& s) : text(s) {}         // NOLINT(google-explicit-constructor)
  Arg(std::string_view s) : text(s) {}           // NOLINT(google-explicit-constructor)
  Arg(const char* s) : text(s) {}                // NOLINT(google-explicit-constructor)
  Arg(int64_t v) : text(std::to_string(v)) {}    // NOLINT(google-explicit-constructor)
  Arg(long long v) : text(std::to_string(v)) {}  // NOLINT(google-explicit-constructor)
  Arg(int v) : text(std::to_string(v)) {}        // NOLINT(google-explicit-constructor)
  // The shortest text that reads back as the same double (PostgreSQL's float8 input is exact);
  // -0 keeps its sign, NaN and the infinities are spelled as PostgreSQL spells them.
  Arg(double v) {  // NOLINT(google-explicit-constructor)
    if (std::isnan(v)) {
      text = "NaN";
    } else if (std::isinf(v)) {
      text = v > 0 ? "Infinity" : "-Infinity";
    } else {
      char buf[32];
      const auto r = std::to_chars(buf, buf + sizeof buf, v);
      text.assign(buf, r.ptr);
    }
  }
  Arg(std::optional<double> v) : Arg(v ? Arg(*v) : Arg(std::nullopt)) {}   // NOLINT
  Arg(std::optional<int64_t> v) : Arg(v ? Arg(*v) : Arg(std::nullopt)) {}  // NOLINT
};

// A statement of a call that is sent with others at once (PgDb::run_together).
struct Statement {
  Sql id;
  std::vector<Arg> args;
};

// A result, owned.
class Result {
 public:
  explicit Result(PGresult* r) : r_(r) {}
  ~Result() { PQclear(r_); }
  Result(Result&& o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;
  Result& operator=(Result&& o) noexcept {
    std::swap(r_, o.r_);
    return *this;
  }

  PGresult* get() const { return r_; }
  int rows() const { return PQntuples(r_); }
  bool null(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
  std::string text(int row, int col) const { return {PQgetvalue(r_, row, col), len(row, col)}; }
  int64_t int64(int row, int col) const {
    int64_t v = 0;
    const char* s = PQgetvalue(r_, row, col);
    std::from_chars(s, s + len(row, col), v);
    return v;
  }
  double real(int row, int col) const {
    if (null(row, col)) return std::numeric_limits<double>::quiet_NaN();
    double v = 0;
    const char* s = PQgetvalue(r_, row, col);
    std::from_chars(s, s + len(row, col), v);
    return v;
  }
  // Rows an INSERT, UPDATE or DELETE touched.
  int64_t changes() const {
    const char* n = PQcmdTuples(r_);
    int64_t v = 0;
    std::from_chars(n, n + std::char_traits<char>::length(n), v);
    return v;
  }

 private:
  size_t len(int row, int col) const { return static_cast<size_t>(PQgetlength(r_, row, col)); }
  PGresult* r_;
};

}  // namespace

namespace detail {

struct PgDb {
  std::string url;       // as given, password included: for libpq alone
  std::string location;  // for messages: the password masked
  PostgresOptions options;
  PGconn* conn = nullptr;
  std::array<bool, postgres::kSqlCount> prepared{};
  int batch_depth = 0;
  bool committing = false;

  ~PgDb() {
    if (conn) PQfinish(conn);
  }

  [[noreturn]] void fail(const std::string& what) const { throw DataError(location + ": " + what); }
  [[noreturn]] void invalid(const std::string& what) const {
    throw InvalidArgument(location + ": " + what);
  }

  // Connects (again); throws DataError with libpq's reason in one line.
  void connect() {
    if (conn) PQfinish(conn);
    prepared.fill(false);
    const std::string timeout =
        std::to_string(std::max(1, static_cast<int>(std::lround(options.connect_timeout))));
    // The URL's own values override these defaults (it comes last).
    const char* keys[] = {"application_name", "connect_timeout", "dbname", nullptr};
    const char* values[] = {"krill", timeout.c_str(), url.c_str(), nullptr};
    conn = PQconnectdbParams(keys, values, 1);
    if (!conn) fail("cannot connect: out of memory");
    if (PQstatus(conn) != CONNECTION_OK) fail("cannot connect: " + one_line(PQerrorMessage(conn)));
    PQsetNoticeProcessor(
        conn, [](void*, const char*) {}, nullptr);  // no NOTICEs on stderr
    // extra_float_digits > 0: doubles come back as their shortest exact text.
    Result r(PQexec(conn, "SET extra_float_digits = 1; SET client_min_messages = warning"));
    check(r.get(), "SET");
  }

  bool connected() const { return conn && PQstatus(conn) == CONNECTION_OK; }

  // A message of this storage without its "<location>: " (to quote it inside another).
  std::string unprefixed(const std::string& message) const {
    std::string m = message;
    for (const std::string& prefix :
         {location + ": ", std::string("lost the connection to the server: ")}) {
      if (m.rfind(prefix, 0) == 0) m.erase(0, prefix.size());
    }
    return m;
  }

  // A lost connection is taken up again, waiting up to options.reconnect_seconds for the server.
  void reconnect(const std::string& why) {
    const auto give_up = std::chrono::steady_clock::now() +
                         std::chrono::milliseconds(std::lround(options.reconnect_seconds * 1000));
    auto pause = std::chrono::milliseconds(100);
    for (;;) {
      try {
        connect();
        return;
      } catch (const DataError& e) {
        if (std::chrono::steady_clock::now() >= give_up) {
          fail("lost the connection to the server" +
               (why.empty() ? std::string() : " (" + unprefixed(why) + ")") +
               " and could not connect again for " +
               std::to_string(std::lround(options.reconnect_seconds)) +
               " s: " + unprefixed(e.what()));
        }
      }
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::milliseconds(1000));
    }
  }

  // Throws for a result that is not a success: ConnectionLost when the connection went,
  // PgError with the SQLSTATE otherwise.
  void check(PGresult* raw, const std::string& what) {
    const ExecStatusType status = raw ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return;
    if (!connected()) {
      throw ConnectionLost(
          location + ": lost the connection to the server: " + one_line(PQerrorMessage(conn)),
          committing);
    }
    const char* state = raw ? PQresultErrorField(raw, PG_DIAG_SQLSTATE) : nullptr;
    const char* message = raw ? PQresultErrorMessage(raw) : PQerrorMessage(conn);
    const std::string sqlstate = state ? state : "";
    // The server ends the session (a shutdown or restart: 57P01-57P03; a connection exception:
    // class 08) before libpq has seen the socket close: a lost connection all the same.
    if (sqlstate.starts_with("08") || sqlstate.starts_with("57P")) {
      PQfinish(conn);
      conn = nullptr;
      throw ConnectionLost(location + ": lost the connection to the server: " + one_line(message),
                           committing);
    }
    throw PgError(location + ": " + what + ": " + one_line(message), sqlstate);
  }

  // A statement without parameters (BEGIN, COMMIT...).
  void exec(const char* sql) {
    Result r(PQexec(conn, sql));
    check(r.get(), sql);
  }

  // Prepares statement `id` on this connection the first time it is used.
  const std::string& prepare(Sql id) {
    static const std::array<std::string, postgres::kSqlCount> names = [] {
      std::array<std::string, postgres::kSqlCount> n;
      for (size_t i = 0; i < n.size(); ++i) n[i] = "krill_" + std::to_string(i);
      return n;
    }();
    if (!prepared[id]) {
      Result p(PQprepare(conn, names[id].c_str(), kSql[id], 0, nullptr));
      check(p.get(), kSql[id]);
      prepared[id] = true;
    }
    return names[id];
  }

  // A statement's parameters as libpq takes them (pointers into `args`, which must outlive them;
  // krill's statements take at most 8).
  struct Values {
    std::array<const char*, 16> values{};
    std::array<int, 16> lengths{};
    int n = 0;
    template <class Args>
    explicit Values(const Args& args) {
      for (const Arg& a : args) {
        values[static_cast<size_t>(n)] = a.null ? nullptr : a.text.c_str();
        lengths[static_cast<size_t>(n)] = static_cast<int>(a.text.size());
        ++n;
      }
    }
  };

  Result run(Sql id, std::initializer_list<Arg> args) { return run(id, Values(args)); }
  Result run(Sql id, const std::vector<Arg>& args) { return run(id, Values(args)); }
  Result run(Sql id, const Values& v) {
    const std::string& name = prepare(id);
    Result r(
        PQexecPrepared(conn, name.c_str(), v.n, v.values.data(), v.lengths.data(), nullptr, 0));
    check(r.get(), kSql[id]);
    return r;
  }

  // Statements sent at once and answered at once: one round trip (libpq's pipeline mode). Outside
  // a transaction block they are one implicit transaction, committed at the pipeline's end, or
  // rolled back when one of them fails (the first failure is thrown, as run() throws it). `lazy`:
  // the transaction commits without waiting for the WAL flush (Call::Lazy). Returns the
  // statements' results in order.
  std::vector<Result> run_together(const std::vector<Statement>& statements, bool lazy) {
    for (const Statement& st : statements) prepare(st.id);  // each a round trip of its own
    if (lazy) prepare(kLazyCommit);
    if (PQenterPipelineMode(conn) != 1) check(nullptr, "pipeline");
    auto send = [&](Sql id, const Values& v) {
      if (PQsendQueryPrepared(conn, prepare(id).c_str(), v.n, v.values.data(), v.lengths.data(),
                              nullptr, 0) != 1) {
        lost_in_pipeline();
      }
    };
    if (lazy) send(kLazyCommit, Values(std::vector<Arg>{}));
    for (const Statement& st : statements) send(st.id, Values(st.args));
    if (PQpipelineSync(conn) != 1) lost_in_pipeline();
    // Each statement's result, then a null that ends it; a statement after a failed one answers
    // PGRES_PIPELINE_ABORTED.
    auto next = [&] {
      PGresult* r = PQgetResult(conn);
      if (!r) lost_in_pipeline();
      while (PGresult* end = PQgetResult(conn)) PQclear(end);
      return Result(r);
    };
    if (lazy) next();
    std::vector<Result> out;
    std::optional<size_t> failed;
    for (size_t i = 0; i < statements.size(); ++i) {
      out.push_back(next());
      const ExecStatusType st = PQresultStatus(out.back().get());
      if (!failed && st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) failed = i;
    }
    const Result sync(PQgetResult(conn));
    if (!sync.get() || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC) lost_in_pipeline();
    if (PQexitPipelineMode(conn) != 1) lost_in_pipeline();
    if (failed) check(out[*failed].get(), kSql[statements[*failed].id]);
    return out;
  }

 private:
  // The connection went in a pipeline (or libpq refused to go on): it is closed, and the call
  // connects again. Whether the pipeline's implicit transaction committed is unknown.
  [[noreturn]] void lost_in_pipeline() {
    const std::string why = one_line(PQerrorMessage(conn));
    PQfinish(conn);
    conn = nullptr;
    throw ConnectionLost(location + ": lost the connection to the server: " + why, true);
  }
};

}  // namespace detail

namespace {

using detail::PgDb;

// How a call's transaction runs, and what is done when the connection goes during it.
enum class Call {
  Once,        // run again only when the connection went before its COMMIT (claims, new rows)
  Repeatable,  // may run again whatever happened (its effect is the same twice)
  // Repeatable, and committed without waiting for the server's WAL flush (synchronous_commit off):
  // what a running trial reports (curve points, decisions, heartbeats). The server's crash (not
  // a restart) may lose the last fraction of a second of them, never a claim or a result: the
  // durability SQLite's storage has against a machine's crash (WAL, synchronous=NORMAL).
  // Measured: 5 WAL flushes a trial become 2 (docs/BENCHMARKS.md). Sent with together().
  Lazy,
  Snapshot,  // repeatable, read only, its reads one snapshot (REPEATABLE READ)
};

// One Storage call: BEGIN, COMMIT by commit(), ROLLBACK when left by an exception. In a batch
// (begin_batch), a SAVEPOINT instead: the call is undone alone when it fails, and committed with
// the batch.
class Transaction {
 public:
  Transaction(PgDb& db, Call call) : db_(db), nested_(db.batch_depth > 0) {
    db_.exec(nested_                  ? "SAVEPOINT krill_call"
             : call == Call::Snapshot ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
                                      : "BEGIN");
  }
  ~Transaction() {
    if (done_ || !db_.connected()) return;
    PGresult* r = PQexec(db_.conn, nested_ ? "ROLLBACK TO SAVEPOINT krill_call; "
                                             "RELEASE SAVEPOINT krill_call"
                                           : "ROLLBACK");
    PQclear(r);  // errors ignored: nothing more can be done
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit() {
    if (nested_) {
      db_.exec("RELEASE SAVEPOINT krill_call");
    } else {
      db_.committing = true;
      try {
        db_.exec("COMMIT");
      } catch (...) {
        db_.committing = false;
        throw;
      }
      db_.committing = false;
    }
    done_ = true;
  }

 private:
  PgDb& db_;
  bool nested_;
  bool done_ = false;
};

bool retryable(const PgError& e) {
  return e.sqlstate() == "40P01" || e.sqlstate() == "40001";  // deadlock, serialization failure
}

// Makes `attempt` (one call: its transaction, committed) happen, taking a lost connection up
// again and running it again from its start, unless the connection went while committing a
// Call::Once (the change may have been stored: running it again could store it twice), or inside
// a batch (the batch's earlier calls are gone with it). A deadlock or serialization failure the
// server resolved by aborting the transaction is retried too.
template <class F>
auto with_retries(PgDb& db, Call call, F&& attempt) -> decltype(attempt()) {
  for (int n = 0;; ++n) {
    if (!db.connected()) {
      if (db.batch_depth > 0) {
        db.fail("lost the connection to the server during a batch of changes, none was stored");
      }
      db.reconnect("");
    }
    try {
      return attempt();
    } catch (const ConnectionLost& e) {
      if (db.batch_depth > 0) {
        db.fail(std::string("a batch of changes was lost with the connection, none was stored: ") +
                e.what());
      }
      if (e.during_commit() && call == Call::Once) {
        db.fail(std::string("the connection went while a change was committed; whether it was "
                            "stored is unknown: ") +
                e.what());
      }
      db.reconnect(one_line(e.what()));
    } catch (const PgError& e) {
      if (!retryable(e) || db.batch_depth > 0 || n >= 20) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(1 << std::min(n, 6)));
    }
  }
}

// Runs `body` in one transaction (a savepoint in a batch) and commits it, with_retries.
template <class F>
auto transact(PgDb& db, Call call, F&& body) -> decltype(body()) {
  return with_retries(db, call, [&]() -> decltype(body()) {
    Transaction tx(db, call);
    if constexpr (std::is_void_v<decltype(body())>) {
      body();
      tx.commit();
    } else {
      auto out = body();
      tx.commit();
      return out;
    }
  });
}

std::string no_study(int64_t id) {
  return "no study with id " + std::to_string(id);
}
std::string trial_name(int64_t study_id, int64_t number) {
  return "trial " + std::to_string(number) + " of study with id " + std::to_string(study_id);
}

using Refusals = std::initializer_list<std::pair<const char*, std::string>>;

// The SQLSTATEs a caller expects (a name taken: 23505, a missing study or trial: 23503) become
// InvalidArgument with the caller's words; other errors are left to propagate.
void refuse(const PgDb& db, const PgError& e, Refusals refusals) {
  for (const auto& [state, what] : refusals) {
    if (e.sqlstate() == state) db.invalid(what);
  }
}

// Runs a statement, refusing as `refusals` say.
Result run_or(PgDb& db, Sql id, std::initializer_list<Arg> args, Refusals refusals) {
  try {
    return db.run(id, args);
  } catch (const PgError& e) {
    refuse(db, e, refusals);
    throw;
  }
}

constexpr const char* kUnique = "23505";
constexpr const char* kForeignKey = "23503";

// A call whose statements do not depend on each other's results (a report, a finish): all of
// them in one round trip and one transaction (PgDb::run_together), instead of a round trip each
// and two more for BEGIN and COMMIT; `call` is Repeatable or Lazy. Inside a batch they run one by
// one in its savepoint. Returns the statements' results in order.
std::vector<Result> together(PgDb& db, Call call, const std::vector<Statement>& statements,
                             Refusals refusals) {
  if (db.batch_depth > 0) {
    return transact(db, call, [&] {
      std::vector<Result> out;
      for (const Statement& st : statements) {
        try {
          out.push_back(db.run(st.id, st.args));
        } catch (const PgError& e) {
          refuse(db, e, refusals);
          throw;
        }
      }
      return out;
    });
  }
  return with_retries(db, call, [&] {
    try {
      return db.run_together(statements, call == Call::Lazy);
    } catch (const PgError& e) {
      refuse(db, e, refusals);
      throw;
    }
  });
}

StudyRecord read_study(const PgDb& db, const Result& r, int row) {
  StudyRecord s;
  s.id = r.int64(row, 0);
  s.name = r.text(row, 1);
  try {
    s.direction = hpo::parse_direction(r.text(row, 2));
  } catch (const Error& e) {
    db.fail("study '" + s.name + "': " + e.what());
  }
  s.objective = r.text(row, 3);
  s.space = r.text(row, 4);
  s.sampler = r.text(row, 5);
  s.config = r.text(row, 6);
  s.n_trials = r.int64(row, 7);
  s.created = r.real(row, 8);
  return s;
}

hpo::RunRecord read_run(const Result& r, int row) {
  hpo::RunRecord run;
  run.id = r.text(row, 0);
  run.host = r.text(row, 1);
  run.pid = r.int64(row, 2);
  run.pid_start = r.int64(row, 3);
  run.started = r.real(row, 4);
  run.heartbeat = r.real(row, 5);
  return run;
}

// A parameter's kind and its value as text (see postgres_schema.hpp).
std::pair<const char*, Arg> param_args(const hpo::ParamValue& value) {
  return std::visit(
      [](const auto& v) -> std::pair<const char*, Arg> {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, double>) return {"float", Arg(v)};
        if constexpr (std::is_same_v<T, int64_t>) return {"int", Arg(v)};
        if constexpr (std::is_same_v<T, std::string>) return {"string", Arg(v)};
      },
      value);
}

// Reads a parameter row (name, kind, value at `col`, `col` + 1, `col` + 2) into `params`.
void read_param(const PgDb& db, const Result& r, int row, int col, int64_t study_id, int64_t number,
                hpo::Params& params) {
  std::string name = r.text(row, col);
  const std::string kind = r.text(row, col + 1);
  if (kind == "float") {
    params.emplace(std::move(name), r.real(row, col + 2));
  } else if (kind == "int") {
    params.emplace(std::move(name), r.int64(row, col + 2));
  } else if (kind == "string") {
    params.emplace(std::move(name), r.text(row, col + 2));
  } else {
    db.fail(trial_name(study_id, number) + ": parameter '" + name + "' of unknown kind '" + kind +
            "'");
  }
}

// Inserts a Running trial and its parameters; the caller holds the transaction.
void insert_trial(PgDb& db, int64_t study_id, const TrialRecord& t) {
  run_or(db, kInsertTrial, {study_id, t.number, t.started, int64_t{t.worker}, t.owner, t.requeues},
         {{kUnique, trial_name(study_id, t.number) + " already exists"},
          {kForeignKey, no_study(study_id)}});
  for (const auto& [name, value] : t.params) {
    auto [kind, text] = param_args(value);
    db.run(kInsertParam, {study_id, t.number, name, kind, std::move(text)});
  }
}

}  // namespace

PostgresStorage::PostgresStorage(const std::string& url, PostgresOptions options)
    : location_(hpo::display_location(url)), impl_(std::make_unique<detail::PgDb>()) {
  impl_->url = url;
  impl_->location = location_;
  impl_->options = options;
  impl_->connect();
  migrate();
}

PostgresStorage::~PostgresStorage() = default;

// Looks before touching (another program's database is left as it was), then applies the
// migrations this database lacks, all in one transaction holding the migration lock: processes
// opening a new database at once wait for each other, and the later ones find it migrated.
void PostgresStorage::migrate() {
  std::lock_guard lock(mutex_);
  PgDb& db = *impl_;
  transact(db, Call::Repeatable, [&] {
    Result lock_result(PQexec(
        db.conn, ("SELECT pg_advisory_xact_lock(" + std::to_string(postgres::kMigrationLock) + ")")
                     .c_str()));
    db.check(lock_result.get(), "lock");
    auto query = [&](const std::string& sql) {
      Result r(PQexec(db.conn, sql.c_str()));
      db.check(r.get(), sql);
      return r;
    };
    const Result meta = query(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = 'meta' AND column_name IN ('key', 'value')");
    std::string version = "0";
    if (meta.int64(0, 0) == 2) {
      const Result rows =
          query("SELECT key, value FROM meta WHERE key IN ('program', 'schema_version')");
      bool krill = false;
      version = "(none)";
      for (int i = 0; i < rows.rows(); ++i) {
        if (rows.text(i, 0) == "program") krill = rows.text(i, 1) == "krill";
        if (rows.text(i, 0) == "schema_version") version = rows.text(i, 1);
      }
      if (!krill) db.fail("not a krill study database (its meta table is another program's)");
    } else {
      const Result tables = query(
          "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()");
      if (tables.int64(0, 0) > 0) {
        const int64_t n = tables.int64(0, 0);
        db.fail("not a krill study database: it holds " + std::to_string(n) +
                (n == 1 ? " table" : " tables") +
                " of another program and no krill meta table (give krill a database of its own)");
      }
    }
    int v = -1;
    const auto [end, ec] = std::from_chars(version.data(), version.data() + version.size(), v);
    if (ec != std::errc() || end != version.data() + version.size() || v < 0 ||
        v > kSchemaVersion) {
      db.fail("krill database schema version " + version + ", this krill reads version " +
              std::to_string(kSchemaVersion) + " and older");
    }
    for (; v < kSchemaVersion; ++v) {
      query(postgres::kMigrations[static_cast<size_t>(v)]);
      query("UPDATE meta SET value = '" + std::to_string(v + 1) + "' WHERE key = 'schema_version'");
    }
  });
}

std::optional<StudyRecord> PostgresStorage::find_study(const std::string& name) {
  std::lock_guard lock(mutex_);
  return transact(*impl_, Call::Repeatable, [&]() -> std::optional<StudyRecord> {
    const Result r = impl_->run(kFindStudy, {name});
    if (r.rows() == 0) return std::nullopt;
    return read_study(*impl_, r, 0);
  });
}

std::vector<StudyRecord> PostgresStorage::studies() {
  std::lock_guard lock(mutex_);
  return transact(*impl_, Call::Repeatable, [&] {
    const Result r = impl_->run(kListStudies, {});
    std::vector<StudyRecord> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(read_study(*impl_, r, i));
    return out;
  });
}

int64_t PostgresStorage::create_study(const StudyRecord& study) {
  std::lock_guard lock(mutex_);
  return transact(*impl_, Call::Once, [&] {
    const Result r =
        run_or(*impl_, kInsertStudy,
               {study.name, hpo::to_string(study.direction), study.objective, study.space,
                study.sampler, study.config, study.n_trials, study.created},
               {{kUnique, "study '" + study.name + "' already exists"}});
    return r.int64(0, 0);
  });
}

void PostgresStorage::set_trial_budget(int64_t study_id, int64_t n_trials) {
  std::lock_guard lock(mutex_);
  transact(*impl_, Call::Repeatable, [&] {
    if (impl_->run(kSetBudget, {study_id, n_trials}).changes() == 0) {
      impl_->invalid(no_study(study_id));
    }
  });
}

void PostgresStorage::rename_study(int64_t study_id, const std::string& name) {
  std::lock_guard lock(mutex_);
  transact(*impl_, Call::Repeatable, [&] {
    const Result r = run_or(*impl_, kRenameStudy, {study_id, name},
                            {{kUnique, "study '" + name + "' already exists"}});
    if (r.changes() == 0) impl_->invalid(no_study(study_id));
  });
}

void PostgresStorage::delete_study(int64_t study_id) {
  std::lock_guard lock(mutex_);
  transact(*impl_, Call::Once, [&] {
    impl_->run(kDeleteStudyTrials, {study_id});
    impl_->run(kDeleteStudyRuns, {study_id});
    if (impl_->run(kDeleteStudy, {study_id}).changes() == 0) impl_->invalid(no_study(study_id));
  });
}

void PostgresStorage::add_run(int64_t study_id, const hpo::RunRecord& run) {
  std::lock_guard lock(mutex_);
  transact(*impl_, Call::Once, [&] {
    run_or(*impl_, kInsertRun,
           {run.id, study_id, run.host, run.pid, run.pid_start, run.started, run.heartbeat},
           {{kUnique, "run " + run.id + " already exists"}, {kForeignKey, no_study(study_id)}});
  });
}

bool PostgresStorage::heartbeat(const std::string& run_id, double now) {
  std::lock_guard lock(mutex_);
  return together(*impl_, Call::Lazy, {{kHeartbeat, {run_id, now}}}, {}).at(0).changes() > 0;
}

void PostgresStorage::remove_run(const std::string& run_id) {
  std::lock_guard lock(mutex_);
  transact(*impl_, Call::Repeatable, [&] { impl_->run(kDeleteRun, {run_id}); });
}

std::vector<hpo::RunRecord> PostgresStorage::runs(int64_t study_id) {
  std::lock_guard lock(mutex_);
  return transact(*impl_, Call::Repeatable, [&] {
    const Result r = impl_->run(kSelectRuns, {study_id});
    std::vector<hpo::RunRecord> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(read_run(r, i));
    return out;
  });
}

hpo::Claim PostgresStorage::claim_trial(int64_t study_id, const hpo::ClaimRequest& request) {
  std::lock_guard lock(mutex_);
  PgDb& db = *impl_;
  return transact(db, Call::Once, [&] {
    db.run(kClaimLockStudy, {static_cast<int64_t>(postgres::kClaimLock + study_id)});
    hpo::Claim claim;
    {  // Runs that are gone lose their leases.
      const Result r = db.run(kSelectRuns, {study_id});
      for (int i = 0; i < r.rows(); ++i) {
        hpo::RunRecord run = read_run(r, i);
        if (run.id == request.owner || !request.gone || !request.gone(run)) continue;
        db.run(kDeleteRun, {run.id});
        claim.gone.push_back(std::move(run));
      }
    }
    TrialRecord t;
    t.owner = request.owner;
    t.worker = request.worker;
    t.started = request.started;
    // The lowest orphan, re-queued with its stored parameters; its curve and decisions start
    // afresh, or are kept (keep_history). Its old owner may finish it between the two statements
    // (finishing takes no claim lock): then the change touches no row, and the next orphan is
    // looked for.
    for (;;) {
      const Result orphan = db.run(kSelectOrphan, {study_id});
      if (orphan.rows() == 0) break;
      t.number = orphan.int64(0, 0);
      t.requeues = orphan.int64(0, 1) + 1;
      const std::string old_owner = orphan.text(0, 2);
      t.params.clear();
      {
        const Result p = db.run(kSelectTrialParams, {study_id, t.number});
        for (int i = 0; i < p.rows(); ++i) read_param(db, p, i, 0, study_id, t.number, t.params);
      }
      bool taken = false;
      if (request.keep_history) {
        taken = db.run(kRequeueOrphan, {study_id, t.number, old_owner, t.owner, int64_t{t.worker},
                                        t.started, t.requeues})
                    .changes() == 1;
      } else if (db.run(kDeleteOrphan, {study_id, t.number, old_owner}).changes() == 1) {
        insert_trial(db, study_id, t);
        taken = true;
      }
      if (taken) {
        claim.requeued = true;
        claim.trial = std::move(t);
        break;
      }
    }
    const Result counts = db.run(kCountTrials, {study_id});
    if (counts.rows() == 0) db.invalid(no_study(study_id));
    int64_t total = counts.int64(0, 0);
    int64_t running = counts.int64(0, 1);
    const int64_t next = counts.int64(0, 2);
    if (!claim.trial && total < request.budget) {
      std::optional<hpo::Params> params = request.propose ? request.propose(next) : std::nullopt;
      if (params) {
        t.number = next;
        t.requeues = 0;
        t.params = std::move(*params);
        insert_trial(db, study_id, t);
        claim.trial = std::move(t);
        ++total;
        ++running;
      } else {
        claim.exhausted = true;
      }
    }
    claim.finished = total - running;
    claim.running = running;
    return claim;
  });
}

void PostgresStorage::start_trial(int64_t study_id, const TrialRecord& trial) {
  std::lock_guard lock(mutex_);
  transact(*impl_, Call::Once, [&] { insert_trial(*impl_, study_id, trial); });
}

// After a call's owner-guarded statements wrote nothing (the first changed no row):
// InvalidArgument when there is no such trial, else LeaseLost (another run owns it).
[[noreturn]] void PostgresStorage::refuse_unowned(int64_t study_id, int64_t number,
                                                  const std::string& owner) {
  PgDb& db = *impl_;
  const Result stored = transact(db, Call::Repeatable, [&] {
    return db.run(kSelectOwner, {study_id, number});
  });
  if (stored.rows() == 0) db.invalid("no " + trial_name(study_id, number));
  throw hpo::LeaseLost(location_ + ": " + trial_name(study_id, number) + " was re-queued to run " +
                       stored.text(0, 0) + " (this run, " + owner + ", was taken for gone)");
}

void PostgresStorage::add_report(int64_t study_id, int64_t number, const Report& report,
                                 const std::string& owner) {
  std::lock_guard lock(mutex_);
  std::vector<Statement> statements;
  statements.push_back({kUpsertReport, {study_id, number, report.step, report.value, owner}});
  for (const auto& [name, value] : report.metrics) {
    statements.push_back({kUpsertMetric, {study_id, number, report.step, name, value, owner}});
  }
  const auto results = together(*impl_, Call::Lazy, statements, {});
  if (results.at(0).changes() == 0) refuse_unowned(study_id, number, owner);
}

void PostgresStorage::add_decision(int64_t study_id, int64_t number,
                                   const hpo::DecisionRecord& decision, const std::string& owner) {
  std::lock_guard lock(mutex_);
  const bool exploit = decision.action == hpo::Action::Exploit;
  std::vector<Statement> statements;
  statements.push_back(
      {kUpsertDecision,
       {study_id, number, decision.step, hpo::to_string(decision.action), decision.reason,
        decision.prediction, exploit ? Arg(decision.donor) : Arg(std::nullopt),
        exploit ? Arg(decision.donor_step) : Arg(std::nullopt), owner}});
  statements.push_back({kDeleteDecisionParams, {study_id, number, decision.step, owner}});
  if (exploit) {
    for (const auto& [name, value] : decision.params) {
      auto [kind, text] = param_args(value);
      statements.push_back({kInsertDecisionParam,
                            {study_id, number, decision.step, name, kind, std::move(text), owner}});
    }
  }
  const auto results = together(*impl_, Call::Lazy, statements, {});
  if (results.at(0).changes() == 0) refuse_unowned(study_id, number, owner);
}

// The state, then the attrs, in one round trip: the attrs' statements only touch a trial that the
// finishing run owns (as the state's does), so a lost lease changes nothing.
void PostgresStorage::finish_trial(int64_t study_id, const TrialRecord& trial) {
  std::lock_guard lock(mutex_);
  PgDb& db = *impl_;
  const std::optional<double> value =
      trial.value && !std::isnan(*trial.value) ? trial.value : std::nullopt;
  std::vector<Statement> statements;
  statements.push_back({kFinishTrial,
                        {study_id, trial.number, hpo::to_string(trial.state), value, trial.error,
                         trial.finished, trial.owner}});
  statements.push_back({kDeleteOwnedAttrs, {study_id, trial.number, trial.owner}});
  for (const auto& [key, v] : trial.attrs) {
    statements.push_back({kInsertOwnedAttr, {study_id, trial.number, key, v, trial.owner}});
  }
  const auto results = together(db, Call::Repeatable, statements, {});
  if (results.at(0).changes() == 0) refuse_unowned(study_id, trial.number, trial.owner);
}

std::vector<TrialRecord> PostgresStorage::trials(int64_t study_id) {
  std::lock_guard lock(mutex_);
  PgDb& db = *impl_;
  return transact(db, Call::Snapshot, [&] {  // one snapshot for the seven queries
    std::vector<TrialRecord> out;
    {
      const Result r = db.run(kSelectTrials, {study_id});
      out.reserve(static_cast<size_t>(r.rows()));
      for (int i = 0; i < r.rows(); ++i) {
        TrialRecord& t = out.emplace_back();
        t.number = r.int64(i, 0);
        try {
          t.state = hpo::parse_trial_state(r.text(i, 1));
        } catch (const Error& e) {
          db.fail(trial_name(study_id, t.number) + ": " + e.what());
        }
        if (!r.null(i, 2)) t.value = r.real(i, 2);
        t.error = r.text(i, 3);
        t.started = r.null(i, 4) ? 0 : r.real(i, 4);
        t.finished = r.null(i, 5) ? 0 : r.real(i, 5);
        t.worker = static_cast<int>(r.int64(i, 6));
        t.owner = r.text(i, 7);
        t.requeues = r.int64(i, 8);
      }
    }
    if (out.empty()) return out;
    {
      const Result r = db.run(kSelectParams, {study_id});
      TrialCursor cursor(out);
      for (int i = 0; i < r.rows(); ++i) {
        if (TrialRecord* t = cursor.find(r.int64(i, 0))) {
          read_param(db, r, i, 1, study_id, t->number, t->params);
        }
      }
    }
    {
      const Result r = db.run(kSelectAttrs, {study_id});
      TrialCursor cursor(out);
      for (int i = 0; i < r.rows(); ++i) {
        if (TrialRecord* t = cursor.find(r.int64(i, 0))) t->attrs[r.text(i, 1)] = r.real(i, 2);
      }
    }
    {
      const Result r = db.run(kSelectReports, {study_id});
      TrialCursor cursor(out);
      for (int i = 0; i < r.rows(); ++i) {
        if (TrialRecord* t = cursor.find(r.int64(i, 0))) {
          t->reports.push_back({r.int64(i, 1), r.real(i, 2), {}});
        }
      }
    }
    {
      const Result r = db.run(kSelectDecisions, {study_id});
      TrialCursor cursor(out);
      for (int i = 0; i < r.rows(); ++i) {
        TrialRecord* t = cursor.find(r.int64(i, 0));
        if (!t) continue;
        hpo::DecisionRecord d;
        d.step = r.int64(i, 1);
        try {
          d.action = hpo::parse_action(r.text(i, 2));
        } catch (const Error& e) {
          db.fail(trial_name(study_id, t->number) + ": " + e.what());
        }
        d.reason = r.text(i, 3);
        if (!r.null(i, 4)) d.prediction = r.real(i, 4);
        if (!r.null(i, 5)) d.donor = r.int64(i, 5);
        if (!r.null(i, 6)) d.donor_step = r.int64(i, 6);
        t->decisions.push_back(std::move(d));
      }
    }
    {
      const Result r = db.run(kSelectDecisionParams, {study_id});
      TrialCursor cursor(out);
      for (int i = 0; i < r.rows(); ++i) {
        TrialRecord* t = cursor.find(r.int64(i, 0));
        if (!t) continue;
        const int64_t step = r.int64(i, 1);
        auto it =
            std::lower_bound(t->decisions.begin(), t->decisions.end(), step,
                             [](const hpo::DecisionRecord& d, int64_t s) { return d.step < s; });
        if (it != t->decisions.end() && it->step == step) {
          read_param(db, r, i, 2, study_id, t->number, it->params);
        }
      }
    }
    {
      const Result r = db.run(kSelectMetrics, {study_id});
      TrialCursor cursor(out);
      for (int i = 0; i < r.rows(); ++i) {
        TrialRecord* t = cursor.find(r.int64(i, 0));
        if (!t) continue;
        const int64_t step = r.int64(i, 1);
        auto it = std::lower_bound(t->reports.begin(), t->reports.end(), step,
                                   [](const Report& rep, int64_t s) { return rep.step < s; });
        if (it != t->reports.end() && it->step == step) it->metrics[r.text(i, 2)] = r.real(i, 3);
      }
    }
    return out;
  });
}

void PostgresStorage::begin_batch() {
  std::lock_guard lock(mutex_);
  PgDb& db = *impl_;
  if (db.batch_depth == 0) {
    if (!db.connected()) db.reconnect("");
    db.exec("BEGIN");
  }
  ++db.batch_depth;
}

void PostgresStorage::commit_batch() {
  std::lock_guard lock(mutex_);
  PgDb& db = *impl_;
  if (db.batch_depth == 0) db.invalid("commit without a batch");
  if (--db.batch_depth > 0) return;
  try {
    db.exec("COMMIT");
  } catch (const ConnectionLost& e) {
    db.fail(std::string("the connection went while a batch of changes was committed; whether it "
                        "was stored is unknown: ") +
            e.what());
  } catch (...) {
    if (db.connected()) PQclear(PQexec(db.conn, "ROLLBACK"));
    throw;
  }
}

void PostgresStorage::end_batch() noexcept {
  std::lock_guard lock(mutex_);
  PgDb& db = *impl_;
  if (db.batch_depth == 0) return;
  if (--db.batch_depth == 0 && db.connected()) PQclear(PQexec(db.conn, "ROLLBACK"));
}

}  // namespace krill::store
