#include "exec/mpi/manager.hpp"

#include <string>
#include <type_traits>

namespace krill::exec::mpi {

std::string pbt_ranks_problem(int ranks, int64_t population) {
  if (ranks - 1 >= population) return "";
  return "pbt: the population of " + std::to_string(population) +
         " members trains at once, one per worker rank; this job has " + std::to_string(ranks - 1) +
         " (run it on " + std::to_string(population + 1) + " ranks or more)";
}

Manager::Manager(hpo::Study& study, Transport& transport, ManagerOptions options)
    : study_(study), transport_(transport), options_(options) {
  if (transport_.size() < 2) {
    throw InvalidArgument("a distributed study needs 2 ranks or more: rank " +
                          std::to_string(transport_.rank()) +
                          " manages, the others train (run it without MPI to train here)");
  }
  if (options_.batch < 1) throw InvalidArgument("the manager's batch must be >= 1");
  if (const hpo::Pbt* pbt = study_.pbt()) {
    if (auto problem = pbt_ranks_problem(transport_.size(), pbt->options().population);
        !problem.empty()) {
      throw InvalidArgument(problem);
    }
  }
  workers_.resize(static_cast<size_t>(transport_.size()));
}

namespace {
Action wire(hpo::Action a) {
  switch (a) {
    case hpo::Action::Continue:
      return Action::Continue;
    case hpo::Action::Stop:
      return Action::Stop;
    case hpo::Action::Exploit:
      return Action::Exploit;
  }
  return Action::Continue;
}
}  // namespace

void Manager::release(std::vector<hpo::Study::Released> decisions) {
  // A donor's Give goes before its own decision: it sends its state while it still waits.
  for (const auto& [number, d] : decisions) {
    if (d.action != hpo::Action::Exploit) continue;
    const auto donor = held_.find(d.donor);
    const auto recipient = held_.find(number);
    if (donor == held_.end() || recipient == held_.end()) {
      throw Error("pbt: trial " + std::to_string(number) + " copies trial " +
                  std::to_string(d.donor) + ", which is not running on a worker");
    }
    answer(donor->second.rank, Give{d.donor, d.donor_step, recipient->second.rank});
  }
  for (auto& [number, d] : decisions) {
    auto it = held_.find(number);
    if (it == held_.end()) continue;  // the trial ended meanwhile
    it->second.stopped = it->second.stopped || d.stops();
    const int64_t donor_rank = d.action == hpo::Action::Exploit ? held_.at(d.donor).rank : -1;
    answer(it->second.rank, Decision{number, d.step, wire(d.action), std::move(d.reason), d.donor,
                                     d.donor_step, donor_rank, std::move(d.params)});
  }
}

Manager::Worker& Manager::worker(int rank) {
  return workers_[static_cast<size_t>(rank)];
}

void Manager::run() {
  const int workers = transport_.size() - 1;
  double served_at = hpo::wall_seconds();
  while (done_ < workers) {
    auto first = receive_message(transport_, options_.poll_seconds);
    const double busy_from = hpo::wall_seconds();
    {
      hpo::StorageBatch batch(study_.storage());
      if (first) {
        handle(first->from, std::move(first->message));
        // Messages that arrived meanwhile join the same transaction.
        for (int n = 1; n < options_.batch; ++n) {
          auto next = receive_message(transport_, 0);
          if (!next) break;
          handle(next->from, std::move(next->message));
        }
      }
      // PBT generations completed by a trial's end (or a cancelled study) are answered too.
      if (study_.pbt()) release(study_.take_released());
      // Waiting workers are served when a trial ended here, else at the poll's pace (trials of
      // other processes joined to the study may have ended, or their process died).
      const double now = hpo::wall_seconds();
      if (!waiting_.empty() && (trial_ended_ || now - served_at >= options_.poll_seconds)) {
        serve_waiting();
        served_at = now;
      }
      trial_ended_ = false;
      batch.commit();
    }
    ++stats_.batches;
    flush();
    stats_.busy_seconds += hpo::wall_seconds() - busy_from;
  }
}

void Manager::flush() {
  for (auto& [rank, message] : outbox_) send_message(transport_, rank, message);
  outbox_.clear();
}

void Manager::unexpected(int rank, const Message& message, const std::string& why) const {
  throw ProtocolError("rank " + std::to_string(rank) + " sent " + name_of(message) + " " + why);
}

Manager::Held& Manager::held_by(int rank, int64_t trial, const char* what) {
  const Worker& w = worker(rank);
  auto it = held_.find(trial);
  if (w.state != Worker::State::Running || w.trial != trial || it == held_.end()) {
    throw ProtocolError("rank " + std::to_string(rank) + " sent " + what + " for trial " +
                        std::to_string(trial) + ", which it does not run" +
                        (w.state == Worker::State::Running
                             ? " (it runs trial " + std::to_string(w.trial) + ")"
                             : ""));
  }
  return it->second;
}

void Manager::hand_out(int rank) {
  hpo::Study::Handout h = study_.try_ask(rank);
  if (h.wait) {
    worker(rank).state = Worker::State::Waiting;
    waiting_.push_back(rank);
  } else {
    give(rank, std::move(h));
  }
}

void Manager::serve_waiting() {
  while (!waiting_.empty()) {
    hpo::Study::Handout h = study_.try_ask(waiting_.front());
    if (h.wait) return;  // nothing free yet: the others would wait too
    give(waiting_.front(), std::move(h));
    waiting_.erase(waiting_.begin());
  }
}

void Manager::give(int rank, hpo::Study::Handout h) {
  Worker& w = worker(rank);
  if (h.trial) {
    const int64_t number = h.trial->number;
    answer(rank, Run{number, h.trial->params});
    held_[number] = Held{std::move(*h.trial), false, rank};
    w.state = Worker::State::Running;
    w.trial = number;
    ++stats_.handed_out;
  } else {
    answer(rank, Shutdown{});
    w.state = Worker::State::Done;
    ++done_;
  }
}

void Manager::handle(int from, Message message) {
  if (from <= 0 || from >= transport_.size() || from == transport_.rank()) {
    throw ProtocolError("a message from rank " + std::to_string(from) + ", which is no worker");
  }
  Worker& w = worker(from);
  ++stats_.messages;
  std::visit(
      [&](auto& m) {
        using M = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<M, Ask>) {
          if (w.state != Worker::State::Idle) {
            unexpected(from, message,
                       w.state == Worker::State::Running
                           ? "while it runs trial " + std::to_string(w.trial)
                       : w.state == Worker::State::SendingWeights
                           ? "before the weights of trial " + std::to_string(w.trial)
                           : "again (it was told to wait or to shut down)");
          }
          hand_out(from);
        } else if constexpr (std::is_same_v<M, ReportMsg>) {
          held_by(from, m.trial, "a report");
          hpo::Report report(m.step, m.value, std::move(m.metrics));
          report.last = m.last;
          ++stats_.reports;
          release(study_.submit(m.trial, report));
        } else if constexpr (std::is_same_v<M, Result>) {
          Held& held = held_by(from, m.trial, "a result");
          hpo::TrialRecord rec = std::move(held.record);
          const bool stopped = held.stopped;
          held_.erase(m.trial);
          const auto outcome = m.outcome == Outcome::Returned   ? hpo::Outcome::Returned
                               : m.outcome == Outcome::Diverged ? hpo::Outcome::Diverged
                                                                : hpo::Outcome::Threw;
          hpo::settle(rec, outcome, m.value, m.error, stopped);
          rec.attrs = std::move(m.attrs);
          rec.finished = hpo::wall_seconds();
          const bool completed = rec.state == hpo::TrialState::Completed;
          const double value = rec.value.value_or(0);
          study_.tell(std::move(rec));
          trial_ended_ = true;
          ++stats_.results;
          const bool want =
              completed && options_.weights && options_.weights->wants(m.trial, value);
          answer(from, ResultAck{m.trial, want});
          w.state = want ? Worker::State::SendingWeights : Worker::State::Idle;
          w.value = value;
          if (!want) w.trial = -1;
        } else if constexpr (std::is_same_v<M, Weights>) {
          if (w.state != Worker::State::SendingWeights || w.trial != m.trial) {
            unexpected(
                from, message,
                "for trial " + std::to_string(m.trial) + ", whose weights were not asked for");
          }
          if (!m.bytes.empty()) options_.weights->keep(m.trial, w.value, m.bytes);
          w.state = Worker::State::Idle;
          w.trial = -1;
        } else if constexpr (std::is_same_v<M, State>) {
          unexpected(from, message, "to the manager (member states go from worker to worker)");
        } else {
          unexpected(from, message, "to the manager (only a manager sends it)");
        }
      },
      message);
}

void MpiExecutor::run(hpo::Study& study, const hpo::Objective& /*objective: runs on the workers*/) {
  Manager manager(study, transport_, options_);
  manager.run();
  stats_ = manager.stats();
}

}  // namespace krill::exec::mpi
