#include "tune/study_file.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string_view>
#include <vector>

#include <yaml-cpp/eventhandler.h>

#include "core/error.hpp"
#include "nn/model_spec.hpp"
#include "tune/model_template.hpp"
#include "tune/params.hpp"
#include "tune/search_conditions.hpp"
#include "tune/study_files.hpp"
#include "tune/yaml_util.hpp"

namespace krill::tune {

namespace fs = std::filesystem;

namespace {

using yaml::describe;
using yaml::Entry;
using yaml::one_of;
using Strings = std::vector<std::string>;

const Strings kTopKeys{"study",  "storage",  "data", "validation", "subset",    "objective",
                       "trials", "workers",  "seed", "sampler",    "model",     "training",
                       "search", "stopping", "pbt",  "device",     "population"};
const Strings kDimKeys{"type", "low", "high", "log", "values", "choices", "when"};
const Strings kDimTypes{"float", "int", "choice", "grid"};
const Strings kObjectives{"val_accuracy", "val_loss"};
const Strings kDevices{"cpu", "cuda"};
const Strings kSamplers{"random", "sobol", "grid", "tpe", "evolution"};
// The options of `sampler:` as a map, and which samplers each belongs to.
const std::map<std::string, Strings> kSamplerOptions{
    {"preset", {"tpe"}},           {"startup", {"tpe"}},
    {"candidates", {"tpe"}},       {"multivariate", {"tpe"}},
    {"prior_weight", {"tpe"}},     {"gamma", {"tpe"}},
    {"weights", {"tpe"}},          {"bandwidth", {"tpe"}},
    {"min_bandwidth", {"tpe"}},    {"consider_endpoints", {"tpe"}},
    {"population", {"evolution"}}, {"sample", {"evolution"}},
};
const Strings kTpePresets{"krill", "optuna"};
const Strings kTpeWeights{"improvement", "age"};
const Strings kTpeBandwidths{"neighbours", "scott"};

// The parameters a schedule needs besides itself.
Strings schedule_needs(const std::string& schedule) {
  if (schedule == "step") return {"decay_every", "decay_factor"};
  if (schedule == "exp") return {"gamma"};
  return {};
}

Strings param_names(const std::string& section) {  // "" for all
  Strings out;
  for (const auto& p : training_params()) {
    if (section.empty() || section == p.section) out.emplace_back(p.name);
  }
  return out;
}

double to_double(const hpo::ParamValue& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  return std::get<double>(v);
}

// Equal values, an integer equal to the same float.
bool same_value(const hpo::ParamValue& a, const hpo::ParamValue& b) {
  if (std::holds_alternative<std::string>(a) || std::holds_alternative<std::string>(b)) {
    return a == b;
  }
  return to_double(a) == to_double(b);
}

// Where each YAML document of a text starts, from yaml-cpp's parser events. yaml-cpp 0.7 (Debian
// 12) never ends YAML::LoadAll on a token it cannot place at the top level (a stray ','): its
// parser returns an empty document without consuming the token, forever, allocating each time
// (jbeder/yaml-cpp#1040, fixed after 0.8.0). A document that starts where the previous one did
// is that loop, and is refused as a syntax error.
class DocumentMarks final : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;  // of each document
  std::vector<YAML::Mark> nodes;   // of each document's root node

  // The mark of the token the parser is stuck on, if it is.
  std::optional<YAML::Mark> stuck() const {
    const size_t n = starts.size();
    if (n >= 2 && starts[n - 1].pos == starts[n - 2].pos) return starts[n - 1];
    return std::nullopt;
  }

  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    node(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    node(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    node(mark);
  }
  void OnMapEnd() override {}

 private:
  void node(const YAML::Mark& mark) {
    if (nodes.size() < starts.size()) nodes.push_back(mark);
  }
};

// The first tab in the indentation of a line of `text` (the leading blanks), preferring the
// nearest line at or before line `near` (0-based) and then any line; nullopt when none.
std::optional<YAML::Mark> indenting_tab(const std::string& text, int near) {
  std::optional<YAML::Mark> before, after;
  int line = 0;
  for (size_t start = 0; start < text.size(); ++line) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    for (size_t i = start; i < end && (text[i] == ' ' || text[i] == '\t'); ++i) {
      if (text[i] != '\t') continue;
      YAML::Mark mark;
      mark.pos = static_cast<int>(i);
      mark.line = line;
      mark.column = static_cast<int>(i - start);
      if (line <= near) {
        before = mark;
      } else if (!after) {
        after = mark;
      }
      break;
    }
    start = end + 1;
  }
  return before ? before : after;
}

// What a file that is not a study file's text is, if so: "a SQLite database" or "not a text
// file" (a NUL byte), or "not UTF-8 text" (an invalid sequence in the first 4 KiB), with where.
std::optional<std::string> not_text(const std::string& bytes) {
  static constexpr std::string_view kSqlite{"SQLite format 3\0", 16};
  if (std::string_view(bytes).starts_with(kSqlite)) return "a SQLite database";
  const size_t n = std::min<size_t>(bytes.size(), 4096);
  if (const size_t nul = bytes.find('\0'); nul < n) {
    return "not a text file (a NUL byte at byte " + std::to_string(nul) + ")";
  }
  for (size_t i = 0; i < n;) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    const size_t len = c < 0x80           ? 1
                       : (c >> 5) == 0x6  ? 2
                       : (c >> 4) == 0xE  ? 3
                       : (c >> 3) == 0x1E ? 4
                                          : 0;
    bool ok = len > 0 && (len != 2 || c >= 0xC2) && (len != 4 || c <= 0xF4);
    for (size_t k = 1; ok && k < len; ++k) {
      if (i + k >= bytes.size()) break;  // cut by the end of the file
      if (i + k >= n) break;             // cut by the window: judged fine
      ok = (static_cast<unsigned char>(bytes[i + k]) & 0xC0) == 0x80;
    }
    if (!ok) {
      const size_t line = static_cast<size_t>(std::count(bytes.begin(), bytes.begin() + i, '\n'));
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", c);
      return "not UTF-8 text (byte " + std::string(hex) + " on line " + std::to_string(line + 1) +
             ")";
    }
    i += len;
  }
  return std::nullopt;
}

class Parser {
 public:
  // Relative paths (storage, a data folder) are resolved against `base`; a data folder is made
  // absolute only when `absolute_data` (a study read from a file may be resumed from elsewhere).
  Parser(std::string source, fs::path base, bool absolute_data)
      : src_(std::move(source)), base_(std::move(base)), absolute_data_(absolute_data) {}

