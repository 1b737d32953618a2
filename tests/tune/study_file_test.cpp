#include "tune/study_file.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <variant>

#include "core/error.hpp"
#include "tune/trainable.hpp"

namespace krill::tune {
namespace {

namespace fs = std::filesystem;

// KRILL_TEST_DATA_DIR is <repo>/tests/testdata.
const fs::path kExamples = fs::path(KRILL_TEST_DATA_DIR).parent_path().parent_path() / "examples";

std::string error_of(const std::string& yaml) {
  try {
    parse_study_file(yaml, "bad.yaml");
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(StudyFile, ExamplesParse) {
  for (const char* name : {"quickstart.yaml", "grid.yaml", "sobol.yaml", "tpe.yaml"}) {
    SCOPED_TRACE(name);
    const StudyFile study = load_study_file(kExamples / name);
    EXPECT_EQ(study.path, kExamples / name);
    EXPECT_EQ(study.data, "fashion-mnist");
    EXPECT_EQ(study.subset, 10000);
    EXPECT_EQ(study.fixed.at("epochs"), hpo::ParamValue{int64_t{1}});
    EXPECT_GE(study.space.size(), 2u);
    EXPECT_EQ(study.storage.parent_path(), kExamples);
  }
  const StudyFile quickstart = load_study_file(kExamples / "quickstart.yaml");
  EXPECT_EQ(quickstart.name, "fmnist-quickstart");
  EXPECT_EQ(quickstart.storage, kExamples / "fmnist-quickstart.db");
  EXPECT_EQ(quickstart.trials, 12);
  EXPECT_EQ(quickstart.sampler.name, "random");
  EXPECT_EQ(quickstart.fixed.at("hidden"), hpo::ParamValue{std::string("512,256")});
  const StudyFile grid = load_study_file(kExamples / "grid.yaml");
  EXPECT_EQ(grid.sampler.name, "grid");
  EXPECT_EQ(grid.trials, 12);  // 4 learning rates x 3 decay intervals
  EXPECT_EQ(load_study_file(kExamples / "sobol.yaml").direction, hpo::Direction::Minimize);
  hpo::SamplerConfig tpe;
  tpe.name = "tpe";
  EXPECT_EQ(load_study_file(kExamples / "tpe.yaml").sampler.text(),
            tpe.text());  // krill's defaults, written out
}

TEST(StudyFile, EveryShippedStudyFileLoadsAndPassesTheDataChecks) {
  // examples/ and the early-stopping experiment, checked as krill tune does once Fashion-MNIST
  // is loaded: 60,000 training images of 28x28 in 10 classes, cut to `subset`, less `validation`.
  std::vector<fs::path> files;
  for (const fs::path& folder :
       {kExamples, kExamples.parent_path() / "experiments" / "early-stopping"}) {
    for (const auto& entry : fs::directory_iterator(folder)) {
      if (entry.path().extension() == ".yaml") files.push_back(entry.path());
    }
  }
  EXPECT_GE(files.size(), 7u);
  for (const auto& file : files) {
    SCOPED_TRACE(file.string());
    const StudyFile study = load_study_file(file);
    const int64_t images = study.subset > 0 ? study.subset : 60000;
    const auto held_out = static_cast<int64_t>(std::llround(study.validation * images));
    EXPECT_NO_THROW(check_study_data(study, {.train = images - held_out,
                                             .validation = held_out,
                                             .features = 784,
                                             .classes = 10,
                                             .image = {1, 28, 28}}));
  }
}

TEST(StudyFile, ValidValuesAtTheEdgesOfTheRulesLoad) {
  const StudyFile s = parse_study_file(R"(data: mnist
trials: 4
model:
  hidden: [1048576]
  dropout: 0
training:
  nesterov: 0
  iterations: 0
  lr: 1.0e-9
  schedule: step
  decay_every: 1
  decay_factor: 1
search:
  momentum: {type: float, low: 0, high: 0.99}
  batch: {type: int, low: 1, high: 8}
)",
                                       "edges.yaml");
  EXPECT_EQ(s.fixed.at("hidden"), hpo::ParamValue{std::string("1048576")});
  EXPECT_EQ(s.fixed.at("nesterov"), hpo::ParamValue{int64_t{0}});
}

// What no trial uses is refused (below, BadStudyFile); what some trials use is not.
TEST(StudyFile, ParametersSomeTrialsUseLoad) {
  // gamma only for the exp trials, warmup for the cosine ones, momentum and nesterov for the sgd
  // ones.
  const StudyFile s = parse_study_file(R"(data: mnist
trials: 4
training:
  gamma: 0.99
  momentum: 0.9
  nesterov: 1
search:
  schedule: {type: choice, values: [constant, exp, cosine]}
  optimizer: {type: choice, values: [sgd, adam]}
  warmup: {type: int, low: 0, high: 100, when: {schedule: cosine}}
)",
                                       "some.yaml");
  EXPECT_EQ(s.fixed.at("gamma"), hpo::ParamValue{0.99});
  // A conditional optimizer is sgd where it is not active: momentum is used there.
  EXPECT_NO_THROW(
      parse_study_file("data: mnist\ntrials: 4\ntraining:\n  momentum: 0.9\nsearch:\n"
                       "  tuned: {type: choice, values: [0, 1]}\n"
                       "  optimizer: {type: choice, values: [adam], when: {tuned: 1}}\n",
                       "conditional.yaml"));
  // momentum 0 and nesterov 0 are what adam has: written down, they say nothing wrong.
  EXPECT_NO_THROW(parse_study_file(
      "data: mnist\ntrials: 4\ntraining:\n  optimizer: adam\n  momentum: 0\n  nesterov: 0\n",
      "zero.yaml"));
}

TEST(StudyFile, DocumentedExampleParses) {
  // The first YAML block of docs/STUDY-FILE.md, "A complete example".
  std::ifstream in(kExamples.parent_path() / "docs" / "STUDY-FILE.md");
  ASSERT_TRUE(in);
  std::string line, yaml;
  bool inside = false;
  while (std::getline(in, line)) {
    if (inside && line == "```") break;
    if (inside) yaml += line + "\n";
    if (line == "```yaml") inside = true;
  }
  const StudyFile s = parse_study_file(yaml, "STUDY-FILE.md");
  EXPECT_EQ(s.name, "fmnist-quickstart");
  EXPECT_EQ(s.trials, 20);
  EXPECT_EQ(s.workers, 2);
  ASSERT_EQ(s.space.size(), 5u);
  EXPECT_TRUE(std::holds_alternative<hpo::GridDim>(s.space.dimensions()[4].second));
}

constexpr const char* kFullFile = R"(# every key
study: full
storage: runs/full.db
data: mnist
validation: 0.2
subset: 5000
objective: val_loss
trials: 30
workers: 3
seed: 42
sampler: sobol
model:
  hidden: [256, 128]
  activation: tanh
  dropout: 0.25
training:
  optimizer: sgd
  epochs: 2
  schedule: step
  decay_every: 50
  decay_factor: 0.9
search:
  lr: {type: float, low: 1.0e-4, high: 0.1, log: true}
  momentum:
    type: float
    low: 0
    high: 0.95
  batch: {type: choice, values: [32, 64, 128]}
  init: {type: choice, values: [he, glorot]}
  eval_every: {type: int, low: 10, high: 1000, log: true}
  iterations: {type: grid, values: [0, 500]}
)";

TEST(StudyFile, FullFileRoundTrips) {
  const StudyFile s = parse_study_file(kFullFile, "full.yaml");
  EXPECT_EQ(s.path, fs::path());
  EXPECT_EQ(s.name, "full");
  EXPECT_EQ(s.storage, fs::path("runs/full.db"));  // parsed text: relative to the current folder
  EXPECT_EQ(s.data, "mnist");
  EXPECT_DOUBLE_EQ(s.validation, 0.2);
  EXPECT_EQ(s.subset, 5000);
  EXPECT_EQ(s.objective, "val_loss");
  EXPECT_EQ(s.direction, hpo::Direction::Minimize);
  EXPECT_EQ(s.trials, 30);
  EXPECT_EQ(s.workers, 3);
  EXPECT_EQ(s.seed, 42u);
  EXPECT_EQ(s.sampler.name, "sobol");
  EXPECT_EQ(s.sampler.direction, hpo::Direction::Minimize);  // the objective's
  const hpo::Params fixed{{"hidden", std::string("256,128")},
                          {"activation", std::string("tanh")},
                          {"dropout", 0.25},
                          {"optimizer", std::string("sgd")},
                          {"epochs", int64_t{2}},
                          {"schedule", std::string("step")},
                          {"decay_every", int64_t{50}},
                          {"decay_factor", 0.9}};
  EXPECT_EQ(s.fixed, fixed);

  const auto& dims = s.space.dimensions();
  ASSERT_EQ(dims.size(), 6u);
  EXPECT_EQ(dims[0].first, "lr");
  const auto& lr = std::get<hpo::FloatDim>(dims[0].second);
  EXPECT_DOUBLE_EQ(lr.low, 1e-4);
  EXPECT_DOUBLE_EQ(lr.high, 0.1);
  EXPECT_TRUE(lr.log);
  EXPECT_EQ(dims[1].first, "momentum");
  const auto& momentum = std::get<hpo::FloatDim>(dims[1].second);
  EXPECT_EQ(momentum.low, 0.0);
  EXPECT_EQ(momentum.high, 0.95);
  EXPECT_FALSE(momentum.log);
  EXPECT_EQ(dims[2].first, "batch");
  EXPECT_EQ(std::get<hpo::CategoricalDim>(dims[2].second).choices,
            (std::vector<hpo::ParamValue>{int64_t{32}, int64_t{64}, int64_t{128}}));
  EXPECT_EQ(dims[3].first, "init");
  EXPECT_EQ(std::get<hpo::CategoricalDim>(dims[3].second).choices,
            (std::vector<hpo::ParamValue>{std::string("he"), std::string("glorot")}));
  EXPECT_EQ(dims[4].first, "eval_every");
  const auto& eval_every = std::get<hpo::IntDim>(dims[4].second);
  EXPECT_EQ(eval_every.low, 10);
  EXPECT_EQ(eval_every.high, 1000);
  EXPECT_TRUE(eval_every.log);
  EXPECT_EQ(dims[5].first, "iterations");
  EXPECT_EQ(std::get<hpo::GridDim>(dims[5].second).values,
            (std::vector<hpo::ParamValue>{int64_t{0}, int64_t{500}}));
}

TEST(StudyFile, RemembersWhereEachSettingIs) {
  const StudyFile s = parse_study_file(kFullFile, "full.yaml");
  EXPECT_EQ(s.where("data"), "full.yaml:4:7: ");
  EXPECT_EQ(s.where("trials"), "full.yaml:8:9: ");
  EXPECT_EQ(s.where("hidden"), "full.yaml:13:11: ");  // a fixed value
  EXPECT_EQ(s.where("lr"), "full.yaml:23:3: ");       // a searched key
  EXPECT_EQ(s.where("width"), "");                    // not written, parsed from text
}

TEST(StudyFile, DefaultsAndValueForms) {
  const StudyFile s = parse_study_file(R"(data: ./images
trials: 1
model:
  hidden: 512, 256
training:
  lr: 1
search:
  activation: {type: choice, values: [relu, tanh]}
)",
                                       "text");
  EXPECT_EQ(s.name, "study");
  EXPECT_EQ(s.storage, fs::path("study.db"));
  EXPECT_EQ(s.data, "images");  // parsed text: a relative folder stays relative
  EXPECT_DOUBLE_EQ(s.validation, 0.1);
  EXPECT_EQ(s.subset, 0);
  EXPECT_EQ(s.objective, "val_accuracy");
  EXPECT_EQ(s.direction, hpo::Direction::Maximize);
  EXPECT_EQ(s.workers, 0);
  EXPECT_EQ(s.seed, 0u);
  EXPECT_EQ(s.sampler.name, "random");
  EXPECT_EQ(s.fixed.at("hidden"), hpo::ParamValue{std::string("512,256")});
  EXPECT_EQ(s.fixed.at("lr"), hpo::ParamValue{1.0});  // a float parameter written as 1
}

