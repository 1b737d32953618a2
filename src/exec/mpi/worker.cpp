#include "exec/mpi/worker.hpp"

#include <string>

namespace krill::exec::mpi {

namespace {

// The next message, which must come from the manager.
Message from_manager(Transport& transport, int manager) {
  auto received = receive_message(transport, -1);
  while (!received) received = receive_message(transport, -1);
  if (received->from != manager) {
    throw ProtocolError("rank " + std::to_string(transport.rank()) + " got " +
                        name_of(received->message) + " from rank " +
                        std::to_string(received->from) + ", which is not the manager (rank " +
                        std::to_string(manager) + ")");
  }
  return std::move(received->message);
}

// The manager's answer to the message just sent: of type M, or a ProtocolError saying what came.
template <typename M>
M await(Transport& transport, int manager, const char* after) {
  Message message = from_manager(transport, manager);
  if (auto* m = std::get_if<M>(&message)) return std::move(*m);
  throw ProtocolError("the manager answered " + std::string(after) + " with " + name_of(message) +
                      ", expected " + name_of(Message{M{}}));
}

}  // namespace

WorkerStats run_worker(Transport& transport, const hpo::Objective& objective,
                       const WorkerOptions& options, int manager) {
  WorkerStats stats;
  for (;;) {
    send_message(transport, manager, Ask{});
    Message answer = from_manager(transport, manager);
    if (std::holds_alternative<Shutdown>(answer)) return stats;
    auto* run = std::get_if<Run>(&answer);
    if (!run) {
      throw ProtocolError("the manager answered Ask with " + name_of(answer) +
                          ", expected Run or Shutdown");
    }
    const int64_t number = run->trial;
    hpo::Trial trial(number, std::move(run->params), [&](const hpo::Report& r) {
      send_message(transport, manager, ReportMsg{number, r.step, r.value, r.metrics});
      const Decision d = await<Decision>(transport, manager, "a report");
      if (d.trial != number || d.step != r.step) {
        throw ProtocolError("the manager decided for trial " + std::to_string(d.trial) + " step " +
                            std::to_string(d.step) + ", expected trial " + std::to_string(number) +
                            " step " + std::to_string(r.step));
      }
      ++stats.reports;
      return !d.stop;
    });
    trial.set_resources(transport.rank(), options.threads);
    Result result;
    result.trial = number;
    try {
      result.value = objective(trial);
      result.outcome = Outcome::Returned;
    } catch (const ProtocolError&) {
      throw;  // the exchange with the manager broke: not the trial's doing
    } catch (const hpo::Diverged& e) {
      result.outcome = Outcome::Diverged;
      result.error = e.what();
    } catch (const std::exception& e) {
      result.outcome = Outcome::Threw;
      result.error = e.what();
    }
    result.attrs = trial.attrs();
    send_message(transport, manager, result);
    ++stats.trials;
    const ResultAck ack = await<ResultAck>(transport, manager, "a result");
    if (ack.trial != number) {
      throw ProtocolError("the manager acknowledged trial " + std::to_string(ack.trial) +
                          ", expected " + std::to_string(number));
    }
    std::vector<uint8_t> weights;
    if (options.take_weights) weights = options.take_weights(number, ack.send_weights);
    if (ack.send_weights) send_message(transport, manager, Weights{number, std::move(weights)});
  }
}

}  // namespace krill::exec::mpi
