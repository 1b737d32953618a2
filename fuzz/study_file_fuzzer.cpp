// Fuzzes the study-file parser (tune/study_file.hpp) with arbitrary text. InvalidArgument (or any
// krill::Error) is the clean answer to a bad file; a crash, a YAML exception that escaped, or any
// other exception is a finding. A file that parses is checked to have a canonical text.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.hpp"
#include "tune/study_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const krill::tune::StudyFile study = krill::tune::parse_study_file(text, "fuzz.yaml");
    (void)study.canonical();
  } catch (const krill::Error&) {
  }
  return 0;
}
