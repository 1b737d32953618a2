// Ctrl-C (SIGINT) and SIGTERM are taken by a thread of their own, never by a thread that computes.
//
// A signal handler runs on whichever thread the kernel picks, its frame pushed below that thread's
// stack pointer. oneDNN's JIT sgemm kernels (Debian 12 ships oneDNN 2.6) point the stack pointer
// into a heap workspace while they run, so a handler that interrupts one writes its frame into
// the heap: glibc aborts later ("corrupted size vs. prev_size", "free(): invalid pointer"). This is
// oneDNN issue #4845, fixed upstream in 2026 by pull request #4855. A second Ctrl-C during training
// killed krill this way in about one run of six; tests/apps/signals_test.cpp shows it with a plain
// handler. So krill blocks both signals in every thread and waits for them with sigwait on one
// thread, where the stop handler runs as ordinary code (it may lock and allocate).
#pragma once

namespace krill::cli {

// Blocks SIGINT and SIGTERM in the calling thread, and so in every thread created after it (call
// it first in main, before any thread starts), and starts the thread that waits for them.
void start_signal_thread();

// While set, `handler` is called on the signal thread for each SIGINT or SIGTERM, with its
// number; without one (nullptr, the default) the signal ends the process as if krill had no
// handler: killed by that signal.
void set_stop_handler(void (*handler)(int signal));

// Sets a stop handler for a scope; the default comes back when the scope ends, by an exception too.
class ScopedStopHandler {
 public:
  explicit ScopedStopHandler(void (*handler)(int signal)) { set_stop_handler(handler); }
  ~ScopedStopHandler() { set_stop_handler(nullptr); }
  ScopedStopHandler(const ScopedStopHandler&) = delete;
  ScopedStopHandler& operator=(const ScopedStopHandler&) = delete;
};

}  // namespace krill::cli
