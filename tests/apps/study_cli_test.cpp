// Several studies in one database, as a user manages them: `krill tune --study NAME` runs one
// study file under several names, each study keeps its own best-weights file (named by study and
// trial; a resume removes the one a better trial supersedes), and `krill study delete|rename|
// copy` deletes, renames and copies a study with its files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "apps/cli_util.hpp"
#include "apps/tune_process_util.hpp"
#include "store/open.hpp"

namespace {

namespace fs = std::filesystem;
using krill::testing::run_krill;
using ::testing::HasSubstr;

class StudyCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = krill::testing::fresh_test_folder("krill_study_cli");
    krill::testing::write_synthetic_data(dir_, 600, 300);
    db_ = (dir_ / "shared.db").string();
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // Two grid points: trial 0 learns nothing (lr 1e-6), trial 1 learns the problem (lr 0.1), so
  // trial 1 is the better one.
  fs::path write_study() {
    const fs::path file = dir_ / "study.yaml";
    std::ofstream(file) << "study: first\nstorage: shared.db\n"
                        << "data: " << (dir_ / "data").string() << "\n"
                        << "validation: 0.2\nobjective: val_accuracy\nworkers: 1\nseed: 5\n"
                        << "sampler: grid\n"
                        << "model:\n  hidden: \"16\"\n"
                        << "training:\n  batch: 16\n  iterations: 60\n  eval_every: 20\n"
                        << "  momentum: 0.9\n"
                        << "search:\n  lr: {type: grid, values: [0.000001, 0.1]}\n";
    return file;
  }

  krill::testing::CliResult tune(const fs::path& study, const std::string& extra) {
    return run_krill("tune " + study.string() + " --quiet --threads 1 " + extra);
  }

  // The files beside the databases: best weights and member states.
  std::set<std::string> study_files() const {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) {
      const auto ext = e.path().extension();
      if (ext == ".ckpt" || ext == ".state") out.insert(e.path().filename().string());
    }
    return out;
  }

  size_t trials_of(const std::string& db, const std::string& study) const {
    auto storage = krill::store::open_storage(db);
    const auto found = storage->find_study(study);
    return found ? storage->trials(found->id).size() : 0;
  }

  fs::path dir_;
  std::string db_;
};

TEST_F(StudyCliTest, OneStudyFileRunsSeveralStudiesInOneDatabaseEachWithItsOwnBestWeights) {
  const fs::path study = write_study();
  auto a = tune(study, "--study a");
  ASSERT_EQ(a.exit_code, 0) << a.output;
  auto b = tune(study, "--study b --trials 1");
  ASSERT_EQ(b.exit_code, 0) << b.output;
  EXPECT_THAT(b.output, HasSubstr("best weights: " + db_ + ".b.trial-0.ckpt"));

  EXPECT_EQ(trials_of(db_, "a"), 2u);
  EXPECT_EQ(trials_of(db_, "b"), 1u);
  EXPECT_EQ(trials_of(db_, "first"), 0u) << "--study replaces the file's name";
  EXPECT_EQ(study_files(),
            (std::set<std::string>{"shared.db.a.trial-1.ckpt", "shared.db.b.trial-0.ckpt"}));

  auto bad = tune(study, "--study a/b");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("--study is a name with '/', expected a name that can be part "
                                    "of a file name"));
}

TEST_F(StudyCliTest, AResumeThatFindsABetterTrialLeavesOneCheckpointOfTheStudy) {
  const fs::path study = write_study();
  auto first = tune(study, "--trials 1");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_EQ(study_files(), std::set<std::string>{"shared.db.first.trial-0.ckpt"});

  // The resumed run knows trial 0 is the stored best: trial 1, better, replaces its file.
  auto resumed = tune(study, "");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(study_files(), std::set<std::string>{"shared.db.first.trial-1.ckpt"});

  // A leftover of a trial that is not the best (a run killed at the wrong moment, a joined
  // process's best) goes when the study is run again, even with nothing left to train.
  fs::copy_file(dir_ / "shared.db.first.trial-1.ckpt", dir_ / "shared.db.first.trial-0.ckpt");
  auto again = tune(study, "");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(study_files(), std::set<std::string>{"shared.db.first.trial-1.ckpt"});
}

