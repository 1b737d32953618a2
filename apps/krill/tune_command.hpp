// `krill tune study.yaml`: runs (or resumes) a study; `krill show study.db`,
// `krill export study.db` and `krill best study.db` read one, also while it runs.
#pragma once

#include <CLI/CLI.hpp>

namespace krill::cli {

void add_tune_command(CLI::App& app, int& exit_code);
void add_show_command(CLI::App& app, int& exit_code);
void add_export_command(CLI::App& app, int& exit_code);
void add_studies_command(CLI::App& app, int& exit_code);
void add_best_command(CLI::App& app, int& exit_code);  // best_command.cpp

}  // namespace krill::cli
