#include "optim/sgd.hpp"

#include <cmath>
#include <string>
#include <utility>

#include "backend/backend.hpp"
#include "core/error.hpp"
#include "optim/check.hpp"

namespace krill::optim {

namespace {

void validate(const SgdOptions& o) {
  detail::require_lr("sgd", o.lr);
  detail::require_option(o.momentum >= 0.0 && o.momentum < 1.0, "sgd", "momentum", "in [0, 1)",
                         o.momentum);
  detail::require_option(o.weight_decay >= 0.0 && std::isfinite(o.weight_decay), "sgd",
                         "weight_decay", ">= 0 and finite", o.weight_decay);
  if (o.nesterov && o.momentum == 0.0) {
    throw InvalidArgument("sgd: nesterov needs momentum > 0, got momentum 0");
  }
}

}  // namespace

Sgd::Sgd(std::vector<nn::Parameter*> params, SgdOptions options)
    : Optimizer(std::move(params), options.lr), options_(options) {
  validate(options_);
  if (options_.momentum > 0.0) velocity_ = detail::zeros_like(params_);
}

void Sgd::set_options(const SgdOptions& options) {
  validate(options);
  options_ = options;
  set_lr(options.lr);
  if (options_.momentum > 0.0 && velocity_.empty()) velocity_ = detail::zeros_like(params_);
  if (options_.momentum == 0.0) velocity_.clear();
}

void Sgd::step() {
  const bool momentum = !velocity_.empty();
  detail::require_grads(name(), params_);
  for (size_t i = 0; i < params_.size(); ++i) {
    nn::Parameter& p = *params_[i];
    backend::backend(p.value.device())
        .sgd_update(p.value.data(), p.grad.data(), momentum ? velocity_[i].data() : nullptr,
                    p.value.numel(), static_cast<float>(lr_), static_cast<float>(options_.momentum),
                    static_cast<float>(options_.weight_decay), options_.nesterov);
  }
  ++steps_;
}

std::vector<Tensor*> Sgd::buffers(size_t i) {
  if (velocity_.empty()) return {};
  return {&velocity_.at(i)};
}

void Sgd::save_buffers(BinaryWriter& out) const {
  out.u8(velocity_.empty() ? 0 : 1);
  for (const Tensor& v : velocity_) out.tensor(v);
}

void Sgd::load_buffers(BinaryReader& in) {
  const bool saved = in.u8("sgd has velocity") != 0;
  const bool ours = options_.momentum > 0.0;
  if (saved != ours) {
    in.fail(std::string("checkpoint holds sgd state ") +
            (saved ? "with momentum buffers" : "without momentum buffers (momentum 0)") +
            ", this optimizer has momentum " + detail::format_number(options_.momentum));
  }
  std::vector<Tensor> velocity = velocity_;  // shapes to check against; committed on success
  for (size_t i = 0; i < velocity.size(); ++i) {
    const std::string field = "sgd velocity of parameter '" + params_[i]->name + "'";
    in.tensor_into(velocity[i], field.c_str());
  }
  velocity_ = std::move(velocity);
}

}  // namespace krill::optim
