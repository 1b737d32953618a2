#include "hpo/search_space.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <limits>

#include "core/error.hpp"

namespace krill::hpo {

namespace {

[[noreturn]] void fail(const std::string& name, const std::string& what) {
  throw InvalidArgument("search space: '" + name + "': " + what);
}

std::string num(double x) {
  return to_string(ParamValue{x});
}
std::string num(int64_t x) {
  return std::to_string(x);
}

bool is_nan(const ParamValue& v) {
  const auto* d = std::get_if<double>(&v);
  return d && std::isnan(*d);
}

// A value list (choices or grid values) must be non-empty and free of NaN, which equals nothing
// and so could never be found again in stored trials or compared in a fingerprint.
void check_values(const std::string& name, const std::vector<ParamValue>& values,
                  const char* kind) {
  if (values.empty()) fail(name, std::string("empty ") + kind + " list");
  for (const ParamValue& v : values) {
    if (is_nan(v)) fail(name, std::string("a ") + kind + " value is NaN");
  }
}

void validate(const std::string& name, const Dimension& dim) {
  if (name.empty()) throw InvalidArgument("search space: a dimension needs a name");
  if (const auto* f = std::get_if<FloatDim>(&dim)) {
    if (!std::isfinite(f->low) || !std::isfinite(f->high)) {
      fail(name, "bounds must be finite, got [" + num(f->low) + ", " + num(f->high) + "]");
    }
    if (f->low > f->high) fail(name, "low " + num(f->low) + " > high " + num(f->high));
    if (f->log && f->low <= 0) fail(name, "a log range needs low > 0, got " + num(f->low));
  } else if (const auto* i = std::get_if<IntDim>(&dim)) {
    if (i->low > i->high) fail(name, "low " + num(i->low) + " > high " + num(i->high));
    if (i->log && i->low <= 0) fail(name, "a log range needs low > 0, got " + num(i->low));
  } else if (const auto* c = std::get_if<CategoricalDim>(&dim)) {
    check_values(name, c->choices, "choice");
  } else {
    const auto& values = std::get<GridDim>(dim).values;
    check_values(name, values, "grid");
    // The grid promises each point once.
    for (size_t a = 0; a < values.size(); ++a) {
      for (size_t b = a + 1; b < values.size(); ++b) {
        if (values[a] == values[b]) fail(name, "duplicate grid value " + to_string(values[a]));
      }
    }
  }
}

double float_from_unit(const FloatDim& d, double u) {
  // The ends exactly: exp(log(low)) may miss low by an ulp, and lr = 1e-4 should read 1e-4.
  if (u <= 0) return d.low;
  if (u >= 1) return d.high;
  // std::lerp is low + u * (high - low) without overflow for ranges wider than DBL_MAX, and exact
  // at both ends; the clamp guards against the last rounding of exp().
  const double x = d.log ? std::exp(std::lerp(std::log(d.low), std::log(d.high), u))
                         : std::lerp(d.low, d.high, u);
  return std::clamp(x, d.low, d.high);
}

int64_t int_from_unit(const IntDim& d, double u) {
  if (d.log) {
    // Log-int: x is log-uniform on [low, high + 1) and the value is floor(x), so integer k is
    // drawn with probability log((k + 1) / k) / log((high + 1) / low): each integer owns the
    // interval [k, k + 1) of the continuous log-uniform law (1 is as likely as 2 and 3 together).
    const double x = std::floor(std::exp(std::lerp(
        std::log(static_cast<double>(d.low)), std::log(static_cast<double>(d.high) + 1.0), u)));
    if (x <= static_cast<double>(d.low)) return d.low;
    if (x >= static_cast<double>(d.high)) return d.high;
    return static_cast<int64_t>(x);
  }
  // Uniform over low..high: floor(low + u * count). The count is computed unsigned, so that even
  // the full int64 range (a count of 2^64, which wraps to 0) cannot overflow.
  const uint64_t count = static_cast<uint64_t>(d.high) - static_cast<uint64_t>(d.low) + 1;
  const double n = count == 0 ? 0x1p64 : static_cast<double>(count);
  const double offset = std::floor(u * n);
  const uint64_t k = offset >= n ? count - 1 : static_cast<uint64_t>(offset);
  return static_cast<int64_t>(static_cast<uint64_t>(d.low) + k);
}

const ParamValue& pick(const std::vector<ParamValue>& values, double u) {
  const size_t index = static_cast<size_t>(u * static_cast<double>(values.size()));
  return values[std::min(index, values.size() - 1)];
}

ParamValue dim_from_unit(const Dimension& dim, double u) {
  if (const auto* f = std::get_if<FloatDim>(&dim)) return float_from_unit(*f, u);
  if (const auto* i = std::get_if<IntDim>(&dim)) return int_from_unit(*i, u);
  if (const auto* c = std::get_if<CategoricalDim>(&dim)) return pick(c->choices, u);
  return pick(std::get<GridDim>(dim).values, u);
}

// --- The inverse: parameters to the unit cube ---

double float_to_unit(const std::string& name, const FloatDim& d, const ParamValue& v) {
  double x = 0;
  if (const auto* f = std::get_if<double>(&v)) {
    x = *f;
  } else if (const auto* i = std::get_if<int64_t>(&v)) {
    x = static_cast<double>(*i);
  } else {
    fail(name, "a float dimension cannot hold " + to_string(v) + " (a string)");
  }
  if (!(x >= d.low && x <= d.high)) {
    fail(name, num(x) + " is outside [" + num(d.low) + ", " + num(d.high) + "]");
  }
  if (d.low == d.high) return 0;
  const double u = d.log ? (std::log(x) - std::log(d.low)) / (std::log(d.high) - std::log(d.low))
                         : (x - d.low) / (d.high - d.low);
  return std::clamp(u, 0.0, 1.0);
}

double int_to_unit(const std::string& name, const IntDim& d, const ParamValue& v) {
  int64_t k = 0;
  if (const auto* i = std::get_if<int64_t>(&v)) {
    k = *i;
  } else if (const auto* f = std::get_if<double>(&v);
             f && std::floor(*f) == *f && std::abs(*f) < 0x1p63) {
    k = static_cast<int64_t>(*f);
  } else {
    fail(name, "an integer dimension cannot hold " + to_string(v));
  }
  if (k < d.low || k > d.high) {
    fail(name, num(k) + " is outside [" + num(d.low) + ", " + num(d.high) + "]");
  }
  double u = 0;
  if (d.log) {
    // The middle, in log space, of [k, k + 1), the interval that int_from_unit floors to k.
    const double lo = std::log(static_cast<double>(d.low));
    const double mid =
        0.5 * (std::log(static_cast<double>(k)) + std::log1p(static_cast<double>(k)));
    u = (mid - lo) / (std::log1p(static_cast<double>(d.high)) - lo);
  } else {
    const uint64_t count = static_cast<uint64_t>(d.high) - static_cast<uint64_t>(d.low) + 1;
    const double n = count == 0 ? 0x1p64 : static_cast<double>(count);
    u = (static_cast<double>(static_cast<uint64_t>(k) - static_cast<uint64_t>(d.low)) + 0.5) / n;
  }
  return std::clamp(u, 0.0, 1.0);
}

double value_to_unit(const std::string& name, const std::vector<ParamValue>& values,
                     const ParamValue& v) {
  const auto it = std::find(values.begin(), values.end(), v);
  if (it == values.end()) fail(name, to_string(v) + " is not one of its values");
  return (static_cast<double>(it - values.begin()) + 0.5) / static_cast<double>(values.size());
}

// --- Canonical text (fingerprints) ---

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + '"';
}

// Plain names are written as they are, others quoted: a plain name never starts with a quote,
// so the text still tells every name apart.
std::string canonical_name(const std::string& name) {
  const bool plain = std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
  return plain && !name.empty() ? name : quoted(name);
}

// Values with their type: choices 1 and 1.0 are different parameters.
std::string canonical_value(const ParamValue& v) {
  if (std::holds_alternative<double>(v)) return "float " + to_string(v);
  if (std::holds_alternative<int64_t>(v)) return "int " + to_string(v);
  return "string " + quoted(std::get<std::string>(v));
}

std::string list(const std::vector<ParamValue>& values, std::string (*text)(const ParamValue&)) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + text(values[i]);
  return out + "}";
}

