// IDX files (the format of MNIST, Fashion-MNIST, KMNIST): a 4-byte magic (0, 0, type, rank), the
// dimensions as big-endian uint32, then the values. krill reads unsigned-byte IDX, raw or
// gzip-compressed (detected by content, not by the file name).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace krill::data {

struct IdxArray {
  std::vector<int64_t> dims;    // e.g. {60000, 28, 28} or {60000}
  std::vector<uint8_t> values;  // product(dims) bytes
};

// What a file is read as: any IDX array, or a data set's labels (rank 1: N) or images (rank 3:
// N x H x W, or 4: N x C x H x W, each image dimension >= 1), checked from the header before the
// data is read.
enum class IdxKind { Any, Labels, Images };

// Throws DataError naming the file and what was wrong: missing file, wrong magic, unsupported
// element type, a rank or a dimension `kind` refuses, truncated data, trailing bytes, corrupt
// gzip stream.
IdxArray read_idx(const std::filesystem::path& file, IdxKind kind = IdxKind::Any);

// "60000x28x28"; past six dimensions, the first six and the rank (a corrupt header may have 255).
std::string dims_text(const std::vector<int64_t>& dims);

}  // namespace krill::data
