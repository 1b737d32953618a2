#include "data/idx.hpp"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "core/error.hpp"

namespace krill::data {

namespace {

namespace fs = std::filesystem;

constexpr uint64_t kMaxDataBytes = uint64_t{1} << 34;  // 16 GiB: no real IDX file is larger
constexpr size_t kFirstGzipChunk = size_t{64} << 20;   // grow past this only as data arrives
constexpr size_t kMaxGzread = size_t{1} << 30;         // gzread takes an unsigned int

[[noreturn]] void fail(const fs::path& file, const std::string& what) {
  throw DataError(file.string() + ": " + what);
}

std::string hex(uint64_t v, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%0*llX", digits, static_cast<unsigned long long>(v));
  return buf;
}

const char* type_name(uint8_t type) {
  switch (type) {
    case 0x09:
      return "signed byte";
    case 0x0B:
      return "int16";
    case 0x0C:
      return "int32";
    case 0x0D:
      return "float32";
    case 0x0E:
      return "float64";
    default:
      return "not an IDX type";
  }
}

// The bytes of a file, inflated on the fly when it starts with the gzip magic 0x1f 0x8b.
class Source {
 public:
  explicit Source(const fs::path& file) : file_(file) {
    std::error_code ec;
    if (!fs::exists(file, ec)) fail(file, "no such file");
    if (fs::is_directory(file, ec)) fail(file, "is a folder, expected an IDX file");
    raw_ = std::fopen(file.c_str(), "rb");
    if (!raw_) fail(file, std::string("cannot open: ") + std::strerror(errno));
    unsigned char magic[2] = {0, 0};
    size_t got = std::fread(magic, 1, 2, raw_);
    if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
      std::fclose(raw_);
      raw_ = nullptr;
      gz_ = gzopen(file.c_str(), "rb");
      if (!gz_) fail(file, "cannot open gzip stream");
      gzbuffer(gz_, 1 << 20);
    } else {
      std::rewind(raw_);
      raw_size_ = fs::file_size(file, ec);
      if (ec) raw_size_.reset();
    }
  }
  ~Source() {
    if (raw_) std::fclose(raw_);
    if (gz_) gzclose(gz_);
  }
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  // Reads up to n bytes, fewer only at the end of the data.
  size_t read(void* dst, size_t n) {
    auto* out = static_cast<uint8_t*>(dst);
    size_t total = 0;
    while (total < n) {
      size_t got = gz_ ? read_gz(out + total, std::min(n - total, kMaxGzread))
                       : std::fread(out + total, 1, n - total, raw_);
      if (!gz_ && std::ferror(raw_)) {
        fail(file_, std::string("read error: ") + std::strerror(errno));
      }
      if (got == 0) break;
      total += got;
    }
    position_ += total;
    return total;
  }

  // Bytes left after the current position when known without reading them (a raw file).
  std::optional<uint64_t> remaining() const {
    if (!raw_size_) return std::nullopt;
    return *raw_size_ >= position_ ? *raw_size_ - position_ : 0;
  }

 private:
  size_t read_gz(uint8_t* dst, size_t n) {
    int got = gzread(gz_, dst, static_cast<unsigned>(n));
    int errnum = Z_OK;
    const char* msg = gzerror(gz_, &errnum);
    if (got < 0 || errnum != Z_OK) {
      // zlib prefixes its message with the path, which ours already starts with.
      std::string why = msg ? msg : "unknown error";
      const std::string prefix = file_.string() + ": ";
      if (why.starts_with(prefix)) why.erase(0, prefix.size());
      fail(file_, "corrupt gzip stream (zlib: " + why + ")");
    }
    return static_cast<size_t>(got);
  }

  fs::path file_;
  std::FILE* raw_ = nullptr;
  gzFile gz_ = nullptr;
  std::optional<uint64_t> raw_size_;
  uint64_t position_ = 0;
};

std::string bytes_text(uint64_t n) {
  return std::to_string(n) + (n == 1 ? " byte" : " bytes");
}

// Reads `n` data bytes, growing the buffer as gzip data arrives so that a lying header in a small
// file cannot make us allocate gigabytes.
std::vector<uint8_t> read_data(Source& src, const fs::path& file, uint64_t n,
                               const std::string& described) {
  if (auto left = src.remaining(); left && *left < n) {
    fail(file, "truncated: header says " + described + ", file has " + std::to_string(*left));
  }
  std::vector<uint8_t> values(src.remaining() ? n : std::min<uint64_t>(n, kFirstGzipChunk));
  size_t got = 0;
  for (;;) {
    got += src.read(values.data() + got, values.size() - got);
    if (got < values.size() || got == n) break;
    values.resize(std::min<uint64_t>(n, values.size() * 2));
  }
  if (got < n) {
    fail(file, "truncated: header says " + described + ", file has " + std::to_string(got));
  }
  uint64_t extra = 0;
  if (auto left = src.remaining()) {
    extra = *left;
  } else {
    uint8_t sink[1 << 16];
    while (size_t k = src.read(sink, sizeof sink)) extra += k;
  }
  if (extra > 0) {
    fail(file, "trailing data: " + bytes_text(extra) + " after the " + described +
                   " that the header describes, expected the file to end there");
  }
  return values;
}

}  // namespace

