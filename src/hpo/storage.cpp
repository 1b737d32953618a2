#include "hpo/storage.hpp"

#include "core/error.hpp"

namespace krill::hpo {

std::string to_string(Direction d) {
  return d == Direction::Minimize ? "minimize" : "maximize";
}

Direction parse_direction(const std::string& s) {
  if (s == "minimize") return Direction::Minimize;
  if (s == "maximize") return Direction::Maximize;
  throw InvalidArgument("unknown direction '" + s + "', expected minimize or maximize");
}

}  // namespace krill::hpo
