// A Population Based Training study in the report: the lineage read from the trials' exploit
// decisions, the learning rate's steps at exploits, the family-tree figure (one arrow per exploit,
// from the donor's line at its step to the recipient's), the JSON's lineage and the HTML chart;
// none of it for a study without exploits.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "json_reader.hpp"
#include "report/html_report.hpp"
#include "report/pbt_lineage.hpp"
#include "report/svg_figure_parts.hpp"
#include "report/svg_figures.hpp"

namespace krill::report {
namespace {

namespace fs = std::filesystem;
using hpo::Action;
using hpo::TrialState;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

hpo::DecisionRecord decision(int64_t step) {
  hpo::DecisionRecord d;
  d.step = step;
  d.reason = "pbt: rank";
  return d;
}

hpo::DecisionRecord exploit(int64_t step, int64_t donor, double lr) {
  hpo::DecisionRecord d = decision(step);
  d.action = Action::Exploit;
  d.reason = "pbt: bottom";
  d.donor = donor;
  d.donor_step = step;
  d.params = {{"lr", lr}, {"batch", int64_t{32}}};
  return d;
}

// A member reporting at steps 100..400, its rate `lrs[k]` at step 100 (k + 1), value 0.5 +
// `value` at the end.
hpo::TrialRecord member(int64_t number, double lr, std::vector<double> lrs, double value) {
  hpo::TrialRecord t;
  t.number = number;
  t.state = TrialState::Completed;
  t.value = value;
  t.params = {{"lr", lr}, {"batch", int64_t{32}}};
  t.started = 1000;
  t.finished = 1010;
  t.worker = static_cast<int>(number);
  for (int64_t k = 0; k < 4; ++k) {
    t.reports.emplace_back((k + 1) * 100, value - 0.1 * static_cast<double>(3 - k),
                           std::map<std::string, double>{{"lr", lrs[static_cast<size_t>(k)]}});
  }
  for (int64_t step : {100, 200, 300}) {
    t.decisions.push_back(decision(step));
  }
  return t;
}

// Four members, constant rates: trial 3 copies trial 0 at step 100 (0.001 -> 0.0488) and trial 1
// at step 300 (-> 0.02); trial 2 copies trial 1 at step 200 (0.2 -> 0.012).
ReportData pbt_study() {
  ReportData d;
  d.study.name = "pbt <demo>";
  d.study.objective = "val_accuracy";
  d.study.direction = hpo::Direction::Maximize;
  d.study.n_trials = 4;
  d.dims = {{"lr", "float", true}};
  d.trials.push_back(member(0, 0.04, {0.04, 0.04, 0.04, 0.04}, 0.80));
  d.trials.push_back(member(1, 0.01, {0.01, 0.01, 0.01, 0.01}, 0.82));
  d.trials.push_back(member(2, 0.2, {0.2, 0.2, 0.012, 0.012}, 0.78));
  d.trials.push_back(member(3, 0.001, {0.001, 0.0488, 0.0488, 0.02}, 0.85));
  d.trials[2].decisions[1] = exploit(200, 1, 0.012);
  d.trials[3].decisions[0] = exploit(100, 0, 0.0488);
  d.trials[3].decisions[2] = exploit(300, 1, 0.02);
  return d;
}

ReportData without_exploits() {
  ReportData d = pbt_study();
  for (auto& t : d.trials) {
    for (auto& dec : t.decisions) dec = decision(dec.step);
  }
  return d;
}

TEST(PbtLineage, TheBestWeightsPathCrossesIntoEachDonor) {
  const ReportData d = pbt_study();
  // Trial 3 copied trial 1 at 300 (trial 1 never copied anyone); its copy of trial 0 at 100 was
  // overwritten by that later copy, so trial 0 is not on the path.
  const auto path = weights_path(d.trials, 3);
  ASSERT_EQ(path.size(), 2u);
  EXPECT_EQ(path[0].trial, 1);
  EXPECT_EQ(path[0].from, 0);
  EXPECT_EQ(path[0].to, 300);
  EXPECT_EQ(path[0].copied_from, -1);
  EXPECT_EQ(path[0].params, d.trials[1].params);
  EXPECT_EQ(path[1].trial, 3);
  EXPECT_EQ(path[1].from, 300);
  EXPECT_EQ(path[1].to, 400);
  EXPECT_EQ(path[1].copied_from, 1);
  EXPECT_EQ(std::get<double>(path[1].params.at("lr")), 0.02);
  // Trial 2 copied trial 1 at 200: [0, 200] by trial 1, [200, 400] by trial 2.
  const auto two = weights_path(d.trials, 2);
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0].trial, 1);
  EXPECT_EQ(two[0].to, 200);
  EXPECT_EQ(two[1].trial, 2);
  EXPECT_TRUE(weights_path(d.trials, 9).empty());
}

