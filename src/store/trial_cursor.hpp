// Reading a whole study back (Storage::trials) one table at a time: child rows (params, attrs,
// reports, decisions) come ordered by trial number, as the trials do, so finding each row's trial
// is a cursor that only moves forward. Shared by the SQLite and PostgreSQL storages.
#pragma once

#include <cstdint>
#include <vector>

#include "hpo/trial.hpp"

namespace krill::store {

class TrialCursor {
 public:
  explicit TrialCursor(std::vector<hpo::TrialRecord>& trials) : trials_(trials) {}
  hpo::TrialRecord* find(int64_t number) {
    while (i_ < trials_.size() && trials_[i_].number < number) ++i_;
    return i_ < trials_.size() && trials_[i_].number == number ? &trials_[i_] : nullptr;
  }

 private:
  std::vector<hpo::TrialRecord>& trials_;
  size_t i_ = 0;
};

}  // namespace krill::store
