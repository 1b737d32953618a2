// `krill show --json`: everything `krill show` prints, for every study chosen, as one JSON
// document (its fields are listed in README, "Results a script can use"). Written with
// report::JsonWriter, the writer of `krill export --format json` and `krill train --json`.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "hpo/lease.hpp"
#include "hpo/storage.hpp"
#include "hpo/trial.hpp"
#include "report/json_writer.hpp"
#include "tune/stored_settings.hpp"

namespace krill::cli {

struct ShownStudy {
  hpo::StudyRecord study;
  std::vector<hpo::TrialRecord> trials;
  std::vector<hpo::RunRecord> runs;
};

// {"database": db, "studies": [{"study": {...}, "trials": [...], "processes": [...]}, ...]};
// a run is "live" unless hpo::run_is_gone(run, now, grace).
std::string show_json(const std::string& db, const std::vector<ShownStudy>& studies, double grace);

// The settings `krill tune` stored with the study (tune/stored_settings.hpp); nullopt for a study
// that does not keep them (one made by a C++ objective).
std::optional<tune::StoredSettings> stored_settings_of(const hpo::StudyRecord& study);

// {"name": value, ...}, numbers as numbers and texts as strings.
void write_params(report::JsonWriter& j, const hpo::Params& params);

}  // namespace krill::cli
