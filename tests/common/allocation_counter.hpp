// Measures what operator new hands out, for tests that promise not to allocate (a lying file
// header must not make krill reserve gigabytes). Include this header in exactly ONE source file
// of a test program: it defines the replaceable global operator new and delete (which may not be
// inline). Memory that C code takes with malloc (zlib's fixed-size buffers) is not counted.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace krill::testing {

namespace allocation_detail {
inline std::atomic<int> active{0};
inline std::atomic<size_t> largest{0};
inline std::atomic<size_t> total{0};
inline std::atomic<size_t> count{0};

inline void* allocate(size_t size) {
  if (active.load(std::memory_order_relaxed) > 0) {
    size_t seen = largest.load(std::memory_order_relaxed);
    while (size > seen && !largest.compare_exchange_weak(seen, size)) {
    }
    total.fetch_add(size, std::memory_order_relaxed);
    count.fetch_add(1, std::memory_order_relaxed);
  }
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
}  // namespace allocation_detail

// Counts every operator new (any thread) from construction until destruction. One at a time.
class AllocationCounter {
 public:
  AllocationCounter() {
    allocation_detail::largest = 0;
    allocation_detail::total = 0;
    allocation_detail::count = 0;
    ++allocation_detail::active;
  }
  ~AllocationCounter() { --allocation_detail::active; }
  AllocationCounter(const AllocationCounter&) = delete;
  AllocationCounter& operator=(const AllocationCounter&) = delete;

  size_t largest() const { return allocation_detail::largest; }  // bytes, one allocation
  size_t total() const { return allocation_detail::total; }      // bytes, all allocations
  size_t count() const { return allocation_detail::count; }
};

}  // namespace krill::testing

void* operator new(size_t size) {
  return krill::testing::allocation_detail::allocate(size);
}
void* operator new[](size_t size) {
  return krill::testing::allocation_detail::allocate(size);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, size_t) noexcept {
  std::free(p);
}
// The nothrow forms too (std::stable_sort's temporary buffer uses them): memory from the
// toolchain's (under ASan: the sanitizer's) nothrow new, freed by the delete above, is an
// alloc-dealloc mismatch.
void* operator new(size_t size, const std::nothrow_t&) noexcept {
  try {
    return krill::testing::allocation_detail::allocate(size);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}
void* operator new[](size_t size, const std::nothrow_t&) noexcept {
  try {
    return krill::testing::allocation_detail::allocate(size);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
