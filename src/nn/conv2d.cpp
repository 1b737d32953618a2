#include "nn/conv2d.hpp"

#include "backend/backend.hpp"
#include "core/error.hpp"

namespace krill::nn {

namespace {

std::string str(int64_t v) {
  return std::to_string(v);
}

}  // namespace

Conv2d::Conv2d(ImageShape input, int64_t out_channels, int64_t kernel, Conv2dOptions options)
    : geometry_{.input = input,
                .out_channels = out_channels,
                .kernel = kernel,
                .stride = options.stride,
                .padding = options.padding},
      init_(options.init) {
  if (input.channels <= 0 || input.height <= 0 || input.width <= 0 || out_channels <= 0 ||
      kernel <= 0 || options.stride <= 0 || options.padding < 0) {
    throw InvalidArgument("Conv2d: input " + input.to_string() + ", " + str(out_channels) +
                          " channels, kernel " + str(kernel) + ", stride " + str(options.stride) +
                          ", padding " + str(options.padding) +
                          ": sizes, channels, kernel and stride must be positive, padding >= 0");
  }
  if (!geometry_.fits()) {
    throw ShapeError("Conv2d: a " + str(kernel) + "x" + str(kernel) + " kernel does not fit a " +
                     input.to_string() + " input with padding " + str(options.padding));
  }
  const int64_t patch = geometry_.patch_size();
  weight_ = {"weight", Tensor({out_channels, patch}), Tensor({out_channels, patch})};
  bias_ = {"bias", Tensor({out_channels}), Tensor({out_channels})};
  Rng rng(0);
  reset(rng);
}

void Conv2d::reset(Rng& rng) {
  initialize(init_, weight_.value, bias_.value, rng);
}

std::string Conv2d::describe() const {
  const auto& g = geometry_;
  std::string s = "Conv2d(" + str(g.input.channels) + " -> " + str(g.out_channels) + ", " +
                  str(g.kernel) + "x" + str(g.kernel);
  if (g.stride != 1) s += ", stride " + str(g.stride);
  if (g.padding != 0) s += ", padding " + str(g.padding);
  return s + ") " + g.input.to_string() + " -> " + g.output().to_string();
}

// x [N, C*H*W] -> y [N, OC*OH*OW]
const Tensor& Conv2d::forward(const Tensor& x, Mode) {
  const int64_t in = geometry_.input.numel();
  check_batch(describe(), x, in);
  check_device(describe(), x, weight_.value);
  input_ = &x;
  output_.resize({x.dim(0), geometry_.output().numel()}, x.device());
  backend::backend(x.device())
      .conv2d_forward(geometry_, x, weight_.value, bias_.value, output_, workspace_);
  return output_;
}

// dy [N, OC*OH*OW] -> dW [OC, C*k*k], db [OC], dx [N, C*H*W]
const Tensor& Conv2d::backward(const Tensor& dy) {
  if (!input_) throw Error(describe() + ": backward called before forward");
  const Tensor& x = *input_;
  if (dy.shape() != output_.shape()) {
    throw ShapeError(describe() + ": output gradient " + dy.shape().to_string() + ", expected " +
                     output_.shape().to_string());
  }
  if (needs_input_grad_) {
    grad_input_.resize(x.shape(), x.device());
  } else {
    grad_input_.resize({0}, x.device());
  }
  backend::backend(dy.device())
      .conv2d_backward(geometry_, x, dy, weight_.value, weight_.grad, bias_.grad,
                       needs_input_grad_ ? &grad_input_ : nullptr, workspace_);
  return grad_input_;
}

}  // namespace krill::nn
