// How the manager and the workers of a distributed study reach each other: numbered endpoints
// (ranks) that send byte strings and receive them in arrival order. MpiTransport
// (mpi_transport.hpp) is the real one; LocalNetwork joins endpoints of one process by queues, so
// that the manager and the workers run, and are tested, on threads without MPI.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "exec/mpi/protocol.hpp"

namespace krill::exec::mpi {

struct Envelope {
  int from = -1;
  std::vector<uint8_t> bytes;
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Queues `bytes` for rank `to` and returns; messages from one rank to another arrive in the
  // order they were sent.
  virtual void send(int to, std::vector<uint8_t> bytes) = 0;
  // The next message to this rank, waiting at most `timeout` seconds (< 0: until one comes);
  // nullopt when none came in time.
  virtual std::optional<Envelope> receive(double timeout) = 0;
};

// Typed helpers: one encode/decode for every message (protocol.hpp).
void send_message(Transport& transport, int to, const Message& message);
struct Received {
  int from = -1;
  Message message;
};
// Throws ProtocolError for bytes that are not a message ("message from rank N: ...").
std::optional<Received> receive_message(Transport& transport, double timeout);

// `size` endpoints in one process, rank i = endpoint(i); each endpoint is used by one thread.
class LocalNetwork {
 public:
  explicit LocalNetwork(int size);
  ~LocalNetwork();
  LocalNetwork(const LocalNetwork&) = delete;
  LocalNetwork& operator=(const LocalNetwork&) = delete;
  Transport& endpoint(int rank);
  int size() const { return static_cast<int>(endpoints_.size()); }

 private:
  struct Inbox {
    std::mutex mutex;
    std::condition_variable ready;
    std::deque<Envelope> queue;
  };
  class Endpoint;
  std::vector<std::unique_ptr<Inbox>> inboxes_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
};

}  // namespace krill::exec::mpi
