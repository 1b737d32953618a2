#include "data/loader.hpp"

#include <algorithm>
#include <numeric>
#include <span>
#include <string>

#include "core/error.hpp"
#include "core/rng.hpp"

namespace krill::data {

DataLoader::DataLoader(const Dataset& data, LoaderOptions options)
    : data_(data), options_(options) {
  if (options_.batch <= 0) {
    throw InvalidArgument("DataLoader: batch size " + std::to_string(options_.batch) +
                          ", expected at least 1");
  }
  order_.resize(static_cast<size_t>(data_.size()));
  start_epoch(0);
}

void DataLoader::start_epoch(int64_t epoch) {
  std::iota(order_.begin(), order_.end(), int64_t{0});
  if (options_.shuffle) {
    Rng(Rng::derive(options_.seed, static_cast<uint64_t>(epoch)))
        .shuffle(std::span<int64_t>(order_));
  }
  cursor_ = 0;
}

int64_t DataLoader::next_size() {
  const int64_t left = data_.size() - cursor_;
  if (left <= 0 || (options_.drop_last && left < options_.batch)) {
    cursor_ = data_.size();
    return 0;
  }
  return std::min(options_.batch, left);
}

bool DataLoader::next(Batch& batch) {
  const int64_t b = next_size();
  if (b == 0) return false;
  batch.x.resize(Shape{b, data_.features()});
  batch.image = data_.shape();
  batch.labels.resize(static_cast<size_t>(b));
  data_.gather(std::span<const int64_t>(order_).subspan(static_cast<size_t>(cursor_),
                                                        static_cast<size_t>(b)),
               batch.x.data(), batch.labels.data());
  cursor_ += b;
  return true;
}

int64_t DataLoader::next_indices(std::vector<int64_t>& images, std::vector<int32_t>& labels) {
  const int64_t b = next_size();
  if (b == 0) return 0;
  const std::span<const int64_t> storage = data_.indices();
  const std::vector<int32_t>& all_labels = data_.images().labels;
  for (int64_t r = cursor_; r < cursor_ + b; ++r) {
    const int64_t image = storage[static_cast<size_t>(order_[static_cast<size_t>(r)])];
    images.push_back(image);
    labels.push_back(all_labels[static_cast<size_t>(image)]);
  }
  cursor_ += b;
  return b;
}

int64_t DataLoader::batches_per_epoch() const {
  return data::batches_per_epoch(data_.size(), options_.batch, options_.drop_last);
}

}  // namespace krill::data
