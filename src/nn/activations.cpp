#include "nn/activations.hpp"

#include "backend/backend.hpp"
#include "core/error.hpp"

namespace krill::nn {

Activation parse_activation(std::string_view name) {
  if (name == "relu") return Activation::Relu;
  if (name == "sigmoid") return Activation::Sigmoid;
  if (name == "tanh") return Activation::Tanh;
  throw InvalidArgument("unknown activation '" + std::string(name) +
                        "': expected relu, sigmoid or tanh");
}

std::string to_string(Activation a) {
  switch (a) {
    case Activation::Relu:
      return "relu";
    case Activation::Sigmoid:
      return "sigmoid";
    case Activation::Tanh:
      return "tanh";
  }
  return "?";
}

std::string ActivationLayer::describe() const {
  switch (kind_) {
    case Activation::Relu:
      return "ReLU";
    case Activation::Sigmoid:
      return "Sigmoid";
    case Activation::Tanh:
      return "Tanh";
  }
  return "?";
}

const Tensor& ActivationLayer::forward(const Tensor& x, Mode) {
  output_.resize(x.shape(), x.device());
  auto& be = backend::backend(x.device());
  switch (kind_) {
    case Activation::Relu:
      be.relu_forward(x.data(), output_.data(), x.numel());
      break;
    case Activation::Sigmoid:
      be.sigmoid_forward(x.data(), output_.data(), x.numel());
      break;
    case Activation::Tanh:
      be.tanh_forward(x.data(), output_.data(), x.numel());
      break;
  }
  return output_;
}

const Tensor& ActivationLayer::backward(const Tensor& dy) {
  if (!(dy.shape() == output_.shape())) {
    throw ShapeError(describe() + ": gradient " + dy.shape().to_string() +
                     " does not match the output " + output_.shape().to_string());
  }
  grad_input_.resize(dy.shape(), dy.device());
  auto& be = backend::backend(dy.device());
  const float* y = output_.data();
  switch (kind_) {
    case Activation::Relu:
      be.relu_backward(y, dy.data(), grad_input_.data(), dy.numel());
      break;
    case Activation::Sigmoid:
      be.sigmoid_backward(y, dy.data(), grad_input_.data(), dy.numel());
      break;
    case Activation::Tanh:
      be.tanh_backward(y, dy.data(), grad_input_.data(), dy.numel());
      break;
  }
  return grad_input_;
}

}  // namespace krill::nn
