#include "nn/losses.hpp"

#include "backend/backend.hpp"
#include "core/error.hpp"

namespace krill::nn {

namespace {
void check_labels(const Tensor& prediction, std::span<const int32_t> labels, const char* who) {
  if (prediction.rank() != 2 || prediction.dim(0) != static_cast<int64_t>(labels.size())) {
    throw ShapeError(std::string(who) + ": prediction " + prediction.shape().to_string() +
                     " does not fit " + std::to_string(labels.size()) + " labels");
  }
  const int64_t classes = prediction.dim(1);
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || labels[i] >= classes) {
      throw InvalidArgument(std::string(who) + ": label " + std::to_string(labels[i]) + " of row " +
                            std::to_string(i) + " is outside [0, " + std::to_string(classes) + ")");
    }
  }
}
}  // namespace

LossKind parse_loss(std::string_view name) {
  if (name == "cross-entropy" || name == "ce") return LossKind::CrossEntropy;
  if (name == "mse") return LossKind::MeanSquaredError;
  throw InvalidArgument("unknown loss '" + std::string(name) + "': expected cross-entropy or mse");
}

std::string to_string(LossKind kind) {
  return kind == LossKind::CrossEntropy ? "cross-entropy" : "mse";
}

double SoftmaxCrossEntropy::forward(const Tensor& logits, std::span<const int32_t> labels) {
  check_labels(logits, labels, "softmax cross-entropy");
  labels_ = labels;
  probs_.resize(logits.shape(), logits.device());
  const double total = backend::backend(logits.device())
                           .softmax_cross_entropy(logits.data(), labels.data(), logits.dim(0),
                                                  logits.dim(1), probs_.data());
  return total / static_cast<double>(logits.dim(0));
}

// d(mean loss)/dz = (softmax(z) - onehot(y)) / B
const Tensor& SoftmaxCrossEntropy::backward() {
  grad_.resize(probs_.shape(), probs_.device());
  const int64_t rows = probs_.dim(0), cols = probs_.dim(1);
  backend::backend(probs_.device())
      .softmax_cross_entropy_backward(probs_.data(), labels_.data(), rows, cols,
                                      1.0f / static_cast<float>(rows), grad_.data());
  return grad_;
}

double MeanSquaredError::forward(const Tensor& prediction, std::span<const int32_t> labels) {
  check_labels(prediction, labels, "mse");
  // Built on the host, copied once to the prediction's device.
  one_hot_host_.resize(prediction.shape());
  one_hot_host_.zero();
  const int64_t cols = prediction.dim(1);
  for (size_t i = 0; i < labels.size(); ++i)
    one_hot_host_[static_cast<int64_t>(i) * cols + labels[i]] = 1.0f;
  if (prediction.device() == Device::Cpu) return forward(prediction, one_hot_host_);
  one_hot_.resize(prediction.shape(), prediction.device());
  one_hot_.copy_from(one_hot_host_);
  return forward(prediction, one_hot_);
}

double MeanSquaredError::forward(const Tensor& prediction, const Tensor& target) {
  if (!(prediction.shape() == target.shape())) {
    throw ShapeError("mse: prediction " + prediction.shape().to_string() + " and target " +
                     target.shape().to_string() + " differ");
  }
  diff_.resize(prediction.shape(), prediction.device());
  const double total =
      backend::backend(prediction.device())
          .squared_error(prediction.data(), target.data(), prediction.numel(), diff_.data());
  return total / static_cast<double>(prediction.numel());
}

// d(mean (p - t)^2)/dp = 2 (p - t) / N
const Tensor& MeanSquaredError::backward() {
  grad_.resize(diff_.shape(), diff_.device());
  backend::backend(diff_.device())
      .scale(diff_.data(), 2.0f / static_cast<float>(diff_.numel()), grad_.data(), diff_.numel());
  return grad_;
}

std::unique_ptr<Loss> make_loss(LossKind kind) {
  if (kind == LossKind::CrossEntropy) return std::make_unique<SoftmaxCrossEntropy>();
  return std::make_unique<MeanSquaredError>();
}

}  // namespace krill::nn
