// Helpers shared by the storage tests: a unique temporary database path that is removed (with
// its WAL files) afterwards, sample records, and bit-exact comparison of stored values.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <variant>

#include "hpo/storage.hpp"
#include "hpo/trial.hpp"

namespace krill::store::testing {

// A path under the system's temporary folder, unique to this process and object. The file is
// not created; it and SQLite's companions (-wal, -shm, -journal) are removed on destruction.
class TempDb {
 public:
  TempDb() {
    static std::atomic<int> counter{0};
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("krill_store_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) +
             "_" + std::to_string(rd()) + ".db");
  }
  ~TempDb() {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      std::filesystem::remove(path_.string() + suffix, ec);
    }
  }
  TempDb(const TempDb&) = delete;
  TempDb& operator=(const TempDb&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline hpo::StudyRecord sample_study(const std::string& name) {
  hpo::StudyRecord s;
  s.name = name;
  s.direction = hpo::Direction::Minimize;
  s.objective = "val_loss";
  s.space = "lr:loguniform(0.0001,0.1) width:choice(64,128)";
  s.sampler = "random(seed=1)";
  s.config = "epochs=5 batch=32";
  s.n_trials = 20;
  s.created = 1717171717.125;
  return s;
}

inline hpo::TrialRecord sample_trial(int64_t number, int worker = 0) {
  hpo::TrialRecord t;
  t.number = number;
  t.params = {{"lr", 0.001 * static_cast<double>(number + 1)},
              {"width", int64_t{64} << (number % 3)},
              {"activation", std::string(number % 2 ? "relu" : "tanh")}};
  t.started = 1717171800.5 + static_cast<double>(number);
  t.worker = worker;
  return t;
}

// A run (hpo/lease.hpp) on a host of the given name; the requests below take runs on
// "gone-host" for gone, so that tests decide who is alive without processes.
inline hpo::RunRecord sample_run(const std::string& id, const std::string& host = "live-host") {
  hpo::RunRecord r;
  r.id = id;
  r.host = host;
  r.pid = 4242;
  r.pid_start = 77;
  r.started = 1717171700.25;
  r.heartbeat = 1717171701.5;
  return r;
}

// A claim by `owner` within `budget`, proposing sample_trial(number)'s parameters.
inline hpo::ClaimRequest claim_request(const std::string& owner, int64_t budget) {
  hpo::ClaimRequest r;
  r.owner = owner;
  r.worker = 1;
  r.started = 1717171900.75;
  r.budget = budget;
  r.gone = [](const hpo::RunRecord& run) { return run.host == "gone-host"; };
  r.propose = [](int64_t number) {
    return std::optional<hpo::Params>(sample_trial(number).params);
  };
  return r;
}

// Bit-exact: -0.0 differs from 0.0, and NaN equals NaN.
inline bool same_bits(double a, double b) {
  return std::bit_cast<uint64_t>(a) == std::bit_cast<uint64_t>(b) ||
         (std::isnan(a) && std::isnan(b));
}

inline bool same_value(const hpo::ParamValue& a, const hpo::ParamValue& b) {
  if (a.index() != b.index()) return false;
  if (const auto* d = std::get_if<double>(&a)) return same_bits(*d, std::get<double>(b));
  return a == b;
}

inline void expect_same_study(const hpo::StudyRecord& a, const hpo::StudyRecord& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.direction, b.direction);
  EXPECT_EQ(a.objective, b.objective);
  EXPECT_EQ(a.space, b.space);
  EXPECT_EQ(a.sampler, b.sampler);
  EXPECT_EQ(a.config, b.config);
  EXPECT_EQ(a.n_trials, b.n_trials);
  EXPECT_TRUE(same_bits(a.created, b.created));
}

inline void expect_same_trial(const hpo::TrialRecord& a, const hpo::TrialRecord& b) {
  SCOPED_TRACE("trial " + std::to_string(a.number));
  EXPECT_EQ(a.number, b.number);
  EXPECT_EQ(a.state, b.state);
  ASSERT_EQ(a.params.size(), b.params.size());
  for (const auto& [name, value] : a.params) {
    ASSERT_TRUE(b.params.contains(name)) << name;
    EXPECT_TRUE(same_value(value, b.params.at(name)))
        << name << ": " << hpo::to_string(value) << " vs " << hpo::to_string(b.params.at(name));
  }
  ASSERT_EQ(a.reports.size(), b.reports.size());
  for (size_t i = 0; i < a.reports.size(); ++i) {
    EXPECT_EQ(a.reports[i].step, b.reports[i].step);
    EXPECT_TRUE(same_bits(a.reports[i].value, b.reports[i].value)) << "report " << i;
  }
  ASSERT_EQ(a.value.has_value(), b.value.has_value());
  if (a.value) {
    EXPECT_TRUE(same_bits(*a.value, *b.value));
  }
  EXPECT_EQ(a.error, b.error);
  ASSERT_EQ(a.attrs.size(), b.attrs.size());
  for (const auto& [key, value] : a.attrs) {
    ASSERT_TRUE(b.attrs.contains(key)) << key;
    EXPECT_TRUE(same_bits(value, b.attrs.at(key))) << key;
  }
  EXPECT_TRUE(same_bits(a.started, b.started));
  EXPECT_TRUE(same_bits(a.finished, b.finished));
  EXPECT_EQ(a.worker, b.worker);
}

}  // namespace krill::store::testing