  StudyFile parse(const std::string& text, const std::string& default_name);

 private:
  YAML::Node load(const std::string& text) const;
  void check_top_key(const Entry& e) const;
  const Entry* find(const char* key) const;

  std::string text(const Entry& e, const std::string& expected) const;
  fs::path storage_path(const Entry& e) const;
  std::string one_of_values(const Entry& e, const Strings& options) const;
  int64_t integer(const Entry& e, int64_t min) const;
  bool boolean(const Entry& e) const;
  // A number in [low, high] (`open_low`: (low, high]).
  double number_in(const Entry& e, double low, double high, bool open_low) const;
  hpo::SamplerConfig read_sampler(const Entry& e) const;
  double fraction(const Entry& e) const;

  void read_fixed(const Entry& section);
  void read_search(const Entry& search);
  // The rule of a parameter of the study's own (not a training parameter): its kind from its
  // value (fixed) or its dimension (searched), no bounds. Checked in check_own_names.
  const ParamInfo& own_param(const Entry& e, bool searched);
  // Returns the names the `layers` templates use.
  std::vector<std::string> check_layers() const;
  void check_own_names(std::vector<std::string> used) const;
  hpo::Dimension read_dimension(const ParamInfo& info, const Entry& dim);
  hpo::ParamValue value_of(const ParamInfo& info, const YAML::Node& node, const YAML::Node& at,
                           const std::string& label) const {
    return yaml::param_value(src_, info, node, at, label);
  }
  void check_combinations(const YAML::Node& root) const;
  void check_unused() const;
  std::string never_text(const std::string& name, const std::string& value,
                         const std::string& fallback) const;
  // Whether a trial can have `value` for parameter `name`: fixed to it, searched over it, or left
  // at it (`fallback`, the default).
  bool can_be(const std::string& name, const hpo::ParamValue& value,
              const hpo::ParamValue& fallback) const;
  // The same in a trial whose parents of conditional dimensions hold `parents`: an inactive
  // dimension is at its fallback.
  bool can_be_in(const hpo::Params& parents, const std::string& name, const hpo::ParamValue& value,
                 const hpo::ParamValue& fallback) const;
  // Whether `holds` is true for one combination of the parents' values; nullopt when there are
  // too many to list.
  std::optional<bool> some_trial(const std::function<bool(const hpo::Params&)>& holds) const;
  bool has(const std::string& name) const { return where_.contains(name); }

  yaml::Source src_;
  fs::path base_;
  bool absolute_data_;
  std::map<std::string, Entry> top_;
  StudyFile out_;
  std::map<std::string, YAML::Node> fixed_at_;                      // key nodes
  std::map<std::string, YAML::Node> where_;                         // fixed value / searched key
  std::map<std::string, std::vector<hpo::ParamValue>> candidates_;  // fixed value or choices
  std::map<std::string, std::pair<double, double>> ranges_;         // searched low, high
  int64_t grid_points_ = 1;
  bool has_grid_ = false;
  bool has_layers_ = false;                // `layers` under model: or search:
  std::vector<std::string> when_parents_;  // the names conditions under search: name
  std::map<std::string, ParamInfo> own_;   // the study's own parameters' rules (names: keys)
  std::vector<Entry> own_entries_;         // and where they are written
};

StudyFile Parser::parse(const std::string& text, const std::string& default_name) {
  const YAML::Node root = load(text);
  for (const auto& e : yaml::entries(src_, root, "study file")) {
    check_top_key(e);
    top_.emplace(e.key, e);
    out_.positions[e.key] = src_.where(e.at().Mark());
  }
  out_.name = default_name;
  if (const auto* e = find("study")) {
    out_.name = this->text(*e, "a study name");
    if (const std::string problem = study_name_problem(out_.name); !problem.empty()) {
      src_.fail(e->at(), "'study' is " + problem + ", expected " + kStudyNameRule);
    }
  }
  const auto* data = find("data");
  if (!data) {
    src_.fail(root, "missing key 'data', expected the data set: fashion-mnist, mnist or a folder");
  }
  out_.data = this->text(*data, "fashion-mnist, mnist or a folder");
  if (out_.data != "fashion-mnist" && out_.data != "mnist" && fs::path(out_.data).is_relative()) {
    const fs::path folder = base_ / out_.data;
    out_.data = (absolute_data_ ? fs::absolute(folder) : folder).lexically_normal().string();
  }
  if (const auto* e = find("validation")) out_.validation = fraction(*e);
  if (const auto* e = find("subset")) out_.subset = integer(*e, 0);
  if (const auto* e = find("objective")) out_.objective = one_of_values(*e, kObjectives);
  out_.direction =
      out_.objective == "val_loss" ? hpo::Direction::Minimize : hpo::Direction::Maximize;
  if (const auto* e = find("workers")) {
    const int64_t workers = integer(*e, 0);
    if (workers > std::numeric_limits<int>::max()) {
      src_.fail(e->at(), "'workers' is " + describe(e->value) + ", expected an integer from 0 to " +
                             std::to_string(std::numeric_limits<int>::max()));
    }
    out_.workers = static_cast<int>(workers);
  }
  if (const auto* e = find("device")) out_.device = parse_device(one_of_values(*e, kDevices));
  if (const auto* e = find("population")) {
    if (yaml::is_plain(e->value) && e->value.Scalar() == "auto") {
      out_.population = 0;
    } else {
      const auto n = yaml::is_plain(e->value) ? yaml::parse_uint(e->value.Scalar()) : std::nullopt;
      if (!n || *n < 1 || *n > static_cast<uint64_t>(kMaxPopulation)) {
        src_.fail(e->at(), "'population' is " + describe(e->value) +
                               ", expected auto or an integer from 1 to " +
                               std::to_string(kMaxPopulation));
      }
      out_.population = static_cast<int>(*n);
    }
  }
  if (const auto* e = find("seed")) {
    const auto seed = yaml::is_plain(e->value) ? yaml::parse_uint(e->value.Scalar()) : std::nullopt;
    if (!seed) src_.fail(e->at(), "'seed' is " + describe(e->value) + ", expected an integer >= 0");
    out_.seed = *seed;
  }
  if (const auto* e = find("sampler")) out_.sampler = read_sampler(*e);
  out_.sampler.direction = out_.direction;
  // model: and training: in file order, so that the first error reported is the first written.
  std::vector<const Entry*> fixed;
  for (const char* section : {"model", "training"}) {
    if (const auto* e = find(section)) fixed.push_back(e);
  }
  std::sort(fixed.begin(), fixed.end(), [](const Entry* a, const Entry* b) {
    return a->key_node.Mark().pos < b->key_node.Mark().pos;
  });
  // A name that is not a training parameter is the study's own only where `layers` can name it.
  // or a condition (`when:`) can: names are collected before reading, since a parent may be
  // declared after its child.
  for (const char* section : {"model", "search"}) {
    const auto* e = find(section);
    if (e && e->value.IsMap() && e->value["layers"]) has_layers_ = true;
  }
  if (const auto* e = find("search"); e && e->value.IsMap()) {
    for (const auto& dim : e->value) {
      const YAML::Node& when = dim.second.IsMap() ? dim.second["when"] : YAML::Node();
      if (!when || !when.IsMap()) continue;
      for (const auto& parent : when) {
        if (parent.first.IsScalar()) when_parents_.push_back(parent.first.Scalar());
      }
    }
  }
  for (const Entry* e : fixed) read_fixed(*e);
  if (const auto* e = find("search")) read_search(*e);
  if (const auto* e = find("stopping")) out_.stopping = parse_stopping(src_, *e);
  if (const auto* e = find("pbt")) out_.pbt = parse_pbt(src_, *e, out_.space);
  check_combinations(root);

  if (const auto* e = find("trials")) {
    out_.trials = integer(*e, 1);
    if (out_.pbt && out_.trials != out_.pbt->options.population) {
      src_.fail(e->at(), "'trials' is " + std::to_string(out_.trials) +
                             ", but a PBT study's trials are its population (" +
                             std::to_string(out_.pbt->options.population) +
                             "), expected no 'trials' or " +
                             std::to_string(out_.pbt->options.population));
    }
  } else if (out_.pbt) {
    out_.trials = out_.pbt->options.population;
  } else if (out_.sampler.name == "grid") {
    out_.trials = grid_points_;
  } else {
    src_.fail(root, "missing key 'trials', expected the number of trials (an integer >= 1)");
  }
  const fs::path storage =
      find("storage") ? storage_path(*find("storage")) : fs::path(out_.name + ".db");
  out_.storage =
      storage == ":memory:" || storage.is_absolute() || hpo::is_server_url(storage.string())
          ? storage
          : (base_ / storage).lexically_normal();
  return out_;
}

