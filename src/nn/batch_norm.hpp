// BatchNorm: batch normalisation (Ioffe & Szegedy, 2015) with PyTorch's semantics, over the
// features of rows [N, F] (nn.BatchNorm1d) or over each channel of images [N, C*H*W] given their
// ImageShape (nn.BatchNorm2d, statistics over N*H*W values a channel):
//   train: y = gamma (x - mean) / sqrt(var + eps) + beta with the batch's mean and biased variance;
//          running_mean and running_var (the unbiased variance) move towards them by `momentum`
//   eval:  the same with running_mean and running_var
// gamma ("weight") and beta ("bias") are parameters, one per channel, initialised to 1 and 0; the
// running statistics (0 and 1 at reset) are the module's state (module.hpp), which checkpoints
// carry. backward follows a training forward only.
#pragma once

#include "backend/geometry.hpp"
#include "core/image_shape.hpp"
#include "nn/module.hpp"

namespace krill::nn {

struct BatchNormOptions {
  float momentum = 0.1f;
  float eps = 1e-5f;
};

class BatchNorm final : public Module {
 public:
  // Over `features` columns (BatchNorm1d). Throws InvalidArgument for a non-positive count,
  // momentum outside [0, 1] or eps <= 0.
  explicit BatchNorm(int64_t features, BatchNormOptions options = {});
  // Per channel of images of shape `input` (BatchNorm2d).
  explicit BatchNorm(ImageShape input, BatchNormOptions options = {});

  // Throws ShapeError for a training batch of one value a channel (no variance to take).
  const Tensor& forward(const Tensor& x, Mode mode) override;
  const Tensor& backward(const Tensor& grad_output) override;
  void to(Device device) override;  // the running and batch statistics too
  std::vector<Parameter*> parameters() override { return {&gamma_, &beta_}; }
  std::string describe() const override;  // "BatchNorm1d(16)", "BatchNorm2d(32) [32, 12, 12]"
  void reset(Rng& rng) override;
  void save_state(BinaryWriter& out) const override;
  void load_state(BinaryReader& in) override;
  bool requires_state() const override { return true; }

  // The images' shape for BatchNorm2d; [F, 1, 1] for BatchNorm1d.
  ImageShape input_shape() const { return input_shape_; }
  ImageShape output_shape() const { return input_shape_; }
  const backend::BatchNormGeometry& geometry() const { return geometry_; }
  Parameter& gamma() { return gamma_; }
  Parameter& beta() { return beta_; }
  const Tensor& running_mean() const { return running_mean_; }
  const Tensor& running_var() const { return running_var_; }
  // Unchecked, for code that keeps the statistics elsewhere (train::Population's slices) and
  // hands them back as they are, NaN included (load_state checks what it reads).
  Tensor& running_mean() { return running_mean_; }
  Tensor& running_var() { return running_var_; }

 private:
  BatchNorm(ImageShape input, bool images, BatchNormOptions options);

  ImageShape input_shape_;
  bool images_;
  backend::BatchNormGeometry geometry_;
  Parameter gamma_;
  Parameter beta_;
  Tensor running_mean_;
  Tensor running_var_;
  Tensor batch_mean_;  // the last training batch's statistics, for backward
  Tensor batch_inv_std_;
  const Tensor* input_ = nullptr;
  bool last_was_train_ = false;
  Tensor output_;
  Tensor grad_input_;
};

}  // namespace krill::nn
