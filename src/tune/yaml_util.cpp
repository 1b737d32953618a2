#include "tune/yaml_util.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <map>

#include "core/error.hpp"
#include "tune/params.hpp"

namespace krill::tune::yaml {

namespace {

std::string lower_snake(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = c == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::vector<std::string> words(std::string_view key) {
  std::vector<std::string> out;
  std::string word;
  for (char c : lower_snake(key)) {
    if (c == '_' || c == ' ' || c == '.') {
      if (!word.empty()) out.push_back(std::move(word));
      word.clear();
    } else {
      word += c;
    }
  }
  if (!word.empty()) out.push_back(std::move(word));
  return out;
}

template <typename T>
std::optional<T> parse_integer(std::string_view text) {
  if (!text.empty() && text.front() == '+') {
    text.remove_prefix(1);
    if (!text.empty() && text.front() == '-') return std::nullopt;
  }
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::string line_column(const YAML::Mark& mark) {
  if (mark.line < 0 || mark.column < 0) return "1:1";
  return std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

std::string Source::where(const YAML::Mark& mark) const {
  return name_ + ":" + line_column(mark) + ": ";
}

void Source::fail(const YAML::Mark& mark, const std::string& message) const {
  // A control byte from the file (a scalar, yaml-cpp's message) is written as \xNN: an error is
  // one printable line.
  std::string line;
  for (const char c : where(mark) + message) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b != 0x7F) {
      line += c;
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      line += c == '\t' ? std::string("\\t") : std::string("\\x") + kHex[b >> 4] + kHex[b & 15];
    }
  }
  throw InvalidArgument(line);
}

std::vector<Entry> entries(const Source& source, const YAML::Node& map, const std::string& what,
                           const std::string& example) {
  if (!map.IsDefined() || map.IsNull()) return {};
  if (!map.IsMap()) {
    source.fail(map, "'" + what + "' is " + describe(map) + ", expected a map" +
                         (example.empty() ? "" : ", e.g. " + example));
  }
  std::vector<Entry> out;
  std::map<std::string, YAML::Mark> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (!it->first.IsScalar()) {
      source.fail(it->first, "a key is " + describe(it->first) + ", expected a name");
    }
    const std::string key = it->first.Scalar();
    if (const auto [prev, inserted] = seen.emplace(key, it->first.Mark()); !inserted) {
      source.fail(it->first, "duplicate key '" + key + "' (first at " + line_column(prev->second) +
                                 "), expected each key once");
    }
    out.push_back({key, it->first, it->second});
  }
  return out;
}

void check_known(const Source& source, const Entry& entry, std::span<const std::string> known) {
  if (std::find(known.begin(), known.end(), entry.key) == known.end()) {
    unknown_key(source, entry, known);
  }
}

void unknown_key(const Source& source, const Entry& entry, std::span<const std::string> known) {
  if (const auto near = suggest(entry.key, known)) {
    source.fail(entry.key_node, "unknown key '" + entry.key + "', did you mean '" + *near + "'?");
  }
  std::string list;
  for (const auto& k : known) {
    if (!list.empty()) list += ", ";
    list += k;
  }
  source.fail(entry.key_node, "unknown key '" + entry.key + "', expected one of " + list);
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::optional<std::string> suggest(std::string_view key, std::span<const std::string> known) {
  const std::string k = lower_snake(key);
  const std::string* best = nullptr;
  size_t best_distance = 0;
  for (const auto& candidate : known) {
    const size_t d = edit_distance(k, lower_snake(candidate));
    if (!best || d < best_distance) {
      best = &candidate;
      best_distance = d;
    }
  }
  if (best && best_distance <= std::max<size_t>(2, key.size() / 3)) return *best;

  const auto parts = words(key);
  std::string initials;
  for (const auto& w : parts) initials += w.front();
  for (const auto& candidate : known) {
    if (parts.size() > 1 && lower_snake(candidate) == initials) return candidate;
  }
  for (const auto& candidate : known) {
    if (std::find(parts.begin(), parts.end(), lower_snake(candidate)) != parts.end()) {
      return candidate;
    }
  }
  return std::nullopt;
}

std::string describe(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "empty";
  if (node.IsMap()) return "a map";
  if (node.IsSequence()) return node.size() == 0 ? "an empty list" : "a list";
  if (is_plain(node)) return "'" + node.Scalar() + "'";
  return "the string \"" + node.Scalar() + "\"";
}

std::string one_of(std::span<const std::string> names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += names[i];
  }
  return out;
}

bool is_plain(const YAML::Node& node) {
  // yaml-cpp tags plain scalars "?" and quoted ones "!"; an explicit tag (!!str) is not plain.
  return node.IsScalar() && node.Tag() == "?";
}

std::optional<int64_t> parse_int(std::string_view text) {
  return parse_integer<int64_t>(text);
}
std::optional<uint64_t> parse_uint(std::string_view text) {
  return parse_integer<uint64_t>(text);
}

std::optional<double> parse_number(std::string_view text) {
  if (!text.empty() && text.front() == '+') {
    text.remove_prefix(1);
    if (!text.empty() && text.front() == '-') return std::nullopt;
  }
  if (text.empty()) return std::nullopt;
  const char c = text.front() == '-' && text.size() > 1 ? text[1] : text.front();
  if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.') return std::nullopt;  // no inf/nan
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::optional<bool> parse_bool(std::string_view text) {
  const std::string t = lower_snake(text);
  if (t == "true" || t == "yes" || t == "on") return true;
  if (t == "false" || t == "no" || t == "off") return false;
  return std::nullopt;
}

std::string format_double(double v) {
  char buffer[64];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
  std::string out(buffer, ec == std::errc{} ? end : buffer);
  if (out.find_first_of(".eni") == std::string::npos) out += ".0";
  return out;
}

std::string kind_label(ParamKind kind) {
  if (kind == ParamKind::Int) return "an integer";
  if (kind == ParamKind::Float) return "a float";
  return "a string";
}

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c == '\n' ? std::string("\\n") : std::string(1, c);
  }
  return out + "\"";
}

std::string canonical(const hpo::ParamValue& v) {
  if (const auto* d = std::get_if<double>(&v)) return format_double(*d);
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  return quote(std::get<std::string>(v));
}

hpo::ParamValue param_value(const Source& source, const ParamInfo& info, const YAML::Node& node,
                            const YAML::Node& at, const std::string& label) {
  const auto bad = [&] {
    source.fail(at, label + " is " + describe(node) + ", expected " + expected_value(info));
  };
  const bool hidden = std::string_view(info.name) == "hidden";
  if (hidden && node.IsSequence()) {                         // [512, 256] -> "512,256"
    const ParamInfo& width = *find_training_param("width");  // a hidden layer's rule
    std::string widths;
    for (const auto& w : node) {
      const auto v = is_plain(w) ? parse_int(w.Scalar()) : std::nullopt;
      if (!v || !allowed(width, *v)) {
        source.fail(w,
                    label + " has a width " + describe(w) + ", expected " + expected_value(width));
      }
      if (!widths.empty()) widths += ',';
      widths += std::to_string(*v);
    }
    if (widths.empty()) bad();
    return widths;
  }
  if (!node.IsScalar() || node.Scalar().empty()) bad();
  const std::string& text = node.Scalar();
  const bool plain = is_plain(node);
  hpo::ParamValue value = text;
  if (info.kind == ParamKind::Int) {
    const auto v = plain ? parse_int(text) : std::nullopt;
    if (!v) bad();
    value = *v;
  } else if (info.kind == ParamKind::Float) {
    const auto v = plain ? parse_number(text) : std::nullopt;
    if (!v) bad();
    value = *v;
  } else if (hidden) {  // "512, 256" -> "512,256"
    const auto widths = parse_widths(text);
    if (!widths) bad();
    std::string normalised;
    for (const int64_t w : *widths) {
      if (!normalised.empty()) normalised += ',';
      normalised += std::to_string(w);
    }
    value = normalised;
  }
  if (!allowed(info, value)) bad();
  return value;
}

}  // namespace krill::tune::yaml