std::string dims_text(const std::vector<int64_t>& dims) {
  constexpr size_t kShown = 6;  // a corrupt header may have 255 dimensions
  std::string s;
  for (size_t i = 0; i < dims.size() && i < kShown; ++i) {
    if (i > 0) s += 'x';
    s += std::to_string(dims[i]);
  }
  if (dims.size() > kShown) s += "x... (rank " + std::to_string(dims.size()) + ")";
  return s;
}

IdxArray read_idx(const std::filesystem::path& file, IdxKind kind) {
  Source src(file);
  uint8_t magic[4];
  size_t got = src.read(magic, 4);
  if (got < 4) {
    fail(file, "truncated: " + bytes_text(got) + ", expected at least the 4-byte IDX magic");
  }
  uint32_t magic_value = (uint32_t{magic[0]} << 24) | (uint32_t{magic[1]} << 16) |
                         (uint32_t{magic[2]} << 8) | magic[3];
  const uint8_t type = magic[2];
  const int rank = magic[3];
  if (magic[0] != 0 || magic[1] != 0 || rank == 0) {
    fail(file, "wrong IDX magic " + hex(magic_value, 8) +
                   ", expected 0x000008 then the rank (an IDX file of unsigned bytes: "
                   "0x00000801 for labels, 0x00000803 or 0x00000804 for images)");
  }
  if (type != 0x08) {
    fail(file, "unsupported IDX element type " + hex(type, 2) + " (" + type_name(type) +
                   "), only unsigned byte (0x08) is supported");
  }
  if (kind == IdxKind::Labels && rank != 1) {
    fail(file, "IDX magic " + hex(magic_value, 8) + " says rank " + std::to_string(rank) +
                   ", expected a labels file: 0x00000801 (rank 1, one label per image)");
  }
  if (kind == IdxKind::Images && rank != 3 && rank != 4) {
    fail(file, "IDX magic " + hex(magic_value, 8) + " says rank " + std::to_string(rank) +
                   ", expected an images file: 0x00000803 (N x height x width) or 0x00000804 "
                   "(N x channels x height x width)");
  }

  IdxArray array;
  uint8_t header[4 * 255];
  const size_t header_bytes = 4 * static_cast<size_t>(rank);
  got = src.read(header, header_bytes);
  if (got < header_bytes) {
    fail(file, "truncated: the header of a rank-" + std::to_string(rank) + " IDX file needs " +
                   std::to_string(header_bytes) +
                   " bytes of dimensions after the magic, file has " + std::to_string(got));
  }
  for (int i = 0; i < rank; ++i) {
    const uint8_t* b = header + 4 * i;
    array.dims.push_back((int64_t{b[0]} << 24) | (b[1] << 16) | (b[2] << 8) | b[3]);
  }
  // The product, saturated just past the limit (a zero dimension makes it 0 whatever the rest).
  uint64_t n = std::ranges::find(array.dims, 0) != array.dims.end() ? 0 : 1;
  for (int64_t d : array.dims) {
    if (n == 0) break;
    const auto u = static_cast<uint64_t>(d);
    n = n > (kMaxDataBytes + 1) / u ? kMaxDataBytes + 1 : n * u;
  }
  const std::string dims = dims_text(array.dims);
  if (kind == IdxKind::Images) {
    for (size_t i = 1; i < array.dims.size(); ++i) {
      if (array.dims[i] == 0) {
        fail(file, "header says images of " + dims + ": dimension " + std::to_string(i + 1) +
                       " is 0, expected every dimension of an image >= 1");
      }
    }
  }
  if (n > kMaxDataBytes) {
    fail(file, "header says " + dims + " bytes of data, over the 16 GiB (" +
                   std::to_string(kMaxDataBytes) + " bytes) krill accepts: a corrupt header?");
  }
  array.values = read_data(src, file, n, dims + " = " + std::to_string(n) + " bytes of data");
  return array;
}

}  // namespace krill::data
