// SearchSpace: the named dimensions a study explores, in a fixed order.
//  - Float [low, high], uniform or log-uniform; Int [low, high] (inclusive), uniform or log;
//  - Categorical: a list of choices, sampled uniformly by random samplers;
//  - Grid: a list of values that the grid sampler enumerates (the product of all grid
//    dimensions, each point once), and that other samplers treat like a categorical.
// Samplers draw a point u in the unit cube [0, 1)^d and the space maps it to parameters, so a
// random and a quasi-random (Sobol) sampler differ only in how they draw u.
// A dimension may be conditional: it exists only when its parent (an int, categorical or grid
// dimension, itself possibly conditional) takes given values ("momentum if optimizer in {sgd}",
// "width_3 if depth >= 3"). An inactive dimension is absent from the parameters, but it still
// has its coordinate of u, so a point's active values do not depend on which others are active.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
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

// How a condition compares its parent's value: In (one of `values`), or with one integer bound.
enum class ConditionOp { In, Ne, Lt, Le, Gt, Ge };

// "in", "!=", "<", "<=", ">", ">=".
const char* to_string(ConditionOp op);

// When a dimension exists: its parent is active and its value is one of `values` (op In), or
// (a parent whose values are numbers) compares to `values[0]`, an integer, by `op`.
struct Condition {
  std::string parent;
  ConditionOp op = ConditionOp::In;
  std::vector<ParamValue> values;

  bool matches(const ParamValue& parent_value) const;
  // "optimizer in {sgd, adam}", "depth >= 3".
  std::string describe() const;
  bool operator==(const Condition&) const = default;
};

class SearchSpace {
 public:
  SearchSpace() = default;
  // Throws InvalidArgument naming the dimension: low > high, a log range with low <= 0, an empty
  // choice list, a duplicate name.
  SearchSpace(std::initializer_list<std::pair<std::string, Dimension>> dims);
  SearchSpace& add(std::string name, Dimension dim);
  // A conditional dimension. Its parent may be added later (a study file may declare it after
  // the child); everything that can be checked is checked as soon as both exist: throws
  // InvalidArgument naming the dimension for a float parent, a condition value the parent can
  // never take (a value not among its choices, an integer outside its range, a comparison no
  // value in its range satisfies), a comparison on a parent with non-numeric values, a
  // condition that makes a cycle.
  SearchSpace& add(std::string name, Dimension dim, Condition condition);

  size_t size() const { return dims_.size(); }
  const std::vector<std::pair<std::string, Dimension>>& dimensions() const { return dims_; }
  // The condition of dimension `index` (nullopt: always active).
  const std::optional<Condition>& condition(size_t index) const { return conditions_[index]; }
  bool conditional() const;  // whether any dimension has a condition
  // Throws InvalidArgument naming the dimension whose parent is not a dimension of the space
  // (add() cannot know that a parent will never come).
  void check_conditions() const;

  // Whether dimension `index` (or `name`) is active for `params`: it has no condition, or its
  // parent is active, has a value in `params` and the value matches. An unknown name throws.
  bool active(size_t index, const Params& params) const;
  bool active(const std::string& name, const Params& params) const;
  // The index of dimension `name`, nullopt when there is none.
  std::optional<size_t> index_of(const std::string& name) const;

  // Maps u in [0, 1)^size() to parameters (u.size() must equal size()). Every coordinate is
  // mapped, then the inactive dimensions are left out: an active dimension's value depends only
  // on its own coordinate.
  Params from_unit(std::span<const double> u) const;
  // One dimension's value for its coordinate u, as from_unit maps it.
  ParamValue value_from_unit(size_t index, double u) const;
  // The inverse of from_unit, dimension by dimension: a point u in [0, 1]^size() that from_unit
  // maps back to `params` (exactly for integers and choices, to the last bit or so for floats).
  // A float is at its place in the range (linear or log), an integer or a choice at the middle of
  // the interval of u that from_unit maps to it. An inactive dimension (for `params`) gets
  // kInactiveUnit, whether or not `params` has a value for it. Extra parameters are ignored;
  // throws InvalidArgument naming the dimension when an active one is missing, of another type
  // (an integer is accepted for a float, an integral float for an integer), out of range or not
  // a choice.
  std::vector<double> to_unit(const Params& params) const;
  // One dimension's coordinate for `value`, as to_unit computes it.
  double unit_of(size_t index, const ParamValue& value) const;
  static constexpr double kInactiveUnit = 0.5;

  // The grid: the product of the Grid dimensions, enumerated in mixed radix with the last grid
  // dimension fastest. grid_size() is 1 when there is none. With conditional grid dimensions,
  // points that differ only in inactive grid dimensions are one point: the grid lists the
  // points whose inactive grid dimensions are at their first value, in the same order. A grid
  // dimension whose condition depends on a dimension that is not a grid dimension is refused
  // (InvalidArgument): which grid points exist would depend on a random draw.
  int64_t grid_size() const;
  // The active grid dimensions of point `index`; other dimensions are absent.
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
  void check_condition(size_t child) const;
  // Each dimension's activity for `params` (parents before children, each computed once).
  std::vector<bool> activity(const Params& params) const;
  bool conditional_grid() const;
  // Calls `visit` with each point of a conditional grid (its active grid dimensions), in order,
  // until it returns false; `full_size` is the full product's size.
  void for_each_grid_point(int64_t full_size,
                           const std::function<bool(const Params&)>& visit) const;

  std::vector<std::pair<std::string, Dimension>> dims_;
  std::vector<std::optional<Condition>> conditions_;  // one per dimension
};

}  // namespace krill::hpo
