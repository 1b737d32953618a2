#include "hpo/storage.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "hpo_test_util.hpp"

namespace krill::hpo {
namespace {

using testing::error_of;
using ::testing::HasSubstr;

TEST(Direction, NamesRoundTrip) {
  EXPECT_EQ(to_string(Direction::Minimize), "minimize");
  EXPECT_EQ(to_string(Direction::Maximize), "maximize");
  EXPECT_EQ(parse_direction("minimize"), Direction::Minimize);
  EXPECT_EQ(parse_direction("maximize"), Direction::Maximize);
}

TEST(Direction, UnknownNamesAreRefused) {
  for (const char* bad : {"", "max", "Maximize", "minimise"}) {
    const std::string msg = error_of([&] { parse_direction(bad); });
    std::string quoted = "'";
    quoted += bad;
    EXPECT_THAT(msg, HasSubstr(quoted + "'"));
    EXPECT_THAT(msg, HasSubstr("minimize or maximize"));
  }
}

}  // namespace
}  // namespace krill::hpo

namespace krill::hpo {
namespace {

TEST(StorageLocation, ServerUrlsAreRecognised) {
  EXPECT_TRUE(is_server_url("postgresql://me@host/db"));
  EXPECT_TRUE(is_server_url("postgres://host"));
  EXPECT_TRUE(is_server_url("PostgreSQL://host/db"));
  EXPECT_FALSE(is_server_url("study.db"));
  EXPECT_FALSE(is_server_url("sqlite:///study.db"));
  EXPECT_FALSE(is_server_url(":memory:"));
  EXPECT_FALSE(is_server_url("postgresql:/host"));
}

TEST(StorageLocation, PasswordsAreMasked) {
  EXPECT_EQ(display_location("postgresql://me:s3cr%40t@db.example:5433/lab"),
            "postgresql://me:***@db.example:5433/lab");
  // '@' may appear in the password itself when unencoded: the last '@' before the path ends it.
  EXPECT_EQ(display_location("postgresql://me:p@ss@host/db"), "postgresql://me:***@host/db");
  EXPECT_EQ(display_location("postgresql://host/db?user=me&password=hunter2&sslmode=require"),
            "postgresql://host/db?user=me&password=***&sslmode=require");
  EXPECT_EQ(display_location("postgresql://me:pw@host/db?password=pw2"),
            "postgresql://me:***@host/db?password=***");
  // Nothing to mask.
  EXPECT_EQ(display_location("postgresql://me@host:5432/db"), "postgresql://me@host:5432/db");
  EXPECT_EQ(display_location("postgresql://[::1]:5432/db"), "postgresql://[::1]:5432/db");
  EXPECT_EQ(display_location("runs/study.db"), "runs/study.db");
  EXPECT_EQ(display_location("weird:name@file.db"), "weird:name@file.db");
  // Any URL, also one krill refuses: the message that refuses it shows it masked.
  EXPECT_EQ(display_location("mysql://me:pw@host/db"), "mysql://me:***@host/db");
  EXPECT_EQ(display_location("sqlite:///runs/s.db"), "sqlite:///runs/s.db");
}

TEST(StorageLocation, DatabaseNames) {
  EXPECT_EQ(url_database("postgresql://me:pw@host:5433/lab?sslmode=require"), "lab");
  EXPECT_EQ(url_database("postgresql://host/my%20lab"), "my lab");
  EXPECT_EQ(url_database("postgresql://host?dbname=lab&user=me"), "lab");
  EXPECT_EQ(url_database("postgresql://me:pw@host"), "me");  // libpq's default: the user's name
  EXPECT_EQ(url_database("postgresql://host"), "");
  EXPECT_EQ(url_database("study.db"), "");
}

}  // namespace
}  // namespace krill::hpo
