// The report's analysis: which pairs get a contour, the surface the smoother makes from known
// values, log axes, and the notes that say why nothing is drawn (no trial, one trial, one
// parameter).
#include "report/analysis.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/rng.hpp"

namespace krill::report {
namespace {

using ::testing::HasSubstr;

// n completed trials, uniform in the space's unit cube, value = f(params).
ReportData study_of(const hpo::SearchSpace& space, int n,
                    const std::function<double(const hpo::Params&)>& f) {
  ReportData d;
  d.study.name = "analysis";
  d.study.direction = hpo::Direction::Minimize;
  d.study.space = space.fingerprint();
  d.space = space;
  d.dims = dimensions_of(space);
  Rng rng(3);
  for (int i = 0; i < n; ++i) {
    std::vector<double> u;
    for (size_t k = 0; k < space.size(); ++k) u.push_back(rng.uniform());
    hpo::TrialRecord t;
    t.number = i;
    t.params = space.from_unit(u);
    t.state = hpo::TrialState::Completed;
    t.value = f(t.params);
    d.trials.push_back(t);
  }
  return d;
}

double get(const hpo::Params& p, const std::string& name) {
  return hpo::as_double(p.at(name), name);
}

TEST(Analysis, ContoursPairTheFourMostImportantNumericParameters) {
  const hpo::SearchSpace space{
      {"a", hpo::FloatDim{0, 1}}, {"b", hpo::FloatDim{0, 1}},
      {"c", hpo::IntDim{1, 100}}, {"d", hpo::FloatDim{0, 1}},
      {"e", hpo::FloatDim{0, 1}}, {"act", hpo::CategoricalDim{{"relu", "tanh"}}}};
  // "e" matters most, then "d"; the others not at all.
  const auto data = study_of(space, 200, [](const hpo::Params& p) {
    return 10 * std::pow(get(p, "e") - 0.5, 2) + 3 * std::pow(get(p, "d") - 0.5, 2);
  });
  const Analysis a = analyze(data);
  ASSERT_EQ(a.importance.params.size(), 6u);
  EXPECT_EQ(a.importance.params[0].name, "e");
  EXPECT_EQ(a.importance.params[1].name, "d");
  EXPECT_EQ(a.contour_note, "");
  // 4 of the 5 numeric parameters: 6 pairs, the most important first on x.
  ASSERT_EQ(a.contours.size(), 6u);
  EXPECT_EQ(a.contours[0].x.name, "e");
  EXPECT_EQ(a.contours[0].y.name, "d");
  for (const auto& c : a.contours) {
    EXPECT_NE(c.x.name, "act");
    EXPECT_NE(c.y.name, "act");
    EXPECT_EQ(c.points.size(), 200u);
  }
}

TEST(Analysis, TheSurfaceFollowsTheValuesWithinTheirRange) {
  // value = x + 2y: the surface rises along both axes and never leaves the values' range.
  const hpo::SearchSpace space{{"x", hpo::FloatDim{0, 1}}, {"y", hpo::FloatDim{0, 1}}};
  const auto data =
      study_of(space, 150, [](const hpo::Params& p) { return get(p, "x") + 2 * get(p, "y"); });
  const Analysis a = analyze(data);
  ASSERT_EQ(a.contours.size(), 1u);
  const Contour& c = a.contours[0];
  EXPECT_EQ(c.x.name, "y");  // the stronger
  ASSERT_EQ(c.z.size(), kContourCells);
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& p : c.points) lo = std::min(lo, p.value), hi = std::max(hi, p.value);
  for (const auto& row : c.z) {
    ASSERT_EQ(row.size(), kContourCells);
    for (const double z : row) {
      EXPECT_GE(z, lo);
      EXPECT_LE(z, hi);
    }
  }
  const size_t last = kContourCells - 1;
  // z[row = x][col = y] (x is the contour's y axis here).
  EXPECT_GT(c.z[0][last], c.z[0][0] + 1.0);  // along y: +2 over the range, smoothed
  EXPECT_GT(c.z[last][0], c.z[0][0] + 0.4);  // along x: +1
  EXPECT_GT(c.z[last][last], c.z[0][last] + 0.4);
  // Near the centre the smoother is close to the function (x + 2y = 1.5).
  EXPECT_NEAR((c.z[15][15] + c.z[16][16]) / 2, 1.5, 0.15);
  EXPECT_NEAR(c.bandwidth, 1 / std::sqrt(150.0), 1e-12);
}

TEST(Analysis, LogDimensionsGetLogAxesAndCellsSpacedInTheirLogSpace) {
  const hpo::SearchSpace space{{"lr", hpo::FloatDim{1e-5, 1e-1, true}},
                               {"width", hpo::IntDim{8, 512, true}},
                               {"g", hpo::GridDim{{0.001, 0.01, 0.1}}}};
  const auto data = study_of(space, 40, [](const hpo::Params& p) {
    return std::log10(get(p, "lr")) + 0.01 * get(p, "width");
  });
  const Analysis a = analyze(data);
  ASSERT_EQ(a.contours.size(), 3u);
  for (const auto& c : a.contours) {
    for (const auto* axis : {&c.x, &c.y}) {
      EXPECT_TRUE(axis->log) << axis->name;  // the grid spans two decades: log too
      ASSERT_EQ(axis->cells.size(), kContourCells);
      // Cell centres at equal ratios, inside the range.
      const double ratio = axis->cells[1] / axis->cells[0];
      EXPECT_NEAR(axis->cells[20] / axis->cells[19], ratio, 1e-9 * ratio) << axis->name;
      EXPECT_GT(axis->cells.front(), axis->lo);
      EXPECT_LT(axis->cells.back(), axis->hi);
      for (const auto& p : c.points) {
        const double v = axis == &c.x ? p.x : p.y;
        EXPECT_GT(v, axis->lo);
        EXPECT_LT(v, axis->hi);
      }
    }
  }
  const auto lr = std::find_if(a.contours.begin(), a.contours.end(),
                               [](const Contour& c) { return c.x.name == "lr"; });
  ASSERT_NE(lr, a.contours.end());
  // The bounds widened by 5% of the log range (4 decades) on each side.
  EXPECT_NEAR(std::log10(lr->x.lo), -5.2, 1e-9);
  EXPECT_NEAR(std::log10(lr->x.hi), -0.8, 1e-9);
}

TEST(Analysis, SaysWhyNothingIsDrawn) {
  const hpo::SearchSpace two{{"x", hpo::FloatDim{0, 1}}, {"y", hpo::FloatDim{0, 1}}};
  auto value = [](const hpo::Params& p) { return get(p, "x"); };
  for (const int n : {0, 1}) {
    const Analysis a = analyze(study_of(two, n, value));
    EXPECT_THAT(a.importance_note, HasSubstr("at least 2 completed trials")) << n;
    EXPECT_TRUE(a.contours.empty());
    EXPECT_THAT(a.contour_note, HasSubstr("at least 3 completed trials")) << n;
  }
  const Analysis two_trials = analyze(study_of(two, 2, value));
  EXPECT_EQ(two_trials.importance_note, "");
  EXPECT_THAT(two_trials.contour_note, HasSubstr("this study has 2 completed trials"));

  // One numeric parameter (and a choice): importance, but no contour.
  const hpo::SearchSpace one{{"x", hpo::FloatDim{0, 1}},
                             {"act", hpo::CategoricalDim{{"relu", "tanh"}}}};
  const Analysis single = analyze(study_of(one, 30, value));
  EXPECT_EQ(single.importance_note, "");
  EXPECT_EQ(single.importance.params.size(), 2u);
  EXPECT_TRUE(single.contours.empty());
  EXPECT_THAT(single.contour_note, HasSubstr("two numeric parameters"));
  EXPECT_THAT(single.contour_note, HasSubstr("this space has 1"));

  // No dimensions at all.
  const Analysis none = analyze(study_of(hpo::SearchSpace{}, 5, [](auto&) { return 1.0; }));
  EXPECT_THAT(none.importance_note, HasSubstr("no dimensions"));
  EXPECT_TRUE(none.contours.empty());
}

TEST(Analysis, FailedAndStoppedTrialsAreNotInTheSurface) {
  const hpo::SearchSpace two{{"x", hpo::FloatDim{0, 1}}, {"y", hpo::FloatDim{0, 1}}};
  auto data = study_of(two, 10, [](const hpo::Params& p) { return get(p, "x"); });
  data.trials[0].state = hpo::TrialState::Stopped;
  data.trials[1].state = hpo::TrialState::Failed;
  data.trials[1].value.reset();
  data.trials[2].state = hpo::TrialState::Running;
  const Analysis a = analyze(data);
  ASSERT_EQ(a.contours.size(), 1u);
  EXPECT_EQ(a.contours[0].points.size(), 7u);
  EXPECT_EQ(a.importance.trials, 7u);
}

}  // namespace
}  // namespace krill::report
