// The report's data: the space's dimensions from its fingerprint, loading a study from storage,
// the settings as lines, and the JSON the page embeds (stop reasons, importance, contours).
#include "report/report_data.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/error.hpp"
#include "hpo/search_space.hpp"
#include "report/json_reader.hpp"
#include "store/open.hpp"

namespace krill::report {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

hpo::StudyRecord study(const std::string& name, const hpo::SearchSpace& space) {
  hpo::StudyRecord s;
  s.name = name;
  s.objective = "val_accuracy";
  s.space = space.fingerprint();
  s.sampler = "random(seed=1)";
  s.n_trials = 4;
  s.created = 1000;
  return s;
}

hpo::SearchSpace space() {
  return hpo::SearchSpace{
      {"lr", hpo::FloatDim{1e-4, 0.1, true}},
      {"momentum", hpo::FloatDim{0.0, 0.95, false}},
      {"width", hpo::IntDim{16, 512, true}},
      {"layers", hpo::IntDim{1, 4, false}},
      {"batch", hpo::CategoricalDim{{int64_t{32}, int64_t{64}}}},
      {"activation", hpo::CategoricalDim{{std::string("relu"), std::string("tanh")}}},
      {"decay_every", hpo::GridDim{{int64_t{50}, int64_t{100}}}},
  };
}

void expect_dim(const DimensionInfo& d, const std::string& name, const std::string& kind,
                bool log) {
  EXPECT_EQ(d.name, name);
  EXPECT_EQ(d.kind, kind) << name;
  EXPECT_EQ(d.log, log) << name;
}

TEST(ParseDimensions, ReadsEveryKindOfARealFingerprint) {
  auto dims = parse_dimensions(space().fingerprint());
  ASSERT_EQ(dims.size(), 7u);
  expect_dim(dims[0], "lr", "float", true);
  expect_dim(dims[1], "momentum", "float", false);
  expect_dim(dims[2], "width", "int", true);
  expect_dim(dims[3], "layers", "int", false);
  expect_dim(dims[4], "batch", "choice", false);
  expect_dim(dims[5], "activation", "choice", false);
  expect_dim(dims[6], "decay_every", "grid", false);
}

TEST(ParseDimensions, ReadsConditionsFromTheFingerprint) {
  hpo::SearchSpace s;
  s.add("optimizer", hpo::CategoricalDim{{std::string("sgd"), std::string("adam")}});
  s.add("momentum", hpo::FloatDim{0.5, 0.99},
        hpo::Condition{"optimizer", hpo::ConditionOp::In, {std::string("sgd")}});
  s.add("depth", hpo::IntDim{1, 3});
  s.add("width_3", hpo::IntDim{8, 64}, hpo::Condition{"depth", hpo::ConditionOp::Ge, {int64_t{3}}});
  const auto dims = parse_dimensions(s.fingerprint());
  ASSERT_EQ(dims.size(), 4u);
  EXPECT_EQ(dims[0].condition, "");
  EXPECT_EQ(dims[1].condition, "optimizer = sgd");
  EXPECT_EQ(dims[3].condition, "depth >= 3");
  ReportData data;
  data.study = study("c", s);
  data.space = s;
  data.dims = dims;
  hpo::TrialRecord adam;
  adam.params = {{"optimizer", std::string("adam")}, {"depth", int64_t{1}}};
  adam.state = hpo::TrialState::Completed;
  adam.value = 0.5;
  data.trials.push_back(adam);
  const std::string json = to_json(data);
  EXPECT_THAT(
      json,
      HasSubstr(R"({"name":"momentum","kind":"float","log":false,"condition":"optimizer = sgd"})"));
  EXPECT_THAT(json,
              HasSubstr(R"({"name":"optimizer","kind":"choice","log":false,"condition":null})"));
  EXPECT_THAT(json, HasSubstr(R"("params":{"depth":1,"optimizer":"adam"})"));  // absent: no key
}

TEST(ParseDimensions, ReadsQuotedNames) {
  hpo::SearchSpace s{{"odd: \"name\"\\x", hpo::FloatDim{0, 1, false}},
                     {"two\nlines", hpo::GridDim{{1.5, 2.5}}},
                     {"plain.name-1", hpo::IntDim{1, 8, true}}};
  auto dims = parse_dimensions(s.fingerprint());
  ASSERT_EQ(dims.size(), 3u);
  expect_dim(dims[0], "odd: \"name\"\\x", "float", false);
  expect_dim(dims[1], "two\nlines", "grid", false);
  expect_dim(dims[2], "plain.name-1", "int", true);
}

TEST(ParseDimensions, EmptySpaceHasNoDimensions) {
  EXPECT_TRUE(parse_dimensions("").empty());
  EXPECT_TRUE(parse_dimensions(hpo::SearchSpace{}.fingerprint()).empty());
}

TEST(ParseDimensions, RefusesTextItDoesNotKnow) {
  EXPECT_THROW(parse_dimensions("lr: spline [0, 1]"), DataError);
  EXPECT_THROW(parse_dimensions("no colon here"), DataError);
  EXPECT_THROW(parse_dimensions("lr: float sideways [0, 1]"), DataError);
}

TEST(LoadReportData, EmptyDatabaseIsADataError) {
  auto storage = store::open_storage(":memory:");
  EXPECT_THROW(load_report_data(*storage), DataError);
  EXPECT_THROW(load_report_data(*storage, "any"), DataError);
}

TEST(LoadReportData, TheOnlyStudyByDefault) {
  auto storage = store::open_storage(":memory:");
  const int64_t id = storage->create_study(study("alpha", space()));
  hpo::TrialRecord t;
  t.number = 0;
  t.params = {{"lr", 0.01}};
  t.started = 1001;
  t.worker = 0;
  storage->start_trial(id, t);
  storage->add_report(id, 0, hpo::Report(10, 0.5, {{"lr", 0.01}}));
  ReportData data = load_report_data(*storage);
  EXPECT_EQ(data.study.name, "alpha");
  ASSERT_EQ(data.trials.size(), 1u);
  ASSERT_EQ(data.trials[0].reports.size(), 1u);
  EXPECT_EQ(data.trials[0].reports[0].metrics.at("lr"), 0.01);
  EXPECT_EQ(data.dims.size(), 7u);
  // The space itself, with its bounds, as the importance and the contours need it.
  EXPECT_EQ(data.space.fingerprint(), space().fingerprint());
  EXPECT_EQ(std::get<hpo::FloatDim>(data.space.dimensions()[0].second).low, 1e-4);
}

TEST(LoadReportData, SeveralStudiesNeedAName) {
  auto storage = store::open_storage(":memory:");
  storage->create_study(study("alpha", space()));
  storage->create_study(study("beta", hpo::SearchSpace{{"x", hpo::FloatDim{0, 1, false}}}));
  try {
    load_report_data(*storage);
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_THAT(e.what(), HasSubstr("alpha"));
    EXPECT_THAT(e.what(), HasSubstr("beta"));
    EXPECT_THAT(e.what(), HasSubstr("--study"));
  }
  try {
    load_report_data(*storage, "gamma");
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_THAT(e.what(), HasSubstr("'gamma'"));
    EXPECT_THAT(e.what(), HasSubstr("alpha, beta"));
  }
  ReportData beta = load_report_data(*storage, "beta");
  EXPECT_EQ(beta.study.name, "beta");
  ASSERT_EQ(beta.dims.size(), 1u);
  EXPECT_EQ(beta.dims[0].name, "x");
}

TEST(ToJson, EscapesStringsAndWritesNonFiniteAsNull) {
  ReportData data;
  data.study = study("quote\" back\\ new\nline </script>", space());
  data.dims = parse_dimensions(data.study.space);
  hpo::TrialRecord done;
  done.number = 0;
  done.state = hpo::TrialState::Completed;
  done.value = 0.875;
  done.params = {{"lr", 0.001}, {"batch", int64_t{64}}, {"activation", std::string("re\"lu")}};
  done.attrs = {{"test_accuracy", 0.86}, {"bad", std::numeric_limits<double>::infinity()}};
  done.reports = {hpo::Report(100, 0.5, {{"lr", 0.1}}),
                  hpo::Report(200, std::nan(""), {{"lr", 0.095}})};
  done.started = 1001.5;
  done.finished = 1010.25;
  done.worker = 1;
  hpo::TrialRecord failed;
  failed.number = 1;
  failed.state = hpo::TrialState::Failed;
  failed.error = "tab\there";
  hpo::TrialRecord running;
  running.number = 2;
  running.state = hpo::TrialState::Running;
  running.started = 1020;
  data.trials = {done, failed, running};

  const std::string json = to_json(data);
  EXPECT_THAT(json, HasSubstr(R"("name":"quote\" back\\ new\nline \u003c/script>")"));
  EXPECT_THAT(json, Not(HasSubstr("</script>")));
  EXPECT_THAT(json, HasSubstr(R"("direction":"maximize")"));
  EXPECT_THAT(json, HasSubstr(R"({"name":"lr","kind":"float","log":true,"condition":null})"));
  EXPECT_THAT(json, HasSubstr(R"({"name":"batch","kind":"choice","log":false,"condition":null})"));
  EXPECT_THAT(json, HasSubstr(R"("number":0,"state":"completed","value":0.875,"error":"")"));
  EXPECT_THAT(json, HasSubstr(R"("started":1001.5,"finished":1010.25,"worker":1)"));
  EXPECT_THAT(json, HasSubstr(R"("params":{"activation":"re\"lu","batch":64,"lr":0.001})"));
  EXPECT_THAT(json, HasSubstr(R"("attrs":{"bad":null,"test_accuracy":0.86})"));
  EXPECT_THAT(json, HasSubstr(R"("curve":[[100,0.5],[200,null]])"));
  EXPECT_THAT(json, HasSubstr(R"("metrics":{"lr":[[100,0.1],[200,0.095]]})"));
  EXPECT_THAT(json, HasSubstr(R"("state":"failed","value":null,"error":"tab\there")"));
  EXPECT_THAT(json, HasSubstr(R"("state":"running","value":null,"error":"","started":1020,)"
                              R"("finished":null)"));
  EXPECT_THAT(json, HasSubstr(R"("metrics":{},"stop":null,"exploits":[]})"));  // not a PBT member
  EXPECT_THAT(json, HasSubstr(R"("generated":)"));
  EXPECT_EQ(json.front(), '{');
  EXPECT_EQ(json.back(), '}');
  EXPECT_THAT(json, Not(HasSubstr("nan")));
  EXPECT_THAT(json, Not(HasSubstr("inf")));
}

TEST(SettingsOf, UnquotesValuesSoThatASpaceReadsAsLines) {
  // What tune_command stores (StudyFile::canonical) plus what the study appends.
  const std::string config =
      "study: \"demo\"\n"
      "validation: 0.1\n"
      "sampler: \"tpe(seed=1)\"\n"
      "fixed model: \"mlp:64\"\n"
      "space: \"lr: float log [0.0001, 0.1]\\nact: categorical {string \\\"relu\\\"}\"\n"
      "\n"
      "stopping: lcm(percentile=50)";
  const auto settings = settings_of(config);
  ASSERT_EQ(settings.size(), 6u);
  EXPECT_EQ(settings[0], (std::pair<std::string, std::string>{"study", "demo"}));
  EXPECT_EQ(settings[1], (std::pair<std::string, std::string>{"validation", "0.1"}));
  EXPECT_EQ(settings[3], (std::pair<std::string, std::string>{"fixed model", "mlp:64"}));
  EXPECT_EQ(settings[4].first, "space");
  EXPECT_EQ(settings[4].second, "lr: float log [0.0001, 0.1]\nact: categorical {string \"relu\"}");
  EXPECT_EQ(settings[5], (std::pair<std::string, std::string>{"stopping", "lcm(percentile=50)"}));
  // Text that is not "key: value", or not one quoted string, is kept as it is.
  const auto odd = settings_of("just text\nkey: \"a\" and \"b\"\nend: \"\\\"");
  ASSERT_EQ(odd.size(), 3u);
  EXPECT_EQ(odd[0], (std::pair<std::string, std::string>{"", "just text"}));
  EXPECT_EQ(odd[1].second, "\"a\" and \"b\"");
  EXPECT_EQ(odd[2].second, "\"\\\"");
  EXPECT_TRUE(settings_of("").empty());
}

hpo::DecisionRecord decision(int64_t step, hpo::Action action, std::string reason) {
  hpo::DecisionRecord d;
  d.step = step;
  d.action = action;
  d.reason = std::move(reason);
  return d;
}

// A study with a stopping rule's decisions, a failure, and four numeric dimensions.
ReportData analysed_study() {
  ReportData data;
  const hpo::SearchSpace s{
      {"lr", hpo::FloatDim{1e-4, 0.1, true}},
      {"momentum", hpo::FloatDim{0.0, 0.95, false}},
      {"width", hpo::IntDim{16, 512, true}},
      {"act", hpo::CategoricalDim{{std::string("relu"), std::string("tanh")}}}};
  data.study = study("analysed", s);
  data.study.direction = hpo::Direction::Minimize;
  data.space = s;
  data.dims = dimensions_of(s);
  for (int i = 0; i < 12; ++i) {
    hpo::TrialRecord t;
    t.number = i;
    const double u = (i + 0.5) / 12;
    t.params = {{"lr", std::pow(10.0, -4 + 3 * u)},
                {"momentum", 0.95 * ((i * 5) % 12 + 0.5) / 12},
                {"width", int64_t{16} << (i % 6)},
                {"act", std::string(i % 2 ? "relu" : "tanh")}};
    t.state = hpo::TrialState::Completed;
    t.value = (u - 0.3) * (u - 0.3);
    t.decisions.push_back(decision(100, hpo::Action::Continue, "lcm: accumulating"));
    data.trials.push_back(t);
  }
  data.trials[3].state = hpo::TrialState::Stopped;
  auto stop =
      decision(200, hpo::Action::Stop,
               "lcm: nearest trial 1 (distance 0.0225) predicts 0.49, rank 83.33% > 50%: stop");
  stop.prediction = 0.49;
  data.trials[3].decisions.push_back(stop);
  data.trials[4].state = hpo::TrialState::Failed;
  data.trials[4].value.reset();
  data.trials[4].error = "dropout must be in [0, 1), got 1";
  return data;
}

TEST(ToJson, CarriesStopReasonsImportanceAndContours) {
  const ReportData data = analysed_study();
  const testing::Json json = testing::parse_json(to_json(data));
  const auto& trials = json["trials"];
  EXPECT_TRUE(trials[0]["stop"].is_null());  // only Continue decisions
  EXPECT_EQ(trials[3]["state"].string, "stopped");
  EXPECT_EQ(trials[3]["stop"]["step"].number, 200);
  EXPECT_EQ(trials[3]["stop"]["reason"].string,
            "lcm: nearest trial 1 (distance 0.0225) predicts 0.49, rank 83.33% > 50%: stop");
  EXPECT_EQ(trials[3]["stop"]["prediction"].number, 0.49);
  EXPECT_EQ(trials[4]["error"].string, "dropout must be in [0, 1), got 1");

  // Importance of every dimension (10 completed trials: 3 and 4 are not), most important first.
  const auto& importance = json["importance"];
  EXPECT_EQ(importance["trials"].number, 10);
  EXPECT_EQ(importance["top_trials"].number, 1);
  EXPECT_EQ(importance["note"].string, "");
  ASSERT_EQ(importance["params"].array.size(), 4u);
  double sum = 0;
  for (const auto& p : importance["params"].array) sum += p["importance"].number;
  EXPECT_NEAR(sum, 1.0, 1e-9);
  EXPECT_EQ(importance["params"][0]["name"].string, "lr");  // the value depends on lr alone

  // Contours: every pair of the three numeric dimensions ("act" is a choice).
  const auto& contours = json["contours"];
  EXPECT_EQ(contours["note"].string, "");
  ASSERT_EQ(contours["plots"].array.size(), 3u);
  const auto& first = contours["plots"][0];
  EXPECT_EQ(first["x"]["name"].string, "lr");
  EXPECT_TRUE(first["x"]["log"].boolean);
  EXPECT_NEAR(first["x"]["lo"].number, 1e-4 * std::pow(10.0, -0.15), 1e-12);  // 5% of 3 decades
  EXPECT_EQ(first["x"]["cells"].array.size(), 32u);
  EXPECT_EQ(first["z"].array.size(), 32u);
  EXPECT_EQ(first["z"][0].array.size(), 32u);
  EXPECT_EQ(first["points"].array.size(), 10u);
}

TEST(ToJson, SettingsAreDecoded) {
  ReportData data = analysed_study();
  data.study.config = "seed: 1\nspace: \"a: float linear [0, 1]\\nb: int linear [1, 3]\"";
  const testing::Json json = testing::parse_json(to_json(data));
  const auto& settings = json["study"]["settings"];
  ASSERT_EQ(settings.array.size(), 2u);
  EXPECT_EQ(settings[1][0].string, "space");
  EXPECT_EQ(settings[1][1].string, "a: float linear [0, 1]\nb: int linear [1, 3]");
}

}  // namespace
}  // namespace krill::report
