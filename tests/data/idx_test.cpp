#include "data/idx.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "common/allocation_counter.hpp"
#include "core/error.hpp"
#include "data_test_util.hpp"

namespace krill::data {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testutil::idx_bytes;
using testutil::TempDir;
using testutil::write_gz;
using testutil::write_raw;

std::vector<uint8_t> iota_bytes(size_t n, uint8_t start = 0) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(start + i * 13);
  return v;
}

// The message of the DataError that reading `file` throws ("" and a failure if none).
std::string read_error(const std::filesystem::path& file, IdxKind kind = IdxKind::Any) {
  try {
    read_idx(file, kind);
  } catch (const DataError& e) {
    return e.what();
  }
  ADD_FAILURE() << "read_idx(" << file << ") did not throw DataError";
  return "";
}

TEST(ReadIdx, RawRoundTrip) {
  TempDir dir;
  const auto values = iota_bytes(3 * 2 * 4);
  write_raw(dir / "images", idx_bytes({3, 2, 4}, values));
  IdxArray a = read_idx(dir / "images");
  EXPECT_EQ(a.dims, (std::vector<int64_t>{3, 2, 4}));
  EXPECT_EQ(a.values, values);
}

TEST(ReadIdx, GzipRoundTripDetectedByContent) {
  TempDir dir;
  const auto values = iota_bytes(5 * 7 * 3, 200);
  // A gzip file without .gz, and a raw one with it: the content decides.
  write_gz(dir / "images", idx_bytes({5, 7, 3}, values));
  write_raw(dir / "raw.gz", idx_bytes({5, 7, 3}, values));
  for (const char* name : {"images", "raw.gz"}) {
    IdxArray a = read_idx(dir / name);
    EXPECT_EQ(a.dims, (std::vector<int64_t>{5, 7, 3})) << name;
    EXPECT_EQ(a.values, values) << name;
  }
}

TEST(ReadIdx, LabelsAndOtherRanks) {
  TempDir dir;
  write_gz(dir / "labels.gz", idx_bytes({6}, {0, 1, 9, 3, 255, 4}));
  EXPECT_EQ(read_idx(dir / "labels.gz").values, (std::vector<uint8_t>{0, 1, 9, 3, 255, 4}));
  write_raw(dir / "matrix", idx_bytes({2, 3}, iota_bytes(6)));
  EXPECT_EQ(read_idx(dir / "matrix").dims, (std::vector<int64_t>{2, 3}));
}

TEST(ReadIdx, EmptyData) {
  TempDir dir;
  write_raw(dir / "empty", idx_bytes({0, 28, 28}, {}));
  write_gz(dir / "empty.gz", idx_bytes({0, 28, 28}, {}));
  for (const char* name : {"empty", "empty.gz"}) {
    IdxArray a = read_idx(dir / name);
    EXPECT_EQ(a.dims, (std::vector<int64_t>{0, 28, 28}));
    EXPECT_TRUE(a.values.empty());
  }
}

TEST(ReadIdx, LargeGzipGrowsItsBuffer) {
  // More than the first 64 MiB chunk read from a gzip stream: the buffer must grow and keep data.
  TempDir dir;
  const uint32_t count = 1100;
  std::vector<uint8_t> values(size_t{count} * 256 * 256, 0);
  for (size_t i = 0; i < values.size(); i += 4099) values[i] = static_cast<uint8_t>(i % 251 + 1);
  write_gz(dir / "big.gz", idx_bytes({count, 256, 256}, values), "wb1");
  IdxArray a = read_idx(dir / "big.gz");
  EXPECT_EQ(a.dims, (std::vector<int64_t>{count, 256, 256}));
  EXPECT_TRUE(a.values == values);
}

TEST(ReadIdx, MissingFile) {
  TempDir dir;
  EXPECT_THAT(read_error(dir / "nope-idx3-ubyte"),
              AllOf(HasSubstr("nope-idx3-ubyte"), HasSubstr("no such file")));
  EXPECT_THAT(read_error(dir.path()), AllOf(HasSubstr(dir.path().string()), HasSubstr("folder")));
}

