#include "store/open.hpp"

#include "store/memory_storage.hpp"
#include "store/sqlite_storage.hpp"

namespace krill::store {

std::unique_ptr<hpo::Storage> open_storage(const std::filesystem::path& path) {
  if (path == ":memory:") return std::make_unique<MemoryStorage>();
  return std::make_unique<SqliteStorage>(path);
}

}  // namespace krill::store
