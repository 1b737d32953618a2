// Parameter values of a trial. A value is a float, an integer or a string (categorical choices
// may be any of them). Params are kept in name order, so that printing, hashing and storing a
// trial's parameters is deterministic.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>

namespace krill::hpo {

using ParamValue = std::variant<double, int64_t, std::string>;
using Params = std::map<std::string, ParamValue>;

std::string to_string(const ParamValue& v);   // 0.01, 64, "relu" (strings unquoted)
std::string to_string(const Params& params);  // "batch=64 lr=0.01"
// The value as a double: floats and integers as such; throws InvalidArgument for strings.
double as_double(const ParamValue& v, const std::string& name);

}  // namespace krill::hpo
