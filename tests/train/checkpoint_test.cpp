// Checkpoints: a resumed run continues bit-identically, and bad bytes are refused clearly.
#include "train/checkpoint.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <zlib.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <limits>

#include "backend/backend.hpp"
#include "common/fake_device.hpp"
#include "core/error.hpp"
#include "nn/activations.hpp"
#include "nn/batch_norm.hpp"
#include "nn/conv2d.hpp"
#include "nn/dense.hpp"
#include "nn/dropout.hpp"
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
  explicit Member(const char* spec = "mlp:8", uint64_t seed = 1)
      : Member(nn::build_model(nn::parse_model_spec(spec), 16, 3, seed)) {}
  explicit Member(std::unique_ptr<nn::Sequential> net) : model(std::move(net)) {
    adam = std::make_unique<optim::Adam>(model->parameters(), optim::AdamOptions{.lr = 0.01});
  }
  std::vector<float> weights() {
    std::vector<float> w;
    for (auto* p : model->parameters())
      w.insert(w.end(), p->value.values().begin(), p->value.values().end());
    return w;
  }
  std::vector<uint8_t> state() const {
    BinaryWriter out;
    model->save_state(out);
    return out.take();
  }
};

// "mlp:8" with dropout 0.5 after the hidden layer (the model spec has no syntax for it).
std::unique_ptr<nn::Sequential> mlp_with_dropout(uint64_t seed) {
  nn::ModelSpec spec = nn::parse_model_spec("mlp:8");
  spec.dropout = 0.5f;
  return nn::build_model(spec, 16, 3, seed);
}

// A small CNN on the synthetic 4x4 images, with batch norm on images and on features.
std::unique_ptr<nn::Sequential> cnn_with_batch_norm(uint64_t seed) {
  auto net = std::make_unique<nn::Sequential>(
      nn::Conv2d({1, 4, 4}, 2, 3), nn::BatchNorm(ImageShape{2, 2, 2}), nn::Relu(), nn::Dense(8, 6),
      nn::BatchNorm(6), nn::Relu(), nn::Dense(6, 3, nn::Init::Glorot));
  Rng rng(seed);
  net->reset(rng);
  return net;
}

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

// Recomputes the header's payload size and CRC-32 after `payload` was edited, as a checkpoint
// written by a buggy or foreign program would have them: the checksum passes, the parser decides.
std::vector<uint8_t> resealed(std::vector<uint8_t> bytes) {
  constexpr size_t kHeader = 8 + 4 + 8 + 4;
  const uint64_t size = bytes.size() - kHeader;
  const auto crc = static_cast<uint32_t>(
      crc32(crc32(0L, Z_NULL, 0), bytes.data() + kHeader, static_cast<uInt>(size)));
  std::memcpy(bytes.data() + 12, &size, sizeof size);
  std::memcpy(bytes.data() + 20, &crc, sizeof crc);
  return bytes;
}

std::vector<uint8_t> optimizer_state(const optim::Optimizer& optimizer) {
  BinaryWriter out;
  optimizer.save_state(out);
  return out.take();
}

