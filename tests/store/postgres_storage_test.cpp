// What PostgresStorage does beyond the contract suite (storage_test.cpp runs that against it):
// several connections (processes on different hosts) claiming from one study, the schema and its
// refusals, connection errors as one line without the password, a password from PGPASSFILE, and
// a server that restarts under a study. Each test skips, saying why, without a server.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <latch>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/pg_test_server.hpp"
#include "core/error.hpp"
#include "store/open.hpp"
#include "store_test_util.hpp"

#ifdef KRILL_HAVE_POSTGRES
#include "store/postgres_storage.hpp"
#endif

namespace krill::store {
namespace {

#ifdef KRILL_HAVE_POSTGRES

using hpo::TrialRecord;
using hpo::TrialState;
using testing::claim_request;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::sample_run;
using testing::sample_study;

// The message of the DataError that opening `url` throws ("" when it opens).
std::string open_error(const std::string& url, PostgresOptions options = {}) {
  try {
    PostgresStorage storage(url, options);
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

// Processes on several hosts are several connections: their claims take turns, every number is
// handed out once, and the budget holds.
TEST(PostgresStorage, ClaimsOfManyConnectionsNeverShareANumber) {
  KRILL_REQUIRE_PG(server);
  krill::testing::PgTempDb db(server);
  constexpr int kConnections = 6, kBudget = 120;
  int64_t id = 0;
  {
    PostgresStorage first(db.url());
    id = first.create_study(sample_study("s"));
  }
  std::vector<std::vector<int64_t>> taken(kConnections);
  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  // Every connection made before any claims: one that connected late (a loaded machine) found
  // every trial taken, and "one connection took every trial" failed.
  std::latch connected(kConnections);
  for (int c = 0; c < kConnections; ++c) {
    threads.emplace_back([&, c] {
      bool arrived = false;
      try {
        PostgresStorage mine(db.url());
        const std::string run = "run-" + std::to_string(c);
        mine.add_run(id, sample_run(run));
        arrived = true;
        connected.arrive_and_wait();
        for (;;) {
          const hpo::Claim claim = mine.claim_trial(id, claim_request(run, kBudget));
          if (!claim.trial) break;
          taken[static_cast<size_t>(c)].push_back(claim.trial->number);
          TrialRecord t = *claim.trial;
          t.state = TrialState::Completed;
          t.value = 1.0;
          mine.finish_trial(id, t);
        }
      } catch (const std::exception& e) {
        if (!arrived) connected.count_down();  // the others do not wait for this one
        ADD_FAILURE() << e.what();
        ++errors;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  std::set<int64_t> numbers;
  size_t total = 0;
  int busy = 0;
  for (const auto& v : taken) {
    numbers.insert(v.begin(), v.end());
    total += v.size();
    busy += !v.empty();
  }
  EXPECT_EQ(total, static_cast<size_t>(kBudget)) << "a number was handed out twice";
  ASSERT_EQ(numbers.size(), static_cast<size_t>(kBudget));
  EXPECT_EQ(*numbers.rbegin(), kBudget - 1);
  EXPECT_GE(busy, 2) << "one connection took every trial";
  PostgresStorage check(db.url());
  const auto trials = check.trials(id);
  ASSERT_EQ(trials.size(), static_cast<size_t>(kBudget));
  for (const auto& t : trials) EXPECT_EQ(t.state, TrialState::Completed);
}

// Processes that open a new database at once: one creates the schema, the others wait for it
// and find it made.
TEST(PostgresStorage, ConnectionsOpeningANewDatabaseAtOnceAllSucceed) {
  KRILL_REQUIRE_PG(server);
  krill::testing::PgTempDb db(server);
  std::vector<std::thread> threads;
  std::atomic<int> opened{0};
  for (int i = 0; i < 5; ++i) {
    threads.emplace_back([&] {
      try {
        PostgresStorage s(db.url());
        s.studies();
        ++opened;
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(opened.load(), 5);
  krill::testing::PgConnection c(db.url());
  EXPECT_EQ(c.scalar("SELECT value FROM meta WHERE key = 'schema_version'"), "1");
  EXPECT_EQ(c.scalar("SELECT value FROM meta WHERE key = 'program'"), "krill");
}

TEST(PostgresStorage, RefusesAnotherProgramsDatabaseAndTouchesNothing) {
  KRILL_REQUIRE_PG(server);
  krill::testing::PgTempDb db(server);
  krill::testing::PgConnection c(db.url());
  c.exec("CREATE TABLE users (id int PRIMARY KEY, name text)");
  const std::string e = open_error(db.url());
  EXPECT_THAT(e, HasSubstr(db.url() + ": not a krill study database"));
  EXPECT_THAT(e, HasSubstr("1 table of another program"));
  EXPECT_EQ(c.scalar("SELECT count(*) FROM information_schema.tables WHERE table_schema = "
                     "current_schema()"),
            "1")
      << "krill created tables in another program's database";

  krill::testing::PgTempDb other(server);  // a meta table of another program's
  krill::testing::PgConnection o(other.url());
  o.exec("CREATE TABLE meta (key text, value text); INSERT INTO meta VALUES ('program', 'x')");
  EXPECT_THAT(open_error(other.url()), HasSubstr("not a krill study database"));
}

TEST(PostgresStorage, RefusesANewerSchemaVersion) {
  KRILL_REQUIRE_PG(server);
  krill::testing::PgTempDb db(server);
  { PostgresStorage s(db.url()); }
  krill::testing::PgConnection(db.url()).exec(
      "UPDATE meta SET value = '99' WHERE key = 'schema_version'");
  EXPECT_THAT(open_error(db.url()),
              HasSubstr("krill database schema version 99, this krill reads version 1 and older"));
}

// Every connection error is one line naming the URL with its password masked, and libpq's
// reason; the password itself never appears.
TEST(PostgresStorage, ConnectionErrorsAreOneLineWithoutThePassword) {
  KRILL_REQUIRE_PG(server);
  const std::string secret = "Sw0rdf1sh-" + std::to_string(::getpid());
  auto check = [&](const std::string& url, const std::string& reason) {
    SCOPED_TRACE(url);
    const std::string e = open_error(url, {.reconnect_seconds = 0, .connect_timeout = 5});
    EXPECT_THAT(e, HasSubstr(hpo::display_location(url) + ": cannot connect: "));
    EXPECT_THAT(e, HasSubstr(reason));
    EXPECT_THAT(e, Not(HasSubstr(secret)));
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
    EXPECT_THAT(e, Not(HasSubstr("FATAL")));
  };
  const std::string port = std::to_string(server.port);
  check("postgresql://krill:" + secret + "@127.0.0.1:" + port + "/postgres",
        "password authentication failed for user \"krill\"");
  check("postgresql://krill:" + secret + "@no-such-host.invalid:" + port + "/postgres",
        "could not translate host name \"no-such-host.invalid\"");
  // Port 1 on this host: nothing listens there.
  check("postgresql://krill:" + secret + "@127.0.0.1:1/postgres", "Connection refused");
  check(server.url("no_such_database_" + std::to_string(::getpid())), "does not exist");
  // Through open_storage too (what every command uses).
  try {
    open_storage("postgresql://krill:" + secret + "@127.0.0.1:1/postgres");
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("postgresql://krill:***@127.0.0.1:1/postgres"));
    EXPECT_THAT(e.what(), Not(HasSubstr(secret)));
  }
}

// libpq's password file: a URL without a password logs in with the one PGPASSFILE holds.
TEST(PostgresStorage, APasswordComesFromPgpassfile) {
  KRILL_REQUIRE_PG(server);
  krill::testing::PgTempDb db(server);
  const std::string url =
      "postgresql://krill@127.0.0.1:" + std::to_string(server.port) + "/" + db.name();
  const auto file =
      std::filesystem::temp_directory_path() / ("krill_pgpass_" + std::to_string(::getpid()));
  std::ofstream(file) << "127.0.0.1:" << server.port << ":*:krill:" << server.password << "\n";
  std::filesystem::permissions(
      file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  ::setenv("PGPASSFILE", file.c_str(), 1);
  std::string error;
  try {
    PostgresStorage s(url);
    s.create_study(sample_study("s"));
    EXPECT_EQ(s.studies().size(), 1u);
  } catch (const std::exception& e) {
    error = e.what();
  }
  ::unsetenv("PGPASSFILE");
  std::filesystem::remove(file);
  EXPECT_EQ(error, "");
  // Without it the same URL is refused: the password came from the file.
  EXPECT_THAT(open_error(url, {.reconnect_seconds = 0}), HasSubstr("password"));
}

// A server restart under a study: the storage connects again and the calls go on; nothing
// committed before is lost.
TEST(PostgresStorage, AServerRestartIsSurvived) {
  KRILL_REQUIRE_PG_PRIVATE(priv);
  krill::testing::PgTempDb db(priv->server());
  PostgresStorage s(db.url());
  const int64_t id = s.create_study(sample_study("s"));
  s.add_run(id, sample_run("me"));
  auto first = s.claim_trial(id, claim_request("me", 4));
  ASSERT_TRUE(first.trial);
  s.add_report(id, 0, {1, 0.5});

  priv->restart();  // cuts every connection

  s.add_report(id, 0, {2, 0.25});  // reconnects
  TrialRecord t = *first.trial;
  t.state = TrialState::Completed;
  t.value = 0.25;
  s.finish_trial(id, t);
  priv->restart();
  const auto next = s.claim_trial(id, claim_request("me", 4));
  ASSERT_TRUE(next.trial);
  EXPECT_EQ(next.trial->number, 1);
  EXPECT_EQ(next.finished, 1);
  const auto trials = s.trials(id);
  ASSERT_EQ(trials.size(), 2u);
  EXPECT_EQ(trials[0].state, TrialState::Completed);
  EXPECT_EQ(trials[0].reports.size(), 2u);
  EXPECT_TRUE(s.heartbeat("me", 1e9));
}

// A server that stays away longer than the storage waits: the call fails with one clear line.
TEST(PostgresStorage, AServerThatStaysAwayFailsTheCallClearly) {
  KRILL_REQUIRE_PG_PRIVATE(priv);
  std::string url;
  std::unique_ptr<PostgresStorage> s;
  {
    krill::testing::PgTempDb db(priv->server());
    url = db.url();
    s = std::make_unique<PostgresStorage>(url, PostgresOptions{.reconnect_seconds = 1});
    s->create_study(sample_study("s"));
    // The database is dropped (WITH FORCE cuts this connection): as good as a server gone.
  }
  const auto start = std::chrono::steady_clock::now();
  try {
    s->studies();
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr(url + ": lost the connection to the server"));
    EXPECT_THAT(e.what(), HasSubstr("could not connect again for 1 s"));
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
}

#else

// Without libpq a server's URL is refused with a line that says so (never taken for a file).
TEST(PostgresStorage, ABuildWithoutLibpqSaysSo) {
  EXPECT_FALSE(has_postgres());
  try {
    open_storage("postgresql://me:secret@host/db");
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_STREQ(e.what(),
                 "postgresql://me:***@host/db: this krill was built without PostgreSQL (libpq); "
                 "install libpq-dev (scripts/install-deps.sh) and build it again");
  }
}

#endif  // KRILL_HAVE_POSTGRES

}  // namespace
}  // namespace krill::store
