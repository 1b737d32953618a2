#include "data/dataset.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "data_test_util.hpp"

namespace krill::data {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testutil::idx_bytes;
using testutil::make_images;
using testutil::TempDir;
using testutil::write_gz;
using testutil::write_raw;

IdxArray idx(std::vector<int64_t> dims, std::vector<uint8_t> values) {
  return IdxArray{std::move(dims), std::move(values)};
}

template <class F>
std::string data_error(F&& f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no DataError thrown";
  return "";
}

std::vector<int64_t> to_vector(std::span<const int64_t> s) {
  return {s.begin(), s.end()};
}

// --- make_image_set -------------------------------------------------------------------------

TEST(MakeImageSet, BuildsStorage) {
  ImageSet s = make_image_set(idx({2, 1, 3}, {0, 1, 2, 3, 4, 5}), idx({2}, {7, 2}), 10, "i", "l");
  EXPECT_EQ(s.count, 2);
  EXPECT_EQ(s.rows, 1);
  EXPECT_EQ(s.cols, 3);
  EXPECT_EQ(s.features(), 3);
  EXPECT_EQ(s.classes, 10);
  EXPECT_EQ(s.pixels, (std::vector<uint8_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(s.labels, (std::vector<int32_t>{7, 2}));
}

TEST(MakeImageSet, OneChannelImagesAreOneByRowsByCols) {
  const ImageSet s =
      make_image_set(idx({2, 1, 3}, {0, 1, 2, 3, 4, 5}), idx({2}, {7, 2}), 10, "i", "l");
  EXPECT_EQ(s.shape(), (ImageShape{1, 1, 3}));
  const Dataset d(std::make_shared<const ImageSet>(s));
  EXPECT_EQ(d.shape(), (ImageShape{1, 1, 3}));
}

TEST(MakeImageSet, RankFourImagesCarryTheirChannels) {
  // 2 images of 3 channels x 1 row x 2 columns, stored per image in C, H, W order.
  std::vector<uint8_t> pixels(12);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i);
  const ImageSet s = make_image_set(idx({2, 3, 1, 2}, pixels), idx({2}, {1, 0}), 10, "i", "l");
  EXPECT_EQ(s.shape(), (ImageShape{3, 1, 2}));
  EXPECT_EQ(s.features(), 6);
  const Dataset d(std::make_shared<const ImageSet>(s));
  std::vector<float> out(6);
  int32_t label = -1;
  const int64_t second = 1;
  d.gather(std::span<const int64_t>(&second, 1), out.data(), &label);
  EXPECT_EQ(label, 0);
  EXPECT_FLOAT_EQ(out[0], 6.0f / 255.0f);  // the second image's first channel, first pixel
  EXPECT_FLOAT_EQ(out[5], 11.0f / 255.0f);
  EXPECT_THAT(data_error([] {
                make_image_set(idx({2, 3, 1, 2}, std::vector<uint8_t>(11)), idx({2}, {0, 0}), 10,
                               "imgs.idx", "lbls.idx");
              }),
              AllOf(HasSubstr("imgs.idx"), HasSubstr("11 pixel values")));
}

TEST(MakeImageSet, RejectsWrongRanks) {
  EXPECT_THAT(data_error([] {
                make_image_set(idx({2, 3}, {0, 0, 0, 0, 0, 0}), idx({2}, {0, 0}), 10, "imgs.idx",
                               "lbls.idx");
              }),
              AllOf(HasSubstr("imgs.idx"), HasSubstr("rank 2"), HasSubstr("expected rank 3"),
                    HasSubstr("or 4 (count x channels x rows x cols)")));
  EXPECT_THAT(
      data_error([] {
        make_image_set(idx({1, 1, 1, 1, 1}, {0}), idx({1}, {0}), 10, "imgs.idx", "lbls.idx");
      }),
      AllOf(HasSubstr("imgs.idx"), HasSubstr("rank 5")));
  EXPECT_THAT(
      data_error([] {
        make_image_set(idx({2, 1, 1}, {0, 0}), idx({2, 1}, {0, 0}), 10, "imgs.idx", "lbls.idx");
      }),
      AllOf(HasSubstr("lbls.idx"), HasSubstr("rank 2"), HasSubstr("expected rank 1")));
}

TEST(MakeImageSet, RejectsCountMismatch) {
  EXPECT_THAT(
      data_error([] {
        make_image_set(idx({3, 1, 1}, {0, 0, 0}), idx({2}, {0, 0}), 10, "imgs.idx", "lbls.idx");
      }),
      HasSubstr("images file imgs.idx has 3 images but labels file lbls.idx has 2 labels"));
}

TEST(MakeImageSet, RejectsLabelOutsideClasses) {
  EXPECT_THAT(data_error([] {
                make_image_set(idx({4, 1, 1}, {0, 0, 0, 0}), idx({4}, {0, 9, 3, 12}), 10,
                               "imgs.idx", "lbls.idx");
              }),
              HasSubstr("lbls.idx: label 12 at index 3 is outside the 10 classes [0, 10)"));
  EXPECT_THROW(make_image_set(idx({1, 1, 1}, {0}), idx({1}, {0}), 0, "i", "l"), InvalidArgument);
}

// An image of no rows, columns or channels: refused by the file's name (it was taken, and the
// model then refused for its input size, naming no file).
TEST(MakeImageSet, RejectsImagesWithASizeOfZero) {
  EXPECT_THAT(data_error([] {
                make_image_set(idx({2, 0, 8}, {}), idx({2}, {0, 1}), 10, "imgs.idx", "lbls.idx");
              }),
              HasSubstr("imgs.idx: images are 0x8 (rows x cols), expected sizes of at least 1"));
  EXPECT_THAT(data_error([] {
                make_image_set(idx({1, 0, 2, 2}, {}), idx({1}, {0}), 10, "imgs.idx", "lbls.idx");
              }),
              HasSubstr("imgs.idx: images are 0x2x2 (channels x rows x cols)"));
  // No images at all is an empty set, not a bad one.
  EXPECT_EQ(make_image_set(idx({0, 3, 3}, {}), idx({0}, {}), 10, "i", "l").count, 0);
}

// --- load_idx ---------------------------------------------------------------------------------

// Writes an MNIST-style folder: `train` and `test` images of rows x cols, labels i % 10.
void write_folder(const TempDir& dir, uint32_t train, uint32_t test, uint32_t rows = 4,
                  uint32_t cols = 5, bool gz = true) {
  auto write = [&](const std::string& name, const std::vector<uint8_t>& bytes) {
    if (gz) {
      write_gz(dir / (name + ".gz"), bytes);
    } else {
      write_raw(dir / name, bytes);
    }
  };
  auto images = [&](uint32_t n) {
    std::vector<uint8_t> v(size_t{n} * rows * cols);
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>(i * 3);
    return idx_bytes({n, rows, cols}, v);
  };
  auto labels = [&](uint32_t n) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>(i % 10);
    return idx_bytes({n}, v);
  };
  write("train-images-idx3-ubyte", images(train));
  write("train-labels-idx1-ubyte", labels(train));
  write("t10k-images-idx3-ubyte", images(test));
  write("t10k-labels-idx1-ubyte", labels(test));
}

TEST(LoadIdx, LoadsGzipAndRawFolders) {
  for (bool gz : {true, false}) {
    TempDir dir;
    write_folder(dir, 30, 12, 4, 5, gz);
    TrainTest data = load_idx(dir.path());
    EXPECT_EQ(data.train.size(), 30);
    EXPECT_EQ(data.test.size(), 12);
    EXPECT_EQ(data.train.features(), 20);
    EXPECT_EQ(data.train.images().rows, 4);
    EXPECT_EQ(data.test.images().cols, 5);
    EXPECT_EQ(data.train.classes(), 10);
    EXPECT_EQ(data.test.label(11), 1);
    EXPECT_EQ(data.train.images().pixels[7], 21);
  }
}

// The class count is the data's: one more than the largest label of either file (labels that
// skip values leave classes with no images); a test-set-only load counts the same (the MPI
// manager's model must match its workers').
TEST(LoadIdx, TheClassCountIsOneMoreThanTheLargestLabelOfEitherFile) {
  TempDir dir;
  write_folder(dir, 6, 4, 4, 5, /*gz=*/false);
  write_raw(dir / "train-labels-idx1-ubyte", idx_bytes({6}, {0, 1, 1, 0, 1, 0}));
  write_raw(dir / "t10k-labels-idx1-ubyte", idx_bytes({4}, {1, 0, 0, 1}));
  EXPECT_EQ(load_idx(dir.path()).train.classes(), 2);
  write_raw(dir / "t10k-labels-idx1-ubyte", idx_bytes({4}, {1, 0, 4, 1}));
  TrainTest data = load_idx(dir.path());
  EXPECT_EQ(data.train.classes(), 5);
  EXPECT_EQ(data.test.classes(), 5);
  write_raw(dir / "train-labels-idx1-ubyte", idx_bytes({6}, {0, 1, 1, 0, 99, 0}));
  EXPECT_EQ(load_idx(dir.path()).train.classes(), 100);
  EXPECT_EQ(load_idx(dir.path(), 0, /*with_train=*/false).test.classes(), 100);
  // A count given is checked against the labels.
  EXPECT_THAT(data_error([&] { load_idx(dir.path(), 10); }),
              HasSubstr("train-labels-idx1-ubyte: label 99 at index 4 is outside the 10 classes"));
}

// The MPI manager reads the test set alone: the training files must be there, but the images are
// not read (a broken file is the workers' to report); the labels are when the class count is the
// data's (classes 0), a given count is not.
TEST(LoadIdx, TheTestSetAlone) {
  TempDir dir;
  write_folder(dir, 30, 12, 4, 5, /*gz=*/false);
  write_raw(dir / "train-images-idx3-ubyte", {0, 1, 2});  // not an IDX file
  TrainTest data = load_idx(dir.path(), 10, /*with_train=*/false);
  EXPECT_EQ(data.train.size(), 0);
  EXPECT_EQ(data.train.storage(), nullptr);
  EXPECT_EQ(data.test.size(), 12);
  EXPECT_EQ(data.test.features(), 20);
  EXPECT_EQ(data.test.label(11), 1);
  EXPECT_THROW(load_idx(dir.path()), DataError);
  write_raw(dir / "train-labels-idx1-ubyte", {0, 1, 2});       // not an IDX file either
  EXPECT_EQ(load_idx(dir.path(), 10, false).test.size(), 12);  // a given count: not read
  EXPECT_THAT(data_error([&] { load_idx(dir.path(), 0, false); }),
              HasSubstr("train-labels-idx1-ubyte"));  // the data's count: read
  std::filesystem::remove(dir / "train-images-idx3-ubyte");
  EXPECT_THAT(data_error([&] { load_idx(dir.path(), 10, false); }),
              HasSubstr("missing train-images-idx3-ubyte"));
}

TEST(LoadIdx, PrefersThePlainFileOverGz) {
  TempDir dir;
  write_folder(dir, 10, 10, 4, 5, /*gz=*/true);
  write_raw(dir / "train-images-idx3-ubyte", idx_bytes({10, 2, 10}, std::vector<uint8_t>(200)));
  write_raw(dir / "t10k-images-idx3-ubyte", idx_bytes({10, 2, 10}, std::vector<uint8_t>(200)));
  TrainTest data = load_idx(dir.path());
  EXPECT_EQ(data.train.images().rows, 2);
  EXPECT_EQ(data.test.images().cols, 10);
}

TEST(LoadIdx, MissingFolderOrFiles) {
  TempDir dir;
  EXPECT_THAT(data_error([&] { load_idx(dir / "absent"); }),
              AllOf(HasSubstr("absent"), HasSubstr("no such folder")));
  write_folder(dir, 5, 5);
  std::filesystem::remove(dir / "t10k-labels-idx1-ubyte.gz");
  EXPECT_THAT(data_error([&] { load_idx(dir.path()); }),
              AllOf(HasSubstr(dir.path().string()), HasSubstr("missing t10k-labels-idx1-ubyte"),
                    ::testing::Not(HasSubstr("train-images"))));
}

// One of the four names that is there but not a file is said to be what it is, not "missing".
TEST(LoadIdx, ANameThatIsNotAFileIsSaidWhatItIs) {
  TempDir dir;
  write_folder(dir, 5, 5, 4, 5, /*gz=*/false);
  std::filesystem::remove(dir / "train-labels-idx1-ubyte");
  std::filesystem::create_directory(dir / "train-labels-idx1-ubyte");
  EXPECT_THAT(
      data_error([&] { load_idx(dir.path()); }),
      HasSubstr((dir / "train-labels-idx1-ubyte").string() + " is a folder, expected an IDX file"));
  std::filesystem::remove(dir / "train-labels-idx1-ubyte");
  ASSERT_EQ(::mkfifo((dir / "train-labels-idx1-ubyte.gz").c_str(), 0600), 0);
  EXPECT_THAT(data_error([&] { load_idx(dir.path()); }),
              HasSubstr("train-labels-idx1-ubyte.gz is a FIFO, expected an IDX file"));
}

TEST(LoadIdx, ReportsBadFilesByName) {
  TempDir dir;
  write_folder(dir, 5, 5);
  write_gz(dir / "train-labels-idx1-ubyte.gz", idx_bytes({4}, {0, 1, 2, 3}));
  EXPECT_THAT(data_error([&] { load_idx(dir.path()); }),
              AllOf(HasSubstr("train-images-idx3-ubyte.gz has 5 images"),
                    HasSubstr("train-labels-idx1-ubyte.gz has 4 labels")));
  write_gz(dir / "train-labels-idx1-ubyte.gz", idx_bytes({5}, {0, 1, 2, 3, 4}));
  EXPECT_THAT(data_error([&] { load_idx(dir.path(), 4); }),
              HasSubstr("train-labels-idx1-ubyte.gz: label 4 at index 4 is outside the 4 classes"));
}

TEST(LoadIdx, TrainAndTestMustHaveTheSameImageSize) {
  TempDir dir;
  write_folder(dir, 5, 5);
  write_gz(dir / "t10k-images-idx3-ubyte.gz", idx_bytes({5, 5, 4}, std::vector<uint8_t>(100)));
  EXPECT_THAT(data_error([&] { load_idx(dir.path()); }),
              AllOf(HasSubstr("t10k-images-idx3-ubyte.gz"), HasSubstr("5x4"), HasSubstr("4x5")));
}

// --- resolve_data ----------------------------------------------------------------------------

TEST(ResolveData, FolderPath) {
  TempDir dir;
  EXPECT_EQ(resolve_data(dir.path().string()), dir.path());
  const std::string absent = (dir / "absent").string();
  EXPECT_THAT(
      data_error([&] { resolve_data(absent); }),
      HasSubstr("--data " + absent +
                ": no such folder (expected a folder of IDX files, 'fashion-mnist' or 'mnist')"));
}

TEST(ResolveData, FashionMnist) {
  if (std::filesystem::is_directory("/usr/share/datasets/fashion-mnist")) {
    EXPECT_EQ(resolve_data("fashion-mnist"), "/usr/share/datasets/fashion-mnist");
  } else {
    EXPECT_THAT(data_error([] { resolve_data("fashion-mnist"); }),
                HasSubstr("install it with: sudo apt-get install dataset-fashion-mnist"));
  }
}

TEST(ResolveData, MnistFromEnvironment) {
  const char* old = std::getenv("KRILL_MNIST_DIR");
  const std::string saved = old ? old : "";
  TempDir dir;
  ::unsetenv("KRILL_MNIST_DIR");
  EXPECT_THAT(data_error([] { resolve_data("mnist"); }),
              AllOf(HasSubstr("KRILL_MNIST_DIR"), HasSubstr("--data")));
  ::setenv("KRILL_MNIST_DIR", dir.path().c_str(), 1);
  EXPECT_EQ(resolve_data("mnist"), dir.path());
  ::setenv("KRILL_MNIST_DIR", (dir / "absent").c_str(), 1);
  EXPECT_THAT(data_error([] { resolve_data("mnist"); }),
              AllOf(HasSubstr("absent"), HasSubstr("no such folder")));
  if (old) {
    ::setenv("KRILL_MNIST_DIR", saved.c_str(), 1);
  } else {
    ::unsetenv("KRILL_MNIST_DIR");
  }
}

// --- Dataset views ----------------------------------------------------------------------------

TEST(Dataset, WholeSetAndBadIndices) {
  auto images = make_images(5);
  Dataset all(images);
  EXPECT_EQ(all.size(), 5);
  EXPECT_EQ(to_vector(all.indices()), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(all.storage(), images);
  EXPECT_THROW(Dataset(images, {0, 5}), InvalidArgument);
  EXPECT_THROW(Dataset(images, {-1}), InvalidArgument);
}

TEST(Dataset, EmptyViews) {
  Dataset none;
  EXPECT_EQ(none.size(), 0);
  EXPECT_EQ(none.features(), 0);
  EXPECT_EQ(none.split(0.5, 1).first.size(), 0);
  EXPECT_EQ(none.head(3).size(), 0);
  std::vector<int64_t> outside = {0};
  EXPECT_THROW(none.gather(outside, nullptr, nullptr), InvalidArgument);
}

TEST(Dataset, SplitIsDisjointCoveringAndSized) {
  Dataset all(make_images(1001));
  auto [rest, held] = all.split(0.1, 42);
  EXPECT_EQ(held.size(), 100);  // round(100.1)
  EXPECT_EQ(rest.size(), 901);
  std::set<int64_t> seen;
  for (int64_t i : rest.indices()) seen.insert(i);
  for (int64_t i : held.indices()) EXPECT_TRUE(seen.insert(i).second) << "index " << i << " twice";
  EXPECT_EQ(seen.size(), 1001u);
  EXPECT_EQ(*seen.begin(), 0);
  EXPECT_EQ(*seen.rbegin(), 1000);
  EXPECT_TRUE(std::ranges::is_sorted(rest.indices()));
  EXPECT_EQ(held.storage(), all.storage());

  EXPECT_EQ(all.split(0.0, 1).second.size(), 0);
  EXPECT_EQ(all.split(0.0, 1).first.size(), 1001);
  EXPECT_EQ(all.split(0.5, 1).second.size(), 501);  // round(500.5) = 501
  EXPECT_THROW(all.split(1.0, 1), InvalidArgument);
  EXPECT_THROW(all.split(-0.1, 1), InvalidArgument);
}

TEST(Dataset, SplitIsDeterministicAndSeeded) {
  Dataset all(make_images(500));
  auto a = all.split(0.2, 7);
  auto b = all.split(0.2, 7);
  auto c = all.split(0.2, 8);
  EXPECT_EQ(to_vector(a.second.indices()), to_vector(b.second.indices()));
  EXPECT_EQ(to_vector(a.first.indices()), to_vector(b.first.indices()));
  EXPECT_NE(to_vector(a.second.indices()), to_vector(c.second.indices()));
  // Not simply the first or last images.
  EXPECT_GT(a.second.indices().back() - a.second.indices().front(), 300);
}

TEST(Dataset, SplitOfAView) {
  Dataset all(make_images(100));
  Dataset evens(all.storage(), [] {
    std::vector<int64_t> v;
    for (int64_t i = 0; i < 100; i += 2) v.push_back(i);
    return v;
  }());
  auto [rest, held] = evens.split(0.3, 3);
  EXPECT_EQ(held.size(), 15);
  EXPECT_EQ(rest.size(), 35);
  for (int64_t i : held.indices()) EXPECT_EQ(i % 2, 0);
  for (int64_t i : rest.indices()) EXPECT_EQ(i % 2, 0);
}

TEST(Dataset, Head) {
  Dataset all(make_images(10));
  auto [rest, held] = all.split(0.5, 9);
  Dataset h = rest.head(3);
  EXPECT_EQ(h.size(), 3);
  EXPECT_EQ(to_vector(h.indices()), to_vector(rest.indices().first(3)));
  EXPECT_EQ(all.head(100).size(), 10);
  EXPECT_EQ(all.head(0).size(), 0);
  EXPECT_THROW(all.head(-1), InvalidArgument);
}

TEST(Dataset, GatherScalesPixelsAndCopiesLabels) {
  auto set = std::make_shared<ImageSet>();
  set->count = 3;
  set->rows = 1;
  set->cols = 4;
  set->classes = 10;
  set->pixels = {0, 255, 128, 1, /**/ 10, 20, 30, 40, /**/ 255, 255, 0, 0};
  set->labels = {4, 5, 6};
  Dataset all(set);
  std::vector<int64_t> positions = {2, 0};
  std::vector<float> out(8, -1.0f);
  std::vector<int32_t> labels(2, -1);
  all.gather(positions, out.data(), labels.data());
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[2], 0.0f);
  EXPECT_EQ(out[4], 0.0f);
  EXPECT_EQ(out[5], 1.0f);
  EXPECT_FLOAT_EQ(out[6], 128.0f / 255.0f);
  EXPECT_FLOAT_EQ(out[7], 1.0f / 255.0f);
  EXPECT_EQ(labels, (std::vector<int32_t>{6, 4}));

  // Positions are positions in the view, not storage indices.
  Dataset view(set, {1, 2});
  std::vector<int64_t> first = {0};
  view.gather(first, out.data(), labels.data());
  EXPECT_FLOAT_EQ(out[0], 10.0f / 255.0f);
  EXPECT_FLOAT_EQ(out[3], 40.0f / 255.0f);
  EXPECT_EQ(labels[0], 5);
  std::vector<int64_t> outside = {2};
  EXPECT_THROW(view.gather(outside, out.data(), labels.data()), InvalidArgument);
}

// --- The real Fashion-MNIST, when installed ----------------------------------------------------

TEST(FashionMnist, LoadsBalancedAndFast) {
  const std::filesystem::path dir = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::is_directory(dir)) {
    GTEST_SKIP() << dir << " is absent (sudo apt-get install dataset-fashion-mnist)";
  }
  const auto start = std::chrono::steady_clock::now();
  TrainTest data = load_idx(resolve_data("fashion-mnist"));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  RecordProperty("load_seconds", std::to_string(seconds));
  EXPECT_LT(seconds, 5.0) << "loading Fashion-MNIST took " << seconds << " s";

  ASSERT_EQ(data.train.size(), 60000);
  ASSERT_EQ(data.test.size(), 10000);
  EXPECT_EQ(data.train.images().rows, 28);
  EXPECT_EQ(data.train.images().cols, 28);
  EXPECT_EQ(data.test.features(), 784);
  std::vector<int> train_counts(10), test_counts(10);
  for (int64_t i = 0; i < data.train.size(); ++i) ++train_counts[data.train.label(i)];
  for (int64_t i = 0; i < data.test.size(); ++i) ++test_counts[data.test.label(i)];
  EXPECT_EQ(train_counts, std::vector<int>(10, 6000));
  EXPECT_EQ(test_counts, std::vector<int>(10, 1000));
  const auto& px = data.train.images().pixels;
  EXPECT_EQ(*std::ranges::max_element(px), 255);
  EXPECT_EQ(*std::ranges::min_element(px), 0);
}

}  // namespace
}  // namespace krill::data
