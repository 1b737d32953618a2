// DeviceImages: a data set's images where the model reads them, so that a step moves only image
// indices. On the CPU it is the set's own pixels, gathered into the very bits Dataset::gather
// writes (the loader's batches, which the trainer took before), and the trainer's steps are the
// loader's batches. On a device (the FakeDevice's memory here; the CUDA kernel itself is checked
// in cuda_training_test.cpp): one upload of the storage when made, freed when destroyed; a device
// that cannot hold the set gets each batch made on the host and copied.
#include "train/device_images.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "backend/backend.hpp"
#include "common/fake_device.hpp"
#include "core/error.hpp"
#include "data/loader.hpp"
#include "nn/losses.hpp"
#include "nn/model_spec.hpp"
#include "optim/sgd.hpp"
#include "synthetic.hpp"
#include "train/trainer.hpp"

namespace krill::train {
namespace {

constexpr int64_t kFeatures = 15;  // 3x5 images

// `count` 3x5 images whose pixels run through every byte value (0 and 255 among them).
std::shared_ptr<data::ImageSet> byte_images(int64_t count) {
  auto set = std::make_shared<data::ImageSet>();
  set->count = count;
  set->rows = 3;
  set->cols = 5;
  set->classes = 4;
  for (int64_t i = 0; i < count * kFeatures; ++i) {
    set->pixels.push_back(static_cast<uint8_t>((i * 37 + i / 255) % 256));
  }
  for (int64_t i = 0; i < count; ++i) set->labels.push_back(static_cast<int32_t>(i % 4));
  return set;
}

// What Dataset::gather writes for view positions `positions`, and their storage indices.
std::vector<float> dataset_gather(const data::Dataset& view, const std::vector<int64_t>& positions,
                                  std::vector<int64_t>* rows) {
  std::vector<float> out(positions.size() * static_cast<size_t>(kFeatures));
  view.gather(positions, out.data(), nullptr);
  for (const int64_t p : positions) rows->push_back(view.indices()[static_cast<size_t>(p)]);
  return out;
}

TEST(DeviceImages, OnTheCpuTheyAreTheSetsPixelsGatheredAsDatasetGathers) {
  auto set = byte_images(40);
  auto [view, held] = data::Dataset(set).split(0.25, 3);  // view: 30 images, not 0..29
  std::vector<int64_t> rows;
  const std::vector<float> expected = dataset_gather(view, {5, 0, 29, 5, 17, 11}, &rows);
  for (const float v : expected) ASSERT_TRUE(v >= 0.0f && v <= 1.0f);

  DeviceImages images(set, Device::Cpu);
  EXPECT_TRUE(images.resident());
  EXPECT_EQ(images.features(), kFeatures);
  Tensor out;
  images.gather(rows, out);
  EXPECT_EQ(out.device(), Device::Cpu);
  EXPECT_EQ(out.shape(), (Shape{6, kFeatures}));
  ASSERT_EQ(out.numel(), static_cast<int64_t>(expected.size()));
  for (size_t i = 0; i < expected.size(); ++i) ASSERT_EQ(out[static_cast<int64_t>(i)], expected[i]);

  images.gather({}, out);
  EXPECT_EQ(out.shape(), (Shape{0, kFeatures}));
}

TEST(DeviceImages, AnIndexOutsideTheStorageIsRefusedByName) {
  DeviceImages images(byte_images(10), Device::Cpu);
  Tensor out;
  for (const int64_t bad : {int64_t{10}, int64_t{-1}}) {
    try {
      const std::vector<int64_t> rows = {0, bad};
      images.gather(rows, out);
      FAIL() << "image " << bad << " was gathered";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("image " + std::to_string(bad) + " is outside the 10"),
                std::string::npos)
          << e.what();
    }
  }
  EXPECT_THROW(DeviceImages(nullptr, Device::Cpu), InvalidArgument);
}

TEST(DeviceImages, OnADeviceTheStorageIsUploadedOnceAndFreed) {
  testing::FakeDevice fake;
  auto set = byte_images(40);
  {
    DeviceImages images(set, Device::Cuda);
    EXPECT_TRUE(images.resident());
    EXPECT_EQ(fake.allocations, 1);
    EXPECT_EQ(fake.uploads, 1);
    EXPECT_EQ(fake.uploaded_bytes, set->pixels.size());  // bytes, not floats
    EXPECT_EQ(fake.frees, 0);
  }
  EXPECT_EQ(fake.frees, 1);
}

TEST(DeviceImages, ADeviceThatCannotHoldTheSetGetsBatchesMadeOnTheHost) {
  testing::FakeDevice fake;
  auto set = byte_images(40);  // 600 bytes
  fake.max_bytes = 500;        // a batch of 4 images (240 bytes of floats) still fits
  DeviceImages images(set, Device::Cuda);
  EXPECT_FALSE(images.resident());
  EXPECT_EQ(fake.refusals, 1);
  EXPECT_EQ(fake.allocations, 0);

  std::vector<int64_t> rows;
  const std::vector<float> expected = dataset_gather(data::Dataset(set), {39, 0, 7, 7}, &rows);
  Tensor out;
  images.gather(rows, out);
  EXPECT_EQ(out.device(), Device::Cuda);
  EXPECT_EQ(out.shape(), (Shape{4, kFeatures}));
  EXPECT_EQ(fake.uploads, 1);  // the batch, copied once
  EXPECT_EQ(out.to_host(), expected);
}

// Trainer::fit's steps are the loader's batches: a hand-written loop over DataLoader::next (the
// pixels gathered by Dataset::gather) gives the same step losses, bit for bit, over two epochs
// with a smaller last batch.
TEST(DeviceImages, TheTrainersStepsAreTheLoadersBatches) {
  backend::backend(Device::Cpu).set_threads(1);
  const data::Dataset train = testing::synthetic_dataset(200, 3, 5);  // 200 = 6 * 32 + 8
  const TrainOptions options{.epochs = 2, .batch = 32, .seed = 9};
  auto run = [&](bool with_trainer) {
    auto model = nn::build_model(nn::parse_model_spec("mlp:8"), 16, 3, 4);
    optim::Sgd sgd(model->parameters(), {.lr = 0.1, .momentum = 0.9});
    nn::SoftmaxCrossEntropy loss;
    std::vector<double> losses;
    if (with_trainer) {
      Trainer trainer(options);
      trainer.on_step([&](int64_t, int64_t, double step_loss) { losses.push_back(step_loss); });
      trainer.fit(*model, sgd, loss, train);
      return losses;
    }
    data::DataLoader loader(train, {.batch = options.batch, .seed = options.seed});
    data::Batch batch;
    for (int64_t epoch = 0; epoch < options.epochs; ++epoch) {
      loader.start_epoch(epoch);
      while (loader.next(batch)) {
        losses.push_back(loss.forward(model->forward(batch.x, nn::Mode::Train), batch.labels));
        model->backward(loss.backward());
        sgd.step();
      }
    }
    return losses;
  };
  const std::vector<double> by_hand = run(false);
  ASSERT_EQ(by_hand.size(), 14u);
  EXPECT_EQ(run(true), by_hand);
}

TEST(DeviceImages, EvaluateRefusesImagesOfAnotherSet) {
  auto model = nn::build_model(nn::parse_model_spec("mlp:8"), 16, 3, 4);
  nn::SoftmaxCrossEntropy loss;
  const data::Dataset a = testing::synthetic_dataset(20, 3, 1);
  const data::Dataset b = testing::synthetic_dataset(20, 3, 2);
  DeviceImages images_of_b(b.storage(), Device::Cpu);
  EXPECT_THROW(evaluate(*model, loss, a, 8, images_of_b), InvalidArgument);
  DeviceImages images_of_a(a.storage(), Device::Cpu);
  const Evaluation with_images = evaluate(*model, loss, a, 8, images_of_a);
  const Evaluation plain = evaluate(*model, loss, a, 8);
  EXPECT_EQ(with_images.count, 20);
  EXPECT_EQ(with_images.loss, plain.loss);
  EXPECT_EQ(with_images.accuracy, plain.accuracy);
}

}  // namespace
}  // namespace krill::train