// Found by fuzz/checkpoint_fuzzer.cpp: a payload that ends inside the training progress (after
// the optimizer's state) was refused, but only after the optimizer had taken the checkpoint's
// state, step count and learning rate, so the model kept its weights and the optimizer did not.
TEST_F(CheckpointTest, RefusedTrainingProgressLeavesTheOptimizerUntouched) {
  Member a;
  Trainer(options_).fit(*a.model, *a.adam, a.loss, data_);  // non-zero moments, 40 steps
  const auto good = save_checkpoint(*a.model, *a.adam, {.iteration = 40, .base_lr = 0.01});
  Member b("mlp:8", 2);
  const auto weights = b.weights();
  const auto state = optimizer_state(*b.adam);
  auto expect_refused = [&](const std::vector<uint8_t>& bytes, const char* words) {
    try {
      load_checkpoint(bytes, *b.model, *b.adam, "ckpt.bin");
      ADD_FAILURE() << "accepted bytes that should say: " << words;
    } catch (const DataError& e) {
      EXPECT_THAT(e.what(), HasSubstr(words));
    }
    EXPECT_EQ(b.weights(), weights);
    EXPECT_EQ(optimizer_state(*b.adam), state);
    EXPECT_EQ(b.adam->steps(), 0);
  };
  const size_t base_lr_at = good.size() - 8, iteration_at = good.size() - 16;
  expect_refused(resealed({good.begin(), good.end() - 9}), "truncated: iteration");
  expect_refused(resealed({good.begin(), good.end() - 1}), "truncated: base learning rate");
  auto negative = good;
  const int64_t minus_one = -1;
  std::memcpy(negative.data() + iteration_at, &minus_one, 8);
  expect_refused(resealed(negative), "iteration: -1 is negative");
  auto nan_lr = good;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::memcpy(nan_lr.data() + base_lr_at, &nan, 8);
  expect_refused(resealed(nan_lr), "base learning rate: nan is not >= 0 and finite");
  auto longer = good;
  longer.push_back(0);
  expect_refused(resealed(longer), "trailing bytes: 1 after the training progress");

  // The same bytes, untouched, load.
  EXPECT_EQ(load_checkpoint(resealed(good), *b.model, *b.adam).iteration, 40);
  EXPECT_EQ(b.adam->steps(), 40);
}

// The checkpoint format before module state (version 1), made from a version 2 checkpoint of
// `member`: its payload without the model's state.
std::vector<uint8_t> as_version_1(const std::vector<uint8_t>& bytes, Member& member) {
  BinaryWriter params;  // the parameters, as the payload starts
  auto list = member.model->parameters();
  params.u32(static_cast<uint32_t>(list.size()));
  for (const nn::Parameter* p : list) {
    params.string(p->name);
    params.tensor(p->value);
  }
  const size_t state_at = 8 + 4 + 8 + 4 + params.buffer().size();
  uint64_t state_size = 0;
  std::memcpy(&state_size, bytes.data() + state_at, sizeof state_size);
  std::vector<uint8_t> old(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(state_at));
  old.insert(old.end(), bytes.begin() + static_cast<std::ptrdiff_t>(state_at + 8 + state_size),
             bytes.end());
  const uint32_t version = 1;
  std::memcpy(old.data() + 8, &version, sizeof version);
  return resealed(old);
}

// Trains `make(1)` straight for 40 steps, and `make(1)` for 17 steps, checkpointed (`convert`
// may turn the bytes into an older format) and resumed in `make(99)` for the rest; returns the two.
template <class Make, class Convert>
std::pair<Member, Member> straight_and_resumed(Make make, Convert convert,
                                               const TrainOptions& options,
                                               const data::Dataset& data,
                                               const data::Dataset* validation = nullptr) {
  Member straight(make(1));
  Trainer(options).fit(*straight.model, *straight.adam, straight.loss, data, validation);

  Member first_half(make(1));
  TrainOptions half = options;
  half.iterations = 17;
  Trainer(half).fit(*first_half.model, *first_half.adam, first_half.loss, data, validation);
  const auto bytes = convert(
      save_checkpoint(*first_half.model, *first_half.adam, {.iteration = 17, .base_lr = 0.01}),
      first_half);

  Member resumed(make(99));  // other initial weights and mask stream, overwritten
  const TrainState state = load_checkpoint(bytes, *resumed.model, *resumed.adam);
  TrainOptions rest = options;
  rest.start_iteration = state.iteration;
  Trainer(rest).fit(*resumed.model, *resumed.adam, resumed.loss, data, validation);
  return {std::move(straight), std::move(resumed)};
}

const auto as_is = [](std::vector<uint8_t> bytes, Member&) { return bytes; };

TEST_F(CheckpointTest, ResumingWithDropoutContinuesBitIdentically) {
  auto [straight, resumed] = straight_and_resumed(mlp_with_dropout, as_is, options_, data_);
  EXPECT_EQ(resumed.weights(), straight.weights());
  EXPECT_EQ(resumed.state(), straight.state());  // the mask streams, at the same place

  // What the state is for: a version 1 checkpoint (no module state) still loads, but the resumed
  // run draws other masks and ends elsewhere.
  auto [straight_v1, resumed_v1] =
      straight_and_resumed(mlp_with_dropout, as_version_1, options_, data_);
  EXPECT_NE(resumed_v1.weights(), straight_v1.weights());
}

