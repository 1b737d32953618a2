// `krill train`: trains one network and prints its metrics (a table, or --json for machines).
#pragma once

#include <CLI/CLI.hpp>

namespace krill::cli {

// Adds the subcommand and its options to `app`; the callback runs the training and sets
// exit_code (0, or 3 when the run diverged). Errors are thrown as krill::Error.
void add_train_command(CLI::App& app, int& exit_code);

}  // namespace krill::cli
