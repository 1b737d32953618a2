#include "data/dataset.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <numeric>
#include <optional>

#include "core/error.hpp"
#include "core/pixels.hpp"
#include "core/rng.hpp"

namespace krill::data {

namespace fs = std::filesystem;

Dataset::Dataset(std::shared_ptr<const ImageSet> images) : images_(std::move(images)) {
  if (!images_) throw InvalidArgument("Dataset: no image storage");
  indices_.resize(static_cast<size_t>(images_->count));
  std::iota(indices_.begin(), indices_.end(), int64_t{0});
}

Dataset::Dataset(std::shared_ptr<const ImageSet> images, std::vector<int64_t> indices)
    : images_(std::move(images)), indices_(std::move(indices)) {
  if (!images_ && !indices_.empty()) throw InvalidArgument("Dataset: indices without storage");
  for (int64_t i : indices_) {
    if (i < 0 || i >= images_->count) {
      throw InvalidArgument("Dataset: index " + std::to_string(i) + " is outside the " +
                            std::to_string(images_->count) + " images");
    }
  }
}

std::pair<Dataset, Dataset> Dataset::split(double fraction, uint64_t seed) const {
  if (!(fraction >= 0.0 && fraction < 1.0)) {
    throw InvalidArgument("Dataset::split: fraction " + std::to_string(fraction) +
                          ", expected a value in [0, 1)");
  }
  std::vector<int64_t> order(indices_.size());
  std::iota(order.begin(), order.end(), int64_t{0});
  Rng(seed).shuffle(std::span<int64_t>(order));
  const auto second_size =
      static_cast<size_t>(std::llround(fraction * static_cast<double>(size())));
  // Each part keeps this view's order; only membership is random.
  std::sort(order.begin(), order.begin() + static_cast<ptrdiff_t>(second_size));
  std::sort(order.begin() + static_cast<ptrdiff_t>(second_size), order.end());
  std::vector<int64_t> first, second;
  first.reserve(order.size() - second_size);
  second.reserve(second_size);
  for (size_t k = 0; k < order.size(); ++k) {
    (k < second_size ? second : first).push_back(indices_[static_cast<size_t>(order[k])]);
  }
  return {Dataset(images_, std::move(first)), Dataset(images_, std::move(second))};
}

Dataset Dataset::head(int64_t n) const {
  if (n < 0) throw InvalidArgument("Dataset::head: n = " + std::to_string(n) + ", expected >= 0");
  Dataset out;
  out.images_ = images_;
  out.indices_.assign(indices_.begin(), indices_.begin() + std::min(n, size()));
  return out;
}

void Dataset::gather(std::span<const int64_t> positions, float* out, int32_t* labels) const {
  const int64_t f = features();
  const uint8_t* pixels = images_ ? images_->pixels.data() : nullptr;
  for (size_t r = 0; r < positions.size(); ++r) {
    const int64_t p = positions[r];
    if (p < 0 || p >= size()) {
      throw InvalidArgument("Dataset::gather: position " + std::to_string(p) + " is outside the " +
                            std::to_string(size()) + " images of this view");
    }
    const int64_t index = indices_[static_cast<size_t>(p)];
    const uint8_t* src = pixels + index * f;
    float* dst = out + static_cast<int64_t>(r) * f;
    pixels_to_floats(src, f, dst);
    if (labels) labels[r] = images_->labels[static_cast<size_t>(index)];
  }
}

ImageSet make_image_set(const IdxArray& images, const IdxArray& labels, int classes,
                        const std::string& images_name, const std::string& labels_name) {
  if (classes <= 0) {
    throw InvalidArgument("classes = " + std::to_string(classes) + ", expected at least 1");
  }
  if (images.dims.size() != 3 && images.dims.size() != 4) {
    throw DataError(images_name + ": images have rank " + std::to_string(images.dims.size()) +
                    " (" + dims_text(images.dims) +
                    "), expected rank 3 (count x rows x cols) or 4 (count x channels x rows x "
                    "cols)");
  }
  const bool channels = images.dims.size() == 4;
  if (labels.dims.size() != 1) {
    throw DataError(labels_name + ": labels have rank " + std::to_string(labels.dims.size()) +
                    " (" + dims_text(labels.dims) + "), expected rank 1 (one label per image)");
  }
  if (images.dims[0] != labels.dims[0]) {
    throw DataError("images file " + images_name + " has " + std::to_string(images.dims[0]) +
                    " images but labels file " + labels_name + " has " +
                    std::to_string(labels.dims[0]) + " labels");
  }
  int64_t values = 1;
  for (const int64_t d : images.dims) values *= d;  // read_idx checked that the product fits
  if (images.values.size() != static_cast<size_t>(values)) {
    throw DataError(images_name + ": " + std::to_string(images.values.size()) +
                    " pixel values for " + dims_text(images.dims) + " images");
  }
  if (labels.values.size() != static_cast<size_t>(labels.dims[0])) {
    throw DataError(labels_name + ": " + std::to_string(labels.values.size()) + " values for " +
                    std::to_string(labels.dims[0]) + " labels");
  }
  for (size_t d = 1; d < images.dims.size(); ++d) {
    if (images.dims[d] < 1) {
      throw DataError(images_name + ": images are " +
                      dims_text({images.dims.begin() + 1, images.dims.end()}) + " (" +
                      (channels ? "channels x rows x cols" : "rows x cols") +
                      "), expected sizes of at least 1");
    }
  }
  ImageSet set;
  set.count = images.dims[0];
  set.channels = channels ? images.dims[1] : 1;
  set.rows = images.dims[channels ? 2 : 1];
  set.cols = images.dims[channels ? 3 : 2];
  set.classes = classes;
  set.pixels = images.values;
  set.labels.resize(labels.values.size());
  for (size_t i = 0; i < labels.values.size(); ++i) {
    const int label = labels.values[i];
    if (label >= classes) {
      throw DataError(labels_name + ": label " + std::to_string(label) + " at index " +
                      std::to_string(i) + " is outside the " + std::to_string(classes) +
                      " classes [0, " + std::to_string(classes) + ")");
    }
    set.labels[i] = label;
  }
  return set;
}

namespace {

// The file `name` or `name.gz` in `folder` (the plain file when both exist: it reads faster).
// Throws DataError for one of those names that is there but not a file (a folder, a FIFO, a
// device), rather than call it missing.
std::optional<fs::path> find_idx(const fs::path& folder, const std::string& name) {
  std::error_code ec;
  for (const fs::path& p : {folder / name, folder / (name + ".gz")}) {
    if (fs::is_regular_file(p, ec)) return p;
  }
  for (const fs::path& p : {folder / name, folder / (name + ".gz")}) {
    const fs::file_status st = fs::status(p, ec);
    if (ec || !fs::exists(st)) continue;
    const char* kind = fs::is_directory(st)                                 ? "a folder"
                       : fs::is_fifo(st)                                    ? "a FIFO"
                       : fs::is_socket(st)                                  ? "a socket"
                       : fs::is_block_file(st) || fs::is_character_file(st) ? "a device"
                                                                            : "not a file";
    throw DataError(p.string() + " is " + kind + ", expected an IDX file");
  }
  return std::nullopt;
}

}  // namespace

int classes_of(const IdxArray& train_labels, const IdxArray& test_labels) {
  int largest = 0;
  for (const IdxArray* labels : {&train_labels, &test_labels}) {
    for (const uint8_t label : labels->values) largest = std::max<int>(largest, label);
  }
  return std::max(2, largest + 1);  // labels all 0: a second class with no images
}

TrainTest load_idx(const std::filesystem::path& folder, int classes, bool with_train) {
  std::error_code ec;
  if (!fs::exists(folder, ec)) throw DataError(folder.string() + ": no such folder");
  if (!fs::is_directory(folder, ec)) {
    throw DataError(folder.string() + ": not a folder, expected a folder of IDX files");
  }
  const std::array<std::string, 4> names = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                            "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
  std::array<fs::path, 4> files;
  std::string missing;
  for (size_t i = 0; i < names.size(); ++i) {
    if (auto found = find_idx(folder, names[i])) {
      files[i] = *found;
    } else {
      missing += (missing.empty() ? "" : ", ") + names[i] + "[.gz]";
    }
  }
  if (!missing.empty()) {
    throw DataError(folder.string() + ": missing " + missing +
                    " (expected the four MNIST-style IDX files, optionally gzipped)");
  }
  // The labels first: the class count is read from them (both files', so that a process that
  // reads only the test images builds the same model as one that trains).
  IdxArray train_labels =
      with_train || classes == 0 ? read_idx(files[1], IdxKind::Labels) : IdxArray{};
  IdxArray test_labels = read_idx(files[3], IdxKind::Labels);
  if (classes == 0) classes = classes_of(train_labels, test_labels);
  auto load = [&](const fs::path& images, const fs::path& labels, IdxArray& label_array) {
    return std::make_shared<const ImageSet>(make_image_set(
        read_idx(images, IdxKind::Images), label_array, classes, images.string(), labels.string()));
  };
  if (!with_train) return {Dataset(), Dataset(load(files[2], files[3], test_labels))};
  auto train = load(files[0], files[1], train_labels);
  auto test = load(files[2], files[3], test_labels);
  if (train->shape() != test->shape()) {
    // "28x28" for one channel, "3x32x32" for several
    const auto size = [](const ImageSet& s) {
      return (s.channels == 1 ? "" : std::to_string(s.channels) + "x") + std::to_string(s.rows) +
             "x" + std::to_string(s.cols);
    };
    throw DataError(files[2].string() + ": test images are " + size(*test) +
                    " but the training images in " + files[0].string() + " are " + size(*train));
  }
  return {Dataset(train), Dataset(test)};
}

std::filesystem::path resolve_data(const std::string& name_or_folder) {
  std::error_code ec;
  if (name_or_folder == "fashion-mnist") {
    const fs::path dir = "/usr/share/datasets/fashion-mnist";
    if (!fs::is_directory(dir, ec)) {
      throw DataError("fashion-mnist: " + dir.string() +
                      " not found; install it with: sudo apt-get install dataset-fashion-mnist");
    }
    return dir;
  }
  if (name_or_folder == "mnist") {
    const char* env = std::getenv("KRILL_MNIST_DIR");
    if (!env || !*env) {
      throw DataError(
          "mnist: KRILL_MNIST_DIR is not set; set it to a folder of the MNIST IDX files, or pass "
          "that folder as --data <folder>");
    }
    if (!fs::is_directory(env, ec)) {
      throw DataError(std::string("mnist: KRILL_MNIST_DIR=") + env +
                      ": no such folder (expected a folder of the MNIST IDX files)");
    }
    return env;
  }
  const fs::path dir = name_or_folder;
  if (!fs::exists(dir, ec)) {
    throw DataError(
        "--data " + name_or_folder +
        ": no such folder (expected a folder of IDX files, 'fashion-mnist' or 'mnist')");
  }
  if (!fs::is_directory(dir, ec)) {
    throw DataError("--data " + name_or_folder +
                    ": not a folder (expected a folder of IDX files, 'fashion-mnist' or 'mnist')");
  }
  return dir;
}

}  // namespace krill::data
