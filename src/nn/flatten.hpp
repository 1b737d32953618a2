// Flatten: the boundary between image layers and dense ones. A batch of images already is a
// [N, C*H*W] matrix (module.hpp), so the values pass through untouched; what changes is the shape
// a model builder sees: [C, H, W] in, C*H*W features out.
#pragma once

#include "core/image_shape.hpp"
#include "nn/module.hpp"

namespace krill::nn {

class Flatten final : public Module {
 public:
  explicit Flatten(ImageShape input);  // throws InvalidArgument for a non-positive size
  const Tensor& forward(const Tensor& x, Mode mode) override;  // returns x itself
  const Tensor& backward(const Tensor& grad_output) override;  // returns grad_output itself
  std::string describe() const override;                       // "Flatten([64, 4, 4] -> 1024)"

  ImageShape input_shape() const { return input_; }
  ImageShape output_shape() const { return {features(), 1, 1}; }
  int64_t features() const { return input_.numel(); }

 private:
  ImageShape input_;
  Tensor empty_;
};

}  // namespace krill::nn
