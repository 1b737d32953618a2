#include "nn/dropout.hpp"

#include <cstdio>

#include "backend/backend.hpp"
#include "core/error.hpp"

namespace krill::nn {

Dropout::Dropout(float p) : p_(p) {
  if (!(p >= 0.0f && p < 1.0f)) {
    throw InvalidArgument("Dropout: p must be in [0, 1), got " + std::to_string(p));
  }
}

std::string Dropout::describe() const {
  char buf[32];
  std::snprintf(buf, sizeof buf, "Dropout(%g)", static_cast<double>(p_));
  return buf;
}

const Tensor& Dropout::forward(const Tensor& x, Mode mode) {
  last_was_train_ = mode == Mode::Train && p_ > 0.0f;
  if (!last_was_train_) return x;
  output_.resize(x.shape(), x.device());
  mask_.resize(x.shape(), x.device());
  backend::backend(x.device())
      .dropout_forward(x.data(), output_.data(), mask_.data(), x.numel(), p_, rng_.next_u64());
  return output_;
}

const Tensor& Dropout::backward(const Tensor& dy) {
  if (!last_was_train_) {
    grad_input_ = dy;
    return grad_input_;
  }
  grad_input_.resize(dy.shape(), dy.device());
  backend::backend(dy.device()).multiply(dy.data(), mask_.data(), grad_input_.data(), dy.numel());
  return grad_input_;
}

}  // namespace krill::nn
