// The manager of a distributed study (rank 0, like OpenDIEL's grid engine): it owns the study
// (sampler, stopper, storage) and hands trials out on request to the other ranks, which only
// train (worker.hpp). Rank 0 does not train: it must answer every rank within microseconds (with
// 10,000 ranks running 1-second trials it hands out 10,000 trials a second), which a trial
// running on it would delay by the trial's length. A distributed study needs 2 ranks or more.
//
// Every state change is committed to the storage before the manager answers the message that
// caused it: a hand-out (the trial is Running, owned by the manager's run), a report and its
// decision, a result (Completed, Stopped, Failed or Diverged: the manager classifies it with
// hpo::settle). When the job dies, rerunning the same command resumes the study: finished trials
// are kept and the trials that were running are re-queued with their parameters (hpo/lease.hpp).
//
// A message that is not what the protocol allows from that rank at that moment (a report for a
// trial it does not hold, a second Ask while it runs a trial...) throws ProtocolError: the job
// ends (MPI_Abort), and can be resumed.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "exec/mpi/transport.hpp"
#include "hpo/study.hpp"

namespace krill::exec::mpi {

// Where the weights of the study's best trial go (krill tune: the checkpoint file beside the
// database, tune::TrainingObjective).
class WeightsKeeper {
 public:
  virtual ~WeightsKeeper() = default;
  // Whether a Completed trial of this value is the best so far (its weights are wanted).
  virtual bool wants(int64_t trial, double value) = 0;
  // Keeps them, if the trial is still the best when they arrive.
  virtual void keep(int64_t trial, double value, std::span<const uint8_t> bytes) = 0;
};

struct ManagerOptions {
  WeightsKeeper* weights = nullptr;  // nullptr: weights are never asked for
  // Up to this many messages that have arrived are handled in one storage transaction, committed
  // before any of them is answered (group commit; 1: one transaction per message).
  int batch = 64;
  // How long the manager waits for a message before it looks at the study again: workers
  // waiting for trials that other processes hold are served at this pace (a trial ending here
  // serves them at once).
  double poll_seconds = 0.1;
};

struct ManagerStats {
  int64_t handed_out = 0;  // Run messages sent
  int64_t results = 0;
  int64_t reports = 0;
  int64_t messages = 0;     // received
  int64_t batches = 0;      // storage transactions (group commits)
  double busy_seconds = 0;  // handling messages, committing and answering (not waiting for them)
};

// "" when a job of `ranks` ranks can train a PBT population of `population` members (one per
// worker rank: ranks - 1 >= population), else the error; checked by `krill tune` before anything
// is created, and by the Manager.
std::string pbt_ranks_problem(int ranks, int64_t population);

class Manager {
 public:
  // The workers are every rank but this one (the transport's rank).
  Manager(hpo::Study& study, Transport& transport, ManagerOptions options = {});
  // Serves the workers until every one of them was told Shutdown: when the study holds its
  // budget of finished trials, the sampler is exhausted, or the study's optimize() was cancelled
  // (workers finish the trial they run first). Call it from Study::optimize (MpiExecutor does),
  // so that progress and cancel apply.
  void run();
  const ManagerStats& stats() const { return stats_; }

 private:
  struct Worker {
    enum class State { Idle, Waiting, Running, SendingWeights, Done };
    State state = State::Idle;
    int64_t trial = -1;
    double value = 0;  // of the result whose weights are awaited
  };
  struct Held {  // a trial out at a worker, as claimed
    hpo::TrialRecord record;
    bool stopped = false;  // a Stop decision was sent
    int rank = -1;         // the worker running it
  };

  void handle(int from, Message message);
  // Sends decisions released by the study (PBT: a whole generation's, Gives first).
  void release(std::vector<hpo::Study::Released> decisions);
  void hand_out(int rank);
  void serve_waiting();
  void give(int rank, hpo::Study::Handout handout);  // a trial (Run), or Shutdown
  Worker& worker(int rank);
  Held& held_by(int rank, int64_t trial, const char* what);
  [[noreturn]] void unexpected(int rank, const Message& message, const std::string& why) const;
  void answer(int rank, Message message) { outbox_.emplace_back(rank, std::move(message)); }
  void flush();

  hpo::Study& study_;
  Transport& transport_;
  ManagerOptions options_;
  std::vector<Worker> workers_;  // by rank (this rank's entry unused)
  std::map<int64_t, Held> held_;
  std::vector<int> waiting_;  // ranks that asked when no trial was free, in order
  std::vector<std::pair<int, Message>> outbox_;
  int done_ = 0;
  bool trial_ended_ = false;  // in this loop
  ManagerStats stats_;
};

}  // namespace krill::exec::mpi

namespace krill::exec::mpi {

// The hpo::Executor of rank 0: study.optimize(objective, {.executor = &executor}) runs a Manager
// over the transport (the objective runs on the workers, run_worker; rank 0 does not call it).
class MpiExecutor final : public hpo::Executor {
 public:
  explicit MpiExecutor(Transport& transport, ManagerOptions options = {})
      : transport_(transport), options_(options) {}
  void run(hpo::Study& study, const hpo::Objective& objective) override;
  const ManagerStats& stats() const { return stats_; }

 private:
  Transport& transport_;
  ManagerOptions options_;
  ManagerStats stats_;
};

}  // namespace krill::exec::mpi
