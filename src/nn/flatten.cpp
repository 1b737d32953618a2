#include "nn/flatten.hpp"

#include "core/error.hpp"

namespace krill::nn {

Flatten::Flatten(ImageShape input) : input_(input) {
  if (input.channels <= 0 || input.height <= 0 || input.width <= 0) {
    throw InvalidArgument("Flatten: input " + input.to_string() + " must have positive sizes");
  }
}

std::string Flatten::describe() const {
  return "Flatten(" + input_.to_string() + " -> " + std::to_string(features()) + ")";
}

const Tensor& Flatten::forward(const Tensor& x, Mode) {
  check_batch(describe(), x, features());
  return x;
}

const Tensor& Flatten::backward(const Tensor& dy) {
  return needs_input_grad_ ? dy : empty_;
}

}  // namespace krill::nn
