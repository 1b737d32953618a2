// Parameter: a trainable tensor and its gradient. Layers own their parameters; optimizers and
// checkpoints hold pointers to them (stable for the life of the layer).
#pragma once

#include <string>

#include "core/tensor.hpp"

namespace krill::nn {

struct Parameter {
  std::string name;  // unique within a model, e.g. "0.weight"
  Tensor value;
  Tensor grad;
};

}  // namespace krill::nn