TEST(PbtLineage, ScheduleAndFinalParameters) {
  const ReportData d = pbt_study();
  EXPECT_EQ(count_exploits(d.trials), 3u);
  const auto schedule = member_schedule(d.trials[3]);
  ASSERT_EQ(schedule.size(), 3u);
  EXPECT_EQ(schedule[0].from, 0);
  EXPECT_EQ(schedule[0].to, 100);
  EXPECT_EQ(schedule[0].donor, -1);
  EXPECT_EQ(schedule[1].from, 100);
  EXPECT_EQ(schedule[1].to, 300);
  EXPECT_EQ(schedule[1].donor, 0);
  EXPECT_EQ(schedule[2].to, 400);
  EXPECT_EQ(schedule[2].donor, 1);
  EXPECT_THAT(changing_params(schedule), ElementsAre("lr"));
  EXPECT_EQ(std::get<double>(final_params(d.trials[3]).at("lr")), 0.02);
  EXPECT_EQ(std::get<double>(final_params(d.trials[0]).at("lr")), 0.04);  // never replaced
  EXPECT_EQ(member_schedule(d.trials[0]).size(), 1u);
  EXPECT_EQ(exploit_title(d.trials[3], *exploits_of(d.trials[3])[0]),
            "trial 3 copied trial 0 at step 100: lr=0.0488");
}

TEST(PbtLineage, TheLearningRateStepsAtEachExploit) {
  const ReportData d = pbt_study();
  // The reported rate at the exploit's step, then the new one, at the same step.
  EXPECT_THAT(lr_points(d.trials[3]),
              ElementsAre(Pair(100, 0.001), Pair(100, 0.0488), Pair(200, 0.0488), Pair(300, 0.0488),
                          Pair(300, 0.02), Pair(400, 0.02)));
  EXPECT_THAT(lr_points(d.trials[0]),
              ElementsAre(Pair(100, 0.04), Pair(200, 0.04), Pair(300, 0.04), Pair(400, 0.04)));
  // A schedule's factor carries over: reported 0.0005 with a base of 0.001, new base 0.04.
  hpo::TrialRecord t = d.trials[3];
  t.reports[0].metrics["lr"] = 0.0005;
  t.decisions[0].params["lr"] = 0.04;
  EXPECT_DOUBLE_EQ(*lr_after(t, t.decisions[0]), 0.02);
  // No "lr" reported at the step: unknown.
  t.reports[0].metrics.clear();
  EXPECT_FALSE(lr_after(t, t.decisions[0]).has_value());
}

struct Segment {
  std::string title, cls;
  double x1, y1, x2, y2;
};

// The titled <line>s of a figure: members and exploits.
std::vector<Segment> segments(const std::string& svg) {
  static const std::regex re(
      R"re(<g><title>([^<]*)</title>\n<line x1="([^"]+)" y1="([^"]+)" x2="([^"]+)" y2="([^"]+)" class="(member|exploit)")re");
  std::vector<Segment> out;
  for (std::sregex_iterator it(svg.begin(), svg.end(), re), end; it != end; ++it) {
    const auto& m = *it;
    out.push_back({m[1].str(), m[6].str(), std::stod(m[2].str()), std::stod(m[3].str()),
                   std::stod(m[4].str()), std::stod(m[5].str())});
  }
  return out;
}

