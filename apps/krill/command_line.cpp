#include "command_line.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <limits>
#include <regex>

#include "tune/yaml_util.hpp"

namespace krill::cli {
namespace {

std::string suggestion(const std::string& word, const std::vector<std::string>& known) {
  const auto near = tune::yaml::suggest(word, known);
  return near ? ", did you mean '" + *near + "'?" : "";
}

CLI::App* subcommand_named(CLI::App& app, const std::string& name) {
  const auto found = app.get_subcommands([&](CLI::App* s) { return s->get_name() == name; });
  return found.empty() ? nullptr : found.front();
}

std::vector<std::string> subcommand_names(CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* s : app.get_subcommands([](CLI::App*) { return true; })) {
    if (!s->get_name().empty()) names.push_back(s->get_name());  // not option groups
  }
  return names;
}

std::vector<std::string> long_option_names(CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::Option* o : app.get_options()) {
    for (const auto& n : o->get_lnames()) names.push_back("--" + n);
  }
  return names;
}

// "krill", "krill study", "krill study rename".
std::string command_path(const CLI::App& app) {
  const CLI::App* parent = app.get_parent();
  return parent ? command_path(*parent) + " " + app.get_name() : std::string("krill");
}

// "007" -> "7", "-0" -> "0", "-010" -> "-10", of a text integer_error accepts.
std::string canonical_integer(const std::string& text) {
  const bool negative = text.starts_with('-');
  const size_t digits = text.find_first_not_of('0', negative ? 1 : 0);
  if (digits == std::string::npos) return "0";
  return (negative ? "-" : "") + text.substr(digits);
}

}  // namespace

std::optional<std::string> unknown_word(CLI::App& app, const std::vector<std::string>& args) {
  CLI::App* level = &app;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") break;  // the rest are positionals
    if (arg.starts_with('-')) {
      // An option's values, given as the next words, are not looked at ("--study --odd-name").
      const std::string name = arg.substr(0, arg.find('='));
      const CLI::Option* option = name.size() > 1 ? level->get_option_no_throw(name) : nullptr;
      if (option && name.size() == arg.size()) {
        i += static_cast<size_t>(std::max(0, option->get_items_expected_min()));
      }
      if (option || !arg.starts_with("--") || name.size() == 2) continue;  // -3, -q: CLI11's
      return "unknown option '" + name + "' of `" + command_path(*level) + "`" +
             suggestion(name, long_option_names(*level)) + " (see " + command_path(*level) +
             " --help)";
    }
    // A word: only a level with subcommands, whose options take no values, says what a word
    // must be.
    const auto commands = subcommand_names(*level);
    if (commands.empty()) continue;
    if (CLI::App* sub = subcommand_named(*level, arg)) {
      level = sub;
      continue;
    }
    return "unknown command '" + arg + "' of `" + command_path(*level) + "`" +
           suggestion(arg, commands) + " (the commands: " + tune::yaml::one_of(commands) +
           "; see " + command_path(*level) + " --help)";
  }
  // Ended where a command must follow, with no option (--help, --version) asked instead.
  const auto commands = subcommand_names(*level);
  const bool options = std::any_of(args.begin(), args.end(),
                                   [](const std::string& a) { return a.starts_with('-'); });
  if (!commands.empty() && !options) {
    return "`" + command_path(*level) + "` needs a command: " + tune::yaml::one_of(commands) +
           " (see " + command_path(*level) + " --help)";
  }
  return std::nullopt;
}

std::string parsed_command(const CLI::App& app) {
  const auto parsed = app.get_subcommands();
  return parsed.empty() ? command_path(app) : parsed_command(*parsed.front());
}

std::string shell_word(const std::string& word) {
  constexpr std::string_view kPlain =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-+=.,:/@%";
  if (!word.empty() && word.find_first_not_of(kPlain) == std::string::npos) return word;
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string integer_error(const std::string& text, bool is_unsigned, const std::string& expected) {
  const char* first = text.data();
  const char* last = text.data() + text.size();
  std::from_chars_result read{};
  if (is_unsigned) {
    uint64_t v = 0;
    read = std::from_chars(first, last, v);  // no sign for an unsigned type: "-1" stops at once
  } else {
    int64_t v = 0;
    read = std::from_chars(first, last, v);
  }
  const std::string range =
      !expected.empty() ? expected
      : is_unsigned ? "an integer from 0 to " + std::to_string(std::numeric_limits<uint64_t>::max())
                    : "an integer from " + std::to_string(std::numeric_limits<int64_t>::min()) +
                          " to " + std::to_string(std::numeric_limits<int64_t>::max());
  if (read.ec == std::errc::result_out_of_range)
    return "'" + text + "' is out of range, expected " + range;
  if (read.ec != std::errc{} || read.ptr != last || text.empty()) {
    return "'" + text + "' is not a decimal integer, expected " + range;
  }
  return "";
}

std::string parse_error_message(const CLI::ParseError& e) {
  const std::string what = e.what();
  // CLI11's "Could not convert: --threads = 99999999999": a decimal integer (read_integers_strictly
  // let it through) beyond the range of the option's type, narrower than 64 bits.
  static const std::regex conversion("Could not convert: (\\S+) = (-?[0-9]+)");
  std::smatch m;
  if (dynamic_cast<const CLI::ConversionError*>(&e) && std::regex_match(what, m, conversion)) {
    return m[1].str() + ": '" + m[2].str() + "' is too " +
           (m[2].str().starts_with('-') ? "small" : "large") + " for this option";
  }
  return what;
}

void read_integers_strictly(CLI::App& app) {
  for (CLI::Option* o : app.get_options()) {
    // "INT", or "INT:INT in [0 - 65535]" with a validator's description.
    const std::string type = o->get_type_name().substr(0, o->get_type_name().find(':'));
    if (o->get_expected_min() == 0 || (type != "INT" && type != "UINT")) continue;
    const bool is_unsigned = type == "UINT";
    // A CLI::Range's bounds, from its description "INT in [0 - 65535]", are what is expected.
    static const std::regex range_text("in \\[(-?[0-9]+) - (-?[0-9]+)\\]");
    std::smatch m;
    const std::string& type_name = o->get_type_name();
    const std::string expected = std::regex_search(type_name, m, range_text)
                                     ? "an integer from " + m[1].str() + " to " + m[2].str()
                                     : "";
    // A transform, not a check: CLI11 then reads the text with strtoll's base 0, where "010"
    // is octal 8, so the text it reads is the integer's canonical form.
    o->transform(CLI::Validator(
        [is_unsigned, expected](std::string& text) {
          std::string error = integer_error(text, is_unsigned, expected);
          if (error.empty()) text = canonical_integer(text);
          return error;
        },
        "", "integer"));
  }
  for (CLI::App* s : app.get_subcommands([](CLI::App*) { return true; })) {
    read_integers_strictly(*s);
  }
}

}  // namespace krill::cli
