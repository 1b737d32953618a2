// ModelSpec: a network described in one short string, as the command line and study files write
// it. "mlp:512,256" is 784 -> 512 -> 256 -> 10 with an activation after each hidden layer;
// "linear" is softmax regression (no hidden layer).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nn/activations.hpp"
#include "nn/init.hpp"
#include "nn/sequential.hpp"

namespace krill::nn {

// The widest hidden layer parse_model_spec accepts (2^20 units).
inline constexpr int64_t kMaxWidth = int64_t{1} << 20;

struct ModelSpec {
  std::vector<int64_t> hidden;  // widths of the hidden layers
  Activation activation = Activation::Relu;
  float dropout = 0.0f;      // after each hidden activation, when > 0
  std::optional<Init> init;  // default: He for ReLU, Glorot otherwise

  std::string to_string() const;  // "mlp:512,256" (the form parse_model_spec reads)
};

// Throws InvalidArgument quoting the spec and the accepted forms.
ModelSpec parse_model_spec(std::string_view spec);

// Builds the network for `inputs` features and `classes` outputs, initialised from `seed`.
std::unique_ptr<Sequential> build_model(const ModelSpec& spec, int64_t inputs, int classes,
                                        uint64_t seed);

}  // namespace krill::nn
