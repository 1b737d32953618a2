#include "core/device.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/error.hpp"

namespace krill {

namespace {

class CpuAllocator final : public Allocator {
 public:
  void* allocate(size_t bytes) override {
    size_t rounded = (bytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
    if (!p) throw std::bad_alloc();
    return p;
  }
  void deallocate(void* p) noexcept override { std::free(p); }
  void copy_from_host(void* dst, const void* host, size_t bytes) override {
    if (bytes) std::memcpy(dst, host, bytes);
  }
  void copy_to_host(void* host, const void* src, size_t bytes) override {
    if (bytes) std::memcpy(host, src, bytes);
  }
  void copy(void* dst, const void* src, size_t bytes) override {
    if (bytes) std::memmove(dst, src, bytes);
  }
  void fill(float* dst, size_t count, float value) override { std::fill(dst, dst + count, value); }
};

CpuAllocator cpu_allocator;
std::array<Allocator*, 2> allocators{&cpu_allocator, nullptr};

}  // namespace

std::string_view to_string(Device d) {
  return d == Device::Cpu ? "cpu" : "cuda";
}

Device parse_device(std::string_view text, std::string_view what) {
  if (text == "cpu") return Device::Cpu;
  if (text == "cuda") return Device::Cuda;
  throw InvalidArgument(std::string(what) + " is '" + std::string(text) +
                        "', expected cpu or cuda");
}

Allocator& allocator(Device d) {
  Allocator* a = allocators[static_cast<size_t>(d)];
  if (!a) {
    throw Error("no allocator for device '" + std::string(to_string(d)) +
                "': its backend is not built into this krill, or not started yet "
                "(backend::backend(Device::" +
                std::string(d == Device::Cuda ? "Cuda" : "Cpu") +
                ") starts it and registers its allocator)");
  }
  return *a;
}

bool has_allocator(Device d) {
  return allocators[static_cast<size_t>(d)] != nullptr;
}

void set_allocator(Device d, Allocator* a) {
  allocators[static_cast<size_t>(d)] = a;
}

}  // namespace krill
