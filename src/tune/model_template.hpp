// Layer templates: the `layers` of a study (nn/model_spec.hpp) may name parameters of the trial,
// so that a search space can shape the network:
//
//   layers: "conv:{filters}:{kernel},relu,maxpool:2,[conv:{filters2}:3,relu],flatten,dense:10"
//
// `{name}` is replaced by the trial's value of `name` (a searched or fixed parameter, a training
// parameter such as `dropout` or one the study names itself); a group `[ ... ]` of layers is kept
// when every parameter its own layers name has a value and dropped when one has none, which a
// conditional dimension (one with `when:`) gives: `filters2` only when `blocks >= 2`. Groups
// nest: an inner group is kept or dropped on its own names, within a kept outer group.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "hpo/param.hpp"

namespace krill::tune {

// The names `layers` refers to, in order of first use, each once. Throws InvalidArgument quoting
// `layers` when a brace or bracket is unbalanced, or a name is empty or not [A-Za-z0-9_.-].
std::vector<std::string> template_names(std::string_view layers);

// The names `layers` needs in every trial: those outside any group `[ ... ]`, each once.
std::vector<std::string> required_template_names(std::string_view layers);

// `layers` with each `{name}` replaced by hpo::to_string of its value in `params` and each group
// whose names all have values unwrapped; groups naming a parameter without a value are dropped.
// Throws InvalidArgument when a name outside any group has no value ("'{width2}' has no value
// in this trial: put its layers in [ ] to make them optional"), or as template_names.
std::string expand_layers(std::string_view layers, const hpo::Params& params);

}  // namespace krill::tune
