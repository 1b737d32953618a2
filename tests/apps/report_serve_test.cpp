// `krill report --serve` as a user runs it: the page, /data.json and 404s over real HTTP; a trial
// written into the database while the server runs appears on the next request; a database that
// disappears or is corrupted is an error response, and the server goes on serving; a missing
// database or a port in use is refused before serving.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "apps/cli_util.hpp"
#include "apps/report_serve_util.hpp"
#include "hpo/search_space.hpp"
#include "report/json_reader.hpp"
#include "store/open.hpp"

namespace {

namespace fs = std::filesystem;
using krill::testing::http_get;
using krill::testing::HttpResponse;
using krill::testing::Json;
using krill::testing::Krill;
using krill::testing::parse_json;
using ::testing::HasSubstr;
using ::testing::Not;

// Every use of the Storage interface in this file, in one place (the interface is changing):
// creates the study "live" in `db` when it is absent; then starts trial `number` when `start`,
// and finishes it as completed with `value` when given.
void write_trial(const fs::path& db, int64_t number, std::optional<double> value,
                 bool start = true) {
  auto storage = krill::store::open_storage(db);
  int64_t id = -1;
  if (auto study = storage->find_study("live")) {
    id = study->id;
  } else {
    krill::hpo::StudyRecord s;
    s.name = "live";
    s.objective = "val_accuracy";
    s.space = krill::hpo::SearchSpace{{"lr", krill::hpo::FloatDim{1e-4, 0.1, true}}}.fingerprint();
    s.sampler = "random(seed=1)";
    s.n_trials = 10;
    s.created = 1000;
    id = storage->create_study(s);
  }
  krill::hpo::TrialRecord t;
  t.number = number;
  t.params = {{"lr", 0.01 * static_cast<double>(number + 1)}};
  t.started = 1000.0 + static_cast<double>(number);
  t.worker = 0;
  if (start) storage->start_trial(id, t);
  if (value) {
    t.state = krill::hpo::TrialState::Completed;
    t.value = value;
    t.finished = t.started + 5;
    storage->finish_trial(id, t);
  }
}

// The numbers and states of the trials in /data.json.
std::vector<std::string> trials_of(const HttpResponse& r) {
  std::vector<std::string> out;
  const Json json = parse_json(r.body);
  for (const Json& t : json["trials"].array) {
    out.push_back(std::to_string(static_cast<int>(t["number"].number)) + " " + t["state"].string);
  }
  return out;
}

// A listening TCP socket on 127.0.0.1 and some free port, held by the test.
class Listener {
 public:
  Listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::listen(fd_, 4) == 0 &&
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port_ = ntohs(addr.sin_port);
    }
  }
  ~Listener() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = -1;
};

class ReportServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = krill::testing::fresh_test_folder("krill_serve_test");
    db_ = dir_ / "live.db";
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  fs::path db_;
};

TEST_F(ReportServeTest, ServesThePageTheDataAnd404ForAnythingElse) {
  write_trial(db_, 0, 0.5);
  Krill server({db_.string(), "--serve", "--port", "0", "--refresh", "7"});
  const int port = server.port();
  ASSERT_GT(port, 0) << server.output();
  EXPECT_THAT(server.output(), HasSubstr("study 'live'"));

  const HttpResponse page = http_get(port, "/");
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_THAT(page.headers, HasSubstr("Content-Type: text/html"));
  EXPECT_TRUE(page.body.starts_with("<!DOCTYPE html>"));
  EXPECT_THAT(page.body, HasSubstr(R"({"refresh_seconds":7,"data_url":"data.json"})"));

  const HttpResponse data = http_get(port, "/data.json");
  ASSERT_EQ(data.status, 200) << data.body;
  EXPECT_THAT(data.headers, HasSubstr("Content-Type: application/json"));
  EXPECT_THAT(data.headers, HasSubstr("Cache-Control: no-store"));
  EXPECT_EQ(parse_json(data.body)["study"]["name"].string, "live");
  EXPECT_EQ(trials_of(data), std::vector<std::string>{"0 completed"});

  for (const char* path : {"/nope", "/data.json/x", "/report.html", "/../live.db"}) {
    EXPECT_EQ(http_get(port, path).status, 404) << path;
  }
  EXPECT_TRUE(server.running());
}

