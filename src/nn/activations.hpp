// Element-wise activations. Each keeps its output, from which its derivative follows:
// relu' = [y > 0], sigmoid' = y (1 - y), tanh' = 1 - y^2.
#pragma once

#include <string_view>

#include "nn/module.hpp"

namespace krill::nn {

enum class Activation { Relu, Sigmoid, Tanh };

Activation parse_activation(std::string_view name);  // "relu", "sigmoid", "tanh"
std::string to_string(Activation a);

class ActivationLayer : public Module {
 public:
  explicit ActivationLayer(Activation kind) : kind_(kind) {}
  const Tensor& forward(const Tensor& x, Mode mode) override;
  const Tensor& backward(const Tensor& grad_output) override;
  std::string describe() const override;
  Activation kind() const { return kind_; }

 private:
  Activation kind_;
  Tensor output_;
  Tensor grad_input_;
};

class Relu final : public ActivationLayer {
 public:
  Relu() : ActivationLayer(Activation::Relu) {}
};
class Sigmoid final : public ActivationLayer {
 public:
  Sigmoid() : ActivationLayer(Activation::Sigmoid) {}
};
class Tanh final : public ActivationLayer {
 public:
  Tanh() : ActivationLayer(Activation::Tanh) {}
};

}  // namespace krill::nn
