#include "exec/mpi/launch.hpp"

#include <array>
#include <cstdlib>

namespace krill::exec::mpi {

std::string mpi_launch_marker() {
  // Open MPI's mpirun; PMIx (Open MPI 4+, srun --mpi=pmix); PMI-1/2 (MPICH's Hydra, srun
  // --mpi=pmi2); MPICH's Hydra. A job of one rank (mpirun -np 1) counts too.
  static constexpr std::array<const char*, 5> kVars = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK",
                                                       "PMI_SIZE", "PMI_RANK", "MPI_LOCALNRANKS"};
  for (const char* var : kVars) {
    if (const char* v = std::getenv(var); v && *v) return std::string(var) + "=" + v;
  }
  return "";
}

}  // namespace krill::exec::mpi
