#include "nn/module.hpp"

#include "core/error.hpp"

namespace krill::nn {

void check_batch(const std::string& who, const Tensor& x, int64_t features) {
  if (x.rank() != 2 || x.dim(1) != features) {
    throw ShapeError(who + ": input " + x.shape().to_string() + ", expected [batch, " +
                     std::to_string(features) + "]");
  }
}

void check_device(const std::string& who, const Tensor& x, const Tensor& parameter) {
  if (x.device() != parameter.device()) {
    throw Error(who + ": input on " + std::string(to_string(x.device())) + ", parameters on " +
                std::string(to_string(parameter.device())) +
                " (move the model with to(), the batch with Tensor::copy_from)");
  }
}

void Module::to(Device device) {
  for (Parameter* p : parameters()) {
    if (p->value.device() != device) p->value = p->value.to(device);
    if (p->grad.device() != device) p->grad = p->grad.to(device);
  }
}

}  // namespace krill::nn
