// The names of a study's files beside its database: by database, study and trial, so that the
// studies of one database never share a file, and found again exactly (never another study's).
#include "tune/study_files.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace krill::tune {
namespace {

namespace fs = std::filesystem;

TEST(StudyFiles, AreNamedByDatabaseStudyAndTrial) {
  const fs::path prefix = study_files_prefix("/runs/shared.db", "lr-sweep");
  EXPECT_EQ(prefix, "/runs/shared.db.lr-sweep");
  EXPECT_EQ(checkpoint_file(prefix, 12), "/runs/shared.db.lr-sweep.trial-12.ckpt");
  EXPECT_EQ(member_state_file(prefix, 3, 400), "/runs/shared.db.lr-sweep.member-3.step-400.state");
  EXPECT_EQ(study_files_prefix(":memory:", "s"), fs::path());
  EXPECT_EQ(study_files_prefix("", "s"), fs::path());
  // A server's study keeps its files in the working folder, named by database.
  EXPECT_EQ(study_files_prefix("postgresql://me:pw@db.example:5433/lab?sslmode=require", "s"),
            fs::path("lab.s"));
  EXPECT_EQ(study_files_prefix("postgresql://me@db.example", "s"), fs::path("me.s"));
  EXPECT_EQ(study_files_prefix("postgresql://db.example/a%2Fb", "s"), fs::path("a_b.s"));
  EXPECT_TRUE(unnamed_checkpoints("postgresql://me@db.example/lab").empty());
}

TEST(StudyFiles, NamesThatCannotNameAFileAreRefused) {
  for (const char* good : {"fmnist", "lr sweep", "a.b", "ünï-cödé", "trial-1"}) {
    EXPECT_EQ(study_name_problem(good), "") << good;
  }
  EXPECT_EQ(study_name_problem(""), "an empty name");
  EXPECT_EQ(study_name_problem("runs/a"), "a name with '/'");
  EXPECT_EQ(study_name_problem(".."), "'..'");
  EXPECT_EQ(study_name_problem("."), "'.'");
  EXPECT_EQ(study_name_problem("a\tb"), "a name with a control character");
  EXPECT_EQ(study_name_problem("a\nb"), "a name with a control character");
  // JSON output (krill show --json, export) is UTF-8: a name of other bytes made it invalid.
  EXPECT_EQ(study_name_problem("bad\xffname"), "a name that is not UTF-8 text");
  EXPECT_EQ(study_name_problem("caf\xe9"), "a name that is not UTF-8 text");
  // Its files' names must fit in 255 bytes (a 250-byte name failed every trial at its checkpoint).
  EXPECT_EQ(study_name_problem(std::string(120, 'a')), "");
  EXPECT_EQ(study_name_problem(std::string(121, 'a')), "a name of 121 bytes");
}

class StudyFilesOnDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("krill_study_files_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void touch(const std::string& name) const { std::ofstream(dir_ / name) << "x"; }

  fs::path dir_;
};

// Study "a" and study "a.b" share the start of their names: each finds its own files alone.
TEST_F(StudyFilesOnDisk, FindTheStudysFilesAndNoOthers) {
  for (const char* name :
       {"s.db", "s.db.a.trial-3.ckpt", "s.db.a.member-0.state", "s.db.a.trial-4.ckpt.tmp",
        "s.db.a.member-1.step-200.state", "s.db.a.member-1.step-100.state",
        "s.db.a.member-2.step-0.state.tmp", "s.db.a.member-x.step-1.state",
        "s.db.a.member-1.step-.state", "s.db.a.b.member-3.step-100.state", "s.db.a.b.trial-1.ckpt",
        "s.db.a.trial-.ckpt", "s.db.a.trial-x.ckpt", "s.db.a.notes.txt", "s.db.trial-2.ckpt",
        "t.db.a.trial-3.ckpt", "s.db.ab.trial-5.ckpt"}) {
    touch(name);
  }
  const fs::path db = dir_ / "s.db";
  EXPECT_EQ(study_files(db, "a"),
            (std::vector<fs::path>{
                dir_ / "s.db.a.member-0.state", dir_ / "s.db.a.member-1.step-100.state",
                dir_ / "s.db.a.member-1.step-200.state", dir_ / "s.db.a.member-2.step-0.state.tmp",
                dir_ / "s.db.a.trial-3.ckpt", dir_ / "s.db.a.trial-4.ckpt.tmp"}));
  EXPECT_EQ(study_files(db, "a.b"),
            (std::vector<fs::path>{dir_ / "s.db.a.b.member-3.step-100.state",
                                   dir_ / "s.db.a.b.trial-1.ckpt"}));
  // A PBT study's member states, by member and step (not an earlier krill's, nor a `.tmp`).
  EXPECT_EQ(member_state_files(study_files_prefix(db, "a")),
            (std::map<int64_t, std::vector<int64_t>>{{1, {100, 200}}}));
  EXPECT_EQ(member_state_files(study_files_prefix(db, "a.b")),
            (std::map<int64_t, std::vector<int64_t>>{{3, {100}}}));
  EXPECT_TRUE(study_files(db, "none").empty());
  EXPECT_TRUE(study_files(":memory:", "a").empty());

  EXPECT_EQ(moved_study_file(dir_ / "s.db.a.trial-3.ckpt", db, "a", dir_ / "u.db", "c"),
            dir_ / "u.db.c.trial-3.ckpt");
  EXPECT_EQ(moved_study_file(dir_ / "s.db.a.member-0.state", db, "a", db, "a.b"),
            dir_ / "s.db.a.b.member-0.state");

  // An earlier krill's best weights, named by database alone.
  EXPECT_EQ(unnamed_checkpoints(db),
            (std::vector<std::pair<fs::path, int64_t>>{{dir_ / "s.db.trial-2.ckpt", 2}}));
}

}  // namespace
}  // namespace krill::tune
