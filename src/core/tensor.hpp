// Tensor: a dense, row-major float32 array on one device. It owns its memory (a copy is a deep
// copy, on the same device) and keeps its capacity when resized smaller, so layers can hold their
// activations and reuse them step after step without allocating.
//
// Devices: data() is a pointer of the tensor's device, for the backend's kernels; values(),
// operator[] and from() are the host's view and throw (values) or must not be used on a device
// tensor. Moving data between devices is explicit: to(device), copy_from(), to_host().
//
// Views: Tensor::view(data, shape, device) is a tensor over memory it does not own (a slice of
// another tensor), for ops that take tensors, e.g. one member's slice of a population's weights.
// It frees nothing, cannot grow (resize beyond its element count or to another device throws)
// and must not outlive the memory. A copy of a view is an owning deep copy; a move keeps it a view;
// assigning to a view replaces it (copy_from writes through it).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/device.hpp"
#include "core/shape.hpp"

namespace krill {

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape shape, Device device = Device::Cpu);       // zero-filled
  static Tensor from(Shape shape, std::span<const float> values);  // on the CPU
  // A view of shape.numel() floats at `data` on `device` (above). The const overload is for
  // reading: it gives a const tensor.
  static Tensor view(float* data, Shape shape, Device device);
  static const Tensor view(const float* data, Shape shape, Device device);

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
  bool is_view() const { return !owned_; }

  float* data() { return data_; }
  const float* data() const { return data_; }
  // The values, for host code: throws krill::Error on a device tensor (use to_host()).
  std::span<float> values() {
    require_host();
    return {data_, static_cast<size_t>(numel())};
  }
  std::span<const float> values() const {
    require_host();
    return {data_, static_cast<size_t>(numel())};
  }
  float& operator[](int64_t i) { return data_[i]; }
  float operator[](int64_t i) const { return data_[i]; }

  // Changes the shape; reallocates only when the new size exceeds the capacity. Contents are
  // unspecified afterwards.
  void resize(const Shape& shape);
  // The same on `device`: a tensor on another device gives up its memory and moves there.
  void resize(const Shape& shape, Device device);
  // Same element count, new dimensions; contents kept.
  void reshape(const Shape& shape);
  void fill(float value);
  void zero() { fill(0.0f); }

  // A copy on `device` (a plain copy when it is this tensor's).
  Tensor to(Device device) const;
  // Becomes a copy of `other`'s shape and values, keeping this tensor's device (one copy between
  // the devices when they differ; no allocation within the capacity).
  void copy_from(const Tensor& other);
  // Copies the values from host memory (`values.size()` must be numel()), or to it.
  void copy_from_host(std::span<const float> values);
  void copy_to_host(std::span<float> out) const;
  std::vector<float> to_host() const;

 private:
  void release() noexcept;
  void require_host() const;

  Shape shape_{0};  // empty (a rank-0 Shape() would be a 1-element scalar)
  Device device_ = Device::Cpu;
  float* data_ = nullptr;
  int64_t capacity_ = 0;
  bool owned_ = true;  // false: a view (frees nothing, cannot grow)
};

}  // namespace krill
