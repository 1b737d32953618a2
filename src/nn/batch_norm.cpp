#include "nn/batch_norm.hpp"

#include <cmath>

#include "backend/backend.hpp"
#include "core/error.hpp"

namespace krill::nn {

BatchNorm::BatchNorm(int64_t features, BatchNormOptions options)
    : BatchNorm(ImageShape{features, 1, 1}, false, options) {}

BatchNorm::BatchNorm(ImageShape input, BatchNormOptions options)
    : BatchNorm(input, true, options) {}

BatchNorm::BatchNorm(ImageShape input, bool images, BatchNormOptions options)
    : input_shape_(input),
      images_(images),
      geometry_{.channels = input.channels,
                .spatial = input.plane(),
                .eps = options.eps,
                .momentum = options.momentum} {
  const std::string who = images ? "BatchNorm2d" : "BatchNorm1d";
  if (input.channels <= 0 || input.height <= 0 || input.width <= 0) {
    throw InvalidArgument(
        who + ": input " +
        (images ? input.to_string() : std::to_string(input.channels) + " features") +
        ": sizes must be positive");
  }
  if (!(options.momentum >= 0.0f && options.momentum <= 1.0f) || !(options.eps > 0.0f)) {
    throw InvalidArgument(who + ": momentum must be in [0, 1] and eps > 0, got momentum " +
                          std::to_string(options.momentum) + ", eps " +
                          std::to_string(options.eps));
  }
  const int64_t c = input.channels;
  gamma_ = {"weight", Tensor({c}), Tensor({c})};
  beta_ = {"bias", Tensor({c}), Tensor({c})};
  running_mean_.resize({c});
  running_var_.resize({c});
  batch_mean_.resize({c});
  batch_inv_std_.resize({c});
  Rng rng(0);
  reset(rng);
}

void BatchNorm::reset(Rng&) {
  gamma_.value.fill(1.0f);
  beta_.value.zero();
  running_mean_.zero();
  running_var_.fill(1.0f);
}

std::string BatchNorm::describe() const {
  if (!images_) return "BatchNorm1d(" + std::to_string(geometry_.channels) + ")";
  return "BatchNorm2d(" + std::to_string(geometry_.channels) + ") " + input_shape_.to_string();
}

void BatchNorm::save_state(BinaryWriter& out) const {
  out.tensor(running_mean_);
  out.tensor(running_var_);
}

// Both statistics are read before either is kept: a refused state leaves the module unchanged.
void BatchNorm::load_state(BinaryReader& in) {
  Tensor mean(running_mean_.shape()), var(running_var_.shape());  // host: checked here
  in.tensor_into(mean, "running mean");
  in.tensor_into(var, "running variance");
  for (int64_t c = 0; c < var.numel(); ++c) {
    if (!(var[c] >= 0.0f && std::isfinite(var[c]) && std::isfinite(mean[c]))) {
      in.fail("running statistics of channel " + std::to_string(c) +
              ": mean and variance must be finite and the variance >= 0");
    }
  }
  running_mean_.copy_from(mean);
  running_var_.copy_from(var);
}

void BatchNorm::to(Device device) {
  Module::to(device);
  for (Tensor* t : {&running_mean_, &running_var_, &batch_mean_, &batch_inv_std_}) {
    if (t->device() != device) *t = t->to(device);
  }
}

// x [N, C*S] -> y [N, C*S]; in training also the batch's mean and inv_std [C]
const Tensor& BatchNorm::forward(const Tensor& x, Mode mode) {
  check_batch(describe(), x, geometry_.sample());
  check_device(describe(), x, gamma_.value);
  input_ = &x;
  last_was_train_ = mode == Mode::Train;
  output_.resize(x.shape(), x.device());
  auto& be = backend::backend(x.device());
  if (!last_was_train_) {
    be.batch_norm_forward_eval(geometry_, x, gamma_.value, beta_.value, running_mean_, running_var_,
                               output_);
    return output_;
  }
  if (x.dim(0) * geometry_.spatial < 2) {
    throw ShapeError(describe() + ": training needs more than one value a channel, got input " +
                     x.shape().to_string());
  }
  be.batch_norm_forward_train(geometry_, x, gamma_.value, beta_.value, output_, batch_mean_,
                              batch_inv_std_, running_mean_, running_var_);
  return output_;
}

// dy [N, C*S] -> dx [N, C*S], dgamma and dbeta [C]
const Tensor& BatchNorm::backward(const Tensor& dy) {
  if (!input_ || !last_was_train_) {
    throw Error(describe() + ": backward needs a training forward before it");
  }
  if (dy.shape() != output_.shape()) {
    throw ShapeError(describe() + ": output gradient " + dy.shape().to_string() + ", expected " +
                     output_.shape().to_string());
  }
  grad_input_.resize(needs_input_grad_ ? input_->shape() : Shape{0}, dy.device());
  backend::backend(dy.device())
      .batch_norm_backward(geometry_, *input_, dy, gamma_.value, batch_mean_, batch_inv_std_,
                           gamma_.grad, beta_.grad, needs_input_grad_ ? &grad_input_ : nullptr);
  return grad_input_;
}

}  // namespace krill::nn
