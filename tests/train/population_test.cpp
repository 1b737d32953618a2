// Population training: each member trains exactly as its solo run with train::Trainer would (its
// curve, its status, its final weights and optimizer state, bit for bit on the CPU with one
// thread, where the batched ops loop the solo kernels), whoever else is in the population and
// whenever others leave; the PBT hooks act on one member only; what cannot be trained together is
// refused with a message.
#include "train/population.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "core/error.hpp"
#include "nn/model_spec.hpp"
#include "synthetic.hpp"
#include "train/checkpoint.hpp"

namespace krill::train {
namespace {

constexpr int kClasses = 3;
const ImageShape kImage{1, 4, 4};

struct SoloRun {
  History history;
  std::vector<uint8_t> checkpoint;  // weights, dropout streams, optimizer state, progress
};

// The member's solo run: the path a trial takes (build_model with its seed, its optimizer, a
// Trainer with its options), with the same report callback.
SoloRun solo_run(const MemberConfig& c, const data::Dataset& train, const data::Dataset* val,
                 const std::function<bool(Trainer&, const CurvePoint&)>& report = {}) {
  auto model = nn::build_model(c.model, kImage, kClasses, c.init_seed);
  std::unique_ptr<optim::Optimizer> opt;
  if (c.optimizer == "adam") {
    opt = std::make_unique<optim::Adam>(model->parameters(), c.adam);
  } else {
    opt = std::make_unique<optim::Sgd>(model->parameters(), c.sgd);
  }
  nn::SoftmaxCrossEntropy loss;
  Trainer trainer(c.train);
  if (report) trainer.on_report([&](const CurvePoint& p) { return report(trainer, p); });
  SoloRun r;
  r.history = trainer.fit(*model, *opt, loss, train, val);
  r.checkpoint = save_checkpoint(*model, *opt,
                                 {.iteration = r.history.iterations, .base_lr = trainer.base_lr()});
  return r;
}

bool same(double a, double b) {
  return a == b || (std::isnan(a) && std::isnan(b));
}

// Everything but the seconds, exactly.
void expect_same_history(const History& pop, const History& solo, int member) {
  SCOPED_TRACE("member " + std::to_string(member));
  EXPECT_EQ(pop.status, solo.status);
  EXPECT_EQ(pop.iterations, solo.iterations);
  EXPECT_EQ(pop.total_iterations, solo.total_iterations);
  EXPECT_EQ(pop.diverged_at, solo.diverged_at);
  EXPECT_TRUE(same(pop.final_train_loss, solo.final_train_loss));
  ASSERT_EQ(pop.curve.size(), solo.curve.size());
  for (size_t i = 0; i < pop.curve.size(); ++i) {
    const CurvePoint &a = pop.curve[i], &b = solo.curve[i];
    EXPECT_EQ(a.iteration, b.iteration) << "point " << i;
    EXPECT_EQ(a.epoch, b.epoch) << "point " << i;
    EXPECT_TRUE(same(a.train_loss, b.train_loss))
        << "point " << i << ": " << a.train_loss << " vs " << b.train_loss;
    EXPECT_TRUE(same(a.val_loss, b.val_loss))
        << "point " << i << ": " << a.val_loss << " vs " << b.val_loss;
    EXPECT_EQ(a.val_accuracy, b.val_accuracy) << "point " << i;
    EXPECT_EQ(a.lr, b.lr) << "point " << i;
  }
  ASSERT_EQ(pop.validation.has_value(), solo.validation.has_value());
  if (pop.validation) {
    EXPECT_EQ(pop.validation->loss, solo.validation->loss);
    EXPECT_EQ(pop.validation->accuracy, solo.validation->accuracy);
    EXPECT_EQ(pop.validation->count, solo.validation->count);
  }
}

MemberConfig member(const std::string& spec, uint64_t seed, double lr, double momentum,
                    double weight_decay, optim::Schedule schedule = optim::Constant{}) {
  MemberConfig c;
  c.model = nn::parse_model_spec(spec);
  c.sgd = {.lr = lr, .momentum = momentum, .weight_decay = weight_decay};
  c.adam = {.lr = lr, .weight_decay = weight_decay};
  c.train = {.epochs = 3, .batch = 16, .schedule = schedule, .eval_batch = 128};
  c.train.seed = seed * 31 + 7;
  c.init_seed = seed;
  return c;
}

class PopulationTest : public ::testing::Test {
 protected:
  void SetUp() override { backend::backend(Device::Cpu).set_threads(1); }

