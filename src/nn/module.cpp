#include "nn/module.hpp"

#include "core/error.hpp"

namespace krill::nn {

void check_batch(const std::string& who, const Tensor& x, int64_t features) {
  if (x.rank() != 2 || x.dim(1) != features) {
    throw ShapeError(who + ": input " + x.shape().to_string() + ", expected [batch, " +
                     std::to_string(features) + "]");
  }
}

}  // namespace krill::nn