TEST_F(ReportServeTest, ATrialWrittenWhileServingIsInTheNextResponse) {
  write_trial(db_, 0, 0.5);
  Krill server({db_.string(), "--serve", "--port", "0"});
  const int port = server.port();
  ASSERT_GT(port, 0) << server.output();
  EXPECT_EQ(trials_of(http_get(port, "/data.json")), std::vector<std::string>{"0 completed"});

  write_trial(db_, 1, std::nullopt);  // started: running
  EXPECT_EQ(trials_of(http_get(port, "/data.json")),
            (std::vector<std::string>{"0 completed", "1 running"}));
  write_trial(db_, 1, 0.75, /*start=*/false);
  const HttpResponse data = http_get(port, "/data.json");
  EXPECT_EQ(trials_of(data), (std::vector<std::string>{"0 completed", "1 completed"}));
  EXPECT_EQ(parse_json(data.body)["trials"][1]["value"].number, 0.75);
  // The page, too, is read afresh.
  EXPECT_THAT(http_get(port, "/").body, HasSubstr(R"("value":0.75)"));
}

TEST_F(ReportServeTest, ADatabaseThatDisappearsIsAnErrorResponseAndTheServerGoesOn) {
  write_trial(db_, 0, 0.5);
  Krill server({db_.string(), "--serve", "--port", "0"});
  const int port = server.port();
  ASSERT_GT(port, 0) << server.output();
  ASSERT_EQ(http_get(port, "/data.json").status, 200);

  const fs::path away = dir_ / "away.db";
  fs::rename(db_, away);
  for (const char* path : {"/data.json", "/"}) {
    const HttpResponse r = http_get(port, path);
    EXPECT_EQ(r.status, 500) << path;
    EXPECT_THAT(r.headers, HasSubstr("Content-Type: text/plain")) << path;
    EXPECT_THAT(r.body, HasSubstr("krill: " + db_.string() + ": no such study database")) << path;
  }
  std::ofstream(db_) << "this is not a database, it is a text file of some length";
  const HttpResponse garbage = http_get(port, "/data.json");
  EXPECT_EQ(garbage.status, 500);
  EXPECT_THAT(garbage.body, HasSubstr(db_.string() + ": not a SQLite database"));
  EXPECT_FALSE(garbage.body.starts_with("{"));

  fs::remove(db_);
  fs::rename(away, db_);
  write_trial(db_, 1, 0.6);
  const HttpResponse back = http_get(port, "/data.json");
  EXPECT_EQ(back.status, 200) << back.body;
  EXPECT_EQ(trials_of(back), (std::vector<std::string>{"0 completed", "1 completed"}));
  EXPECT_TRUE(server.running()) << server.output();
}

TEST_F(ReportServeTest, AMissingDatabaseIsRefusedBeforeServing) {
  Krill server({(dir_ / "nope.db").string(), "--serve", "--port", "0"});
  EXPECT_EQ(server.exit_code(), 2) << server.output();
  EXPECT_THAT(server.output(), HasSubstr("krill: error: " + (dir_ / "nope.db").string() +
                                         ": no such study database"));
  EXPECT_THAT(server.output(), Not(HasSubstr("serving")));
  EXPECT_FALSE(fs::exists(dir_ / "nope.db"));  // not created by the attempt
}

TEST_F(ReportServeTest, APortInUseIsRefused) {
  write_trial(db_, 0, 0.5);
  {  // held by another program
    Listener other;
    ASSERT_GT(other.port(), 0);
    Krill server({db_.string(), "--serve", "--port", std::to_string(other.port())});
    EXPECT_EQ(server.exit_code(), 2) << server.output();
    EXPECT_THAT(server.output(),
                HasSubstr("cannot listen on 127.0.0.1:" + std::to_string(other.port()) +
                          " (in use? try --port 0)"));
  }
  // Held by another `krill report --serve`: the second must not share the port with the first
  // (the kernel would hand each connection to either, and the page would come from either study).
  auto first =
      std::make_unique<Krill>(std::vector<std::string>{db_.string(), "--serve", "--port", "0"});
  const int port = first->port();
  ASSERT_GT(port, 0) << first->output();
  Krill second({db_.string(), "--serve", "--port", std::to_string(port)});
  EXPECT_EQ(second.exit_code(), 2) << second.output();
  EXPECT_THAT(second.output(),
              HasSubstr("cannot listen on 127.0.0.1:" + std::to_string(port) + " (in use?"));
  EXPECT_TRUE(first->running());
  EXPECT_EQ(http_get(port, "/data.json").status, 200);

  // Once the first has stopped, the port is free again at once (the connection just served may
  // linger in TIME_WAIT).
  first.reset();
  Krill again({db_.string(), "--serve", "--port", std::to_string(port)});
  EXPECT_EQ(again.port(), port) << again.output();
}

}  // namespace
