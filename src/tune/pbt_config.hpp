// The `pbt:` section of a study file: Population Based Training of the study's trials
// (hpo/pbt.hpp; docs/STUDY-FILE.md). Kept apart from study_file.cpp, which parses the rest.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "hpo/pbt.hpp"
#include "hpo/search_space.hpp"
#include "tune/yaml_util.hpp"

namespace krill::tune {

// The most trials a population may have: `population` (trained together) and `pbt.population`
// (a worker thread or rank each, all at once).
inline constexpr int64_t kMaxPopulation = 4096;

struct PbtConfig {
  hpo::PbtOptions options;
  // "<file>:<line>:<column>: " of the section ("pbt") and of each option written (by name).
  std::map<std::string, std::string> positions;
};

// Parses the section (a map); errors name the line and column, unknown keys get suggestions.
// `space` is the study's search space: every evolving hyperparameter must be one of its
// dimensions, and one that can change during training (not the model, the optimizer, the batch or
// the length of training).
PbtConfig parse_pbt(const yaml::Source& source, const yaml::Entry& section,
                    const hpo::SearchSpace& space);

// Whether a training parameter may change while a member trains (PBT's explore).
bool evolvable(const std::string& name);

// nullopt for a study without `pbt:`.
std::unique_ptr<hpo::Pbt> make_pbt(const std::optional<PbtConfig>& config,
                                   const hpo::SearchSpace& space, uint64_t seed);

}  // namespace krill::tune
