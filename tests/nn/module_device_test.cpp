// Module::to moves a model's parameters, gradients and state to a device, through the device's
// allocator (a counting stand-in for a GPU's memory: these tests run without one), leaves the
// values unchanged, and a layer refuses an input on another device than its parameters.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/fake_device.hpp"
#include "core/error.hpp"
#include "nn/activations.hpp"
#include "nn/batch_norm.hpp"
#include "nn/conv2d.hpp"
#include "nn/dense.hpp"
#include "nn/model_spec.hpp"
#include "nn/sequential.hpp"

namespace krill::nn {
namespace {

using ::testing::HasSubstr;

std::vector<std::vector<float>> host_values(Module& m) {
  std::vector<std::vector<float>> out;
  for (Parameter* p : m.parameters()) out.push_back(p->value.to_host());
  return out;
}

TEST(ModuleTo, MovesEveryParameterAndGradientWithTheirValues) {
  testing::FakeDevice gpu;
  auto model = build_model(parse_model_spec("mlp:8,4"), 12, 3, 7);
  const auto before = host_values(*model);
  model->to(Device::Cuda);
  for (Parameter* p : model->parameters()) {
    EXPECT_EQ(p->value.device(), Device::Cuda) << p->name;
    EXPECT_EQ(p->grad.device(), Device::Cuda) << p->name;
  }
  EXPECT_EQ(host_values(*model), before);
  EXPECT_EQ(gpu.uploads, 2 * static_cast<int>(model->parameters().size()));
  model->to(Device::Cpu);
  for (Parameter* p : model->parameters()) EXPECT_EQ(p->value.device(), Device::Cpu);
  EXPECT_EQ(host_values(*model), before);
}

TEST(ModuleTo, MovesBatchNormStatistics) {
  testing::FakeDevice gpu;
  BatchNorm bn(ImageShape{2, 3, 3});
  bn.to(Device::Cuda);
  EXPECT_EQ(bn.running_mean().device(), Device::Cuda);
  EXPECT_EQ(bn.running_var().device(), Device::Cuda);
  EXPECT_EQ(bn.running_var().to_host(), std::vector<float>(2, 1.0f));
  BinaryWriter out;  // its state is written from the device, as from the host
  bn.save_state(out);
  BatchNorm host(ImageShape{2, 3, 3});
  BinaryWriter expected;
  host.save_state(expected);
  EXPECT_EQ(out.buffer(), expected.buffer());
  BinaryReader in(expected.buffer(), "test");
  bn.load_state(in);
  EXPECT_EQ(bn.running_mean().device(), Device::Cuda);
}

TEST(ModuleTo, ALayerRefusesAnInputOnAnotherDevice) {
  testing::FakeDevice gpu;
  Dense dense(4, 2);
  dense.to(Device::Cuda);
  Tensor x(Shape{3, 4});
  try {
    dense.forward(x, Mode::Train);
    FAIL() << "a host batch went into a layer on the device";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("input on cpu, parameters on cuda"));
  }
  Conv2d conv({1, 4, 4}, 2, 3);
  conv.to(Device::Cuda);
  EXPECT_THROW(conv.forward(Tensor(Shape{1, 16}), Mode::Train), Error);
}

}  // namespace
}  // namespace krill::nn
