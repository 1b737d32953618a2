// A stand-in for a GPU's memory in tests that run without one: registered as Device::Cuda's
// allocator, it keeps the "device" memory on the host but counts every allocation and copy, and
// poisons fresh memory with NaN (a real device's fresh memory is not zero either), so a test can
// check that tensors, modules, optimizers and checkpoints move data between the devices
// explicitly, through the allocator, and never read device memory as host memory. Only memory
// moves: a kernel on this device would need the CUDA backend, which these tests never call.
#pragma once

#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <string>

#include "core/device.hpp"
#include "core/error.hpp"

namespace krill::testing {

class FakeDevice final : public Allocator {
 public:
  FakeDevice() : previous_(has_allocator(Device::Cuda) ? &allocator(Device::Cuda) : nullptr) {
    set_allocator(Device::Cuda, this);
  }
  ~FakeDevice() override { set_allocator(Device::Cuda, previous_); }
  FakeDevice(const FakeDevice&) = delete;
  FakeDevice& operator=(const FakeDevice&) = delete;

  void* allocate(size_t bytes) override {
    if (bytes > max_bytes) {
      ++refusals;
      throw Error("fake device: out of memory for " + std::to_string(bytes) + " bytes");
    }
    ++allocations;
    const size_t n = bytes / sizeof(float) + 1;
    auto* p = static_cast<float*>(std::malloc(n * sizeof(float)));
    if (!p) throw std::bad_alloc();
    for (size_t i = 0; i < n; ++i) p[i] = std::numeric_limits<float>::quiet_NaN();
    return p;
  }
  void deallocate(void* p) noexcept override {
    ++frees;
    std::free(p);
  }
  void copy_from_host(void* dst, const void* host, size_t bytes) override {
    ++uploads;
    uploaded_bytes += bytes;
    std::memcpy(dst, host, bytes);
  }
  void copy_to_host(void* host, const void* src, size_t bytes) override {
    ++downloads;
    std::memcpy(host, src, bytes);
  }
  void copy(void* dst, const void* src, size_t bytes) override {
    ++device_copies;
    std::memmove(dst, src, bytes);
  }
  void fill(float* dst, size_t count, float value) override {
    ++fills;
    for (size_t i = 0; i < count; ++i) dst[i] = value;
  }

  int allocations = 0, frees = 0, uploads = 0, downloads = 0, device_copies = 0, fills = 0;
  int refusals = 0;
  size_t uploaded_bytes = 0;
  // A larger allocation throws krill::Error, as a full GPU's does (cudaMalloc's out of memory).
  size_t max_bytes = std::numeric_limits<size_t>::max();

 private:
  Allocator* previous_;
};

}  // namespace krill::testing
