// Helpers for tests that run `krill tune` as child processes: start one (its output to a file),
// wait for it, and poll a study database until it holds some number of trials.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "store/open.hpp"

namespace krill::testing {

// Starts `krill tune <study> --quiet --threads 1 <extra...>`; stdout and stderr go to `log`
// (or are inherited when it is empty).
inline pid_t spawn_tune(const std::filesystem::path& study, const std::filesystem::path& log = {},
                        const std::vector<std::string>& extra = {}) {
  const pid_t pid = fork();
  if (pid == 0) {
    // In the study file's folder: a server's study keeps its files in the working folder.
    if (study.has_parent_path() && ::chdir(study.parent_path().c_str()) != 0) _exit(126);
    if (!log.empty()) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        ::close(fd);
      }
    }
    std::vector<std::string> args = {KRILL_BINARY, "tune",      study.string(),
                                     "--quiet",    "--threads", "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(KRILL_BINARY, argv.data());
    _exit(127);
  }
  return pid;
}

// Waits for a child; its exit code, or 128 + the signal that ended it.
inline int wait_exit_code(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Polls the study database until at least `n` trials are in it (in any state when
// `finished_only` is false, else not Running); false after `timeout`.
inline bool wait_for_trials(const std::filesystem::path& db, size_t n, bool finished_only,
                            std::chrono::seconds timeout = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (!std::filesystem::exists(db)) continue;
    try {
      auto storage = krill::store::open_storage(db);
      auto studies = storage->studies();
      if (studies.empty()) continue;
      size_t count = 0;
      for (const auto& t : storage->trials(studies[0].id)) {
        count += !finished_only || t.state != krill::hpo::TrialState::Running;
      }
      if (count >= n) return true;
    } catch (const std::exception&) {  // the schema may be half-created at this instant
    }
  }
  return false;
}

}  // namespace krill::testing
