// The training parameters a study can fix or tune, by name: the contract between study files
// (fixed values under `model:`/`training:`, dimensions under `search:`) and the trainable that
// turns a trial's parameters into a model, an optimizer and a schedule.
#pragma once

#include <span>
#include <string>

#include "hpo/param.hpp"

namespace krill::tune {

enum class ParamKind { Float, Int, String };

struct ParamInfo {
  const char* name;
  ParamKind kind;
  const char* section;  // "model" or "training": where a fixed value is written
  const char* help;
};

// lr, momentum, weight_decay, nesterov, optimizer, batch, epochs, iterations, eval_every,
// schedule, decay_every, decay_factor, gamma, warmup, min_factor, hidden, width, depth,
// activation, dropout, init.
std::span<const ParamInfo> training_params();
const ParamInfo* find_training_param(const std::string& name);  // nullptr if unknown

}  // namespace krill::tune
