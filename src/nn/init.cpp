#include "nn/init.hpp"

#include <cmath>

#include "core/error.hpp"

namespace krill::nn {

Init parse_init(std::string_view name) {
  if (name == "he") return Init::He;
  if (name == "glorot") return Init::Glorot;
  if (name == "torch") return Init::FanInUniform;
  throw InvalidArgument("unknown initialisation '" + std::string(name) +
                        "': expected he, glorot or torch");
}

std::string to_string(Init init) {
  switch (init) {
    case Init::He:
      return "he";
    case Init::Glorot:
      return "glorot";
    case Init::FanInUniform:
      return "torch";
  }
  return "?";
}

void initialize(Init init, Tensor& weight, Tensor& bias, Rng& rng) {
  if (weight.device() != Device::Cpu || bias.device() != Device::Cpu) {
    // Drawn on the host, in the same order, and copied: a model is the same on every device.
    Tensor w(weight.shape()), b(bias.shape());
    initialize(init, w, b, rng);
    weight.copy_from(w);
    bias.copy_from(b);
    return;
  }
  const double fan_out = static_cast<double>(weight.dim(0));
  const double fan_in = static_cast<double>(weight.dim(1));
  switch (init) {
    case Init::He: {  // N(0, 2 / fan_in)
      const double sd = std::sqrt(2.0 / fan_in);
      for (float& w : weight.values()) w = static_cast<float>(sd * rng.normal());
      bias.zero();
      break;
    }
    case Init::Glorot: {  // U(-a, a), a = sqrt(6 / (fan_in + fan_out))
      const float a = static_cast<float>(std::sqrt(6.0 / (fan_in + fan_out)));
      for (float& w : weight.values()) w = rng.uniform(-a, a);
      bias.zero();
      break;
    }
    case Init::FanInUniform: {
      const float a = static_cast<float>(1.0 / std::sqrt(fan_in));
      for (float& w : weight.values()) w = rng.uniform(-a, a);
      for (float& b : bias.values()) b = rng.uniform(-a, a);
      break;
    }
  }
}

}  // namespace krill::nn
