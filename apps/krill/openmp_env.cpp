#include "openmp_env.hpp"

#include <unistd.h>

#include <cstdlib>

namespace krill::cli {

void use_short_openmp_spin(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT")) return;
  if (::setenv("GOMP_SPINCOUNT", kSpinCount, 1) != 0) return;
  ::execv("/proc/self/exe", argv);  // returns only on failure: go on as we are
}

}  // namespace krill::cli
