#include "backend/backend.hpp"

#include "backend/cpu/cpu_backend.hpp"
#include "core/error.hpp"

namespace krill::backend {

Backend& backend(Device device) {
  static CpuBackend cpu;
  if (device == Device::Cpu) return cpu;
  throw Error(
      "the CUDA backend is not built into this krill: rebuild on a machine with "
      "/usr/local/cuda (CMake detects it), or use the CPU");
}

}  // namespace krill::backend
