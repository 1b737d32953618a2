// Opening a study database: `open_storage("study.db")` is SQLite (created when missing),
// `open_storage("postgresql://user@host/db")` a PostgreSQL server's database
// (postgres_storage.hpp), `open_storage(":memory:")` the in-memory storage used by tests.
#pragma once

#include <filesystem>
#include <memory>

#include "hpo/storage.hpp"

namespace krill::store {

// Throws DataError naming the file (or the URL, its password masked) when it is not a krill
// database, or one of another schema version, or cannot be opened; for a URL also when the server
// cannot be reached or refuses the login, or krill was built without libpq.
//
// `Access::Read`: for a program that only reads (krill show, export, best, report). A SQLite file
// this process may not write, or in a folder it may not write, is then opened read-only (another
// user's study, a read-only mount: SqliteStorage::Open::WhereReadOnly); a write through it fails.
enum class Access { ReadWrite, Read };
std::unique_ptr<hpo::Storage> open_storage(const std::filesystem::path& path,
                                           Access access = Access::ReadWrite);

// Whether this krill was built with PostgreSQL (libpq).
bool has_postgres();

}  // namespace krill::store
