// A worker rank of a distributed study: asks the manager (rank 0, manager.hpp) for a trial,
// trains it with the objective, sends each report and waits for the manager's decision, sends the
// result, and asks again, until the manager says Shutdown. A worker never opens the database.
// In a PBT study it also gives its member's state to another worker when the manager asks
// (Give), and loads the state a donor's rank sends it when its decision is an Exploit.
// An objective that throws or diverges is a result like any other; the worker goes on.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "exec/mpi/transport.hpp"
#include "hpo/study.hpp"

namespace krill::exec::mpi {

struct WorkerOptions {
  int threads = 1;  // compute threads of a trial (hpo::Trial::threads())
  // Called once after every trial, when the manager has acknowledged its result: `wanted` says
  // whether the manager asks for its weights (the trial is the study's best so far); returns them
  // then (empty: none kept), and forgets them either way.
  std::function<std::vector<uint8_t>(int64_t trial, bool wanted)> take_weights;
};

struct WorkerStats {
  int64_t trials = 0;
  int64_t reports = 0;
  int64_t states_sent = 0;  // PBT: member states given to recipients
  int64_t exploits = 0;     // PBT: donor states loaded
};

// Throws ProtocolError when the manager sends something the protocol does not allow.
WorkerStats run_worker(Transport& transport, const hpo::Objective& objective,
                       const WorkerOptions& options = {}, int manager = 0);

}  // namespace krill::exec::mpi
