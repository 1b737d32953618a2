// Fuzzes the IDX reader (data/idx.hpp) with arbitrary file contents, raw or gzip-compressed
// (read_idx detects gzip by its magic, so the corpus holds both). A DataError is the clean
// answer to bad bytes; anything else (a crash, an uncaught exception of another type, a huge
// allocation, a read out of bounds) is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "core/error.hpp"
#include "data/idx.hpp"
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static krill::fuzz::ScratchFile file("krill-fuzz-idx");
  file.write(data, size);
  try {
    const krill::data::IdxArray array = krill::data::read_idx(file.path());
    // What was accepted is consistent: one byte per element of the dimensions.
    size_t n = 1;
    for (int64_t d : array.dims) n *= static_cast<size_t>(d);
    if (array.dims.empty() || n != array.values.size()) std::abort();
  } catch (const krill::Error&) {
  }
  return 0;
}
