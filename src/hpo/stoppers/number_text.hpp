// Number formatting shared by the stoppers (internal to src/hpo/stoppers): four significant digits
// for the reasons people read, and the shortest exact form for describe(), which is compared
// when a study resumes.
#pragma once

#include <charconv>
#include <cstdio>
#include <string>

namespace krill::hpo::detail {

inline std::string brief(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", x);
  return buf;
}

inline std::string exact(double x) {
  char buf[64];  // always enough for the shortest round-trip form of a double
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, x);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(x);
}

}  // namespace krill::hpo::detail