TEST(StudyFile, LoadResolvesPathsBesideTheFile) {
  const fs::path dir = fs::temp_directory_path() / "krill_study_file_test";
  fs::remove_all(dir);
  fs::create_directories(dir / "sub");
  const fs::path file = dir / "sub" / "my-study.yaml";
  std::ofstream(file) << "data: ../images\ntrials: 3\n";
  const StudyFile s = load_study_file(file);
  EXPECT_EQ(s.path, file);
  EXPECT_EQ(s.name, "my-study");
  EXPECT_EQ(s.storage, dir / "sub" / "my-study.db");
  EXPECT_EQ(s.data, (dir / "images").string());

  std::ofstream(file) << "data: mnist\ntrials: 3\nstorage: ../x.db\n";
  EXPECT_EQ(load_study_file(file).storage, dir / "x.db");
  std::ofstream(file) << "data: mnist\ntrials: 3\nstorage: /tmp/abs.db\n";
  EXPECT_EQ(load_study_file(file).storage, fs::path("/tmp/abs.db"));
  std::ofstream(file) << "data: mnist\ntrials: x\n";
  try {
    load_study_file(file);
    FAIL() << "no error";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(std::string(e.what()),
              file.string() + ":2:9: 'trials' is 'x', expected an integer >= 1");
  }
  fs::remove_all(dir);
}

