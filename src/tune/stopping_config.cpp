#include "tune/stopping_config.hpp"

#include <map>

#include "core/error.hpp"

namespace krill::tune {

namespace {

using Strings = std::vector<std::string>;

const Strings kRules{"none", "lcm", "median", "asha", "hyperband"};
// Which rules each option belongs to.
const std::map<std::string, Strings> kOptionRules{
    {"accumulate", {"lcm"}},
    {"percentile", {"lcm"}},
    {"k", {"lcm"}},
    {"normalize", {"lcm"}},
    {"checkpoints", {"lcm"}},
    {"min_trials", {"median"}},
    {"grace", {"median"}},
    {"min_resource", {"asha", "hyperband"}},
    {"max_resource", {"asha", "hyperband"}},
    {"eta", {"asha", "hyperband"}},
    {"brackets", {"hyperband"}},
};

int64_t integer(const yaml::Source& src, const yaml::Entry& e, int64_t min) {
  const auto v = yaml::is_plain(e.value) ? yaml::parse_int(e.value.Scalar()) : std::nullopt;
  if (!v || *v < min) {
    src.fail(e.at(), "'" + e.key + "' is " + yaml::describe(e.value) +
                         ", expected an integer >= " + std::to_string(min));
  }
  return *v;
}

double number(const yaml::Source& src, const yaml::Entry& e, double lo, double hi) {
  const auto v = yaml::is_plain(e.value) ? yaml::parse_number(e.value.Scalar()) : std::nullopt;
  if (!v || !(*v >= lo && *v <= hi)) {
    src.fail(e.at(), "'" + e.key + "' is " + yaml::describe(e.value) + ", expected a number in [" +
                         yaml::format_double(lo) + ", " + yaml::format_double(hi) + "]");
  }
  return *v;
}

}  // namespace

StoppingConfig parse_stopping(const yaml::Source& src, const yaml::Entry& section) {
  StoppingConfig c;
  const auto entries = yaml::entries(src, section.value, "stopping");
  Strings known{"rule"};
  for (const auto& [option, rules] : kOptionRules) known.push_back(option);
  const yaml::Entry* rule = nullptr;
  for (const auto& e : entries) {
    yaml::check_known(src, e, known);
    if (e.key == "rule") rule = &e;
  }
  if (!rule) src.fail(section.at(), "missing key 'rule', expected one of " + yaml::one_of(kRules));
  c.rule = rule->value.IsScalar() ? rule->value.Scalar() : "";
  if (std::find(kRules.begin(), kRules.end(), c.rule) == kRules.end()) {
    src.fail(rule->at(),
             "'rule' is " + yaml::describe(rule->value) + ", expected " + yaml::one_of(kRules));
  }
  if (c.rule == "hyperband") c.asha.brackets = 3;
  for (const auto& e : entries) {
    if (e.key == "rule") continue;
    const Strings& rules = kOptionRules.at(e.key);
    if (std::find(rules.begin(), rules.end(), c.rule) == rules.end()) {
      src.fail(e.key_node,
               "'" + e.key + "' is an option of " + yaml::one_of(rules) + ", not " + c.rule);
    }
    if (e.key == "accumulate") c.lcm.accumulate = static_cast<int>(integer(src, e, 1));
    if (e.key == "percentile") c.lcm.percentile = number(src, e, 0, 100);
    if (e.key == "k") c.lcm.k = static_cast<int>(integer(src, e, 1));
    if (e.key == "normalize") {
      const auto b = e.value.IsScalar() ? yaml::parse_bool(e.value.Scalar()) : std::nullopt;
      if (!b)
        src.fail(e.at(), "'normalize' is " + yaml::describe(e.value) + ", expected true or false");
      c.lcm.normalize = *b;
    }
    if (e.key == "checkpoints") {
      if (!e.value.IsSequence()) {
        src.fail(e.at(), "'checkpoints' is " + yaml::describe(e.value) +
                             ", expected a list of steps, e.g. [100, 200, 400]");
      }
      int64_t last = 0;
      for (const auto& node : e.value) {
        const auto v = yaml::is_plain(node) ? yaml::parse_int(node.Scalar()) : std::nullopt;
        if (!v || *v <= last) {
          src.fail(node,
                   "checkpoint " + yaml::describe(node) + ", expected increasing positive steps");
        }
        c.lcm.checkpoints.push_back(*v);
        last = *v;
      }
    }
    if (e.key == "min_trials") c.median.min_trials = static_cast<int>(integer(src, e, 1));
    if (e.key == "grace") c.median.grace = integer(src, e, 0);
    if (e.key == "min_resource") c.asha.min_resource = integer(src, e, 1);
    if (e.key == "max_resource") c.asha.max_resource = integer(src, e, 0);
    if (e.key == "eta") {
      c.asha.eta = number(src, e, 1, 1e6);
      if (c.asha.eta < 1.01)
        src.fail(e.at(), "'eta' is " + yaml::describe(e.value) + ", expected at least 1.01");
    }
    if (e.key == "brackets") c.asha.brackets = static_cast<int>(integer(src, e, 1));
  }
  try {
    make_stopper(c);  // the rules' own checks (e.g. max_resource < min_resource)
  } catch (const InvalidArgument& err) {
    src.fail(section.key_node, std::string("stopping: ") + err.what());
  }
  return c;
}

std::unique_ptr<hpo::Stopper> make_stopper(const StoppingConfig& c) {
  if (c.rule == "lcm") return hpo::make_lcm(c.lcm);
  if (c.rule == "median") return hpo::make_median(c.median);
  if (c.rule == "asha" || c.rule == "hyperband") return hpo::make_asha(c.asha);
  return nullptr;
}

}  // namespace krill::tune
