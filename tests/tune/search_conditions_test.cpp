// `when:` in a study file's search space: the conditions it makes, and its errors.
#include "tune/search_conditions.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "core/error.hpp"
#include "hpo/sampler.hpp"
#include "tune/study_file.hpp"

namespace krill::tune {
namespace {

std::string error_of(const std::string& yaml) {
  try {
    parse_study_file(yaml, "bad.yaml");
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "(no error)";
}

const char* kOptimizerStudy = R"(data: mnist
trials: 4
search:
  momentum: {type: float, low: 0.5, high: 0.99, when: {optimizer: sgd}}
  nesterov: {type: choice, values: [0, 1], when: {optimizer: [sgd]}}
  optimizer: {type: categorical, choices: [sgd, adam]}
  lr: {type: float, low: 0.0001, high: 0.1, log: true}
)";

TEST(SearchConditions, ChildrenOfAChoiceDeclaredBeforeIt) {
  const StudyFile s = parse_study_file(kOptimizerStudy, "a");
  ASSERT_EQ(s.space.size(), 4u);
  ASSERT_TRUE(s.space.condition(0));
  EXPECT_EQ(s.space.condition(0)->describe(), "optimizer = sgd");
  EXPECT_EQ(s.space.condition(1)->describe(), "optimizer = sgd");
  EXPECT_FALSE(s.space.condition(2));
  // The condition is part of the study: without it, it is another study.
  std::string without = kOptimizerStudy;
  without.erase(without.find(", when: {optimizer: sgd}"), 24);
  EXPECT_NE(parse_study_file(without, "a").canonical(), s.canonical());
  // Proposals hold momentum and nesterov only with sgd; and `momentum` may be 0 only where it is
  // inactive, with adam: nesterov (only with sgd) never meets it, so the file is not refused.
  auto sampler = hpo::make_sampler("random", 1);
  std::set<std::string> seen;
  for (int64_t n = 0; n < 40; ++n) {
    const hpo::Params p = *sampler->sample(s.space, n, {});
    const std::string& optimizer = std::get<std::string>(p.at("optimizer"));
    seen.insert(optimizer);
    EXPECT_EQ(p.contains("momentum"), optimizer == "sgd");
    EXPECT_EQ(p.contains("nesterov"), optimizer == "sgd");
  }
  EXPECT_EQ(seen.size(), 2u);
}

TEST(SearchConditions, IntegerParentsTakeValuesListsAndComparisons) {
  const StudyFile s = parse_study_file(R"(data: mnist
trials: 4
search:
  depth: {type: int, low: 1, high: 3}
  width: {type: int, low: 16, high: 64, when: {depth: ">= 2"}}
  dropout: {type: float, low: 0.0, high: 0.5, when: {depth: [2, 3]}}
  activation: {type: choice, values: [relu, tanh], when: {depth: "== 3"}}
  init: {type: choice, values: [he, glorot], when: {depth: "!= 1"}}
)",
                                       "a");
  EXPECT_EQ(s.space.condition(1)->describe(), "depth >= 2");
  EXPECT_EQ(s.space.condition(2)->describe(), "depth in {2, 3}");
  EXPECT_EQ(s.space.condition(3)->describe(), "depth = 3");
  EXPECT_EQ(s.space.condition(4)->describe(), "depth != 1");
  EXPECT_TRUE(s.space.active("width", hpo::Params{{"depth", int64_t{2}}}));
  EXPECT_FALSE(s.space.active("width", hpo::Params{{"depth", int64_t{1}}}));
}

TEST(SearchConditions, NesterovWithoutMomentumIsStillRefusedWhereATrialCanHaveIt) {
  // nesterov is searched for sgd; momentum only for adam: an sgd trial has momentum 0 (default).
  EXPECT_NE(error_of(R"(data: mnist
trials: 4
search:
  optimizer: {type: choice, values: [sgd, adam]}
  momentum: {type: float, low: 0.5, high: 0.9, when: {optimizer: adam}}
  nesterov: {type: choice, values: [0, 1], when: {optimizer: sgd}}
)")
                .find("'nesterov' can be 1 with momentum 0 (its default, where its condition "
                      "optimizer = adam is false)"),
            std::string::npos);
}

TEST(SearchConditions, ASchedulesParameterMustBeActiveWhenTheScheduleNeedsIt) {
  const std::string ok = R"(data: mnist
trials: 4
search:
  schedule: {type: choice, values: [constant, exp]}
  gamma: {type: float, low: 0.9, high: 1.0, when: {schedule: exp}}
)";
  EXPECT_NO_THROW(parse_study_file(ok, "a"));
  std::string bad = ok;
  bad.replace(bad.find("{schedule: exp}"), 15, "{schedule: constant}");
  EXPECT_NE(error_of(bad).find("bad.yaml:5:3: 'gamma' is searched only if schedule = constant, "
                               "but schedule can be 'exp' without it"),
            std::string::npos)
      << error_of(bad);
}

TEST(SearchConditions, GridEnumeratesDistinctPointsOrRefusesARandomParent) {
  const StudyFile s = parse_study_file(R"(data: mnist
sampler: grid
search:
  optimizer: {type: grid, values: [sgd, adam]}
  momentum: {type: grid, values: [0.5, 0.9], when: {optimizer: sgd}}
  lr: {type: float, low: 0.001, high: 0.1, when: {optimizer: adam}}
)",
                                       "a");
  EXPECT_EQ(s.trials, 3);  // (sgd, 0.5), (sgd, 0.9), adam
  EXPECT_NE(error_of(R"(data: mnist
sampler: grid
search:
  optimizer: {type: choice, values: [sgd, adam]}
  momentum: {type: grid, values: [0.5, 0.9], when: {optimizer: sgd}}
)")
                .find("bad.yaml:5:46: 'momentum' is a grid dimension that depends on 'optimizer', "
                      "which is not of type grid"),
            std::string::npos);
}