std::string plain_value(const ParamValue& v) {
  return to_string(v);
}

std::string canonical(const Dimension& dim) {
  if (const auto* f = std::get_if<FloatDim>(&dim)) {
    return std::string("float ") + (f->log ? "log" : "linear") + " [" + num(f->low) + ", " +
           num(f->high) + "]";
  }
  if (const auto* i = std::get_if<IntDim>(&dim)) {
    return std::string("int ") + (i->log ? "log" : "linear") + " [" + num(i->low) + ", " +
           num(i->high) + "]";
  }
  if (const auto* c = std::get_if<CategoricalDim>(&dim)) {
    return "categorical " + list(c->choices, canonical_value);
  }
  return "grid " + list(std::get<GridDim>(dim).values, canonical_value);
}

const Dimension* find(const SearchSpace& space, const std::string& name) {
  for (const auto& [n, dim] : space.dimensions()) {
    if (n == name) return &dim;
  }
  return nullptr;
}

// The condition as the fingerprint writes it: " if optimizer in {string \"sgd\"}",
// " if depth >= 3"; empty without one.
std::string canonical(const std::optional<Condition>& c) {
  if (!c) return "";
  std::string out = " if " + canonical_name(c->parent) + " " + to_string(c->op) + " ";
  if (c->op == ConditionOp::In) return out + list(c->values, canonical_value);
  return out + to_string(c->values.at(0));
}

