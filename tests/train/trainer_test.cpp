// The training loop: it learns, it is reproducible, it reports a learning curve, a callback can
// stop it, and a NaN loss ends the run as diverged instead of crashing.
#include "train/trainer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "core/error.hpp"
#include "nn/model_spec.hpp"
#include "optim/sgd.hpp"
#include "synthetic.hpp"

namespace krill::train {
namespace {

struct Net {
  std::unique_ptr<nn::Sequential> model;
  std::unique_ptr<optim::Sgd> sgd;
  nn::SoftmaxCrossEntropy loss;
  Net(uint64_t seed, double lr) {
    model = nn::build_model(nn::parse_model_spec("mlp:16"), 16, 3, seed);
    sgd = std::make_unique<optim::Sgd>(model->parameters(),
                                       optim::SgdOptions{.lr = lr, .momentum = 0.9});
  }
};

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override { backend::backend(Device::Cpu).set_threads(1); }
  data::Dataset train_ = testing::synthetic_dataset(600, 3, 1);
  data::Dataset val_ = testing::synthetic_dataset(300, 3, 2);
};

TEST_F(TrainerTest, LearnsASeparableProblem) {
  Net s(1, 0.05);
  Trainer t({.epochs = 5, .batch = 16, .seed = 3});
  History h = t.fit(*s.model, *s.sgd, s.loss, train_, &val_);
  EXPECT_EQ(h.status, RunStatus::Completed);
  EXPECT_EQ(h.iterations, 5 * 38);  // ceil(600 / 16) = 38 batches an epoch
  ASSERT_EQ(h.curve.size(), 5u);    // one point per epoch by default
  EXPECT_GT(h.curve.front().train_loss, h.curve.back().train_loss);
  ASSERT_TRUE(h.validation);
  EXPECT_GT(h.validation->accuracy, 0.95);
}

TEST_F(TrainerTest, SameSeedGivesBitIdenticalRuns) {
  auto run = [&](uint64_t seed) {
    Net s(seed, 0.05);
    Trainer t({.iterations = 50, .batch = 8, .eval_every = 10, .seed = seed});
    History h = t.fit(*s.model, *s.sgd, s.loss, train_, &val_);
    std::vector<double> out;
    for (const auto& p : h.curve) out.insert(out.end(), {p.train_loss, p.val_loss});
    for (auto* p : s.model->parameters())
      out.insert(out.end(), p->value.values().begin(), p->value.values().end());
    return out;
  };
  auto a = run(7), b = run(7), c = run(8);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << i;  // bit-identical
  EXPECT_NE(a, c);
}

TEST_F(TrainerTest, CurvePointsFollowEvalEveryAndTheSchedule) {
  Net s(1, 0.1);
  Trainer t({.iterations = 45,
             .batch = 10,
             .schedule = optim::StepDecay{.every = 10, .factor = 0.5},
             .eval_every = 20});
  History h = t.fit(*s.model, *s.sgd, s.loss, train_, &val_);
  ASSERT_EQ(h.curve.size(), 3u);  // 20, 40 and the last step, 45
  EXPECT_EQ(h.curve[0].iteration, 20);
  EXPECT_EQ(h.curve[2].iteration, 45);
  EXPECT_DOUBLE_EQ(h.curve[0].lr, 0.1 * 0.5);  // step 19 (0-based) is in the 2nd decay
  EXPECT_DOUBLE_EQ(h.curve[2].lr, 0.1 * 0.5 * 0.5 * 0.5 * 0.5);  // step 44
  EXPECT_DOUBLE_EQ(s.sgd->lr(), 0.1);                            // base rate restored
  for (const auto& p : h.curve) {
    EXPECT_TRUE(std::isfinite(p.val_accuracy));
    EXPECT_GE(p.seconds, 0.0);
  }
}

TEST_F(TrainerTest, ACallbackCanStopTheRun) {
  Net s(1, 0.05);
  Trainer t({.iterations = 100, .batch = 10, .eval_every = 10});
  int calls = 0;
  t.on_report([&](const CurvePoint&) { return ++calls < 2; });
  History h = t.fit(*s.model, *s.sgd, s.loss, train_, &val_);
  EXPECT_EQ(h.status, RunStatus::Stopped);
  EXPECT_EQ(h.iterations, 20);
  EXPECT_EQ(h.curve.size(), 2u);
}

TEST_F(TrainerTest, ANonFiniteLossIsADivergedRunNotACrash) {
  Net s(1, 1e30);
  Trainer t({.iterations = 200, .batch = 10, .eval_every = 10});
  History h = t.fit(*s.model, *s.sgd, s.loss, train_, &val_);
  EXPECT_EQ(h.status, RunStatus::Diverged);
  EXPECT_GT(h.diverged_at, 0);
  EXPECT_LT(h.diverged_at, 200);
  EXPECT_EQ(h.iterations, h.diverged_at);
  EXPECT_FALSE(h.validation);
}

// A huge weight decay can leave the weights non-finite after a step whose own loss was finite: a
// run that ends there evaluates to NaN, and is diverged (it was "completed", with a validation
// loss of NaN), at its last step, without a validation.
TEST_F(TrainerTest, WeightsLeftNonFiniteByTheLastStepAreADivergedRun) {
  int last_step_cases = 0;
  for (int64_t n = 1; n <= 8; ++n) {
    auto model = nn::build_model(nn::parse_model_spec("mlp:16"), 16, 3, 1);
    optim::Sgd sgd(model->parameters(), {.lr = 0.1, .weight_decay = 1e10});
    nn::SoftmaxCrossEntropy loss;
    History h = Trainer({.iterations = n, .batch = 10, .eval_every = n})
                    .fit(*model, sgd, loss, train_, &val_);
    if (h.status != RunStatus::Diverged) {
      ASSERT_TRUE(h.validation) << n;
      EXPECT_TRUE(std::isfinite(h.validation->loss)) << n;
      continue;
    }
    EXPECT_FALSE(h.validation) << n;
    EXPECT_EQ(h.iterations, h.diverged_at) << n;
    if (h.diverged_at == n && !h.curve.empty() && std::isfinite(h.curve.back().train_loss)) {
      EXPECT_FALSE(std::isfinite(h.curve.back().val_loss)) << n;
      ++last_step_cases;
    }
  }
  EXPECT_GT(last_step_cases, 0);  // the premise: some length ends on such a step
}

TEST_F(TrainerTest, RejectsBadOptions) {
  EXPECT_THROW(Trainer({.batch = 0}), InvalidArgument);
  EXPECT_THROW(Trainer({.epochs = 0}), InvalidArgument);
  EXPECT_THROW(Trainer({.iterations = -1}), InvalidArgument);
}

// A batch or an epoch count near INT64_MAX: a batch larger than the data is the whole data (one
// step an epoch; ceil(n / batch) written as (n + batch - 1) / batch overflowed, to a division by
// zero), and more steps than an int64 counts are refused (they wrapped to a negative total and a
// run that trained nothing and said "completed").
TEST_F(TrainerTest, HugeBatchesAndEpochCountsNeitherOverflowNorWrap) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  Net s(1, 0.05);
  Trainer whole({.epochs = 2, .batch = kMax, .seed = 3});
  EXPECT_EQ(whole.total_iterations(train_), 2);
  const History h = whole.fit(*s.model, *s.sgd, s.loss, train_, &val_);
  EXPECT_EQ(h.status, RunStatus::Completed);
  EXPECT_EQ(h.iterations, 2);
  EXPECT_EQ(h.curve.size(), 2u);
  // 600 images, batch 16: 38 batches an epoch.
  EXPECT_EQ(Trainer({.epochs = kMax / 38, .batch = 16}).total_iterations(train_), kMax / 38 * 38);
  for (const int64_t epochs : {kMax / 38 + 1, kMax, int64_t{485440633518672411}}) {
    try {  // 485440633518672411 x 38 wraps to a small positive count
      Trainer({.epochs = epochs, .batch = 16}).total_iterations(train_);
      ADD_FAILURE() << epochs << " epochs were counted";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(std::to_string(epochs) + " epochs of 38 batches"),
                std::string::npos)
          << e.what();
    }
  }
  Net t(1, 0.05);
  EXPECT_THROW(Trainer({.epochs = kMax, .batch = 16}).fit(*t.model, *t.sgd, t.loss, train_, &val_),
               InvalidArgument);
}

