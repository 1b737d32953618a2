// The PostgreSQL test server and its helpers (tests/common/pg_test_server.hpp,
// scripts/pg-test-server.sh): the fixture's server answers, temporary databases are distinct and
// dropped, a private server restarts, TCP wants the password. Skipped, saying why, without a
// server (no postgresql package, no libpq, the program run outside ctest).
#include "common/pg_test_server.hpp"

#include <gtest/gtest.h>

#include <string>

namespace krill::testing {
namespace {

#ifdef KRILL_HAVE_POSTGRES

bool database_exists(const PgServer& server, const std::string& name) {
  PgConnection c(server.url("postgres"));
  return c.scalar("SELECT count(*) FROM pg_database WHERE datname = '" + name + "'") == "1";
}

TEST(PgTestServer, FixtureServerAnswers) {
  KRILL_REQUIRE_PG(server);
  EXPECT_EQ(server.user, "krill");
  EXPECT_GT(server.port, 0);
  PgConnection c(server.url("postgres"));
  EXPECT_EQ(c.scalar("SELECT 1"), "1");
  EXPECT_EQ(c.scalar("SHOW fsync"), "off");
  EXPECT_GE(std::stoi(*c.scalar("SHOW max_connections")), 100);
  // Over TCP with the password, too.
  PgConnection tcp(server.tcp_url("postgres", server.password));
  EXPECT_EQ(tcp.scalar("SELECT current_user"), "krill");
}

TEST(PgTestServer, TempDatabasesAreDistinctAndDropped) {
  KRILL_REQUIRE_PG(server);
  std::string a_name, b_name;
  {
    PgTempDb a(server), b(server);
    a_name = a.name();
    b_name = b.name();
    EXPECT_NE(a_name, b_name);
    EXPECT_TRUE(database_exists(server, a_name));
    EXPECT_TRUE(database_exists(server, b_name));
    PgConnection ca(a.url());
    EXPECT_EQ(ca.scalar("SELECT current_database()"), a_name);
    ca.exec("CREATE TABLE t (x int); INSERT INTO t VALUES (7)");
    PgConnection cb(b.tcp_url());
    EXPECT_EQ(cb.scalar("SELECT current_database()"), b_name);
    EXPECT_THROW(cb.exec("SELECT x FROM t"), std::runtime_error);  // a's table is not in b
    // ca and cb stay open: the drop forces them out.
  }
  EXPECT_FALSE(database_exists(server, a_name));
  EXPECT_FALSE(database_exists(server, b_name));
}

TEST(PgTestServer, WrongPasswordOverTcpIsRefused) {
  KRILL_REQUIRE_PG(server);
  try {
    PgConnection c(server.tcp_url("postgres", server.password + "x"));
    FAIL() << "connected with a wrong password";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("password authentication failed"), std::string::npos)
        << e.what();
  }
}

TEST(PgTestServer, PrivateServerRestartsOnTheSamePort) {
  KRILL_REQUIRE_PG_PRIVATE(priv);
  const PgServer& server = priv->server();
  PgTempDb db(server);
  {
    PgConnection c(db.url());
    c.exec("CREATE TABLE t (x int); INSERT INTO t VALUES (42)");
  }
  PgConnection before(db.url());
  EXPECT_EQ(before.scalar("SELECT 1"), "1");
  priv->restart();
  // The old connection was cut by the restart; a new one finds the data.
  EXPECT_THROW(before.scalar("SELECT 1"), std::runtime_error);
  PgConnection after(db.tcp_url());
  EXPECT_EQ(after.scalar("SELECT x FROM t"), "42");
}

#endif  // KRILL_HAVE_POSTGRES

// Without a server the tests above skip; this one says why, so a run shows the reason once.
TEST(PgTestServer, ReportsWhetherTheServerRuns) {
  std::string why;
  auto server = pg_test_server(&why);
  if (!server) GTEST_SKIP() << why;
  EXPECT_FALSE(server->host.empty());
  EXPECT_TRUE(why.empty());
}

}  // namespace
}  // namespace krill::testing
