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

Tensor Tensor::view(float* data, Shape shape, Device device) {
  if (shape.numel() > 0 && data == nullptr) {
    throw InvalidArgument("Tensor::view: null data for shape " + shape.to_string());
  }
  Tensor t;
  t.capacity_ = shape.numel();
  t.shape_ = std::move(shape);
  t.device_ = device;
  t.data_ = data;
  t.owned_ = false;
  return t;
}

const Tensor Tensor::view(const float* data, Shape shape, Device device) {
  return view(const_cast<float*>(data), std::move(shape), device);  // const: read only
}

Tensor::Tensor(const Tensor& other) : device_(other.device_) {
  resize(other.shape_);
  if (numel() == 0) return;
  if (device_ == Device::Cpu) {
    std::memcpy(data_, other.data_, static_cast<size_t>(numel()) * sizeof(float));
  } else {
    allocator(device_).copy(data_, other.data_, static_cast<size_t>(numel()) * sizeof(float));
  }
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
      capacity_(std::exchange(other.capacity_, 0)),
      owned_(std::exchange(other.owned_, true)) {
  other.shape_ = Shape{0};
}

Tensor& Tensor::operator=(Tensor&& other) noexcept {
  if (this != &other) {
    release();
    shape_ = std::exchange(other.shape_, Shape{0});
    device_ = other.device_;
    data_ = std::exchange(other.data_, nullptr);
    capacity_ = std::exchange(other.capacity_, 0);
    owned_ = std::exchange(other.owned_, true);
  }
  return *this;
}

Tensor::~Tensor() {
  release();
}

void Tensor::release() noexcept {
  if (data_ && owned_) allocator(device_).deallocate(data_);
  data_ = nullptr;
  capacity_ = 0;
  owned_ = true;
}

void Tensor::resize(const Shape& shape) {
  int64_t n = shape.numel();
  if (n > capacity_) {
    if (!owned_) {
      throw ShapeError("a tensor view of " + std::to_string(capacity_) + " values cannot grow to " +
                       shape.to_string());
    }
    release();
    data_ =
        static_cast<float*>(allocator(device_).allocate(static_cast<size_t>(n) * sizeof(float)));
    capacity_ = n;
  }
  shape_ = shape;
}

void Tensor::resize(const Shape& shape, Device device) {
  if (device != device_) {
    if (!owned_) {
      throw Error("a tensor view on " + std::string(to_string(device_)) + " cannot move to " +
                  std::string(to_string(device)));
    }
    release();
    device_ = device;
  }
  resize(shape);
}

void Tensor::reshape(const Shape& shape) {
  if (shape.numel() != numel()) {
    throw ShapeError("cannot reshape " + shape_.to_string() + " to " + shape.to_string());
  }
  shape_ = shape;
}

void Tensor::fill(float value) {
  if (device_ == Device::Cpu) {
    std::fill(data_, data_ + numel(), value);
  } else if (numel() > 0) {
    allocator(device_).fill(data_, static_cast<size_t>(numel()), value);
  }
}

void Tensor::require_host() const {
  if (device_ != Device::Cpu) {
    throw Error("the values of a tensor on " + std::string(to_string(device_)) +
                " are not host memory: copy them with to_host() or to(Device::Cpu)");
  }
}

Tensor Tensor::to(Device device) const {
  Tensor t;
  t.device_ = device;
  t.copy_from(*this);
  return t;
}

void Tensor::copy_from(const Tensor& other) {
  if (this == &other) return;
  resize(other.shape_);
  const size_t bytes = static_cast<size_t>(numel()) * sizeof(float);
  if (bytes == 0) return;
  if (device_ == other.device_) {
    if (device_ == Device::Cpu) {
      std::memcpy(data_, other.data_, bytes);
    } else {
      allocator(device_).copy(data_, other.data_, bytes);
    }
  } else if (other.device_ == Device::Cpu) {
    allocator(device_).copy_from_host(data_, other.data_, bytes);
  } else if (device_ == Device::Cpu) {
    allocator(other.device_).copy_to_host(data_, other.data_, bytes);
  } else {  // between two devices, through the host
    std::vector<float> host = other.to_host();
    allocator(device_).copy_from_host(data_, host.data(), bytes);
  }
}

void Tensor::copy_from_host(std::span<const float> values) {
  if (static_cast<int64_t>(values.size()) != numel()) {
    throw ShapeError("Tensor::copy_from_host: " + shape_.to_string() + " needs " +
                     std::to_string(numel()) + " values, got " + std::to_string(values.size()));
  }
  if (values.empty()) return;
  allocator(device_).copy_from_host(data_, values.data(), values.size() * sizeof(float));
}

void Tensor::copy_to_host(std::span<float> out) const {
  if (static_cast<int64_t>(out.size()) != numel()) {
    throw ShapeError("Tensor::copy_to_host: " + shape_.to_string() + " has " +
                     std::to_string(numel()) + " values, the output holds " +
                     std::to_string(out.size()));
  }
  if (out.empty()) return;
  allocator(device_).copy_to_host(out.data(), data_, out.size() * sizeof(float));
}

std::vector<float> Tensor::to_host() const {
  std::vector<float> out(static_cast<size_t>(numel()));
  copy_to_host(out);
  return out;
}

}  // namespace krill
