// Helpers for reading YAML files with errors a user can act on: every error is one line
// "<file>:<line>:<column>: <what was wrong>, expected <what>" (1-based, at the offending node),
// map keys are checked against a list of known keys with a "did you mean" suggestion, and
// scalars are typed by their text (plain 32 is an integer, quoted "32" a string).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "hpo/param.hpp"
#include "tune/params.hpp"

namespace krill::tune::yaml {

// Names the text being read (a file path, or what the caller passed) in errors.
class Source {
 public:
  explicit Source(std::string name) : name_(std::move(name)) {}
  const std::string& name() const { return name_; }

  // "<name>:<line>:<column>: " for a 0-based yaml-cpp mark (1:1 when the mark is unknown).
  std::string where(const YAML::Mark& mark) const;
  // Throws InvalidArgument(where(mark) + message).
  [[noreturn]] void fail(const YAML::Mark& mark, const std::string& message) const;
  [[noreturn]] void fail(const YAML::Node& at, const std::string& message) const {
    fail(at.Mark(), message);
  }

 private:
  std::string name_;
};

// "3:7" (1-based), for messages that point at a second place.
std::string line_column(const YAML::Mark& mark);

// One key: value pair of a map, with both nodes for error positions.
struct Entry {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
  // Where an error about the value points: the value, or the key when the value is empty
  // (yaml-cpp marks an empty value at the start of the next line).
  const YAML::Node& at() const { return value.IsNull() ? key_node : value; }
};

// The entries of `map` in file order. Throws when `map` is not a map (`what` names it: "search";
// `example`, when given, shows one: "`stopping: {rule: median}`"), a key is not a plain scalar,
// or a key is repeated. A null node gives no entries.
std::vector<Entry> entries(const Source& source, const YAML::Node& map, const std::string& what,
                           const std::string& example = "");

// Throws "unknown key 'X', did you mean 'Y'?" or "unknown key 'X', expected one of a, b, c"
// at the key; check_known only when `entry.key` is not in `known`.
[[noreturn]] void unknown_key(const Source& source, const Entry& entry,
                              std::span<const std::string> known);
void check_known(const Source& source, const Entry& entry, std::span<const std::string> known);

// The nearest of `known` to `key`, if near enough: edit distance <= max(2, key length / 3)
// (ignoring case and '-' vs '_'), or `key`'s initials ("learning_rate" -> "lr"), or a word of
// `key` ("batch_size" -> "batch").
std::optional<std::string> suggest(std::string_view key, std::span<const std::string> known);
size_t edit_distance(std::string_view a, std::string_view b);  // Levenshtein

// "'abc'" for a plain scalar, "the string \"32\"" for a quoted one, "a map", "a list",
// "an empty list", "empty".
std::string describe(const YAML::Node& node);
// "a, b or c".
std::string one_of(std::span<const std::string> names);

bool is_plain(const YAML::Node& node);  // a scalar written without quotes
// Whole-text integer ("-12", "+3") and number ("1e-4", "0.5", ".5", "3") parsing; nothing else.
std::optional<int64_t> parse_int(std::string_view text);
std::optional<uint64_t> parse_uint(std::string_view text);
std::optional<double> parse_number(std::string_view text);
std::optional<bool> parse_bool(std::string_view text);  // true/false, yes/no, on/off

// Shortest text that reads back as the same double ("0.1", "1e-05", "3.0").
std::string format_double(double v);

// A training parameter's value written at `node` (errors point at `at`; `label` names it:
// "'batch'", "a value of 'batch'", "'low' of 'batch'"), converted to its kind: Int from an
// integer, Float from any number, String from any scalar's text (hidden given as "512, 256" or
// [512, 256] normalised to "512,256"), then checked against the parameter's rule (params.hpp):
// "'batch' is '0', expected an integer >= 1".
hpo::ParamValue param_value(const Source& source, const ParamInfo& info, const YAML::Node& node,
                            const YAML::Node& at, const std::string& label);
std::string kind_label(ParamKind kind);  // "an integer", "a float", "a string"

// Canonical text of a value: doubles by format_double, integers, strings quoted ("\"relu\"").
std::string canonical(const hpo::ParamValue& value);
std::string quote(const std::string& text);

}  // namespace krill::tune::yaml