// krill before 0.2 named the best weights by database alone: a database holding one study gives
// them that study's name.
TEST_F(StudyCliTest, AnEarlierKrillsBestWeightsTakeTheStudysName) {
  const fs::path study = write_study();
  ASSERT_EQ(tune(study, "").exit_code, 0);
  fs::rename(dir_ / "shared.db.first.trial-1.ckpt", dir_ / "shared.db.trial-1.ckpt");
  auto again = tune(study, "");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(study_files(), std::set<std::string>{"shared.db.first.trial-1.ckpt"});
}

TEST_F(StudyCliTest, DeleteRenameAndCopyAStudyWithItsFiles) {
  const fs::path study = write_study();
  ASSERT_EQ(tune(study, "--study a").exit_code, 0);
  ASSERT_EQ(tune(study, "--study b").exit_code, 0);
  ASSERT_EQ(study_files(),
            (std::set<std::string>{"shared.db.a.trial-1.ckpt", "shared.db.b.trial-1.ckpt"}));

  auto help = run_krill("study --help");
  EXPECT_EQ(help.exit_code, 0) << help.output;
  for (const char* sub : {"delete", "rename", "copy"}) EXPECT_THAT(help.output, HasSubstr(sub));

  // Refusals name what is wrong and change nothing.
  auto unknown = run_krill("study delete " + db_ + " --study nope");
  EXPECT_EQ(unknown.exit_code, 2) << unknown.output;
  EXPECT_THAT(unknown.output,
              HasSubstr("--study: no study 'nope' in " + db_ + " (it holds: a, b)"));
  auto taken = run_krill("study rename " + db_ + " a b");
  EXPECT_EQ(taken.exit_code, 2) << taken.output;
  EXPECT_THAT(taken.output, HasSubstr("study 'b' already exists in " + db_));
  auto slash = run_krill("study rename " + db_ + " a x/y");
  EXPECT_EQ(slash.exit_code, 2) << slash.output;
  EXPECT_THAT(slash.output, HasSubstr("NEW is a name with '/'"));
  auto missing = run_krill("study rename " + (dir_ / "nope.db").string() + " a c");
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_THAT(missing.output, HasSubstr("nope.db: no such study database"));
  EXPECT_FALSE(fs::exists(dir_ / "nope.db"));

  // Rename: the study and its best weights take the new name, and it resumes under it (the
  // study file's settings still match).
  auto renamed = run_krill("study rename " + db_ + " a c");
  ASSERT_EQ(renamed.exit_code, 0) << renamed.output;
  EXPECT_THAT(renamed.output, HasSubstr("renamed study 'a' to 'c' in " + db_ + "; 1 file"));
  EXPECT_EQ(trials_of(db_, "c"), 2u);
  EXPECT_EQ(trials_of(db_, "a"), 0u);
  EXPECT_EQ(study_files(),
            (std::set<std::string>{"shared.db.b.trial-1.ckpt", "shared.db.c.trial-1.ckpt"}));
  auto resumed = tune(study, "--study c");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_THAT(resumed.output, HasSubstr("best weights: " + db_ + ".c.trial-1.ckpt"));
  EXPECT_EQ(trials_of(db_, "c"), 2u);

  // Copy: into a new database (created), under another name, with its best weights.
  const std::string other = (dir_ / "other.db").string();
  auto several = run_krill("study copy " + db_ + " " + other);
  EXPECT_EQ(several.exit_code, 2) << several.output;
  EXPECT_THAT(several.output, HasSubstr("holds 2 studies (c, b): choose one with --study"));
  EXPECT_FALSE(fs::exists(other)) << "a refused copy creates no database";
  auto copied = run_krill("study copy " + db_ + " " + other + " --study c --as d");
  ASSERT_EQ(copied.exit_code, 0) << copied.output;
  EXPECT_THAT(copied.output, HasSubstr("copied study 'c' (2 trials) from " + db_ + " to " + other +
                                       " as 'd'; 1 file"));
  EXPECT_EQ(trials_of(other, "d"), 2u);
  EXPECT_TRUE(fs::exists(dir_ / "other.db.d.trial-1.ckpt"));
  auto show = run_krill("show " + other);
  EXPECT_THAT(show.output, HasSubstr("study 'd': 2 trials of 2"));
  auto again = run_krill("study copy " + db_ + " " + other + " --study c --as d");
  EXPECT_EQ(again.exit_code, 2) << again.output;
  EXPECT_THAT(again.output, HasSubstr(other + " already has a study 'd'"));
  // An empty --as is refused, as rename's empty NEW is (it was taken for no --as).
  auto empty = run_krill("study copy " + db_ + " " + other + " --study c --as ''");
  EXPECT_EQ(empty.exit_code, 2) << empty.output;
  EXPECT_THAT(empty.output, HasSubstr("--as is an empty name"));
  // ... and within the same database, under another name.
  ASSERT_EQ(run_krill("study copy " + db_ + " " + db_ + " --study c --as e").exit_code, 0);
  EXPECT_EQ(trials_of(db_, "e"), 2u);
  EXPECT_TRUE(fs::exists(dir_ / "shared.db.e.trial-1.ckpt"));

  // Delete: the study and its files go; the others stay.
  auto deleted = run_krill("study delete " + db_ + " --study c");
  ASSERT_EQ(deleted.exit_code, 0) << deleted.output;
  EXPECT_THAT(deleted.output,
              HasSubstr("deleted study 'c' (2 trials) from " + db_ + "; 1 file beside it removed"));
  EXPECT_EQ(trials_of(db_, "c"), 0u);
  EXPECT_EQ(trials_of(db_, "b"), 2u);
  EXPECT_EQ(study_files(),
            (std::set<std::string>{"other.db.d.trial-1.ckpt", "shared.db.b.trial-1.ckpt",
                                   "shared.db.e.trial-1.ckpt"}));
}

