// Losses over a batch, averaged over its rows. forward() returns the mean loss; backward()
// returns dL/d(prediction) of that mean, owned by the loss and valid until the next forward.
//  - SoftmaxCrossEntropy: fused log-softmax + negative log-likelihood on logits, numerically
//    stable (max subtracted; the loss is log-sum-exp minus the true logit, never log(0)).
//  - MeanSquaredError: mean over all elements of (prediction - target)^2, as torch.nn.MSELoss;
//    with class labels, the target is their one-hot encoding.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "core/tensor.hpp"

namespace krill::nn {

enum class LossKind { CrossEntropy, MeanSquaredError };

LossKind parse_loss(std::string_view name);  // "cross-entropy", "mse"
std::string to_string(LossKind kind);

class Loss {
 public:
  virtual ~Loss() = default;
  // prediction [B, classes]; labels: B class indices in [0, classes).
  virtual double forward(const Tensor& prediction, std::span<const int32_t> labels) = 0;
  virtual const Tensor& backward() = 0;
};

class SoftmaxCrossEntropy final : public Loss {
 public:
  double forward(const Tensor& logits, std::span<const int32_t> labels) override;
  const Tensor& backward() override;
  const Tensor& probabilities() const { return probs_; }

 private:
  std::span<const int32_t> labels_;
  Tensor probs_;
  Tensor grad_;
};

class MeanSquaredError final : public Loss {
 public:
  double forward(const Tensor& prediction, std::span<const int32_t> labels) override;
  double forward(const Tensor& prediction, const Tensor& target);
  const Tensor& backward() override;

 private:
  Tensor one_hot_;  // on the prediction's device (when it is not the host's)
  Tensor one_hot_host_;
  Tensor diff_;
  Tensor grad_;
};

std::unique_ptr<Loss> make_loss(LossKind kind);

}  // namespace krill::nn
