#include "tune/stored_settings.hpp"

#include <charconv>
#include <map>
#include <optional>
#include <string_view>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "tune/yaml_util.hpp"

namespace krill::tune {

namespace {

DataError unreadable(const std::string& what) {
  return DataError("the study's stored settings " + what +
                   " (a study made by krill tune keeps them; this one was not, or by a krill "
                   "that wrote them otherwise)");
}

// The inverse of yaml::quote: "\"a \\\"b\\\"\\n\"" -> a "b" and a newline.
std::optional<std::string> unquote(std::string_view text) {
  if (text.size() < 2 || text.front() != '"' || text.back() != '"') return std::nullopt;
  text = text.substr(1, text.size() - 2);
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      ++i;
      out += text[i] == 'n' ? '\n' : text[i];
    } else {
      out += text[i];
    }
  }
  return out;
}

// The inverse of yaml::canonical: a quoted string, an integer, or a double (format_double writes
// a '.', an exponent, inf or nan, so that it never reads as an integer).
std::optional<hpo::ParamValue> value_of(std::string_view text) {
  if (text.starts_with('"')) {
    auto s = unquote(text);
    if (!s) return std::nullopt;
    return hpo::ParamValue(std::move(*s));
  }
  if (auto i = yaml::parse_int(text)) return hpo::ParamValue(*i);
  double d = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return hpo::ParamValue(d);
}

}  // namespace

StoredSettings read_stored_settings(const std::string& config) {
  std::map<std::string, std::string, std::less<>> lines;
  StoredSettings out;
  size_t start = 0;
  while (start < config.size()) {
    size_t end = config.find('\n', start);
    if (end == std::string::npos) end = config.size();
    const std::string_view line = std::string_view(config).substr(start, end - start);
    start = end + 1;
    const size_t colon = line.find(": ");
    if (colon == std::string_view::npos) continue;
    const std::string key(line.substr(0, colon));
    const std::string_view text = line.substr(colon + 2);
    if (key.starts_with("fixed ")) {
      const auto value = value_of(text);
      if (!value) throw unreadable("have '" + std::string(line) + "', expected a value");
      out.fixed[key.substr(6)] = *value;
    } else {
      lines[key] = text;
    }
  }
  const auto text_of = [&](const std::string& key) -> const std::string& {
    auto it = lines.find(key);
    if (it == lines.end()) throw unreadable("have no '" + key + "' line");
    return it->second;
  };
  const auto bad = [&](const std::string& key, const std::string& expected) {
    return unreadable("have '" + key + ": " + text_of(key) + "', expected " + expected);
  };
  const auto quoted = [&](const std::string& key) {
    auto s = unquote(text_of(key));
    if (!s) throw bad(key, "a quoted text");
    return *s;
  };
  out.data = quoted("data");
  out.objective = quoted("objective");
  out.sampler = quoted("sampler");
  const auto validation = yaml::parse_number(text_of("validation"));
  if (!validation) throw bad("validation", "a number");
  out.validation = *validation;
  const auto subset = yaml::parse_int(text_of("subset"));
  if (!subset) throw bad("subset", "an integer");
  out.subset = *subset;
  const auto seed = yaml::parse_uint(text_of("seed"));
  if (!seed) throw bad("seed", "an integer >= 0");
  out.seed = *seed;
  if (auto it = lines.find("stopping"); it != lines.end()) out.stopping = it->second;
  if (auto it = lines.find("pbt"); it != lines.end()) out.pbt = it->second;
  return out;
}

uint64_t trial_seed(uint64_t study_seed, int64_t number) {
  return Rng::derive(study_seed, static_cast<uint64_t>(number));
}

}  // namespace krill::tune
