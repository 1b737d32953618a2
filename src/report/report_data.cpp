#include "report/report_data.hpp"

#include <ctime>
#include <variant>

#include "core/error.hpp"
#include "report/analysis.hpp"
#include "report/json_writer.hpp"
#include "report/pbt_lineage.hpp"

namespace krill::report {

namespace {

std::string names_of(const std::vector<hpo::StudyRecord>& studies) {
  std::string names;
  for (const auto& s : studies) names += (names.empty() ? "" : ", ") + s.name;
  return names;
}

void write_value(JsonWriter& j, const hpo::ParamValue& v) {
  if (const auto* d = std::get_if<double>(&v)) {
    j.value(*d);
  } else if (const auto* i = std::get_if<int64_t>(&v)) {
    j.value(*i);
  } else {
    j.value(std::get<std::string>(v));
  }
}

void write_axis(JsonWriter& j, const Contour::Axis& a) {
  j.begin_object();
  j.field("name", a.name);
  j.field("log", a.log);
  j.field("lo", a.lo);
  j.field("hi", a.hi);
  j.key("cells");
  j.begin_array();
  for (const double c : a.cells) j.value(c);
  j.end_array();
  j.end_object();
}

void write_analysis(JsonWriter& j, const Analysis& a) {
  j.key("importance");
  j.begin_object();
  j.field("trials", static_cast<int64_t>(a.importance.trials));
  j.field("top_trials", static_cast<int64_t>(a.importance.top_trials));
  j.field("note", a.importance_note);
  j.key("params");
  j.begin_array();
  for (const auto& p : a.importance.params) {
    j.begin_object();
    j.field("name", p.name);
    j.field("importance", p.importance);
    j.field("trials", static_cast<int64_t>(p.trials));
    j.end_object();
  }
  j.end_array();
  j.end_object();

  j.key("contours");
  j.begin_object();
  j.field("note", a.contour_note);
  j.key("plots");
  j.begin_array();
  for (const auto& c : a.contours) {
    j.begin_object();
    j.key("x");
    write_axis(j, c.x);
    j.key("y");
    write_axis(j, c.y);
    j.key("z");
    j.begin_array();
    for (const auto& row : c.z) {
      j.begin_array();
      for (const double v : row) j.value(v);
      j.end_array();
    }
    j.end_array();
    j.field("bandwidth", c.bandwidth);
    j.key("points");
    j.begin_array();
    for (const auto& p : c.points) {
      j.begin_array();
      j.value(p.number);
      j.value(p.x);
      j.value(p.y);
      j.value(p.value);
      j.end_array();
    }
    j.end_array();
    j.end_object();
  }
  j.end_array();
  j.end_object();
}

}  // namespace

ReportData load_report_data(hpo::Storage& storage, const std::string& name) {
  const std::vector<hpo::StudyRecord> studies = storage.studies();
  if (studies.empty()) throw DataError("the database holds no study yet");
  ReportData data;
  if (name.empty()) {
    if (studies.size() > 1) {
      throw InvalidArgument("the database holds " + std::to_string(studies.size()) + " studies (" +
                            names_of(studies) + "): choose one with --study");
    }
    data.study = studies.front();
  } else {
    auto found = storage.find_study(name);
    if (!found) {
      throw InvalidArgument("no study '" + name +
                            "' in the database; it holds: " + names_of(studies));
    }
    data.study = *found;
  }
  data.trials = storage.trials(data.study.id);
  data.space = hpo::SearchSpace::from_fingerprint(data.study.space);
  data.dims = dimensions_of(data.space);
  return data;
}

std::vector<DimensionInfo> dimensions_of(const hpo::SearchSpace& space) {
  std::vector<DimensionInfo> dims;
  for (size_t index = 0; index < space.size(); ++index) {
    const auto& [name, dim] = space.dimensions()[index];
    DimensionInfo info{name, "", false, ""};
    if (const auto& c = space.condition(index)) info.condition = c->describe();
    if (const auto* f = std::get_if<hpo::FloatDim>(&dim)) {
      info.kind = "float";
      info.log = f->log;
    } else if (const auto* i = std::get_if<hpo::IntDim>(&dim)) {
      info.kind = "int";
      info.log = i->log;
    } else {
      info.kind = std::holds_alternative<hpo::CategoricalDim>(dim) ? "choice" : "grid";
    }
    dims.push_back(std::move(info));
  }
  return dims;
}

std::vector<DimensionInfo> parse_dimensions(const std::string& fingerprint) {
  return dimensions_of(hpo::SearchSpace::from_fingerprint(fingerprint));
}

const hpo::DecisionRecord* stop_decision(const hpo::TrialRecord& trial) {
  for (auto it = trial.decisions.rbegin(); it != trial.decisions.rend(); ++it) {
    if (it->stops()) return &*it;
  }
  return nullptr;
}

std::vector<std::pair<std::string, std::string>> settings_of(const std::string& config) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t start = 0;
  while (start < config.size()) {
    size_t end = config.find('\n', start);
    if (end == std::string::npos) end = config.size();
    const std::string line = config.substr(start, end - start);
    start = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const size_t colon = line.find(": ");
    if (colon == std::string::npos) {
      out.emplace_back("", line);
      continue;
    }
    std::string value = line.substr(colon + 2);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      std::string plain;
      bool whole = true;  // the closing quote is the last character, not an escaped one
      for (size_t i = 1; i + 1 < value.size(); ++i) {
        if (value[i] == '\\' && i + 2 < value.size()) {
          const char e = value[++i];
          plain += e == 'n' ? '\n' : e == 't' ? '\t' : e;
        } else if (value[i] == '\\' || value[i] == '"') {
          whole = false;
          break;
        } else {
          plain += value[i];
        }
      }
      if (whole) value = std::move(plain);
    }
    out.emplace_back(line.substr(0, colon), std::move(value));
  }
  return out;
}