struct BadFile {
  const char* name;
  const char* search;  // the lines under search:, from line 4
  const char* where;
  const char* message;
};

const BadFile kBadFiles[] = {
    {"UnknownValue",
     "  optimizer: {type: choice, values: [sgd, adam]}\n"
     "  momentum: {type: float, low: 0, high: 0.9, when: {optimizer: sgdd}}\n",
     "5:64",
     "'when' of 'momentum': 'optimizer' is never 'sgdd', expected one of its values: sgd "
     "or adam"},
    {"ComparisonNeverTrue",
     "  depth: {type: int, low: 1, high: 3}\n"
     "  width: {type: int, low: 8, high: 64, when: {depth: \">= 9\"}}\n",
     "5:54",
     "'when' of 'width': 'depth' is never >= 9 (it is int [1, 3]), expected a condition "
     "that one of its values meets"},
    {"IntegerOutOfRange",
     "  depth: {type: int, low: 1, high: 3}\n"
     "  width: {type: int, low: 8, high: 64, when: {depth: [2, 5]}}\n",
     "5:58", "'when' of 'width': 'depth' is never '5', expected an integer from 1 to 3"},
    {"BadComparison",
     "  depth: {type: int, low: 1, high: 3}\n"
     "  width: {type: int, low: 8, high: 64, when: {depth: \">= two\"}}\n",
     "5:54", "'when' of 'width' is '>= two', expected an integer after '>='"},
    {"ComparisonOfStrings",
     "  optimizer: {type: choice, values: [sgd, adam]}\n"
     "  momentum: {type: float, low: 0, high: 0.9, when: {optimizer: "
     "\"> 1\"}}\n",
     "5:64",
     "'when' of 'momentum' compares 'optimizer' (>), whose values sgd or adam are not all "
     "numbers"},
    {"UnknownParentSuggested",
     "  optimizer: {type: choice, values: [sgd, adam]}\n"
     "  momentum: {type: float, low: 0, high: 0.9, when: {optimiser: sgd}}\n",
     "5:53",
     "'when' of 'momentum' names 'optimiser', which is not under search:, did you mean "
     "'optimizer'?"},
    {"FixedParent", "  momentum: {type: float, low: 0, high: 0.9, when: {optimizer: sgd}}\n",
     "4:53",
     "'when' of 'momentum' names 'optimizer', which is fixed at 5:12, expected a dimension "
     "under search:"},
    {"FloatParent",
     "  lr: {type: float, low: 0.001, high: 0.1}\n"
     "  momentum: {type: float, low: 0, high: 0.9, when: {lr: 0.01}}\n",
     "5:53",
     "'when' of 'momentum' names 'lr', a float dimension, expected an int, choice or grid "
     "dimension as the parent"},
    {"TwoParents",
     "  optimizer: {type: choice, values: [sgd, adam]}\n"
     "  depth: {type: int, low: 1, high: 3}\n"
     "  momentum: {type: float, low: 0, high: 0.9, when: {optimizer: sgd, depth: "
     "2}}\n",
     "6:52", "'when' of 'momentum' is a map of 2 parents, expected one parent and its values"},
    {"NotAMap",
     "  optimizer: {type: choice, values: [sgd, adam]}\n"
     "  momentum: {type: float, low: 0, high: 0.9, when: sgd}\n",
     "5:52",
     "'when' of 'momentum' is 'sgd', expected one parent and its values, e.g. when: "
     "{optimizer: sgd}"},
    {"Itself", "  depth: {type: int, low: 1, high: 3, when: {depth: 2}}\n", "4:46",
     "'when' of 'depth' names 'depth' itself"},
    {"Cycle",
     "  depth: {type: int, low: 1, high: 3, when: {width: 16}}\n"
     "  width: {type: int, low: 16, high: 64, when: {depth: 2}}\n",
     "4:39",
     "'when' of 'depth' makes a cycle: depth -> width -> depth, expected conditions that "
     "end at a dimension without 'when'"},
    {"RepeatedValue",
     "  depth: {type: int, low: 1, high: 3}\n"
     "  width: {type: int, low: 8, high: 64, when: {depth: [2, 2]}}\n",
     "5:58", "'when' of 'width' lists '2' twice, expected distinct values"},
    {"ChoicesAndValues", "  optimizer: {type: choice, choices: [sgd], values: [sgd]}\n", "4:29",
     "'choices' and 'values' of 'optimizer' are the same list, expected one of the two"},
};

class BadCondition : public testing::TestWithParam<BadFile> {};

TEST_P(BadCondition, SaysWhatAndWhere) {
  const BadFile& bad = GetParam();
  std::string text = std::string("data: mnist\ntrials: 4\nsearch:\n") + bad.search;
  if (std::string(bad.name) == "FixedParent") text += "training: {optimizer: sgd}\n";
  const std::string error = error_of(text);
  EXPECT_EQ(error.rfind(std::string("bad.yaml:") + bad.where + ": ", 0), 0u) << error;
  EXPECT_NE(error.find(bad.message), std::string::npos) << error;
}

INSTANTIATE_TEST_SUITE_P(SearchConditions, BadCondition, testing::ValuesIn(kBadFiles),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace krill::tune
