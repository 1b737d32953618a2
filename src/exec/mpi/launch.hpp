// Whether krill runs as one rank of an MPI job, and whether it can: built with MPI or not is
// decided by CMake (find_package(MPI)); a launched job is recognised by the environment that
// mpirun/mpiexec (Open MPI, MPICH's Hydra) and Slurm's srun give each rank. Both are known
// without MPI, so that a krill built without it can say so instead of running N copies of the
// study unaware of each other.
#pragma once

#include <string>

namespace krill::exec::mpi {

bool built_with_mpi();
// The launcher's environment variable found (e.g. "OMPI_COMM_WORLD_SIZE=4"), or "" when none:
// a plain process.
std::string mpi_launch_marker();

}  // namespace krill::exec::mpi
