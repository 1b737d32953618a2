// Fuzzes opening a study database (store/open.hpp) whose file holds arbitrary bytes, then reading
// every study, its trials and its runs, as `krill show` and `krill report` do, and claiming a
// trial as a joining `krill tune` does (every registered run taken for gone, so that a trial
// left running is re-queued from whatever the file holds). A krill::Error (DataError:
// not a database, not krill's, another schema, a corrupt row) is the clean answer; a crash, a
// std::bad_alloc or any other exception is a finding.
#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/error.hpp"
#include "fuzz_util.hpp"
#include "store/open.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static krill::fuzz::ScratchFile file("krill-fuzz-store.db", {"-wal", "-shm", "-journal"});
  file.write(data, size);
  try {
    auto storage = krill::store::open_storage(file.path());
    for (const auto& study : storage->studies()) {
      (void)storage->trials(study.id);
      (void)storage->runs(study.id);
      krill::hpo::ClaimRequest request;
      request.owner = "fuzz";
      request.budget = study.n_trials;
      request.gone = [](const krill::hpo::RunRecord&) { return true; };
      request.propose = [](int64_t) { return std::optional<krill::hpo::Params>(); };
      (void)storage->claim_trial(study.id, request);
    }
  } catch (const krill::Error&) {
  }
  return 0;
}
