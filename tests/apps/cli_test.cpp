// `krill train` as a user runs it: a small real run, reproducibility, and one clear line of error
// (naming the file or option) with a non-zero exit for each kind of bad input.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "apps/cli_util.hpp"
#include "backend/backend.hpp"
#include "report/json_reader.hpp"

namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

using Result = krill::testing::CliResult;
using krill::testing::Json;
using krill::testing::parse_json;
using krill::testing::run_krill_stdout_to;
using krill::testing::write_idx;

Result run(const std::string& args) {
  return krill::testing::run_krill(args);
}

// A folder of IDX files holding the synthetic 4x4, 3-class problem.
class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = krill::testing::fresh_test_folder("krill_cli_test");
    write_split("train", 400, 1);
    write_split("t10k", 100, 2);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write_split(const std::string& prefix, int64_t count, uint64_t seed,
                   int64_t label_count = -1) {
    auto d = krill::testing::synthetic_dataset(count, 3, seed);
    const auto& s = d.images();
    write_idx(dir_ / (prefix + "-images-idx3-ubyte"), {uint32_t(count), 4, 4}, s.pixels);
    std::vector<uint8_t> labels(s.labels.begin(), s.labels.end());
    if (label_count >= 0) labels.resize(static_cast<size_t>(label_count));
    write_idx(dir_ / (prefix + "-labels-idx1-ubyte"), {uint32_t(labels.size())}, labels);
  }
  std::string train_args(const std::string& extra = "") {
    return "train --data " + dir_.string() +
           " --model mlp:16 --lr 0.05 --batch 16 --epochs 2 "
           "--threads 1 --quiet " +
           extra;
  }

  fs::path dir_;
};

TEST_F(CliTest, TrainsAndReportsJson) {
  Result r = run(train_args("--json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("\"status\":\"completed\""));
  EXPECT_THAT(r.output, HasSubstr("\"iterations\":46"));  // 2 epochs of ceil(360 / 16) = 23
  EXPECT_THAT(r.output, HasSubstr("\"test_accuracy\":"));
  EXPECT_THAT(r.output, HasSubstr("\"curve\":[{\"iteration\":23"));
}

// Output past stdio's buffer that cannot be written (a full disk): fmt throws at the write, which
// read "internal error: cannot write to file" (exit 70); smaller output fails at the final flush.
TEST_F(CliTest, AFullDiskIsAWriteErrorNotAnInternalOne) {
  ASSERT_TRUE(fs::exists("/dev/full"))
      << "the full-disk device of Linux, which this test writes to";
  for (const char* every : {"1", "0"}) {  // a curve point each step (over 4 KiB), or each epoch
    const auto r =
        run_krill_stdout_to(train_args(std::string("--json --eval-every ") + every), "/dev/full");
    EXPECT_EQ(r.exit_code, 2) << every << ": " << r.output;
    EXPECT_THAT(r.output, HasSubstr("krill: error: standard output: write failed")) << every;
  }
}

TEST_F(CliTest, SameSeedOneThreadIsBitIdentical) {
  auto strip_times = [](std::string s) {
    // Drop the timing and memory fields, which legitimately vary.
    for (const char* key :
         {"\"train_seconds\":", "\"epoch_seconds\":", "\"peak_rss_mb\":", "\"seconds\":"}) {
      for (size_t pos = s.find(key); pos != std::string::npos; pos = s.find(key, pos + 1)) {
        size_t end = s.find_first_of(",}", pos);
        s.erase(pos, end - pos);
      }
    }
    return s;
  };
  Result a = run(train_args("--json --seed 5"));
  Result b = run(train_args("--json --seed 5"));
  Result c = run(train_args("--json --seed 6"));
  ASSERT_EQ(a.exit_code, 0) << a.output;
  EXPECT_EQ(strip_times(a.output), strip_times(b.output));
  EXPECT_NE(strip_times(a.output), strip_times(c.output));
}

