// The `stopping:` section of a study file: which early-stopping rule a study uses and its
// options (docs/STUDY-FILE.md). Kept apart from study_file.cpp, which parses the rest.
#pragma once

#include <memory>
#include <string>

#include "hpo/stopper.hpp"
#include "tune/yaml_util.hpp"

namespace krill::tune {

struct StoppingConfig {
  std::string rule = "none";  // none | lcm | median | asha | hyperband
  hpo::LcmOptions lcm;
  hpo::MedianOptions median;
  hpo::AshaOptions asha;
};

// Parses the section (a map); errors name the line and column, unknown keys get suggestions, and
// an option of another rule is refused ("'eta' is an option of asha and hyperband, not lcm").
StoppingConfig parse_stopping(const yaml::Source& source, const yaml::Entry& section);

// nullptr for "none".
std::unique_ptr<hpo::Stopper> make_stopper(const StoppingConfig& config);

}  // namespace krill::tune
