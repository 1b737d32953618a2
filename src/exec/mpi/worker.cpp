#include "exec/mpi/worker.hpp"

#include <map>
#include <new>
#include <string>

namespace krill::exec::mpi {

namespace {

Received next_message(Transport& transport) {
  auto received = receive_message(transport, -1);
  while (!received) received = receive_message(transport, -1);
  return std::move(*received);
}

void require_manager(const Transport& transport, const Received& received, int manager) {
  if (received.from != manager) {
    throw ProtocolError("rank " + std::to_string(transport.rank()) + " got " +
                        name_of(received.message) + " from rank " + std::to_string(received.from) +
                        ", which is not the manager (rank " + std::to_string(manager) + ")");
  }
}

// The next message, which must come from the manager.
Message from_manager(Transport& transport, int manager) {
  Received received = next_message(transport);
  require_manager(transport, received, manager);
  return std::move(received.message);
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
    // PBT member states sent by peers ahead of the decision that names them, by sending rank.
    std::map<int, State> states;
    hpo::ReportHost host = [&](const hpo::Report& r, hpo::Trainable* trainable) {
      send_message(transport, manager, ReportMsg{number, r.step, r.value, r.metrics, r.last});
      // The decision; meanwhile a PBT donor gives its state to the recipients named (Give), and
      // a recipient may get its donor's state before its own decision.
      Decision d;
      for (bool decided = false; !decided;) {
        Received in = next_message(transport);
        if (auto* state = std::get_if<State>(&in.message); state && in.from != manager) {
          states[in.from] = std::move(*state);
          continue;
        }
        require_manager(transport, in, manager);
        if (auto* give = std::get_if<Give>(&in.message)) {
          if (give->trial != number || give->step != r.step || !trainable) {
            throw ProtocolError("the manager asked for the state of trial " +
                                std::to_string(give->trial) + " at step " +
                                std::to_string(give->step) + ", this rank holds trial " +
                                std::to_string(number) + " at step " + std::to_string(r.step) +
                                (trainable ? "" : " (no Trainable)"));
          }
          const int to = static_cast<int>(give->to);
          if (to <= 0 || to >= transport.size() || to == transport.rank()) {
            throw ProtocolError("the manager asked to send a state to rank " +
                                std::to_string(give->to) + ", which is no other worker");
          }
          send_message(transport, to, State{number, r.step, trainable->save()});
          ++stats.states_sent;
        } else if (auto* decision = std::get_if<Decision>(&in.message)) {
          d = std::move(*decision);
          decided = true;
        } else {
          throw ProtocolError("the manager answered a report with " + name_of(in.message) +
                              ", expected Decision or Give");
        }
      }
      if (d.trial != number || d.step != r.step) {
        throw ProtocolError("the manager decided for trial " + std::to_string(d.trial) + " step " +
                            std::to_string(d.step) + ", expected trial " + std::to_string(number) +
                            " step " + std::to_string(r.step));
      }
      ++stats.reports;
      hpo::DecisionRecord rec;
      rec.step = d.step;
      rec.action = d.action == Action::Stop      ? hpo::Action::Stop
                   : d.action == Action::Exploit ? hpo::Action::Exploit
                                                 : hpo::Action::Continue;
      rec.reason = std::move(d.reason);
      if (rec.action != hpo::Action::Exploit) return rec;
      rec.donor = d.donor;
      rec.donor_step = d.donor_step;
      rec.params = std::move(d.params);
      const int from = static_cast<int>(d.donor_rank);
      if (from <= 0 || from >= transport.size() || from == transport.rank() || !trainable) {
        throw ProtocolError("the manager said to copy trial " + std::to_string(d.donor) +
                            " from rank " + std::to_string(d.donor_rank) +
                            (trainable ? ", which is no other worker" : " (no Trainable here)"));
      }
      while (!states.contains(from)) {
        Received in = next_message(transport);
        auto* state = std::get_if<State>(&in.message);
        if (!state || in.from == manager) {
          throw ProtocolError("rank " + std::to_string(in.from) + " sent " + name_of(in.message) +
                              " while this rank waited for the state of trial " +
                              std::to_string(d.donor) + " from rank " + std::to_string(from));
        }
        states[in.from] = std::move(*state);
      }
      State state = std::move(states.at(from));
      states.erase(from);
      if (state.trial != d.donor || state.step != d.donor_step) {
        throw ProtocolError("rank " + std::to_string(from) + " sent the state of trial " +
                            std::to_string(state.trial) + " at step " + std::to_string(state.step) +
                            ", expected trial " + std::to_string(d.donor) + " at step " +
                            std::to_string(d.donor_step));
      }
      trainable->load(state.bytes);
      trainable->set_params(rec.params);
      ++stats.exploits;
      return rec;
    };
    hpo::Trial trial(number, std::move(run->params), std::move(host));
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
    } catch (const std::bad_alloc&) {  // what() says only "std::bad_alloc" (Study::conclude)
      result.outcome = Outcome::Threw;
      result.error = "out of memory (std::bad_alloc)";
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
