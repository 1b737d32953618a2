// When the CPU backend's loops run on OpenMP threads, shared by its source files.
#pragma once

#include <cstdint>

namespace krill::backend {

// Below this many elements a loop runs on the calling thread: waking a team costs more than the
// loop.
inline constexpr int64_t kParallelMin = 1 << 15;

// The OpenMP thread count is per calling thread (each trial of a study sets its own).
extern thread_local int tl_threads;

}  // namespace krill::backend
