// The SVG figures of `krill report --png`, on a hand-made study: which files, well-formed XML,
// one mark per trial, log-axis ticks, escaping, determinism and the empty study.
#include "report/svg_figures.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "report/analysis.hpp"
#include "report/svg_axis.hpp"

namespace krill::report {
namespace {

namespace fs = std::filesystem;
using hpo::TrialState;

hpo::TrialRecord trial(int64_t number, TrialState state, std::optional<double> value, double lr,
                       int64_t batch, std::string act, int worker) {
  hpo::TrialRecord t;
  t.number = number;
  t.state = state;
  t.value = value;
  t.params = {{"lr", lr},
              {"momentum", 0.5 + 0.1 * static_cast<double>(number)},
              {"batch", batch},
              {"act", std::move(act)}};
  t.worker = worker;
  t.started = 1000.0 + 10.0 * static_cast<double>(number);
  t.finished = state == TrialState::Running ? 0 : t.started + 15;
  for (int64_t step = 0; step < 4; ++step) {
    const double v = 0.3 + 0.1 * static_cast<double>(step) + 0.01 * static_cast<double>(number);
    t.reports.emplace_back(
        step * 100, v,
        std::map<std::string, double>{{"lr", lr * (1.0 - 0.1 * static_cast<double>(step))}});
  }
  return t;
}

// Six trials on two workers: three with values (two completed, one stopped), a failed, a diverged
// and a running one; lr 0.001 .. 0.1 on a log dimension; one choice value needing escapes.
ReportData study() {
  ReportData d;
  d.study.name = "fmnist <&> study";
  d.study.objective = "val_accuracy";
  d.study.direction = hpo::Direction::Maximize;
  d.study.n_trials = 8;
  d.dims = {{"act", "choice", false},
            {"batch", "choice", false},
            {"lr", "float", true},
            {"momentum", "float", false}};
  d.trials.push_back(trial(0, TrialState::Completed, 0.80, 0.001, 32, "relu", 0));
  d.trials.push_back(trial(1, TrialState::Completed, 0.85, 0.01, 64, "tanh", 1));
  d.trials.push_back(trial(2, TrialState::Stopped, 0.50, 0.1, 32, "a<&>b", 0));
  d.trials.push_back(trial(3, TrialState::Failed, std::nullopt, 0.02, 64, "relu", 1));
  d.trials.push_back(trial(4, TrialState::Diverged, std::nullopt, 0.3, 128, "tanh", 0));
  d.trials.push_back(trial(5, TrialState::Running, std::nullopt, 0.005, 32, "relu", 1));
  d.trials[3].reports.resize(1);  // a one-point curve
  return d;
}

class SvgFigures : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = fs::temp_directory_path() /
            ("krill-svg-" + std::string(info->name()) + "-" + std::to_string(::getpid()));
    fs::remove_all(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
};

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Well-formed enough: one <svg> root, every tag closed in order, every '&' an entity.
::testing::AssertionResult well_formed(const std::string& xml) {
  if (!xml.starts_with("<svg")) return ::testing::AssertionFailure() << "does not start with <svg";
  std::string trimmed = xml;
  while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.back()))) {
    trimmed.pop_back();
  }
  if (!trimmed.ends_with("</svg>")) return ::testing::AssertionFailure() << "no </svg> at the end";
  std::vector<std::string> open;
  for (size_t i = 0; i < xml.size(); ++i) {
    if (xml[i] == '&') {
      bool entity = false;
      for (const char* e : {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"}) {
        entity = entity || xml.compare(i, std::string(e).size(), e) == 0;
      }
      if (!entity) return ::testing::AssertionFailure() << "a bare & at " << i;
    }
    if (xml[i] != '<') continue;
    const size_t end = xml.find('>', i);
    if (end == std::string::npos) return ::testing::AssertionFailure() << "unclosed < at " << i;
    std::string tag = xml.substr(i + 1, end - i - 1);
    if (tag.find('<') != std::string::npos) return ::testing::AssertionFailure() << "< in a tag";
    i = end;
    if (tag.starts_with('/')) {
      if (open.empty() || open.back() != tag.substr(1)) {
        return ::testing::AssertionFailure() << "</" << tag.substr(1) << "> closes nothing open";
      }
      open.pop_back();
      if (open.empty() && i + 1 < trimmed.size()) {
        return ::testing::AssertionFailure() << "content after the root";
      }
    } else if (!tag.ends_with('/')) {
      open.push_back(tag.substr(0, tag.find_first_of(" \n\t")));
    } else if (open.empty()) {
      return ::testing::AssertionFailure() << "a tag outside the root";
    }
  }
  if (!open.empty()) return ::testing::AssertionFailure() << "<" << open.back() << "> not closed";
  return ::testing::AssertionSuccess();
}

