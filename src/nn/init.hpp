// Weight initialisation. He (Kaiming) suits ReLU networks, Glorot (Xavier) sigmoid and tanh ones
// (both with zero biases); FanInUniform is PyTorch's nn.Linear default, U(-1/sqrt(fan_in),
// 1/sqrt(fan_in)) for weights and biases, for comparisons with PyTorch.
#pragma once

#include <string>
#include <string_view>

#include "core/rng.hpp"
#include "core/tensor.hpp"

namespace krill::nn {

enum class Init { He, Glorot, FanInUniform };

Init parse_init(std::string_view name);  // "he", "glorot", "torch"; throws InvalidArgument
std::string to_string(Init init);

// Fills weight [fan_out, fan_in] and bias [fan_out].
void initialize(Init init, Tensor& weight, Tensor& bias, Rng& rng);

}  // namespace krill::nn
