#include "store/open.hpp"

#include "core/error.hpp"
#include "store/memory_storage.hpp"
#include "store/sqlite_storage.hpp"
#ifdef KRILL_HAVE_POSTGRES
#include "store/postgres_storage.hpp"
#endif

namespace krill::store {

std::unique_ptr<hpo::Storage> open_storage(const std::filesystem::path& path, Access access) {
  const std::string location = path.string();
  if (location == ":memory:") return std::make_unique<MemoryStorage>();
  if (hpo::is_server_url(location)) {
#ifdef KRILL_HAVE_POSTGRES
    return std::make_unique<PostgresStorage>(location);
#else
    throw DataError(hpo::display_location(location) +
                    ": this krill was built without PostgreSQL (libpq); install libpq-dev "
                    "(scripts/install-deps.sh) and build it again");
#endif
  }
  return std::make_unique<SqliteStorage>(path, access == Access::Read
                                                   ? SqliteStorage::Open::WhereReadOnly
                                                   : SqliteStorage::Open::ReadWrite);
}

bool has_postgres() {
#ifdef KRILL_HAVE_POSTGRES
  return true;
#else
  return false;
#endif
}

}  // namespace krill::store
