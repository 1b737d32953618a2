#include "report/pbt_lineage.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/core.h>

namespace krill::report {

std::vector<const hpo::DecisionRecord*> exploits_of(const hpo::TrialRecord& t) {
  std::vector<const hpo::DecisionRecord*> out;
  for (const auto& d : t.decisions) {
    if (d.action == hpo::Action::Exploit) out.push_back(&d);
  }
  std::stable_sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->step < b->step; });
  return out;
}

size_t count_exploits(const std::vector<hpo::TrialRecord>& trials) {
  size_t n = 0;
  for (const auto& t : trials) n += exploits_of(t).size();
  return n;
}

std::vector<ScheduleSegment> member_schedule(const hpo::TrialRecord& t) {
  int64_t last = t.reports.empty() ? 0 : t.reports.back().step;
  std::vector<ScheduleSegment> out;
  out.push_back({.from = 0, .to = last, .params = t.params});
  for (const auto* d : exploits_of(t)) {
    out.back().to = d->step;
    last = std::max(last, d->step);
    out.push_back({.from = d->step,
                   .to = last,
                   .params = d->params,
                   .donor = d->donor,
                   .donor_step = d->donor_step});
  }
  return out;
}

std::vector<PathSegment> weights_path(const std::vector<hpo::TrialRecord>& trials, int64_t number) {
  auto find = [&](int64_t n) -> const hpo::TrialRecord* {
    for (const auto& t : trials) {
      if (t.number == n) return &t;
    }
    return nullptr;
  };
  std::vector<PathSegment> out;  // newest first, reversed at the end
  const hpo::TrialRecord* t = find(number);
  if (!t) return out;
  int64_t end = t->reports.empty() ? 0 : t->reports.back().step;
  for (size_t guard = 0; t && guard <= trials.size() * 64 + 64; ++guard) {
    // The member's last copy before `end`: the weights over [copy, end] are its own training.
    const hpo::DecisionRecord* copy = nullptr;
    for (const auto* d : exploits_of(*t)) {
      if (d->step < end) copy = d;
    }
    if (!copy) {
      out.push_back({.trial = t->number, .from = 0, .to = end, .params = t->params});
      break;
    }
    out.push_back({.trial = t->number,
                   .from = copy->step,
                   .to = end,
                   .params = copy->params,
                   .copied_from = copy->donor});
    end = copy->donor_step;
    t = find(copy->donor);
  }
  std::reverse(out.begin(), out.end());
  return out;
}

const hpo::Params& final_params(const hpo::TrialRecord& t) {
  const auto exploits = exploits_of(t);
  return exploits.empty() ? t.params : exploits.back()->params;
}

std::vector<std::string> changing_params(const std::vector<ScheduleSegment>& schedule) {
  std::set<std::string> names;
  for (const auto& s : schedule) {
    for (const auto& [name, value] : s.params) names.insert(name);
  }
  std::vector<std::string> out;
  for (const auto& name : names) {
    std::optional<hpo::ParamValue> first;
    bool differs = false;
    for (const auto& s : schedule) {
      const auto it = s.params.find(name);
      if (it == s.params.end()) {
        differs = true;
        break;
      }
      if (!first) {
        first = it->second;
      } else if (*first != it->second) {
        differs = true;
        break;
      }
    }
    if (differs) out.push_back(name);
  }
  if (out.empty() && !schedule.empty()) {
    for (const auto& [name, value] : schedule.front().params) out.push_back(name);
  }
  return out;
}

std::string params_text(const hpo::Params& params, const std::vector<std::string>& names) {
  std::string out;
  for (const auto& [name, value] : params) {
    if (!names.empty() && std::find(names.begin(), names.end(), name) == names.end()) continue;
    if (!out.empty()) out += ' ';
    out += name + '=';
    if (const auto* d = std::get_if<double>(&value)) {
      out += fmt::format("{:.4g}", *d);
    } else {
      out += hpo::to_string(value);
    }
  }
  return out;
}

std::string exploit_title(const hpo::TrialRecord& t, const hpo::DecisionRecord& exploit) {
  const std::string params = params_text(exploit.params, changing_params(member_schedule(t)));
  return fmt::format("trial {} copied trial {} at step {}{}", t.number, exploit.donor,
                     exploit.donor_step, params.empty() ? "" : ": " + params);
}

namespace {

std::optional<double> number_of(const hpo::Params& params, const std::string& name) {
  const auto it = params.find(name);
  if (it == params.end()) return std::nullopt;
  if (const auto* d = std::get_if<double>(&it->second)) return *d;
  if (const auto* i = std::get_if<int64_t>(&it->second)) return static_cast<double>(*i);
  return std::nullopt;
}

std::optional<double> reported_lr(const hpo::TrialRecord& t, int64_t step) {
  for (const auto& r : t.reports) {
    if (r.step != step) continue;
    const auto it = r.metrics.find("lr");
    if (it != r.metrics.end() && std::isfinite(it->second)) return it->second;
  }
  return std::nullopt;
}

}  // namespace

std::optional<double> lr_after(const hpo::TrialRecord& t, const hpo::DecisionRecord& exploit) {
  const auto before_report = reported_lr(t, exploit.step);
  const auto after = number_of(exploit.params, "lr");
  if (!before_report || !after) return std::nullopt;
  // The base rate before: the previous exploit's, or the sampled one.
  const hpo::Params* previous = &t.params;
  for (const auto* d : exploits_of(t)) {
    if (d == &exploit || d->step >= exploit.step) break;
    previous = &d->params;
  }
  const auto before = number_of(*previous, "lr");
  if (!before || !(*before > 0)) return *after;
  const double v = *before_report * (*after / *before);
  return std::isfinite(v) ? std::optional<double>(v) : std::nullopt;
}

std::vector<std::pair<double, double>> lr_points(const hpo::TrialRecord& t) {
  const auto exploits = exploits_of(t);
  std::vector<std::pair<double, double>> out;
  for (const auto& r : t.reports) {
    const auto it = r.metrics.find("lr");
    if (it == r.metrics.end() || !std::isfinite(it->second)) continue;
    out.emplace_back(static_cast<double>(r.step), it->second);
    for (const auto* d : exploits) {
      if (d->step != r.step) continue;
      const auto v = lr_after(t, *d);
      if (v && *v != it->second) out.emplace_back(static_cast<double>(r.step), *v);
    }
  }
  return out;
}

}  // namespace krill::report
