// The HTML report: one page with every chart's div, the inlined charting library and the data.
#include "report/html_report.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "hpo/search_space.hpp"

namespace krill::report {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

ReportData data_with(const hpo::SearchSpace& space, int n_trials) {
  ReportData d;
  d.study.id = 1;
  d.study.name = "fmnist";
  d.study.objective = "val_accuracy";
  d.study.space = space.fingerprint();
  d.study.n_trials = n_trials;
  d.study.created = 1000;
  d.dims = parse_dimensions(d.study.space);
  for (int i = 0; i < n_trials; ++i) {
    hpo::TrialRecord t;
    t.number = i;
    t.state = i == 2 ? hpo::TrialState::Failed : hpo::TrialState::Completed;
    if (i != 2) t.value = 0.5 + 0.01 * i;
    t.params = {{"lr", 0.001 * (i + 1)}, {"batch", int64_t{32}}};
    t.reports = {hpo::Report(100, 0.4, {{"lr", 0.001 * (i + 1)}}),
                 hpo::Report(200, 0.5, {{"lr", 0.0009 * (i + 1)}})};
    t.started = 1000 + i;
    t.finished = 1005 + i;
    t.worker = i % 2;
    d.trials.push_back(t);
  }
  return d;
}

hpo::SearchSpace two_grids() {
  return hpo::SearchSpace{{"lr", hpo::FloatDim{1e-4, 0.1, true}},
                          {"batch", hpo::CategoricalDim{{int64_t{32}, int64_t{64}}}},
                          {"decay_every", hpo::GridDim{{int64_t{50}, int64_t{100}}}},
                          {"decay_factor", hpo::GridDim{{0.9, 0.95}}}};
}

TEST(ChartNames, FollowTheSpace) {
  EXPECT_THAT(
      chart_names(data_with(two_grids(), 0)),
      ElementsAre("history", "history-time", "curves", "parallel", "slice-lr", "slice-batch",
                  "slice-decay_every", "slice-decay_factor", "heatmap", "lr", "timeline"));
  // One grid dimension: no heatmap. Names outside [A-Za-z0-9_.-] become '_' in ids.
  hpo::SearchSpace one_grid{{"learning rate", hpo::FloatDim{1e-4, 0.1, true}},
                            {"g", hpo::GridDim{{1.0, 2.0}}}};
  EXPECT_THAT(chart_names(data_with(one_grid, 0)),
              ElementsAre("history", "history-time", "curves", "parallel", "slice-learning_rate",
                          "slice-g", "lr", "timeline"));
}

TEST(RenderHtml, HasEveryChartTheLibraryAndTheData) {
  const ReportData data = data_with(two_grids(), 5);
  const std::string page = render_html(data);
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  for (const std::string& name : chart_names(data)) {
    EXPECT_THAT(page, HasSubstr("<div class=\"chart\" id=\"chart-" + name + "\"")) << name;
  }
  // Apache ECharts, inlined (no network).
  EXPECT_THAT(page, HasSubstr("Licensed to the Apache Software Foundation"));
  EXPECT_THAT(page, HasSubstr("getInstanceByDom"));
  EXPECT_THAT(page, Not(HasSubstr("<script src=")));
  EXPECT_THAT(page, HasSubstr("window.krillReport = report"));
  // The data, as to_json writes it (less the generation time).
  std::string json = to_json(data);
  json = json.substr(0, json.find("\"generated\""));
  EXPECT_THAT(page, HasSubstr(json));
  // Every template marker is filled, the page's own text and style are there.
  for (const char* marker : {"{{TITLE}}", "{{CSS}}", "{{SECTIONS}}", "{{ECHARTS}}", "{{DATA}}",
                             "{{CONFIG}}", "{{JS}}", "{{STUDY}}"}) {
    EXPECT_THAT(page, Not(HasSubstr(marker)));
  }
  EXPECT_THAT(page, HasSubstr("<title>krill report: fmnist</title>"));
  EXPECT_THAT(page, HasSubstr("Optimization history"));
  EXPECT_THAT(page, HasSubstr(".chart {"));
  EXPECT_THAT(page, HasSubstr(R"(<script id="krill-config" type="application/json">)"
                              R"({"refresh_seconds":0,"data_url":"data.json"}</script>)"));
}

TEST(RenderHtml, LiveModeAsksForUpdates) {
  const std::string page = render_html(data_with(two_grids(), 3), {.refresh_seconds = 5});
  EXPECT_THAT(page, HasSubstr(R"({"refresh_seconds":5,"data_url":"data.json"})"));
}

TEST(RenderHtml, ZeroTrialsStillMakeAPage) {
  const ReportData data = data_with(two_grids(), 0);
  const std::string page = render_html(data);
  EXPECT_THAT(page, HasSubstr("id=\"summary-body\""));
  EXPECT_THAT(page, HasSubstr("\"trials\":[]"));
  for (const std::string& name : chart_names(data)) {
    EXPECT_THAT(page, HasSubstr("id=\"chart-" + name + "\"")) << name;
  }
  // What the script writes in place of the charts that need finished trials.
  EXPECT_THAT(page, HasSubstr("no finished trials yet"));
}

TEST(RenderHtml, EscapesTheStudyAndParameterNames) {
  hpo::SearchSpace s{{"a<b>\"c", hpo::FloatDim{0, 1, false}}};
  ReportData data = data_with(s, 1);
  data.study.name = "</script><b>x";
  const std::string page = render_html(data);
  EXPECT_THAT(page, Not(HasSubstr("</script><b>x")));
  EXPECT_THAT(page, HasSubstr("&lt;/script&gt;&lt;b&gt;x"));
  EXPECT_THAT(page, HasSubstr("id=\"chart-slice-a_b__c\""));
  EXPECT_THAT(page, HasSubstr("data-param=\"a&lt;b&gt;&quot;c\""));
}

}  // namespace
}  // namespace krill::report
