#include "core/serialize.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "common/allocation_counter.hpp"
#include "core/error.hpp"
#include "core/tensor.hpp"

namespace krill {
namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// Runs `read` and returns the DataError's message; fails the test if nothing or another type is
// thrown.
std::string data_error_message(const std::function<void()>& read) {
  try {
    read();
  } catch (const DataError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected DataError, got another exception: " << e.what();
    return {};
  }
  ADD_FAILURE() << "expected DataError, nothing was thrown";
  return {};
}

TEST(Serialize, ScalarsRoundTrip) {
  BinaryWriter w;
  w.u8(0);
  w.u8(0xAB);
  w.u32(0xDEADBEEFu);
  w.u64(0x0123456789ABCDEFULL);
  w.u64(std::numeric_limits<uint64_t>::max());
  w.i64(-42);
  w.i64(std::numeric_limits<int64_t>::min());
  w.f64(-1.5e300);
  w.f64(3.141592653589793);
  w.f64(std::numeric_limits<double>::infinity());
  w.f64(std::nan(""));
  EXPECT_EQ(w.buffer().size(), 2u + 4u + 8u * 8u);

  BinaryReader r(w.buffer(), "scalars");
  EXPECT_EQ(r.u8("a"), 0);
  EXPECT_EQ(r.u8("b"), 0xAB);
  EXPECT_EQ(r.u32("c"), 0xDEADBEEFu);
  EXPECT_EQ(r.u64("d"), 0x0123456789ABCDEFULL);
  EXPECT_EQ(r.u64("e"), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(r.i64("f"), -42);
  EXPECT_EQ(r.i64("g"), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(r.f64("h"), -1.5e300);
  EXPECT_EQ(r.f64("i"), 3.141592653589793);
  EXPECT_EQ(r.f64("j"), std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(r.f64("k")));
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(Serialize, EncodingIsLittleEndian) {
  BinaryWriter w;
  w.u32(0x01020304u);
  w.u64(0x1122334455667788ULL);
  const std::vector<uint8_t> expected = {0x04, 0x03, 0x02, 0x01, 0x88, 0x77,
                                         0x66, 0x55, 0x44, 0x33, 0x22, 0x11};
  EXPECT_EQ(w.buffer(), expected);
}

TEST(Serialize, StringsRoundTrip) {
  const std::string with_nul("a\0b", 3);
  BinaryWriter w;
  w.string("hello");
  w.string("");
  w.string(with_nul);
  w.string(std::string(1000, 'x'));
  EXPECT_EQ(w.buffer().size(), 4u * 4u + 5u + 0u + 3u + 1000u);  // u32 length prefixes

  BinaryReader r(w.buffer(), "strings");
  EXPECT_EQ(r.string("s1"), "hello");
  EXPECT_EQ(r.string("s2"), "");
  EXPECT_EQ(r.string("s3"), with_nul);
  EXPECT_EQ(r.string("s4"), std::string(1000, 'x'));
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(Serialize, FloatsRoundTrip) {
  const std::vector<float> v = {1.5f,
                                -2.0f,
                                0.0f,
                                -0.0f,
                                3.4e38f,
                                std::numeric_limits<float>::denorm_min(),
                                std::numeric_limits<float>::infinity()};
  BinaryWriter w;
  w.floats(v);
  w.floats(std::vector<float>{});
  EXPECT_EQ(w.buffer().size(), 8u + 4u * v.size() + 8u);  // u64 count prefixes

  BinaryReader r(w.buffer(), "floats");
  const std::vector<float> back = r.floats("v");
  ASSERT_EQ(back.size(), v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    EXPECT_EQ(back[i], v[i]) << i;
    EXPECT_EQ(std::signbit(back[i]), std::signbit(v[i])) << i;
  }
  EXPECT_TRUE(r.floats("empty").empty());
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(Serialize, TensorRoundTrip) {
  const Tensor t = Tensor::from(Shape{2, 3}, std::vector<float>{1, -2, 3.25f, 4, 5e-7f, 6});
  BinaryWriter w;
  w.tensor(t);
  w.u8(7);  // something after the tensor

  BinaryReader r(w.buffer(), "tensor");
  Tensor back(Shape{2, 3});
  r.tensor_into(back, "weights");
  EXPECT_EQ(back.shape(), t.shape());
  for (int64_t i = 0; i < t.numel(); ++i) EXPECT_EQ(back[i], t[i]) << i;
  EXPECT_EQ(r.u8("after"), 7);
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(Serialize, EverythingInOneBufferRoundTrips) {
  const Tensor t = Tensor::from(Shape{4}, std::vector<float>{9, 8, 7, 6});
  BinaryWriter w;
  w.u8(1);
  w.string("krill");
  w.tensor(t);
  w.floats(std::vector<float>{0.5f});
  w.i64(-7);
  const std::vector<uint8_t> raw = {0xFF, 0x00, 0x7F};
  w.bytes(raw);
  w.f64(2.5);
  const std::vector<uint8_t> buf = w.take();

  BinaryReader r(buf, "mixed");
  EXPECT_EQ(r.u8("flag"), 1);
  EXPECT_EQ(r.string("name"), "krill");
  Tensor back(Shape{4});
  r.tensor_into(back, "t");
  EXPECT_EQ(back[0], 9.0f);
  EXPECT_EQ(back[3], 6.0f);
  EXPECT_EQ(r.floats("f"), std::vector<float>{0.5f});
  EXPECT_EQ(r.i64("i"), -7);
  const auto bytes = r.bytes(3, "raw");
  EXPECT_EQ(std::vector<uint8_t>(bytes.begin(), bytes.end()), raw);
  EXPECT_EQ(r.f64("d"), 2.5);
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_EQ(r.source(), "mixed");
}

TEST(Serialize, ReadingPastTheEndThrowsDataErrorNamingSourceAndField) {
  BinaryWriter w;
  w.u32(5);
  const std::vector<uint8_t> buf = w.take();

  BinaryReader r(buf, "ckpt.bin");
  const std::string msg = data_error_message([&] { r.u64("epoch"); });
  EXPECT_TRUE(contains(msg, "ckpt.bin")) << msg;
  EXPECT_TRUE(contains(msg, "epoch")) << msg;
  EXPECT_TRUE(contains(msg, "truncated")) << msg;
}

TEST(Serialize, EveryReadChecksWhatIsLeft) {
  const std::vector<uint8_t> three = {1, 2, 3};
  struct Case {
    const char* field;
    std::function<void(BinaryReader&)> read;
  };
  const std::vector<Case> cases = {
      {"u32_field", [](BinaryReader& r) { r.u32("u32_field"); }},
      {"u64_field", [](BinaryReader& r) { r.u64("u64_field"); }},
      {"i64_field", [](BinaryReader& r) { r.i64("i64_field"); }},
      {"f64_field", [](BinaryReader& r) { r.f64("f64_field"); }},
      {"floats_field", [](BinaryReader& r) { r.floats("floats_field"); }},
      {"string_field", [](BinaryReader& r) { r.string("string_field"); }},
      {"bytes_field", [](BinaryReader& r) { r.bytes(4, "bytes_field"); }},
      {"u8_field",
       [](BinaryReader& r) {
         r.bytes(3, "skip");
         r.u8("u8_field");
       }},
  };
  for (const Case& c : cases) {
    BinaryReader r(three, "three-bytes.bin");
    const std::string msg = data_error_message([&] { c.read(r); });
    EXPECT_TRUE(contains(msg, "three-bytes.bin")) << c.field << ": " << msg;
    EXPECT_TRUE(contains(msg, c.field)) << c.field << ": " << msg;
    EXPECT_TRUE(contains(msg, "truncated")) << c.field << ": " << msg;
  }
}

TEST(Serialize, TruncatedPayloadsAfterTheLengthPrefix) {
  {
    BinaryWriter w;
    w.string("hello world");
    std::vector<uint8_t> buf = w.take();
    buf.resize(buf.size() - 1);
    BinaryReader r(buf, "short-string");
    const std::string msg = data_error_message([&] { r.string("name"); });
    EXPECT_TRUE(contains(msg, "short-string") && contains(msg, "name") &&
                contains(msg, "truncated"))
        << msg;
  }
  {
    BinaryWriter w;
    w.floats(std::vector<float>{1, 2, 3});
    std::vector<uint8_t> buf = w.take();
    buf.resize(buf.size() - 1);
    BinaryReader r(buf, "short-floats");
    const std::string msg = data_error_message([&] { r.floats("values"); });
    EXPECT_TRUE(contains(msg, "short-floats") && contains(msg, "values") &&
                contains(msg, "truncated"))
        << msg;
  }
  {
    BinaryWriter w;
    w.tensor(Tensor::from(Shape{2, 2}, std::vector<float>{1, 2, 3, 4}));
    std::vector<uint8_t> buf = w.take();
    buf.resize(buf.size() - 4);
    BinaryReader r(buf, "short-tensor");
    Tensor into(Shape{2, 2});
    const std::string msg = data_error_message([&] { r.tensor_into(into, "layer0.weight"); });
    EXPECT_TRUE(contains(msg, "short-tensor") && contains(msg, "layer0.weight") &&
                contains(msg, "truncated"))
        << msg;
  }
}

TEST(Serialize, TensorIntoWithAWrongShapeThrowsDataError) {
  BinaryWriter w;
  w.tensor(Tensor::from(Shape{2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6}));
  const std::vector<uint8_t> buf = w.take();

  for (const Shape& expected : {Shape{3, 2}, Shape{6}, Shape{2, 3, 1}, Shape{2, 4}}) {
    BinaryReader r(buf, "model.ckpt");
    Tensor into(expected);
    into.fill(-1.0f);
    const std::string msg = data_error_message([&] { r.tensor_into(into, "fc1.weight"); });
    EXPECT_TRUE(contains(msg, "shape")) << msg;
    EXPECT_TRUE(contains(msg, "fc1.weight")) << msg;
    EXPECT_TRUE(contains(msg, "model.ckpt")) << msg;
    EXPECT_TRUE(contains(msg, "[2, 3]")) << msg;
    EXPECT_EQ(into.shape(), expected);
    for (float v : into.values()) EXPECT_EQ(v, -1.0f);  // untouched
  }
}

TEST(Serialize, TensorWithANegativeDimensionThrowsDataError) {
  // A corrupt header is bad data: DataError naming the source, not a bare ShapeError.
  BinaryWriter w;
  w.u32(2);
  w.i64(-2);
  w.i64(3);
  w.u64(0);
  const std::vector<uint8_t> buf = w.take();
  BinaryReader r(buf, "corrupt.ckpt");
  Tensor into(Shape{2, 3});
  const std::string msg = data_error_message([&] { r.tensor_into(into, "fc1.weight"); });
  EXPECT_TRUE(contains(msg, "corrupt.ckpt")) << msg;
  EXPECT_TRUE(contains(msg, "fc1.weight")) << msg;
}

TEST(Serialize, TensorWithAnImplausibleRankThrowsDataError) {
  BinaryWriter w;
  w.u32(1000000);
  const std::vector<uint8_t> buf = w.take();
  BinaryReader r(buf, "corrupt.ckpt");
  Tensor into(Shape{2, 3});
  const std::string msg = data_error_message([&] { r.tensor_into(into, "fc1.weight"); });
  EXPECT_TRUE(contains(msg, "corrupt.ckpt")) << msg;
  EXPECT_TRUE(contains(msg, "fc1.weight")) << msg;
}

TEST(Serialize, AbsurdFloatsCountThrowsDataErrorInsteadOfAllocating) {
  // 2^60 floats could never be allocated; 2^28 (1 GiB) could, and must not be either.
  for (uint64_t count : {uint64_t{1} << 60, uint64_t{1} << 28}) {
    BinaryWriter w;
    w.u64(count);
    w.floats(std::vector<float>{1, 2, 3, 4});  // some bytes after the count
    const std::vector<uint8_t> buf = w.take();
    BinaryReader r(buf, "huge.bin");
    std::string msg;
    size_t largest = 0;
    {
      testing::AllocationCounter counter;
      try {
        r.floats("values");
      } catch (const DataError& e) {
        msg = e.what();
      }
      largest = counter.largest();
    }
    EXPECT_TRUE(contains(msg, "huge.bin") && contains(msg, "values") && contains(msg, "truncated"))
        << count << ": " << msg;
    EXPECT_LT(largest, size_t{4096}) << count;
  }
}

TEST(Serialize, FloatsCountWhoseByteSizeOverflowsThrowsDataError) {
  // count * sizeof(float) wraps around 2^64 to a small number: 2^62 -> 0 bytes, 2^62 + 1 -> 4.
  for (uint64_t count : {uint64_t{1} << 62, (uint64_t{1} << 62) + 1, ~uint64_t{0}}) {
    BinaryWriter w;
    w.u64(count);
    w.u32(0);  // 4 bytes left
    const std::vector<uint8_t> buf = w.take();
    BinaryReader r(buf, "wrap.bin");
    const std::string msg = data_error_message([&] { r.floats("values"); });
    EXPECT_TRUE(contains(msg, "wrap.bin") && contains(msg, "values"))
        << "count " << count << ": " << msg;
  }
}

TEST(Serialize, AbsurdStringLengthThrowsDataError) {
  BinaryWriter w;
  w.u32(0xFFFFFFFFu);
  w.u32(0);
  const std::vector<uint8_t> buf = w.take();
  BinaryReader r(buf, "huge.bin");
  const std::string msg = data_error_message([&] { r.string("name"); });
  EXPECT_TRUE(contains(msg, "huge.bin") && contains(msg, "name") && contains(msg, "truncated"))
      << msg;
}

TEST(Serialize, TakeMovesTheBufferOut) {
  BinaryWriter w;
  w.u32(1);
  const std::vector<uint8_t> buf = w.take();
  EXPECT_EQ(buf.size(), 4u);
  EXPECT_TRUE(w.buffer().empty());
}

}  // namespace
}  // namespace krill