TEST(ReadIdx, WrongMagic) {
  TempDir dir;
  write_raw(dir / "bad", {0x12, 0x34, 0x56, 0x78, 0, 0, 0, 1, 5});
  EXPECT_THAT(read_error(dir / "bad"),
              AllOf(HasSubstr((dir / "bad").string() + ": wrong IDX magic 0x12345678"),
                    HasSubstr("expected 0x000008 then the rank (an IDX file of unsigned bytes: "
                              "0x00000801 for labels, 0x00000803 or 0x00000804 for images)")));
  write_gz(dir / "rank0.gz", {0, 0, 8, 0});
  EXPECT_THAT(read_error(dir / "rank0.gz"),
              AllOf(HasSubstr("rank0.gz"), HasSubstr("wrong IDX magic 0x00000800")));
}

// Read as labels or images, a file of another rank, or images with a dimension of 0, is said to be
// that, from the header (read as any array, its dimensions would swallow the data's first bytes
// and the data would be "trailing").
TEST(ReadIdx, LabelsAndImagesAreCheckedByRank) {
  TempDir dir;
  // 2 images of 1x2 read as labels; 1 image of 1x1x1x1 (rank 5) read as images.
  write_raw(dir / "images", {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 1, 2, 3, 4});
  write_raw(dir / "rank5",
            {0, 0, 8, 5, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 7});
  EXPECT_EQ(read_error(dir / "images", IdxKind::Labels),
            (dir / "images").string() +
                ": IDX magic 0x00000803 says rank 3, expected a labels file: 0x00000801 (rank 1, "
                "one label per image)");
  EXPECT_EQ(read_idx(dir / "images", IdxKind::Images).dims, (std::vector<int64_t>{2, 1, 2}));
  EXPECT_EQ(read_error(dir / "rank5", IdxKind::Images),
            (dir / "rank5").string() +
                ": IDX magic 0x00000805 says rank 5, expected an images file: 0x00000803 (N x "
                "height x width) or 0x00000804 (N x channels x height x width)");
  EXPECT_EQ(read_idx(dir / "rank5").values, (std::vector<uint8_t>{7}));
  write_raw(dir / "flat", {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 28, 1, 2});
  EXPECT_EQ(read_error(dir / "flat", IdxKind::Images),
            (dir / "flat").string() +
                ": header says images of 2x0x28: dimension 2 is 0, expected every dimension of an "
                "image >= 1");
  write_raw(dir / "none", {0, 0, 8, 3, 0, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0, 28});
  EXPECT_EQ(read_idx(dir / "none", IdxKind::Images).dims, (std::vector<int64_t>{0, 28, 28}));
  write_raw(dir / "labels", {0, 0, 8, 1, 0, 0, 0, 2, 4, 5});
  EXPECT_EQ(read_idx(dir / "labels", IdxKind::Labels).values, (std::vector<uint8_t>{4, 5}));
}

// A header of 255 dimensions (a corrupt file) is named by its first few and its rank, not by
// all 255.
TEST(ReadIdx, AHeaderOfManyDimensionsIsShownShort) {
  TempDir dir;
  std::vector<uint8_t> bytes = {0, 0, 8, 255};
  for (int i = 0; i < 255; ++i) bytes.insert(bytes.end(), {0, 0, 1, 0});  // 256 each
  write_raw(dir / "wide", bytes);
  EXPECT_THAT(read_error(dir / "wide"),
              HasSubstr("header says 256x256x256x256x256x256x... (rank 255) bytes of data"));
}

