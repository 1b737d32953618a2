#include "tune/search_conditions.hpp"

#include <algorithm>
#include <string_view>
#include <utility>

#include "core/error.hpp"

namespace krill::tune {

namespace {

using Strings = std::vector<std::string>;

const hpo::Dimension* find_dim(const std::vector<SearchEntry>& entries, const std::string& name) {
  for (const auto& e : entries) {
    if (e.name == name) return &e.dim;
  }
  return nullptr;
}

const std::vector<hpo::ParamValue>* listed(const hpo::Dimension& dim) {
  if (const auto* c = std::get_if<hpo::CategoricalDim>(&dim)) return &c->choices;
  if (const auto* g = std::get_if<hpo::GridDim>(&dim)) return &g->values;
  return nullptr;
}

std::string values_text(const std::vector<hpo::ParamValue>& values) {
  Strings texts;
  for (const auto& v : values) texts.push_back(hpo::to_string(v));
  return yaml::one_of(texts);
}

// The parent's value that a YAML scalar names: a string value by its text, a number by its value.
std::optional<hpo::ParamValue> listed_value(const std::vector<hpo::ParamValue>& values,
                                            const YAML::Node& node) {
  if (!node.IsScalar()) return std::nullopt;
  const std::string& text = node.Scalar();
  const auto number = yaml::is_plain(node) ? yaml::parse_number(text) : std::nullopt;
  for (const auto& v : values) {
    if (const auto* s = std::get_if<std::string>(&v)) {
      if (*s == text) return v;
    } else if (number && hpo::as_double(v, "") == *number) {
      return v;
    }
  }
  return std::nullopt;
}

class ConditionReader {
 public:
  ConditionReader(const yaml::Source& source, const std::vector<SearchEntry>& entries,
                  const std::map<std::string, YAML::Node>& fixed)
      : src_(source), entries_(entries), fixed_(fixed) {}

  hpo::Condition read(const SearchEntry& child) {
    const yaml::Entry& when = *child.when;
    label_ = "'when' of '" + child.name + "'";
    if (!when.value.IsMap() || when.value.size() != 1) {
      const std::string found = when.value.IsMap()
                                    ? "a map of " + std::to_string(when.value.size()) + " parents"
                                    : yaml::describe(when.value);
      src_.fail(when.at(), label_ + " is " + found +
                               ", expected one parent and its values, e.g. when: {optimizer: sgd}");
    }
    const yaml::Entry e = yaml::entries(src_, when.value, "when").front();
    hpo::Condition c;
    c.parent = e.key;
    const hpo::Dimension& parent = parent_dim(child, e);
    const YAML::Node& v = e.value;
    if (const auto comparison = comparison_of(v)) {
      read_comparison(c, parent, v, *comparison);
    } else if (v.IsSequence()) {
      if (v.size() == 0) {
        src_.fail(e.at(), label_ + " has an empty list, expected values of '" + c.parent + "'");
      }
      for (const auto& element : v) add_value(c, parent, element);
    } else {
      add_value(c, parent, v);
    }
    return c;
  }

 private:
  const hpo::Dimension& parent_dim(const SearchEntry& child, const yaml::Entry& e) const {
    if (e.key == child.name) {
      src_.fail(e.key_node, label_ + " names '" + e.key + "' itself, expected another dimension");
    }
    if (const auto* dim = find_dim(entries_, e.key)) {
      if (std::holds_alternative<hpo::FloatDim>(*dim)) {
        src_.fail(e.key_node, label_ + " names '" + e.key +
                                  "', a float dimension, expected an int, choice or grid "
                                  "dimension as the parent");
      }
      return *dim;
    }
    if (const auto it = fixed_.find(e.key); it != fixed_.end()) {
      src_.fail(e.key_node, label_ + " names '" + e.key + "', which is fixed at " +
                                yaml::line_column(it->second.Mark()) +
                                ", expected a dimension under search:");
    }
    Strings searched;
    for (const auto& s : entries_) {
      if (s.name != child.name) searched.push_back(s.name);
    }
    std::string message = label_ + " names '" + e.key + "', which is not under search:";
    if (const auto near = yaml::suggest(e.key, searched)) {
      message += ", did you mean '" + *near + "'?";
    } else {
      message += searched.empty() ? ", expected a dimension under search:"
                                  : ", expected one of " + yaml::one_of(searched);
    }
    src_.fail(e.key_node, message);
  }

