// Dataset: labelled images held once, compactly (uint8 pixels, 1 byte each), and shared by every
// view of them: train/validation splits, loaders, and the trials of a study running on threads.
// A Dataset is a cheap view (shared storage + a list of indices); pixels are scaled to [0, 1]
// only when a batch is gathered.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/image_shape.hpp"
#include "data/idx.hpp"

namespace krill::data {

// Immutable storage: `count` images of channels x rows x cols uint8 pixels (each image in C, H, W
// order, as PyTorch's NCHW) and their labels.
struct ImageSet {
  int64_t count = 0;
  int64_t channels = 1;
  int64_t rows = 0;
  int64_t cols = 0;
  int classes = 0;
  std::vector<uint8_t> pixels;  // count * channels * rows * cols
  std::vector<int32_t> labels;  // count, each in [0, classes)
  int64_t features() const { return channels * rows * cols; }
  ImageShape shape() const { return {channels, rows, cols}; }  // [C, H, W] of one image
};

class Dataset {
 public:
  Dataset() = default;
  explicit Dataset(std::shared_ptr<const ImageSet> images);  // every image, in order
  Dataset(std::shared_ptr<const ImageSet> images, std::vector<int64_t> indices);

  int64_t size() const { return static_cast<int64_t>(indices_.size()); }
  int64_t features() const { return images_ ? images_->features() : 0; }
  ImageShape shape() const { return images_ ? images_->shape() : ImageShape{}; }  // [C, H, W]
  int classes() const { return images_ ? images_->classes : 0; }
  const ImageSet& images() const { return *images_; }
  const std::shared_ptr<const ImageSet>& storage() const { return images_; }
  std::span<const int64_t> indices() const { return indices_; }
  int32_t label(int64_t i) const { return images_->labels[static_cast<size_t>(indices_[i])]; }

  // A seeded random split: {the rest, a `fraction` of the images}; fraction in [0, 1).
  std::pair<Dataset, Dataset> split(double fraction, uint64_t seed) const;
  // The first n images of this view (all if n >= size()).
  Dataset head(int64_t n) const;

  // Writes the images at view positions `positions` as float rows scaled to [0, 1] into
  // `out` (positions.size() x features()) and their labels into `labels`.
  void gather(std::span<const int64_t> positions, float* out, int32_t* labels) const;

 private:
  std::shared_ptr<const ImageSet> images_;
  std::vector<int64_t> indices_;
};

struct TrainTest {
  Dataset train;
  Dataset test;
};

// Loads a folder of MNIST-style IDX files: train-images-idx3-ubyte, train-labels-idx1-ubyte,
// t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each optionally with .gz. `classes` 0: the
// data's own count, one more than the largest label of either labels file (classes_of: 10 for
// MNIST, 2 for labels 0 and 1; a label missing below the largest is a class with no images, as
// PyTorch's cross-entropy counts it). Throws DataError when a file is missing or bad, when image
// and label counts differ, or when a label is >= classes. With `with_train` false the training
// images are looked for but not read (train stays empty; its labels are when `classes` is 0, for
// the class count): for a process that only scores the test set.
TrainTest load_idx(const std::filesystem::path& folder, int classes = 0, bool with_train = true);
// One more than the largest label of the two labels files, and at least 2.
int classes_of(const IdxArray& train_labels, const IdxArray& test_labels);

// Makes an ImageSet from parsed IDX arrays, checking that they fit together: images of rank 3
// (count x rows x cols: one channel, as MNIST) or rank 4 (count x channels x rows x cols, NCHW);
// labels of rank 1. `images_name` and
// `labels_name` name the sources in errors.
ImageSet make_image_set(const IdxArray& images, const IdxArray& labels, int classes,
                        const std::string& images_name, const std::string& labels_name);

// Resolves a --data argument: "fashion-mnist" -> /usr/share/datasets/fashion-mnist (Debian's
// dataset-fashion-mnist), "mnist" -> $KRILL_MNIST_DIR; anything else is a folder path. Throws
// DataError saying how to get the data when the folder does not exist.
std::filesystem::path resolve_data(const std::string& name_or_folder);

}  // namespace krill::data