YAML::Node Parser::load(const std::string& text) const {
  DocumentMarks marks;
  YAML::Node root;
  try {
    std::istringstream in(text);
    YAML::Parser documents(in);
    while (documents.HandleNextDocument(marks)) {
      if (const auto stuck = marks.stuck()) {
        const auto at = static_cast<size_t>(stuck->pos);  // a token's, so within the text
        const char token = at < text.size() ? text[at] : '?';
        src_.fail(*stuck, "YAML syntax error: unexpected '" + std::string(1, token) +
                              "', expected a value");
      }
    }
    root = YAML::Load(text);  // the first document
  } catch (const YAML::Exception& e) {
    // yaml-cpp says "illegal map value" or the like for a tab in indentation: name the tab.
    if (const auto tab = indenting_tab(text, e.mark.line)) {
      src_.fail(*tab, "tabs are not allowed for indentation in YAML (line " +
                          std::to_string(tab->line + 1) + "): use spaces");
    }
    src_.fail(e.mark, "YAML syntax error: " + e.msg);
  }
  if (root.IsNull()) {
    src_.fail(YAML::Mark::null_mark(),
              "the study file is empty, expected a map of settings (see docs/STUDY-FILE.md)");
  }
  if (marks.nodes.size() > 1) {
    src_.fail(marks.nodes[1], "a second YAML document, expected one study per file");
  }
  if (!root.IsMap()) {
    src_.fail(root, "the study file is " + describe(root) + ", expected a map of settings");
  }
  return root;
}

// A training parameter written at the top level is told where it belongs; an unknown key near a
// training parameter's name (and no top-level key's) is suggested with its section.
void Parser::check_top_key(const Entry& e) const {
  if (std::find(kTopKeys.begin(), kTopKeys.end(), e.key) != kTopKeys.end()) return;
  if (const ParamInfo* info = find_training_param(e.key)) {
    const std::string section = info->section;
    const std::string example = e.value.IsScalar() && !e.value.Scalar().empty()
                                    ? "`" + section + ": {" + e.key + ": " + e.value.Scalar() + "}`"
                                    : section + ":";
    src_.fail(e.key_node, "'" + e.key + "' belongs under " + section + ":, expected " + example +
                              " (or a dimension under search:)");
  }
  if (!yaml::suggest(e.key, kTopKeys)) {
    const Strings params = param_names("");
    if (const auto near = yaml::suggest(e.key, params)) {
      src_.fail(e.key_node, "unknown key '" + e.key + "', did you mean '" + *near + "' under " +
                                find_training_param(*near)->section + ":?");
    }
  }
  yaml::unknown_key(src_, e, kTopKeys);
}

const Entry* Parser::find(const char* key) const {
  const auto it = top_.find(key);
  return it == top_.end() ? nullptr : &it->second;
}

std::string Parser::text(const Entry& e, const std::string& expected) const {
  if (!e.value.IsScalar() || e.value.Scalar().empty()) {
    src_.fail(e.at(), "'" + e.key + "' is " + describe(e.value) + ", expected " + expected);
  }
  return e.value.Scalar();
}

// A path, or a URL in SQLAlchemy's (and Optuna's) form: sqlite:///relative/path.db (three
// slashes, then a path relative to the study file's folder), sqlite:////abs/path.db (four: an
// absolute path), or a PostgreSQL server's database, postgresql://user@host:port/dbname (libpq's
// URI, kept as written). Other schemes are refused rather than taken for a folder named "mysql:".
fs::path Parser::storage_path(const Entry& e) const {
  const std::string value = text(e, "a file name");
  const size_t scheme_end = value.find("://");
  const bool url =
      scheme_end != std::string::npos && scheme_end > 0 &&
      std::isalpha(static_cast<unsigned char>(value[0])) &&
      std::all_of(
          value.begin(), value.begin() + static_cast<std::ptrdiff_t>(scheme_end), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
          });
  if (!url) return value;
  if (hpo::is_server_url(value)) return value;
  const std::string scheme = value.substr(0, scheme_end);
  std::string lower = scheme;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower != "sqlite") {
    src_.fail(e.at(), "'storage' is a " + scheme + ":// URL: " + scheme +
                          ":// is not supported, expected a SQLite file path, sqlite:///path or "
                          "postgresql://user@host:port/dbname");
  }
  const std::string path = value.substr(scheme_end + 3);  // after "sqlite://"
  if (path.size() < 2 || path[0] != '/') {
    src_.fail(e.at(), "'storage' is " + describe(e.value) +
                          ", expected sqlite:///relative/path.db or sqlite:////absolute/path.db "
                          "(three slashes before a relative path, four before an absolute one)");
  }
  return path.substr(1);  // "/rel.db" -> "rel.db", "//abs.db" -> "/abs.db"
}

