#include "study_json.hpp"

#include <map>
#include <type_traits>
#include <variant>

#include "core/error.hpp"
#include "hpo/study.hpp"
#include "report/pbt_lineage.hpp"
#include "study_summary.hpp"

namespace krill::cli {

namespace {

using report::JsonWriter;

Scalar or_null(std::optional<double> v) {
  return v ? Scalar(*v) : Scalar();
}

Scalar or_null(const std::string& text) {
  return text.empty() ? Scalar() : Scalar(text);
}

void write_settings(JsonWriter& j, const std::optional<tune::StoredSettings>& s) {
  j.key("settings");
  if (!s) return j.null();
  j.begin_object();
  j.field("data", s->data);
  j.field("validation", s->validation);
  j.field("subset", s->subset);
  j.field("seed", std::to_string(s->seed));  // digits: see seed_text
  j.key("fixed");
  write_params(j, s->fixed);
  j.end_object();
}

void write_study(JsonWriter& j, const ShownStudy& shown,
                 const std::optional<tune::StoredSettings>& settings) {
  const hpo::StudyRecord& s = shown.study;
  std::map<hpo::TrialState, int64_t> counts;
  double compute = 0;
  int64_t requeues = 0;
  for (const auto& t : shown.trials) {
    ++counts[t.state];
    compute += hpo::compute_seconds(t);
    requeues += t.requeues;
  }
  j.begin_object();
  write_fields(j, {{"name", s.name},
                   {"direction", hpo::to_string(s.direction)},
                   {"objective", s.objective},
                   {"n_trials", s.n_trials},
                   {"created", s.created},
                   {"sampler", s.sampler},
                   {"stopping", or_null(settings ? settings->stopping : "")},
                   {"pbt", or_null(settings ? settings->pbt : "")},
                   {"space", s.space}});
  write_settings(j, settings);
  j.key("counts");
  j.begin_object();
  j.field("total", static_cast<int64_t>(shown.trials.size()));
  for (auto state : {hpo::TrialState::Completed, hpo::TrialState::Stopped, hpo::TrialState::Failed,
                     hpo::TrialState::Diverged, hpo::TrialState::Running}) {
    j.field(hpo::to_string(state), counts[state]);
  }
  j.end_object();
  j.field("compute_seconds", compute);
  j.field("requeues", requeues);
  j.field("exploits", static_cast<int64_t>(report::count_exploits(shown.trials)));
  j.key("best");
  if (const auto best = hpo::best_of(shown.trials, s.direction)) {
    const auto test = best->attrs.find("test_accuracy");
    j.begin_object();
    write_fields(
        j, {{"number", best->number},
            {"value", *best->value},
            {"test_accuracy",
             or_null(test == best->attrs.end() ? std::nullopt : std::optional(test->second))}});
    j.key("params");
    write_params(j, best->params);
    j.key("final_params");
    write_params(j, report::final_params(*best));
    j.end_object();
  } else {
    j.null();
  }
  j.end_object();
}

void write_trial(JsonWriter& j, const hpo::TrialRecord& t,
                 const std::optional<tune::StoredSettings>& settings) {
  const bool finished = hpo::is_finished(t.state);
  j.begin_object();
  write_fields(
      j, {{"number", t.number}, {"state", hpo::to_string(t.state)}, {"value", or_null(t.value)}});
  j.key("params");
  write_params(j, t.params);
  j.key("final_params");  // a PBT member's last hyperparameters; else its params
  write_params(j, report::final_params(t));
  write_fields(
      j, {{"seed", settings ? seed_text(tune::trial_seed(settings->seed, t.number)) : Scalar()},
          {"started", t.started},
          {"finished", or_null(finished ? std::optional(t.finished) : std::nullopt)},
          {"duration", or_null(finished ? std::optional(t.finished - t.started) : std::nullopt)},
          {"reason", or_null(reason_of(t))},
          {"worker", int64_t{t.worker}},
          {"requeues", t.requeues},
          {"exploits", static_cast<int64_t>(report::exploits_of(t).size())}});
  j.key("attrs");
  j.begin_object();
  for (const auto& [k, v] : t.attrs) j.field(k, v);
  j.end_object();
  j.end_object();
}

void write_runs(JsonWriter& j, const ShownStudy& shown, double now, double grace) {
  j.begin_array();
  for (const auto& run : shown.runs) {
    j.begin_object();
    write_fields(j, {{"id", run.id},
                     {"host", run.host},
                     {"pid", run.pid},
                     {"live", !hpo::run_is_gone(run, now, grace)},
                     {"heartbeat", run.heartbeat}});
    j.key("trials");  // the Running trials it holds
    j.begin_array();
    for (const auto& t : shown.trials) {
      if (t.state == hpo::TrialState::Running && t.owner == run.id) j.value(t.number);
    }
    j.end_array();
    j.end_object();
  }
  j.end_array();
}

}  // namespace

std::optional<tune::StoredSettings> stored_settings_of(const hpo::StudyRecord& study) {
  try {
    return tune::read_stored_settings(study.config);
  } catch (const DataError&) {
    return std::nullopt;
  }
}

Scalar seed_text(uint64_t seed) {
  return std::to_string(seed);
}

void write_fields(JsonWriter& j,
                  std::initializer_list<std::pair<std::string_view, Scalar>> fields) {
  for (const auto& [key, value] : fields) {
    j.key(key);
    std::visit(
        [&j](const auto& v) {
          if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::monostate>) {
            j.null();
          } else {
            j.value(v);
          }
        },
        value);
  }
}

void write_params(JsonWriter& j, const hpo::Params& params) {
  j.begin_object();
  for (const auto& [name, value] : params) {
    j.key(name);
    std::visit([&j](const auto& v) { j.value(v); }, value);
  }
  j.end_object();
}

std::string show_json(const std::string& db, const std::vector<ShownStudy>& studies, double grace) {
  const double now = hpo::wall_seconds();
  JsonWriter j;
  j.begin_object();
  j.field("database", db);
  j.key("studies");
  j.begin_array();
  for (const auto& shown : studies) {
    const auto settings = stored_settings_of(shown.study);
    j.begin_object();
    j.key("study");
    write_study(j, shown, settings);
    j.key("trials");
    j.begin_array();
    for (const auto& t : shown.trials) write_trial(j, t, settings);
    j.end_array();
    j.key("processes");
    write_runs(j, shown, now, grace);
    j.end_object();
  }
  j.end_array();
  j.end_object();
  return j.take();
}

}  // namespace krill::cli
