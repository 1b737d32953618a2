// Checkpoints: a resumed run continues bit-identically, and bad bytes are refused clearly.
#include "train/checkpoint.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "backend/backend.hpp"
#include "core/error.hpp"
#include "nn/model_spec.hpp"
#include "optim/adam.hpp"
#include "optim/sgd.hpp"
#include "synthetic.hpp"
#include "train/trainer.hpp"

namespace krill::train {
namespace {

using ::testing::HasSubstr;

struct Member {
  std::unique_ptr<nn::Sequential> model;
  std::unique_ptr<optim::Adam> adam;
  nn::SoftmaxCrossEntropy loss;
  explicit Member(const char* spec = "mlp:8", uint64_t seed = 1) {
    model = nn::build_model(nn::parse_model_spec(spec), 16, 3, seed);
    adam = std::make_unique<optim::Adam>(model->parameters(), optim::AdamOptions{.lr = 0.01});
  }
  std::vector<float> weights() {
    std::vector<float> w;
    for (auto* p : model->parameters())
      w.insert(w.end(), p->value.values().begin(), p->value.values().end());
    return w;
  }
};

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override { backend::backend(Device::Cpu).set_threads(1); }
  data::Dataset data_ = testing::synthetic_dataset(200, 3, 5);
  TrainOptions options_{
      .iterations = 40, .batch = 8, .schedule = optim::StepDecay{5, 0.9}, .seed = 4};
};

TEST_F(CheckpointTest, ResumingContinuesBitIdentically) {
  Member straight;
  Trainer(options_).fit(*straight.model, *straight.adam, straight.loss, data_);

  Member first_half;
  TrainOptions half = options_;
  half.iterations = 17;  // stops mid-epoch: the loader must resume at the right batch
  Trainer(half).fit(*first_half.model, *first_half.adam, first_half.loss, data_);
  auto bytes =
      save_checkpoint(*first_half.model, *first_half.adam, {.iteration = 17, .base_lr = 0.01});

  Member resumed(/*spec=*/"mlp:8", /*seed=*/99);  // different initial weights, overwritten
  TrainState state = load_checkpoint(bytes, *resumed.model, *resumed.adam);
  EXPECT_EQ(state.iteration, 17);
  EXPECT_EQ(resumed.adam->steps(), 17);
  TrainOptions rest = options_;
  rest.start_iteration = state.iteration;
  History h = Trainer(rest).fit(*resumed.model, *resumed.adam, resumed.loss, data_);
  EXPECT_EQ(h.iterations, 40);
  EXPECT_EQ(resumed.weights(), straight.weights());
}

TEST_F(CheckpointTest, FileRoundTrip) {
  Member a;
  Trainer(options_).fit(*a.model, *a.adam, a.loss, data_);
  auto file = std::filesystem::temp_directory_path() / "krill_checkpoint_test.ckpt";
  save_checkpoint_file(file, *a.model, *a.adam, {.iteration = 40, .base_lr = 0.01});
  Member b("mlp:8", 2);
  TrainState s = load_checkpoint_file(file, *b.model, *b.adam);
  EXPECT_EQ(s.iteration, 40);
  EXPECT_DOUBLE_EQ(s.base_lr, 0.01);
  EXPECT_EQ(a.weights(), b.weights());
  std::filesystem::remove(file);
}

TEST_F(CheckpointTest, RefusesBadBytesWithoutTouchingTheModel) {
  Member a;
  auto good = save_checkpoint(*a.model, *a.adam, {.iteration = 3, .base_lr = 0.01});
  Member b("mlp:8", 2);
  const auto before = b.weights();
  auto expect_refused = [&](std::vector<uint8_t> bytes, const char* words) {
    try {
      load_checkpoint(bytes, *b.model, *b.adam, "ckpt.bin");
      ADD_FAILURE() << "accepted bytes that should say: " << words;
    } catch (const DataError& e) {
      EXPECT_THAT(e.what(), HasSubstr("ckpt.bin"));
      EXPECT_THAT(e.what(), HasSubstr(words));
    }
    EXPECT_EQ(b.weights(), before);
  };
  expect_refused(std::vector<uint8_t>(good.begin(), good.begin() + good.size() / 2), "truncated");
  expect_refused({'h', 'e', 'l', 'l', 'o'}, "not a krill checkpoint");
  auto corrupt = good;
  corrupt[corrupt.size() / 2] ^= 0x40;
  expect_refused(corrupt, "checksum");
  auto future = good;
  future[8] = 99;  // version
  expect_refused(future, "version 99");
  auto longer = good;
  longer.push_back(0);
  expect_refused(longer, "trailing");

  Member other("mlp:8,4");
  auto other_bytes = save_checkpoint(*other.model, *other.adam, {});
  expect_refused(other_bytes, "another architecture");
  Member wider("mlp:9");
  expect_refused(save_checkpoint(*wider.model, *wider.adam, {}), "shape");
}

TEST_F(CheckpointTest, RefusesStateOfAnotherOptimizer) {
  Member a;
  auto bytes = save_checkpoint(*a.model, *a.adam, {});
  auto model = nn::build_model(nn::parse_model_spec("mlp:8"), 16, 3, 1);
  optim::Sgd sgd(model->parameters(), {.lr = 0.1});
  EXPECT_THROW(load_checkpoint(bytes, *model, sgd), DataError);
}

TEST_F(CheckpointTest, MissingFileIsAClearError) {
  Member a;
  const auto before = a.weights();
  try {
    load_checkpoint_file("/nonexistent/krill.ckpt", *a.model, *a.adam);
    ADD_FAILURE() << "loaded a checkpoint that does not exist";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("/nonexistent/krill.ckpt"));
    EXPECT_THAT(e.what(), HasSubstr("no such file"));
  }
  EXPECT_EQ(a.weights(), before);
}

}  // namespace
}  // namespace krill::train