TEST_F(CliTest, SaveAndResume) {
  const std::string ckpt = (dir_ / "run.ckpt").string();
  Result first = run(train_args("--save " + ckpt));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  ASSERT_TRUE(fs::exists(ckpt));
  Result resumed = run(train_args("--epochs 3 --json --resume " + ckpt));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_THAT(resumed.output, HasSubstr("\"iterations\":69"));
  EXPECT_THAT(resumed.output, HasSubstr("\"curve\":[{\"iteration\":69"));
  // Weights, optimizer state and data order all came back: the resumed run ends exactly where an
  // uninterrupted three-epoch run does (one thread: bit-identical).
  Result straight = run(train_args("--epochs 3 --json"));
  ASSERT_EQ(straight.exit_code, 0) << straight.output;
  const Json a = parse_json(resumed.output), b = parse_json(straight.output);
  for (const char* key : {"final_train_loss", "val_loss", "val_accuracy", "test_loss"}) {
    EXPECT_EQ(a[key].number, b[key].number) << key;
  }
}

// --iterations counts every step, the checkpoint's included: a resume that would train nothing
// says so (it trained nothing silently before).
TEST_F(CliTest, AResumeWithNothingLeftToTrainSaysSo) {
  const std::string ckpt = (dir_ / "run.ckpt").string();
  Result first = run(train_args("--iterations 30 --save " + ckpt));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  for (const std::string more : {"--iterations 30", "--iterations 10", "--epochs 1"}) {
    Result r = run(train_args(more + " --resume " + ckpt));
    EXPECT_EQ(r.exit_code, 2) << more << ": " << r.output;
    EXPECT_THAT(r.output, HasSubstr("is at iteration 30")) << r.output;
    EXPECT_THAT(r.output, HasSubstr("nothing to train")) << r.output;
    EXPECT_THAT(r.output, HasSubstr("--iterations 30+N")) << r.output;
  }
  Result more = run(train_args("--iterations 40 --json --resume " + ckpt));
  ASSERT_EQ(more.exit_code, 0) << more.output;
  EXPECT_THAT(more.output, HasSubstr("\"iterations\":40"));
}

// Each bad input: exit code 2, one line "krill: error: ..." with the given words, no crash.
void expect_error(const Result& r, std::initializer_list<std::string> words) {
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("krill: error: "));
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  for (const auto& w : words) EXPECT_THAT(r.output, HasSubstr(w));
}

// --device: cpu trains as without it; cuda trains where a GPU is at hand and is otherwise one
// error line saying why (a build without CUDA, or no GPU); any other name is refused.
TEST_F(CliTest, TrainsOnTheDeviceAskedForOrSaysWhyNot) {
  // The same numbers as without --device (the JSON's timings aside).
  auto numbers = [](const std::string& json) {
    const auto at = json.find("\"test_loss\"");
    return at == std::string::npos ? std::string()
                                   : json.substr(at, json.find("\"peak_rss_mb\"", at) - at);
  };
  Result cpu = run(train_args("--json --device cpu"));
  ASSERT_EQ(cpu.exit_code, 0) << cpu.output;
  ASSERT_FALSE(numbers(cpu.output).empty()) << cpu.output;
  EXPECT_THAT(cpu.output, HasSubstr("\"device\":\"cpu\""));
  EXPECT_EQ(numbers(cpu.output), numbers(run(train_args("--json")).output));
  const std::string why = krill::backend::device_problem(krill::Device::Cuda);
  if (why.empty()) {
    Result cuda = run(train_args("--json --device cuda"));
    EXPECT_EQ(cuda.exit_code, 0) << cuda.output;
  } else {
    expect_error(run(train_args("--device cuda")), {"--device cuda: " + why});
  }
  expect_error(run(train_args("--device gpu")), {"--device is 'gpu', expected cpu or cuda"});
}

TEST_F(CliTest, MissingDataFolder) {
  expect_error(run("train --data /nonexistent/krill-data"),
               {"/nonexistent/krill-data", "no such folder"});
}

TEST_F(CliTest, WrongMagic) {
  write_idx(dir_ / "train-images-idx3-ubyte", {400, 4, 4}, std::vector<uint8_t>(6400), 0x12345678);
  expect_error(run(train_args()), {"train-images-idx3-ubyte", "magic"});
}

TEST_F(CliTest, TruncatedFile) {
  write_idx(dir_ / "train-images-idx3-ubyte", {400, 4, 4}, std::vector<uint8_t>(100));
  expect_error(run(train_args()), {"train-images-idx3-ubyte", "truncated"});
}

TEST_F(CliTest, ImageAndLabelCountsDiffer) {
  write_split("train", 400, 1, 399);
  expect_error(run(train_args()), {"train-labels-idx1-ubyte", "400", "399"});
}

