#include "tune/stopping_config.hpp"

#include <algorithm>
#include <limits>
#include <map>

#include "core/error.hpp"

namespace krill::tune {

namespace {

using Strings = std::vector<std::string>;

const Strings kRules{"none", "lcm", "median", "asha", "hyperband"};
// The curves lcm may match: the objective's, or a loss the trainer reports at each curve point.
const Strings kLcmCurves{"objective", "train_loss", "val_loss"};
// Which rules each option belongs to.
const std::map<std::string, Strings> kOptionRules{
    {"accumulate", {"lcm"}},
    {"percentile", {"lcm"}},
    {"k", {"lcm"}},
    {"normalize", {"lcm"}},
    {"checkpoints", {"lcm"}},
    {"curve", {"lcm"}},
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
  // `stopping: median` is read as the rule it names in the example.
  const bool names_rule =
      section.value.IsScalar() &&
      std::find(kRules.begin(), kRules.end(), section.value.Scalar()) != kRules.end();
  const auto entries =
      yaml::entries(src, section.value, "stopping",
                    "`stopping: {rule: " + (names_rule ? section.value.Scalar() : "median") + "}`");
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
    if (e.key == "curve") {
      const bool known_curve =
          e.value.IsScalar() &&
          std::find(kLcmCurves.begin(), kLcmCurves.end(), e.value.Scalar()) != kLcmCurves.end();
      if (!known_curve) {
        src.fail(e.at(), "'curve' is " + yaml::describe(e.value) + ", expected " +
                             yaml::one_of(kLcmCurves));
      }
      c.lcm.curve = e.value.Scalar();
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
      c.asha.eta = number(src, e, 1.01, 1e6);  // 1 would promote every trial at every rung
    }
    if (e.key == "brackets") c.asha.brackets = static_cast<int>(integer(src, e, 1));
  }
  // At the line of max_resource, before the rule's own check (at `stopping`, which allowed
  // max_resource equal to min_resource, where the rule would never act).
  for (const auto& e : entries) {
    if (e.key == "max_resource" && c.asha.max_resource != 0 &&
        c.asha.max_resource <= c.asha.min_resource) {
      src.fail(e.at(), "'max_resource' is " + std::to_string(c.asha.max_resource) + ", " +
                           (c.asha.max_resource == c.asha.min_resource ? "the first rung"
                                                                       : "below the first rung") +
                           " (min_resource " + std::to_string(c.asha.min_resource) +
                           "): " + c.rule +
                           " would never act, expected 0 (no last rung) or above min_resource");
    }
  }
  try {
    make_stopper(c);  // the rules' own checks
  } catch (const InvalidArgument& err) {
    src.fail(section.key_node, std::string("stopping: ") + err.what());
  }
  c.positions["stopping"] = src.where(section.key_node.Mark());
  for (const auto& e : entries) c.positions[e.key] = src.where(e.at().Mark());
  return c;
}

std::unique_ptr<hpo::Stopper> make_stopper(const StoppingConfig& c) {
  if (c.rule == "lcm") return hpo::make_lcm(c.lcm);
  if (c.rule == "median") return hpo::make_median(c.median);
  if (c.rule == "asha" || c.rule == "hyperband") return hpo::make_asha(c.asha);
  return nullptr;
}

namespace {

// "100", "100 and 200", "100, 200 and 300".
std::string list_text(const std::vector<int64_t>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += i + 1 == values.size() ? " and " : ", ";
    out += std::to_string(values[i]);
  }
  return out;
}

std::string span_text(int64_t low, int64_t high) {  // "25" or "25 to 150"
  return low == high ? std::to_string(low) : std::to_string(low) + " to " + std::to_string(high);
}

}  // namespace

bool ReportSteps::reaches(int64_t step) const {
  bool divides = false;
  for (const int64_t e : every) divides = divides || step % e == 0;
  for (const Run& r : runs) {
    if (step == r.last) return true;
    if (step < r.last && (divides || (each_epoch && step % r.per_epoch == 0))) return true;
  }
  return false;
}

bool ReportSteps::decides_at(int64_t step) const {
  bool divides = false;
  for (const int64_t e : every) divides = divides || step % e == 0;
  for (const Run& r : runs) {
    if (step < r.last && (divides || (each_epoch && step % r.per_epoch == 0))) return true;
  }
  return false;
}

int64_t ReportSteps::last_decision() const {
  int64_t out = 0;
  for (const Run& r : runs) {
    for (const int64_t e : every) out = std::max(out, (r.last - 1) / e * e);
    if (each_epoch) out = std::max(out, (r.last - 1) / r.per_epoch * r.per_epoch);
  }
  return out;
}

int64_t ReportSteps::last() const {
  int64_t out = 0;
  for (const Run& r : runs) out = std::max(out, r.last);
  return out;
}

