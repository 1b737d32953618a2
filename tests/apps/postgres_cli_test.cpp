// The command line on a study in a PostgreSQL database, end to end: `krill tune` into a server's
// database and every command that reads it (show, export, best, report, report --serve), with
// the password of the URL never printed (the location shows as krill:***@); `krill study copy`
// from SQLite to PostgreSQL and back keeping every trial and the best weights (a server study's
// files lie in the working folder); rename and delete there; connection errors and another
// program's database as one line; a second `krill tune` resuming the server's study. Each test
// skips without the ctest fixture's server (tests/common/pg_test_server.hpp).
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "apps/cli_util.hpp"
#include "apps/report_serve_util.hpp"
#include "common/pg_test_server.hpp"
#include "hpo/storage.hpp"
#include "report/json_reader.hpp"
#include "store/open.hpp"

namespace {

namespace fs = std::filesystem;
using krill::testing::CliResult;
using krill::testing::http_get;
using krill::testing::HttpResponse;
using krill::testing::Json;
using krill::testing::Krill;
using krill::testing::parse_json;
using krill::testing::pg_detail::shell_quote;
using ::testing::HasSubstr;
using ::testing::Not;

// `krill ARGS...` run in `folder` (its working folder: a server study's files land there); its
// stdout and stderr together.
CliResult run_in(const fs::path& folder, const std::vector<std::string>& args) {
  std::string cmd = "cd ";  // (one += at a time: GCC 12 warns falsely on "literal" + string&&)
  cmd += shell_quote(folder.string());
  cmd += " && ";
  cmd += shell_quote(KRILL_BINARY);
  for (const auto& a : args) {
    cmd += ' ';
    cmd += shell_quote(a);
  }
  cmd += " 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (!pipe) return {-1, "popen failed"};
  std::string out;
  std::array<char, 4096> buf;
  while (size_t n = std::fread(buf.data(), 1, buf.size(), pipe)) out.append(buf.data(), n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The files a study keeps (best weights, member states) in `folder`.
std::set<std::string> study_files(const fs::path& folder) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(folder)) {
    const auto ext = e.path().extension();
    if (ext == ".ckpt" || ext == ".state") out.insert(e.path().filename().string());
  }
  return out;
}

// A study's trials as text, all that a copy must keep: number, state, params, value, error,
// attrs, reports (step, value, metrics) and decisions.
std::vector<std::string> trials_text(const std::string& location, const std::string& study) {
  auto storage = krill::store::open_storage(location);
  const auto found = storage->find_study(study);
  if (!found) return {};
  std::vector<std::string> out;
  for (const auto& t : storage->trials(found->id)) {
    std::ostringstream s;
    s.precision(17);
    s << t.number << " " << krill::hpo::to_string(t.state) << " " << krill::hpo::to_string(t.params)
      << " value=";
    if (t.value) {
      s << *t.value;
    } else {
      s << "none";
    }
    s << " error=" << t.error << " attrs=";
    for (const auto& [k, v] : t.attrs) s << k << ":" << v << ",";
    s << " reports=";
    for (const auto& r : t.reports) {
      s << r.step << ":" << r.value;
      for (const auto& [k, v] : r.metrics) s << "/" << k << "=" << v;
      s << ";";
    }
    s << " decisions=" << t.decisions.size();
    out.push_back(s.str());
  }
  return out;
}

size_t trial_count(const std::string& location, const std::string& study) {
  return trials_text(location, study).size();
}

// One line "krill: error: ..." and exit code 2.
void expect_one_error_line(const CliResult& r) {
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(r.output.starts_with("krill: error: ")) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

// --- the tests ------------------------------------------------------------------------------

class PostgresCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = krill::testing::fresh_test_folder("krill_pg_cli");
    krill::testing::write_synthetic_data(dir_, 600, 300);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // Two grid points: trial 0 learns nothing (lr 1e-6), trial 1 learns the problem (lr 0.1), so
  // trial 1 is the better one and keeps the best weights.
  fs::path write_study(const std::string& storage, const std::string& name = "study.yaml") {
    const fs::path file = dir_ / name;
    std::ofstream(file) << "study: first\nstorage: " << storage << "\n"
                        << "data: " << (dir_ / "data").string() << "\n"
                        << "validation: 0.2\nobjective: val_accuracy\nworkers: 1\nseed: 5\n"
                        << "sampler: grid\n"
                        << "model:\n  hidden: \"16\"\n"
                        << "training:\n  batch: 16\n  iterations: 60\n  eval_every: 20\n"
                        << "  momentum: 0.9\n"
                        << "search:\n  lr: {type: grid, values: [0.000001, 0.1]}\n";
    return file;
  }

  CliResult tune(const fs::path& study, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"tune", study.string(), "--quiet", "--threads", "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_in(dir_, args);
  }

  fs::path dir_;
};

TEST_F(PostgresCliTest, EveryCommandReadsAServersStudyAndNeverPrintsThePassword) {
  KRILL_REQUIRE_PG(server);
  krill::testing::PgTempDb db(server);
  const std::string url = db.tcp_url();
  const std::string masked = krill::hpo::display_location(url);
  const std::string secret = server.password;
  ASSERT_THAT(url, HasSubstr(secret));
  ASSERT_EQ(masked,
            "postgresql://krill:***@127.0.0.1:" + std::to_string(server.port) + "/" + db.name());
  auto no_secret = [&](const std::string& what, const std::string& text) {
    EXPECT_THAT(text, Not(HasSubstr(secret))) << what << " shows the password";
  };

  const CliResult tuned = tune(write_study(url));
  ASSERT_EQ(tuned.exit_code, 0) << tuned.output;
  no_secret("tune", tuned.output);
  EXPECT_THAT(tuned.output, HasSubstr("database: " + masked + "\n"));
  const std::string ckpt = db.name() + ".first.trial-1.ckpt";
  EXPECT_THAT(tuned.output, HasSubstr("best weights: " + ckpt));
  EXPECT_EQ(study_files(dir_), std::set<std::string>{ckpt}) << "the working folder's";
  EXPECT_EQ(trial_count(db.url(), "first"), 2u);

  const CliResult show = run_in(dir_, {"show", url});
  EXPECT_EQ(show.exit_code, 0) << show.output;
  EXPECT_THAT(show.output, HasSubstr("study 'first': 2 trials of 2"));
  no_secret("show", show.output);

  const CliResult show_json = run_in(dir_, {"show", url, "--json"});
  ASSERT_EQ(show_json.exit_code, 0) << show_json.output;
  no_secret("show --json", show_json.output);
  EXPECT_THAT(show_json.output, HasSubstr(masked));
  EXPECT_NO_THROW(parse_json(show_json.output)) << show_json.output;

  const CliResult studies = run_in(dir_, {"studies", url});
  EXPECT_EQ(studies.exit_code, 0) << studies.output;
  EXPECT_THAT(studies.output, HasSubstr("first"));
  no_secret("studies", studies.output);

  const CliResult csv = run_in(dir_, {"export", url, "--format", "csv"});
  ASSERT_EQ(csv.exit_code, 0) << csv.output;
  EXPECT_EQ(std::count(csv.output.begin(), csv.output.end(), '\n'), 3) << csv.output;
  no_secret("export csv", csv.output);

  const CliResult json = run_in(dir_, {"export", url, "--format", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.output;
  no_secret("export json", json.output);
  const Json exported = parse_json(json.output);
  EXPECT_EQ(exported["study"]["name"].string, "first");
  EXPECT_EQ(exported["trials"].array.size(), 2u);

  const CliResult best = run_in(dir_, {"best", url});
  ASSERT_EQ(best.exit_code, 0) << best.output;
  no_secret("best", best.output);
  EXPECT_THAT(best.output, HasSubstr("study 'first' in " + masked + ": best of 2 completed"));
  EXPECT_THAT(best.output, HasSubstr(ckpt));
  const CliResult best_json = run_in(dir_, {"best", url, "--json"});
  ASSERT_EQ(best_json.exit_code, 0) << best_json.output;
  no_secret("best --json", best_json.output);
  EXPECT_EQ(parse_json(best_json.output)["number"].number, 1);

  const CliResult report = run_in(dir_, {"report", url, "-o", "r.html"});
  ASSERT_EQ(report.exit_code, 0) << report.output;
  no_secret("report", report.output);
  EXPECT_THAT(report.output, HasSubstr("wrote the report of study 'first' (2 trials) to r.html"));
  const std::string html = read_file(dir_ / "r.html");
  EXPECT_TRUE(html.starts_with("<!DOCTYPE html>"));
  no_secret("the HTML report", html);

  // A database without a study yet says so, masked.
  krill::testing::PgTempDb empty(server);
  for (const char* command : {"show", "studies"}) {
    const CliResult r = run_in(dir_, {command, empty.tcp_url()});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_THAT(r.output,
                HasSubstr(krill::hpo::display_location(empty.tcp_url()) + ": no study yet"))
        << command;
    no_secret(command, r.output);
  }
}

TEST_F(PostgresCliTest, AStudyCopiedFromSqliteToPostgresAndBackKeepsItsTrialsAndWeights) {
  KRILL_REQUIRE_PG(server);
  krill::testing::PgTempDb db(server);
  const std::string url = db.tcp_url();
  const std::string masked = krill::hpo::display_location(url);
  const std::string sqlite = (dir_ / "shared.db").string();
  ASSERT_EQ(tune(write_study("shared.db")).exit_code, 0);
  ASSERT_EQ(study_files(dir_), std::set<std::string>{"shared.db.first.trial-1.ckpt"});
  const auto original = trials_text(sqlite, "first");
  ASSERT_EQ(original.size(), 2u);

  const CliResult to_pg = run_in(dir_, {"study", "copy", sqlite, url});
  ASSERT_EQ(to_pg.exit_code, 0) << to_pg.output;
  EXPECT_THAT(to_pg.output, HasSubstr("copied study 'first' (2 trials) from " + sqlite + " to " +
                                      masked + "; 1 file beside it copied"));
  EXPECT_THAT(to_pg.output, Not(HasSubstr(server.password)));
  const std::string pg_ckpt = db.name() + ".first.trial-1.ckpt";
  EXPECT_TRUE(fs::exists(dir_ / pg_ckpt)) << "a server study's files lie in the working folder";
  EXPECT_EQ(trials_text(db.url(), "first"), original);

  const std::string back = (dir_ / "back.db").string();
  const CliResult to_sqlite = run_in(dir_, {"study", "copy", url, back});
  ASSERT_EQ(to_sqlite.exit_code, 0) << to_sqlite.output;
  EXPECT_THAT(to_sqlite.output, HasSubstr("copied study 'first' (2 trials) from " + masked +
                                          " to " + back + "; 1 file beside it copied"));
  EXPECT_EQ(trials_text(back, "first"), original);
  EXPECT_EQ(read_file(dir_ / "back.db.first.trial-1.ckpt"),
            read_file(dir_ / "shared.db.first.trial-1.ckpt"));
  EXPECT_EQ(read_file(dir_ / pg_ckpt), read_file(dir_ / "shared.db.first.trial-1.ckpt"));

  // The copy on the server is a study like any: renamed, then deleted, with its file.
  const CliResult renamed = run_in(dir_, {"study", "rename", url, "first", "second"});
  ASSERT_EQ(renamed.exit_code, 0) << renamed.output;
  EXPECT_THAT(renamed.output,
              HasSubstr("renamed study 'first' to 'second' in " + masked + "; 1 file"));
  EXPECT_THAT(renamed.output, Not(HasSubstr(server.password)));
  EXPECT_EQ(trial_count(db.url(), "first"), 0u);
  EXPECT_EQ(trials_text(db.url(), "second"), original);
  const std::string renamed_ckpt = db.name() + ".second.trial-1.ckpt";
  EXPECT_EQ(study_files(dir_), (std::set<std::string>{"back.db.first.trial-1.ckpt", renamed_ckpt,
                                                      "shared.db.first.trial-1.ckpt"}));
  const CliResult best = run_in(dir_, {"best", url});
  EXPECT_THAT(best.output, HasSubstr(renamed_ckpt));

  const CliResult deleted = run_in(dir_, {"study", "delete", url, "--study", "second"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.output;
  EXPECT_THAT(deleted.output, HasSubstr("deleted study 'second' (2 trials) from " + masked +
                                        "; 1 file beside it removed"));
  EXPECT_THAT(deleted.output, Not(HasSubstr(server.password)));
  EXPECT_TRUE(krill::store::open_storage(db.url())->studies().empty());
  EXPECT_EQ(study_files(dir_),
            (std::set<std::string>{"back.db.first.trial-1.ckpt", "shared.db.first.trial-1.ckpt"}));
}

TEST_F(PostgresCliTest, ReportServeServesAServersStudyWithoutThePassword) {
  KRILL_REQUIRE_PG(server);
  krill::testing::PgTempDb db(server);
  const std::string url = db.tcp_url();
  ASSERT_EQ(tune(write_study(url)).exit_code, 0);

  Krill serving({url, "--serve", "--port", "0"}, dir_);
  const int port = serving.port();
  ASSERT_GT(port, 0) << serving.output();
  EXPECT_THAT(serving.output(), HasSubstr("study 'first'"));
  EXPECT_THAT(serving.output(), Not(HasSubstr(server.password)));
  const HttpResponse page = http_get(port, "/");
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_TRUE(page.body.starts_with("<!DOCTYPE html>"));
  EXPECT_THAT(page.body, Not(HasSubstr(server.password)));
  const HttpResponse data = http_get(port, "/data.json");
  ASSERT_EQ(data.status, 200) << data.body;
  EXPECT_THAT(data.body, Not(HasSubstr(server.password)));
  const Json json = parse_json(data.body);
  EXPECT_EQ(json["study"]["name"].string, "first");
  EXPECT_EQ(json["trials"].array.size(), 2u);
}

TEST_F(PostgresCliTest, ConnectionErrorsAndAnotherProgramsDatabaseAreOneLineWithoutThePassword) {
  KRILL_REQUIRE_PG(server);
  krill::testing::PgTempDb db(server);
  const std::string secret = "Sw0rdf1sh" + std::to_string(::getpid());
  const std::string port = std::to_string(server.port);
  struct Case {
    std::string url, reason;
  };
  const std::vector<Case> cases = {
      {"postgresql://krill:" + secret + "@127.0.0.1:" + port + "/" + db.name(),
       "password authentication failed"},
      {"postgresql://krill:" + secret + "@no-such-host.invalid:" + port + "/" + db.name(),
       "no-such-host.invalid"},
      {"postgresql://krill:" + secret + "@127.0.0.1:1/" + db.name(), "Connection refused"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.url);
    const auto started = std::chrono::steady_clock::now();
    for (const std::vector<std::string>& args : {std::vector<std::string>{"show", c.url},
                                                 {"export", c.url},
                                                 {"best", c.url},
                                                 {"report", c.url, "-o", "r.html"},
                                                 {"study", "delete", c.url, "--study", "x"}}) {
      SCOPED_TRACE(args[0]);
      const CliResult r = run_in(dir_, args);
      expect_one_error_line(r);
      EXPECT_THAT(r.output, HasSubstr(krill::hpo::display_location(c.url)));
      EXPECT_THAT(r.output, HasSubstr(c.reason));
      EXPECT_THAT(r.output, Not(HasSubstr(secret)));
    }
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(60))
        << "a connection error is said at once, not after waiting for a server";
    // `krill tune` on a study file naming it, too.
    const CliResult r = tune(write_study(c.url, "unreachable.yaml"));
    expect_one_error_line(r);
    EXPECT_THAT(r.output, HasSubstr(krill::hpo::display_location(c.url)));
    EXPECT_THAT(r.output, Not(HasSubstr(secret)));
  }
  EXPECT_FALSE(fs::exists(dir_ / "r.html"));

  // A database of another program's: refused, and left as it was.
  krill::testing::PgConnection c(db.url());
  c.exec("CREATE TABLE users (id int PRIMARY KEY, name text)");
  const std::string url = db.tcp_url();
  const CliResult r = tune(write_study(url));
  expect_one_error_line(r);
  EXPECT_THAT(r.output,
              HasSubstr(krill::hpo::display_location(url) + ": not a krill study database"));
  EXPECT_THAT(r.output, Not(HasSubstr(server.password)));
  EXPECT_EQ(c.scalar("SELECT count(*) FROM information_schema.tables WHERE table_schema = "
                     "current_schema()"),
            "1")
      << "krill created tables in another program's database";
  const CliResult show = run_in(dir_, {"show", url});
  expect_one_error_line(show);
  EXPECT_THAT(show.output, HasSubstr("not a krill study database"));
  EXPECT_TRUE(study_files(dir_).empty());
}

TEST_F(PostgresCliTest, ASecondTuneResumesTheServersStudy) {
  KRILL_REQUIRE_PG(server);
  krill::testing::PgTempDb db(server);
  const std::string url = db.tcp_url();
  const std::string masked = krill::hpo::display_location(url);
  const fs::path study = write_study(url);

  const CliResult first = tune(study, {"--trials", "1"});
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_EQ(trial_count(db.url(), "first"), 1u);
  EXPECT_EQ(study_files(dir_), std::set<std::string>{db.name() + ".first.trial-0.ckpt"});

  // Without --quiet: the resumed run says where it resumes from.
  const CliResult second = run_in(dir_, {"tune", study.string(), "--threads", "1"});
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_THAT(second.output, HasSubstr("krill tune: study 'first' in " + masked + " (1 of 2"));
  EXPECT_THAT(second.output, Not(HasSubstr(server.password)));
  const auto trials = trials_text(db.url(), "first");
  ASSERT_EQ(trials.size(), 2u);
  EXPECT_TRUE(trials[0].starts_with("0 completed")) << trials[0];
  EXPECT_TRUE(trials[1].starts_with("1 completed")) << trials[1];
  // Trial 1, better, took the best weights from trial 0.
  EXPECT_EQ(study_files(dir_), std::set<std::string>{db.name() + ".first.trial-1.ckpt"});

  // A third run has nothing left to do and changes nothing.
  const CliResult third = tune(study);
  ASSERT_EQ(third.exit_code, 0) << third.output;
  EXPECT_EQ(trials_text(db.url(), "first"), trials);
}

}  // namespace