TEST(SvgAxis, NiceTicksStepOneTwoFive) {
  EXPECT_EQ(nice_ticks(0, 1, 5), (std::vector<double>{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1}));
  EXPECT_DOUBLE_EQ(nice_step(0, 37, 6), 10);
  EXPECT_DOUBLE_EQ(nice_step(0, 0.011, 6), 0.002);
  EXPECT_DOUBLE_EQ(nice_step(0, 3, 6, true), 1);
  EXPECT_EQ(tick_label(0.6000000000000001, 0.2), "0.6");
  EXPECT_EQ(tick_label(-1e-18, 0.05), "0.00");
  EXPECT_EQ(tick_label(40, 20), "40");
}

TEST(SvgAxis, LogAxisTicksAtDecades) {
  const auto a = Axis::log(0.0005, 0.5);
  std::vector<std::string> labels;
  for (const auto& t : a.ticks()) labels.push_back(t.label);
  EXPECT_EQ(labels, (std::vector<std::string>{"0.001", "0.01", "0.1"}));
  // A narrow range gets 1-2-5 ticks.
  const auto b = Axis::log(0.15, 0.6);
  ASSERT_FALSE(b.ticks().empty());
  EXPECT_EQ(b.ticks().front().label, "0.2");
}

TEST_F(SvgFigures, WritesEveryFigureWellFormed) {
  const auto paths = write_svg_figures(study(), root_ / "nested" / "figs");
  std::vector<std::string> names;
  for (const auto& p : paths) names.push_back(p.filename().string());
  EXPECT_EQ(names, (std::vector<std::string>{"history.svg", "curves.svg", "lr.svg", "timeline.svg",
                                             "slice-act.svg", "slice-batch.svg", "slice-lr.svg",
                                             "slice-momentum.svg", "parallel.svg"}));
  for (const auto& p : paths) {
    ASSERT_TRUE(fs::is_regular_file(p)) << p;
    const auto text = read(p);
    EXPECT_TRUE(well_formed(text)) << p;
    EXPECT_NE(text.find("width=\"720\" height=\"440\""), std::string::npos) << p;
    EXPECT_NE(text.find("fmnist &lt;&amp;&gt; study: "), std::string::npos) << p;  // the title
  }
}

TEST_F(SvgFigures, HistoryHasADotPerValuedTrialAndTheBestLine) {
  write_svg_figures(study(), root_);
  const auto text = read(root_ / "history.svg");
  EXPECT_EQ(count(text, "<circle"), 3u);  // trials 0, 1, 2
  EXPECT_EQ(count(text, "class=\"best\""), 1u);
  EXPECT_NE(text.find(">trial number<"), std::string::npos);
  EXPECT_NE(text.find(">val_accuracy (maximize)<"), std::string::npos);
  EXPECT_NE(text.find(">stopped<"), std::string::npos);  // the legend
}

TEST_F(SvgFigures, CurvesAndLearningRatesPerTrial) {
  write_svg_figures(study(), root_);
  const auto curves = read(root_ / "curves.svg");
  EXPECT_EQ(count(curves, "class=\"curve\""), 5u);  // trial 3 has one point: a dot
  EXPECT_EQ(count(curves, "class=\"point\""), 1u);
  EXPECT_GE(count(curves, "stroke-dasharray"), 2u);  // stopped and diverged curves
  EXPECT_NE(curves.find(">best: trial 1<"), std::string::npos);
  const auto lr = read(root_ / "lr.svg");
  EXPECT_EQ(count(lr, "class=\"curve\""), 5u);
  EXPECT_EQ(count(lr, "class=\"point\""), 1u);
  EXPECT_NE(lr.find(">learning rate (log)<"), std::string::npos);  // 0.001 .. 0.3 spans decades
}

TEST_F(SvgFigures, NoLearningRateNoLrFigure) {
  auto data = study();
  for (auto& t : data.trials) {
    for (auto& r : t.reports) r.metrics.clear();
  }
  const auto paths = write_svg_figures(data, root_);
  EXPECT_FALSE(fs::exists(root_ / "lr.svg"));
  for (const auto& p : paths) EXPECT_NE(p.filename(), "lr.svg");
  EXPECT_EQ(paths.size(), 8u);
}