TEST(ReadIdx, UnsupportedElementType) {
  TempDir dir;
  write_raw(dir / "floats", idx_bytes({2}, {0, 0, 0, 0, 0, 0, 0, 0}, 0x0D));
  EXPECT_THAT(read_error(dir / "floats"),
              AllOf(HasSubstr("floats"), HasSubstr("element type 0x0D"),
                    HasSubstr("only unsigned byte (0x08) is supported")));
  write_gz(dir / "ints.gz", idx_bytes({1}, {0, 0, 0, 1}, 0x0C));
  EXPECT_THAT(read_error(dir / "ints.gz"), AllOf(HasSubstr("ints.gz"), HasSubstr("0x0C")));
}

TEST(ReadIdx, TruncatedData) {
  TempDir dir;
  auto bytes = idx_bytes({3, 2, 4}, iota_bytes(10));
  write_raw(dir / "short", bytes);
  write_gz(dir / "short.gz", bytes);
  for (const char* name : {"short", "short.gz"}) {
    EXPECT_THAT(read_error(dir / name),
                AllOf(HasSubstr((dir / name).string()),
                      HasSubstr("truncated: header says 3x2x4 = 24 bytes of data, file has 10")));
  }
}

TEST(ReadIdx, TruncatedHeader) {
  TempDir dir;
  write_raw(dir / "tiny", {0, 0});
  EXPECT_THAT(read_error(dir / "tiny"), AllOf(HasSubstr("tiny"), HasSubstr("truncated")));
  write_raw(dir / "dims", {0, 0, 8, 3, 0, 0, 0, 5, 0, 0});
  EXPECT_THAT(read_error(dir / "dims"),
              AllOf(HasSubstr("dims"), HasSubstr("truncated"), HasSubstr("needs 12 bytes")));
  write_raw(dir / "zero-bytes", {});
  EXPECT_THAT(read_error(dir / "zero-bytes"), HasSubstr("zero-bytes: truncated"));
}

TEST(ReadIdx, TrailingBytes) {
  TempDir dir;
  auto bytes = idx_bytes({4}, {1, 2, 3, 4, 5, 6, 7});
  write_raw(dir / "long", bytes);
  write_gz(dir / "long.gz", bytes);
  for (const char* name : {"long", "long.gz"}) {
    EXPECT_THAT(read_error(dir / name),
                AllOf(HasSubstr((dir / name).string()), HasSubstr("trailing data: 3 bytes after"),
                      HasSubstr("4 = 4 bytes of data")));
  }
}

TEST(ReadIdx, CorruptGzip) {
  TempDir dir;
  std::vector<uint8_t> values(4000);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<uint8_t>((i * i * 31) >> 3);
  write_gz(dir / "good.gz", idx_bytes({4000}, values));
  auto gz = testutil::read_bytes(dir / "good.gz");
  ASSERT_GT(gz.size(), 100u);

  auto flipped = gz;
  for (size_t i = gz.size() / 3; i < gz.size() / 3 + 16; ++i) flipped[i] ^= 0xA5;
  write_raw(dir / "flipped.gz", flipped);
  EXPECT_THAT(read_error(dir / "flipped.gz"),
              AllOf(HasSubstr("flipped.gz"), HasSubstr("corrupt gzip stream")));

  auto cut = std::vector<uint8_t>(gz.begin(), gz.begin() + static_cast<ptrdiff_t>(gz.size() / 2));
  write_raw(dir / "cut.gz", cut);
  EXPECT_THAT(read_error(dir / "cut.gz"),
              AllOf(HasSubstr("cut.gz: corrupt gzip stream (zlib: unexpected end of file)")));

  auto bad_crc = gz;
  bad_crc[bad_crc.size() - 6] ^= 0xFF;  // the CRC-32 in the trailer
  write_raw(dir / "crc.gz", bad_crc);
  EXPECT_THAT(read_error(dir / "crc.gz"),
              AllOf(HasSubstr("crc.gz"), HasSubstr("corrupt gzip stream")));
}