std::string Parser::one_of_values(const Entry& e, const Strings& options) const {
  const std::string value = text(e, one_of(options));
  if (std::find(options.begin(), options.end(), value) == options.end()) {
    src_.fail(e.at(), "'" + e.key + "' is " + describe(e.value) + ", expected " + one_of(options));
  }
  return value;
}

int64_t Parser::integer(const Entry& e, int64_t min) const {
  const auto v = yaml::is_plain(e.value) ? yaml::parse_int(e.value.Scalar()) : std::nullopt;
  if (!v || *v < min) {
    src_.fail(e.at(), "'" + e.key + "' is " + describe(e.value) +
                          ", expected an integer >= " + std::to_string(min));
  }
  return *v;
}

bool Parser::boolean(const Entry& e) const {
  const auto b = e.value.IsScalar() ? yaml::parse_bool(e.value.Scalar()) : std::nullopt;
  if (!b) src_.fail(e.at(), "'" + e.key + "' is " + describe(e.value) + ", expected true or false");
  return *b;
}

double Parser::number_in(const Entry& e, double low, double high, bool open_low) const {
  const auto v = yaml::is_plain(e.value) ? yaml::parse_number(e.value.Scalar()) : std::nullopt;
  if (!v || !(open_low ? *v > low : *v >= low) || !(*v <= high)) {
    src_.fail(e.at(), "'" + e.key + "' is " + describe(e.value) + ", expected a number in " +
                          (open_low ? "(" : "[") + hpo::to_string(hpo::ParamValue{low}) + ", " +
                          hpo::to_string(hpo::ParamValue{high}) + "]");
  }
  return *v;
}

// `sampler: tpe`, or a map: `sampler: {name: tpe, startup: 10, candidates: 24}`.
hpo::SamplerConfig Parser::read_sampler(const Entry& e) const {
  hpo::SamplerConfig c;
  if (!e.value.IsMap()) {
    if (e.value.IsScalar() && !e.value.Scalar().empty()) {
      c.name = one_of_values(e, kSamplers);
      return c;
    }
    src_.fail(e.at(), "'sampler' is " + describe(e.value) + ", expected " + one_of(kSamplers) +
                          ", or a map such as {name: tpe, startup: 10}");
  }
  const auto entries =
      yaml::entries(src_, e.value, "sampler", "`sampler: {name: tpe, startup: 10}`");
  Strings known{"name"};
  for (const auto& [option, samplers] : kSamplerOptions) known.push_back(option);
  const Entry* name = nullptr;
  for (const auto& o : entries) {
    yaml::check_known(src_, o, known);
    if (o.key == "name") name = &o;
  }
  if (!name) src_.fail(e.value, "missing key 'name', expected one of " + one_of(kSamplers));
  c.name = one_of_values(*name, kSamplers);
  for (const auto& o : entries) {  // a preset first: the other options change it
    if (o.key == "preset" && c.name == "tpe" && one_of_values(o, kTpePresets) == "optuna") {
      c.tpe = hpo::TpeOptions::optuna();
    }
  }
  for (const auto& o : entries) {
    if (o.key == "name") continue;
    const Strings& samplers = kSamplerOptions.at(o.key);
    if (std::find(samplers.begin(), samplers.end(), c.name) == samplers.end()) {
      src_.fail(o.key_node,
                "'" + o.key + "' is an option of " + one_of(samplers) + ", not " + c.name);
    }
    if (o.key == "startup") c.tpe.startup = integer(o, 0);
    if (o.key == "candidates") c.tpe.candidates = integer(o, 1);
    if (o.key == "multivariate") c.tpe.multivariate = boolean(o);
    if (o.key == "consider_endpoints") c.tpe.consider_endpoints = boolean(o);
    if (o.key == "gamma") c.tpe.gamma = number_in(o, 0, 1, true);
    if (o.key == "min_bandwidth") c.tpe.min_bandwidth = number_in(o, 0, 1, false);
    if (o.key == "weights") {
      c.tpe.weights = one_of_values(o, kTpeWeights) == "age" ? hpo::TpeWeights::Age
                                                             : hpo::TpeWeights::Improvement;
    }
    if (o.key == "bandwidth") {
      c.tpe.bandwidth = one_of_values(o, kTpeBandwidths) == "scott" ? hpo::TpeBandwidth::Scott
                                                                    : hpo::TpeBandwidth::Neighbours;
    }
    if (o.key == "prior_weight") {
      const auto v = yaml::is_plain(o.value) ? yaml::parse_number(o.value.Scalar()) : std::nullopt;
      if (!v || !(*v > 0) || !std::isfinite(*v)) {
        src_.fail(o.at(), "'prior_weight' is " + describe(o.value) + ", expected a number > 0");
      }
      c.tpe.prior_weight = *v;
    }
    if (o.key == "population") c.evolution.population = integer(o, 1);
    if (o.key == "sample") c.evolution.sample = integer(o, 1);
  }
  for (const auto& o : entries) {
    if (o.key == "sample" && c.evolution.sample > c.evolution.population) {
      src_.fail(o.at(), "'sample' is " + std::to_string(c.evolution.sample) +
                            ", more than the population (" +
                            std::to_string(c.evolution.population) +
                            "), expected at most the population");
    }
  }
  if (c.name == "evolution" && c.evolution.sample > c.evolution.population) {
    src_.fail(e.value,
              "the population (" + std::to_string(c.evolution.population) +
                  ") is smaller than the default sample (" + std::to_string(c.evolution.sample) +
                  "), expected a sample: of at most " + std::to_string(c.evolution.population));
  }
  return c;
}