TEST(StudyFile, CategoricalIsAChoice) {
  const std::string choice = R"(data: mnist
trials: 4
search:
  optimizer: {type: choice, values: [sgd, adam]}
)";
  std::string categorical = choice;
  categorical.replace(categorical.find("choice"), 6, "categorical");
  const StudyFile s = parse_study_file(categorical, "a");
  ASSERT_EQ(s.space.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<hpo::CategoricalDim>(s.space.dimensions()[0].second));
  EXPECT_EQ(s.canonical(), parse_study_file(choice, "a").canonical());  // the same study
}

TEST(StudyFile, StorageTakesSqliteUrls) {
  const auto storage = [](const std::string& value) {
    return parse_study_file("data: mnist\ntrials: 4\nstorage: " + value + "\n", "a").storage;
  };
  EXPECT_EQ(storage("sqlite:///s.db"), fs::path("s.db"));  // 3 slashes: relative
  EXPECT_EQ(storage("sqlite:///runs/s.db"), fs::path("runs/s.db"));
  EXPECT_EQ(storage("sqlite:////tmp/s.db"), fs::path("/tmp/s.db"));  // 4 slashes: absolute
  EXPECT_EQ(storage("\"sqlite:///:memory:\""), fs::path(":memory:"));
  EXPECT_EQ(storage("s.db"), fs::path("s.db"));
  EXPECT_EQ(storage("/tmp/s.db"), fs::path("/tmp/s.db"));
  // A server's URL is kept as written (never taken for a path relative to the file's folder).
  EXPECT_EQ(storage("postgresql://me:pw@db.example:5433/studies?sslmode=require"),
            fs::path("postgresql://me:pw@db.example:5433/studies?sslmode=require"));
  EXPECT_EQ(storage("postgres://me@/studies"), fs::path("postgres://me@/studies"));

  const fs::path dir = fs::temp_directory_path() / "krill_study_file_url_test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path file = dir / "s.yaml";
  std::ofstream(file) << "data: mnist\ntrials: 3\nstorage: sqlite:///sub/x.db\n";
  EXPECT_EQ(load_study_file(file).storage, dir / "sub" / "x.db");  // beside the file
  fs::remove_all(dir);
}

TEST(StudyFile, ABinaryFileIsNotReadAsYaml) {
  const fs::path dir = fs::temp_directory_path() / "krill_study_file_binary_test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const auto error = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(dir / name, std::ios::binary) << bytes;
    try {
      load_study_file(dir / name);
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("<no error>");
  };
  const std::string db = (dir / "x.db").string();
  EXPECT_EQ(error("x.db", std::string("SQLite format 3\0\x10\0\x02\x02", 21)),
            db + " is a SQLite database, not a study file (YAML): krill show " + db + " reads it");
  const std::string bin = (dir / "x.bin").string();
  EXPECT_EQ(error("x.bin", std::string("\x7f"
                                       "ELF\x02\x01\0\0",
                                       8)),
            bin + " is not a text file (a NUL byte at byte 6), expected a study file (YAML text)");
  const std::string latin1 = (dir / "l.yaml").string();
  EXPECT_EQ(error("l.yaml", "data: mnist\n# caf\xe9\ntrials: 4\n"),
            latin1 + " is not UTF-8 text (byte 0xE9 on line 2), expected a study file (YAML text)");
  // UTF-8 is fine, in comments and values.
  EXPECT_EQ(error("u.yaml", "data: mnist # caf\xc3\xa9 \xe2\x9c\x93\ntrials: 4\n"), "<no error>");
  fs::remove_all(dir);
}

TEST(StudyFile, MissingFileIsADataError) {
  const std::string missing = "/nonexistent/krill/study.yaml";
  try {
    load_study_file(missing);
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()), missing + ": cannot read study file (no such file)");
  }
  EXPECT_THROW(load_study_file(fs::temp_directory_path()), DataError);
}

TEST(StudyFile, SamplersThatLearnAndTheirOptions) {
  const auto sampler = [](const std::string& line, const std::string& objective = "val_accuracy") {
    return parse_study_file("data: mnist\ntrials: 4\nobjective: " + objective + "\n" + line,
                            "s.yaml")
        .sampler;
  };
  const hpo::SamplerConfig tpe = sampler("sampler: tpe\n", "val_loss");
  EXPECT_EQ(tpe.name, "tpe");
  EXPECT_EQ(tpe.direction, hpo::Direction::Minimize);
  EXPECT_EQ(tpe.text(),
            "tpe(startup=10, candidates=24, multivariate=true, prior_weight=1, gamma=0.15, "
            "weights=improvement, bandwidth=neighbours, min_bandwidth=0.03, "
            "consider_endpoints=false)");
  const hpo::SamplerConfig custom = sampler(
      "sampler: {name: tpe, startup: 5, candidates: 48, multivariate: false, "
      "prior_weight: 0.5, gamma: 0.25, weights: age, bandwidth: scott, min_bandwidth: 0, "
      "consider_endpoints: true}\n");
  EXPECT_EQ(custom.direction, hpo::Direction::Maximize);
  EXPECT_EQ(custom.tpe.startup, 5);
  EXPECT_EQ(custom.tpe.candidates, 48);
  EXPECT_FALSE(custom.tpe.multivariate);
  EXPECT_DOUBLE_EQ(custom.tpe.prior_weight, 0.5);
  EXPECT_EQ(hpo::make_sampler(custom, 3)->describe(),
            "tpe(seed=3, startup=5, candidates=48, multivariate=false, prior_weight=0.5, "
            "gamma=0.25, weights=age, bandwidth=scott, min_bandwidth=0, "
            "consider_endpoints=true)");
  // Optuna's defaults in one word; an option beside the preset changes it, wherever it stands.
  EXPECT_EQ(sampler("sampler: {name: tpe, preset: optuna}\n").text(),
            "tpe(" + hpo::to_string(hpo::TpeOptions::optuna()) + ")");
  const hpo::SamplerConfig optuna_mv =
      sampler("sampler: {name: tpe, multivariate: true, preset: optuna}\n");
  EXPECT_TRUE(optuna_mv.tpe.multivariate);
  EXPECT_EQ(optuna_mv.tpe.weights, hpo::TpeWeights::Age);
  EXPECT_EQ(sampler("sampler: {name: tpe, preset: krill}\n").text(), tpe.text());
  const hpo::SamplerConfig evolution =
      sampler("sampler:\n  name: evolution\n  population: 30\n  sample: 30\n");
  EXPECT_EQ(evolution.text(), "evolution(population=30, sample=30)");
  EXPECT_EQ(sampler("sampler: evolution\n").text(), "evolution(population=20, sample=5)");
  EXPECT_EQ(sampler("sampler: {name: sobol}\n").text(), "sobol");
}

