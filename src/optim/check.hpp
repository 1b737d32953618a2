// Helpers shared by the optimizers (internal to src/optim): option validation with messages that
// name the optimizer, the option, the accepted range and the value given.
#pragma once

#include <string>
#include <vector>

#include "core/tensor.hpp"
#include "nn/parameter.hpp"

namespace krill::optim::detail {

// The shortest decimal form that reads back as `v` ("0.1", "1e-08", "nan", "inf").
std::string format_number(double v);

// Throws InvalidArgument "<who>: <option> must be <expected>, got <value>" unless `ok`.
void require_option(bool ok, const std::string& who, const char* option, const char* expected,
                    double value);

// lr >= 0 and finite, reported as above.
void require_lr(const std::string& who, double lr);

// Throws ShapeError unless every parameter's gradient has the shape of its value (checked for all
// before a step updates any).
void require_grads(const std::string& who, const std::vector<nn::Parameter*>& params);

// One zero tensor shaped like (and on the device of) each parameter's value.
std::vector<Tensor> zeros_like(const std::vector<nn::Parameter*>& params);

}  // namespace krill::optim::detail