double Parser::fraction(const Entry& e) const {  // `validation`
  const auto v = yaml::is_plain(e.value) ? yaml::parse_number(e.value.Scalar()) : std::nullopt;
  if (!v || *v <= 0 || *v >= 1) {
    src_.fail(e.at(), "'" + e.key + "' is " + describe(e.value) +
                          ", expected a number in (0, 1): the validation objective needs one");
  }
  return *v;
}

void Parser::read_fixed(const Entry& section) {
  const Strings known = param_names(section.key);
  const std::string example = section.key == "model" ? "`model: {depth: 2, activation: relu}`"
                                                     : "`training: {optimizer: adam, epochs: 1}`";
  for (const auto& e : yaml::entries(src_, section.value, section.key, example)) {
    const ParamInfo* info = find_training_param(e.key);
    if (!info && section.key == "model" && has_layers_) info = &own_param(e, false);
    if (!info) yaml::unknown_key(src_, e, known);
    if (info->section != section.key) {
      src_.fail(e.key_node, "'" + e.key + "' is a " + info->section +
                                " parameter, expected it under " + info->section + ":");
    }
    const hpo::ParamValue value = value_of(*info, e.value, e.at(), "'" + e.key + "'");
    out_.fixed[e.key] = value;
    out_.positions[e.key] = src_.where(e.at().Mark());
    fixed_at_[e.key] = e.key_node;
    where_[e.key] = e.at();
    candidates_[e.key] = {value};
  }
}

void Parser::read_search(const Entry& search) {
  const Strings known = param_names("");
  const std::string example = "`search: {lr: {type: float, low: 0.001, high: 0.1, log: true}}`";
  std::vector<SearchEntry> entries;
  for (const auto& e : yaml::entries(src_, search.value, "search", example)) {
    const ParamInfo* info = find_training_param(e.key);
    const bool parent =
        std::find(when_parents_.begin(), when_parents_.end(), e.key) != when_parents_.end();
    if (!info && (has_layers_ || parent)) info = &own_param(e, true);  // check_own_names
    if (!info) yaml::unknown_key(src_, e, known);
    if (const auto it = fixed_at_.find(e.key); it != fixed_at_.end()) {
      src_.fail(e.key_node, "'" + e.key + "' is searched here and fixed at " +
                                yaml::line_column(it->second.Mark()) + " under " + info->section +
                                ":, expected one or the other");
    }
    SearchEntry entry{e.key, e.key_node, read_dimension(*info, e), std::nullopt};
    for (const auto& f : yaml::entries(src_, e.value, e.key)) {
      if (f.key == "when") entry.when = f;
    }
    // Checked here, as before conditions existed; build_search_space adds them in order.
    try {
      hpo::SearchSpace().add(e.key, entry.dim);
    } catch (const InvalidArgument& error) {
      src_.fail(e.value, error.what());
    }
    entries.push_back(std::move(entry));
    out_.positions[e.key] = src_.where(e.key_node.Mark());
    where_[e.key] = e.key_node;
  }
  out_.space = build_search_space(src_, entries, fixed_at_);
  if (out_.sampler.name == "grid" && out_.space.conditional()) {
    // A grid point's dimensions must not depend on a random draw; points that differ only in
    // inactive dimensions are one point.
    for (size_t i = 0; i < entries.size(); ++i) {
      if (!std::holds_alternative<hpo::GridDim>(entries[i].dim)) continue;
      for (auto at = std::optional<size_t>(i); at && out_.space.condition(*at);) {
        const std::string& parent = out_.space.condition(*at)->parent;
        at = out_.space.index_of(parent);
        if (!std::holds_alternative<hpo::GridDim>(out_.space.dimensions()[*at].second)) {
          src_.fail(entries[i].when->key_node,
                    "'" + entries[i].name + "' is a grid dimension that depends on '" + parent +
                        "', which is not of type grid: the grid's points would depend on a "
                        "random draw, expected '" +
                        parent + "' of type grid or '" + entries[i].name + "' of type choice");
        }
      }
    }
    try {
      grid_points_ = out_.space.grid_size();
    } catch (const InvalidArgument& error) {
      src_.fail(search.key_node, error.what());
    }
  }
}

