#include "hpo/param.hpp"

#include <charconv>
#include <cmath>
#include <system_error>

#include "core/error.hpp"

namespace krill::hpo {

namespace {

// The shortest text that reads back as the same double. Fixed notation for the magnitudes that
// hyperparameters usually have (0.0001 rather than the shorter "1e-04"), scientific beyond.
std::string double_to_string(double x) {
  const double magnitude = std::fabs(x);
  const bool fixed = x == 0 || (magnitude >= 1e-5 && magnitude < 1e16);
  char buf[64];
  const auto format = fixed ? std::chars_format::fixed : std::chars_format::scientific;
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, x, format);
  if (ec != std::errc()) return std::to_string(x);  // cannot happen: 64 chars always suffice
  return std::string(buf, end);
}

}  // namespace

std::string to_string(const ParamValue& v) {
  if (const auto* d = std::get_if<double>(&v)) return double_to_string(*d);
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  return std::get<std::string>(v);
}

std::string to_string(const Params& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out += ' ';
    out += name + '=' + to_string(value);
  }
  return out;
}

double as_double(const ParamValue& v, const std::string& name) {
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  throw InvalidArgument("parameter '" + name + "' is a string ('" + std::get<std::string>(v) +
                        "'), not a number");
}

}  // namespace krill::hpo
