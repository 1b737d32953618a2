// Whether krill runs as one rank of an MPI job: recognised by the environment that mpirun/mpiexec
// (Open MPI, MPICH's Hydra) and Slurm's srun give each rank, without MPI itself, so that a krill
// built without MPI (KRILL_HAVE_MPI, decided by CMake) can say so instead of running N copies of
// the study unaware of each other.
#pragma once

#include <string>

namespace krill::exec::mpi {

// The launcher's environment variable found (e.g. "OMPI_COMM_WORLD_SIZE=4"), or "" when none:
// a plain process.
std::string mpi_launch_marker();

}  // namespace krill::exec::mpi