  // Trains the population and checks every member against its solo run.
  std::vector<History> expect_members_equal_solo(std::vector<MemberConfig> members) {
    Population pop(members, kImage, kClasses);
    std::vector<History> histories = pop.fit(train_, &val_);
    EXPECT_EQ(histories.size(), members.size());
    for (size_t m = 0; m < members.size(); ++m) {
      const SoloRun solo = solo_run(members[m], train_, &val_);
      expect_same_history(histories[m], solo.history, static_cast<int>(m));
      EXPECT_EQ(pop.checkpoint(static_cast<int>(m)), solo.checkpoint)
          << "member " << m << ": weights or optimizer state differ from the solo run's";
    }
    return histories;
  }
  void expect_recipient_continues_as_donor(const std::string& spec, bool through_bytes);

  // 600 = 37 * 16 + 8: each epoch ends with a smaller batch.
  data::Dataset train_ = testing::synthetic_dataset(600, kClasses, 1);
  data::Dataset val_ = testing::synthetic_dataset(300, kClasses, 2);
};

TEST_F(PopulationTest, SgdMembersEqualTheirSoloRuns) {
  const std::string spec = "mlp:16,8";
  auto histories = expect_members_equal_solo({
      member(spec, 1, 0.05, 0.0, 0.0),
      member(spec, 2, 0.1, 0.9, 1e-4, optim::StepDecay{.every = 20, .factor = 0.7}),
      member(spec, 3, 0.02, 0.5, 1e-3, optim::CosineWarmup{.warmup = 10}),
      member(spec, 4, 0.2, 0.9, 0.0, optim::Exponential{.gamma = 0.99}),
  });
  for (const History& h : histories) {
    EXPECT_EQ(h.status, RunStatus::Completed);
    EXPECT_EQ(h.curve.size(), 3u);  // a point per epoch
  }
  // The members did train differently (the test compares four different runs).
  EXPECT_NE(histories[0].curve.back().val_loss, histories[1].curve.back().val_loss);
}

TEST_F(PopulationTest, NesterovMembersEqualTheirSoloRuns) {
  std::vector<MemberConfig> members;
  for (uint64_t s = 1; s <= 3; ++s) {
    MemberConfig c = member("mlp:12", s, 0.03 * static_cast<double>(s), 0.8, 1e-4);
    c.sgd.nesterov = true;
    c.train.iterations = 50;
    c.train.eval_every = 20;
    members.push_back(c);
  }
  expect_members_equal_solo(members);
}

TEST_F(PopulationTest, AdamMembersEqualTheirSoloRuns) {
  std::vector<MemberConfig> members;
  const double lrs[] = {1e-3, 3e-3, 1e-2, 5e-4};
  for (uint64_t s = 0; s < 4; ++s) {
    MemberConfig c = member("mlp:16,8", s + 10, lrs[s], 0.0, s % 2 ? 1e-3 : 0.0,
                            optim::StepDecay{.every = 30, .factor = 0.5});
    c.optimizer = "adam";
    c.train.eval_every = 25;
    members.push_back(c);
  }
  expect_members_equal_solo(members);
}

TEST_F(PopulationTest, DropoutMembersEqualTheirSoloRunsWithTheirOwnRates) {
  // Sigmoid and tanh too; one member's rate is 0 (its dropout layers are the identity).
  const char* specs[] = {
      "flatten,dropout:0.1,dense:16,sigmoid,dropout:0.2,dense:8,tanh,dropout:0.5,dense:3",
      "flatten,dropout:0.3,dense:16,sigmoid,dropout:0.5,dense:8,tanh,dropout:0.1,dense:3",
      "flatten,dropout:0,dense:16,sigmoid,dropout:0,dense:8,tanh,dropout:0,dense:3",
      "flatten,dropout:0.2,dense:16,sigmoid,dropout:0.2,dense:8,tanh,dropout:0.2,dense:3",
  };
  std::vector<MemberConfig> members;
  for (int m = 0; m < 4; ++m) {
    members.push_back(member(specs[m], 20 + m, 0.1, 0.9, 1e-4));
  }
  expect_members_equal_solo(members);
}

TEST_F(PopulationTest, ADivergingMemberLeavesAtItsSoloStepAndTheOthersGoOn) {
  std::vector<MemberConfig> members = {
      member("mlp:16,8", 1, 0.05, 0.9, 0.0),
      member("mlp:16,8", 2, 1e6, 0.9, 0.0),  // diverges
      member("mlp:16,8", 3, 0.1, 0.0, 0.0),
  };
  const SoloRun diverging = solo_run(members[1], train_, &val_);
  ASSERT_EQ(diverging.history.status, RunStatus::Diverged);  // the test's premise
  ASSERT_GT(diverging.history.diverged_at, 1);
  auto histories = expect_members_equal_solo(members);
  EXPECT_EQ(histories[1].status, RunStatus::Diverged);
  EXPECT_EQ(histories[0].status, RunStatus::Completed);
  EXPECT_EQ(histories[2].status, RunStatus::Completed);
}

// A member whose last step leaves its weights non-finite (its loss finite) is diverged, as its
// solo run is (Trainer: mark_diverged_weights), and the others are not.
TEST_F(PopulationTest, AMemberWhoseLastStepLeftItsWeightsNonFiniteIsDivergedAsAlone) {
  for (int64_t n = 1; n <= 8; ++n) {
    std::vector<MemberConfig> members = {member("mlp:16,8", 1, 0.05, 0.9, 0.0),
                                         member("mlp:16,8", 2, 0.1, 0.0, 1e10)};
    for (MemberConfig& c : members) c.train = {.iterations = n, .batch = 16, .eval_every = n};
    const SoloRun alone = solo_run(members[1], train_, &val_);
    if (alone.history.status != RunStatus::Diverged || alone.history.curve.empty()) continue;
    ASSERT_EQ(alone.history.diverged_at, n);  // the premise: the last step's point was finite
    ASSERT_TRUE(std::isfinite(alone.history.curve.back().train_loss));
    auto histories = expect_members_equal_solo(members);
    EXPECT_EQ(histories[1].status, RunStatus::Diverged);
    EXPECT_EQ(histories[1].diverged_at, n);
    EXPECT_FALSE(histories[1].validation);
    EXPECT_EQ(histories[0].status, RunStatus::Completed);

    // Stopped by the callback at that step, in a longer run: diverged too, as alone (the
    // population's stopped members were not marked).
    for (MemberConfig& c : members) c.train = {.iterations = 2 * n, .batch = 16, .eval_every = n};
    Population pop(members, kImage, kClasses);
    pop.on_report([&](int m, const CurvePoint& p) { return !(m == 1 && p.iteration == n); });
    const std::vector<History> stopped = pop.fit(train_, &val_);
    const SoloRun stopped_alone = solo_run(
        members[1], train_, &val_, [&](Trainer&, const CurvePoint& p) { return p.iteration != n; });
    EXPECT_EQ(stopped_alone.history.status, RunStatus::Diverged);
    expect_same_history(stopped[1], stopped_alone.history, 1);
    EXPECT_EQ(stopped[1].status, RunStatus::Diverged);
    EXPECT_EQ(stopped[1].diverged_at, n);
    return;
  }
  FAIL() << "no length of run ends on a step that leaves the weights non-finite";
}

TEST_F(PopulationTest, AMemberStoppedByTheCallbackLeavesTheRestUnchanged) {
  std::vector<MemberConfig> members;
  for (uint64_t s = 1; s <= 4; ++s) {
    members.push_back(member("mlp:16,8", s, 0.05, 0.9, 0.0));
    members.back().train.eval_every = 10;
  }
  // Member 1 stops at its 3rd point (iteration 30); member 3 at its 5th.
  const std::map<int, int64_t> stop_at = {{1, 30}, {3, 50}};
  Population pop(members, kImage, kClasses);
  std::vector<int> active_at_step;
  pop.on_step([&](int64_t, int64_t, int active) { active_at_step.push_back(active); });
  pop.on_report([&](int m, const CurvePoint& p) {
    return !(stop_at.contains(m) && p.iteration == stop_at.at(m));
  });
  const std::vector<History> histories = pop.fit(train_, &val_);
  for (int m = 0; m < 4; ++m) {
    const auto stop = stop_at.contains(m) ? stop_at.at(m) : -1;
    const SoloRun solo =
        solo_run(members[static_cast<size_t>(m)], train_, &val_,
                 [&](Trainer&, const CurvePoint& p) { return p.iteration != stop; });
    expect_same_history(histories[static_cast<size_t>(m)], solo.history, m);
    EXPECT_EQ(pop.checkpoint(m), solo.checkpoint) << "member " << m;
    EXPECT_EQ(pop.is_active(m), !stop_at.contains(m));  // a completed member keeps its slot
  }
  EXPECT_EQ(histories[1].status, RunStatus::Stopped);
  EXPECT_EQ(histories[1].iterations, 30);
  EXPECT_EQ(histories[3].status, RunStatus::Stopped);
  // Later steps train fewer members.
  EXPECT_EQ(active_at_step[29], 4);
  EXPECT_EQ(active_at_step[30], 3);
  EXPECT_EQ(active_at_step[50], 2);
  EXPECT_EQ(active_at_step.back(), 2);
  // The stopped member's extracted model is its state when it left.
  const SoloMember solo = pop.extract(1);
  EXPECT_EQ(solo.iteration, 30);
  EXPECT_EQ(solo.optimizer->steps(), 30);
}

TEST_F(PopulationTest, BaseLrAndScheduleChangesActAsOnTheSoloTrainer) {
  std::vector<MemberConfig> members;
  for (uint64_t s = 1; s <= 3; ++s) {
    members.push_back(member("mlp:16", s, 0.05, 0.9, 0.0));
    members.back().train.eval_every = 20;
  }
  // At iteration 40 member 0 takes a new base rate, member 2 a new schedule.
  auto change_solo = [](int m) {
    return [m](Trainer& t, const CurvePoint& p) {
      if (p.iteration != 40) return true;
      if (m == 0) t.set_base_lr(0.01);
      if (m == 2) t.set_schedule(optim::Exponential{.gamma = 0.98});
      return true;
    };
  };
  Population pop(members, kImage, kClasses);
  pop.on_report([&](int m, const CurvePoint& p) {
    if (p.iteration != 40) return true;
    if (m == 0) pop.set_base_lr(0, 0.01);
    if (m == 2) pop.set_schedule(2, optim::Exponential{.gamma = 0.98});
    return true;
  });
  const std::vector<History> histories = pop.fit(train_, &val_);
  for (int m = 0; m < 3; ++m) {
    const SoloRun solo = solo_run(members[static_cast<size_t>(m)], train_, &val_, change_solo(m));
    expect_same_history(histories[static_cast<size_t>(m)], solo.history, m);
    EXPECT_EQ(pop.checkpoint(m), solo.checkpoint) << "member " << m;
  }
  EXPECT_DOUBLE_EQ(histories[0].curve.back().lr, 0.01);
}

// Members 0 and 2 differ only in their initial weights: once 2 takes 0's state (by copy_member,
// or by load_member from 0's checkpoint bytes, PBT's two exploits) it trains on exactly as 0 (same
// data order, same hyperparameters); member 1 is untouched.
void PopulationTest::expect_recipient_continues_as_donor(const std::string& spec,
                                                         bool through_bytes) {
  SCOPED_TRACE(spec + (through_bytes ? ", load_member" : ", copy_member"));
  std::vector<MemberConfig> members = {
      member(spec, 1, 0.05, 0.9, 1e-4),
      member(spec, 2, 0.1, 0.5, 0.0),
      member(spec, 1, 0.05, 0.9, 1e-4),
  };
  members[2].init_seed = 99;
  for (auto& c : members) c.train.eval_every = 20;
  Population pop(members, kImage, kClasses);
  pop.on_report([&](int m, const CurvePoint& p) {
    if (m == 2 && p.iteration == 40) {
      if (through_bytes) {
        pop.load_member(2, pop.checkpoint(0));
      } else {
        pop.copy_member(0, 2);
      }
    }
    return true;
  });
  const std::vector<History> h = pop.fit(train_, &val_);
  ASSERT_EQ(h[0].curve.size(), h[2].curve.size());
  EXPECT_NE(h[0].curve[1].val_loss, h[2].curve[1].val_loss);  // iteration 40: before the copy
  for (size_t i = 2; i < h[0].curve.size(); ++i) {
    EXPECT_EQ(h[0].curve[i].val_loss, h[2].curve[i].val_loss) << "point " << i;
    if (i > 2) {
      EXPECT_EQ(h[0].curve[i].train_loss, h[2].curve[i].train_loss) << "point " << i;
    }
  }
  // The weights, batch norm statistics and optimizer state equal the donor's; the progress too.
  EXPECT_EQ(pop.checkpoint(0), pop.checkpoint(2));
  const SoloRun untouched = solo_run(members[1], train_, &val_);
  expect_same_history(h[1], untouched.history, 1);
  EXPECT_EQ(pop.checkpoint(1), untouched.checkpoint);
}

TEST_F(PopulationTest, CopyMemberMakesTheRecipientContinueAsItsDonor) {
  expect_recipient_continues_as_donor("mlp:16,8", false);
  expect_recipient_continues_as_donor("mlp:16,8", true);
}

// Convolutional members (on 1x4x4 images): convolution with stride and padding, both poolings,
// batch norm on images and on features, dropout; the first weighted layer a convolution, a batch
// norm, or behind a pooling (which then runs on the evaluation's shared input).
const char* const kCnn =
    "conv:4:3:1:1,relu,maxpool:2,conv:6:2,batchnorm,tanh,flatten,dense:8,batchnorm,relu,"
    "dropout:0.25,dense:3";
const char* const kCnnNormFirst = "batchnorm,conv:3:2:2,sigmoid,avgpool:1,flatten,dense:3";
const char* const kCnnPoolFirst = "avgpool:2:1,conv:3:2,relu,maxpool:2:1,flatten,dense:3";

// A last dense:10 on data of 3 classes (labels below 10): ten outputs a member, as its solo
// model has, in the batched loss and accuracy too.
TEST_F(PopulationTest, MembersWithMoreOutputsThanClassesEqualTheirSoloRuns) {
  const std::string spec = "flatten,dense:8,relu,dense:10";
  Population pop({member(spec, 1, 0.05, 0.9, 0.0)}, kImage, kClasses);
  EXPECT_EQ(pop.extract(0).model->parameter_count(), 16 * 8 + 8 + 8 * 10 + 10);
  const std::vector<History> h = expect_members_equal_solo({
      member(spec, 1, 0.05, 0.9, 0.0),
      member(spec, 2, 0.1, 0.0, 1e-4),
  });
  for (const History& one : h) EXPECT_EQ(one.status, RunStatus::Completed);
}

TEST_F(PopulationTest, ConvolutionalMembersEqualTheirSoloRuns) {
  const std::string dropouts[] = {"dropout:0.25", "dropout:0", "dropout:0.5"};
  std::vector<MemberConfig> members;
  for (int m = 0; m < 3; ++m) {
    std::string spec = kCnn;
    spec.replace(spec.find("dropout:0.25"), 12, dropouts[m]);
    members.push_back(member(spec, 40 + m, 0.05 * (m + 1), m == 1 ? 0.0 : 0.9, m * 1e-4));
  }
  members[2].train.schedule = optim::StepDecay{.every = 30, .factor = 0.5};
  const std::vector<History> h = expect_members_equal_solo(members);
  for (const History& one : h) EXPECT_EQ(one.status, RunStatus::Completed);
  EXPECT_GT(h[0].validation->accuracy, 0.6);  // it learned (3 classes)
}

TEST_F(PopulationTest, ConvolutionalMembersWithAdamAndOtherFirstLayersEqualTheirSoloRuns) {
  for (const char* spec : {kCnnNormFirst, kCnnPoolFirst}) {
    SCOPED_TRACE(spec);
    std::vector<MemberConfig> members;
    for (int m = 0; m < 3; ++m) {
      members.push_back(member(spec, 50 + m, 0.003 * (m + 1), 0.0, m * 1e-3));
      members.back().optimizer = "adam";
    }
    expect_members_equal_solo(members);
  }
}

TEST_F(PopulationTest, AConvolutionalMemberThatDivergesLeavesTheOthersAsTheirSoloRuns) {
  // The diverged member's slots (and batch norm statistics) are taken by the last member's.
  std::vector<MemberConfig> members = {
      member(kCnn, 1, 0.05, 0.9, 0.0),
      member(kCnn, 2, 1e8, 0.9, 0.0),  // diverges
      member(kCnn, 3, 0.1, 0.0, 0.0),
  };
  const SoloRun diverging = solo_run(members[1], train_, &val_);
  ASSERT_EQ(diverging.history.status, RunStatus::Diverged);  // the test's premise
  const std::vector<History> h = expect_members_equal_solo(members);
  EXPECT_EQ(h[1].status, RunStatus::Diverged);
  EXPECT_EQ(h[2].status, RunStatus::Completed);
}

TEST_F(PopulationTest, AConvolutionalRecipientContinuesAsItsDonor) {
  // Without dropout: a recipient keeps its own dropout masks, so it would not follow its donor.
  std::string spec = kCnn;
  spec.erase(spec.find(",dropout:0.25"), 13);
  expect_recipient_continues_as_donor(spec, false);
  expect_recipient_continues_as_donor(spec, true);
}

TEST_F(PopulationTest, BatchNormOnASingleValueIsRefusedAsTheSoloRunRefusesIt) {
  // A batch of one image, flat batch norm: one value a feature.
  MemberConfig c = member("flatten,dense:8,batchnorm,relu,dense:3", 1, 0.1, 0.0, 0.0);
  c.train.batch = 1;
  c.train.iterations = 2;
  Population pop({c, c}, kImage, kClasses);
  try {
    pop.fit(train_, &val_);
    FAIL() << "trained batch norm on one value a feature";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("BatchNorm1d(8): training needs more than one value"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(solo_run(c, train_, &val_), ShapeError);
}

TEST_F(PopulationTest, BadInputIsRefusedWithAClearMessage) {
  auto message = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  EXPECT_NE(message([] { Population pop({}, kImage, kClasses); }).find("no members"),
            std::string::npos);

  // Members that do not share their architecture, optimizer or batch.
  const MemberConfig a = member("mlp:16", 1, 0.1, 0.9, 0);
  MemberConfig wider = member("mlp:32", 2, 0.1, 0.9, 0);
  std::string m = message([&] { Population pop({a, wider}, kImage, kClasses); });
  EXPECT_NE(m.find("member 1 cannot train with member 0"), std::string::npos) << m;
  EXPECT_NE(m.find("dense:32"), std::string::npos) << m;
  MemberConfig adam = a;
  adam.optimizer = "adam";
  EXPECT_NE(message([&] {
              Population pop({a, adam}, kImage, kClasses);
            }).find("member 1"),
            std::string::npos);
  MemberConfig batch = a;
  batch.train.batch = 8;
  EXPECT_NE(message([&] {
              Population pop({a, batch}, kImage, kClasses);
            }).find("batch=8"),
            std::string::npos);
  // Dropout rates may differ, the presence of dropout may not.
  EXPECT_EQ(population_key(member("flatten,dense:8,dropout:0.1,dense:3", 1, 0.1, 0, 0), 3),
            population_key(member("flatten,dense:8,dropout:0.6,dense:3", 2, 0.2, 0.9, 1e-3), 3));
  EXPECT_NE(population_key(member("flatten,dense:8,dropout:0.1,dense:3", 1, 0.1, 0, 0), 3),
            population_key(member("flatten,dense:8,dense:3", 1, 0.1, 0, 0), 3));
  // A member whose options its solo optimizer would refuse.
  MemberConfig bad_momentum = a;
  bad_momentum.sgd.momentum = 1.5;
  EXPECT_NE(message([&] {
              Population pop({a, bad_momentum}, kImage, kClasses);
            }).find("momentum"),
            std::string::npos);

  // Data of another shape.
  Population pop({a}, ImageShape{1, 5, 5}, kClasses);
  m = message([&] { pop.fit(train_, &val_); });
  EXPECT_NE(m.find("16 values"), std::string::npos) << m;
  EXPECT_NE(m.find("take 25 values"), std::string::npos) << m;

  // Hooks on members that are not there.
  Population two({a, a}, kImage, kClasses);
  EXPECT_NE(message([&] { two.copy_member(0, 2); }).find("the population has 2 members"),
            std::string::npos);
  EXPECT_NE(message([&] { two.set_base_lr(1, -1.0); }).find("learning rate"), std::string::npos);
}

TEST_F(PopulationTest, ExtractGivesTheSoloModelOfAMember) {
  std::vector<MemberConfig> members = {member("mlp:16", 1, 0.05, 0.9, 0.0),
                                       member("mlp:16", 2, 0.05, 0.0, 0.0)};
  Population pop(members, kImage, kClasses);
  // Before training: the initial weights of build_model with the member's seed.
  const SoloMember start = pop.extract(1);
  auto fresh = nn::build_model(members[1].model, kImage, kClasses, members[1].init_seed);
  const auto params = fresh->parameters();
  const auto extracted = start.model->parameters();
  ASSERT_EQ(params.size(), extracted.size());
  for (size_t i = 0; i < params.size(); ++i) {
    const auto x = params[i]->value.values(), y = extracted[i]->value.values();
    EXPECT_TRUE(std::equal(x.begin(), x.end(), y.begin(), y.end())) << params[i]->name;
  }
  const std::vector<History> h = pop.fit(train_, &val_);
  // After: evaluating the extracted model gives the member's last curve point.
  const SoloMember end = pop.extract(0);
  nn::SoftmaxCrossEntropy loss;
  const Evaluation e = evaluate(*end.model, loss, val_, 128);
  EXPECT_EQ(e.loss, h[0].curve.back().val_loss);
  EXPECT_EQ(e.accuracy, h[0].curve.back().val_accuracy);
  EXPECT_EQ(end.iteration, 3 * 38);
  EXPECT_EQ(end.optimizer->steps(), 3 * 38);
  EXPECT_GT(e.accuracy, 0.9);
}

}  // namespace
}  // namespace krill::train