TEST_F(SvgFigures, TimelineHasABarPerStartedTrialOnItsWorker) {
  write_svg_figures(study(), root_);
  const auto text = read(root_ / "timeline.svg");
  EXPECT_EQ(count(text, "class=\"bar\""), 6u);
  EXPECT_NE(text.find(">worker 0<"), std::string::npos);
  EXPECT_NE(text.find(">worker 1<"), std::string::npos);
  EXPECT_NE(text.find(">seconds since the first start<"), std::string::npos);
}

TEST_F(SvgFigures, SlicesUseLogAxesAndCategories) {
  write_svg_figures(study(), root_);
  const auto lr = read(root_ / "slice-lr.svg");
  for (const char* tick : {">0.001<", ">0.01<", ">0.1<", ">lr (log)<"}) {
    EXPECT_NE(lr.find(tick), std::string::npos) << tick;
  }
  EXPECT_EQ(count(lr, "<circle"), 3u);
  // Numeric choices in increasing order, evenly spaced.
  const auto batch = read(root_ / "slice-batch.svg");
  const auto at32 = batch.find(">32<"), at64 = batch.find(">64<");
  ASSERT_NE(at32, std::string::npos);
  ASSERT_NE(at64, std::string::npos);
  EXPECT_LT(at32, at64);
  EXPECT_EQ(batch.find(">128<"), std::string::npos);  // only the trials with values are shown
}

TEST_F(SvgFigures, EscapesParameterValues) {
  write_svg_figures(study(), root_);
  for (const char* file : {"slice-act.svg", "parallel.svg"}) {
    const auto text = read(root_ / file);
    EXPECT_NE(text.find(">a&lt;&amp;&gt;b<"), std::string::npos) << file;
    EXPECT_EQ(text.find("a<&>b"), std::string::npos) << file;
  }
}

TEST_F(SvgFigures, ParallelCoordinatesDrawALinePerValuedTrial) {
  write_svg_figures(study(), root_);
  const auto text = read(root_ / "parallel.svg");
  EXPECT_EQ(count(text, "class=\"line\""), 3u);
  for (const char* axis : {">act<", ">batch<", ">lr (log)<", ">momentum<", ">val_accuracy<"}) {
    EXPECT_NE(text.find(axis), std::string::npos) << axis;
  }
}

TEST_F(SvgFigures, AnAbsentParameterIsDrawnApart) {
  // momentum only with batch 64 (a condition): trials 0 and 2 (batch 32) lack it.
  ReportData d = study();
  d.dims[3].condition = "batch = 64";
  for (auto& t : d.trials) {
    if (t.params.at("batch") == hpo::ParamValue{int64_t{32}}) t.params.erase("momentum");
  }
  write_svg_figures(d, root_);
  const auto slice = read(root_ / "slice-momentum.svg");
  EXPECT_NE(slice.find("objective against momentum (2 trials without it: absent)"),
            std::string::npos);
  EXPECT_EQ(count(slice, "<circle"), 1u);  // trial 1 alone
  // Parallel coordinates: every valued trial still has its line, through an "absent" tick.
  const auto parallel = read(root_ / "parallel.svg");
  EXPECT_EQ(count(parallel, ">absent<"), 1u);
  EXPECT_EQ(count(parallel, "class=\"line\""), 3u);
  // Without the condition a missing value breaks the line instead.
  d.dims[3].condition.clear();
  write_svg_figures(d, root_ / "plain");
  const auto plain = read(root_ / "plain" / "parallel.svg");
  EXPECT_EQ(count(plain, ">absent<"), 0u);
  EXPECT_LT(count(plain, "class=\"line\""), 5u);
}

TEST_F(SvgFigures, SameDataSameBytes) {
  const auto a = write_svg_figures(study(), root_ / "a");
  const auto b = write_svg_figures(study(), root_ / "b");
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(read(a[i]), read(b[i])) << a[i];
}

TEST_F(SvgFigures, StudyWithoutFinishedTrialsGetsASummary) {
  auto data = study();
  data.trials.resize(6);
  for (auto& t : data.trials) t.state = TrialState::Running, t.value.reset();
  const auto paths = write_svg_figures(data, root_);
  ASSERT_EQ(paths, (std::vector<fs::path>{root_ / "summary.svg"}));
  const auto text = read(paths[0]);
  EXPECT_TRUE(well_formed(text));
  EXPECT_NE(text.find("no finished trials yet"), std::string::npos);
  EXPECT_NE(text.find("6 trials running"), std::string::npos);
  EXPECT_FALSE(fs::exists(root_ / "history.svg"));

  data.trials.clear();
  EXPECT_EQ(write_svg_figures(data, root_ / "empty").size(), 1u);
}

