// Fuzzes opening a study database (store/open.hpp) whose file holds arbitrary bytes, then reading
// every study and its trials, as `krill show` and `krill report` do. A krill::Error (DataError:
// not a database, not krill's, another schema, a corrupt row) is the clean answer; a crash, a
// std::bad_alloc or any other exception is a finding.
#include <cstddef>
#include <cstdint>

#include "core/error.hpp"
#include "fuzz_util.hpp"
#include "store/open.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static krill::fuzz::ScratchFile file("krill-fuzz-store.db", {"-wal", "-shm", "-journal"});
  file.write(data, size);
  try {
    auto storage = krill::store::open_storage(file.path());
    for (const auto& study : storage->studies()) (void)storage->trials(study.id);
  } catch (const krill::Error&) {
  }
  return 0;
}
