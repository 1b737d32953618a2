#include "exec/mpi/transport.hpp"

#include <chrono>
#include <string>

namespace krill::exec::mpi {

void send_message(Transport& transport, int to, const Message& message) {
  transport.send(to, encode(message));
}

std::optional<Received> receive_message(Transport& transport, double timeout) {
  auto envelope = transport.receive(timeout);
  if (!envelope) return std::nullopt;
  return Received{envelope->from,
                  decode(envelope->bytes, "message from rank " + std::to_string(envelope->from))};
}

class LocalNetwork::Endpoint final : public Transport {
 public:
  Endpoint(LocalNetwork& network, int rank) : network_(network), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return network_.size(); }
  void send(int to, std::vector<uint8_t> bytes) override {
    if (to < 0 || to >= size()) {
      throw InvalidArgument("send to rank " + std::to_string(to) + " of " + std::to_string(size()));
    }
    Inbox& inbox = *network_.inboxes_[static_cast<size_t>(to)];
    {
      std::lock_guard lock(inbox.mutex);
      inbox.queue.push_back(Envelope{rank_, std::move(bytes)});
    }
    inbox.ready.notify_one();
  }
  std::optional<Envelope> receive(double timeout) override {
    Inbox& inbox = *network_.inboxes_[static_cast<size_t>(rank_)];
    std::unique_lock lock(inbox.mutex);
    const auto ready = [&] { return !inbox.queue.empty(); };
    if (timeout < 0) {
      inbox.ready.wait(lock, ready);
    } else if (!inbox.ready.wait_for(lock, std::chrono::duration<double>(timeout), ready)) {
      return std::nullopt;
    }
    Envelope e = std::move(inbox.queue.front());
    inbox.queue.pop_front();
    return e;
  }

 private:
  LocalNetwork& network_;
  int rank_;
};

LocalNetwork::LocalNetwork(int size) {
  if (size < 1) throw InvalidArgument("a network needs at least one endpoint");
  for (int r = 0; r < size; ++r) {
    inboxes_.push_back(std::make_unique<Inbox>());
    endpoints_.push_back(std::make_unique<Endpoint>(*this, r));
  }
}

LocalNetwork::~LocalNetwork() = default;

Transport& LocalNetwork::endpoint(int rank) {
  if (rank < 0 || rank >= size()) {
    throw InvalidArgument("no endpoint " + std::to_string(rank) + " of " + std::to_string(size()));
  }
  return *endpoints_[static_cast<size_t>(rank)];
}

}  // namespace krill::exec::mpi
