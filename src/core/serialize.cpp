#include "core/serialize.hpp"

#include <bit>
#include <cstring>

#include "core/error.hpp"
#include "core/tensor.hpp"

namespace krill {

static_assert(std::endian::native == std::endian::little,
              "krill's binary formats assume little-endian");

namespace {
template <class T>
void put(std::vector<uint8_t>& buf, T v) {
  uint8_t raw[sizeof(T)];
  std::memcpy(raw, &v, sizeof(T));
  buf.insert(buf.end(), raw, raw + sizeof(T));
}
}  // namespace

void BinaryWriter::u8(uint8_t v) {
  buf_.push_back(v);
}
void BinaryWriter::u32(uint32_t v) {
  put(buf_, v);
}
void BinaryWriter::u64(uint64_t v) {
  put(buf_, v);
}
void BinaryWriter::f64(double v) {
  put(buf_, v);
}

void BinaryWriter::string(const std::string& s) {
  u32(static_cast<uint32_t>(s.size()));
  buf_.insert(buf_.end(), s.begin(), s.end());
}

void BinaryWriter::floats(std::span<const float> v) {
  u64(v.size());
  const auto* p = reinterpret_cast<const uint8_t*>(v.data());
  buf_.insert(buf_.end(), p, p + v.size_bytes());
}

void BinaryWriter::tensor(const Tensor& t) {
  u32(static_cast<uint32_t>(t.rank()));
  for (int64_t d : t.shape().dims()) i64(d);
  if (t.device() == Device::Cpu) {
    floats(t.values());
  } else {
    floats(t.to_host());
  }
}

void BinaryWriter::bytes(std::span<const uint8_t> v) {
  buf_.insert(buf_.end(), v.begin(), v.end());
}

BinaryReader::BinaryReader(std::span<const uint8_t> bytes, std::string source)
    : bytes_(bytes), source_(std::move(source)) {}

void BinaryReader::fail(const std::string& what) const {
  throw DataError(source_ + ": " + what + " (at byte " + std::to_string(pos_) + ")");
}

void BinaryReader::need(size_t n, const char* field) const {
  if (n > remaining()) {
    fail(std::string("truncated: ") + field + " needs " + std::to_string(n) + " bytes, only " +
         std::to_string(remaining()) + " left");
  }
}

namespace {
template <class T>
T get(std::span<const uint8_t> bytes, size_t& pos) {
  T v;
  std::memcpy(&v, bytes.data() + pos, sizeof(T));
  pos += sizeof(T);
  return v;
}
}  // namespace

uint8_t BinaryReader::u8(const char* field) {
  need(1, field);
  return bytes_[pos_++];
}
uint32_t BinaryReader::u32(const char* field) {
  need(4, field);
  return get<uint32_t>(bytes_, pos_);
}
uint64_t BinaryReader::u64(const char* field) {
  need(8, field);
  return get<uint64_t>(bytes_, pos_);
}
double BinaryReader::f64(const char* field) {
  need(8, field);
  return get<double>(bytes_, pos_);
}

std::string BinaryReader::string(const char* field) {
  uint32_t n = u32(field);
  need(n, field);
  std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
  pos_ += n;
  return s;
}

std::vector<float> BinaryReader::floats(const char* field) {
  uint64_t n = u64(field);
  if (n > remaining() / sizeof(float)) {
    fail(std::string("truncated: ") + field + " promises " + std::to_string(n) + " floats, only " +
         std::to_string(remaining()) + " bytes left");
  }
  std::vector<float> v(n);
  if (n > 0) std::memcpy(v.data(), bytes_.data() + pos_, n * sizeof(float));
  pos_ += n * sizeof(float);
  return v;
}

void BinaryReader::tensor_into(Tensor& into, const char* field) {
  uint32_t rank = u32(field);
  if (rank > 8) fail(std::string(field) + ": rank " + std::to_string(rank) + " is not plausible");
  std::vector<int64_t> dims(rank);
  for (auto& d : dims) {
    d = i64(field);
    if (d < 0) fail(std::string(field) + ": negative dimension " + std::to_string(d));
  }
  Shape shape(dims);
  if (!(shape == into.shape())) {
    fail(std::string(field) + ": shape " + shape.to_string() + " does not match the expected " +
         into.shape().to_string());
  }
  uint64_t n = u64(field);
  if (n != static_cast<uint64_t>(into.numel())) fail(std::string(field) + ": wrong value count");
  need(n * sizeof(float), field);
  if (n > 0 && into.device() == Device::Cpu) {
    std::memcpy(into.data(), bytes_.data() + pos_, n * sizeof(float));
  } else if (n > 0) {  // through an aligned host copy
    std::vector<float> host(n);
    std::memcpy(host.data(), bytes_.data() + pos_, n * sizeof(float));
    into.copy_from_host(host);
  }
  pos_ += n * sizeof(float);
}

std::span<const uint8_t> BinaryReader::bytes(size_t n, const char* field) {
  need(n, field);
  auto s = bytes_.subspan(pos_, n);
  pos_ += n;
  return s;
}

}  // namespace krill
