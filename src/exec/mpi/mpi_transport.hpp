// MPI itself (only in a krill built with MPI: KRILL_HAVE_MPI). MpiSession owns MPI's lifetime
// (MPI_Init_thread in the constructor, MPI_Finalize in the destructor); MpiTransport carries the
// protocol's byte strings between ranks on a communicator of its own (a duplicate of
// MPI_COMM_WORLD, so that krill's messages never meet anyone else's). Standard MPI-3 only: Open
// MPI and MPICH both work.
//
// Only the thread that created the session calls MPI (MPI_THREAD_FUNNELED): the manager's loop
// and the worker's training both run on the main thread; other threads (OpenMP, the study's
// heartbeat) never touch MPI.
//
// Waiting for a message does not spin a core: MPI_Recv busy-polls in Open MPI, which on a node
// whose cores all train would take one from the trials. receive() probes, yielding the core
// between probes for the first 200 µs, then sleeping 20 µs doubling to 250 µs while nothing comes.
#pragma once

#include <mpi.h>

#include <list>
#include <optional>
#include <vector>

#include "exec/mpi/transport.hpp"

namespace krill::exec::mpi {

class MpiSession {
 public:
  MpiSession();  // MPI_Init_thread(MPI_THREAD_FUNNELED); throws Error when MPI cannot start
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  // Ranks on this node (MPI_COMM_TYPE_SHARED), and whether rank 0 is one of them.
  int ranks_on_node() const { return node_size_; }
  bool manager_on_node() const { return manager_on_node_; }
  MPI_Comm comm() const { return comm_; }
  // Collective: every rank passes its own `ok`; true when all are.
  bool all(bool ok) const;
  // Collective: the lowest rank whose `failed` is true, or -1.
  int first_failed(bool failed) const;
  // Ends every rank of the job (MPI_Abort): a rank that cannot go on must not leave the others
  // waiting for its messages.
  [[noreturn]] void abort(int code) const;

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
  int node_size_ = 1;
  bool manager_on_node_ = true;
};

class MpiTransport final : public Transport {
 public:
  explicit MpiTransport(const MpiSession& session);
  ~MpiTransport() override;  // waits for the messages sent to leave
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void send(int to, std::vector<uint8_t> bytes) override;
  std::optional<Envelope> receive(double timeout) override;

 private:
  struct Pending {
    MPI_Request request;
    std::vector<uint8_t> bytes;  // kept until MPI has sent them
  };
  void progress_sends();  // frees the buffers of the sends that completed

  MPI_Comm comm_;
  int rank_;
  int size_;
  std::list<Pending> sending_;
};

}  // namespace krill::exec::mpi