hpo::Dimension Parser::read_dimension(const ParamInfo& info, const Entry& dim) {
  const std::string name = "'" + dim.key + "'";
  if (!dim.value.IsMap()) {
    src_.fail(dim.at(), "search " + name + " is " + describe(dim.value) +
                            ", expected a dimension such as {type: float, low: 0.001, high: 0.1}");
  }
  const auto fields = yaml::entries(src_, dim.value, dim.key);
  const auto field = [&](const std::string& key) -> const Entry* {
    for (const auto& f : fields) {
      if (f.key == key) return &f;
    }
    return nullptr;
  };
  for (const auto& f : fields) yaml::check_known(src_, f, kDimKeys);
  const Entry* type_entry = field("type");
  if (!type_entry) {
    src_.fail(dim.value, "search " + name + " has no 'type', expected type: " + one_of(kDimTypes));
  }
  // `categorical` (the name the report and export give a choice dimension) is `choice`.
  std::string type = text(*type_entry, one_of(kDimTypes));
  if (type == "categorical") type = "choice";
  if (std::find(kDimTypes.begin(), kDimTypes.end(), type) == kDimTypes.end()) {
    src_.fail(type_entry->at(),
              "'type' is " + describe(type_entry->value) + ", expected " + one_of(kDimTypes));
  }
  const Strings fit = info.kind == ParamKind::Float ? Strings{"float", "choice", "grid"}
                      : info.kind == ParamKind::Int ? Strings{"int", "choice", "grid"}
                                                    : Strings{"choice", "grid"};
  if (std::find(fit.begin(), fit.end(), type) == fit.end()) {
    src_.fail(type_entry->at(), "type '" + type + "' for " + name + ", " +
                                    yaml::kind_label(info.kind) + " parameter, expected type " +
                                    one_of(fit));
  }
  const bool range = type == "float" || type == "int";
  const Strings applies = range              ? Strings{"type", "low", "high", "log", "when"}
                          : type == "choice" ? Strings{"type", "values", "choices", "when"}
                                             : Strings{"type", "values", "when"};
  for (const auto& f : fields) {
    if (std::find(applies.begin(), applies.end(), f.key) == applies.end()) {
      src_.fail(f.key_node, "key '" + f.key + "' does not apply to type " + type + ", expected " +
                                one_of(Strings(applies.begin() + 1, applies.end())));
    }
  }
  const auto required = [&](const std::string& key) -> const Entry& {
    const Entry* f = field(key);
    if (!f) {
      src_.fail(dim.value, "search " + name + " has no '" + key + "', expected " +
                               (range ? "low and high" : "values") + " for type " + type);
    }
    return *f;
  };

  if (range) {
    const Entry& low = required("low");
    const Entry& high = required("high");
    bool log = false;
    if (const Entry* f = field("log")) {
      const auto b = yaml::is_plain(f->value) ? yaml::parse_bool(f->value.Scalar()) : std::nullopt;
      if (!b) src_.fail(f->at(), "'log' is " + describe(f->value) + ", expected true or false");
      log = *b;
    }
    const auto bound = [&](const Entry& f) {
      return value_of(info, f.value, f.at(), "'" + f.key + "' of " + name);
    };
    const hpo::ParamValue low_value = bound(low), high_value = bound(high);
    const double lo = to_double(low_value), hi = to_double(high_value);
    if (lo > hi) {
      src_.fail(low.at(), "'low' " + low.value.Scalar() + " is above 'high' " +
                              high.value.Scalar() + " for " + name + ", expected low <= high");
    }
    if (log && lo <= 0) {
      src_.fail(low.at(), "'low' is " + low.value.Scalar() + " in the log range of " + name +
                              ", expected low > 0 with log: true");
    }
    ranges_[dim.key] = {lo, hi};
    if (type == "float") return hpo::FloatDim{lo, hi, log};
    return hpo::IntDim{std::get<int64_t>(low_value), std::get<int64_t>(high_value), log};
  }

  // `choices` (Optuna's word) is another name for a choice's `values`.
  if (field("values") && field("choices")) {
    src_.fail(field("choices")->key_node,
              "'choices' and 'values' of " + name + " are the same list, expected one of the two");
  }
  const Entry& values = required(field("choices") ? "choices" : "values");
  if (!values.value.IsSequence() || values.value.size() == 0) {
    src_.fail(values.at(), "'values' of " + name + " is " + describe(values.value) +
                               ", expected a list of at least one value, such as [32, 64]");
  }
  std::vector<hpo::ParamValue> list;
  for (const auto& element : values.value) {
    hpo::ParamValue v = value_of(info, element, element, "a value of " + name);
    if (std::find(list.begin(), list.end(), v) != list.end()) {
      src_.fail(element, "a value of " + name + " is listed twice (" + describe(element) +
                             "), expected distinct values");
    }
    list.push_back(std::move(v));
  }
  candidates_[dim.key] = list;
  if (type == "choice") return hpo::CategoricalDim{std::move(list)};
  has_grid_ = true;
  if (grid_points_ > std::numeric_limits<int64_t>::max() / static_cast<int64_t>(list.size())) {
    src_.fail(values.value, "the grid is too large, expected fewer than 2^63 points");
  }
  grid_points_ *= static_cast<int64_t>(list.size());
  return hpo::GridDim{std::move(list)};
}

void Parser::check_combinations(const YAML::Node& root) const {
  check_own_names(check_layers());
  if (out_.pbt && out_.stopping.rule != "none") {
    src_.fail(find("pbt")->key_node, "pbt and stopping: (rule " + out_.stopping.rule +
                                         ") do not combine: PBT replaces the least fit members "
                                         "instead of stopping them, expected one of the two");
  }
  // Members on workers need one each; trained together (`population` at least the PBT's, or auto
  // on cuda: 64) they need none each (STUDY-FILE.md).
  const int64_t members = out_.pbt ? out_.pbt->options.population : 0;
  const int together = out_.population == 0 && out_.device == Device::Cuda ? 64 : out_.population;
  if (out_.pbt && out_.workers > 0 && out_.workers < members &&
      !(together > 1 && together >= members)) {
    src_.fail(find("workers")->value,
              "'workers' is " + std::to_string(out_.workers) + ", but the PBT population of " +
                  std::to_string(members) + " trains at once, expected no 'workers', at least " +
                  std::to_string(members) + " (a member per worker), or 'population' at least " +
                  std::to_string(members) + " (the members trained together)");
  }
  if (const auto it = candidates_.find("schedule"); it != candidates_.end()) {
    for (const auto& schedule : it->second) {
      const std::string& s = std::get<std::string>(schedule);
      for (const auto& needed : schedule_needs(s)) {
        if (!has(needed)) {
          src_.fail(where_.at("schedule"), "schedule '" + s + "' without '" + needed +
                                               "', expected " + needed +
                                               " under training: or search:");
        }
        // A conditional `needed` must be active whenever the schedule can be s.
        const auto index = out_.space.index_of(needed);
        if (!index || !out_.space.condition(*index)) continue;
        const bool missing =
            some_trial([&](const hpo::Params& parents) {
              return can_be_in(parents, "schedule", schedule, std::string("constant")) &&
                     !out_.space.active(*index, parents);
            }).value_or(false);
        if (missing) {
          const std::string condition = out_.space.condition(*index)->describe();
          src_.fail(where_.at(needed),
                    "'" + needed + "' is searched only if " + condition +
                        ", but schedule can be '" + s + "' without it, " +
                        "expected a condition that holds whenever schedule is '" + s + "'");
        }
      }
    }
  }
  check_unused();
  if (has("hidden")) {
    for (const char* other : {"width", "depth"}) {
      if (has(other)) {
        src_.fail(where_.at(other), std::string("'") + other + "' and 'hidden' (at " +
                                        yaml::line_column(where_.at("hidden").Mark()) +
                                        ") are both set, expected hidden or width and depth");
      }
    }
  }
  // sgd refuses Nesterov momentum without momentum.
  const auto nesterov_without_momentum = [&](const hpo::Params& parents) {
    return can_be_in(parents, "nesterov", int64_t{1}, int64_t{0}) &&
           can_be_in(parents, "momentum", 0.0, 0.0) &&
           can_be_in(parents, "optimizer", std::string("sgd"), std::string("sgd"));
  };
  // With too many combinations of parents to list, each alone (a conditional one may also be
  // inactive, at its default).
  const auto alone = [&](const std::string& name, const hpo::ParamValue& value,
                         const hpo::ParamValue& fallback) {
    const auto index = out_.space.index_of(name);
    return can_be(name, value, fallback) ||
           (index && out_.space.condition(*index) && same_value(fallback, value));
  };
  if (some_trial(nesterov_without_momentum)
          .value_or(alone("nesterov", int64_t{1}, int64_t{0}) && alone("momentum", 0.0, 0.0) &&
                    alone("optimizer", std::string("sgd"), std::string("sgd")))) {
    const auto momentum_index = out_.space.index_of("momentum");
    const bool momentum_conditional =
        momentum_index && out_.space.condition(*momentum_index) && !can_be("momentum", 0.0, 0.0);
    const std::string momentum =
        !has("momentum") ? "momentum 0 (the default)"
        : momentum_conditional
            ? "momentum 0 (its default, where its condition " +
                  out_.space.condition(*momentum_index)->describe() + " is false)"
        : candidates_.contains("momentum") && !ranges_.contains("momentum")
            ? "momentum 0 (at " + yaml::line_column(where_.at("momentum").Mark()) + ")"
            : "momentum 0 (in the range at " + yaml::line_column(where_.at("momentum").Mark()) +
                  ")";
    const char* nesterov = out_.fixed.contains("nesterov") ? "is" : "can be";
    src_.fail(where_.at("nesterov"), std::string("'nesterov' ") + nesterov + " 1 with " + momentum +
                                         ", expected momentum above 0 for Nesterov momentum "
                                         "(sgd refuses it without)");
  }
  if (out_.sampler.name == "grid" && !has_grid_) {
    src_.fail(find("sampler") ? find("sampler")->value : root,
              "sampler 'grid' without a dimension of type grid, expected at least one under "
              "search:");
  }
}

