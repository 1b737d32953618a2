// Shared by the hpo tests: the message of the InvalidArgument a call throws.
#pragma once

#include <string>

#include "core/error.hpp"

namespace krill::hpo::testing {

// The message of the InvalidArgument that f() throws, or a text saying that it threw none (so
// that a HasSubstr expectation on it fails with a clear message).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "<no InvalidArgument thrown>";
}

}  // namespace krill::hpo::testing
