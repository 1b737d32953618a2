#include "core/tensor.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "core/error.hpp"

namespace krill {

Tensor::Tensor(Shape shape, Device device) : device_(device) {
  resize(shape);
  zero();
}

Tensor Tensor::from(Shape shape, std::span<const float> values) {
  if (static_cast<int64_t>(values.size()) != shape.numel()) {
    throw ShapeError("Tensor::from: shape " + shape.to_string() + " needs " +
                     std::to_string(shape.numel()) + " values, got " +
                     std::to_string(values.size()));
  }
  Tensor t(std::move(shape));
  std::copy(values.begin(), values.end(), t.data_);
  return t;
}

Tensor::Tensor(const Tensor& other) : device_(other.device_) {
  if (device_ != Device::Cpu) throw Error("copying a non-CPU tensor needs its backend");
  resize(other.shape_);
  if (numel() > 0) std::memcpy(data_, other.data_, static_cast<size_t>(numel()) * sizeof(float));
}

Tensor& Tensor::operator=(const Tensor& other) {
  if (this != &other) {
    Tensor copy(other);
    *this = std::move(copy);
  }
  return *this;
}

Tensor::Tensor(Tensor&& other) noexcept
    : shape_(std::move(other.shape_)),
      device_(other.device_),
      data_(std::exchange(other.data_, nullptr)),
      capacity_(std::exchange(other.capacity_, 0)) {
  other.shape_ = Shape{0};
}

Tensor& Tensor::operator=(Tensor&& other) noexcept {
  if (this != &other) {
    release();
    shape_ = std::exchange(other.shape_, Shape{0});
    device_ = other.device_;
    data_ = std::exchange(other.data_, nullptr);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

Tensor::~Tensor() {
  release();
}

void Tensor::release() noexcept {
  if (data_) allocator(device_).deallocate(data_);
  data_ = nullptr;
  capacity_ = 0;
}

void Tensor::resize(const Shape& shape) {
  int64_t n = shape.numel();
  if (n > capacity_) {
    release();
    data_ =
        static_cast<float*>(allocator(device_).allocate(static_cast<size_t>(n) * sizeof(float)));
    capacity_ = n;
  }
  shape_ = shape;
}

void Tensor::reshape(const Shape& shape) {
  if (shape.numel() != numel()) {
    throw ShapeError("cannot reshape " + shape_.to_string() + " to " + shape.to_string());
  }
  shape_ = shape;
}

void Tensor::fill(float value) {
  if (device_ != Device::Cpu) throw Error("Tensor::fill on a non-CPU tensor needs its backend");
  std::fill(data_, data_ + numel(), value);
}

}  // namespace krill