TEST(StudyFile, LayersTemplatesTakeTheStudysOwnParameters) {
  const StudyFile f = parse_study_file(
      "data: mnist\ntrials: 4\nmodel:\n"
      "  layers: \"conv:{filters}:{kernel},relu,maxpool:2,[conv:{filters2}:3,relu],flatten,{act},"
      "dense:10\"\n  filters2: 16\n"
      "search:\n  filters: {type: int, low: 8, high: 64, log: true}\n"
      "  kernel: {type: choice, values: [3, 5]}\n  act: {type: choice, values: [relu, tanh]}\n",
      "s.yaml");
  EXPECT_EQ(f.fixed.at("filters2"), hpo::ParamValue{int64_t{16}});
  ASSERT_EQ(f.space.size(), 3u);
  // Choices keep their kind: integers for the kernel, text for the activation.
  const auto& kernel = std::get<hpo::CategoricalDim>(f.space.dimensions()[1].second);
  EXPECT_EQ(kernel.choices[1], hpo::ParamValue{int64_t{5}});
  const auto& act = std::get<hpo::CategoricalDim>(f.space.dimensions()[2].second);
  EXPECT_EQ(act.choices[1], hpo::ParamValue{std::string("tanh")});
  hpo::Params p = f.fixed;
  p["filters"] = int64_t{12};
  p["kernel"] = int64_t{5};
  p["act"] = std::string("tanh");
  EXPECT_EQ(make_config(p).model.to_string(),
            "conv:12:5,relu,maxpool:2,conv:16:3,relu,flatten,tanh,dense:10");
}

TEST(StudyFile, AConditionsParentMayBeTheStudysOwn) {
  // `use_momentum` is named by no layer: it switches momentum on and off.
  const StudyFile f = parse_study_file(
      "data: mnist\ntrials: 4\nsearch:\n"
      "  momentum: {type: float, low: 0.5, high: 0.9, when: {use_momentum: yes}}\n"
      "  use_momentum: {type: choice, values: [yes, no]}\n",
      "s.yaml");
  ASSERT_EQ(f.space.size(), 2u);
  EXPECT_TRUE(f.space.active(0, {{"use_momentum", std::string("yes")}}));
  EXPECT_FALSE(f.space.active(0, {{"use_momentum", std::string("no")}}));
  EXPECT_NEAR(make_config({{"use_momentum", std::string("yes")}, {"momentum", 0.7}}).sgd.momentum,
              0.7, 0.0);
  // A template's conditional block: filters2 exists when blocks is 2, and so does its group.
  const StudyFile cnn = load_study_file(kExamples / "cnn.yaml");
  const auto& space = cnn.space;
  hpo::Params p = cnn.fixed;
  for (const double u : {0.1, 0.9}) {  // blocks 1, then 2
    const std::vector<double> unit(space.size(), u);
    hpo::Params trial = p;
    for (const auto& [name, value] : space.from_unit(unit)) trial[name] = value;
    const std::string model = make_config(trial).model.to_string();
    EXPECT_EQ(trial.contains("filters2"), u > 0.5) << model;
    EXPECT_EQ(model.find("maxpool:2,conv:") != std::string::npos, u > 0.5) << model;
  }
}

TEST(StudyFile, CanonicalTextDefinesTheStudy) {
  const std::string base = R"(data: fashion-mnist
trials: 10
workers: 2
seed: 1
training:
  batch: 32
search:
  lr: {type: float, low: 0.001, high: 0.1, log: true}
)";
  const std::string canonical = parse_study_file(base, "a").canonical();
  EXPECT_EQ(parse_study_file(base, "b").canonical(), canonical);
  EXPECT_NE(canonical.find("batch"), std::string::npos);

  const auto changed = [&](const std::string& from, const std::string& to) {
    std::string text = base;
    text.replace(text.find(from), from.size(), to);
    return parse_study_file(text, "a").canonical();
  };
  EXPECT_EQ(changed("trials: 10", "trials: 99"), canonical);
  EXPECT_EQ(changed("workers: 2", "workers: 1"), canonical);
  EXPECT_EQ(changed("trials: 10", "trials: 10\nstorage: other.db"), canonical);
  EXPECT_EQ(changed("batch: 32", "batch: +32"), canonical);  // the same value
  EXPECT_NE(changed("batch: 32", "batch: 64"), canonical);
  EXPECT_NE(changed("high: 0.1", "high: 0.2"), canonical);
  EXPECT_NE(changed("log: true", "log: false"), canonical);
  EXPECT_NE(changed("seed: 1", "seed: 2"), canonical);
  EXPECT_NE(changed("data: fashion-mnist", "data: mnist"), canonical);
  EXPECT_NE(changed("trials: 10", "trials: 10\nsampler: sobol"), canonical);
  EXPECT_EQ(changed("trials: 10", "trials: 10\nsampler: random"), canonical);
  EXPECT_EQ(changed("trials: 10", "trials: 10\nsampler: {name: random}"), canonical);
  const std::string tpe = changed("trials: 10", "trials: 10\nsampler: tpe");
  EXPECT_NE(tpe, canonical);
  EXPECT_EQ(changed("trials: 10", "trials: 10\nsampler: {name: tpe, startup: 10}"), tpe);
  EXPECT_NE(changed("trials: 10", "trials: 10\nsampler: {name: tpe, startup: 5}"), tpe);
  EXPECT_NE(changed("trials: 10", "trials: 10\nsampler: {name: tpe, multivariate: false}"), tpe);
  EXPECT_NE(changed("trials: 10", "trials: 10\nsampler: {name: tpe, gamma: 0.1}"), tpe);
  EXPECT_NE(changed("trials: 10", "trials: 10\nsampler: {name: tpe, preset: optuna}"), tpe);
  EXPECT_NE(changed("trials: 10", "trials: 10\nsampler: {name: evolution, sample: 4}"),
            changed("trials: 10", "trials: 10\nsampler: evolution"));
  EXPECT_NE(changed("trials: 10", "trials: 10\nvalidation: 0.2"), canonical);
  EXPECT_NE(changed("trials: 10", "trials: 10\nsubset: 100"), canonical);
  EXPECT_NE(changed("trials: 10", "trials: 10\nobjective: val_loss"), canonical);
  // The name is the study's key, not one of its settings: a study renamed or copied under
  // another name resumes under it.
  EXPECT_EQ(changed("trials: 10", "trials: 10\nstudy: other"), canonical);
}