  // ">= 3" and the like: the operator's text, when the value is one.
  static std::optional<std::string> comparison_of(const YAML::Node& v) {
    if (!v.IsScalar()) return std::nullopt;
    const std::string_view text = v.Scalar();
    for (const char* op : {">=", "<=", "==", "!=", ">", "<"}) {
      if (text.starts_with(op)) return op;
    }
    return std::nullopt;
  }

  void read_comparison(hpo::Condition& c, const hpo::Dimension& parent, const YAML::Node& v,
                       const std::string& op) const {
    std::string_view rest = std::string_view(v.Scalar()).substr(op.size());
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    const auto bound = yaml::parse_int(rest);
    if (!bound) {
      src_.fail(v, label_ + " is '" + v.Scalar() + "', expected an integer after '" + op +
                       "', e.g. \">= 3\"");
    }
    const auto* values = listed(parent);
    if (values) {
      for (const auto& value : *values) {
        if (std::holds_alternative<std::string>(value)) {
          src_.fail(v, label_ + " compares '" + c.parent + "' (" + op + "), whose values " +
                           values_text(*values) +
                           " are not all numbers, expected a value or a "
                           "list of values of '" +
                           c.parent + "'");
        }
      }
    }
    if (op == "==") {
      c.values = {*bound};
      check_can_be(c, parent, v);
      return;
    }
    c.op = op == "!="   ? hpo::ConditionOp::Ne
           : op == "<"  ? hpo::ConditionOp::Lt
           : op == "<=" ? hpo::ConditionOp::Le
           : op == ">"  ? hpo::ConditionOp::Gt
                        : hpo::ConditionOp::Ge;
    c.values = {*bound};
    bool can = false;
    if (values) {
      can = std::any_of(values->begin(), values->end(),
                        [&](const hpo::ParamValue& x) { return c.matches(x); });
    } else {
      const auto& r = std::get<hpo::IntDim>(parent);
      // The range's ends decide, except for != on a range of one integer.
      can = c.op == hpo::ConditionOp::Ne ? r.low != r.high || r.low != *bound
                                         : c.matches(r.low) || c.matches(r.high);
    }
    if (!can) {
      src_.fail(v, label_ + ": '" + c.parent + "' is never " + op + " " + std::to_string(*bound) +
                       " (it is " + hpo::SearchSpace::describe(parent) +
                       "), expected a condition that one of its values meets");
    }
  }

  void add_value(hpo::Condition& c, const hpo::Dimension& parent, const YAML::Node& node) const {
    std::optional<hpo::ParamValue> value;
    if (const auto* values = listed(parent)) {
      value = listed_value(*values, node);
      if (!value) {
        src_.fail(node, label_ + ": '" + c.parent + "' is never " + yaml::describe(node) +
                            ", expected one of its values: " + values_text(*values));
      }
    } else {
      const auto& r = std::get<hpo::IntDim>(parent);
      const auto k =
          node.IsScalar() && yaml::is_plain(node) ? yaml::parse_int(node.Scalar()) : std::nullopt;
      if (!k || *k < r.low || *k > r.high) {
        src_.fail(node, label_ + ": '" + c.parent + "' is never " + yaml::describe(node) +
                            ", expected an integer from " + std::to_string(r.low) + " to " +
                            std::to_string(r.high) + " or a comparison such as \">= " +
                            std::to_string(std::min(r.high, r.low + 1)) + "\"");
      }
      value = *k;
    }
    if (std::find(c.values.begin(), c.values.end(), *value) != c.values.end()) {
      src_.fail(node,
                label_ + " lists " + yaml::describe(node) + " twice, expected distinct values");
    }
    c.values.push_back(std::move(*value));
  }

