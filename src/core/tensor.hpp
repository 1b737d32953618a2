// Tensor: a dense, row-major float32 array on one device. It owns its memory (a copy is a deep
// copy) and keeps its capacity when resized smaller, so layers can hold their activations and
// reuse them step after step without allocating.
#pragma once

#include <cstdint>
#include <span>

#include "core/device.hpp"
#include "core/shape.hpp"

namespace krill {

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape shape, Device device = Device::Cpu);  // zero-filled
  static Tensor from(Shape shape, std::span<const float> values);

  Tensor(const Tensor& other);
  Tensor& operator=(const Tensor& other);
  Tensor(Tensor&& other) noexcept;
  Tensor& operator=(Tensor&& other) noexcept;
  ~Tensor();

  const Shape& shape() const { return shape_; }
  int64_t numel() const { return shape_.numel(); }
  int rank() const { return shape_.rank(); }
  int64_t dim(int i) const { return shape_[i]; }
  Device device() const { return device_; }
  bool empty() const { return numel() == 0; }

  float* data() { return data_; }
  const float* data() const { return data_; }
  std::span<float> values() { return {data_, static_cast<size_t>(numel())}; }
  std::span<const float> values() const { return {data_, static_cast<size_t>(numel())}; }
  float& operator[](int64_t i) { return data_[i]; }
  float operator[](int64_t i) const { return data_[i]; }

  // Changes the shape; reallocates only when the new size exceeds the capacity. Contents are
  // unspecified afterwards.
  void resize(const Shape& shape);
  // Same element count, new dimensions; contents kept.
  void reshape(const Shape& shape);
  void fill(float value);
  void zero() { fill(0.0f); }

 private:
  void release() noexcept;

  Shape shape_{0};  // empty (a rank-0 Shape() would be a 1-element scalar)
  Device device_ = Device::Cpu;
  float* data_ = nullptr;
  int64_t capacity_ = 0;
};

}  // namespace krill
