// Opening a study database: `open_storage("study.db")` is SQLite (created when missing),
// `open_storage(":memory:")` the in-memory storage used by tests.
#pragma once

#include <filesystem>
#include <memory>

#include "hpo/storage.hpp"

namespace krill::store {

// Throws DataError naming the file when it is not a krill database, or one of another schema
// version, or cannot be opened.
std::unique_ptr<hpo::Storage> open_storage(const std::filesystem::path& path);

}  // namespace krill::store