std::string describe_condition(const std::optional<Condition>& c) {
  return c ? " if " + c->describe() : "";
}

// The values a categorical or grid dimension takes; nullptr for a range.
const std::vector<ParamValue>* listed_values(const Dimension& dim) {
  if (const auto* c = std::get_if<CategoricalDim>(&dim)) return &c->choices;
  if (const auto* g = std::get_if<GridDim>(&dim)) return &g->values;
  return nullptr;
}

}  // namespace

SearchSpace::SearchSpace(std::initializer_list<std::pair<std::string, Dimension>> dims) {
  for (const auto& [name, dim] : dims) add(name, dim);
}

SearchSpace& SearchSpace::add(std::string name, Dimension dim) {
  validate(name, dim);
  if (find(*this, name)) fail(name, "duplicate name");
  dims_.emplace_back(std::move(name), std::move(dim));
  conditions_.emplace_back();
  try {
    // The dimensions added before, waiting for this parent.
    for (size_t j = 0; j + 1 < dims_.size(); ++j) {
      if (conditions_[j] && conditions_[j]->parent == dims_.back().first) check_condition(j);
    }
  } catch (...) {
    dims_.pop_back();
    conditions_.pop_back();
    throw;
  }
  return *this;
}

ParamValue SearchSpace::value_from_unit(size_t index, double u) const {
  if (!(u >= 0 && u <= 1)) {
    fail(dims_.at(index).first, "unit coordinate " + num(u) + " is outside [0, 1]");
  }
  return dim_from_unit(dims_.at(index).second, u);
}

double SearchSpace::unit_of(size_t index, const ParamValue& value) const {
  const auto& [name, dim] = dims_.at(index);
  if (const auto* f = std::get_if<FloatDim>(&dim)) return float_to_unit(name, *f, value);
  if (const auto* n = std::get_if<IntDim>(&dim)) return int_to_unit(name, *n, value);
  return value_to_unit(name, *listed_values(dim), value);
}

Params SearchSpace::from_unit(std::span<const double> u) const {
  if (u.size() != dims_.size()) {
    throw InvalidArgument("search space: " + std::to_string(u.size()) + " unit coordinates for " +
                          std::to_string(dims_.size()) + " dimensions");
  }
  Params params;
  for (size_t i = 0; i < dims_.size(); ++i) {
    // 1 itself is accepted (and mapped to the top of the range): a sampler's rounding may reach it.
    if (!(u[i] >= 0 && u[i] <= 1)) {
      fail(dims_[i].first, "unit coordinate " + num(u[i]) + " is outside [0, 1]");
    }
    params.emplace(dims_[i].first, dim_from_unit(dims_[i].second, u[i]));
  }
  if (conditional()) {
    const std::vector<bool> on = activity(params);
    for (size_t i = 0; i < dims_.size(); ++i) {
      if (!on[i]) params.erase(dims_[i].first);
    }
  }
  return params;
}

std::vector<double> SearchSpace::to_unit(const Params& params) const {
  std::vector<double> u(dims_.size(), kInactiveUnit);
  const std::vector<bool> on = conditional() ? activity(params) : std::vector<bool>(size(), true);
  for (size_t i = 0; i < dims_.size(); ++i) {
    if (!on[i]) continue;
    const auto it = params.find(dims_[i].first);
    if (it == params.end()) fail(dims_[i].first, "no value");
    u[i] = unit_of(i, it->second);
  }
  return u;
}

