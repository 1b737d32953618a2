// Fuzzes the study-file parser (tune/study_file.hpp) with arbitrary text. InvalidArgument (or any
// krill::Error) is the clean answer to a bad file; a crash, a YAML exception that escaped, or any
// other exception is a finding. A file that parses is checked to have a canonical text, is
// checked against MNIST-like data as krill tune checks it, and the trial at the middle of its
// space is configured, its model (a layers template filled in) parsed and its shapes inferred.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "tune/study_file.hpp"
#include "tune/trainable.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const krill::tune::StudyFile study = krill::tune::parse_study_file(text, "fuzz.yaml");
    (void)study.canonical();
    const krill::tune::DataShape data{
        .train = 900, .validation = 100, .features = 784, .classes = 10, .image = {1, 28, 28}};
    try {
      krill::tune::check_study_data(study, data);
    } catch (const krill::Error&) {
    }
    krill::hpo::Params params = study.fixed;
    const std::vector<double> middle(study.space.size(), 0.5);
    for (const auto& [name, value] : study.space.from_unit(middle)) params[name] = value;
    const krill::tune::TrialConfig config = krill::tune::make_config(params);
    (void)krill::tune::model_problem(config.model, data.image, data.classes);
  } catch (const krill::Error&) {
  }
  return 0;
}
