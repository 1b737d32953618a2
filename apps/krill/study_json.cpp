#include "study_json.hpp"

#include <map>
#include <variant>

#include "core/error.hpp"
#include "hpo/study.hpp"
#include "report/pbt_lineage.hpp"
#include "study_summary.hpp"

namespace krill::cli {

namespace {

using report::JsonWriter;

// `key`: the number, or null.
void number_or_null(JsonWriter& j, std::string_view key, std::optional<double> v) {
  j.key(key);
  v ? j.value(*v) : j.null();
}

// `key`: the text, or null when it is empty.
void text_or_null(JsonWriter& j, std::string_view key, const std::string& text) {
  j.key(key);
  text.empty() ? j.null() : j.value(text);
}

// Seeds are written as strings of digits: a 64-bit seed does not fit the double that JavaScript
// and jq read a JSON number into.
void seed_or_null(JsonWriter& j, const std::optional<tune::StoredSettings>& settings,
                  int64_t number) {
  j.key("seed");
  if (settings) {
    j.value(std::to_string(tune::trial_seed(settings->seed, number)));
  } else {
    j.null();
  }
}

void write_settings(JsonWriter& j, const std::optional<tune::StoredSettings>& s) {
  j.key("settings");
  if (!s) return j.null();
  j.begin_object();
  j.field("data", s->data);
  j.field("validation", s->validation);
  j.field("subset", s->subset);
  j.field("seed", std::to_string(s->seed));
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
    if (t.finished > t.started) compute += t.finished - t.started;
    requeues += t.requeues;
  }
  j.begin_object();
  j.field("name", s.name);
  j.field("direction", hpo::to_string(s.direction));
  j.field("objective", s.objective);
  j.field("n_trials", s.n_trials);
  j.field("created", s.created);
  j.field("sampler", s.sampler);
  text_or_null(j, "stopping", settings ? settings->stopping : "");
  text_or_null(j, "pbt", settings ? settings->pbt : "");
  j.field("space", s.space);
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
    j.begin_object();
    j.field("number", best->number);
    j.field("value", *best->value);
    const auto test = best->attrs.find("test_accuracy");
    number_or_null(j, "test_accuracy",
                   test == best->attrs.end() ? std::nullopt : std::optional(test->second));
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
  j.field("number", t.number);
  j.field("state", hpo::to_string(t.state));
  number_or_null(j, "value", t.value);
  j.key("params");
  write_params(j, t.params);
  j.key("final_params");  // a PBT member's last hyperparameters; else its params
  write_params(j, report::final_params(t));
  seed_or_null(j, settings, t.number);
  j.field("started", t.started);
  number_or_null(j, "finished", finished ? std::optional(t.finished) : std::nullopt);
  number_or_null(j, "duration", finished ? std::optional(t.finished - t.started) : std::nullopt);
  text_or_null(j, "reason", reason_of(t));
  j.field("worker", t.worker);
  j.field("requeues", t.requeues);
  j.field("exploits", static_cast<int64_t>(report::exploits_of(t).size()));
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
    j.field("id", run.id);
    j.field("host", run.host);
    j.field("pid", run.pid);
    j.field("live", !hpo::run_is_gone(run, now, grace));
    j.field("heartbeat", run.heartbeat);
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