TEST_F(SvgFigures, TooltipsSayWhyATrialStoppedOrFailed) {
  auto data = study();
  hpo::DecisionRecord stop;
  stop.step = 300;
  stop.action = hpo::Action::Stop;
  stop.reason = "median: 0.5 < median 0.8 at step 300";
  data.trials[2].decisions.push_back(stop);
  data.trials[3].error = "dropout must be < 1, got 1";
  write_svg_figures(data, root_);
  EXPECT_NE(read(root_ / "history.svg")
                .find("stopped at step 300: median: 0.5 &lt; median 0.8 at step 300</title>"),
            std::string::npos);
  EXPECT_NE(read(root_ / "curves.svg").find("; dropout must be &lt; 1, got 1</title>"),
            std::string::npos);
}

// study() with its space known (as load_report_data reads it back), and `extra` more completed
// trials.
ReportData with_space(int extra) {
  auto d = study();
  d.space =
      hpo::SearchSpace{{"act", hpo::CategoricalDim{{"relu", "tanh", "a<&>b"}}},
                       {"batch", hpo::CategoricalDim{{int64_t{32}, int64_t{64}, int64_t{128}}}},
                       {"lr", hpo::FloatDim{0.001, 0.3, true}},
                       {"momentum", hpo::FloatDim{0.5, 1.6}}};
  for (int i = 0; i < extra; ++i) {
    const double lr = 0.001 * std::pow(1.7, i);
    d.trials.push_back(trial(6 + i, TrialState::Completed, 0.6 + 0.01 * i, lr, 64, "relu", 0));
  }
  return d;
}

TEST_F(SvgFigures, AnalysisFiguresImportanceAndContours) {
  auto paths = write_svg_figures(with_space(4), root_);
  std::vector<std::string> names;
  for (const auto& p : paths) names.push_back(p.filename().string());
  EXPECT_EQ(names, (std::vector<std::string>{"history.svg", "curves.svg", "lr.svg", "timeline.svg",
                                             "slice-act.svg", "slice-batch.svg", "slice-lr.svg",
                                             "slice-momentum.svg", "parallel.svg", "importance.svg",
                                             "contour-lr-momentum.svg"}));
  for (const auto& p : paths) EXPECT_TRUE(well_formed(read(p))) << p;
  // A bar per dimension, the most important on top, with its share.
  const auto importance = read(root_ / "importance.svg");
  EXPECT_EQ(count(importance, "class=\"bar\""), 4u);
  EXPECT_NE(importance.find("parameter importance (PED-ANOVA)"), std::string::npos);
  EXPECT_NE(importance.find(">6 completed trials<"), std::string::npos);
  // The surface's cells, a dot per completed trial, log x for the log dimension.
  const auto contour = read(root_ / "contour-lr-momentum.svg");
  EXPECT_EQ(count(contour, "class=\"cell\""), kContourCells * kContourCells);
  EXPECT_EQ(count(contour, "class=\"mark\""), 6u);
  EXPECT_NE(contour.find(">lr (log)<"), std::string::npos);
  EXPECT_NE(contour.find(">momentum<"), std::string::npos);
}

TEST_F(SvgFigures, AnalysisFiguresSayWhyNothingIsDrawn) {
  // Two completed trials: importance, but too few for a contour.
  write_svg_figures(with_space(0), root_ / "two");
  EXPECT_EQ(count(read(root_ / "two" / "importance.svg"), "class=\"bar\""), 4u);
  const auto note = read(root_ / "two" / "contour.svg");
  EXPECT_TRUE(well_formed(note));
  EXPECT_NE(note.find("Contours need at least 3 completed trials; this study has 2"),
            std::string::npos);
  // One completed trial: no importance either.
  auto one = with_space(0);
  one.trials[1].state = TrialState::Failed;
  one.trials[1].value.reset();
  write_svg_figures(one, root_ / "one");
  const auto importance = read(root_ / "one" / "importance.svg");
  EXPECT_EQ(count(importance, "class=\"bar\""), 0u);
  EXPECT_NE(importance.find("Importance needs at least 2 completed trials; this study has 1"),
            std::string::npos);
}

