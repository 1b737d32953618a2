#include "progress.hpp"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace krill::cli {

std::optional<double> eta_seconds(double elapsed, int64_t done, int64_t total,
                                  int64_t done_before) {
  if (done >= total) return 0.0;
  const int64_t done_here = done - done_before;
  if (done_here <= 0) return std::nullopt;
  return elapsed / static_cast<double>(done_here) *
         static_cast<double>(std::max<int64_t>(0, total - done));
}

Progress::Progress(std::string label, bool quiet, int64_t done_before)
    : label_(std::move(label)),
      quiet_(quiet),
      tty_(isatty(fileno(stderr)) != 0),
      done_before_(done_before) {}

void Progress::update(int64_t done, int64_t total, const std::string& detail) {
  if (quiet_ || total <= 0) return;
  std::lock_guard lock(mutex_);
  const auto now = Clock::now();
  const auto interval = tty_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(5000);
  if (done < total && now - last_draw_ < interval) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double frac = static_cast<double>(done) / static_cast<double>(total);
  const auto eta_value = eta_seconds(elapsed, done, total, done_before_);
  const std::string eta = eta_value ? fmt::format("{:.1f}s", *eta_value) : std::string("-");
  if (tty_) {
    constexpr int kWidth = 28;
    const int filled = static_cast<int>(frac * kWidth);
    std::string bar(static_cast<size_t>(filled), '=');
    if (filled < kWidth) bar += '>' + std::string(static_cast<size_t>(kWidth - filled - 1), ' ');
    fmt::print(stderr, "\r{} [{}] {}/{} {:3.0f}% {} {:.1f}s ETA {}\x1b[K", label_, bar, done, total,
               100 * frac, detail, elapsed, eta);
    drawn_ = true;
  } else {
    fmt::print(stderr, "{} {}/{} ({:.0f}%) {} elapsed {:.1f}s ETA {}\n", label_, done, total,
               100 * frac, detail, elapsed, eta);
  }
  std::fflush(stderr);
}

void Progress::finish() {
  std::lock_guard lock(mutex_);
  if (drawn_) fmt::print(stderr, "\n");
  drawn_ = false;
}

}  // namespace krill::cli
