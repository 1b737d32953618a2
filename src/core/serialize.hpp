// Little-endian binary encoding used by checkpoints (and, later, by PBT weight transfer and MPI
// messages). A reader checks every length against what is left and throws DataError naming the
// source and the field when the bytes run out or do not hold what was expected.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace krill {

class Tensor;

class BinaryWriter {
 public:
  void u8(uint8_t v);
  void u32(uint32_t v);
  void u64(uint64_t v);
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  void f64(double v);
  void string(const std::string& s);
  void floats(std::span<const float> v);   // length-prefixed
  void tensor(const Tensor& t);            // shape then values
  void bytes(std::span<const uint8_t> v);  // raw, no length

  const std::vector<uint8_t>& buffer() const { return buf_; }
  std::vector<uint8_t> take() { return std::move(buf_); }

 private:
  std::vector<uint8_t> buf_;
};

class BinaryReader {
 public:
  // `source` names the bytes in error messages (a file name, "message from rank 3"...).
  BinaryReader(std::span<const uint8_t> bytes, std::string source);

  uint8_t u8(const char* field);
  uint32_t u32(const char* field);
  uint64_t u64(const char* field);
  int64_t i64(const char* field) { return static_cast<int64_t>(u64(field)); }
  double f64(const char* field);
  std::string string(const char* field);
  std::vector<float> floats(const char* field);
  // Reads a tensor into `into`, which must already have the expected shape.
  void tensor_into(Tensor& into, const char* field);
  std::span<const uint8_t> bytes(size_t n, const char* field);

  size_t remaining() const { return bytes_.size() - pos_; }
  const std::string& source() const { return source_; }
  [[noreturn]] void fail(const std::string& what) const;

 private:
  void need(size_t n, const char* field) const;

  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
  std::string source_;
};

}  // namespace krill
