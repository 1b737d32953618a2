// SearchSpace's conditions (search_space.hpp): a dimension's parent and values, checked as soon
// as both exist; which dimensions are active for given parameters; and the grid of a space whose
// grid dimensions have conditions, listed point by point.
#include <algorithm>
#include <cmath>
#include <functional>

#include "core/error.hpp"
#include "hpo/search_space.hpp"

namespace krill::hpo {

namespace {

[[noreturn]] void fail(const std::string& name, const std::string& what) {
  throw InvalidArgument("search space: '" + name + "': " + what);
}

bool is_nan(const ParamValue& v) {
  const auto* d = std::get_if<double>(&v);
  return d && std::isnan(*d);
}

std::string list(const std::vector<ParamValue>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + to_string(values[i]);
  return out + "}";
}

// The values a categorical or grid dimension takes; nullptr for a range.
const std::vector<ParamValue>* listed_values(const Dimension& dim) {
  if (const auto* c = std::get_if<CategoricalDim>(&dim)) return &c->choices;
  if (const auto* g = std::get_if<GridDim>(&dim)) return &g->values;
  return nullptr;
}

// Whether `x` compares to `bound` by `op` (not In).
bool compare(ConditionOp op, double x, double bound) {
  switch (op) {
    case ConditionOp::Ne:
      return x != bound;
    case ConditionOp::Lt:
      return x < bound;
    case ConditionOp::Le:
      return x <= bound;
    case ConditionOp::Gt:
      return x > bound;
    case ConditionOp::Ge:
      return x >= bound;
    case ConditionOp::In:
      break;
  }
  return false;
}

// Beyond this many points of the full product, a conditional grid is not enumerated.
constexpr int64_t kMaxConditionalGrid = 1'000'000;

}  // namespace

const char* to_string(ConditionOp op) {
  switch (op) {
    case ConditionOp::In:
      return "in";
    case ConditionOp::Ne:
      return "!=";
    case ConditionOp::Lt:
      return "<";
    case ConditionOp::Le:
      return "<=";
    case ConditionOp::Gt:
      return ">";
    case ConditionOp::Ge:
      return ">=";
  }
  return "?";
}

bool Condition::matches(const ParamValue& v) const {
  if (op == ConditionOp::In) return std::find(values.begin(), values.end(), v) != values.end();
  if (std::holds_alternative<std::string>(v) || values.empty()) return false;
  const double x = std::holds_alternative<double>(v) ? std::get<double>(v)
                                                     : static_cast<double>(std::get<int64_t>(v));
  return compare(op, x, static_cast<double>(std::get<int64_t>(values[0])));
}

std::string Condition::describe() const {
  if (op != ConditionOp::In) return parent + " " + to_string(op) + " " + to_string(values.at(0));
  if (values.size() == 1) return parent + " = " + to_string(values[0]);
  return parent + " in " + list(values);
}

SearchSpace& SearchSpace::add(std::string name, Dimension dim, Condition condition) {
  if (condition.parent.empty()) fail(name, "a condition needs a parent");
  if (condition.values.empty()) fail(name, "a condition needs at least one value");
  for (const ParamValue& v : condition.values) {
    if (is_nan(v)) fail(name, "a condition value is NaN");
  }
  if (condition.op != ConditionOp::In &&
      (condition.values.size() != 1 || !std::holds_alternative<int64_t>(condition.values[0]))) {
    fail(name, std::string("a comparison '") + to_string(condition.op) + "' needs one integer");
  }
  for (size_t a = 0; a < condition.values.size(); ++a) {
    for (size_t b = a + 1; b < condition.values.size(); ++b) {
      if (condition.values[a] == condition.values[b]) {
        fail(name, "condition value " + to_string(condition.values[a]) + " listed twice");
      }
    }
  }
  add(name, std::move(dim));
  conditions_.back() = std::move(condition);
  try {
    check_condition(dims_.size() - 1);
  } catch (...) {
    dims_.pop_back();
    conditions_.pop_back();
    throw;
  }
  return *this;
}

void SearchSpace::check_condition(size_t child) const {
  const std::string& name = dims_[child].first;
  const Condition& c = *conditions_[child];
  const auto parent = index_of(c.parent);
  if (!parent) return;  // not yet added
  if (*parent == child) fail(name, "a dimension cannot be its own parent");
  const Dimension& dim = dims_[*parent].second;
  if (std::holds_alternative<FloatDim>(dim)) {
    fail(name, "its parent '" + c.parent +
                   "' is a float dimension, expected an int, categorical or grid parent");
  }
  const auto* values = listed_values(dim);
  const auto* range = std::get_if<IntDim>(&dim);
  if (c.op == ConditionOp::In) {
    for (const ParamValue& v : c.values) {
      const bool can = values ? std::find(values->begin(), values->end(), v) != values->end()
                              : std::holds_alternative<int64_t>(v) &&
                                    std::get<int64_t>(v) >= range->low &&
                                    std::get<int64_t>(v) <= range->high;
      if (!can) {
        fail(name, "its parent '" + c.parent + "' is never " + to_string(v) + " (it is " +
                       describe(dim) + ")");
      }
    }
  } else {
    bool can = false;
    if (range) {
      const int64_t bound = std::get<int64_t>(c.values[0]);
      switch (c.op) {
        case ConditionOp::Ne:
          can = range->low != range->high || range->low != bound;
          break;
        case ConditionOp::Lt:
          can = range->low < bound;
          break;
        case ConditionOp::Le:
          can = range->low <= bound;
          break;
        case ConditionOp::Gt:
          can = range->high > bound;
          break;
        case ConditionOp::Ge:
          can = range->high >= bound;
          break;
        case ConditionOp::In:
          break;
      }
    } else {
      for (const ParamValue& v : *values) {
        if (std::holds_alternative<std::string>(v)) {
          fail(name, "its parent '" + c.parent + "' has the value '" + to_string(v) + "', which '" +
                         to_string(c.op) +
                         "' cannot compare, expected a list of "
                         "values instead");
        }
        can = can || c.matches(v);
      }
    }
    if (!can) {
      fail(name, "its parent '" + c.parent + "' is never " + to_string(c.op) + " " +
                     to_string(c.values[0]) + " (it is " + describe(dim) + ")");
    }
  }
  // A cycle closes when its last dimension is added: walk up from the parent.
  std::string path = name + " -> " + c.parent;
  std::optional<size_t> at = parent;
  for (size_t steps = 0; at && conditions_[*at] && steps <= dims_.size(); ++steps) {
    const std::string& up = conditions_[*at]->parent;
    path += " -> " + up;
    if (up == name) fail(name, "its condition makes a cycle: " + path);
    at = index_of(up);
  }
}

bool SearchSpace::conditional() const {
  return std::any_of(conditions_.begin(), conditions_.end(),
                     [](const auto& c) { return c.has_value(); });
}

void SearchSpace::check_conditions() const {
  for (size_t i = 0; i < dims_.size(); ++i) {
    if (conditions_[i] && !index_of(conditions_[i]->parent)) {
      fail(dims_[i].first, "its parent '" + conditions_[i]->parent + "' is not a dimension");
    }
  }
}

std::optional<size_t> SearchSpace::index_of(const std::string& name) const {
  for (size_t i = 0; i < dims_.size(); ++i) {
    if (dims_[i].first == name) return i;
  }
  return std::nullopt;
}

std::vector<bool> SearchSpace::activity(const Params& params) const {
  // 0: not computed, 1: active, 2: inactive, 3: being computed (a cycle: add() refuses them).
  std::vector<char> state(dims_.size(), 0);
  const auto compute = [&](auto&& self, size_t i) -> bool {
    if (state[i] == 1 || state[i] == 2) return state[i] == 1;
    if (state[i] == 3) fail(dims_[i].first, "its condition makes a cycle");
    bool on = true;
    if (const auto& c = conditions_[i]) {
      const auto parent = index_of(c->parent);
      if (!parent) fail(dims_[i].first, "its parent '" + c->parent + "' is not a dimension");
      state[i] = 3;
      const auto it = params.find(c->parent);
      on = self(self, *parent) && it != params.end() && c->matches(it->second);
    }
    state[i] = on ? 1 : 2;
    return on;
  };
  std::vector<bool> out(dims_.size());
  for (size_t i = 0; i < dims_.size(); ++i) out[i] = compute(compute, i);
  return out;
}

bool SearchSpace::active(size_t index, const Params& params) const {
  if (index >= dims_.size()) {
    throw InvalidArgument("search space: no dimension " + std::to_string(index) + " of " +
                          std::to_string(dims_.size()));
  }
  if (!conditions_[index]) return true;
  return activity(params)[index];
}

bool SearchSpace::active(const std::string& name, const Params& params) const {
  const auto index = index_of(name);
  if (!index) fail(name, "not a dimension of the space");
  return active(*index, params);
}

bool SearchSpace::conditional_grid() const {
  for (size_t i = 0; i < dims_.size(); ++i) {
    if (std::holds_alternative<GridDim>(dims_[i].second) && conditions_[i]) return true;
  }
  return false;
}

void SearchSpace::for_each_grid_point(int64_t full_size,
                                      const std::function<bool(const Params&)>& visit) const {
  // Which points exist must not depend on a random draw: every dimension a conditional grid
  // dimension depends on is a grid dimension.
  for (size_t i = 0; i < dims_.size(); ++i) {
    if (!std::holds_alternative<GridDim>(dims_[i].second)) continue;
    for (auto at = std::optional<size_t>(i); at && conditions_[*at];) {
      const std::string& parent = conditions_[*at]->parent;
      const std::string& child = dims_[*at].first;
      at = index_of(parent);
      if (!at) fail(child, "its parent '" + parent + "' is not a dimension");
      if (!std::holds_alternative<GridDim>(dims_[*at].second)) {
        fail(dims_[i].first, "a grid dimension whose condition depends on '" + parent +
                                 "', which is not a grid dimension: the grid's points would "
                                 "depend on a random draw, expected a grid parent or type choice");
      }
    }
  }
  if (full_size > kMaxConditionalGrid) {
    throw InvalidArgument(
        "search space: a grid with conditions is listed point by point, and "
        "its full product has " +
        std::to_string(full_size) + " points, expected at most " +
        std::to_string(kMaxConditionalGrid));
  }
  std::vector<size_t> grid;
  for (size_t i = 0; i < dims_.size(); ++i) {
    if (std::holds_alternative<GridDim>(dims_[i].second)) grid.push_back(i);
  }
  std::vector<size_t> digit(grid.size(), 0);
  for (int64_t point = 0; point < full_size; ++point) {
    int64_t rest = point;
    for (size_t g = grid.size(); g-- > 0;) {
      const auto n = static_cast<int64_t>(std::get<GridDim>(dims_[grid[g]].second).values.size());
      digit[g] = static_cast<size_t>(rest % n);
      rest /= n;
    }
    Params params;
    for (size_t g = 0; g < grid.size(); ++g) {
      params.emplace(dims_[grid[g]].first,
                     std::get<GridDim>(dims_[grid[g]].second).values[digit[g]]);
    }
    const std::vector<bool> on = activity(params);
    bool first_of_its_kind = true;  // every inactive grid dimension at its first value
    for (size_t g = 0; g < grid.size(); ++g) {
      if (!on[grid[g]]) {
        first_of_its_kind = first_of_its_kind && digit[g] == 0;
        params.erase(dims_[grid[g]].first);
      }
    }
    if (first_of_its_kind && !visit(params)) return;
  }
}

}  // namespace krill::hpo
