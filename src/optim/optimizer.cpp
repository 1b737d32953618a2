#include "optim/optimizer.hpp"

#include <charconv>
#include <cmath>
#include <utility>

#include "core/error.hpp"
#include "optim/check.hpp"

namespace krill::optim {

namespace detail {

std::string format_number(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  if (ec != std::errc()) return "?";
  return std::string(buf, end);
}

void require_option(bool ok, const std::string& who, const char* option, const char* expected,
                    double value) {
  if (ok) return;
  throw InvalidArgument(who + ": " + option + " must be " + expected + ", got " +
                        format_number(value));
}

void require_lr(const std::string& who, double lr) {
  require_option(lr >= 0.0 && std::isfinite(lr), who, "lr", ">= 0 and finite", lr);
}

void require_grads(const std::string& who, const std::vector<nn::Parameter*>& params) {
  for (const nn::Parameter* p : params) {
    if (p->grad.shape() == p->value.shape()) continue;
    throw ShapeError(who + ": parameter '" + p->name + "' has a gradient of shape " +
                     p->grad.shape().to_string() + " but a value of shape " +
                     p->value.shape().to_string());
  }
}

std::vector<Tensor> zeros_like(const std::vector<nn::Parameter*>& params) {
  std::vector<Tensor> out;
  out.reserve(params.size());
  for (const nn::Parameter* p : params) out.emplace_back(p->value.shape(), p->value.device());
  return out;
}

}  // namespace detail

Optimizer::Optimizer(std::vector<nn::Parameter*> params, double lr)
    : params_(std::move(params)), lr_(lr) {
  for (size_t i = 0; i < params_.size(); ++i) {
    if (params_[i] == nullptr) {
      throw InvalidArgument("optimizer: parameter " + std::to_string(i) + " is null");
    }
  }
}

void Optimizer::zero_grad() {
  for (nn::Parameter* p : params_) p->grad.zero();
}

void Optimizer::set_lr(double lr) {
  detail::require_lr(name(), lr);
  lr_ = lr;
}

void Optimizer::set_steps(int64_t steps) {
  if (steps < 0)
    throw InvalidArgument(name() + ": steps must be >= 0, got " + std::to_string(steps));
  steps_ = steps;
}

void Optimizer::save_state(BinaryWriter& out) const {
  out.string(name());
  out.i64(steps_);
  out.f64(lr_);
  out.u64(params_.size());
  save_buffers(out);
}

void Optimizer::load_state(BinaryReader& in) {
  const std::string saved = in.string("optimizer name");
  if (saved != name()) {
    in.fail("checkpoint holds optimizer state of '" + saved + "', this optimizer is '" + name() +
            "'");
  }
  const int64_t steps = in.i64("optimizer steps");
  if (steps < 0) in.fail("optimizer steps: " + std::to_string(steps) + " is negative");
  const double lr = in.f64("optimizer lr");
  if (!(lr >= 0.0 && std::isfinite(lr))) {
    in.fail("optimizer lr: " + detail::format_number(lr) + " is not >= 0 and finite");
  }
  const uint64_t count = in.u64("optimizer parameter count");
  if (count != params_.size()) {
    in.fail("checkpoint holds " + name() + " state for " + std::to_string(count) +
            " parameters, this optimizer has " + std::to_string(params_.size()));
  }
  load_buffers(in);  // all or nothing: commits only when every buffer was read
  steps_ = steps;
  lr_ = lr;
}

}  // namespace krill::optim
