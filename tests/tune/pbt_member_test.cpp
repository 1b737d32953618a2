// The training objective as a PBT member (tune::TrainingObjective's hpo::Trainable): a recipient
// holds exactly its donor's state right after an exploit, the learning rate PBT sets replaces the
// schedule's base rate from then on, and a member whose run ended resumes from the state it saved
// at its last generation, ending exactly as an uninterrupted member. Data: the synthetic 4x4,
// 3-class problem.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "backend/backend.hpp"
#include "core/error.hpp"
#include "train/synthetic.hpp"
#include "tune/trainable.hpp"

namespace krill::tune {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;

class PbtMemberTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend::backend(Device::Cpu).set_threads(1);
    dir_ = fs::temp_directory_path() /
           ("krill_pbt_member_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  StudyFile file(const fs::path& storage) const {
    StudyFile f;
    f.name = "pbt";
    f.seed = 7;
    f.storage = storage;
    f.fixed = {
        {"hidden", std::string("8,4")}, {"batch", int64_t{16}}, {"iterations", int64_t{60}},
        {"eval_every", int64_t{10}},    {"momentum", 0.9},      {"schedule", std::string("step")},
        {"decay_every", int64_t{10}},   {"decay_factor", 0.5}};
    PbtConfig pbt;
    pbt.options.population = 2;
    pbt.options.interval = 20;
    f.pbt = pbt;
    return f;
  }
  std::shared_ptr<const StudyData> data() const {
    return std::make_shared<const StudyData>(StudyData{testing::synthetic_dataset(600, 3, 1),
                                                       testing::synthetic_dataset(200, 3, 2),
                                                       testing::synthetic_dataset(200, 3, 3)});
  }

  fs::path dir_;
};

hpo::DecisionRecord go_on(const hpo::Report& r) {
  hpo::DecisionRecord d;
  d.step = r.step;
  return d;
}

TEST_F(PbtMemberTest, ARecipientHoldsItsDonorsStateAndKeepsTheNewRate) {
  TrainingObjective objective(file(dir_ / "s.db"), data(), dir_ / "s.db", std::nullopt);
  std::vector<uint8_t> donor_state;
  hpo::Trial donor(0, {{"lr", 0.3}}, hpo::ReportHost([&](const hpo::Report& r, hpo::Trainable* t) {
                     EXPECT_NE(t, nullptr);
                     if (r.step == 20) donor_state = t->save();
                     return go_on(r);
                   }));
  objective(donor);
  ASSERT_FALSE(donor_state.empty());

  std::vector<hpo::Report> reports;
  hpo::Trial recipient(1, {{"lr", 0.01}},
                       hpo::ReportHost([&](const hpo::Report& r, hpo::Trainable* t) {
                         reports.push_back(r);
                         hpo::DecisionRecord d = go_on(r);
                         if (r.step != 20) return d;
                         EXPECT_EQ(t->step(), 20);
                         EXPECT_NE(t->save(), donor_state);
                         t->load(donor_state);
                         // Byte for byte the donor's weights, optimizer state, step and rate
                         // (0.3)...
                         EXPECT_EQ(t->save(), donor_state);
                         EXPECT_EQ(t->params(), (hpo::Params{{"lr", 0.3}}));
                         // ... then the explored rate.
                         t->set_params({{"lr", 0.05}});
                         EXPECT_EQ(t->params(), (hpo::Params{{"lr", 0.05}}));
                         d.action = hpo::Action::Exploit;
                         return d;
                       }));
  objective(recipient);
  ASSERT_THAT(reports.size(), 6u);
  // lr at a point is the rate of its last step i (0-based): base * 0.5^floor(i / 10).
  EXPECT_DOUBLE_EQ(reports[1].metrics.at("lr"), 0.01 * 0.5);   // step 20: before the exploit
  EXPECT_DOUBLE_EQ(reports[2].metrics.at("lr"), 0.05 * 0.25);  // step 30: the new base rate
  EXPECT_DOUBLE_EQ(reports[5].metrics.at("lr"), 0.05 * 0.03125);
  EXPECT_TRUE(reports[5].last);
  EXPECT_FALSE(reports[4].last);

  // A state of another step, or not a member state, is refused and changes nothing.
  hpo::Trial other(2, {{"lr", 0.01}}, hpo::ReportHost([&](const hpo::Report& r, hpo::Trainable* t) {
                     if (r.step == 40) {
                       const auto before = t->save();
                       EXPECT_THROW(t->load(donor_state), DataError);
                       EXPECT_THROW(t->load(std::vector<uint8_t>{1, 2, 3}), DataError);
                       EXPECT_EQ(t->save(), before);
                       EXPECT_THROW(t->set_params({{"lr", 0.01}, {"hidden", std::string("4")}}),
                                    InvalidArgument);
                     }
                     return go_on(r);
                   }));
  objective(other);
}

