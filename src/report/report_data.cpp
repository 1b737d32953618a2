#include "report/report_data.hpp"

#include <ctime>
#include <variant>

#include "core/error.hpp"
#include "report/json_writer.hpp"
#include "report/pbt_lineage.hpp"

namespace krill::report {

namespace {

std::string names_of(const std::vector<hpo::StudyRecord>& studies) {
  std::string names;
  for (const auto& s : studies) names += (names.empty() ? "" : ", ") + s.name;
  return names;
}

// A dimension's name as fingerprint() writes it: plain, or quoted with \" \\ and \n escapes.
// Returns the position after the name.
size_t read_name(const std::string& line, std::string& name) {
  if (line.empty() || line[0] != '"') {
    const size_t colon = line.find(": ");
    if (colon == std::string::npos || colon == 0) return std::string::npos;
    name = line.substr(0, colon);
    return colon;
  }
  name.clear();
  for (size_t i = 1; i < line.size(); ++i) {
    if (line[i] == '\\' && i + 1 < line.size()) {
      ++i;
      name += line[i] == 'n' ? '\n' : line[i];
    } else if (line[i] == '"') {
      return i + 1;
    } else {
      name += line[i];
    }
  }
  return std::string::npos;
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
  data.dims = parse_dimensions(data.study.space);
  return data;
}

std::vector<DimensionInfo> parse_dimensions(const std::string& fingerprint) {
  std::vector<DimensionInfo> dims;
  size_t start = 0;
  int line_number = 0;
  while (start < fingerprint.size()) {
    ++line_number;
    size_t end = fingerprint.find('\n', start);
    if (end == std::string::npos) end = fingerprint.size();
    const std::string line = fingerprint.substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    auto bad = [&](const std::string& why) {
      return DataError("search space line " + std::to_string(line_number) + " '" + line +
                       "': " + why);
    };
    DimensionInfo dim;
    const size_t after = read_name(line, dim.name);
    if (after == std::string::npos || line.compare(after, 2, ": ") != 0) {
      throw bad("expected 'name: kind ...'");
    }
    const std::string rest = line.substr(after + 2);
    const std::string kind = rest.substr(0, rest.find(' '));
    if (kind == "float" || kind == "int") {
      dim.kind = kind;
      const std::string scale =
          rest.substr(kind.size() + 1, rest.find(' ', kind.size() + 1) - kind.size() - 1);
      if (scale != "log" && scale != "linear") throw bad("expected 'log' or 'linear'");
      dim.log = scale == "log";
    } else if (kind == "categorical") {
      dim.kind = "choice";
    } else if (kind == "grid") {
      dim.kind = "grid";
    } else {
      throw bad("unknown kind '" + kind + "'");
    }
    dims.push_back(std::move(dim));
  }
  return dims;
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
  j.field("generated", static_cast<double>(std::time(nullptr)));
  j.end_object();
  return j.take();
}

}  // namespace krill::report
