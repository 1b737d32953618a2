// DeviceImages: a data set's images where the model's device reads them, so that a training step
// moves only image indices and labels (data::DataLoader::next_indices) and the batch is made on
// the device (Backend::gather_images). PyTorch's fastest loop keeps the set on the GPU the same
// way; krill keeps the bytes, a quarter of the floats (MNIST's 60,000 images: 47 MB).
//
// On the CPU it is the set's own pixels, no copy. On a device it is one copy of every pixel of the
// storage (all of Dataset::storage(), so a training set and a validation split of it share one),
// made when constructed. Where the device cannot hold it (its allocator throws), gather() makes
// the batch on the host and copies it, as before this class; resident() says which.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "core/device.hpp"
#include "core/tensor.hpp"
#include "data/dataset.hpp"

namespace krill::train {

class DeviceImages {
 public:
  DeviceImages(std::shared_ptr<const data::ImageSet> images, Device device);
  ~DeviceImages();
  DeviceImages(const DeviceImages&) = delete;
  DeviceImages& operator=(const DeviceImages&) = delete;

  // out = the images `rows` (indices into the storage, as next_indices hands them out) as float
  // rows [rows.size(), features] in [0, 1] on the device, the bits data::Dataset::gather writes.
  // Throws InvalidArgument for an index outside the storage.
  void gather(std::span<const int64_t> rows, Tensor& out);

  Device device() const { return device_; }
  bool resident() const { return resident_; }  // false: gathered on the host and copied
  const std::shared_ptr<const data::ImageSet>& storage() const { return images_; }
  int64_t features() const { return images_->features(); }

 private:
  std::shared_ptr<const data::ImageSet> images_;
  Device device_;
  const uint8_t* pixels_ = nullptr;  // the device's copy (or the host's pixels on the CPU)
  void* owned_ = nullptr;            // the device allocation, freed by its allocator
  bool resident_ = false;
  Tensor host_;  // the batch on the host, when not resident
};

// A training run's images: its training set's, and its validation set's, which share one
// DeviceImages when the validation set is a split of the training set's storage.
class RunImages {
 public:
  // `validation` may be null or empty (then validation() is null).
  RunImages(const data::Dataset& train, const data::Dataset* validation, Device device);
  DeviceImages& train() { return train_; }
  DeviceImages* validation() { return validation_; }

 private:
  DeviceImages train_;
  std::unique_ptr<DeviceImages> own_validation_;
  DeviceImages* validation_ = nullptr;
};

}  // namespace krill::train