TEST_F(CheckpointTest, ResumingWithBatchNormContinuesBitIdentically) {
  const data::Dataset validation = testing::synthetic_dataset(50, 3, 6);
  TrainOptions options = options_;
  options.eval_every = 10;  // evaluation forwards between the steps must not move the statistics
  auto [straight, resumed] =
      straight_and_resumed(cnn_with_batch_norm, as_is, options, data_, &validation);
  EXPECT_EQ(resumed.weights(), straight.weights());
  EXPECT_EQ(resumed.state(), straight.state());                         // the running statistics
  EXPECT_NE(straight.state(), Member(cnn_with_batch_norm(1)).state());  // they did move
}

TEST_F(CheckpointTest, ReadsVersion1CheckpointsUnlessTheModelNeedsItsState) {
  Member a;
  Trainer(options_).fit(*a.model, *a.adam, a.loss, data_);
  const auto old = as_version_1(save_checkpoint(*a.model, *a.adam, {.iteration = 40}), a);
  Member b("mlp:8", 2);
  EXPECT_EQ(load_checkpoint(old, *b.model, *b.adam).iteration, 40);
  EXPECT_EQ(b.weights(), a.weights());

  Member norm(cnn_with_batch_norm(1));
  Trainer(options_).fit(*norm.model, *norm.adam, norm.loss, data_);
  const auto old_norm = as_version_1(save_checkpoint(*norm.model, *norm.adam, {}), norm);
  Member other(cnn_with_batch_norm(2));
  const auto weights = other.weights();
  const auto state = other.state();
  try {
    load_checkpoint(old_norm, *other.model, *other.adam, "old.ckpt");
    ADD_FAILURE() << "loaded a batch-norm model from a checkpoint without its statistics";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("old.ckpt"));
    EXPECT_THAT(e.what(), HasSubstr("version 1 holds no module state"));
  }
  EXPECT_EQ(other.weights(), weights);
  EXPECT_EQ(other.state(), state);
}

// Dropout before or after the activation: the same parameters, and only the module state tells
// the models apart. A refused state leaves the model's weights and state and the optimizer as
// they were.
TEST_F(CheckpointTest, RefusesModuleStateOfAnotherArchitectureWithoutTouchingTheModel) {
  Member dropout(mlp_with_dropout(1));  // Dense, Relu, Dropout, Dense
  Trainer(options_).fit(*dropout.model, *dropout.adam, dropout.loss, data_);
  const auto bytes = save_checkpoint(*dropout.model, *dropout.adam, {.iteration = 40});
  Member plain(std::make_unique<nn::Sequential>(nn::Dense(16, 8), nn::Dropout(0.5f), nn::Relu(),
                                                nn::Dense(8, 3)));
  const auto weights = plain.weights();
  const auto adam = optimizer_state(*plain.adam);
  try {
    load_checkpoint(bytes, *plain.model, *plain.adam, "ckpt.bin");
    ADD_FAILURE() << "loaded the state of a model with dropout into one without";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("ckpt.bin, model state, module 1 (Dropout(0.5))"));
    EXPECT_THAT(e.what(), HasSubstr("truncated: generator state"));
  }
  EXPECT_EQ(plain.weights(), weights);
  EXPECT_EQ(optimizer_state(*plain.adam), adam);

  // A state that loads, then a refused training progress: the model's state is put back too.
  Member target(mlp_with_dropout(2));
  const auto target_state = target.state();
  try {
    load_checkpoint(resealed({bytes.begin(), bytes.end() - 1}), *target.model, *target.adam);
    ADD_FAILURE() << "loaded a checkpoint without its last byte";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("truncated: base learning rate"));
  }
  EXPECT_EQ(target.state(), target_state);
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