TEST_F(TrainerTest, EvaluateCountsCorrectRows) {
  Net s(1, 0.05);
  Evaluation before = evaluate(*s.model, s.loss, val_, 64);
  EXPECT_EQ(before.count, 300);
  Trainer({.epochs = 3, .batch = 16}).fit(*s.model, *s.sgd, s.loss, train_);
  Evaluation after = evaluate(*s.model, s.loss, val_, 64);
  EXPECT_LT(after.loss, before.loss);
  EXPECT_GT(after.accuracy, before.accuracy);
  EXPECT_EQ(after.count, 300);
  // Counted here from the logits of all 300 rows in one pass (evaluate took batches of 64, the
  // last of 44): the rows whose largest logit is their label's, and the mean of log-sum-exp minus
  // the label's logit.
  std::vector<int64_t> rows(300);
  std::iota(rows.begin(), rows.end(), 0);
  Tensor x({300, 16});
  std::vector<int32_t> labels(300);
  val_.gather(rows, x.data(), labels.data());
  const Tensor& logits = s.model->forward(x, nn::Mode::Eval);
  int correct = 0;
  double loss = 0;
  for (int64_t r = 0; r < 300; ++r) {
    const float* z = logits.data() + r * 3;
    const int64_t best = std::max_element(z, z + 3) - z;
    correct += best == labels[static_cast<size_t>(r)];
    double sum = 0;
    for (int c = 0; c < 3; ++c) sum += std::exp(static_cast<double>(z[c]) - z[best]);
    loss += z[best] + std::log(sum) - z[labels[static_cast<size_t>(r)]];
  }
  EXPECT_EQ(after.accuracy, correct / 300.0);
  EXPECT_NEAR(after.loss, loss / 300, 1e-5);
  EXPECT_GT(correct, 200);  // trained: far above chance, so the count is not trivially 0
}

}  // namespace
}  // namespace krill::train
