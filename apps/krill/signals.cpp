#include "signals.hpp"

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <thread>

namespace krill::cli {
namespace {

std::atomic<void (*)(int)> g_handler{nullptr};

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

[[noreturn]] void die_by(int sig) {
  // The default action, on this thread alone: it is the only one that lets the signal through.
  std::signal(sig, SIG_DFL);
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
  std::raise(sig);
  std::_Exit(128 + sig);  // not reached: the signal ends the process
}

}  // namespace

void start_signal_thread() {
  static std::atomic<bool> started{false};
  if (started.exchange(true)) return;
  const sigset_t set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set] {
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (auto* handler = g_handler.load()) {
        handler(sig);
      } else {
        die_by(sig);
      }
    }
  }).detach();
}

void set_stop_handler(void (*handler)(int signal)) {
  g_handler.store(handler);
}

}  // namespace krill::cli
