// The terminal chart of the best-so-far curve, on hand-made trials.
#include "report/text_chart.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

namespace krill::report {
namespace {

std::vector<hpo::TrialRecord> trials(const std::vector<double>& values) {
  std::vector<hpo::TrialRecord> out;
  for (size_t i = 0; i < values.size(); ++i) {
    hpo::TrialRecord t;
    t.number = static_cast<int64_t>(i);
    t.state = std::isnan(values[i]) ? hpo::TrialState::Failed : hpo::TrialState::Completed;
    if (!std::isnan(values[i])) t.value = values[i];
    t.finished = 100.0 + static_cast<double>(i);
    out.push_back(t);
  }
  return out;
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// Column c of the plot area (after "<label> |").
char at(const std::string& line, size_t c) {
  return line.at(line.find('|') + 1 + c);
}

TEST(BestSoFarChart, MaximizingDrawsARisingStaircase) {
  // values 0.2, 0.8, 0.45, 1.0 on 5 rows (0.2 .. 1.0, 0.2 a row): best 0.2, 0.8, 0.8, 1.0;
  // 0.45 rounds to the second row from the bottom.
  auto l = lines(best_so_far_chart(trials({0.2, 0.8, 0.45, 1.0}), hpo::Direction::Maximize, 60, 5));
  ASSERT_GE(l.size(), 5u);
  EXPECT_NE(l[0].find("1"), std::string::npos);    // top label: the maximum
  EXPECT_NE(l[4].find("0.2"), std::string::npos);  // bottom label: the minimum
  EXPECT_EQ(at(l[4], 0), '*');                     // trial 0: 0.2, bottom row
  EXPECT_EQ(at(l[1], 1), '*');                     // trial 1: 0.8, row 1 from the top
  EXPECT_EQ(at(l[1], 2), '*');                     // trial 2: best still 0.8 ...
  EXPECT_EQ(at(l[3], 2), '.');                     // ... its own 0.45 below it
  EXPECT_EQ(at(l[0], 3), '*');                     // trial 3: 1.0 at the top
}

TEST(BestSoFarChart, MinimizingKeepsTheLowest) {
  auto l = lines(best_so_far_chart(trials({1.0, 0.2, 0.6}), hpo::Direction::Minimize, 60, 5));
  EXPECT_EQ(at(l[0], 0), '*');  // 1.0 top
  EXPECT_EQ(at(l[4], 1), '*');  // 0.2 bottom
  EXPECT_EQ(at(l[4], 2), '*');  // still 0.2
  EXPECT_EQ(at(l[2], 2), '.');  // 0.6 on the middle row
}

TEST(BestSoFarChart, SkipsFailedTrialsAndSaysNothingWithoutValues) {
  EXPECT_EQ(best_so_far_chart(trials({NAN, NAN}), hpo::Direction::Maximize), "");
  auto l = lines(best_so_far_chart(trials({0.5, NAN, 0.7}), hpo::Direction::Maximize, 60, 3));
  EXPECT_EQ(at(l[2], 0), '*');
  EXPECT_EQ(at(l[0], 1), '*');  // the failed trial takes no column
}

// One trial is no curve (its axis was made up: 0.125 drawn beside the label -0.875, and the x
// axis read "11"); equal values are one row in the middle, labelled with the value.
TEST(BestSoFarChart, OneTrialDrawsNothingAndEqualValuesOneLabelledRow) {
  EXPECT_EQ(best_so_far_chart(trials({0.125}), hpo::Direction::Maximize, 60, 5), "");
  EXPECT_EQ(best_so_far_chart(trials({0.125, NAN}), hpo::Direction::Maximize, 60, 5), "");
  auto l = lines(best_so_far_chart(trials({0.225, 0.225, 0.225}), hpo::Direction::Maximize, 60, 5));
  ASSERT_GE(l.size(), 7u);
  for (size_t c = 0; c < 3; ++c) EXPECT_EQ(at(l[2], c), '*') << c;
  EXPECT_EQ(l[2].substr(0, l[2].find('|')), "     0.225 ");
  for (size_t r : {0, 1, 3, 4}) {
    EXPECT_EQ(l[r].substr(0, l[r].find('|')), std::string(11, ' ')) << "row " << r << " labelled";
    EXPECT_EQ(l[r].find_first_not_of(' ', l[r].find('|') + 1), std::string::npos) << r;
  }
  EXPECT_EQ(l[6], std::string(12, ' ') + "1 3");  // the x axis: trials 1 to 3, under columns 1-3
}

TEST(BestSoFarChart, ManyTrialsFitTheWidth) {
  std::vector<double> v;
  for (int i = 0; i < 500; ++i) v.push_back(static_cast<double>(i % 37));
  auto l = lines(best_so_far_chart(trials(v), hpo::Direction::Maximize, 40, 6));
  for (size_t r = 0; r < 6; ++r) EXPECT_EQ(l[r].size() - (l[r].find('|') + 1), 40u);
  EXPECT_NE(l[7].find("500"), std::string::npos);  // the last trial's count on the axis
}

}  // namespace
}  // namespace krill::report