TEST(PbtFigures, TheFamilyTreeHasOneArrowPerExploitFromDonorToRecipient) {
  const auto svg = svg::lineage_figure(pbt_study());
  ASSERT_TRUE(svg.has_value());
  std::map<int64_t, Segment> members;
  std::vector<Segment> exploits;
  for (const auto& s : segments(*svg)) {
    if (s.cls == "member") {
      members.emplace(std::stoll(s.title.substr(6)), s);  // "trial N (...)"
    } else {
      exploits.push_back(s);
    }
  }
  ASSERT_EQ(members.size(), 4u);
  ASSERT_EQ(exploits.size(), 3u);
  // Rows top down in number order, each line from step 0 to step 400.
  for (int64_t n = 1; n < 4; ++n) EXPECT_GT(members[n].y1, members[n - 1].y1);
  const double x0 = members[0].x1, x400 = members[0].x2;
  auto x_at = [&](double step) { return x0 + (x400 - x0) * step / 400; };
  struct Expected {
    std::string title;
    int64_t donor, recipient, step;
  };
  const std::vector<Expected> expected{{"trial 2 copied trial 1 at step 200: lr=0.012", 1, 2, 200},
                                       {"trial 3 copied trial 0 at step 100: lr=0.0488", 0, 3, 100},
                                       {"trial 3 copied trial 1 at step 300: lr=0.02", 1, 3, 300}};
  for (size_t i = 0; i < expected.size(); ++i) {
    const auto& e = expected[i];
    const auto& s = exploits[i];
    EXPECT_EQ(s.title, e.title);
    EXPECT_NEAR(s.x1, x_at(static_cast<double>(e.step)), 0.02) << e.title;  // donor_step
    EXPECT_NEAR(s.x2, x_at(static_cast<double>(e.step)), 0.02) << e.title;
    EXPECT_DOUBLE_EQ(s.y1, members[e.donor].y1) << e.title;
    EXPECT_DOUBLE_EQ(s.y2, members[e.recipient].y1) << e.title;
  }
  // The best weights' path (trial 3's): trained by trial 1 to step 300, then copied into trial 3:
  // a stretch on row 1 over [0, 300], the copy at 300 from row 1 to row 3, a stretch on row 3
  // over [300, 400].
  static const std::regex path_re(
      R"re(<line x1="([^"]+)" y1="([^"]+)" x2="([^"]+)" y2="([^"]+)" class="best-path")re");
  std::vector<Segment> path;
  for (std::sregex_iterator it(svg->begin(), svg->end(), path_re), end; it != end; ++it) {
    const auto& m = *it;
    path.push_back({"", "best-path", std::stod(m[1].str()), std::stod(m[2].str()),
                    std::stod(m[3].str()), std::stod(m[4].str())});
  }
  ASSERT_EQ(path.size(), 3u);
  EXPECT_NEAR(path[0].x1, x_at(0), 0.02);
  EXPECT_NEAR(path[0].x2, x_at(300), 0.02);
  EXPECT_DOUBLE_EQ(path[0].y1, members[1].y1);
  EXPECT_NEAR(path[1].x1, x_at(300), 0.02);
  EXPECT_NEAR(path[1].x2, x_at(400), 0.02);
  EXPECT_DOUBLE_EQ(path[1].y1, members[3].y1);
  EXPECT_NEAR(path[2].x1, x_at(300), 0.02);
  EXPECT_DOUBLE_EQ(path[2].y1, members[1].y1);
  EXPECT_DOUBLE_EQ(path[2].y2, members[3].y1);
  // Labelled with the new rate; the best member (trial 3) named in the legend; text escaped.
  EXPECT_THAT(*svg, HasSubstr(">lr=0.0488</text>"));
  EXPECT_THAT(*svg, HasSubstr("best: trial 3"));
  EXPECT_THAT(*svg, HasSubstr("pbt &lt;demo&gt;"));
  EXPECT_EQ(svg::lineage_figure(pbt_study()), svg);  // deterministic
}

