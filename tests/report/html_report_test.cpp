// The HTML report: one page with every chart's div, the inlined charting library and the data.
#include "report/html_report.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "hpo/search_space.hpp"
#include "report/json_reader.hpp"

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
  d.space = space;
  d.dims = dimensions_of(space);
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
  EXPECT_THAT(chart_names(data_with(two_grids(), 0)),
              ElementsAre("history", "history-time", "curves", "importance", "parallel", "slice-lr",
                          "slice-batch", "slice-decay_every", "slice-decay_factor", "heatmap", "lr",
                          "timeline"));
  // One grid dimension: no heatmap. Names outside [A-Za-z0-9_.-] become '_' in ids.
  hpo::SearchSpace one_grid{{"learning rate", hpo::FloatDim{1e-4, 0.1, true}},
                            {"g", hpo::GridDim{{1.0, 2.0}}}};
  EXPECT_THAT(chart_names(data_with(one_grid, 0)),
              ElementsAre("history", "history-time", "curves", "importance", "parallel",
                          "slice-learning_rate", "slice-g", "lr", "timeline"));
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

// The text of <script id="ID" ...>...</script> ("" and a failure when absent).
std::string script_text(const std::string& page, const std::string& id) {
  const size_t open = page.find("<script id=\"" + id + "\"");
  if (open == std::string::npos) {
    ADD_FAILURE() << "no <script id=\"" << id << "\">";
    return "";
  }
  const size_t start = page.find('>', open) + 1;
  return page.substr(start, page.find("</script>", start) - start);
}

// The page less the content of every <script> element: what a reader sees without the scripts.
std::string without_scripts(const std::string& page) {
  std::string out;
  size_t pos = 0;
  for (size_t open; (open = page.find("<script", pos)) != std::string::npos;) {
    out += page.substr(pos, open - pos);
    const size_t close = page.find("</script>", open);
    if (close == std::string::npos) return out;
    pos = close + std::string("</script>").size();
  }
  return out + page.substr(pos);
}

TEST(RenderHtml, ZeroTrialsStillMakeAPage) {
  const ReportData data = data_with(two_grids(), 0);
  const std::string page = render_html(data);
  // The data the script draws from parses, and holds the study, its dimensions and no trial.
  const testing::Json json = testing::parse_json(script_text(page, "krill-data"));
  EXPECT_EQ(json["study"]["name"].string, "fmnist");
  EXPECT_EQ(json["study"]["n_trials"].number, 0);
  ASSERT_EQ(json["trials"].type, testing::Json::Type::Array);
  EXPECT_TRUE(json["trials"].array.empty());
  std::vector<std::string> dims;
  for (const auto& d : json["dims"].array) dims.push_back(d["name"].string);
  EXPECT_THAT(dims, ElementsAre("lr", "batch", "decay_every", "decay_factor"));
  const testing::Json config = testing::parse_json(script_text(page, "krill-config"));
  EXPECT_EQ(config["refresh_seconds"].number, 0);

  // The page's own structure, outside the scripts: the title, the summary's place and a div for
  // every chart (the script fills them, or says there is nothing to draw yet).
  const std::string html = without_scripts(page);
  EXPECT_THAT(html, HasSubstr("<title>krill report: fmnist</title>"));
  EXPECT_THAT(html, HasSubstr("<div id=\"summary-body\">"));
  for (const std::string& name : chart_names(data)) {
    EXPECT_THAT(html, HasSubstr("<div class=\"chart\" id=\"chart-" + name + "\"")) << name;
  }
  EXPECT_THAT(html, HasSubstr("</html>"));
  EXPECT_THAT(html, Not(HasSubstr("{{")));
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
