// Conv2d: a 2-D convolution over images (PyTorch's nn.Conv2d with a square kernel, one stride and
// one zero padding for both axes, no dilation or groups).
//   x [N, C*H*W] -> y [N, OC*OH*OW], OH = (H + 2 pad - k) / stride + 1 (likewise OW)
// Weight [OC, C*k*k] (PyTorch's [OC, C, k, k], flattened), bias [OC]; initialised as Dense is, with
// fan-in C*k*k (Init::FanInUniform is then PyTorch's Conv2d default).
#pragma once

#include "backend/geometry.hpp"
#include "core/image_shape.hpp"
#include "nn/init.hpp"
#include "nn/module.hpp"

namespace krill::nn {

struct Conv2dOptions {
  int64_t stride = 1;
  int64_t padding = 0;
  Init init = Init::He;
};

class Conv2d final : public Module {
 public:
  // Throws InvalidArgument for a non-positive size or negative padding, ShapeError when the kernel
  // does not fit the (padded) input.
  Conv2d(ImageShape input, int64_t out_channels, int64_t kernel, Conv2dOptions options = {});

  const Tensor& forward(const Tensor& x, Mode mode) override;
  const Tensor& backward(const Tensor& grad_output) override;
  std::vector<Parameter*> parameters() override { return {&weight_, &bias_}; }
  std::string describe() const override;  // "Conv2d(1 -> 32, 5x5) [1, 28, 28] -> [32, 24, 24]"
  void reset(Rng& rng) override;

  ImageShape input_shape() const { return geometry_.input; }
  ImageShape output_shape() const { return geometry_.output(); }
  const backend::Conv2dGeometry& geometry() const { return geometry_; }
  Parameter& weight() { return weight_; }
  Parameter& bias() { return bias_; }
  void set_init(Init init) { init_ = init; }

 private:
  backend::Conv2dGeometry geometry_;
  Parameter weight_;
  Parameter bias_;
  Init init_;
  const Tensor* input_ = nullptr;
  Tensor output_;
  Tensor grad_input_;
  Tensor workspace_;  // the backend's scratch (im2col columns), reused from step to step
};

}  // namespace krill::nn
