// `krill study delete|rename|copy`: managing the studies of a database (as Optuna's
// delete-study and copy-study), with the files each keeps beside it (tune/study_files.hpp).
#pragma once

#include <CLI/CLI.hpp>

namespace krill::cli {

void add_study_command(CLI::App& app, int& exit_code);

}  // namespace krill::cli
