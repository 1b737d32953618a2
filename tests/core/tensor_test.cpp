#include "core/tensor.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace krill {
namespace {

std::vector<float> iota_values(size_t n, float start = 0.0f) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

std::vector<float> to_vector(const Tensor& t) {
  return {t.values().begin(), t.values().end()};
}

bool aligned64(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 64 == 0;
}

TEST(Tensor, ConstructionSetsShapeAndDevice) {
  Tensor t(Shape{2, 3});
  EXPECT_EQ(t.shape(), Shape({2, 3}));
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.rank(), 2);
  EXPECT_EQ(t.dim(0), 2);
  EXPECT_EQ(t.dim(1), 3);
  EXPECT_EQ(t.device(), Device::Cpu);
  EXPECT_FALSE(t.empty());
  EXPECT_EQ(t.values().size(), 6u);
  EXPECT_EQ(t.values().data(), t.data());
}

TEST(Tensor, IsZeroFilledOnConstruction) {
  constexpr int64_t n = 4096;
  {
    // Leave non-zero garbage in freed memory first, so a missing zero-fill would show.
    Tensor dirty(Shape{n});
    dirty.fill(7.0f);
  }
  for (int round = 0; round < 3; ++round) {
    Tensor t(Shape{64, n / 64});
    for (int64_t i = 0; i < t.numel(); ++i) ASSERT_EQ(t[i], 0.0f) << "element " << i;
    t.fill(-3.0f);  // garbage for the next round
  }
}

TEST(Tensor, FromCopiesValuesInOrder) {
  const std::vector<float> v = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
  Tensor t = Tensor::from(Shape{2, 3}, v);
  EXPECT_EQ(t.shape(), Shape({2, 3}));
  EXPECT_EQ(to_vector(t), v);
}

TEST(Tensor, FromChecksTheValueCount) {
  const std::vector<float> five(5, 1.0f);
  const std::vector<float> seven(7, 1.0f);
  EXPECT_THROW(Tensor::from(Shape{2, 3}, five), ShapeError);
  EXPECT_THROW(Tensor::from(Shape{2, 3}, seven), ShapeError);
  EXPECT_THROW(Tensor::from(Shape{2, 3}, std::vector<float>{}), ShapeError);
  EXPECT_NO_THROW(Tensor::from(Shape{0, 3}, std::vector<float>{}));
}

TEST(Tensor, CopyIsDeep) {
  Tensor original = Tensor::from(Shape{2, 2}, std::vector<float>{1, 2, 3, 4});
  Tensor copy(original);
  EXPECT_EQ(copy.shape(), original.shape());
  EXPECT_EQ(to_vector(copy), to_vector(original));
  EXPECT_NE(copy.data(), original.data());

  copy[0] = 100.0f;
  copy.fill(-1.0f);
  EXPECT_EQ(to_vector(original), (std::vector<float>{1, 2, 3, 4}));
}

TEST(Tensor, CopyAssignmentIsDeepAndTakesTheShape) {
  Tensor original = Tensor::from(Shape{3}, std::vector<float>{5, 6, 7});
  Tensor target(Shape{4, 4});
  target = original;
  EXPECT_EQ(target.shape(), Shape({3}));
  EXPECT_EQ(to_vector(target), (std::vector<float>{5, 6, 7}));
  EXPECT_NE(target.data(), original.data());
  target[1] = 0.0f;
  EXPECT_EQ(original[1], 6.0f);

  Tensor& alias = target;
  target = alias;  // self-assignment keeps the contents
  EXPECT_EQ(to_vector(target), (std::vector<float>{5, 0, 7}));
}

TEST(Tensor, MoveConstructionTransfersAndLeavesTheSourceEmpty) {
  Tensor source = Tensor::from(Shape{2, 3}, iota_values(6));
  const float* storage = source.data();
  Tensor moved(std::move(source));
  EXPECT_EQ(moved.data(), storage);  // no copy
  EXPECT_EQ(moved.shape(), Shape({2, 3}));
  EXPECT_EQ(to_vector(moved), iota_values(6));

  EXPECT_EQ(source.data(), nullptr);  // NOLINT(bugprone-use-after-move)
  EXPECT_TRUE(source.empty());
  EXPECT_EQ(source.numel(), 0);
  EXPECT_TRUE(source.values().empty());
}

TEST(Tensor, MoveAssignmentTransfersAndLeavesTheSourceEmpty) {
  Tensor source = Tensor::from(Shape{4}, iota_values(4, 1.0f));
  const float* storage = source.data();
  Tensor target(Shape{10});
  target = std::move(source);
  EXPECT_EQ(target.data(), storage);
  EXPECT_EQ(target.shape(), Shape({4}));
  EXPECT_EQ(to_vector(target), iota_values(4, 1.0f));

  EXPECT_EQ(source.data(), nullptr);  // NOLINT(bugprone-use-after-move)
  EXPECT_TRUE(source.empty());
  EXPECT_EQ(source.numel(), 0);
}