TEST(PbtFigures, TheLearningRateFigureMarksExploits) {
  const auto svg = svg::lr_figure(pbt_study());
  ASSERT_TRUE(svg.has_value());
  size_t marks = 0;
  for (size_t at = svg->find("class=\"exploit\""); at != std::string::npos;
       at = svg->find("class=\"exploit\"", at + 1)) {
    ++marks;
  }
  EXPECT_EQ(marks, 3u);
  EXPECT_THAT(*svg, HasSubstr("<title>trial 3 copied trial 1 at step 300: lr=0.02</title>"));
  const auto plain = svg::lr_figure(without_exploits());
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->find("exploit"), std::string::npos);
}

TEST(PbtFigures, OnlyAStudyWithExploitsGetsAFamilyTree) {
  EXPECT_FALSE(svg::lineage_figure(without_exploits()).has_value());
  const fs::path dir = fs::temp_directory_path() / ("krill-pbt-svg-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto names = [](const std::vector<fs::path>& paths) {
    std::vector<std::string> out;
    for (const auto& p : paths) out.push_back(p.filename().string());
    return out;
  };
  EXPECT_THAT(names(write_svg_figures(pbt_study(), dir / "a")),
              ElementsAre("history.svg", "curves.svg", "lr.svg", "lineage.svg", "timeline.svg",
                          "slice-lr.svg", "parallel.svg"));
  EXPECT_THAT(names(write_svg_figures(without_exploits(), dir / "b")),
              ElementsAre("history.svg", "curves.svg", "lr.svg", "timeline.svg", "slice-lr.svg",
                          "parallel.svg"));
  fs::remove_all(dir);
}

TEST(PbtReport, TheJsonHoldsEachMembersLineage) {
  const testing::Json j = testing::parse_json(to_json(pbt_study()));
  const auto& trials = j["trials"];
  EXPECT_TRUE(trials[0]["exploits"].array.empty());
  const auto& e = trials[3]["exploits"];
  ASSERT_EQ(e.array.size(), 2u);
  EXPECT_EQ(e[0]["step"].number, 100);
  EXPECT_EQ(e[0]["donor"].number, 0);
  EXPECT_EQ(e[0]["donor_step"].number, 100);
  EXPECT_EQ(e[0]["params"]["lr"].number, 0.0488);
  EXPECT_EQ(e[0]["params"]["batch"].number, 32);
  EXPECT_EQ(e[0]["lr"].number, 0.0488);
  EXPECT_EQ(e[1]["donor"].number, 1);
  EXPECT_EQ(e[1]["reason"].string, "pbt: bottom");
  EXPECT_EQ(trials[2]["exploits"][0]["step"].number, 200);
}

TEST(PbtReport, TheHtmlPageHasAFamilyTreeOnlyWithExploits) {
  EXPECT_THAT(chart_names(pbt_study()),
              ElementsAre("history", "history-time", "curves", "importance", "parallel", "slice-lr",
                          "lr", "lineage", "timeline"));
  EXPECT_THAT(chart_names(without_exploits()),
              ElementsAre("history", "history-time", "curves", "importance", "parallel", "slice-lr",
                          "lr", "timeline"));
  const std::string page = render_html(pbt_study(), {});
  EXPECT_THAT(page, HasSubstr("data-kind=\"lineage\""));
  EXPECT_THAT(page, HasSubstr("\"exploits\":[{\"step\":100,\"donor\":0,\"donor_step\":100"));
}

}  // namespace
}  // namespace krill::report
