// Conditional dimensions of a study file's `search:` (`when: {optimizer: sgd}`): reading each
// dimension's condition against its parent (which may come later in the file), refusing unknown
// parents, float parents, values a parent never takes and cycles with the position of the `when:`,
// and the enumeration of the parents' values that the checks between keys use.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "hpo/search_space.hpp"
#include "tune/yaml_util.hpp"

namespace krill::tune {

// A dimension read from `search:`, with its `when:` entry if it has one.
struct SearchEntry {
  std::string name;
  YAML::Node key_node;
  hpo::Dimension dim;
  std::optional<yaml::Entry> when;
};

// The search space of `entries`, in file order, each with its condition. `fixed` holds the
// fixed parameters' key nodes (a `when:` naming one is told to search it). Throws
// InvalidArgument "<file>:<line>:<col>: ..." at the offending part of a `when:`.
hpo::SearchSpace build_search_space(const yaml::Source& source,
                                    const std::vector<SearchEntry>& entries,
                                    const std::map<std::string, YAML::Node>& fixed);

// Calls `visit` with every combination of the values of the space's parents (the dimensions
// that a condition names), as the parameters a trial would hold: an inactive parent is absent.
// Returns false, visiting nothing, when there are more than `limit` combinations (an integer
// parent counts each integer of its range). A space without conditions has one, empty,
// combination.
bool for_each_parent_combination(const hpo::SearchSpace& space,
                                 const std::function<void(const hpo::Params&)>& visit,
                                 int64_t limit = 100000);

}  // namespace krill::tune