// A checkpoint is written through a symbolic link (into its target, the link kept), and never
// over a device, a FIFO or a folder: the write renames a new file into place, which turned
// `--save /dev/full` (as root) into a regular file.
TEST(CheckpointFile, IsWrittenThroughALinkAndNeverOverAFileThatIsNotRegular) {
  namespace fs = std::filesystem;
  const fs::path dir =
      fs::temp_directory_path() / ("krill_ckpt_kinds_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "sub");
  const std::vector<uint8_t> bytes = {1, 2, 3, 4};
  // A dangling link, a relative one, through two links: the final target gets the bytes.
  fs::create_symlink("sub/target.ckpt", dir / "link");
  fs::create_symlink("link", dir / "link2");
  write_checkpoint_file(dir / "link2", bytes);
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(dir / "link")));
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(dir / "link2")));
  EXPECT_EQ(read_checkpoint_file(dir / "sub/target.ckpt"), bytes);
  EXPECT_EQ(read_checkpoint_file(dir / "link2"), bytes);
  // Written again: replaced in the target, the links still links.
  write_checkpoint_file(dir / "link", std::vector<uint8_t>{9});
  EXPECT_EQ(read_checkpoint_file(dir / "sub/target.ckpt"), std::vector<uint8_t>{9});
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(dir / "link")));
  // A FIFO, a folder, a link to a device: refused by name, left as they were.
  ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0600), 0);
  fs::create_symlink("/dev/null", dir / "null");
  const std::vector<std::pair<fs::path, std::string>> refused = {
      {dir / "fifo", "a FIFO"}, {dir / "sub", "a folder"}, {dir / "null", "a character device"}};
  for (const auto& [path, kind] : refused) {
    try {
      write_checkpoint_file(path, bytes);
      ADD_FAILURE() << "wrote over " << path;
    } catch (const DataError& e) {
      EXPECT_THAT(e.what(), HasSubstr(path.string() + ": " + kind)) << e.what();
    }
  }
  EXPECT_EQ(fs::status(dir / "fifo").type(), fs::file_type::fifo);
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(dir / "null")));
  EXPECT_EQ(fs::status("/dev/null").type(), fs::file_type::character);
  EXPECT_FALSE(fs::exists(dir / "fifo.tmp"));
  // A loop of links is an error, not a hang.
  fs::create_symlink("loop_b", dir / "loop_a");
  fs::create_symlink("loop_a", dir / "loop_b");
  EXPECT_THROW(write_checkpoint_file(dir / "loop_a", bytes), DataError);
  fs::remove_all(dir);
}

// A model and its optimizer on a device (a counting stand-in for a GPU's memory) save the same
// bytes as on the host, and load back into the device's memory: a checkpoint does not depend on
// where the model trained.
TEST_F(CheckpointTest, AModelOnADeviceSavesAndLoadsTheSameBytes) {
  auto host = mlp_with_dropout(3);
  optim::Sgd host_sgd(host->parameters(), {.lr = 0.1, .momentum = 0.9});
  const auto expected = save_checkpoint(*host, host_sgd, {.iteration = 5, .base_lr = 0.1});

  testing::FakeDevice gpu;
  auto dev = mlp_with_dropout(3);
  dev->to(Device::Cuda);
  optim::Sgd dev_sgd(dev->parameters(), {.lr = 0.1, .momentum = 0.9});
  EXPECT_EQ(save_checkpoint(*dev, dev_sgd, {.iteration = 5, .base_lr = 0.1}), expected);

  auto other = mlp_with_dropout(9);  // other weights, replaced by the checkpoint's
  other->to(Device::Cuda);
  optim::Sgd other_sgd(other->parameters(), {.lr = 0.1, .momentum = 0.9});
  const TrainState state = load_checkpoint(expected, *other, other_sgd);
  EXPECT_EQ(state.iteration, 5);
  auto host_params = host->parameters();
  auto other_params = other->parameters();
  for (size_t i = 0; i < host_params.size(); ++i) {
    EXPECT_EQ(other_params[i]->value.device(), Device::Cuda);
    EXPECT_EQ(other_params[i]->value.to_host(), host_params[i]->value.to_host());
  }
  EXPECT_GT(gpu.uploads, 0);
}

}  // namespace
}  // namespace krill::train
