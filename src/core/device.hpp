// Device: where a tensor's memory lives. Core knows the CPU's memory; a device backend (CUDA)
// registers its own `DeviceMemory` with set_allocator(), so that tensors are allocated, copied
// and filled on their device without core depending on the backend.
#pragma once

#include <cstddef>
#include <string_view>

namespace krill {

enum class Device { Cpu, Cuda };

std::string_view to_string(Device d);
// "cpu" or "cuda"; throws InvalidArgument "<what> is '<text>', expected cpu or cuda".
Device parse_device(std::string_view text, std::string_view what = "device");

// Allocates, frees, copies and fills raw memory of one device. Core ships the CPU one (64-byte
// aligned, for AVX-512). Host pointers are ordinary CPU memory; device pointers are this
// allocator's. Copies are complete when the call returns (a device backend synchronises).
class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* p) noexcept = 0;
  virtual void copy_from_host(void* dst, const void* host, size_t bytes) = 0;
  virtual void copy_to_host(void* host, const void* src, size_t bytes) = 0;
  virtual void copy(void* dst, const void* src, size_t bytes) = 0;  // both on this device
  virtual void fill(float* dst, size_t count, float value) = 0;
};

Allocator& allocator(Device d);              // throws krill::Error if none is registered
bool has_allocator(Device d);                // whether allocator(d) would succeed
void set_allocator(Device d, Allocator* a);  // not owned; must outlive every tensor on d

}  // namespace krill
