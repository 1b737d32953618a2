#include "nn/pool2d.hpp"

#include "backend/backend.hpp"
#include "core/error.hpp"

namespace krill::nn {

namespace {

std::string str(int64_t v) {
  return std::to_string(v);
}

}  // namespace

Pool2dLayer::Pool2dLayer(std::string name, ImageShape input, int64_t kernel,
                         std::optional<int64_t> stride)
    : name_(std::move(name)),
      geometry_{.input = input, .kernel = kernel, .stride = stride.value_or(kernel)} {
  if (input.channels <= 0 || input.height <= 0 || input.width <= 0 || kernel <= 0 ||
      geometry_.stride <= 0) {
    throw InvalidArgument(name_ + ": input " + input.to_string() + ", kernel " + str(kernel) +
                          ", stride " + str(geometry_.stride) + ": all must be positive");
  }
  if (!geometry_.fits()) {
    throw ShapeError(name_ + ": a " + str(kernel) + "x" + str(kernel) + " window does not fit a " +
                     input.to_string() + " input");
  }
  // MaxPool2d keeps offsets within a channel in a float tensor: exact up to 2^24.
  if (input.plane() > (int64_t{1} << 24)) {
    throw ShapeError(name_ + ": " + input.to_string() + " has more than 2^24 pixels a channel");
  }
}

std::string Pool2dLayer::describe() const {
  std::string s = name_ + "(" + str(geometry_.kernel);
  if (geometry_.stride != geometry_.kernel) s += ", stride " + str(geometry_.stride);
  return s + ") " + geometry_.input.to_string() + " -> " + geometry_.output().to_string();
}

void Pool2dLayer::start_forward(const Tensor& x) {
  const int64_t in = geometry_.input.numel();
  check_batch(describe(), x, in);
  input_ = &x;
  output_.resize({x.dim(0), geometry_.output().numel()}, x.device());
}

bool Pool2dLayer::start_backward(const Tensor& dy) {
  if (!input_) throw Error(describe() + ": backward called before forward");
  if (dy.shape() != output_.shape()) {
    throw ShapeError(describe() + ": output gradient " + dy.shape().to_string() + ", expected " +
                     output_.shape().to_string());
  }
  grad_input_.resize(needs_input_grad_ ? input_->shape() : Shape{0}, dy.device());
  return needs_input_grad_;
}

// x [N, C*H*W] -> y, argmax [N, C*OH*OW]
const Tensor& MaxPool2d::forward(const Tensor& x, Mode) {
  start_forward(x);
  argmax_.resize(output_.shape(), output_.device());
  backend::backend(x.device()).max_pool2d_forward(geometry_, x, output_, argmax_);
  return output_;
}

// dy [N, C*OH*OW] -> dx [N, C*H*W]: each dy to its window's argmax
const Tensor& MaxPool2d::backward(const Tensor& dy) {
  if (start_backward(dy)) {
    backend::backend(dy.device()).max_pool2d_backward(geometry_, dy, argmax_, grad_input_);
  }
  return grad_input_;
}

const Tensor& AvgPool2d::forward(const Tensor& x, Mode) {
  start_forward(x);
  backend::backend(x.device()).avg_pool2d_forward(geometry_, x, output_);
  return output_;
}

// dy [N, C*OH*OW] -> dx [N, C*H*W]: each dy / k^2 to every input of its window
const Tensor& AvgPool2d::backward(const Tensor& dy) {
  if (start_backward(dy)) {
    backend::backend(dy.device()).avg_pool2d_backward(geometry_, dy, grad_input_);
  }
  return grad_input_;
}

}  // namespace krill::nn
