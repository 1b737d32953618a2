#include "core/device.hpp"

#include <array>
#include <cstdlib>
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
};

CpuAllocator cpu_allocator;
std::array<Allocator*, 2> allocators{&cpu_allocator, nullptr};

}  // namespace

std::string_view to_string(Device d) {
  return d == Device::Cpu ? "cpu" : "cuda";
}

Allocator& allocator(Device d) {
  Allocator* a = allocators[static_cast<size_t>(d)];
  if (!a) {
    throw Error("no allocator for device '" + std::string(to_string(d)) +
                "': krill was built without that backend");
  }
  return *a;
}

void set_allocator(Device d, Allocator* a) {
  allocators[static_cast<size_t>(d)] = a;
}

}  // namespace krill
