// Errors: every misuse or bad input throws one of these, derived from krill::Error, with a message
// a user can act on (what was wrong, where, what was expected). Nothing below main() exits.
#pragma once

#include <stdexcept>
#include <string>

namespace krill {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A bad argument or option value (negative learning rate, unknown model spec...).
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

// A file that cannot be read or does not hold what it should (wrong magic, truncated...).
class DataError : public Error {
 public:
  using Error::Error;
};

// Tensor shapes that do not fit together.
class ShapeError : public Error {
 public:
  using Error::Error;
};

}  // namespace krill
