// Helpers for tests that run the krill program: run a command line, and write a folder of small
// MNIST-style IDX files holding the synthetic 4x4, 3-class problem.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "train/synthetic.hpp"

namespace krill::testing {

struct CliResult {
  int exit_code;
  std::string output;  // stdout and stderr
};

// Runs a shell command line; its output is what the command writes to the pipe (its stdout).
inline CliResult run_shell(const std::string& cmd) {
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return {-1, "popen failed"};
  std::string out;
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), pipe)) out.append(buf.data(), n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

inline CliResult run_krill(const std::string& args) {
  return run_shell(std::string(KRILL_BINARY) + " " + args + " 2>&1");
}

// krill with its standard output sent to `file` (e.g. /dev/full); `output` is its stderr.
inline CliResult run_krill_stdout_to(const std::string& args, const std::string& file) {
  return run_shell(std::string(KRILL_BINARY) + " " + args + " 2>&1 >" + file);
}

inline void put_be32(std::ofstream& f, uint32_t v) {
  const char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  f.write(b, 4);
}

inline void write_idx(const std::filesystem::path& file, const std::vector<uint32_t>& dims,
                      const std::vector<uint8_t>& values, uint32_t magic_override = 0) {
  std::ofstream f(file, std::ios::binary);
  put_be32(f, magic_override ? magic_override : 0x00000800u | static_cast<uint32_t>(dims.size()));
  for (uint32_t d : dims) put_be32(f, d);
  f.write(reinterpret_cast<const char*>(values.data()),
          static_cast<std::streamsize>(values.size()));
}

// Writes <prefix>-images-idx3-ubyte and <prefix>-labels-idx1-ubyte (labels cut to label_count
// when >= 0).
inline void write_synthetic_split(const std::filesystem::path& dir, const std::string& prefix,
                                  int64_t count, uint64_t seed, int64_t label_count = -1) {
  auto d = synthetic_dataset(count, 3, seed);
  const auto& s = d.images();
  write_idx(dir / (prefix + "-images-idx3-ubyte"), {uint32_t(count), 4, 4}, s.pixels);
  std::vector<uint8_t> labels(s.labels.begin(), s.labels.end());
  if (label_count >= 0) labels.resize(static_cast<size_t>(label_count));
  write_idx(dir / (prefix + "-labels-idx1-ubyte"), {uint32_t(labels.size())}, labels);
}

// A fresh, empty folder for the running test, named after it and this process (tests run in
// parallel processes under CTest).
inline std::filesystem::path fresh_test_folder(const std::string& prefix) {
  const auto folder = std::filesystem::temp_directory_path() /
                      (prefix + "_" + std::to_string(::getpid()) + "_" +
                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::remove_all(folder);
  std::filesystem::create_directories(folder);
  return folder;
}

// <dir>/data/ holding the synthetic problem: `train` training and `test` test images.
inline void write_synthetic_data(const std::filesystem::path& dir, int64_t train, int64_t test) {
  std::filesystem::create_directories(dir / "data");
  write_synthetic_split(dir / "data", "train", train, 1);
  write_synthetic_split(dir / "data", "t10k", test, 2);
}

}  // namespace krill::testing
