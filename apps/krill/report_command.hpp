// `krill report study.db -o report.html`: a study's HTML report; `--serve` serves it live.
#pragma once

#include <CLI/CLI.hpp>

namespace krill::cli {

void add_report_command(CLI::App& app, int& exit_code);

}  // namespace krill::cli