// Every command names a SQLite database as krill tune --storage and study files do, sqlite:///path
// included (the reading commands took it for a file of that name); another scheme is refused. An
// empty file is not made a database by a command that only reads.
TEST_F(StudyCliTest, EveryCommandTakesTheStorageUrlFormAndReadingLeavesAnEmptyFileEmpty) {
  ASSERT_EQ(tune(write_study(), "--study a").exit_code, 0);
  const std::string url = "sqlite:///" + db_;  // db_ is absolute: sqlite:////tmp/...
  ASSERT_EQ(url.rfind("sqlite:////", 0), 0u);
  for (const std::string& command :
       std::vector<std::string>{"studies " + url, "show " + url, "export " + url, "best " + url,
                                "report " + url + " -o " + (dir_ / "r.html").string()}) {
    const auto r = run_krill(command);
    EXPECT_EQ(r.exit_code, 0) << command << "\n" << r.output;
  }
  const std::string other = (dir_ / "other.db").string();
  const auto copied = run_krill("study copy " + url + " sqlite:///" + other);
  ASSERT_EQ(copied.exit_code, 0) << copied.output;
  EXPECT_EQ(trials_of(other, "a"), 2u);
  const auto renamed = run_krill("study rename sqlite:///" + other + " a b");
  ASSERT_EQ(renamed.exit_code, 0) << renamed.output;
  EXPECT_EQ(trials_of(other, "b"), 2u);
  EXPECT_EQ(run_krill("study delete sqlite:///" + other + " --study b").exit_code, 0);
  EXPECT_EQ(trials_of(other, "b"), 0u);
  const auto mysql = run_krill("studies mysql://me@host/x");
  EXPECT_EQ(mysql.exit_code, 2) << mysql.output;
  EXPECT_THAT(mysql.output, HasSubstr("database is 'mysql://me@host/x', expected a SQLite file "
                                      "path, sqlite:///path or postgresql://"));
  const auto copy_to = run_krill("study copy " + db_ + " mysql://me@host/x");
  EXPECT_EQ(copy_to.exit_code, 2) << copy_to.output;
  EXPECT_THAT(copy_to.output, HasSubstr("destination is 'mysql://me@host/x'"));

  const fs::path empty = dir_ / "empty.db";
  std::ofstream(empty).close();
  for (const std::string& command : std::vector<std::string>{
           "studies ", "show ", "export ", "best ", "report -o " + (dir_ / "e.html").string() + " ",
           "study copy --as x "}) {
    const std::string line =
        command + empty.string() + (command.starts_with("study") ? " " + other : std::string());
    const auto r = run_krill(line);
    EXPECT_EQ(r.exit_code, 2) << line << "\n" << r.output;
    EXPECT_THAT(r.output, HasSubstr(empty.string() + ": an empty file, no krill study database "
                                                     "yet (krill tune makes one)"))
        << line;
    EXPECT_EQ(fs::file_size(empty), 0u) << line;
  }
}

