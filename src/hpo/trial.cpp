#include "hpo/trial.hpp"

#include <array>
#include <cmath>
#include <utility>

#include "core/error.hpp"

namespace krill::hpo {

namespace {

constexpr std::array<std::pair<TrialState, const char*>, 5> kStateNames{{
    {TrialState::Running, "running"},
    {TrialState::Completed, "completed"},
    {TrialState::Stopped, "stopped"},
    {TrialState::Failed, "failed"},
    {TrialState::Diverged, "diverged"},
}};

const char* type_name(const ParamValue& v) {
  if (std::holds_alternative<double>(v)) return "a float";
  if (std::holds_alternative<int64_t>(v)) return "an integer";
  return "a string";
}

// Looks up `name`, or throws naming the trial, the parameter and the ones it does have.
const ParamValue& find_param(int64_t number, const Params& params, const std::string& name) {
  const auto it = params.find(name);
  if (it != params.end()) return it->second;
  std::string known;
  for (const auto& [key, value] : params) known += (known.empty() ? "" : ", ") + key;
  throw InvalidArgument("trial " + std::to_string(number) + ": parameter '" + name +
                        "' is missing (it has: " + (known.empty() ? "none" : known) + ")");
}

}  // namespace

std::string to_string(TrialState s) {
  for (const auto& [state, name] : kStateNames) {
    if (state == s) return name;
  }
  return "unknown";  // unreachable for a valid enumerator
}

TrialState parse_trial_state(const std::string& s) {
  for (const auto& [state, name] : kStateNames) {
    if (s == name) return state;
  }
  throw InvalidArgument("unknown trial state '" + s +
                        "', expected running, completed, stopped, failed or diverged");
}

std::string to_string(Action a) {
  switch (a) {
    case Action::Continue:
      return "continue";
    case Action::Stop:
      return "stop";
    case Action::Exploit:
      return "exploit";
  }
  return "unknown";
}

Action parse_action(const std::string& s) {
  for (Action a : {Action::Continue, Action::Stop, Action::Exploit}) {
    if (s == to_string(a)) return a;
  }
  throw InvalidArgument("unknown decision '" + s + "', expected continue, stop or exploit");
}

Trial::Trial(int64_t number, Params params, std::function<bool(const Report&)> on_report)
    : number_(number), params_(std::move(params)) {
  if (on_report) {
    host_ = [on_report = std::move(on_report)](const Report& r, Trainable*) {
      DecisionRecord d;
      d.step = r.step;
      if (!on_report(r)) d.action = Action::Stop;
      return d;
    };
  }
}

Trial::Trial(int64_t number, Params params, ReportHost host)
    : number_(number), params_(std::move(params)), host_(std::move(host)) {}

double Trial::float_param(const std::string& name) const {
  const ParamValue& v = find_param(number_, params_, name);
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  throw InvalidArgument("trial " + std::to_string(number_) + ": parameter '" + name + "' is " +
                        type_name(v) + ", not a float");
}

int64_t Trial::int_param(const std::string& name) const {
  const ParamValue& v = find_param(number_, params_, name);
  if (const auto* i = std::get_if<int64_t>(&v)) return *i;
  throw InvalidArgument("trial " + std::to_string(number_) + ": parameter '" + name + "' is " +
                        type_name(v) + ", not an integer");
}

std::string Trial::string_param(const std::string& name) const {
  const ParamValue& v = find_param(number_, params_, name);
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  throw InvalidArgument("trial " + std::to_string(number_) + ": parameter '" + name + "' is " +
                        type_name(v) + ", not a string");
}

bool Trial::report(int64_t step, double value, std::map<std::string, double> metrics, bool last) {
  Report r{step, value, std::move(metrics)};
  r.last = last;
  if (host_) {
    last_ = host_(r, trainable_);
  } else {
    last_ = DecisionRecord{};
    last_.step = step;
  }
  stop_ = last_.stops();
  return !stop_;
}

double compute_seconds(const TrialRecord& trial) {
  if (!(trial.finished > trial.started)) return 0;
  const auto population = trial.attrs.find("population");
  const double share =
      population != trial.attrs.end() && population->second > 1 ? population->second : 1;
  return (trial.finished - trial.started) / share;
}

void settle(TrialRecord& trial, Outcome outcome, double value, const std::string& error,
            bool stopped) {
  trial.value.reset();
  trial.error.clear();
  switch (outcome) {
    case Outcome::Returned:
      if (!std::isfinite(value)) {
        trial.state = TrialState::Diverged;
        trial.error = "the objective returned " + std::to_string(value);
      } else {
        trial.state = stopped ? TrialState::Stopped : TrialState::Completed;
        trial.value = value;
      }
      return;
    case Outcome::Diverged:
      trial.state = TrialState::Diverged;
      trial.error = error;
      return;
    case Outcome::Threw:
      trial.state = TrialState::Failed;
      trial.error = error;
      return;
  }
  throw InvalidArgument("settle(): unknown outcome");
}

}  // namespace krill::hpo