// "is constant (the default)", "is 'adam' (at 6:14)", "is never 'exp' (its values at 9:3: constant
// or step)": what a text parameter is, said where it never is `value`.
std::string Parser::never_text(const std::string& name, const std::string& value,
                               const std::string& fallback) const {
  if (!has(name)) return "is " + fallback + " (the default)";
  const std::string at = yaml::line_column(where_.at(name).Mark());
  const auto& list = candidates_.at(name);
  if (out_.fixed.contains(name))
    return "is '" + std::get<std::string>(list.front()) + "' (at " + at + ")";
  Strings names;
  for (const auto& v : list) names.push_back(std::get<std::string>(v));
  return "is never '" + value + "' (its values at " + at + ": " + yaml::one_of(names) + ")";
}

// A parameter that no trial uses would be set, or searched, and change nothing: a schedule's
// parameter where no trial has that schedule, SGD's momentum where every trial uses adam.
void Parser::check_unused() const {
  static const std::pair<const char*, const char*> kScheduleParams[] = {
      {"decay_every", "step"}, {"decay_factor", "step"}, {"gamma", "exp"},
      {"warmup", "cosine"},    {"min_factor", "cosine"},
  };
  for (const auto& [param, schedule] : kScheduleParams) {
    if (!has(param) || can_be("schedule", std::string(schedule), std::string("constant"))) continue;
    src_.fail(where_.at(param), std::string("'") + param + "' is the " + schedule +
                                    " schedule's, but schedule " +
                                    never_text("schedule", schedule, "constant") +
                                    ", expected schedule " + schedule + " (or no '" + param + "')");
  }
  // A conditional optimizer is sgd, its default, where it is not active.
  const auto optimizer = out_.space.index_of("optimizer");
  const bool sgd = can_be("optimizer", std::string("sgd"), std::string("sgd")) ||
                   (optimizer && out_.space.condition(*optimizer));
  // momentum: 0 and nesterov: 0 are what adam has, and say nothing wrong.
  const auto only_zero = [&](const char* name) {
    const auto it = out_.fixed.find(name);
    return it != out_.fixed.end() && same_value(it->second, 0.0);
  };
  for (const char* param : {"momentum", "nesterov"}) {
    if (sgd || !has(param) || only_zero(param)) continue;
    src_.fail(where_.at(param), std::string("'") + param + "' is SGD's, but optimizer " +
                                    never_text("optimizer", "sgd", "sgd") +
                                    ": adam has no momentum, expected optimizer sgd (or no '" +
                                    param + "')");
  }
}

const ParamInfo& Parser::own_param(const Entry& e, bool searched) {
  own_entries_.push_back(e);
  // Integers when every value is one, numbers when every value is one, else text.
  const auto kind_of = [](const std::vector<YAML::Node>& values) {
    bool integers = !values.empty(), numbers = !values.empty();
    for (const auto& v : values) {
      const bool plain = yaml::is_plain(v) && v.IsScalar();
      integers = integers && plain && yaml::parse_int(v.Scalar()).has_value();
      numbers = numbers && plain && yaml::parse_number(v.Scalar()).has_value();
    }
    return integers ? ParamKind::Int : numbers ? ParamKind::Float : ParamKind::String;
  };
  ParamKind kind = ParamKind::String;
  if (!searched) {
    kind = kind_of({e.value});
  } else if (e.value.IsMap()) {
    const YAML::Node type = e.value["type"];
    const YAML::Node values = e.value["values"] ? e.value["values"] : e.value["choices"];
    const std::string t = type && type.IsScalar() ? type.Scalar() : "";
    if (t == "int") {
      kind = ParamKind::Int;
    } else if (t == "float") {
      kind = ParamKind::Float;
    } else if (values && values.IsSequence()) {
      kind = kind_of(std::vector<YAML::Node>(values.begin(), values.end()));
    }
  }
  const auto [it, added] = own_.try_emplace(e.key);
  it->second = ParamInfo{it->first.c_str(), kind, "model", "the study's own parameter"};
  return it->second;
}