// The labels say how many classes there are (it was always 10: a label of 10 or more was refused,
// and 2-class data trained 10 outputs): the shorthand's last layer has one output per class,
// and a list's last dense:N may have more (labels below N), not fewer.
TEST_F(CliTest, TheLabelsSayHowManyClasses) {
  Result three = run(train_args("--json"));  // the synthetic labels: 0, 1 and 2
  ASSERT_EQ(three.exit_code, 0) << three.output;
  EXPECT_THAT(three.output, HasSubstr("\"parameters\":323,"));  // 16 x 16 + 16, 16 x 3 + 3
  EXPECT_THAT(three.output, HasSubstr("\"classes\":3,"));
  auto d = krill::testing::synthetic_dataset(400, 3, 1);
  std::vector<uint8_t> labels(d.images().labels.begin(), d.images().labels.end());
  labels[17] = 12;
  write_idx(dir_ / "train-labels-idx1-ubyte", {400}, labels);
  Result thirteen = run(train_args("--json"));
  ASSERT_EQ(thirteen.exit_code, 0) << thirteen.output;
  EXPECT_THAT(thirteen.output, HasSubstr("\"classes\":13,"));
  expect_error(run(train_args("--model flatten,dense:10")),
               {"--model", "'dense:10' ends the model with 10 flat features, expected 13 outputs"});
  EXPECT_EQ(run(train_args("--model flatten,dense:16")).exit_code, 0);
}

// 360 training images at batch 359 leave a last batch of 1, which a flat batch norm cannot
// train on: refused before training, naming the batch and the layer.
TEST_F(CliTest, ABatchOfOneImageForAFlatBatchNormIsRefusedBeforeTraining) {
  expect_error(run(train_args("--model flatten,dense:8,batchnorm,relu,dense:3 --batch 359")),
               {"--batch 359: layer 3 'batchnorm'", "the last batch of each epoch holds 1 image",
                "360 training images"});
  EXPECT_EQ(run(train_args("--model flatten,dense:8,batchnorm,relu,dense:3 --batch 358")).exit_code,
            0);
}

// No image left to train on: said by the option or the file, not "training set is empty".
TEST_F(CliTest, NoTrainingImagesNamesTheValidationOrTheFiles) {
  expect_error(run(train_args("--validation 0.999999")),
               {"--validation 0.999999: leaves none of the 400 training images"});
  write_idx(dir_ / "train-images-idx3-ubyte", {0, 4, 4}, {});
  write_idx(dir_ / "train-labels-idx1-ubyte", {0}, {});
  expect_error(run(train_args()), {dir_.string() + ": the training files hold no images"});
}

TEST_F(CliTest, UnknownModelSpec) {
  expect_error(run(train_args("--model resnet50")), {"--model", "resnet50", "mlp:"});
}

TEST_F(CliTest, TrainsAConvNetGivenAsAListOfLayers) {
  // 4x4 images of 3 classes (labels 0-2 of IDX's 10): conv 3x3 padded 1 -> [8, 4, 4],
  // max-pool 2 -> [8, 2, 2], dense 32 -> 10.
  Result r =
      run(train_args("--model conv:8:3:1:1,relu,maxpool:2,flatten,dense:10 --lr 0.1 --json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("\"model\":\"conv:8:3:1:1,relu,maxpool:2,flatten,dense:10\""));
  EXPECT_THAT(r.output, HasSubstr("\"parameters\":410"));  // (8*9 + 8) + (32*10 + 10)
  EXPECT_THAT(r.output, HasSubstr("\"status\":\"completed\""));
  const auto at = r.output.find("\"test_accuracy\":");
  ASSERT_NE(at, std::string::npos);
  EXPECT_GT(std::stod(r.output.substr(at + 16)), 0.6) << r.output;  // 3 classes: chance is 1/3
}

TEST_F(CliTest, AModelWhoseShapesDoNotFitNamesTheLayer) {
  expect_error(run(train_args("--model conv:4:3,relu,conv:4:3,flatten,dense:10")),
               {"--model", "layer 3 'conv:4:3' has a 3x3 window, larger than its input [4, 2, 2]"});
  expect_error(run(train_args("--model conv:4:3,relu,dense:10")),
               {"layer 3 'dense:10' takes flat features, gets an image [4, 2, 2]", "flatten"});
  expect_error(run(train_args("--model conv:4:3,relu,flatten,dense:2")),
               {"layer 4 'dense:2' ends the model with 2 flat features, expected 3 outputs"});
}

