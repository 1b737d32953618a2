#include "study_command.hpp"

#include <fmt/core.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "command_line.hpp"
#include "core/error.hpp"
#include "hpo/lease.hpp"
#include "hpo/storage.hpp"
#include "store/open.hpp"
#include "study_choice.hpp"
#include "tune/study_files.hpp"

namespace krill::cli {

namespace {

namespace fs = std::filesystem;

struct StudyArgs {
  std::string db;
  std::string study;
  std::string new_name;
  bool as_given = false;  // copy: --as given (an empty --as is refused, not the default)
  std::string destination;
  bool force = false;
};

std::string plural(size_t n, const char* one, const char* many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

// Deleting or renaming a study that a process is running would pull it from under that
// process (its trials, or its files' names): refused while one is alive, unless `force`.
void refuse_while_running(hpo::Storage& storage, const hpo::StudyRecord& study,
                          const std::string& db, const std::string& verb, bool force) {
  if (force) return;
  std::string live;
  size_t n = 0;
  const double now = hpo::wall_seconds();
  for (const auto& run : storage.runs(study.id)) {
    if (hpo::run_is_gone(run, now, hpo::LeaseOptions{}.grace)) continue;
    live += fmt::format("{}process {} on {}", n++ ? ", " : "", run.pid, run.host);
  }
  if (n == 0) return;
  throw InvalidArgument(fmt::format(
      "study '{}' in {} is being run by {} ({}): wait for it to end or stop it, or pass --force "
      "to {} it anyway",
      study.name, db, plural(n, "process", "processes"), live, verb));
}

void check_new_name(const std::string& name, const std::string& option) {
  if (const std::string problem = tune::study_name_problem(name); !problem.empty()) {
    throw InvalidArgument(option + " is " + problem + ", expected " + tune::kStudyNameRule);
  }
}

// Removes `files`; returns how many went. One that cannot be removed is said, and stays.
size_t remove_files(const std::vector<fs::path>& files) {
  size_t removed = 0;
  for (const auto& f : files) {
    std::error_code ec;
    if (fs::remove(f, ec)) {
      ++removed;
    } else if (ec) {
      fmt::print(stderr, "krill study: could not remove {}: {}\n", f.string(), ec.message());
    }
  }
  return removed;
}

std::string files_note(size_t n, const char* done) {
  return n == 0 ? "" : fmt::format("; {} beside it {}", plural(n, "file", "files"), done);
}

void run_delete(const StudyArgs& a) {
  const std::string db = hpo::display_location(a.db);
  auto storage = open_existing(a.db);
  const hpo::StudyRecord study = study_named(*storage, a.db, a.study);
  refuse_while_running(*storage, study, db, "delete", a.force);
  const size_t trials = storage->trials(study.id).size();
  storage->delete_study(study.id);
  const size_t removed = remove_files(tune::study_files(a.db, study.name));
  fmt::print("deleted study '{}' ({}) from {}{}\n", study.name, plural(trials, "trial", "trials"),
             db, files_note(removed, "removed"));
}

void run_rename(const StudyArgs& a) {
  check_new_name(a.new_name, "NEW");
  const std::string db = hpo::display_location(a.db);
  auto storage = open_existing(a.db);
  const hpo::StudyRecord study = study_named(*storage, a.db, a.study, "OLD");
  if (a.new_name == study.name) {
    throw InvalidArgument("NEW is '" + a.new_name + "', the study's name already");
  }
  if (storage->find_study(a.new_name)) {
    throw InvalidArgument("study '" + a.new_name + "' already exists in " + db +
                          ": choose another name, or delete it first (krill study delete " +
                          shell_word(db) + " --study " + shell_word(a.new_name) + ")");
  }
  refuse_while_running(*storage, study, db, "rename", a.force);
  storage->rename_study(study.id, a.new_name);
  // Files under the new name belong to no study (an earlier krill's, or a crash's): they go, so
  // that the renamed study never takes another's weights or a member's state for its own.
  remove_files(tune::study_files(a.db, a.new_name));
  size_t renamed = 0;
  for (const auto& f : tune::study_files(a.db, study.name)) {
    std::error_code ec;
    fs::rename(f, tune::moved_study_file(f, a.db, study.name, a.db, a.new_name), ec);
    if (ec) {
      fmt::print(stderr, "krill study: could not rename {}: {}\n", f.string(), ec.message());
    } else {
      ++renamed;
    }
  }
  fmt::print("renamed study '{}' to '{}' in {}{}\n", study.name, a.new_name, db,
             files_note(renamed, "renamed"));
}

void run_copy(const StudyArgs& a) {
  // A server's database is one storage when its URL is the same; a file when it is the same file,
  // then opened to write (the copy goes into it).
  std::error_code ec;
  const bool same_file = a.db == a.destination || fs::equivalent(a.db, a.destination, ec);
  auto from = open_existing(a.db, same_file ? store::Access::ReadWrite : store::Access::Read);
  const hpo::StudyRecord study = one_study(*from, a.db, a.study);
  const std::string name = a.as_given ? a.new_name : study.name;
  check_new_name(name, "--as");
  const std::string source = hpo::display_location(a.db);
  const std::string destination = hpo::display_location(a.destination);
  // A copy into a server's database never removes it (a failed copy leaves nothing there).
  const bool existed = same_file || hpo::is_server_url(a.destination) || fs::exists(a.destination);
  std::unique_ptr<hpo::Storage> opened = same_file ? nullptr : store::open_storage(a.destination);
  hpo::Storage& to = same_file ? *from : *opened;
  if (to.find_study(name)) {
    throw InvalidArgument(fmt::format(
        "{} already has a study '{}': choose another name with --as, or delete it first (krill "
        "study delete {} --study {})",
        destination, name, shell_word(destination), shell_word(name)));
  }
  const auto trials = from->trials(study.id);
  try {
    hpo::copy_study(*from, study, to, name);
  } catch (...) {
    if (!existed) {  // leave no empty database behind
      opened.reset();
      for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(a.destination + suffix, ec);
    }
    throw;
  }
  // The best weights and members' states go with the study; files under the new name in the
  // destination belong to no study (see rename).
  remove_files(tune::study_files(a.destination, name));
  size_t copied = 0;
  for (const auto& f : tune::study_files(a.db, study.name)) {
    if (f.extension() == ".tmp") continue;  // a write that did not finish
    const fs::path target = tune::moved_study_file(f, a.db, study.name, a.destination, name);
    fs::copy_file(f, target, fs::copy_options::overwrite_existing, ec);
    if (ec) {
      fmt::print(stderr, "krill study: could not copy {} to {}: {}\n", f.string(), target.string(),
                 ec.message());
    } else {
      ++copied;
    }
  }
  size_t running = 0;
  for (const auto& t : trials) running += t.state == hpo::TrialState::Running;
  fmt::print("copied study '{}' ({}) from {} to {}{}{}\n", study.name,
             plural(trials.size(), "trial", "trials"), source, destination,
             name == study.name ? "" : " as '" + name + "'", files_note(copied, "copied"));
  if (running > 0) {
    fmt::print("{} running in {}: `krill tune` on the copy runs {} again\n",
               plural(running, "trial was", "trials were"), source, running == 1 ? "it" : "them");
  }
}

}  // namespace

void add_study_command(CLI::App& app, int& exit_code) {
  CLI::App* study = app.add_subcommand(
      "study", "Delete, rename or copy a study of a database, with its best weights");
  study->require_subcommand(1);

  auto del = std::make_shared<StudyArgs>();
  CLI::App* cmd = study->add_subcommand(
      "delete",
      "Delete a study: its trials, their curves and decisions, and its files beside "
      "the database (best weights, PBT member states)");
  cmd->add_option("database", del->db,
                  "a study database written by krill tune (a SQLite file or a postgresql:// URL)")
      ->required();
  cmd->add_option("--study", del->study, "the study to delete")->required();
  cmd->add_flag("--force", del->force,
                "delete it even while a krill tune process runs it (that process then fails)");
  cmd->callback([del, &exit_code] {
    del->db = database_location(del->db, "database");
    run_delete(*del);
    exit_code = 0;
  });

  auto ren = std::make_shared<StudyArgs>();
  cmd = study->add_subcommand(
      "rename",
      "Give a study another name (its files beside the database follow); `krill tune "
      "--study NEW` resumes it");
  cmd->add_option("database", ren->db,
                  "a study database written by krill tune (a SQLite file or a postgresql:// URL)")
      ->required();
  cmd->add_option("OLD", ren->study, "the study's name")->required();
  cmd->add_option("NEW", ren->new_name, "its new name (not taken in the database)")->required();
  cmd->add_flag("--force", ren->force, "rename it even while a krill tune process runs it");
  cmd->callback([ren, &exit_code] {
    ren->db = database_location(ren->db, "database");
    run_rename(*ren);
    exit_code = 0;
  });

  auto copy = std::make_shared<StudyArgs>();
  cmd = study->add_subcommand(
      "copy",
      "Copy a study with all its trials into another database (created if missing), "
      "as Optuna's copy-study; its best weights are copied beside it");
  cmd->add_option("source", copy->db,
                  "the study database to copy from (a SQLite file or a postgresql:// URL)")
      ->required();
  cmd->add_option("destination", copy->destination,
                  "the study database to copy into: a SQLite file (created if missing) or a "
                  "postgresql:// URL; "
                  "it may be the source, with --as")
      ->required();
  cmd->add_option("--study", copy->study, "the study to copy (default: the source's only study)");
  auto* as =
      cmd->add_option("--as", copy->new_name,
                      "its name in the destination (default: its name; refused if taken there)");
  cmd->callback([copy, as, &exit_code] {
    copy->as_given = as->count() > 0;
    copy->db = database_location(copy->db, "source");
    copy->destination = database_location(copy->destination, "destination");
    run_copy(*copy);
    exit_code = 0;
  });

  // After the subcommands, which would inherit it.
  study->footer(
      "Examples:\n"
      "  krill study delete fmnist.db --study old-try\n"
      "  krill study rename fmnist.db baseline baseline-v1\n"
      "  krill study copy fmnist.db archive.db --study baseline --as baseline-2024\n"
      "List the studies of a database with krill studies DB.");
}

}  // namespace krill::cli
