// krill's command line: train, tune, studies, study, show, best, export, report.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <new>
#include <string>
#include <system_error>
#include <vector>

#include "command_line.hpp"

#include "core/error.hpp"
#include "openmp_env.hpp"
#include "report_command.hpp"
#include "signals.hpp"
#include "study_command.hpp"
#include "train_command.hpp"
#include "tune_command.hpp"

int main(int argc, char** argv) {
  krill::cli::use_short_openmp_spin(argv);
  krill::cli::start_signal_thread();  // before any other thread: each inherits the blocked signals
  CLI::App app{"krill: tune the hyperparameters of neural networks, from a laptop to MPI ranks"};
  app.set_version_flag("--version", "krill 0.1.0");
  app.require_subcommand(1);
  int exit_code = 0;
  krill::cli::add_train_command(app, exit_code);
  krill::cli::add_tune_command(app, exit_code);
  krill::cli::add_studies_command(app, exit_code);
  krill::cli::add_study_command(app, exit_code);
  krill::cli::add_show_command(app, exit_code);
  krill::cli::add_export_command(app, exit_code);
  krill::cli::add_best_command(app, exit_code);
  krill::cli::add_report_command(app, exit_code);
  krill::cli::read_integers_strictly(app);
  if (const auto error = krill::cli::unknown_word(app, {argv + 1, argv + argc})) {
    fmt::print(stderr, "krill: error: {}\n", *error);
    return 2;
  }
  // Results a command printed that did not reach its reader (a full disk): `why` is the reason,
  // where known.
  const auto output_lost = [](const std::string& why) {
    fmt::print(stderr, "krill: error: standard output: write failed{}\n",
               why.empty() ? why : " (" + why + ")");
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "krill: error: {} (see {} --help)\n", krill::cli::parse_error_message(e),
               krill::cli::parsed_command(app));
    return 2;
  } catch (const krill::Error& e) {
    fmt::print(stderr, "krill: error: {}\n", e.what());
    return 2;
  } catch (const std::system_error& e) {
    // fmt::print throws when a write fails (output past stdio's buffer): a full disk, not a bug.
    if (std::ferror(stdout)) {
      output_lost(e.code().message());
      return 2;
    }
    fmt::print(stderr, "krill: internal error: {}\n", e.what());
    return 70;
  } catch (const std::bad_alloc&) {
    fmt::print(stderr,
               "krill: error: out of memory (a model, batch or data set larger than this "
               "machine holds)\n");
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "krill: internal error: {}\n", e.what());
    return 70;
  }
  // Whatever a command printed must have reached its reader: a full disk (`krill show --json >
  // out.json`) fails the writes, not the command, and would otherwise exit 0 with the results lost.
  std::cout.flush();
  const bool flushed = std::fflush(stdout) == 0;
  const int error = errno;
  if (!flushed || std::ferror(stdout) || !std::cout) {
    output_lost(flushed ? std::string() : std::strerror(error));
    return exit_code != 0 ? exit_code : 2;
  }
  return exit_code;
}
