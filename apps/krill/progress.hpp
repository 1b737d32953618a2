// Progress on stderr: a redrawn bar on a terminal, a plain line every few seconds otherwise (logs
// of batch jobs stay readable).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

namespace krill::cli {

// Seconds left at this run's pace: `done` of `total` after `elapsed` seconds, of which
// `done_before` were done before this run began (they took none of its time); 0 when all are
// done; nullopt while this run has done none (no pace yet: shown as "ETA -", it read 0.0 s).
std::optional<double> eta_seconds(double elapsed, int64_t done, int64_t total,
                                  int64_t done_before = 0);

class Progress {
 public:
  // `done_before`: the work done before this run (a resumed study's trials, a resumed training's
  // steps): shown in the count, left out of the pace that the ETA is computed from.
  explicit Progress(std::string label, bool quiet = false, int64_t done_before = 0);
  // Cheap to call every step: draws at most 10 times a second (a line every 5 s off a terminal).
  // Thread-safe (the workers of a study and a ticker call it).
  void update(int64_t done, int64_t total, const std::string& detail);
  void finish();  // ends the bar's line

 private:
  using Clock = std::chrono::steady_clock;
  std::string label_;
  bool quiet_;
  bool tty_;
  std::mutex mutex_;
  bool drawn_ = false;
  int64_t done_before_ = 0;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_draw_{};
};

}  // namespace krill::cli