// A study's name is UTF-8 text: JSON output (show --json, export, best --json) of another name's
// bytes was invalid. A name in a command krill says to run is quoted for the shell.
TEST_F(StudyCliTest, StudyNamesAreUtf8AndQuotedInTheCommandsSaid) {
  const auto r = tune(write_study(), "--study 'bad\xffname'");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("--study is a name that is not UTF-8 text"));
  EXPECT_FALSE(fs::exists(db_));
  ASSERT_EQ(tune(write_study(), "--study a").exit_code, 0);
  const auto renamed = run_krill("study rename " + db_ + " a 'caf\xe9'");
  EXPECT_EQ(renamed.exit_code, 2) << renamed.output;
  EXPECT_THAT(renamed.output, HasSubstr("NEW is a name that is not UTF-8 text"));
  ASSERT_EQ(tune(write_study(), "--study 'my study'").exit_code, 0);
  const auto taken = run_krill("study rename " + db_ + " a 'my study'");
  EXPECT_EQ(taken.exit_code, 2) << taken.output;
  EXPECT_THAT(taken.output, HasSubstr("(krill study delete " + db_ + " --study 'my study')"));
  const auto copy = run_krill("study copy " + db_ + " " + db_ + " --study a --as 'my study'");
  EXPECT_EQ(copy.exit_code, 2) << copy.output;
  EXPECT_THAT(copy.output, HasSubstr("(krill study delete " + db_ + " --study 'my study')"));
}

TEST_F(StudyCliTest, AStudyThatAProcessRunsIsNotDeletedOrRenamedWithoutForce) {
  const fs::path file = dir_ / "live.yaml";
  std::ofstream(file) << "study: live\n"
                      << "data: " << (dir_ / "data").string() << "\n"
                      << "validation: 0.2\nobjective: val_accuracy\ntrials: 50\nworkers: 1\n"
                      << "seed: 5\nsampler: random\nmodel:\n  hidden: \"256,256\"\n"
                      << "training:\n  batch: 16\n  iterations: 20000\n"
                      << "search:\n  lr: {type: float, low: 0.001, high: 0.1, log: true}\n";
  const std::string db = (dir_ / "live.db").string();
  const pid_t pid = krill::testing::spawn_tune(file);
  ASSERT_TRUE(krill::testing::wait_for_trials(db, 1, /*finished_only=*/false));
  auto del = run_krill("study delete " + db + " --study live");
  auto ren = run_krill("study rename " + db + " live other");
  const size_t held = trials_of(db, "live");
  auto forced = run_krill("study delete " + db + " --study live --force");
  kill(pid, SIGKILL);
  krill::testing::wait_exit_code(pid);

  EXPECT_EQ(del.exit_code, 2) << del.output;
  EXPECT_THAT(del.output, HasSubstr("study 'live' in " + db + " is being run by 1 process"));
  EXPECT_THAT(del.output, HasSubstr("pass --force to delete it anyway"));
  EXPECT_EQ(ren.exit_code, 2) << ren.output;
  EXPECT_THAT(ren.output, HasSubstr("pass --force to rename it anyway"));
  EXPECT_GE(held, 1u) << "the refusals changed nothing";
  EXPECT_EQ(forced.exit_code, 0) << forced.output;
  EXPECT_EQ(trials_of(db, "live"), 0u);
}

}  // namespace