// The DataError message of reading `file`, and the largest block that operator new handed out
// meanwhile.
struct Measured {
  std::string error;
  size_t largest_allocation;
};
Measured read_error_measured(const std::filesystem::path& file) {
  std::string message;
  size_t largest = 0;
  {
    krill::testing::AllocationCounter counter;
    try {
      read_idx(file);
    } catch (const DataError& e) {
      message = e.what();
    }
    largest = counter.largest();
  }
  if (message.empty()) ADD_FAILURE() << "read_idx(" << file << ") did not throw DataError";
  return {message, largest};
}

// Less than the smallest real IDX file's data; the header and error message need far less.
constexpr size_t kSmall = size_t{64} << 10;

TEST(ReadIdx, AbsurdDimensionsFailWithoutAllocating) {
  TempDir dir;
  // 2^35 bytes, over the 16 GiB limit; 4e9 images of 4e9 pixels (1.6e19 bytes, just under 2^64);
  // and a product that overflows 64 bits.
  write_raw(dir / "huge", idx_bytes({65536, 65536, 8}, {1, 2, 3}));
  write_raw(dir / "4e9x4e9", idx_bytes({4000000000u, 4000000000u, 1}, {1, 2, 3}));
  write_gz(dir / "4e9x4e9.gz", idx_bytes({4000000000u, 4000000000u, 1}, {1, 2, 3}));
  write_gz(dir / "overflow.gz",
           idx_bytes({0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, {1}));
  const Measured huge = read_error_measured(dir / "huge");
  EXPECT_THAT(huge.error,
              AllOf(HasSubstr("huge"), HasSubstr("65536x65536x8"), HasSubstr("16 GiB")));
  EXPECT_LT(huge.largest_allocation, kSmall);
  for (const char* name : {"4e9x4e9", "4e9x4e9.gz"}) {
    const Measured m = read_error_measured(dir / name);
    EXPECT_THAT(m.error,
                AllOf(HasSubstr(name), HasSubstr("4000000000x4000000000x1"), HasSubstr("16 GiB")));
    EXPECT_LT(m.largest_allocation, kSmall) << name;
  }
  const Measured overflow = read_error_measured(dir / "overflow.gz");
  EXPECT_THAT(overflow.error, AllOf(HasSubstr("overflow.gz"), HasSubstr("16 GiB")));
  EXPECT_LT(overflow.largest_allocation, kSmall);
}

TEST(ReadIdx, LyingHeadersAllocateNoMoreThanTheFileCanHold) {
  TempDir dir;
  // Under the limit but far more than the file holds (1e10 bytes): a raw file is checked against
  // its size before any buffer is made; a gzip file's size is unknown until it is inflated, so
  // its buffer starts at one 64 MiB chunk (kFirstGzipChunk in idx.cpp) and grows only as data
  // arrives.
  auto lying = idx_bytes({100000, 1000, 100}, {1, 2, 3});
  write_raw(dir / "lying", lying);
  write_gz(dir / "lying.gz", lying);
  const Measured raw = read_error_measured(dir / "lying");
  EXPECT_THAT(raw.error, HasSubstr("100000x1000x100 = 10000000000 bytes of data, file has 3"));
  EXPECT_LT(raw.largest_allocation, kSmall);
  const Measured gz = read_error_measured(dir / "lying.gz");
  EXPECT_THAT(gz.error, HasSubstr("file has 3"));
  EXPECT_LE(gz.largest_allocation, size_t{64} << 20);
}

// The counter itself sees a buffer the size of the data: the bounds above can fail.
TEST(ReadIdx, ReadingAFileAllocatesItsDataOnce) {
  TempDir dir;
  write_raw(dir / "images", idx_bytes({100, 30, 40}, iota_bytes(120000)));
  krill::testing::AllocationCounter counter;
  const IdxArray a = read_idx(dir / "images");
  EXPECT_EQ(a.values.size(), 120000u);
  EXPECT_EQ(counter.largest(), 120000u);
  EXPECT_LT(counter.total(), 120000u + kSmall);  // not copied
}

}  // namespace
}  // namespace krill::data
