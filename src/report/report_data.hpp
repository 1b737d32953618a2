// ReportData: everything `krill report` draws, read from a study's storage: the study, its trials
// (parameters, states, values, learning curves and per-step metrics such as the learning rate),
// and the search space's dimensions recovered from the stored fingerprint.
#pragma once

#include <string>
#include <vector>

#include "hpo/storage.hpp"
#include "hpo/trial.hpp"

namespace krill::report {

struct DimensionInfo {
  std::string name;
  std::string kind;  // "float", "int", "choice", "grid"
  bool log = false;
};

struct ReportData {
  hpo::StudyRecord study;
  std::vector<hpo::TrialRecord> trials;  // by number
  std::vector<DimensionInfo> dims;       // in the space's order
};

// Reads the study `name` (or the only study when name is empty). Throws InvalidArgument naming
// the studies present when the choice is ambiguous or the name unknown, and DataError when the
// database holds no study.
ReportData load_report_data(hpo::Storage& storage, const std::string& name = "");

// Dimensions from SearchSpace::fingerprint() text (one "name: kind ..." line per dimension).
std::vector<DimensionInfo> parse_dimensions(const std::string& fingerprint);

// The data as one JSON object (what the HTML page embeds and `--serve` returns at /data.json):
// {"study": {...}, "dims": [...], "trials": [{"number", "state", "value", "error", "started",
//  "finished", "worker", "params": {...}, "attrs": {...}, "curve": [[step, value], ...],
//  "metrics": {"lr": [[step, value], ...], ...}, "exploits": [{"step", "donor", "donor_step",
//  "params": {...}, "lr", "reason"}, ...]}, ...], "generated": <unix seconds>}
// "exploits" is a PBT member's lineage (empty for other trials): at `step` it copied trial
// `donor`'s state at `donor_step` and took `params`; `lr` is its learning rate from then on
// (report/pbt_lineage.hpp; null when unknown).
// Non-finite numbers are written as null.
std::string to_json(const ReportData& data);

}  // namespace krill::report
