// Checks of krill's command line that CLI11 (Debian's 2.1) does not make, or makes in words a user
// cannot act on: a misspelled command or option named with the nearest known one (CLI11: "A
// subcommand is required", "The following arguments were not expected"), and integers read
// strictly (CLI11 reads "-1" as 18446744073709551615 for an unsigned option, "010" as 8, and
// clamps an overflowing value to the largest one instead of refusing it).
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

namespace krill::cli {

// The error for the first word of `args` (the command line without the program's name) that names
// no command or option of `app` where it stands, such as "unknown command 'tunee', did you mean
// 'tune'? (the commands: train, tune, ...)", or "`krill study` needs a command: delete, rename or
// copy" where none follows; nullopt when every command and option is known (the rest is for CLI11
// to check). Words after "--" and option values are not looked at.
std::optional<std::string> unknown_word(CLI::App& app, const std::vector<std::string>& args);

// The command a parse of `app` reached, even one that failed: "krill", "krill train", "krill
// study rename".
std::string parsed_command(const CLI::App& app);

// Makes every integer option of `app` and its subcommands accept only a decimal integer in the
// range of its type (INT: a 64-bit signed one, UINT: 0 to 2^64 - 1), naming the option, the value
// and what was expected (a CLI::Range's bounds where the option has one). A value in that range
// but beyond a narrower type (an int) is CLI11's ConversionError: see parse_error_message.
void read_integers_strictly(CLI::App& app);

// The same check as a function: the error, or an empty string when `text` is such an integer;
// `expected` replaces the type's range in the error where not empty.
std::string integer_error(const std::string& text, bool is_unsigned,
                          const std::string& expected = "");

// A word as a POSIX shell reads it back, for a command krill prints to be run: as it is when it
// has no special character, else in single quotes ("my study" -> 'my study').
std::string shell_word(const std::string& word);

// What to tell a user of a parse error: its message, but "--threads: '99999999999' is too large for
// this option" for CLI11's "Could not convert: --threads = 99999999999".
std::string parse_error_message(const CLI::ParseError& e);

}  // namespace krill::cli
