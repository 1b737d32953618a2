// Fuzzes the checkpoint loader (train/checkpoint.hpp) with arbitrary bytes, loaded into a small
// MLP with SGD and with Adam. Each input is tried twice: as given, and with the header's payload
// size and CRC-32 recomputed, so that mutations of the payload reach the parser behind the
// checksum. A DataError is the clean answer; a crash, another exception, or a failed load that
// changed the model or the optimizer (loading is all or nothing) is a finding.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "core/error.hpp"
#include "fuzz_members.hpp"
#include "train/checkpoint.hpp"

namespace {

constexpr size_t kHeaderBytes = 8 + 4 + 8 + 4;  // magic, version, payload size, crc

std::vector<uint8_t> with_valid_checksum(const uint8_t* data, size_t size) {
  std::vector<uint8_t> bytes(data, data + size);
  if (size < kHeaderBytes) return bytes;
  const uint64_t payload = size - kHeaderBytes;
  const auto crc = static_cast<uint32_t>(
      crc32(crc32(0L, Z_NULL, 0), bytes.data() + kHeaderBytes, static_cast<uInt>(payload)));
  std::memcpy(bytes.data() + 12, &payload, 8);  // little-endian, as the format
  std::memcpy(bytes.data() + 20, &crc, 4);
  return bytes;
}

void load(krill::fuzz::Member& member, std::span<const uint8_t> bytes) {
  const krill::train::TrainState none{.iteration = -1, .base_lr = -1};
  const std::vector<uint8_t> before =
      krill::train::save_checkpoint(*member.model, *member.optimizer, none);
  try {
    krill::train::load_checkpoint(bytes, *member.model, *member.optimizer, "fuzz");
  } catch (const krill::Error&) {
    if (krill::train::save_checkpoint(*member.model, *member.optimizer, none) != before) {
      std::abort();  // a refused checkpoint changed the model or the optimizer
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static krill::fuzz::Member sgd = krill::fuzz::make_member("sgd");
  static krill::fuzz::Member adam = krill::fuzz::make_member("adam");
  const std::vector<uint8_t> fixed = with_valid_checksum(data, size);
  for (krill::fuzz::Member* member : {&sgd, &adam}) {
    load(*member, {data, size});
    load(*member, fixed);
  }
  return 0;
}
