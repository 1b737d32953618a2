#include "train/device_images.hpp"

#include <string>

#include "backend/backend.hpp"
#include "core/error.hpp"

namespace krill::train {

DeviceImages::DeviceImages(std::shared_ptr<const data::ImageSet> images, Device device)
    : images_(std::move(images)), device_(device) {
  if (!images_) throw InvalidArgument("DeviceImages: no image storage");
  if (device_ == Device::Cpu || images_->pixels.empty()) {
    pixels_ = images_->pixels.data();
    resident_ = true;
    return;
  }
  Allocator& memory = allocator(device_);
  try {
    owned_ = memory.allocate(images_->pixels.size());
  } catch (const Error&) {
    return;  // the device cannot hold the set: batches are made on the host
  }
  try {
    memory.copy_from_host(owned_, images_->pixels.data(), images_->pixels.size());
  } catch (...) {
    memory.deallocate(owned_);
    throw;
  }
  pixels_ = static_cast<const uint8_t*>(owned_);
  resident_ = true;
}

DeviceImages::~DeviceImages() {
  if (owned_) allocator(device_).deallocate(owned_);
}

void DeviceImages::gather(std::span<const int64_t> rows, Tensor& out) {
  const int64_t f = features();
  const auto n = static_cast<int64_t>(rows.size());
  for (const int64_t r : rows) {
    if (r < 0 || r >= images_->count) {
      throw InvalidArgument("DeviceImages::gather: image " + std::to_string(r) +
                            " is outside the " + std::to_string(images_->count) + " images");
    }
  }
  if (resident_) {
    out.resize(Shape{n, f}, device_);
    if (n > 0) backend::backend(device_).gather_images(pixels_, rows.data(), n, f, out.data());
    return;
  }
  host_.resize(Shape{n, f});
  if (n > 0) {
    backend::backend(Device::Cpu)
        .gather_images(images_->pixels.data(), rows.data(), n, f, host_.data());
  }
  out.resize(Shape{n, f}, device_);
  out.copy_from(host_);
}

RunImages::RunImages(const data::Dataset& train, const data::Dataset* validation, Device device)
    : train_(train.storage(), device) {
  if (!validation || validation->size() == 0) return;
  if (validation->storage() == train.storage()) {
    validation_ = &train_;
  } else {
    own_validation_ = std::make_unique<DeviceImages>(validation->storage(), device);
    validation_ = own_validation_.get();
  }
}

}  // namespace krill::train
