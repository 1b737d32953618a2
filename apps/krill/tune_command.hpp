// `krill tune study.yaml`: runs (or resumes) a study; `krill show study.db` and
// `krill export study.db` read one, also while it runs.
#pragma once

#include <CLI/CLI.hpp>

namespace krill::cli {

void add_tune_command(CLI::App& app, int& exit_code);
void add_show_command(CLI::App& app, int& exit_code);
void add_export_command(CLI::App& app, int& exit_code);
void add_studies_command(CLI::App& app, int& exit_code);

}  // namespace krill::cli
