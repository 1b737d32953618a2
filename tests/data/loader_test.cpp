#include "data/loader.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/error.hpp"
#include "data_test_util.hpp"

namespace krill::data {
namespace {

// `count` 1x2 images whose two pixels encode the image's index (low byte, high byte).
Dataset indexed_images(int64_t count) {
  auto set = std::make_shared<ImageSet>();
  set->count = count;
  set->rows = 1;
  set->cols = 2;
  set->classes = 7;
  for (int64_t i = 0; i < count; ++i) {
    set->pixels.push_back(static_cast<uint8_t>(i % 256));
    set->pixels.push_back(static_cast<uint8_t>(i / 256));
    set->labels.push_back(static_cast<int32_t>(i % 7));
  }
  return Dataset(set);
}

int64_t index_of(const Batch& b, int64_t row) {
  auto byte = [&](int64_t k) { return std::lround(b.x[row * 2 + k] * 255.0f); };
  return byte(0) + 256 * byte(1);
}

// The image indices of one epoch, in the order the loader gives them; checks the batch sizes.
std::vector<int64_t> epoch_order(DataLoader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  std::vector<int64_t> order;
  Batch batch;
  int64_t batches = 0;
  while (loader.next(batch)) {
    ++batches;
    EXPECT_EQ(batch.x.rank(), 2);
    EXPECT_EQ(batch.x.dim(0), batch.size());
    EXPECT_EQ(batch.x.dim(1), loader.dataset().features());
    EXPECT_EQ(batch.image, (ImageShape{1, 1, 2}));  // the images' [C, H, W]
    for (int64_t r = 0; r < batch.size(); ++r) {
      const int64_t i = index_of(batch, r);
      EXPECT_EQ(batch.labels[static_cast<size_t>(r)], i % 7) << "label of image " << i;
      order.push_back(i);
    }
  }
  EXPECT_EQ(batches, loader.batches_per_epoch());
  return order;
}

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = i;
  return v;
}

TEST(DataLoader, EveryImageOncePerEpoch) {
  Dataset data = indexed_images(1003);
  DataLoader loader(data, {.batch = 32, .seed = 5});
  EXPECT_EQ(loader.batches_per_epoch(), 32);  // 31 full batches and one of 11
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    auto order = epoch_order(loader, epoch);
    EXPECT_NE(order, iota(1003)) << "epoch " << epoch << " is not shuffled";
    std::ranges::sort(order);
    EXPECT_EQ(order, iota(1003)) << "epoch " << epoch;
  }
}

TEST(DataLoader, LastBatchSmallerUnlessDropped) {
  Dataset data = indexed_images(10);
  DataLoader keep(data, {.batch = 4, .seed = 1});
  Batch batch;
  std::vector<int64_t> sizes;
  while (keep.next(batch)) sizes.push_back(batch.size());
  EXPECT_EQ(sizes, (std::vector<int64_t>{4, 4, 2}));
  EXPECT_EQ(keep.batches_per_epoch(), 3);
  EXPECT_FALSE(keep.next(batch));  // stays over until the next epoch starts

  DataLoader drop(data, {.batch = 4, .seed = 1, .drop_last = true});
  sizes.clear();
  while (drop.next(batch)) sizes.push_back(batch.size());
  EXPECT_EQ(sizes, (std::vector<int64_t>{4, 4}));
  EXPECT_EQ(drop.batches_per_epoch(), 2);

  // A batch near INT64_MAX: one batch of all 10 (ceil as (n + batch - 1) / batch overflowed).
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  DataLoader huge(data, {.batch = kMax, .seed = 1});
  EXPECT_EQ(huge.batches_per_epoch(), 1);
  ASSERT_TRUE(huge.next(batch));
  EXPECT_EQ(batch.size(), 10);
  EXPECT_FALSE(huge.next(batch));
  EXPECT_EQ(DataLoader(data, {.batch = kMax, .drop_last = true}).batches_per_epoch(), 0);

  DataLoader exact(indexed_images(8), {.batch = 4, .drop_last = true});
  EXPECT_EQ(exact.batches_per_epoch(), 2);
  EXPECT_EQ(epoch_order(exact, 0).size(), 8u);
}

