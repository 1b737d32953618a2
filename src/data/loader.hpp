// DataLoader: hands out batches of a Dataset in a seeded random order (a new permutation each
// epoch, derived from the seed and the epoch number, so epoch e is the same whatever happened
// before). Batches are gathered into buffers the loader owns and reuses: no allocation per step.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.hpp"
#include "data/dataset.hpp"

namespace krill::data {

struct Batch {
  Tensor x;                     // [size, features], float in [0, 1]; each row one image
  ImageShape image;             // the [C, H, W] of a row (features = C * H * W)
  std::vector<int32_t> labels;  // size
  int64_t size() const { return static_cast<int64_t>(labels.size()); }
};

struct LoaderOptions {
  int64_t batch = 32;
  uint64_t seed = 0;
  bool shuffle = true;
  bool drop_last = false;  // drop a last, smaller batch
};

class DataLoader {
 public:
  DataLoader(const Dataset& data, LoaderOptions options);

  // Starts epoch `epoch` (0-based): positions are permuted with Rng(Rng::derive(seed, epoch)).
  void start_epoch(int64_t epoch);
  // Fills `batch` with the next batch of the epoch; false when the epoch is over.
  bool next(Batch& batch);
  // The next batch as next() would give it, but as indices into the dataset's storage
  // (Dataset::storage(): what train::DeviceImages gathers from) and labels, without its pixels:
  // for a caller that gathers them where its model is. Appends to `images` and `labels`, and
  // returns the batch's size (0 when the epoch is over).
  int64_t next_indices(std::vector<int64_t>& images, std::vector<int32_t>& labels);
  int64_t batches_per_epoch() const;
  const Dataset& dataset() const { return data_; }

 private:
  int64_t next_size();  // the next batch's size; 0 (and the epoch over) when none is left

  Dataset data_;
  LoaderOptions options_;
  std::vector<int64_t> order_;
  int64_t cursor_ = 0;
};

// ceil(size / batch), the batches of an epoch (the last may be smaller), without overflowing
// for a batch near INT64_MAX as (size + batch - 1) / batch did; with `drop_last`, size / batch.
inline int64_t batches_per_epoch(int64_t size, int64_t batch, bool drop_last = false) {
  return size / batch + (!drop_last && size % batch != 0 ? 1 : 0);
}

}  // namespace krill::data
