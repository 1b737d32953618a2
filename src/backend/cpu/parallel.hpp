// When the CPU backend's loops run on OpenMP threads, and how items are split over a team; shared
// by its source files.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace krill::backend {

// Below this many elements a loop runs on the calling thread: waking a team costs more than the
// loop.
inline constexpr int64_t kParallelMin = 1 << 15;

// The OpenMP thread count is per calling thread (each trial of a study sets its own).
extern thread_local int tl_threads;

// How many threads to split `items` independent items over, `work` elements in all: 1 (the
// calling thread, whose BLAS calls may then use every thread) unless the work repays a team.
inline int team_size(int64_t items, int64_t work) {
  if (tl_threads <= 1 || items <= 1 || work < kParallelMin) return 1;
  return static_cast<int>(std::min<int64_t>(tl_threads, items));
}

// f(thread, item) for every item; thread in [0, team) names the scratch the call may use. A static
// schedule: with the same team size, each thread always gets the same items (deterministic sums).
template <class F>
inline void for_each_item(int64_t items, int team, F f) {
  if (team > 1) {
#pragma omp parallel for schedule(static) num_threads(team)
    for (int64_t i = 0; i < items; ++i) f(omp_get_thread_num(), i);
  } else {
    for (int64_t i = 0; i < items; ++i) f(0, i);
  }
}

}  // namespace krill::backend
