// Tensors on a device other than the host's move only through that device's allocator, and only
// when asked (to, copy_from, copy_to_host), checked against a counting stand-in for a GPU's memory
// (common/fake_device.hpp): these tests run on every machine, GPU or not.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "common/fake_device.hpp"
#include "core/error.hpp"
#include "core/serialize.hpp"
#include "core/tensor.hpp"

namespace krill {
namespace {

using ::testing::HasSubstr;

TEST(TensorOnADevice, IsAllocatedAndZeroedByItsDevice) {
  testing::FakeDevice gpu;
  Tensor t(Shape{2, 3}, Device::Cuda);
  EXPECT_EQ(t.device(), Device::Cuda);
  EXPECT_EQ(gpu.allocations, 1);
  EXPECT_EQ(gpu.fills, 1);  // the fresh memory is NaN until the device zeroes it
  EXPECT_EQ(t.to_host(), std::vector<float>(6, 0.0f));
  EXPECT_EQ(gpu.downloads, 1);
}

TEST(TensorOnADevice, RoundTripsThroughTheHostExactly) {
  testing::FakeDevice gpu;
  const std::vector<float> v{1.5f, -2.0f, 3.25f, 0.0f, 1e-30f, -7.0f};
  const Tensor host = Tensor::from(Shape{3, 2}, v);
  const Tensor dev = host.to(Device::Cuda);
  EXPECT_EQ(dev.device(), Device::Cuda);
  EXPECT_EQ(dev.shape(), Shape({3, 2}));
  EXPECT_EQ(gpu.uploads, 1);
  const Tensor back = dev.to(Device::Cpu);
  EXPECT_EQ(back.device(), Device::Cpu);
  EXPECT_EQ(gpu.downloads, 1);
  EXPECT_EQ(std::vector<float>(back.values().begin(), back.values().end()), v);
}

TEST(TensorOnADevice, CopiesStayOnTheDevice) {
  testing::FakeDevice gpu;
  const Tensor dev = Tensor::from(Shape{4}, std::vector<float>{1, 2, 3, 4}).to(Device::Cuda);
  Tensor copy(dev);
  EXPECT_EQ(copy.device(), Device::Cuda);
  EXPECT_EQ(gpu.device_copies, 1);
  EXPECT_EQ(gpu.downloads, 0);
  EXPECT_EQ(copy.to_host(), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_NE(copy.data(), dev.data());  // a deep copy
}

TEST(TensorOnADevice, CopyFromKeepsTheTargetsDeviceAndCapacity) {
  testing::FakeDevice gpu;
  Tensor staged(Shape{0}, Device::Cuda);
  Tensor batch = Tensor::from(Shape{2, 2}, std::vector<float>{1, 2, 3, 4});
  staged.copy_from(batch);
  EXPECT_EQ(staged.device(), Device::Cuda);
  EXPECT_EQ(staged.shape(), Shape({2, 2}));
  const int allocations = gpu.allocations;
  batch = Tensor::from(Shape{1, 2}, std::vector<float>{5, 6});
  staged.copy_from(batch);  // smaller: within the capacity
  EXPECT_EQ(gpu.allocations, allocations);
  EXPECT_EQ(gpu.uploads, 2);
  EXPECT_EQ(staged.to_host(), (std::vector<float>{5, 6}));

  Tensor host;
  host.copy_from(staged);  // the host tensor stays on the host
  EXPECT_EQ(host.device(), Device::Cpu);
  EXPECT_EQ(std::vector<float>(host.values().begin(), host.values().end()),
            (std::vector<float>{5, 6}));
}

TEST(TensorOnADevice, RefusesAHostViewOfDeviceMemory) {
  testing::FakeDevice gpu;
  Tensor dev(Shape{3}, Device::Cuda);
  try {
    (void)dev.values();
    FAIL() << "values() of a device tensor returned";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("on cuda"));
    EXPECT_THAT(e.what(), HasSubstr("to_host()"));
  }
}

TEST(TensorOnADevice, FillAndResizeToAnotherDevice) {
  testing::FakeDevice gpu;
  Tensor t(Shape{3}, Device::Cuda);
  t.fill(2.5f);
  EXPECT_EQ(t.to_host(), std::vector<float>(3, 2.5f));
  t.resize(Shape{2}, Device::Cpu);  // gives up the device memory
  EXPECT_EQ(t.device(), Device::Cpu);
  EXPECT_EQ(gpu.frees, 1);
  t.fill(1.0f);
  EXPECT_EQ(t[1], 1.0f);
}

TEST(TensorOnADevice, HostCopiesCheckTheirSize) {
  testing::FakeDevice gpu;
  Tensor t(Shape{2, 2}, Device::Cuda);
  std::vector<float> three(3);
  EXPECT_THROW(t.copy_from_host(three), ShapeError);
  EXPECT_THROW(t.copy_to_host(three), ShapeError);
  EXPECT_EQ(gpu.uploads, 0);
  EXPECT_EQ(gpu.downloads, 0);
}

TEST(TensorOnADevice, SerialisesAsTheSameBytesAsOnTheHost) {
  testing::FakeDevice gpu;
  const Tensor host = Tensor::from(Shape{2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6});
  BinaryWriter from_host, from_device;
  from_host.tensor(host);
  from_device.tensor(host.to(Device::Cuda));
  EXPECT_EQ(from_host.buffer(), from_device.buffer());

  Tensor into(Shape{2, 3}, Device::Cuda);
  BinaryReader in(from_host.buffer(), "test");
  in.tensor_into(into, "weights");
  EXPECT_EQ(into.device(), Device::Cuda);
  EXPECT_EQ(into.to_host(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST(TensorOnADevice, WithoutTheDevicesBackendSaysSo) {
  ASSERT_FALSE(has_allocator(Device::Cuda));  // the core tests never create the CUDA backend
  try {
    Tensor t(Shape{2}, Device::Cuda);
    FAIL() << "a tensor was made on a device without an allocator";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("'cuda'"));
    EXPECT_THAT(e.what(), HasSubstr("not built into this krill, or not started yet"));
  }
}

TEST(Device, ParsesItsNames) {
  EXPECT_EQ(parse_device("cpu"), Device::Cpu);
  EXPECT_EQ(parse_device("cuda"), Device::Cuda);
  try {
    parse_device("gpu", "--device");
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_STREQ(e.what(), "--device is 'gpu', expected cpu or cuda");
  }
}

// Views: a slice of another tensor's memory, for ops that take tensors (a population member's
// weights). They free nothing, write through, and refuse to grow or move.
TEST(TensorView, ReadsAndWritesTheMemoryItViews) {
  Tensor whole = Tensor::from(Shape{3, 2}, std::vector<float>{1, 2, 3, 4, 5, 6});
  Tensor row = Tensor::view(whole.data() + 2, Shape{1, 2}, Device::Cpu);
  EXPECT_TRUE(row.is_view());
  EXPECT_FALSE(whole.is_view());
  EXPECT_EQ(row.shape(), Shape({1, 2}));
  EXPECT_EQ(row[0], 3.0f);
  row.fill(9.0f);
  EXPECT_EQ(whole.to_host(), (std::vector<float>{1, 2, 9, 9, 5, 6}));
  row.copy_from(Tensor::from(Shape{2}, std::vector<float>{7, 8}));  // within its size
  EXPECT_EQ(whole.to_host(), (std::vector<float>{1, 2, 7, 8, 5, 6}));
  const float* read_only = whole.data() + 4;
  const Tensor last = Tensor::view(read_only, Shape{2}, Device::Cpu);
  EXPECT_EQ(last.to_host(), (std::vector<float>{5, 6}));
}

TEST(TensorView, FreesNothingAndItsCopyOwnsItsMemory) {
  testing::FakeDevice gpu;
  Tensor whole(Shape{4, 3}, Device::Cuda);
  EXPECT_EQ(gpu.allocations, 1);
  {
    Tensor slice = Tensor::view(whole.data() + 3, Shape{3}, Device::Cuda);
    Tensor moved = std::move(slice);  // still a view
    EXPECT_TRUE(moved.is_view());
    Tensor copy(moved);
    EXPECT_FALSE(copy.is_view());
    EXPECT_NE(copy.data(), moved.data());
    EXPECT_EQ(gpu.allocations, 2);
    EXPECT_EQ(gpu.device_copies, 1);
    moved = copy;  // assigning replaces the view by an owning copy
    EXPECT_FALSE(moved.is_view());
  }
  EXPECT_EQ(gpu.frees, 2);  // the two copies, never the viewed memory
  EXPECT_EQ(whole.shape(), Shape({4, 3}));
}

TEST(TensorView, CannotGrowOrMoveToAnotherDevice) {
  Tensor whole(Shape{6});
  Tensor v = Tensor::view(whole.data(), Shape{2, 3}, Device::Cpu);
  v.resize({3, 2});  // within its size
  v.resize({2});
  EXPECT_EQ(v.data(), whole.data());
  v.resize({2, 3});  // back up to what it views
  try {
    v.resize({7});
    FAIL() << "a view grew";
  } catch (const ShapeError& e) {
    EXPECT_THAT(e.what(), HasSubstr("view of 6 values cannot grow to [7]"));
  }
  EXPECT_THROW(v.resize({2}, Device::Cuda), Error);
  EXPECT_THROW(Tensor::view(static_cast<float*>(nullptr), Shape{2}, Device::Cpu), InvalidArgument);
  EXPECT_NO_THROW(Tensor::view(static_cast<float*>(nullptr), Shape{0}, Device::Cpu));
}

}  // namespace
}  // namespace krill
