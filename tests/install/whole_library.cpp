// Links krill::krill from an installed krill (tests/install/run.cmake): a layer each of the
// training engine (a forward pass: OpenBLAS and OpenMP), study files (yaml-cpp) and reports, with
// the headers included as krill's own code includes them.
#include <cstdio>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/tensor.hpp"
#include "nn/model_spec.hpp"
#include "report/text_chart.hpp"
#include "tune/params.hpp"
#include "tune/study_file.hpp"

int main() {
  using namespace krill;
  auto model = nn::build_model(nn::parse_model_spec("mlp:16"), 8, 3, 1);
  Tensor x(Shape{32, 8});
  x.fill(0.5f);
  const Tensor& y = model->forward(x, nn::Mode::Eval);
  int64_t parameters = 0;
  for (const nn::Parameter* p : model->parameters()) parameters += p->value.shape().numel();
  const int64_t expected = tune::mlp_parameters(std::vector<int64_t>{16}, 8, 3);

  std::string study_file = "accepted";
  try {
    tune::parse_study_file("trials: [", "inline.yaml");
  } catch (const Error& e) {
    study_file = "refused";
  }

  std::vector<hpo::TrialRecord> trials(3);
  for (int i = 0; i < 3; ++i) {
    trials[i].number = i;
    trials[i].state = hpo::TrialState::Completed;
    trials[i].value = 3.0 - i;
  }
  const std::string chart = report::best_so_far_chart(trials, hpo::Direction::Minimize);

  std::printf("output %s, %lld parameters (expected %lld), bad study file %s, chart %s\n",
              y.shape().to_string().c_str(), static_cast<long long>(parameters),
              static_cast<long long>(expected), study_file.c_str(),
              chart.empty() ? "empty" : "drawn");
  return parameters == expected ? 0 : 1;
}
