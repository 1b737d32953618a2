// Pooling over each channel of an image, without padding (PyTorch's nn.MaxPool2d and nn.AvgPool2d
// with square windows; the stride defaults to the kernel, so windows tile the image):
//   x [N, C*H*W] -> y [N, C*OH*OW], OH = (H - k) / stride + 1 (likewise OW)
// MaxPool2d remembers where each window's maximum was and sends the gradient there; AvgPool2d
// spreads it evenly over the window.
#pragma once

#include <optional>

#include "backend/geometry.hpp"
#include "core/image_shape.hpp"
#include "nn/module.hpp"

namespace krill::nn {

class Pool2dLayer : public Module {
 public:
  std::string describe() const override;  // "MaxPool2d(2) [32, 24, 24] -> [32, 12, 12]"
  ImageShape input_shape() const { return geometry_.input; }
  ImageShape output_shape() const { return geometry_.output(); }
  const backend::Pool2dGeometry& geometry() const { return geometry_; }

 protected:
  // Throws InvalidArgument for a non-positive size, ShapeError when the window does not fit.
  Pool2dLayer(std::string name, ImageShape input, int64_t kernel, std::optional<int64_t> stride);
  // Checks x [N, C*H*W], remembers it and sizes the output.
  void start_forward(const Tensor& x);
  // Checks dy against the last output; sizes the input gradient. False when none is needed.
  bool start_backward(const Tensor& dy);

  std::string name_;
  backend::Pool2dGeometry geometry_;
  const Tensor* input_ = nullptr;
  Tensor output_;
  Tensor grad_input_;
};

class MaxPool2d final : public Pool2dLayer {
 public:
  MaxPool2d(ImageShape input, int64_t kernel, std::optional<int64_t> stride = std::nullopt)
      : Pool2dLayer("MaxPool2d", input, kernel, stride) {}
  const Tensor& forward(const Tensor& x, Mode mode) override;
  const Tensor& backward(const Tensor& grad_output) override;

 private:
  Tensor argmax_;  // per output: where its window's maximum is (backend.hpp)
};

class AvgPool2d final : public Pool2dLayer {
 public:
  AvgPool2d(ImageShape input, int64_t kernel, std::optional<int64_t> stride = std::nullopt)
      : Pool2dLayer("AvgPool2d", input, kernel, stride) {}
  const Tensor& forward(const Tensor& x, Mode mode) override;
  const Tensor& backward(const Tensor& grad_output) override;
};

}  // namespace krill::nn
