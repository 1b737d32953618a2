#include "hpo/storage.hpp"

#include "core/error.hpp"

namespace krill::hpo {

std::string to_string(Direction d) {
  return d == Direction::Minimize ? "minimize" : "maximize";
}

Direction parse_direction(const std::string& s) {
  if (s == "minimize") return Direction::Minimize;
  if (s == "maximize") return Direction::Maximize;
  throw InvalidArgument("unknown direction '" + s + "', expected minimize or maximize");
}

int64_t copy_study(Storage& from, const StudyRecord& study, Storage& to, const std::string& name) {
  const std::vector<TrialRecord> trials = from.trials(study.id);  // one snapshot
  StudyRecord copy = study;
  copy.name = name;
  StorageBatch batch(to);
  const int64_t id = to.create_study(copy);
  for (const TrialRecord& t : trials) {
    to.start_trial(id, t);
    for (const Report& r : t.reports) to.add_report(id, t.number, r);
    for (const DecisionRecord& d : t.decisions) to.add_decision(id, t.number, d);
    if (t.state == TrialState::Running) continue;
    TrialRecord finished = t;
    finished.owner.clear();  // finished by anyone: the lease is not checked
    to.finish_trial(id, finished);
  }
  batch.commit();
  return id;
}

}  // namespace krill::hpo
