// OpenMP's wait policy for krill processes that share cores. libgomp's threads spin at every
// barrier (300,000 turns by default) before they sleep; when more threads than cores are
// runnable — two `krill tune` processes joined on one study, or any other busy process — a
// spinning thread holds the core that the thread it waits for needs, and a training step runs
// 10-20x slower (docs/BENCHMARKS.md, "Processes that share cores"). libgomp reads its settings
// once, before main(), so krill sets a short spin in its environment and executes itself again,
// once, unless the user chose a policy (OMP_WAIT_POLICY or GOMP_SPINCOUNT is set).
#pragma once

namespace krill::cli {

inline constexpr const char* kSpinCount = "10000";

// Returns only when the environment is as wanted (or the re-execution failed, which is harmless:
// krill then runs with libgomp's defaults).
void use_short_openmp_spin(char** argv);

}  // namespace krill::cli
