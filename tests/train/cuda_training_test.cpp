// Training on the GPU against training on the CPU, end to end (the op-by-op parity test is
// tests/backend/cuda_parity_test.cpp): the images gathered on the device are the CPU's bits, and a
// Trainer run and a Population run on CUDA follow the CPU's runs of the same seeds. Every test
// skips, printing backend::device_problem, without a usable GPU. So does the hand-over of a
// population's slices to another thread at a report.
//
// Tolerance: the runs start from the same weights and batches, and differ only by the order in
// which cuBLAS and OpenBLAS add a GEMM's products (~1e-7 relative per product, kProducts in the
// parity test). Over the 76 SGD steps here those differences grow but stay far below what a
// wrong batch, label or update would make (the losses move by ~1e-1 between steps): losses agree
// within kTraining relative, and accuracies within kFlips of the 150 validation images (an image
// on the decision boundary may fall either side).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "backend/backend.hpp"
#include "nn/losses.hpp"
#include "nn/model_spec.hpp"
#include "optim/sgd.hpp"
#include "synthetic.hpp"
#include "train/device_images.hpp"
#include "train/population.hpp"
#include "train/trainer.hpp"

namespace krill::train {
namespace {

constexpr double kTraining = 5e-3;
constexpr double kFlips = 3;
constexpr int kClasses = 3;
const ImageShape kImage{1, 4, 4};

class CudaTraining : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = backend::device_problem(Device::Cuda); !why.empty()) GTEST_SKIP() << why;
    backend::backend(Device::Cpu).set_threads(1);
  }
  // 600 training images (37 * 16 + 8) and 150 for validation, split from one storage (one upload).
  data::Dataset all_ = testing::synthetic_dataset(750, kClasses, 1);
  std::pair<data::Dataset, data::Dataset> split_ = all_.split(0.2, 4);
  const data::Dataset& train_ = split_.first;
  const data::Dataset& val_ = split_.second;
};

void expect_close(double cpu, double gpu, const std::string& what) {
  EXPECT_LE(std::abs(cpu - gpu), kTraining * std::max(1.0, std::abs(cpu)))
      << what << ": cpu " << cpu << ", cuda " << gpu;
}

void expect_close_histories(const History& cpu, const History& gpu, const std::string& who) {
  EXPECT_EQ(gpu.status, cpu.status) << who;
  EXPECT_EQ(gpu.iterations, cpu.iterations) << who;
  ASSERT_EQ(gpu.curve.size(), cpu.curve.size()) << who;
  for (size_t i = 0; i < cpu.curve.size(); ++i) {
    const std::string at = who + ", point " + std::to_string(i);
    EXPECT_EQ(gpu.curve[i].iteration, cpu.curve[i].iteration) << at;
    EXPECT_EQ(gpu.curve[i].lr, cpu.curve[i].lr) << at;
    expect_close(cpu.curve[i].train_loss, gpu.curve[i].train_loss, at + " train loss");
    expect_close(cpu.curve[i].val_loss, gpu.curve[i].val_loss, at + " validation loss");
    EXPECT_LE(std::abs(cpu.curve[i].val_accuracy - gpu.curve[i].val_accuracy), kFlips / 150.0)
        << at << " accuracy: cpu " << cpu.curve[i].val_accuracy << ", cuda "
        << gpu.curve[i].val_accuracy;
  }
}

TEST_F(CudaTraining, ImagesGatheredOnTheDeviceAreTheCpusBits) {
  DeviceImages gpu(all_.storage(), Device::Cuda);
  ASSERT_TRUE(gpu.resident());
  DeviceImages cpu(all_.storage(), Device::Cpu);
  const std::vector<int64_t> rows = {749, 0, 3, 3, 400, 12, 599};
  Tensor on_gpu, on_cpu;
  gpu.gather(rows, on_gpu);
  cpu.gather(rows, on_cpu);
  EXPECT_EQ(on_gpu.device(), Device::Cuda);
  EXPECT_EQ(on_gpu.shape(), on_cpu.shape());
  EXPECT_EQ(on_gpu.to_host(), std::vector<float>(on_cpu.values().begin(), on_cpu.values().end()));
}

