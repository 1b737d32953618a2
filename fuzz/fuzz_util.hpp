// Helpers shared by the fuzz targets: a scratch file that holds the current input, for the
// readers that take a path (IDX files, SQLite databases).
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

namespace krill::fuzz {

// A file in the temporary folder ($TMPDIR), named after the process so that parallel fuzzing
// jobs do not share it, removed (with the given side files, e.g. SQLite's -wal and -shm) before
// every write and when the process ends.
class ScratchFile {
 public:
  ScratchFile(const std::string& stem, std::initializer_list<const char*> side_suffixes = {})
      : path_(std::filesystem::temp_directory_path() / (stem + "-" + std::to_string(::getpid()))) {
    for (const char* s : side_suffixes) side_.emplace_back(path_.string() + s);
  }
  ~ScratchFile() { remove(); }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  const std::filesystem::path& path() const { return path_; }

  void write(const uint8_t* data, size_t size) {
    remove();
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }

  void remove() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
    for (const auto& p : side_) std::filesystem::remove(p, ec);
  }

 private:
  std::filesystem::path path_;
  std::vector<std::filesystem::path> side_;
};

}  // namespace krill::fuzz