  void check_can_be(const hpo::Condition& c, const hpo::Dimension& parent,
                    const YAML::Node& v) const {
    const int64_t k = std::get<int64_t>(c.values[0]);
    bool can = false;
    if (const auto* values = listed(parent)) {
      can = std::any_of(values->begin(), values->end(), [&](const hpo::ParamValue& x) {
        return hpo::as_double(x, "") == static_cast<double>(k);
      });
    } else {
      const auto& r = std::get<hpo::IntDim>(parent);
      can = r.low <= k && k <= r.high;
    }
    if (!can) {
      src_.fail(v, label_ + ": '" + c.parent + "' is never " + std::to_string(k) + " (it is " +
                       hpo::SearchSpace::describe(parent) + "), expected a value it can take");
    }
  }

  const yaml::Source& src_;
  const std::vector<SearchEntry>& entries_;
  const std::map<std::string, YAML::Node>& fixed_;
  std::string label_;
};

}  // namespace

hpo::SearchSpace build_search_space(const yaml::Source& source,
                                    const std::vector<SearchEntry>& entries,
                                    const std::map<std::string, YAML::Node>& fixed) {
  ConditionReader reader(source, entries, fixed);
  std::map<std::string, hpo::Condition> conditions;
  for (const auto& e : entries) {
    if (e.when) conditions.emplace(e.name, reader.read(e));
  }
  // A cycle: following the parents from a dimension comes back to it.
  for (const auto& e : entries) {
    if (!e.when) continue;
    std::string path = e.name;
    size_t steps = 0;  // a cycle that e only leads to is found from its own members
    for (auto it = conditions.find(e.name); it != conditions.end() && steps <= conditions.size();
         ++steps) {
      const std::string& parent = it->second.parent;
      path += " -> " + parent;
      if (parent == e.name) {
        source.fail(e.when->key_node, "'when' of '" + e.name + "' makes a cycle: " + path +
                                          ", expected conditions that end at a dimension "
                                          "without 'when'");
      }
      it = conditions.find(parent);
    }
  }
  hpo::SearchSpace space;
  for (const auto& e : entries) {
    try {
      if (e.when) {
        space.add(e.name, e.dim, conditions.at(e.name));
      } else {
        space.add(e.name, e.dim);
      }
    } catch (const InvalidArgument& error) {
      source.fail(e.when ? e.when->at() : e.key_node, error.what());
    }
  }
  return space;
}

bool for_each_parent_combination(const hpo::SearchSpace& space,
                                 const std::function<void(const hpo::Params&)>& visit,
                                 int64_t limit) {
  // The parents and each one's values.
  std::vector<std::pair<std::string, std::vector<hpo::ParamValue>>> parents;
  int64_t combinations = 1;
  for (size_t i = 0; i < space.size(); ++i) {
    const auto& name = space.dimensions()[i].first;
    bool is_parent = false;
    for (size_t j = 0; j < space.size(); ++j) {
      is_parent = is_parent || (space.condition(j) && space.condition(j)->parent == name);
    }
    if (!is_parent) continue;
    const auto& dim = space.dimensions()[i].second;
    std::vector<hpo::ParamValue> values;
    if (const auto* list = listed(dim)) {
      values = *list;
    } else if (const auto* r = std::get_if<hpo::IntDim>(&dim)) {
      // Unsigned: the full int64 range must not overflow.
      const uint64_t span = static_cast<uint64_t>(r->high) - static_cast<uint64_t>(r->low);
      if (span >= static_cast<uint64_t>(limit)) return false;
      for (uint64_t k = 0; k <= span; ++k) {
        values.emplace_back(static_cast<int64_t>(static_cast<uint64_t>(r->low) + k));
      }
    } else {
      return false;  // a float parent: refused when the space was built
    }
    combinations *= static_cast<int64_t>(values.size());
    if (combinations > limit) return false;
    parents.emplace_back(name, std::move(values));
  }
  std::vector<size_t> digit(parents.size(), 0);
  for (int64_t n = 0; n < combinations; ++n) {
    hpo::Params params;
    for (size_t p = 0; p < parents.size(); ++p) {
      params.emplace(parents[p].first, parents[p].second[digit[p]]);
    }
    // An inactive parent is absent from a trial.
    const hpo::Params all = params;
    for (const auto& [name, values] : parents) {
      if (!space.active(name, all)) params.erase(name);
    }
    visit(params);
    for (size_t p = parents.size(); p-- > 0;) {
      if (++digit[p] < parents[p].second.size()) break;
      digit[p] = 0;
    }
  }
  return true;
}

}  // namespace krill::tune