// A grid of two learning rates x two schedules, each point twice (8 completed trials): the
// poster's comparison of a static and a decaying rate.
ReportData schedule_sweep() {
  ReportData d;
  d.study.name = "sweep";
  d.study.objective = "val_accuracy";
  d.study.direction = hpo::Direction::Maximize;
  d.dims = {{"lr", "grid", false}, {"schedule", "grid", false}};
  int64_t number = 0;
  for (int repeat = 0; repeat < 2; ++repeat) {
    for (const double lr : {0.001, 0.1}) {
      for (const std::string schedule : {"step", "constant"}) {
        hpo::TrialRecord t;
        t.number = number++;
        t.state = TrialState::Completed;
        t.params = {{"lr", lr}, {"schedule", schedule}};
        const double decay = schedule == "step" ? 0.5 : 1.0;
        for (int64_t step = 1; step <= 3; ++step) {
          const double rate = lr * (step > 1 ? decay : 1.0);
          t.reports.emplace_back(step * 100, 0.5 + 0.1 * static_cast<double>(step) + repeat * 0.01,
                                 std::map<std::string, double>{{"lr", rate}});
        }
        t.value = t.reports.back().value + (schedule == "step" ? 0.05 : 0.0);
        d.trials.push_back(t);
      }
    }
  }
  return d;
}

TEST_F(SvgFigures, ByAParameterColoursTrialsByItsValueAndDrawsTheMeans) {
  const auto paths = write_svg_figures(schedule_sweep(), root_, "schedule");
  std::vector<std::string> names;
  for (const auto& p : paths) names.push_back(p.filename().string());
  EXPECT_EQ(names, (std::vector<std::string>{"history.svg", "curves.svg", "lr.svg", "timeline.svg",
                                             "slice-lr.svg", "slice-schedule.svg", "parallel.svg",
                                             "curves-by-schedule.svg", "lr-by-schedule.svg",
                                             "slice-lr-by-schedule.svg"}));
  for (const auto& p : paths) EXPECT_TRUE(well_formed(read(p))) << p;

  const auto curves = read(root_ / "curves-by-schedule.svg");
  EXPECT_EQ(count(curves, "class=\"curve\""), 8u);
  EXPECT_EQ(count(curves, "class=\"mean\""), 2u);  // one mean curve per schedule
  EXPECT_NE(curves.find("sweep: learning curves by schedule"), std::string::npos);
  // Values in text order, a colour each, with their numbers of trials (the title names the
  // parameter).
  const auto constant = curves.find(">constant (4)<"), step = curves.find(">step (4)<");
  ASSERT_NE(constant, std::string::npos);
  ASSERT_NE(step, std::string::npos);
  EXPECT_LT(constant, step);

  const auto lr = read(root_ / "lr-by-schedule.svg");
  EXPECT_EQ(count(lr, "class=\"curve\""), 8u);
  EXPECT_NE(lr.find(">learning rate (log)<"), std::string::npos);  // 0.0005 .. 0.1

  // Two marks per grid point (the repeats), and per schedule a line through the two means.
  const auto slice = read(root_ / "slice-lr-by-schedule.svg");
  EXPECT_EQ(count(slice, "class=\"mark\""), 8u);
  EXPECT_EQ(count(slice, "class=\"mean\""), 2u);
  EXPECT_NE(slice.find(">line: mean<"), std::string::npos);
  // A grid of rates two decades apart is drawn on a log axis (so is the plain slice).
  EXPECT_NE(slice.find(">lr (log)<"), std::string::npos);
  EXPECT_NE(read(root_ / "slice-lr.svg").find(">lr (log)<"), std::string::npos);
}

TEST_F(SvgFigures, ByAnUnknownParameterIsRefused) {
  try {
    write_svg_figures(schedule_sweep(), root_, "momentum");
    ADD_FAILURE() << "accepted --by momentum";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(std::string(e.what()),
              "--by: 'momentum' is not a searched parameter of study 'sweep', expected one of its "
              "dimensions (lr, schedule)");
  }
  EXPECT_FALSE(fs::exists(root_ / "history.svg"));  // nothing written
}

TEST_F(SvgFigures, FailsClearlyWhenTheFolderCannotBeMade) {
  fs::create_directories(root_);
  std::ofstream(root_ / "file") << "x";
  // The folder is a file; the folder would be inside a file. The message names the folder and
  // says why ("Not a directory", or that a file is in the way).
  for (const fs::path& dir : {root_ / "file", root_ / "file" / "figs"}) {
    try {
      write_svg_figures(study(), dir);
      ADD_FAILURE() << "wrote figures into " << dir;
    } catch (const Error& e) {
      const std::string message = e.what();
      const std::string prefix = "cannot create the folder " + dir.string() + ": ";
      EXPECT_EQ(message.find(prefix), 0u) << message;
      EXPECT_GT(message.size(), prefix.size()) << message;
    }
  }
  EXPECT_EQ(read(root_ / "file"), "x");  // left as it was
}

}  // namespace
}  // namespace krill::report