int64_t SearchSpace::grid_size() const {
  int64_t size = 1;
  std::string names;
  for (const auto& [name, dim] : dims_) {
    const auto* grid = std::get_if<GridDim>(&dim);
    if (!grid) continue;
    names += (names.empty() ? "'" : ", '") + name + "'";
    const auto n = static_cast<int64_t>(grid->values.size());
    if (size > std::numeric_limits<int64_t>::max() / n) {
      throw InvalidArgument("search space: the grid of " + names +
                            " has more points than an int64 can count");
    }
    size *= n;
  }
  if (!conditional_grid()) return size;
  int64_t count = 0;
  for_each_grid_point(size, [&](const Params&) {
    ++count;
    return true;
  });
  return count;
}

Params SearchSpace::grid_point(int64_t index) const {
  const int64_t size = grid_size();
  if (index < 0 || index >= size) {
    throw InvalidArgument("search space: grid point " + std::to_string(index) + " is outside [0, " +
                          std::to_string(size) + ")");
  }
  if (conditional_grid()) {
    int64_t full = 1;
    for (const auto& [name, dim] : dims_) {
      if (const auto* grid = std::get_if<GridDim>(&dim)) {
        full *= static_cast<int64_t>(grid->values.size());
      }
    }
    Params found;
    int64_t count = 0;
    for_each_grid_point(full, [&](const Params& p) {
      if (count++ < index) return true;
      found = p;
      return false;
    });
    return found;
  }
  // Mixed radix, the last grid dimension the fastest digit.
  Params params;
  for (auto it = dims_.rbegin(); it != dims_.rend(); ++it) {
    const auto* grid = std::get_if<GridDim>(&it->second);
    if (!grid) continue;
    const auto n = static_cast<int64_t>(grid->values.size());
    params.emplace(it->first, grid->values[static_cast<size_t>(index % n)]);
    index /= n;
  }
  return params;
}

std::string SearchSpace::fingerprint() const {
  // One line per dimension, so that a refused resume can show the lines that differ.
  std::string text;
  for (size_t i = 0; i < dims_.size(); ++i) {
    if (!text.empty()) text += '\n';
    text += canonical_name(dims_[i].first) + ": " + canonical(dims_[i].second) +
            canonical(conditions_[i]);
  }
  return text;
}

std::string SearchSpace::describe(const Dimension& dim) {
  if (const auto* f = std::get_if<FloatDim>(&dim)) {
    return std::string(f->log ? "log-uniform" : "uniform") + " [" + num(f->low) + ", " +
           num(f->high) + "]";
  }
  if (const auto* i = std::get_if<IntDim>(&dim)) {
    return std::string(i->log ? "log-int" : "int") + " [" + num(i->low) + ", " + num(i->high) + "]";
  }
  if (const auto* c = std::get_if<CategoricalDim>(&dim)) {
    return "choice " + list(c->choices, plain_value);
  }
  return "grid " + list(std::get<GridDim>(dim).values, plain_value);
}

std::string SearchSpace::difference(const SearchSpace& before, const SearchSpace& after) {
  std::vector<std::string> changes;
  std::vector<std::string> order_before, order_after;  // the names both spaces have
  for (size_t i = 0; i < after.dims_.size(); ++i) {
    const auto& [name, dim] = after.dims_[i];
    const auto old_index = before.index_of(name);
    if (!old_index) {
      changes.push_back("'" + name + "' added");
      continue;
    }
    order_after.push_back(name);
    const Dimension& old = before.dims_[*old_index].second;
    const auto& old_condition = before.conditions_[*old_index];
    const auto& condition = after.conditions_[i];
    if (canonical(old) + canonical(old_condition) == canonical(dim) + canonical(condition)) {
      continue;
    }
    // The readable form, unless only the types of values differ (choice {1} vs {1.0}).
    std::string a = describe(old) + describe_condition(old_condition),
                b = describe(dim) + describe_condition(condition);
    if (a == b) {
      a = canonical(old) + canonical(old_condition);
      b = canonical(dim) + canonical(condition);
    }
    changes.push_back("'" + name + "': " + a + " -> " + b);
  }
  for (const auto& [name, dim] : before.dims_) {
    if (!find(after, name)) {
      changes.push_back("'" + name + "' removed");
    } else {
      order_before.push_back(name);
    }
  }
  if (order_before != order_after) {
    auto join = [](const std::vector<std::string>& names) {
      std::string out;
      for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
      return out;
    };
    changes.push_back("order " + join(order_before) + " -> " + join(order_after));
  }
  std::string text;
  for (const auto& change : changes) text += (text.empty() ? "" : "; ") + change;
  return text;
}

}  // namespace krill::hpo
