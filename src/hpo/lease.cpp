#include "hpo/lease.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <fstream>
#include <random>
#include <sstream>

#include "core/rng.hpp"

namespace krill::hpo {

namespace {

// State and start time of a process from /proc/<pid>/stat; false when it does not exist. The
// command name (field 2) is in parentheses and may hold spaces, so fields count from the last ')'.
bool read_proc_stat(int64_t pid, char& state, int64_t& start) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!in || !std::getline(in, text)) return false;
  const auto close = text.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream fields(text.substr(close + 1));
  std::string field;
  // Fields 3.. : state is field 3, starttime field 22.
  for (int i = 3; i <= 22 && fields >> field; ++i) {
    if (i == 3) state = field.empty() ? '?' : field[0];
    if (i == 22) {
      start = std::stoll(field);
      return true;
    }
  }
  return false;
}

bool proc_available() {
  static const bool available = std::ifstream("/proc/self/stat").good();
  return available;
}

int64_t process_start(int64_t pid) {
  char state = '?';
  int64_t start = 0;
  return read_proc_stat(pid, state, start) ? start : 0;
}

}  // namespace

std::string this_host() {
  static const std::string host = [] {  // asked at every liveness check: once is enough
    char name[HOST_NAME_MAX + 1] = {};
    return gethostname(name, sizeof name - 1) == 0 ? std::string(name) : std::string("localhost");
  }();
  return host;
}

double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

RunRecord this_run() {
  RunRecord run;
  std::random_device device;
  const uint64_t seed =
      (uint64_t{device()} << 32) ^ device() ^
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  Rng rng(seed);
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 16; ++i) run.id += kHex[rng.next_u64() & 15];
  run.host = this_host();
  run.pid = static_cast<int64_t>(::getpid());
  run.pid_start = process_start(run.pid);
  run.started = run.heartbeat = wall_seconds();
  return run;
}

bool run_is_gone(const RunRecord& run, double now, double grace) {
  if (run.host == this_host() && run.pid > 0) {
    if (proc_available()) {
      char state = '?';
      int64_t start = 0;
      if (!read_proc_stat(run.pid, state, start)) return true;        // no such process
      if (state == 'Z' || state == 'X') return true;                  // killed, not yet reaped
      if (run.pid_start != 0 && start != run.pid_start) return true;  // the pid was reused
      // Stopped (SIGSTOP, Ctrl-Z, a debugger): it may never go on, so it is gone once silent past
      // the grace period, as a process on another host; it takes its trials back, if still
      // free, when it goes on (Study::heartbeat_loop).
      if (state == 'T' || state == 't') return now - run.heartbeat > grace;
      // Alive on this host: its heartbeat does not matter (a machine back from sleep finds every
      // heartbeat old, but no process gone).
      return false;
    }
    if (::kill(static_cast<pid_t>(run.pid), 0) != 0 && errno == ESRCH) return true;
  }
  return now - run.heartbeat > grace;
}

}  // namespace krill::hpo