TEST_F(CliTest, ShorthandOptionsBesideAListOfLayersAreRefused) {
  expect_error(run(train_args("--model flatten,dense:8,relu,dense:3 --activation tanh")),
               {"--activation", "list of layers", "relu, dropout:0.2"});
  expect_error(run(train_args("--model flatten,dense:8,relu,dense:3 --dropout 0.5")),
               {"--dropout", "list of layers"});
}

TEST_F(CliTest, NegativeLearningRate) {
  expect_error(run(train_args("--lr -0.1")), {"--lr", "-0.1"});
}

TEST_F(CliTest, BadSchedule) {
  expect_error(run(train_args("--schedule step:0:0.95")), {"--schedule", "step:0:0.95"});
}

TEST_F(CliTest, AdamRefusesSgdsMomentum) {
  // Adam has no momentum: the run would train as if the options were not given.
  expect_error(run(train_args("--optimizer adam --momentum 0.9")),
               {"--momentum", "adam has no momentum", "--optimizer sgd"});
  expect_error(run(train_args("--optimizer adam --nesterov")), {"--nesterov", "SGD's"});
}

TEST_F(CliTest, AnEmptyCheckpointPathIsRefused) {
  // Not taken for no --save (no checkpoint written, nothing said) or no --resume.
  expect_error(run(train_args("--save ''")), {"--save", "is empty"});
  expect_error(run(train_args("--resume ''")), {"--resume", "is empty"});
}

// --save is checked before training (its weights were lost at the end): a folder that does not
// exist, a path that is a folder, a device.
TEST_F(CliTest, ACheckpointPathThatCannotBeWrittenIsRefusedBeforeTraining) {
  const std::string missing = (dir_ / "missing" / "run.ckpt").string();
  expect_error(run(train_args("--save " + missing)),
               {"--save", "its folder " + (dir_ / "missing").string() + " does not exist"});
  expect_error(run(train_args("--save " + dir_.string())), {"--save", "a folder"});
  expect_error(run(train_args("--save /dev/null")), {"--save", "/dev/null: a character device"});
  EXPECT_FALSE(fs::exists(dir_ / "missing"));
}

TEST_F(CliTest, IntegersAreReadAsTheyAreWritten) {
  // "-1" was 18446744073709551615, a seed too large the largest seed.
  expect_error(run(train_args("--seed -1")), {"--seed", "'-1' is not a decimal integer"});
  expect_error(run(train_args("--split-seed 99999999999999999999")),
               {"--split-seed", "is out of range", "18446744073709551615"});
  // "010" was octal 8.
  Result r = run(train_args("--batch 010 --json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("\"batch\":10,"));
}

TEST(Cli, AMisspelledCommandOrOptionIsNamed) {
  expect_error(run("tunee x.yaml"), {"unknown command 'tunee'", "did you mean 'tune'?"});
  expect_error(run("study renam db a b"), {"'renam' of `krill study`", "'rename'"});
  expect_error(run("train --epoch 2"), {"unknown option '--epoch' of `krill train`", "'--epochs'"});
  expect_error(run("show --top -1 missing.db"), {"--top: Value -1 not in range 0 to"});
  // Not an integer: the range --top takes (it said the whole int64 range).
  expect_error(run("show --top abc missing.db"),
               {"--top: 'abc' is not a decimal integer, expected an integer from 0 to "
                "9223372036854775807"});
}

TEST_F(CliTest, DivergedRunIsAResultNotACrash) {
  Result r = run(train_args("--lr 1e30 --json"));
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_THAT(r.output, HasSubstr("\"status\":\"diverged\""));
  EXPECT_THAT(r.output, HasSubstr("\"diverged_at\":"));
  EXPECT_THAT(r.output, Not(HasSubstr("internal error")));
}

TEST(Cli, HelpListsTheOptions) {
  Result r = run("train --help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* opt : {"--data", "--model", "--lr", "--batch", "--epochs", "--schedule",
                          "--seed", "--threads", "--json"}) {
    EXPECT_THAT(r.output, HasSubstr(opt));
  }
}

}  // namespace