std::vector<std::string> Parser::check_layers() const {
  const auto it = candidates_.find("layers");
  if (it == candidates_.end()) return {};
  const YAML::Node& at = where_.at("layers");
  std::vector<std::string> used;
  for (const auto& value : it->second) {
    const std::string& text = std::get<std::string>(value);
    std::vector<std::string> names;
    nn::ModelSpec spec;
    try {
      names = template_names(text);
      if (names.empty()) spec = nn::parse_model_spec(text);
    } catch (const InvalidArgument& e) {
      src_.fail(at, e.what());
    }
    used.insert(used.end(), names.begin(), names.end());
    // A name every trial needs that no trial has: each would fail when it builds its model.
    for (const std::string& name : names.empty() ? names : required_template_names(text)) {
      if (has(name)) continue;
      std::vector<std::string> known;  // the study's searched and fixed names
      for (const auto& [key, node] : where_) known.push_back(key);
      const auto near = yaml::suggest(name, known);
      src_.fail(at, "layers '" + text + "': '{" + name +
                        "}' is neither searched nor fixed, expected '" + name + "' under " +
                        (find_training_param(name)
                             ? std::string("search: or ") + find_training_param(name)->section + ":"
                             : std::string("search: or model:")) +
                        (near ? " (did you mean '" + *near + "'?)" : "") +
                        ", or its layers in [ ] to make them optional");
    }
    const bool list =
        names.empty() ? spec.is_list : !(text.starts_with("mlp:") || text.starts_with("linear"));
    for (const char* option : {"activation", "dropout"}) {
      if (list && has(option) && std::find(names.begin(), names.end(), option) == names.end()) {
        src_.fail(where_.at(option),
                  std::string("'") + option + "' is set beside layers '" + text + "' (at " +
                      yaml::line_column(at.Mark()) +
                      "), a list with its activations and dropout as layers, expected it written "
                      "in layers (relu, dropout:0.2) or as {" +
                      option + "}");
      }
    }
  }
  for (const char* shorthand : {"hidden", "width", "depth"}) {
    if (has(shorthand) && std::find(used.begin(), used.end(), shorthand) == used.end()) {
      src_.fail(where_.at(shorthand),
                std::string("'") + shorthand + "' and 'layers' (at " +
                    yaml::line_column(at.Mark()) +
                    ") are both set: layers gives the network, expected one or the other (or "
                    "{" +
                    shorthand +
                    "} in layers; a parameter of the study's own takes a name "
                    "that is not a training parameter's, such as n_layers)");
    }
  }
  return used;
}

void Parser::check_own_names(std::vector<std::string> used) const {
  if (own_entries_.empty()) return;
  // A condition's parent: an own dimension that switches others on and off.
  for (size_t i = 0; i < out_.space.size(); ++i) {
    if (const auto& c = out_.space.condition(i)) used.push_back(c->parent);
  }
  for (const Entry& e : own_entries_) {
    if (std::find(used.begin(), used.end(), e.key) != used.end()) continue;
    const auto near = yaml::suggest(e.key, param_names(""));
    src_.fail(e.key_node, "'" + e.key + "' is not a training parameter, and neither layers ({" +
                              e.key +
                              "}) nor a condition (when:) names it, expected a training "
                              "parameter" +
                              (near ? " (did you mean '" + *near + "'?)" : "") + " or {" + e.key +
                              "} in layers");
  }
}

bool Parser::can_be_in(const hpo::Params& parents, const std::string& name,
                       const hpo::ParamValue& value, const hpo::ParamValue& fallback) const {
  const auto index = out_.space.index_of(name);
  if (!index || !out_.space.conditional()) return can_be(name, value, fallback);
  if (!out_.space.active(*index, parents)) return same_value(fallback, value);
  if (const auto it = parents.find(name); it != parents.end()) return same_value(it->second, value);
  return can_be(name, value, fallback);
}

std::optional<bool> Parser::some_trial(const std::function<bool(const hpo::Params&)>& holds) const {
  bool found = false;
  const bool listed = for_each_parent_combination(
      out_.space, [&](const hpo::Params& parents) { found = found || holds(parents); });
  if (!listed) return std::nullopt;
  return found;
}

bool Parser::can_be(const std::string& name, const hpo::ParamValue& value,
                    const hpo::ParamValue& fallback) const {
  const auto same = same_value;
  if (const auto it = ranges_.find(name); it != ranges_.end()) {
    const double v = to_double(value);
    return it->second.first <= v && v <= it->second.second;
  }
  if (const auto it = candidates_.find(name); it != candidates_.end()) {
    return std::any_of(it->second.begin(), it->second.end(),
                       [&](const hpo::ParamValue& c) { return same(c, value); });
  }
  return same(fallback, value);
}

}  // namespace

std::string StudyFile::where(const std::string& key) const {
  if (const auto it = positions.find(key); it != positions.end()) return it->second;
  return path.empty() ? std::string() : path.string() + ": ";
}

std::string StudyFile::canonical() const {
  std::string out;
  const auto line = [&](const std::string& key, const std::string& value) {
    out += key + ": " + value + "\n";
  };
  line("data", yaml::quote(data));
  line("validation", yaml::format_double(validation));
  line("subset", std::to_string(subset));
  line("objective", yaml::quote(objective));
  line("sampler", yaml::quote(sampler.text()));
  line("seed", std::to_string(seed));
  for (const auto& [param, value] : fixed) line("fixed " + param, yaml::canonical(value));
  line("space", yaml::quote(space.fingerprint()));
  return out;
}

StudyFile load_study_file(const fs::path& file) {
  const std::string prefix = file.string() + ": cannot read study file (";
  std::error_code ec;
  const auto status = fs::status(file, ec);
  if (!fs::exists(status)) throw DataError(prefix + "no such file)");
  if (fs::is_directory(status)) throw DataError(prefix + "a folder, expected a YAML file)");
  std::ifstream in(file, std::ios::binary);
  // A study file is a page of YAML: read at most kMaxStudyFileBytes (a device such as /dev/zero,
  // or a huge file given by mistake, would otherwise fill the memory).
  constexpr size_t kMaxStudyFileBytes = size_t{4} << 20;
  std::string text;
  if (in) {
    std::vector<char> chunk(64 * 1024);
    while (in.read(chunk.data(), static_cast<std::streamsize>(chunk.size())) || in.gcount() > 0) {
      text.append(chunk.data(), static_cast<size_t>(in.gcount()));
      if (text.size() > kMaxStudyFileBytes) {
        throw DataError(file.string() + " is larger than 4 MiB, expected a study file (YAML text)");
      }
    }
    if (!in.bad()) in.clear();  // the end of the file, not an error
  }
  if (!in || in.bad()) {
    std::string reason = std::strerror(errno);
    if (!reason.empty()) reason[0] = static_cast<char>(std::tolower(reason[0]));
    throw DataError(prefix + reason + ")");
  }
  if (const auto what = not_text(text)) {
    if (what->starts_with("a SQLite")) {
      throw DataError(file.string() +
                      " is a SQLite database, not a study file (YAML): krill show " +
                      file.string() + " reads it");
    }
    throw DataError(file.string() + " is " + *what + ", expected a study file (YAML text)");
  }
  Parser parser(file.string(), file.parent_path(), true);
  StudyFile study = parser.parse(text, file.stem().string());
  study.path = file;
  return study;
}

StudyFile parse_study_file(const std::string& yaml_text, const std::string& source) {
  return Parser(source, fs::path(), false).parse(yaml_text, "study");
}

}  // namespace krill::tune