TEST(DataLoader, OrderDependsOnSeedAndEpochOnly) {
  Dataset data = indexed_images(300);
  DataLoader a(data, {.batch = 16, .seed = 11});
  DataLoader b(data, {.batch = 50, .seed = 11});  // batch size does not change the order
  DataLoader c(data, {.batch = 16, .seed = 12});
  const auto a0 = epoch_order(a, 0);
  const auto a1 = epoch_order(a, 1);
  EXPECT_NE(a0, a1);
  EXPECT_EQ(epoch_order(b, 1), a1);  // epoch 1 without having run epoch 0 first
  EXPECT_EQ(epoch_order(b, 0), a0);
  EXPECT_NE(epoch_order(c, 0), a0);
  EXPECT_EQ(epoch_order(a, 0), a0);  // replaying an epoch
}

TEST(DataLoader, NoShuffleKeepsViewOrder) {
  Dataset data = indexed_images(50);
  auto [rest, held] = data.split(0.4, 3);
  DataLoader loader(held, {.batch = 7, .shuffle = false});
  const auto order = epoch_order(loader, 4);
  EXPECT_EQ(order, std::vector<int64_t>(held.indices().begin(), held.indices().end()));
}

TEST(DataLoader, ReusesBatchMemory) {
  DataLoader loader(indexed_images(100), {.batch = 30});
  Batch batch;
  ASSERT_TRUE(loader.next(batch));
  const float* x = batch.x.data();
  const int32_t* labels = batch.labels.data();
  while (loader.next(batch)) {
    EXPECT_EQ(batch.x.data(), x);
    EXPECT_EQ(batch.labels.data(), labels);
  }
}

// next_indices hands out next()'s batches as storage indices: on a shuffled split view (indices
// into the storage, not positions in the view), over epochs, with a smaller last batch and with
// drop_last; it appends, and stays at 0 once the epoch is over.
TEST(DataLoader, NextIndicesAreNextsBatchesAsStorageIndices) {
  auto [view, held] = indexed_images(600).split(0.3, 9);  // view: 420 of the 600, not 0..419
  ASSERT_NE(std::vector<int64_t>(view.indices().begin(), view.indices().end()), iota(420));
  for (const bool drop_last : {false, true}) {
    DataLoader pixels(view, {.batch = 50, .seed = 4, .drop_last = drop_last});
    DataLoader indices(view, {.batch = 50, .seed = 4, .drop_last = drop_last});
    for (int64_t epoch = 0; epoch < 2; ++epoch) {
      pixels.start_epoch(epoch);
      indices.start_epoch(epoch);
      Batch batch;
      std::vector<int64_t> images = {-1};  // appended to, not replaced
      std::vector<int32_t> labels = {-1};
      int64_t batches = 0;
      while (pixels.next(batch)) {
        ++batches;
        const size_t at = images.size();
        ASSERT_EQ(indices.next_indices(images, labels), batch.size());
        ASSERT_EQ(images.size(), at + static_cast<size_t>(batch.size()));
        ASSERT_EQ(labels.size(), images.size());
        for (int64_t r = 0; r < batch.size(); ++r) {
          EXPECT_EQ(images[at + static_cast<size_t>(r)], index_of(batch, r));
          EXPECT_EQ(labels[at + static_cast<size_t>(r)], batch.labels[static_cast<size_t>(r)]);
        }
      }
      EXPECT_EQ(batches, drop_last ? 8 : 9) << "420 images in batches of 50";
      EXPECT_EQ(images.front(), -1);
      EXPECT_EQ(indices.next_indices(images, labels), 0);
      EXPECT_EQ(indices.next_indices(images, labels), 0);
    }
  }
}

TEST(DataLoader, EmptyDatasetAndBadBatch) {
  DataLoader empty(indexed_images(0), {.batch = 8});
  Batch batch;
  EXPECT_EQ(empty.batches_per_epoch(), 0);
  EXPECT_FALSE(empty.next(batch));
  std::vector<int64_t> images;
  std::vector<int32_t> labels;
  EXPECT_EQ(empty.next_indices(images, labels), 0);
  EXPECT_TRUE(images.empty());
  Dataset data = indexed_images(5);
  EXPECT_THROW(DataLoader(data, {.batch = 0}), InvalidArgument);
  EXPECT_THROW(DataLoader(data, {.batch = -3}), InvalidArgument);
}

}  // namespace
}  // namespace krill::data
