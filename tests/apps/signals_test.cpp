// krill's signal thread (apps/krill/signals.hpp): SIGINT and SIGTERM reach the stop handler on a
// thread of their own while the main thread runs the CPU backend's GEMMs, and without a handler
// they end the process as if krill had none. Each case runs in a child process of its own, since
// the signal mask is the process's; the child reports through its exit code.
//
// The first test is the regression test of a crash: with a plain std::signal handler instead of
// the signal thread, the same child aborted within a second on this project's machines ("free():
// invalid pointer": oneDNN's JIT sgemm points the stack pointer into the heap while it runs, and
// a handler's frame lands there; oneDNN issue #4845).
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>
#include <vector>

#include "apps/krill/signals.hpp"
#include "backend/backend.hpp"

namespace {

using krill::backend::Transpose;
using Clock = std::chrono::steady_clock;

std::atomic<int> g_received{0};
std::atomic<bool> g_on_main_thread{false};
pthread_t g_main_thread;

void count_signal(int signal) {
  if (signal == SIGTERM) g_received.fetch_add(1);
  if (pthread_equal(pthread_self(), g_main_thread)) g_on_main_thread.store(true);
}

// The shapes of a Dense 16-256-256-3 network's forward and backward passes at batch 16 (those of
// TuneCliTest's study, where the crash was seen). Returns false if a product differs from the
// first one computed: the heap or the stack was overwritten.
bool gemms_agree(int rounds) {
  auto& cpu = krill::backend::backend(krill::Device::Cpu);
  std::vector<float> a(256 * 256), b(256 * 256), c(256 * 256), reference;
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = static_cast<float>(i % 17) * 0.01f - 0.08f;
    b[i] = static_cast<float>(i % 13) * 0.02f - 0.12f;
  }
  struct Product {
    Transpose ta, tb;
    int64_t m, n, k, ldb;
  };
  static constexpr Product kProducts[] = {{Transpose::No, Transpose::No, 16, 256, 256, 256},
                                          {Transpose::Yes, Transpose::No, 256, 256, 16, 256},
                                          {Transpose::No, Transpose::Yes, 16, 256, 256, 256},
                                          {Transpose::No, Transpose::No, 16, 3, 256, 3}};
  std::vector<float> sums;
  for (int round = 0; round < rounds; ++round) {
    sums.clear();
    for (const Product& p : kProducts) {  // lda = 256 fits A and A^T; C is [m, n]
      cpu.gemm(p.ta, p.tb, p.m, p.n, p.k, 1.f, a.data(), 256, b.data(), p.ldb, 0.f, c.data(), p.n);
      sums.push_back(c[0] + c[static_cast<size_t>(p.m * p.n - 1)]);
    }
    std::vector<char> traffic(1000 + static_cast<size_t>(round % 5000));  // the heap in use
    traffic.back() = 1;
    if (reference.empty()) reference = sums;
    for (size_t i = 0; i < sums.size(); ++i) {
      if (std::abs(sums[i] - reference[i]) > 1e-4f * (1.f + std::abs(reference[i]))) return false;
    }
  }
  return true;
}

// Exit codes of the children.
constexpr int kOk = 0, kWrongProduct = 3, kOnMainThread = 4, kTooFewSignals = 5;
// Signals the GEMM child must take (a plain handler aborted it after 80-300 of them).
constexpr int kSignals = 1000;

// A child process with krill's signal thread that runs `body(tell)` and exits with its code;
// tell(c) sends the parent the byte c (read with hear()).
struct Child {
  pid_t pid = -1;
  int from_child = -1;
  char hear() const {
    char byte = 0;
    return read(from_child, &byte, 1) == 1 ? byte : '\0';
  }
};

template <class Body>
Child fork_child(Body body) {
  int pipe_ends[2];
  if (pipe(pipe_ends) != 0) return {};
  const pid_t pid = fork();
  if (pid == 0) {
    close(pipe_ends[0]);
    g_main_thread = pthread_self();
    krill::cli::start_signal_thread();
    const int to_parent = pipe_ends[1];
    _exit(body([to_parent](char c) { [[maybe_unused]] auto w = write(to_parent, &c, 1); }));
  }
  close(pipe_ends[1]);
  return {pid, pipe_ends[0]};
}

TEST(SignalThreadTest, StopSignalsDuringGemmsReachTheHandlerOnItsOwnThread) {
  const Child child = fork_child([](auto tell) {
    krill::cli::set_stop_handler(count_signal);
    tell('r');
    bool agree = true;
    const auto end = Clock::now() + std::chrono::seconds(60);
    while (agree && g_received.load() < kSignals && Clock::now() < end) agree = gemms_agree(20);
    if (!agree) return kWrongProduct;
    if (g_on_main_thread.load()) return kOnMainThread;
    return g_received.load() >= kSignals ? kOk : kTooFewSignals;
  });
  ASSERT_GE(child.pid, 0);
  ASSERT_EQ(child.hear(), 'r');
  close(child.from_child);
  const pid_t pid = child.pid;
  int status = 0;
  int sent = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    kill(pid, SIGTERM);
    ++sent;
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status) << " after " << sent
                                 << " SIGTERMs";
  EXPECT_EQ(WEXITSTATUS(status), kOk) << "3: a product changed, 4: the handler ran on the main "
                                         "thread, 5: fewer than kSignals signals arrived";
}

TEST(SignalThreadTest, WithoutAHandlerASignalEndsTheProcessAsByDefault) {
  const Child child = fork_child([](auto tell) {
    {
      const krill::cli::ScopedStopHandler scoped(count_signal);
      tell('h');  // a handler: the signal is counted
      const auto end = Clock::now() + std::chrono::seconds(30);
      while (g_received.load() == 0 && Clock::now() < end) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      if (g_received.load() == 0) return kTooFewSignals;
    }
    tell('d');  // none: the next one ends this process
    std::this_thread::sleep_for(std::chrono::seconds(30));
    return kOk;
  });
  ASSERT_GE(child.pid, 0);
  const pid_t pid = child.pid;
  ASSERT_EQ(child.hear(), 'h');
  kill(pid, SIGTERM);
  ASSERT_EQ(child.hear(), 'd');
  close(child.from_child);
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "exit code " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
}

}  // namespace
