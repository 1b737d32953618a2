// Progress on stderr: a redrawn bar on a terminal, a plain line every few seconds otherwise (logs
// of batch jobs stay readable).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace krill::cli {

class Progress {
 public:
  explicit Progress(std::string label, bool quiet = false);
  // Cheap to call every step: draws at most 10 times a second (a line every 5 s off a terminal).
  void update(int64_t done, int64_t total, const std::string& detail);
  void finish();  // ends the bar's line

 private:
  using Clock = std::chrono::steady_clock;
  std::string label_;
  bool quiet_;
  bool tty_;
  bool drawn_ = false;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_draw_{};
};

}  // namespace krill::cli
