// Leases: who runs a trial. Every process working on a study (a `krill tune`, later an MPI
// manager) is a *run*: a random id, its host and process id, and a heartbeat it renews while it
// works. A Running trial belongs to one run. Nothing deletes or re-runs a trial whose run is alive;
// a trial whose run is gone is re-queued with its number and its stored parameters.
//
// A run is gone when, on this host, its process no longer exists (or is a zombie, or the pid now
// belongs to a process started at another time, or it is stopped (SIGSTOP, Ctrl-Z) and its
// heartbeat is older than the grace period), or, on another host, its heartbeat is older than the
// grace period. The pid check makes a killed process's trials free at once on one machine; the
// heartbeat covers other machines sharing a database, and processes that hang there. A running
// process on this host is never gone: a machine back from sleep finds every heartbeat old.
#pragma once

#include <cstdint>
#include <string>

namespace krill::hpo {

struct RunRecord {
  std::string id;    // random, unique per process and study (hex)
  std::string host;  // gethostname()
  int64_t pid = 0;
  int64_t pid_start = 0;  // the process's start time (clock ticks after boot, /proc); 0: unknown
  double started = 0;     // seconds since the epoch
  double heartbeat = 0;   // last sign of life, seconds since the epoch
};

struct LeaseOptions {
  double heartbeat = 5;  // seconds between two heartbeats of a run
  double grace = 60;     // a run silent for longer is gone (any host)
};

// This process, as a new run: a fresh random id, this host and pid, started = heartbeat = now.
RunRecord this_run();
std::string this_host();
// Seconds since the epoch (system clock: comparable between processes and hosts).
double wall_seconds();
// Whether `run`'s process is gone (see above), at time `now`.
bool run_is_gone(const RunRecord& run, double now, double grace);

}  // namespace krill::hpo