// One bad file per rule: the message names the problem, and the position is the offending node.
struct BadFile {
  const char* name;
  const char* yaml;
  const char* where;  // "line:column"
  const char* message;
};

const BadFile kBadFiles[] = {
    {"SyntaxError", "data: mnist\ntrials: 4\nsearch:\n  lr: {type: float, low: 0.1\nseed: 1\n",
     "5:5", "YAML syntax error: "},
    {"UnknownTopKeySuggested", "data: mnist\ntrails: 4\n", "2:1",
     "unknown key 'trails', did you mean 'trials'?"},
    {"UnknownTopKeyListed", "data: mnist\ntrials: 4\ncolour: red\n", "3:1",
     "unknown key 'colour', expected one of study, storage, data, validation"},
    {"UnknownSearchKey",
     "data: mnist\ntrials: 4\nsearch:\n  learning_rate: {type: float, low: 0.001, high: 0.1}\n",
     "4:3", "unknown key 'learning_rate', did you mean 'lr'?"},
    {"UnknownDimensionField",
     "data: mnist\ntrials: 4\nsearch:\n  lr: {type: float, low: 0.001, hihg: 0.1}\n", "4:33",
     "unknown key 'hihg', did you mean 'high'?"},
    {"UnknownDimensionType", "data: mnist\ntrials: 4\nsearch:\n  lr: {type: flaot}\n", "4:14",
     "'type' is 'flaot', expected float, int, choice or grid"},
    {"MissingDimensionType", "data: mnist\ntrials: 4\nsearch:\n  lr:\n    low: 0.1\n", "5:5",
     "search 'lr' has no 'type', expected type: float, int, choice or grid"},
    {"FieldOfAnotherType", "data: mnist\ntrials: 4\nsearch:\n  lr: {type: float, values: [0.1]}\n",
     "4:21", "key 'values' does not apply to type float, expected low, high, log or when"},
    {"TypeDoesNotFitParameter",
     "data: mnist\ntrials: 4\nsearch:\n  batch: {type: float, low: 1, high: 2}\n", "4:17",
     "type 'float' for 'batch', an integer parameter, expected type int, choice or grid"},
    {"LowAboveHigh", "data: mnist\ntrials: 4\nsearch:\n  lr: {type: float, low: 0.5, high: 0.1}\n",
     "4:26", "'low' 0.5 is above 'high' 0.1 for 'lr', expected low <= high"},
    {"LogWithLowZero",
     "data: mnist\ntrials: 4\nsearch:\n  warmup: {type: int, low: 0, high: 9, log: true}\n", "4:28",
     "'low' is 0 in the log range of 'warmup', expected low > 0 with log: true"},
    {"EmptyChoice", "data: mnist\ntrials: 4\nsearch:\n  batch: {type: choice, values: []}\n",
     "4:33", "'values' of 'batch' is an empty list, expected a list of at least one value"},
    {"ChoiceValueOfWrongKind",
     "data: mnist\ntrials: 4\nsearch:\n  batch: {type: choice, values: [32, big]}\n", "4:38",
     "a value of 'batch' is 'big', expected an integer"},
    {"DuplicateGridValue",
     "data: mnist\ntrials: 4\nsearch:\n  batch: {type: grid, values: [32, 64, 32]}\n", "4:40",
     "a value of 'batch' is listed twice ('32'), expected distinct values"},
    {"WrongTypeForBatch", "data: mnist\ntrials: 4\ntraining:\n  batch: abc\n", "4:10",
     "'batch' is 'abc', expected an integer"},
    {"QuotedNumberForBatch", "data: mnist\ntrials: 4\ntraining:\n  batch: \"32\"\n", "4:10",
     "'batch' is the string \"32\", expected an integer"},
    {"UnknownActivation", "data: mnist\ntrials: 4\nmodel:\n  activation: rleu\n", "4:15",
     "'activation' is 'rleu', expected relu, sigmoid or tanh"},
    {"WrongTypeForValidation", "data: mnist\ntrials: 4\nvalidation: lots\n", "3:13",
     "'validation' is 'lots', expected a number in (0, 1)"},
    {"ValidationZero", "data: mnist\ntrials: 4\nvalidation: 0\n", "3:13",
     "'validation' is '0', expected a number in (0, 1)"},
    {"UnknownObjective", "data: mnist\ntrials: 4\nobjective: accuracy\n", "3:12",
     "'objective' is 'accuracy', expected val_accuracy or val_loss"},
    {"StudyNameWithASlash", "study: runs/a\ndata: mnist\ntrials: 4\n", "1:8",
     "'study' is a name with '/', expected a name that can be part of a file name"},
    {"StudyNameDots", "study: ..\ndata: mnist\ntrials: 4\n", "1:8",
     "'study' is '..', expected a name that can be part of a file name"},
    {"UnknownSampler", "data: mnist\ntrials: 4\nsampler: bayes\n", "3:10",
     "'sampler' is 'bayes', expected random, sobol, grid, tpe or evolution"},
    {"UnknownSamplerName", "data: mnist\ntrials: 4\nsampler: {name: tpee}\n", "3:17",
     "'name' is 'tpee', expected random, sobol, grid, tpe or evolution"},
    {"SamplerWithoutName", "data: mnist\ntrials: 4\nsampler: {startup: 5}\n", "3:10",
     "missing key 'name', expected one of random, sobol, grid, tpe or evolution"},
    {"SamplerList", "data: mnist\ntrials: 4\nsampler: [tpe]\n", "3:10",
     "'sampler' is a list, expected random, sobol, grid, tpe or evolution, or a map such as "
     "{name: tpe, startup: 10}"},
    {"UnknownSamplerOption", "data: mnist\ntrials: 4\nsampler:\n  name: tpe\n  startups: 5\n",
     "5:3", "unknown key 'startups', did you mean 'startup'?"},
    {"OptionOfAnotherSampler", "data: mnist\ntrials: 4\nsampler: {name: tpe, population: 5}\n",
     "3:22", "'population' is an option of evolution, not tpe"},
    {"OptionOfRandom", "data: mnist\ntrials: 4\nsampler: {name: random, startup: 5}\n", "3:25",
     "'startup' is an option of tpe, not random"},
    {"NegativeStartup", "data: mnist\ntrials: 4\nsampler: {name: tpe, startup: -1}\n", "3:31",
     "'startup' is '-1', expected an integer >= 0"},
    {"ZeroCandidates", "data: mnist\ntrials: 4\nsampler: {name: tpe, candidates: 0}\n", "3:34",
     "'candidates' is '0', expected an integer >= 1"},
    {"MultivariateNotABool", "data: mnist\ntrials: 4\nsampler: {name: tpe, multivariate: 2}\n",
     "3:36", "'multivariate' is '2', expected true or false"},
    {"PriorWeightZero", "data: mnist\ntrials: 4\nsampler: {name: tpe, prior_weight: 0}\n", "3:36",
     "'prior_weight' is '0', expected a number > 0"},
    {"GammaZero", "data: mnist\ntrials: 4\nsampler: {name: tpe, gamma: 0}\n", "3:29",
     "'gamma' is '0', expected a number in (0, 1]"},
    {"MinBandwidthAboveOne", "data: mnist\ntrials: 4\nsampler: {name: tpe, min_bandwidth: 2}\n",
     "3:37", "'min_bandwidth' is '2', expected a number in [0, 1]"},
    {"UnknownWeights", "data: mnist\ntrials: 4\nsampler: {name: tpe, weights: fancy}\n", "3:31",
     "'weights' is 'fancy', expected improvement or age"},
    {"UnknownPreset", "data: mnist\ntrials: 4\nsampler: {name: tpe, preset: hyperopt}\n", "3:30",
     "'preset' is 'hyperopt', expected krill or optuna"},
    {"EndpointsNotABool",
     "data: mnist\ntrials: 4\nsampler: {name: tpe, consider_endpoints: maybe}\n", "3:42",
     "'consider_endpoints' is 'maybe', expected true or false"},
    {"SampleAbovePopulation",
     "data: mnist\ntrials: 4\nsampler: {name: evolution, population: 4, sample: 6}\n", "3:51",
     "'sample' is 6, more than the population (4), expected at most the population"},
    {"PopulationBelowDefaultSample",
     "data: mnist\ntrials: 4\nsampler: {name: evolution, population: 3}\n", "3:10",
     "the population (3) is smaller than the default sample (5), expected a sample: of at most 3"},
    {"MissingData", "# no data\ntrials: 4\nseed: 1\n", "2:1", "missing key 'data', expected"},
    {"EmptyData", "data:\ntrials: 4\n", "1:1", "'data' is empty, expected"},
    {"MissingTrials", "data: mnist\nseed: 1\n", "1:1", "missing key 'trials', expected"},
    {"NegativeTrials", "data: mnist\ntrials: -3\n", "2:9",
     "'trials' is '-3', expected an integer >= 1"},
    {"FixedAndSearched",
     "data: mnist\ntrials: 4\ntraining:\n  lr: 0.01\nsearch:\n  lr: {type: float, low: 0.001, "
     "high: 0.1}\n",
     "6:3", "'lr' is searched here and fixed at 4:3 under training:, expected one or the other"},
    {"WrongSection", "data: mnist\ntrials: 4\nmodel:\n  lr: 0.01\n", "4:3",
     "'lr' is a training parameter, expected it under training:"},
    {"UnknownTrainingKey", "data: mnist\ntrials: 4\ntraining:\n  learning_rate: 0.01\n", "4:3",
     "unknown key 'learning_rate', did you mean 'lr'?"},
    {"StepWithoutDecayEvery",
     "data: mnist\ntrials: 4\ntraining:\n  schedule: step\n  decay_factor: 0.95\n", "4:13",
     "schedule 'step' without 'decay_every', expected decay_every under training: or search:"},
    {"SearchedExpWithoutGamma",
     "data: mnist\ntrials: 4\nsearch:\n  schedule: {type: choice, values: [constant, exp]}\n",
     "4:3", "schedule 'exp' without 'gamma'"},
    // A parameter no trial uses: set or searched, it would change nothing.
    {"GammaWithoutExp", "data: mnist\ntrials: 4\ntraining:\n  gamma: 0.9\n", "4:10",
     "'gamma' is the exp schedule's, but schedule is constant (the default), expected schedule "
     "exp (or no 'gamma')"},
    {"WarmupWithStep",
     "data: mnist\ntrials: 4\ntraining:\n  schedule: step\n  decay_every: 10\n  decay_factor: "
     "0.5\n  warmup: 5\n",
     "7:11", "'warmup' is the cosine schedule's, but schedule is 'step' (at 4:13)"},
    {"SearchedDecayEveryWithoutStep",
     "data: mnist\ntrials: 4\ntraining:\n  gamma: 0.9\nsearch:\n  schedule: {type: choice, "
     "values: [constant, exp]}\n  decay_every: {type: int, low: 10, high: 100}\n",
     "7:3",
     "'decay_every' is the step schedule's, but schedule is never 'step' (its values at 6:3: "
     "constant or exp)"},
    {"MomentumWithAdam", "data: mnist\ntrials: 4\ntraining:\n  optimizer: adam\n  momentum: 0.9\n",
     "5:13",
     "'momentum' is SGD's, but optimizer is 'adam' (at 4:14): adam has no momentum, expected "
     "optimizer sgd (or no 'momentum')"},
    {"SearchedNesterovWithAdam",
     "data: mnist\ntrials: 4\ntraining:\n  optimizer: adam\nsearch:\n  nesterov: {type: choice, "
     "values: [0, 1]}\n",
     "6:3", "'nesterov' is SGD's, but optimizer is 'adam' (at 4:14)"},
    {"HiddenAndWidth", "data: mnist\ntrials: 4\nmodel:\n  hidden: 64\n  width: 32\n", "5:10",
     "'width' and 'hidden' (at 4:11) are both set"},
    {"GridSamplerWithoutGrid",
     "data: mnist\nsampler: grid\nsearch:\n  lr: {type: float, low: 0.001, high: 0.1}\n", "2:10",
     "sampler 'grid' without a dimension of type grid, expected at least one under search:"},
    // The rules a trial applies (tune/params.hpp), checked at load time: each fixed value,
    // both ends of each range and each value of a list.
    {"BatchZero", "data: mnist\ntrials: 4\ntraining:\n  batch: 0\n", "4:10",
     "'batch' is '0', expected an integer >= 1"},
    {"IterationsNegative", "data: mnist\ntrials: 4\ntraining:\n  iterations: -4\n", "4:15",
     "'iterations' is '-4', expected an integer >= 0"},
    {"EpochsZero", "data: mnist\ntrials: 4\ntraining:\n  epochs: 0\n", "4:11",
     "'epochs' is '0', expected an integer >= 1"},
    {"EvalEveryZero", "data: mnist\ntrials: 4\ntraining:\n  eval_every: 0\n", "4:15",
     "'eval_every' is '0', expected an integer >= 1"},
    {"LrZero", "data: mnist\ntrials: 4\ntraining:\n  lr: 0\n", "4:7",
     "'lr' is '0', expected a number > 0"},
    {"MomentumOne", "data: mnist\ntrials: 4\ntraining:\n  momentum: 1.0\n", "4:13",
     "'momentum' is '1.0', expected a number in [0, 1)"},
    {"WeightDecayNegative", "data: mnist\ntrials: 4\ntraining:\n  weight_decay: -0.1\n", "4:17",
     "'weight_decay' is '-0.1', expected a number >= 0"},
    {"NesterovTwo", "data: mnist\ntrials: 4\ntraining:\n  nesterov: 2\n  momentum: 0.9\n", "4:13",
     "'nesterov' is '2', expected 0 or 1"},
    {"DecayFactorZero",
     "data: mnist\ntrials: 4\ntraining:\n  schedule: step\n  decay_every: 10\n  decay_factor: 0\n",
     "6:17", "'decay_factor' is '0', expected a number in (0, 1]"},
    {"GammaAboveOne", "data: mnist\ntrials: 4\ntraining:\n  schedule: exp\n  gamma: 1.5\n", "5:10",
     "'gamma' is '1.5', expected a number in (0, 1]"},
    {"MinFactorAboveOne", "data: mnist\ntrials: 4\ntraining:\n  min_factor: 2\n", "4:15",
     "'min_factor' is '2', expected a number in [0, 1]"},
    {"DropoutOne", "data: mnist\ntrials: 4\nmodel:\n  dropout: 1.0\n", "4:12",
     "'dropout' is '1.0', expected a number in [0, 1)"},
    {"HiddenWidthTooWide", "data: mnist\ntrials: 4\nmodel:\n  hidden: [512, 4000000000]\n", "4:17",
     "'hidden' has a width '4000000000', expected an integer from 1 to 1048576"},
    {"HiddenTextWidthZero", "data: mnist\ntrials: 4\nmodel:\n  hidden: \"512,0\"\n", "4:11",
     "'hidden' is the string \"512,0\", expected widths from 1 to 1048576, such as"},
    {"WidthTooWide", "data: mnist\ntrials: 4\nmodel:\n  width: 2000000\n", "4:10",
     "'width' is '2000000', expected an integer from 1 to 1048576"},
    {"DepthTooDeep", "data: mnist\ntrials: 4\nmodel:\n  depth: 65\n", "4:10",
     "'depth' is '65', expected an integer from 0 to 64"},
    {"BatchRangeFromZero",
     "data: mnist\ntrials: 4\nsearch:\n  batch: {type: int, low: 0, high: 64}\n", "4:27",
     "'low' of 'batch' is '0', expected an integer >= 1"},
    {"DropoutRangeToOne",
     "data: mnist\ntrials: 4\nsearch:\n  dropout: {type: float, low: 0.0, high: 1.0}\n", "4:42",
     "'high' of 'dropout' is '1.0', expected a number in [0, 1)"},
    {"LrChoiceWithZero",
     "data: mnist\ntrials: 4\nsearch:\n  lr: {type: choice, values: [0.1, 0]}\n", "4:36",
     "a value of 'lr' is '0', expected a number > 0"},
    {"HiddenChoiceTooWide",
     "data: mnist\ntrials: 4\nsearch:\n  hidden: {type: choice, values: [[512], [4000000000]]}\n",
     "4:43", "a value of 'hidden' has a width '4000000000', expected an integer from 1 to 1048576"},
    {"NesterovWithoutMomentum", "data: mnist\ntrials: 4\ntraining:\n  nesterov: 1\n", "4:13",
     "'nesterov' is 1 with momentum 0 (the default), expected momentum above 0 for Nesterov "
     "momentum (sgd refuses it without)"},
    {"NesterovWithMomentumRangeFromZero",
     "data: mnist\ntrials: 4\nsearch:\n  momentum: {type: float, low: 0, high: 0.9}\n"
     "  nesterov: {type: choice, values: [0, 1]}\n",
     "5:3", "'nesterov' can be 1 with momentum 0 (in the range at 4:3), expected momentum above 0"},
    // A training parameter at the top level is told where it belongs.
    {"TrainingKeyAtTopLevel", "data: mnist\ntrials: 4\nepochs: 1\n", "3:1",
     "'epochs' belongs under training:, expected `training: {epochs: 1}` (or a dimension under "
     "search:)"},
    {"OptimizerAtTopLevel", "data: mnist\noptimizer: adam\ntrials: 4\n", "2:1",
     "'optimizer' belongs under training:, expected `training: {optimizer: adam}`"},
    {"ModelKeyAtTopLevel", "data: mnist\ntrials: 4\nhidden: [64]\n", "3:1",
     "'hidden' belongs under model:, expected model: (or a dimension under search:)"},
    {"MisspeltTrainingKeyAtTopLevel", "data: mnist\ntrials: 4\nlearning_rate: 0.1\n", "3:1",
     "unknown key 'learning_rate', did you mean 'lr' under training:?"},
    // A section that must be a map, given a scalar, shows one.
    {"StoppingIsAScalar", "data: mnist\ntrials: 4\nstopping: median\n", "3:11",
     "'stopping' is 'median', expected a map, e.g. `stopping: {rule: median}`"},
    {"StoppingIsAnUnknownScalar", "data: mnist\ntrials: 4\nstopping: yes\n", "3:11",
     "'stopping' is 'yes', expected a map, e.g. `stopping: {rule: median}`"},
    {"TrainingIsAScalar", "data: mnist\ntrials: 4\ntraining: adam\n", "3:11",
     "'training' is 'adam', expected a map, e.g. `training: {optimizer: adam, epochs: 1}`"},
    {"ModelIsAList", "data: mnist\ntrials: 4\nmodel: [relu]\n", "3:8",
     "'model' is a list, expected a map, e.g. `model: {depth: 2, activation: relu}`"},
    {"SearchIsAScalar", "data: mnist\ntrials: 4\nsearch: lr\n", "3:9",
     "'search' is 'lr', expected a map, e.g. `search: {lr: {type: float, low: 0.001, high: 0.1, "
     "log: true}}`"},
    // Tabs in indentation: said so, at the tab, whatever yaml-cpp calls the error.
    {"TabIndentation", "data: mnist\ntrials: 4\ntraining:\n\tepochs: 1\n", "4:1",
     "tabs are not allowed for indentation in YAML (line 4): use spaces"},
    {"TabAfterSpaces",
     "data: mnist\ntrials: 4\nsearch:\n  lr:\n  \t type: float\n    low: 0.1\n    high: 1\n", "5:3",
     "tabs are not allowed for indentation in YAML (line 5): use spaces"},
    // Optuna's URL form for the storage: sqlite:/// and postgresql:// are read, others refused.
    {"MysqlStorage", "data: mnist\ntrials: 4\nstorage: mysql://user:secret@host/db\n", "3:10",
     "'storage' is a mysql:// URL: mysql:// is not supported, expected a SQLite file path, "
     "sqlite:///path or postgresql://user@host:port/dbname"},
    {"SqliteUrlWithTwoSlashes", "data: mnist\ntrials: 4\nstorage: sqlite://s.db\n", "3:10",
     "'storage' is 'sqlite://s.db', expected sqlite:///relative/path.db or "
     "sqlite:////absolute/path.db"},
    // Control bytes from the file are escaped: an error is one printable line.
    {"ControlByteInAValue", "data: mnist\ntrials: 4\ntraining:\n  batch: \"3\\x012\"\n", "4:10",
     "'batch' is the string \"3\\x012\", expected an integer"},
    // Models as lists of layers.
    {"LayersNotALayer",
     "data: mnist\ntrials: 4\nmodel:\n  layers: \"conv:8:5,rleu,flatten,dense:10\"\n", "4:11",
     "model 'conv:8:5,rleu,flatten,dense:10': layer 2 'rleu' is not a layer, expected a list"},
    {"LayersTemplateUnclosed", "data: mnist\ntrials: 4\nmodel:\n  layers: \"dense:{w,dense:10\"\n",
     "4:11", "layers 'dense:{w,dense:10': '{' at character 7 is never closed"},
    {"LayersBesideHidden",
     "data: mnist\ntrials: 4\nmodel:\n  hidden: \"64\"\n  layers: \"flatten,dense:10\"\n", "4:11",
     "'hidden' and 'layers' (at 5:11) are both set: layers gives the network"},
    {"ActivationBesideAList",
     "data: mnist\ntrials: 4\nmodel:\n  layers: \"flatten,dense:10\"\n  activation: tanh\n", "5:15",
     "'activation' is set beside layers 'flatten,dense:10' (at 4:11), a list with its activations "
     "and dropout as layers"},
    {"DropoutBesideATemplateThatDoesNotTakeIt",
     "data: mnist\ntrials: 4\nmodel:\n  layers: \"flatten,dense:{w},relu,dense:10\"\n  w: 8\n"
     "search:\n  dropout: {type: float, low: 0.0, high: 0.5}\n",
     "7:3", "'dropout' is set beside layers 'flatten,dense:{w},relu,dense:10' (at 4:11)"},
    {"OwnNameTheTemplateDoesNotUse",
     "data: mnist\ntrials: 4\nmodel:\n  layers: \"flatten,dense:{w},relu,dense:10\"\nsearch:\n"
     "  w: {type: int, low: 8, high: 64}\n  learning_rate: {type: float, low: 0.01, high: 0.1}\n",
     "7:3",
     "'learning_rate' is not a training parameter, and neither layers ({learning_rate}) nor a "
     "condition (when:) names it, expected a training parameter (did you mean 'lr'?) or "
     "{learning_rate} in layers"},
    // Every trial would fail building its model (it was found only then, after the database
    // was made); a name in a group [ ] may be absent.
    {"TemplateNameNeitherSearchedNorFixed",
     "data: mnist\ntrials: 4\nmodel:\n  layers: \"conv:{filter}:3,relu,[dense:{w2}],flatten,"
     "dense:10\"\nsearch:\n  filters: {type: int, low: 4, high: 8}\n",
     "4:11",
     "layers 'conv:{filter}:3,relu,[dense:{w2}],flatten,dense:10': '{filter}' is neither searched "
     "nor fixed, expected 'filter' under search: or model: (did you mean 'filters'?), or its "
     "layers in [ ] to make them optional"},
    // A training parameter goes under training: (the study's own name may not: unknown key).
    {"TemplateTrainingParameterNotGiven",
     "data: mnist\ntrials: 4\nmodel:\n  layers: \"flatten,dense:{batch},dense:10\"\n", "4:11",
     "'{batch}' is neither searched nor fixed, expected 'batch' under search: or training:"},
    {"OwnNameWithoutLayers", "data: mnist\ntrials: 4\nmodel:\n  filters: 8\n", "4:3",
     "unknown key 'filters'"},
    {"DuplicateKey", "data: mnist\ntrials: 4\ndata: fashion-mnist\n", "3:1",
     "duplicate key 'data' (first at 1:1), expected each key once"},
    {"NotAMap", "- data\n- trials\n", "1:1", "the study file is a list, expected a map"},
    {"Empty", "# nothing\n", "1:1", "the study file is empty"},
    {"TwoDocuments", "data: mnist\ntrials: 4\n---\nseed: 1\n", "4:1",
     "a second YAML document, expected one study per file"},
};

class BadStudyFile : public testing::TestWithParam<BadFile> {};

TEST_P(BadStudyFile, SaysWhatAndWhere) {
  const BadFile& bad = GetParam();
  const std::string error = error_of(bad.yaml);
  EXPECT_EQ(error.rfind(std::string("bad.yaml:") + bad.where + ": ", 0), 0u) << error;
  EXPECT_NE(error.find(bad.message), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  EXPECT_TRUE(std::none_of(error.begin(), error.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7F;
  })) << error;
}

INSTANTIATE_TEST_SUITE_P(StudyFile, BadStudyFile, testing::ValuesIn(kBadFiles),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace krill::tune