std::string ReportSteps::describe() const {
  if (runs.size() == 1 && every.size() + (each_epoch ? 1 : 0) == 1) {
    const Run& r = runs.front();
    const int64_t interval = each_epoch ? r.per_epoch : every.front();
    std::vector<int64_t> steps;
    for (int64_t s = interval; s < r.last && steps.size() < 4; s += interval) {
      steps.push_back(s);
      if (s > std::numeric_limits<int64_t>::max() - interval) break;  // s + interval overflows
    }
    std::string text = "at steps ";
    if (steps.size() == 4) {
      text += std::to_string(steps[0]) + ", " + std::to_string(steps[1]) + ", " +
              std::to_string(steps[2]) + ", ..., " + std::to_string(r.last);
    } else {
      steps.push_back(r.last);
      if (steps.size() == 1) text = "at step ";
      text += list_text(steps);
    }
    return text + " (" +
           (each_epoch ? "one per epoch of " + std::to_string(r.per_epoch) + " batches"
                       : "every " + std::to_string(interval) + " iterations") +
           ", the last at step " + std::to_string(r.last) + ")";
  }
  std::string text;
  if (!every.empty()) {
    const auto [low, high] = std::minmax_element(every.begin(), every.end());
    text = "every " + span_text(*low, *high) + " iterations";
  }
  if (each_epoch) {
    int64_t low = runs.front().per_epoch, high = low;
    for (const Run& r : runs) {
      low = std::min(low, r.per_epoch);
      high = std::max(high, r.per_epoch);
    }
    text += (text.empty() ? "" : " or ") + std::string("once per epoch of ") +
            span_text(low, high) + " batches";
  }
  int64_t first_last = runs.front().last;
  for (const Run& r : runs) first_last = std::min(first_last, r.last);
  return text + " and at their last step, " + span_text(first_last, last());
}

void check_stopping_acts(const StoppingConfig& c, const ReportSteps* steps, int64_t trials) {
  const auto written = [&](const std::string& option) { return c.positions.contains(option); };
  // Errors point at the option, or at the rule when the option was left at its default.
  const auto fail = [&](const std::string& option, const std::string& message) {
    const auto it = c.positions.find(written(option) ? option : "rule");
    throw InvalidArgument((it != c.positions.end() ? it->second : "") + message);
  };
  const auto is = [&](const std::string& option, int64_t value) {
    return "'" + option + "' is " + std::to_string(value) +
           (written(option) ? "" : " (the default)");
  };
  const std::string study_has =
      " and the study has " + std::to_string(trials) + (trials == 1 ? " trial" : " trials");
  const std::string reports = steps ? "trials report " + steps->describe() : std::string();

  // The rules that wait for more trials than the study has.
  if (c.rule == "lcm" && c.lcm.accumulate >= trials) {
    fail("accumulate", is("accumulate", c.lcm.accumulate) + study_has +
                           ": lcm decides once that many trials are complete, so it would "
                           "never act, expected accumulate below the number of trials");
  }
  if (c.rule == "median" && c.median.min_trials >= trials) {
    fail("min_trials", is("min_trials", c.median.min_trials) + study_has +
                           ": the median rule decides once that many trials are complete, so "
                           "it would never act, expected min_trials below the number of trials");
  }
  if ((c.rule == "asha" || c.rule == "hyperband") && trials <= c.asha.brackets) {
    const std::string what = c.rule == "asha" ? "the study has " + std::to_string(trials) +
                                                    " trial: asha compares trials at its rungs"
                                              : is("brackets", c.asha.brackets) + study_has +
                                                    ": hyperband compares the trials of a "
                                                    "bracket at its rungs";
    fail("brackets", what + ", so it would never act, expected " +
                         (c.rule == "asha" ? std::string("at least 2 trials")
                                           : std::string("more trials than brackets")));
  }

  // The rules that decide at steps no trial reports at before its last: a trial's final report
  // is its result, no rule is asked there (hpo::Study::decide).
  if (!steps || c.rule == "none") return;
  if (steps->last_decision() == 0) {
    fail("rule", "trials report " + steps->describe() +
                     ": only at their last step, where no rule stops a trial (it has trained its "
                     "whole length), so " +
                     c.rule +
                     " would never act, expected eval_every below the last step or more than "
                     "one epoch");
  }
  if (c.rule == "lcm") {
    std::vector<int64_t> missed;
    for (const int64_t checkpoint : c.lcm.checkpoints) {
      if (!steps->decides_at(checkpoint)) missed.push_back(checkpoint);
    }
    if (missed.empty()) return;
    const bool one = missed.size() == 1;
    fail("checkpoints",
         (one ? "checkpoint " : "checkpoints ") + list_text(missed) + (one ? " is" : " are") +
             " never reached before a trial's last step (no rule stops a trial that has trained "
             "its whole length)" +
             (missed.size() == c.lcm.checkpoints.size() ? ", so lcm would never act" : "") + ": " +
             reports + ", expected checkpoints among these steps, before the last");
  }
  if (c.rule == "median" && c.median.grace > steps->last_decision()) {
    fail("grace", is("grace", c.median.grace) +
                      ": the median rule decides from that step on, before a trial's last step, "
                      "and " +
                      reports + ", so it would never act, expected grace <= " +
                      std::to_string(steps->last_decision()));
  }
  if ((c.rule == "asha" || c.rule == "hyperband") && c.asha.min_resource > steps->last_decision()) {
    fail("min_resource", is("min_resource", c.asha.min_resource) + ": " + c.rule +
                             "'s first rung is at that step, a rung decides before a trial's "
                             "last step, and " +
                             reports + ", so it would never act, expected min_resource <= " +
                             std::to_string(steps->last_decision()));
  }
}

}  // namespace krill::tune
