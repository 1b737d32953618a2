// SearchSpace: the named dimensions a study explores, in a fixed order.
//  - Float [low, high], uniform or log-uniform; Int [low, high] (inclusive), uniform or log;
//  - Categorical: a list of choices, sampled uniformly by random samplers;
//  - Grid: a list of values that the grid sampler enumerates (the product of all grid
//    dimensions, each point once), and that other samplers treat like a categorical.
// Samplers draw a point u in the unit cube [0, 1)^d and the space maps it to parameters, so a
// random and a quasi-random (Sobol) sampler differ only in how they draw u.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "hpo/param.hpp"

namespace krill::hpo {

struct FloatDim {
  double low = 0, high = 1;
  bool log = false;
};
struct IntDim {
  int64_t low = 0, high = 1;
  bool log = false;
};
struct CategoricalDim {
  std::vector<ParamValue> choices;
};
struct GridDim {
  std::vector<ParamValue> values;
};
using Dimension = std::variant<FloatDim, IntDim, CategoricalDim, GridDim>;

class SearchSpace {
 public:
  SearchSpace() = default;
  // Throws InvalidArgument naming the dimension: low > high, a log range with low <= 0, an empty
  // choice list, a duplicate name.
  SearchSpace(std::initializer_list<std::pair<std::string, Dimension>> dims);
  SearchSpace& add(std::string name, Dimension dim);

  size_t size() const { return dims_.size(); }
  const std::vector<std::pair<std::string, Dimension>>& dimensions() const { return dims_; }

  // Maps u in [0, 1)^size() to parameters (u.size() must equal size()).
  Params from_unit(std::span<const double> u) const;
  // The inverse of from_unit, dimension by dimension: a point u in [0, 1]^size() that from_unit
  // maps back to `params` (exactly for integers and choices, to the last bit or so for floats).
  // A float is at its place in the range (linear or log), an integer or a choice at the middle of
  // the interval of u that from_unit maps to it. Extra parameters are ignored; throws
  // InvalidArgument naming the dimension when one is missing, of another type (an integer is
  // accepted for a float, an integral float for an integer), out of range or not a choice.
  std::vector<double> to_unit(const Params& params) const;

  // The grid: the product of the Grid dimensions, enumerated in mixed radix with the last grid
  // dimension fastest. grid_size() is 1 when there is none.
  int64_t grid_size() const;
  // The grid dimensions of point `index`; other dimensions are absent.
  Params grid_point(int64_t index) const;

  // A canonical text of the space: equal spaces have equal fingerprints. Stored with a study to
  // refuse resuming it with another space.
  std::string fingerprint() const;
  // The space whose fingerprint() is `text` (hpo/search_space_text.cpp): how a study's stored
  // space is read back (the report, the importance analysis). Throws DataError naming the line
  // and what was expected when the text is not a fingerprint.
  static SearchSpace from_fingerprint(const std::string& text);
  // A readable difference between two spaces ("lr: log-uniform [0.0001, 0.1] -> [0.001, 0.1]"),
  // empty when they are equal.
  static std::string difference(const SearchSpace& before, const SearchSpace& after);
  static std::string describe(const Dimension& dim);

 private:
  std::vector<std::pair<std::string, Dimension>> dims_;
};

}  // namespace krill::hpo
