// Learning Curve Matching (the poster's early-stopping rule; ../shared/docs/DESIGN.md, "Learning
// Curve Matching"). The rule and its options are documented beside LcmOptions in hpo/stopper.hpp;
// make_lcm() there is the usual way in, this class is declared for callers that want the type.
#pragma once

#include <string>

#include "hpo/stopper.hpp"

namespace krill::hpo {

class LearningCurveMatching : public Stopper {
 public:
  // Throws InvalidArgument for options out of range (see make_lcm).
  explicit LearningCurveMatching(LcmOptions options);

  StopDecision decide(const StudyView& study, const TrialRecord& trial,
                      const Report& report) override;
  // "lcm(accumulate=10, percentile=50, k=1, normalize=false, checkpoints=[100,200])", with
  // ", curve=val_loss" before the ")" when the curve is not the objective.
  std::string describe() const override;

  const LcmOptions& options() const { return options_; }

 private:
  LcmOptions options_;
};

}  // namespace krill::hpo