std::string to_json(const ReportData& data) {
  JsonWriter j;
  j.begin_object();
  const hpo::StudyRecord& s = data.study;
  j.key("study");
  j.begin_object();
  j.field("id", s.id);
  j.field("name", s.name);
  j.field("direction", hpo::to_string(s.direction));
  j.field("objective", s.objective);
  j.field("space", s.space);
  j.field("sampler", s.sampler);
  j.field("config", s.config);
  j.key("settings");
  j.begin_array();
  for (const auto& [k, v] : settings_of(s.config)) {
    j.begin_array();
    j.value(k);
    j.value(v);
    j.end_array();
  }
  j.end_array();
  j.field("n_trials", s.n_trials);
  j.field("created", s.created);
  j.end_object();

  j.key("dims");
  j.begin_array();
  for (const auto& d : data.dims) {
    j.begin_object();
    j.field("name", d.name);
    j.field("kind", d.kind);
    j.field("log", d.log);
    j.key("condition");
    if (d.condition.empty()) {
      j.null();
    } else {
      j.value(d.condition);
    }
    j.end_object();
  }
  j.end_array();

  j.key("trials");
  j.begin_array();
  for (const auto& t : data.trials) {
    j.begin_object();
    j.field("number", t.number);
    j.field("state", hpo::to_string(t.state));
    j.key("value");
    if (t.value) {
      j.value(*t.value);
    } else {
      j.null();
    }
    j.field("error", t.error);
    j.field("started", t.started);
    j.key("finished");
    if (hpo::is_finished(t.state)) {
      j.value(t.finished);
    } else {
      j.null();
    }
    j.field("worker", t.worker);
    j.key("params");
    j.begin_object();
    for (const auto& [k, v] : t.params) {
      j.key(k);
      write_value(j, v);
    }
    j.end_object();
    j.key("attrs");
    j.begin_object();
    for (const auto& [k, v] : t.attrs) j.field(k, v);
    j.end_object();
    j.key("curve");
    j.begin_array();
    for (const auto& r : t.reports) {
      j.begin_array();
      j.value(r.step);
      j.value(r.value);
      j.end_array();
    }
    j.end_array();
    // Per-step metrics, one series per name, in step order.
    std::map<std::string, std::vector<std::pair<int64_t, double>>> metrics;
    for (const auto& r : t.reports) {
      for (const auto& [k, v] : r.metrics) metrics[k].emplace_back(r.step, v);
    }
    j.key("metrics");
    j.begin_object();
    for (const auto& [k, points] : metrics) {
      j.key(k);
      j.begin_array();
      for (const auto& [step, v] : points) {
        j.begin_array();
        j.value(step);
        j.value(v);
        j.end_array();
      }
      j.end_array();
    }
    j.end_object();
    j.key("stop");
    if (const auto* d = stop_decision(t)) {
      j.begin_object();
      j.field("step", d->step);
      j.field("reason", d->reason);
      j.key("prediction");
      if (d->prediction) {
        j.value(*d->prediction);
      } else {
        j.null();
      }
      j.end_object();
    } else {
      j.null();
    }
    // PBT: the member's exploits, by step; "lr": its learning rate right after (null: unknown).
    j.key("exploits");
    j.begin_array();
    for (const auto* d : exploits_of(t)) {
      j.begin_object();
      j.field("step", d->step);
      j.field("donor", d->donor);
      j.field("donor_step", d->donor_step);
      j.key("params");
      j.begin_object();
      for (const auto& [k, v] : d->params) {
        j.key(k);
        write_value(j, v);
      }
      j.end_object();
      j.key("lr");
      if (const auto lr = lr_after(t, *d)) {
        j.value(*lr);
      } else {
        j.null();
      }
      j.field("reason", d->reason);
      j.end_object();
    }
    j.end_array();
    j.end_object();
  }
  j.end_array();
  write_analysis(j, analyze(data));
  j.field("generated", static_cast<double>(std::time(nullptr)));
  j.end_object();
  return j.take();
}

}  // namespace krill::report
