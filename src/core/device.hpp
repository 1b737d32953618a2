// Device: where a tensor's memory lives. Only the CPU exists today; the CUDA backend will register
// an allocator and a Backend for Device::Cuda without changing tensors or layers.
#pragma once

#include <cstddef>
#include <string_view>

namespace krill {

enum class Device { Cpu, Cuda };

std::string_view to_string(Device d);

// Allocates and frees raw device memory. Core ships the CPU one (64-byte aligned, for AVX-512);
// other backends register theirs with set_allocator().
class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* p) noexcept = 0;
};

Allocator& allocator(Device d);              // throws krill::Error if none is registered
void set_allocator(Device d, Allocator* a);  // not owned; must outlive every tensor on d

}  // namespace krill