TEST(Tensor, DefaultConstructedIsEmpty) {
  Tensor t;
  EXPECT_EQ(t.data(), nullptr);
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.numel(), 0);
  EXPECT_TRUE(t.values().empty());
}

TEST(Tensor, CopyOfAnEmptyTensorIsEmpty) {
  Tensor empty;
  // Guarded: if an empty tensor claims an element, copying it would read through its null
  // pointer and crash the whole test program.
  ASSERT_EQ(empty.numel(), 0) << "a default-constructed tensor reports shape "
                              << empty.shape().to_string();
  Tensor copy(empty);
  EXPECT_TRUE(copy.empty());
}

TEST(Tensor, ResizeKeepsTheStorageWhenShrinking) {
  Tensor t(Shape{8, 8});
  const float* storage = t.data();
  t.resize(Shape{4, 4});
  EXPECT_EQ(t.shape(), Shape({4, 4}));
  EXPECT_EQ(t.numel(), 16);
  EXPECT_EQ(t.data(), storage);
  t.resize(Shape{1});
  EXPECT_EQ(t.data(), storage);
}

TEST(Tensor, ResizeKeepsTheStorageWhenGrowingWithinCapacity) {
  Tensor t(Shape{8, 8});
  const float* storage = t.data();
  t.resize(Shape{2, 3});
  t.resize(Shape{5, 10});  // 50 <= 64
  EXPECT_EQ(t.data(), storage);
  EXPECT_EQ(t.shape(), Shape({5, 10}));
  t.resize(Shape{64});  // exactly the capacity
  EXPECT_EQ(t.data(), storage);
  t.fill(1.0f);  // every element is writable
  EXPECT_EQ(t[63], 1.0f);
}

TEST(Tensor, ResizeBeyondCapacityReallocates) {
  Tensor t(Shape{16});
  const float* storage = t.data();
  // Large enough that the allocator cannot hand back the freed 64-byte block.
  t.resize(Shape{1024, 1024});
  EXPECT_NE(t.data(), storage);
  EXPECT_EQ(t.shape(), Shape({1024, 1024}));
  EXPECT_TRUE(aligned64(t.data()));
  t.fill(2.0f);  // every element is writable
  EXPECT_EQ(t[1024 * 1024 - 1], 2.0f);
  // The new capacity is kept: shrinking again does not move the storage.
  const float* big = t.data();
  t.resize(Shape{16});
  EXPECT_EQ(t.data(), big);
}

TEST(Tensor, ReshapeKeepsContentsAndStorage) {
  Tensor t = Tensor::from(Shape{2, 3}, iota_values(6));
  const float* storage = t.data();
  t.reshape(Shape{3, 2});
  EXPECT_EQ(t.shape(), Shape({3, 2}));
  EXPECT_EQ(t.data(), storage);
  EXPECT_EQ(to_vector(t), iota_values(6));
  t.reshape(Shape{6});
  EXPECT_EQ(t.rank(), 1);
  EXPECT_EQ(to_vector(t), iota_values(6));
}

TEST(Tensor, ReshapeRejectsADifferentNumel) {
  Tensor t = Tensor::from(Shape{2, 3}, iota_values(6));
  EXPECT_THROW(t.reshape(Shape{4, 2}), ShapeError);
  EXPECT_THROW(t.reshape(Shape{5}), ShapeError);
  EXPECT_THROW(t.reshape(Shape{2, 3, 2}), ShapeError);
  // A rejected reshape leaves the tensor as it was.
  EXPECT_EQ(t.shape(), Shape({2, 3}));
  EXPECT_EQ(to_vector(t), iota_values(6));
}

TEST(Tensor, DataIs64ByteAligned) {
  for (int64_t n : {1, 3, 15, 16, 17, 63, 100, 1000, 4097}) {
    Tensor t(Shape{n});
    EXPECT_TRUE(aligned64(t.data())) << "numel " << n;
    Tensor copy(t);
    EXPECT_TRUE(aligned64(copy.data())) << "copy, numel " << n;
  }
  Tensor from = Tensor::from(Shape{3}, std::vector<float>{1, 2, 3});
  EXPECT_TRUE(aligned64(from.data()));
}

TEST(Tensor, FillAndZero) {
  Tensor t(Shape{3, 5});
  t.fill(2.5f);
  for (float v : t.values()) EXPECT_EQ(v, 2.5f);
  t.zero();
  for (float v : t.values()) EXPECT_EQ(v, 0.0f);
}

}  // namespace
}  // namespace krill
