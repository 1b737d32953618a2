// `krill show --json`: everything `krill show` prints, for every study chosen, as one JSON
// document (its fields are listed in README, "Results a script can use"). Written with
// report::JsonWriter, the writer of `krill export --format json` and `krill train --json`.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
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

// A field's value: a text, a number, a flag, or null (std::monostate).
using Scalar = std::variant<std::monostate, std::string, double, int64_t, bool>;
// The fields given, in order, into the object `j` is writing.
void write_fields(report::JsonWriter& j,
                  std::initializer_list<std::pair<std::string_view, Scalar>> fields);
// A seed as a string of digits: a 64-bit seed does not fit the double that JavaScript and jq
// read a JSON number into.
Scalar seed_text(uint64_t seed);

// {"name": value, ...}, numbers as numbers and texts as strings.
void write_params(report::JsonWriter& j, const hpo::Params& params);

}  // namespace krill::cli