TEST_F(CudaTraining, ATrainerRunFollowsTheCpus) {
  auto run = [&](Device device, std::vector<double>* steps) {
    auto model = nn::build_model(nn::parse_model_spec("mlp:32,16"), kImage, kClasses, 7);
    model->to(device);
    optim::Sgd sgd(model->parameters(), {.lr = 0.05, .momentum = 0.9, .weight_decay = 1e-4});
    nn::SoftmaxCrossEntropy loss;
    Trainer trainer({.epochs = 2,
                     .batch = 16,
                     .schedule = optim::StepDecay{.every = 20, .factor = 0.8},
                     .eval_every = 25,
                     .eval_batch = 64,
                     .seed = 3,
                     .device = device});
    trainer.on_step([&](int64_t, int64_t, double l) { steps->push_back(l); });
    return trainer.fit(*model, sgd, loss, train_, &val_);
  };
  std::vector<double> cpu_steps, gpu_steps;
  const History cpu = run(Device::Cpu, &cpu_steps);
  const History gpu = run(Device::Cuda, &gpu_steps);
  ASSERT_EQ(cpu.iterations, 76);  // 2 epochs of ceil(600 / 16)
  expect_close_histories(cpu, gpu, "trainer");
  ASSERT_EQ(gpu_steps.size(), cpu_steps.size());
  for (size_t i = 0; i < cpu_steps.size(); ++i) {
    expect_close(cpu_steps[i], gpu_steps[i], "step " + std::to_string(i + 1));
  }
  ASSERT_TRUE(cpu.validation && gpu.validation);
  expect_close(cpu.validation->loss, gpu.validation->loss, "final validation loss");
  EXPECT_LT(cpu.curve.back().train_loss, 0.5 * cpu.curve.front().train_loss) << "it learns";
}

MemberConfig population_member(const std::string& spec, uint64_t seed, double lr) {
  MemberConfig c;
  c.model = nn::parse_model_spec(spec);
  c.sgd = {.lr = lr, .momentum = 0.9, .weight_decay = 1e-4};
  c.train = {.epochs = 2, .batch = 16, .eval_every = 25, .eval_batch = 64};
  c.train.seed = seed * 13 + 1;
  c.init_seed = seed;
  return c;
}

// A dense population (batched GEMMs and kernels) and a convolutional one with batch norm (per
// member convolutions and statistics on slices of the population's tensors).
TEST_F(CudaTraining, APopulationRunFollowsTheCpus) {
  for (const char* spec :
       {"mlp:32,16", "conv:4:3:1:1,batchnorm,relu,maxpool:2,flatten,dense:16,relu,dense:3"}) {
    SCOPED_TRACE(spec);
    std::vector<MemberConfig> members;
    for (uint64_t s = 0; s < 6; ++s) {
      members.push_back(population_member(spec, s + 1, 0.02 + 0.02 * static_cast<double>(s)));
    }
    auto run = [&](Device device) {
      Population pop(members, kImage, kClasses, device);
      return pop.fit(train_, &val_);
    };
    const std::vector<History> cpu = run(Device::Cpu);
    const std::vector<History> gpu = run(Device::Cuda);
    ASSERT_EQ(gpu.size(), cpu.size());
    for (size_t m = 0; m < cpu.size(); ++m) {
      expect_close_histories(cpu[m], gpu[m], "member " + std::to_string(m));
    }
    EXPECT_NE(cpu[0].curve.back().val_loss, cpu[5].curve.back().val_loss) << "members differ";
  }
}

// A report callback may hand a member's slices to another thread (PBT saves each member's state
// on a thread of its own): that thread reads the step's result, not memory the step's kernels,
// queued on the population thread's stream, are still writing. Without validation no evaluation
// waits for the GPU before the reports.
TEST_F(CudaTraining, AnotherThreadReadsAMembersSlicesAsTheStepLeftThem) {
  const std::string spec = "conv:4:3:1:1,batchnorm,relu,flatten,dense:3";
  std::vector<MemberConfig> members;
  for (uint64_t s = 0; s < 4; ++s) {
    members.push_back(population_member(spec, s + 1, 0.05));
    members.back().train.eval_every = 5;
  }
  Population pop(members, kImage, kClasses, Device::Cuda);
  int compared = 0;
  pop.on_report([&](int m, const CurvePoint& p) {
    std::vector<uint8_t> there;
    std::thread reader([&] { there = pop.checkpoint(m); });
    reader.join();
    const std::vector<uint8_t> here = pop.checkpoint(m);  // on the population's own stream
    EXPECT_EQ(there, here) << "member " << m << " at step " << p.iteration;
    ++compared;
    return true;
  });
  pop.fit(train_, nullptr);
  EXPECT_EQ(compared, 4 * 16);  // 76 steps: points at 5, 10, ..., 75 and 76
}

}  // namespace
}  // namespace krill::train
