#include "optim/adam.hpp"

#include <cmath>
#include <string>
#include <utility>

#include "backend/backend.hpp"
#include "optim/check.hpp"

namespace krill::optim {

namespace {

void validate(const AdamOptions& o) {
  detail::require_lr("adam", o.lr);
  detail::require_option(o.beta1 >= 0.0 && o.beta1 < 1.0, "adam", "beta1", "in [0, 1)", o.beta1);
  detail::require_option(o.beta2 >= 0.0 && o.beta2 < 1.0, "adam", "beta2", "in [0, 1)", o.beta2);
  detail::require_option(o.eps > 0.0 && std::isfinite(o.eps), "adam", "eps", "> 0 and finite",
                         o.eps);
  detail::require_option(o.weight_decay >= 0.0 && std::isfinite(o.weight_decay), "adam",
                         "weight_decay", ">= 0 and finite", o.weight_decay);
}

}  // namespace

Adam::Adam(std::vector<nn::Parameter*> params, AdamOptions options)
    : Optimizer(std::move(params), options.lr), options_(options) {
  validate(options_);
  m_ = detail::zeros_like(params_);
  v_ = detail::zeros_like(params_);
}

void Adam::set_options(const AdamOptions& options) {
  validate(options);
  options_ = options;
  set_lr(options.lr);
}

void Adam::step() {
  detail::require_grads(name(), params_);
  // Bias corrections of step t = steps_ + 1, and 1 - beta, in double as torch computes them.
  const double t = static_cast<double>(steps_ + 1);
  const backend::AdamStep s{
      .lr = static_cast<float>(lr_),
      .beta1 = static_cast<float>(options_.beta1),
      .beta2 = static_cast<float>(options_.beta2),
      .eps = static_cast<float>(options_.eps),
      .weight_decay = static_cast<float>(options_.weight_decay),
      .one_minus_beta1 = static_cast<float>(1.0 - options_.beta1),
      .one_minus_beta2 = static_cast<float>(1.0 - options_.beta2),
      .bias_correction1 = static_cast<float>(1.0 - std::pow(options_.beta1, t)),
      .bias_correction2 = static_cast<float>(1.0 - std::pow(options_.beta2, t)),
  };
  for (size_t i = 0; i < params_.size(); ++i) {
    nn::Parameter& p = *params_[i];
    backend::backend(p.value.device())
        .adam_update(p.value.data(), p.grad.data(), m_[i].data(), v_[i].data(), p.value.numel(), s);
  }
  ++steps_;
}

void Adam::save_buffers(BinaryWriter& out) const {
  for (size_t i = 0; i < params_.size(); ++i) {
    out.tensor(m_[i]);
    out.tensor(v_[i]);
  }
}

void Adam::load_buffers(BinaryReader& in) {
  std::vector<Tensor> m = m_, v = v_;  // shapes to check against; committed on success
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string& param = params_[i]->name;
    const std::string m_field = "adam first moment of parameter '" + param + "'";
    const std::string v_field = "adam second moment of parameter '" + param + "'";
    in.tensor_into(m[i], m_field.c_str());
    in.tensor_into(v[i], v_field.c_str());
  }
  m_ = std::move(m);
  v_ = std::move(v);
}

}  // namespace krill::optim
