// Helpers for the data tests: a temporary folder that cleans itself up, IDX files written raw or
// gzipped into it, and small in-memory image sets.
#pragma once

#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "data/dataset.hpp"

namespace krill::data::testutil {

// A fresh folder under the system temp dir, named after the test and the process, removed at exit.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name =
        "krill_data_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++);
    if (info) name += std::string("_") + info->test_suite_name() + "_" + info->name();
    path_ = std::filesystem::temp_directory_path() / name;
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  static int& counter() {
    static int n = 0;
    return n;
  }
  std::filesystem::path path_;
};

// The bytes of an IDX file: magic (0, 0, type, rank), big-endian dims, then `values`.
inline std::vector<uint8_t> idx_bytes(const std::vector<uint32_t>& dims,
                                      const std::vector<uint8_t>& values, uint8_t type = 0x08) {
  std::vector<uint8_t> out = {0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(d >> shift));
  }
  out.insert(out.end(), values.begin(), values.end());
  return out;
}

inline void write_raw(const std::filesystem::path& file, const std::vector<uint8_t>& bytes) {
  std::ofstream out(file, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << file;
}

inline void write_gz(const std::filesystem::path& file, const std::vector<uint8_t>& bytes,
                     const char* mode = "wb") {
  gzFile gz = gzopen(file.c_str(), mode);
  ASSERT_NE(gz, nullptr) << "cannot write " << file;
  if (!bytes.empty()) {
    ASSERT_EQ(gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size())),
              static_cast<int>(bytes.size()));
  }
  ASSERT_EQ(gzclose(gz), Z_OK);
}

inline std::vector<uint8_t> read_bytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// `count` images of rows x cols whose pixel k of image i is (i * 7 + k) % 256, label i % classes.
inline std::shared_ptr<const ImageSet> make_images(int64_t count, int64_t rows = 2,
                                                   int64_t cols = 3, int classes = 10) {
  auto set = std::make_shared<ImageSet>();
  set->count = count;
  set->rows = rows;
  set->cols = cols;
  set->classes = classes;
  for (int64_t i = 0; i < count; ++i) {
    for (int64_t k = 0; k < rows * cols; ++k) {
      set->pixels.push_back(static_cast<uint8_t>((i * 7 + k) % 256));
    }
    set->labels.push_back(static_cast<int32_t>(i % classes));
  }
  return set;
}

}  // namespace krill::data::testutil