TEST_F(PbtMemberTest, ARecipientKeepsItsOwnDropoutStream) {
  StudyFile f = file(dir_ / "s.db");
  f.fixed["dropout"] = 0.3;
  TrainingObjective objective(f, data(), dir_ / "s.db", std::nullopt);
  std::vector<uint8_t> donor_state;
  hpo::Trial donor(0, {{"lr", 0.3}}, hpo::ReportHost([&](const hpo::Report& r, hpo::Trainable* t) {
                     if (r.step == 20) donor_state = t->save();
                     return go_on(r);
                   }));
  objective(donor);
  ASSERT_FALSE(donor_state.empty());
  bool exploited = false;
  hpo::Trial recipient(1, {{"lr", 0.01}},
                       hpo::ReportHost([&](const hpo::Report& r, hpo::Trainable* t) {
                         hpo::DecisionRecord d = go_on(r);
                         if (r.step != 20) return d;
                         const std::vector<uint8_t> own = t->save();
                         t->load(donor_state);
                         // The donor's weights, optimizer state, step and rate, but not its mask
                         // stream: the saved state differs from the donor's (the hidden-only
                         // model of the test above is byte for byte the donor's) and from its own.
                         EXPECT_NE(t->save(), donor_state);
                         EXPECT_NE(t->save(), own);
                         exploited = true;
                         d.action = hpo::Action::Exploit;
                         return d;
                       }));
  objective(recipient);
  EXPECT_TRUE(exploited);
}

// The member state files of `dir` (a study's, `b.db.pbt.member-<N>.step-<S>.state`), by name.
std::vector<std::string> member_files(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.find(".member-") != std::string::npos) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST_F(PbtMemberTest, AResumedMemberContinuesFromItsLastGeneration) {
  std::vector<hpo::Report> whole;
  double whole_value = 0;
  {
    const fs::path db = dir_ / "a.db";
    TrainingObjective objective(file(db), data(), db, std::nullopt);
    hpo::Trial t(0, {{"lr", 0.2}}, hpo::ReportHost([&](const hpo::Report& r, hpo::Trainable*) {
                   whole.push_back(r);
                   return go_on(r);
                 }));
    whole_value = objective(t);
    EXPECT_TRUE(member_files(dir_).empty()) << "an ended member's states go";
  }

  const fs::path db = dir_ / "b.db";
  const fs::path saved = dir_ / "saved";
  fs::create_directories(saved);
  {
    TrainingObjective objective(file(db), data(), db, std::nullopt);
    EXPECT_EQ(objective.member_state_of(0, 40).filename(), "b.db.pbt.member-0.step-40.state");
    hpo::Trial t(0, {{"lr", 0.2}}, hpo::ReportHost([&](const hpo::Report& r, hpo::Trainable*) {
                   if (r.step == 50) {  // the run dies here: its last generation was step 40
                     // It keeps its last two states (the one it started with is gone).
                     EXPECT_THAT(member_files(dir_),
                                 ElementsAre("b.db.pbt.member-0.step-20.state",
                                             "b.db.pbt.member-0.step-40.state"));
                     for (const std::string& name : member_files(dir_)) {
                       fs::copy_file(dir_ / name, saved / name);
                     }
                     throw Error("killed");
                   }
                   return go_on(r);
                 }));
    EXPECT_THROW(objective(t), Error);
  }
  // What a killed process leaves; `other`: a second member's states too, when that member had
  // saved only up to `other` (-1: none: a member that ended).
  const auto killed = [&](int64_t other) {
    for (const std::string& name : member_files(saved)) fs::copy_file(saved / name, dir_ / name);
    if (other >= 0) {
      fs::copy_file(saved / "b.db.pbt.member-0.step-20.state",
                    dir_ / ("b.db.pbt.member-1.step-" + std::to_string(other) + ".state"));
    }
  };
  const auto resume = [&](int64_t from) {
    TrainingObjective objective(file(db), data(), db, std::nullopt);
    EXPECT_EQ(objective.member_resume_step(), from);
    std::vector<hpo::Report> resumed;
    hpo::Trial t(0, {{"lr", 0.2}}, hpo::ReportHost([&](const hpo::Report& r, hpo::Trainable* m) {
                   if (resumed.empty()) {
                     EXPECT_EQ(m->step(), from + 10);
                   }
                   resumed.push_back(r);
                   return go_on(r);
                 }));
    EXPECT_EQ(objective(t), whole_value) << "resumed from step " << from;
    EXPECT_EQ(t.attrs().at("resumed_step"), from);
    const size_t first = static_cast<size_t>(from / 10);
    ASSERT_EQ(resumed.size(), whole.size() - first);
    for (size_t i = 0; i < resumed.size(); ++i) {
      EXPECT_EQ(resumed[i].step, whole[first + i].step);
      EXPECT_EQ(resumed[i].value, whole[first + i].value) << "step " << resumed[i].step;
      EXPECT_EQ(resumed[i].metrics, whole[first + i].metrics) << "step " << resumed[i].step;
    }
    for (const std::string& name : member_files(dir_)) {
      EXPECT_THAT(name, ::testing::Not(::testing::HasSubstr("member-0."))) << "it ended";
      fs::remove(dir_ / name);
    }
  };
  killed(-1);
  resume(40);
  // Members one generation apart (the other one had not saved step 40 when the run died): all
  // restart from step 20, the generation both have, and this one ends as if uninterrupted.
  killed(20);
  resume(20);
}

}  // namespace
}  // namespace krill::tune
